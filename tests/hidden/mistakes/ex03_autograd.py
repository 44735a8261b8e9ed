"""Typical mistakes in ex03_autograd, recognised from what the code returns (see grader/mistakes.py).

Each entry is the wrong code a beginner writes; the checks observe the returned value and what the call did to
the caller's tensors (their values, ``requires_grad``, ``.grad``), so a mistake is recognised by both.
"""

from __future__ import annotations

import numpy as np
import torch

from grader.mistakes import Mistakes

mistakes = Mistakes("ex03_autograd")


# ------------------------------------------------------------------ training_loop
_ZERO_AFTER_THE_STEP = ("you zero params.grad after the step: zero it at the start of each epoch instead, so after "
                        "the call .grad holds the last gradient (and an old .grad never leaks in)")


@mistakes.of("training_loop", "you never zero params.grad, so every backward() adds to the old gradients: call "
                              "params.grad.zero_() (if it is not None) at the start of every epoch")
def loop_never_zeroes(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", _ZERO_AFTER_THE_STEP)
def loop_zeroes_after_the_step(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
            params.grad.zero_()
        return params
    return training_loop


@mistakes.of("training_loop", "params may arrive with an old .grad: zero it (if it is not None) before the first "
                              "backward() too, not only from the second epoch on")
def loop_zeroes_from_the_second_epoch(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for epoch in range(n_epochs):
            if epoch > 0:
                params.grad.zero_()
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", "params.grad is None before the first backward(): zero it only "
                              "if params.grad is not None")
def loop_zeroes_a_missing_grad(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            params.grad.zero_()
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", _ZERO_AFTER_THE_STEP)
def loop_clears_the_grad_after_the_step(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
            params.grad = None
        return params
    return training_loop


@mistakes.of("training_loop", "you zero params.grad between backward() and the step, so every step is 0: zero it at "
                              "the start of the epoch, before backward()")
def loop_zeroes_before_the_step(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            params.grad.zero_()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", "you predict (and build the loss) once, before the loop: a graph is freed by backward(), "
                              "so compute t_p and the loss again inside the loop, every epoch")
def loop_forward_once(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        w, b = params
        loss = ((w * t_u + b - t_c) ** 2).mean()
        for _ in range(n_epochs):
            if params.grad is not None:
                params.grad.zero_()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


def _loop_with_step(step):
    """The right loop, with the update written as ``step(params, learning_rate)`` (which returns the new params)."""
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            if params.grad is not None:
                params.grad.zero_()
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            params = step(params, learning_rate)
        return params
    return training_loop


@mistakes.of("training_loop", "you climb the gradient: step downhill with params -= learning_rate * params.grad")
def loop_ascends(reference):
    def step(params, learning_rate):
        with torch.no_grad():
            params += learning_rate * params.grad
        return params
    return _loop_with_step(step)


@mistakes.of("training_loop", "the step ignores the learning rate: params -= learning_rate * params.grad")
def loop_without_learning_rate(reference):
    def step(params, learning_rate):
        with torch.no_grad():
            params -= params.grad
        return params
    return _loop_with_step(step)


@mistakes.of("training_loop", "you update params outside torch.no_grad(): autograd forbids an in-place change of a "
                              "leaf that requires grad; wrap the step in `with torch.no_grad():`")
def loop_steps_outside_no_grad(reference):
    def step(params, learning_rate):
        params -= learning_rate * params.grad
        return params
    return _loop_with_step(step)


_REBIND = ("params = params - ... makes a new tensor (no longer the leaf you were given): update params in place "
           "with params -= learning_rate * params.grad inside torch.no_grad()")


@mistakes.of("training_loop", _REBIND)
def loop_rebinds_params(reference):
    def step(params, learning_rate):
        with torch.no_grad():
            params = params - learning_rate * params.grad
        return params
    return _loop_with_step(step)


@mistakes.of("training_loop", _REBIND)
def loop_rebinds_params_with_requires_grad(reference):
    def step(params, learning_rate):
        with torch.no_grad():
            params = (params - learning_rate * params.grad).requires_grad_()
        return params
    return _loop_with_step(step)


@mistakes.of("training_loop", _REBIND)
def loop_rebinds_params_outside_no_grad(reference):
    def step(params, learning_rate):
        return params - learning_rate * params.grad
    return _loop_with_step(step)


@mistakes.of("training_loop", "you return a copy of params (detach/clone): return the params tensor itself, which "
                              "you updated in place")
def loop_returns_a_copy(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            if params.grad is not None:
                params.grad.zero_()
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params.detach().clone()
    return training_loop


@mistakes.of("training_loop", "your loss sums the squared errors: the mean squared error averages them with "
                              ".mean() (the 1/N is missing)")
def loop_sums_the_loss(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            if params.grad is not None:
                params.grad.zero_()
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).sum()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", "your loss keeps one value per sample and backward() needs a single number: "
                              "average the squared errors with .mean()")
def loop_loss_per_sample(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            if params.grad is not None:
                params.grad.zero_()
            w, b = params
            loss = (w * t_u + b - t_c) ** 2
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", "you unpack b, w = params: params is [w, b], the weight first")
def loop_swaps_w_and_b(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            if params.grad is not None:
                params.grad.zero_()
            b, w = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too few: range(n_epochs) gives exactly n_epochs steps")
def loop_one_epoch_short(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(1, n_epochs):
            if params.grad is not None:
                params.grad.zero_()
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too many: range(n_epochs) gives exactly n_epochs steps")
def loop_one_epoch_long(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs + 1):
            if params.grad is not None:
                params.grad.zero_()
            w, b = params
            loss = ((w * t_u + b - t_c) ** 2).mean()
            loss.backward()
            with torch.no_grad():
                params -= learning_rate * params.grad
        return params
    return training_loop


# ------------------------------------------------------------------ grad_of
_NO_REQUIRES_GRAD = ("your copy does not require grad, so backward() has nothing to differentiate: make it with "
                      "x.detach().clone().requires_grad_(True)")


@mistakes.of("grad_of", "you back-propagate the mean: the gradient wanted is that of fn(x).sum(), so call "
                        ".sum().backward() (the mean divides it by the number of elements)")
def grad_of_the_mean(reference):
    def grad_of(fn, x):
        leaf = x.detach().clone().requires_grad_(True)
        fn(leaf).mean().backward()
        return leaf.grad
    return grad_of


_ON_X = ("you call requires_grad_/backward on the caller's x itself, which changes its flag and its .grad: work on "
         "a copy, leaf = x.detach().clone().requires_grad_(True)")


@mistakes.of("grad_of", _ON_X)
def grad_of_on_x(reference):
    def grad_of(fn, x):
        x.requires_grad_(True)
        fn(x).sum().backward()
        return x.grad
    return grad_of


@mistakes.of("grad_of", _ON_X)
def grad_of_on_x_resetting_its_grad(reference):
    def grad_of(fn, x):
        x.requires_grad_(True)
        x.grad = None
        fn(x).sum().backward()
        return x.grad
    return grad_of


@mistakes.of("grad_of", _ON_X)
def grad_of_on_x_cleaning_up(reference):
    def grad_of(fn, x):
        x.requires_grad_(True)
        x.grad = None
        fn(x).sum().backward()
        grad = x.grad
        x.grad = None
        return grad
    return grad_of


@mistakes.of("grad_of", "x.clone() stays connected to x's graph: detach first, "
                        "x.detach().clone().requires_grad_(True), so the copy is a fresh leaf and x.grad is left alone")
def grad_of_clone_without_detach(reference):
    def grad_of(fn, x):
        leaf = x.clone().requires_grad_(True)
        fn(leaf).sum().backward()
        return leaf.grad
    return grad_of


@mistakes.of("grad_of", "torch.tensor(x.tolist()) makes a float32 copy: x.detach().clone() keeps x's dtype "
                        "(and device)")
def grad_of_through_a_list(reference):
    def grad_of(fn, x):
        leaf = torch.tensor(x.tolist(), requires_grad=True, device=x.device)
        fn(leaf).sum().backward()
        return leaf.grad
    return grad_of


@mistakes.of("grad_of", "backward() needs a single number: call fn(leaf).sum().backward(), not backward() on "
                        "the whole output")
def grad_of_without_the_sum(reference):
    def grad_of(fn, x):
        leaf = x.detach().clone().requires_grad_(True)
        fn(leaf).backward()
        return leaf.grad
    return grad_of


@mistakes.of("grad_of", _NO_REQUIRES_GRAD)
def grad_of_without_requires_grad(reference):
    def grad_of(fn, x):
        leaf = x.detach().clone()
        fn(leaf).sum().backward()
        return leaf.grad
    return grad_of


@mistakes.of("grad_of", "the gradient is in the copy's .grad: return leaf.grad, not x.grad")
def grad_of_returns_x_grad(reference):
    def grad_of(fn, x):
        leaf = x.detach().clone().requires_grad_(True)
        fn(leaf).sum().backward()
        return x.grad
    return grad_of


@mistakes.of("grad_of", "backward(torch.ones_like(x)) needs fn(x)'s shape, not x's: simply call "
                        "fn(leaf).sum().backward()")
def grad_of_with_ones_like_x(reference):
    def grad_of(fn, x):
        leaf = x.detach().clone().requires_grad_(True)
        fn(leaf).backward(torch.ones_like(leaf))
        return leaf.grad
    return grad_of


# ------------------------------------------------------------------ backward_with_weights
@mistakes.of("backward_with_weights", "you ignore the weights: pass them to backward, y.backward(weights), instead of "
                                      "back-propagating y.sum()")
def weighted_ignores_the_weights(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.detach().clone().requires_grad_(True)
        fn(leaf).sum().backward()
        return leaf.grad
    return backward_with_weights


@mistakes.of("backward_with_weights", "you apply the weights twice: y.backward(weights) already weights the "
                                      "gradient, return leaf.grad as it is")
def weighted_twice(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.detach().clone().requires_grad_(True)
        fn(leaf).backward(weights)
        return leaf.grad * weights
    return backward_with_weights


@mistakes.of("backward_with_weights", "you use one number (the weights' mean or sum) for every output: each output "
                                      "gets its own weight, y.backward(weights)")
def weighted_by_the_mean(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.detach().clone().requires_grad_(True)
        (fn(leaf) * weights.mean()).sum().backward()
        return leaf.grad
    return backward_with_weights


@mistakes.of("backward_with_weights", "you use one number (the weights' mean or sum) for every output: each output "
                                      "gets its own weight, y.backward(weights)")
def weighted_by_the_sum(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.detach().clone().requires_grad_(True)
        (fn(leaf) * weights.sum()).sum().backward()
        return leaf.grad
    return backward_with_weights


@mistakes.of("backward_with_weights", "you back-propagate (y * weights).mean(): y.backward(weights) is the gradient "
                                      "of the sum, (y * weights).sum()")
def weighted_mean(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.detach().clone().requires_grad_(True)
        (fn(leaf) * weights).mean().backward()
        return leaf.grad
    return backward_with_weights


_WEIGHTED_ON_X = ("you call requires_grad_/backward on the caller's x itself, which changes its flag and its .grad: "
                  "work on a copy, leaf = x.detach().clone().requires_grad_(True)")


@mistakes.of("backward_with_weights", _WEIGHTED_ON_X)
def weighted_on_x(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.requires_grad_(True)
        fn(leaf).backward(weights)
        return leaf.grad
    return backward_with_weights


@mistakes.of("backward_with_weights", "backward() without an argument needs a single number: pass the weights, "
                                      "y.backward(weights)")
def weighted_without_the_argument(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.detach().clone().requires_grad_(True)
        fn(leaf).backward()
        return leaf.grad
    return backward_with_weights


@mistakes.of("backward_with_weights", _NO_REQUIRES_GRAD)
def weighted_without_requires_grad(reference):
    def backward_with_weights(fn, x, weights):
        leaf = x.detach().clone()
        fn(leaf).backward(weights)
        return leaf.grad
    return backward_with_weights


# ------------------------------------------------------------------ accumulated_grad
@mistakes.of("accumulated_grad", "you get only one call's gradient: backward() adds to the same copy's .grad each "
                                 "time; do not zero it, make a new copy inside the loop, or divide by times")
def accumulated_zeroed_between(reference):
    def accumulated_grad(fn, x, times):
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        leaf = x.detach().clone().requires_grad_(True)
        for _ in range(times):
            leaf.grad = None
            fn(leaf).sum().backward()
        return leaf.grad
    return accumulated_grad


@mistakes.of("accumulated_grad", "your loop calls backward() one time too few: range(times) gives exactly "
                                 "`times` calls")
def accumulated_one_short(reference):
    def accumulated_grad(fn, x, times):
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        leaf = x.detach().clone().requires_grad_(True)
        for _ in range(times - 1):
            fn(leaf).sum().backward()
        return leaf.grad
    return accumulated_grad


@mistakes.of("accumulated_grad", "you accumulate into the caller's x itself, which changes its flag and its .grad: "
                                 "work on a copy, leaf = x.detach().clone().requires_grad_(True)")
def accumulated_on_x(reference):
    def accumulated_grad(fn, x, times):
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        leaf = x.requires_grad_(True)
        for _ in range(times):
            fn(leaf).sum().backward()
        return leaf.grad
    return accumulated_grad


@mistakes.of("accumulated_grad", "times < 1 must raise ValueError (zero backward calls leave no gradient): "
                                 "check it first with `if times < 1: raise ValueError(...)`")
def accumulated_accepts_zero(reference):
    def accumulated_grad(fn, x, times):
        leaf = x.detach().clone().requires_grad_(True)
        for _ in range(times):
            fn(leaf).sum().backward()
        return leaf.grad
    return accumulated_grad


@mistakes.of("accumulated_grad", "a graph is freed after backward(): rebuild fn(leaf).sum() inside the loop for "
                                 "every call (or pass retain_graph=True)")
def accumulated_reuses_the_graph(reference):
    def accumulated_grad(fn, x, times):
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        leaf = x.detach().clone().requires_grad_(True)
        total = fn(leaf).sum()
        for _ in range(times):
            total.backward()
        return leaf.grad
    return accumulated_grad


@mistakes.of("accumulated_grad", _NO_REQUIRES_GRAD)
def accumulated_without_requires_grad(reference):
    def accumulated_grad(fn, x, times):
        if times < 1:
            raise ValueError(f"times must be at least 1, got {times}")
        leaf = x.detach().clone()
        for _ in range(times):
            fn(leaf).sum().backward()
        return leaf.grad
    return accumulated_grad


# ------------------------------------------------------------------ fit_line
def _fit_with_step(step, *, zero=True, result=lambda w, b: (w.item(), b.item())):
    """The right fit_line, with the update written as ``step(w, b, x, y, learning_rate)``."""
    def fit_line(epochs=1000, learning_rate=0.1, seed=0):
        g = torch.Generator().manual_seed(seed)
        w = torch.rand(1, generator=g, requires_grad=True)
        b = torch.rand(1, generator=g, requires_grad=True)
        for _ in range(epochs):
            x = torch.rand(1, generator=g)
            y = 2 * x + 1
            step(w, b, x, y, learning_rate)
            if zero:
                w.grad.zero_()
                b.grad.zero_()
        return result(w, b)
    return fit_line


def _descend(w, b, learning_rate):
    with torch.no_grad():
        w -= learning_rate * w.grad
        b -= learning_rate * b.grad


@mistakes.of("fit_line", "you climb the gradient: step against it, w -= learning_rate * w.grad (and the same for b)")
def fit_ascends(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        with torch.no_grad():
            w += learning_rate * w.grad
            b += learning_rate * b.grad
    return _fit_with_step(step)


@mistakes.of("fit_line", "you never zero w.grad and b.grad, so each backward() adds to the old gradients: zero both "
                         "after every step")
def fit_never_zeroes(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        _descend(w, b, learning_rate)
    return _fit_with_step(step, zero=False)


@mistakes.of("fit_line", "you forgot to square the error: the loss is (w * x + b - y) ** 2")
def fit_without_the_square(reference):
    def step(w, b, x, y, learning_rate):
        (w * x + b - y).backward()
        _descend(w, b, learning_rate)
    return _fit_with_step(step)


@mistakes.of("fit_line", "you use the absolute error: the loss here is the squared error (w * x + b - y) ** 2")
def fit_absolute_error(reference):
    def step(w, b, x, y, learning_rate):
        (w * x + b - y).abs().backward()
        _descend(w, b, learning_rate)
    return _fit_with_step(step)


@mistakes.of("fit_line", "you update only w: step b too, b -= learning_rate * b.grad")
def fit_updates_w_only(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        with torch.no_grad():
            w -= learning_rate * w.grad
    return _fit_with_step(step)


@mistakes.of("fit_line", "you update w and b outside torch.no_grad(): autograd forbids an in-place change of a leaf "
                         "that requires grad; wrap the step in `with torch.no_grad():`")
def fit_steps_outside_no_grad(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        w -= learning_rate * w.grad
        b -= learning_rate * b.grad
    return _fit_with_step(step)


@mistakes.of("fit_line", "you zero w.grad and b.grad between backward() and the step, so every step is 0: zero "
                         "them after the step (or before backward())")
def fit_zeroes_before_the_step(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        w.grad.zero_()
        b.grad.zero_()
        _descend(w, b, learning_rate)
    return _fit_with_step(step)


@mistakes.of("fit_line", "w = w - ... makes a new tensor that is no longer a leaf requiring grad: update in place with "
                         "w -= learning_rate * w.grad (and b) inside torch.no_grad()")
def fit_rebinds_w_and_b(reference):
    def fit_line(epochs=1000, learning_rate=0.1, seed=0):
        g = torch.Generator().manual_seed(seed)
        w = torch.rand(1, generator=g, requires_grad=True)
        b = torch.rand(1, generator=g, requires_grad=True)
        for _ in range(epochs):
            x = torch.rand(1, generator=g)
            y = 2 * x + 1
            ((w * x + b - y) ** 2).backward()
            with torch.no_grad():
                w = w - learning_rate * w.grad
                b = b - learning_rate * b.grad
        return w.item(), b.item()
    return fit_line


@mistakes.of("fit_line", "you ignore the learning_rate argument: step with w -= learning_rate * w.grad")
def fit_ignores_the_learning_rate(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        _descend(w, b, 0.1)
    return _fit_with_step(step)


@mistakes.of("fit_line", "you return tensors: turn each one-element tensor into a Python float with .item()")
def fit_returns_tensors(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        _descend(w, b, learning_rate)
    return _fit_with_step(step, result=lambda w, b: (w, b))


@mistakes.of("fit_line", "you return (b, w): the result is (w, b), the weight first")
def fit_returns_b_w(reference):
    def step(w, b, x, y, learning_rate):
        ((w * x + b - y) ** 2).backward()
        _descend(w, b, learning_rate)
    return _fit_with_step(step, result=lambda w, b: (b.item(), w.item()))


_GLOBAL = ("you use the global random generator (torch.manual_seed / torch.rand without generator=g): draw w, b and "
           "every x from g = torch.Generator().manual_seed(seed), passing generator=g")


@mistakes.of("fit_line", _GLOBAL)
def fit_draws_x_globally(reference):
    def fit_line(epochs=1000, learning_rate=0.1, seed=0):
        g = torch.Generator().manual_seed(seed)
        w = torch.rand(1, generator=g, requires_grad=True)
        b = torch.rand(1, generator=g, requires_grad=True)
        for _ in range(epochs):
            x = torch.rand(1)
            y = 2 * x + 1
            ((w * x + b - y) ** 2).backward()
            _descend(w, b, learning_rate)
            w.grad.zero_()
            b.grad.zero_()
        return w.item(), b.item()
    return fit_line


@mistakes.of("fit_line", _GLOBAL)
def fit_seeds_the_global_generator(reference):
    def fit_line(epochs=1000, learning_rate=0.1, seed=0):
        torch.manual_seed(seed)
        w = torch.rand(1, requires_grad=True)
        b = torch.rand(1, requires_grad=True)
        for _ in range(epochs):
            x = torch.rand(1)
            y = 2 * x + 1
            ((w * x + b - y) ** 2).backward()
            _descend(w, b, learning_rate)
            w.grad.zero_()
            b.grad.zero_()
        return w.item(), b.item()
    return fit_line


@mistakes.of("fit_line", "you ignore the seed argument: seed the generator with it, "
                         "torch.Generator().manual_seed(seed)")
def fit_ignores_the_seed(reference):
    def fit_line(epochs=1000, learning_rate=0.1, seed=0):
        g = torch.Generator().manual_seed(0)
        w = torch.rand(1, generator=g, requires_grad=True)
        b = torch.rand(1, generator=g, requires_grad=True)
        for _ in range(epochs):
            x = torch.rand(1, generator=g)
            y = 2 * x + 1
            ((w * x + b - y) ** 2).backward()
            _descend(w, b, learning_rate)
            w.grad.zero_()
            b.grad.zero_()
        return w.item(), b.item()
    return fit_line


@mistakes.of("fit_line", "you make a new generator every epoch, so x is always the same number: create g once, "
                         "before the loop")
def fit_new_generator_each_epoch(reference):
    def fit_line(epochs=1000, learning_rate=0.1, seed=0):
        g = torch.Generator().manual_seed(seed)
        w = torch.rand(1, generator=g, requires_grad=True)
        b = torch.rand(1, generator=g, requires_grad=True)
        for _ in range(epochs):
            x = torch.rand(1, generator=torch.Generator().manual_seed(seed))
            y = 2 * x + 1
            ((w * x + b - y) ** 2).backward()
            _descend(w, b, learning_rate)
            w.grad.zero_()
            b.grad.zero_()
        return w.item(), b.item()
    return fit_line


# ------------------------------------------------------------------ to_numpy
@mistakes.of("to_numpy", ".numpy() refuses a tensor that requires grad: cut it out of the graph first, "
                         "t.detach().cpu().numpy()")
def numpy_without_detach(reference):
    def to_numpy(t):
        return t.cpu().numpy()
    return to_numpy


@mistakes.of("to_numpy", ".numpy() needs a CPU tensor: move it there first, t.detach().cpu().numpy()")
def numpy_without_cpu(reference):
    def to_numpy(t):
        return t.detach().numpy()
    return to_numpy


@mistakes.of("to_numpy", "you return a tensor: call .numpy() at the end to get a NumPy array")
def numpy_returns_a_tensor(reference):
    def to_numpy(t):
        return t.detach().cpu()
    return to_numpy


@mistakes.of("to_numpy", "going through Python lists (tolist, np.array) turns float32 into float64: "
                         "t.detach().cpu().numpy() keeps the dtype")
def numpy_through_a_list(reference):
    def to_numpy(t):
        return np.array(t.tolist())
    return to_numpy


@mistakes.of("to_numpy", "you convert every array to float32 (.astype): keep the tensor's own dtype (int64, bool, "
                         "float64 ...), t.detach().cpu().numpy()")
def numpy_forced_float32(reference):
    def to_numpy(t):
        return t.detach().cpu().numpy().astype(np.float32)
    return to_numpy


@mistakes.of("to_numpy", "you convert every array to float64 (.astype(float)): keep the tensor's own dtype, "
                         "t.detach().cpu().numpy()")
def numpy_forced_float64(reference):
    def to_numpy(t):
        return t.detach().cpu().numpy().astype(float)
    return to_numpy


@mistakes.of("to_numpy", "you flatten the array (ravel/flatten/reshape(-1)): keep the tensor's shape")
def numpy_flattened(reference):
    def to_numpy(t):
        return t.detach().cpu().numpy().ravel()
    return to_numpy


@mistakes.of("to_numpy", "you return a Python number (.item()) for a 0-d tensor: return a 0-d array, "
                         "t.detach().cpu().numpy(), for every shape")
def numpy_item_for_zero_dim(reference):
    def to_numpy(t):
        return t.item() if t.dim() == 0 else t.detach().cpu().numpy()
    return to_numpy


@mistakes.of("to_numpy", "you return a Python list (.tolist()): return the array, t.detach().cpu().numpy()")
def numpy_as_a_list(reference):
    def to_numpy(t):
        return t.detach().cpu().numpy().tolist()
    return to_numpy


@mistakes.of("to_numpy", "you switch off the caller's requires_grad (requires_grad_(False)): t.detach() gives a "
                         "tensor without grad and leaves t alone")
def numpy_changes_the_flag(reference):
    def to_numpy(t):
        if t.requires_grad:
            t.requires_grad_(False)
        return t.cpu().numpy()
    return to_numpy
