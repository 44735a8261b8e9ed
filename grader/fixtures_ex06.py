"""Helpers that the ex06 (data) checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker. It builds what
must live where the code under test runs (a tiny CIFAR-10 folder on disk, a dataset that counts its
reads), reads things out as plain data, and holds trusted copies of the from-scratch pieces
(``data_iter``, ``linreg``, ``squared_loss``, ``sgd``, ``LabelMappedDataset``) so that an item that
is built from other items (``train_linreg``, ``load_cifar_pair``) is graded on its own code only.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset

CIFAR_LABEL_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR_TRAIN_FILES = [f"data_batch_{i}" for i in range(1, 6)]
CIFAR_TEST_FILES = ["test_batch"]
# labels every fake batch holds at least once (the default pair, and those of the checks' other maps)
CIFAR_FORCED_LABELS = [0, 2, 1, 9, 3]


# ---------------------------------------------------------------- a tiny CIFAR-10 on disk
def _md5(path: str) -> str:
    with open(path, "rb") as file:
        return hashlib.md5(file.read(), usedforsecurity=False).hexdigest()


def make_fake_cifar(n_per_batch: int, seed: int) -> str:
    """Write a tiny CIFAR-10 in the real on-disk format into a new temporary folder; its path.

    The folder holds ``cifar-10-batches-py`` with ``data_batch_1`` to ``data_batch_5``,
    ``test_batch`` and ``batches.meta`` (pickled dicts, images as (n, 3072) uint8 rows: 1024 red,
    1024 green, 1024 blue values). Labels are random, but every batch holds each of
    :data:`CIFAR_FORCED_LABELS` at least once (``n_per_batch`` must be at least 5).

    torchvision checks every file's MD5 before it loads anything; the expected checksums are
    class attributes of ``torchvision.datasets.CIFAR10``, so they are set here to the fake files'
    (in this process only). The folder is removed when the process exits.
    """
    from torchvision.datasets import CIFAR10

    if n_per_batch < len(CIFAR_FORCED_LABELS):
        raise ValueError(f"n_per_batch must be at least {len(CIFAR_FORCED_LABELS)}")
    rng = np.random.default_rng(seed)
    root = tempfile.mkdtemp(prefix="fake-cifar-")
    atexit.register(shutil.rmtree, root, True)
    folder = os.path.join(root, CIFAR10.base_folder)
    os.makedirs(folder)
    for name in CIFAR_TRAIN_FILES + CIFAR_TEST_FILES:
        labels = rng.integers(0, 10, size=n_per_batch)
        labels[: len(CIFAR_FORCED_LABELS)] = CIFAR_FORCED_LABELS
        labels = rng.permutation(labels)
        batch = {
            "batch_label": name,
            "labels": [int(label) for label in labels],
            "data": rng.integers(0, 256, size=(n_per_batch, 3072), dtype=np.uint8),
            "filenames": [f"{name}_{i}.png" for i in range(n_per_batch)],
        }
        with open(os.path.join(folder, name), "wb") as file:
            pickle.dump(batch, file)
    with open(os.path.join(folder, "batches.meta"), "wb") as file:
        pickle.dump({"label_names": CIFAR_LABEL_NAMES, "num_cases_per_batch": n_per_batch, "num_vis": 3072}, file)
    CIFAR10.train_list = [[name, _md5(os.path.join(folder, name))] for name in CIFAR_TRAIN_FILES]
    CIFAR10.test_list = [[name, _md5(os.path.join(folder, name))] for name in CIFAR_TEST_FILES]
    CIFAR10.meta = {**CIFAR10.meta, "md5": _md5(os.path.join(folder, "batches.meta"))}
    return root


def corrupt_cifar_file(root: str, name: str) -> None:
    """Append a byte to one file of a fake CIFAR-10 folder, so that its checksum no longer matches."""
    with open(os.path.join(root, "cifar-10-batches-py", name), "ab") as file:
        file.write(b"\0")


# ---------------------------------------------------------------- datasets that report on themselves
class CountingDataset(Dataset):
    """``(features[i], labels[i])`` pairs that count how often an item is read (``reads``).

    Args:
        features: (N, ...) inputs; an item's input is the row ``features[i]``.
        labels: N labels, a list of ints or a 1-d integer tensor (items then hold 0-d tensors).
    """

    def __init__(self, features: torch.Tensor, labels: Sequence[int] | torch.Tensor) -> None:
        self.features = features
        self.labels = labels
        self.reads = 0

    def __len__(self) -> int:
        return len(self.features)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, Any]:
        item = (self.features[index], self.labels[index])  # IndexError past the end, not counted
        self.reads += 1
        return item


def returns_stored_objects(dataset: Dataset, samples: Sequence[Any]) -> list[bool]:
    """For each position, whether ``dataset[i]`` is ``samples[i]`` itself or holds its very parts."""
    flags = []
    for index, sample in enumerate(samples):
        item = dataset[index]
        if item is sample:
            flags.append(True)
        elif isinstance(item, tuple) and isinstance(sample, tuple) and len(item) == len(sample):
            flags.append(all(a is b for a, b in zip(item, sample)))
        else:
            flags.append(False)
    return flags


def global_rng_state() -> torch.Tensor:
    """torch's global (CPU) random state, to see whether a call drew from it."""
    return torch.get_rng_state()


def weighted_grads(function: Callable[..., torch.Tensor], weights: torch.Tensor,
                   *args: torch.Tensor) -> list[torch.Tensor | None]:
    """Gradients of ``(function(*args) * weights).sum()`` with respect to each floating-point argument.

    Each floating-point tensor argument is replaced by a fresh leaf copy that requires grad; the
    result lists, per argument, its gradient (None for the others, or when the result does not
    depend on it).
    """
    leaves = [a.detach().clone().requires_grad_(True) if isinstance(a, torch.Tensor) and a.is_floating_point()
              else a for a in args]
    (function(*leaves) * weights).sum().backward()
    return [leaf.grad if isinstance(leaf, torch.Tensor) and leaf.requires_grad else None for leaf in leaves]


# ---------------------------------------------------------------- trusted copies of the pieces
def data_iter(batch_size: int, features: torch.Tensor, labels: torch.Tensor,
              generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """The reference's mini-batches: one ``torch.randperm`` shuffle, consecutive slices."""
    num_examples = len(features)
    indices = torch.randperm(num_examples, generator=generator).to(features.device)
    for i in range(0, num_examples, batch_size):
        batch_indices = indices[i : i + batch_size]
        yield features[batch_indices], labels[batch_indices]


def linreg(X: torch.Tensor, w: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """``X @ w + b``."""
    return torch.matmul(X, w) + b


def squared_loss(y_hat: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    """Per-example ``(y_hat - y) ** 2 / 2`` with ``y`` reshaped like ``y_hat``."""
    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2


def sgd(params: Sequence[torch.Tensor], lr: float, batch_size: int) -> None:
    """In-place ``param -= lr * param.grad / batch_size`` under no_grad, then zero the grads."""
    with torch.no_grad():
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()


class TrustedLabelMappedDataset(Dataset):
    """The reference's ``LabelMappedDataset``: the kept indices found once, samples looked up on demand."""

    def __init__(self, dataset: Dataset, label_map: dict[int, int]) -> None:
        self.dataset = dataset
        self.label_map = dict(label_map)
        self.indices = [i for i in range(len(dataset)) if int(dataset[i][1]) in self.label_map]

    def __len__(self) -> int:
        return len(self.indices)

    def __getitem__(self, index: int) -> tuple[Any, int]:
        x, y = self.dataset[self.indices[index]]
        return x, self.label_map[int(y)]


TRUSTED: dict[str, object] = {
    "data_iter": data_iter,
    "linreg": linreg,
    "squared_loss": squared_loss,
    "sgd": sgd,
    "LabelMappedDataset": TrustedLabelMappedDataset,
}


def call_with_trusted(function: Callable[..., Any], names: Sequence[str], *args: object, **kwargs: object) -> Any:
    """Call ``function`` while the names ``names`` of its module refer to the trusted copies above.

    ``train_linreg`` is written with the module's ``data_iter``, ``linreg``, ``squared_loss`` and
    ``sgd``; running it with trusted copies grades its own loop, not those pieces again (they
    have their own items). The module's names are put back after the call.
    """
    namespace = getattr(function, "__globals__", {})
    missing = object()
    saved = {name: namespace.get(name, missing) for name in names}
    namespace.update({name: TRUSTED[name] for name in names})
    try:
        return function(*args, **kwargs)
    finally:
        for name, value in saved.items():
            if value is missing:
                namespace.pop(name, None)
            else:
                namespace[name] = value
