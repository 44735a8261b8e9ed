"""The worker: the only process that imports and runs student code.

It serves requests from the grader over one socket: import a student module, call a function or
method, read an attribute, iterate. Every answer is encoded by :mod:`grader.wire`; objects that are
not data stay here and the grader gets a numbered *handle* to them. After a call the worker also
sends back the new state of the tensors the call received (values, gradients) and the state of
``torch.Generator`` arguments, so that a check sees a call's side effects exactly as if it had run
in-process. A result that *is* an argument, or a view of one, comes back as a reference to it.

Nothing here decides a score.
"""

from __future__ import annotations

import importlib.util
import math
import os
import random
import resource
import socket
import sys
import traceback
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from grader import wire
from grader.guards import forbidden_calls
from grader.suite import resolve_build_path

MAX_MESSAGE_CHARS = 600


class _Arguments:
    """Where each tensor, array and generator of a call's arguments sits, to track side effects."""

    def __init__(self, args: list, kwargs: dict) -> None:
        self.leaves: list[tuple[list, object, object]] = []  # (path, object, fingerprint)
        self._walk(["args"], args)
        self._walk(["kwargs"], kwargs)
        self.by_id = {id(obj): path for path, obj, _ in self.leaves}

    def _walk(self, path: list, value: object) -> None:
        if type(value) in (torch.Tensor, torch.nn.Parameter) or type(value) is np.ndarray or type(value) is torch.Generator:
            self.leaves.append((path, value, _fingerprint(value)))
        elif type(value) in (list, tuple):
            for index, item in enumerate(value):
                self._walk([*path, index], item)
        elif type(value) is dict:
            for key, item in value.items():
                if type(key) in (str, int):
                    self._walk([*path, key], item)

    def writeback(self) -> list:
        """Encoded new states of the arguments that the call changed."""
        changed = []
        for path, obj, before in self.leaves:
            after = _fingerprint(obj)
            if after == before:
                continue
            if type(obj) is torch.Generator:
                changed.append([path, ("genstate", obj.get_state())])
            elif type(obj) is np.ndarray:
                changed.append([path, ("ndarray", torch.from_numpy(np.ascontiguousarray(obj)).clone())])
            else:
                changed.append([path, wire.encode_tensor(obj)])
        return changed

    def view_of(self, t: torch.Tensor) -> tuple | None:
        """``("argview", ...)`` when ``t`` shares memory with an argument, else None."""
        if t.numel() == 0 or wire.tensor_problem(t) is not None:
            return None
        start = t.data_ptr()
        for path, obj, _ in self.leaves:
            if type(obj) is np.ndarray:
                if t.device.type != "cpu" or obj.dtype.kind not in "biufc":
                    continue
                first = low = obj.__array_interface__["data"][0]
                high = low + obj.nbytes
            elif type(obj) is torch.Generator:
                continue
            else:
                if obj.device != t.device:
                    continue
                storage = obj.untyped_storage()
                first, low, high = obj.data_ptr(), storage.data_ptr(), storage.data_ptr() + storage.nbytes()
            if low <= start < high:
                # offset from the argument's first element; the values let the grader verify the view
                return ("argview", path, start - first, str(t.dtype).removeprefix("torch."),
                        list(t.shape), list(t.stride()), bool(t.requires_grad), t.detach().clone())
        return None


def _fingerprint(obj: object) -> object:
    if type(obj) is torch.Generator:
        return bytes(obj.get_state().numpy()) if obj.device.type == "cpu" else obj.initial_seed()
    if type(obj) is np.ndarray:
        return obj.tobytes() if obj.nbytes <= 1 << 20 else (obj.nbytes, hash(obj.tobytes()))
    grad = obj.grad if obj.is_leaf else None
    return (obj._version, obj.requires_grad, obj.shape, obj.dtype, obj.device,
            None if grad is None else (id(grad), grad._version))


class Worker:
    """Request handlers and the table of handles."""

    def __init__(self, submission_dir: Path) -> None:
        self.submission_dir = submission_dir.resolve()
        self.handles: dict[int, object] = {}
        self._ids_by_object: dict[int, int] = {}
        self._next_id = 1

    # ---- handles -------------------------------------------------------------
    def handle_of(self, value: object) -> tuple:
        key = id(value)
        handle_id = self._ids_by_object.get(key)
        if handle_id is None or self.handles.get(handle_id) is not value:
            handle_id = self._next_id
            self._next_id += 1
            self.handles[handle_id] = value
            self._ids_by_object[key] = handle_id
        cls = type(value)
        mro = [wire.qualified_name(c) for c in getattr(cls, "__mro__", (cls,))]
        return ("handle", handle_id, wire.qualified_name(cls), mro, wire.short_repr(value))

    # ---- decoding the grader's arguments ----------------------------------------
    def _special_in(self, node: tuple) -> object:
        tag = node[0]
        if tag == "ref":
            return self.handles[node[1]]
        if tag == "fn":
            return resolve_build_path(node[1])
        if tag == "refsync":
            target = self.handles[node[1]]
            wire.assign_tensor(target, wire.decode_tensor(node[2][1:]))
            return target
        if tag == "gen":
            generator = torch.Generator(device=node[1])
            generator.set_state(node[2])
            return generator
        raise wire.ProtocolError(f"unknown tag {tag}")

    def decode(self, node: object) -> object:
        return wire.Decoder(on_special=self._special_in).decode(node)

    def encode(self, value: object, arguments: _Arguments | None = None) -> tuple:
        def special(candidate: object) -> tuple | None:
            if arguments is None or type(candidate) not in (torch.Tensor, torch.nn.Parameter):
                return None
            path = arguments.by_id.get(id(candidate))
            if path is not None:
                return ("argref", path)
            return arguments.view_of(candidate)

        return wire.Encoder(opaque=self.handle_of, encode_special=special).encode(value)

    # ---- operations ----------------------------------------------------------
    def op_import(self, name: str, cpu_seconds: float) -> tuple:
        limit_cpu_time(cpu_seconds)
        module = sys.modules.get(name)
        if module is None:
            path = self.submission_dir / f"{name}.py"
            if not path.is_file():
                raise FileNotFoundError(f"no file {name}.py in the submission")
            spec = importlib.util.spec_from_file_location(name, path)
            module = importlib.util.module_from_spec(spec)
            sys.modules[name] = module
            try:
                spec.loader.exec_module(module)
            except BaseException:
                sys.modules.pop(name, None)
                raise
        names = sorted(n for n in vars(module) if not n.startswith("_"))
        return ("list", [("str", n) for n in names])

    def _target(self, target: list) -> object:
        kind = target[0]
        if kind == "module":
            obj: object = sys.modules[target[1]]
            for attribute in target[2:]:
                obj = getattr(obj, attribute)
            return obj
        if kind == "handle":
            return self.handles[target[1]]
        if kind == "build":
            return resolve_build_path(target[1])
        raise wire.ProtocolError(f"unknown target {kind}")

    def op_call(self, target: list, args_node: tuple, kwargs_node: tuple, forbid: list, item: str) -> tuple:
        function = self._target(target)
        args = list(self.decode(args_node))
        kwargs = self.decode(kwargs_node)
        arguments = _Arguments(args, kwargs)
        registered = self.register_tensors(arguments)
        with forbidden_calls(tuple(forbid), item):
            result = function(*args, **kwargs)
        return ("called", self.encode(result, arguments), arguments.writeback(), registered)

    def register_tensors(self, arguments: _Arguments) -> list:
        """Give every tensor argument a handle, so the grader can send the same object again later."""
        registered = []
        for path, obj, _ in arguments.leaves:
            if type(obj) in (torch.Tensor, torch.nn.Parameter):
                registered.append([path, self.handle_of(obj)[1]])
        return registered

    def op_getattr(self, target: list, name: str) -> tuple:
        return self.encode(getattr(self._target(target), name))

    def op_len(self, target: list) -> tuple:
        return ("int", len(self._target(target)))

    def op_list(self, target: list, limit: int, forbid: list, item: str) -> tuple:
        items = []
        with forbidden_calls(tuple(forbid), item):
            for value in self._target(target):
                items.append(value)
                if len(items) > limit:
                    break
        return self.encode(items)

    def op_seed(self, seed: int, cpu_seconds: float) -> tuple:
        """Start a check from the same global state as the reference: seeds, grad mode, default dtype.

        It also forgets the previous check's handles (so a check needs no separate release request)
        and gives the check its CPU time: past it the kernel stops this process (SIGXCPU).
        """
        limit_cpu_time(cpu_seconds)
        self.op_release()
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        return ("none",)

    def op_release(self) -> tuple:
        self.handles.clear()
        self._ids_by_object.clear()
        return ("none",)

    def dispatch(self, request: tuple) -> tuple:
        handler: Callable[..., tuple] = getattr(self, f"op_{request[0]}")
        response = handler(*request[1:])
        return response if response[0] == "called" else ("ok", response)

    def describe(self, error: BaseException) -> tuple:
        """``("raised", type, message, frames)`` with the frames that are in the student's files."""
        try:
            message = str(error)
        except Exception:
            message = "<the exception's message could not be printed>"
        frames = []
        for frame in traceback.extract_tb(error.__traceback__):
            if _inside(frame.filename, self.submission_dir):
                frames.append([Path(frame.filename).name, int(frame.lineno or 0), frame.name, (frame.line or "")[:200]])
        if isinstance(error, SyntaxError) and error.filename and _inside(error.filename, self.submission_dir):
            frames.append([Path(error.filename).name, int(error.lineno or 0), "<module>", (error.text or "").strip()[:200]])
        kind = type(error)
        name = kind.__name__ if kind.__module__ in ("builtins", "grader.guards") else wire.qualified_name(kind)
        return ("raised", name, message[:MAX_MESSAGE_CHARS], frames[-5:])


def limit_cpu_time(seconds: float) -> None:
    """Let this process use ``seconds`` more CPU time (rounded up to whole seconds, as the kernel counts).

    Only the soft limit moves, so the next check can raise it again; code that raises it itself, or
    catches SIGXCPU, still meets the grader's wall-clock backstop.
    """
    usage = resource.getrusage(resource.RUSAGE_SELF)
    soft = math.ceil(usage.ru_utime + usage.ru_stime + max(0.0, float(seconds)))
    _, hard = resource.getrlimit(resource.RLIMIT_CPU)
    if hard != resource.RLIM_INFINITY:
        soft = min(soft, hard)
    resource.setrlimit(resource.RLIMIT_CPU, (soft, hard))


def _inside(filename: str, folder: Path) -> bool:
    try:
        return Path(filename).resolve().is_relative_to(folder)
    except (OSError, ValueError):
        return False


def serve(sock: socket.socket, submission_dir: Path) -> None:
    """Answer requests until the grader says goodbye or goes away."""
    worker = Worker(submission_dir)
    while True:
        try:
            request = wire.loads_trusted(wire.recv_frame(sock))
        except (EOFError, OSError):
            return
        if request[0] == "bye":
            return
        try:
            response = worker.dispatch(request)
        except BaseException as error:  # student code may raise anything, SystemExit included
            response = worker.describe(error)
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:
                    pass
        try:
            payload = wire.dumps(response)
        except BaseException as error:
            payload = wire.dumps(("raised", "ProtocolError", f"the result could not be sent: {error}"[:300], []))
        try:
            wire.send_bytes(sock, payload)
        except OSError:
            return


def prepare_process(submission_dir: Path, hidden_roots: list[str]) -> None:
    """Make this process a worker: its own folder, no kit internals on ``sys.path``."""
    os.chdir(submission_dir)
    sys.path[:] = [str(submission_dir)] + [p for p in sys.path if p and not _hides(p, hidden_roots)]
    sys.meta_path.insert(0, _RefuseKitInternals())
    sys.dont_write_bytecode = True
    torch.set_num_threads(1)  # one core per worker: parallel batch jobs, no thread thrashing
    sys.setrecursionlimit(5000)


def _hides(path: str, hidden_roots: list[str]) -> bool:
    resolved = os.path.realpath(path)
    return any(resolved == os.path.realpath(root) for root in hidden_roots)


class _RefuseKitInternals:
    """Refuses ``import solutions`` and ``import tests`` inside a worker (the obvious route)."""

    REFUSED = ("solutions", "tests")

    def find_spec(self, name: str, path: object = None, target: object = None) -> None:
        if name.split(".")[0] in self.REFUSED:
            raise ImportError(f"{name} is not available to submissions")
