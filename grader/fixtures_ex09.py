"""Helpers that the ex09 (custom training loop) checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker, so it holds no
answer (see :mod:`grader.fixtures`). Metric *spies* stand in for ``MeanMetric`` / ``AccuracyMetric``
in the ``train_step`` and ``test_step`` checks: they record what the step passes to ``update`` (the
loss and its weight, the predicted classes and the targets) and compute nothing, so those items are
graded without the student's metric classes. ``fit`` runs with the student's own metrics and steps.
"""

from __future__ import annotations

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
