"""Name the kind of mistake behind a wrong result, from the result alone.

When no catalogued mistake (:mod:`grader.mistakes`) matches, these general relations between the
expected result and the student's often still say what went wrong: a result that is the right one
times a constant (a missing 1/N, a flipped sign, N−1 instead of N), the right values in the wrong
places (``view`` where ``permute`` was needed, a transpose), one value per sample where one number was
wanted, a normalisation over the wrong dimension, an overflow to ``nan``.

Both values must be normalised (:func:`grader.compare.normalize`). Every function here never raises and
returns a sentence for a beginner, or None when no relation is clear. It reads only the two results.
"""

from __future__ import annotations

import math

import torch

RELATIVE_FIT = 1e-3  # a relation "holds" when it explains the values this closely


def explain(expected: object, got: object) -> str | None:
    """One sentence naming the likely mistake that turns ``expected`` into ``got``, or None."""
    try:
        pair = _first_differing_leaf(expected, got)
        if pair is None:
            return None
        want, have = pair
        if type(want) is torch.Tensor and type(have) is torch.Tensor:
            return _tensor_relation(want, have)
        if type(want) is int and type(have) is int:
            return _int_relation(want, have)
        if type(want) in (int, float) and type(have) in (int, float):
            return _scalar_relation(float(want), float(have), what="number")
        if type(want) is torch.Tensor and type(have) in (int, float) and want.numel() == 1:
            return _scalar_relation(float(want.double()), float(have), what="number")
        if type(want) in (int, float) and type(have) is torch.Tensor and have.numel() > 1 and have.is_floating_point():
            return _reduction_relation(torch.tensor(float(want), dtype=torch.float64), have)
    except Exception:  # noqa: BLE001 - a diagnosis is a bonus; a value nothing foresaw gets none
        return None
    return None


def _first_differing_leaf(expected: object, got: object) -> tuple[object, object] | None:
    """The first pair of leaves (tensors, numbers) that differ, walking both structures in step."""
    if type(expected) in (list, tuple) and type(got) in (list, tuple):
        if len(expected) != len(got):
            return None
        for want, have in zip(expected, got):
            found = _first_differing_leaf(want, have)
            if found is not None:
                return found
        return None
    if type(expected) is dict and type(got) is dict:
        if set(expected) != set(got):
            return None
        for key in expected:
            found = _first_differing_leaf(expected[key], got[key])
            if found is not None:
                return found
        return None
    if type(expected) is torch.Tensor and type(got) is torch.Tensor:
        same = expected.shape == got.shape and expected.dtype == got.dtype and _equalish(expected, got)
        return None if same else (expected, got)
    if type(expected) is type(got) and type(expected) in (int, bool, str) and expected == got:
        return None
    if type(expected) is float and type(got) is float and math.isclose(expected, got, rel_tol=1e-6, abs_tol=1e-9):
        return None
    return expected, got


def _equalish(want: torch.Tensor, have: torch.Tensor) -> bool:
    if want.is_floating_point():
        return bool(torch.allclose(have.double(), want.double(), rtol=1e-5, atol=1e-7, equal_nan=True))
    return bool(torch.equal(want, have))


# ---------------------------------------------------------------- tensors
def _tensor_relation(want: torch.Tensor, have: torch.Tensor) -> str | None:
    want, have = want.detach().cpu(), have.detach().cpu()
    if want.is_complex() or have.is_complex():
        return None
    if have.is_floating_point() and want.is_floating_point() and (~have.isfinite()).any() and want.isfinite().all():
        return ("your result holds nan or inf where the right one is finite: the values blow up (a step in the wrong "
                "direction or far too large, an exp of large numbers without subtracting the maximum first) or "
                "divide by zero")
    if have.shape != want.shape:
        return _shape_relation(want, have)
    if have.dtype != want.dtype:
        return None  # the comparison already says which dtype is wanted
    if not want.is_floating_point():
        return _integer_tensor_relation(want, have)
    w, h = want.double(), have.double()
    if want.numel() > 1:
        arranged = _arrangement(w, h)
        if arranged:
            return arranged
        normalised = _normalisation_dim(w, h)
        if normalised:
            return normalised
    if bool((h == 0).all()) and bool((w != 0).any()):
        return ("your result is all zeros: a value that is never updated, a step multiplied by 0, or a tensor "
                "created with torch.zeros and never filled")
    scaled = _scale(w, h) if want.numel() > 1 else _scalar_relation(float(w.reshape(-1)[0]), float(h.reshape(-1)[0]), "result")
    if scaled:
        return scaled
    return _offset(w, h)


def _shape_relation(want: torch.Tensor, have: torch.Tensor) -> str | None:
    if want.numel() == have.numel() and want.numel() > 1:
        if want.dim() == 2 and have.dim() == 2 and have.shape == want.t().shape and _same(have, want.t()):
            return "your result is transposed: rows and columns are swapped (check the order of dimensions)"
        if _same(have.reshape(-1), want.reshape(-1)):
            return (f"the right values in the wrong shape: {tuple(have.shape)} instead of {tuple(want.shape)} "
                    "(a keepdim, squeeze/unsqueeze or reshape is off)")
        if _same(have.reshape(-1).sort().values, want.reshape(-1).sort().values):
            return ("the right values in the wrong arrangement: reshape/view only re-reads memory in order; to swap "
                    "dimensions (channels first vs last) use permute")
    if have.dim() == want.dim() + 1 and want.is_floating_point() and have.is_floating_point():
        for dim in range(have.dim()):
            if have.shape[dim] > 1 and have.shape[:dim] + have.shape[dim + 1:] == want.shape:
                if _same(have.mean(dim=dim), want):
                    return f"you keep one value per element along dim {dim} where their mean is wanted: reduce with .mean()"
                if _same(have.sum(dim=dim), want):
                    return f"you keep one value per element along dim {dim} where their sum is wanted: reduce with .sum()"
    if want.dim() == have.dim() and want.dim() >= 1 and want.shape[1:] == have.shape[1:] \
            and abs(want.shape[0] - have.shape[0]) == 1 and min(want.shape[0], have.shape[0]) >= 2:
        more = "one more" if have.shape[0] > want.shape[0] else "one fewer"
        return f"{more} row than expected ({have.shape[0]} instead of {want.shape[0]}): an off-by-one in a range or slice"
    if have.numel() == 1 and want.numel() > 1 and want.is_floating_point() and have.is_floating_point():
        value = float(have.double().reshape(()))
        if math.isclose(value, float(want.double().mean()), rel_tol=RELATIVE_FIT, abs_tol=1e-9):
            return "you averaged everything into one number where one value per element is wanted: drop the .mean()"
        if math.isclose(value, float(want.double().sum()), rel_tol=RELATIVE_FIT, abs_tol=1e-9):
            return "you summed everything into one number where one value per element is wanted: drop the .sum()"
    if want.numel() == 1 and have.numel() > 1 and have.is_floating_point() and want.is_floating_point():
        return _reduction_relation(want.double().reshape(()), have)
    return None


def _reduction_relation(want: torch.Tensor, have: torch.Tensor) -> str | None:
    h = have.detach().cpu().double()
    value = float(want)
    if math.isclose(float(h.mean()), value, rel_tol=RELATIVE_FIT, abs_tol=1e-9):
        return "you return one value per element where their mean is wanted: reduce with .mean()"
    if math.isclose(float(h.sum()), value, rel_tol=RELATIVE_FIT, abs_tol=1e-9):
        return "you return one value per element where their sum is wanted: reduce with .sum()"
    return None


def _arrangement(w: torch.Tensor, h: torch.Tensor) -> str | None:
    if not _same(h.reshape(-1).sort().values, w.reshape(-1).sort().values):
        return None
    if w.dim() == 2 and w.shape[0] == w.shape[1] and _same(h, w.t()):
        return "your result is transposed: rows and columns are swapped (check the order of dimensions)"
    return ("the right values in the wrong places: the order of the elements differs (view/reshape where permute "
            "was needed, indices mixed up, or a shuffle/sort that should not be there)")


def _normalisation_dim(w: torch.Tensor, h: torch.Tensor) -> str | None:
    """Expected slices along one dim sum to 1, got's along another."""
    if w.dim() < 2 or bool((w < 0).any()) or bool((h < 0).any()):
        return None
    right = [d for d in range(w.dim()) if _sums_to_one(w, d)]
    wrong = [d for d in range(h.dim()) if _sums_to_one(h, d)]
    if right and wrong and not set(right) & set(wrong):
        return (f"you normalise over dim {wrong[0]} instead of dim {right[0]}: the values along dim {right[0]} (one row "
                f"per example) should sum to 1, so sum over dim={right[0]} with keepdim=True")
    if right and not wrong and _sums_to_one(h.reshape(-1), 0):
        return (f"you normalise over the whole tensor instead of along dim {right[0]}: each row should sum to 1 "
                f"on its own (sum over dim={right[0]} with keepdim=True)")
    return None


def _sums_to_one(t: torch.Tensor, dim: int) -> bool:
    return bool(torch.allclose(t.sum(dim=dim), torch.ones((), dtype=t.dtype), rtol=1e-4, atol=1e-5))


def _scale(w: torch.Tensor, h: torch.Tensor) -> str | None:
    norm = float((w * w).sum())
    if norm == 0.0 or not math.isfinite(norm):
        return None
    factor = float((h * w).sum()) / norm
    residual = float((h - factor * w).norm())
    if not math.isfinite(factor) or residual > RELATIVE_FIT * max(float(h.norm()), 1e-12):
        return None
    return _factor_words(factor, "result")


def _offset(w: torch.Tensor, h: torch.Tensor) -> str | None:
    shift = h - w
    amount = float(shift.mean())
    if amount == 0.0 or float((shift - amount).abs().max()) > RELATIVE_FIT * max(abs(amount), 1e-12):
        return None
    return (f"every value is off by the same amount ({amount:+.4g}): a constant term (a bias, a +1, a mean) is "
            "added where it should not be, or left out")


def _integer_tensor_relation(want: torch.Tensor, have: torch.Tensor) -> str | None:
    if want.dtype == torch.bool:
        if want.numel() > 1 and bool((have == ~want).all()):
            return "the condition is inverted: True where False is right, and the reverse"
        return None
    difference = (have.long() - want.long())
    if bool((difference == difference.reshape(-1)[0]).all()) and int(difference.reshape(-1)[0]) in (-1, 1):
        return "every value is off by one: counting from 1 instead of 0 (or the reverse), or a range one step off"
    return _arrangement(want.double(), have.double())


# ---------------------------------------------------------------- numbers
def _int_relation(want: int, have: int) -> str | None:
    if abs(want - have) == 1:
        return "off by one: a count or range that starts or stops one step early or late"
    if want and have and have % want == 0:
        return f"{have // want} times too large: a count over the wrong thing (all elements instead of one dimension?)"
    if want and have and want % have == 0:
        return f"{want // have} times too small: a count over the wrong thing (one dimension instead of all elements?)"
    return None


def _scalar_relation(want: float, have: float, what: str) -> str | None:
    if not math.isfinite(have) and math.isfinite(want):
        return "your result is nan or inf: an overflow, a division by zero or the log of 0"
    if want == 0.0 or not math.isfinite(want):
        return None
    # one number against one number always has *some* ratio: name only a ratio that is exactly a typical one
    return _factor_words(have / want, what, exact_only=True)


_UNBIASED_VARIANCE = ("divides by N−1 where N is right (the unbiased estimate instead of the biased one, "
                      "correction=0 / unbiased=False)")
_BIASED_VARIANCE = "divides by N where N−1 is right (the biased estimate instead of the unbiased one)"
_UNBIASED_STD = ("divides by N−1 where N is right inside the square root (the unbiased std instead of the biased "
                 "one: use unbiased=False)")
_BIASED_STD = "divides by N where N−1 is right inside the square root (the biased std instead of the unbiased one)"
SCALAR_FIT = 2e-5  # a ratio of two single numbers counts as "exactly k" only this closely (float32 rounding)


def _factor_words(factor: float, what: str, exact_only: bool = False) -> str | None:
    """Words for ``got = factor * expected``; with ``exact_only`` only a typical ratio matched very closely."""
    fit = SCALAR_FIT if exact_only else RELATIVE_FIT
    if math.isclose(factor, 1.0, rel_tol=1e-5):
        return None
    if math.isclose(factor, -1.0, rel_tol=fit):
        return (f"your {what} has the wrong sign: a minus where a plus belongs (or a step that climbs the gradient "
                "instead of descending it)")
    if factor < 0:
        return None
    for k in range(2, 100_001):
        if k > 2 and k > 1 / fit:
            break
        bessel = k / (k - 1)
        for ratio, words in ((bessel, _UNBIASED_VARIANCE), (1 / bessel, _BIASED_VARIANCE),
                             (math.sqrt(bessel), _UNBIASED_STD), (1 / math.sqrt(bessel), _BIASED_STD)):
            if k >= 3 and math.isclose(factor, ratio, rel_tol=min(fit, 0.1 / k**2)):
                return f"your {what} is off by a factor {factor:.4g} = {_fraction(ratio, k)}: it {words}"
    nearest = round(factor)
    if nearest >= 2 and math.isclose(factor, nearest, rel_tol=fit):
        return (f"your {what} is {nearest} times too large: a sum where a mean belongs, a division (by N = {nearest}?) "
                f"that is missing, or a factor {nearest} counted twice")
    inverse = round(1 / factor) if factor > 0 else 0
    if inverse >= 2 and math.isclose(1 / factor, inverse, rel_tol=fit):
        return (f"your {what} is {inverse} times too small: a mean where a sum belongs, an extra division (by N = "
                f"{inverse}?), or a missing factor {inverse}")
    if exact_only:
        return None
    return (f"your {what} is the right one times {factor:.4g}: a scale factor (learning rate, 1/N, a 2 from a "
            "derivative) is missing or extra")


def _fraction(ratio: float, k: int) -> str:
    if math.isclose(ratio, k / (k - 1)):
        return f"{k}/{k - 1}"
    if math.isclose(ratio, (k - 1) / k):
        return f"{k - 1}/{k}"
    if ratio > 1:
        return f"sqrt({k}/{k - 1})"
    return f"sqrt({k - 1}/{k})"


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    if a.shape != b.shape:
        return False
    if a.is_floating_point() or b.is_floating_point():
        return bool(torch.allclose(a.double(), b.double(), rtol=RELATIVE_FIT, atol=1e-6, equal_nan=True))
    return bool(torch.equal(a, b))
