"""Compare what the reference produced with what the submission produced, and say how they differ.

``torch.testing.assert_close`` decides whether two tensors agree; this module adds the words a
student needs: which part of the result, expected vs got shape / dtype / device, and the worst
element. Values are *normalised* first: tensors are copied, and anything that is not data (a
module, a handle to a worker object, a tensor subclass) becomes an :class:`~grader.wire.Opaque`
known only by its type, so it can never compare equal to a tensor.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from grader import wire

# Tolerances that accept a correct float computation done in another order.
DEFAULT_TOLERANCES: dict[torch.dtype, tuple[float, float]] = {
    torch.float16: (1e-3, 1e-3),
    torch.bfloat16: (1.6e-2, 1e-2),
    torch.float32: (1e-4, 1e-5),
    torch.float64: (1e-7, 1e-9),
    torch.complex64: (1e-4, 1e-5),
    torch.complex128: (1e-7, 1e-9),
}


@dataclass(frozen=True)
class Tolerance:
    """Optional overrides of the dtype-based tolerances for one check."""

    rtol: float | None = None
    atol: float | None = None

    def for_dtype(self, dtype: torch.dtype) -> tuple[float, float]:
        rtol, atol = DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
        return (rtol if self.rtol is None else self.rtol, atol if self.atol is None else self.atol)


def normalize(value: object) -> object:
    """A detached, comparable copy of ``value`` with non-data objects replaced by ``Opaque``."""
    from grader.remote import RemoteObject

    def special(candidate: object) -> tuple | None:
        if isinstance(candidate, RemoteObject):
            return ("opaque", candidate._type_name, list(candidate._mro), "")
        if isinstance(candidate, wire.Opaque):
            return wire.encode_data(candidate)
        return None

    encoded = wire.Encoder(opaque=wire.opaque_marker, encode_special=special).encode(value)
    return wire.Decoder().decode(encoded)


def describe_type(value: object) -> str:
    """Words for what a value is: 'a tensor of shape (2, 3)', 'the Python float 2.5', ..."""
    if isinstance(value, wire.Opaque):
        return f"a {value.type_name.rsplit('.', 1)[-1]} object"
    if type(value) is torch.Tensor:
        return f"a tensor of shape {tuple(value.shape)} ({_dtype(value.dtype)})"
    if type(value) is np.ndarray:
        return f"a NumPy array of shape {value.shape} ({value.dtype})"
    if type(value) in (list, tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    if type(value) is dict:
        return f"a dict with keys {sorted(map(str, value))}"
    if value is None:
        return "None"
    text = repr(value)
    return f"the {type(value).__name__} {text[:40]}"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype)


def _shape(t: torch.Tensor | np.ndarray) -> str:
    return str(tuple(t.shape))


def _is_real(value: object) -> bool:
    return (type(value) in (int, float) or isinstance(value, (np.integer, np.floating))) and type(value) is not bool


def difference(expected: object, got: object, where: str = "the result",
               tolerance: Tolerance = Tolerance()) -> str | None:
    """None when ``got`` matches ``expected``; otherwise one sentence saying how it differs.

    Both values must be normalised (see :func:`normalize`).
    """
    if type(expected) is torch.Tensor:
        return _tensor_difference(expected, got, where, tolerance)
    if type(expected) is np.ndarray:
        if type(got) is not np.ndarray:
            return f"{where}: expected a NumPy array of shape {expected.shape}, got {describe_type(got)}"
        if got.dtype != expected.dtype:
            return f"{where}: expected a NumPy array of dtype {expected.dtype}, got {got.dtype}"
        return _tensor_difference(torch.from_numpy(expected), torch.from_numpy(got), where, tolerance, "NumPy array")
    if type(expected) is bool or isinstance(expected, np.bool_):
        if type(got) is bool or isinstance(got, np.bool_):
            return None if bool(got) == bool(expected) else f"{where}: expected {bool(expected)}, got {bool(got)}"
        return f"{where}: expected the bool {bool(expected)}, got {describe_type(got)}"
    if type(expected) is int or isinstance(expected, np.integer):
        if (type(got) is int or isinstance(got, np.integer)) and type(got) is not bool:
            return None if int(got) == int(expected) else f"{where}: expected {int(expected)}, got {int(got)}"
        return f"{where}: expected the integer {int(expected)}, got {describe_type(got)}" + _item_advice(got)
    if type(expected) is float or isinstance(expected, np.floating):
        if not _is_real(got):
            return f"{where}: expected a Python float ({float(expected):.6g}), got {describe_type(got)}" + _item_advice(got)
        rtol, atol = tolerance.for_dtype(torch.float32 if isinstance(expected, np.float32) else torch.float64)
        rtol, atol = max(rtol, 1e-6 if tolerance.rtol is None else rtol), max(atol, 1e-7 if tolerance.atol is None else atol)
        if math.isnan(float(expected)) and math.isnan(float(got)):
            return None
        if math.isclose(float(got), float(expected), rel_tol=rtol, abs_tol=atol):
            return None
        return f"{where}: expected {float(expected):.6g}, got {float(got):.6g}"
    if type(expected) in (list, tuple):
        kind = type(expected).__name__
        if type(got) is not type(expected) and not (kind == "tuple" and type(got) is torch.Size):
            return f"{where}: expected a {kind} of {len(expected)} items, got {describe_type(got)}"
        if len(got) != len(expected):
            return f"{where}: expected a {kind} of {len(expected)} items, got {len(got)} items"
        for index, (want, have) in enumerate(zip(expected, got)):
            found = difference(want, have, f"{where}[{index}]", tolerance)
            if found:
                return found
        return None
    if type(expected) is torch.Size:
        if type(got) not in (torch.Size, tuple) or tuple(got) != tuple(expected):
            return f"{where}: expected the shape {tuple(expected)}, got {describe_type(got)}"
        return None
    if type(expected) is dict:
        if type(got) is not dict:
            return f"{where}: expected a dict with keys {sorted(map(str, expected))}, got {describe_type(got)}"
        missing = [k for k in expected if k not in got]
        extra = [k for k in got if k not in expected]
        if missing or extra:
            parts = []
            if missing:
                parts.append(f"missing keys {missing}")
            if extra:
                parts.append(f"unexpected keys {extra}")
            return f"{where}: " + " and ".join(parts)
        for key, want in expected.items():
            found = difference(want, got[key], f"{where}[{key!r}]", tolerance)
            if found:
                return found
        return None
    if isinstance(expected, wire.Opaque):
        if not isinstance(got, wire.Opaque):
            return f"{where}: expected {describe_type(expected)}, got {describe_type(got)}"
        want_name = expected.type_name.rsplit(".", 1)[-1]
        if got.type_name.rsplit(".", 1)[-1] != want_name and not any(m.endswith("." + want_name) for m in got.bases):
            return f"{where}: expected {describe_type(expected)}, got {describe_type(got)}"
        return None
    if type(got) is not type(expected) or got != expected:
        return f"{where}: expected {expected!r}, got {describe_type(got)}"
    return None


def _item_advice(got: object) -> str:
    if type(got) is torch.Tensor and got.numel() == 1:
        return " (use .item() to turn a one-element tensor into a Python number)"
    return ""


def _tensor_difference(expected: torch.Tensor, got: object, where: str, tolerance: Tolerance,
                       noun: str = "tensor") -> str | None:
    if type(got) is not torch.Tensor:
        advice = ""
        if type(got) in (list, tuple):
            advice = " (build one tensor, e.g. with torch.stack or torch.tensor)"
        elif _is_real(got):
            advice = " (return a tensor, not a Python number)"
        elif type(got) is np.ndarray:
            advice = " (convert it with torch.from_numpy)"
        return f"{where}: expected a {noun} of shape {_shape(expected)}, got {describe_type(got)}{advice}"
    if got.shape != expected.shape:
        return f"{where}: expected shape {_shape(expected)}, got {_shape(got)}"
    if got.dtype != expected.dtype:
        return f"{where}: expected dtype {_dtype(expected.dtype)}, got {_dtype(got.dtype)}"
    if got.device != expected.device:
        return (f"{where}: expected a {noun} on device {expected.device}, got one on {got.device} "
                "(create new tensors on the input's device, e.g. device=x.device)")
    rtol, atol = tolerance.for_dtype(expected.dtype)
    try:
        torch.testing.assert_close(got, expected, rtol=rtol, atol=atol, equal_nan=True)
        return None
    except AssertionError:
        pass
    return f"{where}: " + _worst_element(expected, got, rtol, atol)


def _worst_element(expected: torch.Tensor, got: torch.Tensor, rtol: float, atol: float) -> str:
    want = expected.detach().cpu()
    have = got.detach().cpu()
    if want.is_complex():
        want, have = torch.view_as_real(want), torch.view_as_real(have)
    if want.is_floating_point():
        want64, have64 = want.double(), have.double()
        allowed = atol + rtol * want64.abs()
        error = (have64 - want64).abs()
        nan_mismatch = want64.isnan() != have64.isnan()
        error = torch.where(nan_mismatch, torch.full_like(error, math.inf), error)
        error = torch.where(want64.isnan() & have64.isnan(), torch.zeros_like(error), error)
        badness = error / allowed.clamp_min(1e-300)
        wrong = int((badness > 1).sum())
    else:
        badness = (want != have).to(torch.float64)
        wrong = int(badness.sum())
    flat_index = int(badness.reshape(-1).argmax())
    index = tuple(int(i) for i in np.unravel_index(flat_index, tuple(want.shape))) if want.dim() else ()
    total = want.numel()
    want_value = want.reshape(-1)[flat_index].item() if total else None
    have_value = have.reshape(-1)[flat_index].item() if total else None
    position = f"at index {index}" if index else "the value"
    return (f"{wrong} of {total} elements differ; worst {position}: expected {_fmt(want_value)}, "
            f"got {_fmt(have_value)}")


def _fmt(value: object) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value)
