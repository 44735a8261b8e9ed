"""Exercise 04: optimizers, a validation split and switching gradients off.

What you learn: let ``torch.optim`` update the parameters instead of writing the update by hand,
split the readings into a training and a validation set, watch both losses, and compute what
needs no gradient under ``torch.no_grad()`` / ``torch.set_grad_enabled()``. You also standardize
inputs with statistics taken from the training set only.

Follows "Deep Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning 2020; DLwPT below),
sections 5.5.2 "Optimizers a la carte", 5.5.3 "Training, validation, and overfitting" and 5.5.4
"Autograd nits and switching it off" (``no_grad`` / ``set_grad_enabled``), with the input
normalization of 5.4.4.

Throughout, the model is the temperature model of ex02: ``t_p = w * t_u + b`` with
``params = [w, b]``, and the loss is the mean squared error ``((t_p - t_c) ** 2).mean()``.

How to work: fill in each function, then run ``grade check ex04``.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch
from torch import optim


def make_optimizer(params: Iterable[torch.Tensor], name: str, lr: float) -> optim.Optimizer:
    """Create the optimizer called ``name`` over ``params``.

    An optimizer owns the update rule: after ``loss.backward()`` has filled every ``.grad``,
    ``optimizer.step()`` changes the parameters and ``optimizer.zero_grad()`` clears the
    gradients for the next epoch. Picking it by name lets you swap the rule without touching
    the training loop.

    Args:
        params: the tensors to optimize, e.g. ``[params]`` with ``params`` a (2,) float32 leaf
            tensor that requires grad, or ``model.parameters()``.
        name: ``"sgd"`` for ``torch.optim.SGD`` or ``"adam"`` for ``torch.optim.Adam``
            (upper or lower case).
        lr: the learning rate, e.g. ``1e-2``.

    Returns:
        A ``torch.optim.SGD`` or ``torch.optim.Adam`` over ``params`` with learning rate ``lr``
        (all other settings at their defaults).

    Raises:
        ValueError: if ``name`` is neither ``"sgd"`` nor ``"adam"``; the message lists both.

    Example:
        >>> params = torch.tensor([1.0, 0.0], requires_grad=True)
        >>> type(make_optimizer([params], "sgd", lr=1e-2)).__name__
        'SGD'
        >>> make_optimizer([params], "Adam", lr=1e-1).param_groups[0]["lr"]
        0.1
        >>> make_optimizer([params], "rmsprop", lr=1e-2)
        Traceback (most recent call last):
        ...
        ValueError: unknown optimizer 'rmsprop': choose one of 'sgd', 'adam'

    Hint: DLwPT 5.5.2 lists the classes with ``dir(optim)``; both take the parameters first
    and the learning rate as ``lr=``.
    """
    key = name.lower()
    if key == "sgd":
        return optim.SGD(params, lr=lr)
    if key == "adam":
        return optim.Adam(params, lr=lr)
    raise ValueError(f"unknown optimizer {name!r}: choose one of 'sgd', 'adam'")


def training_loop(
    n_epochs: int,
    optimizer: optim.Optimizer,
    params: torch.Tensor,
    t_u: torch.Tensor,
    t_c: torch.Tensor,
) -> torch.Tensor:
    """Train the temperature model with an optimizer for ``n_epochs`` full-batch epochs.

    The loop of ex03 again, but the optimizer does the bookkeeping: each epoch runs the model
    ``t_p = w * t_u + b``, computes the mean squared error against ``t_c``, then calls
    ``optimizer.zero_grad()``, ``loss.backward()`` and ``optimizer.step()``.

    Args:
        n_epochs: number of epochs (0 leaves ``params`` unchanged).
        optimizer: an optimizer built over ``[params]`` (for example by ``make_optimizer``).
        params: (2,) float32 leaf tensor ``[w, b]`` with ``requires_grad=True``; it is updated
            in place by the optimizer.
        t_u: (N,) float32 readings in the unknown unit.
        t_c: (N,) float32 readings in Celsius.

    Returns:
        The same ``params`` tensor object after training, (2,) float32.

    Example:
        >>> t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])
        >>> t_u = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
        >>> params = torch.tensor([1.0, 0.0], requires_grad=True)
        >>> optimizer = make_optimizer([params], "sgd", lr=1e-2)
        >>> training_loop(5000, optimizer, params, t_u * 0.1, t_c)
        tensor([  5.3671, -17.3012], requires_grad=True)

    Hint: the optimizer only reads ``params.grad``; ``backward()`` fills it by *adding* to what
    is there, so clear it with ``optimizer.zero_grad()`` before every ``backward()``.
    """
    for _ in range(n_epochs):
        t_p = params[0] * t_u + params[1]
        loss = ((t_p - t_c) ** 2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return params


def split_indices(
    n_samples: int, val_fraction: float, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Shuffle ``0 .. n_samples - 1`` and split the indices into training and validation parts.

    A model is judged on data it was not trained on. Shuffling first makes the two parts
    look alike; holding out a fraction gives a validation set whose loss tells you whether
    the model generalizes or only memorizes.

    Exactly: ``shuffled = torch.randperm(n_samples, generator=generator)``, then
    ``n_val = int(val_fraction * n_samples)`` but at least 1; the validation indices are the
    *last* ``n_val`` entries of ``shuffled`` and the training indices all the others, in
    that order.

    Args:
        n_samples: number of samples N, at least 1.
        val_fraction: fraction of the samples for validation, e.g. ``0.2``.
        generator: optional CPU ``torch.Generator`` that makes the shuffle reproducible.

    Returns:
        ``(train_idx, val_idx)``: int64 tensors of shapes (N - n_val,) and (n_val,), together
        a permutation of ``0 .. N - 1``.

    Example:
        >>> train_idx, val_idx = split_indices(11, 0.2, torch.Generator().manual_seed(0))
        >>> train_idx.shape, val_idx.shape
        (torch.Size([9]), torch.Size([2]))
        >>> sorted(torch.cat([train_idx, val_idx]).tolist()) == list(range(11))
        True
        >>> split_indices(3, 0.1)[1].shape  # int(0.3) is 0, but at least one is kept
        torch.Size([1])

    Hint: DLwPT 5.5.3 slices ``shuffled_indices[:-n_val]`` and ``shuffled_indices[-n_val:]``.
    """
    shuffled = torch.randperm(n_samples, generator=generator)
    n_val = max(1, int(val_fraction * n_samples))
    return shuffled[:-n_val], shuffled[-n_val:]


def training_loop_val(
    n_epochs: int,
    optimizer: optim.Optimizer,
    params: torch.Tensor,
    train_t_u: torch.Tensor,
    val_t_u: torch.Tensor,
    train_t_c: torch.Tensor,
    val_t_c: torch.Tensor,
) -> tuple[torch.Tensor, list[float], list[float]]:
    """Train on the training set only and record the training and validation losses.

    Each epoch: compute the training loss (with gradients); compute the validation loss
    under ``torch.no_grad()`` (no graph is built, nothing can leak into ``params.grad``);
    then ``optimizer.zero_grad()``, ``train_loss.backward()``, ``optimizer.step()``. Both
    losses of an epoch are measured with the parameters from *before* that epoch's step.
    A validation loss that rises while the training loss falls is the sign of overfitting.

    Args:
        n_epochs: number of epochs.
        optimizer: an optimizer built over ``[params]``.
        params: (2,) float32 leaf tensor ``[w, b]`` with ``requires_grad=True``, updated in
            place.
        train_t_u: (N_train,) float32 training inputs.
        val_t_u: (N_val,) float32 validation inputs.
        train_t_c: (N_train,) float32 training targets in Celsius.
        val_t_c: (N_val,) float32 validation targets in Celsius.

    Returns:
        ``(params, train_losses, val_losses)``: the same ``params`` tensor after training,
        and two lists of ``n_epochs`` Python floats, the losses of each epoch.

    Example:
        >>> t_u = torch.tensor([3.57, 5.59, 5.82, 8.19, 5.63, 4.89, 3.39, 2.18, 4.84, 6.04])
        >>> t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0])
        >>> params = torch.tensor([1.0, 0.0], requires_grad=True)
        >>> optimizer = make_optimizer([params], "sgd", lr=1e-2)
        >>> params, train_losses, val_losses = training_loop_val(
        ...     3, optimizer, params, t_u[:8], t_u[8:], t_c[:8], t_c[8:])
        >>> [round(loss, 2) for loss in train_losses]
        [79.21, 42.7, 35.52]
        >>> [round(loss, 2) for loss in val_losses]
        [24.89, 6.15, 7.8]

    Hint: call ``backward()`` on the training loss only; the validation loss is for watching.
    """
    train_losses: list[float] = []
    val_losses: list[float] = []
    for _ in range(n_epochs):
        train_t_p = params[0] * train_t_u + params[1]
        train_loss = ((train_t_p - train_t_c) ** 2).mean()
        with torch.no_grad():
            val_t_p = params[0] * val_t_u + params[1]
            val_loss = ((val_t_p - val_t_c) ** 2).mean()
            assert val_loss.requires_grad is False
        optimizer.zero_grad()
        train_loss.backward()
        optimizer.step()
        train_losses.append(train_loss.item())
        val_losses.append(val_loss.item())
    return params, train_losses, val_losses


def calc_forward(params: torch.Tensor, t_u: torch.Tensor, t_c: torch.Tensor, is_train: bool) -> torch.Tensor:
    """Loss of the temperature model, with gradient tracking switched on only for training.

    ``torch.set_grad_enabled(flag)`` is ``no_grad`` with a switch: one function serves both
    the training step (graph needed) and the validation step (no graph, less memory).

    Args:
        params: (2,) float32 (or float64) tensor ``[w, b]``, usually a leaf with
            ``requires_grad=True``.
        t_u: (N,) inputs with the dtype of ``params``.
        t_c: (N,) targets in Celsius with the dtype of ``params``.
        is_train: ``True`` to build the autograd graph, ``False`` to compute without it.

    Returns:
        0-d mean squared error of ``w * t_u + b`` against ``t_c``, with the dtype of
        ``params`` (do not convert it). It requires grad exactly when ``is_train`` is
        ``True`` and ``params`` requires grad.

    Example:
        >>> params = torch.tensor([1.0, 0.0], requires_grad=True)
        >>> t_u = torch.tensor([1.0, 2.0])
        >>> t_c = torch.tensor([2.0, 4.0])
        >>> calc_forward(params, t_u, t_c, True)  # doctest: +ELLIPSIS
        tensor(2.5000, grad_fn=<...>)
        >>> calc_forward(params, t_u, t_c, False)
        tensor(2.5000)

    Hint: compute the prediction *and* the loss inside ``with torch.set_grad_enabled(...)``.
    """
    with torch.set_grad_enabled(is_train):
        t_p = params[0] * t_u + params[1]
        return ((t_p - t_c) ** 2).mean()


def standardize(train: torch.Tensor, other: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Scale ``train`` and ``other`` with the mean and standard deviation of ``train``.

    Inputs around zero with spread one make gradient descent behave (DLwPT 5.4.4 multiplies
    ``t_u`` by 0.1 for the same reason). The statistics come from the training data only, and
    the *same* numbers are applied to the validation or test data: looking at the held-out data
    to choose them would leak information.

    Args:
        train: training tensor of any shape, e.g. (N_train,) or (N_train, 1), with at least two
            elements; integer tensors are treated as float32.
        other: tensor of any shape (validation or test data) on the same device.

    Returns:
        ``(train_n, other_n)``: ``(train - mean) / std`` and ``(other - mean) / std``, same shapes
        as the inputs, where ``mean`` and ``std`` are the mean and the unbiased standard
        deviation of *all* elements of ``train`` (0-d).

    Example:
        >>> train_n, other_n = standardize(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([5.0]))
        >>> train_n
        tensor([-1.,  0.,  1.])
        >>> other_n
        tensor([3.])

    Hint: ``Tensor.std()`` is already the unbiased estimate (it divides by N - 1).
    """
    if not train.is_floating_point():
        train = train.float()
    mean, std = train.mean(), train.std()
    return (train - mean) / std, (other - mean) / std
