"""Values as plain data, so that what a worker sends back can never run code when read.

Everything that crosses between the grader and a worker is first *encoded* into nested
tuples whose first element is a tag (``("tensor", t, requires_grad, grad)``, ``("list", [...])``,
...), then serialised with ``torch.save``. The grader reads a worker's bytes with
``torch.load(weights_only=True)``, which only rebuilds tensors and Python literals, and then
*decodes* them with a strict validator: a malformed message is a protocol error, never an object.

Only exact types count as data: a tensor subclass, an ``int`` subclass or an object with a custom
``__eq__`` is sent as a *handle* (an opaque reference the grader can only pass back), so it can never
compare equal to an expected value.
"""

from __future__ import annotations

import io
import socket
import struct
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch

MAX_MESSAGE_BYTES = 256 * 2**20
MAX_ITEMS = 200_000
MAX_DEPTH = 32
_HEADER = struct.Struct("!Q")


class ProtocolError(Exception):
    """The other side sent something that is not a well-formed message."""


@dataclass(frozen=True)
class Opaque:
    """A value that is not data (a module, a function, a tensor subclass...), known by its type only."""

    type_name: str
    bases: tuple[str, ...]
    text: str

    def __repr__(self) -> str:
        return f"<{self.type_name} object>"


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
            return ("ndarray", torch.from_numpy(np.ascontiguousarray(value)).clone())
        if isinstance(value, np.generic) and kind.__module__ == "numpy" and value.dtype.kind in _NUMPY_KINDS:
            return ("npscalar", value.dtype.str, value.item())
        if kind is slice:
            return ("slice", self.encode(value.start), self.encode(value.stop), self.encode(value.step))
        return self._opaque(value)


def encode_tensor(t: torch.Tensor) -> tuple:
    """Encode an exact ``torch.Tensor`` with its gradient, as a compact copy (never a whole storage)."""
    plain = t.detach()
    grad = t.grad if t.is_leaf else None
    grad_enc = None
    if grad is not None and type(grad) is torch.Tensor:
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
            return decode_tensor(rest)
        if tag == "size" and len(rest) == 1:
            return torch.Size(_int_list(rest[0]))
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
        if tag == "ndarray" and len(rest) == 1 and type(rest[0]) is torch.Tensor:
            return rest[0].numpy()
        if tag == "npscalar" and len(rest) == 2 and type(rest[0]) is str:
            try:
                dtype = np.dtype(rest[0])
            except TypeError as error:
                raise ProtocolError("bad numpy scalar") from error
            if dtype.kind not in _NUMPY_KINDS or type(rest[1]) not in (bool, int, float, complex):
                raise ProtocolError("bad numpy scalar")
            return dtype.type(rest[1])
        if tag == "slice" and len(rest) == 3:
            return slice(*(self.decode(v, depth + 1) for v in rest))
        if tag == "opaque" and len(rest) == 3:
            type_name, mro, text = rest
            if type(type_name) is not str or type(mro) is not list or type(text) is not str:
                raise ProtocolError("bad opaque node")
            return Opaque(type_name, tuple(str(m) for m in mro), text[:200])
        if tag == "handle" and len(rest) == 4 and self._on_handle is not None:
            handle_id, type_name, mro, text = rest
            if type(handle_id) is not int or type(type_name) is not str or type(mro) is not list:
                raise ProtocolError("bad handle node")
            return self._on_handle(handle_id, type_name, tuple(str(m) for m in mro), str(text)[:200])
        if tag in ("argref", "argview") and self._on_argref is not None:
            return self._on_argref(node)
        if self._on_special is not None:
            return self._on_special(node)
        raise ProtocolError(f"unknown node tag {tag!r}")


def decode_tensor(rest: tuple) -> torch.Tensor:
    """Rebuild a tensor node ``(value, requires_grad, grad, is_parameter)``."""
    value, requires_grad, grad, is_parameter = rest
    if type(value) is not torch.Tensor or type(requires_grad) is not bool or type(is_parameter) is not bool:
        raise ProtocolError("bad tensor node")
    if grad is not None and type(grad) is not torch.Tensor:
        raise ProtocolError("bad tensor gradient")
    if requires_grad and (value.is_floating_point() or value.is_complex()):
        value.requires_grad_(True)
        if grad is not None and grad.shape == value.shape:
            value.grad = grad
    return value


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
        raise ProtocolError(f"unreadable message from the worker: {type(error).__name__}") from error


def send_bytes(sock: socket.socket, payload: bytes) -> None:
    """Write one length-prefixed frame."""
    sock.sendall(_HEADER.pack(len(payload)) + payload)


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
    """Read one length-prefixed frame, refusing frames over ``MAX_MESSAGE_BYTES``."""
    (size,) = _HEADER.unpack(recv_exact(sock, _HEADER.size))
    if size > MAX_MESSAGE_BYTES:
        raise ProtocolError(f"message of {size} bytes is over the {MAX_MESSAGE_BYTES}-byte limit")
    return recv_exact(sock, size)
