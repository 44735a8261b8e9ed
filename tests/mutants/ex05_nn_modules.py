"""Typical wrong answers and correct variants of ex05_nn_modules (see tests/mutants/__init__.py)."""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

# Anchors: each occurs exactly once in solutions/ex05_nn_modules.py.
_LINEAR = "    return nn.Linear(1, 1)\n"
_LAYERS = ('                ("hidden", nn.Linear(1, n_hidden)),\n'
           '                ("hidden_activation", nn.Tanh()),\n'
           '                ("output", nn.Linear(n_hidden, 1)),\n')
_STEP = ("    with torch.no_grad():\n"
         "        for param in model.parameters():\n"
         "            if param.grad is not None:\n"
         "                param -= learning_rate * param.grad\n"
         "    model.zero_grad()\n")
_EPOCH = ("        train_loss = loss_fn(model(t_u_train), t_c_train)\n"
          "        with torch.no_grad():\n"
          "            val_loss = loss_fn(model(t_u_val), t_c_val)\n"
          "        optimizer.zero_grad()\n"
          "        train_loss.backward()\n"
          "        optimizer.step()\n"
          "        train_losses.append(train_loss.item())\n"
          "        val_losses.append(val_loss.item())\n")
_SINE = "    x = torch.linspace(-torch.pi, torch.pi, n).unsqueeze(1)\n    return x, torch.sin(x)\n"
_NET = "nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 32), nn.Tanh(), nn.Linear(32, 1))"
_FIT = ("    torch.manual_seed(seed)\n"
        f"    model = {_NET}.to(x.device)\n"
        "    loss_fn = nn.MSELoss()\n"
        "    for _ in range(epochs):\n"
        "        loss = loss_fn(model(x), y)\n"
        "        loss.backward()\n"
        "        sgd_step(model, learning_rate)\n")

MUTANTS = [
    # make_linear_model
    Mutant("make_linear_model", "forgets the bias", find=_LINEAR, replace="    return nn.Linear(1, 1, bias=False)\n",
           likely="no bias"),
    Mutant("make_linear_model", "wraps the layer in nn.Sequential", find=_LINEAR,
           replace="    return nn.Sequential(nn.Linear(1, 1))\n", likely="wrap the layer in nn.Sequential"),
    Mutant("make_linear_model", "converts the layer to float64", find=_LINEAR,
           replace="    return nn.Linear(1, 1).double()\n", likely="float64"),
    Mutant("make_linear_model", "seeds torch inside the function", find=_LINEAR,
           replace="    torch.manual_seed(0)\n    return nn.Linear(1, 1)\n",
           likely="torch.manual_seed inside the function"),
    Mutant("make_linear_model", "starts from the book's w = 1, b = 0 instead of torch's initialization", find=_LINEAR,
           replace=("    model = nn.Linear(1, 1)\n    with torch.no_grad():\n        model.weight.fill_(1.0)\n"
                    "        model.bias.zero_()\n    return model\n"), likely="set the weights yourself"),
    # make_mlp
    Mutant("make_mlp", "uses ReLU instead of Tanh", find=_LAYERS,
           replace=_LAYERS.replace("nn.Tanh()", "nn.ReLU()"), likely="ReLU"),
    Mutant("make_mlp", "names the activation 'activation'", find=_LAYERS,
           replace=_LAYERS.replace('"hidden_activation"', '"activation"'), likely="other names"),
    Mutant("make_mlp", "builds an unnamed nn.Sequential (layers called 0, 1, 2)",
           find="    return nn.Sequential(\n        OrderedDict(\n",
           replace="    return nn.Sequential(\n        *(lambda pairs: [module for _, module in pairs])(\n",
           likely="unnamed"),
    Mutant("make_mlp", "ignores n_hidden and always uses 13 units", find=_LAYERS,
           replace=_LAYERS.replace("n_hidden", "13"), likely="instead of taken from the n_hidden argument"),
    Mutant("make_mlp", "defaults to 10 hidden units",
           find="def make_mlp(n_hidden: int = 13)", replace="def make_mlp(n_hidden: int = 10)",
           likely="default number of hidden units"),
    Mutant("make_mlp", "adds a Tanh after the output layer", find=_LAYERS,
           replace=_LAYERS + '                ("output_activation", nn.Tanh()),\n',
           likely="extra Tanh after the output layer"),
    # sgd_step
    Mutant("sgd_step", "gradient ascent: adds the gradient", find=_STEP, replace=_STEP.replace("-=", "+="),
           likely="climbs the gradient"),
    Mutant("sgd_step", "forgets model.zero_grad()", find=_STEP, replace=_STEP.replace("    model.zero_grad()\n", ""),
           likely="gradients are not cleared"),
    Mutant("sgd_step", "rebinds param = param - ... (nothing is updated)", find=_STEP,
           replace=_STEP.replace("param -= learning_rate * param.grad", "param = param - learning_rate * param.grad"),
           likely="rebinds the loop variable"),
    Mutant("sgd_step", "zeroes the gradients before the update", find=_STEP,
           replace="    model.zero_grad()\n" + _STEP.replace("    model.zero_grad()\n", ""),
           likely="zero_grad() runs before the update"),
    Mutant("sgd_step", "does not skip parameters without a gradient", find=_STEP,
           replace=("    with torch.no_grad():\n        for param in model.parameters():\n"
                    "            param -= learning_rate * param.grad\n    model.zero_grad()\n"),
           likely="must be skipped"),
    Mutant("sgd_step", "updates the parameters outside torch.no_grad()", find=_STEP,
           replace=_STEP.replace("    with torch.no_grad():\n", "    if True:\n"), likely="outside torch.no_grad()"),
    Mutant("sgd_step", "ignores the learning rate argument (always 0.01)", find=_STEP,
           replace=_STEP.replace("learning_rate * param.grad", "0.01 * param.grad"),
           likely="instead of the learning_rate argument"),
    # training_loop
    Mutant("training_loop", "computes the validation loss with gradients on", find=_EPOCH,
           replace=_EPOCH.replace("        with torch.no_grad():\n            val_loss",
                                  "        val_loss"), likely="with gradients on"),
    Mutant("training_loop", "calls loss_fn(target, prediction)", find=_EPOCH,
           replace=_EPOCH.replace("loss_fn(model(t_u_train), t_c_train)", "loss_fn(t_c_train, model(t_u_train))"),
           likely="arguments are swapped"),
    Mutant("training_loop", "never calls optimizer.zero_grad()", find=_EPOCH,
           replace=_EPOCH.replace("        optimizer.zero_grad()\n", ""), likely="zero_grad() is missing"),
    Mutant("training_loop", "measures the validation loss after the step", find=_EPOCH,
           replace=_EPOCH.replace("        with torch.no_grad():\n            val_loss = loss_fn(model(t_u_val), t_c_val)\n",
                                  "").replace("        optimizer.step()\n", (
                                      "        optimizer.step()\n        with torch.no_grad():\n"
                                      "            val_loss = loss_fn(model(t_u_val), t_c_val)\n")),
           likely="after optimizer.step()"),
    Mutant("training_loop", "validates on the training data", find=_EPOCH,
           replace=_EPOCH.replace("loss_fn(model(t_u_val), t_c_val)", "loss_fn(model(t_u_train), t_c_train)"),
           likely="validate on the training data"),
    Mutant("training_loop", "appends the loss tensors instead of Python floats", find=_EPOCH,
           replace=_EPOCH.replace("train_loss.item()", "train_loss.detach()"), likely="loss.item()"),
    Mutant("training_loop", "returns (val_losses, train_losses)",
           find="    return train_losses, val_losses\n", replace="    return val_losses, train_losses\n",
           likely="wrong order"),
    # make_sine_data
    Mutant("make_sine_data", "returns (n,) tensors (no unsqueeze)", find=_SINE,
           replace=_SINE.replace(".unsqueeze(1)", ""), likely="(n,) vectors"),
    Mutant("make_sine_data", "leaves out the end point pi", find=_SINE,
           replace=_SINE.replace("torch.linspace(-torch.pi, torch.pi, n)", "torch.linspace(-torch.pi, torch.pi, n + 1)[:-1]"),
           likely="end point pi is left out"),
    Mutant("make_sine_data", "samples 0 to 2 pi", find=_SINE,
           replace=_SINE.replace("torch.linspace(-torch.pi, torch.pi, n)", "torch.linspace(0, 2 * torch.pi, n)"),
           likely="0 to 2 pi"),
    Mutant("make_sine_data", "uses the cosine", find=_SINE, replace=_SINE.replace("torch.sin(x)", "torch.cos(x)"),
           likely="cosine"),
    Mutant("make_sine_data", "builds float64 points", find=_SINE,
           replace=_SINE.replace("torch.pi, n)", "torch.pi, n, dtype=torch.float64)"), likely="float64"),
    Mutant("make_sine_data", "defaults to 100 points",
           find="def make_sine_data(n: int = 1000)", replace="def make_sine_data(n: int = 100)",
           likely="default number of points"),
    # fit_curve
    Mutant("fit_curve", "forgets torch.manual_seed(seed)", find=_FIT, replace=_FIT.replace("    torch.manual_seed(seed)\n", ""),
           likely="manual_seed(seed) is missing"),
    Mutant("fit_curve", "always seeds with 0", find=_FIT,
           replace=_FIT.replace("torch.manual_seed(seed)", "torch.manual_seed(0)"), likely="seed is a fixed number"),
    Mutant("fit_curve", "seeds after building the network", find=_FIT,
           replace=_FIT.replace("    torch.manual_seed(seed)\n", "").replace(
               "    loss_fn = nn.MSELoss()\n", "    torch.manual_seed(seed)\n    loss_fn = nn.MSELoss()\n"),
           likely="comes too late"),
    Mutant("fit_curve", "uses ReLU instead of Tanh", find=_FIT, replace=_FIT.replace("nn.Tanh()", "nn.ReLU()"),
           likely="ReLU"),
    Mutant("fit_curve", "has one hidden layer only", find=_FIT,
           replace=_FIT.replace(_NET, "nn.Sequential(nn.Linear(1, 32), nn.Tanh(), nn.Linear(32, 1))"),
           likely="one hidden layer"),
    Mutant("fit_curve", "sums the squared errors", find=_FIT,
           replace=_FIT.replace("nn.MSELoss()", "nn.MSELoss(reduction='sum')"), likely="sums the squared errors"),
    Mutant("fit_curve", "trains one epoch too few", find=_FIT,
           replace=_FIT.replace("range(epochs)", "range(epochs - 1)"), likely="one epoch too few"),
    Mutant("fit_curve", "uses torch.optim.SGD instead of sgd_step", find=_FIT,
           replace=_FIT.replace("    for _ in range(epochs):\n", (
               "    optimizer = torch.optim.SGD(model.parameters(), lr=learning_rate)\n"
               "    for _ in range(epochs):\n        optimizer.zero_grad()\n")).replace(
               "        sgd_step(model, learning_rate)\n", "        optimizer.step()\n"),
           likely="torch.optim is not allowed"),
    Mutant("fit_curve", "forgets loss.backward()", find=_FIT, replace=_FIT.replace("        loss.backward()\n", ""),
           likely="loss.backward() is missing"),
]

EQUIVALENTS = [
    Equivalent("make_linear_model with keyword arguments",
               find=_LINEAR, replace="    return nn.Linear(in_features=1, out_features=1)\n"),
    Equivalent("make_mlp builds the OrderedDict first and imports it at module level",
               find="    from collections import OrderedDict\n\n    return nn.Sequential(\n",
               replace="    import collections\n    OrderedDict = collections.OrderedDict\n    return nn.Sequential(\n"),
    Equivalent("sgd_step with param.sub_ and per-parameter grad = None", find=_STEP,
               replace=("    with torch.no_grad():\n        for param in model.parameters():\n"
                        "            if param.grad is not None:\n"
                        "                param.sub_(learning_rate * param.grad)\n"
                        "                param.grad = None\n")),
    Equivalent("sgd_step updates param.data (old style) and zeroes grads in place", find=_STEP,
               replace=("    for param in model.parameters():\n        if param.grad is not None:\n"
                        "            param.data -= learning_rate * param.grad\n            param.grad.zero_()\n")),
    Equivalent("training_loop in the book's style: eval() for validation, float() and progress prints", find=_EPOCH,
               replace=("        train_loss = loss_fn(model(t_u_train), t_c_train)\n"
                        "        model.eval()\n"
                        "        with torch.no_grad():\n"
                        "            val_loss = loss_fn(model(t_u_val), t_c_val)\n"
                        "        model.train()\n"
                        "        optimizer.zero_grad()\n"
                        "        train_loss.backward()\n"
                        "        optimizer.step()\n"
                        "        train_losses.append(float(train_loss))\n"
                        "        val_losses.append(float(val_loss))\n"
                        "        if len(train_losses) == 1 or len(train_losses) % 1000 == 0:\n"
                        "            print(f\"Epoch {len(train_losses)}, Training loss {float(train_loss):.4f},\"\n"
                        "                  f\" Validation loss {float(val_loss):.4f}\")\n")),
    Equivalent("make_sine_data with math.pi, view(-1, 1) and Tensor.sin()", find=_SINE,
               replace=("    import math\n\n    x = torch.linspace(-math.pi, math.pi, n).view(-1, 1)\n"
                        "    return x, x.sin()\n")),
    Equivalent("make_sine_data with x[:, None]", find=_SINE,
               replace="    x = torch.linspace(-torch.pi, torch.pi, steps=n)[:, None]\n    return x, torch.sin(x)\n"),
    Equivalent("fit_curve computes the MSE by hand and prints progress like the tutorial", find=_FIT,
               replace=("    torch.manual_seed(seed)\n"
                        f"    model = {_NET}.to(x.device)\n"
                        "    for epoch in range(epochs):\n"
                        "        loss = ((model(x) - y) ** 2).mean()\n"
                        "        loss.backward()\n"
                        "        sgd_step(model, learning_rate)\n"
                        "        if epoch % 100 == 0:\n"
                        "            print(f\"epoch {epoch}: loss {loss.item():.4f}\")\n")),
]
