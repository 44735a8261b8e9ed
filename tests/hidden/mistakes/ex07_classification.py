"""Typical mistakes in ex07_classification, recognised from what the code returns (see grader/mistakes.py).

Each entry is the code a beginner plausibly writes for one item. The order matters only where two
mistakes give the same result on a check: the first one listed is named.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from grader.mistakes import Mistakes

mistakes = Mistakes("ex07_classification")


# ------------------------------------------------------------------ softmax
@mistakes.of("softmax", "your softmax normalises over dim 0, the batch: each row (one example) should sum to 1, "
                        "so sum over dim=1 with keepdim=True")
def softmax_over_the_batch(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
        return X_exp / X_exp.sum(dim=0, keepdim=True)
    return softmax


@mistakes.of("softmax", "you divide by the sum of the whole batch (.sum() with no dim): divide each row by its "
                        "own sum, X_exp.sum(dim=1, keepdim=True)")
def softmax_over_everything(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
        return X_exp / X_exp.sum()
    return softmax


@mistakes.of("softmax", "the exponentials overflow: subtract each row's maximum before torch.exp "
                        "(exp(1000) is inf, and inf / inf is nan)")
def softmax_without_the_max_shift(reference):
    def softmax(X):
        X_exp = torch.exp(X)
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "you subtract the maximum of the whole batch (X.max()): subtract each row's own maximum, "
                        "X.max(dim=1, keepdim=True).values, or rows far below it underflow to 0 / 0")
def softmax_shifted_by_the_batch_max(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max())
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "you subtract the row's mean, which does not stop exp from overflowing: subtract each "
                        "row's maximum instead")
def softmax_shifted_by_the_row_mean(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.mean(dim=1, keepdim=True))
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "a row max or row sum without keepdim=True has shape (N,), which does not line up with "
                        "(N, C): pass keepdim=True so it is (N, 1)")
def softmax_sum_without_keepdim(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
        return X_exp / X_exp.sum(dim=1)
    return softmax


@mistakes.of("softmax", "a row max or row sum without keepdim=True has shape (N,), which does not line up with "
                        "(N, C): pass keepdim=True so it is (N, 1)")
def softmax_max_without_keepdim(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max(dim=1).values)
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "X.max(dim=1, keepdim=True) returns a pair (values, indices): subtract its .values")
def softmax_max_without_values(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True))
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "you change the caller's X in place (X -= ..., X.sub_, X.exp_): compute a new tensor, "
                        "X - X.max(dim=1, keepdim=True).values, and leave the input alone")
def softmax_shifts_in_place(reference):
    def softmax(X):
        X -= X.max(dim=1, keepdim=True).values.detach()
        X_exp = torch.exp(X)
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "you change the caller's X in place (X -= ..., X.sub_, X.exp_): compute a new tensor, "
                        "X - X.max(dim=1, keepdim=True).values, and leave the input alone")
def softmax_exp_in_place(reference):
    def softmax(X):
        X_exp = (X - X.max(dim=1, keepdim=True).values).exp_()
        X.copy_(X_exp)
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "you return log-probabilities (the logits minus the log of the row sums): take torch.exp "
                        "of the shifted logits and divide by their row sums")
def softmax_in_log_space(reference):
    def softmax(X):
        return X - torch.logsumexp(X, dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "you forgot torch.exp: exponentiate the shifted logits first, then divide by the row sums")
def softmax_without_exp(reference):
    def softmax(X):
        shifted = X - X.max(dim=1, keepdim=True).values
        return shifted / shifted.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "your softmax turns float64 logits into float32: keep the input's dtype "
                        "(no .float() and no dtype=torch.float32)")
def softmax_in_float32(reference):
    def softmax(X):
        X = X.float()
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


@mistakes.of("softmax", "the row sums are detached (.detach(), .item() or .data), so the gradient ignores the "
                        "normalisation: keep every step a torch operation on X")
def softmax_detached_sums(reference):
    def softmax(X):
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
        return X_exp / X_exp.sum(dim=1, keepdim=True).detach()
    return softmax


@mistakes.of("softmax", "your result is cut off from autograd (.detach(), .data, NumPy or torch.no_grad()): build "
                        "it from X with torch operations so that gradients flow back to X")
def softmax_detached_result(reference):
    def softmax(X):
        X = X.detach()
        X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)
        return X_exp / X_exp.sum(dim=1, keepdim=True)
    return softmax


# ------------------------------------------------------------------ cross_entropy
def _picked(y_hat, y):
    return y_hat[range(len(y_hat)), y]


@mistakes.of("cross_entropy", "you average the losses into one number: return one loss per example, without "
                              ".mean() or .sum()")
def cross_entropy_averaged(reference):
    def cross_entropy(y_hat, y):
        return -torch.log(_picked(y_hat, y)).mean()
    return cross_entropy


@mistakes.of("cross_entropy", "you add the losses into one number: return one loss per example, without "
                              ".mean() or .sum()")
def cross_entropy_summed(reference):
    def cross_entropy(y_hat, y):
        return -torch.log(_picked(y_hat, y)).sum()
    return cross_entropy


@mistakes.of("cross_entropy", "y_hat.gather(1, y.view(-1, 1)) has shape (N, 1): flatten it with .squeeze(1) or "
                              ".reshape(-1) to get one loss per example, shape (N,)")
def cross_entropy_gather_not_flattened(reference):
    def cross_entropy(y_hat, y):
        return -torch.log(y_hat.gather(1, y.view(-1, 1)))
    return cross_entropy


@mistakes.of("cross_entropy", "y_hat[:, y] takes every label's column for every row, an (N, N) matrix: index rows "
                              "and labels together, y_hat[range(len(y_hat)), y]")
def cross_entropy_all_columns(reference):
    def cross_entropy(y_hat, y):
        return -torch.log(y_hat[:, y])
    return cross_entropy


@mistakes.of("cross_entropy", "y_hat[y] picks whole rows by label: pick one entry per row, "
                              "y_hat[range(len(y_hat)), y]")
def cross_entropy_rows_by_label(reference):
    def cross_entropy(y_hat, y):
        return -torch.log(y_hat[y])
    return cross_entropy


@mistakes.of("cross_entropy", "you forgot the minus sign: the loss is -log(p), which is positive since log(p) < 0")
def cross_entropy_without_minus(reference):
    def cross_entropy(y_hat, y):
        return torch.log(_picked(y_hat, y))
    return cross_entropy


@mistakes.of("cross_entropy", "you forgot the log: the loss is -torch.log of the true class's probability")
def cross_entropy_without_log(reference):
    def cross_entropy(y_hat, y):
        return -_picked(y_hat, y)
    return cross_entropy


@mistakes.of("cross_entropy", "you take -log of every class's probability and add them up: only the true class "
                              "counts, so pick y_hat[i, y[i]] first")
def cross_entropy_over_all_classes(reference):
    def cross_entropy(y_hat, y):
        return -torch.log(y_hat).sum(dim=1)
    return cross_entropy


@mistakes.of("cross_entropy", "use the natural logarithm torch.log, not torch.log10 or torch.log2")
def cross_entropy_log10(reference):
    def cross_entropy(y_hat, y):
        return -torch.log10(_picked(y_hat, y))
    return cross_entropy


@mistakes.of("cross_entropy", "use the natural logarithm torch.log, not torch.log10 or torch.log2")
def cross_entropy_log2(reference):
    def cross_entropy(y_hat, y):
        return -torch.log2(_picked(y_hat, y))
    return cross_entropy


@mistakes.of("cross_entropy", "you change y_hat in place (.log_(), y_hat[...] = ...): compute new tensors and "
                              "leave the caller's probabilities alone")
def cross_entropy_log_in_place(reference):
    def cross_entropy(y_hat, y):
        return -y_hat.log_()[range(len(y_hat)), y]
    return cross_entropy


def _with_epsilon(eps):
    def factory(reference):
        def cross_entropy(y_hat, y):
            return -torch.log(_picked(y_hat, y) + eps)
        return cross_entropy
    return factory


for _eps in (1e-12, 1e-10, 1e-9, 1e-8, 1e-7, 1e-6, 1e-5):
    mistakes.of("cross_entropy", "you add a small epsilon inside the log (or clamp the probability): return exactly "
                                 "-torch.log(p), which is inf when the true class has probability 0")(_with_epsilon(_eps))


# ------------------------------------------------------------------ accuracy
@mistakes.of("accuracy", "you return a tensor: turn the mean into a Python float with .item() (or float(...))")
def accuracy_as_a_tensor(reference):
    def accuracy(y_hat, y):
        return (y_hat.argmax(dim=1) == y).float().mean()
    return accuracy


@mistakes.of("accuracy", "you return the number of correct rows: divide it by the number of rows, len(y) "
                         "(or take the mean), to get a fraction")
def accuracy_count_as_float(reference):
    def accuracy(y_hat, y):
        return float((y_hat.argmax(dim=1) == y).sum())
    return accuracy


@mistakes.of("accuracy", "you return the number of correct rows: divide it by the number of rows, len(y) "
                         "(or take the mean), to get a fraction")
def accuracy_count_as_int(reference):
    def accuracy(y_hat, y):
        return (y_hat.argmax(dim=1) == y).sum().item()
    return accuracy


@mistakes.of("accuracy", "you divide by the number of classes, y_hat.shape[1]: divide the correct count by the "
                         "number of rows, len(y)")
def accuracy_over_the_classes(reference):
    def accuracy(y_hat, y):
        return (y_hat.argmax(dim=1) == y).sum().item() / y_hat.shape[1]
    return accuracy


@mistakes.of("accuracy", "your accuracy is a percentage: return a fraction in [0, 1], without the * 100")
def accuracy_in_percent(reference):
    def accuracy(y_hat, y):
        return 100 * (y_hat.argmax(dim=1) == y).float().mean().item()
    return accuracy


@mistakes.of("accuracy", "a comparison gives booleans, and .mean() needs floats: convert with .float() before "
                         "taking the mean")
def accuracy_mean_of_booleans(reference):
    def accuracy(y_hat, y):
        return (y_hat.argmax(dim=1) == y).mean().item()
    return accuracy


@mistakes.of("accuracy", "you take the argmax over dim 0, down the batch: take it over dim=1, the classes of "
                         "each row")
def accuracy_argmax_over_the_batch(reference):
    def accuracy(y_hat, y):
        return (y_hat.argmax(dim=0) == y).float().mean().item()
    return accuracy


@mistakes.of("accuracy", "y holds class indices, not one-hot rows: compare y_hat.argmax(dim=1) with y itself")
def accuracy_argmax_of_the_labels(reference):
    def accuracy(y_hat, y):
        return (y_hat.argmax(dim=1) == y.argmax(dim=1)).float().mean().item()
    return accuracy


@mistakes.of("accuracy", "you compare the highest score itself with y (torch.max(...)[0] or .values): compare "
                         "its index, y_hat.argmax(dim=1), with the labels")
def accuracy_max_values(reference):
    def accuracy(y_hat, y):
        return (y_hat.max(dim=1).values == y).float().mean().item()
    return accuracy


# ------------------------------------------------------------------ make_fc_classifier
def _fc(*layers):
    return nn.Sequential(*layers)


@mistakes.of("make_fc_classifier", "drop the final Softmax: the model outputs raw logits, and nn.CrossEntropyLoss "
                                   "applies the softmax itself")
def fc_with_softmax(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_classes), nn.Softmax(dim=1))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "drop the final Softmax: the model outputs raw logits, and nn.CrossEntropyLoss "
                                   "applies the softmax itself")
def fc_with_softmax_without_dim(reference):
    class Softmax(nn.Softmax):  # nn.Softmax() as a student writes it, without its deprecation warning here
        def forward(self, input):
            return torch.softmax(input, dim=1)

        def __repr__(self):
            return "Softmax(dim=None)"

    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_classes), Softmax())
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "drop the final LogSoftmax: the model outputs raw logits, and "
                                   "nn.CrossEntropyLoss applies the (log-)softmax itself")
def fc_with_log_softmax(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_classes),
                   nn.LogSoftmax(dim=1))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "no activation after the last Linear: the model outputs raw logits")
def fc_with_tanh_on_the_logits(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_classes), nn.Tanh())
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "the hidden activation is nn.Tanh(), as in the tutorial's model, not nn.ReLU()")
def fc_with_relu(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.ReLU(), nn.Linear(n_hidden, n_classes))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "the hidden activation is nn.Tanh(), as in the tutorial's model, not "
                                   "nn.Sigmoid()")
def fc_with_sigmoid(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.Sigmoid(), nn.Linear(n_hidden, n_classes))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "you forgot the activation: put nn.Tanh() between the two Linear layers "
                                   "(two Linear layers in a row are just one linear map)")
def fc_without_activation(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.Linear(n_hidden, n_classes))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "no nn.Flatten() here: the model is exactly Linear, Tanh, Linear (flatten the "
                                   "images before calling it)")
def fc_with_flatten(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Flatten(), nn.Linear(in_features, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_classes))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "you wrote in 512 for the hidden size: use the n_hidden argument in both Linear "
                                   "layers")
def fc_fixed_hidden_first(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, 512), nn.Tanh(), nn.Linear(n_hidden, n_classes))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "you wrote in 512 for the hidden size: use the n_hidden argument in both Linear "
                                   "layers")
def fc_fixed_hidden_both(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, 512), nn.Tanh(), nn.Linear(512, n_classes))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "you wrote in 3072 for the input size: use the in_features argument")
def fc_fixed_inputs(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(3072, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_classes))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "you wrote in 2 output classes: use the n_classes argument")
def fc_fixed_classes(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(in_features, n_hidden), nn.Tanh(), nn.Linear(n_hidden, 2))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "you wrote in the sizes 3072, 512 and 2: use the arguments in_features, "
                                   "n_hidden and n_classes")
def fc_fixed_sizes(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return _fc(nn.Linear(3072, 512), nn.Tanh(), nn.Linear(512, 2))
    return make_fc_classifier


@mistakes.of("make_fc_classifier", "pass the layers to nn.Sequential one by one, nn.Sequential(a, b, c), not as a "
                                   "list (or unpack it: nn.Sequential(*layers))")
def fc_from_a_list(reference):
    def make_fc_classifier(in_features=3072, n_hidden=512, n_classes=2):
        return nn.Sequential([nn.Linear(in_features, n_hidden), nn.Tanh(), nn.Linear(n_hidden, n_classes)])
    return make_fc_classifier


# ------------------------------------------------------------------ evaluate
def _evaluate(*, eval_mode=True, no_grad=True, move=True, train_after=False, per_batch_mean=False,
              total_by="examples", keep_tensor=False, empty_guard=True, argmax_dim=1, scale=1.0,
              floor_division=False):
    """An evaluate written with one of the switches turned the wrong way (the keyword names it)."""
    def evaluate(model, loader, device):
        if eval_mode:
            model.eval()
        correct = 0
        total = 0
        context = torch.no_grad() if no_grad else torch.enable_grad()
        with context:
            for inputs, labels in loader:
                if move:
                    inputs, labels = inputs.to(device), labels.to(device)
                predicted = model(inputs).argmax(dim=argmax_dim)
                if per_batch_mean:
                    correct += (predicted == labels).float().mean().item()
                elif keep_tensor:
                    correct += (predicted == labels).sum()
                else:
                    correct += (predicted == labels).sum().item()
                if total_by == "examples":
                    total += labels.shape[0]
                elif total_by == "batch_size":
                    total += loader.batch_size
                else:
                    total += 1
        if train_after:
            model.train()
        if total_by == "none":
            return correct * scale
        if not empty_guard:
            return correct / total * scale
        if floor_division:
            return correct // total if total else 0.0
        return correct / total * scale if total else 0.0
    return lambda reference: evaluate


mistakes.of("evaluate", "call model.eval() before the loop, so that Dropout stops dropping and BatchNorm uses its "
                        "running statistics")(_evaluate(eval_mode=False))
mistakes.of("evaluate", "run the loop inside `with torch.no_grad():`, so that no autograd graph is built while "
                        "evaluating")(_evaluate(no_grad=False))
mistakes.of("evaluate", "leave the model in eval mode: do not call model.train() at the end of "
                        "evaluate")(_evaluate(train_after=True))
mistakes.of("evaluate", "you average the batches' accuracies: add up the correct predictions and the examples over "
                        "all batches and divide once (the last batch can be smaller)")(_evaluate(per_batch_mean=True, total_by="batches"))
mistakes.of("evaluate", "add labels.shape[0], the real size of each batch, to the total, not loader.batch_size: the "
                        "last batch can be smaller")(_evaluate(total_by="batch_size"))
mistakes.of("evaluate", "you divide by the number of batches: divide by the number of examples, adding "
                        "labels.shape[0] per batch")(_evaluate(total_by="batches"))
mistakes.of("evaluate", "you return the number of correct predictions: divide it by the number of "
                        "examples")(_evaluate(total_by="none"))
mistakes.of("evaluate", "your count is a tensor, so the result is a tensor: add (predicted == labels).sum().item() "
                        "to get Python numbers")(_evaluate(keep_tensor=True))
mistakes.of("evaluate", "an empty loader has no examples: return 0.0 when the total is 0 instead of dividing by "
                        "zero")(_evaluate(empty_guard=False))
mistakes.of("evaluate", "take the argmax over dim=1, the classes of each row, not dim 0")(_evaluate(argmax_dim=0))
mistakes.of("evaluate", "your accuracy is a percentage: return a fraction in [0, 1], without the * "
                        "100")(_evaluate(scale=100.0))
mistakes.of("evaluate", "use / (true division), not // (which rounds down to 0)")(_evaluate(floor_division=True))
mistakes.of("evaluate", "move each batch to the device and keep the result: inputs = inputs.to(device) "
                        "(.to returns a new tensor)")(_evaluate(move=False))


# ------------------------------------------------------------------ make_housing_data
_CITY = ([25.9, 1503.7], [[33.64, 400], [400, 64112.24]])
_RURAL = ([31.8, 834.3], [[62.41, 200], [200, 9623.61]])


def _housing(*, seed_with="numpy", rural_first=False, flipped_labels=False, data_dtype=np.float32,
             label_dtype=np.float32, flat_labels=False, shuffle="one", split="2n1"):
    """A make_housing_data with one step of the recipe done the wrong way (the keyword names it)."""
    def make_housing_data(n1=1000, n2=300, seed=42):
        rng = np.random
        if seed_with == "numpy":
            np.random.seed(seed)
        elif seed_with == "fixed":
            np.random.seed(42)
        elif seed_with == "torch":
            torch.manual_seed(seed)
        elif seed_with == "default_rng":
            rng = np.random.default_rng(seed)
        n = n1 + n2
        if rural_first:
            rural = rng.multivariate_normal(*_RURAL, size=n)
            city = rng.multivariate_normal(*_CITY, size=n)
        else:
            city = rng.multivariate_normal(*_CITY, size=n)
            rural = rng.multivariate_normal(*_RURAL, size=n)
        data = np.vstack((city, rural)).astype(data_dtype)
        first, second = (np.ones, np.zeros) if flipped_labels else (np.zeros, np.ones)
        if flat_labels:
            labels = np.concatenate((first(n, dtype=label_dtype), second(n, dtype=label_dtype)))
        else:
            labels = np.vstack((first((n, 1), dtype=label_dtype), second((n, 1), dtype=label_dtype)))
        if shuffle == "one":
            idx = rng.permutation(len(data))
            data, labels = data[idx], labels[idx]
        elif shuffle == "data only":
            data = data[rng.permutation(len(data))]
        elif shuffle == "two":
            data, labels = data[rng.permutation(len(data))], labels[rng.permutation(len(data))]
        elif shuffle == "shuffle each":
            rng.shuffle(data)
            rng.shuffle(labels)
        elif shuffle == "n":
            idx = rng.permutation(n)
            data, labels = data[idx], labels[idx]
        data, labels = torch.from_numpy(np.ascontiguousarray(data)), torch.from_numpy(np.ascontiguousarray(labels))
        cut = 2 * n1 if split == "2n1" else n1
        return (data[:cut], labels[:cut]), (data[cut:], labels[cut:])
    return lambda reference: make_housing_data


mistakes.of("make_housing_data", "shuffle the labels with the same idx as the data (labels[idx]), or each house "
                                 "loses its label")(_housing(shuffle="data only"))
mistakes.of("make_housing_data", "shuffle data and labels with one and the same permutation idx: a second "
                                 "permutation (or shuffle) mixes the labels up")(_housing(shuffle="two"))
mistakes.of("make_housing_data", "shuffle data and labels with one and the same permutation idx: a second "
                                 "permutation (or shuffle) mixes the labels up")(_housing(shuffle="shuffle each"))
mistakes.of("make_housing_data", "shuffle the rows with idx = np.random.permutation(2 * n) before "
                                 "splitting")(_housing(shuffle="none"))
mistakes.of("make_housing_data", "permute all 2 * n rows: np.random.permutation(2 * n), not "
                                 "permutation(n)")(_housing(shuffle="n"))
mistakes.of("make_housing_data", "city houses are label 0 and rural houses label 1: zeros for the city rows, ones "
                                 "for the rural rows")(_housing(flipped_labels=True))
mistakes.of("make_housing_data", "convert to float32 with .astype(np.float32) or dtype=np.float32: NumPy makes "
                                 "float64 by default")(_housing(data_dtype=np.float64))
mistakes.of("make_housing_data", "convert to float32 with .astype(np.float32) or dtype=np.float32: NumPy makes "
                                 "float64 by default")(_housing(label_dtype=np.float64))
mistakes.of("make_housing_data", "convert to float32 with .astype(np.float32) or dtype=np.float32: NumPy makes "
                                 "float64 by default")(_housing(data_dtype=np.float64, label_dtype=np.float64))
mistakes.of("make_housing_data", "the labels must be a column of shape (2n, 1): np.zeros((n, 1)), not "
                                 "np.zeros(n)")(_housing(flat_labels=True))
mistakes.of("make_housing_data", "the first 2 * n1 rows are for training: split at data[:2 * n1], not at "
                                 "n1")(_housing(split="n1"))
mistakes.of("make_housing_data", "start with np.random.seed(seed), so the random draws are the tutorial's "
                                 "(torch.manual_seed does not seed NumPy)")(_housing(seed_with="none"))
mistakes.of("make_housing_data", "start with np.random.seed(seed), so the random draws are the tutorial's "
                                 "(torch.manual_seed does not seed NumPy)")(_housing(seed_with="torch"))
mistakes.of("make_housing_data", "seed with the seed argument, np.random.seed(seed), not a fixed "
                                 "number")(_housing(seed_with="fixed"))
mistakes.of("make_housing_data", "use NumPy's global generator as the recipe says (np.random.seed(seed), then "
                                 "np.random.multivariate_normal): default_rng draws other "
                                 "numbers")(_housing(seed_with="default_rng"))
mistakes.of("make_housing_data", "draw the city houses first, then the rural ones: the order of the random draws "
                                 "decides the data")(_housing(rural_first=True))


# ------------------------------------------------------------------ train_logistic
def _logistic(*, stats="dim0", unbiased=True, standardize=True, in_place=False, seed=0, optimizer="SGD",
              loss="bce_logits", fixed_lr=None, fixed_epochs=None, epoch_offset=0, zero_grad="before",
              step=True):
    """A train_logistic with one step done the wrong way (the keyword names it)."""
    def train_logistic(train_x, train_y, epochs=100, lr=0.5):
        if stats == "dim0":
            mean, std = train_x.mean(dim=0), train_x.std(dim=0, unbiased=unbiased)
        elif stats == "dim1":
            mean, std = train_x.mean(dim=1, keepdim=True), train_x.std(dim=1, keepdim=True, unbiased=unbiased)
        else:
            mean, std = train_x.mean(), train_x.std(unbiased=unbiased)
        if in_place:
            train_x -= mean
            train_x /= std
            x = train_x
        else:
            x = (train_x - mean) / std if standardize else train_x
        y = train_y.reshape(-1, 1).to(x.dtype)
        if seed is not None:
            torch.manual_seed(seed)
        model = nn.Linear(2, 1).to(train_x.device)
        rate = lr if fixed_lr is None else fixed_lr
        if optimizer == "SGD":
            opt = torch.optim.SGD(model.parameters(), lr=rate)
        else:
            opt = torch.optim.Adam(model.parameters(), lr=rate)
        if loss == "bce_logits":
            loss_fn = nn.BCEWithLogitsLoss()
        elif loss == "sigmoid_then_bce_logits":
            def loss_fn(logits, target):
                return nn.BCEWithLogitsLoss()(torch.sigmoid(logits), target)
        elif loss == "mse_of_sigmoid":
            def loss_fn(logits, target):
                return ((torch.sigmoid(logits) - target) ** 2).mean()
        else:
            loss_fn = nn.MSELoss()
        for _ in range((epochs if fixed_epochs is None else fixed_epochs) + epoch_offset):
            if zero_grad == "before":
                opt.zero_grad()
            value = loss_fn(model(x), y)
            value.backward()
            if zero_grad == "between":
                opt.zero_grad()
            if step:
                opt.step()
        return model, mean, std
    return lambda reference: train_logistic


mistakes.of("train_logistic", "call optimizer.zero_grad() every epoch: without it the gradients of all the steps "
                              "add up")(_logistic(zero_grad="never"))
mistakes.of("train_logistic", "your weights never change: call optimizer.zero_grad() before loss.backward() (not "
                              "between backward() and step()), and optimizer.step() after it")(
    _logistic(zero_grad="between"))
mistakes.of("train_logistic", "your weights never change: call optimizer.zero_grad() before loss.backward() (not "
                              "between backward() and step()), and optimizer.step() after it")(_logistic(step=False))
mistakes.of("train_logistic", "use the unbiased standard deviation, train_x.std(dim=0) (the default), not "
                              "unbiased=False or correction=0")(_logistic(unbiased=False))
mistakes.of("train_logistic", "standardize the inputs before training: x = (train_x - mean) / std, and train on "
                              "x")(_logistic(standardize=False))
mistakes.of("train_logistic", "you change train_x in place (train_x -= mean): compute a new tensor, x = (train_x - "
                              "mean) / std, and leave the caller's data alone")(_logistic(in_place=True))
mistakes.of("train_logistic", "compute the mean and std of each feature over the rows, with dim=0 (not dim=1, the "
                              "features of one house)")(_logistic(stats="dim1"))
mistakes.of("train_logistic", "compute the mean and std of each feature over the rows, with dim=0, not one number "
                              "for the whole tensor")(_logistic(stats="all"))
mistakes.of("train_logistic", "call torch.manual_seed(0) right before creating nn.Linear(2, 1), so its starting "
                              "weights are the expected ones")(_logistic(seed=None))
mistakes.of("train_logistic", "call torch.manual_seed(0) right before creating nn.Linear(2, 1) (seed 0, not 42), "
                              "so its starting weights are the expected ones")(_logistic(seed=42))
mistakes.of("train_logistic", "use nn.BCEWithLogitsLoss(), the loss of a yes/no classifier, not a mean squared "
                              "error")(_logistic(loss="mse_of_sigmoid"))
mistakes.of("train_logistic", "use nn.BCEWithLogitsLoss(), the loss of a yes/no classifier, not a mean squared "
                              "error")(_logistic(loss="mse"))
mistakes.of("train_logistic", "nn.BCEWithLogitsLoss applies the sigmoid itself: give it the raw logits model(x), "
                              "not torch.sigmoid(model(x))")(_logistic(loss="sigmoid_then_bce_logits"))
mistakes.of("train_logistic", "use torch.optim.SGD as the docstring asks, not Adam")(_logistic(optimizer="Adam"))
for _lr in (0.1, 0.5, 0.01, 0.05, 0.001):
    mistakes.of("train_logistic", "use the lr argument in the optimizer, not a learning rate written "
                                  "in")(_logistic(fixed_lr=_lr))
mistakes.of("train_logistic", "use the epochs argument for the number of steps, not a number written "
                              "in")(_logistic(fixed_epochs=100))
mistakes.of("train_logistic", "run exactly epochs steps, for _ in range(epochs): yours runs one step too "
                              "many")(_logistic(epoch_offset=1))
mistakes.of("train_logistic", "run exactly epochs steps, for _ in range(epochs): yours runs one step too "
                              "few")(_logistic(epoch_offset=-1))
