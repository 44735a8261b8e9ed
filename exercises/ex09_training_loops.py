"""A custom training loop with metrics: Keras's custom-training chapter, written in PyTorch.

What you learn: how a framework's ``fit()`` works inside. You build running metrics
(a weighted mean and an accuracy) that are updated batch by batch and reset every epoch, a
training step and an evaluation step (with the train/eval switch that Dropout and BatchNorm
need), count trainable and non-trainable weights, and put it all together in a ``fit``
loop with validation, a history of metrics and early stopping that restores the best
weights.

Follows "Deep Learning with Python" (Chollet, 2nd edition, Manning 2021), section 7.4 "Writing
your own training and evaluation loops": the ``training`` argument, trainable and non-trainable
weights, metrics with ``update_state`` / ``result`` / ``reset_state``, ``train_step`` /
``test_step``; and Keras's ``EarlyStopping(patience=..., restore_best_weights=True)`` callback
(section 7.3, "Using callbacks"). The keras.io guide "Writing a training loop from scratch"
covers the same ground.
In PyTorch, ``training=True`` is ``model.train()``, ``training=False`` is ``model.eval()``
plus ``torch.no_grad()``, and ``model.trainable_weights`` is the parameters with
``requires_grad``.

How to work: fill in each function and class, then run ``grade check ex09``
(or a single item, e.g. ``grade check ex09.MeanMetric``).
"""

from __future__ import annotations

import copy  # noqa: F401, RUF100 (used by the solution)
from collections.abc import Callable, Iterable

import torch
from torch import nn


class MeanMetric:
    """A running (weighted) mean, like ``keras.metrics.Mean``.

    A training loop sees one loss per batch but wants to report the mean over the epoch.
    The metric keeps a weighted sum and the sum of the weights, so batches of different
    sizes count in proportion to their size when the weight is the batch size.

    Example:
        >>> m = MeanMetric()
        >>> m.result()
        0.0
        >>> m.update(2.0)
        >>> m.update(torch.tensor(4.0), weight=3)
        >>> m.result()
        3.5
        >>> m.reset()
        >>> m.result()
        0.0
    """

    def __init__(self) -> None:
        """Start empty: nothing seen yet."""
        raise NotImplementedError(
            "ex09.MeanMetric is not implemented yet: see its docstring, then run `grade check ex09.MeanMetric`"
        )

    def update(self, value: float | torch.Tensor, weight: float = 1.0) -> None:
        """Add one observation ``value`` that counts ``weight`` times.

        Args:
            value: a Python number or a 0-d tensor (on any device, with or without
                gradient), e.g. a batch's mean loss.
            weight: how much it counts, e.g. the batch size; a number >= 0.
        """
        raise NotImplementedError(
            "ex09.MeanMetric.update is not implemented yet: see its docstring, then run `grade check ex09.MeanMetric`"
        )

    def result(self) -> float:
        """Return the weighted mean of everything seen since the last reset.

        Returns:
            ``sum(weight * value) / sum(weight)`` as a Python float; 0.0 when nothing (or
            only zero weight) has been seen.
        """
        raise NotImplementedError(
            "ex09.MeanMetric.result is not implemented yet: see its docstring, then run `grade check ex09.MeanMetric`"
        )

    def reset(self) -> None:
        """Forget everything seen, e.g. at the start of an epoch."""
        raise NotImplementedError(
            "ex09.MeanMetric.reset is not implemented yet: see its docstring, then run `grade check ex09.MeanMetric`"
        )


class AccuracyMetric:
    """Running top-1 accuracy, like ``keras.metrics.SparseCategoricalAccuracy``.

    It counts how many samples had their largest logit at the true class, over all the
    batches seen since the last reset, so the result is the accuracy over the whole epoch
    and not a mean of per-batch accuracies.

    Example:
        >>> acc = AccuracyMetric()
        >>> acc.update(torch.tensor([[2.0, 1.0], [0.0, 3.0]]), torch.tensor([0, 0]))
        >>> acc.update(torch.tensor([[0.5, 0.1, 0.9]]), torch.tensor([2]))
        >>> round(acc.result(), 4)
        0.6667
    """

    def __init__(self) -> None:
        """Start empty: nothing seen yet."""
        raise NotImplementedError(
            "ex09.AccuracyMetric is not implemented yet: see its docstring, then run `grade check ex09.AccuracyMetric`"
        )

    def update(self, logits: torch.Tensor, targets: torch.Tensor) -> None:
        """Count the correct predictions of one batch.

        Args:
            logits: (N, C) float scores (logits or probabilities); the prediction of a row
                is its argmax.
            targets: (N,) int64 class indices in [0, C), on the same device as ``logits``.

        Hint: compare ``argmax`` along the class dimension with ``targets``.
        """
        raise NotImplementedError(
            "ex09.AccuracyMetric.update is not implemented yet: see its docstring, then run `grade check ex09.AccuracyMetric`"
        )

    def result(self) -> float:
        """Return the fraction of correct predictions since the last reset.

        Returns:
            A Python float in [0, 1]; 0.0 when nothing has been seen.
        """
        raise NotImplementedError(
            "ex09.AccuracyMetric.result is not implemented yet: see its docstring, then run `grade check ex09.AccuracyMetric`"
        )

    def reset(self) -> None:
        """Forget everything seen, e.g. at the start of an epoch."""
        raise NotImplementedError(
            "ex09.AccuracyMetric.reset is not implemented yet: see its docstring, then run `grade check ex09.AccuracyMetric`"
        )


def train_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    metrics: dict[str, MeanMetric | AccuracyMetric] | None = None,
) -> float:
    """Do one optimization step on one batch (Keras's ``train_step``).

    Put the model in training mode (Dropout active, BatchNorm using and updating batch
    statistics), ``optimizer.zero_grad()``, compute ``logits = model(inputs)`` and
    ``loss = loss_fn(logits, targets)``, ``loss.backward()``, ``optimizer.step()``.

    Args:
        model: the network; its parameters and ``inputs`` share a device.
        inputs: (N, ...) float32 batch of inputs, e.g. (N, 2) features.
        targets: (N,) int64 class indices.
        loss_fn: maps (N, C) logits and (N,) targets to a 0-d mean loss, e.g.
            ``nn.CrossEntropyLoss()``.
        optimizer: an optimizer over the model's parameters.
        metrics: optional ``{"loss": MeanMetric(), "accuracy": AccuracyMetric()}``; when
            given, ``metrics["loss"]`` is updated with the loss weighted by the batch size N
            and ``metrics["accuracy"]`` with the (detached) logits and the targets.

    Returns:
        The batch loss (before the step) as a Python float.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Linear(2, 2)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> metrics = {"loss": MeanMetric(), "accuracy": AccuracyMetric()}
        >>> x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
        >>> loss = train_step(model, x, y, nn.CrossEntropyLoss(), opt, metrics)
        >>> loss == metrics["loss"].result()
        True

    Hint: ``model.train()`` is PyTorch's ``training=True``.
    """
    raise NotImplementedError(
        "ex09.train_step is not implemented yet: see its docstring, then run `grade check ex09.train_step`"
    )


def test_step(
    model: nn.Module,
    inputs: torch.Tensor,
    targets: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    metrics: dict[str, MeanMetric | AccuracyMetric] | None = None,
) -> float:
    """Evaluate the model on one batch without changing it (Keras's ``test_step``).

    Put the model in eval mode (Dropout off, BatchNorm using its running statistics, which
    are then not updated) and compute ``loss_fn(model(inputs), targets)`` under
    ``torch.no_grad()``. No parameter, gradient or buffer changes.

    Args:
        model: the network; its parameters and ``inputs`` share a device.
        inputs: (N, ...) float32 batch of inputs.
        targets: (N,) int64 class indices.
        loss_fn: maps (N, C) logits and (N,) targets to a 0-d mean loss.
        metrics: optional ``{"loss": MeanMetric(), "accuracy": AccuracyMetric()}``, updated
            as in ``train_step`` (loss weighted by the batch size N).

    Returns:
        The batch loss as a Python float.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Sequential(nn.Linear(2, 2), nn.BatchNorm1d(2))
        >>> before = copy.deepcopy(model.state_dict())
        >>> x, y = torch.randn(8, 2), torch.randint(0, 2, (8,))
        >>> loss = test_step(model, x, y, nn.CrossEntropyLoss())
        >>> all(torch.equal(before[k], v) for k, v in model.state_dict().items())
        True

    Hint: ``model.eval()`` alone still records gradients, and ``torch.no_grad()`` alone
    still updates BatchNorm's running statistics: use both.
    """
    raise NotImplementedError(
        "ex09.test_step is not implemented yet: see its docstring, then run `grade check ex09.test_step`"
    )


def count_parameters(model: nn.Module) -> tuple[int, int]:
    """Count the model's trainable and non-trainable weights, like Keras's ``summary()``.

    Trainable weights are the ones the optimizer changes: parameters with
    ``requires_grad=True``. Non-trainable weights are frozen parameters
    (``requires_grad=False``, e.g. a pretrained backbone) plus the floating-point buffers
    that a layer keeps as state, such as BatchNorm's ``running_mean`` and ``running_var``.
    Integer buffers (BatchNorm's ``num_batches_tracked`` counter) are not weights.

    Args:
        model: any module; shared parameters count once.

    Returns:
        ``(trainable, non_trainable)``: numbers of elements, as Python ints.

    Example:
        >>> count_parameters(nn.Sequential(nn.Linear(2, 3), nn.BatchNorm1d(3)))
        (15, 6)

    Hint: ``model.parameters()``, ``model.buffers()``, ``Tensor.numel()`` and
    ``Tensor.is_floating_point()``.
    """
    raise NotImplementedError(
        "ex09.count_parameters is not implemented yet: see its docstring, then run `grade check ex09.count_parameters`"
    )


def fit(
    model: nn.Module,
    train_loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    val_loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    optimizer: torch.optim.Optimizer,
    epochs: int,
    patience: int | None = None,
) -> dict[str, list[float]]:
    """Train for up to ``epochs`` epochs with validation and early stopping; a small ``fit()``.

    Each epoch: reset the metrics, run ``train_step`` on every batch of ``train_loader``
    (with a ``{"loss": MeanMetric(), "accuracy": AccuracyMetric()}`` dict), then
    ``test_step`` on every batch of ``val_loader`` (with a second such dict), and append the
    four results to the history.

    Early stopping and best weights (Keras's ``EarlyStopping(monitor="val_loss",
    patience=..., restore_best_weights=True)``): remember a copy of the weights of the epoch
    with the lowest ``val_loss`` so far (only a strictly lower value counts as an
    improvement). When ``patience`` is an int, stop after ``patience`` consecutive epochs
    without improvement. Whether it stopped early or not, the model holds the weights of
    its best epoch when ``fit`` returns.

    Args:
        model: the network; its parameters and the batches share a device.
        train_loader: yields ``(inputs, targets)`` batches, e.g. (B, 2) float32 and (B,) int64.
        val_loader: yields validation batches of the same kind.
        loss_fn: maps (B, C) logits and (B,) targets to a 0-d mean loss.
        optimizer: an optimizer over the model's parameters.
        epochs: the maximum number of epochs.
        patience: number of epochs without improvement before stopping; ``None`` never
            stops early.

    Returns:
        ``{"loss": [...], "accuracy": [...], "val_loss": [...], "val_accuracy": [...]}``:
        one Python float per epoch that ran in each list (fewer than ``epochs`` after an
        early stop).

    Example:
        >>> _ = torch.manual_seed(0)
        >>> x = torch.randn(64, 2)
        >>> y = (x[:, 0] > 0).long()
        >>> batches = [(x[i:i + 16], y[i:i + 16]) for i in range(0, 64, 16)]
        >>> model = nn.Linear(2, 2)
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.5)
        >>> history = fit(model, batches, batches, nn.CrossEntropyLoss(), opt, epochs=5)
        >>> sorted(history), len(history["val_loss"])
        (['accuracy', 'loss', 'val_accuracy', 'val_loss'], 5)

    Hint: ``copy.deepcopy(model.state_dict())`` takes a snapshot (``state_dict()`` alone
    returns tensors that keep changing with the model); ``model.load_state_dict`` puts it
    back.
    """
    raise NotImplementedError(
        "ex09.fit is not implemented yet: see its docstring, then run `grade check ex09.fit`"
    )
