"""Hidden checks for ex09_training_loops: metrics, train/test steps, parameter counts and fit().

Models, optimizers and loaders are built where the code under test runs. ``train_step`` and
``test_step`` get metric *spies* (``grader.fixtures_ex09``) that record what the step reports, so they
are graded without the student's metrics. ``fit`` runs with the student's own metrics and steps
(``uses=...``): no kit copy of an answer runs beside student code, and a mistake in one of them may
cost ``fit``'s points too, which its feedback says. The ``fit`` scenarios use fixed data whose
validation loss goes up and down, so that early stopping, the patience counter and restoring the best
weights all show in the result.
"""

from __future__ import annotations

import torch

from grader.suite import Side, Suite

suite = Suite("ex09_training_loops")

FIX = "grader.fixtures_ex09:"


def classifier(side: Side, seed: int | None = None, **kwargs: object) -> object:
    """The kit's tiny 4-8-3 classifier (optionally with BatchNorm1d) on the grading device."""
    seed = side.new_seed() if seed is None else seed
    return side.build("grader.fixtures:small_classifier", seed, device=str(side.device), **kwargs)


def batch(side: Side, n: int) -> tuple[torch.Tensor, torch.Tensor]:
    return side.randn(n, 4), side.randint(0, 3, (n,))


def state(side: Side, model: object) -> object:
    return side.build(FIX + "state_of", model)


# ------------------------------------------------------------------ MeanMetric
suite.item("MeanMetric", points=2, hint="""
A weighted mean is a weighted sum divided by the sum of the weights (Deep Learning with Python 7.4,
metrics). Keep those two numbers.

update adds value * weight to the sum and weight to the count; a tensor value becomes a number with
.item(). result() divides, as a Python float, or gives 0.0 while count is 0; reset() sets both back
to 0.

total += float(value) * weight and count += weight; result() = total / count. Example: update(2.0),
update(torch.tensor(4.0), weight=3) gives result() == 3.5.
""")


@suite.check("MeanMetric", "MeanMetric(): result() when empty, then after update(2.0), update(4.0), update(9.0)")
def mean_metric_plain_updates(side: Side) -> object:
    metric = side.module.MeanMetric()
    results = [metric.result()]
    for value in (2.0, 4.0, 9.0):
        metric.update(value)
        results.append(metric.result())
    return results


@suite.check("MeanMetric", "MeanMetric: update(2.0), then update(tensor(4.0), weight=3) (the docstring's 3.5)")
def mean_metric_docstring_example(side: Side) -> object:
    metric = side.module.MeanMetric()
    metric.update(2.0)
    metric.update(side.tensor(4.0), weight=3)
    return metric.result()


@suite.check("MeanMetric", "MeanMetric: five 0-d loss tensors that require grad, weighted by batch sizes 8, 8, 8, 8, 3")
def mean_metric_weighted_tensors(side: Side) -> object:
    metric = side.module.MeanMetric()
    results = []
    for size in (8, 8, 8, 8, 3):
        loss = (side.rand() * 2).requires_grad_()
        metric.update(loss, weight=size)
        results.append(metric.result())
    return results


@suite.check("MeanMetric", "MeanMetric: reset() forgets both the weighted sum and the weights; two metrics do not "
             "share state")
def mean_metric_reset(side: Side) -> object:
    first, second = side.module.MeanMetric(), side.module.MeanMetric()
    first.update(10.0, weight=2)
    first.update(1.0, weight=0.5)
    second.update(-3.0)
    before = [first.result(), second.result()]
    first.reset()
    after_reset = first.result()
    after_updates = []
    for value, weight in ((5.0, 4), (side.tensor(6.0), 1), (-2.0, 0.5)):
        first.update(value, weight=weight)
        after_updates.append(first.result())
    return {"before reset": before, "right after reset": after_reset,
            "after each of three updates": after_updates, "the other metric": second.result()}


@suite.check("MeanMetric", "MeanMetric: result() after only zero-weight updates is 0.0")
def mean_metric_zero_weight(side: Side) -> object:
    metric = side.module.MeanMetric()
    metric.update(7.0, weight=0)
    metric.update(side.tensor(1.5), weight=0.0)
    return metric.result()


# ------------------------------------------------------------------ AccuracyMetric
suite.item("AccuracyMetric", points=2, hint="""
Count over everything seen since the last reset: correct predictions and examples. Do not average
per-batch accuracies: a batch of 5 must count more than a batch of 3.

A row's prediction is its argmax along the class dimension; compare it with targets and count the
matches as a Python int.

correct += (logits.argmax(dim=1) == targets).sum().item() and total += targets.numel(); result() =
correct / total as a Python float (0.0 while total is 0).
""")


def _labelled(side: Side, n: int, n_classes: int, n_correct: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random logits and targets where exactly the first ``n_correct`` rows are predicted right."""
    logits = side.randn(n, n_classes)
    predicted = logits.argmax(dim=1)
    wrong = (predicted + 1) % n_classes
    right = torch.arange(n, device=side.device) < n_correct
    return logits, torch.where(right, predicted, wrong)


@suite.check("AccuracyMetric", "AccuracyMetric: batches of 5 (4 right) and 3 (1 right), result after each")
def accuracy_metric_two_batches(side: Side) -> object:
    metric = side.module.AccuracyMetric()
    results = [metric.result()]
    for n, n_correct in ((5, 4), (3, 1)):
        metric.update(*_labelled(side, n, 3, n_correct))
        results.append(metric.result())
    return results


@suite.check("AccuracyMetric", "AccuracyMetric on probabilities of 6 samples x 4 classes (5 right), then reset() "
             "and batches of 3 (2 right) and 4 (1 right): reset() forgets both counts")
def accuracy_metric_probabilities_and_reset(side: Side) -> object:
    metric = side.module.AccuracyMetric()
    logits, targets = _labelled(side, 6, 4, 5)
    metric.update(torch.softmax(logits, dim=1), targets)
    before = metric.result()
    metric.reset()
    after_reset = metric.result()
    after_batches = []
    for n, n_correct in ((3, 2), (4, 1)):
        metric.update(*_labelled(side, n, 4, n_correct))
        after_batches.append(metric.result())
    return {"before reset": before, "right after reset": after_reset, "after each of two more batches": after_batches}


@suite.check("AccuracyMetric", "AccuracyMetric: logits that require grad, batches of 1, 7 and 2; two separate metrics")
def accuracy_metric_batch_of_one(side: Side) -> object:
    first, second = side.module.AccuracyMetric(), side.module.AccuracyMetric()
    results = []
    for n, n_correct in ((1, 1), (7, 2), (2, 1)):
        logits, targets = _labelled(side, n, 2, n_correct)
        first.update(logits.requires_grad_(), targets)
        results.append(first.result())
    second.update(*_labelled(side, 3, 5, 0))
    return {"first metric": results, "second metric": second.result()}


# ------------------------------------------------------------------ train_step
suite.item("train_step", points=3, timeout=20.0, hint="""
Keras's train_step in PyTorch: training mode on, then clear the old gradients, forward, loss, backward,
step. The checks give the model leftover gradients and leave it in eval mode beforehand, so every step
matters.

When metrics is given, update the loss metric with the loss weighted by the batch size, and the
accuracy metric with the detached logits and the targets. Return the loss as a Python float.

In this order: model.train(); optimizer.zero_grad(); logits = model(inputs); loss = loss_fn(logits,
targets); loss.backward(); optimizer.step(). If metrics is given: metrics["loss"].update(loss.item(),
weight=targets.shape[0]) and metrics["accuracy"].update(logits.detach(), targets). Return loss.item().
""")


def _train_step(side: Side, model: object, optimizer: object, sizes: tuple[int, ...],
                with_metrics: bool = True) -> object:
    loss_fn = side.build("torch.nn:CrossEntropyLoss")
    metrics = side.build(FIX + "spy_metrics") if with_metrics else None
    losses = []
    for n in sizes:
        x, y = batch(side, n)
        if with_metrics:
            losses.append(side.module.train_step(model, x, y, loss_fn, optimizer, metrics))
        else:
            losses.append(side.module.train_step(model, x, y, loss_fn, optimizer))
    observed = {"returned losses": losses, "weights after": state(side, model)}
    if with_metrics:
        observed["metric updates (loss, weight) and (predicted classes, targets)"] = side.build(
            FIX + "spy_calls", metrics)
    return observed


@suite.check("train_step", "train_step on a BatchNorm classifier, a batch of 8, SGD(lr=0.1), with metrics", rtol=1e-5)
def train_step_one_batch(side: Side) -> object:
    model = classifier(side, batch_norm=True)
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=0.1)
    return _train_step(side, model, optimizer, (8,))


@suite.check("train_step", "train_step on a model left in eval mode with leftover gradients (momentum SGD)",
             rtol=1e-5)
def train_step_eval_mode_and_stale_gradients(side: Side) -> object:
    model = classifier(side, batch_norm=True)
    model.eval()
    side.build(FIX + "fill_stale_gradients", model, side.new_seed())
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=0.1, momentum=0.9)
    return _train_step(side, model, optimizer, (6,))


@suite.check("train_step", "two train_steps (batches of 6 and 3) sharing one metrics dict", rtol=1e-5)
def train_step_two_batches(side: Side) -> object:
    model = classifier(side, batch_norm=True)
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=0.2)
    return _train_step(side, model, optimizer, (6, 3))


@suite.check("train_step", "three train_steps with Adam and no metrics argument (batches of 5, 5, 1)", rtol=1e-5)
def train_step_adam_without_metrics(side: Side) -> object:
    model = classifier(side)
    optimizer = side.build("torch.optim:Adam", model.parameters(), lr=0.05)
    return _train_step(side, model, optimizer, (5, 5, 1), with_metrics=False)


# ------------------------------------------------------------------ test_step
suite.item("test_step", points=2, timeout=10.0, hint="""
Evaluate without changing anything: model.eval() alone still records gradients, and torch.no_grad()
alone still updates BatchNorm's running statistics, so use both.

eval() makes BatchNorm use (and not update) its running statistics; no_grad() stops autograd from
recording. No zero_grad, backward or step here. Update the metrics like train_step (loss weighted by
targets.shape[0]) and return loss.item().

model.eval(), then compute logits = model(inputs) and loss = loss_fn(logits, targets) inside
`with torch.no_grad():`.
""")


def _test_step(side: Side, model: object, n: int, with_metrics: bool = True, stale: bool = False) -> object:
    if stale:
        side.build(FIX + "fill_stale_gradients", model, side.new_seed())
    loss_fn = side.build(FIX + "GradWatchingLoss")
    x, y = batch(side, n)
    if with_metrics:
        metrics = side.build(FIX + "spy_metrics")
        loss = side.module.test_step(model, x, y, loss_fn, metrics)
    else:
        loss = side.module.test_step(model, x, y, loss_fn)
    observed = {"returned loss": loss, "parameters and buffers after": state(side, model),
                "gradients after": side.build(FIX + "gradients_of", model),
                "autograd recording during the loss (per call)": loss_fn.grad_enabled}
    if with_metrics:
        observed["metric updates (loss, weight) and (predicted classes, targets)"] = side.build(
            FIX + "spy_calls", metrics)
    return observed


@suite.check("test_step", "test_step on a BatchNorm classifier in training mode, a batch of 8, with metrics")
def test_step_batchnorm(side: Side) -> object:
    return _test_step(side, classifier(side, batch_norm=True), 8)


@suite.check("test_step", "test_step on a batch of 1 with BatchNorm, no metrics argument")
def test_step_batch_of_one(side: Side) -> object:
    return _test_step(side, classifier(side, batch_norm=True), 1, with_metrics=False)


@suite.check("test_step", "test_step keeps leftover gradients untouched (a batch of 5, with metrics)")
def test_step_keeps_gradients(side: Side) -> object:
    return _test_step(side, classifier(side, batch_norm=True), 5, stale=True)


@suite.check("test_step", "test_step on a classifier without BatchNorm, a batch of 3")
def test_step_plain_model(side: Side) -> object:
    return _test_step(side, classifier(side, n_hidden=5), 3)


# ------------------------------------------------------------------ count_parameters
suite.item("count_parameters", points=2, hint="""
Trainable weights are parameters with requires_grad; non-trainable ones are the frozen parameters plus
the floating-point buffers a layer keeps as state. Look at model.parameters(), model.buffers(),
Tensor.numel() and Tensor.is_floating_point().

Count elements (numel), not tensors. BatchNorm's running_mean and running_var are non-trainable; its
integer num_batches_tracked is not a weight. Return a tuple of two Python ints: Linear(2, 3) +
BatchNorm1d(3) gives (15, 6).

trainable = sum(p.numel() for p in model.parameters() if p.requires_grad); non-trainable = the frozen
parameters (requires_grad False) plus the floating-point buffers (b.is_floating_point() for b in
model.buffers()).
""")


@suite.check("count_parameters", "count_parameters of Linear(4, 8), BatchNorm1d(8), ReLU, Linear(8, 3)")
def count_parameters_batchnorm(side: Side) -> object:
    return side.module.count_parameters(classifier(side, batch_norm=True))


@suite.check("count_parameters", "count_parameters of the same model with its first Linear frozen")
def count_parameters_frozen(side: Side) -> object:
    model = classifier(side, batch_norm=True)
    side.build(FIX + "freeze", model, "0.")
    return side.module.count_parameters(model)


@suite.check("count_parameters", "count_parameters of a model that uses one Linear(3, 3) twice")
def count_parameters_shared(side: Side) -> object:
    return side.module.count_parameters(side.build(FIX + "shared_layer_model", side.new_seed()))


@suite.check("count_parameters", "count_parameters with a float buffer and an int32 buffer of a custom layer")
def count_parameters_custom_buffers(side: Side) -> object:
    return side.module.count_parameters(side.build(FIX + "scaled_model", side.new_seed()))


@suite.check("count_parameters", "count_parameters of nn.Linear(7, 2), and of a fully frozen classifier")
def count_parameters_plain_and_frozen(side: Side) -> object:
    linear = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 7, 2)
    frozen = classifier(side)
    side.build(FIX + "freeze", frozen, "")
    return [side.module.count_parameters(linear), side.module.count_parameters(frozen)]


# ------------------------------------------------------------------ fit
suite.item("fit", points=3, timeout=20.0, uses=("MeanMetric", "AccuracyMetric", "train_step", "test_step"), hint="""
A small Keras fit(): each epoch, reset the metrics, train on every batch, validate on every batch, and
record four numbers. These checks run your own MeanMetric, AccuracyMetric, train_step and test_step:
make those pass first.

Early stopping with best weights: remember a snapshot of the weights of the epoch with the lowest
val_loss (only strictly lower counts), count the epochs without improvement, and put the best weights
back at the end. state_dict() alone returns tensors that keep changing with the model: copy it.

Each epoch: reset the metrics, train_step over every train batch, test_step over every validation
batch, append the four results to the history. Keep best_val_loss (start at infinity) and
best_state = copy.deepcopy(model.state_dict()) of the best epoch; only a strictly lower val_loss counts
and resets the counter of epochs without improvement; stop when that counter reaches patience. After the
loop (early stop or not), model.load_state_dict(best_state).
""")

# Fixed data and seeds: with lr=1.0 the validation loss of this problem is, per epoch,
# 0.870, 0.818, 0.546, 0.785, 0.527, 0.953, 0.629, 0.790 (best at epoch 5, a dip at epoch 4).
MODEL_SEED, DATA_SEED, N_TRAIN, N_VAL = 1, 2, 24, 16


def _fit(side: Side, lr: float, epochs: int, patience: int | None, batch_norm: bool = True) -> object:
    x, y = side.build(FIX + "blobs", DATA_SEED, N_TRAIN + N_VAL, spread=2.0, device=str(side.device))
    train_loader = side.build("grader.fixtures:tensor_loader", x[:N_TRAIN], y[:N_TRAIN], 8)
    val_loader = side.build("grader.fixtures:tensor_loader", x[N_TRAIN:], y[N_TRAIN:], 8)
    model = classifier(side, MODEL_SEED, batch_norm=batch_norm)
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=lr)
    loss_fn = side.build("torch.nn:CrossEntropyLoss")
    history = side.module.fit(model, train_loader, val_loader, loss_fn, optimizer, epochs, patience)
    return {"history": history, "weights at return": state(side, model)}


@suite.check("fit", "fit with your own metrics and steps for 8 epochs without patience (best val_loss at "
             "epoch 5): history and final weights", rtol=1e-4, atol=1e-5)
def fit_restores_best_without_patience(side: Side) -> object:
    return _fit(side, lr=1.0, epochs=8, patience=None)


@suite.check("fit", "fit with your own metrics and steps, patience=2 for 15 epochs (val_loss worse at 4, "
             "better at 5, stops after 7)", rtol=1e-4, atol=1e-5)
def fit_patience_two(side: Side) -> object:
    return _fit(side, lr=1.0, epochs=15, patience=2)


@suite.check("fit", "fit with your own metrics and steps, patience=1 for 15 epochs (stops after epoch 4, "
             "restores epoch 3)", rtol=1e-4, atol=1e-5)
def fit_patience_one(side: Side) -> object:
    return _fit(side, lr=1.0, epochs=15, patience=1)


@suite.check("fit", "fit with your own metrics and steps, lr=0 (val_loss never strictly improves after epoch 1), "
             "patience=2, 10 epochs")
def fit_equal_loss_is_no_improvement(side: Side) -> object:
    return _fit(side, lr=0.0, epochs=10, patience=2, batch_norm=False)


@suite.check("fit", "fit with your own metrics and steps, patience=10, on a steadily improving run of 4 epochs "
             "(lr=0.3)", rtol=1e-4, atol=1e-5)
def fit_improving_run(side: Side) -> object:
    return _fit(side, lr=0.3, epochs=4, patience=10)
