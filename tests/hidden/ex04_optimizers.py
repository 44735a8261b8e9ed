"""Hidden checks for ex04_optimizers: torch.optim, a validation split, no_grad and standardization.

Optimizers are built on the side (``side.build("torch.optim:SGD", [params], lr=...)``) over a local
``params`` tensor; passing that same ``params`` to the student's function afterwards reaches the very
tensor the optimizer holds (the connection remembers the tensors it sent), so the optimizer's steps
show in ``params`` after the call. Validation data is wrapped by ``grader.fixtures_ex04:watch_autograd``
to prove that it only meets the model with gradients switched off.
"""

from __future__ import annotations

import torch

from grader.remote import GraderUnavailable, StudentError, WorkerFailure
from grader.suite import Side, Suite

suite = Suite("ex04_optimizers")

T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]
FIX = "grader.fixtures_ex04"


def readings(side: Side) -> tuple[torch.Tensor, torch.Tensor]:
    """The tutorial's (t_u * 0.1, t_c) on the grading device."""
    return side.tensor(T_U) * 0.1, side.tensor(T_C)


def leaf(side: Side, values: list[float], dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A leaf tensor that requires grad, on the grading device."""
    return side.tensor(values, dtype=dtype).requires_grad_()


def exception_of(function: object, *args: object) -> tuple[str, str]:
    """(name, message) of the exception ``function(*args)`` raised; ("nothing", "") when it returned.

    The student's exceptions arrive as StudentError; the reference raises the real ValueError.
    """
    try:
        function(*args)  # type: ignore[operator]
    except StudentError as error:
        if error.not_implemented:
            raise
        return error.type_name, error.message
    except (WorkerFailure, GraderUnavailable):
        raise
    except Exception as error:  # noqa: BLE001 - a catalogued mistake's exception, as a student's would arrive
        return type(error).__name__, str(error)
    return "nothing", ""


def watched(side: Side, *tensors: torch.Tensor) -> tuple:
    """Copies of ``tensors`` that record any autograd tracking (see grader.fixtures_ex04.GradWatch)."""
    return side.build(f"{FIX}:watch_autograd", *tensors)  # type: ignore[return-value]


def expect_validation_without_grad(side: Side) -> None:
    tracked = side.build(f"{FIX}:tracked_operations")
    side.expect(tracked == [], "the validation data went through operations that autograd tracked "
                f"({', '.join(dict.fromkeys(tracked))}): compute the validation loss inside "  # type: ignore[arg-type]
                "`with torch.no_grad():`")


# ------------------------------------------------------------------ make_optimizer
suite.item("make_optimizer", points=2, timeout=15.0, hint="""
torch.optim has one class per update rule (DLwPT 5.5.2 lists them with dir(optim)); optim.SGD and
optim.Adam both take the parameters first and the learning rate as lr=.

Accept any case ("SGD" and "Adam" are valid too): lower-case the name first. Leave every other setting
at its default. For any other name raise a ValueError whose message lists the valid names 'sgd' and
'adam'.

"sgd" gives optim.SGD(params, lr=lr) and "adam" optim.Adam(params, lr=lr); otherwise, for example,
raise ValueError(f"unknown optimizer {name!r}: choose one of 'sgd', 'adam'").
""")


@suite.check("make_optimizer", "make_optimizer([params], 'sgd', lr=0.01), then one step with grad [1, -2]")
def make_optimizer_sgd(side: Side) -> object:
    params = leaf(side, [1.0, 0.0])
    optimizer = side.module.make_optimizer([params], "sgd", 0.01)
    holds = side.build(f"{FIX}:optimizes", optimizer, params)
    side.expect(holds, "the optimizer does not hold the params tensor you were given: pass `params` itself")
    side.build(f"{FIX}:step_with_gradient", optimizer, params, side.tensor([1.0, -2.0]))
    return {"settings": side.build(f"{FIX}:optimizer_settings", optimizer), "params after the step": params}


@suite.check("make_optimizer", "make_optimizer([params], 'adam', lr=0.1), then 3 steps with a fixed grad")
def make_optimizer_adam(side: Side) -> object:
    params = leaf(side, [0.5, -1.5, 2.0])
    optimizer = side.module.make_optimizer([params], "adam", 0.1)
    side.build(f"{FIX}:step_with_gradient", optimizer, params, side.randn(3), 3)
    return {"settings": side.build(f"{FIX}:optimizer_settings", optimizer), "params after 3 steps": params}


@suite.check("make_optimizer", "make_optimizer with the names 'SGD' and 'Adam' (upper case)")
def make_optimizer_ignores_case(side: Side) -> object:
    params = leaf(side, [1.0, 2.0])
    sgd = side.module.make_optimizer([params], "SGD", 0.5)
    adam = side.module.make_optimizer([params], "Adam", 0.25)
    return {"'SGD'": side.build(f"{FIX}:optimizer_settings", sgd),
            "'Adam'": side.build(f"{FIX}:optimizer_settings", adam)}


@suite.check("make_optimizer", "make_optimizer(model.parameters(), 'adam', lr=0.05) for an nn.Linear(3, 2)")
def make_optimizer_over_a_generator(side: Side) -> object:
    model = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 3, 2)
    optimizer = side.module.make_optimizer(model.parameters(), "adam", 0.05)  # type: ignore[attr-defined]
    return side.build(f"{FIX}:optimizer_settings", optimizer)


@suite.check("make_optimizer", "make_optimizer([params], 'rmsprop', 0.01) and make_optimizer([params], '', 0.01)")
def make_optimizer_refuses_unknown_names(side: Side) -> object:
    params = leaf(side, [1.0, 0.0])
    observations = {}
    for name in ("rmsprop", ""):
        kind, message = exception_of(side.module.make_optimizer, [params], name, 0.01)
        side.expect(kind == "ValueError", f"make_optimizer([params], {name!r}, 0.01) should raise ValueError, "
                    f"not {'return normally' if kind == 'nothing' else kind}")
        side.expect("sgd" in message.lower() and "adam" in message.lower(),
                    f"the ValueError for {name!r} should list the valid names 'sgd' and 'adam'; it says: {message!r}")
        observations[name] = kind
    return observations


# ------------------------------------------------------------------ training_loop
suite.item("training_loop", points=2, timeout=20.0, hint="""
The loop of ex03, but the optimizer owns the update rule: you compute the loss, the optimizer clears the
gradients and takes the step. Do not update params yourself (the checks use SGD and Adam).

Each epoch: predict with params[0] and params[1], take the mean squared error, then the three calls in
order: clear the gradients, back-propagate, step. backward() adds to .grad, so the clearing comes before
it. Return the params tensor you were given.

t_p = params[0] * t_u + params[1]; loss = ((t_p - t_c) ** 2).mean(); then optimizer.zero_grad(),
loss.backward(), optimizer.step(). With t_u * 0.1, SGD lr=1e-2 and 5000 epochs you should reach about
[5.3671, -17.3012].
""")


def _train(side: Side, optimizer_name: str, lr: float, n_epochs: int, params: torch.Tensor,
           t_u: torch.Tensor, t_c: torch.Tensor) -> dict[str, object]:
    optimizer = side.build(f"torch.optim:{optimizer_name}", [params], lr=lr)
    before = params.detach().clone()
    result = side.module.training_loop(n_epochs, optimizer, params, t_u, t_c)
    side.expect(result is params, "training_loop should return the params tensor it was given (the optimizer "
                "updated it in place), not a new tensor")
    return {"params": params, "params moved": not torch.equal(before, params.detach())}


@suite.check("training_loop", "training_loop(1000, SGD(lr=1e-2), [1, 0], t_u * 0.1, t_c): the tutorial's setup",
             rtol=1e-4, atol=1e-4)
def training_loop_tutorial_setup(side: Side) -> object:
    t_u, t_c = readings(side)
    return _train(side, "SGD", 1e-2, 1000, leaf(side, [1.0, 0.0]), t_u, t_c)


@suite.check("training_loop", "training_loop(100, Adam(lr=1e-1), [1, 0], t_u * 0.1, t_c)", rtol=1e-4, atol=1e-4)
def training_loop_with_adam(side: Side) -> object:
    t_u, t_c = readings(side)
    return _train(side, "Adam", 1e-1, 100, leaf(side, [1.0, 0.0]), t_u, t_c)


@suite.check("training_loop", "training_loop for 7 epochs of SGD(lr=1e-3) on 6 random readings", rtol=1e-5)
def training_loop_seven_epochs(side: Side) -> object:
    t_u = side.rand(6) * 10
    t_c = side.randn(6) * 10
    return _train(side, "SGD", 1e-3, 7, leaf(side, side.randn(2).tolist()), t_u, t_c)


@suite.check("training_loop", "training_loop for 1 epoch of SGD(lr=1e-2) on a single reading")
def training_loop_one_reading(side: Side) -> object:
    return _train(side, "SGD", 1e-2, 1, leaf(side, [0.5, 1.0]), side.tensor([3.0]), side.tensor([2.0]))


@suite.check("training_loop", "training_loop for 0 epochs leaves params unchanged", substantive=False)
def training_loop_zero_epochs(side: Side) -> object:
    t_u, t_c = readings(side)
    return _train(side, "SGD", 1e-2, 0, leaf(side, [1.0, 0.0]), t_u, t_c)


# ------------------------------------------------------------------ split_indices
suite.item("split_indices", points=2, hint="""
Shuffle first, then cut (DLwPT 5.5.3): torch.randperm gives a random order of 0 .. n_samples - 1. Pass
the generator on to randperm, or the split is not reproducible.

n_val = int(val_fraction * n_samples), but at least 1 (max(1, ...)). The validation indices are the
LAST n_val of the permutation; the training indices are all the others, in that order.

shuffled = torch.randperm(n_samples, generator=generator);
return (shuffled[:-n_val], shuffled[-n_val:]).
""")


def _split(side: Side, n_samples: int, val_fraction: float, seed: int | None) -> dict[str, object]:
    generator = None if seed is None else torch.Generator().manual_seed(seed)
    train_idx, val_idx = side.module.split_indices(n_samples, val_fraction, generator)
    observations: dict[str, object] = {"train_idx": train_idx, "val_idx": val_idx}
    if generator is not None:
        observations["the generator's next draw"] = torch.randint(0, 2**30, (2,), generator=generator)
    return observations


@suite.check("split_indices", "split_indices(11, 0.2, generator seeded with 0)")
def split_indices_tutorial(side: Side) -> object:
    return _split(side, 11, 0.2, 0)


@suite.check("split_indices", "split_indices(100, 0.25, a seeded generator)")
def split_indices_hundred(side: Side) -> object:
    return _split(side, 100, 0.25, side.new_seed())


@suite.check("split_indices", "split_indices(13, 0.3, a seeded generator): int() rounds 3.9 down to 3")
def split_indices_rounds_down(side: Side) -> object:
    return _split(side, 13, 0.3, side.new_seed())


@suite.check("split_indices", "split_indices(3, 0.1, a seeded generator): at least one validation index")
def split_indices_keeps_one(side: Side) -> object:
    return _split(side, 3, 0.1, side.new_seed())


@suite.check("split_indices", "split_indices(2, 0.5, a seeded generator)")
def split_indices_two_samples(side: Side) -> object:
    return _split(side, 2, 0.5, side.new_seed())


@suite.check("split_indices", "split_indices(10, 0.2) without a generator draws from torch's global RNG")
def split_indices_global_rng(side: Side) -> object:
    observations = _split(side, 10, 0.2, None)
    observations["torch's next draw"] = side.build("torch:randint", 0, 2**30, (2,))
    return observations


# ------------------------------------------------------------------ training_loop_val
suite.item("training_loop_val", points=3, timeout=20.0, hint="""
Two losses per epoch: the training loss drives the update (backward on it only); the validation loss is
only for watching, so compute it where no graph is built.

Both losses of an epoch use the params from before that epoch's step: compute both first, then update.
Record each as a Python float (.item()) in its own list.

Each epoch: train_loss from the training tensors (with gradients); the validation loss inside
`with torch.no_grad():`; then optimizer.zero_grad(), train_loss.backward(), optimizer.step(). Append
train_loss.item() and val_loss.item() to two lists. Return (params, train_losses, val_losses).
""")


def _train_val(side: Side, optimizer_name: str, lr: float, n_epochs: int, params: torch.Tensor,
               t_u: torch.Tensor, t_c: torch.Tensor, n_val: int) -> dict[str, object]:
    optimizer = side.build(f"torch.optim:{optimizer_name}", [params], lr=lr)
    val_t_u, val_t_c = watched(side, t_u[-n_val:], t_c[-n_val:])
    result = side.module.training_loop_val(n_epochs, optimizer, params, t_u[:-n_val], val_t_u,
                                           t_c[:-n_val], val_t_c)
    side.expect(type(result) is tuple and len(result) == 3,
                "training_loop_val should return a tuple (params, train_losses, val_losses)")
    returned, train_losses, val_losses = result  # type: ignore[misc]
    side.expect(returned is params, "training_loop_val should return the params tensor it was given")
    expect_validation_without_grad(side)
    return {"params": params, "train_losses": train_losses, "val_losses": val_losses}


@suite.check("training_loop_val", "training_loop_val(3, SGD(lr=1e-2), [1, 0], 8 training and 2 validation readings)")
def training_loop_val_docstring_run(side: Side) -> object:
    t_u, t_c = readings(side)
    return _train_val(side, "SGD", 1e-2, 3, leaf(side, [1.0, 0.0]), t_u[:10], t_c[:10], 2)


@suite.check("training_loop_val", "training_loop_val(100, Adam(lr=0.1)) on the 11 readings split 9/2",
             rtol=1e-4, atol=1e-4)
def training_loop_val_adam(side: Side) -> object:
    t_u, t_c = readings(side)
    order = torch.randperm(11, generator=side.generator).to(side.device)
    return _train_val(side, "Adam", 0.1, 100, leaf(side, [1.0, 0.0]), t_u[order], t_c[order], 2)


@suite.check("training_loop_val", "training_loop_val(20, SGD(lr=1e-3)) on 9 random readings with 1 validation reading",
             rtol=1e-4)
def training_loop_val_one_validation_reading(side: Side) -> object:
    t_u = side.rand(9) * 10
    t_c = side.randn(9) * 10
    return _train_val(side, "SGD", 1e-3, 20, leaf(side, side.randn(2).tolist()), t_u, t_c, 1)


@suite.check("training_loop_val", "training_loop_val for 1 epoch: gradient left in params.grad")
def training_loop_val_gradient(side: Side) -> object:
    t_u, t_c = readings(side)
    params = leaf(side, [2.0, -1.0])
    observations = _train_val(side, "SGD", 1e-2, 1, params, t_u, t_c, 3)
    observations["params.grad (the training loss's gradient)"] = params.grad
    return observations


# ------------------------------------------------------------------ calc_forward
suite.item("calc_forward", points=1, hint="""
torch.set_grad_enabled(flag) is torch.no_grad() with a switch (DLwPT 5.5.4). Which lines must run under
it so that the loss records a graph only when is_train is True?

Put the prediction AND the loss inside it, and return the loss with the dtype of params (no conversion).
Use it as a context manager (with ...:), not as a plain call: a plain call would leave gradients
switched off for everything that runs afterwards.

with torch.set_grad_enabled(is_train): compute t_p = params[0] * t_u + params[1] and
return ((t_p - t_c) ** 2).mean(), both inside the with block.
""")


def _forward(side: Side, params: torch.Tensor, t_u: torch.Tensor, t_c: torch.Tensor, is_train: bool) -> object:
    loss = side.module.calc_forward(params, t_u, t_c, is_train)
    enabled_after = side.build("torch:is_grad_enabled")
    if enabled_after is not True:
        side.build("torch:set_grad_enabled", True)  # repair the worker for the checks that follow
    side.expect(enabled_after is True, f"after calc_forward(..., is_train={is_train}) gradients are still switched "
                "off: use `with torch.set_grad_enabled(is_train):` so the setting is restored at the end")
    if not is_train:  # once more on watched readings: nothing may be tracked
        side.module.calc_forward(params, *watched(side, t_u), t_c, is_train)
        tracked = side.build(f"{FIX}:tracked_operations")
        side.expect(tracked == [], "with is_train=False autograd still tracked operations on t_u ("
                    f"{', '.join(dict.fromkeys(tracked))}): compute the prediction inside "  # type: ignore[arg-type]
                    "`with torch.set_grad_enabled(is_train):` too")
    side.expect(isinstance(loss, torch.Tensor), "calc_forward should return the loss as a 0-d tensor")
    return {"loss": loss, "loss.requires_grad": loss.requires_grad}  # type: ignore[union-attr]


@suite.check("calc_forward", "calc_forward([1, 0], [1, 2], [2, 4], is_train=True)")
def calc_forward_training(side: Side) -> object:
    return _forward(side, leaf(side, [1.0, 0.0]), side.tensor([1.0, 2.0]), side.tensor([2.0, 4.0]), True)


@suite.check("calc_forward", "calc_forward([1, 0], [1, 2], [2, 4], is_train=False)")
def calc_forward_validation(side: Side) -> object:
    return _forward(side, leaf(side, [1.0, 0.0]), side.tensor([1.0, 2.0]), side.tensor([2.0, 4.0]), False)


@suite.check("calc_forward", "calc_forward on the 11 readings, is_train=False then True")
def calc_forward_readings(side: Side) -> object:
    t_u, t_c = readings(side)
    params = leaf(side, [5.0, -17.0])
    return {"is_train=False": _forward(side, params, t_u, t_c, False),
            "is_train=True": _forward(side, params, t_u, t_c, True)}


@suite.check("calc_forward", "calc_forward on 5 random float64 readings, is_train=False")
def calc_forward_float64(side: Side) -> object:
    params = leaf(side, side.randn(2).tolist(), torch.float64)
    return _forward(side, params, side.randn(5, dtype=torch.float64), side.randn(5, dtype=torch.float64), False)


# ------------------------------------------------------------------ standardize
suite.item("standardize", points=2, hint="""
Standardizing is (x - mean) / std. The question is whose statistics: the training data's only, applied
to both tensors (looking at the held-out data would leak information).

Take the mean and the std over ALL elements of train (0-d; Tensor.std() is already the unbiased one).
Never use the statistics of `other`, and do not change the inputs in place. Convert an integer train
tensor with .float() first.

mean = train.mean(); std = train.std(); return ((train - mean) / std, (other - mean) / std).
""")


def _standardize(side: Side, train: torch.Tensor, other: torch.Tensor) -> object:
    train_before, other_before = train.clone(), other.clone()
    result = side.module.standardize(train, other)
    side.expect(torch.equal(train, train_before) and torch.equal(other, other_before),
                "standardize changed its inputs in place: compute new tensors ((train - mean) / std)")
    return result


@suite.check("standardize", "standardize([1, 2, 3], [5]): the docstring's example")
def standardize_docstring(side: Side) -> object:
    return _standardize(side, side.tensor([1.0, 2.0, 3.0]), side.tensor([5.0]))


@suite.check("standardize", "standardize on 9 training and 2 validation readings")
def standardize_readings(side: Side) -> object:
    t_u = side.tensor(T_U)
    return _standardize(side, t_u[:9], t_u[9:])


@suite.check("standardize", "standardize on (5, 3) float64 train and (4, 3) other: statistics of all elements")
def standardize_matrix(side: Side) -> object:
    train = side.randn(5, 3, dtype=torch.float64) * 4 + 10
    return _standardize(side, train, side.randn(4, 3, dtype=torch.float64) * 4 + 10)


@suite.check("standardize", "standardize on a non-contiguous (3, 4) train (transposed) and a (2,) other")
def standardize_non_contiguous(side: Side) -> object:
    train = (side.randn(4, 3) * 3 - 2).t()
    return _standardize(side, train, side.randn(2))


@suite.check("standardize", "standardize on int64 train [0, 10, 20, 30] and other [15, 40]")
def standardize_integers(side: Side) -> object:
    return _standardize(side, side.tensor([0, 10, 20, 30]), side.tensor([15.0, 40.0]))


@suite.check("standardize", "standardize on (6, 1) train of large values (about 1e4) and an empty other")
def standardize_large_values(side: Side) -> object:
    return _standardize(side, side.randn(6, 1) * 50 + 1e4, side.randn(0, 1))
