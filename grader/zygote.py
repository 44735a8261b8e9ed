"""The zygote: a process with torch already imported that forks a fresh worker in milliseconds.

Importing torch costs about 3 s, so no worker imports it: the zygote does, once, and forks one
worker per submission (and a replacement after a timeout or crash). The zygote never runs student
code. It also polices its workers: it reaps them, enforces the memory limit by watching their
resident memory (this works with CUDA, where an address-space limit would not), kills a worker's
whole process tree on request, and, as a child subreaper, adopts and kills the daemons a
submission leaves behind.

The grader talks to it over a ``SOCK_SEQPACKET`` socket with small JSON messages; the socket and
output pipe of each new worker travel with the spawn request as file descriptors.
"""

from __future__ import annotations

import ctypes
import json
import os
import select
import signal
import socket
import sys
from pathlib import Path

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
POLL_SECONDS = 0.05
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


def _prctl(option: int, value: int) -> None:
    try:
        ctypes.CDLL(None, use_errno=True).prctl(option, value, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux
        pass


def die_with_parent() -> None:
    """Ask the kernel to kill this process when its parent dies (Linux)."""
    _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)


def _children_map() -> dict[int, list[int]]:
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", "rb") as stat:
                fields = stat.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(entry))
    return children


def descendants(pid: int) -> list[int]:
    """Every process below ``pid`` (children, grandchildren, ...)."""
    children = _children_map()
    found, stack = [], list(children.get(pid, []))
    while stack:
        current = stack.pop()
        found.append(current)
        stack.extend(children.get(current, []))
    return found


def resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def describe_exit(status: int) -> str:
    """A sentence for a ``waitpid`` status."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        advice = {
            "SIGSEGV": "a segmentation fault: a crash in native code (ctypes, a bad tensor operation)",
            "SIGABRT": "an abort in native code",
            "SIGKILL": "killed",
            "SIGXFSZ": "wrote too much to a file",
        }.get(name, "killed by a signal")
        return f"the worker process died: {name} ({advice})"
    code = os.WEXITSTATUS(status)
    return f"the worker process exited with code {code} (os._exit or a fatal error in your code)"


class Zygote:
    """Server side: runs in the zygote process."""

    def __init__(self, control: socket.socket, memory_limit: int) -> None:
        self.control = control
        self.memory_limit = memory_limit
        self.workers: dict[int, str | None] = {}  # pid -> reason it was killed
        self.exited: dict[int, str] = {}

    def run(self) -> None:
        self.send({"op": "ready", "pid": os.getpid()})
        while True:
            readable, _, _ = select.select([self.control], [], [], POLL_SECONDS)
            self.reap()
            self.police_memory()
            if not readable:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(self.control, 65536, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                self.kill_everything()
                return
            request = json.loads(data)
            reply = getattr(self, f"do_{request['op']}")(request, fds)
            self.send(reply)

    def send(self, message: dict) -> None:
        self.control.send(json.dumps(message).encode())

    def do_spawn(self, request: dict, fds: list[int]) -> dict:
        rpc_fd, output_fd = fds
        pid = os.fork()
        if pid == 0:  # the worker
            try:
                self.control.close()
                os.setsid()
                die_with_parent()
                os.dup2(output_fd, 1)
                os.dup2(output_fd, 2)
                os.close(output_fd)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                from grader import worker

                directory = Path(request["dir"])
                worker.prepare_process(directory, request["hidden_roots"])
                worker.serve(socket.socket(fileno=rpc_fd), directory)
            finally:
                os._exit(0)
        os.close(rpc_fd)
        os.close(output_fd)
        self.workers[pid] = None
        return {"op": "spawned", "pid": pid}

    def do_kill(self, request: dict, fds: list[int]) -> dict:
        pid = request["pid"]
        self.kill_tree(pid)
        self.reap(block_for=pid)
        return {"op": "killed", "status": self.exited.get(pid, "killed")}

    def do_wait(self, request: dict, fds: list[int]) -> dict:
        pid = request["pid"]
        self.reap(block_for=pid if request.get("block") else None)
        return {"op": "status", "status": self.exited.get(pid)}

    def do_cleanup(self, request: dict, fds: list[int]) -> dict:
        stray = descendants(os.getpid())
        self.kill_everything()
        private_tmp = os.environ.get("GRADER_PRIVATE_TMP")
        if private_tmp and os.path.isdir(private_tmp):
            import shutil

            for entry in os.listdir(private_tmp):
                path = os.path.join(private_tmp, entry)
                if os.path.isdir(path) and not os.path.islink(path):
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    try:
                        os.unlink(path)
                    except OSError:
                        pass
        return {"op": "cleaned", "killed": len(stray)}

    def kill_tree(self, pid: int) -> None:
        for victim in [pid, *descendants(pid)]:
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        try:
            os.killpg(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    def kill_everything(self) -> None:
        for victim in descendants(os.getpid()):
            try:
                os.kill(victim, signal.SIGKILL)
            except ProcessLookupError:
                pass
        self.reap()

    def reap(self, block_for: int | None = None) -> None:
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block_for is not None else os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.workers:
                reason = self.workers.pop(pid)
                self.exited[pid] = reason or describe_exit(status)
            if pid == block_for:
                block_for = None

    def police_memory(self) -> None:
        for pid, reason in list(self.workers.items()):
            if reason is not None:
                continue
            used = resident_bytes(pid) + sum(resident_bytes(p) for p in descendants(pid))
            if used > self.memory_limit:
                limit_gib = self.memory_limit / 2**30
                self.workers[pid] = f"the worker used more than the {limit_gib:.1f} GiB memory limit and was stopped"
                self.kill_tree(pid)


def preload() -> None:
    """Import what every worker needs, so that forking gives a warm process."""
    import numpy  # noqa: F401
    import torch
    import torch.nn.functional
    import torch.utils.data

    torch.set_num_threads(1)
    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # imports torch._dynamo once, here

    try:
        import torchvision
        import torchvision.transforms  # noqa: F401
    except ImportError:  # pragma: no cover - torchvision is a dependency
        pass
    import importlib
    from pathlib import Path as _Path

    from grader import fixtures, guards, wire, worker  # noqa: F401

    for path in sorted(_Path(fixtures.__file__).parent.glob("fixtures_*.py")):
        importlib.import_module(f"grader.{path.stem}")


def main() -> None:
    """Entry point: ``python -I -c '...main()' CONTROL_FD MEMORY_LIMIT_BYTES``."""
    control_fd, memory_limit = int(sys.argv[1]), int(sys.argv[2])
    die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _prctl(PR_SET_CHILD_SUBREAPER, 1)
    preload()
    control = socket.socket(fileno=control_fd)
    Zygote(control, memory_limit).run()
