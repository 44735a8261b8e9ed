"""Functions and builders that checks may pass to, or build inside, a worker.

A worker can only receive data, handles to its own objects, and callables named here (or in
torch). Everything in this module is trusted grader code that both the reference run and the
student's worker import, so a check reads the same on both sides.

Student code can import every ``grader.fixtures*`` module, so none of them holds an answer: no
function or class here (or in ``fixtures_exNN``) does the work of a graded item. Builders make
inputs, readers turn objects into data, spies record calls; a check that needs a graded piece
runs the student's own (``Suite.item(..., uses=...)``). ``tests/test_no_answers_in_worker.py``
keeps it so.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch.utils.data import DataLoader, TensorDataset


def square(x: torch.Tensor) -> torch.Tensor:
    """``x ** 2`` (gradient ``2x``)."""
    return x**2


def cube_minus_x(x: torch.Tensor) -> torch.Tensor:
    """``x ** 3 - x`` (gradient ``3x^2 - 1``)."""
    return x**3 - x


def sin_times_x(x: torch.Tensor) -> torch.Tensor:
    """``sin(x) * x`` (gradient ``cos(x) x + sin(x)``)."""
    return torch.sin(x) * x


def exp_sum_rows(x: torch.Tensor) -> torch.Tensor:
    """Row sums of ``exp(x)`` for a 2-D ``x``: shape (N,)."""
    return torch.exp(x).sum(dim=1)


class OfFirstArgument:
    """``function(x, *rest)`` as a function of ``x`` alone.

    Lets a check differentiate a function with respect to its first argument only (with
    ``torch.autograd.functional.vjp``) when the others are integer labels.
    """

    def __init__(self, function: Callable[..., torch.Tensor], *rest: object) -> None:
        self.function = function
        self.rest = rest

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self.function(x, *self.rest)


def tensor_loader(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> DataLoader:
    """A deterministic (unshuffled) loader over ``(x, y)`` pairs."""
    return DataLoader(TensorDataset(x, y), batch_size=batch_size, shuffle=False)


def seeded_module(builder: str, seed: int, *args: object, **kwargs: object) -> torch.nn.Module:
    """``torch.nn.<builder>(*args)`` built after ``torch.manual_seed(seed)``: equal weights everywhere."""
    torch.manual_seed(seed)
    return getattr(torch.nn, builder)(*args, **kwargs)


def small_classifier(seed: int, in_features: int = 4, n_hidden: int = 8, n_classes: int = 3,
                     batch_norm: bool = False, device: str = "cpu") -> torch.nn.Module:
    """A tiny MLP classifier with deterministic weights (optionally with BatchNorm1d)."""
    torch.manual_seed(seed)
    layers: list[torch.nn.Module] = [torch.nn.Linear(in_features, n_hidden)]
    if batch_norm:
        layers.append(torch.nn.BatchNorm1d(n_hidden))
    layers += [torch.nn.ReLU(), torch.nn.Linear(n_hidden, n_classes)]
    return torch.nn.Sequential(*layers).to(device)
