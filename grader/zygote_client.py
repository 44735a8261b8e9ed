"""Start the sandboxed zygote and ask it for boxes; no torch here, so a command can start it first.

A grading command pays two torch imports: its own (to compare results) and the zygote's (so that a
box forks with torch loaded). They need not run one after the other. :func:`start_early` launches the
zygote before the command imports torch: the zygote tests its isolation tier (a moment), says so,
then imports torch while the grader imports its own; the first box asked for waits for the zygote's
"ready". :class:`grader.engine.GradingService` adopts that zygote when it was started for the same
memory limit and device, and starts its own otherwise.
"""

from __future__ import annotations

import atexit
import json
import os
import re
import select
import socket
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from grader import catalogue, sandbox
from grader.files import remove_tree

ZYGOTE_START_SECONDS = 120.0
DEFAULT_MEMORY_LIMIT = 4 * 2**30


class GraderUnavailable(RuntimeError):
    """The grading machinery itself could not start (not the submission's fault)."""


class ZygoteClient:
    """Starts a zygote in the strongest isolation tier this machine allows and asks it for boxes.

    The constructor returns once the zygote has tested its tier; the zygote then imports torch on its
    own, and the first :meth:`ask` waits for it to be ready.

    Args:
        make_places: called with the tier about to be tried, returns its staging and box folders.
        memory_limit: bytes of resident memory a worker's whole process tree may use.
        use_cuda: give the sandbox the GPU's device files.
        probe_only: only find the tier (the zygote tests it and exits without importing torch).
        light: the zygote imports torch only, not torchvision and the optimizers' ``torch._dynamo`` (0.8 s
            more): for modules that need neither (:func:`needs_heavy_imports`); a box that does import them
            still can, at its own cost.

    Where the ``portable`` tier is in force (not Linux, or ``GRADER_ISOLATION=portable``) there is no
    zygote: constructing this class gives a :class:`grader.portable.PortableZygote`, which has the same
    interface and answers the same requests by spawning each worker afresh.
    """

    def __new__(cls, make_places: Callable[[str], sandbox.Places], memory_limit: int,  # noqa: PYI034
                use_cuda: bool, probe_only: bool = False, light: bool = False) -> ZygoteClient:  # or a PortableZygote
        if cls is ZygoteClient and sandbox.portable_in_force():
            from grader.portable import PortableZygote

            return PortableZygote(make_places, memory_limit, use_cuda, probe_only)  # type: ignore[return-value]
        # (each portable worker imports everything itself, before the student's code runs: light is not used there)
        return super().__new__(cls)

    def __init__(self, make_places: Callable[[str], sandbox.Places], memory_limit: int, use_cuda: bool,
                 probe_only: bool = False, light: bool = False) -> None:
        self.spawned = 0  # boxes asked for so far
        self.light = light
        self.memory_limit, self.use_cuda = memory_limit, use_cuda
        failures = []
        for tier, why_not in sandbox.candidate_tiers():
            if why_not is not None:
                failures.append(f"{tier}: {why_not}")
                continue
            self.places = make_places(tier)
            self.slot = sandbox.SlotUid() if tier == "uid" else None
            try:
                self._start(tier, memory_limit, use_cuda, probe_only, light)
            except GraderUnavailable as error:
                failures.append(f"{tier}: {error}")
                self._release_slot()
                continue
            sandbox.remember_working_tier(tier, failures)
            self.tier = tier
            return
        raise GraderUnavailable("no isolation tier works on this machine:\n  " + "\n  ".join(failures))

    def _start(self, tier: str, memory_limit: int, use_cuda: bool, probe_only: bool, light: bool) -> None:
        parent_end, child_end = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        self.control = parent_end
        self.launch = sandbox.zygote_launch(tier, self.places, child_end.fileno(), memory_limit, use_cuda,
                                            self.slot.uid if self.slot else None, probe_only=probe_only,
                                            light=light)
        self.stderr = tempfile.TemporaryFile()  # noqa: SIM115 - closed in close()
        if tier == "uid":
            sandbox.protect_hidden_parts()
        self.process = subprocess.Popen(
            self.launch.argv,
            pass_fds=[child_end.fileno()],
            stdin=subprocess.DEVNULL,
            stdout=self.stderr,
            stderr=self.stderr,
            start_new_session=True,
            env=self.launch.environment,
        )
        child_end.close()
        self.lock = threading.Lock()
        self._started_at = time.monotonic()
        reply = self._receive(ZYGOTE_START_SECONDS, until_exit=self.process)
        if reply is None or reply.get("op") != "tested" or not reply.get("ok"):
            self._fail(reply, "the grading zygote did not start")
        self._ready = False

    def _fail(self, reply: dict | None, fallback: str) -> None:
        self.stderr.seek(0)
        detail = (reply or {}).get("detail") or self.stderr.read()[-1500:].decode(errors="replace").strip()
        self._close_process()
        raise GraderUnavailable(detail or fallback)

    def wait_ready(self) -> None:
        """Wait (within the start-up allowance) until the zygote has imported torch and can fork boxes."""
        if self._ready:
            return
        remaining = ZYGOTE_START_SECONDS - (time.monotonic() - self._started_at)
        reply = self._receive(max(remaining, 0.0), until_exit=self.process)
        if reply is None or reply.get("op") != "ready" or not reply.get("ok"):
            self._fail(reply, "the grading zygote stopped while importing torch")
        self._ready = True

    def _receive(self, timeout: float, until_exit: subprocess.Popen | None = None) -> dict | None:
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            readable, _, _ = select.select([self.control], [], [], min(remaining, 0.2))
            if readable:
                break
            if until_exit is not None and until_exit.poll() is not None:
                return None
        try:
            data = self.control.recv(65536)
            return json.loads(data) if data else None
        except (OSError, ValueError):
            return None

    def ask(self, message: dict, fds: tuple[int, ...] = (), timeout: float = 30.0) -> dict:
        with self.lock:
            self.wait_ready()
            try:
                socket.send_fds(self.control, [json.dumps(message).encode()], list(fds))
            except OSError as error:
                raise GraderUnavailable(f"the grading zygote is gone: {error}") from error
            reply = self._receive(timeout)
        if reply is None:
            raise GraderUnavailable("the grading zygote stopped answering")
        return reply

    def _close_process(self) -> None:
        try:
            self.control.close()
        finally:
            if self.process.poll() is None:
                try:
                    os.killpg(self.process.pid, 9)
                except (ProcessLookupError, PermissionError):
                    pass
            self.process.wait()
            self.stderr.close()

    def _release_slot(self) -> None:
        if self.slot is not None:
            self.slot.release()
            self.slot = None

    def close(self) -> None:
        try:
            self._close_process()
        finally:
            self._release_slot()


def service_places(temporary: Path, tier: str) -> sandbox.Places:
    """The staging and box folders of a grading service whose private folder is ``temporary``."""
    if tier == "uid":
        os.chmod(temporary, 0o711)
    folder = temporary / tier
    folder.mkdir()
    return sandbox.make_places(folder, tier)


@dataclass
class EarlyZygote:
    """A zygote started before torch was imported, with the private folder its places live in."""

    temporary: Path
    client: ZygoteClient

    def close(self) -> None:
        try:
            self.client.close()
        finally:
            remove_tree(str(self.temporary))


_early: EarlyZygote | None = None


def start_early(use_cuda: bool, memory_limit: int = DEFAULT_MEMORY_LIMIT, light: bool = False) -> None:
    """Start a zygote now, for the :class:`GradingService` this process makes next (see the module's text);
    ``light``: see :class:`ZygoteClient`.

    Never raises: should no tier work, the service tries again and reports why.
    """
    global _early
    if _early is not None:
        return
    temporary = Path(tempfile.mkdtemp(prefix="grade-"))
    try:
        client = ZygoteClient(lambda tier: service_places(temporary, tier), memory_limit, use_cuda, light=light)
    except Exception:  # noqa: BLE001 - the service's own start says what is wrong
        remove_tree(str(temporary))
        return
    _early = EarlyZygote(temporary, client)
    atexit.register(discard_early)


def take_early(use_cuda: bool, memory_limit: int) -> EarlyZygote | None:
    """The zygote :func:`start_early` started, if it suits a service of this device and memory limit;
    one that does not suit is closed."""
    global _early
    early, _early = _early, None
    if early is None:
        return None
    process = getattr(early.client, "process", None)  # the portable tier's client has no zygote process
    alive = (process is None or process.poll() is None) and early.temporary.is_dir()
    if not alive or early.client.use_cuda != use_cuda or early.client.memory_limit != memory_limit:
        early.close()
        return None
    return early


def discard_early() -> None:
    """Close the zygote :func:`start_early` started if no service took it (the command stopped first, on a
    usage error say), so that nothing later in this process adopts a stale one."""
    global _early
    early, _early = _early, None
    if early is not None:
        early.close()


_HEAVY_IMPORTS = re.compile(r"\b(optim|torchvision)\b")


def needs_heavy_imports(module_names: list[str]) -> bool:
    """Whether grading these exercise modules may build an optimizer (whose first construction imports
    ``torch._dynamo``, 0.8 s) or use torchvision: their stub, their suite or their fixtures name either.

    Read as text, without importing torch; an unreadable file counts as needing both.
    """
    for name in module_names:
        number = name.split("_")[0]
        paths = [catalogue.EXERCISES_DIR / f"{name}.py", catalogue.suite_path(name),
                 Path(__file__).with_name(f"fixtures_{number}.py")]
        for path in paths:
            try:
                if path.is_file() and _HEAVY_IMPORTS.search(path.read_text(errors="replace")):
                    return True
            except OSError:
                return True
    return False


def cuda_likely(device_option: str) -> bool:
    """Whether a ``--device`` choice will grade on a CUDA GPU, guessed without importing torch."""
    if device_option == "cuda":
        return True
    return device_option == "auto" and any(Path("/dev").glob("nvidia[0-9]*"))
