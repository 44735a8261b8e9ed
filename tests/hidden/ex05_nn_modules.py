"""Hidden checks for ex05_nn_modules: nn.Linear, nn.Sequential, a hand-written SGD step, fitting curves.

Models, optimizers and losses live where the code under test runs: they are built on the side
(``side.build("grader.fixtures_ex05:tanh_mlp", seed)``, ``side.build("torch.optim:SGD",
model.parameters(), lr=...)``) and read back as data (``model.state_dict()``,
``grader.fixtures_ex05:describe``). Both sides seed torch's global RNG identically before a check, so
a model the student builds with ``nn.Linear(...)`` starts from the reference's weights. While the
checks of ``fit_curve`` run, its calls to ``sgd_step`` reach the kit's version (``kit=("sgd_step",)``,
computed by the grader on the model's parameters), so ``fit_curve`` is graded on its own code: a mistake
in ``sgd_step`` costs points on ``sgd_step`` only.
"""

from __future__ import annotations

import math

import torch

from grader import fixtures_ex05
from grader.suite import Side, Suite

suite = Suite("ex05_nn_modules")

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]
FIX = "grader.fixtures_ex05"


def column(side: Side, values: list[float]) -> torch.Tensor:
    """``values`` as a (N, 1) float32 column on the grading device."""
    return side.tensor(values).unsqueeze(1)


def sine(side: Side, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` points of one sine period as (n, 1) columns, made here (not by the student's code)."""
    x = torch.linspace(-math.pi, math.pi, n).unsqueeze(1).to(side.device)
    return x, torch.sin(x)


def observe(side: Side, model: object, x: torch.Tensor | None = None) -> dict[str, object]:
    """The model's description and weights, and its output on ``x`` when given."""
    observations = {"the model": model, "its layers and parameters": side.build(f"{FIX}:describe", model),
                    "its state_dict()": model.state_dict()}  # type: ignore[attr-defined]
    if x is not None:
        observations[f"its output on a {tuple(x.shape)} input"] = model.to(side.device)(x)  # type: ignore[attr-defined]
    return observations


# ------------------------------------------------------------------ make_linear_model
suite.item("make_linear_model", points=1, hint="""
torch.nn has a ready-made module for w * x + b (DLwPT 6.2); its two arguments are the numbers of input
and output features.

Return nn.Linear(1, 1): one input feature, one output feature. Do not seed, initialize or wrap it: the
checks compare its weights with torch's own initialization.
""")


@suite.check("make_linear_model", "make_linear_model(): class, layer sizes, parameters and initial weights")
def make_linear_model_is_a_linear(side: Side) -> object:
    return observe(side, side.module.make_linear_model())


@suite.check("make_linear_model", "make_linear_model() applied to a (4, 1) batch and to a batch of 1")
def make_linear_model_forward(side: Side) -> object:
    model = side.module.make_linear_model()
    batch = side.randn(4, 1)
    return {"(4, 1)": model.to(side.device)(batch), "(1, 1)": model(side.randn(1, 1))}  # type: ignore[attr-defined]


# ------------------------------------------------------------------ make_mlp
suite.item("make_mlp", points=2, hint="""
nn.Sequential accepts a collections.OrderedDict of (name, module) pairs, and the names become attributes
such as model.hidden (DLwPT 6.3).

Three layers, in this order: "hidden", a Linear from 1 to n_hidden features; "hidden_activation", a
Tanh; "output", a Linear from n_hidden to 1. Exactly these names, and n_hidden from the argument
(default 13).

nn.Sequential(OrderedDict([("hidden", nn.Linear(1, n_hidden)), ("hidden_activation", nn.Tanh()),
("output", nn.Linear(n_hidden, 1))])). OrderedDict comes from the collections module.
""")


@suite.check("make_mlp", "make_mlp() with the default 13 hidden units: names, layers and initial weights")
def make_mlp_default(side: Side) -> object:
    return observe(side, side.module.make_mlp())


@suite.check("make_mlp", "make_mlp(8) applied to a (5, 1) batch")
def make_mlp_eight(side: Side) -> object:
    model = side.module.make_mlp(8)
    return observe(side, model, side.randn(5, 1))


@suite.check("make_mlp", "make_mlp(1) applied to a batch of 1")
def make_mlp_one_unit(side: Side) -> object:
    return observe(side, side.module.make_mlp(1), side.randn(1, 1))


@suite.check("make_mlp", "make_mlp(n_hidden=21) applied to 7 readings")
def make_mlp_keyword(side: Side) -> object:
    return observe(side, side.module.make_mlp(n_hidden=21), column(side, T_U[:7]) * 0.1)


# ------------------------------------------------------------------ sgd_step
suite.item("sgd_step", points=2, forbid=("torch.optim",), hint="""
This is torch.optim.SGD's step written by hand (torch.optim is not allowed here): move each parameter
against its gradient, as ex03's training_loop does for params.

The update must not be recorded (torch.no_grad()) and must change each parameter in place: p = p - ...
only rebinds the name. Skip the parameters whose .grad is None. Clear the gradients afterwards, because
backward() adds to them. Return nothing.

Inside `with torch.no_grad():` loop over model.parameters() and, for each p whose p.grad is not None,
do p -= learning_rate * p.grad. After the loop call model.zero_grad().
""")


def _step(side: Side, model: object, x: torch.Tensor, y: torch.Tensor, learning_rate: float,
          calls: int = 1) -> dict[str, object]:
    side.build(f"{FIX}:backward_mse", model, x, y)
    results = [side.module.sgd_step(model, learning_rate) for _ in range(calls)]
    return {"what sgd_step returned": results[0],
            "the parameters after the step": model.state_dict(),  # type: ignore[attr-defined]
            "the gradients are cleared": side.build(f"{FIX}:grads_cleared", model)}


@suite.check("sgd_step", "sgd_step(nn.Linear(3, 2), 0.1) after a backward pass on 5 samples")
def sgd_step_linear(side: Side) -> object:
    model = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 3, 2).to(side.device)  # type: ignore[attr-defined]
    return _step(side, model, side.randn(5, 3), side.randn(5, 2), 0.1)


@suite.check("sgd_step", "sgd_step(1-8-1 Tanh network, 0.05) after a backward pass on 6 samples")
def sgd_step_mlp(side: Side) -> object:
    model = side.build(f"{FIX}:tanh_mlp", side.new_seed(), 8, device=side.device)
    return _step(side, model, side.randn(6, 1), side.randn(6, 1), 0.05)


@suite.check("sgd_step", "sgd_step on a float64 1-4-1 Tanh network with learning rate 0.5")
def sgd_step_float64(side: Side) -> object:
    model = side.build(f"{FIX}:tanh_mlp", side.new_seed(), 4, dtype=torch.float64, device=side.device)
    return _step(side, model, side.randn(3, 1, dtype=torch.float64), side.randn(3, 1, dtype=torch.float64), 0.5)


@suite.check("sgd_step", "sgd_step called twice after ONE backward pass: only the first call moves the weights")
def sgd_step_twice(side: Side) -> object:
    model = side.build(f"{FIX}:tanh_mlp", side.new_seed(), 5, device=side.device)
    return _step(side, model, side.randn(4, 1), side.randn(4, 1), 0.1, calls=2)


@suite.check("sgd_step", "sgd_step on a network whose first layer is frozen (its .grad stays None)")
def sgd_step_frozen_layer(side: Side) -> object:
    model = side.build(f"{FIX}:tanh_mlp", side.new_seed(), 6, device=side.device, freeze_first=True)
    return _step(side, model, side.randn(4, 1), side.randn(4, 1), 0.1)


# ------------------------------------------------------------------ training_loop
suite.item("training_loop", points=3, timeout=20.0, hint="""
It is ex04's training_loop_val with a module: model(t_u) in place of w * t_u + b, and loss_fn in place
of the written-out squared error.

Call loss_fn with the prediction first and the target second. The validation loss is computed without a
graph; backward runs on the training loss only. Both losses use the model from before the epoch's step;
record them as Python floats.

Each epoch: train_loss = loss_fn(model(t_u_train), t_c_train); the validation loss inside
`with torch.no_grad():`; then optimizer.zero_grad(), train_loss.backward(), optimizer.step(); append
both losses with .item(). Return (train_losses, val_losses).
""")


def _fit(side: Side, model: object, optimizer: object, loss_fn: object, n_epochs: int,
         t_u: torch.Tensor, t_c: torch.Tensor, n_val: int) -> dict[str, object]:
    val_t_u, val_t_c = side.build(f"{FIX}:watch_autograd", t_u[-n_val:], t_c[-n_val:])  # type: ignore[misc]
    result = side.module.training_loop(n_epochs, optimizer, model, loss_fn, t_u[:-n_val], val_t_u,
                                       t_c[:-n_val], val_t_c)
    tracked = side.build(f"{FIX}:tracked_operations")
    side.expect(tracked == [], "the validation data went through operations that autograd tracked "
                f"({', '.join(dict.fromkeys(tracked))}): compute the validation loss inside "  # type: ignore[arg-type]
                "`with torch.no_grad():`")
    side.expect(type(result) is tuple and len(result) == 2,
                "training_loop should return a tuple (train_losses, val_losses)")
    train_losses, val_losses = result  # type: ignore[misc]
    return {"train_losses": train_losses, "val_losses": val_losses,
            "the model's state_dict() after training": model.state_dict()}  # type: ignore[attr-defined]


@suite.check("training_loop", "training_loop(200, SGD(lr=1e-2), nn.Linear(1, 1), MSELoss) on t_u * 0.1 split 9/2",
             rtol=1e-4, atol=1e-4)
def training_loop_linear(side: Side) -> object:
    model = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 1, 1).to(side.device)  # type: ignore[attr-defined]
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=1e-2)  # type: ignore[attr-defined]
    return _fit(side, model, optimizer, side.build("torch.nn:MSELoss"), 200,
                column(side, T_U) * 0.1, column(side, T_C), 2)


@suite.check("training_loop", "training_loop(60, Adam(lr=1e-2), a 1-8-1 Tanh network, MSELoss) on 20 random points",
             rtol=1e-4, atol=1e-5)
def training_loop_mlp_adam(side: Side) -> object:
    model = side.build(f"{FIX}:tanh_mlp", side.new_seed(), 8, device=side.device)
    optimizer = side.build("torch.optim:Adam", model.parameters(), lr=1e-2)  # type: ignore[attr-defined]
    t_u = side.rand(20, 1) * 4 - 2
    return _fit(side, model, optimizer, side.build("torch.nn:MSELoss"), 60, t_u, t_u**2 + 0.1 * side.randn(20, 1), 5)


@suite.check("training_loop", "training_loop(5, SGD(lr=1e-3)) with a loss_fn(prediction, target) that is not symmetric")
def training_loop_argument_order(side: Side) -> object:
    model = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 1, 1).to(side.device)  # type: ignore[attr-defined]
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=1e-3)  # type: ignore[attr-defined]
    t_u = side.randn(8, 1)
    return _fit(side, model, optimizer, fixtures_ex05.asymmetric_loss, 5, t_u, 3 * t_u + side.randn(8, 1), 3)


@suite.check("training_loop", "training_loop(1, SGD(lr=1e-2)) with a single validation sample")
def training_loop_one_epoch(side: Side) -> object:
    model = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 1, 1).to(side.device)  # type: ignore[attr-defined]
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=1e-2)  # type: ignore[attr-defined]
    return _fit(side, model, optimizer, side.build("torch.nn:MSELoss"), 1, side.randn(4, 1), side.randn(4, 1), 1)


# ------------------------------------------------------------------ make_sine_data
suite.item("make_sine_data", points=1, hint="""
torch.linspace gives evenly spaced float32 points with both ends included, and torch.pi is pi. nn
modules want a column of inputs: (n, 1), not (n,).

x = torch.linspace(-torch.pi, torch.pi, n); .unsqueeze(1) makes it (n, 1); y = torch.sin(x). Default
n=1000.
""")


@suite.check("make_sine_data", "make_sine_data(5)")
def make_sine_data_five(side: Side) -> object:
    return side.module.make_sine_data(5)


@suite.check("make_sine_data", "make_sine_data() with the default 1000 points")
def make_sine_data_default(side: Side) -> object:
    return side.module.make_sine_data()


@suite.check("make_sine_data", "make_sine_data(1)")
def make_sine_data_one(side: Side) -> object:
    return side.module.make_sine_data(1)


@suite.check("make_sine_data", "make_sine_data(n=64)")
def make_sine_data_keyword(side: Side) -> object:
    return side.module.make_sine_data(n=64)


# ------------------------------------------------------------------ fit_curve
suite.item("fit_curve", points=3, timeout=30.0, forbid=("torch.optim",), kit=("sgd_step",), hint="""
A full-batch training loop like ex03's, with your sgd_step doing the update (torch.optim is not allowed).
The checks run your sgd_step, so make sgd_step pass first.

The order is part of the recipe, so that the weights are reproducible: seed first, then build the
five-layer network and move it to x's device, then each epoch: prediction, nn.MSELoss() against y,
backward, sgd_step.

torch.manual_seed(seed); then nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(),
nn.Linear(32, 1)).to(x.device); loss_fn = nn.MSELoss(); each epoch: loss = loss_fn(model(x), y),
loss.backward(), sgd_step(model, learning_rate). Return the model. With make_sine_data(200), 1000 epochs
and 0.05 the MSE ends below 0.01.
""")


def _curve(side: Side, x: torch.Tensor, y: torch.Tensor, epochs: int, learning_rate: float,
           seed: int | None = None) -> dict[str, object]:
    x_before, y_before = x.clone(), y.clone()
    if seed is None:
        model = side.module.fit_curve(x, y, epochs, learning_rate)
    else:
        model = side.module.fit_curve(x, y, epochs, learning_rate, seed=seed)
    side.expect(torch.equal(x, x_before) and torch.equal(y, y_before), "fit_curve changed x or y in place")
    side.expect(side.isinstance(model, "torch.nn.Sequential"), "fit_curve should return the trained nn.Sequential")
    observations = observe(side, model)
    observations["its MSE on (x, y)"] = side.build(f"{FIX}:mse_of", model, x, y)
    return observations


@suite.check("fit_curve", "fit_curve with your own sgd_step on 64 sine points, epochs=100, learning_rate=0.05",
             rtol=1e-3, atol=1e-4)
def fit_curve_sine(side: Side) -> object:
    x, y = sine(side, 64)
    return _curve(side, x, y, 100, 0.05)


@suite.check("fit_curve", "fit_curve(x, y, epochs=0, learning_rate=0.05, seed=5): the seeded untrained network "
             "(sgd_step is never called)", substantive=False)
def fit_curve_initial_network(side: Side) -> object:
    x, y = sine(side, 10)
    return _curve(side, x, y, 0, 0.05, seed=5)


@suite.check("fit_curve", "fit_curve with your own sgd_step on 30 random points, epochs=25, learning_rate=0.1, "
             "seed=3", rtol=1e-4, atol=1e-5)
def fit_curve_random_points(side: Side) -> object:
    x = side.rand(30, 1) * 6 - 3
    return _curve(side, x, torch.cos(x) + 0.1 * side.randn(30, 1), 25, 0.1, seed=3)
