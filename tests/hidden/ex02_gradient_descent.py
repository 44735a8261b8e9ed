"""Hidden checks for ex02_gradient_descent: the temperature model with hand-written gradients.

The items call each other, as in the tutorial: ``grad_fn`` calls ``dloss_fn``, ``dmodel_dw`` and
``dmodel_db``, and ``training_loop`` calls ``model`` and ``grad_fn``. Each is graded on its own: while
the checks of ``grad_fn`` run, its calls reach the kit's versions of the three derivatives (computed by
the grader, ``kit=...``), so a wrong ``dmodel_dw`` costs points on ``dmodel_dw`` only, and a ``grad_fn``
that averages where it should sum cannot be rescued by a ``dloss_fn`` that forgets its ``/ N``.
"""

from __future__ import annotations

import torch

from grader.suite import Side, Suite

suite = Suite("ex02_gradient_descent")

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


def readings(side: Side) -> tuple[torch.Tensor, torch.Tensor]:
    """The tutorial's (t_c, t_u) on the grading device."""
    return side.tensor(T_C), side.tensor(T_U)


def random_problem(side: Side, n: int, dtype: torch.dtype = torch.float32):
    """Readings, targets, predictions and 0-d parameters for n samples."""
    t_u = side.rand(n, dtype=dtype) * 60 + 20
    t_c = side.randn(n, dtype=dtype) * 10
    w = side.randn(dtype=dtype)
    b = side.randn(dtype=dtype)
    return t_u, t_c, w, b


# ------------------------------------------------------------------ load_temperatures
suite.item("load_temperatures", points=1, hint="""
torch.tensor turns a Python list into a tensor, and Python floats become float32 by default. The
readings are listed in the docstring (DLwPT 5.2, the temperature data).

Return two float32 tensors built with torch.tensor from the two lists of 11 readings: t_c (Celsius)
first, then t_u (the unknown unit).
""")


@suite.check("load_temperatures", "load_temperatures() values, shapes and dtypes")
def load_temperatures_returns_the_readings(side: Side) -> object:
    t_c, t_u = side.module.load_temperatures()
    return {"t_c": t_c, "t_u": t_u}


# ------------------------------------------------------------------ model
suite.item("model", points=1, hint="""
Write the docstring's formula with tensor operators: broadcasting applies a 0-d w and b to every
reading, so no loops are needed.

The model is linear: t_p = w * t_u + b. Multiply the whole tensor t_u by w and add b.
""")


@suite.check("model", "model(t_u, w, b) on the 11 readings with w=0.5, b=-17")
def model_on_readings(side: Side) -> object:
    _, t_u = readings(side)
    return side.module.model(t_u, side.tensor(0.5), side.tensor(-17.0))


@suite.check("model", "model on 7 random float64 readings")
def model_on_random_float64(side: Side) -> object:
    t_u, _, w, b = random_problem(side, 7, torch.float64)
    return side.module.model(t_u, w, b)


@suite.check("model", "model with Python floats w=2.0, b=1.0 and a batch of 1")
def model_with_floats_and_batch_of_one(side: Side) -> object:
    t_u = side.rand(1) * 10
    return side.module.model(t_u, 2.0, 1.0)


# ------------------------------------------------------------------ loss_fn
suite.item("loss_fn", points=1, hint="""
Mean squared error: how far is each prediction from the truth, squared, then averaged into one number?

Square the differences (t_p - t_c) ** 2 and take their .mean(). The result is a 0-d tensor (one
number), not one value per sample.
""")


@suite.check("loss_fn", "loss_fn on the readings with w=1, b=0 (the tutorial's 1763.88)")
def loss_fn_on_readings(side: Side) -> object:
    t_c, t_u = readings(side)
    return side.module.loss_fn(t_u * 1.0 + 0.0, t_c)


@suite.check("loss_fn", "loss_fn on 5 random predictions")
def loss_fn_on_random(side: Side) -> object:
    return side.module.loss_fn(side.randn(5), side.randn(5))


@suite.check("loss_fn", "loss_fn on a batch of 1 (float64)")
def loss_fn_on_one_sample(side: Side) -> object:
    return side.module.loss_fn(side.randn(1, dtype=torch.float64), side.randn(1, dtype=torch.float64))


# ------------------------------------------------------------------ dloss_fn
suite.item("dloss_fn", points=2, hint="""
Differentiate L = mean((t_p - t_c) ** 2) with respect to ONE prediction t_p[i]: only one term of the
mean depends on it.

That term is (t_p[i] - t_c[i]) ** 2 / N, so its derivative is 2 * (t_p[i] - t_c[i]) / N. Keep one value
per sample (no .sum(), no .mean()), and do not forget the / N that comes from the mean.

Return 2 * (t_p - t_c) / N, where N = t_p.size(0), the size of the first dimension.
""")


@suite.check("dloss_fn", "dloss_fn on the readings with w=1, b=0")
def dloss_fn_on_readings(side: Side) -> object:
    t_c, t_u = readings(side)
    return side.module.dloss_fn(t_u, t_c)


@suite.check("dloss_fn", "dloss_fn on 13 random predictions")
def dloss_fn_on_random(side: Side) -> object:
    return side.module.dloss_fn(side.randn(13), side.randn(13))


@suite.check("dloss_fn", "dloss_fn on a batch of 1")
def dloss_fn_on_one_sample(side: Side) -> object:
    return side.module.dloss_fn(side.tensor([3.0]), side.tensor([1.0]))


# ------------------------------------------------------------------ dmodel_dw / dmodel_db
suite.item("dmodel_dw", points=1, hint="""
Differentiate w * t_u + b with respect to w, treating t_u and b as constants.

d(w * t_u + b)/dw is t_u itself: one value per sample. Return t_u.
""")


@suite.check("dmodel_dw", "dmodel_dw on the readings")
def dmodel_dw_on_readings(side: Side) -> object:
    _, t_u = readings(side)
    return side.module.dmodel_dw(t_u, side.tensor(2.0), side.tensor(3.0))


@suite.check("dmodel_dw", "dmodel_dw on 6 random float64 readings")
def dmodel_dw_on_random(side: Side) -> object:
    t_u, _, w, b = random_problem(side, 6, torch.float64)
    return side.module.dmodel_dw(t_u, w, b)


suite.item("dmodel_db", points=1, hint="""
Differentiate w * t_u + b with respect to b, treating t_u and w as constants: how much does each
prediction move when b moves by 1?

d(w * t_u + b)/db is 1 for every sample: return 1.0 (broadcasting turns it into one per sample).
""")


@suite.check("dmodel_db", "dmodel_db on the readings, broadcast over the samples")
def dmodel_db_is_one(side: Side) -> object:
    _, t_u = readings(side)
    value = side.module.dmodel_db(t_u, side.tensor(2.0), side.tensor(3.0))
    return torch.broadcast_to(torch.as_tensor(value, dtype=torch.float32, device=side.device), t_u.shape)


# ------------------------------------------------------------------ grad_fn
suite.item("grad_fn", points=2, forbid=("autograd",), kit=("dloss_fn", "dmodel_dw", "dmodel_db"), hint="""
Chain rule: per sample, dL/dw = dL/dt_p * dt_p/dw, and the same with dt_p/db for b. You already wrote
each factor: dloss_fn, dmodel_dw and dmodel_db.

Every sample contributes to the loss, so sum each parameter's per-sample products over the samples.
Autograd (backward) is not allowed here: this exercise is about writing the gradient by hand.

dL/dw = (dloss_fn(t_p, t_c) * dmodel_dw(t_u, w, b)).sum(), and the same with dmodel_db for b. Put both
0-d sums in one (2,) tensor with torch.stack.
""")


def _grad_on(side: Side, t_u: torch.Tensor, t_c: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> object:
    t_p = w * t_u + b
    return side.module.grad_fn(t_u, t_c, t_p, w, b)


@suite.check("grad_fn", "grad_fn on the readings with w=1, b=0")
def grad_fn_on_readings(side: Side) -> object:
    t_c, t_u = readings(side)
    return _grad_on(side, t_u, t_c, side.tensor(1.0), side.tensor(0.0))


@suite.check("grad_fn", "grad_fn on 9 random samples")
def grad_fn_on_random(side: Side) -> object:
    t_u, t_c, w, b = random_problem(side, 9)
    return _grad_on(side, t_u, t_c, w, b)


@suite.check("grad_fn", "grad_fn on a batch of 1 (float64)")
def grad_fn_on_one_sample(side: Side) -> object:
    t_u, t_c, w, b = random_problem(side, 1, torch.float64)
    return _grad_on(side, t_u, t_c, w, b)


# ------------------------------------------------------------------ training_loop
suite.item("training_loop", points=3, timeout=20.0, forbid=("autograd",), kit=("model", "grad_fn"), hint="""
The loop of DLwPT 5.4 is five lines: unpack, predict, gradient, step, and return params after the loop.
Use your own model and grad_fn, not autograd.

Step downhill: subtract learning_rate * grad (adding it climbs uphill). Do not change the input params
in place; build a new tensor each step.

Each epoch: t_p = model(t_u, *params); grad = grad_fn(t_u, t_c, t_p, *params);
params = params - learning_rate * grad. Return params after the last epoch. With t_u * 0.1, 5000 epochs
and learning rate 1e-2 you should reach about [5.3671, -17.3012].
""")


def _train(side: Side, n_epochs: int, learning_rate: float, params: torch.Tensor,
           t_u: torch.Tensor, t_c: torch.Tensor) -> dict[str, object]:
    """The returned params, and the caller's params after the call (they must not change)."""
    given = params.clone()
    out = side.module.training_loop(n_epochs, learning_rate, params, t_u, t_c)
    side.expect(torch.equal(params, given),
                "training_loop changed the params tensor it was given: build a new tensor each step "
                "(params = params - learning_rate * grad) instead of updating in place")
    return out


@suite.check("training_loop", "training_loop(500, 1e-2, [1, 0], t_u * 0.1, t_c): the tutorial's run, its first "
             "500 epochs (5000 reach about [5.3671, -17.3012])", rtol=1e-3, atol=1e-3)
def training_loop_follows_the_tutorial_run(side: Side) -> object:
    # 500 epochs, not the tutorial's 5000: each epoch's model and grad_fn are the kit's, answered by
    # the grader over the worker's socket, and 500 already tell every mistake apart
    t_c, t_u = readings(side)
    return _train(side, 500, 1e-2, side.tensor([1.0, 0.0]), t_u * 0.1, t_c)


@suite.check("training_loop", "training_loop for 3 epochs on raw readings, learning rate 1e-4")
def training_loop_three_small_steps(side: Side) -> object:
    t_c, t_u = readings(side)
    return _train(side, 3, 1e-4, side.tensor([1.0, 0.0]), t_u, t_c)


@suite.check("training_loop", "training_loop for 1 epoch on random data", rtol=1e-4, atol=1e-5)
def training_loop_one_epoch(side: Side) -> object:
    t_u, t_c, w, b = random_problem(side, 6)
    return _train(side, 1, 1e-3, torch.stack([w, b]), t_u * 0.1, t_c)


@suite.check("training_loop", "training_loop for 200 epochs in float64", rtol=1e-6, atol=1e-6)
def training_loop_float64(side: Side) -> object:
    t_c, t_u = readings(side)
    return _train(side, 200, 1e-2, side.tensor([0.5, 0.5], dtype=torch.float64),
                  (t_u * 0.1).double(), t_c.double())
