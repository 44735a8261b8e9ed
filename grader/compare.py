"""Compare what the reference produced with what the submission produced, and say how they differ.

``torch.isclose``, as ``torch.testing.assert_close`` applies it, decides whether two tensors agree;
this module adds the words a student needs: which part of the result, expected vs got shape / dtype /
device, and the worst element. Values are *normalised* first: tensors are copied, and anything that is
not data (a module, a handle to a worker object, a tensor subclass) becomes an
:class:`~grader.wire.Opaque` known only by its type, so it can never compare equal to a tensor.

Every value here may come from a hostile submission: comparing and describing never raise, never
print an unbounded text, and never convert a number that does not fit (``10**400`` is not a float).
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
    """Optional overrides of the dtype-based tolerances for one check.

    ``slack`` widens the absolute tolerance of single parts of a result (keyed by where they are, as
    the messages name them: ``"the result[0]"``) by the error that the inputs' own conditioning allows
    a correct float computation (see :meth:`grader.engine.ReferenceCache.conditioning`).
    """

    rtol: float | None = None
    atol: float | None = None
    slack: tuple[tuple[str, float], ...] = ()

    def for_dtype(self, dtype: torch.dtype, where: str | None = None) -> tuple[float, float]:
        rtol, atol = DEFAULT_TOLERANCES.get(dtype, (0.0, 0.0))
        rtol, atol = (rtol if self.rtol is None else self.rtol, atol if self.atol is None else self.atol)
        if where is not None and self.slack:
            atol += dict(self.slack).get(where, 0.0)
        return rtol, atol

    def widened(self, slack: dict[str, float]) -> Tolerance:
        """This tolerance with ``slack`` added to the absolute tolerance of the parts it names."""
        return Tolerance(self.rtol, self.atol, tuple(sorted(slack.items())))


def leaves(value: object, where: str = "the result") -> dict[str, object]:
    """The numeric parts of a normalised value by where they are, named as :func:`difference` names them."""
    found: dict[str, object] = {}

    def walk(node: object, at: str, depth: int) -> None:
        if depth > 32 or len(found) > 10_000:
            return
        if type(node) in (list, tuple):
            for index, item in enumerate(node):
                walk(item, f"{at}[{index}]", depth + 1)
        elif type(node) is dict:
            for key, item in node.items():
                walk(item, f"{at}[{_show(key)}]", depth + 1)
        elif type(node) is torch.Tensor or type(node) is float:
            found[at] = node

    walk(value, where, 0)
    return found


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


_SHOWN_CHARS = 40
_SHOWN_KEYS = 10
_SHOWN_DIGITS = 30
_EXACT_DIGITS = 100_000  # count an int's digits exactly up to here; past it, "about N"


def describe_type(value: object) -> str:
    """Words for what a value is: 'a tensor of shape (2, 3)', 'the Python float 2.5', ...; never raises."""
    try:
        return _describe_type(value)
    except Exception as error:  # noqa: BLE001 - a value nothing foresaw: still words, never a crash
        return f"a {type(value).__name__} value ({type(error).__name__} while describing it)"


def _describe_type(value: object) -> str:
    if isinstance(value, wire.Opaque):
        return value.described()
    if type(value) is torch.Tensor:
        return f"a tensor of shape {tuple(value.shape)} ({_dtype(value.dtype)})"
    if type(value) is np.ndarray:
        return f"a NumPy array of shape {value.shape} ({value.dtype})"
    if type(value) in (list, tuple):
        return f"a {type(value).__name__} of {len(value)} items"
    if type(value) is dict:
        return f"a dict with keys {_keys(value)}"
    if value is None:
        return "None"
    if type(value) is int:
        return _int_words(value) if _digits(value) > _SHOWN_DIGITS else f"the int {value}"
    return f"the {type(value).__name__} {_show(value)}"


def _keys(mapping: dict) -> str:
    """The first keys of a dict, sorted by their text (keys of mixed types do not sort), bounded."""
    names = sorted(_show(k) for k in mapping)
    shown = ", ".join(names[:_SHOWN_KEYS])
    more = f", ... ({len(names)} keys)" if len(names) > _SHOWN_KEYS else ""
    return f"[{shown}{more}]"


def _show(value: object, limit: int = _SHOWN_CHARS) -> str:
    """A short ``repr`` of a data value that never raises (huge ints and long strings included)."""
    if type(value) is int:
        return str(value) if _digits(value) <= _SHOWN_DIGITS else _int_words(value)
    if type(value) is float:
        return _fmt(value)
    if type(value) is str:
        text = repr(value[:limit])
        return text if len(value) <= limit else text[:-1] + "..." + text[-1]
    if type(value) is torch.Tensor or type(value) is np.ndarray:
        return describe_type(value)
    if isinstance(value, wire.Opaque):
        return value.described()
    try:
        text = repr(value)
    except (ValueError, TypeError, RuntimeError):  # repr of an odd container (a slice of huge ints...)
        return f"<{type(value).__name__}>"
    return text if len(text) <= limit else text[:limit] + "..."


def _digits(value: int) -> int:
    """How many decimal digits ``abs(value)`` has, without turning it into text."""
    magnitude = abs(value)
    if magnitude < 10**15:
        return len(str(magnitude))
    digits = math.floor(math.log10(magnitude)) + 1
    if digits <= _EXACT_DIGITS:  # log10 rounds near powers of ten: settle it exactly
        while magnitude < 10 ** (digits - 1):
            digits -= 1
        while magnitude >= 10**digits:
            digits += 1
    return digits


def _int_words(value: int) -> str:
    """'an int of 401 digits' (a negative one says so); the value itself may be too long to print."""
    digits = _digits(value)
    about = "" if digits <= _EXACT_DIGITS else "about "
    sign = "a negative " if value < 0 else "an "
    return f"{sign}int of {about}{digits} digits"


def _dtype(dtype: torch.dtype) -> str:
    return str(dtype)


def _shape(t: torch.Tensor | np.ndarray) -> str:
    return str(tuple(t.shape))


def _is_real(value: object) -> bool:
    return (type(value) in (int, float) or isinstance(value, (np.integer, np.floating))) and type(value) is not bool


def _is_integer(value: object) -> bool:
    return (type(value) is int or isinstance(value, np.integer)) and type(value) is not bool


def _as_float(value: object) -> float | None:
    """``float(value)``, or None when it does not fit in a float (``10**400``)."""
    try:
        return float(value)  # type: ignore[arg-type]
    except (OverflowError, TypeError, ValueError):
        return None


def difference(expected: object, got: object, where: str = "the result",
               tolerance: Tolerance = Tolerance()) -> str | None:
    """None when ``got`` matches ``expected``; otherwise one sentence saying how it differs.

    Both values must be normalised (see :func:`normalize`). Never raises: a value nothing here
    foresaw is reported as a failure that could not be compared.
    """
    try:
        return _difference(expected, got, where, tolerance)
    except Exception as error:  # noqa: BLE001 - the safety net; the cases we know of are handled below
        return f"{where}: the result could not be compared: {type(error).__name__}"


def _difference(expected: object, got: object, where: str, tolerance: Tolerance) -> str | None:
    if type(expected) is torch.Tensor:
        return _tensor_difference(expected, got, where, tolerance)
    if type(expected) is np.ndarray:
        return _array_difference(expected, got, where, tolerance)
    if type(expected) is bool or isinstance(expected, np.bool_):
        return _bool_difference(bool(expected), got, where)
    if _is_integer(expected):
        return _int_difference(int(expected), got, where)  # type: ignore[call-overload]
    if type(expected) is float or isinstance(expected, np.floating):
        return _float_difference(expected, got, where, tolerance)
    if type(expected) in (list, tuple):
        return _sequence_difference(expected, got, where, tolerance)  # type: ignore[arg-type]
    if type(expected) is torch.Size:
        if type(got) not in (torch.Size, tuple) or tuple(got) != tuple(expected):  # type: ignore[arg-type]
            return f"{where}: expected the shape {tuple(expected)}, got {describe_type(got)}"
        return None
    if type(expected) is dict:
        return _dict_difference(expected, got, where, tolerance)
    if isinstance(expected, wire.Opaque):
        return _opaque_difference(expected, got, where)
    if type(expected) is slice:
        return _slice_difference(expected, got, where, tolerance)
    if type(got) is not type(expected) or got != expected:
        return f"{where}: expected {_show(expected)}, got {describe_type(got)}"
    return None


def _array_difference(expected: np.ndarray, got: object, where: str, tolerance: Tolerance) -> str | None:
    if type(got) is not np.ndarray:
        return f"{where}: expected a NumPy array of shape {expected.shape}, got {describe_type(got)}"
    if got.dtype != expected.dtype:
        return f"{where}: expected a NumPy array of dtype {expected.dtype}, got {got.dtype}"
    return _tensor_difference(torch.from_numpy(expected), torch.from_numpy(got), where, tolerance, "NumPy array")


def _bool_difference(expected: bool, got: object, where: str) -> str | None:
    if type(got) is bool or isinstance(got, np.bool_):
        return None if bool(got) == expected else f"{where}: expected {expected}, got {bool(got)}"
    return f"{where}: expected the bool {expected}, got {describe_type(got)}"


def _int_difference(expected: int, got: object, where: str) -> str | None:
    """Ints compare exactly, whatever their size."""
    if not _is_integer(got):
        want = f"the integer {expected}" if _digits(expected) <= _SHOWN_DIGITS else _int_words(expected)
        return f"{where}: expected {want}, got {describe_type(got)}" + _item_advice(got)
    have = int(got)  # type: ignore[call-overload]
    if have == expected:
        return None
    want_text, have_text = _show(expected), _show(have)
    if have_text == want_text:
        have_text = "a different " + have_text.removeprefix("an ").removeprefix("a ")
    return f"{where}: expected {want_text}, got {have_text}"


def _float_difference(expected: float | np.floating, got: object, where: str, tolerance: Tolerance) -> str | None:
    """Floats compare within the tolerance, on numbers both fit in a float; NaN matches NaN."""
    want = float(expected)
    if not _is_real(got):
        return f"{where}: expected a Python float ({_fmt(want)}), got {describe_type(got)}" + _item_advice(got)
    have = _as_float(got)
    if have is None:  # an int too large for a float: it cannot be close to one
        return f"{where}: expected {_fmt(want)}, got {describe_type(got)}"
    rtol, atol = tolerance.for_dtype(torch.float32 if isinstance(expected, np.float32) else torch.float64)
    rtol = max(rtol, 1e-6 if tolerance.rtol is None else rtol)
    atol = max(atol, 1e-7 if tolerance.atol is None else atol) + dict(tolerance.slack).get(where, 0.0)
    if math.isnan(want) and math.isnan(have):
        return None
    if math.isclose(have, want, rel_tol=rtol, abs_tol=atol):
        return None
    return f"{where}: expected {_fmt(want)}, got {_fmt(have)}"


def _sequence_difference(expected: list | tuple, got: object, where: str, tolerance: Tolerance) -> str | None:
    kind = type(expected).__name__
    if type(got) is not type(expected) and not (kind == "tuple" and type(got) is torch.Size):
        return f"{where}: expected a {kind} of {len(expected)} items, got {describe_type(got)}"
    if len(got) != len(expected):  # type: ignore[arg-type]
        return f"{where}: expected a {kind} of {len(expected)} items, got {len(got)} items"  # type: ignore[arg-type]
    for index, (want, have) in enumerate(zip(expected, got)):  # type: ignore[call-overload]
        found = _difference(want, have, f"{where}[{index}]", tolerance)
        if found:
            return found
    return None


def _dict_difference(expected: dict, got: object, where: str, tolerance: Tolerance) -> str | None:
    if type(got) is not dict:
        return f"{where}: expected a dict with keys {_keys(expected)}, got {describe_type(got)}"
    missing = {k: None for k in expected if k not in got}
    extra = {k: None for k in got if k not in expected}
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing keys {_keys(missing)}")
        if extra:
            parts.append(f"unexpected keys {_keys(extra)}")
        return f"{where}: " + " and ".join(parts)
    for key, want in expected.items():
        found = _difference(want, got[key], f"{where}[{_show(key)}]", tolerance)
        if found:
            return found
    return None


def _opaque_difference(expected: wire.Opaque, got: object, where: str) -> str | None:
    """An object known by its type matches one of the same type (or a subclass); a refused value never does."""
    if not isinstance(got, wire.Opaque) or expected.refused or got.refused:
        return f"{where}: expected {describe_type(expected)}, got {describe_type(got)}"
    want_name = expected.type_name.rsplit(".", 1)[-1]
    if got.type_name.rsplit(".", 1)[-1] != want_name and not any(m.endswith("." + want_name) for m in got.bases):
        return f"{where}: expected {describe_type(expected)}, got {describe_type(got)}"
    return None


def _slice_difference(expected: slice, got: object, where: str, tolerance: Tolerance) -> str | None:
    if type(got) is not slice:
        return f"{where}: expected a slice, got {describe_type(got)}"
    for part in ("start", "stop", "step"):
        found = _difference(getattr(expected, part), getattr(got, part), f"{where}.{part}", tolerance)
        if found:
            return found
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
    if got.layout != expected.layout:
        return f"{where}: expected a {noun} of layout {expected.layout}, got {got.layout}"
    if got.shape != expected.shape:
        return f"{where}: expected shape {_shape(expected)}, got {_shape(got)}"
    if got.dtype != expected.dtype:
        return f"{where}: expected dtype {_dtype(expected.dtype)}, got {_dtype(got.dtype)}"
    if got.device != expected.device:
        return (f"{where}: expected a {noun} on device {expected.device}, got one on {got.device} "
                "(create new tensors on the input's device, e.g. device=x.device)")
    rtol, atol = tolerance.for_dtype(expected.dtype, where)
    if _close(expected, got, rtol, atol):
        return None
    try:
        return f"{where}: " + _worst_element(expected, got, rtol, atol)
    except (RuntimeError, TypeError, ValueError, OverflowError):  # still say that the values differ
        return f"{where}: the values differ from the expected ones"


def _close(expected: torch.Tensor, got: torch.Tensor, rtol: float, atol: float) -> bool:
    """Whether two tensors of the same shape, dtype and device agree, as ``torch.testing.assert_close``
    decides it (``torch.isclose`` element by element, NaN equal to NaN), as a yes/no.

    Plain strided tensors are compared here directly: ``assert_close`` imports ``torch.distributed.tensor``
    on its first call (0.6 s, paid by every grading command). Quantized and sparse tensors still go
    through it; a dtype it cannot handle falls back to exact equality.
    """
    try:
        if got.is_quantized or expected.is_quantized or got.layout != torch.strided \
                or expected.layout != torch.strided:
            torch.testing.assert_close(got, expected, rtol=rtol, atol=atol, equal_nan=True)
            return True
        have, want = got.resolve_conj().resolve_neg(), expected.resolve_conj().resolve_neg()
        if have.dtype.is_floating_point and have.dtype.itemsize == 1 and (rtol != 0.0 or atol != 0.0):
            return False  # assert_close refuses a tolerance for 8-bit floats: only bitwise equality
        return bool(torch.isclose(have, want, rtol=rtol, atol=atol, equal_nan=True).all())
    except AssertionError:
        return False
    except (RuntimeError, TypeError, ValueError):  # an operation missing for this dtype or device
        try:
            return bool(torch.equal(got, expected))
        except (RuntimeError, TypeError):
            return False


def _worst_element(expected: torch.Tensor, got: torch.Tensor, rtol: float, atol: float) -> str:
    """'3 of 6 elements differ; worst at index (1, 2): expected 0.5, got 0.75' for two same-shape tensors."""
    want = _dense_cpu(expected)
    have = _dense_cpu(got)
    total = want.numel()
    if total == 0 or have.shape != want.shape:
        return f"the values differ (expected shape {_shape(want)}, got {_shape(have)})"
    badness = _badness(want, have, rtol, atol)
    wrong = int((badness > 1).sum()) if badness.is_floating_point() else int(badness.sum())
    flat_index = int(badness.reshape(-1).argmax())
    index = tuple(int(i) for i in np.unravel_index(flat_index, tuple(want.shape))) if want.dim() else ()
    want_value = want.reshape(-1)[flat_index].item()
    have_value = have.reshape(-1)[flat_index].item()
    position = f"at index {index}" if index else "the value"
    return (f"{wrong} of {total} elements differ; worst {position}: expected {_fmt(want_value)}, "
            f"got {_fmt(have_value)}")


def _dense_cpu(t: torch.Tensor) -> torch.Tensor:
    """A plain strided CPU copy to compute on (conjugate and negative views resolved)."""
    plain = t.detach()
    if plain.layout != torch.strided:
        plain = plain.to_dense()
    return plain.cpu().resolve_conj().resolve_neg()


def _badness(want: torch.Tensor, have: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
    """Per element: float64 error over allowed error (worst of the real and imaginary parts), or 0/1 for exact types."""
    if want.is_complex() or have.is_complex():
        pairs = torch.view_as_real(want.to(torch.complex128)), torch.view_as_real(have.to(torch.complex128))
        return _float_badness(*pairs, rtol, atol).amax(dim=-1)
    if want.is_floating_point() or have.is_floating_point():
        return _float_badness(want.double(), have.double(), rtol, atol)
    return (want != have).to(torch.int64)


def _float_badness(want: torch.Tensor, have: torch.Tensor, rtol: float, atol: float) -> torch.Tensor:
    """Error over allowed error per element: 0 where equal (NaN with NaN, inf with inf), inf where not comparable."""
    equal = (want == have) | (want.isnan() & have.isnan())
    finite = want.isfinite() & have.isfinite()
    allowed = (atol + rtol * want.abs()).clamp_min(1e-300)
    ratio = (have - want).abs() / allowed
    ratio = torch.where(finite & ~ratio.isnan(), ratio, torch.full_like(ratio, math.inf))
    return torch.where(equal, torch.zeros_like(ratio), ratio)


def _fmt(value: object) -> str:
    """A number as a student reads it: floats to 6 significant digits, huge ints by their length."""
    if isinstance(value, float):
        return f"{value:.6g}"
    if type(value) is int:
        return _show(value)
    if isinstance(value, complex):
        return f"({value.real:.6g}{value.imag:+.6g}j)"
    return _show(value)
