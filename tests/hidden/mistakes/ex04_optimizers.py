"""Typical mistakes in ex04_optimizers, recognised from what the code returns (see grader/mistakes.py).

Each entry is the wrong code a beginner writes; the order matters where two mistakes give the same
result on a check (the first one listed is named).
"""

from __future__ import annotations

import warnings

import torch
from torch import optim

from grader.mistakes import Mistakes

mistakes = Mistakes("ex04_optimizers")

_UNKNOWN = "unknown optimizer {!r}: choose one of 'sgd', 'adam'"


# ------------------------------------------------------------------ make_optimizer
@mistakes.of("make_optimizer", "you compare the name exactly as it was typed, so 'SGD' and 'Adam' are refused: "
                               "lower-case it first (key = name.lower())")
def name_not_lower_cased(reference):
    def make_optimizer(params, name, lr):
        if name == "sgd":
            return optim.SGD(params, lr=lr)
        if name == "adam":
            return optim.Adam(params, lr=lr)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "getattr(optim, name) looks for a class called 'sgd', but the classes are named "
                               "SGD and Adam: map the lower-cased name to optim.SGD or optim.Adam yourself")
def class_looked_up_by_the_raw_name(reference):
    def make_optimizer(params, name, lr):
        return getattr(optim, name)(params, lr=lr)
    return make_optimizer


@mistakes.of("make_optimizer", "the classes are swapped: 'sgd' must build optim.SGD and 'adam' optim.Adam")
def classes_swapped(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.Adam(params, lr=lr)
        if key == "adam":
            return optim.SGD(params, lr=lr)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "optim.Adam is built without lr=lr, so it keeps its default learning rate 1e-3: "
                               "pass lr=lr to Adam as well")
def adam_without_lr(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD(params, lr=lr)
        if key == "adam":
            return optim.Adam(params)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "the optimizer is built without lr=lr, so it keeps its default learning rate 1e-3: "
                               "pass lr=lr to SGD and to Adam")
def no_lr_at_all(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD(params)
        if key == "adam":
            return optim.Adam(params)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "the learning rate is fixed at the tutorial's 1e-2 instead of the lr argument: "
                               "pass lr=lr")
def lr_hard_coded(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD(params, lr=1e-2)
        if key == "adam":
            return optim.Adam(params, lr=1e-2)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "you add momentum=0.9 to SGD: leave every setting except lr at its default")
def sgd_with_momentum(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD(params, lr=lr, momentum=0.9)
        if key == "adam":
            return optim.Adam(params, lr=lr)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "the optimizer holds copies of the params (clone/detach/new tensors), so its steps "
                               "never reach your tensors: pass params itself, optim.SGD(params, lr=lr)")
def optimizes_copies(reference):
    def make_optimizer(params, name, lr):
        copies = [p.detach().clone().requires_grad_() for p in params]
        key = name.lower()
        if key == "sgd":
            return optim.SGD(copies, lr=lr)
        if key == "adam":
            return optim.Adam(copies, lr=lr)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "params is already a list (or generator) of tensors: pass it as it is, "
                               "optim.SGD(params, lr=lr), not wrapped again in [params]")
def params_wrapped_in_a_list(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD([params], lr=lr)
        if key == "adam":
            return optim.Adam([params], lr=lr)
        raise ValueError(_UNKNOWN.format(name))
    return make_optimizer


@mistakes.of("make_optimizer", "an unknown name must raise a ValueError, but your code returns normally: it ends "
                               "without a raise (returning None) or falls back to an optimizer in an else branch")
def unknown_name_returns(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD(params, lr=lr)
        if key == "adam":
            return optim.Adam(params, lr=lr)
        return None
    return make_optimizer


@mistakes.of("make_optimizer", "the ValueError must tell which names are valid: end its message with something "
                               "like \"choose one of 'sgd', 'adam'\"")
def message_without_the_choices(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD(params, lr=lr)
        if key == "adam":
            return optim.Adam(params, lr=lr)
        raise ValueError(f"unknown optimizer {name!r}")
    return make_optimizer


@mistakes.of("make_optimizer", "the ValueError must tell which names are valid: end its message with something "
                               "like \"choose one of 'sgd', 'adam'\"")
def message_without_the_choices_plain(reference):
    def make_optimizer(params, name, lr):
        key = name.lower()
        if key == "sgd":
            return optim.SGD(params, lr=lr)
        if key == "adam":
            return optim.Adam(params, lr=lr)
        raise ValueError(f"Unknown optimizer: {name}")
    return make_optimizer


# ------------------------------------------------------------------ training_loop
def _loop(n_epochs, optimizer, params, t_u, t_c, *, order=("zero", "backward", "step"), reduce="mean",
          swap=False, scale=1.0):
    for _ in range(n_epochs):
        w, b = (params[1], params[0]) if swap else (params[0], params[1])
        t_p = w * (t_u * scale) + b
        squared = (t_p - t_c) ** 2
        loss = squared.sum() if reduce == "sum" else squared.mean()
        for action in order:
            if action == "zero":
                optimizer.zero_grad()
            elif action == "backward":
                loss.backward()
            elif action == "step":
                optimizer.step()
    return params


@mistakes.of("training_loop", "optimizer.zero_grad() is missing, so backward() adds each epoch's gradient to the "
                              "old ones: call optimizer.zero_grad() every epoch, before loss.backward()")
def no_zero_grad(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(n_epochs, optimizer, params, t_u, t_c, order=("backward", "step"))
    return training_loop


@mistakes.of("training_loop", "params never move: step() finds no gradient (zero_grad() runs between backward() and "
                              "step(), step() comes before backward(), or step() is missing); the order is "
                              "zero_grad(), backward(), step()")
def step_without_a_gradient(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(n_epochs, optimizer, params, t_u, t_c, order=("backward", "zero", "step"))
    return training_loop


@mistakes.of("training_loop", "you update params by hand (params -= 1e-2 * params.grad, or a new optimizer of your "
                              "own) instead of calling the given optimizer.step(): the optimizer owns the update rule "
                              "and its learning rate")
def update_by_hand(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        for _ in range(n_epochs):
            t_p = params[0] * t_u + params[1]
            loss = ((t_p - t_c) ** 2).mean()
            optimizer.zero_grad()
            loss.backward()
            with torch.no_grad():
                params -= 1e-2 * params.grad
        return params
    return training_loop


@mistakes.of("training_loop", "your loss sums the squared errors: the loss is their mean, ((t_p - t_c) ** 2).mean()")
def summed_loss(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(n_epochs, optimizer, params, t_u, t_c, reduce="sum")
    return training_loop


@mistakes.of("training_loop", "w and b are swapped: params is [w, b], so the model is params[0] * t_u + params[1]")
def w_and_b_swapped(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(n_epochs, optimizer, params, t_u, t_c, swap=True)
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too few: range(n_epochs) runs exactly n_epochs times "
                              "(range(1, n_epochs) and range(n_epochs - 1) run one fewer)")
def one_epoch_too_few(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(max(n_epochs - 1, 0), optimizer, params, t_u, t_c)
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too many: range(n_epochs) runs exactly n_epochs times "
                              "(range(n_epochs + 1) and range(0, n_epochs + 1) run one more)")
def one_epoch_too_many(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(n_epochs + 1, optimizer, params, t_u, t_c)
    return training_loop


@mistakes.of("training_loop", "return the params tensor you were given, not a copy (.detach()/.clone()), another "
                              "tensor or nothing: the optimizer updated params in place")
def returns_a_copy(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(n_epochs, optimizer, params, t_u, t_c).detach().clone()
    return training_loop


@mistakes.of("training_loop", "the prediction and the loss are computed once, before the loop: compute them inside "
                              "the loop, every epoch, from the current params")
def loss_outside_the_loop(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        t_p = params[0] * t_u + params[1]
        loss = ((t_p - t_c) ** 2).mean()
        for _ in range(n_epochs):
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        return params
    return training_loop


@mistakes.of("training_loop", "you scale t_u by 0.1 inside the loop, but the caller already passes the scaled "
                              "readings: use t_u as it is")
def t_u_scaled_again(reference):
    def training_loop(n_epochs, optimizer, params, t_u, t_c):
        return _loop(n_epochs, optimizer, params, t_u, t_c, scale=0.1)
    return training_loop


# ------------------------------------------------------------------ split_indices
@mistakes.of("split_indices", "n_val = int(val_fraction * n_samples) can be 0 (and shuffled[-0:] is everything): "
                              "keep at least one validation index with max(1, ...)")
def no_at_least_one(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator=generator)
        n_val = int(val_fraction * n_samples)
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "you round the number of validation samples with round(); int() is wanted, which "
                              "rounds down (int(3.9) is 3), then at least 1")
def rounds_to_nearest(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator=generator)
        n_val = max(1, round(val_fraction * n_samples))
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "you round the number of validation samples up (math.ceil, or computing the training "
                              "size int((1 - f) * n) first and keeping the rest): n_val = int(val_fraction * n_samples), "
                              "rounded down, at least 1")
def rounds_up(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator=generator)
        n_train = int((1 - val_fraction) * n_samples)
        n_val = max(1, n_samples - n_train)
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "you take the first n_val shuffled indices for validation: validation is the LAST "
                              "n_val (shuffled[-n_val:]) and training the rest (shuffled[:-n_val])")
def first_part_for_validation(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator=generator)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[n_val:], shuffled[:n_val]
    return split_indices


@mistakes.of("split_indices", "the two parts are returned in the wrong order: return (train_idx, val_idx), the "
                              "training indices first")
def parts_swapped(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator=generator)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[-n_val:], shuffled[:-n_val]
    return split_indices


@mistakes.of("split_indices", "val_fraction is the VALIDATION share, not the training share: "
                              "n_val = int(val_fraction * n_samples)")
def fraction_used_for_training(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator=generator)
        n_train = max(1, int(val_fraction * n_samples))
        return shuffled[:n_train], shuffled[n_train:]
    return split_indices


@mistakes.of("split_indices", "the generator is ignored, so the split is not reproducible: pass it on, "
                              "torch.randperm(n_samples, generator=generator)")
def generator_ignored(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "the generator must be passed by name: torch.randperm(n_samples, generator=generator)")
def generator_passed_positionally(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "without a generator you make a seeded one (or call torch.manual_seed) yourself: do "
                              "not seed here, pass generator=generator as it is (None draws from torch's global RNG)")
def seeded_default_generator(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        if generator is None:
            generator = torch.Generator().manual_seed(0)
        shuffled = torch.randperm(n_samples, generator=generator)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "without a generator you make a seeded one (or call torch.manual_seed) yourself: do "
                              "not seed here, pass generator=generator as it is (None draws from torch's global RNG)")
def seeds_the_global_rng(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        torch.manual_seed(0)
        shuffled = torch.randperm(n_samples, generator=generator)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "the indices are not shuffled (torch.arange keeps them in order): shuffle with "
                              "torch.randperm(n_samples, generator=generator)")
def not_shuffled(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.arange(n_samples)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[:-n_val], shuffled[-n_val:]
    return split_indices


@mistakes.of("split_indices", "return the two parts as tensors (slices of the permutation), not Python lists")
def returns_lists(reference):
    def split_indices(n_samples, val_fraction, generator=None):
        shuffled = torch.randperm(n_samples, generator=generator)
        n_val = max(1, int(val_fraction * n_samples))
        return shuffled[:-n_val].tolist(), shuffled[-n_val:].tolist()
    return split_indices


# ------------------------------------------------------------------ training_loop_val
def _loop_val(n_epochs, optimizer, params, train_t_u, val_t_u, train_t_c, val_t_c, *, val_grad=False,
              val_after_step=False, order=("zero", "backward", "step"), as_tensors=(False, False),
              val_on_train=False, reduce="mean", mse=False, all_no_grad=False, add_val=False):
    def loss_of(t_u, t_c):
        t_p = params[0] * t_u + params[1]
        if mse:
            return torch.nn.functional.mse_loss(t_p, t_c)
        squared = (t_p - t_c) ** 2
        return squared.sum() if reduce == "sum" else squared.mean()

    def validation():
        inputs = (train_t_u, train_t_c) if val_on_train else (val_t_u, val_t_c)
        if val_grad:
            return loss_of(*inputs)
        with torch.no_grad():
            return loss_of(*inputs)

    train_losses, val_losses = [], []
    for _ in range(n_epochs):
        if all_no_grad:
            with torch.no_grad():
                train_loss = loss_of(train_t_u, train_t_c)
                val_loss = loss_of(val_t_u, val_t_c)
        else:
            train_loss = loss_of(train_t_u, train_t_c)
            if not val_after_step:
                val_loss = validation()
        for action in order:
            if action == "zero":
                optimizer.zero_grad()
            elif action == "backward":
                (train_loss + val_loss if add_val else train_loss).backward()
            elif action == "step":
                optimizer.step()
        if val_after_step:
            val_loss = validation()
        train_losses.append(train_loss.detach() if as_tensors[0] else train_loss.item())
        val_losses.append(val_loss.detach() if as_tensors[1] else val_loss.item())
    return params, train_losses, val_losses


def _val_mistake(**options):
    def factory(reference):
        def training_loop_val(n_epochs, optimizer, params, train_t_u, val_t_u, train_t_c, val_t_c):
            return _loop_val(n_epochs, optimizer, params, train_t_u, val_t_u, train_t_c, val_t_c, **options)
        return training_loop_val
    return factory


_VAL_WITH_GRAD = ("the validation loss is computed with gradients on (worse if adding it to the training loss): "
                  "compute it inside `with torch.no_grad():` and call backward() on the training loss only")

mistakes.of("training_loop_val", _VAL_WITH_GRAD)(_val_mistake(val_grad=True))
mistakes.of("training_loop_val", _VAL_WITH_GRAD)(_val_mistake(val_grad=True, mse=True))
mistakes.of("training_loop_val", "the training loss is computed under torch.no_grad() too, so backward() has no graph: "
                                 "only the validation loss goes inside `with torch.no_grad():`")(
    _val_mistake(all_no_grad=True))
mistakes.of("training_loop_val", "optimizer.zero_grad() is missing, so backward() adds each epoch's gradient to the "
                                 "old ones: call optimizer.zero_grad() every epoch, before train_loss.backward()")(
    _val_mistake(order=("backward", "step")))
mistakes.of("training_loop_val", "params never move: optimizer.step() finds no gradient, because zero_grad() runs "
                                 "between backward() and step(), or step() comes before backward(); the order is "
                                 "zero_grad(), backward(), step()")(
    _val_mistake(order=("backward", "zero", "step")))
mistakes.of("training_loop_val", "the validation loss is measured after optimizer.step(): measure both losses of an "
                                 "epoch before the step, with the same params")(_val_mistake(val_after_step=True))
mistakes.of("training_loop_val", "you validate on the training data: the validation loss uses val_t_u and val_t_c")(
    _val_mistake(val_on_train=True))
_AS_TENSORS = ("you append the loss tensors to the lists: append Python floats with loss.item() "
               "(for both losses)")
mistakes.of("training_loop_val", _AS_TENSORS)(_val_mistake(as_tensors=(True, True)))
mistakes.of("training_loop_val", _AS_TENSORS)(_val_mistake(as_tensors=(True, False)))
mistakes.of("training_loop_val", _AS_TENSORS)(_val_mistake(as_tensors=(False, True)))
mistakes.of("training_loop_val", "your losses sum the squared errors: each loss is their mean, "
                                 "((t_p - t_c) ** 2).mean()")(_val_mistake(reduce="sum"))


@mistakes.of("training_loop_val", "the two lists are returned in the wrong order: return "
                                  "(params, train_losses, val_losses)")
def lists_swapped(reference):
    def training_loop_val(*args):
        params, train_losses, val_losses = _loop_val(*args)
        return params, val_losses, train_losses
    return training_loop_val


@mistakes.of("training_loop_val", "return all three, in this order: (params, train_losses, val_losses); your return "
                                  "leaves one out (often params) or returns something else")
def params_not_returned(reference):
    def training_loop_val(*args):
        _, train_losses, val_losses = _loop_val(*args)
        return train_losses, val_losses
    return training_loop_val


@mistakes.of("training_loop_val", "your loop runs one epoch too few: range(n_epochs) runs exactly n_epochs times")
def val_one_epoch_too_few(reference):
    def training_loop_val(n_epochs, *args):
        return _loop_val(max(n_epochs - 1, 0), *args)
    return training_loop_val


@mistakes.of("training_loop_val", "your loop runs one epoch too many: range(n_epochs) runs exactly n_epochs times")
def val_one_epoch_too_many(reference):
    def training_loop_val(n_epochs, *args):
        return _loop_val(n_epochs + 1, *args)
    return training_loop_val


# ------------------------------------------------------------------ calc_forward
@mistakes.of("calc_forward", "the prediction is computed before the `with torch.set_grad_enabled(is_train):` block, "
                             "so autograd still tracks it: put the prediction AND the loss inside the block")
def prediction_outside_the_block(reference):
    def calc_forward(params, t_u, t_c, is_train):
        t_p = params[0] * t_u + params[1]
        with torch.set_grad_enabled(is_train):
            return ((t_p - t_c) ** 2).mean()
    return calc_forward


@mistakes.of("calc_forward", "torch.set_grad_enabled(is_train) called on its own line switches gradients off for "
                             "everything after it: use it as a context manager, `with torch.set_grad_enabled(is_train):`")
def plain_call_never_restored(reference):
    def calc_forward(params, t_u, t_c, is_train):
        torch.set_grad_enabled(is_train)
        t_p = params[0] * t_u + params[1]
        return ((t_p - t_c) ** 2).mean()
    return calc_forward


@mistakes.of("calc_forward", "with is_train=False your code still builds a graph (gradients never switched off, or "
                             "only detached at the end): compute everything inside "
                             "`with torch.set_grad_enabled(is_train):`")
def gradients_never_switched_off(reference):
    def calc_forward(params, t_u, t_c, is_train):
        t_p = params[0] * t_u + params[1]
        return ((t_p - t_c) ** 2).mean()
    return calc_forward


@mistakes.of("calc_forward", "with is_train=True your loss has no graph: gradients are off while training (the flag "
                             "inverted, or torch.no_grad() used in both cases); use torch.set_grad_enabled(is_train)")
def flag_inverted(reference):
    def calc_forward(params, t_u, t_c, is_train):
        with torch.set_grad_enabled(not is_train):
            t_p = params[0] * t_u + params[1]
            return ((t_p - t_c) ** 2).mean()
    return calc_forward


@mistakes.of("calc_forward", "return the loss tensor itself, not loss.item(): the training step needs the tensor "
                             "to call backward()")
def returns_a_float(reference):
    def calc_forward(params, t_u, t_c, is_train):
        with torch.set_grad_enabled(is_train):
            t_p = params[0] * t_u + params[1]
            return ((t_p - t_c) ** 2).mean().item()
    return calc_forward


@mistakes.of("calc_forward", "your loss sums the squared errors: the loss is their mean, ((t_p - t_c) ** 2).mean()")
def forward_summed(reference):
    def calc_forward(params, t_u, t_c, is_train):
        with torch.set_grad_enabled(is_train):
            t_p = params[0] * t_u + params[1]
            return ((t_p - t_c) ** 2).sum()
    return calc_forward


# ------------------------------------------------------------------ standardize
def _floated(train):
    return train if train.is_floating_point() else train.float()


@mistakes.of("standardize", "you use the biased standard deviation (dividing by N, correction=0 or a hand-made "
                            "sqrt of the mean square): Tensor.std() is the unbiased one, dividing by N - 1")
def biased_std(reference):
    def standardize(train, other):
        train = _floated(train)
        mean, std = train.mean(), train.std(correction=0)
        return (train - mean) / std, (other - mean) / std
    return standardize


@mistakes.of("standardize", "`other` is scaled with its own mean and std: use the TRAINING statistics for both "
                            "(looking at held-out data leaks it)")
def other_with_its_own_statistics(reference):
    def standardize(train, other):
        train = _floated(train)
        mean, std = train.mean(), train.std()
        with warnings.catch_warnings():  # the std of a single element is nan, with a warning
            warnings.simplefilter("ignore")
            return (train - mean) / std, (other - other.mean()) / other.std()
    return standardize


@mistakes.of("standardize", "the statistics are taken per column (dim=0): take the mean and std of ALL elements, "
                            "train.mean() and train.std() without a dim")
def per_column_statistics(reference):
    def standardize(train, other):
        train = _floated(train)
        mean, std = train.mean(dim=0), train.std(dim=0)
        return (train - mean) / std, (other - mean) / std
    return standardize


@mistakes.of("standardize", "you divide by the variance: divide by the standard deviation, train.std() "
                            "(the square root of the variance)")
def divides_by_the_variance(reference):
    def standardize(train, other):
        train = _floated(train)
        mean, std = train.mean(), train.var()
        return (train - mean) / std, (other - mean) / std
    return standardize


@mistakes.of("standardize", "you change train in place (-=, /=, sub_): compute new tensors, (train - mean) / std")
def in_place(reference):
    def standardize(train, other):
        train = _floated(train)
        mean, std = train.mean(), train.std()
        train -= mean
        train /= std
        return train, (other - mean) / std
    return standardize


@mistakes.of("standardize", "an integer train tensor must be converted first: mean() and std() need floats, "
                            "so start with train = train.float()")
def integers_not_converted(reference):
    def standardize(train, other):
        mean, std = train.mean(), train.std()
        return (train - mean) / std, (other - mean) / std
    return standardize


@mistakes.of("standardize", "an integer train tensor becomes float32 with .float(), not float64 (.double())")
def integers_to_float64(reference):
    def standardize(train, other):
        if not train.is_floating_point():
            train = train.double()
        mean, std = train.mean(), train.std()
        return (train - mean) / std, (other - mean) / std
    return standardize


@mistakes.of("standardize", "you scale to [0, 1] with the min and max: standardize with the mean and the standard "
                            "deviation, (train - mean) / std")
def min_max_scaling(reference):
    def standardize(train, other):
        train = _floated(train)
        low, high = train.min(), train.max()
        return (train - low) / (high - low), (other - low) / (high - low)
    return standardize


@mistakes.of("standardize", "the mean is never subtracted: standardize is (x - mean) / std")
def mean_not_subtracted(reference):
    def standardize(train, other):
        train = _floated(train)
        std = train.std()
        return train / std, other / std
    return standardize


@mistakes.of("standardize", "you only subtract the mean: also divide by the standard deviation, (x - mean) / std")
def std_not_divided(reference):
    def standardize(train, other):
        train = _floated(train)
        mean = train.mean()
        return train - mean, other - mean
    return standardize


@mistakes.of("standardize", "the statistics come from train and other together: take the mean and std of train "
                            "only, and apply them to both")
def statistics_of_all_the_data(reference):
    def standardize(train, other):
        train = _floated(train)
        everything = torch.cat([train.reshape(-1), other.reshape(-1).to(train.dtype)])
        mean, std = everything.mean(), everything.std()
        return (train - mean) / std, (other - mean) / std
    return standardize


@mistakes.of("standardize", "`other` is returned unscaled: apply the same (x - mean) / std to it")
def other_unscaled(reference):
    def standardize(train, other):
        train = _floated(train)
        mean, std = train.mean(), train.std()
        return (train - mean) / std, other
    return standardize
