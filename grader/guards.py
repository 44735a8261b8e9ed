"""Run-time enforcement of "from scratch" items: some torch functions are switched off during a call.

A check declares, with its item, the groups of calls the item may not use (``forbid=("autograd",)``).
While the item runs, every function of those groups raises :class:`ForbiddenCallError` naming the
call and what to do instead. The same guard runs around the reference solution, which proves the
reference obeys its own rule.

This catches honest use of a forbidden call (the common case: a student who reaches for
``loss.backward()`` in the hand-written-gradient exercise). Code that deliberately restores the
originals can evade it; that is cheating the spec, not the grader's arithmetic, and it is listed
under the isolation model's limits in README.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

# group -> (owner path, attribute, advice)
FORBIDDEN_GROUPS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "autograd": (
        ("torch.Tensor", "backward", "compute the gradient with the chain rule (dloss_fn * dmodel_dw ...)"),
        ("torch.autograd", "backward", "compute the gradient with the chain rule"),
        ("torch.autograd", "grad", "compute the gradient with the chain rule"),
    ),
    "softmax": (
        ("torch", "softmax", "exponentiate with torch.exp and divide by the row sums"),
        ("torch.Tensor", "softmax", "exponentiate with torch.exp and divide by the row sums"),
        ("torch.nn.functional", "softmax", "exponentiate with torch.exp and divide by the row sums"),
        ("torch.special", "softmax", "exponentiate with torch.exp and divide by the row sums"),
        ("torch", "log_softmax", "exponentiate with torch.exp and divide by the row sums"),
        ("torch.Tensor", "log_softmax", "exponentiate with torch.exp and divide by the row sums"),
        ("torch.nn.functional", "log_softmax", "exponentiate with torch.exp and divide by the row sums"),
    ),
    "torch.optim": (
        ("torch.optim.Optimizer", "__init__", "update each parameter yourself under torch.no_grad()"),
    ),
}


class ForbiddenCallError(RuntimeError):
    """Raised when an item calls a function its exercise asks it to write by hand."""


def _resolve(path: str) -> object:
    import importlib

    parts = path.split(".")
    for split in range(len(parts), 0, -1):
        try:
            obj: object = importlib.import_module(".".join(parts[:split]))
        except ImportError:
            continue
        for attribute in parts[split:]:
            obj = getattr(obj, attribute)
        return obj
    raise ImportError(path)


def _raiser(item: str, call: str, advice: str):
    def forbidden(*args: object, **kwargs: object) -> None:
        raise ForbiddenCallError(f"{item} may not call {call}: {advice}.")

    forbidden.__name__ = call.rsplit(".", 1)[-1]
    return forbidden


@contextmanager
def forbidden_calls(groups: tuple[str, ...] | list[str], item: str) -> Iterator[None]:
    """Switch off the calls of ``groups`` for the duration of the block.

    Args:
        groups: names from :data:`FORBIDDEN_GROUPS`.
        item: the item's qualified name (``ex02.grad_fn``), used in the message.
    """
    saved: list[tuple[object, str, object, bool]] = []
    try:
        for group in groups:
            for owner_path, attribute, advice in FORBIDDEN_GROUPS[group]:
                owner = _resolve(owner_path)
                had_own = attribute in vars(owner)
                saved.append((owner, attribute, getattr(owner, attribute), had_own))
                setattr(owner, attribute, _raiser(item, f"{owner_path}.{attribute}", advice))
        yield
    finally:
        for owner, attribute, original, had_own in reversed(saved):
            if had_own:
                setattr(owner, attribute, original)
            else:
                delattr(owner, attribute)
