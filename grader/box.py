"""A box: the private, unprivileged place where one submission's code runs, and its keeper.

The zygote forks a *keeper* per box; the keeper builds the box for the isolation tier in force,
forks the worker into it, watches what the worker writes, and tears everything down when the
worker ends or the zygote asks (SIGTERM). The worker never shares anything with another box:

- ``namespaces``: the keeper enters new user, mount, PID, IPC and UTS namespaces; the submission's
  files are copied into a size-limited tmpfs at ``/submission``, ``/tmp`` and ``/dev/shm`` are
  fresh size-limited tmpfs, the staging folder is hidden, and the worker is PID 1 of the new PID
  namespace (when it ends the kernel kills every process it started). It runs as uid 1000 of its
  own user namespace with no capabilities, no new privileges and not dumpable.
- ``uid``: the grader is root but namespaces are refused (Docker's default seccomp profile). The
  worker runs as the job slot's own unprivileged uid with no capabilities, in a fresh private
  folder; everything that uid left running is killed (``kill(-1)`` as that uid) and every file it
  left in the shared temporary folders is removed before the box is gone.
- ``reduced``: a student grading their own code: a private folder and resource limits only.

In every tier: a per-file size limit, a total disk limit the keeper enforces, a process-count
limit, no core dumps, and only the protocol's file descriptors.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import stat
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from grader import linux
from grader.files import remove_tree

SUBMISSION_INSIDE = "/submission"
STAGING_INSIDE = "/staging"
BOX_UID = 1000
DISK_LIMIT_EXIT = 97
SETUP_FAILED_EXIT = 98
POLL_SECONDS = 0.05
DISK_POLL_SECONDS = 0.2
MAX_FILES_COUNTED = 20_000
PROCESS_LIMIT = 256
OPEN_FILES_LIMIT = 1024
SHARED_TMP_PLACES = ("/tmp", "/var/tmp", "/dev/shm")
WAKE_SIGNALS = {signal.SIGCHLD, signal.SIGTERM}
TMPFS_SIZE_FACTOR = 2
NAMESPACE_DISK_POLL_SECONDS = 0.02


@dataclass
class BoxSpec:
    """What a keeper needs to build a box (sent by the grader when the zygote starts)."""

    tier: str
    staging: str  # the folder holding staged submissions, as the zygote sees it
    work_root: str  # where private folders are made (tiers uid and reduced)
    disk_limit: int
    uid: int | None = None  # tier uid: the job slot's uid
    hidden_roots: list[str] = field(default_factory=list)

    @classmethod
    def from_dict(cls, data: dict) -> BoxSpec:
        return cls(str(data["tier"]), str(data["staging"]), str(data["work_root"]), int(data["disk_limit"]),
                   None if data.get("uid") is None else int(data["uid"]), [str(r) for r in data["hidden_roots"]])


def run_keeper(spec: BoxSpec, stage_name: str | None, rpc_fd: int, output_fd: int) -> None:
    """Body of the keeper process (never returns). ``stage_name`` None builds an empty box and a
    worker that exits at once: the zygote's self-test that this tier works here."""
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    try:
        linux.die_with_parent()
        if spec.tier == "namespaces":
            folder = _enter_namespaces(spec, stage_name)
        else:
            folder = _private_folder(spec, stage_name)
        linux.become_subreaper()
        signal.pthread_sigmask(signal.SIG_BLOCK, WAKE_SIGNALS)  # delivered to _supervise's sigtimedwait
        if spec.tier == "namespaces":
            _start_namespace_init(rpc_fd, output_fd)
        worker_pid = os.fork()
        if worker_pid == 0:
            signal.pthread_sigmask(signal.SIG_UNBLOCK, WAKE_SIGNALS)
            _run_worker(spec, folder, rpc_fd, output_fd, probe=stage_name is None)
    except BaseException as error:  # the box could not be built: the zygote reports it
        _say(f"the sandbox ({spec.tier}) could not be set up: {type(error).__name__}: {error}")
        os._exit(SETUP_FAILED_EXIT)
    os.close(rpc_fd)
    os.close(output_fd)
    status = _supervise(spec, folder, worker_pid)
    _tear_down(spec, folder)
    _exit_like(status)


_namespace_init: int | None = None


def _start_namespace_init(*protocol_fds: int) -> None:
    """Start PID 1 of the box's PID namespace: a tiny process that only waits (``sleep``).

    The worker must not be PID 1 itself: the kernel drops signals that a namespace's init has no
    handler for, SIGXCPU and SIGXFSZ included, so its CPU time and file size limits would not stop
    it. Spawned without copying the keeper's memory, and without the protocol's descriptors (the
    grader must see the worker's socket close when the worker ends). When the keeper kills it, the
    kernel kills every process left in the namespace.
    """
    global _namespace_init
    sleep = shutil.which("sleep") or "/bin/sleep"
    closing = [(os.POSIX_SPAWN_CLOSE, fd) for fd in sorted({*protocol_fds, *_open_descriptors()}) if fd > 2]
    _namespace_init = os.posix_spawn(sleep, [sleep, "infinity"], {}, file_actions=closing,
                                     setsigmask=set())


# ---------------------------------------------------------------- building the box
def _enter_namespaces(spec: BoxSpec, stage_name: str | None) -> str:
    uid, gid = os.geteuid(), os.getegid()
    # The zygote is not dumpable; a keeper must be, to write its own uid map (it is out of the worker's reach).
    linux.prctl(linux.PR_SET_DUMPABLE, 1, "prctl(PR_SET_DUMPABLE)")
    linux.unshare(linux.CLONE_NEWUSER | linux.CLONE_NEWNS | linux.CLONE_NEWPID | linux.CLONE_NEWIPC
                  | linux.CLONE_NEWUTS)
    Path("/proc/self/setgroups").write_text("deny")
    Path("/proc/self/uid_map").write_text(f"{BOX_UID} {uid} 1")
    Path("/proc/self/gid_map").write_text(f"{BOX_UID} {gid} 1")
    linux.mount(None, "/", None, linux.MS_REC | linux.MS_PRIVATE)
    # Twice the limit: the keeper stops the worker at the limit, before a write can fail for want of space.
    size = f"size={TMPFS_SIZE_FACTOR * spec.disk_limit},nr_inodes={MAX_FILES_COUNTED}"
    for place in (SUBMISSION_INSIDE, "/tmp", "/dev/shm"):
        if os.path.isdir(place):
            linux.mount("tmpfs", place, "tmpfs", linux.MS_NOSUID | linux.MS_NODEV, f"{size},mode=0755")
    if stage_name is not None:
        _copy_stage(os.path.join(spec.staging, stage_name), SUBMISSION_INSIDE)
    if os.path.isdir(STAGING_INSIDE):  # no other staged submission is visible from the box
        linux.mount("tmpfs", STAGING_INSIDE, "tmpfs", linux.MS_RDONLY | linux.MS_NOSUID | linux.MS_NODEV,
                    "size=4k,mode=0555")
    return SUBMISSION_INSIDE


def _private_folder(spec: BoxSpec, stage_name: str | None) -> str:
    folder = tempfile.mkdtemp(prefix="box-", dir=spec.work_root)
    if stage_name is not None:
        _copy_stage(os.path.join(spec.staging, stage_name), folder)
    if spec.tier == "uid":
        assert spec.uid is not None
        for path in [folder, *(os.path.join(folder, n) for n in os.listdir(folder))]:
            os.lchown(path, spec.uid, spec.uid)
    return folder


def _copy_stage(source: str, target: str) -> None:
    for entry in os.scandir(source):
        if entry.is_file(follow_symlinks=False) and entry.name.endswith(".py"):
            shutil.copyfile(entry.path, os.path.join(target, entry.name))


# ---------------------------------------------------------------- the worker inside
def _run_worker(spec: BoxSpec, folder: str, rpc_fd: int, output_fd: int, probe: bool) -> None:
    try:
        linux.die_with_parent()
        os.setsid()
        _set_limits(spec)
        if spec.tier == "uid":
            assert spec.uid is not None
            os.setgroups([])
            os.setresgid(spec.uid, spec.uid, spec.uid)
            os.setresuid(spec.uid, spec.uid, spec.uid)
        if spec.tier != "reduced":
            linux.drop_all_capabilities()
        linux.harden_process()
        if probe:
            _probe_inside(spec, folder)
        if spec.tier != "reduced" and linux.effective_capabilities():
            raise PermissionError("capabilities are still held after dropping them")
        _only_protocol_descriptors(rpc_fd, output_fd)
        private_tmp = "/tmp" if spec.tier == "namespaces" else folder
        os.environ.update(HOME=private_tmp, TMPDIR=private_tmp)
        if probe:
            os._exit(0)
        os.dup2(output_fd, 1)
        os.dup2(output_fd, 2)
        os.close(output_fd)
        signal.signal(signal.SIGINT, signal.SIG_DFL)
        signal.signal(signal.SIGXFSZ, signal.SIG_DFL)  # Python ignores it: past the file size limit, stop
        import socket

        from grader import worker

        worker.prepare_process(Path(folder), spec.hidden_roots)
        worker.serve(socket.socket(fileno=rpc_fd), Path(folder))
    except BaseException as error:
        _say(f"the worker could not start: {type(error).__name__}: {error}")
        os._exit(SETUP_FAILED_EXIT)
    os._exit(0)


def _set_limits(spec: BoxSpec) -> None:
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    resource.setrlimit(resource.RLIMIT_FSIZE, (spec.disk_limit, spec.disk_limit))
    resource.setrlimit(resource.RLIMIT_NOFILE, (OPEN_FILES_LIMIT, OPEN_FILES_LIMIT))
    if spec.tier != "reduced":  # a fresh uid (or user namespace): the count starts at this worker
        resource.setrlimit(resource.RLIMIT_NPROC, (PROCESS_LIMIT, PROCESS_LIMIT))


def _only_protocol_descriptors(*keep: int) -> None:
    for fd in _open_descriptors():
        if fd > 2 and fd not in keep:
            try:
                os.close(fd)
            except OSError:
                pass
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    os.close(null)


def _open_descriptors() -> list[int]:
    try:
        return [int(name) for name in os.listdir("/proc/self/fd")]
    except OSError:
        return list(range(3, 256))


def _probe_inside(spec: BoxSpec, folder: str) -> None:
    """Fail unless the worker can do its job here: read Python and the grader, write its folder."""
    import grader

    for needed in (sys.prefix, os.path.dirname(os.__file__), os.path.dirname(grader.__file__)):
        if not os.access(needed, os.R_OK | os.X_OK):
            raise PermissionError(f"{needed} is not readable by the sandboxed worker (uid {os.getuid()})")
    probe = os.path.join(folder, ".probe")
    with open(probe, "w") as file:
        file.write("ok")
    os.unlink(probe)


# ---------------------------------------------------------------- watching and tearing down
def _supervise(spec: BoxSpec, folder: str, worker_pid: int) -> int | str:
    """Wait for the worker; its wait status, "disk" when it wrote past the limit, "stopped" when the
    zygote asked (SIGTERM) to stop it. Wakes at once on SIGCHLD and SIGTERM (blocked, then waited for)."""
    interval = NAMESPACE_DISK_POLL_SECONDS if spec.tier == "namespaces" else DISK_POLL_SECONDS
    while True:
        finished = _reap(worker_pid)
        if finished is not None:
            return finished
        if _disk_used(spec, folder) >= spec.disk_limit:
            _kill_worker(spec, worker_pid)
            return "disk"
        woken = signal.sigtimedwait(WAKE_SIGNALS, interval)
        if woken is not None and woken.si_signo == signal.SIGTERM:
            finished = _reap(worker_pid)  # it may have ended just before the request: say how
            if finished is not None:
                return finished
            _kill_worker(spec, worker_pid)
            return "stopped"


def _reap(worker_pid: int) -> int | None:
    """Reap finished children (the worker and adopted orphans); the worker's status once it ended."""
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return 0
        if pid == 0:
            return None
        if pid == worker_pid:
            return status


def _kill_worker(spec: BoxSpec, worker_pid: int) -> None:
    try:
        os.kill(worker_pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    _kill_everything_left(spec)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and _reap(worker_pid) is None:
        time.sleep(0.01)


def _kill_everything_left(spec: BoxSpec) -> None:
    """Kill what the worker started. In a PID namespace the kernel does it once its init is killed;
    as a dedicated uid, ``kill(-1)`` from that uid reaches every process it owns, in one pass the
    kernel does not let a fork race; otherwise, every descendant of the keeper."""
    if spec.tier == "namespaces" and _namespace_init is not None:
        try:
            os.kill(_namespace_init, signal.SIGKILL)
        except ProcessLookupError:
            pass
    elif spec.tier == "uid" and spec.uid is not None:
        _kill_as_uid(spec.uid)
    elif spec.tier == "reduced":
        for _ in range(3):
            victims = linux.process_tree(os.getpid())[1:]
            for victim in victims:
                try:
                    os.kill(victim, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            if not victims:
                break
    while True:  # reap what was killed
        try:
            if os.waitpid(-1, os.WNOHANG)[0] == 0:
                break
        except ChildProcessError:
            break


def _kill_as_uid(uid: int) -> None:
    killer = os.fork()
    if killer == 0:
        try:
            os.setresgid(uid, uid, uid)
            os.setresuid(uid, uid, uid)
            for _ in range(1000):
                os.kill(-1, signal.SIGKILL)  # raises ProcessLookupError once nothing is left
        except ProcessLookupError:
            os._exit(0)
        except BaseException:
            os._exit(1)
        os._exit(1)
    os.waitpid(killer, 0)


def _disk_used(spec: BoxSpec, folder: str) -> int:
    if spec.tier == "namespaces":
        total = 0
        for place in (SUBMISSION_INSIDE, "/tmp", "/dev/shm"):
            try:
                info = os.statvfs(place)
            except OSError:
                continue
            total += (info.f_blocks - info.f_bfree) * info.f_frsize
            if info.f_favail == 0:
                return spec.disk_limit  # out of inodes: as good as full
        return total
    places = [folder] + (list(SHARED_TMP_PLACES) if spec.tier == "uid" else [])
    return _bytes_owned(places, spec.uid if spec.tier == "uid" else None, spec.disk_limit)


def _bytes_owned(places: list[str], uid: int | None, limit: int) -> int:
    """Bytes of the files under ``places``; ``limit`` past too many files.

    With ``uid``, only entries that uid owns count, and only folders it owns are entered: a shared
    place such as ``/tmp`` is not walked whole every time.
    """
    total, counted = 0, 0
    stack = list(places)
    first_level = set(places)
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if uid is not None and folder in first_level and folder not in places[:1] and info.st_uid != uid:
                continue
            counted += 1
            if counted > MAX_FILES_COUNTED:
                return limit
            if stat.S_ISDIR(info.st_mode):
                stack.append(entry.path)
            else:
                total += info.st_blocks * 512
    return total


def _tear_down(spec: BoxSpec, folder: str) -> None:
    """Nothing of the box survives it: processes first, then files."""
    _kill_everything_left(spec)
    if spec.tier == "namespaces":
        return  # the tmpfs mounts die with the keeper's mount namespace
    remove_tree(folder)
    if spec.tier == "uid" and spec.uid is not None:
        for place in SHARED_TMP_PLACES:
            _remove_owned_by(place, spec.uid)


def _remove_owned_by(place: str, uid: int) -> None:
    try:
        entries = list(os.scandir(place))
    except OSError:
        return
    for entry in entries:
        try:
            if entry.stat(follow_symlinks=False).st_uid == uid:
                remove_tree(entry.path)
        except OSError:
            continue


def _exit_like(status: int | str) -> None:
    """End the keeper so that the zygote's ``waitpid`` tells what happened to the worker."""
    if status == "disk":
        os._exit(DISK_LIMIT_EXIT)
    if status == "stopped":
        os.kill(os.getpid(), signal.SIGKILL)
    assert isinstance(status, int)
    if os.WIFSIGNALED(status):
        number = os.WTERMSIG(status)
        try:
            signal.signal(number, signal.SIG_DFL)
        except (OSError, ValueError):  # SIGKILL, SIGSTOP: already the default
            pass
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.kill(os.getpid(), number)
        os._exit(128 + number)
    os._exit(os.WEXITSTATUS(status) if os.WIFEXITED(status) else 1)


def _say(message: str) -> None:
    try:
        os.write(2, (message + "\n").encode(errors="replace"))
    except OSError:
        pass
