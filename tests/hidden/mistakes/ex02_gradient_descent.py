"""Typical mistakes in ex02_gradient_descent, recognised from what the code returns (see grader/mistakes.py).

Each entry is the wrong code a beginner writes. Entries of ``grad_fn`` and ``training_loop`` call the
reference's own (correct) helpers, ``reference.dloss_fn``, ``reference.model``, ``reference.grad_fn``...:
the checks of those items run on trusted helpers, so only the item's own mistake shows.
"""

from __future__ import annotations

import numpy as np
import torch

from grader.mistakes import Mistakes

mistakes = Mistakes("ex02_gradient_descent")

_T_C = [0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0]
_T_U = [35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4]


# ------------------------------------------------------------------ load_temperatures
@mistakes.of("load_temperatures", "you return (t_u, t_c): the Celsius readings t_c come first, then t_u")
def readings_in_the_wrong_order(reference):
    def load_temperatures():
        return torch.tensor(_T_U), torch.tensor(_T_C)
    return load_temperatures


_FLOAT64 = ("your tensors are float64 (dtype=torch.float64, or built from a NumPy array): torch.tensor(list_of_floats) "
            "gives the float32 that is wanted")


@mistakes.of("load_temperatures", _FLOAT64)
def readings_in_float64(reference):
    def load_temperatures():
        return torch.tensor(_T_C, dtype=torch.float64), torch.tensor(_T_U, dtype=torch.float64)
    return load_temperatures


@mistakes.of("load_temperatures", _FLOAT64)
def one_reading_list_in_float64(reference):
    def load_temperatures():
        return torch.tensor(_T_C), torch.tensor(_T_U, dtype=torch.float64)
    return load_temperatures


@mistakes.of("load_temperatures", _FLOAT64)
def other_reading_list_in_float64(reference):
    def load_temperatures():
        return torch.tensor(_T_C, dtype=torch.float64), torch.tensor(_T_U)
    return load_temperatures


_LISTS = "you return a plain Python list: wrap each list of readings in torch.tensor(...) to get a tensor"


@mistakes.of("load_temperatures", _LISTS)
def readings_as_lists(reference):
    def load_temperatures():
        return list(_T_C), list(_T_U)
    return load_temperatures


@mistakes.of("load_temperatures", _LISTS)
def t_c_as_a_list(reference):
    def load_temperatures():
        return list(_T_C), torch.tensor(_T_U)
    return load_temperatures


@mistakes.of("load_temperatures", _LISTS)
def t_u_as_a_list(reference):
    def load_temperatures():
        return torch.tensor(_T_C), list(_T_U)
    return load_temperatures


@mistakes.of("load_temperatures", "you return NumPy arrays: build the tensors with torch.tensor(list_of_floats)")
def readings_as_numpy_arrays(reference):
    def load_temperatures():
        return np.array(_T_C, dtype=np.float32), np.array(_T_U, dtype=np.float32)
    return load_temperatures


@mistakes.of("load_temperatures", "your tensors have shape (11, 1) (an unsqueeze(1), as for nn.Linear later): here "
                                  "each is a plain (11,) tensor")
def readings_as_columns(reference):
    def load_temperatures():
        return torch.tensor(_T_C).unsqueeze(1), torch.tensor(_T_U).unsqueeze(1)
    return load_temperatures


# ------------------------------------------------------------------ model
@mistakes.of("model", "you subtract the bias: the model adds it, t_p = w * t_u + b")
def model_subtracts_the_bias(reference):
    def model(t_u, w, b):
        return w * t_u - b
    return model


@mistakes.of("model", "you swapped w and b: the weight w multiplies t_u and the bias b is added, w * t_u + b")
def model_swaps_weight_and_bias(reference):
    def model(t_u, w, b):
        return b * t_u + w
    return model


@mistakes.of("model", "you left out the bias: the model is w * t_u + b, with b added to every prediction")
def model_without_bias(reference):
    def model(t_u, w, b):
        return w * t_u
    return model


@mistakes.of("model", "you multiply the bias in too, w * (t_u + b): the bias is added after the product, w * t_u + b")
def model_with_bracketed_bias(reference):
    def model(t_u, w, b):
        return w * (t_u + b)
    return model


@mistakes.of("model", "you scale t_u (by 0.1) inside the model: scaling the input is the caller's job; the model "
                      "is just w * t_u + b")
def model_scales_the_input(reference):
    def model(t_u, w, b):
        return w * (0.1 * t_u) + b
    return model


@mistakes.of("model", "w may be a plain Python float, which has no tensor methods such as .mul: write the model "
                      "with operators, w * t_u + b")
def model_with_tensor_methods(reference):
    def model(t_u, w, b):
        return w.mul(t_u) + b
    return model


@mistakes.of("model", "@ (matmul) is matrix multiplication and fails on a 0-d w: multiply element-wise with *, "
                      "w * t_u + b")
def model_with_matmul(reference):
    def model(t_u, w, b):
        return w @ t_u + b
    return model


# ------------------------------------------------------------------ loss_fn
@mistakes.of("loss_fn", "you sum the squared differences: the mean squared error averages them with .mean() "
                        "(the 1/N is missing)")
def loss_sums(reference):
    def loss_fn(t_p, t_c):
        return ((t_p - t_c) ** 2).sum()
    return loss_fn


@mistakes.of("loss_fn", "you average the absolute differences: the mean squared error squares them, "
                        "((t_p - t_c) ** 2).mean()")
def loss_is_mean_absolute_error(reference):
    def loss_fn(t_p, t_c):
        return (t_p - t_c).abs().mean()
    return loss_fn


@mistakes.of("loss_fn", "you forgot to square the differences: the mean squared error is ((t_p - t_c) ** 2).mean()")
def loss_without_the_square(reference):
    def loss_fn(t_p, t_c):
        return (t_p - t_c).mean()
    return loss_fn


@mistakes.of("loss_fn", "you take the square root of the mean (RMSE): the mean squared error has no sqrt")
def loss_is_root_mean_squared(reference):
    def loss_fn(t_p, t_c):
        return ((t_p - t_c) ** 2).mean().sqrt()
    return loss_fn


@mistakes.of("loss_fn", "you square the mean difference: square each difference first, then average the squares, "
                        "((t_p - t_c) ** 2).mean()")
def loss_squares_the_mean(reference):
    def loss_fn(t_p, t_c):
        return (t_p - t_c).mean() ** 2
    return loss_fn


@mistakes.of("loss_fn", "you keep one squared difference per sample: the loss is one number, their .mean()")
def loss_per_sample(reference):
    def loss_fn(t_p, t_c):
        return (t_p - t_c) ** 2
    return loss_fn


@mistakes.of("loss_fn", "you halve the mean squared error (the 1/2 of some textbooks): the loss here is exactly "
                        "((t_p - t_c) ** 2).mean()")
def loss_halved(reference):
    def loss_fn(t_p, t_c):
        return ((t_p - t_c) ** 2).mean() / 2
    return loss_fn


@mistakes.of("loss_fn", "operator precedence: t_p - t_c ** 2 squares only t_c; put the difference in brackets, "
                        "(t_p - t_c) ** 2")
def loss_without_brackets(reference):
    def loss_fn(t_p, t_c):
        return (t_p - t_c ** 2).mean()
    return loss_fn


@mistakes.of("loss_fn", "you return a Python number (.item() or float()): return the 0-d tensor itself")
def loss_as_a_python_float(reference):
    def loss_fn(t_p, t_c):
        return ((t_p - t_c) ** 2).mean().item()
    return loss_fn


# ------------------------------------------------------------------ dloss_fn
@mistakes.of("dloss_fn", "your derivative is N times too large: the / N that comes from the mean is missing, "
                         "2 * (t_p - t_c) / t_p.size(0)")
def dloss_without_the_mean(reference):
    def dloss_fn(t_p, t_c):
        return 2 * (t_p - t_c)
    return dloss_fn


@mistakes.of("dloss_fn", "the factor 2 from differentiating the square is missing: d(x ** 2)/dx = 2 * x, so "
                         "2 * (t_p - t_c) / N")
def dloss_without_the_factor_two(reference):
    def dloss_fn(t_p, t_c):
        return (t_p - t_c) / t_p.size(0)
    return dloss_fn


@mistakes.of("dloss_fn", "the factor 2 and the / N are both missing: the derivative of mean((t_p - t_c) ** 2) is "
                         "2 * (t_p - t_c) / N")
def dloss_without_two_and_mean(reference):
    def dloss_fn(t_p, t_c):
        return t_p - t_c
    return dloss_fn


_DLOSS_REDUCED = ("you reduce the derivatives to one number (.sum() or .mean()): dloss_fn keeps one value per sample; "
                  "grad_fn does the summing")


@mistakes.of("dloss_fn", _DLOSS_REDUCED)
def dloss_summed(reference):
    def dloss_fn(t_p, t_c):
        return (2 * (t_p - t_c) / t_p.size(0)).sum()
    return dloss_fn


@mistakes.of("dloss_fn", _DLOSS_REDUCED)
def dloss_averaged(reference):
    def dloss_fn(t_p, t_c):
        return (2 * (t_p - t_c)).mean()
    return dloss_fn


@mistakes.of("dloss_fn", "wrong sign: you wrote (t_c - t_p); the derivative with respect to t_p is "
                         "2 * (t_p - t_c) / N")
def dloss_with_the_wrong_sign(reference):
    def dloss_fn(t_p, t_c):
        return 2 * (t_c - t_p) / t_p.size(0)
    return dloss_fn


@mistakes.of("dloss_fn", "you return the squared differences, the loss terms, not their derivative: "
                         "d/dt_p of (t_p - t_c) ** 2 / N is 2 * (t_p - t_c) / N")
def dloss_returns_the_loss_terms(reference):
    def dloss_fn(t_p, t_c):
        return (t_p - t_c) ** 2 / t_p.size(0)
    return dloss_fn


@mistakes.of("dloss_fn", "you divide by a fixed 11 (the number of readings): divide by t_p.size(0), the number of "
                         "samples in the batch you are given")
def dloss_divides_by_eleven(reference):
    def dloss_fn(t_p, t_c):
        return 2 * (t_p - t_c) / 11
    return dloss_fn


@mistakes.of("dloss_fn", "t_p.shape is the whole size (a tuple): N is its first entry, t_p.size(0) or t_p.shape[0]")
def dloss_divides_by_the_shape(reference):
    def dloss_fn(t_p, t_c):
        return 2 * (t_p - t_c) / t_p.shape
    return dloss_fn


@mistakes.of("dloss_fn", "t_p is 1-D, so it has no dimension 1: N is t_p.size(0), the number of samples")
def dloss_divides_by_size_one(reference):
    def dloss_fn(t_p, t_c):
        return 2 * (t_p - t_c) / t_p.size(1)
    return dloss_fn


# ------------------------------------------------------------------ dmodel_dw
_DW_IS_W = ("you return w, the derivative with respect to t_u: the derivative of w * t_u + b with respect to w "
            "is t_u itself")


@mistakes.of("dmodel_dw", _DW_IS_W)
def dmodel_dw_is_w_per_sample(reference):
    def dmodel_dw(t_u, w, b):
        return w * torch.ones_like(t_u)
    return dmodel_dw


@mistakes.of("dmodel_dw", _DW_IS_W)
def dmodel_dw_is_w(reference):
    def dmodel_dw(t_u, w, b):
        return w
    return dmodel_dw


@mistakes.of("dmodel_dw", "you return 1, the derivative with respect to b: with respect to w it is t_u "
                          "(w multiplies t_u)")
def dmodel_dw_is_one(reference):
    def dmodel_dw(t_u, w, b):
        return torch.ones_like(t_u)
    return dmodel_dw


@mistakes.of("dmodel_dw", "you return the model's prediction w * t_u + b, not its derivative: with respect to w "
                          "it is just t_u")
def dmodel_dw_is_the_model(reference):
    def dmodel_dw(t_u, w, b):
        return w * t_u + b
    return dmodel_dw


@mistakes.of("dmodel_dw", "you sum over the samples: dmodel_dw keeps one value per sample (t_u itself); grad_fn "
                          "does the summing")
def dmodel_dw_summed(reference):
    def dmodel_dw(t_u, w, b):
        return t_u.sum()
    return dmodel_dw


# ------------------------------------------------------------------ dmodel_db
@mistakes.of("dmodel_db", "you return 0, as if b were a constant: we differentiate with respect to b, and "
                          "d(w * t_u + b)/db = 1")
def dmodel_db_is_zero(reference):
    def dmodel_db(t_u, w, b):
        return 0.0
    return dmodel_db


@mistakes.of("dmodel_db", "you return t_u, the derivative with respect to w: with respect to b it is 1 "
                          "(return 1.0)")
def dmodel_db_is_t_u(reference):
    def dmodel_db(t_u, w, b):
        return t_u
    return dmodel_db


@mistakes.of("dmodel_db", "you return b itself: the derivative of w * t_u + b with respect to b is 1 (return 1.0)")
def dmodel_db_is_b(reference):
    def dmodel_db(t_u, w, b):
        return b
    return dmodel_db


@mistakes.of("dmodel_db", "you return w: the derivative of w * t_u + b with respect to b is 1 (return 1.0)")
def dmodel_db_is_w(reference):
    def dmodel_db(t_u, w, b):
        return w
    return dmodel_db


# ------------------------------------------------------------------ grad_fn
@mistakes.of("grad_fn", "you average the per-sample products with .mean(): the gradient sums them over the samples "
                        "(the 1/N is already in dloss_fn)")
def grad_averages(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_p, t_c)
        dloss_dw = dloss_dtp * reference.dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * reference.dmodel_db(t_u, w, b)
        return torch.stack([dloss_dw.mean(), dloss_db.mean()])
    return grad_fn


@mistakes.of("grad_fn", "your result is in the wrong order: return [dL/dw, dL/db], the weight's gradient first, "
                        "like params = [w, b]")
def grad_in_the_wrong_order(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_p, t_c)
        dloss_dw = dloss_dtp * reference.dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * reference.dmodel_db(t_u, w, b)
        return torch.stack([dloss_db.sum(), dloss_dw.sum()])
    return grad_fn


@mistakes.of("grad_fn", "you keep one gradient per sample: .sum() each product over the samples before "
                        "torch.stack, so the result is a (2,) tensor")
def grad_not_summed(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_p, t_c)
        dloss_dw = dloss_dtp * reference.dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * torch.ones_like(t_u) * reference.dmodel_db(t_u, w, b)
        return torch.stack([dloss_dw, dloss_db])
    return grad_fn


@mistakes.of("grad_fn", "you multiply the sums: the chain rule multiplies per sample and then sums, "
                        "(dloss_fn(...) * dmodel_dw(...)).sum()")
def grad_multiplies_the_sums(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_p, t_c)
        dmodel_db = reference.dmodel_db(t_u, w, b) * torch.ones_like(t_u)
        return torch.stack([dloss_dtp.sum() * reference.dmodel_dw(t_u, w, b).sum(), dloss_dtp.sum() * dmodel_db.sum()])
    return grad_fn


@mistakes.of("grad_fn", "you multiply by the loss itself: the chain rule needs its derivative, "
                        "dloss_fn(t_p, t_c), times each model derivative")
def grad_uses_the_loss(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        loss = reference.loss_fn(t_p, t_c)
        dloss_dw = loss * reference.dmodel_dw(t_u, w, b)
        dloss_db = loss * reference.dmodel_db(t_u, w, b) * torch.ones_like(t_u)
        return torch.stack([dloss_dw.sum(), dloss_db.sum()])
    return grad_fn


@mistakes.of("grad_fn", "the chain rule is missing its first factor: multiply each model derivative by "
                        "dloss_fn(t_p, t_c) before summing")
def grad_without_dloss(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dw = reference.dmodel_dw(t_u, w, b)
        dloss_db = reference.dmodel_db(t_u, w, b) * torch.ones_like(t_u)
        return torch.stack([dloss_dw.sum(), dloss_db.sum()])
    return grad_fn


@mistakes.of("grad_fn", "you return the negative gradient: grad_fn returns the gradient itself; the minus belongs "
                        "to the update step, params - learning_rate * grad")
def grad_negated(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        return -reference.grad_fn(t_u, t_c, t_p, w, b)
    return grad_fn


@mistakes.of("grad_fn", "you pass t_c and t_p to dloss_fn in the wrong order: it takes dloss_fn(t_p, t_c), "
                        "the prediction first")
def grad_with_swapped_dloss_arguments(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_c, t_p)
        dloss_dw = dloss_dtp * reference.dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * reference.dmodel_db(t_u, w, b)
        return torch.stack([dloss_dw.sum(), dloss_db.sum()])
    return grad_fn


@mistakes.of("grad_fn", "you return a Python list or tuple: put the two gradients into one (2,) tensor with "
                        "torch.stack([...])")
def grad_as_a_list(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_p, t_c)
        dloss_dw = dloss_dtp * reference.dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * reference.dmodel_db(t_u, w, b)
        return [dloss_dw.sum(), dloss_db.sum()]
    return grad_fn


@mistakes.of("grad_fn", "torch.cat only joins tensors along an existing dimension and refuses 0-d ones: put the two "
                        "sums together with torch.stack([...])")
def grad_with_cat(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_p, t_c)
        dloss_dw = dloss_dtp * reference.dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * reference.dmodel_db(t_u, w, b)
        return torch.cat([dloss_dw.sum(), dloss_db.sum()])
    return grad_fn


@mistakes.of("grad_fn", "torch.tensor([...]) of the two sums makes a new float32 tensor: torch.stack keeps their "
                        "dtype (and device)")
def grad_rebuilt_as_float32(reference):
    def grad_fn(t_u, t_c, t_p, w, b):
        dloss_dtp = reference.dloss_fn(t_p, t_c)
        dloss_dw = dloss_dtp * reference.dmodel_dw(t_u, w, b)
        dloss_db = dloss_dtp * reference.dmodel_db(t_u, w, b)
        return torch.tensor([float(dloss_dw.sum()), float(dloss_db.sum())])
    return grad_fn


# ------------------------------------------------------------------ training_loop
@mistakes.of("training_loop", "you climb the gradient: a descent step subtracts it, "
                              "params = params - learning_rate * grad")
def loop_ascends(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params + learning_rate * grad
        return params
    return training_loop


@mistakes.of("training_loop", "the step ignores the learning rate: multiply the gradient by it, "
                              "params = params - learning_rate * grad")
def loop_without_learning_rate(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - grad
        return params
    return training_loop


@mistakes.of("training_loop", "you use a fixed learning rate instead of the learning_rate argument")
def loop_with_a_fixed_learning_rate(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - 1e-2 * grad
        return params
    return training_loop


@mistakes.of("training_loop", "params -= ... changes the caller's tensor in place: write "
                              "params = params - learning_rate * grad, which builds a new tensor")
def loop_updates_in_place(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params -= learning_rate * grad
        return params
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too few: range(n_epochs) gives exactly n_epochs steps")
def loop_one_epoch_short(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(1, n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
        return params
    return training_loop


@mistakes.of("training_loop", "your loop runs one epoch too many: range(n_epochs) gives exactly n_epochs steps")
def loop_one_epoch_long(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs + 1):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
        return params
    return training_loop


@mistakes.of("training_loop", "your return statement is inside the loop, so it stops after the first epoch: "
                              "un-indent return params")
def loop_returns_inside(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
            return params
        return params
    return training_loop


@mistakes.of("training_loop", "you unpack b, w = params: params is [w, b], the weight first")
def loop_swaps_w_and_b(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            b, w = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
        return params
    return training_loop


@mistakes.of("training_loop", "you return the starting params: the updated values are stored under another name; "
                              "assign them back, params = params - learning_rate * grad")
def loop_returns_the_start(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            new_params = params - learning_rate * grad  # noqa: F841 - the mistake
        return params
    return training_loop


@mistakes.of("training_loop", "you unpack w, b = params (or predict t_p) only once, before the loop: do both inside "
                              "the loop so every epoch uses the updated params")
def loop_unpacks_once(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        w, b = params
        for _ in range(n_epochs):
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
        return params
    return training_loop


@mistakes.of("training_loop", "you return w, b as unpacked at the start of the last epoch: return params after the "
                              "loop, the (2,) tensor after the last step")
def loop_returns_the_unpacked_pair(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        w, b = params
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
        return w, b
    return training_loop


@mistakes.of("training_loop", "you scale t_u inside the loop: use t_u as it is given (the caller already passes "
                              "t_u * 0.1 when it wants scaled readings)")
def loop_scales_the_input(reference):
    def training_loop(n_epochs, learning_rate, params, t_u, t_c):
        t_u = t_u * 0.1
        for _ in range(n_epochs):
            w, b = params
            t_p = reference.model(t_u, w, b)
            grad = reference.grad_fn(t_u, t_c, t_p, w, b)
            params = params - learning_rate * grad
        return params
    return training_loop
