"""Which isolation this machine allows, and how the zygote (and so every worker) is started.

Three tiers, strongest first; the grader uses the strongest that works here and says which:

1. ``namespaces``: the zygote runs inside bubblewrap (``bwrap``) with no capabilities, no network,
   its own PID namespace and only the Python installation, the worker's part of the grader and
   the staged submission mounted, read-only. Each box then gets its own user, mount and PID
   namespaces (see :mod:`grader.box`). The reference solutions, the hidden suites, the grader's
   environment and the rest of the file system do not exist in there.
2. ``uid``: namespaces are refused (Docker's default seccomp profile, Ubuntu's AppArmor rule) but
   the grader is root: workers run as a dedicated unprivileged uid per job slot, and the kit's
   hidden parts are made unreadable to other users.
3. ``reduced``: neither: a student grading their own code. Resource limits and a private folder;
   a determined submission could read or change the user's files. ``grade batch`` and Gradescope
   refuse it unless given ``--allow-unsandboxed``.
4. ``portable``: not Linux (macOS): no zygote, no namespaces, no /proc; each box is a freshly
   spawned worker with resource limits and a private folder, policed with ``ps`` (see
   :mod:`grader.portable`). Weaker than ``reduced``, refused by batch grading in the same way.
   Chosen automatically only where ``sys.platform`` is not ``linux``.

``GRADER_ISOLATION=namespaces|uid|reduced|portable`` forces a tier (``GRADER_SANDBOX=none`` is read as
``reduced``), for tests and debugging.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import site
import stat
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import grader
from grader import box, linux

TIERS = ("namespaces", "uid", "reduced", "portable")
WEAK_TIERS = ("reduced", "portable")  # the student's own machine: batch grading refuses them unless allowed
TIER_DESCRIPTIONS = {
    "namespaces": "bubblewrap and per-submission user, mount and PID namespaces; no capabilities",
    "uid": "a dedicated unprivileged uid per job slot; no namespaces on this machine",
    "reduced": "reduced: resource limits only; submissions run as you and could read your files",
    "portable": "portable: a spawned worker with resource limits only, policed with ps; runs as you",
}
GRADER_DIR = Path(grader.__file__).resolve().parent
KIT_PARENT = GRADER_DIR.parent
SANDBOX_KIT = "/kit"
WORKER_MODULES = ("__init__.py", "box.py", "compare.py", "files.py", "guards.py", "linux.py", "report.py",
                  "suite.py", "wire.py", "worker.py", "zygote.py")
ENVIRONMENT_ALLOWED = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES",
                       "NVIDIA_DRIVER_CAPABILITIES", "LD_LIBRARY_PATH", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE",
                       "CUBLAS_WORKSPACE_CONFIG")
SLOT_UID_FIRST = 61000
SLOT_UID_COUNT = 1000
DEFAULT_DISK_LIMIT = 256 * 2**20
REDUCED_ISOLATION_WARNING = (
    "Isolation is reduced: this machine allows neither bubblewrap's user namespaces nor (as a non-root user) "
    "a separate uid, so your code runs as you. That is fine for grading your own work. To grade other "
    "people's code, install bubblewrap (Debian/Ubuntu: `apt-get install bubblewrap`) or run as root in a container."
)


class IsolationUnavailable(RuntimeError):
    """No tier (or not the forced one) works on this machine; the message says why."""


def forced_tier() -> str | None:
    """The tier named by ``GRADER_ISOLATION`` (or ``GRADER_SANDBOX=none``), else None for automatic."""
    value = os.environ.get("GRADER_ISOLATION", "auto").strip().lower()
    if value in ("", "auto"):
        return "reduced" if os.environ.get("GRADER_SANDBOX") == "none" else None
    if value not in TIERS:
        raise IsolationUnavailable(f"GRADER_ISOLATION={value!r} is not a tier: use auto, {', '.join(TIERS)}")
    return value


_working_tier: str | None = None
stronger_tiers_refused: list[str] = []  # "tier: why" for each stronger tier that did not work here


def candidate_tiers() -> list[tuple[str, str | None]]:
    """Tiers to try in order, each with the reason it cannot work (None: worth starting)."""
    forced = forced_tier()
    if _working_tier is not None and forced in (None, _working_tier):
        return [(_working_tier, None)]
    found = []
    for tier in TIERS:
        if forced is not None and tier != forced:
            continue
        if forced is None and (tier == "portable") == (sys.platform == "linux"):
            continue  # automatic: the Linux tiers on Linux, the portable tier everywhere else
        found.append((tier, _why_not(tier)))
    return found


def portable_in_force() -> bool:
    """Whether boxes come from :class:`grader.portable.PortableZygote` (forced, or not on Linux)."""
    return any(tier == "portable" and why_not is None for tier, why_not in candidate_tiers())


def is_weak_tier(tier: str) -> bool:
    """Whether ``tier`` lets a submission run as the user (``reduced``, ``portable``): fine for a student's
    own work, refused for a class's code unless ``--allow-unsandboxed``."""
    return tier in WEAK_TIERS


def remember_working_tier(tier: str, refused: list[str]) -> None:
    """Later services of this run (batch jobs are forked after it) start with this tier directly."""
    global _working_tier
    if _working_tier is None:
        stronger_tiers_refused[:] = refused
    _working_tier = tier


def reduced_isolation_warning() -> str:
    """The warning printed when grading runs in the reduced tier, with why the others did not work."""
    reasons = "".join(f"\n  - {reason}" for reason in stronger_tiers_refused)
    return REDUCED_ISOLATION_WARNING + (f"\nWhy the stronger tiers are not used here:{reasons}" if reasons else "")


def _why_not(tier: str) -> str | None:
    if tier != "portable" and sys.platform != "linux":
        return f"it needs Linux (this is {sys.platform}); use GRADER_ISOLATION=portable or leave it unset"
    if tier == "namespaces" and shutil.which("bwrap") is None:
        return "bubblewrap (bwrap) is not installed"
    if tier == "uid" and (os.geteuid() != 0 or not (linux.has_capability(linux.CAP_SETUID)
                                                   and linux.has_capability(linux.CAP_SETGID))):
        return "the grader is not root (with CAP_SETUID and CAP_SETGID), so it cannot run workers as another uid"
    return None


def python_roots() -> list[str]:
    """Folders a worker's Python needs: the installation, its site-packages and editable paths."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"]}
    roots.update(site.getsitepackages())
    roots.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(r for r in roots if os.path.isdir(r))


def minimal_environment() -> dict[str, str]:
    """The zygote's environment: an allow-list, never the grader's own variables or secrets."""
    environment = {name: os.environ[name] for name in ENVIRONMENT_ALLOWED if name in os.environ}
    environment.setdefault("PATH", "/usr/local/bin:/usr/bin:/bin")
    environment.update(OMP_NUM_THREADS="1", PYTHONDONTWRITEBYTECODE="1", HOME="/tmp", TMPDIR="/tmp")
    return environment


@dataclass
class ZygoteLaunch:
    """The command and environment that start a zygote for one tier."""

    tier: str
    argv: list[str]
    environment: dict[str, str]


@dataclass
class Places:
    """A grading service's folders: ``staging`` holds each submission's copy, ``work_root`` the boxes'."""

    staging: Path
    work_root: Path


def zygote_launch(tier: str, places: Places, control_fd: int, memory_limit: int, use_cuda: bool,
                  slot_uid: int | None, disk_limit: int = DEFAULT_DISK_LIMIT, probe_only: bool = False,
                  light: bool = False) -> ZygoteLaunch:
    """Build the command that starts a zygote for ``tier`` over the service's ``places`` (``light``: see
    :class:`grader.zygote_client.ZygoteClient`)."""
    environment = minimal_environment()
    inside = tier == "namespaces"
    spec = {"tier": tier, "staging": box.STAGING_INSIDE if inside else str(places.staging),
            "work_root": str(places.work_root), "disk_limit": disk_limit, "uid": slot_uid,
            "hidden_roots": [SANDBOX_KIT] if inside else [str(KIT_PARENT), os.getcwd()], "probe_only": probe_only,
            "light": light}
    tail = [str(control_fd), str(memory_limit), json.dumps(spec)]
    if not inside:
        if tier == "reduced":
            environment.update(HOME=str(places.work_root), TMPDIR=str(places.work_root))
        boot = f"import sys; sys.path.insert(0, {str(KIT_PARENT)!r}); from grader.zygote import main; main()"
        return ZygoteLaunch(tier, [sys.executable, "-I", "-c", boot, *tail], environment)
    boot = f"import sys; sys.path.insert(0, {SANDBOX_KIT!r}); from grader.zygote import main; main()"
    argv = [shutil.which("bwrap") or "bwrap", "--unshare-all", "--die-with-parent", "--new-session",
            "--cap-drop", "ALL", "--uid", str(box.BOX_UID), "--gid", str(box.BOX_UID)]
    for system_dir in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.islink(system_dir):
            argv += ["--symlink", os.readlink(system_dir), system_dir]
        elif os.path.isdir(system_dir):
            argv += ["--ro-bind", system_dir, system_dir]
    for etc_file in ("/etc/ld.so.cache", "/etc/localtime", "/etc/nsswitch.conf"):
        argv += ["--ro-bind-try", etc_file, etc_file]
    for root in python_roots():
        argv += ["--ro-bind", root, root]
    for module in WORKER_MODULES + tuple(p.name for p in sorted(GRADER_DIR.glob("fixtures*.py"))):
        argv += ["--ro-bind", str(GRADER_DIR / module), f"{SANDBOX_KIT}/grader/{module}"]
    argv += ["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp", "--dir", "/dev/shm",
             "--dir", box.SUBMISSION_INSIDE, "--ro-bind", str(places.staging), box.STAGING_INSIDE]
    if use_cuda:
        for device in sorted(Path("/dev").glob("nvidia*")) + [Path("/dev/dri")]:
            argv += ["--dev-bind-try", str(device), str(device)]
        argv += ["--ro-bind-try", "/sys", "/sys"]
    argv += ["--remount-ro", "/", "--chdir", "/tmp", sys.executable, "-I", "-c", boot, *tail]
    return ZygoteLaunch(tier, argv, environment)


def make_places(temporary: Path, tier: str) -> Places:
    """The staging and work folders of a service under its private ``temporary`` folder."""
    staging = temporary / "staging"
    work_root = temporary / "boxes"
    staging.mkdir(mode=0o700)
    work_root.mkdir(mode=0o711 if tier == "uid" else 0o700)
    if tier == "uid":  # the slot uid must reach its own box folder, and nothing else in here
        os.chmod(temporary, 0o711)
        os.chmod(work_root, 0o711)
    return Places(staging, work_root)


class SlotUid:
    """A uid no other grader on this machine is using now, held with a lock file until released."""

    def __init__(self) -> None:
        lock_dir = Path("/run/grade-slots") if os.access("/run", os.W_OK) else Path("/tmp/grade-slots-root")
        lock_dir.mkdir(mode=0o700, exist_ok=True)
        os.chmod(lock_dir, 0o700)
        for uid in range(SLOT_UID_FIRST, SLOT_UID_FIRST + SLOT_UID_COUNT):
            fd = os.open(lock_dir / f"{uid}.lock", os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                os.close(fd)
                continue
            self.uid, self._fd = uid, fd
            return
        raise IsolationUnavailable("every grading uid slot is in use")

    def release(self) -> None:
        os.close(self._fd)


def protect_hidden_parts() -> list[str]:
    """Tier uid: make the reference solutions, the hidden suites and the kit's git history (which
    holds the solutions too) unreadable to other users.

    Returns the folders whose mode was changed.
    """
    from grader import catalogue

    return deny_other_users(catalogue.SOLUTIONS_DIR, catalogue.KIT_ROOT / "tests", catalogue.KIT_ROOT / ".git")


def deny_other_users(*folders: Path) -> list[str]:
    """``chmod o-rwx`` on each existing folder; the folders whose mode changed."""
    changed = []
    for folder in folders:
        try:
            mode = folder.stat().st_mode
        except OSError:
            continue
        if mode & stat.S_IRWXO:
            os.chmod(folder, stat.S_IMODE(mode) & ~stat.S_IRWXO)
            changed.append(str(folder))
    return changed
