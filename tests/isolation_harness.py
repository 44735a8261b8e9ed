"""Run the ``grade`` command as it runs where each isolation tier is meant for, on one root machine.

Four environments, all made on the fly and torn down afterwards, none changing the host:

- ``root``: root with every capability and a working bubblewrap (tier ``namespaces``).
- ``docker``: root with Docker's default capability set, and a ``bwrap`` that fails the way it does
  under Docker's default seccomp profile (tier ``uid``).
- ``user``: an unprivileged uid, user namespaces allowed (tier ``namespaces``).
- ``user-no-userns``: an unprivileged uid and the failing ``bwrap`` (tier ``reduced``).

Each run gets its own mount and PID namespaces (``unshare``), with :mod:`tests.isolation_init` as
init. ``/root`` (mode 700 here: Python may live in it, and other uids could not read it), ``/tmp``,
``/var/tmp`` and ``/dev/shm`` are covered with fresh tmpfs, and only what the run needs is bound
back at the same paths: Python, the kit, the test's folders. So a slot uid can run Python, and a
payload that escaped could not reach other people's files in ``/tmp``. The kit's ``solutions/``,
``tests/`` and ``.git`` are private copies with the modes of a fresh clone: tier ``uid`` takes
them away from other users, which must not change this shared checkout, and the unprivileged runs
must read them. Since the run is in a PID namespace of its own, nothing it starts can signal a
process outside it, and nothing it started outlives it. After the command ends, and before that teardown, a test's ``inspect``
callback sees what the run left (processes, files in its ``/tmp`` through ``/proc/PID/root``).
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import site
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from grader import catalogue

ENVIRONMENTS = ("root", "docker", "user", "user-no-userns")
EXPECTED_TIER = {"root": "namespaces", "docker": "uid", "user": "namespaces", "user-no-userns": "reduced"}
UNPRIVILEGED_UID = 65534
DOCKER_CAPABILITIES = ("chown", "dac_override", "fowner", "fsetid", "kill", "setgid", "setuid", "setpcap",
                       "net_bind_service", "net_raw", "sys_chroot", "mknod", "audit_write", "setfcap")
FAKE_BWRAP = """#!/bin/sh
echo "bwrap: No permissions to create new namespace, likely because the kernel does not allow non-privileged \
user namespaces. On e.g. debian this can be enabled with 'sysctl kernel.unprivileged_userns_clone=1'." >&2
exit 1
"""
GRADE = (sys.executable, "-c", "from grader.cli import main; main()")
HIDDEN_PLACES = ({"path": "/root", "mode": "0755", "size": "16m"},
                 {"path": "/tmp", "mode": "1777", "size": "4g"},
                 {"path": "/var/tmp", "mode": "1777", "size": "1g"},
                 {"path": "/dev/shm", "mode": "1777", "size": "1g"})
# Where a machine keeps other people's files, or another copy of this kit (CI grades a fresh clone
# while the developer's checkout, readable by every user, stays on the machine): a Docker image
# holds none of them, and in the uid tier a worker can read whatever every user may read.
OTHER_PLACES = ("/work", "/home", "/srv", "/opt", "/mnt", "/media")
INIT_SCRIPT = Path(__file__).resolve().parent / "isolation_init.py"
SLOT_UIDS = range(61000, 62000)
BOX_UID = 1000
PRIVATE_KIT_FOLDERS = ("solutions", "tests", ".git")


@dataclass
class Inside:
    """A finished run whose namespaces still exist: what a test may look at before they go."""

    init_pid: int  # the environment's init, as the host numbers it

    @property
    def root(self) -> Path:
        """The environment's file system as its processes see it (its own /tmp included)."""
        return Path(f"/proc/{self.init_pid}/root")


@dataclass
class Outcome:
    """How a command ended: exit status, output, and what ``inspect`` returned before the teardown."""

    environment: str
    returncode: int
    stdout: str
    stderr: str
    inspected: object = None

    def json(self) -> dict:
        """The one JSON document of ``grade check --json``."""
        try:
            return json.loads(self.stdout)
        except ValueError:
            raise AssertionError(f"no JSON on stdout ({self.describe()})") from None

    def describe(self) -> str:
        return (f"environment {self.environment}, exit status {self.returncode}\n--- stdout (end) ---\n"
                f"{self.stdout[-3000:]}\n--- stderr (end) ---\n{self.stderr[-3000:]}")


# ---------------------------------------------------------------- what this machine offers
@functools.cache
def _why_environments_unavailable() -> str | None:
    if not sys.platform.startswith("linux"):
        return "these tests need Linux namespaces"
    if os.geteuid() != 0:
        return "these tests build their environments as root (run pytest as root, e.g. in a container)"
    for tool in ("unshare", "setpriv", "mount"):
        if shutil.which(tool) is None:
            return f"`{tool}` (util-linux) is not installed"
    probe = subprocess.run(["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private",
                            "--kill-child", "true"], capture_output=True, text=True, timeout=60, check=False)
    if probe.returncode != 0:
        return f"cannot make mount and PID namespaces here (`unshare` said: {probe.stderr.strip()[:200]})"
    return None


def require(environment: str) -> None:
    """Skip the calling test, saying why, when ``environment`` cannot be built on this machine."""
    reason = _why_environments_unavailable()
    if reason is None and environment in ("root", "user") and shutil.which("bwrap") is None:
        reason = "bubblewrap (bwrap) is not installed"
    if reason is not None:
        pytest.skip(f"isolation environment {environment!r} unavailable: {reason}")


# ---------------------------------------------------------------- folders
@contextmanager
def shared_folder(prefix: str = "isolation-") -> Iterator[Path]:
    """A fresh folder every uid may read and write (mode 777), removed afterwards whatever is in it."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    try:
        os.chmod(folder, 0o777)
        yield folder
    finally:
        remove_tree(folder)


def remove_tree(folder: Path) -> None:
    """Remove ``folder`` even when a run left read-only or mode-000 folders in it."""
    def make_writable_and_retry(function, path, _info):
        try:
            os.chmod(os.path.dirname(path), 0o700)
            if os.path.isdir(path) and not os.path.islink(path):
                os.chmod(path, 0o700)
            function(path)
        except OSError:
            pass

    if folder.exists() or folder.is_symlink():
        shutil.rmtree(folder, onerror=make_writable_and_retry)


def other_places() -> list[dict]:
    """Tmpfs covers for :data:`OTHER_PLACES` that exist here (the paths a run keeps are bound back)."""
    return [{"path": place, "mode": "0755", "size": "16m"} for place in OTHER_PLACES if os.path.isdir(place)
            and not os.path.islink(place)]


def copy_modules(source: Path, target: Path, mode: int = 0o644) -> Path:
    """Copy the ``ex*.py`` files of ``source`` into ``target`` (created), each readable by everyone."""
    target.mkdir(parents=True, exist_ok=True)
    os.chmod(target, 0o755)
    for path in sorted(source.glob("ex[0-9][0-9]_*.py")):
        shutil.copyfile(path, target / path.name)
        os.chmod(target / path.name, mode)
    return target


# ---------------------------------------------------------------- running
def python_paths() -> list[str]:
    """Everything this interpreter and its packages need to be readable."""
    paths = {sys.prefix, sys.base_prefix, sys.exec_prefix, os.path.dirname(os.path.realpath(sys.executable))}
    paths.update(site.getsitepackages())
    return sorted(os.path.realpath(p) for p in paths if os.path.exists(p))


def _prefix(environment: str) -> list[str]:
    if environment == "root":
        return []
    if environment == "docker":
        bounding = "-all," + ",".join(f"+{c}" for c in DOCKER_CAPABILITIES)
        return ["setpriv", "--bounding-set", bounding, "--inh-caps", "-all", "--"]
    uid = str(UNPRIVILEGED_UID)
    return ["setpriv", "--reuid", uid, "--regid", uid, "--clear-groups", "--inh-caps", "-all", "--"]


def run(environment: str, args: Sequence[str], *, keep: Sequence[Path] = (), cwd: Path | None = None,
        extra_env: dict[str, str] | None = None, timeout: float = 600,
        inspect: Callable[[Inside], object] | None = None) -> Outcome:
    """Run ``grade ARGS`` (or ``ARGS`` itself when it starts with "/") in ``environment``.

    ``keep``: folders the command needs besides Python and the kit (they stay visible at their
    paths). ``inspect`` is called once the command has ended, before its namespaces are torn down.
    """
    if environment not in ENVIRONMENTS:
        raise ValueError(f"unknown environment {environment!r}: use one of {ENVIRONMENTS}")
    require(environment)
    argv = list(args) if args and str(args[0]).startswith("/") else [*GRADE, *map(str, args)]
    workspace = Path(tempfile.mkdtemp(prefix="isolation-run-"))
    os.chmod(workspace, 0o755)
    try:
        fake_bin = workspace / "bin"
        fake_bin.mkdir(mode=0o755)
        home = workspace / "home"
        home.mkdir(mode=0o777)
        os.chmod(home, 0o777)
        path = [os.path.dirname(os.path.realpath(sys.executable)), "/usr/local/sbin", "/usr/local/bin",
                "/usr/sbin", "/usr/bin", "/sbin", "/bin"]
        if environment in ("docker", "user-no-userns"):
            (fake_bin / "bwrap").write_text(FAKE_BWRAP)
            os.chmod(fake_bin / "bwrap", 0o755)
            path.insert(0, str(fake_bin))
        env = {"PATH": ":".join(path), "HOME": str(home), "LANG": "C.UTF-8", **(extra_env or {})}
        spec = {
            "hide": list(HIDDEN_PLACES) + other_places(),
            "keep": sorted({*python_paths(), str(catalogue.KIT_ROOT.resolve()), str(workspace),
                            *(str(Path(k).resolve()) for k in keep)}),
            "private_copies": [str(catalogue.KIT_ROOT.resolve() / name) for name in PRIVATE_KIT_FOLDERS],
            "argv": _prefix(environment) + argv,
            "cwd": str(cwd or catalogue.KIT_ROOT),
            "env": env,
            "stdout": str(workspace / "stdout"),
            "stderr": str(workspace / "stderr"),
        }
        return _run_inside(environment, spec, workspace, timeout, inspect)
    finally:
        remove_tree(workspace)


def _run_inside(environment: str, spec: dict, workspace: Path, timeout: float,
                inspect: Callable[[Inside], object] | None) -> Outcome:
    with open(workspace / "init-stderr", "wb") as init_errors:
        unshare = subprocess.Popen(
            ["unshare", "--mount", "--pid", "--fork", "--mount-proc", "--propagation", "private", "--kill-child",
             sys.executable, "-I", str(INIT_SCRIPT), json.dumps(spec)],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=init_errors, start_new_session=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(
        line.decode(errors="replace").strip() for line in unshare.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        while not any(line.startswith(("EXIT ", "SETUP-FAILED")) for line in lines):
            if unshare.poll() is not None:
                reader.join(5)
                if any(line.startswith(("EXIT ", "SETUP-FAILED")) for line in lines):
                    break
                raise AssertionError(f"the {environment} environment ended early: {_tail(workspace / 'init-stderr')}")
            if time.monotonic() > deadline:
                raise AssertionError(f"`{' '.join(spec['argv'][-6:])}` did not finish within {timeout:.0f} s in the "
                                     f"{environment} environment; stderr (end):\n{_tail(workspace / 'stderr')}")
            time.sleep(0.05)
        last = next(line for line in lines if line.startswith(("EXIT ", "SETUP-FAILED")))
        if last.startswith("SETUP-FAILED"):
            raise AssertionError(f"the {environment} environment could not be built: {last}")
        outcome = Outcome(environment, int(last.split()[1]), _read(workspace / "stdout"), _read(workspace / "stderr"))
        if inspect is not None:
            outcome.inspected = inspect(Inside(_init_pid(unshare.pid)))
        return outcome
    finally:
        _tear_down(unshare)


def _tear_down(unshare: subprocess.Popen) -> None:
    """Let init exit (the kernel then kills what is left in the namespace); kill it if it does not."""
    try:
        unshare.stdin.close()
    except OSError:
        pass
    try:
        unshare.wait(20)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(unshare.pid, 9)
        except ProcessLookupError:
            pass
        unshare.wait(20)


def _init_pid(unshare_pid: int) -> int:
    try:
        children = Path(f"/proc/{unshare_pid}/task/{unshare_pid}/children").read_text().split()
    except OSError:
        children = []
    if not children:
        raise AssertionError("the environment's init is gone before the test could look at it")
    return int(children[0])


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:
        return ""


def _tail(path: Path) -> str:
    return _read(path)[-3000:]


# ---------------------------------------------------------------- looking at processes
def _all_pids() -> list[int]:
    return [int(name) for name in os.listdir("/proc") if name.isdigit()]


def processes_mentioning(text: str) -> list[tuple[int, str]]:
    """Live (not zombie) processes on this machine whose command line or name contains ``text``."""
    found = []
    needle = text.encode()
    for pid in _all_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            comm = Path(f"/proc/{pid}/comm").read_bytes()
            state = Path(f"/proc/{pid}/stat").read_bytes().rsplit(b")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != b"Z" and (needle in cmdline or needle[:15] in comm):
            found.append((pid, cmdline.replace(b"\0", b" ").decode(errors="replace")[:200]))
    return found


def kill_processes_mentioning(text: str) -> None:
    """Clean-up after a failed test: SIGKILL every process ``processes_mentioning(text)`` finds."""
    for _ in range(20):
        found = processes_mentioning(text)
        if not found:
            return
        for pid, _cmdline in found:
            try:
                os.kill(pid, 9)
            except ProcessLookupError:
                pass
        time.sleep(0.1)


def files_owned_by(folder: Path, uids: Sequence[int] | range) -> list[str]:
    """Paths under ``folder`` (not following links or crossing into other file systems) owned by ``uids``."""
    found = []
    try:
        device = folder.stat().st_dev
    except OSError:
        return found
    for current, folders, files in os.walk(folder):
        kept = []
        for name in folders:
            try:
                if os.lstat(os.path.join(current, name)).st_dev == device:
                    kept.append(name)
            except OSError:
                continue
        folders[:] = kept
        for name in [*folders, *files]:
            try:
                if os.lstat(os.path.join(current, name)).st_uid in uids:
                    found.append(os.path.join(current, name))
            except OSError:
                continue
    return found
