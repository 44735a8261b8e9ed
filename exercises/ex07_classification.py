"""Exercise 07: classification with softmax, cross-entropy and accuracy.

You will learn what a classifier's outputs mean and how it is scored: softmax turns a row
of logits into probabilities (written by hand, and safely for large logits), cross-entropy
charges ``-log`` of the probability given to the right class, and accuracy counts correct
argmaxes. Then you build a fully connected airplane/bird classifier, measure
it over a ``DataLoader``, and train a logistic regression that tells city houses from
rural ones.

Follows "Dive into Deep Learning" (d2l.ai, PyTorch edition; d2l below), section 3.6
"Implementation of Softmax Regression from Scratch" (softmax, cross-entropy, accuracy); "Deep
Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning 2020; DLwPT below), section 7.2 (the
fully connected airplane/bird model, its loss, and its accuracy over a ``DataLoader``); and the
linear classifier of "Deep Learning with Python" (Chollet, 2nd edition, section 3.5.4), here in
PyTorch on synthetic city/rural house data.

How to work: fill in each function, then run `grade check ex07`.
"""

from __future__ import annotations

import numpy as np  # noqa: F401, RUF100 (used by the solution)
import torch
from torch import nn
from torch.utils.data import DataLoader


def softmax(X: torch.Tensor) -> torch.Tensor:
    """Row-wise softmax of a batch of logits, numerically stable.

    ``softmax(x)_j = exp(x_j) / sum_k exp(x_k)`` turns each row into probabilities that
    are positive and sum to 1. ``exp(1000.0)`` overflows to ``inf`` in float32 (and
    ``inf / inf`` is ``nan``), so first subtract each row's maximum: the result is
    mathematically unchanged, and the largest exponent becomes ``exp(0) = 1``.

    Args:
        X: (N, C) logits, float32 or float64 (any device).

    Returns:
        (N, C) probabilities with the dtype and device of ``X``; every row sums to 1.
        Differentiable with respect to ``X``.

    Example:
        >>> softmax(torch.tensor([[0.0, 0.0], [1000.0, 0.0]]))
        tensor([[0.5000, 0.5000],
                [1.0000, 0.0000]])

    Hint: ``X.max(dim=1, keepdim=True)`` keeps the (N, 1) shape that broadcasts against
    (N, C). Do not call ``torch.softmax`` / ``F.softmax``: write the formula.
    """
    raise NotImplementedError(
        "ex07.softmax is not implemented yet: see its docstring, then run `grade check ex07.softmax`"
    )


def cross_entropy(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example cross-entropy from predicted probabilities and integer labels.

    For example ``i`` the loss is ``-log(y_hat[i, y[i]])``: small when the model gives the
    true class a probability near 1, large when near 0.

    Args:
        y_hat: (N, C) float32 (or float64) probabilities (rows of a softmax).
        y: (N,) int64 class labels in ``[0, C)``, on the same device.

    Returns:
        (N,) losses with the dtype of ``y_hat``, one per example (not averaged),
        differentiable with respect to ``y_hat``.

    Example:
        >>> y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
        >>> cross_entropy(y_hat, torch.tensor([0, 2]))
        tensor([2.3026, 0.6931])

    Hint: pick one entry per row, either with ``y_hat.gather(1, y.view(-1, 1))`` or with
    ``y_hat[range(len(y_hat)), y]`` (d2l 3.6, "Defining the Loss Function").
    """
    raise NotImplementedError(
        "ex07.cross_entropy is not implemented yet: see its docstring, then run `grade check ex07.cross_entropy`"
    )


def accuracy(y_hat: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of rows whose highest score is the true label.

    Args:
        y_hat: (N, C) scores: probabilities or logits (the argmax is the same).
        y: (N,) int64 class labels.

    Returns:
        A Python float in [0, 1].

    Example:
        >>> y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
        >>> accuracy(y_hat, torch.tensor([0, 2]))
        0.5

    Hint: ``argmax(dim=1)``, compare with ``y``, turn the booleans into floats, take the
    mean, and ``.item()`` it (d2l 3.6, "Classification Accuracy").
    """
    raise NotImplementedError(
        "ex07.accuracy is not implemented yet: see its docstring, then run `grade check ex07.accuracy`"
    )


def make_fc_classifier(
    in_features: int = 3072, n_hidden: int = 512, n_classes: int = 2
) -> nn.Sequential:
    """The fully connected image classifier of DLwPT 7.2, producing logits.

    A flattened 32x32 RGB image has 32 * 32 * 3 = 3072 numbers; one hidden layer of 512
    Tanh units maps them to one score per class. There is no Softmax layer at the end:
    ``nn.CrossEntropyLoss`` expects raw logits. (A ``Softmax`` layer in front of ``NLLLoss``
    is a common mistake: ``NLLLoss`` wants log-probabilities, which is why DLwPT 7.2.5
    uses ``LogSoftmax`` before switching to ``CrossEntropyLoss``.)

    Args:
        in_features: input size (3072 for flattened CIFAR-10 images).
        n_hidden: hidden units.
        n_classes: output logits (2 for airplane/bird).

    Returns:
        ``nn.Sequential(nn.Linear(in_features, n_hidden), nn.Tanh(),
        nn.Linear(n_hidden, n_classes))``, mapping (B, in_features) float32 to
        (B, n_classes) float32 logits.

    Example:
        >>> model = make_fc_classifier()
        >>> model(torch.zeros(4, 3072)).shape
        torch.Size([4, 2])
        >>> [type(layer).__name__ for layer in model]
        ['Linear', 'Tanh', 'Linear']

    Hint: three layers in an ``nn.Sequential``.
    """
    raise NotImplementedError(
        "ex07.make_fc_classifier is not implemented yet: see its docstring, then run `grade check ex07.make_fc_classifier`"
    )


def evaluate(model: nn.Module, loader: DataLoader, device: torch.device | str) -> float:
    """Accuracy of a classifier over every batch of a loader.

    Puts the model in evaluation mode with ``model.eval()`` (Dropout stops dropping,
    BatchNorm uses its running statistics) and leaves it there: call ``model.train()``
    before training again. Runs under ``torch.no_grad()`` (no graph is built), moves each
    batch to ``device``, feeds the inputs to the model as they come (flatten images
    beforehand, or put ``nn.Flatten()`` in front of a fully connected model), and compares
    the argmax of the logits with the labels.

    Args:
        model: a classifier already on ``device``, mapping a batch of inputs to (B, C)
            logits.
        loader: yields ``(inputs, labels)`` batches, e.g. inputs (B, 3072) float32 and
            labels (B,) int64.
        device: where to run, e.g. ``"cpu"`` or ``torch.device("cuda")``.

    Returns:
        Correct predictions divided by the number of examples, as a Python float
        (0.0 for an empty loader).

    Example:
        >>> model = nn.Linear(2, 2)
        >>> with torch.no_grad():
        ...     _ = model.weight.copy_(torch.eye(2))
        ...     _ = model.bias.zero_()
        >>> data = [(torch.tensor([1.0, 0.0]), 0), (torch.tensor([0.0, 1.0]), 1),
        ...         (torch.tensor([2.0, 1.0]), 1)]
        >>> evaluate(model, DataLoader(data, batch_size=2), "cpu")
        0.6666666666666666
        >>> model.training
        False

    Hint: the accuracy loop of DLwPT 7.2.6, plus ``model.eval()`` and ``.to(device)``.
    """
    raise NotImplementedError(
        "ex07.evaluate is not implemented yet: see its docstring, then run `grade check ex07.evaluate`"
    )


def make_housing_data(
    n1: int = 1000, n2: int = 300, seed: int = 42
) -> tuple[tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Synthetic city/rural house data, as float32 tensors.

    Each house has two features, [size (ping), price (10k NT$)]. City houses are smaller
    and dearer, rural houses larger and cheaper. Follow this NumPy recipe exactly, so that
    everybody gets the same houses:

    1. ``np.random.seed(seed)``; ``n = n1 + n2``.
    2. ``city = np.random.multivariate_normal([25.9, 1503.7], [[33.64, 400], [400, 64112.24]],
       size=n)``, then ``rural = np.random.multivariate_normal([31.8, 834.3],
       [[62.41, 200], [200, 9623.61]], size=n)``.
    3. Stack city above rural as float32 (2n, 2); labels (2n, 1) float32: 0 for city,
       1 for rural.
    4. ``idx = np.random.permutation(2 * n)``; reorder data and labels with it.
    5. The first ``2 * n1`` rows are for training, the remaining ``2 * n2`` for testing.

    Args:
        n1: half the number of training examples.
        n2: half the number of test examples.
        seed: the NumPy seed (this resets NumPy's global random state).

    Returns:
        ``((train_x, train_y), (test_x, test_y))``: train_x (2*n1, 2), train_y (2*n1, 1),
        test_x (2*n2, 2), test_y (2*n2, 1), all float32 CPU tensors.

    Example:
        >>> (train_x, train_y), (test_x, test_y) = make_housing_data()
        >>> train_x.shape, train_y.shape, test_x.shape, test_y.shape
        (torch.Size([2000, 2]), torch.Size([2000, 1]), torch.Size([600, 2]), torch.Size([600, 1]))
        >>> train_x.dtype, train_y.dtype
        (torch.float32, torch.float32)
        >>> int(train_y.sum() + test_y.sum())
        1300

    Hint: ``np.vstack`` and ``np.zeros``/``np.ones`` of shape (n, 1); ``torch.from_numpy``
    at the end.
    """
    raise NotImplementedError(
        "ex07.make_housing_data is not implemented yet: see its docstring, then run `grade check ex07.make_housing_data`"
    )


def train_logistic(
    train_x: torch.Tensor, train_y: torch.Tensor, epochs: int = 100, lr: float = 0.5
) -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """Train a logistic regression (a linear layer + sigmoid) on standardized data.

    Size is about 30 and price about 1000, so gradient descent on the raw features would
    crawl along one of them. Standardize first: ``mean`` and ``std`` are computed per
    feature over the rows of ``train_x`` (``torch.std``'s default, unbiased), and the
    model sees ``(train_x - mean) / std``. Then ``torch.manual_seed(0)``, create
    ``nn.Linear(2, 1)`` (on the data's device) and run ``epochs`` full-batch steps of
    ``torch.optim.SGD`` with learning rate ``lr`` on ``nn.BCEWithLogitsLoss()`` (the sigmoid
    is inside the loss, so the model outputs logits). Keep ``mean`` and ``std``: new data
    must be standardized with the training statistics before it is fed to the model.

    Args:
        train_x: (N, 2) float32 features (size, price).
        train_y: (N, 1) float32 labels, 0 city and 1 rural.
        epochs: the number of full-batch gradient steps.
        lr: the SGD learning rate.

    Returns:
        ``(model, mean, std)``: the trained ``nn.Linear(2, 1)`` and the (2,) float32
        per-feature mean and standard deviation of ``train_x``. A house is predicted rural
        when ``model((x - mean) / std) > 0``.

    Example:
        >>> (train_x, train_y), (test_x, test_y) = make_housing_data()
        >>> model, mean, std = train_logistic(train_x, train_y)
        >>> mean.shape, std.shape
        (torch.Size([2]), torch.Size([2]))
        >>> with torch.no_grad():
        ...     predicted = (model((test_x - mean) / std) > 0).float()
        >>> bool((predicted == test_y).float().mean() > 0.95)
        True

    Hint: ``train_x.mean(dim=0)`` and ``train_x.std(dim=0)``. Not scikit-learn's
    ``StandardScaler``: it divides by the biased standard deviation (N, not N - 1), so its
    statistics differ from the ones asked for here. Zero the gradients every step.
    """
    raise NotImplementedError(
        "ex07.train_logistic is not implemented yet: see its docstring, then run `grade check ex07.train_logistic`"
    )
