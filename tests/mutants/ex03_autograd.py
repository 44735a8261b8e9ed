"""Typical wrong answers and correct variants of ex03_autograd (see tests/mutants/__init__.py)."""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

# Anchors: each occurs exactly once in solutions/ex03_autograd.py.
_ZERO = "        if params.grad is not None:\n            params.grad.zero_()\n"
_STEP = "            params -= learning_rate * params.grad\n"
_GRAD_OF = "    leaf = x.detach().clone().requires_grad_(True)\n    fn(leaf).sum().backward()\n    return leaf.grad\n"
_WEIGHTED = "    y = fn(leaf)\n    y.backward(weights)\n    return leaf.grad\n"
_ACCUMULATE = "    for _ in range(times):\n        fn(leaf).sum().backward()\n"
_ACCUMULATE_LEAF = "    leaf = x.detach().clone().requires_grad_(True)\n    for _ in range(times):\n"
_FIT_UPDATE = "            w -= learning_rate * w.grad\n            b -= learning_rate * b.grad\n"
_FIT_ZERO = "        w.grad.zero_()\n        b.grad.zero_()\n"

MUTANTS = [
    # training_loop
    Mutant("training_loop", "never zeroes the gradient, so it accumulates over the epochs",
           find=_ZERO, replace="", likely="never zero"),
    Mutant("training_loop", "zeroes the gradient after the step, so params.grad is 0 afterwards",
           find=_STEP, replace=_STEP + "        params.grad.zero_()\n", likely="after the step"),
    Mutant("training_loop", "zeroes only from the second epoch on, so an old .grad leaks into the first step",
           find="    for _ in range(n_epochs):\n        if params.grad is not None:",
           replace="    for epoch in range(n_epochs):\n        if epoch > 0:", likely="old .grad"),
    Mutant("training_loop", "gradient ascent: adds the gradient",
           find=_STEP, replace="            params += learning_rate * params.grad\n", likely="climb the gradient"),
    Mutant("training_loop", "rebinds params = params - ..., returning a new tensor that is no leaf",
           find=_STEP, replace="            params = (params - learning_rate * params.grad).requires_grad_()\n",
           likely="makes a new tensor"),
    Mutant("training_loop", "returns a detached copy instead of params itself",
           find="            params -= learning_rate * params.grad\n    return params\n",
           replace="            params -= learning_rate * params.grad\n    return params.detach().clone()\n",
           likely="copy of params"),
    Mutant("training_loop", "sums the squared errors instead of averaging them (forgets the / N)",
           find="        loss = ((t_p - t_c) ** 2).mean()", replace="        loss = ((t_p - t_c) ** 2).sum()",
           likely="sums the squared errors"),
    Mutant("training_loop", "swaps w and b when unpacking params",
           find="        w, b = params\n        t_p", replace="        b, w = params\n        t_p",
           likely="b, w = params"),
    Mutant("training_loop", "updates the parameters outside torch.no_grad()",
           find="        with torch.no_grad():\n            params -= learning_rate * params.grad\n",
           replace="        params -= learning_rate * params.grad\n", likely="outside torch.no_grad()"),
    Mutant("training_loop", "ignores the learning rate",
           find=_STEP, replace="            params -= params.grad\n", likely="ignores the learning rate"),
    # grad_of
    Mutant("grad_of", "backpropagates the mean instead of the sum",
           find=_GRAD_OF, replace=_GRAD_OF.replace(".sum()", ".mean()"), likely="back-propagate the mean"),
    Mutant("grad_of", "works on x itself: x gets requires_grad and a .grad",
           find=_GRAD_OF, replace="    x.requires_grad_(True)\n    fn(x).sum().backward()\n    return x.grad\n",
           likely="caller's x itself"),
    Mutant("grad_of", "clones without detaching, so a non-leaf copy has no .grad and x gets one",
           find=_GRAD_OF, replace=_GRAD_OF.replace("x.detach().clone()", "x.clone()"), likely="detach first"),
    Mutant("grad_of", "copies into float32 with torch.tensor(x.tolist())",
           find=_GRAD_OF, replace=_GRAD_OF.replace("x.detach().clone().requires_grad_(True)",
                                                   "torch.tensor(x.tolist(), requires_grad=True, device=x.device)"),
           likely="float32 copy"),
    Mutant("grad_of", "works on x, then hands back x's gradient and resets it (loses the old .grad)",
           find=_GRAD_OF, replace=("    x.requires_grad_(True)\n    x.grad = None\n    fn(x).sum().backward()\n"
                                   "    grad = x.grad\n    x.grad = None\n    return grad\n"),
           likely="caller's x itself"),
    # backward_with_weights
    Mutant("backward_with_weights", "ignores the weights: back-propagates y.sum()",
           find=_WEIGHTED, replace="    y = fn(leaf)\n    y.sum().backward()\n    return leaf.grad\n",
           likely="ignore the weights"),
    Mutant("backward_with_weights", "multiplies the gradient by the weights a second time",
           find=_WEIGHTED, replace="    y = fn(leaf)\n    y.backward(weights)\n    return leaf.grad * weights\n",
           likely="weights twice"),
    Mutant("backward_with_weights", "uses the weights' mean as the gradient of the output",
           find=_WEIGHTED, replace="    y = fn(leaf)\n    (y * weights.mean()).sum().backward()\n    return leaf.grad\n",
           likely="weights' mean"),
    Mutant("backward_with_weights", "back-propagates through x itself, changing the caller's x",
           find="    leaf = x.detach().clone().requires_grad_(True)\n    y = fn(leaf)\n",
           replace="    leaf = x.requires_grad_(True)\n    y = fn(leaf)\n", likely="caller's x itself"),
    # accumulated_grad
    Mutant("accumulated_grad", "zeroes the gradient between the calls",
           find=_ACCUMULATE, replace=("    for _ in range(times):\n        leaf.grad = None\n"
                                      "        fn(leaf).sum().backward()\n"), likely="only one call's gradient"),
    Mutant("accumulated_grad", "calls backward one time too few",
           find=_ACCUMULATE, replace="    for _ in range(times - 1):\n        fn(leaf).sum().backward()\n",
           likely="one time too few"),
    Mutant("accumulated_grad", "accumulates into x itself instead of a copy",
           find=_ACCUMULATE_LEAF, replace="    leaf = x.requires_grad_(True)\n    for _ in range(times):\n",
           likely="caller's x itself"),
    Mutant("accumulated_grad", "does not reject times < 1",
           find="    if times < 1:\n", replace="    if times < 0:\n", likely="must raise ValueError"),
    Mutant("accumulated_grad", "averages instead of accumulating",
           find=_ACCUMULATE, replace=_ACCUMULATE + "    leaf.grad /= times\n", likely="divide by times"),
    # fit_line
    Mutant("fit_line", "gradient ascent",
           find=_FIT_UPDATE, replace=_FIT_UPDATE.replace("-=", "+="), likely="climb the gradient"),
    Mutant("fit_line", "never zeroes the gradients", find=_FIT_ZERO, replace="", likely="never zero"),
    Mutant("fit_line", "draws x from the global generator",
           find="        x = torch.rand(1, generator=g)\n", replace="        x = torch.rand(1)\n",
           likely="global random generator"),
    Mutant("fit_line", "seeds the global generator and draws from it",
           find="    g = torch.Generator().manual_seed(seed)\n",
           replace="    torch.manual_seed(seed)\n    g = None\n", likely="global random generator"),
    Mutant("fit_line", "ignores the seed argument",
           find="    g = torch.Generator().manual_seed(seed)\n", replace="    g = torch.Generator().manual_seed(0)\n",
           likely="ignore the seed"),
    Mutant("fit_line", "forgets to square the error",
           find="        loss = (w * x + b - y) ** 2\n", replace="        loss = w * x + b - y\n",
           likely="square the error"),
    Mutant("fit_line", "absolute error instead of squared error",
           find="        loss = (w * x + b - y) ** 2\n", replace="        loss = (w * x + b - y).abs()\n",
           likely="absolute error"),
    Mutant("fit_line", "updates w only",
           find=_FIT_UPDATE, replace="            w -= learning_rate * w.grad\n", likely="update only w"),
    Mutant("fit_line", "returns one-element tensors instead of floats",
           find="    return w.item(), b.item()\n", replace="    return w.detach(), b.detach()\n",
           likely="you return tensors"),
    # to_numpy
    Mutant("to_numpy", "calls .numpy() on a tensor that requires grad",
           find="    return t.detach().cpu().numpy()\n", replace="    return t.cpu().numpy()\n",
           likely="out of the graph"),
    Mutant("to_numpy", "returns the detached tensor instead of an array",
           find="    return t.detach().cpu().numpy()\n", replace="    return t.detach().cpu()\n",
           likely="you return a tensor"),
    Mutant("to_numpy", "goes through Python lists, so float32 becomes float64",
           find="    return t.detach().cpu().numpy()\n", replace="    return np.array(t.tolist())\n",
           likely="Python lists"),
    Mutant("to_numpy", "forces float32",
           find="    return t.detach().cpu().numpy()\n", replace="    return t.detach().cpu().numpy().astype(np.float32)\n",
           likely="float32"),
    Mutant("to_numpy", "flattens the array",
           find="    return t.detach().cpu().numpy()\n", replace="    return t.detach().cpu().numpy().ravel()\n",
           likely="flatten"),
    Mutant("to_numpy", "returns a Python number for a 0-d tensor",
           find="    return t.detach().cpu().numpy()\n",
           replace="    return t.item() if t.dim() == 0 else t.detach().cpu().numpy()\n", likely="Python number"),
]

EQUIVALENTS = [
    Equivalent("training_loop sets params.grad = None instead of zeroing it",
               find=_ZERO, replace="        params.grad = None\n"),
    Equivalent("training_loop steps params.data without torch.no_grad() (old style)",
               find="        with torch.no_grad():\n            params -= learning_rate * params.grad\n",
               replace="        params.data -= learning_rate * params.grad\n"),
    Equivalent("training_loop uses F.mse_loss, copy_ for the step, and prints progress",
               find=("        loss = ((t_p - t_c) ** 2).mean()\n        loss.backward()\n"
                     "        with torch.no_grad():\n            params -= learning_rate * params.grad\n"),
               replace=("        loss = torch.nn.functional.mse_loss(t_p, t_c)\n        loss.backward()\n"
                        "        with torch.no_grad():\n            params.copy_(params - learning_rate * params.grad)\n"
                        "        print(f'loss {float(loss):f}')\n")),
    Equivalent("grad_of detaches without cloning",
               find=_GRAD_OF, replace=_GRAD_OF.replace("x.detach().clone()", "x.detach()")),
    Equivalent("grad_of with torch.autograd.grad",
               find=_GRAD_OF, replace=("    leaf = x.detach().requires_grad_(True)\n"
                                       "    (grad,) = torch.autograd.grad(fn(leaf).sum(), leaf)\n    return grad\n")),
    Equivalent("backward_with_weights back-propagates (y * weights).sum()",
               find=_WEIGHTED, replace="    y = fn(leaf)\n    (y * weights).sum().backward()\n    return leaf.grad\n"),
    Equivalent("accumulated_grad builds the graph once and keeps it with retain_graph",
               find=_ACCUMULATE, replace=("    total = fn(leaf).sum()\n    for _ in range(times):\n"
                                          "        total.backward(retain_graph=True)\n")),
    Equivalent("fit_line computes the loss with torch.square",
               find="        loss = (w * x + b - y) ** 2\n",
               replace="        loss = torch.square(w * x + b - y)\n"),
    Equivalent("fit_line resets the gradients with grad = None",
               find=_FIT_ZERO, replace="        w.grad = None\n        b.grad = None\n"),
    Equivalent("fit_line returns float(w), float(b)",
               find="    return w.item(), b.item()\n", replace="    return float(w), float(b)\n"),
    Equivalent("to_numpy with np.asarray on the detached CPU tensor",
               find="    return t.detach().cpu().numpy()\n", replace="    return np.asarray(t.detach().cpu())\n"),
    Equivalent("to_numpy returns an independent copy",
               find="    return t.detach().cpu().numpy()\n", replace="    return t.detach().cpu().numpy().copy()\n"),
]
