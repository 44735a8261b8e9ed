"""Helpers that the ex07 (classification) checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker, so it holds no
answer (see :mod:`grader.fixtures`). The classifier built here behaves differently in training and in
evaluation mode (BatchNorm with non-trivial running statistics, Dropout) and notes, at every forward
call, whether autograd was recording and where its input was, so that ``evaluate`` can be checked for
``model.eval()``, ``torch.no_grad()`` and moving batches to the device. The other helpers read a
model out as plain data.
"""

from __future__ import annotations

import torch
from torch import nn


class RecordingClassifier(nn.Module):
    """``Linear -> BatchNorm1d -> ReLU -> Dropout(0.5) -> Linear`` that records each forward call.

    Attributes:
        grad_enabled: ``torch.is_grad_enabled()`` at each call.
        input_devices: the device type of each call's input.
    """

    def __init__(self, in_features: int, n_hidden: int, n_classes: int) -> None:
        super().__init__()
        self.net = nn.Sequential(nn.Linear(in_features, n_hidden), nn.BatchNorm1d(n_hidden), nn.ReLU(),
                                 nn.Dropout(0.5), nn.Linear(n_hidden, n_classes))
        self.grad_enabled: list[bool] = []
        self.input_devices: list[str] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.grad_enabled.append(torch.is_grad_enabled())
        self.input_devices.append(x.device.type)
        return self.net(x)


def recording_classifier(seed: int, in_features: int = 5, n_hidden: int = 16, n_classes: int = 3,
                         device: str = "cpu") -> RecordingClassifier:
    """A :class:`RecordingClassifier` with weights and running statistics from ``seed``, in training mode."""
    torch.manual_seed(seed)
    model = RecordingClassifier(in_features, n_hidden, n_classes)
    generator = torch.Generator().manual_seed(seed)
    batch_norm = model.net[1]
    with torch.no_grad():
        batch_norm.running_mean.copy_(torch.randn(n_hidden, generator=generator))
        batch_norm.running_var.copy_(torch.rand(n_hidden, generator=generator) * 2 + 0.5)
    return model.to(device)


def eval_predictions(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """``model(x).argmax(dim=1)`` in evaluation mode without autograd; the model's mode is restored."""
    was_training = model.training
    model.eval()
    with torch.no_grad():
        predictions = model(x).argmax(dim=1)
    model.train(was_training)
    if isinstance(model, RecordingClassifier):
        model.grad_enabled.clear()
        model.input_devices.clear()
    return predictions


def state_of(model: nn.Module) -> dict[str, torch.Tensor]:
    """A copy of every parameter and buffer of ``model``, by name."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def parameter_grads(model: nn.Module) -> list[torch.Tensor | None]:
    """Each parameter's ``.grad`` (None where there is none)."""
    return [p.grad for p in model.parameters()]


def module_summary(model: nn.Module) -> dict[str, object]:
    """The model's class name, its layers as printed, mode, parameter count and requires_grad flags."""
    return {
        "class": type(model).__name__,
        "layers": [repr(child) for child in model.children()],
        "training mode": model.training,
        "number of parameters": sum(p.numel() for p in model.parameters()),
        "every parameter requires grad": all(p.requires_grad for p in model.parameters()),
    }
