"""Exercise 05: ``torch.nn`` modules, ``nn.Sequential`` and fitting curves.

What you learn: replace the hand-written ``w * t_u + b`` by ``nn.Linear``, stack layers and
activations into a small network with ``nn.Sequential`` (named layers with an ``OrderedDict``),
update all of a module's parameters by hand under ``torch.no_grad()``, write a reusable training
loop with a validation loss, and fit a sine curve with a two-hidden-layer network.

Follows "Deep Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning 2020; DLwPT below),
chapter 6 "Using a neural network to fit the data": the linear model with ``torch.nn`` (6.2) and the
first neural network, an ``nn.Sequential`` with named layers (6.3). The sine-wave fit is the problem
of PyTorch's own tutorial "Learning PyTorch with Examples" (pytorch.org/tutorials), solved here with
a small ``Tanh`` network.

Shapes: ``nn`` modules expect a batch dimension first, so N scalar readings are a (N, 1) tensor,
not (N,).

How to work: fill in each function, then run ``grade check ex05``.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn


def make_linear_model() -> nn.Linear:
    """Build the temperature model as a module: one input feature, one output feature.

    ``nn.Linear(1, 1)`` holds ``weight`` (1, 1) and ``bias`` (1,) as parameters (randomly
    initialized) and computes ``x @ weight.T + bias``: the ``w * t_u + b`` of ex02 for a batch.

    Returns:
        A new ``nn.Linear`` with ``in_features=1`` and ``out_features=1`` (float32, on the CPU);
        it maps a (N, 1) input to a (N, 1) output.

    Example:
        >>> model = make_linear_model()
        >>> model.weight.shape, model.bias.shape
        (torch.Size([1, 1]), torch.Size([1]))
        >>> model(torch.ones(4, 1)).shape
        torch.Size([4, 1])
    """
    raise NotImplementedError(
        "ex05.make_linear_model is not implemented yet: see its docstring, "
        "then run `grade check ex05.make_linear_model`"
    )


def make_mlp(n_hidden: int = 13) -> nn.Sequential:
    """Build the small neural network of DLwPT 6.3 with named layers.

    A linear model can only draw straight lines. One hidden layer of ``n_hidden`` units with a
    ``Tanh`` activation can bend. Naming the layers makes the model readable:
    ``model.hidden.weight`` instead of ``model[0].weight``.

    Returns an ``nn.Sequential`` built from an ordered dict of three layers, in this order:
    ``"hidden"``: ``nn.Linear(1, n_hidden)``; ``"hidden_activation"``: ``nn.Tanh()``;
    ``"output"``: ``nn.Linear(n_hidden, 1)``.

    Args:
        n_hidden: number of hidden units, at least 1.

    Returns:
        The ``nn.Sequential`` (float32, on the CPU); it maps a (N, 1) input to a (N, 1) output.

    Example:
        >>> model = make_mlp(8)
        >>> [name for name, _ in model.named_children()]
        ['hidden', 'hidden_activation', 'output']
        >>> model.hidden.weight.shape, model.output.weight.shape
        (torch.Size([8, 1]), torch.Size([1, 8]))
        >>> model(torch.zeros(5, 1)).shape
        torch.Size([5, 1])

    Hint: ``nn.Sequential`` accepts a ``collections.OrderedDict`` of ``(name, module)`` pairs.
    """
    raise NotImplementedError(
        "ex05.make_mlp is not implemented yet: see its docstring, then run `grade check ex05.make_mlp`"
    )


def sgd_step(model: nn.Module, learning_rate: float) -> None:
    """One plain gradient-descent step on every parameter of ``model``, then clear the grads.

    This is what ``torch.optim.SGD`` does for you, written by hand: after ``loss.backward()``
    each parameter ``p`` has a gradient ``p.grad``, and ``p -= learning_rate * p.grad`` moves
    it downhill. The update must not be recorded by autograd, and the gradients must be
    cleared afterwards because ``backward()`` adds to them.

    Args:
        model: any module whose parameters' ``.grad`` were filled by a backward pass;
            parameters whose ``.grad`` is ``None`` are left unchanged.
        learning_rate: step size, e.g. ``0.05``.

    Returns:
        None. The parameters are updated in place (same tensor objects, same device), and the
        model's gradients are cleared with ``model.zero_grad()``.

    Example:
        >>> model = nn.Linear(1, 1)
        >>> with torch.no_grad():
        ...     _ = model.weight.fill_(1.0), model.bias.fill_(0.0)
        >>> loss = ((model(torch.tensor([[2.0]])) - 3.0) ** 2).mean()
        >>> loss.backward()  # d loss / d weight = 2 * (2 - 3) * 2 = -4, d loss / d bias = -2
        >>> sgd_step(model, 0.1)
        >>> round(model.weight.item(), 4), round(model.bias.item(), 4)
        (1.4, 0.2)
        >>> model.weight.grad is None or bool((model.weight.grad == 0).all())
        True

    Hint: loop over ``model.parameters()`` inside ``with torch.no_grad():`` and update in place
    (``-=``), as ex03's ``training_loop`` does for ``params``.
    """
    raise NotImplementedError(
        "ex05.sgd_step is not implemented yet: see its docstring, then run `grade check ex05.sgd_step`"
    )


def training_loop(
    n_epochs: int,
    optimizer: torch.optim.Optimizer,
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    t_u_train: torch.Tensor,
    t_u_val: torch.Tensor,
    t_c_train: torch.Tensor,
    t_c_val: torch.Tensor,
) -> tuple[list[float], list[float]]:
    """Train any module full-batch and record the training and validation losses.

    The same loop works for ``make_linear_model()``, ``make_mlp()`` or any other model: only
    the module and the loss function change. Each epoch: training loss
    ``loss_fn(model(t_u_train), t_c_train)``; validation loss under ``torch.no_grad()``; then
    ``optimizer.zero_grad()``, ``backward()`` on the training loss, ``optimizer.step()``. Both
    losses of an epoch are measured with the parameters from *before* that epoch's step.

    Args:
        n_epochs: number of epochs.
        optimizer: an optimizer over ``model.parameters()``.
        model: the module to train (in place); maps (N, 1) float32 to (N, 1) float32.
        loss_fn: takes ``(prediction, target)`` and returns a 0-d loss, e.g. ``nn.MSELoss()``.
        t_u_train: (N_train, 1) float32 training inputs.
        t_u_val: (N_val, 1) float32 validation inputs.
        t_c_train: (N_train, 1) float32 training targets.
        t_c_val: (N_val, 1) float32 validation targets.

    Returns:
        ``(train_losses, val_losses)``: two lists of ``n_epochs`` Python floats.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = make_linear_model()
        >>> optimizer = torch.optim.SGD(model.parameters(), lr=1e-2)
        >>> x = torch.tensor([[-1.0], [0.0], [1.0], [2.0]])
        >>> train_losses, val_losses = training_loop(
        ...     100, optimizer, model, nn.MSELoss(), x[:3], x[3:], 2 * x[:3] + 1, 2 * x[3:] + 1)
        >>> len(train_losses), len(val_losses)
        (100, 100)
        >>> train_losses[-1] < train_losses[0], val_losses[-1] < val_losses[0]
        (True, True)

    Hint: it is ex04's ``training_loop_val`` with ``model(t_u)`` in place of ``w * t_u + b``.
    """
    raise NotImplementedError(
        "ex05.training_loop is not implemented yet: see its docstring, then run `grade check ex05.training_loop`"
    )


def make_sine_data(n: int = 1000) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one period of the sine wave as a column of inputs and targets.

    Args:
        n: number of points, at least 1.

    Returns:
        ``(x, y)``, both (n, 1) float32: ``x`` holds ``n`` evenly spaced values from ``-pi``
        to ``pi`` (both included), and ``y = sin(x)``.

    Example:
        >>> x, y = make_sine_data(5)
        >>> x.shape, y.dtype
        (torch.Size([5, 1]), torch.float32)
        >>> x.squeeze(1)
        tensor([-3.1416, -1.5708,  0.0000,  1.5708,  3.1416])
        >>> torch.equal(y, torch.sin(x))
        True

    Hint: ``torch.linspace`` gives the points; ``unsqueeze(1)`` turns (n,) into (n, 1).
    """
    raise NotImplementedError(
        "ex05.make_sine_data is not implemented yet: see its docstring, then run `grade check ex05.make_sine_data`"
    )


def fit_curve(x: torch.Tensor, y: torch.Tensor, epochs: int, learning_rate: float, seed: int = 0) -> nn.Sequential:
    """Fit ``y`` as a function of ``x`` with a 1-32-32-1 Tanh network and hand-written SGD.

    Two hidden layers of 32 ``Tanh`` units can follow a smooth curve such as a sine. The
    recipe, exactly (so that the result is reproducible): ``torch.manual_seed(seed)``; build
    ``nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
    nn.Linear(32, 1))`` and move it to ``x``'s device; then for each of ``epochs`` epochs on
    the full batch: prediction, ``nn.MSELoss()`` against ``y``, ``backward()``, and
    ``sgd_step(model, learning_rate)``.

    Args:
        x: (N, 1) float32 inputs, e.g. from ``make_sine_data``.
        y: (N, 1) float32 targets on the same device.
        epochs: number of full-batch updates, e.g. 1000.
        learning_rate: SGD step size, e.g. 0.05.
        seed: seed for the initial weights.

    Returns:
        The trained ``nn.Sequential`` (five layers as above), on ``x``'s device.

    Example:
        >>> x, y = make_sine_data(200)
        >>> model = fit_curve(x, y, epochs=1000, learning_rate=0.05)
        >>> nn.functional.mse_loss(model(x), y).item() < 0.01
        True

    Hint: a full-batch training loop like ex03's, with your ``sgd_step`` doing the update.
    """
    raise NotImplementedError(
        "ex05.fit_curve is not implemented yet: see its docstring, then run `grade check ex05.fit_curve`"
    )
