"""The grader's side of the kit's versions of items: run a reference item on a worker's arguments.

An item built from other items (``grad_fn`` calls ``dloss_fn``, ``dmodel_dw`` and ``dmodel_db``) is
graded on its own: while its checks run, the worker replaces those items by stand-ins
(:class:`grader.worker.KitVersions`) that send their arguments here. This module runs the reference
item on them in the grading process, so no answer code runs beside student code, and answers with
the result as data, what the call changed in its arguments (``sgd`` updates parameters in place)
and the new state of the random number generators. For a differentiable call it also answers the
vector-Jacobian product, so the student's ``loss.backward()`` flows through the kit's version.

Everything here comes from a worker and is untrusted: it is decoded within the wire's limits, only
the items named by the current check can be called, a check may make at most ``MAX_CALLS`` calls,
and any error becomes an answer (the worker raises it in the student's code), never a crash here.
"""

from __future__ import annotations

import inspect
import itertools
from types import ModuleType

import torch

from grader import wire
from grader.worker import (
    MODULE_STEP,
    float_outputs,
    locate_argument,
    raw_rng_state,
    same_raw_rng,
    set_raw_rng_state,
    set_rng_state,
    wire_rng_state,
)

MAX_CALLS = 200_000  # per check: 5000 epochs x a few helpers is 10-20 thousand
MAX_YIELDS = 100_000  # items a kit generator may yield in one call


class KitVersionServer:
    """Answers one check's requests for the kit's versions of ``names`` of ``reference``."""

    def __init__(self, reference: ModuleType, names: tuple[str, ...]) -> None:
        self.reference = reference
        self.names = frozenset(names)
        self.calls = 0
        self.worker_rng: list | None = None  # the worker's random state after the last call (it sends None if unchanged)
        # While a request's kit calls go on, this process's global generators hold the worker's state, so that
        # a call needs no setting and restoring: ``_own`` is this process's own state, to put back by
        # :meth:`finish` (None: it is in place); ``_current`` the worker's state as installed (None: not installed).
        self._own: tuple | None = None
        self._current: tuple | None = None

    def answer(self, request: tuple) -> tuple:
        """The reply to a ``("kit", ...)`` or ``("kit_vjp", ...)`` request; errors become ``kit_raised``."""
        try:
            return self._answer(request)
        except Exception as error:  # noqa: BLE001 - the student's arguments made the kit's version fail
            self._current = None  # the failed call may have drawn numbers: install the worker's state afresh
            return ("kit_raised", type(error).__name__, str(error)[:600])

    def finish(self) -> None:
        """Put this process's own random state back (the request that made the kit calls has its answer)."""
        if self._own is not None:
            own, self._own, self._current = self._own, None, None
            set_raw_rng_state(own)

    def _install(self, state: list) -> None:
        """Make the global generators hold ``state`` (a worker's, as :func:`grader.worker.rng_state` gives it)."""
        if type(state) is not list or len(state) != 3 or type(state[0]) is not torch.Tensor \
                or type(state[1]) is not torch.Tensor or state[1].dtype != torch.int64:
            raise wire.ProtocolError("malformed random state")
        if self._own is None:
            self._own = raw_rng_state()
        set_rng_state(state)

    def _answer(self, request: tuple) -> tuple:
        if type(request) is not tuple or len(request) not in (6, 7) or type(request[1]) is not str:
            raise wire.ProtocolError("malformed request for a kit function")
        tag, name = request[0], request[1]
        if name not in self.names:
            raise RuntimeError(f"the kit's {name} is only available during the checks of the items that use it")
        self.calls += 1
        if self.calls > MAX_CALLS:
            raise RuntimeError(f"more than {MAX_CALLS} calls to the kit's helper functions in one check")
        decoder = wire.Decoder(on_special=_decode_special)
        args, kwargs = decoder.decode(request[2]), decoder.decode(request[3])
        if type(args) is not list or type(kwargs) is not dict or not all(type(k) is str for k in kwargs):
            raise wire.ProtocolError("malformed arguments for a kit function")
        function = getattr(self.reference, name)
        if tag == "kit" and len(request) == 6:
            if request[4] is not None or self._current is None:  # the worker's generators moved, or are not here
                state = request[4] if request[4] is not None else self.worker_rng
                if state is None:
                    raise wire.ProtocolError("the first kit call of a check must send the random state")
                self._install(state)
                self._current = raw_rng_state()
            result, changes = _call(function, args, kwargs, bool(request[5]))
            now = raw_rng_state()
            changed = not same_raw_rng(now, self._current)
            if changed:
                self.worker_rng = wire_rng_state(now)
            elif request[4] is not None:
                self.worker_rng = request[4]
            self._current = now
            return ("kit_ok", _encode_result(result), changes, self.worker_rng if changed else None)
        if tag == "kit_vjp" and len(request) == 7:
            self._install(request[4])  # the state of the call being differentiated: not the worker's current one
            self._current = None
            grads = _vjp(function, args, kwargs, request[5], request[6])
            return ("kit_ok", _encode_result(grads), [], None)
        raise wire.ProtocolError("malformed request for a kit function")


class ParameterSnapshot(torch.nn.Module):
    """A student's module as the kit's version sees it: its parameters (values and gradients), in order."""

    def __init__(self, parameters: list[torch.Tensor]) -> None:
        super().__init__()
        for index, tensor in enumerate(parameters):
            if type(tensor) not in (torch.Tensor, torch.nn.Parameter) or not tensor.is_floating_point():
                raise TypeError("a module's parameters must be floating-point tensors")
            parameter = torch.nn.Parameter(tensor.detach().clone(), requires_grad=tensor.requires_grad)
            parameter.grad = tensor.grad
            self.register_parameter(f"p{index}", parameter)

    def forward(self, *args: object) -> object:
        raise TypeError("the kit's version received a module and can only read its parameters, not call it")


def _decode_special(node: tuple) -> object:
    tag = node[0]
    if tag == "modsnap" and len(node) == 2 and type(node[1]) is list:
        return ParameterSnapshot([wire.decode_tensor(tensor[1:]) if type(tensor) is tuple and tensor
                                  and tensor[0] == "tensor" else _bad() for tensor in node[1]])
    if tag == "gen" and len(node) == 3 and type(node[1]) is str and type(node[2]) is torch.Tensor:
        generator = torch.Generator(device=node[1])
        generator.set_state(node[2])
        return generator
    raise wire.ProtocolError(f"unknown node {tag!r} in a kit request")


def _bad() -> object:
    raise wire.ProtocolError("malformed module parameter")


def _leaves(args: list, kwargs: dict) -> list[tuple[list, object]]:
    """(path, object) of every tensor and generator in the arguments, module parameters included."""
    found: list[tuple[list, object]] = []

    def walk(path: list, value: object) -> None:
        if type(value) in (torch.Tensor, torch.nn.Parameter, torch.Generator):
            found.append((path, value))
        elif isinstance(value, ParameterSnapshot):
            for index, parameter in enumerate(value.parameters()):
                walk([*path, MODULE_STEP, index], parameter)
        elif type(value) in (list, tuple):
            for index, item in enumerate(value):
                walk([*path, index], item)
        elif type(value) is dict:
            for key, item in value.items():
                walk([*path, key], item)

    walk(["args"], args)
    walk(["kwargs"], kwargs)
    return found


def _state(value: object, copy: bool = True) -> object:
    """What a call could change in an argument: a generator's state; a tensor's values, ``requires_grad`` and
    gradient (copies before the call; after it, ``copy=False``: the tensors themselves, only compared)."""
    if type(value) is torch.Generator:
        return value.get_state()
    grad = value.grad if value.is_leaf else None  # type: ignore[union-attr]
    plain = value.detach()  # type: ignore[union-attr]
    if grad is not None:
        grad = grad.detach()
    if copy:
        plain, grad = plain.clone(), None if grad is None else grad.clone()
    return (plain, value.requires_grad, grad)  # type: ignore[union-attr]


def _same_state(before: object, after: object) -> bool:
    if isinstance(before, torch.Tensor):
        return torch.equal(before, after)  # type: ignore[arg-type]
    (value, requires_grad, grad), (value2, requires_grad2, grad2) = before, after  # type: ignore[misc]
    same_grad = (grad is None) == (grad2 is None) and (grad is None or _bitwise_equal(grad, grad2))
    return requires_grad == requires_grad2 and _bitwise_equal(value, value2) and same_grad


def _bitwise_equal(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Equal values, NaN equal to NaN (``torch.equal`` first: one operation where nothing changed)."""
    if a.shape != b.shape or a.dtype != b.dtype:
        return False
    return torch.equal(a, b) or bool(((a == b) | (a.isnan() & b.isnan())).all())


def _call(function: object, args: list, kwargs: dict, grad_enabled: bool) -> tuple[object, list]:
    """The kit's result and the changes it made to its arguments, as ``[path, node]`` pairs."""
    leaves = _leaves(args, kwargs)
    before = [_state(value) for _, value in leaves]
    with torch.set_grad_enabled(grad_enabled):
        result = function(*args, **kwargs)  # type: ignore[operator]
        if inspect.isgenerator(result):
            result = list(itertools.islice(result, MAX_YIELDS + 1))
            if len(result) > MAX_YIELDS:
                raise RuntimeError(f"the kit's generator was asked for more than {MAX_YIELDS} items")
    changes = []
    for (path, value), old in zip(leaves, before):
        new = _state(value, copy=False)
        if _same_state(old, new):
            continue
        node = ("genstate", new) if type(value) is torch.Generator else wire.encode_tensor(value)
        changes.append([path, node])
    return result, changes


def _vjp(function: object, args: list, kwargs: dict, paths: object, grads: object) -> list:
    """The gradients of ``sum(output * grad)`` with respect to the arguments at ``paths``."""
    if type(paths) is not list or type(grads) is not list:
        raise wire.ProtocolError("malformed gradient request")
    inputs = []
    for path in paths:
        target = _locate(path, args, kwargs)
        if not isinstance(target, torch.Tensor) or not target.is_floating_point():
            raise wire.ProtocolError("a gradient asked for a non-tensor argument")
        target.requires_grad_(True)
        inputs.append(target)
    with torch.enable_grad():
        result = function(*args, **kwargs)  # type: ignore[operator]
        outputs = float_outputs(result)
        if len(outputs) != len(grads):
            raise RuntimeError("the kit's version returned a different number of tensors the second time")
        pairs = [(out, grad) for out, grad in zip(outputs, grads)
                 if grad is not None and type(grad) is torch.Tensor and out.requires_grad]
        if not pairs:
            return [None] * len(inputs)
        found = torch.autograd.grad([out for out, _ in pairs], inputs,
                                    [grad.to(out.dtype).reshape(out.shape) for out, grad in pairs], allow_unused=True)
    return [None if grad is None else grad.detach() for grad in found]


def _locate(path: list, args: list, kwargs: dict) -> object:
    if type(path) is not list or not path or path[0] not in ("args", "kwargs"):
        raise wire.ProtocolError("bad argument path")
    return locate_argument(path, args, kwargs)


def _encode_result(result: object) -> tuple:
    def detached(candidate: object) -> tuple | None:
        if type(candidate) in (torch.Tensor, torch.nn.Parameter):
            return wire.encode_tensor(candidate.detach())
        return None

    return wire.Encoder(opaque=wire.opaque_marker, encode_special=detached).encode(result)
