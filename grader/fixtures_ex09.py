"""Helpers that the ex09 (custom training loop) checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker.

- Metric *spies* stand in for ``MeanMetric`` / ``AccuracyMetric`` in the ``train_step`` and
  ``test_step`` checks: they record what the step passes to ``update`` (the loss and its weight,
  the predicted classes and the targets), so those items are graded without the student's metric
  classes.
- :func:`with_kit_parts` runs ``fit`` with the kit's own metrics and steps in place of the
  student's, so ``fit`` is graded on its own logic (history, early stopping, best weights) and a
  mistake in ``train_step`` costs points under ``train_step`` only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn.functional as F


# ---------------------------------------------------------------- spies
class LossSpy:
    """Records ``update(value, weight)`` calls as ``(float value, float weight)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[float, float]] = []

    def update(self, value: float | torch.Tensor, weight: float = 1.0) -> None:
        self.calls.append((float(torch.as_tensor(value).detach().item()), float(weight)))

    def result(self) -> float:
        return 0.0

    def reset(self) -> None:
        self.calls.clear()


class AccuracySpy:
    """Records ``update(logits, targets)`` calls as ``(predicted classes, targets)``."""

    def __init__(self) -> None:
        self.calls: list[tuple[torch.Tensor, torch.Tensor]] = []

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        self.calls.append((logits.detach().argmax(dim=1), targets.detach().clone()))

    def result(self) -> float:
        return 0.0

    def reset(self) -> None:
        self.calls.clear()


def spy_metrics() -> dict[str, LossSpy | AccuracySpy]:
    """``{"loss": LossSpy(), "accuracy": AccuracySpy()}``."""
    return {"loss": LossSpy(), "accuracy": AccuracySpy()}


def spy_calls(metrics: dict[str, LossSpy | AccuracySpy]) -> dict[str, list]:
    """What the spies recorded, as data."""
    return {name: list(spy.calls) for name, spy in metrics.items()}


class GradWatchingLoss:
    """Cross-entropy that notes, for every call, whether autograd was recording."""

    def __init__(self) -> None:
        self.grad_enabled: list[bool] = []

    def __call__(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        self.grad_enabled.append(bool(torch.is_grad_enabled() and logits.requires_grad))
        return F.cross_entropy(logits, targets)


# ---------------------------------------------------------------- models and data
def blobs(seed: int, n: int, n_features: int = 4, n_classes: int = 3, spread: float = 1.0,
          device: str = "cpu") -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points around ``n_classes`` random centres, with labels; fixed by ``seed``."""
    generator = torch.Generator().manual_seed(seed)
    centres = torch.randn(n_classes, n_features, generator=generator) * 2
    y = torch.randint(0, n_classes, (n,), generator=generator)
    x = centres[y] + spread * torch.randn(n, n_features, generator=generator)
    return x.to(device), y.to(device)


def fill_stale_gradients(model: torch.nn.Module, seed: int) -> None:
    """Give every parameter a leftover ``.grad`` (as if an earlier backward had not been cleared)."""
    generator = torch.Generator().manual_seed(seed)
    for parameter in model.parameters():
        parameter.grad = torch.randn(tuple(parameter.shape), generator=generator).to(parameter.device)


def state_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``model.state_dict()`` as a plain dict."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def gradients_of(model: torch.nn.Module) -> dict[str, torch.Tensor | None]:
    """Every parameter's ``.grad`` (None where there is none)."""
    return {name: p.grad for name, p in model.named_parameters()}


def freeze(model: torch.nn.Module, prefix: str) -> None:
    """``requires_grad=False`` on the parameters whose name starts with ``prefix``."""
    for name, parameter in model.named_parameters():
        if name.startswith(prefix):
            parameter.requires_grad_(False)


def shared_layer_model(seed: int) -> torch.nn.Module:
    """``Sequential(Linear(3, 3), ReLU, <the same Linear>, BatchNorm1d(3))``: a parameter used twice."""
    torch.manual_seed(seed)
    shared = torch.nn.Linear(3, 3)
    return torch.nn.Sequential(shared, torch.nn.ReLU(), shared, torch.nn.BatchNorm1d(3))


class Scaled(torch.nn.Module):
    """``Linear(in, out)`` times a float buffer ``scale``, with an integer buffer ``calls``."""

    def __init__(self, in_features: int, out_features: int) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(in_features, out_features)
        self.register_buffer("scale", torch.ones(out_features))
        self.register_buffer("calls", torch.zeros(2, dtype=torch.int32))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.linear(x) * self.scale


def scaled_model(seed: int) -> torch.nn.Module:
    """A :class:`Scaled` (5 to 4) followed by ``BatchNorm1d(4)``, built after ``torch.manual_seed(seed)``."""
    torch.manual_seed(seed)
    return torch.nn.Sequential(Scaled(5, 4), torch.nn.BatchNorm1d(4))


# ---------------------------------------------------------------- fit with the kit's parts
class _KitMean:
    def __init__(self) -> None:
        self.total, self.count = 0.0, 0.0

    def update(self, value: float | torch.Tensor, weight: float = 1.0) -> None:
        self.total += float(torch.as_tensor(value).detach().item()) * float(weight)
        self.count += float(weight)

    def result(self) -> float:
        return self.total / self.count if self.count else 0.0

    def reset(self) -> None:
        self.total, self.count = 0.0, 0.0


class _KitAccuracy:
    def __init__(self) -> None:
        self.correct, self.total = 0, 0

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        self.correct += int((logits.detach().argmax(dim=1) == targets).sum().item())
        self.total += int(targets.numel())

    def result(self) -> float:
        return self.correct / self.total if self.total else 0.0

    def reset(self) -> None:
        self.correct, self.total = 0, 0


def _kit_update(metrics: dict | None, loss: torch.Tensor, logits: torch.Tensor, targets: torch.Tensor) -> None:
    if metrics:
        metrics["loss"].update(loss.item(), weight=targets.shape[0])
        metrics["accuracy"].update(logits.detach(), targets)


def _kit_train_step(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: Callable,
                    optimizer: torch.optim.Optimizer, metrics: dict | None = None) -> float:
    model.train()
    optimizer.zero_grad()
    logits = model(inputs)
    loss = loss_fn(logits, targets)
    loss.backward()
    optimizer.step()
    _kit_update(metrics, loss, logits, targets)
    return loss.item()


def _kit_test_step(model: torch.nn.Module, inputs: torch.Tensor, targets: torch.Tensor, loss_fn: Callable,
                   metrics: dict | None = None) -> float:
    model.eval()
    with torch.no_grad():
        logits = model(inputs)
        loss = loss_fn(logits, targets)
    _kit_update(metrics, loss, logits, targets)
    return loss.item()


KIT_PARTS: dict[str, object] = {
    "MeanMetric": _KitMean,
    "AccuracyMetric": _KitAccuracy,
    "train_step": _kit_train_step,
    "test_step": _kit_test_step,
}


def with_kit_parts(function: Callable, *args: object, **kwargs: object) -> object:
    """Call ``function`` with the kit's metrics and steps in its module for the duration of the call.

    Only names the module already defines are swapped, and they are put back afterwards; code
    that does everything inline is unaffected.
    """
    namespace = getattr(function, "__globals__", {})
    saved = {name: namespace[name] for name in KIT_PARTS if name in namespace}
    namespace.update({name: KIT_PARTS[name] for name in saved})
    try:
        return function(*args, **kwargs)
    finally:
        namespace.update(saved)


def snapshot(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A deep copy of ``model.state_dict()`` (for comparing with the weights after ``fit``)."""
    return copy.deepcopy(dict(model.state_dict()))
