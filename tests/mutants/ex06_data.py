"""Typical wrong answers and correct variants of ex06_data (see tests/mutants/__init__.py)."""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

# Anchors: each occurs exactly once in solutions/ex06_data.py.
_LM_INIT = ("        self.indices = [\n"
            "            i for i in range(len(dataset)) if int(dataset[i][1]) in self.label_map\n"
            "        ]\n")
_LM_GET = "        x, y = self.dataset[self.indices[index]]\n        return x, self.label_map[int(y)]\n"
_LOADER = "        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator\n"
_SEEDED = "        generator = torch.Generator().manual_seed(seed)\n"
_PERM = "    indices = torch.randperm(num_examples, generator=generator).to(features.device)\n"
_SLICE = "    for i in range(0, num_examples, batch_size):\n        batch_indices = indices[i : i + batch_size]\n"
_YIELD = "        yield features[batch_indices], labels[batch_indices]\n"
_X = "    X = torch.normal(0, 1, (num_examples, len(w)), generator=generator, dtype=dtype)\n"
_NOISE = "    noise = torch.normal(0, 0.01, y.shape, generator=generator, dtype=dtype)\n"
_SGD = "            param -= lr * param.grad / batch_size\n            param.grad.zero_()\n"
_TRAIN_LOOP = ("        for X, y in data_iter(batch_size, features, labels, generator):\n"
               "            loss = squared_loss(linreg(X, w, b), y)\n"
               "            loss.sum().backward()\n"
               "            sgd([w, b], lr, batch_size)\n")
_W_INIT = "    w = torch.normal(0, 0.01, size=(features.shape[1], 1), generator=generator)\n"
_NORMALIZE = "            transforms.Normalize((0.4915, 0.4823, 0.4468), (0.2470, 0.2435, 0.2616)),\n"
_CIFAR = ("        cifar = torchvision.datasets.CIFAR10(\n"
          "            root, train=train, download=False, transform=transform\n        )\n")
_MESSAGE = (
    '        raise FileNotFoundError(\n'
    '            f"CIFAR-10 not found or corrupted in {folder}: download the CIFAR-10 python "\n'
    '            "version (cifar-10-python.tar.gz from https://www.cs.toronto.edu/~kriz/cifar.html) "\n'
    '            f"and extract it into {Path(root)}, so that {folder} holds data_batch_1 to "\n'
    '            "data_batch_5, test_batch and batches.meta"\n'
    '        ) from error\n'
)
_TRY = "    try:\n" + _CIFAR + "    except RuntimeError as error:\n" + _MESSAGE

MUTANTS = [
    # ListDataset
    Mutant("ListDataset", "off-by-one __len__", find="        return len(self.samples)\n",
           replace="        return len(self.samples) - 1\n", likely="__len__ is off by one"),
    Mutant("ListDataset", "counts positions from 1 in __getitem__", find="        return self.samples[index]\n",
           replace="        return self.samples[index - 1]\n", likely="from 1"),
    Mutant("ListDataset", "returns only the input, dropping the label", find="        return self.samples[index]\n",
           replace="        return self.samples[index][0]\n", likely="drops the label"),
    Mutant("ListDataset", "is not a torch.utils.data.Dataset", find="class ListDataset(Dataset):",
           replace="class ListDataset:", likely="subclass torch.utils.data.Dataset"),
    Mutant("ListDataset", "returns copies of the stored tensors", find="        return self.samples[index]\n",
           replace="        return tuple(v.clone() if isinstance(v, torch.Tensor) else v for v in self.samples[index])\n", likely="copies"),
    # LabelMappedDataset
    Mutant("LabelMappedDataset", "returns the old label instead of the mapped one", find=_LM_GET,
           replace="        x, y = self.dataset[self.indices[index]]\n        return x, int(y)\n", likely="old label", also=("load_cifar_pair",)),
    Mutant("LabelMappedDataset", "returns the new label as a tensor", find=_LM_GET,
           replace="        x, y = self.dataset[self.indices[index]]\n        return x, torch.tensor(self.label_map[int(y)])\n", likely="Python int", also=("load_cifar_pair",)),
    Mutant("LabelMappedDataset", "looks a tensor label up in the dict without int() (never found)",
           find="if int(dataset[i][1]) in self.label_map", replace="if dataset[i][1] in self.label_map", likely="without int()"),
    Mutant("LabelMappedDataset", "indexes the underlying dataset with the view's index", find=_LM_GET,
           replace="        x, y = self.dataset[index]\n        return x, self.label_map[int(y)]\n", likely="view's index", also=("load_cifar_pair",)),
    Mutant("LabelMappedDataset", "scans the whole dataset again on every len()",
           find="        return len(self.indices)\n",
           replace="        return sum(1 for i in range(len(self.dataset)) if int(self.dataset[i][1]) in self.label_map)\n", likely="__len__ scans"),
    Mutant("LabelMappedDataset", "scans the whole dataset again for every item", find=_LM_GET,
           replace=("        kept = [i for i in range(len(self.dataset)) if int(self.dataset[i][1]) in self.label_map]\n"
                    "        x, y = self.dataset[kept[index]]\n        return x, self.label_map[int(y)]\n"), likely="__getitem__ scans"),
    # make_loader
    Mutant("make_loader", "ignores the seed", find=_SEEDED, replace="        generator = None\n", likely="ignoring the seed"),
    Mutant("make_loader", "seeds torch's global generator instead of the loader's own",
           find=_SEEDED, replace="        torch.manual_seed(seed)\n", likely="torch.manual_seed"),
    Mutant("make_loader", "drops the last, smaller batch", find=_LOADER,
           replace="        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, drop_last=True\n", likely="drop_last"),
    Mutant("make_loader", "never shuffles", find=_LOADER,
           replace="        dataset, batch_size=batch_size, shuffle=False, generator=generator\n", likely="never shuffles"),
    Mutant("make_loader", "always shuffles", find=_LOADER,
           replace="        dataset, batch_size=batch_size, shuffle=True, generator=generator\n", likely="always shuffles"),
    Mutant("make_loader", "shuffles once when the loader is built, so every epoch has the same order",
           find=_LOADER,
           replace=("        dataset, batch_size=batch_size,\n"
                    "        sampler=torch.randperm(len(dataset), generator=generator).tolist() if shuffle else None,\n"), likely="shuffle once"),
    # data_iter
    Mutant("data_iter", "does not shuffle", find=_PERM,
           replace="    indices = torch.arange(num_examples, device=features.device)\n", likely="never shuffle"),
    Mutant("data_iter", "drops the last, smaller batch", find="    for i in range(0, num_examples, batch_size):\n",
           replace="    for i in range(0, num_examples - batch_size + 1, batch_size):\n", likely="drops the last"),
    Mutant("data_iter", "yields an empty batch at the end when batch_size divides N",
           find="    for i in range(0, num_examples, batch_size):\n",
           replace="    for i in range(0, num_examples + 1, batch_size):\n", likely="empty batch"),
    Mutant("data_iter", "shuffles features and labels separately", find=_YIELD,
           replace="        yield features[batch_indices], labels[batch_indices.flip(0)]\n", likely="same shuffled indices"),
    Mutant("data_iter", "slices one example short", find=_SLICE,
           replace="    for i in range(0, num_examples, batch_size):\n        batch_indices = indices[i : i + batch_size - 1]\n", likely="one example short"),
    Mutant("data_iter", "ignores the generator (Python's random.shuffle, as in d2l)", find=_PERM,
           replace=("    import random\n    order = list(range(num_examples))\n    random.shuffle(order)\n"
                    "    indices = torch.tensor(order, device=features.device)\n"), likely="without the generator"),
    Mutant("data_iter", "returns the labels unbatched", find=_YIELD,
           replace="        yield features[batch_indices], labels\n", likely="all the labels"),
    # synthetic_data
    Mutant("synthetic_data", "noise of standard deviation 0.1", find=_NOISE,
           replace="    noise = torch.normal(0, 0.1, y.shape, generator=generator, dtype=dtype)\n", likely="standard deviation is 0.01"),
    Mutant("synthetic_data", "returns y of shape (N,)", find="    return X, y.reshape((-1, 1))\n",
           replace="    return X, y\n", likely="(N, 1)"),
    Mutant("synthetic_data", "forgets the bias b", find="    y = X @ w + b\n", replace="    y = X @ w\n", likely="forgot the bias"),
    Mutant("synthetic_data", "draws the noise from the global generator", find=_NOISE,
           replace="    noise = torch.normal(0, 0.01, y.shape, dtype=dtype)\n", likely="noise without the generator"),
    Mutant("synthetic_data", "draws X uniformly in [0, 1)", find=_X,
           replace="    X = torch.rand((num_examples, len(w)), generator=generator, dtype=dtype)\n", likely="torch.rand"),
    Mutant("synthetic_data", "makes float32 data whatever w's dtype",
           find="    dtype = w.dtype if w.is_floating_point() else torch.get_default_dtype()\n    w = w.to(dtype)\n",
           replace="    dtype = torch.float32\n    w = w.to(dtype)\n", likely="always float32"),
    # linreg
    Mutant("linreg", "forgets the bias", find="    return torch.matmul(X, w) + b\n", replace="    return torch.matmul(X, w)\n", likely="forgot the bias"),
    Mutant("linreg", "multiplies elementwise and sums, returning (B,)", find="    return torch.matmul(X, w) + b\n",
           replace="    return (X * w.reshape(-1)).sum(dim=1) + b\n", likely="elementwise and sum"),
    Mutant("linreg", "detaches w, so no gradient reaches it", find="    return torch.matmul(X, w) + b\n",
           replace="    return torch.matmul(X, w.detach()) + b\n", likely="detach w"),
    # squared_loss
    Mutant("squared_loss", "forgets the / 2", find="    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2\n",
           replace="    return (y_hat - y.reshape(y_hat.shape)) ** 2\n", likely="/ 2"),
    Mutant("squared_loss", "averages over the batch", find="    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2\n",
           replace="    return ((y_hat - y.reshape(y_hat.shape)) ** 2 / 2).mean()\n", likely="average over the batch"),
    Mutant("squared_loss", "forgets the reshape, broadcasting (B, 1) - (B,) into (B, B)",
           find="    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2\n", replace="    return (y_hat - y) ** 2 / 2\n", likely="y.reshape"),
    Mutant("squared_loss", "subtracts in place from y_hat", find="    return (y_hat - y.reshape(y_hat.shape)) ** 2 / 2\n",
           replace="    with torch.no_grad():\n        y_hat -= y.reshape(y_hat.shape)\n    return y_hat ** 2 / 2\n", likely="in place"),
    # sgd
    Mutant("sgd", "forgets the / batch_size", find=_SGD,
           replace="            param -= lr * param.grad\n            param.grad.zero_()\n", likely="divide it by batch_size"),
    Mutant("sgd", "never zeroes the gradients", find=_SGD, replace="            param -= lr * param.grad / batch_size\n", likely="never zero"),
    Mutant("sgd", "gradient ascent", find=_SGD,
           replace="            param += lr * param.grad / batch_size\n            param.grad.zero_()\n", likely="up the gradient"),
    Mutant("sgd", "zeroes the gradient before using it", find=_SGD,
           replace="            param.grad.zero_()\n            param -= lr * param.grad / batch_size\n", likely="before using it"),
    Mutant("sgd", "rebinds the loop variable, so the caller's tensors never change", find=_SGD,
           replace="            param = param - lr * param.grad / batch_size\n", likely="param = param"),
    Mutant("sgd", "uses torch.optim.SGD", find="    with torch.no_grad():\n        for param in params:\n" + _SGD,
           replace=("    optimizer = torch.optim.SGD(params, lr=lr / batch_size)\n"
                    "    optimizer.step()\n    optimizer.zero_grad(set_to_none=False)\n")),
    # train_linreg
    Mutant("train_linreg", "averages the loss before backward and divides again in sgd", find=_TRAIN_LOOP,
           replace=_TRAIN_LOOP.replace("loss.sum().backward()", "loss.mean().backward()"), likely="loss.mean()"),
    Mutant("train_linreg", "starts from zero weights", find=_W_INIT,
           replace="    w = torch.zeros((features.shape[1], 1))\n", likely="zero weights"),
    Mutant("train_linreg", "draws the initial w from the global generator", find=_W_INIT,
           replace="    w = torch.normal(0, 0.01, size=(features.shape[1], 1))\n", likely="initial w without the generator"),
    Mutant("train_linreg", "shuffles with the global generator (no generator to data_iter)", find=_TRAIN_LOOP,
           replace=_TRAIN_LOOP.replace("data_iter(batch_size, features, labels, generator)",
                                       "data_iter(batch_size, features, labels)"), likely="data_iter without the generator"),
    Mutant("train_linreg", "one epoch too few", find="    for _ in range(num_epochs):\n",
           replace="    for _ in range(num_epochs - 1):\n", likely="one epoch too few"),
    Mutant("train_linreg", "returns w and b still attached to autograd", find="    return w.detach(), b.detach()\n",
           replace="    return w, b\n", likely="still attached"),
    Mutant("train_linreg", "passes the number of examples to sgd instead of the batch size", find=_TRAIN_LOOP,
           replace=_TRAIN_LOOP.replace("sgd([w, b], lr, batch_size)", "sgd([w, b], lr, len(features))"), likely="number of examples"),
    # load_cifar_pair
    Mutant("load_cifar_pair", "forgets Normalize", find=_NORMALIZE, replace="", likely="forgot transforms.Normalize"),
    Mutant("load_cifar_pair", "normalises with the mean as std", find=_NORMALIZE,
           replace="            transforms.Normalize((0.4915, 0.4823, 0.4468), (0.4915, 0.4823, 0.4468)),\n", likely="not the mean again"),
    Mutant("load_cifar_pair", "always loads the training set", find=_CIFAR,
           replace=_CIFAR.replace("train=train", "train=True"), likely="training set"),
    Mutant("load_cifar_pair", "ignores label_map", find="    return LabelMappedDataset(cifar, label_map)\n",
           replace="    return LabelMappedDataset(cifar, {0: 0, 2: 1})\n", likely="ignore the label_map"),
    Mutant("load_cifar_pair", "returns all ten classes", find="    return LabelMappedDataset(cifar, label_map)\n",
           replace="    return cifar\n", likely="all ten classes"),
    Mutant("load_cifar_pair", "lets torchvision's RuntimeError through", find=_TRY,
           replace="    cifar = torchvision.datasets.CIFAR10(root, train=train, download=False, transform=transform)\n", likely="RuntimeError"),
    Mutant("load_cifar_pair", "only checks that the folder exists, not that the files are intact", find=_TRY,
           replace=("    if not folder.is_dir():\n"
                    "        raise FileNotFoundError(f\"CIFAR-10 not found in {folder}\")\n"
                    "    cifar = torchvision.datasets.CIFAR10(root, train=train, download=False, transform=transform)\n"), likely="folder exists is not enough"),
    Mutant("load_cifar_pair", "the error message does not name the folder", find=_MESSAGE,
           replace="        raise FileNotFoundError(\"CIFAR-10 not found: download it first\") from error\n", likely="name the folder"),
]

EQUIVALENTS = [
    Equivalent("ListDataset copies the list it is given", find="        self.samples = samples\n",
               replace="        self.samples = list(samples)\n"),
    Equivalent("LabelMappedDataset copies the kept samples into a list, like the tutorial",
               find="        self.dataset = dataset\n        self.label_map = dict(label_map)\n" + _LM_INIT,
               replace=("        self.label_map = dict(label_map)\n"
                        "        self.dataset = [(x, y) for x, y in dataset if int(y) in self.label_map]\n"
                        "        self.indices = list(range(len(self.dataset)))\n")),
    Equivalent("LabelMappedDataset scans with a for loop over the dataset", find=_LM_INIT,
               replace=("        self.indices = []\n"
                        "        for i, (_, y) in enumerate(dataset):\n"
                        "            if int(y) in self.label_map:\n"
                        "                self.indices.append(i)\n")),
    Equivalent("make_loader seeds a generator even without shuffling",
               find="    generator = None\n    if shuffle and seed is not None:\n" + _SEEDED,
               replace=("    generator = torch.Generator()\n    if seed is not None:\n        generator.manual_seed(seed)\n"
                        "    else:\n        generator = None\n")),
    Equivalent("data_iter in d2l's style (a list of indices, torch.tensor slices), with the generator",
               find=_PERM + _SLICE + _YIELD,
               replace=("    indices = list(range(num_examples))\n"
                        "    order = torch.randperm(num_examples, generator=generator).tolist()\n"
                        "    indices = [indices[j] for j in order]\n"
                        "    for i in range(0, num_examples, batch_size):\n"
                        "        batch_indices = torch.tensor(indices[i: min(i + batch_size, num_examples)])\n"
                        "        yield features[batch_indices], labels[batch_indices]\n")),
    # train_linreg runs the student's own data_iter: its checks must hold whatever order data_iter shuffles in
    Equivalent("data_iter with another shuffle (argsort of uniform numbers) and a print",
               find=_PERM,
               replace=("    indices = torch.argsort(torch.rand(num_examples, generator=generator)).to(features.device)\n"
                        "    print(f'{num_examples} examples in batches of {batch_size}')\n")),
    Equivalent("synthetic_data with randn, the d2l way", find=_X + "    X = X.to(w.device)\n    y = X @ w + b\n" + _NOISE,
               replace=("    X = torch.randn((num_examples, len(w)), generator=generator, dtype=dtype).to(w.device)\n"
                        "    y = torch.matmul(X, w) + b\n"
                        "    noise = torch.randn(y.shape, generator=generator, dtype=dtype) * 0.01\n")),
    Equivalent("linreg with the @ operator", find="    return torch.matmul(X, w) + b\n", replace="    return X @ w + b\n"),
    Equivalent("sgd updating .data and setting the gradients to None", find=_SGD,
               replace="            param.data.sub_(lr * param.grad / batch_size)\n            param.grad = None\n"),
    Equivalent("train_linreg printing the loss after each epoch like d2l", find=_TRAIN_LOOP,
               replace=(_TRAIN_LOOP + "        with torch.no_grad():\n"
                        "            train_l = squared_loss(linreg(features, w, b), labels)\n"
                        "            print(f'epoch {_ + 1}, loss {float(train_l.mean()):f}')\n")),
    Equivalent("load_cifar_pair with os.path and the transforms built inline",
               find="    folder = Path(root) / \"cifar-10-batches-py\"\n",
               replace="    import os\n    folder = os.path.join(root, \"cifar-10-batches-py\")\n"),
]
