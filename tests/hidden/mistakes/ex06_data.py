"""Typical mistakes in ex06_data, recognised from what the code returns (see grader/mistakes.py).

Each entry is the wrong code a beginner writes; the engine runs the item's checks with it and names the
mistake when a student's result matches. Within an item the first matching entry wins, so the more
specific misconceptions come before the broader ones that may give the same result on a check.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torchvision
from torch.utils.data import DataLoader
from torchvision import transforms

from grader.mistakes import Mistakes

mistakes = Mistakes("ex06_data")

CIFAR_MEAN = (0.4915, 0.4823, 0.4468)
CIFAR_STD = (0.2470, 0.2435, 0.2616)

OWN_GENERATOR = ("the loader needs its own seeded generator: pass generator=torch.Generator().manual_seed(seed) "
                 "instead of ignoring the seed or calling torch.manual_seed (global state)")


# ------------------------------------------------------------------ ListDataset
@mistakes.of("ListDataset", "your __len__ is off by one: it must return len(self.samples), the number of samples")
def list_len_off_by_one(reference):
    class ListDataset(reference.ListDataset):
        def __len__(self):
            return len(self.samples) - 1
    return ListDataset


@mistakes.of("ListDataset", "your __len__ is off by one: it must return len(self.samples), the number of samples")
def list_len_one_too_many(reference):
    class ListDataset(reference.ListDataset):
        def __len__(self):
            return len(self.samples) + 1
    return ListDataset


@mistakes.of("ListDataset", "your __getitem__ returns copies (clone, torch.tensor(...)) of the stored samples: "
                            "return self.samples[index] itself, unchanged")
def list_returns_copies(reference):
    class ListDataset(reference.ListDataset):
        def __getitem__(self, index):
            x, y = self.samples[index]
            return (x.clone() if isinstance(x, torch.Tensor) else x), y
    return ListDataset


@mistakes.of("ListDataset", "an index past the end must raise IndexError (for-loops and DataLoader rely on it): "
                            "don't wrap it around, clamp it or return None, just return self.samples[index]")
def list_wraps_the_index(reference):
    class ListDataset(reference.ListDataset):
        def __getitem__(self, index):
            return self.samples[index % len(self.samples)]
    return ListDataset


@mistakes.of("ListDataset", "your __getitem__ counts positions from 1 (self.samples[index - 1]): "
                            "Python indices start at 0, so return self.samples[index]")
def list_index_from_one(reference):
    class ListDataset(reference.ListDataset):
        def __getitem__(self, index):
            return self.samples[index - 1]
    return ListDataset


@mistakes.of("ListDataset", "your __getitem__ returns only the input and drops the label: "
                            "return the whole (x, y) sample, self.samples[index]")
def list_drops_the_label(reference):
    class ListDataset(reference.ListDataset):
        def __getitem__(self, index):
            return self.samples[index][0]
    return ListDataset


@mistakes.of("ListDataset", "your __getitem__ returns (label, input), swapped: return the sample as stored, (x, y)")
def list_swaps_input_and_label(reference):
    class ListDataset(reference.ListDataset):
        def __getitem__(self, index):
            x, y = self.samples[index]
            return y, x
    return ListDataset


@mistakes.of("ListDataset", "your __getitem__ turns the sample into a list: return the stored tuple "
                            "self.samples[index] as it is")
def list_returns_a_list(reference):
    class ListDataset(reference.ListDataset):
        def __getitem__(self, index):
            return list(self.samples[index])
    return ListDataset


@mistakes.of("ListDataset", "your __getitem__ rejects negative indices: dataset[-1] is the last sample, as for a "
                            "list, so just return self.samples[index]")
def list_rejects_negative_indices(reference):
    class ListDataset(reference.ListDataset):
        def __getitem__(self, index):
            if index < 0 or index >= len(self.samples):
                raise IndexError("index out of range")
            return self.samples[index]
    return ListDataset


@mistakes.of("ListDataset", "your class does not subclass torch.utils.data.Dataset: write class ListDataset(Dataset):")
def list_not_a_dataset(reference):
    class ListDataset:
        def __init__(self, samples):
            self.samples = samples

        def __len__(self):
            return len(self.samples)

        def __getitem__(self, index):
            return self.samples[index]
    return ListDataset


# ------------------------------------------------------------------ LabelMappedDataset
# declared first: on the one check that shows it, it looks like returning the old label
@mistakes.of("LabelMappedDataset", "you number the kept classes 0, 1, 2... in order instead of using label_map's "
                                   "values: the new label is label_map[int(y)]")
def mapped_numbers_classes_in_order(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __getitem__(self, index):
            x, y = self.dataset[self.indices[index]]
            return x, sorted(self.label_map).index(int(y))
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "you return the old label: return the new one, label_map[int(y)]")
def mapped_keeps_the_old_label(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __getitem__(self, index):
            x, y = self.dataset[self.indices[index]]
            return x, int(y)
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "the new label must be a Python int, not a tensor: return label_map[int(y)] "
                                   "without wrapping it in torch.tensor")
def mapped_label_as_a_tensor(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __getitem__(self, index):
            x, y = self.dataset[self.indices[index]]
            return x, torch.tensor(self.label_map[int(y)])
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "you look a 0-d tensor label up in the dict without int(): a tensor is never "
                                   "found as a dict key, so convert with int(y) before `in label_map`")
def mapped_tensor_label_not_found(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __init__(self, dataset, label_map):
            self.dataset = dataset
            self.label_map = dict(label_map)
            self.indices = [i for i in range(len(dataset)) if dataset[i][1] in self.label_map]
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "you test `if label_map.get(y)`, which is False for the new label 0, so that class "
                                   "is dropped: test `int(y) in label_map` instead")
def mapped_drops_new_label_zero(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __init__(self, dataset, label_map):
            self.dataset = dataset
            self.label_map = dict(label_map)
            self.indices = [i for i in range(len(dataset)) if self.label_map.get(int(dataset[i][1]))]
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "your __getitem__ reads the underlying dataset at the view's index: translate it "
                                   "first, self.dataset[self.indices[index]]")
def mapped_uses_the_view_index(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __getitem__(self, index):
            x, y = self.dataset[index]
            return x, self.label_map[int(y)]
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "your __len__ returns the underlying dataset's length: it must count only the kept "
                                   "samples, len(self.indices)")
def mapped_len_of_the_whole_dataset(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __len__(self):
            return len(self.dataset)
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "your __len__ scans the whole dataset again on every call: scan once in __init__, "
                                   "keep the indices, and return len(self.indices)")
def mapped_len_rescans(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __len__(self):
            return sum(1 for i in range(len(self.dataset)) if int(self.dataset[i][1]) in self.label_map)
    return LabelMappedDataset


@mistakes.of("LabelMappedDataset", "your __getitem__ scans the whole dataset again for every item: scan once in "
                                   "__init__, keep the indices, then read only self.dataset[self.indices[index]]")
def mapped_getitem_rescans(reference):
    class LabelMappedDataset(reference.LabelMappedDataset):
        def __getitem__(self, index):
            kept = [i for i in range(len(self.dataset)) if int(self.dataset[i][1]) in self.label_map]
            x, y = self.dataset[kept[index]]
            return x, self.label_map[int(y)]
    return LabelMappedDataset


# ------------------------------------------------------------------ make_loader
# an unseeded loader draws from torch's global generator, so ignoring the seed and calling torch.manual_seed(seed)
# are observed alike: one entry for both
@mistakes.of("make_loader", OWN_GENERATOR)
def loader_ignores_the_seed(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle)
    return make_loader


@mistakes.of("make_loader", "you create a torch.Generator() but never seed it: call .manual_seed(seed) on it, "
                            "or every seed gives the same order")
def loader_unseeded_generator(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        generator = torch.Generator() if shuffle and seed is not None else None
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
    return make_loader


@mistakes.of("make_loader", "with seed=None you still call manual_seed(seed): only build a seeded generator when "
                            "a seed is given, else pass generator=None")
def loader_seeds_with_none(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        generator = torch.Generator().manual_seed(seed) if shuffle else None
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator)
    return make_loader


@mistakes.of("make_loader", "DataLoader's generator= wants a torch.Generator, not the seed itself: pass "
                            "generator=torch.Generator().manual_seed(seed)")
def loader_passes_the_seed_as_generator(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=seed)
    return make_loader


@mistakes.of("make_loader", "you drop the last, smaller batch (drop_last=True): keep it, every sample must be seen")
def loader_drops_the_last_batch(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        generator = torch.Generator().manual_seed(seed) if shuffle and seed is not None else None
        return DataLoader(dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=True)
    return make_loader


@mistakes.of("make_loader", "you shuffle once when the loader is built (a fixed permutation as sampler), so every "
                            "epoch has the same order: use shuffle=True with a generator, it reshuffles each pass")
def loader_shuffles_once(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        generator = torch.Generator().manual_seed(seed) if shuffle and seed is not None else None
        order = torch.randperm(len(dataset), generator=generator).tolist() if shuffle else None
        return DataLoader(dataset, batch_size=batch_size, sampler=order)
    return make_loader


@mistakes.of("make_loader", "your loader never shuffles: pass shuffle=shuffle to the DataLoader")
def loader_never_shuffles(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        generator = torch.Generator().manual_seed(seed) if shuffle and seed is not None else None
        return DataLoader(dataset, batch_size=batch_size, shuffle=False, generator=generator)
    return make_loader


@mistakes.of("make_loader", "your loader always shuffles, even with shuffle=False: pass shuffle=shuffle to the "
                            "DataLoader")
def loader_always_shuffles(reference):
    def make_loader(dataset, batch_size, shuffle, seed=None):
        generator = torch.Generator().manual_seed(seed) if seed is not None else None
        return DataLoader(dataset, batch_size=batch_size, shuffle=True, generator=generator)
    return make_loader


# ------------------------------------------------------------------ data_iter
def _data_iter(batch_size, features, labels, generator=None, *, order=None, stop=None, end=None):
    """data_iter with one step changed: how the order is drawn, where the loop stops, where a slice ends."""
    num_examples = len(features)
    indices = order(num_examples, generator) if order else torch.randperm(num_examples, generator=generator)
    indices = indices.to(features.device)
    for i in range(0, num_examples if stop is None else stop(num_examples, batch_size), batch_size):
        batch_indices = indices[i: i + batch_size if end is None else end(i, batch_size)]
        yield features[batch_indices], labels[batch_indices]


@mistakes.of("data_iter", "you never shuffle: draw indices = torch.randperm(N, generator=generator) and slice "
                          "those, not range(N)")
def iter_no_shuffle(reference):
    def data_iter(batch_size, features, labels, generator=None):
        return _data_iter(batch_size, features, labels, generator, order=lambda n, g: torch.arange(n))
    return data_iter


@mistakes.of("data_iter", "you shuffle without the generator (torch.randperm(N) or random.shuffle): pass "
                          "generator=generator to torch.randperm so the same seed gives the same batches")
def iter_ignores_the_generator(reference):
    def data_iter(batch_size, features, labels, generator=None):
        return _data_iter(batch_size, features, labels, generator, order=lambda n, g: torch.randperm(n))
    return data_iter


@mistakes.of("data_iter", "you draw the indices with replacement (randint), so some examples repeat and others are "
                          "missed: shuffle with torch.randperm(N, generator=generator)")
def iter_with_replacement(reference):
    def data_iter(batch_size, features, labels, generator=None):
        return _data_iter(batch_size, features, labels, generator,
                          order=lambda n, g: torch.randint(0, n, (n,), generator=g))
    return data_iter


@mistakes.of("data_iter", "your loop drops the last, smaller batch: use range(0, N, batch_size) and slice "
                          "indices[i : i + batch_size], which stops at N by itself")
def iter_drops_the_last_batch(reference):
    def data_iter(batch_size, features, labels, generator=None):
        return _data_iter(batch_size, features, labels, generator, stop=lambda n, b: n - b + 1)
    return data_iter


@mistakes.of("data_iter", "your loop runs one step too far and yields an empty batch at the end: use "
                          "range(0, N, batch_size), not N + 1")
def iter_empty_last_batch(reference):
    def data_iter(batch_size, features, labels, generator=None):
        return _data_iter(batch_size, features, labels, generator, stop=lambda n, b: n + 1)
    return data_iter


@mistakes.of("data_iter", "your slice is one example short: indices[i : i + batch_size] already includes "
                          "batch_size examples (the end is excluded), don't subtract 1")
def iter_slice_one_short(reference):
    def data_iter(batch_size, features, labels, generator=None):
        return _data_iter(batch_size, features, labels, generator, end=lambda i, b: i + b - 1)
    return data_iter


@mistakes.of("data_iter", "your slice is indices[i : batch_size]: the end must move with i, "
                          "indices[i : i + batch_size]")
def iter_slice_end_fixed(reference):
    def data_iter(batch_size, features, labels, generator=None):
        return _data_iter(batch_size, features, labels, generator, end=lambda i, b: b)
    return data_iter


@mistakes.of("data_iter", "features and labels are not indexed with the same shuffled indices, so rows lose their "
                          "labels: yield features[batch_indices], labels[batch_indices]")
def iter_shuffles_separately(reference):
    def data_iter(batch_size, features, labels, generator=None):
        n = len(features)
        feature_order = torch.randperm(n, generator=generator).to(features.device)
        label_order = torch.randperm(n, generator=generator).to(features.device)
        for i in range(0, n, batch_size):
            yield features[feature_order[i: i + batch_size]], labels[label_order[i: i + batch_size]]
    return data_iter


@mistakes.of("data_iter", "you yield all the labels with every batch: slice them too, labels[batch_indices]")
def iter_labels_unbatched(reference):
    def data_iter(batch_size, features, labels, generator=None):
        n = len(features)
        indices = torch.randperm(n, generator=generator).to(features.device)
        for i in range(0, n, batch_size):
            yield features[indices[i: i + batch_size]], labels
    return data_iter


# ------------------------------------------------------------------ synthetic_data
def _synthetic(w, b, num_examples, generator=None, *, x_draw=None, noise_std=0.01, noise_shape=None,
               noise_first=False, noise_generator=True, with_bias=True, dtype=None, flat=False, noise=True):
    """synthetic_data with one step changed (how X or the noise is drawn, the bias, the dtype, the shape)."""
    dtype = dtype or (w.dtype if w.is_floating_point() else torch.get_default_dtype())
    w = w.to(dtype)
    shape = noise_shape(num_examples) if noise_shape else (num_examples,)
    noise_gen = generator if noise_generator else None
    if noise_first:
        eps = torch.normal(0, noise_std, shape, generator=noise_gen, dtype=dtype)
    draw = x_draw or (lambda size, g, d: torch.normal(0, 1, size, generator=g, dtype=d))
    X = draw((num_examples, len(w)), generator, dtype).to(w.device)
    y = X @ w + (b if with_bias else 0)
    if not noise_first:
        eps = torch.normal(0, noise_std, shape, generator=noise_gen, dtype=dtype)
    if noise:
        y = y + eps.to(w.device)
    return X, (y if flat else y.reshape((-1, 1)))


@mistakes.of("synthetic_data", "the noise has the wrong spread: its standard deviation is 0.01, "
                               "torch.normal(0, 0.01, ...) (or torch.randn(...) * 0.01)")
def synthetic_noise_std_tenth(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, noise_std=0.1)
    return synthetic_data


@mistakes.of("synthetic_data", "the noise has the wrong spread: its standard deviation is 0.01, "
                               "torch.normal(0, 0.01, ...) (or torch.randn(...) * 0.01)")
def synthetic_noise_std_one(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, noise_std=1.0)
    return synthetic_data


@mistakes.of("synthetic_data", "torch.normal takes the standard deviation (0.01), not the variance (0.0001)")
def synthetic_noise_variance(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, noise_std=0.01 ** 2)
    return synthetic_data


@mistakes.of("synthetic_data", "you forgot to add the noise: y = X @ w + b + torch.normal(0, 0.01, ...)")
def synthetic_no_noise(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, noise=False)
    return synthetic_data


@mistakes.of("synthetic_data", "y must have shape (N, 1): return y.reshape((-1, 1))")
def synthetic_flat_y(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, flat=True)
    return synthetic_data


@mistakes.of("synthetic_data", "you forgot the bias: y = X @ w + b, plus the noise")
def synthetic_no_bias(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, with_bias=False)
    return synthetic_data


@mistakes.of("synthetic_data", "you draw the noise without the generator: pass generator=generator to the noise's "
                               "torch.normal too, after drawing X")
def synthetic_noise_from_global_rng(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, noise_generator=False)
    return synthetic_data


@mistakes.of("synthetic_data", "you ignore the generator: draw X and then the noise with generator=generator")
def synthetic_ignores_the_generator(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, None)
    return synthetic_data


@mistakes.of("synthetic_data", "you draw the noise before X: draw X first, then the noise, from the same generator")
def synthetic_noise_first(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, noise_first=True)
    return synthetic_data


@mistakes.of("synthetic_data", "X must come from a standard normal distribution, torch.normal(0, 1, ...), "
                               "not torch.rand (uniform in [0, 1))")
def synthetic_uniform_x(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator,
                          x_draw=lambda size, g, d: torch.rand(size, generator=g, dtype=d))
    return synthetic_data


@mistakes.of("synthetic_data", "your noise has shape (N, 1) while X @ w has shape (N,), so they broadcast to (N, N): "
                               "draw the noise with y.shape and reshape y at the end")
def synthetic_noise_broadcasts(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, noise_shape=lambda n: (n, 1))
    return synthetic_data


@mistakes.of("synthetic_data", "your data is always float32: draw X and the noise with dtype=w.dtype, so a float64 "
                               "w gives float64 data")
def synthetic_always_float32(reference):
    def synthetic_data(w, b, num_examples, generator=None):
        return _synthetic(w, b, num_examples, generator, dtype=torch.float32)
    return synthetic_data


# ------------------------------------------------------------------ linreg
@mistakes.of("linreg", "you forgot the bias: return torch.matmul(X, w) + b")
def linreg_no_bias(reference):
    def linreg(X, w, b):
        return torch.matmul(X, w)
    return linreg


@mistakes.of("linreg", "the bias is added, not subtracted: return torch.matmul(X, w) + b")
def linreg_minus_bias(reference):
    def linreg(X, w, b):
        return torch.matmul(X, w) - b
    return linreg


@mistakes.of("linreg", "you multiply elementwise and sum, which gives shape (B,): use the matrix product "
                       "torch.matmul(X, w) so the result has shape (B, 1)")
def linreg_elementwise_sum(reference):
    def linreg(X, w, b):
        return (X * w.reshape(-1)).sum(dim=1) + b
    return linreg


@mistakes.of("linreg", "X * w multiplies elementwise (and broadcasts): use the matrix product torch.matmul(X, w) "
                       "or X @ w")
def linreg_elementwise_product(reference):
    def linreg(X, w, b):
        return X * w + b
    return linreg


@mistakes.of("linreg", "you compute w.T @ X.T, which gives shape (1, B): the model is torch.matmul(X, w) + b, (B, 1)")
def linreg_transposed(reference):
    def linreg(X, w, b):
        return torch.matmul(w.T, X.T) + b
    return linreg


@mistakes.of("linreg", "you detach w (or use w.data), so no gradient reaches it: use w itself, "
                       "torch.matmul(X, w) + b")
def linreg_detached_w(reference):
    def linreg(X, w, b):
        return torch.matmul(X, w.detach()) + b
    return linreg


@mistakes.of("linreg", "you compute the model under torch.no_grad() (or detach the output): training needs the "
                       "gradient, so just return torch.matmul(X, w) + b")
def linreg_without_grad(reference):
    def linreg(X, w, b):
        with torch.no_grad():
            return torch.matmul(X, w) + b
    return linreg


# ------------------------------------------------------------------ squared_loss
@mistakes.of("squared_loss", "you forgot the / 2: the loss is (y_hat - y) ** 2 / 2")
def loss_without_half(reference):
    def squared_loss(y_hat, y):
        return (y_hat - y.reshape(y_hat.shape)) ** 2
    return squared_loss


@mistakes.of("squared_loss", "you average over the batch: return one loss per example, shape (B, 1), "
                             "without .mean() (the training loop sums them)")
def loss_averaged(reference):
    def squared_loss(y_hat, y):
        return ((y_hat - y.reshape(y_hat.shape)) ** 2 / 2).mean()
    return squared_loss


@mistakes.of("squared_loss", "you sum over the batch: return one loss per example, shape (B, 1), "
                             "without .sum() (the training loop sums them)")
def loss_summed(reference):
    def squared_loss(y_hat, y):
        return ((y_hat - y.reshape(y_hat.shape)) ** 2 / 2).sum()
    return squared_loss


@mistakes.of("squared_loss", "you forgot y.reshape(y_hat.shape): a (B,) y minus a (B, 1) y_hat broadcasts into a "
                             "(B, B) matrix")
def loss_broadcasts(reference):
    def squared_loss(y_hat, y):
        return (y_hat - y) ** 2 / 2
    return squared_loss


@mistakes.of("squared_loss", "you flatten both to (B,): reshape y to y_hat's shape instead, so the losses have "
                             "shape (B, 1)")
def loss_flattened(reference):
    def squared_loss(y_hat, y):
        return (y_hat.reshape(-1) - y.reshape(-1)) ** 2 / 2
    return squared_loss


@mistakes.of("squared_loss", "you subtract in place (y_hat -= y), which changes the caller's predictions and breaks "
                             "the gradient: compute y_hat - y.reshape(y_hat.shape) as a new tensor")
def loss_in_place(reference):
    def squared_loss(y_hat, y):
        with torch.no_grad():
            y_hat -= y.reshape(y_hat.shape)
        return y_hat ** 2 / 2
    return squared_loss


# ------------------------------------------------------------------ sgd
def _sgd_step(params, lr, batch_size, *, scale=None, sign=-1, zero_first=False, zero=True):
    with torch.no_grad():
        for param in params:
            if zero_first:
                param.grad.zero_()
            step = lr * param.grad * batch_size if scale == "times" else (
                lr * param.grad if scale == "none" else lr * param.grad / batch_size)
            param += sign * step
            if zero:
                param.grad.zero_()


@mistakes.of("sgd", "your step is batch_size times too large: .grad holds the gradient of the summed loss, so "
                    "divide it by batch_size")
def sgd_without_division(reference):
    def sgd(params, lr, batch_size):
        _sgd_step(params, lr, batch_size, scale="none")
    return sgd


@mistakes.of("sgd", "you multiply by batch_size: divide instead, param -= lr * param.grad / batch_size")
def sgd_times_batch_size(reference):
    def sgd(params, lr, batch_size):
        _sgd_step(params, lr, batch_size, scale="times")
    return sgd


@mistakes.of("sgd", "your step goes up the gradient (+=): descend with param -= lr * param.grad / batch_size")
def sgd_ascent(reference):
    def sgd(params, lr, batch_size):
        _sgd_step(params, lr, batch_size, sign=1)
    return sgd


@mistakes.of("sgd", "param.grad.zero_() is outside the loop, so only the last parameter's gradient is zeroed: "
                    "indent it into the for loop")
def sgd_zeroes_only_the_last(reference):
    def sgd(params, lr, batch_size):
        _sgd_step(params, lr, batch_size, zero=False)
        params[-1].grad.zero_()
    return sgd


@mistakes.of("sgd", "you never zero the gradients: call param.grad.zero_() after the update, because backward adds "
                    "to .grad")
def sgd_keeps_gradients(reference):
    def sgd(params, lr, batch_size):
        _sgd_step(params, lr, batch_size, zero=False)
    return sgd


@mistakes.of("sgd", "you zero the gradient before using it: update first, then param.grad.zero_()")
def sgd_zeroes_first(reference):
    def sgd(params, lr, batch_size):
        _sgd_step(params, lr, batch_size, zero_first=True)
    return sgd


@mistakes.of("sgd", "param = param - ... makes a new tensor and leaves the caller's parameters unchanged: update in "
                    "place with param -= ... inside torch.no_grad()")
def sgd_rebinds_the_loop_variable(reference):
    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param = param - lr * param.grad / batch_size
                param.grad.zero_()
    return sgd


@mistakes.of("sgd", "param = param - ... makes a new tensor and leaves the caller's parameters unchanged: update in "
                    "place with param -= ... inside torch.no_grad()")
def sgd_rebinds_without_zeroing(reference):
    def sgd(params, lr, batch_size):
        with torch.no_grad():
            for param in params:
                param = param - lr * param.grad / batch_size
    return sgd


@mistakes.of("sgd", "an in-place update of a parameter that requires grad must not be recorded by autograd: put the "
                    "update inside `with torch.no_grad():`")
def sgd_without_no_grad(reference):
    def sgd(params, lr, batch_size):
        for param in params:
            param -= lr * param.grad / batch_size
            param.grad.zero_()
    return sgd


# ------------------------------------------------------------------ train_linreg
def _train(reference, features, labels, lr, num_epochs, batch_size, generator=None, *, epochs=None,
           init_w=None, init_b=None, batches=None, backward=None, sgd_size=None, detach=True, iter_once=False):
    """train_linreg with one step changed; it runs the reference's pieces."""
    if init_w is None:
        w = torch.normal(0, 0.01, size=(features.shape[1], 1), generator=generator)
    else:
        w = init_w(features, generator)
    w = w.to(features.device, features.dtype).requires_grad_()
    if init_b is None:
        b = torch.zeros(1, dtype=features.dtype, device=features.device, requires_grad=True)
    else:
        b = init_b(features, generator).to(features.device, features.dtype).requires_grad_()
    def epoch_batches():
        if batches is not None:
            return batches(reference, batch_size, features, labels)
        return reference.data_iter(batch_size, features, labels, generator)

    once = epoch_batches() if iter_once else None
    for _ in range(num_epochs if epochs is None else epochs(num_epochs)):
        for X, y in (once if iter_once else epoch_batches()):
            loss = reference.squared_loss(reference.linreg(X, w, b), y)
            (backward or (lambda l: l.sum().backward()))(loss)
            reference.sgd([w, b], lr, batch_size if sgd_size is None else sgd_size(features, batch_size))
    return (w.detach(), b.detach()) if detach else (w, b)


def _train_mistake(**change):
    def factory(reference):
        def train_linreg(features, labels, lr, num_epochs, batch_size, generator=None):
            return _train(reference, features, labels, lr, num_epochs, batch_size, generator, **change)
        return train_linreg
    return factory


mistakes.of("train_linreg", "you call loss.backward() on the (B, 1) losses: backward needs a single number, so sum "
                            "them first, loss.sum().backward()")(
    _train_mistake(backward=lambda loss: loss.backward()))
mistakes.of("train_linreg", "you average the loss (loss.mean()) and sgd divides by batch_size again: call "
                            "loss.sum().backward(), sgd already takes the mean")(
    _train_mistake(backward=lambda loss: loss.mean().backward()))
mistakes.of("train_linreg", "you pass the number of examples to sgd: pass batch_size, the number of losses summed "
                            "in one step")(
    _train_mistake(sgd_size=lambda features, batch_size: len(features)))
mistakes.of("train_linreg", "you train for one epoch too few: loop for _ in range(num_epochs)")(
    _train_mistake(epochs=lambda n: n - 1))
mistakes.of("train_linreg", "you train for one epoch too many: loop for _ in range(num_epochs)")(
    _train_mistake(epochs=lambda n: n + 1))
mistakes.of("train_linreg", "you call data_iter once, before the epoch loop: a generator is used up after one pass, "
                            "so call data_iter(...) inside the epoch loop")(
    _train_mistake(iter_once=True))
mistakes.of("train_linreg", "you start from zero weights: draw w with torch.normal(0, 0.01, size=(D, 1), "
                            "generator=generator)")(
    _train_mistake(init_w=lambda features, generator: torch.zeros((features.shape[1], 1))))
mistakes.of("train_linreg", "the initial w must be small, standard deviation 0.01: torch.normal(0, 0.01, "
                            "size=(D, 1), generator=generator)")(
    _train_mistake(init_w=lambda features, generator: torch.normal(0, 1, size=(features.shape[1], 1),
                                                                   generator=generator)))
mistakes.of("train_linreg", "you call data_iter without the generator (or draw from torch's global generator): pass "
                            "generator to data_iter(batch_size, features, labels, generator) and to w's torch.normal")(
    _train_mistake(batches=lambda reference, batch_size, features, labels: reference.data_iter(
        batch_size, features, labels)))
mistakes.of("train_linreg", "you draw the initial w without the generator: torch.normal(0, 0.01, size=(D, 1), "
                            "generator=generator)")(
    _train_mistake(init_w=lambda features, generator: torch.normal(0, 0.01, size=(features.shape[1], 1))))
mistakes.of("train_linreg", "w must have shape (D, 1): torch.normal(0, 0.01, size=(D, 1), generator=generator)")(
    _train_mistake(init_w=lambda features, generator: torch.normal(0, 0.01, size=(features.shape[1],),
                                                                   generator=generator)))
mistakes.of("train_linreg", "b must start at zeros of shape (1,), torch.zeros(1, requires_grad=True), not random")(
    _train_mistake(init_b=lambda features, generator: torch.normal(0, 0.01, size=(1,), generator=generator)))
mistakes.of("train_linreg", "b must have shape (1,): torch.zeros(1, requires_grad=True), not a 0-d tensor")(
    _train_mistake(init_b=lambda features, generator: torch.tensor(0.0)))
mistakes.of("train_linreg", "you return w and b still attached to autograd: return w.detach(), b.detach()")(
    _train_mistake(detach=False))


# ------------------------------------------------------------------ load_cifar_pair
def _load(reference, root, train=True, label_map=None, *, steps=None, wrap=True, keep_map=True,
          error="named", split=None):
    """load_cifar_pair with one step changed: the transform, the split, the label map, the error handling."""
    label_map = {0: 0, 2: 1} if label_map is None else label_map
    transform = transforms.Compose(steps if steps is not None else
                                   [transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_STD)])
    folder = Path(root) / "cifar-10-batches-py"
    train = train if split is None else split(train)
    if error == "through":
        cifar = torchvision.datasets.CIFAR10(root, train=train, download=False, transform=transform)
    elif error == "exists":
        if not folder.is_dir():
            raise FileNotFoundError(f"CIFAR-10 not found in {folder}")
        cifar = torchvision.datasets.CIFAR10(root, train=train, download=False, transform=transform)
    else:
        try:
            cifar = torchvision.datasets.CIFAR10(root, train=train, download=False, transform=transform)
        except RuntimeError as caught:
            message = f"CIFAR-10 not found in {folder}" if error == "named" else "CIFAR-10 not found: download it"
            raise FileNotFoundError(message) from caught
    if not wrap:
        return cifar
    return reference.LabelMappedDataset(cifar, label_map if keep_map else {0: 0, 2: 1})


def _load_mistake(**change):
    def factory(reference):
        def load_cifar_pair(root, train=True, label_map={0: 0, 2: 1}):  # noqa: B006 - the exercise's signature
            return _load(reference, root, train, label_map, **change)
        return load_cifar_pair
    return factory


mistakes.of("load_cifar_pair", "you forgot transforms.Normalize(mean, std) after ToTensor(): the images must be "
                               "normalised with CIFAR-10's per-channel mean and std")(
    _load_mistake(steps=[transforms.ToTensor()]))
mistakes.of("load_cifar_pair", "Normalize takes the mean first and then the std: Normalize((0.4915, 0.4823, 0.4468), "
                               "(0.2470, 0.2435, 0.2616))")(
    _load_mistake(steps=[transforms.ToTensor(), transforms.Normalize(CIFAR_STD, CIFAR_MEAN)]))
mistakes.of("load_cifar_pair", "Normalize's second tuple is the std (0.2470, 0.2435, 0.2616), not the mean again")(
    _load_mistake(steps=[transforms.ToTensor(), transforms.Normalize(CIFAR_MEAN, CIFAR_MEAN)]))
mistakes.of("load_cifar_pair", "use CIFAR-10's own per-channel mean and std, (0.4915, 0.4823, 0.4468) and "
                               "(0.2470, 0.2435, 0.2616), not 0.5")(
    _load_mistake(steps=[transforms.ToTensor(), transforms.Normalize((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))]))
mistakes.of("load_cifar_pair", "ToTensor() must come first: Normalize works on tensors, not on the PIL images "
                               "CIFAR10 gives")(
    _load_mistake(steps=[transforms.Normalize(CIFAR_MEAN, CIFAR_STD), transforms.ToTensor()]))
mistakes.of("load_cifar_pair", "you always load the training set: pass train=train to CIFAR10")(
    _load_mistake(split=lambda train: True))
mistakes.of("load_cifar_pair", "you ignore the label_map argument: pass label_map itself to LabelMappedDataset")(
    _load_mistake(keep_map=False))
mistakes.of("load_cifar_pair", "you return all ten classes: wrap the CIFAR10 dataset in "
                               "LabelMappedDataset(cifar, label_map)")(
    _load_mistake(wrap=False))
mistakes.of("load_cifar_pair", "checking that the folder exists is not enough (a file may be missing or corrupted): "
                               "catch CIFAR10's RuntimeError and raise FileNotFoundError from it")(
    _load_mistake(error="exists"))
mistakes.of("load_cifar_pair", "torchvision reports missing or corrupted data with a RuntimeError: catch it (try/"
                               "except RuntimeError) and raise FileNotFoundError from it")(
    _load_mistake(error="through"))
mistakes.of("load_cifar_pair", "your FileNotFoundError's message must name the folder it looked in "
                               "(root/cifar-10-batches-py) and say how to get the data")(
    _load_mistake(error="unnamed"))
