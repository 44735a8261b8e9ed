"""The grader's side of a worker: start it, talk to it, kill it, and stand-ins for its objects.

``WorkerSession`` owns one zygote (a sandboxed process with torch preloaded) and the worker it
forked for the current submission. ``RemoteModule`` and ``RemoteObject`` make student code look
local to a check: calling ``module.grad_fn(t_u, ...)`` sends the arguments, waits for the answer
within the check's deadline and returns plain data, writing the call's side effects back into the
local argument tensors. A worker that overruns its deadline or dies is killed and replaced, and
the check sees :class:`WorkerTimeout` or :class:`WorkerCrashed`.
"""

from __future__ import annotations

import os
import select
import socket
import threading
import time
from dataclasses import dataclass, field

import numpy as np
import torch

from grader import wire
from grader.zygote_client import DEFAULT_MEMORY_LIMIT, GraderUnavailable, ZygoteClient  # noqa: F401 - re-exported

OUTPUT_KEEP_BYTES = 16 * 1024
STARVED_EXTENSION_CAP = 120.0  # seconds a starved but computing worker may run past its wall-clock backstop
STARVED_EXTENSION_STEP = 5.0
BUSY_SAMPLE_SECONDS = 0.5
BUSY_FRACTION = 0.1  # of a core: less than this while the backstop passes means sleeping or blocked
KIT_UNAVAILABLE = "the kit's helper functions are only available during the checks of the items that use them"
FRAME_GRACE_SECONDS = 1.0  # an answer that starts just before the deadline may take this long to arrive whole


class WorkerFailure(Exception):
    """The worker could not answer (base of timeout and crash)."""


class WorkerTimeout(WorkerFailure):
    """The worker used up its CPU time (``wall_clock`` False) or its wall-clock backstop, and was stopped."""

    def __init__(self, message: str, wall_clock: bool = False) -> None:
        super().__init__(message)
        self.wall_clock = wall_clock


class WorkerCrashed(WorkerFailure):
    """The worker process died or broke the protocol."""


@dataclass
class StudentError(Exception):
    """Student code raised an exception; what it raised, as data."""

    type_name: str
    message: str
    frames: list = field(default_factory=list)

    def __str__(self) -> str:
        where = ""
        if self.frames:
            file_name, line, function, text = self.frames[-1]
            where = f" (at {file_name}:{line} in {function}: {text})" if text else f" (at {file_name}:{line})"
        return f"{self.type_name}: {self.message}{where}"

    @property
    def not_implemented(self) -> bool:
        return self.type_name == "NotImplementedError"


class OutputCapture(threading.Thread):
    """Drains a worker's stdout/stderr so it can never block, keeping only the first bytes."""

    def __init__(self, fd: int) -> None:
        super().__init__(daemon=True)
        self.fd = fd
        self.kept = bytearray()
        self.total = 0

    def run(self) -> None:
        try:
            while True:
                chunk = os.read(self.fd, 65536)
                if not chunk:
                    break
                self.total += len(chunk)
                room = OUTPUT_KEEP_BYTES - len(self.kept)
                if room > 0:
                    self.kept += chunk[:room]
        except OSError:
            pass
        finally:
            os.close(self.fd)

    def text(self) -> str:
        shown = self.kept.decode("utf-8", errors="replace")
        if self.total > len(self.kept):
            shown += f"\n[... {self.total - len(self.kept)} more bytes not kept]"
        return shown


class WorkerSession:
    """One box at a time for one staged submission: start lazily, restart after a failure, talk with deadlines.

    Args:
        zygote: where boxes come from.
        stage: the name of the submission's staged copy in the service's staging folder.
    """

    def __init__(self, zygote: ZygoteClient, stage: str) -> None:
        self.zygote = zygote
        self.stage = stage
        self.sock: socket.socket | None = None
        self.pid: int | None = None
        self.capture: OutputCapture | None = None
        self.imported: dict[str, list[str]] = {}
        self.output_total = 0
        self.output_text = ""
        self.restarts = 0
        self.last_exit_kind = "crashed"
        self.kit_server: object | None = None
        """The current check's :class:`grader.kit_versions.KitVersionServer` (None: no kit versions)."""

    def _start(self) -> None:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        read_fd, write_fd = os.pipe()
        try:
            reply = self.zygote.ask({"op": "spawn", "stage": self.stage}, fds=(theirs.fileno(), write_fd))
        finally:
            theirs.close()
            os.close(write_fd)
        if reply.get("op") != "spawned":
            ours.close()
            os.close(read_fd)
            raise GraderUnavailable(f"the grading zygote refused a worker: {reply.get('detail')}")
        self.sock, self.pid = ours, int(reply["pid"])
        self.zygote.spawned += 1
        self.capture = OutputCapture(read_fd)
        self.capture.start()
        self.imported = {}

    def _stop(self, kill: bool) -> str:
        """End the box; what happened to its worker, as a sentence (its kind in ``last_exit_kind``)."""
        status = ""
        if self.pid is not None:
            if kill:
                reply = self.zygote.ask({"op": "kill", "pid": self.pid})
            else:
                reply = self.zygote.ask({"op": "wait", "pid": self.pid, "seconds": 2.0}, timeout=30)
            status = str(reply.get("status") or "")
            self.last_exit_kind = "timeout" if reply.get("kind") == "timeout" else "crashed"
        self._forget(output_wait=2.0)
        return status

    def _forget(self, output_wait: float) -> None:
        """Drop the connection to the current box, keeping what its worker printed (waiting at most
        ``output_wait`` seconds for the last of it)."""
        if self.sock is not None:
            self.sock.close()
        if self.capture is not None:
            self.capture.join(timeout=output_wait)
            self.output_total += self.capture.total
            self.output_text += self.capture.text()
        self.sock = self.pid = self.capture = None
        self.imported = {}

    def failure(self, default: str) -> WorkerFailure:
        """After the worker broke off, end its box and say why: a timeout (its CPU time ran out) or a crash.

        The worker's connection closes a moment before the process is gone, so its end is awaited
        briefly (then it is stopped) to tell how it ended.
        """
        detail = self._stop(kill=False) or default
        self.restarts += 1
        if self.last_exit_kind == "timeout":
            return WorkerTimeout(detail)
        return WorkerCrashed(detail)

    def prestart(self) -> None:
        """Have the box built now, while other work goes on (its first request then finds it ready)."""
        if self.sock is None:
            self._start()

    def close(self) -> None:
        """Say goodbye to the worker; the keeper tears its box down (and anything it left running).

        Nothing waits for that: the zygote reaps the keeper, and in the ``uid`` tier it does not
        build the slot's next box before the last one is gone.
        """
        if self.sock is None:
            return
        try:
            wire.send_bytes(self.sock, wire.dumps(("bye",)))
        except OSError:
            pass
        self.zygote.ask({"op": "release", "pid": self.pid})
        self._forget(output_wait=0.2)  # output after the last answer is rare; never wait long for it

    def request(self, message: tuple, deadline: float) -> tuple:
        """Send one request; the reply envelope, or WorkerTimeout/WorkerCrashed.

        ``deadline`` (``time.monotonic()``) bounds the whole exchange: sending, and the answer's frame
        arriving whole, however slowly the worker trickles it. An answer over ``wire.MAX_MESSAGE_BYTES``
        is refused from its header, before any of it is read.
        """
        if self.sock is None:
            self._start()
        assert self.sock is not None
        try:
            wire.send_frame_until(self.sock, wire.dumps_message(message), deadline)  # one limit for all of it
            while True:
                frame_deadline = self._await_answer(deadline)
                frame = wire.recv_frame_until(self.sock, frame_deadline, wire.MAX_MESSAGE_BYTES)
                reply = wire.loads_message(frame, trusted=False)
                if type(reply) is not tuple or not reply or reply[0] not in ("kit", "kit_vjp"):
                    break  # the answer (checked below)
                # the student's code called the kit's version of an item: run it here, answer, wait on
                if time.monotonic() > deadline:  # the grader's own time answering counts: calls cannot go on forever
                    raise wire.FrameTimeout("still calling the kit's functions at the wall-clock deadline")
                answer = self.kit_server.answer(reply) if self.kit_server is not None else (
                    "kit_raised", "RuntimeError", KIT_UNAVAILABLE)
                wire.send_frame_until(self.sock, wire.dumps_message(answer), deadline)
        except (TimeoutError, wire.FrameTimeout):
            self._stop(kill=True)
            self.restarts += 1
            raise WorkerTimeout("was still running at the wall-clock deadline", wall_clock=True) from None
        except (EOFError, OSError):
            raise self.failure("the worker process died") from None
        except wire.ProtocolError as error:
            detail = self._stop(kill=True)
            self.restarts += 1
            if isinstance(error, wire.FrameTooLarge):
                detail = f"the worker sent {error} (return smaller values)"
            else:
                detail = f"the worker sent a malformed answer ({error})"
            raise WorkerCrashed(detail) from None
        finally:
            if self.kit_server is not None:  # this process's random state, lent to the kit's calls, comes back
                self.kit_server.finish()
        if type(reply) is not tuple or not reply or reply[0] not in ("ok", "called", "raised"):
            self._stop(kill=True)
            self.restarts += 1
            raise WorkerCrashed("the worker sent a malformed answer")
        return reply

    def _await_answer(self, deadline: float) -> float:
        """Wait until the answer starts; the deadline by which its frame must be complete.

        CPU time is the real limit (the worker's kernel limit stops an endless loop); ``deadline`` is
        the wall-clock backstop against sleeping. On a machine so loaded that the worker is starved of
        CPU, a worker that is still computing when the backstop comes gets more time (up to
        ``STARVED_EXTENSION_CAP`` seconds); one that is sleeping or blocked does not.
        """
        assert self.sock is not None
        cap = deadline + STARVED_EXTENSION_CAP
        while True:
            readable, _, _ = select.select([self.sock], [], [], max(0.0, deadline - time.monotonic()))
            if readable:
                return max(deadline, time.monotonic() + FRAME_GRACE_SECONDS)
            if time.monotonic() >= cap or not self._still_computing():
                raise wire.FrameTimeout("no answer before the deadline")
            deadline = min(cap, time.monotonic() + STARVED_EXTENSION_STEP)

    def _still_computing(self) -> bool:
        """Whether the worker's processes used CPU time over the last moment (or answered meanwhile)."""
        before = self.zygote.ask({"op": "cpu", "pid": self.pid}).get("seconds")
        readable, _, _ = select.select([self.sock], [], [], BUSY_SAMPLE_SECONDS)
        if readable:
            return True
        after = self.zygote.ask({"op": "cpu", "pid": self.pid}).get("seconds")
        if type(before) is not float or type(after) is not float:
            return False
        return after - before >= BUSY_FRACTION * BUSY_SAMPLE_SECONDS

    def import_module(self, name: str, cpu_seconds: float) -> list[str]:
        """Import a student module in the worker (within ``cpu_seconds`` of CPU time); its public names,
        or StudentError."""
        if name not in self.imported:
            from grader.engine import wall_clock_deadline

            reply = self.request(("import", name, cpu_seconds), wall_clock_deadline(cpu_seconds))
            self.imported[name] = [str(n) for n in _unwrap(reply, wire.Decoder())]
        return self.imported[name]


def _unwrap(reply: tuple, decoder: wire.Decoder) -> object:
    if reply[0] == "raised":
        if len(reply) != 4:
            raise WorkerCrashed("the worker sent a malformed error")
        _, type_name, message, frames = reply
        if type(type_name) is not str or type(message) is not str:
            raise WorkerCrashed("the worker sent a malformed error")
        return_frames = []
        if type(frames) is list:
            for frame in frames[:5]:
                if type(frame) is list and len(frame) == 4:
                    return_frames.append([str(frame[0]), int(frame[1]) if type(frame[1]) is int else 0,
                                          str(frame[2]), str(frame[3])])
        raise StudentError(type_name, message, return_frames)
    return decoder.decode(reply[1])


class Call:
    """What the current check allows and how long it may take (set by the engine)."""

    def __init__(self, deadline: float, forbid: tuple[str, ...], item: str) -> None:
        self.deadline = deadline
        self.forbid = list(forbid)
        self.item = item


class RemoteConnection:
    """Encodes arguments, decodes answers and applies side effects for one check."""

    def __init__(self, session: WorkerSession, rules: Call) -> None:
        self.session = session
        self.rules = rules
        self.sent: dict[int, tuple[int, torch.Tensor]] = {}  # id(local tensor) -> (worker handle, tensor)

    # -- encoding what we send --
    def _special_out(self, value: object) -> tuple | None:
        if isinstance(value, RemoteObject):
            if value._connection.session is not self.session:
                raise ValueError("a remote object from another worker")
            return ("ref", value._handle_id)
        if type(value) in (torch.Tensor, torch.nn.Parameter):
            known = self.sent.get(id(value))
            if known is not None and known[1] is value:
                return ("refsync", known[0], wire.encode_tensor(value))
            return None
        if type(value) is torch.Generator:
            return ("gen", str(value.device), value.get_state())
        if isinstance(value, RemoteCallable):
            return ("fn", value.qualname)
        if callable(value) and not isinstance(value, (type, torch.nn.Module)) and hasattr(value, "__qualname__"):
            module = getattr(value, "__module__", None) or ""
            if module.startswith(("torch", "grader.fixtures")) and "<" not in value.__qualname__:
                return ("fn", f"{module}:{value.__qualname__}")
        return None

    def encode(self, value: object) -> tuple:
        def refuse(obj: object) -> tuple:
            raise TypeError(f"cannot send a {type(obj).__name__} to the worker; build it there with side.build")

        return wire.Encoder(opaque=refuse, encode_special=self._special_out).encode(value)

    # -- decoding what comes back --
    def decoder(self, args: list | None = None, kwargs: dict | None = None) -> wire.Decoder:
        def on_handle(handle_id: int, type_name: str, mro: tuple[str, ...], text: str) -> object:
            return RemoteObject(self, handle_id, type_name, mro, text)

        def on_argref(node: tuple) -> object:
            return _resolve_argref(node, args or [], kwargs or {})

        return wire.Decoder(on_handle=on_handle, on_argref=on_argref)

    def call(self, target: list, args: tuple, kwargs: dict) -> object:
        args_list = list(args)
        message = ("call", target, self.encode(tuple(args_list)), self.encode(dict(kwargs)),
                   self.rules.forbid, self.rules.item)
        reply = self.session.request(message, self.rules.deadline)
        if reply[0] != "called":
            return _unwrap(reply, self.decoder())
        if len(reply) != 4 or type(reply[2]) is not list or type(reply[3]) is not list:
            raise WorkerCrashed("the worker sent a malformed answer")
        _apply_writeback(reply[2], args_list, kwargs)
        self._remember(reply[3], args_list, kwargs)
        return self.decoder(args_list, kwargs).decode(reply[1])

    def _remember(self, registered: list, args: list, kwargs: dict) -> None:
        """Note which worker object stands for each tensor we sent, so sending it again keeps identity."""
        for entry in registered:
            if type(entry) is not list or len(entry) != 2 or type(entry[1]) is not int:
                raise WorkerCrashed("the worker sent a malformed answer")
            try:
                local = _locate(entry[0], args, kwargs)
            except wire.ProtocolError:
                raise WorkerCrashed("the worker sent a malformed answer") from None
            if isinstance(local, torch.Tensor):
                self.sent[id(local)] = (entry[1], local)

    def simple(self, message: tuple) -> object:
        return _unwrap(self.session.request(message, self.rules.deadline), self.decoder())


def _locate(path: list, args: list, kwargs: dict) -> object:
    if type(path) is not list or not path or path[0] not in ("args", "kwargs"):
        raise wire.ProtocolError("bad argument path")
    value: object = args if path[0] == "args" else kwargs
    for key in path[1:]:
        try:
            value = value[key]  # type: ignore[index]
        except (KeyError, IndexError, TypeError) as error:
            raise wire.ProtocolError("bad argument path") from error
    return value


def _apply_writeback(changes: list, args: list, kwargs: dict) -> None:
    for change in changes:
        if type(change) is not list or len(change) != 2:
            raise WorkerCrashed("the worker sent a malformed answer")
        path, node = change
        try:
            target = _locate(path, args, kwargs)
        except wire.ProtocolError:
            raise WorkerCrashed("the worker sent a malformed answer") from None
        if type(node) is not tuple or not node:
            raise WorkerCrashed("the worker sent a malformed answer")
        if node[0] == "genstate" and type(target) is torch.Generator and type(node[1]) is torch.Tensor:
            target.set_state(node[1])
        elif node[0] == "ndarray" and type(target) is np.ndarray and type(node[1]) is torch.Tensor:
            new = node[1].numpy()
            if new.shape == target.shape and new.dtype == target.dtype and target.flags.writeable:
                target[...] = new
        elif node[0] == "tensor" and isinstance(target, torch.Tensor):
            wire.assign_tensor(target, wire.decode_tensor(node[1:]))
        else:
            raise WorkerCrashed("the worker sent a malformed answer")


def _resolve_argref(node: tuple, args: list, kwargs: dict) -> object:
    tag = node[0]
    target = _locate(node[1], args, kwargs)
    if tag == "argref":
        return target
    if len(node) != 8:
        raise wire.ProtocolError("bad view node")
    _, _, byte_offset, dtype_name, size, stride, _requires_grad, values = node
    dtype = getattr(torch, str(dtype_name), None)
    if type(dtype) is not torch.dtype or type(byte_offset) is not int or type(values) is not torch.Tensor:
        raise wire.ProtocolError("bad view node")
    base = torch.from_numpy(target) if type(target) is np.ndarray else target
    if not isinstance(base, torch.Tensor):
        raise wire.ProtocolError("view of a non-tensor argument")
    storage = base.untyped_storage()
    itemsize = torch.empty((), dtype=dtype).element_size()
    offset_bytes = base.data_ptr() - storage.data_ptr() + byte_offset
    view = torch.empty(0, dtype=dtype, device=base.device)
    try:
        if offset_bytes < 0 or offset_bytes % itemsize:
            raise RuntimeError("outside the argument")
        view.set_(storage, offset_bytes // itemsize, torch.Size(size), tuple(stride))
    except RuntimeError:
        return values  # the argument's layout differs here: a copy, which shares nothing
    same = view.shape == values.shape and bool(((view == values) | (view.isnan() & values.isnan())).all()) \
        if view.is_floating_point() else view.shape == values.shape and torch.equal(view, values)
    return view if same else values


class RemoteCallable:
    """A function known by name on both sides (used to pass ``grader.fixtures`` functions)."""

    def __init__(self, qualname: str) -> None:
        self.qualname = qualname


class RemoteObject:
    """Stand-in for an object that lives in the worker (a model, a dataset, a generator...)."""

    def __init__(self, connection: RemoteConnection, handle_id: int, type_name: str,
                 mro: tuple[str, ...], text: str) -> None:
        object.__setattr__(self, "_connection", connection)
        object.__setattr__(self, "_handle_id", handle_id)
        object.__setattr__(self, "_type_name", type_name)
        object.__setattr__(self, "_mro", mro)
        object.__setattr__(self, "_text", text)

    def __getattr__(self, name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        return self._connection.simple(("getattr", ["handle", self._handle_id], name))

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._connection.call(["handle", self._handle_id], args, kwargs)

    def __len__(self) -> int:
        try:
            value = self._connection.simple(("len", ["handle", self._handle_id]))
        except StudentError as error:
            if error.type_name == "TypeError":  # no len(): list(handle) then simply iterates
                raise TypeError(error.message) from None
            raise
        if type(value) is not int:
            raise WorkerCrashed("the worker sent a malformed answer")
        return value

    def __getitem__(self, key: object) -> object:
        return self._method("__getitem__", key)

    def _method(self, name: str, *args: object) -> object:
        bound = self._connection.simple(("getattr", ["handle", self._handle_id], name))
        if not isinstance(bound, RemoteObject):
            raise TypeError(f"{self._type_name}.{name} is not callable")
        return bound(*args)

    def __iter__(self):
        items = self._connection.simple(("list", ["handle", self._handle_id], 100_000,
                                         self._connection.rules.forbid, self._connection.rules.item))
        if type(items) is not list:
            raise WorkerCrashed("the worker sent a malformed answer")
        return iter(items)

    def __repr__(self) -> str:
        return f"<remote {self._type_name}>"


class RemoteModule:
    """A student exercise module living in the worker."""

    def __init__(self, connection: RemoteConnection, name: str) -> None:
        self._connection = connection
        self._name = name

    def __getattr__(self, attribute: str) -> object:
        if attribute.startswith("__"):
            raise AttributeError(attribute)
        return _BoundRemoteAttribute(self._connection, ["module", self._name, attribute])


class _BoundRemoteAttribute:
    """``module.name``: callable directly (one round trip), or fetched with ``.value()``."""

    def __init__(self, connection: RemoteConnection, target: list) -> None:
        self._connection = connection
        self._target = target

    def __call__(self, *args: object, **kwargs: object) -> object:
        return self._connection.call(self._target, args, kwargs)

    def value(self) -> object:
        return self._connection.simple(("getattr", self._target[:-1], self._target[-1]))
