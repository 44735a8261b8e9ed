"""The zygote: a process with torch already imported that forks a fresh box in milliseconds.

Importing torch costs about 3 s, so no worker imports it: the zygote does, once, and forks one
*keeper* per exercise module of a submission (see :mod:`grader.box`); the keeper builds an
unprivileged box and forks the worker into it. The zygote never runs student code, is not
dumpable (no worker can ptrace it or read its memory) and keeps no secrets: it holds no reference
solution, no hidden suite and no re-implementation of a graded item. It polices memory (the
resident memory of a keeper's whole tree, which works with CUDA where an address-space limit
would not) and stops a box on request.

Before it imports torch, it builds one empty box as a self-test and says whether that worked
("tested"), so a tier that this machine refuses is known in a moment; it says "ready" once torch
is imported. The grader talks to it over a
``SOCK_SEQPACKET`` socket with small JSON messages; the socket and output pipe of each new worker
travel with the spawn request as file descriptors.
"""

from __future__ import annotations

import json
import os
import re
import select
import signal
import socket
import sys
import time

from grader import box, linux

POLL_SECONDS = 0.05
STOP_GRACE_SECONDS = 5.0
PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")
STAGE_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


def describe_exit(status: int) -> tuple[str, str]:
    """``(kind, sentence)`` for a keeper's ``waitpid`` status; kind is "timeout" or "crashed"."""
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            name = signal.Signals(number).name
        except ValueError:
            name = f"signal {number}"
        if name == "SIGXCPU":
            return "timeout", "the worker used up its CPU time limit"
        advice = {
            "SIGSEGV": "a segmentation fault: a crash in native code (ctypes, a bad tensor operation)",
            "SIGABRT": "an abort in native code",
            "SIGKILL": "killed",
            "SIGXFSZ": "file size limit: it wrote a file larger than the limit",
        }.get(name, "killed by a signal")
        return "crashed", f"the worker process died: {name} ({advice})"
    code = os.WEXITSTATUS(status)
    if code == box.DISK_LIMIT_EXIT:
        return "crashed", "file size limit: the code wrote more than the disk limit and was stopped"
    if code == box.SETUP_FAILED_EXIT:
        return "crashed", "the worker's sandbox could not be set up (see the grader's messages)"
    return "crashed", f"the worker process exited with code {code} (os._exit or a fatal error in your code)"


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU time of one process (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS
    except (OSError, IndexError, ValueError):
        return 0.0


def resident_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as statm:
            return int(statm.read().split()[1]) * PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


class Zygote:
    """Server side: runs in the zygote process."""

    def __init__(self, control: socket.socket, spec: box.BoxSpec, memory_limit: int) -> None:
        self.control = control
        self.spec = spec
        self.memory_limit = memory_limit
        self.keepers: dict[int, str | None] = {}  # pid -> why the zygote stopped it (None: it did not)
        self.exited: dict[int, dict] = {}
        self.releasing: dict[int, float] = {}  # released keepers -> when to stop them if still running

    def run(self) -> None:
        while True:
            readable, _, _ = select.select([self.control], [], [], POLL_SECONDS)
            self.reap()
            self.police()
            self.stop_overdue_releases()
            if not readable:
                continue
            try:
                data, fds, _, _ = socket.recv_fds(self.control, 65536, 4)
            except OSError:
                data, fds = b"", []
            if not data:
                self.stop_all()
                return
            request = json.loads(data)
            handler = getattr(self, f"do_{request.get('op')}", None)
            reply = handler(request, fds) if handler is not None else {"op": "error", "detail": "unknown op"}
            self.send(reply)

    def send(self, message: dict) -> None:
        self.control.send(json.dumps(message).encode())

    def self_test(self) -> str | None:
        """Build and tear down one empty box; None when it worked, else why not."""
        read_end, write_end = os.pipe()
        pid = self._fork_keeper(None, os.dup(write_end), write_end)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            self.reap()
            if pid in self.exited:
                break
            time.sleep(0.01)
        else:
            self.stop(pid, "the self-test box did not finish")
        os.set_blocking(read_end, False)
        try:
            said = os.read(read_end, 4000).decode(errors="replace").strip()
        except OSError:
            said = ""
        os.close(read_end)
        status = self.exited.pop(pid, {"status": "did not finish"})
        if status.get("code") == 0:
            return None
        return said or str(status.get("status"))

    def _fork_keeper(self, stage: str | None, rpc_fd: int, output_fd: int) -> int:
        pid = os.fork()
        if pid == 0:
            try:
                self.control.close()
                if stage is None:  # the self-test reports on its output pipe
                    os.dup2(output_fd, 2)
                box.run_keeper(self.spec, stage, rpc_fd, output_fd)
            finally:
                os._exit(box.SETUP_FAILED_EXIT)
        os.close(rpc_fd)
        os.close(output_fd)
        self.keepers[pid] = None
        return pid

    def do_spawn(self, request: dict, fds: list[int]) -> dict:
        stage = request.get("stage")
        if len(fds) != 2 or type(stage) is not str or not STAGE_NAME.match(stage):
            for fd in fds:
                os.close(fd)
            return {"op": "error", "detail": "bad spawn request"}
        if self.spec.tier == "uid":  # one uid per slot: the last box's teardown kills everything of that uid
            for pid in [p for p, reason in self.keepers.items() if reason is None]:
                self._wait_for(pid, STOP_GRACE_SECONDS)
        return {"op": "spawned", "pid": self._fork_keeper(stage, fds[0], fds[1])}

    def do_cpu(self, request: dict, fds: list[int]) -> dict:
        """CPU seconds used so far by a box's processes (the keeper's tree, the keeper itself excluded)."""
        pid = int(request["pid"])
        if pid not in self.keepers:
            return {"op": "cpu", "seconds": None}
        return {"op": "cpu", "seconds": float(sum(cpu_seconds(p) for p in linux.process_tree(pid) if p != pid))}

    def do_release(self, request: dict, fds: list[int]) -> dict:
        """The grader is done with a box: its worker ends by itself; stop it if it has not in time."""
        pid = int(request["pid"])
        if pid in self.keepers:
            self.releasing[pid] = time.monotonic() + STOP_GRACE_SECONDS
        return {"op": "released"}

    def _wait_for(self, pid: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while pid in self.keepers and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.002)
        if pid in self.keepers:
            self.stop(pid, None)

    def do_kill(self, request: dict, fds: list[int]) -> dict:
        pid = int(request["pid"])
        self.stop(pid, None)
        return {"op": "killed", **self.exited.pop(pid, {"kind": "crashed", "status": "killed"})}

    def do_wait(self, request: dict, fds: list[int]) -> dict:
        """The keeper's end, waiting up to ``seconds`` for it; stopped when it does not end in time."""
        pid = int(request["pid"])
        self._wait_for(pid, float(request.get("seconds", 5.0)))
        return {"op": "status", **self.exited.pop(pid, {"kind": "crashed", "status": "killed"})}

    def stop(self, pid: int, reason: str | None) -> None:
        """Ask a keeper to stop its box (SIGTERM); SIGKILL it when it does not end in time."""
        if pid not in self.keepers:
            return
        if reason is not None and self.keepers[pid] is None:
            self.keepers[pid] = reason
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_GRACE_SECONDS
        while pid in self.keepers and time.monotonic() < deadline:
            self.reap()
            time.sleep(0.005)
        if pid in self.keepers:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            while pid in self.keepers:
                self.reap()
                time.sleep(0.005)

    def stop_overdue_releases(self) -> None:
        now = time.monotonic()
        for pid, due in list(self.releasing.items()):
            if pid not in self.keepers:
                del self.releasing[pid]
                self.exited.pop(pid, None)  # nobody will ask
            elif now >= due:
                self.stop(pid, None)

    def stop_all(self) -> None:
        for pid in list(self.keepers):
            self.stop(pid, "the grader went away")

    def reap(self) -> None:
        """Collect every ended child without blocking (keepers, and orphans this subreaper adopted)."""
        while True:
            try:
                pid, status = os.waitpid(-1, os.WNOHANG)
            except ChildProcessError:
                return
            if pid == 0:
                return
            if pid in self.keepers:
                reason = self.keepers.pop(pid)
                kind, sentence = describe_exit(status)
                code = os.WEXITSTATUS(status) if os.WIFEXITED(status) else None
                self.exited[pid] = {"kind": "crashed" if reason else kind, "status": reason or sentence,
                                    "code": code}

    def police(self) -> None:
        """Stop a box whose processes hold more than the memory limit or number more than the process limit."""
        for pid, reason in list(self.keepers.items()):
            if reason is not None:
                continue
            processes = [p for p in linux.process_tree(pid) if p != pid]  # the keeper itself is ours
            if len(processes) > box.PROCESS_LIMIT:  # RLIMIT_NPROC does not bind a box whose outer uid is root
                self.stop(pid, f"process limit: the code started more than {box.PROCESS_LIMIT} processes "
                               "and was stopped")
                continue
            used = sum(resident_bytes(p) for p in processes)
            if used > self.memory_limit:
                limit_gib = self.memory_limit / 2**30
                self.stop(pid, f"memory limit: the worker used more than {limit_gib:.1f} GiB and was stopped")


def preload(light: bool = False) -> None:
    """Import what every worker needs, so that forking gives a warm process; ``light``: not torchvision and
    the optimizers' ``torch._dynamo`` (for modules that use neither: the zygote is ready 0.8 s sooner)."""
    import importlib
    from pathlib import Path

    import numpy  # noqa: F401
    import torch
    import torch.nn.functional
    import torch.utils.data

    torch.set_num_threads(1)
    if not light:
        torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)  # imports torch._dynamo once, here
        try:
            import torchvision
            import torchvision.transforms  # noqa: F401
        except ImportError:  # pragma: no cover - torchvision is a dependency
            pass
    from grader import fixtures, guards, wire, worker  # noqa: F401

    for path in sorted(Path(fixtures.__file__).parent.glob("fixtures_*.py")):
        importlib.import_module(f"grader.{path.stem}")


def main() -> None:
    """Entry point: ``python -I -c '...main()' CONTROL_FD MEMORY_LIMIT_BYTES OPTIONS_JSON`` (the box spec,
    and ``probe_only`` to test the tier and exit without importing torch)."""
    control_fd, memory_limit, options = int(sys.argv[1]), int(sys.argv[2]), json.loads(sys.argv[3])
    spec = box.BoxSpec.from_dict(options)
    linux.die_with_parent()
    try:
        linux.prctl(linux.PR_SET_DUMPABLE, 0)
    except OSError:
        pass
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    linux.become_subreaper()
    zygote = Zygote(socket.socket(fileno=control_fd), spec, memory_limit)
    problem = zygote.self_test()  # before torch is imported: a tier that cannot work fails in a moment
    zygote.send({"op": "tested", "pid": os.getpid(), "ok": problem is None, "detail": problem or ""})
    if problem is None and not options.get("probe_only"):
        preload(bool(options.get("light")))  # meanwhile the grader imports its own torch
        zygote.send({"op": "ready", "pid": os.getpid(), "ok": True, "detail": ""})
        zygote.run()
