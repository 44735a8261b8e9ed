"""Values as plain data, so that what a worker sends back can never run code when read.

Everything that crosses between the grader and a worker is first *encoded* into nested
tuples whose first element is a tag (``("tensor", t, requires_grad, grad)``, ``("list", [...])``,
...), then serialised with ``torch.save``. The grader reads a worker's bytes with
``torch.load(weights_only=True)``, which only rebuilds tensors and Python literals, and then
*decodes* them with a strict validator: a malformed message is a protocol error, never an object.

Only exact types count as data: a tensor subclass, an ``int`` subclass or an object with a custom
``__eq__`` is sent as a *handle* (an opaque reference the grader can only pass back), so it can never
compare equal to an expected value.

Everything is bounded before it is trusted: a frame's size (from its header) and its arrival time
(one deadline for the whole frame), the number and depth of nodes, and each tensor's logical size and
kind. A tensor the grader does not accept (sparse, quantized, nested, meta, too large...) is decoded
as a *refused* :class:`Opaque` that says what it was, so the student reads why instead of a crash.
"""

from __future__ import annotations

import io
import math
import pickle
import select
import socket
import struct
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

# The largest frame either side reads: it bounds every storage a worker can send.
MAX_MESSAGE_BYTES = 64 * 2**20
MAX_ITEMS = 200_000
MAX_DEPTH = 32
# A tensor from the other side is refused past these (a stride trick costs a few bytes on the wire
# but its logical size is what a copy or a comparison allocates).
MAX_TENSOR_ELEMENTS = 16 * 2**20
MAX_TENSOR_BYTES = 128 * 2**20
# All the tensors of one message together (views of one storage each count in full: a copy would).
MAX_DECODED_TENSOR_BYTES = 256 * 2**20
TENSOR_DEVICE_TYPES = ("cpu", "cuda", "mps")  # mps: Apple silicon, graded with --device mps on macOS
PLAIN_DTYPES = frozenset({
    torch.bool, torch.uint8, torch.int8, torch.int16, torch.int32, torch.int64,
    torch.uint16, torch.uint32, torch.uint64,
    torch.float16, torch.bfloat16, torch.float32, torch.float64, torch.complex64, torch.complex128,
})
# Marks an Opaque that stands for a value the grader refused: it never equals an expected value.
REFUSED = "grader.wire.refused"
_TEXT_LIMIT = 200
_HEADER = struct.Struct("!Q")
_RECV_CHUNK = 1 << 20
_DONTWAIT = getattr(socket, "MSG_DONTWAIT", 0)


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


class FrameTimeout(ProtocolError):
    """A frame did not arrive whole before its deadline."""


class FrameTooLarge(ProtocolError):
    """A frame announced more bytes than the reader accepts (nothing of its payload was read)."""


@dataclass(frozen=True)
class Opaque:
    """A value that is not data (a module, a function, a tensor subclass...), known by its type only."""

    type_name: str
    bases: tuple[str, ...]
    text: str

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"

    def __getattr__(self, name: str) -> object:
        """A check that uses the value like a tensor (``.shape``...) learns what the value really was."""
        if name.startswith("_") or name in ("type_name", "bases", "text"):  # not set yet: while copying...
            raise AttributeError(name)
        raise AttributeError(f"{self.described()} has no attribute {name!r} the grader can use")

    @property
    def refused(self) -> bool:
        """True for a value the grader would not accept (an odd tensor...): it never equals anything."""
        return REFUSED in self.bases

    def described(self) -> str:
        """Words for this value: 'a Linear object', or what a refused value was."""
        if self.refused:
            return self.text
        return f"a {self.type_name.rsplit('.', 1)[-1][:_TEXT_LIMIT]} object"


def refused(description: str) -> Opaque:
    """An :class:`Opaque` for a value the grader will not accept, described in words for the student."""
    text = description[:_TEXT_LIMIT]
    return Opaque(text, (REFUSED,), text)


def qualified_name(cls: type) -> str:
    """``torch.nn.modules.linear.Linear`` style name of a class."""
    return f"{cls.__module__}.{cls.__qualname__}"


def short_repr(value: object, limit: int = 120) -> str:
    """A bounded ``repr`` that never raises (student objects may have hostile ``__repr__``)."""
    try:
        text = object.__repr__(value) if not isinstance(value, torch.nn.Module) else type(value).__name__
    except Exception:  # pragma: no cover - object.__repr__ does not fail in practice
        text = "<unprintable>"
    return text[:limit]


_TENSOR_TYPES = (torch.Tensor, torch.nn.Parameter)
_NUMPY_KINDS = "biufc"


class Encoder:
    """Turns Python values into tagged tuples.

    Args:
        opaque: called for every value that is not data; returns its encoding
            (a worker returns a handle, the grader an ``("opaque", ...)`` marker).
        encode_callable: optional hook for functions (the grader sends them by name).
    """

    def __init__(
        self,
        opaque: Callable[[object], tuple],
        encode_special: Callable[[object], tuple | None] | None = None,
    ) -> None:
        self._opaque = opaque
        self._special = encode_special
        self._count = 0

    def encode(self, value: object, depth: int = 0) -> tuple:
        self._count += 1
        if self._count > MAX_ITEMS or depth > MAX_DEPTH:
            raise ProtocolError("value too large or too deeply nested to send")
        if self._special is not None:
            special = self._special(value)
            if special is not None:
                return special
        kind = type(value)
        if value is None:
            return ("none",)
        if kind is bool:
            return ("bool", value)
        if kind is int:
            return ("int", value)
        if kind is float:
            return ("float", value)
        if kind is str:
            return ("str", value)
        if kind in _TENSOR_TYPES:
            return encode_tensor(value)
        if kind is torch.Size:
            return ("size", [int(v) for v in value])
        if kind in (list, tuple):
            return ("list" if kind is list else "tuple", [self.encode(v, depth + 1) for v in value])
        if kind is dict or kind.__name__ == "OrderedDict" and kind.__module__ == "collections":
            return ("dict", [[self.encode(k, depth + 1), self.encode(v, depth + 1)] for k, v in value.items()])
        if kind is torch.dtype:
            return ("dtype", str(value).removeprefix("torch."))
        if kind is torch.device:
            return ("device", str(value))
        if kind is np.ndarray and value.dtype.kind in _NUMPY_KINDS and value.dtype.isnative:
            if value.size > MAX_TENSOR_ELEMENTS or value.size * value.itemsize > MAX_TENSOR_BYTES:
                return refused_marker(f"a NumPy array of {value.size} elements (over the grader's limit of "
                                      f"{MAX_TENSOR_ELEMENTS})")
            return ("ndarray", torch.from_numpy(np.ascontiguousarray(value)).clone())
        if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in _NUMPY_KINDS:
            return ("npscalar", value.dtype.str, value.item())
        if kind is slice:
            return ("slice", self.encode(value.start), self.encode(value.stop), self.encode(value.step))
        return self._opaque(value)


def refused_marker(problem: str) -> tuple:
    """The encoding of a value the grader would refuse anyway: what it is, in words (never copied)."""
    return ("opaque", problem, [REFUSED], problem)


def encode_tensor(t: torch.Tensor) -> tuple:
    """Encode an exact ``torch.Tensor`` with its gradient, as a compact copy (never a whole storage).

    A tensor the grader would refuse (see :func:`tensor_problem`) is described, not copied: a stride-0
    tensor of 805M elements would otherwise cost 3 GiB here before the grader could say no.
    """
    plain = t.detach()
    problem = tensor_problem(plain)
    if problem is not None:
        return refused_marker(problem)
    grad = t.grad if t.is_leaf else None
    grad_enc = None
    if grad is not None and type(grad) is torch.Tensor:
        if tensor_problem(grad) is not None:
            return refused_marker(f"a tensor whose .grad is {tensor_problem(grad)}")
        grad_enc = grad.detach().clone()
    return ("tensor", plain.clone(), bool(t.requires_grad), grad_enc, type(t) is torch.nn.Parameter)


def opaque_marker(value: object) -> tuple:
    """Encoding of a non-data value on the grader's side: its type, kept for messages."""
    cls = type(value)
    return ("opaque", qualified_name(cls), [qualified_name(c) for c in cls.__mro__], short_repr(value))


def encode_data(value: object) -> tuple:
    """Encode an already-normalised value (``Opaque`` markers kept as they are)."""
    def keep_opaque(candidate: object) -> tuple | None:
        if isinstance(candidate, Opaque):
            return ("opaque", candidate.type_name, list(candidate.bases), candidate.text)
        return None

    return Encoder(opaque=opaque_marker, encode_special=keep_opaque).encode(value)


class Decoder:
    """Validates and rebuilds tagged tuples.

    Args:
        on_handle: builds the local stand-in for a worker-side object handle.
        on_argref: resolves references to the call's own arguments (identity and views).
    """

    def __init__(
        self,
        on_handle: Callable[[int, str, tuple[str, ...], str], object] | None = None,
        on_argref: Callable[[tuple], object] | None = None,
        on_special: Callable[[tuple], object] | None = None,
    ) -> None:
        self._on_handle = on_handle
        self._on_argref = on_argref
        self._on_special = on_special
        self._count = 0
        self._tensor_bytes = 0

    def decode(self, node: object, depth: int = 0) -> Any:
        self._count += 1
        if self._count > MAX_ITEMS or depth > MAX_DEPTH:
            raise ProtocolError("message too large or too deeply nested")
        if type(node) is not tuple or not node or type(node[0]) is not str:
            raise ProtocolError(f"malformed value node: {type(node).__name__}")
        tag, rest = node[0], node[1:]
        if tag == "none" and not rest:
            return None
        if tag in ("bool", "int", "float", "str") and len(rest) == 1:
            expected = {"bool": bool, "int": int, "float": float, "str": str}[tag]
            if type(rest[0]) is not expected:
                raise ProtocolError(f"bad {tag} node")
            return rest[0]
        if tag == "tensor" and len(rest) == 4:
            return self._within_budget(decode_tensor_value(rest))
        if tag == "size" and len(rest) == 1:
            return _size(rest[0])
        if tag in ("list", "tuple") and len(rest) == 1 and type(rest[0]) is list:
            items = [self.decode(v, depth + 1) for v in rest[0]]
            return items if tag == "list" else tuple(items)
        if tag == "dict" and len(rest) == 1 and type(rest[0]) is list:
            out = {}
            for pair in rest[0]:
                if type(pair) is not list or len(pair) != 2:
                    raise ProtocolError("bad dict node")
                key = self.decode(pair[0], depth + 1)
                try:
                    hash(key)
                except TypeError as error:
                    raise ProtocolError("unhashable dict key") from error
                out[key] = self.decode(pair[1], depth + 1)
            return out
        if tag == "dtype" and len(rest) == 1 and type(rest[0]) is str:
            dtype = getattr(torch, rest[0], None)
            if type(dtype) is not torch.dtype:
                raise ProtocolError("bad dtype node")
            return dtype
        if tag == "device" and len(rest) == 1 and type(rest[0]) is str:
            try:
                return torch.device(rest[0])
            except (RuntimeError, ValueError) as error:
                raise ProtocolError("bad device node") from error
        if tag == "ndarray" and len(rest) == 1 and isinstance(rest[0], torch.Tensor):
            return self._within_budget(decode_ndarray(rest[0]))
        if tag == "npscalar" and len(rest) == 2 and type(rest[0]) is str:
            return _npscalar(rest[0], rest[1])
        if tag == "slice" and len(rest) == 3:
            return slice(*(self.decode(v, depth + 1) for v in rest))
        if tag == "opaque" and len(rest) == 3:
            type_name, mro, text = rest
            if type(type_name) is not str or type(mro) is not list or type(text) is not str:
                raise ProtocolError("bad opaque node")
            return Opaque(type_name[:_TEXT_LIMIT], _names(mro), text[:_TEXT_LIMIT])
        if tag == "handle" and len(rest) == 4 and self._on_handle is not None:
            handle_id, type_name, mro, text = rest
            if type(handle_id) is not int or type(type_name) is not str or type(mro) is not list:
                raise ProtocolError("bad handle node")
            return self._on_handle(handle_id, type_name[:_TEXT_LIMIT], _names(mro), _text(text))
        if tag in ("argref", "argview") and self._on_argref is not None:
            return self._on_argref(node)
        if self._on_special is not None:
            return self._on_special(node)
        raise ProtocolError(f"unknown node tag {tag!r}")

    def _within_budget(self, value: torch.Tensor | np.ndarray | Opaque) -> torch.Tensor | np.ndarray | Opaque:
        """``value``, or a refused Opaque once this message's tensors add up to ``MAX_DECODED_TENSOR_BYTES``."""
        if isinstance(value, torch.Tensor):
            size = value.numel() * value.element_size()
            if value.grad is not None:
                size *= 2
        elif isinstance(value, np.ndarray):
            size = value.size * value.itemsize
        else:
            return value
        self._tensor_bytes += size
        if self._tensor_bytes > MAX_DECODED_TENSOR_BYTES:
            return refused(f"one tensor too many: the answer's tensors add up to more than the grader's limit "
                           f"of {MAX_DECODED_TENSOR_BYTES} bytes")
        return value


def tensor_problem(value: torch.Tensor) -> str | None:
    """None for a tensor the grader accepts; otherwise what it is, in words, for the student.

    Accepted: an exact, dense (strided) ``torch.Tensor`` of a plain dtype on the CPU or a GPU, of at
    most ``MAX_TENSOR_ELEMENTS`` elements and ``MAX_TENSOR_BYTES`` logical bytes. The logical size
    counts, not the storage: a stride-0 tensor of 805M elements costs 4 bytes on the wire but 3 GiB
    once copied. Asking never allocates and never raises.
    """
    try:
        return _layout_problem(value) or _size_problem(value)
    except Exception:  # a tensor so odd that even asking about it fails
        return "a tensor the grader cannot read"


def _layout_problem(value: torch.Tensor) -> str | None:
    if value.is_nested:
        return "a nested tensor (the grader accepts only dense tensors)"
    if type(value) is not torch.Tensor:
        return f"a {qualified_name(type(value))} tensor (the grader accepts only plain tensors)"
    if value.layout != torch.strided:
        return (f"a {_torch_name(value.layout)} tensor of shape {tuple(value.shape)} "
                "(the grader accepts only dense tensors: call .to_dense())")
    if value.is_quantized:
        return (f"a quantized tensor ({_torch_name(value.dtype)}) of shape {tuple(value.shape)} "
                "(the grader accepts only dense tensors: call .dequantize())")
    if value.device.type not in TENSOR_DEVICE_TYPES:
        return f"a tensor on the {value.device.type} device (it holds no values the grader can read)"
    if value.dtype not in PLAIN_DTYPES:
        return f"a tensor of dtype {_torch_name(value.dtype)} (not a dtype the grader compares)"
    return None


def _size_problem(value: torch.Tensor) -> str | None:
    elements = value.numel()
    if elements > MAX_TENSOR_ELEMENTS:
        return f"a tensor of {elements} elements (over the grader's limit of {MAX_TENSOR_ELEMENTS})"
    size = elements * value.element_size()
    if size > MAX_TENSOR_BYTES:
        return f"a tensor of {size} bytes (over the grader's limit of {MAX_TENSOR_BYTES})"
    return None


def _torch_name(thing: object) -> str:
    return str(thing).removeprefix("torch.")


def decode_tensor_value(rest: tuple) -> torch.Tensor | Opaque:
    """Rebuild a tensor node ``(value, requires_grad, grad, is_parameter)``.

    A tensor the grader does not accept (sparse, quantized, nested, meta, a subclass, over the
    size limits; or with such a gradient) becomes a refused :class:`Opaque` that says what it was.
    """
    value, requires_grad, grad, is_parameter = rest
    if not isinstance(value, torch.Tensor) or type(requires_grad) is not bool or type(is_parameter) is not bool:
        raise ProtocolError("bad tensor node")
    if grad is not None and not isinstance(grad, torch.Tensor):
        raise ProtocolError("bad tensor gradient")
    problem = tensor_problem(value)
    if problem is None and grad is not None:
        grad_problem = tensor_problem(grad)
        problem = None if grad_problem is None else f"a tensor whose .grad is {grad_problem}"
    if problem is not None:
        return refused(problem)
    value = value.resolve_conj().resolve_neg()
    wants_grad = requires_grad and (value.is_floating_point() or value.is_complex())
    value.requires_grad_(wants_grad)
    if wants_grad and grad is not None and _same_kind(grad, value):
        value.grad = grad.resolve_conj().resolve_neg()
    return value


def _same_kind(grad: torch.Tensor, value: torch.Tensor) -> bool:
    return grad.shape == value.shape and grad.dtype == value.dtype and grad.device == value.device


def decode_tensor(rest: tuple) -> torch.Tensor:
    """Like :func:`decode_tensor_value`, for a tensor that must be one: a refused one is a ProtocolError."""
    value = decode_tensor_value(rest)
    if isinstance(value, Opaque):
        raise ProtocolError(f"the worker sent {value.text}")
    return value


def decode_ndarray(value: torch.Tensor) -> np.ndarray | Opaque:
    """The NumPy array sent as ``value``, or a refused :class:`Opaque` saying why it is not accepted."""
    problem = tensor_problem(value)
    if problem is None and value.device.type != "cpu":
        problem = f"a tensor on the {value.device.type} device"
    if problem is None:
        try:
            return value.detach().resolve_conj().resolve_neg().numpy()
        except (RuntimeError, TypeError):
            problem = f"a tensor of dtype {_torch_name(value.dtype)}"
    return refused(f"a NumPy array sent as {problem}")


def _npscalar(dtype_name: str, value: object) -> np.generic:
    try:
        dtype = np.dtype(dtype_name)
    except Exception as error:  # NumPy parses the name: TypeError, ValueError, SyntaxError...
        raise ProtocolError("bad numpy scalar") from error
    if dtype.kind not in _NUMPY_KINDS or type(value) not in (bool, int, float, complex):
        raise ProtocolError("bad numpy scalar")
    try:
        return dtype.type(value)
    except (OverflowError, TypeError, ValueError) as error:
        raise ProtocolError("bad numpy scalar") from error


def _size(values: object) -> torch.Size:
    """A ``torch.Size`` of int64 values (torch would keep a larger int, and fail later when printing it)."""
    sizes = _int_list(values)
    if any(not -(2**63) <= v < 2**63 for v in sizes):
        raise ProtocolError("bad size node")
    try:
        return torch.Size(sizes)
    except (OverflowError, ValueError, TypeError, RuntimeError) as error:
        raise ProtocolError("bad size node") from error


def _names(values: list) -> tuple[str, ...]:
    """Class names of an opaque value's MRO, bounded (anything that is not a string is dropped)."""
    return tuple(v[:_TEXT_LIMIT] for v in values[:64] if type(v) is str)


def _text(value: object) -> str:
    return value[:_TEXT_LIMIT] if type(value) is str else ""


def assign_tensor(target: torch.Tensor, new: torch.Tensor) -> None:
    """Give ``target`` the value, ``requires_grad`` and ``.grad`` of ``new``, keeping its identity.

    Used both ways: the grader writes a call's side effects back into its argument tensors, and
    the worker brings a tensor it already holds up to date when the grader sends it again.
    """
    with torch.no_grad():
        if new.shape == target.shape and new.dtype == target.dtype and new.device == target.device:
            if not torch.equal(new.detach(), target.detach()):
                target.copy_(new.detach())
        else:
            target.data = new.detach()
    if target.is_leaf:
        if new.requires_grad != target.requires_grad and (target.is_floating_point() or not new.requires_grad):
            target.requires_grad_(new.requires_grad)
        target.grad = new.grad


def _int_list(values: object) -> list[int]:
    if type(values) is not list or any(type(v) is not int for v in values):
        raise ProtocolError("bad size node")
    return values


# ---------------------------------------------------------------- a fast frame for small, frequent messages
FAST_MAGIC = b"KIT1"
_FAST_DTYPES = {str(d).removeprefix("torch."): d for d in PLAIN_DTYPES}
_FAST_NAMES = {d: name for name, d in _FAST_DTYPES.items()}
# how each dtype's bytes are read with NumPy (bfloat16, which NumPy lacks, as its 16-bit pattern)
_NUMPY_OF = {d: np.dtype(np.int16 if d == torch.bfloat16 else torch.empty((), dtype=d).numpy().dtype)
             for d in PLAIN_DTYPES}
_DEVICES: dict[str, torch.device] = {}  # device names already checked (a few at most)


class _NoGlobals(pickle.Unpickler):
    """Unpickles only builtin data (tuples, lists, dicts, str, bytes, numbers, None): no class, no callable."""

    def find_class(self, module: str, name: str) -> object:
        raise ProtocolError(f"a fast frame may not name {module}.{name}")


def dumps_fast(message: object) -> bytes:
    """Serialise a message of builtin data and dense CPU or CUDA tensors, in a fraction of :func:`dumps`' time.

    Tensors travel as ``("__raw__", dtype, shape, bytes, device, strides)`` (strides None when contiguous)
    and are rebuilt on the same device (a GPU tensor is copied through host memory); everything else must
    be None, a bool, int, float, str or bytes, or a tuple or list of these.

    Raises:
        ProtocolError: the message holds something else (a dict, a function, an odd tensor); send it
            with :func:`dumps` instead, as :func:`dumps_message` does.
    """
    return FAST_MAGIC + pickle.dumps(_to_raw(message, 0), protocol=5)


def dumps_message(message: object) -> bytes:
    """A fast frame (:func:`dumps_fast`) where the message allows it, otherwise ``torch.save``'s."""
    try:
        return dumps_fast(message)
    except Exception:  # noqa: BLE001 - anything the fast frame cannot carry goes the general way
        return dumps(message)


def loads_message(data: bytes, trusted: bool) -> Any:
    """Read a frame of :func:`dumps_message`: fast frames are always read safely; ``torch.save`` frames
    with :func:`loads_trusted` (from the grader) or :func:`loads_untrusted` (from a worker)."""
    if data.startswith(FAST_MAGIC):
        return loads_fast(data)
    return loads_trusted(data) if trusted else loads_untrusted(data)


def loads_fast(data: bytes) -> Any:
    """Read a :func:`dumps_fast` frame, safe on untrusted bytes: no global can be named (so nothing runs),
    and every tensor's dtype, shape, strides and size are checked before it is rebuilt."""
    if not data.startswith(FAST_MAGIC):
        raise ProtocolError("not a fast frame")
    try:
        tree = _NoGlobals(io.BytesIO(data[len(FAST_MAGIC):])).load()
        return _from_raw(tree, 0, [0])
    except ProtocolError:
        raise
    except Exception as error:  # whatever the bytes make fail is a malformed frame, never the grader's error
        raise ProtocolError(f"unreadable fast frame ({type(error).__name__})") from error


_PLAIN_LEAVES = (type(None), bool, int, float, str, bytes)


def _to_raw(value: object, depth: int) -> object:
    kind = type(value)
    if kind in _PLAIN_LEAVES:
        return value
    if depth > MAX_DEPTH * 2:
        raise ProtocolError("too deeply nested for a fast frame")
    if kind is tuple:
        return tuple([_to_raw(v, depth + 1) for v in value])  # type: ignore[union-attr]
    if kind is list:
        return [_to_raw(v, depth + 1) for v in value]  # type: ignore[union-attr]
    if kind in (torch.Tensor, torch.nn.Parameter):
        plain = value.detach()  # type: ignore[union-attr]
        if (plain.device.type not in TENSOR_DEVICE_TYPES or plain.layout != torch.strided
                or plain.dtype not in PLAIN_DTYPES or plain.is_conj() or plain.is_neg()):
            raise ProtocolError("only dense CPU or CUDA tensors travel in a fast frame")
        bits = plain.view(torch.int16) if plain.dtype == torch.bfloat16 else plain
        strides = None if plain.is_contiguous() or not _dense(plain) else list(plain.stride())
        return ("__raw__", _FAST_NAMES[plain.dtype], list(plain.shape), bits.cpu().numpy().tobytes(),
                str(plain.device), strides)
    raise ProtocolError(f"a {kind.__name__} cannot travel in a fast frame")


def _dense(tensor: torch.Tensor) -> bool:
    """Whether a tensor's elements fill its memory span exactly (a permuted clone, not a slice): its strides
    then travel with it, as a clone keeps them; other layouts travel as contiguous values."""
    if tensor.numel() == 0:
        return False
    return _extent(tensor.shape, tensor.stride()) == tensor.numel() and min(tensor.stride(), default=0) >= 0


def _extent(shape: Sequence[int], strides: Sequence[int]) -> int:
    """How many elements of storage a non-empty tensor of ``shape`` and ``strides`` spans."""
    return 1 + sum((n - 1) * s for n, s in zip(shape, strides))


def _from_raw(value: object, depth: int, visited: list[int]) -> object:
    visited[0] += 1  # shared references in a pickle could otherwise make a small frame expand without end
    if depth > MAX_DEPTH * 2 or visited[0] > MAX_ITEMS:
        raise ProtocolError("fast frame too large or nested too deeply")
    kind = type(value)
    if kind is tuple:
        if value and value[0] == "__raw__":  # type: ignore[index]
            if len(value) != 6:  # type: ignore[arg-type]
                raise ProtocolError("bad tensor in a fast frame")
            return _raw_tensor(value)  # type: ignore[arg-type]
        return tuple([_from_raw(v, depth + 1, visited) for v in value])  # type: ignore[union-attr]
    if kind is list:
        return [_from_raw(v, depth + 1, visited) for v in value]  # type: ignore[union-attr]
    if kind in _PLAIN_LEAVES:
        return value
    raise ProtocolError(f"a fast frame holds a {kind.__name__}")


def _raw_tensor(node: tuple) -> torch.Tensor:
    """A tensor rebuilt from a fast frame's raw node, its dtype, shape, strides and byte count checked first."""
    _, dtype_name, shape, payload, device_name, strides = node
    dtype = _FAST_DTYPES.get(dtype_name) if type(dtype_name) is str else None
    if dtype is None or type(payload) is not bytes:
        raise ProtocolError("bad tensor in a fast frame")
    device = _DEVICES.get(device_name) if type(device_name) is str else None
    if device is None:
        device = _fast_device(device_name)
        _DEVICES[device_name] = device  # type: ignore[index]
    if type(shape) is not list or len(shape) > MAX_DEPTH or any(type(n) is not int or n < 0 for n in shape):
        raise ProtocolError("bad tensor shape in a fast frame")
    count = math.prod(shape)
    numpy_dtype = _NUMPY_OF[dtype]
    if count > MAX_TENSOR_ELEMENTS or len(payload) != count * numpy_dtype.itemsize:
        raise ProtocolError("bad tensor size in a fast frame")
    array = np.frombuffer(payload, dtype=numpy_dtype).reshape(shape).copy()
    tensor = torch.from_numpy(array)
    tensor = tensor.view(torch.bfloat16) if dtype == torch.bfloat16 else tensor
    if strides is not None:
        tensor = _with_strides(tensor, _int_list(strides))
    return tensor if device.type == "cpu" else tensor.to(device)


def _with_strides(tensor: torch.Tensor, strides: list[int]) -> torch.Tensor:
    """``tensor``'s values laid out with ``strides``: a permutation of a dense layout (a transposed clone),
    whose storage is never larger than the tensor itself."""
    extent = _extent(tensor.shape, strides) if tensor.numel() else 0
    if len(strides) != tensor.dim() or any(s < 0 for s in strides) or extent != tensor.numel():
        raise ProtocolError("bad tensor strides in a fast frame")
    laid_out = torch.empty_strided(tensor.shape, strides, dtype=tensor.dtype)
    try:
        laid_out.copy_(tensor)
    except RuntimeError as error:  # overlapping strides: two elements in one place
        raise ProtocolError("bad tensor strides in a fast frame") from error
    return laid_out


def _fast_device(name: object) -> torch.device:
    """The device a fast frame's tensor lives on: the CPU, or a CUDA or Apple (MPS) GPU this process can use."""
    try:
        device = torch.device(name) if type(name) is str and len(name) <= 16 else None
    except (RuntimeError, ValueError):
        device = None
    if device is None or device.type not in TENSOR_DEVICE_TYPES:
        raise ProtocolError("bad tensor device in a fast frame")
    if device.type == "cuda" and not (torch.cuda.is_available() and (device.index or 0) < torch.cuda.device_count()):
        raise ProtocolError(f"a fast frame's tensor is on device {device}, which this process cannot use")
    if device.type == "mps" and not (getattr(torch.backends, "mps", None) is not None
                                     and torch.backends.mps.is_available() and (device.index or 0) == 0):
        raise ProtocolError(f"a fast frame's tensor is on device {device}, which this process cannot use")
    return device


def dumps(message: object) -> bytes:
    """Serialise an encoded message with ``torch.save``."""
    buffer = io.BytesIO()
    torch.save(message, buffer)
    return buffer.getvalue()


def loads_trusted(data: bytes) -> Any:
    """Read a message from the grader (used by the worker: the grader is trusted)."""
    return torch.load(io.BytesIO(data), weights_only=False, map_location=None)


def loads_untrusted(data: bytes) -> Any:
    """Read a message from a worker: only tensors and literals can come back, never code."""
    try:
        return torch.load(io.BytesIO(data), weights_only=True)
    except Exception as error:
        raise ProtocolError(
            f"unreadable message from the worker ({type(error).__name__}: {str(error)[:_TEXT_LIMIT]}); "
            "a result that holds a nested or other unusual tensor cannot be read: return plain dense tensors"
        ) from error


def send_bytes(sock: socket.socket, payload: bytes) -> None:
    """Write one length-prefixed frame."""
    sock.sendall(_HEADER.pack(len(payload)) + payload)


def send_frame_until(sock: socket.socket, payload: bytes, deadline: float) -> None:
    """Write one length-prefixed frame on a blocking socket, all of it before ``deadline`` (``time.monotonic()``).

    A frame the socket's buffer takes at once (the usual small answer) costs one ``send``; the rest is
    written with the socket's timeout set to what is left, so a peer that stops reading cannot hold the
    grader past the deadline.

    Raises:
        TimeoutError: the deadline passed with the frame not yet written.
    """
    data = _HEADER.pack(len(payload)) + payload
    try:
        sent = sock.send(data, _DONTWAIT) if _DONTWAIT else 0
    except (BlockingIOError, InterruptedError):
        sent = 0
    if sent == len(data):
        return
    sock.settimeout(max(deadline - time.monotonic(), 0.001))
    try:
        sock.sendall(memoryview(data)[sent:])
    finally:
        sock.settimeout(None)


def recv_exact(sock: socket.socket, size: int) -> bytes:
    """Read exactly ``size`` bytes or raise ``EOFError`` when the peer is gone."""
    chunks = []
    remaining = size
    while remaining:
        chunk = sock.recv(min(remaining, 1 << 20))
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)


def recv_frame(sock: socket.socket) -> bytes:
    """Read one length-prefixed frame, refusing frames over ``MAX_MESSAGE_BYTES`` (no deadline)."""
    (size,) = _HEADER.unpack(recv_exact(sock, _HEADER.size))
    _check_frame_size(size, MAX_MESSAGE_BYTES)
    return recv_exact(sock, size)


def recv_frame_until(sock: socket.socket, deadline: float, max_bytes: int = MAX_MESSAGE_BYTES) -> bytes:
    """Read one length-prefixed frame that must arrive whole before ``deadline`` (``time.monotonic()``).

    One deadline bounds the whole frame, header and payload, however slowly the peer trickles it.

    Raises:
        FrameTimeout: the deadline passed with the frame incomplete.
        FrameTooLarge: the header announced more than ``max_bytes``; none of the payload was read.
        EOFError: the peer closed the connection.
    """
    (size,) = _HEADER.unpack(_recv_exact_until(sock, _HEADER.size, deadline))
    _check_frame_size(size, max_bytes)
    return _recv_exact_until(sock, size, deadline)


def _check_frame_size(size: int, max_bytes: int) -> None:
    if size > max_bytes:
        raise FrameTooLarge(f"a message of {size} bytes, over the limit of {max_bytes} bytes")


def _recv_exact_until(sock: socket.socket, size: int, deadline: float) -> bytes:
    chunks = []
    remaining = size
    while remaining:
        if not _wait_readable(sock, deadline - time.monotonic()):
            raise FrameTimeout(f"the message was incomplete at the deadline ({size - remaining} of {size} bytes)")
        try:
            chunk = sock.recv(min(remaining, _RECV_CHUNK), _DONTWAIT)
        except (BlockingIOError, InterruptedError):
            continue
        if not chunk:
            raise EOFError("connection closed")
        chunks.append(chunk)
        remaining -= len(chunk)
    return b"".join(chunks)



def _wait_readable(sock: socket.socket, timeout: float) -> bool:
    """Whether ``sock`` has data (or EOF) within ``timeout`` seconds; data already there always counts."""
    timeout = max(0.0, timeout)
    if hasattr(select, "poll"):
        poller = select.poll()
        poller.register(sock, select.POLLIN)
        return bool(poller.poll(timeout * 1000))
    readable, _, _ = select.select([sock], [], [], timeout)
    return bool(readable)
