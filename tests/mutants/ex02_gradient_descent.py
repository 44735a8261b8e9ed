"""Typical wrong answers and correct variants of ex02_gradient_descent (see tests/mutants/__init__.py).

In this module items call each other: ``training_loop`` calls ``model`` and ``grad_fn``, and
``grad_fn`` calls ``dloss_fn``, ``dmodel_dw`` and ``dmodel_db`` (the suite declares it with
``uses=...``). A mistake in a called item may therefore also cost points on its callers, and only
on them (tests/test_mutants.py reads the callers from the suite).
"""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

_READINGS_C = "    t_c = torch.tensor([0.5, 14.0, 15.0, 28.0, 11.0, 8.0, 3.0, -4.0, 6.0, 13.0, 21.0])\n"
_READINGS_U = "    t_u = torch.tensor([35.7, 55.9, 58.2, 81.9, 56.3, 48.9, 33.9, 21.8, 48.4, 60.4, 68.4])\n"
_LOSS = "    squared_diffs = (t_p - t_c) ** 2\n    return squared_diffs.mean()\n"
_STEP = "        params = params - learning_rate * grad\n"
_LOOP = "    for _ in range(n_epochs):\n        w, b = params\n"

MUTANTS = [
    # load_temperatures
    Mutant("load_temperatures", "returns (t_u, t_c) in the wrong order",
           find="    return t_c, t_u\n", replace="    return t_u, t_c\n", likely="t_c come first"),
    Mutant("load_temperatures", "builds float64 tensors",
           find=_READINGS_U, replace=_READINGS_U.replace("])", "], dtype=torch.float64)"), likely="float64"),
    # no likely: one mistyped reading has no typical cause to name (the feedback shows the element that differs)
    Mutant("load_temperatures", "a typo in one reading (55.9 typed as 59.9)",
           find=_READINGS_U, replace=_READINGS_U.replace("55.9", "59.9")),
    Mutant("load_temperatures", "returns Python lists",
           find=_READINGS_C, replace=_READINGS_C.replace("torch.tensor(", "list("), likely="Python list"),
    # model (its other mistakes reach training_loop, which uses it: below)
    Mutant("model", "calls a tensor method on w, so a Python float w fails",
           find="    return w * t_u + b\n", replace="    return w.mul(t_u) + b\n", likely="tensor methods"),
    # loss_fn
    Mutant("loss_fn", "sums the squared differences instead of averaging them",
           find=_LOSS, replace=_LOSS.replace(".mean()", ".sum()"), likely="you sum the squared differences"),
    Mutant("loss_fn", "mean absolute error instead of squared",
           find=_LOSS, replace="    return (t_p - t_c).abs().mean()\n", likely="absolute differences"),
    Mutant("loss_fn", "square root of the mean (RMSE)",
           find=_LOSS, replace="    return ((t_p - t_c) ** 2).mean().sqrt()\n", likely="square root"),
    Mutant("loss_fn", "squares the mean difference instead of averaging the squares",
           find=_LOSS, replace="    return (t_p - t_c).mean() ** 2\n", likely="square the mean difference"),
    Mutant("loss_fn", "keeps one loss per sample",
           find=_LOSS, replace="    return (t_p - t_c) ** 2\n", likely="one squared difference per sample"),
    # training_loop
    Mutant("training_loop", "gradient ascent: adds the gradient",
           find=_STEP, replace="        params = params + learning_rate * grad\n", likely="climb the gradient"),
    Mutant("training_loop", "ignores the learning rate",
           find=_STEP, replace="        params = params - grad\n", likely="ignores the learning rate"),
    Mutant("training_loop", "updates the caller's params in place",
           find=_STEP, replace="        params -= learning_rate * grad\n", likely="in place"),
    Mutant("training_loop", "runs one epoch too few",
           find=_LOOP, replace="    for _ in range(n_epochs - 1):\n        w, b = params\n",
           likely="one epoch too few"),
    Mutant("training_loop", "returns from inside the loop after the first epoch",
           find=_STEP + "    return params\n", replace=_STEP + "        return params\n    return params\n",
           likely="inside the loop"),
    Mutant("training_loop", "swaps w and b when unpacking params",
           find=_LOOP, replace="    for _ in range(n_epochs):\n        b, w = params\n", likely="b, w = params"),
    Mutant("training_loop", "stores the new params under another name and returns the initial ones",
           find=_STEP + "    return params\n",
           replace="        new_params = params - learning_rate * grad\n    return params\n", likely="starting params"),
    Mutant("training_loop", "uses autograd instead of grad_fn",
           find="        grad = grad_fn(t_u, t_c, t_p, w, b)\n",
           replace=("        leaf = params.detach().requires_grad_(True)\n"
                    "        loss_fn(model(t_u, leaf[0], leaf[1]), t_c).backward()\n"
                    "        grad = leaf.grad\n")),
    # mistakes whose effect reaches the callers (the items that use this one)
    Mutant("model", "subtracts the bias", find="    return w * t_u + b\n", replace="    return w * t_u - b\n",
           likely="subtract the bias"),
    Mutant("model", "swaps weight and bias", find="    return w * t_u + b\n", replace="    return b * t_u + w\n",
           likely="swapped w and b"),
    Mutant("dloss_fn", "forgets the / N of the mean", find=" / t_p.size(0)", replace="",
           likely="/ N that comes from the mean"),
    Mutant("dloss_fn", "forgets the factor 2", find="    return 2 * (t_p - t_c) / t_p.size(0)\n",
           replace="    return (t_p - t_c) / t_p.size(0)\n", likely="factor 2"),
    Mutant("dloss_fn", "sums over the samples", find="    return 2 * (t_p - t_c) / t_p.size(0)\n",
           replace="    return (2 * (t_p - t_c) / t_p.size(0)).sum()\n", likely="reduce the derivatives to one number"),
    Mutant("dloss_fn", "wrong sign (t_c - t_p)", find="    return 2 * (t_p - t_c) / t_p.size(0)\n",
           replace="    return 2 * (t_c - t_p) / t_p.size(0)\n", likely="wrong sign"),
    Mutant("dmodel_dw", "returns w instead of t_u", find="    return t_u\n",
           replace="    return w * torch.ones_like(t_u)\n", likely="derivative with respect to t_u"),
    Mutant("dmodel_db", "returns 0.0", find="    return 1.0\n", replace="    return 0.0\n", likely="you return 0"),
    Mutant("dmodel_db", "returns t_u", find="    return 1.0\n", replace="    return t_u\n", likely="you return t_u"),
    Mutant("grad_fn", "averages instead of summing over the samples",
           find="    return torch.stack([dloss_dw.sum(), dloss_db.sum()])\n",
           replace="    return torch.stack([dloss_dw.mean(), dloss_db.mean()])\n",
           likely="average the per-sample products"),
    Mutant("grad_fn", "returns [dL/db, dL/dw] in the wrong order",
           find="    return torch.stack([dloss_dw.sum(), dloss_db.sum()])\n",
           replace="    return torch.stack([dloss_db.sum(), dloss_dw.sum()])\n", likely="wrong order"),
    Mutant("grad_fn", "uses autograd",
           find="    dloss_dtp = dloss_fn(t_p, t_c)\n",
           replace=("    wb = torch.stack([torch.as_tensor(w), torch.as_tensor(b)]).detach().requires_grad_(True)\n"
                    "    loss_fn(model(t_u, wb[0], wb[1]), t_c).backward()\n    return wb.grad\n"
                    "    dloss_dtp = dloss_fn(t_p, t_c)\n")),
]

EQUIVALENTS = [
    Equivalent("load_temperatures with an explicit dtype=torch.float32",
               find=_READINGS_C, replace=_READINGS_C.replace("])", "], dtype=torch.float32)")),
    Equivalent("model written t_u * w + b", find="    return w * t_u + b\n", replace="    return t_u * w + b\n"),
    Equivalent("loss_fn with torch.mean and pow", find=_LOSS, replace="    return torch.mean((t_p - t_c).pow(2))\n"),
    Equivalent("loss_fn as a sum divided by the number of samples",
               find=_LOSS, replace="    return ((t_p - t_c) ** 2).sum() / t_p.numel()\n"),
    Equivalent("dloss_fn divides by len(t_p)", find=" / t_p.size(0)", replace=" / len(t_p)"),
    Equivalent("dmodel_db returns the int 1", find="    return 1.0\n", replace="    return 1\n"),
    Equivalent("grad_fn sums with torch.sum and builds the result with torch.stack of a tuple",
               find="    return torch.stack([dloss_dw.sum(), dloss_db.sum()])\n",
               replace="    return torch.stack((torch.sum(dloss_dw), torch.sum(dloss_db)))\n"),
    Equivalent("training_loop prints the loss every 500 epochs like the tutorial",
               find=_LOOP, replace=("    for epoch in range(1, n_epochs + 1):\n        w, b = params\n"
                                    "        if epoch % 500 == 0:\n"
                                    "            print(f'Epoch {epoch}, Loss {float(loss_fn(model(t_u, w, b), t_c)):f}')\n")),
]
