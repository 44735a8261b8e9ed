"""Hidden checks for ex03_autograd: letting PyTorch compute gradients.

Functions handed to the student's code (``fn``) are module-level functions of :mod:`grader.fixtures`,
sent by name. Every gradient item is also checked for what it must NOT change: the caller's ``x``,
its ``requires_grad`` flag and its ``.grad``.
"""

from __future__ import annotations

import math

import torch

from grader.fixtures import cube_minus_x, exp_sum_rows, sin_times_x, square
from grader.remote import StudentError
from grader.suite import Side, Suite

suite = Suite("ex03_autograd")

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


def readings(side: Side) -> tuple[torch.Tensor, torch.Tensor]:
    """The tutorial's (t_c, t_u) on the grading device."""
    return side.tensor(T_C), side.tensor(T_U)


def leaf(values: torch.Tensor, old_grad: torch.Tensor | None = None) -> torch.Tensor:
    """``values`` as a leaf that requires grad, optionally holding an old ``.grad`` already."""
    x = values.detach().requires_grad_(True)
    if old_grad is not None:
        x.grad = old_grad
    return x


def x_observations(x: torch.Tensor) -> dict[str, object]:
    """What a gradient helper must leave as it was: the caller's x, its flag and its gradient."""
    return {"x after the call": x.detach(), "x.requires_grad after the call": x.requires_grad,
            "x.grad after the call": x.grad}


def raised(call) -> str:
    """The name of the exception ``call()`` raised ("nothing" if none), on either side.

    The reference raises real exceptions; student code raises :class:`StudentError` carrying the
    type's name. A stub's ``NotImplementedError`` is passed on, so the item reads "not implemented".
    """
    try:
        call()
    except StudentError as error:
        if error.not_implemented:
            raise
        return error.type_name
    except (ValueError, TypeError, RuntimeError) as error:  # the reference side
        return type(error).__name__
    return "nothing"


# ------------------------------------------------------------------ training_loop
suite.item("training_loop", points=3, timeout=20.0, hint="""
This is ex02's loop with autograd: loss.backward() fills params.grad for you (DLwPT 5.5.1). Two things
are new: gradients accumulate, and the update itself must not be recorded.

Zero the old gradient each epoch (when there is one), write the model and the loss inline (this module
does not import ex02), call backward, then update params in place under torch.no_grad(). Rebinding
params = params - ... creates a new, non-leaf tensor, and the caller needs the same object back.

params is a leaf tensor [w, b] with requires_grad=True. Each epoch: if params.grad is not None, zero it
with params.grad.zero_(); w, b = params; t_p = w * t_u + b; loss = ((t_p - t_c) ** 2).mean();
loss.backward(); then inside `with torch.no_grad():` step in place with params -= learning_rate *
params.grad. Return params itself (not a copy).
""")


def _train(side: Side, n_epochs: int, learning_rate: float, params: torch.Tensor,
           t_u: torch.Tensor, t_c: torch.Tensor) -> dict[str, object]:
    out = side.module.training_loop(n_epochs, learning_rate, params, t_u, t_c)
    return {
        "returns params itself": out is params,
        "params after the call": params.detach(),
        "params.requires_grad after the call": params.requires_grad,
        "params is still a leaf": params.is_leaf,
        "params.grad after the call": params.grad,
    }


@suite.check("training_loop", "training_loop(500, 1e-2, params=[1, 0], t_u * 0.1, t_c): the tutorial's run, its "
             "first 500 epochs (5000 reach about [5.3671, -17.3012])", rtol=1e-3, atol=1e-3)
def training_loop_follows_the_tutorial_run(side: Side) -> object:
    # 500 epochs tell every mistake apart; a failing check is rerun once per catalogued mistake
    t_c, t_u = readings(side)
    return _train(side, 500, 1e-2, leaf(side.tensor([1.0, 0.0])), t_u * 0.1, t_c)


@suite.check("training_loop", "training_loop for 3 epochs on the raw readings, learning rate 1e-4")
def training_loop_three_small_steps(side: Side) -> object:
    t_c, t_u = readings(side)
    return _train(side, 3, 1e-4, leaf(side.tensor([1.0, 0.0])), t_u, t_c)


@suite.check("training_loop", "training_loop for 2 epochs on 6 random samples, params holding an old .grad")
def training_loop_zeroes_an_old_gradient(side: Side) -> object:
    t_u = side.rand(6) * 6 + 2
    t_c = side.randn(6) * 10
    params = leaf(side.randn(2), old_grad=side.randn(2) * 100)
    return _train(side, 2, 1e-3, params, t_u, t_c)


@suite.check("training_loop", "training_loop for 200 epochs in float64", rtol=1e-6, atol=1e-6)
def training_loop_float64(side: Side) -> object:
    t_c, t_u = readings(side)
    params = leaf(side.tensor([0.5, 0.5], dtype=torch.float64))
    return _train(side, 200, 1e-2, params, (t_u * 0.1).double(), t_c.double())


@suite.check("training_loop", "training_loop for 0 epochs: params come back untouched", substantive=False)
def training_loop_zero_epochs(side: Side) -> object:
    t_c, t_u = readings(side)
    return _train(side, 0, 1e-2, leaf(side.tensor([2.0, -3.0])), t_u * 0.1, t_c)


# ------------------------------------------------------------------ grad_of
suite.item("grad_of", points=2, hint="""
backward() needs one number, and it fills the .grad of a leaf tensor that requires grad (d2l 2.5,
"Automatic Differentiation"). The caller's x must stay untouched, so work on a copy.

Make an independent leaf from x (detach, clone, then ask it to require grad), sum fn of it to one number,
call backward, and read the copy's .grad, which has x's shape. Never call requires_grad_ or backward on
x itself: the caller's x and x.grad must stay as they were.

leaf = x.detach().clone().requires_grad_(True); fn(leaf).sum().backward(); return leaf.grad.
""")


@suite.check("grad_of", "grad_of(square, x) on a (3, 4) x that does not require grad")
def grad_of_square(side: Side) -> object:
    x = side.randn(3, 4)
    return {"the gradient": side.module.grad_of(square, x), **x_observations(x)}


@suite.check("grad_of", "grad_of(cube_minus_x, x) on a float64 (5,) x that requires grad and already has a .grad")
def grad_of_leaf_with_old_grad(side: Side) -> object:
    x = leaf(side.randn(5, dtype=torch.float64), old_grad=side.randn(5, dtype=torch.float64))
    return {"the gradient": side.module.grad_of(cube_minus_x, x), **x_observations(x)}


@suite.check("grad_of", "grad_of(sin_times_x, x) on a non-contiguous (3, 5) x (a transpose)")
def grad_of_non_contiguous(side: Side) -> object:
    x = side.randn(5, 3).t()
    return {"the gradient": side.module.grad_of(sin_times_x, x), **x_observations(x)}


@suite.check("grad_of", "grad_of(exp_sum_rows, x) on a (2, 7) x that requires grad (fn(x) has shape (2,))")
def grad_of_row_sums(side: Side) -> object:
    x = leaf(side.randn(2, 7))
    return {"the gradient": side.module.grad_of(exp_sum_rows, x), **x_observations(x)}


@suite.check("grad_of", "grad_of(square, x) on a 0-d x")
def grad_of_zero_dim(side: Side) -> object:
    x = side.randn()
    return {"the gradient": side.module.grad_of(square, x), **x_observations(x)}


# ------------------------------------------------------------------ backward_with_weights
suite.item("backward_with_weights", points=2, hint="""
y.backward() only works on a scalar y; for a non-scalar y, backward takes a tensor of y's shape (d2l 2.5,
"Backward for Non-Scalar Variables").

Work on a detached leaf copy of x, as in grad_of. y.backward(weights) gives the gradient of
(y * weights).sum(); weights has y's shape.

leaf = x.detach().clone().requires_grad_(True); y = fn(leaf); y.backward(weights); return leaf.grad.
""")


@suite.check("backward_with_weights", "backward_with_weights(square, x, weights) on a (6,) x")
def backward_with_weights_square(side: Side) -> object:
    x, weights = side.randn(6), side.randn(6)
    return {"the gradient": side.module.backward_with_weights(square, x, weights), **x_observations(x)}


@suite.check("backward_with_weights", "backward_with_weights(exp_sum_rows, x, weights) on a (3, 5) x, weights of shape (3,)")
def backward_with_weights_row_sums(side: Side) -> object:
    x, weights = side.randn(3, 5), side.randn(3)
    return {"the gradient": side.module.backward_with_weights(exp_sum_rows, x, weights), **x_observations(x)}


@suite.check("backward_with_weights", "backward_with_weights(sin_times_x, x, non-contiguous weights) on a float64 "
             "(2, 3) x that requires grad and already has a .grad")
def backward_with_weights_float64_leaf(side: Side) -> object:
    x = leaf(side.randn(2, 3, dtype=torch.float64), old_grad=side.randn(2, 3, dtype=torch.float64))
    weights = side.randn(3, 2, dtype=torch.float64).t()
    return {"the gradient": side.module.backward_with_weights(sin_times_x, x, weights), **x_observations(x)}


@suite.check("backward_with_weights", "backward_with_weights(exp_sum_rows, x, weights) on a batch of 1: x (1, 4)")
def backward_with_weights_batch_of_one(side: Side) -> object:
    x, weights = side.randn(1, 4), side.rand(1) + 0.5
    return {"the gradient": side.module.backward_with_weights(exp_sum_rows, x, weights), **x_observations(x)}


# ------------------------------------------------------------------ accumulated_grad
suite.item("accumulated_grad", points=2, hint="""
d2l 2.5: gradients accumulate. Every backward() adds its gradient to .grad instead of replacing it, and
this function shows it.

Raise ValueError when times < 1. Make ONE leaf copy of x, then call backward `times` times without
zeroing in between. Rebuild fn(leaf) each time: a graph is freed after backward.

leaf = x.detach().clone().requires_grad_(True); then `times` times: fn(leaf).sum().backward(); return
leaf.grad.
""")


@suite.check("accumulated_grad", "accumulated_grad(square, x, 3) on a (5,) x")
def accumulated_grad_three_times(side: Side) -> object:
    x = side.randn(5)
    return {"the accumulated gradient": side.module.accumulated_grad(square, x, 3), **x_observations(x)}


@suite.check("accumulated_grad", "accumulated_grad(cube_minus_x, x, 1) on a float64 (2, 3) x that requires grad "
             "and already has a .grad")
def accumulated_grad_once_on_a_leaf(side: Side) -> object:
    x = leaf(side.randn(2, 3, dtype=torch.float64), old_grad=side.randn(2, 3, dtype=torch.float64))
    return {"the accumulated gradient": side.module.accumulated_grad(cube_minus_x, x, 1), **x_observations(x)}


@suite.check("accumulated_grad", "accumulated_grad(exp_sum_rows, x, 4) on a non-contiguous (3, 4) x (a transpose)")
def accumulated_grad_non_contiguous(side: Side) -> object:
    x = side.randn(4, 3).t()
    return {"the accumulated gradient": side.module.accumulated_grad(exp_sum_rows, x, 4), **x_observations(x)}


@suite.check("accumulated_grad", "accumulated_grad(square, x, 0) raises ValueError")
def accumulated_grad_rejects_zero_times(side: Side) -> object:
    x = side.randn(3)
    return {"the exception raised": raised(lambda: side.module.accumulated_grad(square, x, 0))}


# ------------------------------------------------------------------ fit_line
suite.item("fit_line", points=2, timeout=10.0, hint="""
All randomness comes from one g = torch.Generator().manual_seed(seed), passed as generator=g to every
torch.rand call. Never use the global random generator (no torch.manual_seed).

Draw in the docstring's order: first w, then b (two (1,) leaves that require grad), then one x per
epoch. Each epoch: squared error, backward, step both under torch.no_grad(), then zero both grads.
.item() turns a one-element tensor into a float.

g = torch.Generator().manual_seed(seed); w = torch.rand(1, generator=g, requires_grad=True), the same
for b. Each epoch: x = torch.rand(1, generator=g); y = 2 * x + 1; loss = (w * x + b - y) ** 2;
loss.backward(); under torch.no_grad() step w -= learning_rate * w.grad (and b); then zero both grads.
Return (w.item(), b.item()).
""")


def _expect_near_the_line(side: Side, result: object, tolerance: float) -> None:
    side.expect(type(result) is tuple and len(result) == 2,
                f"expected a tuple (w, b) of two Python floats, got {type(result).__name__}")
    w, b = result
    side.expect(type(w) is float and type(b) is float,
                f"expected w and b as Python floats, got {type(w).__name__} and {type(b).__name__} (use .item())")
    side.expect(math.isfinite(w) and math.isfinite(b),
                f"w = {w}, b = {b}: training diverged (a step that climbs the gradient, or gradients never zeroed?)")
    side.expect(abs(w - 2) < tolerance and abs(b - 1) < tolerance,
                f"(w, b) = ({w:.4f}, {b:.4f}) is not within {tolerance} of (2, 1)")


@suite.check("fit_line", "fit_line() with the defaults ends within 0.01 of (w, b) = (2, 1)")
def fit_line_defaults(side: Side) -> object:
    _expect_near_the_line(side, side.module.fit_line(), 0.01)
    return None


@suite.check("fit_line", "fit_line(epochs=400, learning_rate=0.2) with seeds 7 and 12 ends within 0.01 of (2, 1)")
def fit_line_other_seeds(side: Side) -> object:
    for seed in (7, 12):
        _expect_near_the_line(side, side.module.fit_line(epochs=400, learning_rate=0.2, seed=seed), 0.01)
    return None


@suite.check("fit_line", "fit_line(epochs=30, seed=5) twice gives the same numbers, and seed=6 other ones")
def fit_line_is_reproducible(side: Side) -> object:
    first = side.module.fit_line(epochs=30, seed=5)
    again = side.module.fit_line(epochs=30, seed=5)
    other = side.module.fit_line(epochs=30, seed=6)
    side.expect(first == again, f"the same seed gave {first}, then {again}: draw w, b and every x "
                                "from a torch.Generator seeded with `seed`")
    side.expect(other != first, f"seeds 5 and 6 both gave {first}: seed the generator with the `seed` argument")
    return None


@suite.check("fit_line", "fit_line(epochs=20) leaves the global random generator alone (the next torch.rand)")
def fit_line_keeps_the_global_generator(side: Side) -> object:
    side.module.fit_line(epochs=20)
    return {"torch.rand(4) drawn after the call": side.build("torch:rand", 4)}


# ------------------------------------------------------------------ to_numpy
suite.item("to_numpy", points=1, hint="""
t.numpy() refuses a tensor that requires grad (NumPy cannot track gradients) and a tensor on a GPU
(NumPy arrays live in CPU memory). Which method fixes each problem?

First cut it out of the graph with .detach(), then move it with .cpu(), then call .numpy():
t.detach().cpu().numpy(). DLwPT chapter 5 plots t_p.detach().numpy().
""")


@suite.check("to_numpy", "to_numpy on a (3, 4) float32 tensor that requires grad")
def to_numpy_requires_grad(side: Side) -> object:
    t = leaf(side.randn(3, 4))
    return {"the array": side.module.to_numpy(t), "t.requires_grad after the call": t.requires_grad}


@suite.check("to_numpy", "to_numpy on a non-contiguous float64 (6, 4) tensor (a transpose) that requires grad")
def to_numpy_non_contiguous(side: Side) -> object:
    t = leaf(side.randn(4, 6, dtype=torch.float64)).t()
    return {"the array": side.module.to_numpy(t)}


@suite.check("to_numpy", "to_numpy on an int64 (2, 3) tensor and a bool (5,) tensor")
def to_numpy_integer_and_bool(side: Side) -> object:
    integers = side.randint(-50, 50, (2, 3))
    flags = side.randn(5) > 0
    return {"the int64 array": side.module.to_numpy(integers), "the bool array": side.module.to_numpy(flags)}


@suite.check("to_numpy", "to_numpy on a 0-d float32 tensor that requires grad")
def to_numpy_zero_dim(side: Side) -> object:
    return {"the array": side.module.to_numpy(leaf(side.randn()))}


@suite.check("to_numpy", "to_numpy on a CUDA (2, 5) tensor that requires grad", requires="cuda")
def to_numpy_cuda(side: Side) -> object:
    t = leaf(side.randn(2, 5).to("cuda"))
    return {"the array": side.module.to_numpy(t)}
