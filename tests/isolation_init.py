"""PID 1 of a test environment (see :mod:`tests.isolation_harness`); standard library only.

Started as root by ``unshare --mount --pid --fork --mount-proc --propagation private``, it:

1. covers each place in ``hide`` (``/root``, ``/tmp``, ...) with a fresh tmpfs, after opening it,
   and binds back, at the same paths, the folders in ``keep`` that lie under it (Python, the kit,
   the test's own folders), taken from the open folder through ``/proc/self/fd``: the host is not
   changed, and the new tmpfs lets other uids reach those folders, and only those;
2. replaces each folder in ``private_copies`` (the kit's ``solutions/``, ``tests/``, ``.git``) with a
   copy in a tmpfs, folders 755 and files 644 like a fresh clone: tier ``uid`` takes the read
   permission of other users away from them, and that must not change the shared checkout;
3. runs the command (usually ``setpriv ... -- grade ...``) with the given environment, its stdout
   and stderr going to the given files, reaping every orphan meanwhile (it is the namespace's init);
4. prints ``EXIT <status>`` on its stdout once the command has ended, and waits for its stdin to
   close, still reaping: meanwhile the test looks at what the command left running or on disk;
5. exits, and the kernel kills every process still in the namespace.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import shutil
import subprocess
import sys

MS_BIND = 4096
MS_REC = 16384


def _mount(source: str, target: str, fstype: str | None, flags: int, data: str | None) -> None:
    libc = ctypes.CDLL(None, use_errno=True)

    def encode(text: str | None) -> bytes | None:
        return None if text is None else text.encode()

    if libc.mount(encode(source), encode(target), encode(fstype), flags, encode(data)) != 0:
        number = ctypes.get_errno()
        raise OSError(number, f"mount {source} on {target}: {os.strerror(number)}")


def _inside(path: str, place: str) -> bool:
    return path == place or path.startswith(place.rstrip("/") + "/")


def hide_and_keep(hide: list[dict], keep: list[str]) -> None:
    """Cover each ``hide`` place with a tmpfs; bind back the ``keep`` paths under it."""
    os.umask(0o022)
    keep = sorted({os.path.normpath(k) for k in keep})
    # a kept path inside another kept path comes back with it
    keep = [k for k in keep if not any(other != k and _inside(k, other) for other in keep)]
    for place in hide:
        path = place["path"]
        if not os.path.isdir(path) or os.path.islink(path):
            continue
        original = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
        _mount("tmpfs", path, "tmpfs", 0, f"mode={place['mode']},size={place['size']}")
        for kept in keep:
            if not _inside(kept, path) or kept == path:
                continue
            relative = os.path.relpath(kept, path)
            source = f"/proc/self/fd/{original}/{relative}"
            if os.path.isdir(source):
                os.makedirs(kept, mode=0o755, exist_ok=True)
            elif os.path.exists(source):
                os.makedirs(os.path.dirname(kept), mode=0o755, exist_ok=True)
                open(kept, "a").close()
            else:
                continue
            _mount(source, kept, None, MS_BIND | MS_REC, None)
        os.close(original)


def private_copies(folders: list[str]) -> None:
    """Cover each folder with a tmpfs holding a copy of it (no ``__pycache__``), readable by all."""
    for folder in folders:
        if not os.path.isdir(folder):
            continue
        original = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        _mount("tmpfs", folder, "tmpfs", 0, "mode=0755,size=2g")
        shutil.copytree(f"/proc/self/fd/{original}", folder, dirs_exist_ok=True, symlinks=True,
                        ignore=shutil.ignore_patterns("__pycache__"))
        os.close(original)
        for current, folders_here, files in os.walk(folder):
            for name in folders_here:
                os.chmod(os.path.join(current, name), 0o755)
            for name in files:
                path = os.path.join(current, name)
                if not os.path.islink(path):
                    os.chmod(path, 0o644)
        os.chmod(folder, 0o755)


def _reap(blocking_for: int | None) -> int | None:
    """Reap children; the wait status of ``blocking_for`` once it ended (waits for it), else None."""
    while True:
        try:
            pid, status = os.waitpid(-1, 0 if blocking_for is not None else os.WNOHANG)
        except ChildProcessError:
            return None
        if pid == 0:
            return None
        if blocking_for is not None and pid == blocking_for:
            return status


def main() -> None:
    spec = json.loads(sys.argv[1])
    try:
        hide_and_keep(spec["hide"], spec["keep"])
        private_copies(spec["private_copies"])
    except OSError as error:
        print(f"SETUP-FAILED {error}", flush=True)
        sys.exit(3)
    with open(spec["stdout"], "wb") as out, open(spec["stderr"], "wb") as err:
        try:
            command = subprocess.Popen(spec["argv"], cwd=spec["cwd"], env=spec["env"], stdin=subprocess.DEVNULL,
                                       stdout=out, stderr=err)
        except OSError as error:
            print(f"SETUP-FAILED cannot start {spec['argv'][:1]}: {error}", flush=True)
            sys.exit(3)
    status = _reap(command.pid)
    command.returncode = 0  # reaped above; keeps Popen from waiting again
    if status is None:
        code = -1
    elif os.WIFSIGNALED(status):
        code = -os.WTERMSIG(status)
    else:
        code = os.WEXITSTATUS(status)
    print(f"EXIT {code}", flush=True)
    while True:  # until the test has looked (it closes our stdin), orphans keep being reaped
        readable, _, _ = select.select([sys.stdin], [], [], 0.2)
        _reap(None)
        if readable and not os.read(sys.stdin.fileno(), 4096):
            return


if __name__ == "__main__":
    main()
