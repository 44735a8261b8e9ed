"""How a zygote (and so every worker) is started: inside bubblewrap when it is there.

With ``bwrap`` the zygote sees the Python installation read-only, the grader package read-only
at ``/kit/grader``, one private read-write folder at ``/submission`` and a private ``/tmp``; no
network, no other processes, nothing else of the file system (the reference solutions and the
hidden suites do not exist in there). Without it, the zygote is an ordinary process: the worker
still drops the kit from ``sys.path`` and refuses ``import solutions``, but a determined submission
could read files by path. The grader says so once, with the command that fixes it.
"""

from __future__ import annotations

import os
import shutil
import site
import sys
import sysconfig
from dataclasses import dataclass
from pathlib import Path

import grader

GRADER_DIR = Path(grader.__file__).resolve().parent
KIT_PARENT = GRADER_DIR.parent
SANDBOX_KIT = "/kit"
SANDBOX_SUBMISSION = "/submission"
REDUCED_ISOLATION_WARNING = (
    "Isolation is reduced: bubblewrap (bwrap) is not installed, so submissions run as ordinary "
    "processes that could read files by path. Install it (Debian/Ubuntu: `apt-get install bubblewrap`) "
    "before grading untrusted work; set GRADER_SANDBOX=none to silence this."
)


def bwrap_path() -> str | None:
    """The ``bwrap`` executable when sandboxing is wanted and works here, else None."""
    if os.environ.get("GRADER_SANDBOX", "auto") == "none":
        return None
    return shutil.which("bwrap")


@dataclass
class ZygoteLaunch:
    """The command that starts a zygote, and how paths look from inside it."""

    argv: list[str]
    stage_inside: str
    hidden_roots: list[str]
    sandboxed: bool


def _boot_code(kit_parent: str) -> str:
    return f"import sys; sys.path.insert(0, {kit_parent!r}); from grader.zygote import main; main()"


def python_roots() -> list[str]:
    """Folders a worker's Python needs: the installation, its site-packages and editable paths."""
    roots = {sys.prefix, sys.base_prefix, sys.exec_prefix, sysconfig.get_paths()["stdlib"]}
    roots.update(site.getsitepackages())
    roots.add(os.path.dirname(os.path.realpath(sys.executable)))
    return sorted(r for r in roots if os.path.isdir(r))


def zygote_launch(stage: Path, control_fd: int, memory_limit: int, use_cuda: bool) -> ZygoteLaunch:
    """Build the argv for a zygote that will fork workers over ``stage`` (a private folder)."""
    bwrap = bwrap_path()
    tail_args = [str(control_fd), str(memory_limit)]
    if bwrap is None:
        argv = [sys.executable, "-I", "-c", _boot_code(str(KIT_PARENT)), *tail_args]
        return ZygoteLaunch(argv, str(stage), [str(KIT_PARENT), os.getcwd()], sandboxed=False)
    argv = [bwrap, "--unshare-all", "--die-with-parent", "--new-session", "--proc", "/proc", "--tmpfs", "/tmp"]
    for system_dir in ("/usr", "/lib", "/lib64", "/lib32", "/bin", "/sbin"):
        if os.path.lexists(system_dir):
            argv += ["--ro-bind-try" if not os.path.islink(system_dir) else "--symlink",
                     *( [system_dir, system_dir] if not os.path.islink(system_dir) else [os.readlink(system_dir), system_dir])]
    for etc_file in ("/etc/ld.so.cache", "/etc/localtime", "/etc/passwd", "/etc/group", "/etc/nsswitch.conf"):
        argv += ["--ro-bind-try", etc_file, etc_file]
    for root in python_roots():
        argv += ["--ro-bind", root, root]
    argv += ["--ro-bind", str(GRADER_DIR), f"{SANDBOX_KIT}/grader"]
    if use_cuda:
        argv += ["--dev-bind", "/dev", "/dev", "--ro-bind-try", "/sys", "/sys"]
    else:
        argv += ["--dev", "/dev"]
    argv += ["--bind", str(stage), SANDBOX_SUBMISSION, "--chdir", SANDBOX_SUBMISSION,
             "--setenv", "HOME", "/tmp", "--setenv", "TMPDIR", "/tmp", "--setenv", "GRADER_PRIVATE_TMP", "/tmp",
             "--setenv", "PYTHONDONTWRITEBYTECODE", "1"]
    argv += [sys.executable, "-I", "-c", _boot_code(SANDBOX_KIT), *tail_args]
    return ZygoteLaunch(argv, SANDBOX_SUBMISSION, [SANDBOX_KIT], sandboxed=True)


_warned = False


def warn_once() -> bool:
    """True the first time it is called in this process while isolation is reduced and not silenced."""
    global _warned
    if _warned or os.environ.get("GRADER_SANDBOX") == "none":
        return False
    _warned = True
    return True
