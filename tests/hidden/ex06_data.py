"""Hidden checks for ex06_data: datasets, loaders and mini-batches from scratch.

Datasets under test are built over datasets that live where the code runs (a ``TensorDataset``, a
dataset that counts its reads, a tiny CIFAR-10 folder written by :mod:`grader.fixtures_ex06`).
Shuffling items are graded by properties (every example once, pairs kept together, batch sizes,
same seed same batches), never by one exact order. While the checks of ``train_linreg`` run, its calls to
``data_iter``, ``linreg``, ``squared_loss`` and ``sgd`` reach the kit's versions (``kit=...``, computed by
the grader; ``loss.backward()`` flows through them), so it is graded on its own loop: a mistake in a piece
costs points on that piece only. ``load_cifar_pair`` deliberately runs the student's own
``LabelMappedDataset`` (``uses=...``), and its feedback says so when that does not pass its own checks.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from grader.suite import Side, Suite

suite = Suite("ex06_data")

FIX = "grader.fixtures_ex06"
VJP = "torch.autograd.functional:vjp"  # torch's own vector-Jacobian product, run where the code runs
TRUE_W = [2.0, -3.4]
TRUE_B = 4.2


def raised(call: Callable[[], object]) -> tuple[str, str]:
    """``(exception type name, message)`` of what ``call()`` raised, ``("nothing", "")`` if nothing.

    The reference raises real exceptions; student code raises ``StudentError`` carrying the type's
    name. A stub's ``NotImplementedError`` is passed on, so the item reads "not implemented".
    """
    try:
        call()
    except Exception as error:
        name = getattr(error, "type_name", type(error).__name__)
        if name == "NotImplementedError":
            raise
        return name, str(getattr(error, "message", error))
    return "nothing", ""


# ------------------------------------------------------------------ ListDataset
suite.item("ListDataset", points=2, hint="""
A Dataset is anything with __len__ and __getitem__ (DLwPT 7.1.2; PyTorch's "Datasets & DataLoaders"
tutorial, creating a custom Dataset). Subclass torch.utils.data.Dataset and let the list do the work.

Keep the list itself in __init__ (no copy). __len__ answers with its length (5 samples -> 5, not 4);
__getitem__ returns the stored sample unchanged, so negative indices work and an index past the end
raises IndexError.

In __init__: self.samples = samples; __len__ returns len(self.samples); __getitem__(index) returns
self.samples[index].
""")


def image_pairs(side: Side, n: int) -> list[tuple[torch.Tensor, int]]:
    """``n`` (image (3, 4, 4), int label) samples."""
    return [(side.randn(3, 4, 4), i % 3) for i in range(n)]


@suite.check("ListDataset", "ListDataset over 5 (image, label) pairs: len() and every item")
def list_dataset_five_pairs(side: Side) -> object:
    dataset = side.module.ListDataset(image_pairs(side, 5))
    return {"len(dataset)": len(dataset), "the items": [dataset[i] for i in range(5)],
            "dataset[-1]": dataset[-1]}


@suite.check("ListDataset", "ListDataset over 1 sample and over an empty list")
def list_dataset_one_and_empty(side: Side) -> object:
    one = side.module.ListDataset(image_pairs(side, 1))
    empty = side.module.ListDataset([])
    return {"len of 1 sample": len(one), "its item": one[0], "len of []": len(empty)}


@suite.check("ListDataset", "ListDataset of the docstring's ('a', 0) ... ('d', 0) pairs")
def list_dataset_strings(side: Side) -> object:
    dataset = side.module.ListDataset([("a", 0), ("b", 1), ("c", 2), ("d", 0)])
    return {"len(dataset)": len(dataset), "the items": [dataset[i] for i in range(4)]}


@suite.check("ListDataset", "ListDataset is a torch.utils.data.Dataset")
def list_dataset_is_a_dataset(side: Side) -> object:
    dataset = side.module.ListDataset(image_pairs(side, 2))
    return {"isinstance(dataset, torch.utils.data.Dataset)": side.isinstance(dataset, "torch.utils.data.Dataset")}


@suite.check("ListDataset", "ListDataset of 3 samples: dataset[3] raises IndexError")
def list_dataset_index_past_the_end(side: Side) -> object:
    dataset = side.module.ListDataset(image_pairs(side, 3))
    return {"dataset[3] raises": raised(lambda: dataset[3])[0]}


@suite.check("ListDataset", "ListDataset returns the stored samples themselves, not copies")
def list_dataset_returns_stored_objects(side: Side) -> object:
    samples = image_pairs(side, 4)
    dataset = side.module.ListDataset(samples)
    return {"dataset[i] holds the very objects of samples[i]": side.build(f"{FIX}:returns_stored_objects",
                                                                         dataset, samples)}


@suite.check("ListDataset", "DataLoader(ListDataset(7 pairs), batch_size=3) batches")
def list_dataset_in_a_data_loader(side: Side) -> object:
    samples = [(side.randn(2), i) for i in range(7)]
    loader = side.build("torch.utils.data:DataLoader", side.module.ListDataset(samples), batch_size=3)
    return {"the batches": list(loader)}


# ------------------------------------------------------------------ LabelMappedDataset
suite.item("LabelMappedDataset", points=2, hint="""
A view over another dataset: look at every sample once in __init__, remember the positions to keep, and
look the samples up on demand.

Keep position i when its label int(dataset[i][1]) is a key of label_map. __len__ is the number of kept
positions (no new scan); __getitem__ translates an index of the view into an index of the underlying
dataset and renumbers the label. With labels [0, 1, 2, 3] and {0: 0, 2: 1} you keep 2 samples, labelled
0 and 1.

self.indices = [i for i in range(len(dataset)) if int(dataset[i][1]) in label_map];
__len__ is len(self.indices); __getitem__(index) reads x, y = dataset[self.indices[index]] and
returns (x, label_map[int(y)]) with a Python int label.
""")

LABELS = [0, 1, 2, 3, 2, 0, 3, 1, 0, 2]


def counting_dataset(side: Side, labels: list[int], tensor_labels: bool = False) -> object:
    """A dataset of (x (3,), label) pairs that counts its reads; labels as ints or 0-d tensors."""
    features = side.randn(len(labels), 3)
    return side.build(f"{FIX}:CountingDataset", features, side.tensor(labels) if tensor_labels else labels)


def mapped_items(dataset: object) -> dict[str, object]:
    return {"len(dataset)": len(dataset), "the items": [dataset[i] for i in range(len(dataset))]}


@suite.check("LabelMappedDataset", "LabelMappedDataset(10 samples labelled 0 to 3, {0: 0, 2: 1}): len() and items")
def label_mapped_pair(side: Side) -> object:
    return mapped_items(side.module.LabelMappedDataset(counting_dataset(side, LABELS), {0: 0, 2: 1}))


@suite.check("LabelMappedDataset",
             "LabelMappedDataset over 0-d tensor labels (as a TensorDataset gives): Python int labels")
def label_mapped_tensor_labels(side: Side) -> object:
    return mapped_items(side.module.LabelMappedDataset(counting_dataset(side, LABELS, tensor_labels=True),
                                                       {0: 0, 2: 1}))


@suite.check("LabelMappedDataset", "LabelMappedDataset renumbering every class with {0: 3, 1: 2, 2: 1, 3: 0}")
def label_mapped_every_class(side: Side) -> object:
    return mapped_items(side.module.LabelMappedDataset(counting_dataset(side, LABELS), {0: 3, 1: 2, 2: 1, 3: 0}))


@suite.check("LabelMappedDataset", "LabelMappedDataset with a label_map that keeps no class ({7: 0})")
def label_mapped_keeps_nothing(side: Side) -> object:
    return mapped_items(side.module.LabelMappedDataset(counting_dataset(side, LABELS), {7: 0}))


@suite.check("LabelMappedDataset", "LabelMappedDataset: dataset[-1], and dataset[len(dataset)] raises IndexError")
def label_mapped_index_ends(side: Side) -> object:
    dataset = side.module.LabelMappedDataset(counting_dataset(side, LABELS), {0: 0, 2: 1})
    return {"dataset[-1]": dataset[-1], "dataset[len(dataset)] raises": raised(lambda: dataset[len(dataset)])[0]}


@suite.check("LabelMappedDataset", "LabelMappedDataset scans the underlying dataset once (reads counted)")
def label_mapped_scans_once(side: Side) -> object:
    base = counting_dataset(side, LABELS)
    dataset = side.module.LabelMappedDataset(base, {0: 0, 2: 1})
    after_init = base.reads
    lengths = [len(dataset) for _ in range(3)]
    after_len = base.reads
    for i in range(lengths[0]):
        _ = dataset[i]
    after_items = base.reads
    return {"samples read while constructing (each once)": after_init,
            "samples read by three len() calls": after_len - after_init,
            "reading an item reads at most one sample": after_items - after_len <= lengths[0]}


# ------------------------------------------------------------------ make_loader
suite.item("make_loader", points=2, hint="""
DataLoader does the batching and the shuffling (DLwPT 7.2.6); for a reproducible shuffle it takes a
generator= argument.

When shuffle is True and seed is not None, give the loader its own torch.Generator seeded with seed: it
then owns its random numbers, two loaders with the same seed give the same batches, and torch's global
random state is left alone (do not call torch.manual_seed). Keep the last, smaller batch (no
drop_last).

Return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator), where generator
is torch.Generator().manual_seed(seed) in that case and None otherwise.
""")


def numbered_dataset(side: Side, n: int) -> tuple[object, torch.Tensor]:
    """A TensorDataset of (x (3,), label) where the label is the sample's number; and the x."""
    x = side.randn(n, 3)
    return side.build("torch.utils.data:TensorDataset", x, side.tensor(list(range(n)))), x


def loader_properties(batches: list, x: torch.Tensor) -> dict[str, object]:
    """Batch sizes and coverage of one pass over a loader of :func:`numbered_dataset`."""
    ids = torch.cat([y for _, y in batches]).cpu()
    n = len(x)
    return {
        "batch sizes": [len(y) for _, y in batches],
        "every sample exactly once": bool(torch.equal(ids.sort().values, torch.arange(n))),
        "inputs stay with their labels": all(bool(torch.equal(X, x[y])) for X, y in batches),
    }


def ids_of(batches: list) -> torch.Tensor:
    return torch.cat([y for _, y in batches]).cpu()


@suite.check("make_loader", "make_loader(10 samples, batch_size=4, shuffle=False): the batches in order")
def make_loader_in_order(side: Side) -> object:
    dataset, _ = numbered_dataset(side, 10)
    loader = side.module.make_loader(dataset, 4, False)
    return {"is a DataLoader": side.isinstance(loader, "torch.utils.data.DataLoader"), "the batches": list(loader)}


@suite.check("make_loader",
             "make_loader(11 samples, 3, shuffle=True, seed=7) twice and with seed=8: reproducible shuffles")
def make_loader_seeded_shuffle(side: Side) -> object:
    dataset, x = numbered_dataset(side, 11)
    first = side.module.make_loader(dataset, 3, True, seed=7)
    again = side.module.make_loader(dataset, 3, True, seed=7)
    other = side.module.make_loader(dataset, 3, True, seed=8)
    batches, batches_again, batches_other = list(first), list(again), list(other)
    return {
        **loader_properties(batches, x),
        "shuffled (not in the dataset's order)": not torch.equal(ids_of(batches), torch.arange(11)),
        "same seed, same batches": bool(torch.equal(ids_of(batches), ids_of(batches_again))),
        "another seed, another order": not torch.equal(ids_of(batches), ids_of(batches_other)),
    }


@suite.check("make_loader", "make_loader(..., shuffle=True, seed=3): each pass over the loader is a new shuffle")
def make_loader_new_order_each_epoch(side: Side) -> object:
    dataset, x = numbered_dataset(side, 12)
    loader = side.module.make_loader(dataset, 5, True, seed=3)
    epoch_1, epoch_2 = list(loader), list(loader)
    return {**loader_properties(epoch_2, x),
            "the second pass has another order": not torch.equal(ids_of(epoch_1), ids_of(epoch_2))}


@suite.check("make_loader", "a seeded make_loader leaves torch's global random state alone")
def make_loader_keeps_the_global_rng(side: Side) -> object:
    dataset, _ = numbered_dataset(side, 6)
    before = side.build(f"{FIX}:global_rng_state")
    list(side.module.make_loader(dataset, 2, True, seed=1))
    after = side.build(f"{FIX}:global_rng_state")
    return {"torch's global random state unchanged": bool(torch.equal(before, after))}


@suite.check("make_loader", "make_loader(9 samples, 2, shuffle=True) without a seed visits every sample once")
def make_loader_shuffle_without_seed(side: Side) -> object:
    dataset, x = numbered_dataset(side, 9)
    return loader_properties(list(side.module.make_loader(dataset, 2, True)), x)


@suite.check("make_loader", "make_loader(7 samples, 7, shuffle=False, seed=5): one batch, in order")
def make_loader_seed_without_shuffle(side: Side) -> object:
    dataset, _ = numbered_dataset(side, 7)
    return {"the batches": list(side.module.make_loader(dataset, 7, False, seed=5))}


# ------------------------------------------------------------------ data_iter
suite.item("data_iter", points=2, hint="""
A generator function (it yields) in the style of d2l 3.2: shuffle the example indices once with
torch.randperm, then walk through them batch_size at a time.

Index features and labels with the same slice of the shuffled indices, so that each row keeps its
label. The last batch may be smaller. Pass the generator to randperm, so that the same seed gives the
same batches.

num_examples = len(features); indices = torch.randperm(num_examples, generator=generator); then
for i in range(0, num_examples, batch_size): batch = indices[i: i + batch_size];
yield features[batch], labels[batch].
""")


def numbered_examples(side: Side, n: int, dtype: torch.dtype = torch.float32,
                      flat_labels: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(n, 3) features whose first column numbers the examples, and labels 2 * number + 1."""
    features = side.randn(n, 3, dtype=dtype)
    features[:, 0] = torch.arange(n, dtype=dtype, device=side.device)
    labels = features[:, :1] * 2 + 1
    return features, labels.reshape(-1) if flat_labels else labels


def batch_properties(batches: list, features: torch.Tensor) -> dict[str, object]:
    """What every correct data_iter gives, whatever its order."""
    n = len(features)
    numbers = torch.cat([X[:, 0] for X, _ in batches]).cpu() if batches else torch.zeros(0)
    return {
        "(X, y) shapes": [(tuple(X.shape), tuple(y.shape)) for X, y in batches],
        "every example exactly once": bool(torch.equal(numbers.sort().values.long(), torch.arange(n))),
        "each X row is a row of features": all(bool(torch.equal(X, features[X[:, 0].long()])) for X, _ in batches),
        "each y is its X row's label": all(bool(torch.equal(y.reshape(-1), X[:, 0] * 2 + 1)) for X, y in batches),
        "dtypes and device": sorted({f"{X.dtype} {y.dtype} {X.device.type}" for X, y in batches}),
    }


def batches_of(iterator: object) -> list:
    """The mini-batches a data_iter call yields, as a list.

    ``list(iter(...))``, not ``list(...)``: on the student's side the generator is a handle whose
    ``len()`` raises, and ``list()`` asks for the length first.
    """
    return list(iter(iterator))


def shuffled(batches: list) -> bool:
    numbers = torch.cat([X[:, 0] for X, _ in batches]).cpu()
    return not torch.equal(numbers, torch.arange(len(numbers), dtype=numbers.dtype))


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


@suite.check("data_iter", "list(data_iter(4, 18 examples, labels (18, 1), seeded generator)): batches of 4, 4, 4, 4, 2")
def data_iter_properties(side: Side) -> object:
    features, labels = numbered_examples(side, 18)
    batches = batches_of(side.module.data_iter(4, features, labels, seeded(11)))
    return {**batch_properties(batches, features), "shuffled (not in the features' order)": shuffled(batches)}


@suite.check("data_iter", "data_iter with the same generator seed twice, and another seed")
def data_iter_reproducible(side: Side) -> object:
    features, labels = numbered_examples(side, 15)
    first = batches_of(side.module.data_iter(4, features, labels, seeded(5)))
    again = batches_of(side.module.data_iter(4, features, labels, seeded(5)))
    other = batches_of(side.module.data_iter(4, features, labels, seeded(6)))

    def numbers(batches: list) -> torch.Tensor:
        return torch.cat([X[:, 0] for X, _ in batches])

    return {"same seed, same batches": bool(torch.equal(numbers(first), numbers(again))),
            "another seed, another order": not torch.equal(numbers(first), numbers(other))}


@suite.check("data_iter", "data_iter(5, 20 examples): batch_size divides N, no empty batch at the end")
def data_iter_exact_batches(side: Side) -> object:
    features, labels = numbered_examples(side, 20)
    return batch_properties(batches_of(side.module.data_iter(5, features, labels, seeded(2))), features)


@suite.check("data_iter", "data_iter with 1-d labels (N,) and float64 features, batch_size 3")
def data_iter_flat_labels_float64(side: Side) -> object:
    features, labels = numbered_examples(side, 8, torch.float64, flat_labels=True)
    return batch_properties(batches_of(side.module.data_iter(3, features, labels, seeded(4))), features)


@suite.check("data_iter", "data_iter with batch_size 1, and with batch_size larger than N")
def data_iter_batch_size_extremes(side: Side) -> object:
    features, labels = numbered_examples(side, 6)
    ones = batches_of(side.module.data_iter(1, features, labels, seeded(8)))
    everything = batches_of(side.module.data_iter(10, features, labels, seeded(9)))
    return {"batch_size 1": batch_properties(ones, features), "batch_size 10": batch_properties(everything, features)}


@suite.check("data_iter", "data_iter without a generator (global random state) still visits every example once")
def data_iter_without_generator(side: Side) -> object:
    features, labels = numbered_examples(side, 13)
    return batch_properties(batches_of(side.module.data_iter(5, features, labels)), features)


# ------------------------------------------------------------------ synthetic_data
suite.item("synthetic_data", points=2, hint="""
y = X w + b + noise (d2l 3.2.1): X from a standard normal distribution, noise with standard deviation
0.01. torch.normal(mean, std, size, generator=...) draws both.

The order matters for reproducibility: draw X first, then the noise, both from the same generator. X
and y get w's dtype and device, and y comes out as an (N, 1) column.

X = torch.normal(0, 1, (num_examples, len(w)), generator=generator, dtype=w.dtype) (then move it to
w's device); y = X @ w + b; add torch.normal(0, 0.01, y.shape, generator=generator, ...) drawn after X;
return X, y.reshape((-1, 1)).
""")


@suite.check("synthetic_data", "synthetic_data([2, -3.4], 4.2, 50, seeded generator): X and y")
def synthetic_data_tutorial(side: Side) -> object:
    X, y = side.module.synthetic_data(side.tensor(TRUE_W), TRUE_B, 50, seeded(3))
    return {"X": X, "y": y}


@suite.check("synthetic_data", "synthetic_data with a float64 w of 3 weights and 7 examples")
def synthetic_data_float64(side: Side) -> object:
    X, y = side.module.synthetic_data(side.randn(3, dtype=torch.float64), -1.5, 7, seeded(4))
    return {"X": X, "y": y}


@suite.check("synthetic_data", "synthetic_data with 1 weight, 1 example and b a 0-d tensor")
def synthetic_data_one_example(side: Side) -> object:
    X, y = side.module.synthetic_data(side.tensor([0.5]), side.tensor(2.0), 1, seeded(5))
    return {"X": X, "y": y}


@suite.check("synthetic_data", "synthetic_data(w, b, 4000): X ~ N(0, 1) and noise of std 0.01 (statistics)")
def synthetic_data_statistics(side: Side) -> object:
    w = side.tensor(TRUE_W)
    X, y = side.module.synthetic_data(w, TRUE_B, 4000, seeded(6))
    noise = y.reshape(-1) - (X @ w + TRUE_B)
    return {"shapes": (tuple(X.shape), tuple(y.shape)),
            "X mean within 0.05 of 0": bool(X.mean().abs() < 0.05),
            "X std within 0.05 of 1": bool((X.std() - 1).abs() < 0.05),
            "noise std between 0.009 and 0.011": bool(0.009 < noise.std() < 0.011),
            "noise mean within 0.001 of 0": bool(noise.mean().abs() < 0.001)}


@suite.check("synthetic_data", "synthetic_data without a generator: shapes, and w is left unchanged")
def synthetic_data_global_rng(side: Side) -> object:
    w = side.tensor(TRUE_W)
    X, y = side.module.synthetic_data(w, TRUE_B, 6)
    return {"shapes": (tuple(X.shape), tuple(y.shape)), "w after the call": w}


# ------------------------------------------------------------------ linreg
suite.item("linreg", points=1, hint="""
One matrix product and one addition (d2l 3.2.3); check that the shapes fit: (B, D) @ (D, 1).

return torch.matmul(X, w) + b: (B, D) @ (D, 1) gives (B, 1), and the (1,) bias broadcasts over the
batch.
""")


def linreg_inputs(side: Side, batch: int, features: int, dtype: torch.dtype = torch.float32):
    X = side.randn(batch, features, dtype=dtype)
    w = side.randn(features, 1, dtype=dtype).requires_grad_(True)
    b = side.randn(1, dtype=dtype).requires_grad_(True)
    return X, w, b


@suite.check("linreg", "linreg on a (5, 3) batch with w (3, 1) and b (1,) that require grad")
def linreg_batch(side: Side) -> object:
    X, w, b = linreg_inputs(side, 5, 3)
    out = side.module.linreg(X, w, b)
    return {"the result": out.detach(), "requires grad": out.requires_grad}


@suite.check("linreg", "gradients of (linreg(X, w, b) * weights).sum() with respect to X, w and b")
def linreg_gradients(side: Side) -> object:
    X, w, b = linreg_inputs(side, 4, 2)
    _, gradients = side.build(VJP, side.function("linreg"), (X, w, b), side.randn(4, 1))
    return {"gradients with respect to X, w and b": gradients}


@suite.check("linreg", "linreg on a batch of 1 in float64, and the docstring's example")
def linreg_one_row_float64(side: Side) -> object:
    X, w, b = linreg_inputs(side, 1, 4, torch.float64)
    example = side.module.linreg(side.tensor([[1.0, 2.0]]), side.tensor([[2.0], [-3.4]]), side.tensor([4.2]))
    return {"float64 batch of 1": side.module.linreg(X, w, b).detach(), "docstring example": example}


# ------------------------------------------------------------------ squared_loss
suite.item("squared_loss", points=1, hint="""
Half the squared error of each example, not summed and not averaged. Check the shapes first: y may be
(B,) while y_hat is (B, 1).

Without a reshape a (B,) y broadcasts against (B, 1) into a (B, B) matrix: bring y to y_hat's shape
before subtracting. The result is (B, 1), one loss per example.

return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2.
""")


@suite.check("squared_loss", "squared_loss of (4, 1) predictions and (4,) targets")
def squared_loss_flat_targets(side: Side) -> object:
    return side.module.squared_loss(side.randn(4, 1), side.randn(4))


@suite.check("squared_loss", "squared_loss of (6, 1) predictions and (6, 1) targets in float64")
def squared_loss_float64(side: Side) -> object:
    return side.module.squared_loss(side.randn(6, 1, dtype=torch.float64), side.randn(6, 1, dtype=torch.float64))


@suite.check("squared_loss", "squared_loss on a batch of 1 (the docstring's values), inputs unchanged")
def squared_loss_docstring(side: Side) -> object:
    y_hat, y = side.tensor([[1.0], [3.0]]), side.tensor([0.0, 1.0])
    single = side.module.squared_loss(side.tensor([[2.5]]), side.tensor([0.5]))
    return {"docstring example": side.module.squared_loss(y_hat, y), "batch of 1": single,
            "y_hat after the call": y_hat, "y after the call": y}


@suite.check("squared_loss", "gradients of (squared_loss(y_hat, y) * weights).sum() with respect to y_hat and y")
def squared_loss_gradient(side: Side) -> object:
    y_hat, y = side.randn(5, 1), side.randn(5)
    _, gradients = side.build(VJP, side.function("squared_loss"), (y_hat, y), side.randn(5, 1))
    return {"gradients with respect to y_hat and y": gradients}


# ------------------------------------------------------------------ sgd
suite.item("sgd", points=2, forbid=("torch.optim",), hint="""
Mini-batch SGD by hand (d2l 3.2.5), without torch.optim: move each parameter against its gradient,
without autograd recording the update.

Update in place (so that the caller's tensors change) under torch.no_grad(), and divide by batch_size:
.grad holds the gradient of the summed loss. Then zero each .grad, because backward adds to it.

with torch.no_grad(): for param in params: param -= lr * param.grad / batch_size, then
param.grad.zero_().
""")


def with_grad(side: Side, *shape: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """A leaf that requires grad and already holds a gradient."""
    tensor = side.randn(*shape, dtype=dtype).requires_grad_(True)
    tensor.grad = side.randn(*shape, dtype=dtype)
    return tensor


def after_step(params: list[torch.Tensor]) -> dict[str, object]:
    return {
        "params after the call": [p.detach().clone() for p in params],
        "grads zeroed (or None) after the call": all(p.grad is None or not bool(p.grad.any()) for p in params),
        "params still require grad": [p.requires_grad for p in params],
    }


@suite.check("sgd", "sgd([w (3, 1), b (1,)], lr=0.03, batch_size=10)")
def sgd_one_step(side: Side) -> object:
    params = [with_grad(side, 3, 1), with_grad(side, 1)]
    side.module.sgd(params, 0.03, 10)
    return after_step(params)


@suite.check("sgd", "sgd on float64 parameters with batch_size=1 and lr=0.5")
def sgd_float64(side: Side) -> object:
    params = [with_grad(side, 2, 2, dtype=torch.float64)]
    side.module.sgd(params, 0.5, 1)
    return after_step(params)


@suite.check("sgd", "two sgd steps with new gradients in between")
def sgd_two_steps(side: Side) -> object:
    params = [with_grad(side, 4, 1), with_grad(side, 1)]
    side.module.sgd(params, 0.1, 4)
    for param in params:
        param.grad = side.randn(*param.shape)
    side.module.sgd(params, 0.1, 4)
    return after_step(params)


# ------------------------------------------------------------------ train_linreg
suite.item("train_linreg", points=3, timeout=15.0, forbid=("torch.optim",),
           kit=("data_iter", "linreg", "squared_loss", "sgd"), hint="""
d2l 3.2, "Training": the loop is four lines inside two for loops, built from data_iter, linreg,
squared_loss and sgd. While this item is graded, its calls reach the kit's own versions of those four,
so only your loop counts.

Create w and b first, on the features' device and dtype, both requiring grad; w is drawn from the
generator. Then for each epoch and each batch: per-example losses, their .sum(), backward, one sgd step.
Return both detached.

w = torch.normal(0, 0.01, size=(D, 1), generator=generator) moved to the features' device and dtype,
then .requires_grad_(); b = torch.zeros(1, requires_grad=True) on that device. For each epoch, for X, y
in data_iter(batch_size, features, labels, generator): l = squared_loss(linreg(X, w, b), y);
l.sum().backward(); sgd([w, b], lr, batch_size). Return w.detach(), b.detach().
""")


def regression_data(side: Side, n: int, dtype: torch.dtype = torch.float32) -> tuple[torch.Tensor, torch.Tensor]:
    """d2l's data: X ~ N(0, 1) (n, 2), y = X @ [2, -3.4] + 4.2 + N(0, 0.01), shape (n, 1)."""
    X = side.randn(n, 2, dtype=dtype)
    y = X @ side.tensor(TRUE_W, dtype=dtype) + TRUE_B + side.randn(n, dtype=dtype) * 0.01
    return X, y.reshape(-1, 1)


def train(side: Side, features: torch.Tensor, labels: torch.Tensor, lr: float, num_epochs: int,
          batch_size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``train_linreg`` with a generator seeded ``seed``; its pieces are the kit's versions (``kit=``)."""
    return side.module.train_linreg(features, labels, lr, num_epochs, batch_size, seeded(seed))


@suite.check("train_linreg", "train_linreg (with the kit's data_iter, linreg, squared_loss and sgd) on 1000 examples "
             "(lr 0.03, 3 epochs, batch 10) recovers w = [2, -3.4], b = 4.2")
def train_linreg_recovers_the_weights(side: Side) -> object:
    features, labels = regression_data(side, 1000)
    w, b = train(side, features, labels, 0.03, 3, 10, 0)
    return {"shapes": (tuple(w.shape), tuple(b.shape)),
            "w within 0.01 of [2, -3.4]": bool((w.reshape(-1).cpu() - torch.tensor(TRUE_W)).abs().max() < 0.01),
            "b within 0.01 of 4.2": bool((b.cpu() - TRUE_B).abs().max() < 0.01)}


@suite.check("train_linreg", "train_linreg on 23 copies of one example, batch 7 (the last "
             "batch smaller), 2 epochs, lr 0.1: the same w and b whatever the shuffle", rtol=1e-4, atol=1e-5)
def train_linreg_uneven_batches(side: Side) -> object:
    x, y = regression_data(side, 1)
    w, b = train(side, x.repeat(23, 1), y.repeat(23, 1), 0.1, 2, 7, 1)
    return {"w": w, "b": b}


@suite.check("train_linreg", "train_linreg for 1 full-batch epoch (batch_size = N = 16), "
             "lr 0.5: one step from the start")
def train_linreg_one_full_batch_step(side: Side) -> object:
    features, labels = regression_data(side, 16)
    w, b = train(side, features, labels, 0.5, 1, 16, 2)
    return {"w": w, "b": b}


@suite.check("train_linreg", "train_linreg on float32 data, 3 epochs with batch_size 40 > N = 30 "
             "(one batch per epoch, sgd divides by 40)")
def train_linreg_batch_larger_than_the_data(side: Side) -> object:
    features, labels = regression_data(side, 30)
    w, b = train(side, features, labels, 0.05, 3, 40, 3)
    return {"w": w, "b": b}


@suite.check("train_linreg", "train_linreg returns detached w and b and leaves features and labels unchanged")
def train_linreg_detached_and_inputs_unchanged(side: Side) -> object:
    features, labels = regression_data(side, 12)
    w, b = train(side, features, labels, 0.03, 1, 5, 4)
    return {"w requires grad": w.requires_grad, "b requires grad": b.requires_grad,
            "features after the call": features, "labels after the call": labels}


@suite.check("train_linreg", "train_linreg twice with the same generator seed: the same w and "
             "b, drawn from that generator only (torch's global random state untouched)")
def train_linreg_uses_only_its_generator(side: Side) -> object:
    features, labels = regression_data(side, 20)
    before = side.build(f"{FIX}:global_rng_state")
    w, b = train(side, features, labels, 0.1, 2, 6, 5)
    after = side.build(f"{FIX}:global_rng_state")
    w_again, b_again = train(side, features, labels, 0.1, 2, 6, 5)
    return {"same seed, same w and b": bool(torch.equal(w, w_again) and torch.equal(b, b_again)),
            "torch's global random state unchanged": bool(torch.equal(before, after))}


# ------------------------------------------------------------------ load_cifar_pair
suite.item("load_cifar_pair", points=3, timeout=15.0, uses=("LabelMappedDataset",), hint="""
torchvision.datasets.CIFAR10 reads the images from disk (DLwPT 7.1, CIFAR-10); its transform= turns
each one into a normalised tensor, and your LabelMappedDataset keeps the airplane/bird pair (7.2.1).

Build the transform with transforms.Compose: ToTensor first, then Normalize with the per-channel mean
and std of the docstring. Never download (download=False). torchvision reports missing data with a
RuntimeError: catch it and raise FileNotFoundError naming root/cifar-10-batches-py. The checks run your
own LabelMappedDataset: make it pass first.

transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((0.4915, 0.4823, 0.4468),
(0.2470, 0.2435, 0.2616))]); cifar = torchvision.datasets.CIFAR10(root, train=train, download=False,
transform=transform) inside try/except RuntimeError, re-raised as FileNotFoundError; return
LabelMappedDataset(cifar, label_map).
""")

CIFAR_PER_BATCH = 6
CIFAR_SEED = 2024


def fake_cifar(side: Side) -> str:
    """A tiny CIFAR-10 folder (6 images per batch) written where the code under test runs; its root."""
    return side.build(f"{FIX}:make_fake_cifar", CIFAR_PER_BATCH, CIFAR_SEED)


def cifar_pair(side: Side, **kwargs: object) -> dict[str, object]:
    """``load_cifar_pair(root, **kwargs)`` on a fake CIFAR-10 (with the student's own LabelMappedDataset)."""
    dataset = side.module.load_cifar_pair(fake_cifar(side), **kwargs)
    items = list(dataset)
    return {
        "returns a LabelMappedDataset": side.type_names(dataset)[0].endswith(".LabelMappedDataset"),
        "len(dataset)": len(dataset),
        "the labels": [y for _, y in items],
        "the images (normalised)": torch.stack([x for x, _ in items]),
    }


@suite.check("load_cifar_pair", "load_cifar_pair(root) with your own LabelMappedDataset on a tiny CIFAR-10 "
             "(5 x 6 training images): airplanes and birds")
def load_cifar_pair_training_set(side: Side) -> object:
    return cifar_pair(side)


@suite.check("load_cifar_pair", "load_cifar_pair(root, train=False) with your own LabelMappedDataset on a tiny "
             "CIFAR-10: the test batch")
def load_cifar_pair_test_set(side: Side) -> object:
    return cifar_pair(side, train=False)


@suite.check("load_cifar_pair", "load_cifar_pair(root, train=True, label_map={1: 0, 9: 1, 3: 2}) with your own "
             "LabelMappedDataset")
def load_cifar_pair_other_classes(side: Side) -> object:
    return cifar_pair(side, train=True, label_map={1: 0, 9: 1, 3: 2})


@suite.check("load_cifar_pair", "load_cifar_pair('no/such/cifar-folder') raises FileNotFoundError naming the folder")
def load_cifar_pair_missing_folder(side: Side) -> object:
    root = "no/such/cifar-folder"
    name, message = raised(lambda: side.module.load_cifar_pair(root))
    return {"raises": name, "the message names the folder": root in message}


@suite.check("load_cifar_pair",
             "load_cifar_pair(root, train=False) with data_batch_3 corrupted raises FileNotFoundError")
def load_cifar_pair_corrupted_file(side: Side) -> object:
    root = fake_cifar(side)
    side.build(f"{FIX}:corrupt_cifar_file", root, "data_batch_3")
    name, message = raised(lambda: side.module.load_cifar_pair(root, train=False))
    return {"raises": name, "the message names the folder": root in message}
