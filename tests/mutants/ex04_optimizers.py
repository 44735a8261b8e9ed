"""Typical wrong answers and correct variants of ex04_optimizers (see tests/mutants/__init__.py)."""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

# Anchors: each occurs exactly once in solutions/ex04_optimizers.py.
_SGD = "        return optim.SGD(params, lr=lr)\n"
_ADAM = "        return optim.Adam(params, lr=lr)\n"
_RAISE = "    raise ValueError(f\"unknown optimizer {name!r}: choose one of 'sgd', 'adam'\")\n"
_LOOP = ("    for _ in range(n_epochs):\n"
         "        t_p = params[0] * t_u + params[1]\n"
         "        loss = ((t_p - t_c) ** 2).mean()\n"
         "        optimizer.zero_grad()\n"
         "        loss.backward()\n"
         "        optimizer.step()\n"
         "    return params\n")
_N_VAL = "    n_val = max(1, int(val_fraction * n_samples))\n"
_PERM = "    shuffled = torch.randperm(n_samples, generator=generator)\n"
_SPLIT = "    return shuffled[:-n_val], shuffled[-n_val:]\n"
_VAL = ("        with torch.no_grad():\n"
        "            val_t_p = params[0] * val_t_u + params[1]\n"
        "            val_loss = ((val_t_p - val_t_c) ** 2).mean()\n"
        "            assert val_loss.requires_grad is False\n")
_VAL_STEP = ("        optimizer.zero_grad()\n"
             "        train_loss.backward()\n"
             "        optimizer.step()\n")
_APPEND = ("        train_losses.append(train_loss.item())\n"
           "        val_losses.append(val_loss.item())\n")
_FORWARD = ("    with torch.set_grad_enabled(is_train):\n"
            "        t_p = params[0] * t_u + params[1]\n"
            "        return ((t_p - t_c) ** 2).mean()\n")
_STATS = "    mean, std = train.mean(), train.std()\n"
_SCALE = "    return (train - mean) / std, (other - mean) / std\n"

MUTANTS = [
    # make_optimizer
    Mutant("make_optimizer", "compares the name without lower-casing it ('SGD' is refused)",
           find="    key = name.lower()\n", replace="    key = name\n", likely="lower-case it first"),
    Mutant("make_optimizer", "swaps the classes: 'sgd' gives Adam", find=_SGD,
           replace="        return optim.Adam(params, lr=lr)\n", likely="classes are swapped"),
    Mutant("make_optimizer", "forgets lr= for Adam (Adam's default 1e-3)", find=_ADAM,
           replace="        return optim.Adam(params)\n", likely="without lr=lr"),
    Mutant("make_optimizer", "adds momentum=0.9 to SGD", find=_SGD,
           replace="        return optim.SGD(params, lr=lr, momentum=0.9)\n", likely="momentum=0.9"),
    Mutant("make_optimizer", "optimizes copies of the params instead of the params themselves", find=_SGD,
           replace="        return optim.SGD([p.detach().clone().requires_grad_() for p in params], lr=lr)\n",
           likely="copies of the params"),
    Mutant("make_optimizer", "returns None for an unknown name", find=_RAISE, replace="    return None\n",
           likely="returning None"),
    # likely=None: its first feedback line names it ("should raise ValueError, not KeyError")
    Mutant("make_optimizer", "raises KeyError instead of ValueError", find=_RAISE,
           replace=_RAISE.replace("ValueError", "KeyError")),
    Mutant("make_optimizer", "the ValueError does not list the valid names", find=_RAISE,
           replace="    raise ValueError(f\"unknown optimizer {name!r}\")\n", likely="which names are valid"),
    Mutant("make_optimizer", "falls back to Adam for every name that is not 'sgd'",
           find="    if key == \"adam\":\n", replace="    if True:\n", likely="falls back"),
    # training_loop
    Mutant("training_loop", "never calls optimizer.zero_grad(), so gradients accumulate",
           find=_LOOP, replace=_LOOP.replace("        optimizer.zero_grad()\n", ""), likely="zero_grad() is missing"),
    Mutant("training_loop", "updates params by hand with lr 1e-2 instead of optimizer.step()",
           find=_LOOP, replace=_LOOP.replace("        optimizer.step()\n", (
               "        with torch.no_grad():\n            params -= 1e-2 * params.grad\n")), likely="by hand"),
    Mutant("training_loop", "sums the squared errors instead of averaging them",
           find=_LOOP, replace=_LOOP.replace(".mean()", ".sum()"), likely="sums the squared errors"),
    Mutant("training_loop", "swaps w and b", find=_LOOP,
           replace=_LOOP.replace("params[0] * t_u + params[1]", "params[1] * t_u + params[0]"),
           likely="w and b are swapped"),
    Mutant("training_loop", "runs one epoch too few", find=_LOOP,
           replace=_LOOP.replace("range(n_epochs)", "range(n_epochs - 1)"), likely="one epoch too few"),
    Mutant("training_loop", "returns a detached copy instead of params itself", find=_LOOP,
           replace=_LOOP.replace("    return params\n", "    return params.detach().clone()\n"), likely="not a copy"),
    Mutant("training_loop", "zeroes the gradients between backward() and step(), so nothing moves", find=_LOOP,
           replace=_LOOP.replace("        optimizer.zero_grad()\n        loss.backward()\n",
                                 "        loss.backward()\n        optimizer.zero_grad()\n"),
           likely="zero_grad() runs between backward() and step()"),
    Mutant("training_loop", "steps before backward(), so each step uses the previous epoch's gradient", find=_LOOP,
           replace=_LOOP.replace("        loss.backward()\n        optimizer.step()\n",
                                 "        optimizer.step()\n        loss.backward()\n"),
           likely="step() comes before backward()"),
    # split_indices
    Mutant("split_indices", "forgets the 'at least one' rule", find=_N_VAL,
           replace="    n_val = int(val_fraction * n_samples)\n", likely="at least one"),
    Mutant("split_indices", "rounds instead of truncating", find=_N_VAL,
           replace="    n_val = max(1, round(val_fraction * n_samples))\n", likely="round()"),
    Mutant("split_indices", "computes the training size first: n_val = n - int((1 - f) * n)", find=_N_VAL,
           replace="    n_val = max(1, n_samples - int((1 - val_fraction) * n_samples))\n", likely="training size"),
    Mutant("split_indices", "takes the FIRST n_val indices for validation", find=_SPLIT,
           replace="    return shuffled[n_val:], shuffled[:n_val]\n", likely="first n_val"),
    Mutant("split_indices", "returns (val_idx, train_idx)", find=_SPLIT,
           replace="    return shuffled[-n_val:], shuffled[:-n_val]\n", likely="wrong order"),
    Mutant("split_indices", "ignores the generator", find=_PERM,
           replace="    shuffled = torch.randperm(n_samples)\n", likely="generator is ignored"),
    Mutant("split_indices", "uses a generator seeded with 0 when none is given", find=_PERM,
           replace="    shuffled = torch.randperm(n_samples, generator=generator or torch.Generator().manual_seed(0))\n",
           likely="seeded one"),
    Mutant("split_indices", "does not shuffle (torch.arange)", find=_PERM,
           replace="    shuffled = torch.arange(n_samples)\n", likely="not shuffled"),
    # training_loop_val
    Mutant("training_loop_val", "computes the validation loss with gradients on (no torch.no_grad())", find=_VAL,
           replace=("        val_t_p = params[0] * val_t_u + params[1]\n"
                    "        val_loss = ((val_t_p - val_t_c) ** 2).mean()\n"), likely="with gradients on"),
    Mutant("training_loop_val", "never calls optimizer.zero_grad()", find=_VAL_STEP,
           replace="        train_loss.backward()\n        optimizer.step()\n", likely="zero_grad() is missing"),
    Mutant("training_loop_val", "back-propagates the sum of the training and validation losses", find=_VAL + _VAL_STEP,
           replace=("        val_t_p = params[0] * val_t_u + params[1]\n"
                    "        val_loss = ((val_t_p - val_t_c) ** 2).mean()\n"
                    "        optimizer.zero_grad()\n        (train_loss + val_loss).backward()\n"
                    "        optimizer.step()\n"), likely="adding it to the training loss"),
    Mutant("training_loop_val", "measures the validation loss after the step", find=_VAL + _VAL_STEP,
           replace=_VAL_STEP + _VAL, likely="after optimizer.step()"),
    Mutant("training_loop_val", "appends the loss tensors instead of Python floats", find=_APPEND,
           replace="        train_losses.append(train_loss)\n        val_losses.append(val_loss)\n",
           likely="loss.item()"),
    Mutant("training_loop_val", "returns the two lists in the wrong order",
           find="    return params, train_losses, val_losses\n", replace="    return params, val_losses, train_losses\n",
           likely="wrong order"),
    Mutant("training_loop_val", "forgets to return params",
           find="    return params, train_losses, val_losses\n", replace="    return train_losses, val_losses\n",
           likely="leaves one out"),
    # calc_forward
    Mutant("calc_forward", "computes the prediction outside set_grad_enabled", find=_FORWARD,
           replace=("    t_p = params[0] * t_u + params[1]\n    with torch.set_grad_enabled(is_train):\n"
                    "        return ((t_p - t_c) ** 2).mean()\n"), likely="prediction is computed before"),
    Mutant("calc_forward", "calls torch.set_grad_enabled(is_train) as a plain function (never restored)",
           find=_FORWARD, replace=_FORWARD.replace("    with torch.set_grad_enabled(is_train):\n",
                                                   "    torch.set_grad_enabled(is_train)\n    if True:\n"),
           likely="context manager"),
    Mutant("calc_forward", "inverts the flag", find=_FORWARD,
           replace=_FORWARD.replace("set_grad_enabled(is_train)", "set_grad_enabled(not is_train)"),
           likely="flag inverted"),
    Mutant("calc_forward", "always uses torch.no_grad()", find=_FORWARD,
           replace=_FORWARD.replace("torch.set_grad_enabled(is_train)", "torch.no_grad()"),
           likely="torch.no_grad() used in both cases"),
    Mutant("calc_forward", "sums the squared errors", find=_FORWARD, replace=_FORWARD.replace(".mean()", ".sum()"),
           likely="sums the squared errors"),
    # standardize
    Mutant("standardize", "uses the biased standard deviation (divides by N)", find=_STATS,
           replace="    mean, std = train.mean(), train.std(correction=0)\n", likely="biased standard deviation"),
    Mutant("standardize", "scales `other` with its own statistics", find=_SCALE,
           replace="    return (train - mean) / std, (other - other.mean()) / other.std()\n",
           likely="its own mean and std"),
    Mutant("standardize", "takes per-column statistics (dim=0) instead of all elements", find=_STATS,
           replace="    mean, std = train.mean(dim=0), train.std(dim=0)\n", likely="per column"),
    Mutant("standardize", "divides by the variance", find=_STATS, replace="    mean, std = train.mean(), train.var()\n",
           likely="divide by the variance"),
    Mutant("standardize", "standardizes train in place", find=_SCALE,
           replace="    train -= mean\n    train /= std\n    return train, (other - mean) / std\n", likely="in place"),
    Mutant("standardize", "forgets to convert integer tensors",
           find="    if not train.is_floating_point():\n        train = train.float()\n", replace="",
           likely="integer train tensor must be converted"),
]

EQUIVALENTS = [
    Equivalent("make_optimizer with a dict of classes",
               find="    key = name.lower()\n    if key == \"sgd\":\n",
               replace=("    key = name.lower()\n    classes = {'sgd': optim.SGD, 'adam': optim.Adam}\n"
                        "    if key in classes:\n        return classes[key](params, lr=lr)\n    if key == \"sgd\":\n")),
    Equivalent("training_loop zeroes the gradients after the step (the PyTorch quickstart order)", find=_LOOP,
               replace=_LOOP.replace("        optimizer.zero_grad()\n        loss.backward()\n        optimizer.step()\n",
                                     "        loss.backward()\n        optimizer.step()\n        optimizer.zero_grad()\n")),
    Equivalent("training_loop unpacks w, b, uses F.mse_loss and prints progress like the book", find=_LOOP,
               replace=("    for epoch in range(1, n_epochs + 1):\n"
                        "        w, b = params\n"
                        "        t_p = w * t_u + b\n"
                        "        loss = torch.nn.functional.mse_loss(t_p, t_c)\n"
                        "        optimizer.zero_grad()\n"
                        "        loss.backward()\n"
                        "        optimizer.step()\n"
                        "        if epoch % 500 == 0:\n"
                        "            print(f\"Epoch {epoch}, Loss {float(loss):f}\")\n"
                        "    return params\n")),
    Equivalent("split_indices names the book's variables and slices with n_samples - n_val",
               find=_N_VAL + _SPLIT,
               replace=("    n_val = int(n_samples * val_fraction)\n    if n_val < 1:\n        n_val = 1\n"
                        "    train_indices = shuffled[: n_samples - n_val]\n    val_indices = shuffled[n_samples - n_val:]\n"
                        "    return train_indices, val_indices\n")),
    Equivalent("training_loop_val uses torch.set_grad_enabled(False), float() and prints like the book",
               find=_VAL + _VAL_STEP + _APPEND,
               replace=(_VAL.replace("torch.no_grad()", "torch.set_grad_enabled(False)") + _VAL_STEP
                        + "        train_losses.append(float(train_loss))\n        val_losses.append(float(val_loss))\n"
                        + "        print(f\"Training loss {train_loss.item():.4f}, Validation loss {val_loss.item():.4f}\")\n")),
    Equivalent("training_loop_val computes the validation loss under torch.inference_mode()", find=_VAL,
               replace=_VAL.replace("torch.no_grad()", "torch.inference_mode()")),
    Equivalent("calc_forward returns loss through a variable, with F.mse_loss", find=_FORWARD,
               replace=("    with torch.set_grad_enabled(is_train):\n        t_p = params[0] * t_u + params[1]\n"
                        "        loss = torch.nn.functional.mse_loss(t_p, t_c)\n    return loss\n")),
    Equivalent("standardize with torch.mean / the square root of the variance, and .to(torch.float32)",
               find="    if not train.is_floating_point():\n        train = train.float()\n" + _STATS,
               replace=("    if not torch.is_floating_point(train):\n        train = train.to(torch.float32)\n"
                        "    mean, std = torch.mean(train), torch.var(train).sqrt()\n")),
]
