"""Typical mistakes and correct variants for ex08_cnn (see tests/mutants/__init__.py)."""

from __future__ import annotations

from tests.mutants import Equivalent, Mutant

_NET_TAIL = (
    "        out = F.max_pool2d(torch.relu(self.conv2(out)), 2)\n"
    "        out = torch.flatten(out, 1)\n"
    "        out = torch.relu(self.fc1(out))\n"
    "        return self.fc2(out)\n"
)
_BN_BLOCK2 = "        out = F.max_pool2d(self.conv2_batchnorm(torch.relu(self.conv2(out))), 2)\n"
_DROPOUT = "        out = F.dropout(out, p=self.p, training=self.training)\n"
_RES_CONVS = (
    "            in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False\n"
    "        )\n"
    "        self.bn1 = nn.BatchNorm2d(out_channels)\n"
    "        self.relu = nn.ReLU()\n"
    "        self.conv2 = nn.Conv2d(\n"
    "            out_channels, out_channels, kernel_size=3, stride=1, padding=1, bias=False\n"
)
_RES_FORWARD = (
    "        out = self.relu(self.bn1(self.conv1(x)))\n"
    "        out = self.bn2(self.conv2(out))\n"
    "        return self.relu(out + self.downsample(x))\n"
)
_EPOCH_LOOP = (
    "        loss = loss_fn(model(inputs), targets) + l2_penalty(model, l2_lambda)\n"
    "        optimizer.zero_grad()\n"
    "        loss.backward()\n"
    "        optimizer.step()\n"
)

_CUDA_BLOCK = '    if torch.cuda.is_available():\n        return torch.device("cuda")\n'

MUTANTS = [
    # pick_device
    Mutant("pick_device", "forgets Apple's MPS",
           find='    if torch.backends.mps.is_available():\n        return torch.device("mps")\n', replace="", likely="Apple's GPU"),
    Mutant("pick_device", "asks for MPS before CUDA",
           find='    if torch.cuda.is_available():\n        return torch.device("cuda")\n'
                '    if torch.backends.mps.is_available():\n        return torch.device("mps")\n',
           replace='    if torch.backends.mps.is_available():\n        return torch.device("mps")\n'
                   '    if torch.cuda.is_available():\n        return torch.device("cuda")\n', likely='CUDA first'),
    Mutant("pick_device", "returns a string instead of a torch.device",
           find='    return torch.device("cpu")\n', replace='    return "cpu"\n', likely='not the string'),
    Mutant("pick_device", "returns the second GPU, cuda:1, on a machine with one",
           find=_CUDA_BLOCK, replace=_CUDA_BLOCK.replace('"cuda"', '"cuda:1"'), likely='numbered from 0'),
    # Net
    Mutant("Net", "forgets the ReLU after conv2",
           find=_NET_TAIL, replace=_NET_TAIL.replace("torch.relu(self.conv2(out))", "self.conv2(out)"), likely='ReLU after conv2'),
    Mutant("Net", "average pooling instead of max pooling",
           find=_NET_TAIL, replace=_NET_TAIL.replace("F.max_pool2d", "F.avg_pool2d"), likely='max pooling'),
    Mutant("Net", "forgets the ReLU after fc1",
           find=_NET_TAIL, replace=_NET_TAIL.replace("torch.relu(self.fc1(out))", "self.fc1(out)"), likely='ReLU after fc1'),
    Mutant("Net", "a ReLU on the output logits",
           find=_NET_TAIL, replace=_NET_TAIL.replace("return self.fc2(out)", "return torch.relu(self.fc2(out))"), likely='no activation on the output'),
    Mutant("Net", "flattens the batch dimension too",
           find=_NET_TAIL, replace=_NET_TAIL.replace("torch.flatten(out, 1)", "torch.flatten(out)"), likely='flatten(out, 1)'),
    Mutant("Net", "conv2 without padding (and fc1 sized for it)",
           find="        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1)\n"
                "        self.fc1 = nn.Linear(8 * 8 * 8, 32)\n        self.fc2 = nn.Linear(32, 2)\n\n"
                "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
                '        """Compute the logits of a batch of images.\n\n        Each block',
           replace="        self.conv2 = nn.Conv2d(16, 8, kernel_size=3)\n"
                   "        self.fc1 = nn.Linear(8 * 7 * 7, 32)\n        self.fc2 = nn.Linear(32, 2)\n\n"
                   "    def forward(self, x: torch.Tensor) -> torch.Tensor:\n"
                   '        """Compute the logits of a batch of images.\n\n        Each block', likely='padding=1'),
    # NetBatchNorm
    Mutant("NetBatchNorm", "batch norm before the ReLU",
           find="self.conv1_batchnorm(torch.relu(self.conv1(x)))",
           replace="torch.relu(self.conv1_batchnorm(self.conv1(x)))", likely='before the ReLU'),
    Mutant("NetBatchNorm", "batch norm after the pooling in the second block",
           find=_BN_BLOCK2,
           replace="        out = self.conv2_batchnorm(F.max_pool2d(torch.relu(self.conv2(out)), 2))\n", likely='after the pooling'),
    Mutant("NetBatchNorm", "skips conv2_batchnorm in forward",
           find=_BN_BLOCK2, replace="        out = F.max_pool2d(torch.relu(self.conv2(out)), 2)\n", likely='never call them'),
    Mutant("NetBatchNorm", "ignores n_chans1 (always 16 channels)",
           find="        self.conv1 = nn.Conv2d(3, n_chans1, kernel_size=3, padding=1)\n",
           replace="        n_chans1 = 16\n        self.conv1 = nn.Conv2d(3, n_chans1, kernel_size=3, padding=1)\n", likely='n_chans1 argument'),
    Mutant("NetBatchNorm", "the tutorial's 8 * 8 * n_chans1 // 2 (wrong for odd n_chans1)",
           find="nn.Linear(8 * 8 * (n_chans1 // 2), 32)", replace="nn.Linear(8 * 8 * n_chans1 // 2, 32)", likely='parentheses'),
    Mutant("NetBatchNorm", "batch norm without learned scale and shift",
           find="        self.conv1_batchnorm = nn.BatchNorm2d(n_chans1)\n",
           replace="        self.conv1_batchnorm = nn.BatchNorm2d(n_chans1, affine=False)\n", likely='affine'),
    # NetDropout
    Mutant("NetDropout", "dropout ignores self.training (always on)",
           find=_DROPOUT, replace="        out = F.dropout(out, p=self.p)\n", likely='training=self.training'),
    Mutant("NetDropout", "dropout with a fixed p=0.5",
           find=_DROPOUT, replace="        out = F.dropout(out, p=0.5, training=self.training)\n", likely='fixed 0.5'),
    Mutant("NetDropout", "no dropout at all", find=_DROPOUT, replace="", likely='no dropout'),
    Mutant("NetDropout", "dropout on the flattened conv features instead of after fc1",
           find="        out = torch.relu(self.fc1(out))\n" + _DROPOUT,
           replace=_DROPOUT + "        out = torch.relu(self.fc1(out))\n", likely='flattened convolution features'),
    Mutant("NetDropout", "dropout on the logits",
           find=_DROPOUT + "        return self.fc2(out)\n",
           replace="        return F.dropout(self.fc2(out), p=self.p, training=self.training)\n", likely='output logits'),
    # ResidualBlock
    Mutant("ResidualBlock", "missing final ReLU",
           find="        return self.relu(out + self.downsample(x))\n",
           replace="        return out + self.downsample(x)\n", likely='last ReLU after adding'),
    Mutant("ResidualBlock", "ReLU before adding the shortcut",
           find="        return self.relu(out + self.downsample(x))\n",
           replace="        return self.relu(out) + self.downsample(x)\n", likely='before the last ReLU'),
    Mutant("ResidualBlock", "adds x itself even when a downsample exists",
           find="        return self.relu(out + self.downsample(x))\n",
           replace="        return self.relu(out + x)\n", likely='not x itself'),
    Mutant("ResidualBlock", "downsample only when the channels change (forgets the stride)",
           find="        if stride != 1 or in_channels != out_channels:\n",
           replace="        if in_channels != out_channels:\n", likely='when stride != 1'),
    Mutant("ResidualBlock", "conv1 with a bias",
           find="kernel_size=3, stride=stride, padding=1, bias=False",
           replace="kernel_size=3, stride=stride, padding=1, bias=True", likely='bias=False'),
    Mutant("ResidualBlock", "the stride on conv2 instead of conv1",
           find=_RES_CONVS,
           replace=_RES_CONVS.replace("stride=stride", "stride=STRIDE").replace("stride=1", "stride=stride")
                             .replace("stride=STRIDE", "stride=1"), likely='stride on conv1'),
    Mutant("ResidualBlock", "skips bn2",
           find="        out = self.bn2(self.conv2(out))\n", replace="        out = self.conv2(out)\n", likely='apply bn2'),
    Mutant("ResidualBlock", "a 3x3 convolution in the downsample",
           find="nn.Conv2d(in_channels, out_channels, kernel_size=1, stride=stride, bias=False)",
           replace="nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride, padding=1, bias=False)", likely='1x1'),
    # l2_penalty
    Mutant("l2_penalty", "L1 instead of L2 (absolute values)",
           find="p.pow(2.0).sum() for p", replace="p.abs().sum() for p", likely='L1'),
    Mutant("l2_penalty", "forgets l2_lambda",
           find="    return l2_lambda * torch.as_tensor(l2_norm)\n", replace="    return torch.as_tensor(l2_norm)\n", likely='forgot l2_lambda'),
    Mutant("l2_penalty", "only the weights, not the biases",
           find="p.pow(2.0).sum() for p in model.parameters())",
           replace="p.pow(2.0).sum() for name, p in model.named_parameters() if name.endswith('weight'))", likely='biases'),
    Mutant("l2_penalty", "sum of norms instead of squared norms",
           find="p.pow(2.0).sum() for p", replace="p.norm() for p", likely='p.norm()'),
    Mutant("l2_penalty", "detached from the graph (.item())",
           find="p.pow(2.0).sum() for p", replace="p.pow(2.0).sum().item() for p", likely='keep the penalty a tensor'),
    Mutant("l2_penalty", "only the trainable parameters",
           find="p.pow(2.0).sum() for p in model.parameters())",
           replace="p.pow(2.0).sum() for p in model.parameters() if p.requires_grad)", likely='requires_grad'),
    # train_epoch
    Mutant("train_epoch", "never zeroes the gradients",
           find=_EPOCH_LOOP, replace=_EPOCH_LOOP.replace("        optimizer.zero_grad()\n", ""), likely='zero_grad'),
    Mutant("train_epoch", "forgets model.train()",
           find="    model.train()\n    total = 0.0\n", replace="    total = 0.0\n", likely='model.train()'),
    Mutant("train_epoch", "returns the last batch's loss",
           find="    return total / n_batches\n", replace="    return loss.item()\n", likely="last batch's loss"),
    Mutant("train_epoch", "returns the sum over batches",
           find="    return total / n_batches\n", replace="    return total\n", likely='sum of the batch losses'),
    Mutant("train_epoch", "per-sample mean instead of the mean over batches",
           find="        total += loss.item()\n        n_batches += 1\n",
           replace="        total += loss.item() * len(targets)\n        n_batches += len(targets)\n", likely='per sample'),
    Mutant("train_epoch", "drops the last batch",
           find="    for inputs, targets in loader:\n", replace="    for inputs, targets in list(loader)[:-1]:\n", likely='every batch'),
    Mutant("train_epoch", "does not add the penalty",
           find=_EPOCH_LOOP, replace=_EPOCH_LOOP.replace(" + l2_penalty(model, l2_lambda)", ""), likely='add the penalty to the loss'),
    Mutant("train_epoch", "adds the penalty as a number (not optimized)",
           find=_EPOCH_LOOP, replace=_EPOCH_LOOP.replace("l2_penalty(model, l2_lambda)",
                                                         "l2_penalty(model, l2_lambda).item()"), likely='as a tensor'),
    Mutant("train_epoch", "returns the mean without the penalty",
           find="        total += loss.item()\n",
           replace="        total += loss.item() - l2_penalty(model, l2_lambda).item()\n", likely='includes the penalty'),
    # save_weights / load_weights
    Mutant("save_weights", "saves the whole model object",
           find="    torch.save(model.state_dict(), path)\n", replace="    torch.save(model, path)\n", likely='not the model object',
           also=("load_weights",)),
    Mutant("save_weights", "saves only the parameters (no BatchNorm buffers)",
           find="    torch.save(model.state_dict(), path)\n",
           replace="    torch.save(dict(model.named_parameters()), path)\n", likely='buffers',
           also=("load_weights",)),
    Mutant("load_weights", "returns nothing",
           find="        model.to(device)\n    return model\n", replace="        model.to(device)\n", likely='without a return statement'),
    Mutant("load_weights", "returns the state_dict",
           find="        model.to(device)\n    return model\n",
           replace="        model.to(device)\n    return state_dict\n", likely='or the state_dict'),
    Mutant("load_weights", "loads with strict=False",
           find="    model.load_state_dict(state_dict)\n", replace="    model.load_state_dict(state_dict, strict=False)\n", likely='strict'),
]

EQUIVALENTS = [
    Equivalent("pick_device in the tutorial's one line with torch.mps",
               find='    if torch.cuda.is_available():\n        return torch.device("cuda")\n'
                    '    if torch.backends.mps.is_available():\n        return torch.device("mps")\n'
                    '    return torch.device("cpu")\n',
               replace="    return torch.device('cuda' if torch.cuda.is_available() else 'mps' "
                       "if torch.mps.is_available() else 'cpu')\n"),
    Equivalent("pick_device with d2l's try_gpu: torch.device(f'cuda:{i}') if device_count() >= i + 1",
               find=_CUDA_BLOCK,
               replace="    i = 0\n    if torch.cuda.device_count() >= i + 1:\n        return torch.device(f'cuda:{i}')\n"),
    Equivalent("pick_device with torch.cuda.device_count() > 0",
               find=_CUDA_BLOCK, replace=_CUDA_BLOCK.replace("is_available()", "device_count() > 0")),
    Equivalent("pick_device with torch.cuda.is_available() and the current GPU's index",
               find=_CUDA_BLOCK,
               replace=_CUDA_BLOCK.replace('torch.device("cuda")', 'torch.device("cuda", torch.cuda.current_device())')),
    Equivalent("pick_device with torch.backends.mps.is_built() and is_available(), and torch.mps.device_count()",
               find='    if torch.backends.mps.is_available():\n',
               replace="    if torch.backends.mps.is_built() and torch.backends.mps.is_available() "
                       "and torch.mps.device_count() > 0:\n"),
    Equivalent("pick_device with the PyTorch quickstart's torch.accelerator",
               find=_CUDA_BLOCK + '    if torch.backends.mps.is_available():\n        return torch.device("mps")\n',
               replace="    if torch.accelerator.is_available():\n"
                       "        return torch.device(torch.accelerator.current_accelerator().type)\n"),
    Equivalent("Net flattens with the tutorial's out.view(-1, 8 * 8 * 8) and uses F.relu",
               find=_NET_TAIL,
               replace=_NET_TAIL.replace("torch.flatten(out, 1)", "out.view(-1, 8 * 8 * 8)")
                                .replace("torch.relu", "F.relu")),
    Equivalent("NetBatchNorm flattens with out.view(out.size(0), -1) and kernel_size=2",
               find=_BN_BLOCK2 + "        out = torch.flatten(out, 1)\n",
               replace=_BN_BLOCK2.replace(", 2)", ", kernel_size=2)") + "        out = out.view(out.size(0), -1)\n"),
    Equivalent("NetDropout applies the dropout before the ReLU (same mask, same result)",
               find="        out = torch.relu(self.fc1(out))\n" + _DROPOUT,
               replace="        out = F.dropout(self.fc1(out), p=self.p, training=self.training)\n"
                       "        out = torch.relu(out)\n"),
    Equivalent("NetDropout with positional arguments to torch.dropout",
               find=_DROPOUT, replace="        out = torch.dropout(out, self.p, self.training)\n"),
    Equivalent("ResidualBlock forward written like the tutorial (identity, in-place +=)",
               find=_RES_FORWARD,
               replace="        identity = x\n        out = self.conv1(x)\n        out = self.bn1(out)\n"
                       "        out = self.relu(out)\n        out = self.conv2(out)\n        out = self.bn2(out)\n"
                       "        out += self.downsample(identity)\n        out = self.relu(out)\n        return out\n"),
    Equivalent("ResidualBlock with the tutorial's nn.ReLU(inplace=True)",
               find="        self.relu = nn.ReLU()\n", replace="        self.relu = nn.ReLU(inplace=True)\n"),
    Equivalent("l2_penalty with torch.sum of squares and a loop",
               find="    l2_norm = sum(p.pow(2.0).sum() for p in model.parameters())\n"
                    "    return l2_lambda * torch.as_tensor(l2_norm)\n",
               replace="    l2_norm = 0.0\n    for p in model.parameters():\n"
                       "        l2_norm = l2_norm + torch.sum(p ** 2)\n    return l2_lambda * l2_norm\n"),
    Equivalent("train_epoch in the tutorial's style, printing progress and counting with enumerate",
               find="    for inputs, targets in loader:\n        inputs, targets = inputs.to(device), targets.to(device)\n",
               replace="    for batch_index, (inputs, targets) in enumerate(loader):\n"
                       "        inputs = inputs.to(device)\n        targets = targets.to(device)\n"
                       "        print(f'batch {batch_index}')\n"),
    Equivalent("load_weights with torch.load's defaults, then model.to(device)",
               find="    state_dict = torch.load(path, map_location=device, weights_only=True)\n",
               replace="    state_dict = torch.load(path)\n"),
]
