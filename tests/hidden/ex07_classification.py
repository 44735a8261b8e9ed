"""Hidden checks for ex07_classification: softmax, cross-entropy, accuracy and two classifiers.

Gradients are computed where the code runs, by torch itself (``torch.autograd.functional.vjp``).
``evaluate`` is run on a classifier that answers differently in training and evaluation mode and
records whether autograd was on (:mod:`grader.fixtures_ex07`). The house data for
``train_logistic`` is made by the checks with the tutorial's recipe, not by the student's
``make_housing_data``, so each item is graded on its own code.
"""

from __future__ import annotations

import numpy as np
import torch

from grader.suite import Side, Suite

suite = Suite("ex07_classification")

FIX = "grader.fixtures_ex07"
VJP = "torch.autograd.functional:vjp"  # torch's own vector-Jacobian product, run where the code runs


def probabilities(side: Side, n: int, c: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """(n, c) rows of positive numbers that sum to 1."""
    p = side.rand(n, c, dtype=dtype) + 0.05
    return p / p.sum(dim=1, keepdim=True)


# ------------------------------------------------------------------ softmax
suite.item("softmax", points=2, forbid=("softmax",), hint="""
softmax(x)_j = exp(x_j) / sum_k exp(x_k), row by row (d2l 3.6.2). exp(1000.0) overflows in float32, but
subtracting each row's maximum first gives the same probabilities safely.

Use the row's max, not the max of the whole batch (a row of [0, -1] next to a row of [1000, 999] would
underflow to 0 / 0). keepdim=True keeps an (N, 1) shape that broadcasts against (N, C). Do not change X
in place. torch.softmax and F.softmax are not allowed here: write the formula.

X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values), then divide by
X_exp.sum(dim=1, keepdim=True).
""")


@suite.check("softmax", "softmax of (4, 5) random logits")
def softmax_random(side: Side) -> object:
    return side.module.softmax(side.randn(4, 5))


@suite.check("softmax", "softmax of logits of 1000: [[1000, 0], [0, 1000], [1000, 1000]] (no nan)")
def softmax_large_logits(side: Side) -> object:
    return side.module.softmax(side.tensor([[1000.0, 0.0], [0.0, 1000.0], [1000.0, 1000.0]]))


@suite.check("softmax", "softmax of rows on very different scales: [1000, 999, 998], [0, -1, -2], [-1000, -1000, -999]")
def softmax_rows_of_different_scales(side: Side) -> object:
    return side.module.softmax(side.tensor([[1000.0, 999.0, 998.0], [0.0, -1.0, -2.0], [-1000.0, -1000.0, -999.0]]))


@suite.check("softmax", "softmax of (3, 7) float64 logits of size about 50")
def softmax_float64(side: Side) -> object:
    return side.module.softmax(side.randn(3, 7, dtype=torch.float64) * 50)


@suite.check("softmax", "softmax of a batch of 1, of a single class (N, 1) and of a 2 x 3 example")
def softmax_small_shapes(side: Side) -> object:
    return {"batch of 1": side.module.softmax(side.randn(1, 6)),
            "one class": side.module.softmax(side.randn(4, 1)),
            "[[1, 2, 3], [1, 1, 1]]": side.module.softmax(side.tensor([[1.0, 2.0, 3.0], [1.0, 1.0, 1.0]]))}


@suite.check("softmax", "softmax of a non-contiguous (transposed) (6, 4) input leaves the input unchanged")
def softmax_non_contiguous(side: Side) -> object:
    X = side.randn(4, 6).t() * 10
    return {"the result": side.module.softmax(X), "X after the call": X}


@suite.check("softmax", "gradient of (softmax(X) * weights).sum() with respect to X")
def softmax_gradient(side: Side) -> object:
    _, gradient = side.build(VJP, side.function("softmax"), side.randn(3, 4) * 3, side.randn(3, 4))
    return {"gradient with respect to X": gradient}


# ------------------------------------------------------------------ cross_entropy
suite.item("cross_entropy", points=2, hint="""
For example i the loss is -log(y_hat[i, y[i]]) (d2l 3.6.4): pick the probability of the true class in
every row, then take -log of it.

Pick one entry per row, with a row index and a column index together, or with gather. The result must
be (N,), one loss per example, not averaged.

return -torch.log(y_hat[range(len(y_hat)), y]). y_hat.gather(1, y.view(-1, 1)) gives (N, 1) instead:
flatten it to (N,).
""")


@suite.check("cross_entropy", "cross_entropy of the docstring's y_hat and labels [0, 2]")
def cross_entropy_docstring(side: Side) -> object:
    y_hat = side.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    return side.module.cross_entropy(y_hat, side.tensor([0, 2]))


@suite.check("cross_entropy", "cross_entropy of (6, 4) probabilities and random labels; inputs unchanged")
def cross_entropy_random(side: Side) -> object:
    y_hat, y = probabilities(side, 6, 4), side.randint(0, 4, (6,))
    return {"the result": side.module.cross_entropy(y_hat, y), "y_hat after the call": y_hat, "y after the call": y}


@suite.check("cross_entropy", "cross_entropy of (5, 5) probabilities (square: labels must not broadcast)")
def cross_entropy_square(side: Side) -> object:
    return side.module.cross_entropy(probabilities(side, 5, 5), side.randint(0, 5, (5,)))


@suite.check("cross_entropy", "cross_entropy of a batch of 1 in float64")
def cross_entropy_one_float64(side: Side) -> object:
    return side.module.cross_entropy(probabilities(side, 1, 3, torch.float64), side.tensor([1]))


@suite.check("cross_entropy", "cross_entropy where the true class has probability 1 (loss 0) or 0 (loss inf)")
def cross_entropy_certain(side: Side) -> object:
    y_hat = side.tensor([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    return side.module.cross_entropy(y_hat, side.tensor([0, 0]))


@suite.check("cross_entropy", "gradient of (cross_entropy(y_hat, y) * weights).sum() with respect to y_hat")
def cross_entropy_gradient(side: Side) -> object:
    weights, y_hat, y = side.rand(4) + 0.5, probabilities(side, 4, 3), side.randint(0, 3, (4,))
    of_y_hat = side.build("grader.fixtures:OfFirstArgument", side.function("cross_entropy"), y)
    _, gradient = side.build(VJP, of_y_hat, y_hat, weights)
    return {"gradient with respect to y_hat": gradient}


# ------------------------------------------------------------------ accuracy
suite.item("accuracy", points=1, hint="""
A row is correct when its highest score sits at the true label (d2l 3.6.5): argmax along the classes,
compare with y, and take the fraction that is True.

(y_hat.argmax(dim=1) == y) gives one bool per row; turn them into floats, take the .mean(), and return a
Python float with .item(): the docstring's example gives 0.5, not tensor(0.5) and not 1 (the count).
""")


@suite.check("accuracy", "accuracy of the docstring's y_hat and labels [0, 2] (0.5, a Python float)")
def accuracy_docstring(side: Side) -> object:
    return side.module.accuracy(side.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]]), side.tensor([0, 2]))


@suite.check("accuracy", "accuracy of (10, 4) random logits and labels")
def accuracy_random(side: Side) -> object:
    return side.module.accuracy(side.randn(10, 4), side.randint(0, 4, (10,)))


@suite.check("accuracy", "accuracy when all 3 rows are right, none is right, and 2 of 3 are right")
def accuracy_extremes(side: Side) -> object:
    logits = side.tensor([[5.0, -1.0], [-2.0, 0.0], [0.3, 0.1]])
    return {"all right": side.module.accuracy(logits, side.tensor([0, 1, 0])),
            "none right": side.module.accuracy(logits, side.tensor([1, 0, 1])),
            "2 of 3 right": side.module.accuracy(logits, side.tensor([0, 1, 1]))}


@suite.check("accuracy", "accuracy of a batch of 1 in float64, and of 7 rows of 3 classes")
def accuracy_small_and_odd(side: Side) -> object:
    return {"batch of 1": side.module.accuracy(side.randn(1, 5, dtype=torch.float64), side.tensor([2])),
            "7 rows": side.module.accuracy(probabilities(side, 7, 3), side.randint(0, 3, (7,)))}


# ------------------------------------------------------------------ make_fc_classifier
suite.item("make_fc_classifier", points=1, hint="""
Three layers in an nn.Sequential (DLwPT 7.2.2, a fully connected model): linear, Tanh, linear. Use the
arguments, not 3072/512/2 written in.

No Softmax at the end: the model outputs logits. return nn.Sequential(nn.Linear(in_features, n_hidden),
nn.Tanh(), nn.Linear(n_hidden, n_classes)).
""")


@suite.check("make_fc_classifier", "make_fc_classifier(): its layers, and the output shape on a (4, 3072) batch")
def make_fc_classifier_default(side: Side) -> object:
    model = side.module.make_fc_classifier().to(side.device)
    return {**side.build(f"{FIX}:module_summary", model), "output shape": tuple(model(side.randn(4, 3072)).shape)}


@suite.check("make_fc_classifier", "make_fc_classifier(10, 7, 3): its layers and its logits on a (5, 10) batch")
def make_fc_classifier_small(side: Side) -> object:
    model = side.module.make_fc_classifier(10, 7, 3).to(side.device)
    return {**side.build(f"{FIX}:module_summary", model), "logits": model(side.randn(5, 10) * 3)}


@suite.check("make_fc_classifier", "make_fc_classifier(in_features=6, n_hidden=2, n_classes=4) by keyword")
def make_fc_classifier_keywords(side: Side) -> object:
    model = side.module.make_fc_classifier(in_features=6, n_hidden=2, n_classes=4)
    return side.build(f"{FIX}:module_summary", model)


# ------------------------------------------------------------------ evaluate
suite.item("evaluate", points=3, hint="""
The accuracy loop of DLwPT 7.2.6, plus model.eval() and .to(device). Count correct examples over the
whole loader: do not average the batches' accuracies.

Switch to eval mode first (Dropout off, BatchNorm uses its running statistics) and leave the model in
eval mode. Loop under torch.no_grad(), move each batch to device, and predict the argmax of the logits.
Return a Python float, 0.0 when there were no examples.

model.eval(); inside `with torch.no_grad():` for inputs, labels in loader: move both .to(device),
predicted = model(inputs).argmax(dim=1), add (predicted == labels).sum().item() to a count and
labels.shape[0] to a total. Return count / total (0.0 when total is 0).
""")


def recording_setup(side: Side, n: int, batch_size: int, device: str | None = None) -> tuple[object, object]:
    """A recording classifier in training mode and a CPU loader of n samples; accuracy n - n // 3 over n.

    The labels are the model's evaluation-mode predictions, except every third sample's.
    """
    model = side.build(f"{FIX}:recording_classifier", side.new_seed(), device=device or str(side.device))
    x = side.randn(n, 5)
    predictions = side.build(f"{FIX}:eval_predictions", model, x.to(device or side.device)).cpu()
    labels = torch.where(torch.arange(n) % 3 == 0, (predictions + 1) % 3, predictions)
    return model, side.build("grader.fixtures:tensor_loader", x.cpu(), labels, batch_size)


@suite.check("evaluate", "evaluate(BatchNorm + Dropout classifier left in training mode, 22 samples in batches of 4)")
def evaluate_in_eval_mode(side: Side) -> object:
    model, loader = recording_setup(side, 22, 4)
    return {"the accuracy": side.module.evaluate(model, loader, side.device)}


@suite.check("evaluate", "evaluate leaves the model in eval mode and changes no parameter or BatchNorm statistic")
def evaluate_changes_nothing(side: Side) -> object:
    model, loader = recording_setup(side, 10, 3)
    before = side.build(f"{FIX}:state_of", model)
    side.module.evaluate(model, loader, side.device)
    after = side.build(f"{FIX}:state_of", model)
    return {"model.training after the call": model.training,
            "parameters and buffers unchanged": all(bool(torch.equal(before[k], after[k])) for k in before),
            "parameter grads after the call": side.build(f"{FIX}:parameter_grads", model)}


@suite.check("evaluate", "evaluate runs the model without autograd (under torch.no_grad())")
def evaluate_without_autograd(side: Side) -> object:
    model, loader = recording_setup(side, 9, 4)
    side.module.evaluate(model, loader, side.device)
    return {"autograd was recording during the model's calls": sorted(set(model.grad_enabled)),
            "number of model calls (one per batch)": len(model.grad_enabled)}


@suite.check("evaluate", "evaluate(nn.Linear(4, 3), 7 samples in batches of 3, device given as a string)")
def evaluate_linear_uneven_batches(side: Side) -> object:
    model = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 4, 3).to(side.device)
    loader = side.build("grader.fixtures:tensor_loader", side.randn(7, 4).cpu(), side.randint(0, 3, (7,)).cpu(), 3)
    return side.module.evaluate(model, loader, str(side.device))


@suite.check("evaluate", "evaluate over an empty loader returns 0.0", substantive=False)
def evaluate_empty_loader(side: Side) -> object:
    model = side.build("grader.fixtures:seeded_module", "Linear", side.new_seed(), 4, 3).to(side.device)
    loader = side.build("grader.fixtures:tensor_loader", torch.zeros(0, 4), torch.zeros(0, dtype=torch.long), 2)
    return side.module.evaluate(model, loader, side.device)


@suite.check("evaluate", "evaluate(model on the GPU, CPU batches, 'cuda'): batches moved to the device",
             requires="cuda")
def evaluate_moves_batches(side: Side) -> object:
    model, loader = recording_setup(side, 12, 5, device="cuda")
    accuracy = side.module.evaluate(model, loader, "cuda")
    return {"the accuracy": accuracy, "devices of the model's inputs": sorted(set(model.input_devices))}


# ------------------------------------------------------------------ make_housing_data
suite.item("make_housing_data", points=2, hint="""
Follow the NumPy recipe of the docstring exactly and in order: the seed, then city, then rural, then one
permutation. Any other order of random draws gives other houses.

Stack city above rural as float32; labels (2n, 1) float32, zeros for city then ones for rural. Shuffle
data AND labels with the same permutation. The first 2 * n1 rows train, the rest test. Convert with
torch.from_numpy at the end.

np.random.seed(seed); city then rural with np.random.multivariate_normal;
data = np.vstack((city, rural)).astype(np.float32); labels from np.zeros / np.ones of shape (n, 1);
idx = np.random.permutation(2 * n) applied to data AND labels; split; torch.from_numpy at the end.
The city/rural house data of the Keras custom-training chapter this module follows (see the module's
docstring).
""")


@suite.check("make_housing_data", "make_housing_data(): (train_x, train_y), (test_x, test_y) with 2000 / 600 houses")
def make_housing_data_default(side: Side) -> object:
    (train_x, train_y), (test_x, test_y) = side.module.make_housing_data()
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


@suite.check("make_housing_data", "make_housing_data(n1=5, n2=3, seed=0)")
def make_housing_data_small(side: Side) -> object:
    (train_x, train_y), (test_x, test_y) = side.module.make_housing_data(n1=5, n2=3, seed=0)
    return {"train_x": train_x, "train_y": train_y, "test_x": test_x, "test_y": test_y}


@suite.check("make_housing_data", "make_housing_data(40, 10, 7): rural houses (label 1) are larger and cheaper")
def make_housing_data_classes(side: Side) -> object:
    (train_x, train_y), _ = side.module.make_housing_data(40, 10, 7)
    rural = train_y.reshape(-1) == 1
    return {"number of rural houses in training": int(rural.sum()),
            "rural houses are larger on average": bool(train_x[rural, 0].mean() > train_x[~rural, 0].mean()),
            "rural houses are cheaper on average": bool(train_x[rural, 1].mean() < train_x[~rural, 1].mean())}


# ------------------------------------------------------------------ train_logistic
suite.item("train_logistic", points=3, timeout=15.0, hint="""
Two parts: standardize with per-feature statistics of the training data, then train a logistic
regression, nn.Linear(2, 1) giving logits and nn.BCEWithLogitsLoss holding the sigmoid.

Per feature means dim=0, and the std is torch's default (unbiased); do not change train_x. Then seed
with torch.manual_seed(0), build the model on the data's device, and run `epochs` full-batch SGD steps,
zeroing the gradients every step. scikit-learn's StandardScaler does NOT give these statistics: it
divides by the biased std (N, not N - 1).

mean = train_x.mean(dim=0); std = train_x.std(dim=0); x = (train_x - mean) / std; torch.manual_seed(0);
model = nn.Linear(2, 1) on the data's device; optimizer = torch.optim.SGD(model.parameters(), lr=lr);
loss_fn = nn.BCEWithLogitsLoss(); each epoch: zero_grad, loss_fn(model(x), train_y), backward, step.
Return (model, mean, std).
""")


def housing(side: Side, n1: int, n2: int, seed: int) -> tuple[torch.Tensor, ...]:
    """The tutorial's houses made here (a private NumPy generator): train_x, train_y, test_x, test_y."""
    rng = np.random.RandomState(seed)
    n = n1 + n2
    city = rng.multivariate_normal([25.9, 1503.7], [[33.64, 400], [400, 64112.24]], size=n)
    rural = rng.multivariate_normal([31.8, 834.3], [[62.41, 200], [200, 9623.61]], size=n)
    data = np.vstack((city, rural)).astype(np.float32)
    labels = np.vstack((np.zeros((n, 1), dtype=np.float32), np.ones((n, 1), dtype=np.float32)))
    idx = rng.permutation(2 * n)
    data, labels = side.tensor(data[idx]), side.tensor(labels[idx])
    return data[: 2 * n1], labels[: 2 * n1], data[2 * n1:], labels[2 * n1:]


def accuracy_on(model: object, mean: torch.Tensor, std: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> float:
    """Fraction of houses the model gets right when x is standardised with the returned statistics."""
    predicted = (model((x - mean) / std).detach() > 0).float()
    return float((predicted == y).float().mean())


@suite.check("train_logistic", "train_logistic on the tutorial's 2000 houses (100 epochs, lr 0.5): test accuracy, "
             "statistics and weights (deterministic full batch)", rtol=1e-3, atol=1e-4)
def train_logistic_tutorial(side: Side) -> object:
    train_x, train_y, test_x, test_y = housing(side, 1000, 300, 42)
    model, mean, std = side.module.train_logistic(train_x, train_y)
    return {"test accuracy above 0.95": accuracy_on(model, mean, std, test_x, test_y) > 0.95,
            "mean": mean, "std": std, "weight": model.weight, "bias": model.bias}


@suite.check("train_logistic", "train_logistic on 20 houses (30 epochs, lr 0.1): statistics (unbiased std) and weights",
             rtol=1e-3, atol=1e-4)
def train_logistic_small(side: Side) -> object:
    train_x, train_y, _, _ = housing(side, 10, 5, 3)
    model, mean, std = side.module.train_logistic(train_x, train_y, epochs=30, lr=0.1)
    return {"mean": mean, "std": std, "weight": model.weight, "bias": model.bias}


@suite.check("train_logistic",
             "train_logistic for 3 epochs returns an nn.Linear(2, 1) and leaves train_x, train_y unchanged",
             rtol=1e-4, atol=1e-5)
def train_logistic_returns_a_linear(side: Side) -> object:
    train_x, train_y, _, _ = housing(side, 30, 5, 11)
    model, _, _ = side.module.train_logistic(train_x, train_y, 3, 0.5)
    return {"is an nn.Linear": side.isinstance(model, "torch.nn.Linear"), "weight": model.weight,
            "bias": model.bias, "train_x after the call": train_x, "train_y after the call": train_y}
