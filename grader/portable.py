"""The ``portable`` isolation tier: boxes without a fork server, for macOS (and Linux when forced).

The Linux tiers need a zygote that forks after importing torch, ``/proc``, ``SOCK_SEQPACKET``
sockets and ``prctl``; macOS has none of these (and forking after importing torch is unsafe
there). :class:`PortableZygote` answers the zygote's requests (``spawn``, ``kill``, ``wait``,
``release``, ``cpu``) in the grader's own process instead:

- ``spawn`` starts a fresh Python (``subprocess.Popen``, never a fork after torch) that sets its
  resource limits, imports torch itself and serves :func:`grader.worker.serve` on the socket it was
  given, in a private folder holding a copy of the submission. Each box therefore costs one torch
  import (a few seconds; the next module's worker starts while the current one is graded).
- A watcher thread polls ``ps`` (the same command on macOS and Linux) for the resident memory and
  number of each worker's processes and the size of its folder, and stops a worker over a limit
  with the zygote's sentences.
- A worker leads its own session and process group; stopping it kills the group, then anything
  ``ps`` still shows below it.

What it lacks, compared with ``reduced``: no ``no_new_privs`` or non-dumpable worker on macOS, no
subreaper (a process that leaves the worker's process group and is orphaned before the watcher saw
it escapes), no address-space limit on macOS, and memory is polled with ``ps`` (every 0.2 s) rather
than read from ``/proc`` every 0.05 s.
The worker runs as the user: like ``reduced``, it is for a student grading their own work, and
batch grading refuses it unless given ``--allow-unsandboxed``. What it does keep: each box gets the
staged files as they were when the submission's first box was built (held in memory here), so a
worker cannot change what the next module's box is given.

This module imports on Windows too, where only :func:`refuse_unsupported_platform` is used.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import click

from grader.files import remove_tree

SUPPORTED_PLATFORMS = ("linux", "darwin")
if sys.platform in SUPPORTED_PLATFORMS:  # elsewhere the grader stops at refuse_unsupported_platform()
    import resource

    from grader import box, sandbox, zygote
    from grader.zygote_client import GraderUnavailable

POLL_SECONDS = 0.2
STOP_GRACE_SECONDS = 5.0
STARTUP_CPU_SECONDS = 120  # CPU time a fresh worker may use to import torch; each check then sets its own
ADDRESS_SPACE_HEADROOM = 8 * 2**30  # torch maps far more than it touches: RLIMIT_AS is only a backstop
PS_COMMAND = ["ps", "-A", "-o", "pid=", "-o", "ppid=", "-o", "pgid=", "-o", "rss=", "-o", "time="]
PORTABLE_NOTICE = (
    "Isolation is portable (not Linux): each exercise module runs in a freshly started Python (one torch import "
    "each, so it starts slower) with CPU, file-size and open-file limits, a private folder and a memory watch, "
    "but without namespaces or a separate user, so your code runs as you and could read or change your files; "
    "fine for grading your own work.")
WINDOWS_REFUSAL = (
    "grade does not run natively on Windows: install WSL 2 (`wsl --install` in an administrator PowerShell), "
    "then install and run grade inside Ubuntu there (README: \"macOS and Windows\").")


class UnsupportedPlatform(click.ClickException):
    """The grader cannot run on this operating system (exit status 2, one line)."""

    exit_code = 2


def platform_refusal(platform: str) -> str | None:
    """Why ``grade`` cannot run on ``platform`` (a ``sys.platform`` value) and what to do; None where it can."""
    if platform in SUPPORTED_PLATFORMS:
        return None
    if platform in ("win32", "cygwin", "msys"):
        return WINDOWS_REFUSAL
    return f"grade runs on Linux and macOS only, not on {platform}: run it in a Linux machine or container."


def refuse_unsupported_platform(platform: str | None = None) -> None:
    """Raise :class:`UnsupportedPlatform` on Windows (naming WSL 2) and on anything but Linux or macOS."""
    refusal = platform_refusal(sys.platform if platform is None else platform)
    if refusal is not None:
        raise UnsupportedPlatform(refusal)


_notice_shown = False


def _show_notice_once() -> None:
    """Say once per process, on stderr, that the portable tier is in use (when it was not forced)."""
    global _notice_shown
    if not _notice_shown and sandbox.forced_tier() is None:
        _notice_shown = True
        print(PORTABLE_NOTICE, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- ps, the portable view of processes
@dataclass(frozen=True)
class ProcessInfo:
    """One line of ``ps``: a process's parent, process group, resident bytes and CPU seconds."""

    ppid: int
    pgid: int
    resident: int
    cpu: float


def parse_cpu_time(text: str) -> float:
    """Seconds of a ``ps`` ``time`` field: ``[DD-]HH:MM:SS`` (Linux) or ``[[DD-]HH:]MM:SS.ss`` (macOS)."""
    days, _, clock = text.strip().rpartition("-")
    seconds = 0.0
    for part in clock.split(":"):
        seconds = seconds * 60 + float(part)
    return seconds + (int(days) * 86400 if days else 0)


def parse_process_table(text: str) -> dict[int, ProcessInfo]:
    """``ps -A -o pid= -o ppid= -o pgid= -o rss= -o time=`` output, by pid (malformed lines are skipped)."""
    table = {}
    for line in text.splitlines():
        fields = line.split()
        if len(fields) != 5:
            continue
        try:
            table[int(fields[0])] = ProcessInfo(int(fields[1]), int(fields[2]), int(fields[3]) * 1024,
                                                parse_cpu_time(fields[4]))
        except ValueError:
            continue
    return table


def process_table() -> dict[int, ProcessInfo] | None:
    """Every process this user can see, from ``ps`` (None when ``ps`` fails)."""
    try:
        done = subprocess.run(PS_COMMAND, capture_output=True, text=True, timeout=10, check=False,
                              env={**os.environ, "LC_ALL": "C"})
    except (OSError, subprocess.TimeoutExpired):
        return None
    return parse_process_table(done.stdout) if done.returncode == 0 else None


def box_members(table: dict[int, ProcessInfo], pid: int) -> list[int]:
    """The processes of the box led by ``pid``: its descendants, and whatever is left in its process group."""
    children: dict[int, list[int]] = {}
    for child, info in table.items():
        children.setdefault(info.ppid, []).append(child)
    found, stack = set(), [pid] if pid in table else []
    while stack:
        current = stack.pop()
        if current not in found:
            found.add(current)
            stack.extend(children.get(current, []))
    found.update(p for p, info in table.items() if info.pgid == pid)
    return sorted(found)


def folder_bytes(folder: str, limit: int) -> int:
    """Bytes on disk under ``folder`` (``limit`` past too many files to count)."""
    total, counted = 0, 0
    for root, folders, files in os.walk(folder):
        for name in folders + files:
            counted += 1
            if counted > box.MAX_FILES_COUNTED:
                return limit
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:
                continue
    return total


# ---------------------------------------------------------------- the grader's side
@dataclass
class _Box:
    process: subprocess.Popen
    folder: str
    reason: str | None = None  # why the grader stopped it (None: it did not)
    release_due: float | None = None  # released: when to stop it if it is still running
    ended: dict | None = None  # how it ended, once torn down
    seen: dict[int, int] = field(default_factory=dict)  # its other processes at the last look: pid -> group


class PortableZygote:
    """Stands in for :class:`grader.zygote_client.ZygoteClient` where there is no zygote (same interface).

    Args:
        make_places: called with ``"portable"``, returns the staging and box folders.
        memory_limit: bytes of resident memory a worker's processes may use together.
        use_cuda: the device is a CUDA GPU (then no address-space limit is set).
        probe_only: only say which tier this is (nothing to start here).
    """

    def __init__(self, make_places: Callable[[str], sandbox.Places], memory_limit: int, use_cuda: bool,
                 probe_only: bool = False) -> None:
        self.tier = "portable"
        self.spawned = 0
        self.memory_limit, self.use_cuda = memory_limit, use_cuda
        self.places = make_places(self.tier)
        self.disk_limit = sandbox.DEFAULT_DISK_LIMIT
        self._boxes: dict[int, _Box] = {}
        self._lock = threading.RLock()
        self._closed = threading.Event()
        self._watcher: threading.Thread | None = None
        self._snapshot: tuple[str, dict[str, bytes]] | None = None  # (stage, files) of the current submission
        if not probe_only:
            _show_notice_once()

    def wait_ready(self) -> None:
        """Nothing to wait for: each worker imports torch itself."""

    def ask(self, message: dict, fds: tuple[int, ...] = (), timeout: float = 30.0) -> dict:
        """Answer one of the zygote's requests. ``fds`` stay the caller's: a worker gets duplicates."""
        if self._closed.is_set():
            raise GraderUnavailable("the portable grader was closed")
        handler = {"spawn": self._spawn, "kill": self._kill, "wait": self._wait, "release": self._release,
                   "cpu": self._cpu}.get(str(message.get("op")))
        if handler is None:
            return {"op": "error", "detail": "unknown op"}
        with self._lock:
            return handler(message, fds)

    # -- requests --
    def _spawn(self, request: dict, fds: tuple[int, ...]) -> dict:
        stage = request.get("stage")
        if len(fds) != 2 or type(stage) is not str or not zygote.STAGE_NAME.match(stage):
            return {"op": "error", "detail": "bad spawn request"}
        folder = tempfile.mkdtemp(prefix="box-", dir=self.places.work_root)
        try:
            for name, data in self._staged_files(stage).items():
                Path(folder, name).write_bytes(data)
            process = self._start_worker(folder, rpc_fd=fds[0], output_fd=fds[1])
        except OSError as error:
            remove_tree(folder)
            return {"op": "error", "detail": f"a worker could not be started: {error}"}
        self._boxes[process.pid] = _Box(process, folder)
        if self._watcher is None:
            self._watcher = threading.Thread(target=self._watch, name="portable-watcher", daemon=True)
            self._watcher.start()
        return {"op": "spawned", "pid": process.pid}

    def _kill(self, request: dict, fds: tuple[int, ...]) -> dict:
        pid = int(request["pid"])
        self._stop(pid, None)
        return {"op": "killed", **self._take_ending(pid)}

    def _wait(self, request: dict, fds: tuple[int, ...]) -> dict:
        """The worker's end, waiting up to ``seconds`` for it; stopped when it does not end in time."""
        pid = int(request["pid"])
        found = self._boxes.get(pid)
        if found is not None and found.ended is None:
            try:
                found.process.wait(timeout=float(request.get("seconds", 5.0)))
            except subprocess.TimeoutExpired:
                pass
            self._stop(pid, None)
        return {"op": "status", **self._take_ending(pid)}

    def _release(self, request: dict, fds: tuple[int, ...]) -> dict:
        """The grader is done with a box: its worker ends by itself; stop it if it has not in time.

        One more look at the box first, while the worker (told goodbye a moment ago) is still there to
        link what it started: a process that left its group since the watcher's last look (0.2 s ago)
        is then known, and killed with the box, instead of outliving it.
        """
        pid = int(request["pid"])
        found = self._boxes.get(pid)
        if found is not None:
            found.release_due = time.monotonic() + STOP_GRACE_SECONDS
            if found.ended is None:
                _look_again(found, pid)
        return {"op": "released"}

    def _cpu(self, request: dict, fds: tuple[int, ...]) -> dict:
        """CPU seconds used so far by a box's processes."""
        found = self._boxes.get(int(request["pid"]))
        table = process_table() if found is not None and found.ended is None else None
        if table is None:
            return {"op": "cpu", "seconds": None}
        pid = int(request["pid"])
        return {"op": "cpu", "seconds": float(sum(_cpu_seconds(p, table[p]) for p in box_members(table, pid)))}

    # -- starting a worker --
    def _staged_files(self, stage: str) -> dict[str, bytes]:
        """The submission's ``.py`` files as they were when its first box was built (read once, kept here)."""
        if self._snapshot is None or self._snapshot[0] != stage:
            files = {}
            for entry in os.scandir(self.places.staging / stage):
                if entry.is_file(follow_symlinks=False) and entry.name.endswith(".py"):
                    files[entry.name] = Path(entry.path).read_bytes()
            self._snapshot = (stage, files)
        return self._snapshot[1]

    def _start_worker(self, folder: str, rpc_fd: int, output_fd: int) -> subprocess.Popen:
        spec = {"folder": folder, "disk_limit": self.disk_limit,
                "hidden_roots": [str(sandbox.KIT_PARENT), os.getcwd()],
                "address_space": None if self.use_cuda or sys.platform != "linux"
                else 2 * self.memory_limit + ADDRESS_SPACE_HEADROOM}
        boot = (f"import sys; sys.path.insert(0, {str(sandbox.KIT_PARENT)!r}); "
                "from grader.portable import worker_main; worker_main()")
        environment = sandbox.minimal_environment()
        environment.update(HOME=folder, TMPDIR=folder)
        return subprocess.Popen([sys.executable, "-I", "-c", boot, str(rpc_fd), json.dumps(spec)],
                                pass_fds=(rpc_fd,), stdin=subprocess.DEVNULL, stdout=output_fd, stderr=output_fd,
                                cwd=folder, env=environment, start_new_session=True)

    # -- watching and stopping --
    def _watch(self) -> None:
        """Police every running box (memory, processes, disk) and end released ones, until closed."""
        while not self._closed.wait(POLL_SECONDS):
            with self._lock:
                running = [pid for pid, found in self._boxes.items() if found.ended is None]
            table = process_table() if running else None
            with self._lock:
                for pid in running:
                    self._police(pid, table)
                for pid in [p for p, found in self._boxes.items() if found.ended and found.release_due]:
                    del self._boxes[pid]  # released and over: nobody will ask how it ended

    def _police(self, pid: int, table: dict[int, ProcessInfo] | None) -> None:
        found = self._boxes.get(pid)
        if found is None or found.ended is not None:
            return
        if found.process.poll() is not None:
            self._finish(pid)
            return
        if found.release_due is not None and time.monotonic() >= found.release_due:
            self._stop(pid, None)
            return
        if table is not None:
            members = box_members(table, pid)
            found.seen = {p: table[p].pgid for p in members if p != pid}
            if len(members) > box.PROCESS_LIMIT:
                self._stop(pid, f"process limit: the code started more than {box.PROCESS_LIMIT} processes "
                                "and was stopped")
                return
            if sum(table[p].resident for p in members) > self.memory_limit:
                limit_gib = self.memory_limit / 2**30  # the zygote's sentence (grader.zygote.Zygote.police)
                self._stop(pid, f"memory limit: the worker used more than {limit_gib:.1f} GiB and was stopped")
                return
        if folder_bytes(found.folder, self.disk_limit) >= self.disk_limit:
            self._stop(pid, "file size limit: the code wrote more than the disk limit and was stopped")

    def _stop(self, pid: int, reason: str | None) -> None:
        """Kill a box's whole process group (then what else is below it) and tear the box down."""
        found = self._boxes.get(pid)
        if found is None or found.ended is not None:
            return
        if reason is not None and found.reason is None:
            found.reason = reason
        if found.process.poll() is None:
            _look_again(found, pid)  # while the worker lives, even what left its group is found below it
            _kill_group(pid)  # the worker is not reaped yet, so its pid (the group's id) is still its own
        try:
            found.process.wait(timeout=STOP_GRACE_SECONDS)
        except subprocess.TimeoutExpired:
            found.process.kill()
            found.process.wait()
        self._finish(pid)

    def _finish(self, pid: int) -> None:
        """The worker has ended: kill what it left running, remove its folder, note how it ended."""
        found = self._boxes[pid]
        _kill_leftovers(pid, found.seen)
        remove_tree(found.folder)
        found.ended = exit_record(found.process.returncode, found.reason)

    def _take_ending(self, pid: int) -> dict:
        found = self._boxes.pop(pid, None)
        return dict(found.ended) if found is not None and found.ended else {"kind": "crashed", "status": "killed"}

    def close(self) -> None:
        """Stop every box and the watcher."""
        self._closed.set()
        with self._lock:
            for pid in list(self._boxes):
                self._stop(pid, "the grader went away")
            self._boxes.clear()
            self._snapshot = None
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)


def exit_record(returncode: int, reason: str | None) -> dict:
    """How a worker ended, as the zygote reports a box's end: ``kind`` ("timeout" or "crashed"), ``status``
    (a sentence: ``reason`` when the grader stopped it) and ``code`` (None when a signal ended it).

    ``returncode`` is ``Popen.returncode``: the exit code, or minus the signal's number.
    """
    status = -returncode if returncode < 0 else returncode << 8  # a waitpid status, as the zygote reads them
    kind, sentence = zygote.describe_exit(status)
    return {"kind": "crashed" if reason else kind, "status": reason or sentence,
            "code": returncode if returncode >= 0 else None}


def _cpu_seconds(pid: int, info: ProcessInfo) -> float:
    """A process's CPU seconds: ``ps`` counts whole seconds on Linux, so ``/proc`` is read where it exists."""
    if os.path.exists("/proc/self/stat"):
        return zygote.cpu_seconds(pid)
    return info.cpu


def _look_again(found: _Box, pid: int) -> None:
    """Add the box's processes as ``ps`` shows them now to those ``seen`` in it (pid -> process group)."""
    table = process_table()
    if table is not None:
        found.seen.update({p: table[p].pgid for p in box_members(table, pid) if p != pid})


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _kill_leftovers(pid: int, seen: dict[int, int]) -> None:
    """Kill what a worker started that is still running: its process group, what ``ps`` finds below it,
    and the processes ``seen`` in the box before (pid -> process group) that ``ps`` still shows in the
    same group: an orphan that left the worker's group has lost its parent link.

    Called once the worker is reaped: while any process of its group lives, the group's id cannot be
    given to another process; once none does, ``killpg`` finds nothing (or, should the id have been
    reused for a new group that very moment, a process of this user: a race this tier cannot close).
    A process started and orphaned between two looks (0.2 s) outside the group escapes.
    """
    _kill_group(pid)
    for _ in range(3):
        table = process_table()
        if table is None:
            return
        victims = [p for p in box_members(table, pid) if p != pid]
        victims += [p for p, group in seen.items() if p in table and table[p].pgid == group and p not in victims]
        for victim in victims:
            try:
                os.kill(victim, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        if not victims:
            return
        time.sleep(0.05)


# ---------------------------------------------------------------- the worker's side
def worker_main() -> None:
    """Entry point of a portable worker: ``python -I -c '...worker_main()' RPC_FD SPEC_JSON``.

    Its stdout and stderr are already the output pipe; it sets its limits before importing torch,
    then serves the worker protocol in its private folder until the grader says goodbye.
    """
    rpc_fd, spec = int(sys.argv[1]), json.loads(sys.argv[2])
    folder = Path(spec["folder"])
    try:
        set_limits(int(spec["disk_limit"]), spec.get("address_space"))
        from grader import linux, worker

        linux.die_with_parent()  # Linux only; elsewhere the closed socket ends an idle worker
        try:
            linux.harden_process()
        except OSError:  # not Linux: no no_new_privs, no non-dumpable flag
            pass
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it: past the file size limit, stop
        zygote.preload()  # torch, the fixtures: before the student's code could change sys.path
        worker.prepare_process(folder, [str(r) for r in spec["hidden_roots"]])
        worker.serve(socket.socket(fileno=rpc_fd), folder)
    except BaseException as error:  # noqa: BLE001 - whatever it was, the grader reads it as a crash
        print(f"the worker could not start: {type(error).__name__}: {error}", file=sys.stderr, flush=True)
        os._exit(box.SETUP_FAILED_EXIT)
    os._exit(0)


def set_limits(disk_limit: int, address_space: int | None) -> None:
    """The resource limits this OS offers: no core files, file size, open files, CPU time for the start,
    and (Linux without CUDA) a generous address-space backstop."""
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (disk_limit, disk_limit))
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    files = box.OPEN_FILES_LIMIT if hard == resource.RLIM_INFINITY else min(box.OPEN_FILES_LIMIT, hard)
    resource.setrlimit(resource.RLIMIT_NOFILE, (files, files))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    resource.setrlimit(resource.RLIMIT_CPU, (STARTUP_CPU_SECONDS if hard == resource.RLIM_INFINITY
                                             else min(STARTUP_CPU_SECONDS, hard), hard))
    if address_space:
        try:
            resource.setrlimit(resource.RLIMIT_AS, (int(address_space), int(address_space)))
        except (ValueError, OSError):  # refused here: memory is still policed with ps
            pass
