"""Helpers that the ex08 (CNN) checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker, so it holds no
answer (see :mod:`grader.fixtures`). The reference's and the student's models are different code, so
a check never copies weights from one to the other: :func:`seeded_weights` fills every entry of a
model's ``state_dict`` with values derived from the check's seed and the entry's *name*, so two
models get equal weights exactly when their attribute names and shapes match. The other helpers run
a model or a function where it lives and read the results out as plain data (outputs, gradients,
buffers, files).
"""

from __future__ import annotations

import hashlib
import itertools
import tempfile
from collections.abc import Callable
from pathlib import Path

import torch

_SCRATCH: tempfile.TemporaryDirectory | None = None
_COUNTER = itertools.count()


def _name_seed(seed: int, name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"{seed}:{name}".encode()).digest()[:4], "big")


def seeded_weights(model: torch.nn.Module, seed: int, device: str | None = None) -> torch.nn.Module:
    """Fill every floating-point ``state_dict`` entry of ``model`` with values from ``(seed, name)``.

    Weights get ``N(0, 1 / fan_in)``, 1-d parameters (biases, BatchNorm scales and shifts)
    ``N(0, 0.25)`` (some scales negative), ``running_mean`` ``N(0, 0.01)`` and ``running_var``
    ``U(0.5, 1.5)``; ``num_batches_tracked`` becomes 3. Moves the model to ``device`` when given
    and returns it.
    """
    if device is not None:
        model.to(device)
    with torch.no_grad():
        for name, tensor in model.state_dict().items():
            generator = torch.Generator().manual_seed(_name_seed(seed, name))
            if not tensor.is_floating_point():
                tensor.fill_(3)
                continue
            shape = tuple(tensor.shape)
            if name.endswith("running_var"):
                values = torch.rand(shape, generator=generator, dtype=torch.float64) + 0.5
            elif name.endswith("running_mean"):
                values = torch.randn(shape, generator=generator, dtype=torch.float64) * 0.1
            elif tensor.dim() > 1:
                fan_in = max(1, tensor[0].numel())
                values = torch.randn(shape, generator=generator, dtype=torch.float64) / fan_in**0.5
            else:
                values = torch.randn(shape, generator=generator, dtype=torch.float64) * 0.5
            tensor.copy_(values.to(tensor.dtype))
    return model


def state_shapes(model: torch.nn.Module) -> dict[str, tuple[int, ...]]:
    """``{name: shape}`` of every ``state_dict`` entry (parameters and buffers)."""
    return {name: tuple(tensor.shape) for name, tensor in model.state_dict().items()}


def state_of(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """A copy of ``model.state_dict()`` as a plain dict."""
    return {name: tensor.detach().clone() for name, tensor in model.state_dict().items()}


def forward_backward(model: torch.nn.Module, x: torch.Tensor, seed: int) -> dict[str, object]:
    """Run ``model(x)`` after ``torch.manual_seed(seed)`` and back-propagate a seeded projection.

    Returns the output, the gradient with respect to ``x``, every parameter's gradient, the
    buffers after the call (BatchNorm running statistics) and the model's mode.
    """
    for parameter in model.parameters():
        parameter.grad = None
    x = x.detach().clone().requires_grad_(True)
    torch.manual_seed(seed)
    output = model(x)
    projection = torch.randn(tuple(output.shape), generator=torch.Generator().manual_seed(seed))
    (output * projection.to(output.device, output.dtype)).sum().backward()
    return {
        "output": output.detach(),
        "gradient with respect to the input": x.grad,
        "parameter gradients": {name: p.grad for name, p in model.named_parameters()},
        "buffers after the call": {name: b.detach().clone() for name, b in model.named_buffers()},
        "model.training after the call": model.training,
    }


def outputs_without_grad(model: torch.nn.Module, x: torch.Tensor, seeds: list[int]) -> list[torch.Tensor]:
    """``model(x)`` under ``torch.no_grad()``, once after each ``torch.manual_seed(seed)``."""
    outputs = []
    with torch.no_grad():
        for seed in seeds:
            torch.manual_seed(seed)
            outputs.append(model(x))
    return outputs


def penalty_and_gradients(l2_penalty: Callable, model: torch.nn.Module, l2_lambda: float) -> dict[str, object]:
    """Call ``l2_penalty(model, l2_lambda)``, back-propagate it when possible, report value and grads."""
    for parameter in model.parameters():
        parameter.grad = None
    value = l2_penalty(model, l2_lambda)
    differentiable = isinstance(value, torch.Tensor) and value.requires_grad
    if differentiable:
        value.backward()
    return {
        "value": value.detach() if isinstance(value, torch.Tensor) else value,
        "differentiable": differentiable,
        "parameter gradients": {name: p.grad for name, p in model.named_parameters()},
    }


def pick_device_on(pick_device: Callable, cuda: bool, mps: bool) -> object:
    """Call ``pick_device()`` on a simulated machine, then restore torch.

    The simulated machine has one NVIDIA GPU when ``cuda`` and one Apple GPU when ``mps``, and
    every probe of either answers alike, so a student's choice of probe does not matter:
    ``torch.cuda.is_available()``, ``device_count()`` (1 or 0), ``current_device()`` (0),
    ``get_device_name()``, ``torch.backends.cuda.is_built()``; ``torch.backends.mps.is_available()``
    and ``is_built()``, ``torch.mps.is_available()`` and ``device_count()``; and
    ``torch.accelerator.is_available()``, ``device_count()``, ``current_device_index()`` and
    ``current_accelerator()``. Asked for the index or name of a GPU it lacks, it raises the
    RuntimeError that real torch raises. Probes this torch lacks are left out.
    """
    # A torch build has one accelerator; the simulated machine offering both is a CUDA build.
    accelerator = torch.device("cuda") if cuda else torch.device("mps") if mps else None

    def no_gpu(*args: object, **kwargs: object) -> object:
        raise RuntimeError("Found no NVIDIA driver on your system (a simulated machine without a GPU)")

    fakes = {
        (torch.cuda, "is_available"): lambda: cuda,
        (torch.cuda, "device_count"): lambda: int(cuda),
        (torch.cuda, "current_device"): (lambda: 0) if cuda else no_gpu,
        (torch.cuda, "get_device_name"): (lambda device=None: "NVIDIA simulated GPU") if cuda else no_gpu,
        (torch.backends.cuda, "is_built"): lambda: cuda,
        (torch.backends.mps, "is_available"): lambda: mps,
        (torch.backends.mps, "is_built"): lambda: mps,
        (getattr(torch, "mps", None), "is_available"): lambda: mps,
        (getattr(torch, "mps", None), "device_count"): lambda: int(mps),
        (getattr(torch, "accelerator", None), "is_available"): lambda: accelerator is not None,
        (getattr(torch, "accelerator", None), "device_count"): lambda: int(accelerator is not None),
        (getattr(torch, "accelerator", None), "current_device_index"): (lambda: 0) if accelerator is not None else no_gpu,
        (getattr(torch, "accelerator", None), "current_accelerator"): lambda check_available=False: accelerator,
    }
    saved = {(owner, name): getattr(owner, name) for owner, name in fakes if hasattr(owner, name)}
    for (owner, name), fake in fakes.items():
        if (owner, name) in saved:
            setattr(owner, name, fake)
    try:
        return pick_device()
    finally:
        for (owner, name), original in saved.items():
            setattr(owner, name, original)


def scratch_file(suffix: str = ".pt") -> str:
    """A fresh file path in a private folder removed when the process exits."""
    global _SCRATCH
    if _SCRATCH is None:
        _SCRATCH = tempfile.TemporaryDirectory(prefix="grader-ex08-")
    return str(Path(_SCRATCH.name) / f"weights-{next(_COUNTER)}{suffix}")


def weights_file_problem(path: str) -> str | None:
    """None when ``torch.load(path, weights_only=True)`` reads a dict of tensors; else what is wrong."""
    if not Path(path).is_file():
        return f"no file was written at {path}"
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - any failure to read is the observation
        return ("the file cannot be read with torch.load(path, weights_only=True): it holds a pickled "
                "object (the whole model?) instead of model.state_dict()")
    if not isinstance(loaded, dict) or not all(isinstance(t, torch.Tensor) for t in loaded.values()):
        return f"the file holds a {type(loaded).__name__}, not a state_dict (a dict of tensors)"
    return None


def read_weights_file(path: str) -> dict[str, torch.Tensor]:
    """What ``torch.load(path, weights_only=True)`` finds in a file, as a plain dict of CPU tensors."""
    loaded = torch.load(path, map_location="cpu", weights_only=True)
    return {str(name): tensor for name, tensor in loaded.items()}


def same_object(a: object, b: object) -> bool:
    """``a is b`` where the objects live."""
    return a is b


def error_of(function: Callable, *args: object, **kwargs: object) -> str | None:
    """The name of the exception class that ``function(*args, **kwargs)`` raises, or None."""
    try:
        function(*args, **kwargs)
    except NotImplementedError:
        raise
    except Exception as error:  # noqa: BLE001 - the name is the observation
        return type(error).__name__
    return None


def parameter_devices(model: torch.nn.Module) -> list[str]:
    """The device of every ``state_dict`` entry, as strings (``cuda:0``, ``cpu``)."""
    return sorted({str(t.device) for t in model.state_dict().values()})


def set_parameters(model: torch.nn.Module, values: list) -> None:
    """Copy ``values`` (nested lists, one per parameter in order) into the model's parameters."""
    with torch.no_grad():
        for parameter, value in zip(model.parameters(), values, strict=True):
            parameter.copy_(torch.tensor(value, dtype=parameter.dtype))


def to_dtype_and_freeze(model: torch.nn.Module, dtype: torch.dtype, prefix: str) -> None:
    """Convert ``model`` to ``dtype`` and set ``requires_grad=False`` on parameters named ``prefix...``."""
    model.to(dtype)
    for name, parameter in model.named_parameters():
        if name.startswith(prefix):
            parameter.requires_grad_(False)
