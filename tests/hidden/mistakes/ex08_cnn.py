"""Typical mistakes in ex08_cnn, recognised from what the code returns (see grader/mistakes.py).

Each entry is the code a beginner plausibly writes for one item: a function, or for a class a
subclass of the reference class with ``__init__`` or ``forward`` written the wrong way. The order
matters only where two mistakes give the same result on a check: the first one listed is named.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from grader.mistakes import Mistakes

mistakes = Mistakes("ex08_cnn")


# ------------------------------------------------------------------ pick_device
def _pick_device(order=("cuda", "mps"), as_string=False, first_gpu="cuda"):
    def pick_device():
        available = {"cuda": torch.cuda.is_available, "mps": torch.backends.mps.is_available}
        for kind in order:
            if available[kind]():
                name = first_gpu if kind == "cuda" else kind
                return name if as_string else torch.device(name)
        return "cpu" if as_string else torch.device("cpu")
    return lambda reference: pick_device


mistakes.of("pick_device", "return a torch.device, e.g. torch.device(\"cpu\"), not the string "
                           "\"cpu\"")(_pick_device(as_string=True))
mistakes.of("pick_device", "you never ask for Apple's GPU: after CUDA, check torch.backends.mps.is_available() and "
                           "return torch.device(\"mps\")")(_pick_device(order=("cuda",)))
mistakes.of("pick_device", "ask for CUDA first, then MPS: a machine that has both should use "
                           "CUDA")(_pick_device(order=("mps", "cuda")))
mistakes.of("pick_device", "GPUs are numbered from 0: return torch.device(\"cuda\") (or \"cuda:0\"), the GPU in use, not "
                           "\"cuda:1\"")(_pick_device(first_gpu="cuda:1"))


_CUDA_WHEN_CALLED = ("on a machine with a GPU yours still gives the CPU: check torch.cuda.is_available() first, "
                     "inside pick_device() each time it is called (not once at import time)")


@mistakes.of("pick_device", _CUDA_WHEN_CALLED)
def pick_device_decided_once(reference):
    device = reference.pick_device()

    def pick_device():
        return device
    return pick_device


mistakes.of("pick_device", _CUDA_WHEN_CALLED)(_pick_device(order=("mps",)))


# ------------------------------------------------------------------ Net
def _net_forward(*, relu1=True, relu2=True, relu_fc1=True, pool1=F.max_pool2d, pool2=F.max_pool2d,
                 flatten_batch=False, activation=torch.relu, on_logits=None):
    """Net.forward with one step written the wrong way (the keyword names it); pool2=None: no second pooling."""
    def forward(self, x):
        out = self.conv1(x)
        out = pool1(activation(out) if relu1 else out, 2)
        out = self.conv2(out)
        out = activation(out) if relu2 else out
        out = pool2(out, 2) if pool2 is not None else out
        out = torch.flatten(out) if flatten_batch else torch.flatten(out, 1)
        out = self.fc1(out)
        out = activation(out) if relu_fc1 else out
        out = self.fc2(out)
        return on_logits(out) if on_logits is not None else out
    return forward


def _net_with(**options):
    def factory(reference):
        return type("Net", (reference.Net,), {"forward": _net_forward(**options)})
    return factory


mistakes.of("Net", "torch.flatten(out) also flattens the batch dimension: use torch.flatten(out, 1) (or "
                   "out.view(out.size(0), -1)) to keep one row per image")(_net_with(flatten_batch=True))
mistakes.of("Net", "pool after both convolutions: each block is F.max_pool2d(torch.relu(conv(x)), 2), so 32x32 "
                   "becomes 16x16 and then 8x8")(_net_with(pool2=None))
mistakes.of("Net", "you forgot the ReLU after conv2: each block is F.max_pool2d(torch.relu(conv(x)), "
                   "2)")(_net_with(relu2=False))
mistakes.of("Net", "you forgot the ReLU after conv1: each block is F.max_pool2d(torch.relu(conv(x)), "
                   "2)")(_net_with(relu1=False))
mistakes.of("Net", "you forgot the ReLUs after the convolutions: each block is F.max_pool2d(torch.relu(conv(x)), "
                   "2)")(_net_with(relu1=False, relu2=False))
mistakes.of("Net", "you forgot the ReLU after fc1: the hidden layer is torch.relu(self.fc1(out))")(
    _net_with(relu_fc1=False))
_MAX_POOL = "use max pooling, F.max_pool2d(out, 2), in both blocks, not average pooling"
mistakes.of("Net", _MAX_POOL)(_net_with(pool1=F.avg_pool2d, pool2=F.avg_pool2d))
mistakes.of("Net", _MAX_POOL)(_net_with(pool2=F.avg_pool2d))
mistakes.of("Net", _MAX_POOL)(_net_with(pool1=F.avg_pool2d))
mistakes.of("Net", "use ReLU (torch.relu) as the activation, not tanh as in the book's first "
                   "version")(_net_with(activation=torch.tanh))
mistakes.of("Net", "no activation on the output: return self.fc2(out) as raw logits (no ReLU at the "
                   "end)")(_net_with(on_logits=torch.relu))
mistakes.of("Net", "no softmax at the end: return the raw logits self.fc2(out); nn.CrossEntropyLoss applies the "
                   "softmax itself")(_net_with(on_logits=lambda out: torch.softmax(out, dim=1)))


def _net_init(*, padding1=1, padding2=1, fc1_in=8 * 8 * 8):
    def __init__(self):
        nn.Module.__init__(self)
        self.conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=padding1)
        self.conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=padding2)
        self.fc1 = nn.Linear(fc1_in, 32)
        self.fc2 = nn.Linear(32, 2)
    return __init__


def _net_built(**options):
    def factory(reference):
        return type("Net", (reference.Net,), {"__init__": _net_init(**options)})
    return factory


_PADDING = ("a convolution without padding=1 shrinks the image (32x32 becomes 30x30), so the pooled maps are "
            "no longer 8x8: give both convolutions padding=1 and fc1 8 * 8 * 8 inputs")
mistakes.of("Net", _PADDING)(_net_built(padding2=0, fc1_in=8 * 7 * 7))
mistakes.of("Net", _PADDING)(_net_built(padding1=0, fc1_in=8 * 7 * 7))
mistakes.of("Net", _PADDING)(_net_built(padding1=0, padding2=0, fc1_in=8 * 6 * 6))
mistakes.of("Net", _PADDING)(_net_built(padding1=0, padding2=0))
mistakes.of("Net", _PADDING)(_net_built(padding2=0))
mistakes.of("Net", _PADDING)(_net_built(padding1=0))


# ------------------------------------------------------------------ NetBatchNorm
def _bn_forward(*, block1="conv relu bn pool", block2="conv relu bn pool"):
    """NetBatchNorm.forward with the steps of each block in the given order."""
    def block(self, out, conv, batchnorm, order):
        for step in order.split():
            if step == "conv":
                out = conv(out)
            elif step == "relu":
                out = torch.relu(out)
            elif step == "bn":
                out = batchnorm(out)
            elif step == "pool":
                out = F.max_pool2d(out, 2)
        return out

    def forward(self, x):
        out = block(self, x, self.conv1, self.conv1_batchnorm, block1)
        out = block(self, out, self.conv2, self.conv2_batchnorm, block2)
        out = torch.flatten(out, 1)
        out = torch.relu(self.fc1(out))
        return self.fc2(out)
    return forward


def _bn_with(**options):
    def factory(reference):
        return type("NetBatchNorm", (reference.NetBatchNorm,), {"forward": _bn_forward(**options)})
    return factory


_BN_BEFORE_RELU = ("you apply the batch norm before the ReLU: the order in each block is conv, ReLU, batch norm, "
                   "pooling, F.max_pool2d(self.conv1_batchnorm(torch.relu(self.conv1(x))), 2)")
mistakes.of("NetBatchNorm", _BN_BEFORE_RELU)(_bn_with(block1="conv bn relu pool"))
mistakes.of("NetBatchNorm", _BN_BEFORE_RELU)(_bn_with(block1="conv bn relu pool", block2="conv bn relu pool"))
mistakes.of("NetBatchNorm", _BN_BEFORE_RELU)(_bn_with(block2="conv bn relu pool"))
_BN_AFTER_POOL = ("you apply the batch norm after the pooling: the order in each block is conv, ReLU, batch norm, "
                  "pooling, F.max_pool2d(self.conv2_batchnorm(torch.relu(self.conv2(out))), 2)")
mistakes.of("NetBatchNorm", _BN_AFTER_POOL)(_bn_with(block2="conv relu pool bn"))
mistakes.of("NetBatchNorm", _BN_AFTER_POOL)(_bn_with(block1="conv relu pool bn"))
mistakes.of("NetBatchNorm", _BN_AFTER_POOL)(_bn_with(block1="conv relu pool bn", block2="conv relu pool bn"))
_BN_NOT_CALLED = ("you create the batch norm layers but never call them in forward: each block is "
                  "F.max_pool2d(self.convN_batchnorm(torch.relu(self.convN(...))), 2)")
mistakes.of("NetBatchNorm", _BN_NOT_CALLED)(_bn_with(block2="conv relu pool"))
mistakes.of("NetBatchNorm", _BN_NOT_CALLED)(_bn_with(block1="conv relu pool"))
mistakes.of("NetBatchNorm", _BN_NOT_CALLED)(_bn_with(block1="conv relu pool", block2="conv relu pool"))


def _bn_init(*, channels=None, conv2_out=lambda n: n // 2, fc1_in=lambda n: 8 * 8 * (n // 2), affine1=True,
             affine2=True, norm=nn.BatchNorm2d):
    def __init__(self, n_chans1=16):
        nn.Module.__init__(self)
        if channels is not None:
            n_chans1 = channels
        self.conv1 = nn.Conv2d(3, n_chans1, kernel_size=3, padding=1)
        self.conv1_batchnorm = norm(n_chans1, affine=affine1)
        self.conv2 = nn.Conv2d(n_chans1, conv2_out(n_chans1), kernel_size=3, padding=1)
        self.conv2_batchnorm = norm(conv2_out(n_chans1), affine=affine2)
        self.fc1 = nn.Linear(fc1_in(n_chans1), 32)
        self.fc2 = nn.Linear(32, 2)
    return __init__


def _bn_built(**options):
    def factory(reference):
        return type("NetBatchNorm", (reference.NetBatchNorm,), {"__init__": _bn_init(**options)})
    return factory


mistakes.of("NetBatchNorm", "mind the parentheses: fc1 takes 8 * 8 * (n_chans1 // 2) inputs, and 8 * 8 * n_chans1 "
                            "// 2 is larger when n_chans1 is odd")(_bn_built(fc1_in=lambda n: 8 * 8 * n // 2))
mistakes.of("NetBatchNorm", "use the n_chans1 argument for the channel counts, not a fixed 16")(
    _bn_built(channels=16))
mistakes.of("NetBatchNorm", "fc1 must follow n_chans1 too: nn.Linear(8 * 8 * (n_chans1 // 2), 32), not a fixed "
                            "8 * 8 * 8")(_bn_built(fc1_in=lambda n: 8 * 8 * 8))
mistakes.of("NetBatchNorm", "conv2 halves the channels: nn.Conv2d(n_chans1, n_chans1 // 2, ...), with "
                            "conv2_batchnorm and fc1 sized for n_chans1 // 2")(
    _bn_built(conv2_out=lambda n: n, fc1_in=lambda n: 8 * 8 * n))
_AFFINE = ("keep the batch norm's learned scale and shift: nn.BatchNorm2d(n) with its default affine=True, not "
           "affine=False")
mistakes.of("NetBatchNorm", _AFFINE)(_bn_built(affine1=False))
mistakes.of("NetBatchNorm", _AFFINE)(_bn_built(affine2=False))
mistakes.of("NetBatchNorm", _AFFINE)(_bn_built(affine1=False, affine2=False))
mistakes.of("NetBatchNorm", "use nn.BatchNorm2d for (B, C, H, W) feature maps, not nn.BatchNorm1d")(
    _bn_built(norm=nn.BatchNorm1d))


# ------------------------------------------------------------------ NetDropout
def _dropout_forward(where="after fc1", p=None, always=False, keep_probability=False):
    """NetDropout.forward with the dropout in the wrong place or with the wrong switches."""
    def forward(self, x):
        rate = self.p if p is None else p
        rate = 1 - rate if keep_probability else rate
        training = True if always else self.training

        def drop(out):
            return F.dropout(out, p=rate, training=training)

        out = F.max_pool2d(torch.relu(self.conv1(x)), 2)
        if where == "conv blocks":
            out = F.dropout2d(out, p=rate, training=training)
        out = F.max_pool2d(torch.relu(self.conv2(out)), 2)
        if where == "conv blocks":
            out = F.dropout2d(out, p=rate, training=training)
        out = torch.flatten(out, 1)
        if where == "before fc1":
            out = drop(out)
        out = torch.relu(self.fc1(out))
        if where == "after fc1":
            out = drop(out)
        out = self.fc2(out)
        return drop(out) if where == "logits" else out
    return forward


def _dropout_with(**options):
    def factory(reference):
        return type("NetDropout", (reference.NetDropout,), {"forward": _dropout_forward(**options)})
    return factory


mistakes.of("NetDropout", "F.dropout drops even in eval mode unless told otherwise: pass training=self.training, "
                          "so that model.eval() switches it off")(_dropout_with(always=True))
mistakes.of("NetDropout", "use the model's own probability, p=self.p, not a fixed 0.5")(_dropout_with(p=0.5))
mistakes.of("NetDropout", "p is the probability of dropping a unit, not of keeping it: pass p=self.p, not "
                          "1 - self.p")(_dropout_with(keep_probability=True))
mistakes.of("NetDropout", "there is no dropout in your forward: add out = F.dropout(out, p=self.p, "
                          "training=self.training) after relu(fc1(...))")(_dropout_with(where="nowhere"))
mistakes.of("NetDropout", "the dropout goes after relu(fc1(...)), on the 32 hidden units, not on the flattened "
                          "convolution features before fc1")(_dropout_with(where="before fc1"))
mistakes.of("NetDropout", "the dropout goes after relu(fc1(...)), on the 32 hidden units, not on the output "
                          "logits")(_dropout_with(where="logits"))
mistakes.of("NetDropout", "the dropout goes after relu(fc1(...)), on the 32 hidden units, not in the convolution "
                          "blocks (no dropout2d)")(_dropout_with(where="conv blocks"))


# ------------------------------------------------------------------ ResidualBlock
def _res_forward(*, order1="conv bn relu", bn2=True, final="relu(out + shortcut)", shortcut="downsample"):
    def forward(self, x):
        out = x
        for step in order1.split():
            out = {"conv": self.conv1, "bn": self.bn1, "relu": self.relu}[step](out)
        out = self.conv2(out)
        if bn2:
            out = self.bn2(out)
        identity = self.downsample(x) if shortcut == "downsample" else x
        if final == "relu(out) + shortcut":
            return self.relu(out) + identity
        if final == "out + shortcut":
            return out + identity
        return self.relu(out + identity)
    return forward


def _res_with(**options):
    def factory(reference):
        return type("ResidualBlock", (reference.ResidualBlock,), {"forward": _res_forward(**options)})
    return factory


mistakes.of("ResidualBlock", "apply the last ReLU after adding the shortcut: return self.relu(out + "
                             "self.downsample(x))")(_res_with(final="out + shortcut"))
mistakes.of("ResidualBlock", "add the shortcut before the last ReLU: relu(out + shortcut), not relu(out) + "
                             "shortcut")(_res_with(final="relu(out) + shortcut"))
mistakes.of("ResidualBlock", "add self.downsample(x), not x itself: when the stride or the channels change, x has "
                             "another shape than out")(_res_with(shortcut="x"))
mistakes.of("ResidualBlock", "apply bn2 after conv2: out = self.bn2(self.conv2(out))")(_res_with(bn2=False))
mistakes.of("ResidualBlock", "apply bn1 after conv1: out = self.relu(self.bn1(self.conv1(x)))")(
    _res_with(order1="conv relu"))
mistakes.of("ResidualBlock", "the first step is conv1, then bn1, then the ReLU: relu(bn1(conv1(x))), not the "
                             "batch norm after the ReLU")(_res_with(order1="conv relu bn"))


def _res_init(*, stride1=True, bias1=False, bias2=False, conv2_in="out", padding=1, shortcut_when="stride or channels",
              shortcut_kernel=1, shortcut_bn=True, shortcut_bias=False):
    def __init__(self, in_channels, out_channels, stride=1):
        nn.Module.__init__(self)
        self.conv1 = nn.Conv2d(in_channels, out_channels, kernel_size=3, stride=stride if stride1 else 1,
                               padding=padding, bias=bias1)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU()
        self.conv2 = nn.Conv2d(out_channels if conv2_in == "out" else in_channels, out_channels, kernel_size=3,
                               stride=1 if stride1 else stride, padding=padding, bias=bias2)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.downsample = nn.Sequential()
        needed = {"stride or channels": stride != 1 or in_channels != out_channels,
                  "channels": in_channels != out_channels, "stride": stride != 1}[shortcut_when]
        if needed:
            layers = [nn.Conv2d(in_channels, out_channels, kernel_size=shortcut_kernel, stride=stride,
                                padding=shortcut_kernel // 2, bias=shortcut_bias)]
            if shortcut_bn:
                layers.append(nn.BatchNorm2d(out_channels))
            self.downsample = nn.Sequential(*layers)
    return __init__


def _res_built(**options):
    def factory(reference):
        return type("ResidualBlock", (reference.ResidualBlock,), {"__init__": _res_init(**options)})
    return factory


_BIAS = ("the convolutions take bias=False (the batch norm right after them has its own shift): "
         "nn.Conv2d(..., bias=False)")
mistakes.of("ResidualBlock", _BIAS)(_res_built(bias1=True))
mistakes.of("ResidualBlock", _BIAS)(_res_built(bias2=True))
mistakes.of("ResidualBlock", _BIAS)(_res_built(bias1=True, bias2=True))
mistakes.of("ResidualBlock", _BIAS)(_res_built(bias1=True, bias2=True, shortcut_bias=True))
mistakes.of("ResidualBlock", _BIAS)(_res_built(shortcut_bias=True))
mistakes.of("ResidualBlock", "the shortcut also needs a downsample when stride != 1, not only when the channels "
                             "change: if stride != 1 or in_channels != out_channels")(
    _res_built(shortcut_when="channels"))
mistakes.of("ResidualBlock", "the shortcut also needs a downsample when the channels change, not only when "
                             "stride != 1: if stride != 1 or in_channels != out_channels")(
    _res_built(shortcut_when="stride"))
mistakes.of("ResidualBlock", "put the stride on conv1 (stride=stride); conv2 always has stride 1")(
    _res_built(stride1=False))
mistakes.of("ResidualBlock", "the shortcut's convolution is 1x1 (kernel_size=1), not 3x3")(
    _res_built(shortcut_kernel=3))
mistakes.of("ResidualBlock", "the shortcut is a 1x1 convolution followed by nn.BatchNorm2d(out_channels): you "
                             "left out its batch norm")(_res_built(shortcut_bn=False))
mistakes.of("ResidualBlock", "conv2 takes the output of conv1, so its input channels are out_channels: "
                             "nn.Conv2d(out_channels, out_channels, 3, ...)")(_res_built(conv2_in="in"))
mistakes.of("ResidualBlock", "give both 3x3 convolutions padding=1, so the main path keeps the image size and "
                             "can be added to the shortcut")(_res_built(padding=0))


# ------------------------------------------------------------------ l2_penalty
def _penalty(square=lambda p: p.pow(2.0).sum(), keep=lambda name, p: True, scale=1.0, with_lambda=True,
             detach=False, zero_shortcut=False):
    def l2_penalty(model, l2_lambda):
        if zero_shortcut and l2_lambda == 0:
            return 0.0
        total = sum(square(p) for name, p in model.named_parameters() if keep(name, p))
        if detach:
            total = total.detach()
        value = torch.as_tensor(total)
        return scale * (l2_lambda * value if with_lambda else value)
    return lambda reference: l2_penalty


mistakes.of("l2_penalty", "keep the penalty a tensor (no .item(), float() or .detach()), so that loss + penalty "
                          "can be back-propagated")(_penalty(square=lambda p: p.pow(2.0).sum().item()))
mistakes.of("l2_penalty", "keep the penalty a tensor (no .item(), float() or .detach()), so that loss + penalty "
                          "can be back-propagated")(_penalty(detach=True))
mistakes.of("l2_penalty", "you forgot l2_lambda: multiply the sum of squares by l2_lambda")(
    _penalty(with_lambda=False))
mistakes.of("l2_penalty", "square the parameters, p.pow(2).sum(): the sum of absolute values is the L1 penalty, "
                          "not L2")(_penalty(square=lambda p: p.abs().sum()))
mistakes.of("l2_penalty", "p.norm() is the square root of the sum of squares: use p.pow(2).sum() (or "
                          "p.norm() ** 2)")(_penalty(square=lambda p: p.norm()))
mistakes.of("l2_penalty", "add up the squares with .sum(), not .mean()")(_penalty(square=lambda p: p.pow(2.0).mean()))
mistakes.of("l2_penalty", "the penalty is l2_lambda times the sum of squares, without a factor 1/2")(
    _penalty(scale=0.5))
_EVERY_PARAMETER = ("every parameter counts, biases and BatchNorm scales and shifts too: add up p.pow(2).sum() "
                    "for every p in model.parameters()")
mistakes.of("l2_penalty", _EVERY_PARAMETER)(_penalty(keep=lambda name, p: name.endswith("weight")))
mistakes.of("l2_penalty", _EVERY_PARAMETER)(_penalty(keep=lambda name, p: p.dim() > 1))
mistakes.of("l2_penalty", "frozen parameters (requires_grad=False) count too: do not filter on p.requires_grad")(
    _penalty(keep=lambda name, p: p.requires_grad))
mistakes.of("l2_penalty", "sum each parameter's squares with .sum() before adding the parameters together: "
                          "tensors of different shapes cannot be added")(_penalty(square=lambda p: p.pow(2.0)))
mistakes.of("l2_penalty", "return a 0-d tensor even when l2_lambda is 0 (l2_lambda * the sum), not the number "
                          "0")(_penalty(zero_shortcut=True))


# ------------------------------------------------------------------ train_epoch
def _train_epoch(*, train_mode=True, zero_grad="before", step=True, penalty="tensor", move=True, returned="mean",
                 batches="all", item=True):
    """A train_epoch with one step done the wrong way (the keyword names it)."""
    def factory(reference):
        def train_epoch(model, loader, optimizer, loss_fn, device, l2_lambda=0.0):
            if train_mode:
                model.train()
            total = 0.0
            n_batches = n_samples = 0
            weighted = 0.0
            data = list(loader)[:-1] if batches == "all but last" else loader
            loss = None
            for inputs, targets in data:
                if move:
                    inputs, targets = inputs.to(device), targets.to(device)
                base = loss_fn(model(inputs), targets)
                if penalty == "tensor":
                    loss = base + reference.l2_penalty(model, l2_lambda)
                elif penalty == "number":
                    loss = base + reference.l2_penalty(model, l2_lambda).item()
                else:
                    loss = base
                if zero_grad == "before":
                    optimizer.zero_grad()
                loss.backward()
                if zero_grad == "between":
                    optimizer.zero_grad()
                if step:
                    optimizer.step()
                if returned == "mean without penalty":
                    total += loss.item() - reference.l2_penalty(model, l2_lambda).item()
                else:
                    total += loss.item() if item else loss
                weighted += loss.item() * len(targets)
                n_batches += 1
                n_samples += len(targets)
            if returned == "last":
                return loss.item()
            if returned == "sum":
                return total
            if returned == "per sample":
                return weighted / n_samples
            if returned == "sum / samples":
                return total / n_samples
            return total / n_batches
        return train_epoch
    return factory


mistakes.of("train_epoch", "call optimizer.zero_grad() before each loss.backward(): otherwise the gradients of all "
                           "the batches add up")(_train_epoch(zero_grad="never"))
mistakes.of("train_epoch", "your weights never change: call optimizer.zero_grad() before loss.backward() (not "
                           "between backward() and step()), and optimizer.step() after it")(
    _train_epoch(zero_grad="between"))
mistakes.of("train_epoch", "call model.train() at the start: the model may have been left in eval mode, and "
                           "BatchNorm and Dropout behave differently there")(_train_epoch(train_mode=False))
mistakes.of("train_epoch", "return the mean loss over all batches, not the last batch's loss")(
    _train_epoch(returned="last"))
mistakes.of("train_epoch", "you return the sum of the batch losses: divide it by the number of batches")(
    _train_epoch(returned="sum"))
mistakes.of("train_epoch", "return total / number of batches, the mean of the batch losses, not an average per "
                           "sample")(_train_epoch(returned="per sample"))
mistakes.of("train_epoch", "return total / number of batches, the mean of the batch losses, not an average per "
                           "sample")(_train_epoch(returned="sum / samples"))
mistakes.of("train_epoch", "loop over every batch of the loader, the last (smaller) one too")(
    _train_epoch(batches="all but last"))
mistakes.of("train_epoch", "add the penalty to the loss before backward(): loss = loss_fn(model(inputs), targets) "
                           "+ l2_penalty(model, l2_lambda)")(_train_epoch(penalty="none"))
mistakes.of("train_epoch", "add the penalty as a tensor (no .item()), so that its gradient takes part in the "
                           "step")(_train_epoch(penalty="number"))
mistakes.of("train_epoch", "the returned mean includes the penalty: add up loss.item() of the total loss, loss_fn "
                           "+ l2_penalty")(_train_epoch(returned="mean without penalty"))
mistakes.of("train_epoch", "add loss.item() to the total, not the loss tensor, so that you return a Python "
                           "float")(_train_epoch(item=False))
mistakes.of("train_epoch", "move each batch to the device and keep the result: inputs = inputs.to(device) "
                           "(.to returns a new tensor)")(_train_epoch(move=False))


# ------------------------------------------------------------------ save_weights / load_weights
@mistakes.of("save_weights", "save model.state_dict() (with the parentheses), not the model object or the "
                             "method itself: torch.save(model.state_dict(), path)")
def save_weights_whole_model(reference):
    def save_weights(model, path):
        torch.save(model, path)
    return save_weights


@mistakes.of("save_weights", "save model.state_dict(), which holds the BatchNorm buffers (running_mean, ...) as "
                             "well as the parameters")
def save_weights_parameters_only(reference):
    def save_weights(model, path):
        torch.save(dict(model.named_parameters()), path)
    return save_weights


@mistakes.of("save_weights", "save model.state_dict(), not model.parameters() (a generator cannot be saved)")
def save_weights_parameter_generator(reference):
    def save_weights(model, path):
        torch.save(model.parameters(), path)
    return save_weights


_RETURN_MODEL = ("end load_weights with `return model`: yours returns something else (None without a return "
                 "statement, or the state_dict)")


@mistakes.of("load_weights", _RETURN_MODEL)
def load_weights_returns_nothing(reference):
    def load_weights(model, path, device=None):
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True))
        if device is not None:
            model.to(device)
    return load_weights


@mistakes.of("load_weights", _RETURN_MODEL)
def load_weights_returns_the_state_dict(reference):
    def load_weights(model, path, device=None):
        state_dict = torch.load(path, map_location=device, weights_only=True)
        model.load_state_dict(state_dict)
        if device is not None:
            model.to(device)
        return state_dict
    return load_weights


@mistakes.of("load_weights", "keep load_state_dict strict (the default): a file from another model must raise an "
                             "error, not load half of the weights (no strict=False)")
def load_weights_not_strict(reference):
    def load_weights(model, path, device=None):
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True), strict=False)
        if device is not None:
            model.to(device)
        return model
    return load_weights


@mistakes.of("load_weights", "torch.load only reads the file: copy its weights into the model with "
                             "model.load_state_dict(...) and return model")
def load_weights_never_loads(reference):
    def load_weights(model, path, device=None):
        return torch.load(path, map_location=device, weights_only=True)
    return load_weights


@mistakes.of("load_weights", "model.load_state_dict takes the dictionary that torch.load(path) returns, not the "
                             "path")
def load_weights_given_the_path(reference):
    def load_weights(model, path, device=None):
        model.load_state_dict(path)
        return model
    return load_weights


@mistakes.of("load_weights", "move the model to the device when one is given: torch.load(path, "
                             "map_location=device, ...) and model.to(device)")
def load_weights_ignores_the_device(reference):
    def load_weights(model, path, device=None):
        model.load_state_dict(torch.load(path, weights_only=True))
        return model
    return load_weights
