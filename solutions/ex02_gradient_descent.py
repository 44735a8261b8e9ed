"""Gradient descent by hand: the temperature model with hand-written gradients.

You learn how a model is fitted before any magic is involved: a linear model
``t_p = w * t_u + b`` that converts readings of an unknown thermometer (``t_u``)
into degrees Celsius (``t_c``), the mean squared error as its loss, the chain
rule written out as small derivative functions, and a training loop that
follows the negative gradient. No autograd is used anywhere in this module.

Follows "Deep Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning 2020;
DLwPT below), chapter 5 "The mechanics of learning": the temperature data (5.2), the
linear model and its loss (5.3), gradient descent with derivatives written by hand
(5.4) and normalizing the input (5.4.4).

How to work: fill in each function, then run ``grade check ex02``
(or one item at a time, e.g. ``grade check ex02.grad_fn``).
"""

from __future__ import annotations

import torch


def load_temperatures() -> tuple[torch.Tensor, torch.Tensor]:
    """Return the 11 thermometer readings of DLwPT 5.2 as two tensors.

    The same 11 moments were measured twice: once in degrees Celsius (``t_c``)
    and once with a thermometer of unknown unit (``t_u``). The rest of the
    module learns how to convert one into the other.

    The readings, in this order:

    - t_c = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
    - t_u = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]

    Returns:
        A tuple ``(t_c, t_u)`` of two new (11,) float32 tensors on the CPU.

    Example:
        >>> t_c, t_u = load_temperatures()
        >>> t_c.shape, t_u.dtype
        (torch.Size([11]), torch.float32)
        >>> float(t_u[0])
        35.70000076293945

    Hint:
        ``torch.tensor`` turns a Python list into a tensor; Python floats
        become float32 by default.
    """
    t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])
    t_u = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
    return t_c, t_u


def model(t_u: torch.Tensor, w: torch.Tensor | float, b: torch.Tensor | float) -> torch.Tensor:
    """Predict Celsius temperatures with the linear model ``w * t_u + b``.

    ``w`` (the weight) scales the unknown unit and ``b`` (the bias) shifts it;
    training searches for the ``w`` and ``b`` that make the predictions match
    ``t_c``.

    Args:
        t_u: (N,) float tensor of readings in the unknown unit.
        w: the weight, a 0-d float tensor (or a Python float).
        b: the bias, a 0-d float tensor (or a Python float).

    Returns:
        (N,) float tensor ``t_p`` of predicted temperatures, on ``t_u``'s device.

    Example:
        >>> model(torch.tensor([1.0, 2.0, 3.0]), torch.tensor(2.0), torch.tensor(0.5))
        tensor([2.5000, 4.5000, 6.5000])

    Hint:
        Broadcasting applies a 0-d ``w`` and ``b`` to every element of ``t_u``.
    """
    return w * t_u + b


def loss_fn(t_p: torch.Tensor, t_c: torch.Tensor) -> torch.Tensor:
    """Mean squared error between predictions and true temperatures.

    The loss is one number that says how wrong the model is: the average of
    the squared differences ``(t_p - t_c) ** 2``. Squaring makes every error
    positive and punishes large errors more than small ones.

    Args:
        t_p: (N,) float tensor of predictions.
        t_c: (N,) float tensor of true temperatures, same dtype and device.

    Returns:
        0-d float tensor (same dtype and device as ``t_p``): the mean of the
        squared differences.

    Example:
        >>> t_c, t_u = load_temperatures()
        >>> loss_fn(model(t_u, torch.ones(()), torch.zeros(())), t_c)
        tensor(1763.8848)

    Hint:
        Square the element-wise differences, then average them with ``.mean()``.
    """
    squared_diffs = (t_p - t_c) ** 2
    return squared_diffs.mean()


def dloss_fn(t_p: torch.Tensor, t_c: torch.Tensor) -> torch.Tensor:
    """Derivative of the mean squared error with respect to each prediction.

    For ``L = mean((t_p - t_c) ** 2)`` over N samples, each prediction's share
    of the gradient is ``dL/dt_p[i] = 2 * (t_p[i] - t_c[i]) / N``. Do not forget
    the ``/ N`` that comes from the mean.

    Args:
        t_p: (N,) float tensor of predictions.
        t_c: (N,) float tensor of true temperatures.

    Returns:
        (N,) float tensor: ``2 * (t_p - t_c) / N``, one value per sample.

    Example:
        >>> dloss_fn(torch.tensor([1.0, 4.0]), torch.tensor([0.0, 0.0]))
        tensor([1., 4.])

    Hint:
        N is the size of the first dimension, ``t_p.size(0)``.
    """
    return 2 * (t_p - t_c) / t_p.size(0)


def dmodel_dw(t_u: torch.Tensor, w: torch.Tensor | float, b: torch.Tensor | float) -> torch.Tensor:
    """Derivative of the model ``w * t_u + b`` with respect to ``w``.

    The model is linear in ``w``, so ``d t_p[i] / d w = t_u[i]``: the readings
    themselves. ``w`` and ``b`` are accepted so that all derivative functions
    share one signature, even though the result does not depend on them.

    Args:
        t_u: (N,) float tensor of readings in the unknown unit.
        w: the weight, a 0-d float tensor (or a Python float); unused.
        b: the bias, a 0-d float tensor (or a Python float); unused.

    Returns:
        (N,) float tensor equal to ``t_u``.

    Example:
        >>> dmodel_dw(torch.tensor([35.7, 55.9]), torch.tensor(1.0), torch.tensor(0.0))
        tensor([35.7000, 55.9000])

    Hint:
        Differentiate ``w * t_u + b`` treating ``t_u`` and ``b`` as constants.
    """
    return t_u


def dmodel_db(t_u: torch.Tensor, w: torch.Tensor | float, b: torch.Tensor | float) -> float:
    """Derivative of the model ``w * t_u + b`` with respect to ``b``.

    Changing ``b`` by some amount changes every prediction by the same amount,
    so the derivative is the constant 1 for every sample. As in DLwPT 5.4, a
    plain Python ``1.0`` is enough: broadcasting spreads it over the samples.

    Args:
        t_u: (N,) float tensor of readings in the unknown unit; unused.
        w: the weight, a 0-d float tensor (or a Python float); unused.
        b: the bias, a 0-d float tensor (or a Python float); unused.

    Returns:
        The Python float ``1.0``.

    Example:
        >>> dmodel_db(torch.tensor([35.7, 55.9]), torch.tensor(1.0), torch.tensor(0.0))
        1.0

    Hint:
        Differentiate ``w * t_u + b`` treating ``t_u`` and ``w`` as constants.
    """
    return 1.0


def grad_fn(
    t_u: torch.Tensor,
    t_c: torch.Tensor,
    t_p: torch.Tensor,
    w: torch.Tensor | float,
    b: torch.Tensor | float,
) -> torch.Tensor:
    """Gradient of the loss with respect to the parameters, by the chain rule.

    The chain rule gives, per sample, ``dL/dw = dL/dt_p * dt_p/dw`` and
    ``dL/db = dL/dt_p * dt_p/db``. Every sample contributes to the loss, so the
    gradient of each parameter is the sum of those per-sample products. Use
    ``dloss_fn``, ``dmodel_dw`` and ``dmodel_db``; do not use autograd
    (``backward`` or ``torch.autograd.grad``).

    Args:
        t_u: (N,) float tensor of readings in the unknown unit.
        t_c: (N,) float tensor of true temperatures.
        t_p: (N,) float tensor of predictions, ``model(t_u, w, b)``.
        w: the weight, a 0-d float tensor (or a Python float).
        b: the bias, a 0-d float tensor (or a Python float).

    Returns:
        (2,) float tensor ``[dL/dw, dL/db]`` on ``t_u``'s device.

    Example:
        >>> t_c, t_u = load_temperatures()
        >>> w, b = torch.ones(()), torch.zeros(())
        >>> grad_fn(t_u, t_c, model(t_u, w, b), w, b)
        tensor([4517.2964,   82.6000])

    Hint:
        Multiply ``dloss_fn`` by each model derivative, ``.sum()`` each product
        over the samples, and ``torch.stack`` the two 0-d results.
    """
    dloss_dtp = dloss_fn(t_p, t_c)
    dloss_dw = dloss_dtp * dmodel_dw(t_u, w, b)
    dloss_db = dloss_dtp * dmodel_db(t_u, w, b)
    return torch.stack([dloss_dw.sum(), dloss_db.sum()])


def training_loop(
    n_epochs: int,
    learning_rate: float,
    params: torch.Tensor,
    t_u: torch.Tensor,
    t_c: torch.Tensor,
) -> torch.Tensor:
    """Fit ``w`` and ``b`` with plain gradient descent, without autograd.

    Each epoch: unpack ``w, b = params``, predict with ``model``, compute the
    gradient with ``grad_fn`` and take one step downhill:
    ``params = params - learning_rate * grad``. The input ``params`` must not be
    modified; build a new tensor each step instead.

    With the raw readings the gradient for ``w`` is about 50 times larger than
    the one for ``b``, so one learning rate cannot suit both; scaling the input
    (``t_u * 0.1``) fixes that, as DLwPT 5.4.4 shows.

    Args:
        n_epochs: number of gradient steps (>= 0; 0 returns ``params`` as given).
        learning_rate: step size, e.g. ``1e-2``.
        params: (2,) float tensor ``[w, b]`` to start from.
        t_u: (N,) float tensor of inputs (readings, possibly scaled).
        t_c: (N,) float tensor of true temperatures.

    Returns:
        (2,) float tensor ``[w, b]`` after ``n_epochs`` steps, on ``params``'s
        device.

    Example:
        >>> t_c, t_u = load_temperatures()
        >>> params = training_loop(5000, 1e-2, torch.tensor([1.0, 0.0]), t_u * 0.1, t_c)
        >>> [round(float(p), 3) for p in params]
        [5.367, -17.301]
        >>> round(float(loss_fn(model(t_u * 0.1, *params), t_c)), 4)
        2.9276

    Hint:
        The loop of DLwPT 5.4 is five lines: unpack, predict, gradient, step,
        and ``return params`` after the loop. A step that adds the gradient climbs
        uphill instead.
    """
    for _ in range(n_epochs):
        w, b = params
        t_p = model(t_u, w, b)
        grad = grad_fn(t_u, t_c, t_p, w, b)
        params = params - learning_rate * grad
    return params
