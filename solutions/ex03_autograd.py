"""Autograd: letting PyTorch compute the gradients for you.

You learn what ``requires_grad``, ``backward()`` and ``.grad`` do: how a leaf
tensor collects gradients, why gradients accumulate until you zero them, how a
non-scalar output is back-propagated with a weight tensor, why parameter
updates happen under ``torch.no_grad()``, and how to get a tensor that takes
part in a graph (or lives on a GPU) out to NumPy.

Follows "Deep Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning
2020; DLwPT below), section 5.5.1 "Computing the gradient automatically" (the
temperature model trained with ``backward()``), and "Dive into Deep Learning"
(d2l.ai, PyTorch edition; d2l below), section 2.5 "Automatic Differentiation"
(gradients accumulate, backward for non-scalar variables, detaching).

How to work: fill in each function, then run ``grade check ex03``
(or one item at a time, e.g. ``grade check ex03.grad_of``).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch


def training_loop(
    n_epochs: int,
    learning_rate: float,
    params: torch.Tensor,
    t_u: torch.Tensor,
    t_c: torch.Tensor,
) -> torch.Tensor:
    """Fit the temperature model ``w * t_u + b`` with autograd.

    This is the hand-written gradient descent of ex02, but ``loss.backward()``
    now fills ``params.grad`` for you. Each epoch: zero the old gradient (if
    there is one), predict ``t_p = w * t_u + b`` with ``w, b = params``, compute
    the mean squared error, call ``backward()``, then step
    ``params -= learning_rate * params.grad`` in place inside
    ``torch.no_grad()`` so that the update itself is not recorded in the graph.
    This module does not import ex02, so write the model and the loss inline.

    Args:
        n_epochs: number of gradient steps (>= 0).
        learning_rate: step size, e.g. ``1e-2``.
        params: (2,) float leaf tensor ``[w, b]`` with ``requires_grad=True``;
            it is updated in place.
        t_u: (N,) float tensor of inputs (readings, possibly scaled).
        t_c: (N,) float tensor of true temperatures.

    Returns:
        The same ``params`` object (not a copy), now holding the trained
        ``[w, b]`` and still a leaf with ``requires_grad=True``. After at least
        one epoch its ``.grad`` holds the gradient of the last epoch.

    Raises:
        RuntimeError: if ``params`` does not require grad (``backward`` has
            nothing to compute), or if it is not a leaf (in-place update).

    Example:
        >>> t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])
        >>> t_u = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])
        >>> params = torch.tensor([1.0, 0.0], requires_grad=True)
        >>> out = training_loop(5000, 1e-2, params, t_u * 0.1, t_c)
        >>> out is params
        True
        >>> [round(float(p), 3) for p in params.detach()]
        [5.367, -17.301]

    Hint:
        Gradients accumulate: without ``params.grad.zero_()`` every epoch adds
        to the previous gradients. Rebinding ``params = params - ...`` would
        create a new, non-leaf tensor; update in place with ``-=``.
    """
    for _ in range(n_epochs):
        if params.grad is not None:
            params.grad.zero_()
        w, b = params
        t_p = w * t_u + b
        loss = ((t_p - t_c) ** 2).mean()
        loss.backward()
        with torch.no_grad():
            params -= learning_rate * params.grad
    return params


def grad_of(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """Gradient of ``fn(x).sum()`` with respect to ``x``, leaving ``x`` alone.

    ``backward()`` needs a scalar, so sum the output first; the result has one
    entry per element of ``x``. To avoid side effects, work on a detached copy
    of ``x`` that is a fresh leaf requiring grad: the caller's ``x``, its
    ``requires_grad`` flag and its ``.grad`` stay exactly as they were, whether
    or not ``x`` required grad.

    Args:
        fn: a differentiable function of one tensor, e.g. ``lambda t: t ** 2``.
        x: float tensor of any shape (S...), on any device.

    Returns:
        Float tensor of shape (S...), same dtype and device as ``x``:
        ``d fn(x).sum() / d x``.

    Raises:
        RuntimeError: if ``x`` has an integer dtype (only floating point
            tensors can require grad).

    Example:
        >>> grad_of(lambda t: t ** 2, torch.tensor([1.0, 2.0, 3.0]))
        tensor([2., 4., 6.])
        >>> x = torch.ones(2, 3)
        >>> grad_of(lambda t: (3 * t).relu(), x).shape, x.requires_grad, x.grad
        (torch.Size([2, 3]), False, None)

    Hint:
        ``x.detach().clone().requires_grad_(True)`` makes an independent leaf;
        after ``backward()`` its gradient is in ``.grad``.
    """
    leaf = x.detach().clone().requires_grad_(True)
    fn(leaf).sum().backward()
    return leaf.grad


def backward_with_weights(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    weights: torch.Tensor,
) -> torch.Tensor:
    """Back-propagate a non-scalar output with a weight tensor.

    ``y.backward()`` only works on a scalar ``y``. For a non-scalar
    ``y = fn(x)`` you pass a tensor of ``y``'s shape: ``y.backward(weights)``
    computes the gradient of ``(y * weights).sum()`` with respect to ``x``.
    Like ``grad_of``, work on a detached leaf copy so ``x`` is left untouched.

    Args:
        fn: a differentiable function of one tensor.
        x: float tensor of any shape (S...), on any device.
        weights: float tensor with exactly the shape of ``fn(x)``, same dtype
            and device as ``fn(x)``.

    Returns:
        Float tensor of shape (S...), same dtype and device as ``x``:
        ``d (fn(x) * weights).sum() / d x``.

    Raises:
        RuntimeError: if ``weights`` does not have the shape of ``fn(x)``, or
            if ``x`` has an integer dtype.

    Example:
        >>> x = torch.tensor([1.0, 2.0])
        >>> backward_with_weights(lambda t: t ** 2, x, torch.tensor([1.0, 0.5]))
        tensor([2., 2.])

    Hint:
        d2l 2.5 ("Backward for Non-Scalar Variables"): ``y.backward(w)`` means
        "first form ``l = torch.sum(y * w)``, then differentiate ``l``".
    """
    leaf = x.detach().clone().requires_grad_(True)
    y = fn(leaf)
    y.backward(weights)
    return leaf.grad


def accumulated_grad(fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, times: int) -> torch.Tensor:
    """Show that gradients accumulate: call ``backward`` ``times`` times.

    Every ``backward()`` call adds its gradient to ``.grad`` instead of
    replacing it. That is why training loops zero the gradients every step.
    Make a fresh leaf copy of ``x`` (``x`` itself stays untouched), then
    ``times`` times: rebuild ``fn(copy).sum()`` and call ``backward()`` on it,
    without zeroing in between.

    Args:
        fn: a differentiable function of one tensor.
        x: float tensor of any shape (S...), on any device.
        times: how many backward calls to make (>= 1).

    Returns:
        Float tensor of shape (S...), same dtype and device as ``x``: the
        copy's ``.grad``, i.e. ``times`` times the gradient of ``fn(x).sum()``.

    Raises:
        ValueError: if ``times`` is less than 1 (no gradient would exist).

    Example:
        >>> accumulated_grad(lambda t: t * t, torch.tensor([1.0, 2.0]), 3)
        tensor([ 6., 12.])

    Hint:
        A graph is freed after ``backward()``, so compute ``fn(copy).sum()``
        again inside the loop.
    """
    if times < 1:
        raise ValueError(f"times must be at least 1, got {times}")
    leaf = x.detach().clone().requires_grad_(True)
    for _ in range(times):
        fn(leaf).sum().backward()
    return leaf.grad


def fit_line(epochs: int = 1000, learning_rate: float = 0.1, seed: int = 0) -> tuple[float, float]:
    """Learn ``y = 2x + 1`` one random point at a time.

    Start from random ``w`` and ``b`` (two (1,) float32 leaves with
    ``requires_grad=True``). Each epoch draw one ``x`` in [0, 1), set
    ``y = 2 * x + 1``, compute the squared error ``(w * x + b - y) ** 2``, call
    ``backward()``, step ``w`` and ``b`` against their gradients under
    ``torch.no_grad()``, and zero both gradients. All random numbers (first
    ``w``, then ``b``, then one ``x`` per epoch) come from
    ``torch.Generator().manual_seed(seed)``, so the result is reproducible and
    the global random state is not touched.

    Args:
        epochs: number of single-point updates (>= 0).
        learning_rate: step size.
        seed: seed of the ``torch.Generator`` that draws ``w``, ``b`` and every ``x``.

    Returns:
        ``(w, b)`` as Python floats; close to ``(2.0, 1.0)`` with the defaults.

    Example:
        >>> w, b = fit_line()
        >>> abs(w - 2) < 0.01 and abs(b - 1) < 0.01
        True

    Hint:
        Pass ``generator=g`` to every ``torch.rand`` call. ``.item()`` turns a
        one-element tensor into a float.
    """
    g = torch.Generator().manual_seed(seed)
    w = torch.rand(1, generator=g, requires_grad=True)
    b = torch.rand(1, generator=g, requires_grad=True)
    for _ in range(epochs):
        x = torch.rand(1, generator=g)
        y = 2 * x + 1
        loss = (w * x + b - y) ** 2
        loss.backward()
        with torch.no_grad():
            w -= learning_rate * w.grad
            b -= learning_rate * b.grad
        w.grad.zero_()
        b.grad.zero_()
    return w.item(), b.item()


def to_numpy(t: torch.Tensor) -> np.ndarray:
    """Convert any tensor to a NumPy array with the same values.

    ``t.numpy()`` refuses a tensor that requires grad (NumPy cannot track
    gradients) and a tensor on a GPU (NumPy arrays live in CPU memory). Cut the
    tensor out of the graph and bring it to the CPU first. For a CPU tensor the
    result may share memory with ``t``.

    Args:
        t: tensor of any shape (S...) and NumPy-compatible dtype (e.g. float32,
            int64, bool), on any device, with or without ``requires_grad``.

    Returns:
        ``numpy.ndarray`` of shape (S...) with the matching NumPy dtype
        (float32 becomes ``numpy.float32``).

    Example:
        >>> to_numpy(torch.tensor([1.0, 2.0], requires_grad=True))
        array([1., 2.], dtype=float32)

    Hint:
        DLwPT chapter 5 plots ``t_p.detach().numpy()``; add the step that moves
        a tensor to the CPU.
    """
    return t.detach().cpu().numpy()
