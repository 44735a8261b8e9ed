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
import inspect
import io
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
CHECK_OUTPUT_BYTES = 2048
"""What one check's printed output brings back (``grade check --show-output``); the rest is only counted."""
RECORD_BYTES = 16 * 2**20
"""The inputs of a check's calls, saved for ``grade repro``, bring back at most this much in all."""
RECORD_CALLS = 256


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


VALUE_DIGEST_BYTES = 64 * 2**20  # tensors up to this size are also compared by value (``.data`` writes)


def _fingerprint(obj: object) -> object:
    """What identifies the state of an argument, to tell whether a call changed it.

    The version counter misses writes through ``.data`` or ``.detach()`` (``param.data -= lr * grad``,
    the old tutorials' SGD), so the values of the tensor and of its gradient count too.
    """
    if type(obj) is torch.Generator:
        return bytes(obj.get_state().numpy()) if obj.device.type == "cpu" else obj.initial_seed()
    if type(obj) is np.ndarray:
        return obj.tobytes() if obj.nbytes <= 1 << 20 else (obj.nbytes, hash(obj.tobytes()))
    grad = obj.grad if obj.is_leaf else None
    return (obj._version, obj.requires_grad, obj.shape, obj.dtype, obj.device, _value_digest(obj),
            None if grad is None else (id(grad), grad._version, _value_digest(grad)))


def _value_digest(tensor: torch.Tensor) -> object:
    """A digest of a tensor's values (its bytes), or None for one too large or of an unusual kind."""
    try:
        if wire.tensor_problem(tensor) is not None or tensor.numel() * tensor.element_size() > VALUE_DIGEST_BYTES:
            return None
        plain = tensor.detach().resolve_conj().resolve_neg().cpu().contiguous().reshape(-1)
        return hash(plain.view(torch.uint8).numpy().tobytes()) if plain.numel() else 0
    except (RuntimeError, TypeError, ValueError):
        return None


class CheckOutput(io.TextIOBase):
    """``sys.stdout`` and ``sys.stderr`` during one check when the grader asks what the code printed.

    Both streams write here, in the order written, as a terminal shows them; the first
    ``CHECK_OUTPUT_BYTES`` (UTF-8) are kept and the rest only counted, so a submission that prints
    megabytes costs nothing but the count. ``.buffer`` takes bytes (decoded with replacement), and
    ``fileno()`` is the real stream's, for code that writes to the file descriptor itself.
    """

    def __init__(self, real: object) -> None:
        super().__init__()
        self.kept = bytearray()
        self.total = 0
        self.buffer = _BinaryOutput(self)
        self._real = real

    @property
    def encoding(self) -> str:  # type: ignore[override]
        return "utf-8"

    @property
    def errors(self) -> str:  # type: ignore[override]
        return "replace"

    def writable(self) -> bool:
        return True

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        return self._real.fileno()  # type: ignore[attr-defined]

    def write(self, text: str) -> int:
        if not isinstance(text, str):
            raise TypeError(f"write() argument must be str, not {type(text).__name__}")
        self.add(str(text).encode("utf-8", errors="replace"))
        return len(text)

    def add(self, data: bytes) -> None:
        self.total += len(data)
        room = CHECK_OUTPUT_BYTES - len(self.kept)
        if room > 0:
            self.kept += data[:room]

    def taken(self) -> tuple[str, int]:
        """What was kept, as text (a character cut in two is replaced), and how many bytes were written."""
        return bytes(self.kept).decode("utf-8", errors="replace"), self.total


class _BinaryOutput(io.RawIOBase):
    """``sys.stdout.buffer`` of a :class:`CheckOutput`."""

    def __init__(self, text: CheckOutput) -> None:
        super().__init__()
        self._text = text

    def writable(self) -> bool:
        return True

    def write(self, data: object) -> int:
        chunk = bytes(memoryview(data))  # type: ignore[arg-type]
        self._text.add(chunk)
        return len(chunk)


def snapshot_inputs(args: list, kwargs: dict, budget: int) -> tuple[torch.Tensor | None, str | None]:
    """The inputs of a call as ``torch.save`` writes them (as a uint8 tensor, which travels as data), or
    None and why they cannot be saved.

    Saved with them: the ``.grad`` of each tensor and parameter (``torch.save`` drops it), the global
    random states, the grad mode and the default dtype at the moment of the call, so that
    ``grade repro``'s script calls the function in the same state. The grader never loads these
    bytes: it writes them into the student's folder, for the student's own script to load.
    """
    estimate = _tensor_bytes([args, kwargs])
    if estimate > budget:  # said before a copy is made
        return None, f"their tensors take {estimate} bytes, more than the {RECORD_BYTES // 2**20} MiB a repro keeps"
    try:
        grads = [(tensor, tensor.grad) for tensor in _tensors_with_grads([args, kwargs])]
        state = {"args": args, "kwargs": kwargs, "grads": grads, "rng": full_rng_state(),
                 "grad_enabled": torch.is_grad_enabled(), "default_dtype": torch.get_default_dtype()}
        buffer = io.BytesIO()
        torch.save(state, buffer)
    except Exception as error:  # a generator object, a lambda, an open file...
        try:
            words = f"{type(error).__name__}: {error}"
        except Exception:
            words = type(error).__name__
        return None, words[:300]
    size = buffer.getbuffer().nbytes
    if size > budget:
        return None, f"they take {size} bytes, more than the {RECORD_BYTES // 2**20} MiB a repro keeps"
    return torch.frombuffer(bytearray(buffer.getbuffer()), dtype=torch.uint8), None


def _tensor_bytes(value: object, depth: int = 0) -> int:
    """The bytes of the tensors in ``value`` (in lists, tuples, dicts and modules), at least."""
    if depth > 20:
        return 0
    if isinstance(value, torch.Tensor):
        return value.numel() * value.element_size() if wire.tensor_problem(value) is None else 0
    if isinstance(value, torch.nn.Module):
        return sum(_tensor_bytes(t, depth + 1) for t in (*value.parameters(), *value.buffers()))
    if type(value) in (list, tuple):
        return sum(_tensor_bytes(element, depth + 1) for element in value)
    if type(value) is dict:
        return sum(_tensor_bytes(element, depth + 1) for element in value.values())
    return 0


def _tensors_with_grads(value: object, depth: int = 0) -> list[torch.Tensor]:
    """The tensors (and the parameters of modules) in ``value`` that hold a ``.grad``."""
    found: list[torch.Tensor] = []
    if depth > 20:
        return found
    if isinstance(value, torch.Tensor):
        if value.is_leaf and value.grad is not None:
            found.append(value)
    elif isinstance(value, torch.nn.Module):
        found.extend(p for p in value.parameters() if p.grad is not None)
    elif type(value) in (list, tuple):
        for element in value:
            found.extend(_tensors_with_grads(element, depth + 1))
    elif type(value) is dict:
        for element in value.values():
            found.extend(_tensors_with_grads(element, depth + 1))
    return found


def full_rng_state() -> dict:
    """Every global random state a student's function may draw from: torch (CPU and CUDA), NumPy, ``random``."""
    state = {"torch": torch.get_rng_state(), "numpy": np.random.get_state(), "random": random.getstate()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


class Worker:
    """Request handlers and the table of handles."""

    def __init__(self, submission_dir: Path, sock: socket.socket | None = None) -> None:
        self.submission_dir = submission_dir.resolve()
        self.sock = sock
        self.handles: dict[int, object] = {}
        self._ids_by_object: dict[int, int] = {}
        self._next_id = 1
        self.kit_versions = KitVersions(self)
        self.context: tuple[str, list] | None = None  # the student's object a failed call used: (words, frame)
        self.output: CheckOutput | None = None  # what the current check printed (when the grader asks)
        self.recording: list[dict] | None = None  # the current check's calls of module items (``grade repro``)
        self._recorded_bytes = 0
        self._streams = (sys.stdout, sys.stderr)

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
        if self.recording is not None and target[0] == "module" and len(target) == 3:
            self._record(str(target[2]), args, kwargs)
        arguments = _Arguments(args, kwargs)
        registered = self.register_tensors(arguments)
        try:
            with forbidden_calls(tuple(forbid), item):
                result = function(*args, **kwargs)
        except BaseException:
            self.context = _student_objects_involved(self.submission_dir, [function, *args, *kwargs.values()])
            raise
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

    def op_seed(self, seed: int, cpu_seconds: float, module: str | None = None, kit_items: list | None = None,
                options: dict | None = None) -> tuple:
        """Start a check from the same global state as the reference: seeds, grad mode, default dtype.

        It also forgets the previous check's handles (so a check needs no separate release request),
        gives the check its CPU time (past it the kernel stops this process: SIGXCPU), and puts back
        the student's own items that the previous check replaced by the kit's versions; ``kit_items``
        (``[name, is_generator]`` pairs) are this check's replacements in ``module``. ``options`` may ask
        for what the check prints (``{"output": True}``) and for the inputs of its calls of the module's
        items (``{"record": True}``); :meth:`op_collect` hands both over.
        """
        limit_cpu_time(cpu_seconds)
        self.op_release()
        options = options if type(options) is dict else {}
        self.output = None
        if options.get("output") is True:
            self.output = CheckOutput(self._streams[0])
            sys.stdout = sys.stderr = self.output
        elif isinstance(sys.stdout, CheckOutput) or isinstance(sys.stderr, CheckOutput):
            sys.stdout, sys.stderr = self._streams
        self.recording = [] if options.get("record") is True else None
        self._recorded_bytes = 0
        self.kit_versions.restore()
        if module is not None and kit_items:
            self.kit_versions.install(module, kit_items)
        torch.set_grad_enabled(True)
        torch.set_default_dtype(torch.float32)
        torch.manual_seed(seed)
        np.random.seed(seed % 2**32)
        random.seed(seed)
        return ("none",)

    def op_collect(self) -> tuple:
        """What the current check printed and the inputs of its calls, bounded (see :meth:`op_seed`)."""
        limit_cpu_time(2.0)
        text, total = self.output.taken() if self.output is not None else ("", 0)
        calls = self.recording or []
        self.recording = None
        return self.encode({"output": text, "output_bytes": total, "calls": calls})

    def _record(self, function: str, args: list, kwargs: dict) -> None:
        """Keep the inputs of a call of the module's ``function`` as they are before it runs (``grade repro``)."""
        assert self.recording is not None
        if len(self.recording) >= RECORD_CALLS:  # one entry per call all the same: the grader counts them
            self.recording.append({"function": function, "inputs": None,
                                   "problem": f"the check called your functions more than {RECORD_CALLS} times"})
            return
        inputs, problem = snapshot_inputs(args, kwargs, RECORD_BYTES - self._recorded_bytes)
        if inputs is not None:
            self._recorded_bytes += inputs.numel()
        self.recording.append({"function": function, "inputs": inputs, "problem": problem})

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
        context, self.context = self.context, None
        if not frames and context is not None:  # raised inside torch or a grader fixture: name the student's object
            words, frame = context
            message = f"{message} {words}"
            frames.append(frame)
        kind = type(error)
        name = kind.__name__ if kind.__module__ in ("builtins", "grader.guards") else wire.qualified_name(kind)
        return ("raised", name, message[:MAX_MESSAGE_CHARS], frames[-5:])


def _student_objects_involved(submission_dir: Path, values: list) -> tuple[str, list] | None:
    """For an error raised outside the student's files: words and a frame naming the student's object
    that the failed call used (its class's definition line), and a lazy module's unmaterialised
    parameters, which the grader cannot load weights into before the first forward call."""
    for value in values:
        cls = value if isinstance(value, type) else type(value)
        try:
            source = inspect.getsourcefile(cls)
            if source is None or not _inside(source, submission_dir):
                continue
            lines, first = inspect.getsourcelines(cls)
        except (TypeError, OSError):
            continue
        words = f"(while the grader used your {cls.__name__})"
        if isinstance(value, torch.nn.Module):
            lazy = [name for name, parameter in value.named_parameters()
                    if isinstance(parameter, torch.nn.parameter.UninitializedParameter)]
            if lazy:
                words = (f"(your {cls.__name__} has parameters that do not exist until its first forward call: "
                         f"{', '.join(lazy[:3])}, from a Lazy module; the checks load weights before calling the "
                         "model, so give the layer its input size, e.g. nn.Conv2d(in_channels, ...))")
        return words, [Path(source).name, int(first), cls.__name__, lines[0].strip()[:200] if lines else ""]
    return None


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


_MISSING = object()
MODULE_STEP = "#parameter"  # in a path: the next index counts a module's parameters()


class KitVersions:
    """Items of the module under test replaced, for one check, by the kit's own versions.

    An item built from other items (``grad_fn`` calls ``dloss_fn``) is graded on its own: while its
    checks run, the module's ``dloss_fn`` is a stand-in that sends its arguments to the grader, which
    runs the kit's reference there (no answer code ever runs in this process) and sends back the
    result, the new state of the arguments it changed (``sgd`` updates parameters in place) and of the
    random number generators it used. When a tensor argument needs a gradient, the stand-in is an
    autograd function: its backward asks the grader for the vector-Jacobian product.
    """

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.saved: dict[tuple[str, str], object] = {}
        # the random state after the last exchange, raw (to compare) and as sent (None: the grader knows none)
        self.last_raw: tuple | None = None
        self.last_rng: list | None = None

    def install(self, module_name: str, entries: list) -> None:
        module = sys.modules.get(module_name)
        if module is None:
            return
        for name, is_generator in entries:
            self.saved[(module_name, name)] = module.__dict__.get(name, _MISSING)
            setattr(module, name, self._stand_in(str(name), bool(is_generator)))

    def restore(self) -> None:
        self.last_raw = self.last_rng = None
        for (module_name, name), original in self.saved.items():
            module = sys.modules.get(module_name)
            if module is None:
                continue
            if original is _MISSING:
                module.__dict__.pop(name, None)
            else:
                setattr(module, name, original)
        self.saved.clear()

    def _stand_in(self, name: str, is_generator: bool) -> Callable:
        ask = self.ask

        if is_generator:
            def stand_in(*args, **kwargs):
                yield from ask(name, args, kwargs)
        else:
            def stand_in(*args, **kwargs):
                return ask(name, args, kwargs)
        stand_in.__name__ = stand_in.__qualname__ = name
        stand_in.__doc__ = f"The kit's own {name}, computed by the grader (this check grades another item)."
        return stand_in

    # ---- one call -------------------------------------------------------------
    def ask(self, name: str, args: tuple, kwargs: dict) -> object:
        args = list(args)
        leaves = _differentiable_leaves(args, kwargs) if torch.is_grad_enabled() else []
        encoded = (self._encode(args), self._encode(kwargs))
        raw = raw_rng_state()
        unchanged = self.last_raw is not None and same_raw_rng(raw, self.last_raw)
        rng = self.last_rng if unchanged and self.last_rng is not None else wire_rng_state(raw)
        request = ("kit", name, *encoded, None if unchanged else rng, torch.is_grad_enabled())
        result, changes = self._exchange(request, raw, rng)
        _apply_changes(changes, args, kwargs)
        if not leaves:
            return result
        outputs = float_outputs(result)
        if not outputs:
            return result
        pending = _Pending(self, name, encoded, rng, [path for path, _ in leaves], len(outputs))
        pending.outputs = tuple(outputs)
        attached = _KitFunction.apply(pending, *[tensor for _, tensor in leaves])
        attached = attached if isinstance(attached, tuple) else (attached,)
        return _replace_outputs(result, iter(attached))

    def vjp(self, pending: _Pending, grad_outputs: tuple) -> list:
        grads = [g.detach() if g is not None else None for g in grad_outputs]
        answer, _ = self._exchange(("kit_vjp", pending.name, *pending.encoded, pending.rng, pending.paths, grads))
        return answer

    def _encode(self, value: object) -> tuple:
        def special(candidate: object) -> tuple | None:
            if isinstance(candidate, torch.nn.Module):
                return ("modsnap", [wire.encode_tensor(p) for p in candidate.parameters()])
            if type(candidate) is torch.Generator:
                return ("gen", str(candidate.device), candidate.get_state())
            return None

        def refuse(candidate: object) -> tuple:
            raise TypeError(f"the kit's version of this function takes tensors, numbers, lists and modules, "
                            f"not {type(candidate).__name__}")

        return wire.Encoder(opaque=refuse, encode_special=special).encode(value)

    def _exchange(self, request: tuple, raw: tuple | None = None, rng: list | None = None) -> tuple[object, list]:
        """Send a request, read the answer; ``raw`` and ``rng``: this process's random state as the request
        left it (a ``kit`` request), kept as the last one the grader knows unless the answer changes it."""
        sock = self.worker.sock
        if sock is None:
            raise RuntimeError("the kit's helper functions are only available while the grader runs a check")
        wire.send_bytes(sock, wire.dumps_fast(request))
        answer = wire.loads_message(wire.recv_frame(sock), trusted=True)
        if answer[0] == "kit_raised":
            raise _rebuilt_exception(answer[1], answer[2])
        _, result_node, changes, new_rng = answer
        if new_rng is not None:  # the kit's version drew random numbers: the generators move on as here
            set_rng_state(new_rng)
            self.last_raw, self.last_rng = raw_rng_state(), new_rng
        elif request[0] == "kit":
            self.last_raw, self.last_rng = raw, rng
        return wire.Decoder(on_special=_decode_generator).decode(result_node), changes


class _Pending:
    """What a differentiable call to a kit item needs for its backward pass."""

    def __init__(self, versions: KitVersions, name: str, encoded: tuple, rng: list, paths: list, n_outputs: int) -> None:
        self.versions, self.name, self.encoded, self.rng, self.paths = versions, name, encoded, rng, paths
        self.n_outputs = n_outputs
        self.outputs: tuple = ()


class _KitFunction(torch.autograd.Function):
    """Attaches a kit item's float outputs to the autograd graph of its tensor inputs."""

    @staticmethod
    def forward(ctx, pending: _Pending, *inputs: torch.Tensor):
        ctx.pending = pending
        ctx.shapes = [(t.shape, t.dtype, t.device) for t in inputs]
        return tuple(t.clone() for t in pending.outputs) if len(pending.outputs) != 1 else pending.outputs[0].clone()

    @staticmethod
    def backward(ctx, *grad_outputs: torch.Tensor):
        grads = ctx.pending.versions.vjp(ctx.pending, grad_outputs)
        shaped = []
        for grad, (shape, dtype, device) in zip(grads, ctx.shapes):
            shaped.append(None if grad is None else grad.to(device=device, dtype=dtype).reshape(shape))
        return (None, *shaped)


def _differentiable_leaves(args: list, kwargs: dict) -> list[tuple[list, torch.Tensor]]:
    """(path, tensor) of every floating tensor argument that requires a gradient."""
    found: list[tuple[list, torch.Tensor]] = []

    def walk(path: list, value: object) -> None:
        if isinstance(value, torch.Tensor):
            if value.requires_grad and value.is_floating_point():
                found.append((path, value))
        elif isinstance(value, torch.nn.Module):
            for index, parameter in enumerate(value.parameters()):
                walk([*path, MODULE_STEP, index], parameter)
        elif type(value) in (list, tuple):
            for index, item in enumerate(value):
                walk([*path, index], item)
        elif type(value) is dict:
            for key, item in value.items():
                if type(key) in (str, int):
                    walk([*path, key], item)

    walk(["args"], args)
    walk(["kwargs"], kwargs)
    return found


def float_outputs(result: object) -> list[torch.Tensor]:
    outputs: list[torch.Tensor] = []

    def walk(value: object) -> None:
        if type(value) is torch.Tensor and value.is_floating_point():
            outputs.append(value)
        elif type(value) in (list, tuple):
            for item in value:
                walk(item)

    walk(result)
    return outputs


def _replace_outputs(result: object, attached: object) -> object:
    if type(result) is torch.Tensor and result.is_floating_point():
        return next(attached)
    if type(result) in (list, tuple):
        return type(result)(_replace_outputs(item, attached) for item in result)
    return result


def locate_argument(path: list, args: list, kwargs: dict) -> object:
    value: object = args if path[0] == "args" else kwargs
    steps = iter(path[1:])
    for step in steps:
        if step == MODULE_STEP:
            value = list(value.parameters())[next(steps)]  # type: ignore[union-attr]
        else:
            value = value[step]  # type: ignore[index]
    return value


def _apply_changes(changes: list, args: list, kwargs: dict) -> None:
    """Write what the kit's version changed in its arguments into the student's own objects."""
    for path, node in changes:
        target = locate_argument(path, args, kwargs)
        if node[0] == "genstate" and type(target) is torch.Generator:
            target.set_state(node[1])
        elif node[0] == "tensor" and isinstance(target, torch.Tensor):
            wire.assign_tensor(target, wire.decode_tensor(node[1:]))


def _decode_generator(node: tuple) -> object:
    raise wire.ProtocolError(f"unexpected node {node[0]!r} in a kit result")


def rng_state() -> list:
    """The global random state (torch's CPU generator and Python's ``random``, its 625 words as one
    tensor), as plain data."""
    return wire_rng_state(raw_rng_state())


def raw_rng_state() -> tuple:
    """The global random state as this process holds it (cheap to take and compare; not for the wire)."""
    return torch.get_rng_state(), random.getstate()


def set_raw_rng_state(raw: tuple) -> None:
    """Put back a state taken with :func:`raw_rng_state`."""
    torch.set_rng_state(raw[0])
    random.setstate(raw[1])


def same_raw_rng(a: tuple, b: tuple) -> bool:
    return a[1] == b[1] and torch.equal(a[0], b[0])


def wire_rng_state(raw: tuple) -> list:
    """A :func:`raw_rng_state` as :func:`rng_state` gives it."""
    torch_state, python_state = raw
    return [torch_state, torch.from_numpy(np.array(python_state[1], dtype=np.int64)), python_state[2]]


def same_rng(a: list, b: list) -> bool:
    return a[2] == b[2] and torch.equal(a[1], b[1]) and torch.equal(a[0], b[0])


def set_rng_state(state: list) -> None:
    torch.set_rng_state(state[0])
    random.setstate((3, tuple(state[1].numpy().tolist()), state[2]))


_REBUILT = {"TypeError": TypeError, "ValueError": ValueError, "IndexError": IndexError, "KeyError": KeyError,
            "ZeroDivisionError": ZeroDivisionError, "AttributeError": AttributeError}


def _rebuilt_exception(type_name: str, message: str) -> BaseException:
    """The exception the kit's version raised on the student's arguments, raised here in its place."""
    return _REBUILT.get(type_name, RuntimeError)(f"{message} (raised by the kit's version of a helper, called with "
                                                  "your arguments)")


def serve(sock: socket.socket, submission_dir: Path) -> None:
    """Answer requests until the grader says goodbye or goes away."""
    worker = Worker(submission_dir, sock)
    while True:
        try:
            request = wire.loads_message(wire.recv_frame(sock), trusted=True)
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
            payload = wire.dumps_message(response)
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
