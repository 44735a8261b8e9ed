"""Exercise 06: datasets, data loaders and mini-batches from scratch.

You will learn how PyTorch feeds data to a model: a ``Dataset`` is anything with
``__len__`` and ``__getitem__``, a ``DataLoader`` cuts it into shuffled mini-batches, and
a view over a dataset can keep only the classes you want (the CIFAR-10 airplane/bird pair).
Then you rebuild the same machinery by hand, the way d2l's "linear regression from
scratch" does: ``data_iter``, ``linreg``, ``squared_loss`` and ``sgd``, and train a linear
model on synthetic data until it recovers the true weights.

Follows "Deep Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning 2020; DLwPT below),
chapter 7: the ``Dataset`` class, transforms and normalization (7.1), the airplane/bird subset
(7.2.1) and the ``DataLoader`` (7.2.6); and "Dive into Deep Learning" (d2l.ai, PyTorch edition;
d2l below), section 3.2 "Linear Regression Implementation from Scratch".

How to work: fill in each function, then run `grade check ex06`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import torch
import torchvision  # noqa: F401, RUF100 (used by the solution)
from torch.utils.data import DataLoader, Dataset
from torchvision import transforms  # noqa: F401, RUF100 (used by the solution)


class ListDataset(Dataset):
    """A ``torch.utils.data.Dataset`` over a Python list of samples.

    ``DataLoader`` accepts any object with ``__len__`` and ``__getitem__`` (DLwPT 7.1.2);
    subclassing ``torch.utils.data.Dataset`` says so explicitly. The samples are returned exactly as stored (no copies, no conversion).

    Args:
        samples: a list of samples, for example ``(x, y)`` pairs with x a (3, 32, 32)
            float32 image and y an int label. The list is kept, not copied.

    Example:
        >>> ds = ListDataset([(torch.tensor([1.0]), 0), (torch.tensor([2.0]), 1)])
        >>> len(ds)
        2
        >>> ds[1]
        (tensor([2.]), 1)

    Hint: remember the list in ``__init__``, then answer with its length and its items.
    """

    def __init__(self, samples: Sequence[Any]) -> None:
        self.samples = samples

    def __len__(self) -> int:
        """Return the number of samples.

        Returns:
            The length of the list given to the constructor.
        """
        return len(self.samples)

    def __getitem__(self, index: int) -> Any:
        """Return sample number ``index``, unchanged.

        Args:
            index: a position in ``range(len(self))`` (negative indices count from the end).

        Returns:
            The stored sample itself.

        Raises:
            IndexError: when ``index`` is out of range.
        """
        return self.samples[index]


class LabelMappedDataset(Dataset):
    """Keep only some classes of a labelled dataset and renumber their labels.

    CIFAR-10 has ten classes, but the airplane/bird classifier needs two: airplane (label 0)
    and bird (label 2), renumbered 0 and 1 with ``label_map={0: 0, 2: 1}``. Instead of
    copying every image into a new list (the list comprehension of DLwPT 7.2.1), this view
    scans the labels once in ``__init__``, remembers the positions to keep, and looks the
    samples up on demand.

    Args:
        dataset: a dataset whose items are ``(x, y)`` pairs with an integer label ``y``
            (a Python int or an integer 0-d tensor).
        label_map: old label -> new label; samples whose label is not a key are dropped.

    Example:
        >>> base = ListDataset([("a", 0), ("b", 1), ("c", 2), ("d", 0)])
        >>> ds = LabelMappedDataset(base, {0: 0, 2: 1})
        >>> len(ds)
        3
        >>> [ds[i] for i in range(len(ds))]
        [('a', 0), ('c', 1), ('d', 0)]

    Hint: iterate over the underlying dataset once in ``__init__`` and store the indices
    whose label is in ``label_map``; ``__getitem__`` then translates an index of the view
    into an index of the underlying dataset. Return ``x`` as you got it.
    """

    def __init__(self, dataset: Dataset, label_map: dict[int, int]) -> None:
        self.dataset = dataset
        self.label_map = dict(label_map)
        self.indices = [
            i for i in range(len(dataset)) if int(dataset[i][1]) in self.label_map
        ]

    def __len__(self) -> int:
        """Return the number of kept samples.

        Returns:
            How many samples of the underlying dataset have a label in ``label_map``.
        """
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        """Return kept sample number ``index`` with its new label.

        Args:
            index: a position in ``range(len(self))`` (negative indices count from the end).

        Returns:
            ``(x, label_map[y])``: ``x`` is the underlying sample's input, unchanged; the
            label is a Python int.

        Raises:
            IndexError: when ``index`` is out of range.
        """
        x, y = self.dataset[self.indices[index]]
        return x, self.label_map[int(y)]


def make_loader(
    dataset: Dataset, batch_size: int, shuffle: bool, seed: int | None = None
) -> DataLoader:
    """Wrap a dataset in a ``DataLoader`` whose shuffled order can be reproduced.

    A loader with ``shuffle=True`` draws a new order every epoch from a random number
    generator. Giving it its own ``torch.Generator`` seeded with ``seed`` makes two loaders
    built with the same seed produce the same batches, which is what you want when you
    compare runs or debug.

    Args:
        dataset: the dataset to batch (for example ``ListDataset`` of ``(x, y)`` pairs,
            x of shape (3,) float32, y an int).
        batch_size: samples per batch; the last batch may be smaller (it is kept).
        shuffle: whether to visit the samples in a new random order each epoch.
        seed: with ``shuffle``, seeds the loader's own generator; ``None`` uses PyTorch's
            global random state. Ignored when ``shuffle`` is False.

    Returns:
        A ``torch.utils.data.DataLoader``; for ``(x, y)`` samples each batch is
        ``[X, y]`` with X of shape (batch_size, 3) float32 and y (batch_size,) int64.

    Example:
        >>> ds = ListDataset([(torch.tensor([float(i)]), i) for i in range(5)])
        >>> [y.tolist() for _, y in make_loader(ds, 2, shuffle=False)]
        [[0, 1], [2, 3], [4]]
        >>> a = [y.tolist() for _, y in make_loader(ds, 2, shuffle=True, seed=0)]
        >>> b = [y.tolist() for _, y in make_loader(ds, 2, shuffle=True, seed=0)]
        >>> a == b
        True

    Hint: ``DataLoader`` takes a ``generator=`` argument.
    """
    generator = None
    if shuffle and seed is not None:
        generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator
    )


def data_iter(
    batch_size: int,
    features: torch.Tensor,
    labels: torch.Tensor,
    generator: torch.Generator | None = None,
) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """Yield shuffled mini-batches of ``(features, labels)``, the d2l way.

    Mini-batch SGD looks at a few random examples per step. This generator shuffles the
    example indices once, then yields consecutive slices of ``batch_size`` of them, so every
    example is visited exactly once per call and each feature row stays with its label.

    Args:
        batch_size: examples per batch; the last batch is smaller when ``batch_size``
            does not divide N.
        features: (N, D) float32 (or float64) inputs (any device).
        labels: (N, 1) or (N,) labels on the same device as ``features``.
        generator: a CPU ``torch.Generator`` for the shuffle; the same seed gives the same
            batches. ``None`` uses PyTorch's global random state.

    Yields:
        ``(X, y)``: X of shape (B, D) and y of shape (B, 1) or (B,), B <= batch_size,
        on the features' device.

    Example:
        >>> features = torch.arange(10.0).reshape(5, 2)
        >>> labels = torch.arange(5.0).reshape(5, 1)
        >>> batches = list(data_iter(2, features, labels, torch.Generator().manual_seed(0)))
        >>> [len(X) for X, y in batches]
        [2, 2, 1]
        >>> all(torch.equal(X[:, 0], 2 * y[:, 0]) for X, y in batches)
        True

    Hint: ``torch.randperm`` gives a shuffled index tensor; slice it with
    ``range(0, N, batch_size)`` and index both tensors with the same slice.
    """
    num_examples = len(features)
    indices = torch.randperm(num_examples, generator=generator).to(features.device)
    for i in range(0, num_examples, batch_size):
        batch_indices = indices[i : i + batch_size]
        yield features[batch_indices], labels[batch_indices]


def synthetic_data(
    w: torch.Tensor,
    b: float | torch.Tensor,
    num_examples: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Generate noisy linear-regression data ``y = X w + b + noise``.

    When you know the true ``w`` and ``b`` you can check that training recovers them. X is
    drawn from a standard normal distribution, and a little Gaussian noise (standard
    deviation 0.01) stands for measurement error.

    Args:
        w: (D,) true weights, float32 (or float64); an integer ``w`` gives float32 data.
        b: the true bias, a float or a 0-d tensor.
        num_examples: N, the number of rows to generate.
        generator: a CPU ``torch.Generator``; draw X first, then the noise, both from it.
            ``None`` uses PyTorch's global random state.

    Returns:
        ``(X, y)``: X of shape (N, D) and y of shape (N, 1), with the dtype and device of
        ``w``.

    Example:
        >>> true_w = torch.tensor([2.0, -3.4])
        >>> X, y = synthetic_data(true_w, 4.2, 1000, torch.Generator().manual_seed(0))
        >>> X.shape, y.shape
        (torch.Size([1000, 2]), torch.Size([1000, 1]))
        >>> bool(((X @ true_w + 4.2).reshape(-1, 1) - y).abs().max() < 0.1)
        True

    Hint: ``torch.normal(mean, std, size, generator=...)``; reshape y with ``(-1, 1)``.
    """
    dtype = w.dtype if w.is_floating_point() else torch.get_default_dtype()
    w = w.to(dtype)
    X = torch.normal(0, 1, (num_examples, len(w)), generator=generator, dtype=dtype)
    X = X.to(w.device)
    y = X @ w + b
    noise = torch.normal(0, 0.01, y.shape, generator=generator, dtype=dtype)
    y += noise.to(w.device)
    return X, y.reshape((-1, 1))


def linreg(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """The linear regression model ``X @ w + b``.

    Args:
        X: (B, D) float32 (or float64) inputs.
        w: (D, 1) weights with the dtype of ``X``.
        b: (1,) bias with the dtype of ``X`` (broadcast over the batch).

    Returns:
        (B, 1) predictions with the dtype of ``X``; differentiable with respect to ``X``,
        ``w`` and ``b``.

    Example:
        >>> linreg(torch.tensor([[1.0, 2.0]]), torch.tensor([[2.0], [-3.4]]), torch.tensor([4.2]))
        tensor([[-0.6000]])

    Hint: one matrix product and one addition.
    """
    return torch.matmul(X, w) + b


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Half the squared error of each example (not summed, not averaged).

    Args:
        y_hat: (B, 1) float32 (or float64) predictions.
        y: (B, 1) or (B,) targets with the dtype of ``y_hat``; reshaped to ``y_hat``'s
            shape so that a (B,) target does not broadcast into a (B, B) matrix.

    Returns:
        (B, 1) per-example losses ``(y_hat - y) ** 2 / 2`` with the dtype of ``y_hat``.

    Example:
        >>> squared_loss(torch.tensor([[1.0], [3.0]]), torch.tensor([0.0, 1.0]))
        tensor([[0.5000],
                [2.0000]])

    Hint: ``y.reshape(y_hat.shape)`` before subtracting.
    """
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params: Sequence[torch.Tensor], lr: float, batch_size: int) -> None:
    """One step of mini-batch stochastic gradient descent, by hand.

    After ``loss.sum().backward()`` every parameter's ``.grad`` holds the gradient of the
    batch's summed loss; dividing by ``batch_size`` turns it into the mean. The update must
    not be recorded by autograd (``torch.no_grad()``) and must change the tensors in place,
    so that the caller's ``w`` and ``b`` are updated. The gradients are then reset to zero,
    because ``backward`` adds to ``.grad`` instead of overwriting it.

    Args:
        params: leaf tensors with ``requires_grad=True`` and a filled ``.grad``, e.g.
            ``[w, b]`` with w (D, 1) and b (1,) float32 (or float64).
        lr: the learning rate.
        batch_size: the number of examples whose losses were summed.

    Returns:
        None; ``params`` are updated in place (they stay leaves that require grad) and
        their ``.grad`` are zeroed (setting them to ``None`` is fine too).

    Example:
        >>> w = torch.tensor([1.0], requires_grad=True)
        >>> (3 * w).sum().backward()
        >>> sgd([w], lr=0.1, batch_size=1)
        >>> w
        tensor([0.7000], requires_grad=True)
        >>> w.grad is None or bool((w.grad == 0).all())
        True

    Hint: no ``torch.optim`` here: ``param -= ...`` inside ``with torch.no_grad():``,
    then ``param.grad.zero_()``.
    """
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


def train_linreg(
    features: torch.Tensor,
    labels: torch.Tensor,
    lr: float,
    num_epochs: int,
    batch_size: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Train a linear regression with the four pieces above.

    Initialise ``w`` with ``torch.normal(0, 0.01, size=(D, 1), generator=generator)`` (float32,
    as in d2l 3.2) and ``b`` with float32 zeros of shape (1,), both on the features' device
    and requiring gradients.
    Then, for each epoch, for each ``(X, y)`` of ``data_iter(batch_size, features, labels,
    generator)``: compute ``squared_loss(linreg(X, w, b), y)``, call ``.sum().backward()``
    and ``sgd([w, b], lr, batch_size)``.

    Args:
        features: (N, D) float32 inputs (float32 only, like ``w`` and ``b``).
        labels: (N, 1) float32 targets, on the same device.
        lr: the learning rate, e.g. 0.03.
        num_epochs: passes over the data, e.g. 3.
        batch_size: examples per step, e.g. 10.
        generator: a CPU ``torch.Generator`` used for the initial ``w`` and for the shuffles.

    Returns:
        ``(w, b)``: float32 w of shape (D, 1) and b of shape (1,), detached from the graph,
        on the features' device.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> features, labels = synthetic_data(torch.tensor([2.0, -3.4]), 4.2, 1000, g)
        >>> w, b = train_linreg(features, labels, 0.03, 3, 10, g)
        >>> w.shape, b.shape
        (torch.Size([2, 1]), torch.Size([1]))
        >>> bool((w.reshape(-1) - torch.tensor([2.0, -3.4])).abs().max() < 0.01)
        True
        >>> bool((b - 4.2).abs().max() < 0.01)
        True

    Hint: d2l 3.2 ("Training"): the training loop is four lines inside two ``for``.
    """
    w = torch.normal(0, 0.01, size=(features.shape[1], 1), generator=generator)
    w = w.to(features.device, features.dtype).requires_grad_()
    b = torch.zeros(1, dtype=features.dtype, device=features.device, requires_grad=True)
    for _ in range(num_epochs):
        for X, y in data_iter(batch_size, features, labels, generator):
            loss = squared_loss(linreg(X, w, b), y)
            loss.sum().backward()
            sgd([w, b], lr, batch_size)
    return w.detach(), b.detach()


def load_cifar_pair(
    root: str | Path,
    train: bool = True,
    label_map: dict[int, int] = {0: 0, 2: 1},  # noqa: B006 (never modified)
) -> LabelMappedDataset:
    """Load the CIFAR-10 airplane/bird subset from disk, normalised, without downloading.

    Builds ``torchvision.datasets.CIFAR10(root, train=train, download=False, transform=...)``
    with ``ToTensor()`` followed by ``Normalize((0.4915, 0.4823, 0.4468),
    (0.2470, 0.2435, 0.2616))`` (the per-channel mean and std of CIFAR-10), and wraps it in
    a ``LabelMappedDataset`` with ``label_map`` (airplane 0 -> 0, bird 2 -> 1 by default).
    The default dict is never modified.

    Args:
        root: the folder that contains ``cifar-10-batches-py/`` (the extracted "CIFAR-10
            python version" archive).
        train: the 50,000-image training batches if True, the 10,000-image test batch if
            False (10,000 and 2,000 airplane/bird images).
        label_map: CIFAR-10 label -> new label for the classes to keep.

    Returns:
        A ``LabelMappedDataset`` whose items are ``(img, label)``: img a (3, 32, 32)
        float32 tensor, label an int in ``label_map.values()``.

    Raises:
        FileNotFoundError: when ``root/cifar-10-batches-py`` is missing, incomplete or
            corrupted (torchvision checks every file's MD5 checksum); the message names
            the folder and how to get the data.

    Example:
        >>> load_cifar_pair("no/such/folder")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        FileNotFoundError: CIFAR-10 not found or corrupted in no/such/folder/cifar-10-batches-py: ...

    Hint: torchvision reports missing data with a ``RuntimeError``; catch it and raise
    ``FileNotFoundError`` from it.
    """
    transform = transforms.Compose(
        [
            transforms.ToTensor(),
            transforms.Normalize((0.4915, 0.4823, 0.4468), (0.2470, 0.2435, 0.2616)),
        ]
    )
    folder = Path(root) / "cifar-10-batches-py"
    try:
        cifar = torchvision.datasets.CIFAR10(
            root, train=train, download=False, transform=transform
        )
    except RuntimeError as error:
        raise FileNotFoundError(
            f"CIFAR-10 not found or corrupted in {folder}: download the CIFAR-10 python "
            "version (cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html) "
            f"and extract it into {Path(root)}, so that {folder} holds data_batch_1 to "
            "data_batch_5, test_batch and batches.meta"
        ) from error
    return LabelMappedDataset(cifar, label_map)
