"""Typical mistakes in ex05_nn_modules, recognised from what the code returns (see grader/mistakes.py).

Each entry is the wrong code a beginner writes; the order matters where two mistakes give the same
result on a check (the first one listed is named).
"""

from __future__ import annotations

from collections import OrderedDict

import numpy as np
import torch
from torch import nn

from grader.mistakes import Mistakes

mistakes = Mistakes("ex05_nn_modules")


# ------------------------------------------------------------------ make_linear_model
@mistakes.of("make_linear_model", "the layer has no bias (bias=False): the model is w * x + b, so keep the default "
                                  "bias, nn.Linear(1, 1)")
def linear_without_bias(reference):
    def make_linear_model():
        return nn.Linear(1, 1, bias=False)
    return make_linear_model


@mistakes.of("make_linear_model", "you wrap the layer in nn.Sequential: return the nn.Linear(1, 1) itself")
def linear_wrapped_in_sequential(reference):
    def make_linear_model():
        return nn.Sequential(nn.Linear(1, 1))
    return make_linear_model


@mistakes.of("make_linear_model", "the layer is converted to float64 (.double()): keep nn.Linear's float32 default")
def linear_as_float64(reference):
    def make_linear_model():
        return nn.Linear(1, 1).double()
    return make_linear_model


_SEEDED = ("you call torch.manual_seed inside the function: do not seed here, the caller controls the random "
           "initialization")
mistakes.of("make_linear_model", _SEEDED)(lambda reference: lambda: (torch.manual_seed(0), nn.Linear(1, 1))[1])
mistakes.of("make_linear_model", _SEEDED)(lambda reference: lambda: (torch.manual_seed(42), nn.Linear(1, 1))[1])


@mistakes.of("make_linear_model", "you set the weights yourself (the book's w = 1, b = 0): keep torch's own random "
                                  "initialization of nn.Linear(1, 1)")
def linear_set_to_one_and_zero(reference):
    def make_linear_model():
        model = nn.Linear(1, 1)
        with torch.no_grad():
            model.weight.fill_(1.0)
            model.bias.zero_()
        return model
    return make_linear_model


@mistakes.of("make_linear_model", "you set the weights to zero yourself: keep torch's own random initialization of "
                                  "nn.Linear(1, 1)")
def linear_set_to_zero(reference):
    def make_linear_model():
        model = nn.Linear(1, 1)
        with torch.no_grad():
            model.weight.zero_()
            model.bias.zero_()
        return model
    return make_linear_model


# ------------------------------------------------------------------ make_mlp
def _mlp(n_hidden, *, names=("hidden", "hidden_activation", "output"), activation=nn.Tanh, extra=False,
         unnamed=False, no_activation=False):
    layers = [(names[0], nn.Linear(1, n_hidden))]
    if not no_activation:
        layers.append((names[1], activation()))
    layers.append((names[2], nn.Linear(n_hidden, 1)))
    if extra:
        layers.append(("output_activation", nn.Tanh()))
    if unnamed:
        return nn.Sequential(*[module for _, module in layers])
    return nn.Sequential(OrderedDict(layers))


def _mlp_mistake(default=13, fixed=None, **options):
    def factory(reference):
        def make_mlp(n_hidden=default):
            return _mlp(fixed if fixed is not None else n_hidden, **options)
        return make_mlp
    return factory


mistakes.of("make_mlp", "the activation is ReLU: this network uses nn.Tanh() between its two layers")(
    _mlp_mistake(activation=nn.ReLU))
mistakes.of("make_mlp", "the activation is Sigmoid: this network uses nn.Tanh() between its two layers")(
    _mlp_mistake(activation=nn.Sigmoid))
_NAMES = ("the layers have other names: name them exactly 'hidden', 'hidden_activation' and 'output', in this "
          "order, in the OrderedDict")
mistakes.of("make_mlp", _NAMES)(_mlp_mistake(names=("hidden", "activation", "output")))
mistakes.of("make_mlp", _NAMES)(_mlp_mistake(names=("hidden_linear", "hidden_activation", "output_linear")))
mistakes.of("make_mlp", "the layers are unnamed (called 0, 1, 2): pass an OrderedDict of (name, layer) pairs to "
                        "nn.Sequential")(_mlp_mistake(unnamed=True))
_N_HIDDEN = ("the number of hidden units is fixed instead of taken from the n_hidden argument: use "
             "nn.Linear(1, n_hidden) and nn.Linear(n_hidden, 1)")
mistakes.of("make_mlp", _N_HIDDEN)(_mlp_mistake(fixed=13))
# 8 hidden units fixed or as the default look the same on the first check: one sentence for both
mistakes.of("make_mlp", "you use the book's 8 hidden units: take n_hidden from the argument, whose default is 13, "
                        "def make_mlp(n_hidden: int = 13)")(_mlp_mistake(fixed=8))
mistakes.of("make_mlp", "the default number of hidden units is wrong: the signature is "
                        "def make_mlp(n_hidden: int = 13)")(_mlp_mistake(default=10))
mistakes.of("make_mlp", "there is an extra Tanh after the output layer: the output layer is the last one, so the "
                        "network can output any number")(_mlp_mistake(extra=True))
mistakes.of("make_mlp", "the Tanh activation between the two layers is missing: without it the network is still a "
                        "straight line")(_mlp_mistake(no_activation=True))


@mistakes.of("make_mlp", "nn.Sequential takes named layers only as a collections.OrderedDict: wrap the "
                         "(name, layer) pairs in OrderedDict([...]), not a plain dict or list")
def plain_dict(reference):
    def make_mlp(n_hidden=13):
        return nn.Sequential({"hidden": nn.Linear(1, n_hidden), "hidden_activation": nn.Tanh(),
                              "output": nn.Linear(n_hidden, 1)})
    return make_mlp


@mistakes.of("make_mlp", "nn.Sequential takes named layers only as a collections.OrderedDict: wrap the "
                         "(name, layer) pairs in OrderedDict([...]), not a plain dict or list")
def plain_list_of_pairs(reference):
    def make_mlp(n_hidden=13):
        return nn.Sequential([("hidden", nn.Linear(1, n_hidden)), ("hidden_activation", nn.Tanh()),
                              ("output", nn.Linear(n_hidden, 1))])
    return make_mlp


# ------------------------------------------------------------------ sgd_step
def _sgd(model, learning_rate, *, sign=-1.0, zero=True, skip_none=True):
    with torch.no_grad():
        for param in model.parameters():
            if param.grad is not None or not skip_none:
                param += sign * learning_rate * param.grad
    if zero:
        model.zero_grad()


@mistakes.of("sgd_step", "the step climbs the gradient (+=): gradient descent subtracts it, "
                         "p -= learning_rate * p.grad")
def gradient_ascent(reference):
    def sgd_step(model, learning_rate):
        _sgd(model, learning_rate, sign=1.0)
    return sgd_step


@mistakes.of("sgd_step", "the gradients are not cleared: call model.zero_grad() after the update, or the next "
                         "backward() adds to them")
def no_zero_grad_in_step(reference):
    def sgd_step(model, learning_rate):
        _sgd(model, learning_rate, zero=False)
    return sgd_step


@mistakes.of("sgd_step", "your step changes nothing: `param = param - ...` only rebinds the loop variable (update in "
                         "place with -=), or zero_grad() runs before the update (clear the grads after it)")
def rebinds_the_name(reference):
    def sgd_step(model, learning_rate):
        with torch.no_grad():
            for param in model.parameters():
                if param.grad is not None:
                    param = param - learning_rate * param.grad  # the mistake: rebinds the name
        model.zero_grad()
    return sgd_step


@mistakes.of("sgd_step", "a parameter whose .grad is None (a frozen layer) must be skipped: "
                         "update only when param.grad is not None")
def none_grad_not_skipped(reference):
    def sgd_step(model, learning_rate):
        _sgd(model, learning_rate, skip_none=False)
    return sgd_step


@mistakes.of("sgd_step", "a parameter whose .grad is None (a frozen layer) must be skipped when clearing too: "
                         "use model.zero_grad(), or check `param.grad is not None` before param.grad.zero_()")
def none_grad_zeroed(reference):
    def sgd_step(model, learning_rate):
        with torch.no_grad():
            for param in model.parameters():
                if param.grad is not None:
                    param -= learning_rate * param.grad
                param.grad.zero_()
    return sgd_step


@mistakes.of("sgd_step", "the update runs outside torch.no_grad(), so autograd refuses the in-place change of a "
                         "leaf: put the loop inside `with torch.no_grad():`")
def update_outside_no_grad(reference):
    def sgd_step(model, learning_rate):
        for param in model.parameters():
            if param.grad is not None:
                param -= learning_rate * param.grad
        model.zero_grad()
    return sgd_step


_FIXED_LR = "the learning rate is a fixed number instead of the learning_rate argument: p -= learning_rate * p.grad"
mistakes.of("sgd_step", _FIXED_LR)(lambda reference: lambda model, learning_rate: _sgd(model, 0.01))
mistakes.of("sgd_step", _FIXED_LR)(lambda reference: lambda model, learning_rate: _sgd(model, 0.05))


@mistakes.of("sgd_step", "sgd_step returns something: it updates the model in place and returns None")
def returns_the_model(reference):
    def sgd_step(model, learning_rate):
        _sgd(model, learning_rate)
        return model
    return sgd_step


@mistakes.of("sgd_step", "you update model.weight and model.bias by name: loop over model.parameters() so every "
                         "layer's parameters move, whatever the model")
def updates_weight_and_bias_by_name(reference):
    def sgd_step(model, learning_rate):
        with torch.no_grad():
            model.weight -= learning_rate * model.weight.grad
            model.bias -= learning_rate * model.bias.grad
        model.zero_grad()
    return sgd_step


# ------------------------------------------------------------------ training_loop
def _loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val, *, val_grad=False,
          all_no_grad=False, swapped=(False, False), order=("zero", "backward", "step"), val_after_step=False,
          val_on_train=False, as_tensors=(False, False)):
    def loss_of(t_u, t_c, swap=False):
        return loss_fn(t_c, model(t_u)) if swap else loss_fn(model(t_u), t_c)

    def validation():
        inputs = (t_u_train, t_c_train) if val_on_train else (t_u_val, t_c_val)
        if val_grad:
            return loss_of(*inputs, swapped[1])
        with torch.no_grad():
            return loss_of(*inputs, swapped[1])

    train_losses, val_losses = [], []
    for _ in range(n_epochs):
        if all_no_grad:
            with torch.no_grad():
                train_loss = loss_of(t_u_train, t_c_train)
                val_loss = loss_of(t_u_val, t_c_val)
        else:
            train_loss = loss_of(t_u_train, t_c_train, swapped[0])
            if not val_after_step:
                val_loss = validation()
        for action in order:
            if action == "zero":
                optimizer.zero_grad()
            elif action == "backward":
                train_loss.backward()
            elif action == "step":
                optimizer.step()
        if val_after_step:
            val_loss = validation()
        train_losses.append(train_loss.detach() if as_tensors[0] else train_loss.item())
        val_losses.append(val_loss.detach() if as_tensors[1] else val_loss.item())
    return train_losses, val_losses


def _loop_mistake(**options):
    def factory(reference):
        def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
            return _loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val, **options)
        return training_loop
    return factory


mistakes.of("training_loop", "the validation loss is computed with gradients on, so autograd tracks it: compute it "
                             "inside `with torch.no_grad():`")(_loop_mistake(val_grad=True))
mistakes.of("training_loop", "the training loss is computed under torch.no_grad() too, so backward() has no graph: "
                             "only the validation loss goes inside `with torch.no_grad():`")(
    _loop_mistake(all_no_grad=True))
_SWAPPED = ("the loss function's arguments are swapped: call loss_fn(prediction, target), "
            "loss_fn(model(t_u_train), t_c_train), for both losses")
mistakes.of("training_loop", _SWAPPED)(_loop_mistake(swapped=(True, False)))
mistakes.of("training_loop", _SWAPPED)(_loop_mistake(swapped=(True, True)))
mistakes.of("training_loop", _SWAPPED)(_loop_mistake(swapped=(False, True)))
mistakes.of("training_loop", "optimizer.zero_grad() is missing, so backward() adds each epoch's gradient to the old "
                             "ones: call optimizer.zero_grad() every epoch, before train_loss.backward()")(
    _loop_mistake(order=("backward", "step")))
mistakes.of("training_loop", "the model never moves: optimizer.step() finds no gradient, because zero_grad() runs "
                             "between backward() and step(), or step() comes before backward(); the order is "
                             "zero_grad(), backward(), step()")(_loop_mistake(order=("backward", "zero", "step")))
mistakes.of("training_loop", "the validation loss is measured after optimizer.step(): measure both losses of an epoch "
                             "before the step, with the same weights")(_loop_mistake(val_after_step=True))
mistakes.of("training_loop", "you validate on the training data: the validation loss uses t_u_val and t_c_val")(
    _loop_mistake(val_on_train=True))
_AS_TENSORS = "you append the loss tensors to the lists: append Python floats with loss.item() (for both losses)"
mistakes.of("training_loop", _AS_TENSORS)(_loop_mistake(as_tensors=(True, True)))
mistakes.of("training_loop", _AS_TENSORS)(_loop_mistake(as_tensors=(True, False)))
mistakes.of("training_loop", _AS_TENSORS)(_loop_mistake(as_tensors=(False, True)))


@mistakes.of("training_loop", "the two lists are returned in the wrong order: return (train_losses, val_losses)")
def lists_swapped(reference):
    def training_loop(*args):
        train_losses, val_losses = _loop(*args)
        return val_losses, train_losses
    return training_loop


@mistakes.of("training_loop", "training_loop must end with `return train_losses, val_losses` (a tuple of the two "
                              "lists): yours returns nothing or something else")
def returns_nothing(reference):
    def training_loop(*args):
        _loop(*args)
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too few: range(n_epochs) runs exactly n_epochs times")
def one_epoch_too_few(reference):
    def training_loop(n_epochs, *args):
        return _loop(max(n_epochs - 1, 0), *args)
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too many: range(n_epochs) runs exactly n_epochs times")
def one_epoch_too_many(reference):
    def training_loop(n_epochs, *args):
        return _loop(n_epochs + 1, *args)
    return training_loop


@mistakes.of("training_loop", "the training loss is computed once, before the loop: compute the prediction and the "
                              "loss inside the loop, every epoch")
def loss_outside_the_loop(reference):
    def training_loop(n_epochs, optimizer, model, loss_fn, t_u_train, t_u_val, t_c_train, t_c_val):
        train_loss = loss_fn(model(t_u_train), t_c_train)
        train_losses, val_losses = [], []
        for _ in range(n_epochs):
            with torch.no_grad():
                val_loss = loss_fn(model(t_u_val), t_c_val)
            optimizer.zero_grad()
            train_loss.backward()
            optimizer.step()
            train_losses.append(train_loss.item())
            val_losses.append(val_loss.item())
        return train_losses, val_losses
    return training_loop


# ------------------------------------------------------------------ make_sine_data
def _sine_mistake(points=None, shape="column", function=torch.sin, default=1000, y_flat=False):
    def factory(reference):
        def make_sine_data(n=default):
            x = points(n) if points is not None else torch.linspace(-torch.pi, torch.pi, n)
            y = function(x)
            if shape == "column":
                x = x.unsqueeze(1)
                y = y if y_flat else y.unsqueeze(1)
            elif shape == "row":
                x, y = x.unsqueeze(0), y.unsqueeze(0)
            return x, y
        return make_sine_data
    return factory


mistakes.of("make_sine_data", "x and y are (n,) vectors: nn modules want one sample per row, so make them (n, 1) "
                              "with .unsqueeze(1)")(_sine_mistake(shape="flat"))
mistakes.of("make_sine_data", "x and y are (1, n) rows: unsqueeze(0) adds the wrong dimension; .unsqueeze(1) gives "
                              "the (n, 1) column")(_sine_mistake(shape="row"))
mistakes.of("make_sine_data", "y is (n,) while x is (n, 1): compute y = torch.sin(x) from the (n, 1) x")(
    _sine_mistake(y_flat=True))
_END_POINT = ("the end point pi is left out (arange, or linspace(n + 1)[:-1]): torch.linspace(-torch.pi, torch.pi, n) "
              "includes both ends")
mistakes.of("make_sine_data", _END_POINT)(
    _sine_mistake(points=lambda n: torch.linspace(-torch.pi, torch.pi, n + 1)[:-1]))
mistakes.of("make_sine_data", "the points run from 0 to 2 pi: one period here is from -pi to pi, "
                              "torch.linspace(-torch.pi, torch.pi, n)")(
    _sine_mistake(points=lambda n: torch.linspace(0, 2 * torch.pi, n)))
mistakes.of("make_sine_data", "y is the cosine: the targets are y = torch.sin(x)")(_sine_mistake(function=torch.cos))
mistakes.of("make_sine_data", "the points are float64 (NumPy's linspace or dtype=torch.float64): build float32 "
                              "tensors with torch.linspace")(
    _sine_mistake(points=lambda n: torch.from_numpy(np.linspace(-np.pi, np.pi, n))))
mistakes.of("make_sine_data", "pi is rounded (3.14): use torch.pi (or math.pi)")(
    _sine_mistake(points=lambda n: torch.linspace(-3.14, 3.14, n)))
mistakes.of("make_sine_data", "the default number of points is wrong: the signature is "
                              "def make_sine_data(n: int = 1000)")(_sine_mistake(default=100))


# ------------------------------------------------------------------ fit_curve
def _fit_mistake(*, seed_first=True, fixed_seed=None, activation=nn.Tanh, one_hidden=False,
                 reduction="mean", extra_epochs=0, backward=True, fixed_lr=None, returns=True):
    def factory(reference):
        def fit_curve(x, y, epochs, learning_rate, seed=0):
            if seed_first:
                torch.manual_seed(seed if fixed_seed is None else fixed_seed)
            if one_hidden:
                model = nn.Sequential(nn.Linear(1, 32), activation(), nn.Linear(32, 1))
            else:
                model = nn.Sequential(nn.Linear(1, 32), activation(), nn.Linear(32, 32), activation(),
                                      nn.Linear(32, 1))
            model = model.to(x.device)
            loss_fn = nn.MSELoss(reduction=reduction)
            for _ in range(max(epochs + extra_epochs, 0)):
                loss = loss_fn(model(x), y)
                if backward:
                    loss.backward()
                reference.sgd_step(model, learning_rate if fixed_lr is None else fixed_lr)
            return model if returns else None
        return fit_curve
    return factory


_SEED = ("torch.manual_seed(seed) is missing or comes too late: call it first, before the network is built, so that "
         "its initial weights come from `seed`")
# seeding after the network is built gives the same weights as never seeding: one sentence for both
mistakes.of("fit_curve", _SEED)(_fit_mistake(seed_first=False))
_FIXED_SEED = "the seed is a fixed number: call torch.manual_seed(seed) with the seed argument"
mistakes.of("fit_curve", _FIXED_SEED)(_fit_mistake(fixed_seed=0))
mistakes.of("fit_curve", _FIXED_SEED)(_fit_mistake(fixed_seed=42))
mistakes.of("fit_curve", "the activation is ReLU: this network uses nn.Tanh() after each hidden layer")(
    _fit_mistake(activation=nn.ReLU))
mistakes.of("fit_curve", "the activation is Sigmoid: this network uses nn.Tanh() after each hidden layer")(
    _fit_mistake(activation=nn.Sigmoid))
mistakes.of("fit_curve", "the network has one hidden layer: build two, Linear(1, 32), Tanh, Linear(32, 32), Tanh, "
                         "Linear(32, 1)")(_fit_mistake(one_hidden=True))
mistakes.of("fit_curve", "your loss sums the squared errors: use nn.MSELoss(), which takes their mean")(
    _fit_mistake(reduction="sum"))
mistakes.of("fit_curve", "your loop runs one epoch too few: range(epochs) runs exactly epochs times")(
    _fit_mistake(extra_epochs=-1))
mistakes.of("fit_curve", "your loop runs one epoch too many: range(epochs) runs exactly epochs times")(
    _fit_mistake(extra_epochs=1))
mistakes.of("fit_curve", "loss.backward() is missing, so there is no gradient and sgd_step moves nothing: call "
                         "loss.backward() before sgd_step(model, learning_rate)")(_fit_mistake(backward=False))
mistakes.of("fit_curve", "the learning rate is a fixed number instead of the learning_rate argument: "
                         "sgd_step(model, learning_rate)")(_fit_mistake(fixed_lr=0.05))
mistakes.of("fit_curve", "fit_curve must return the trained nn.Sequential: end with `return model`")(
    _fit_mistake(returns=False))


@mistakes.of("fit_curve", "torch.optim is not allowed in fit_curve: do each update with your own "
                          "sgd_step(model, learning_rate) after loss.backward()")
def uses_torch_optim(reference):
    def fit_curve(x, y, epochs, learning_rate, seed=0):
        torch.manual_seed(seed)
        model = nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1)).to(x.device)
        loss_fn = nn.MSELoss()
        optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)
        for _ in range(epochs):
            optimizer.zero_grad()
            loss = loss_fn(model(x), y)
            loss.backward()
            optimizer.step()
        return model
    return fit_curve
