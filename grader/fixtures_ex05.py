"""Helpers that the ex05 checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker, so it holds no
answer (see :mod:`grader.fixtures`). A model lives where the code under test runs; these helpers
describe it as plain data, or run a backward pass on it there.
"""

from __future__ import annotations

import torch
from torch import nn

from grader.fixtures_ex04 import tracked_operations, watch_autograd

__all__ = ["tracked_operations", "watch_autograd"]


def describe(model: nn.Module) -> dict[str, object]:
    """The class, children, parameter shapes/dtypes/devices and train mode of ``model``, as data."""
    children = [[name, type(child).__name__] for name, child in model.named_children()]
    linear = {}
    for name, module in model.named_modules():
        if isinstance(module, nn.Linear):
            linear[name or "(the model)"] = [module.in_features, module.out_features, module.bias is not None]
    parameters = {
        name: [list(p.shape), str(p.dtype), p.device.type, p.requires_grad] for name, p in model.named_parameters()
    }
    return {"class": type(model).__name__, "children": children, "Linear layers (in, out, bias)": linear,
            "parameters (shape, dtype, device, requires_grad)": parameters, "training": model.training}


def backward_mse(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """One forward pass and ``backward()`` of the mean squared error (fills the parameters' grads)."""
    loss = ((model(x) - y) ** 2).mean()
    loss.backward()
    return loss.item()


def grads(model: nn.Module) -> dict[str, torch.Tensor | None]:
    """Each parameter's ``.grad`` (None when there is none)."""
    return {name: None if p.grad is None else p.grad.detach().clone() for name, p in model.named_parameters()}


def grads_cleared(model: nn.Module) -> bool:
    """True when every gradient is None or all zeros (``zero_grad()`` with or without set_to_none)."""
    return all(p.grad is None or not bool(p.grad.any()) for p in model.parameters())


def tanh_mlp(seed: int, n_hidden: int = 8, dtype: torch.dtype = torch.float32,
             device: str | torch.device = "cpu", freeze_first: bool = False) -> nn.Sequential:
    """An unnamed ``Sequential(Linear(1, n_hidden), Tanh, Linear(n_hidden, 1))`` with weights from ``seed``.

    A model to train, not ``make_mlp``'s answer (that one names its layers). With ``freeze_first``
    the first layer does not require grad (its ``.grad`` stays None).
    """
    torch.manual_seed(seed)
    model = nn.Sequential(nn.Linear(1, n_hidden), nn.Tanh(), nn.Linear(n_hidden, 1)).to(device=device, dtype=dtype)
    if freeze_first:
        model[0].requires_grad_(False)
    return model


def asymmetric_loss(prediction: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """A loss that tells its arguments apart: ``mean((prediction - target) ** 2 * (1 + target ** 2))``."""
    return ((prediction - target) ** 2 * (1 + target**2)).mean()


def mse_of(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> float:
    """The mean squared error of ``model`` on ``(x, y)``, without gradients."""
    with torch.no_grad():
        return nn.functional.mse_loss(model(x), y).item()
