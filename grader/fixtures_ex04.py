"""Helpers that the ex04 (and ex05) checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker, so it holds no
answer (see :mod:`grader.fixtures`). An optimizer or a watched tensor lives where the code under test
runs; these helpers read it out as plain data or act on it there.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import ClassVar

import torch


def optimizer_settings(optimizer: torch.optim.Optimizer) -> dict[str, object]:
    """The class name, the number of parameter groups and the first group's settings, as data."""
    group = optimizer.param_groups[0]
    settings: dict[str, object] = {}
    for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "betas", "eps", "amsgrad"):
        if key in group:
            value = group[key]
            settings[key] = float(value) if isinstance(value, torch.Tensor) else value
    return {"class": type(optimizer).__name__, "parameter groups": len(optimizer.param_groups),
            "tensors in the first group": len(group["params"]), "its settings": settings}


def optimizes(optimizer: torch.optim.Optimizer, tensor: torch.Tensor) -> bool:
    """Whether ``tensor`` itself (not a copy) is one of the optimizer's parameters."""
    return any(p is tensor for group in optimizer.param_groups for p in group["params"])


def step_with_gradient(optimizer: torch.optim.Optimizer, params: torch.Tensor, grad: torch.Tensor,
                       steps: int = 1) -> None:
    """Set ``params.grad = grad`` and call ``optimizer.step()`` ``steps`` times (``params`` is updated)."""
    for _ in range(steps):
        params.grad = grad.clone()
        optimizer.step()


class GradWatch(torch.Tensor):
    """A tensor that notes whether anything computed from it is tracked by autograd.

    Used to prove that validation data only meets the model under ``torch.no_grad()``: every
    result of an operation on a watched tensor that ``requires_grad`` is counted in ``tracked``.
    """

    tracked: ClassVar[list[str]] = []

    @classmethod
    def __torch_function__(cls, func: Callable, types: tuple, args: tuple = (), kwargs: dict | None = None):
        result = super().__torch_function__(func, types, args, kwargs or {})
        outputs = result if isinstance(result, (tuple, list)) else (result,)
        for output in outputs:
            if isinstance(output, torch.Tensor) and output.requires_grad:
                GradWatch.tracked.append(getattr(func, "__name__", str(func)))
        return result


def watch_autograd(*tensors: torch.Tensor) -> tuple[GradWatch, ...]:
    """Watched copies of ``tensors`` (same values, dtype and device); clears the record first."""
    GradWatch.tracked.clear()
    return tuple(t.detach().clone().as_subclass(GradWatch) for t in tensors)


def tracked_operations() -> list[str]:
    """Names of the operations on watched tensors whose result required grad since the last watch."""
    return list(GradWatch.tracked)
