"""Helpers that the ex06 (data) checks build or call on both sides.

Trusted grader code, imported by the reference run and by the student's worker, so it holds no
answer (see :mod:`grader.fixtures`). It builds what must live where the code under test runs (a tiny
CIFAR-10 folder on disk, a dataset that counts its reads) and reads things out as plain data. The
``load_cifar_pair`` runs the student's own ``LabelMappedDataset``; ``train_linreg`` gets the kit's pieces from the grader.
"""

from __future__ import annotations

import atexit
import hashlib
import os
import pickle
import shutil
import tempfile
from collections.abc import Sequence
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
