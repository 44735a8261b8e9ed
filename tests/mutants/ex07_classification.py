"""Typical wrong answers and correct variants of ex07_classification (see tests/mutants/__init__.py)."""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

# Anchors: each occurs exactly once in solutions/ex07_classification.py.
_SOFTMAX = ("    X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)\n"
            "    return X_exp / X_exp.sum(dim=1, keepdim=True)\n")
_CE = "    return -torch.log(y_hat[range(len(y_hat)), y])\n"
_ACC = "    return (y_hat.argmax(dim=1) == y).float().mean().item()\n"
_FC = ("    return nn.Sequential(\n        nn.Linear(in_features, n_hidden),\n        nn.Tanh(),\n"
       "        nn.Linear(n_hidden, n_classes),\n    )\n")
_EVAL_LOOP = ("    with torch.no_grad():\n"
              "        for inputs, labels in loader:\n"
              "            inputs, labels = inputs.to(device), labels.to(device)\n"
              "            predicted = model(inputs).argmax(dim=1)\n"
              "            correct += (predicted == labels).sum().item()\n"
              "            total += labels.shape[0]\n")
_PERMUTE = "    data, labels = torch.from_numpy(data[idx]), torch.from_numpy(labels[idx])\n"
_SPLIT = "    return (data[: 2 * n1], labels[: 2 * n1]), (data[2 * n1 :], labels[2 * n1 :])\n"
_STATS = "    mean = train_x.mean(dim=0)\n    std = train_x.std(dim=0)\n    x = (train_x - mean) / std\n"
_STEP = "        optimizer.zero_grad()\n        loss = loss_fn(model(x), y)\n"

MUTANTS = [
    # softmax
    Mutant("softmax", "no max shift (overflows to nan for logits of 1000)", find=_SOFTMAX,
           replace="    X_exp = torch.exp(X)\n    return X_exp / X_exp.sum(dim=1, keepdim=True)\n", likely="subtract each row's maximum"),
    Mutant("softmax", "shifts by the batch's maximum instead of each row's", find=_SOFTMAX,
           replace="    X_exp = torch.exp(X - X.max())\n    return X_exp / X_exp.sum(dim=1, keepdim=True)\n", likely='maximum of the whole batch'),
    Mutant("softmax", "sums over the batch (dim=0) instead of the classes", find=_SOFTMAX,
           replace=("    X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)\n"
                    "    return X_exp / X_exp.sum(dim=0, keepdim=True)\n"), likely='dim 0'),
    Mutant("softmax", "shifts by the row's mean, which still overflows", find=_SOFTMAX,
           replace=("    X_exp = torch.exp(X - X.mean(dim=1, keepdim=True))\n"
                    "    return X_exp / X_exp.sum(dim=1, keepdim=True)\n"), likely="row's mean"),
    Mutant("softmax", "subtracts the maximum in place, changing the caller's logits", find=_SOFTMAX,
           replace=("    X -= X.max(dim=1, keepdim=True).values.detach()\n    X_exp = torch.exp(X)\n"
                    "    return X_exp / X_exp.sum(dim=1, keepdim=True)\n"), likely='in place'),
    Mutant("softmax", "calls torch.softmax", find=_SOFTMAX, replace="    return torch.softmax(X, dim=1)\n"),
    Mutant("softmax", "calls the tensor's .softmax method", find=_SOFTMAX, replace="    return X.softmax(dim=1)\n"),
    Mutant("softmax", "detaches the row sums, so the gradient is wrong", find=_SOFTMAX,
           replace=("    X_exp = torch.exp(X - X.max(dim=1, keepdim=True).values)\n"
                    "    return X_exp / X_exp.sum(dim=1, keepdim=True).detach()\n"), likely='detached'),
    # cross_entropy
    Mutant("cross_entropy", "averages over the batch", find=_CE,
           replace="    return -torch.log(y_hat[range(len(y_hat)), y]).mean()\n", likely='average'),
    Mutant("cross_entropy", "gathers without flattening, returning (N, 1)", find=_CE,
           replace="    return -torch.log(y_hat.gather(1, y.view(-1, 1)))\n", likely='gather'),
    Mutant("cross_entropy", "indexes y_hat[:, y], a (N, N) matrix", find=_CE,
           replace="    return -torch.log(y_hat[:, y])\n", likely='y_hat[:, y]'),
    Mutant("cross_entropy", "forgets the minus sign", find=_CE,
           replace="    return torch.log(y_hat[range(len(y_hat)), y])\n", likely='minus sign'),
    Mutant("cross_entropy", "sums -log over all classes' probabilities", find=_CE,
           replace="    return -torch.log(y_hat).sum(dim=1)\n", likely='every class'),
    # accuracy
    Mutant("accuracy", "returns a tensor instead of a Python float", find=_ACC,
           replace="    return (y_hat.argmax(dim=1) == y).float().mean()\n", likely='.item()'),
    Mutant("accuracy", "returns the number of correct rows, like d2l's accuracy", find=_ACC,
           replace="    return float((y_hat.argmax(dim=1) == y).sum())\n", likely='number of correct rows'),
    Mutant("accuracy", "takes the argmax over the batch (dim=0)", find=_ACC,
           replace="    return (y_hat.argmax(dim=0)[: len(y)] == y).float().mean().item()\n"),
    Mutant("accuracy", "compares the highest score instead of its index", find=_ACC,
           replace="    return (y_hat.max(dim=1).values == y).float().mean().item()\n", likely='highest score itself'),
    # make_fc_classifier
    Mutant("make_fc_classifier", "puts a Softmax at the end", find=_FC,
           replace=("    return nn.Sequential(\n        nn.Linear(in_features, n_hidden),\n        nn.Tanh(),\n"
                    "        nn.Linear(n_hidden, n_classes),\n        nn.Softmax(dim=1),\n    )\n"), likely='Softmax'),
    Mutant("make_fc_classifier", "uses ReLU instead of Tanh", find="        nn.Tanh(),\n", replace="        nn.ReLU(),\n", likely='ReLU'),
    Mutant("make_fc_classifier", "writes in 512 hidden units", find="        nn.Linear(in_features, n_hidden),\n",
           replace="        nn.Linear(in_features, 512),\n", likely='n_hidden argument'),
    Mutant("make_fc_classifier", "forgets the activation", find="        nn.Tanh(),\n", replace="", likely='forgot the activation'),
    Mutant("make_fc_classifier", "writes in two classes", find="        nn.Linear(n_hidden, n_classes),\n",
           replace="        nn.Linear(n_hidden, 2),\n", likely='n_classes argument'),
    # evaluate
    Mutant("evaluate", "forgets model.eval()", find="    model.eval()\n", replace="", likely='model.eval()'),
    Mutant("evaluate", "forgets torch.no_grad()", find=_EVAL_LOOP,
           replace=_EVAL_LOOP.replace("    with torch.no_grad():\n", "    if True:\n"), likely='no_grad'),
    Mutant("evaluate", "puts the model back in training mode at the end", find="    return correct / total if total else 0.0\n",
           replace="    model.train()\n    return correct / total if total else 0.0\n", likely='model.train()'),
    Mutant("evaluate", "averages the batches' accuracies", find=_EVAL_LOOP,
           replace=_EVAL_LOOP.replace("(predicted == labels).sum().item()", "(predicted == labels).float().mean().item()")
           .replace("total += labels.shape[0]", "total += 1"), likely="batches' accuracies"),
    Mutant("evaluate", "keeps the count as a tensor, returning a tensor", find=_EVAL_LOOP,
           replace=_EVAL_LOOP.replace("(predicted == labels).sum().item()", "(predicted == labels).sum()"), likely='.item()'),
    Mutant("evaluate", "divides by zero on an empty loader", find="    return correct / total if total else 0.0\n",
           replace="    return correct / total\n", likely='dividing by zero'),
    Mutant("evaluate", "counts one per batch in the total", find=_EVAL_LOOP,
           replace=_EVAL_LOOP.replace("total += labels.shape[0]", "total += loader.batch_size"), likely='loader.batch_size'),
    # make_housing_data
    Mutant("make_housing_data", "shuffles the data but not the labels", find=_PERMUTE,
           replace="    data, labels = torch.from_numpy(data[idx]), torch.from_numpy(labels)\n", likely='same idx'),
    Mutant("make_housing_data", "labels city houses 1 and rural houses 0",
           find="        (np.zeros((n, 1), dtype=np.float32), np.ones((n, 1), dtype=np.float32))\n",
           replace="        (np.ones((n, 1), dtype=np.float32), np.zeros((n, 1), dtype=np.float32))\n", likely='label 0'),
    Mutant("make_housing_data", "keeps NumPy's float64", find="    data = np.vstack((city, rural)).astype(np.float32)\n",
           replace="    data = np.vstack((city, rural))\n", likely='float32'),
    Mutant("make_housing_data", "splits after n1 rows instead of 2 * n1", find=_SPLIT,
           replace="    return (data[:n1], labels[:n1]), (data[n1:], labels[n1:])\n", likely='2 * n1'),
    Mutant("make_housing_data", "ignores the seed", find="    np.random.seed(seed)\n", replace="", likely='np.random.seed(seed)'),
    Mutant("make_housing_data", "shuffles data and labels with two different permutations", find=_PERMUTE,
           replace=("    data, labels = torch.from_numpy(data[idx]), "
                    "torch.from_numpy(labels[np.random.permutation(len(data))])\n"), likely='same permutation'),
    Mutant("make_housing_data", "draws the rural houses before the city houses",
           find="    city = np.random.multivariate_normal(\n        [25.9, 1503.7], [[33.64, 400], [400, 64112.24]], size=n\n"
                "    )\n    rural = np.random.multivariate_normal(\n        [31.8, 834.3], [[62.41, 200], [200, 9623.61]], size=n\n"
                "    )\n",
           replace="    rural = np.random.multivariate_normal(\n        [31.8, 834.3], [[62.41, 200], [200, 9623.61]], size=n\n"
                   "    )\n    city = np.random.multivariate_normal(\n        [25.9, 1503.7], [[33.64, 400], [400, 64112.24]], size=n\n"
                   "    )\n", likely='city houses first'),
    # train_logistic
    Mutant("train_logistic", "uses the biased standard deviation", find="    std = train_x.std(dim=0)\n",
           replace="    std = train_x.std(dim=0, unbiased=False)\n", likely='unbiased'),
    Mutant("train_logistic", "does not standardize the inputs", find="    x = (train_x - mean) / std\n",
           replace="    x = train_x\n", likely='standardize the inputs'),
    Mutant("train_logistic", "standardizes train_x in place", find=_STATS,
           replace=("    mean = train_x.mean(dim=0)\n    std = train_x.std(dim=0)\n"
                    "    train_x -= mean\n    train_x /= std\n    x = train_x\n"), likely='in place'),
    Mutant("train_logistic", "statistics over the features of each house (dim=1)", find=_STATS,
           replace=("    mean = train_x.mean(dim=1, keepdim=True)\n    std = train_x.std(dim=1, keepdim=True)\n"
                    "    x = (train_x - mean) / std\n"), likely='dim=0'),
    Mutant("train_logistic", "never zeroes the gradients", find=_STEP, replace="        loss = loss_fn(model(x), y)\n", likely='zero_grad'),
    Mutant("train_logistic", "does not seed before creating the model", find="    torch.manual_seed(0)\n", replace="", likely='manual_seed(0)'),
    Mutant("train_logistic", "uses the mean squared error of the sigmoid", find="    loss_fn = nn.BCEWithLogitsLoss()\n",
           replace="    loss_fn = lambda logits, target: ((torch.sigmoid(logits) - target) ** 2).mean()  # noqa: E731\n", likely='mean squared error'),
    Mutant("train_logistic", "applies a sigmoid before BCEWithLogitsLoss", find=_STEP,
           replace="        optimizer.zero_grad()\n        loss = loss_fn(torch.sigmoid(model(x)), y)\n", likely='raw logits'),
    Mutant("train_logistic", "ignores the learning rate", find="    optimizer = torch.optim.SGD(model.parameters(), lr=lr)\n",
           replace="    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)\n", likely='lr argument'),
]

EQUIVALENTS = [
    Equivalent("softmax with amax and torch.sum", find=_SOFTMAX,
               replace=("    shifted = X - torch.amax(X, dim=1, keepdim=True)\n    X_exp = shifted.exp()\n"
                        "    return X_exp / torch.sum(X_exp, dim=1, keepdim=True)\n")),
    Equivalent("softmax through logsumexp", find=_SOFTMAX,
               replace="    return torch.exp(X - torch.logsumexp(X, dim=1, keepdim=True))\n"),
    Equivalent("cross_entropy with gather and squeeze", find=_CE,
               replace="    return -torch.log(y_hat.gather(1, y.view(-1, 1))).squeeze(1)\n"),
    Equivalent("accuracy in d2l's style, divided by the number of rows", find=_ACC,
               replace=("    if len(y_hat.shape) > 1 and y_hat.shape[1] > 1:\n        y_hat = y_hat.argmax(axis=1)\n"
                        "    cmp = y_hat.type(y.dtype) == y\n    return float(cmp.type(y.dtype).sum()) / len(y)\n")),
    Equivalent("make_fc_classifier with named layers", find=_FC,
               replace=("    from collections import OrderedDict\n\n    return nn.Sequential(OrderedDict([\n"
                        "        (\"hidden\", nn.Linear(in_features, n_hidden)),\n        (\"activation\", nn.Tanh()),\n"
                        "        (\"output\", nn.Linear(n_hidden, n_classes)),\n    ]))\n")),
    Equivalent("evaluate in the tutorial's style, under inference_mode, printing the accuracy", find=_EVAL_LOOP,
               replace=("    with torch.inference_mode():\n"
                        "        for imgs, labels in loader:\n"
                        "            outputs = model(imgs.to(device))\n"
                        "            _, predicted = torch.max(outputs, dim=1)\n"
                        "            total += labels.shape[0]\n"
                        "            correct += int((predicted == labels.to(device)).sum())\n"
                        "    print(f\"Accuracy: {correct / max(total, 1):f}\")\n")),
    Equivalent("make_housing_data shuffling with one index array on torch tensors", find=_PERMUTE,
               replace=("    order = torch.from_numpy(idx)\n"
                        "    data, labels = torch.from_numpy(data)[order], torch.from_numpy(labels)[order]\n")),
    Equivalent("train_logistic printing the loss every 10 epochs", find=_STEP,
               replace=_STEP + "        if _ % 10 == 0:\n            print(f\"epoch {_}: loss {loss.item():.4f}\")\n"),
]
