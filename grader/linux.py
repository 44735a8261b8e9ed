"""The few Linux system calls the sandbox needs that Python's ``os`` module does not offer (3.10+).

Each wrapper raises ``OSError`` with the call's name and ``errno`` when the kernel refuses, so a
caller can fall back to a weaker isolation tier with a sentence that says why. The module imports on
every POSIX system (the portable tier's worker imports it on macOS): the C library is loaded on first
use, and a call that exists only on Linux raises ``OSError(ENOSYS)`` elsewhere.
"""

from __future__ import annotations

import ctypes
import errno
import os
import signal
import sys
from collections.abc import Callable

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000

MS_RDONLY = 1
MS_NOSUID = 2
MS_NODEV = 4
MS_NOEXEC = 8
MS_REC = 16384
MS_PRIVATE = 1 << 18

PR_SET_PDEATHSIG = 1
PR_SET_DUMPABLE = 4
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_SET_CHILD_SUBREAPER = 36
_LINUX_CAPABILITY_VERSION_3 = 0x20080522
CAPABILITY_COUNT = 64

_libc: ctypes.CDLL | None = None


def _c() -> ctypes.CDLL:
    global _libc
    if _libc is None:
        _libc = ctypes.CDLL(None, use_errno=True)
    return _libc


def _linux_call(name: str) -> Callable[..., int]:
    """The C library's ``name``; ``OSError(ENOSYS)`` naming the platform where it does not exist."""
    try:
        return getattr(_c(), name)
    except AttributeError:
        raise OSError(errno.ENOSYS, f"{name} exists only on Linux (this is {sys.platform})") from None


def _check(result: int, call: str) -> None:
    if result != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"{call}: {os.strerror(number)}")


def prctl(option: int, value: int, call: str = "prctl") -> None:
    _check(_linux_call("prctl")(option, value, 0, 0, 0), call)


def unshare(flags: int) -> None:
    """Move this (single-threaded) process into new namespaces."""
    _check(_linux_call("unshare")(flags), "unshare")


def mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    def encode(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    _check(_linux_call("mount")(encode(source), encode(target), encode(fstype), flags, encode(data)), f"mount {target}")


class _CapHeader(ctypes.Structure):
    _fields_ = [("version", ctypes.c_uint32), ("pid", ctypes.c_int)]


class _CapData(ctypes.Structure):
    _fields_ = [("effective", ctypes.c_uint32), ("permitted", ctypes.c_uint32), ("inheritable", ctypes.c_uint32)]


def drop_all_capabilities() -> None:
    """Empty the bounding set and the effective, permitted and inheritable sets, for good."""
    for capability in range(CAPABILITY_COUNT):
        _linux_call("prctl")(PR_CAPBSET_DROP, capability, 0, 0, 0)  # EINVAL past the last one the kernel knows
    header = _CapHeader(_LINUX_CAPABILITY_VERSION_3, 0)
    data = (_CapData * 2)()
    _check(_linux_call("capset")(ctypes.byref(header), data), "capset")


def effective_capabilities() -> int:
    """This process's effective capability mask, from /proc/self/status (0 when unreadable)."""
    try:
        with open("/proc/self/status", "rb") as status:
            for line in status:
                if line.startswith(b"CapEff:"):
                    return int(line.split()[1], 16)
    except (OSError, ValueError):
        pass
    return 0


CAP_KILL = 5
CAP_SETGID = 6
CAP_SETUID = 7


def has_capability(capability: int) -> bool:
    return bool(effective_capabilities() >> capability & 1)


def harden_process() -> None:
    """No new privileges through exec, no core dumps or ptrace by peers (not dumpable)."""
    prctl(PR_SET_NO_NEW_PRIVS, 1, "prctl(PR_SET_NO_NEW_PRIVS)")
    prctl(PR_SET_DUMPABLE, 0, "prctl(PR_SET_DUMPABLE)")


def die_with_parent() -> None:
    """Ask the kernel to SIGKILL this process when its parent dies."""
    try:
        prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def become_subreaper() -> None:
    """Orphaned descendants are re-parented to this process instead of init."""
    try:
        prctl(PR_SET_CHILD_SUBREAPER, 1)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def process_tree(pid: int) -> list[int]:
    """``pid`` first, then every process below it (children, grandchildren, ...), from /proc (Linux only:
    elsewhere ``OSError(ENOSYS)``; :mod:`grader.portable` asks ``ps`` instead)."""
    children: dict[int, list[int]] = {}
    try:
        entries = os.listdir("/proc")
    except FileNotFoundError:
        raise OSError(errno.ENOSYS, f"process_tree reads /proc, which this system ({sys.platform}) lacks") from None
    for entry in entries:
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                parent = int(stat.read().rsplit(b")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        children.setdefault(parent, []).append(int(entry))
    found, stack = [], [pid]
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found
