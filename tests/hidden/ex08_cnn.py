"""Hidden checks for ex08_cnn: the airplane/bird CNNs, dropout, batch norm, residual blocks, training.

The reference's and the student's models are different code, so the checks never copy weights
between them: ``grader.fixtures_ex08.seeded_weights`` fills each model's ``state_dict`` from the
check's seed and each entry's name, which gives both models equal weights exactly when the
attribute names and shapes follow the spec. Outputs, input and parameter gradients and
BatchNorm buffers are then read out where the model lives and compared. While the checks of
``train_epoch`` run, its calls to ``l2_penalty`` reach the kit's version (``kit=...``, computed by the
grader from the model's parameters; the gradient flows back through it), so it is graded on its own
loop. The ``load_weights`` checks deliberately read files written by the student's own ``save_weights``
(``uses=...``), and the feedback says so when that does not pass its own checks.
"""

from __future__ import annotations

import torch

from grader.suite import Side, Suite

suite = Suite("ex08_cnn")

FIX = "grader.fixtures_ex08:"


def seeded(side: Side, model: object) -> object:
    """``model`` with weights drawn from the check's seed and its state_dict names, on the device."""
    side.build(FIX + "seeded_weights", model, side.new_seed(), str(side.device))
    return model


def run(side: Side, model: object, x: torch.Tensor) -> object:
    """Output, gradients, buffers and mode after one seeded forward/backward pass."""
    return side.build(FIX + "forward_backward", model, x, side.new_seed())


def shapes(side: Side, model: object) -> object:
    return side.build(FIX + "state_shapes", model)


def images(side: Side, batch: int, size: int = 32) -> torch.Tensor:
    return side.randn(batch, 3, size, size)


# ------------------------------------------------------------------ pick_device
suite.item("pick_device", points=1, hint="""
DLwPT 8.4.3 ("Training on the GPU") picks the device in one line with a conditional expression; here you
need two questions: is there CUDA? if not, is there Apple's MPS? Otherwise, the CPU.

Return a torch.device, not a string. The checks simulate machines with and without a GPU, with one GPU
of each kind: is_available(), device_count() and torch.accelerator all agree, so any of them works, and
torch.device("cuda:0") counts as torch.device("cuda").

torch.device("cuda") when torch.cuda.is_available(), else torch.device("mps") when
torch.backends.mps.is_available(), else torch.device("cpu").
""")


def _pick(side: Side, cuda: bool, mps: bool) -> object:
    device = side.build(FIX + "pick_device_on", side.function("pick_device"), cuda, mps)
    side.expect(type(device) is torch.device,
                f"pick_device() returned {device!r}; return a torch.device, e.g. torch.device('cpu')")
    wanted = "cuda" if cuda else "mps" if mps else "cpu"
    side.expect(device.type == wanted,
                f"with torch.cuda.is_available() {cuda} and torch.backends.mps.is_available() {mps}, "
                f"pick_device() returned torch.device({device.type!r}); expected torch.device({wanted!r})")
    side.expect(device.index in (None, 0),
                f"pick_device() returned {device!r} on a simulated machine with one {wanted} device; expected "
                f"torch.device({wanted!r}) or torch.device('{wanted}:0'), the device in use")
    return device.type  # torch.device('cuda') and torch.device('cuda:0') are the same GPU here


@suite.check("pick_device", "pick_device() on this machine, where it answers as on a simulated one like it")
def pick_device_on_this_machine(side: Side) -> object:
    device = side.module.pick_device()
    side.expect(type(device) is torch.device,
                f"pick_device() returned {device!r}; return a torch.device, e.g. torch.device('cpu')")
    cuda, mps = side.build("torch.cuda:is_available"), side.build("torch.backends.mps:is_available")
    simulated = side.build(FIX + "pick_device_on", side.function("pick_device"), cuda, mps)
    side.expect(device == simulated,
                f"pick_device() returned {device!r} on this machine (torch.cuda.is_available() {cuda}, "
                f"torch.backends.mps.is_available() {mps}) but {simulated!r} on a simulated machine that answers "
                "the same: decide with torch.cuda.is_available() and torch.backends.mps.is_available(), when called")
    return "the device of the machine it runs on"  # the grader and the worker may see different devices


@suite.check("pick_device", "pick_device() on a simulated machine with an NVIDIA GPU")
def pick_device_with_cuda(side: Side) -> object:
    return _pick(side, cuda=True, mps=False)


@suite.check("pick_device", "pick_device() on a simulated Mac with MPS")
def pick_device_with_mps(side: Side) -> object:
    return _pick(side, cuda=False, mps=True)


@suite.check("pick_device", "pick_device() on a simulated machine offering both CUDA and MPS")
def pick_device_prefers_cuda(side: Side) -> object:
    return _pick(side, cuda=True, mps=True)


@suite.check("pick_device", "pick_device() on a simulated machine without a GPU")
def pick_device_without_gpu(side: Side) -> object:
    return _pick(side, cuda=False, mps=False)


# ------------------------------------------------------------------ Net
suite.item("Net", points=2, hint="""
DLwPT 8.3, the network as an nn.Module: create the layers as attributes in __init__ (after
super().__init__()) and chain them in forward. The names matter: weights are loaded by name.

Follow the shapes: (B, 3, 32, 32) -> (B, 16, 16, 16) -> (B, 8, 8, 8) -> (B, 512) -> (B, 2). Each
convolution block is conv, ReLU, then max pooling by 2 (F.max_pool2d needs its kernel size); flatten
keeping the batch dimension; fc1 with ReLU; fc2 with no activation.

conv1 = nn.Conv2d(3, 16, kernel_size=3, padding=1), conv2 = nn.Conv2d(16, 8, kernel_size=3, padding=1),
fc1 = nn.Linear(8 * 8 * 8, 32), fc2 = nn.Linear(32, 2). In forward: F.max_pool2d(torch.relu(self.conv1(x)),
2), the same with conv2, then torch.flatten(out, 1) (keeps the batch dimension), torch.relu(self.fc1(out)),
and self.fc2(out) with no activation.
""")


@suite.check("Net", "Net(): the names and shapes of its state_dict entries")
def net_layers(side: Side) -> object:
    return shapes(side, side.module.Net())


@suite.check("Net", "Net() with seeded weights on 4 random images: logits and gradients")
def net_forward_four_images(side: Side) -> object:
    model = seeded(side, side.module.Net())
    return run(side, model, images(side, 4))


@suite.check("Net", "Net() in eval mode on a batch of 1 image")
def net_forward_one_image(side: Side) -> object:
    model = seeded(side, side.module.Net())
    model.eval()
    return run(side, model, images(side, 1))


@suite.check("Net", "Net() on 3 images with large pixel values (x * 50)")
def net_forward_large_values(side: Side) -> object:
    model = seeded(side, side.module.Net())
    return run(side, model, images(side, 3) * 50)


# ------------------------------------------------------------------ NetBatchNorm
suite.item("NetBatchNorm", points=3, hint="""
DLwPT 8.5.2, batch normalization: Net with a width n = n_chans1, and an nn.BatchNorm2d after each
convolution, sized by that convolution's output channels. The class docstring lists the layers.

Mind the order inside a block: ReLU first, then the batch norm, then the pooling (the book normalizes
before the activation; here it comes after). Mind the parentheses in 8 * 8 * (n // 2): with n = 5 that
is 128, not 160.

conv1 (3 -> n), conv1_batchnorm = nn.BatchNorm2d(n), conv2 (n -> n // 2), conv2_batchnorm =
nn.BatchNorm2d(n // 2), fc1 = nn.Linear(8 * 8 * (n // 2), 32), fc2 = nn.Linear(32, 2). Each block is
F.max_pool2d(self.conv1_batchnorm(torch.relu(self.conv1(x))), 2).
""")


@suite.check("NetBatchNorm", "NetBatchNorm(): the names and shapes of its state_dict entries")
def netbn_layers_default(side: Side) -> object:
    return shapes(side, side.module.NetBatchNorm())


@suite.check("NetBatchNorm", "NetBatchNorm(n_chans1=6): the names and shapes of its state_dict entries")
def netbn_layers_six_channels(side: Side) -> object:
    return shapes(side, side.module.NetBatchNorm(n_chans1=6))


@suite.check("NetBatchNorm", "NetBatchNorm() in training mode on 4 images: logits, gradients, running statistics")
def netbn_forward_train(side: Side) -> object:
    model = seeded(side, side.module.NetBatchNorm())
    model.train()
    return run(side, model, images(side, 4))


@suite.check("NetBatchNorm", "NetBatchNorm() in eval mode on 3 images (uses the running statistics)")
def netbn_forward_eval(side: Side) -> object:
    model = seeded(side, side.module.NetBatchNorm())
    model.eval()
    return run(side, model, images(side, 3))


@suite.check("NetBatchNorm", "NetBatchNorm(n_chans1=5) in training mode on a batch of 2 images")
def netbn_forward_odd_channels(side: Side) -> object:
    model = seeded(side, side.module.NetBatchNorm(5))
    return run(side, model, images(side, 2))


@suite.check("NetBatchNorm", "NetBatchNorm(n_chans1=32) in eval mode on a batch of 1 image")
def netbn_forward_wide(side: Side) -> object:
    model = seeded(side, side.module.NetBatchNorm(n_chans1=32))
    model.eval()
    return run(side, model, images(side, 1))


# ------------------------------------------------------------------ NetDropout
suite.item("NetDropout", points=2, hint="""
DLwPT 8.5.2, dropout: Net's layers and forward, plus dropout on the hidden activations between fc1 and
fc2. Store p as self.p.

F.dropout drops by default, even after model.eval(): pass it training=self.training, which
model.train() and model.eval() switch. In eval mode NetDropout must give exactly Net's logits.

Same layers and forward as Net; right after out = torch.relu(self.fc1(out)) add
out = F.dropout(out, p=self.p, training=self.training).
""")


@suite.check("NetDropout", "NetDropout(): the names and shapes of its state_dict entries, and model.p")
def netdropout_layers(side: Side) -> object:
    model = side.module.NetDropout()
    return {"state_dict shapes": shapes(side, model), "model.p": model.p}


@suite.check("NetDropout", "NetDropout(p=0.5) in eval mode on 4 images (no dropout: Net's logits)")
def netdropout_eval(side: Side) -> object:
    model = seeded(side, side.module.NetDropout(p=0.5))
    model.eval()
    return run(side, model, images(side, 4))


@suite.check("NetDropout", "NetDropout(p=0.5) in training mode on 4 images, dropout masks drawn after a fixed seed")
def netdropout_train_seeded(side: Side) -> object:
    model = seeded(side, side.module.NetDropout(p=0.5))
    model.train()
    return run(side, model, images(side, 4))


@suite.check("NetDropout", "NetDropout(p=0.2) in training mode on 3 images, after a fixed seed")
def netdropout_train_custom_p(side: Side) -> object:
    model = seeded(side, side.module.NetDropout(p=0.2))
    return {"model.p": model.p, "forward": run(side, model, images(side, 3))}


@suite.check("NetDropout", "NetDropout(p=0.5): two training-mode calls differ, two eval-mode calls agree")
def netdropout_train_is_random(side: Side) -> object:
    model = seeded(side, side.module.NetDropout(p=0.5))
    x = images(side, 6)
    model.train()
    first, second = side.build(FIX + "outputs_without_grad", model, x, [11, 12])
    model.eval()
    third, fourth = side.build(FIX + "outputs_without_grad", model, x, [13, 14])
    side.expect(not torch.equal(first, second),
                "NetDropout in training mode gave the same logits twice: apply F.dropout after relu(fc1(...))")
    side.expect(torch.equal(third, fourth),
                "NetDropout in eval mode gave different logits for the same images: "
                "pass training=self.training to F.dropout")
    side.expect(not torch.equal(first, third),
                "NetDropout gave the same logits in training and eval mode: dropout is not applied while training")
    return third


@suite.check("NetDropout", "NetDropout(p=0.0) in training mode on 2 images equals eval mode")
def netdropout_zero_p(side: Side) -> object:
    model = seeded(side, side.module.NetDropout(p=0.0))
    return run(side, model, images(side, 2))


# ------------------------------------------------------------------ ResidualBlock
suite.item("ResidualBlock", points=3, hint="""
DLwPT 8.5.3, skip connections: two 3x3 convolutions with batch norm on the main path, plus a shortcut
that adds the input back. The layer names follow torchvision's ResNet; the class docstring lists them.

The shortcut must have the main path's shape: an empty nn.Sequential() (the identity) when stride is 1
and the channel count stays the same, otherwise a 1x1 convolution with the same stride plus a
BatchNorm2d. The shortcut is added before the last ReLU. ResidualBlock(16, 32, 2) maps (4, 16, 32, 32)
to (4, 32, 16, 16).

conv1 = nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False), bn1, relu =
nn.ReLU(), conv2 (out -> out, 3x3, stride 1, padding 1, no bias), bn2, downsample = nn.Sequential() or,
when stride != 1 or the channel count changes, nn.Sequential(nn.Conv2d(in_channels, out_channels, 1,
stride=stride, bias=False), nn.BatchNorm2d(out_channels)). forward: out = relu(bn1(conv1(x))); out =
bn2(conv2(out)); return relu(out + downsample(x)).
""")


@suite.check("ResidualBlock", "ResidualBlock(16, 16): state_dict names and shapes (empty downsample)")
def resblock_layers_identity(side: Side) -> object:
    return shapes(side, side.module.ResidualBlock(16, 16))


@suite.check("ResidualBlock", "ResidualBlock(8, 16, stride=2): state_dict names and shapes (1x1 downsample)")
def resblock_layers_downsample(side: Side) -> object:
    return shapes(side, side.module.ResidualBlock(8, 16, stride=2))


@suite.check("ResidualBlock", "ResidualBlock(6, 6, stride=2) and ResidualBlock(4, 8): state_dict names and shapes")
def resblock_layers_stride_or_channels(side: Side) -> object:
    return {"ResidualBlock(6, 6, stride=2)": shapes(side, side.module.ResidualBlock(6, 6, stride=2)),
            "ResidualBlock(4, 8)": shapes(side, side.module.ResidualBlock(4, 8))}


@suite.check("ResidualBlock", "ResidualBlock(4, 4) in training mode on (3, 4, 8, 8) maps")
def resblock_forward_identity(side: Side) -> object:
    model = seeded(side, side.module.ResidualBlock(4, 4))
    return run(side, model, side.randn(3, 4, 8, 8))


@suite.check("ResidualBlock", "ResidualBlock(3, 6, stride=2) in training mode on (2, 3, 7, 9) maps")
def resblock_forward_downsample(side: Side) -> object:
    model = seeded(side, side.module.ResidualBlock(3, 6, stride=2))
    return run(side, model, side.randn(2, 3, 7, 9))


@suite.check("ResidualBlock", "ResidualBlock(5, 5, stride=2) in eval mode on (2, 5, 6, 6) maps")
def resblock_forward_stride_only(side: Side) -> object:
    model = seeded(side, side.module.ResidualBlock(5, 5, stride=2))
    model.eval()
    return run(side, model, side.randn(2, 5, 6, 6))


@suite.check("ResidualBlock", "ResidualBlock(2, 4) in eval mode on a (1, 2, 5, 5) map")
def resblock_forward_channels_only(side: Side) -> object:
    model = seeded(side, side.module.ResidualBlock(2, 4))
    model.eval()
    return run(side, model, side.randn(1, 2, 5, 5))


# ------------------------------------------------------------------ l2_penalty
suite.item("l2_penalty", points=2, hint="""
DLwPT 8.5.2, weight penalties: l2_lambda times the sum of the squares of every parameter. Every
parameter counts: weights, biases and BatchNorm scales/shifts.

Keep it a tensor (no .item(), no detach) so that loss + penalty can be back-propagated: its gradient for
a parameter p is 2 * l2_lambda * p.

l2_norm = sum(p.pow(2.0).sum() for p in model.parameters()), then return l2_lambda * l2_norm.
""")


def _penalty(side: Side, model: object, l2_lambda: float) -> object:
    return side.build(FIX + "penalty_and_gradients", side.function("l2_penalty"), model, l2_lambda)


def _classifier(side: Side, **kwargs: object) -> object:
    return side.build("grader.fixtures:small_classifier", side.new_seed(), device=str(side.device), **kwargs)


@suite.check("l2_penalty", "l2_penalty(model, 0.01) on a small classifier with BatchNorm: value and gradients")
def l2_penalty_on_classifier(side: Side) -> object:
    return _penalty(side, _classifier(side, batch_norm=True), 0.01)


@suite.check("l2_penalty", "l2_penalty(nn.Linear(2, 1) with weight [[1, 2]] and bias [3], 0.5) (should be 7)")
def l2_penalty_on_known_layer(side: Side) -> object:
    layer = side.build("grader.fixtures:seeded_module", "Linear", 0, 2, 1)
    layer.to(side.device)
    side.build(FIX + "set_parameters", layer, [[[1.0, 2.0]], [3.0]])
    return _penalty(side, layer, 0.5)


@suite.check("l2_penalty", "l2_penalty(model, 0.0) is a zero 0-d tensor")
def l2_penalty_zero_lambda(side: Side) -> object:
    return _penalty(side, _classifier(side, n_hidden=5), 0.0)


@suite.check("l2_penalty", "l2_penalty on a float64 model whose first layer is frozen, l2_lambda=0.3")
def l2_penalty_frozen_float64(side: Side) -> object:
    model = _classifier(side, in_features=3, n_hidden=4, n_classes=2)
    side.build(FIX + "to_dtype_and_freeze", model, torch.float64, "0.")
    return _penalty(side, model, 0.3)


# ------------------------------------------------------------------ train_epoch
suite.item("train_epoch", points=3, timeout=10.0, kit=("l2_penalty",), hint="""
The body of DLwPT 8.4's training_loop for one epoch, on any device, with your l2_penalty added to the
loss. These checks run your own l2_penalty: make it pass first.

Start in training mode. .to(device) returns a new tensor: assign the result back (a common pitfall).
Return the mean over batches (total / number of batches) as a Python float, even when the last batch is
smaller.

model.train(). For every (inputs, targets) batch: inputs = inputs.to(device) and targets =
targets.to(device), loss = loss_fn(model(inputs), targets) + l2_penalty(model, l2_lambda),
optimizer.zero_grad(), loss.backward(), optimizer.step(), and add loss.item() to a running total.
Return total / number of batches.
""")


def _epoch(side: Side, model: object, loader: object, optimizer: object, l2_lambda: float,
           device: object = None) -> object:
    loss_fn = side.build("torch.nn:CrossEntropyLoss")
    device = side.device if device is None else device
    mean_loss = side.module.train_epoch(model, loader, optimizer, loss_fn, device, l2_lambda)
    return {"returned mean loss": mean_loss, "weights after the epoch": side.build(FIX + "state_of", model)}


def _data(side: Side, n: int, batch_size: int, on_cpu: bool = False) -> object:
    x, y = side.randn(n, 4), side.randint(0, 3, (n,))
    if on_cpu:
        x, y = x.cpu(), y.cpu()
    return side.build("grader.fixtures:tensor_loader", x, y, batch_size)


@suite.check("train_epoch", "train_epoch with your own l2_penalty, SGD(lr=0.1) on 10 samples in batches of 4, 4 "
             "and 2", rtol=1e-5)
def train_epoch_three_batches(side: Side) -> object:
    model = _classifier(side, batch_norm=True)
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=0.1)
    return _epoch(side, model, _data(side, 10, 4), optimizer, 0.0)


@suite.check("train_epoch", "train_epoch with your own l2_penalty, l2_lambda=0.05 on 9 samples in batches of 3",
             rtol=1e-5)
def train_epoch_with_penalty(side: Side) -> object:
    model = _classifier(side)
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=0.2)
    return _epoch(side, model, _data(side, 9, 3), optimizer, 0.05)


@suite.check("train_epoch", "train_epoch with your own l2_penalty on a BatchNorm model left in eval mode, "
             "l2_lambda=0.01", rtol=1e-5)
def train_epoch_switches_to_train_mode(side: Side) -> object:
    model = _classifier(side, batch_norm=True)
    model.eval()
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=0.1, momentum=0.9)
    return _epoch(side, model, _data(side, 12, 5), optimizer, 0.01)


@suite.check("train_epoch", "train_epoch with your own l2_penalty, Adam on one batch of 6 samples", rtol=1e-5)
def train_epoch_one_batch(side: Side) -> object:
    model = _classifier(side, n_hidden=6)
    optimizer = side.build("torch.optim:Adam", model.parameters(), lr=0.01)
    return _epoch(side, model, _data(side, 6, 8), optimizer, 0.0)


@suite.check("train_epoch", "train_epoch with your own l2_penalty, CPU batches and a model on the GPU", rtol=1e-5,
             requires="cuda")
def train_epoch_moves_batches(side: Side) -> object:
    model = _classifier(side, batch_norm=True)
    optimizer = side.build("torch.optim:SGD", model.parameters(), lr=0.1)
    return _epoch(side, model, _data(side, 10, 4, on_cpu=True), optimizer, 0.01, device=str(side.device))


# ------------------------------------------------------------------ save_weights / load_weights
suite.item("save_weights", points=1, hint="""
Save what the model has learned, not the model object: its state_dict, a dict of tensors named
"0.weight", "1.running_mean", ...

torch.save(model.state_dict(), path): a file of tensors only, so it can be loaded with
weights_only=True.
""")


@suite.check("save_weights", "save_weights on a classifier with BatchNorm, read back with torch.load(weights_only=True)")
def save_weights_writes_state_dict(side: Side) -> object:
    model = seeded(side, _classifier(side, batch_norm=True))
    path = side.build(FIX + "scratch_file")
    returned = side.module.save_weights(model, path)
    problem = side.build(FIX + "weights_file_problem", path)
    side.expect(problem is None, f"save_weights: {problem}")
    return {"file contents": side.build(FIX + "read_weights_file", path), "returned": returned,
            "model's state_dict after saving": side.build(FIX + "state_of", model)}


@suite.check("save_weights", "save_weights on nn.Linear(3, 2) to a path ending in .pth")
def save_weights_linear(side: Side) -> object:
    model = seeded(side, side.build("grader.fixtures:seeded_module", "Linear", 0, 3, 2))
    path = side.build(FIX + "scratch_file", ".pth")
    side.module.save_weights(model, path)
    problem = side.build(FIX + "weights_file_problem", path)
    side.expect(problem is None, f"save_weights: {problem}")
    return side.build(FIX + "read_weights_file", path)


suite.item("load_weights", points=1, uses=("save_weights",), hint="""
The reverse of save_weights: read the dict of tensors with torch.load (tensors only, mapped to device
while loading), then hand it to the model.

load_state_dict is strict: a file from another architecture must raise RuntimeError, so keep the
default. When device is not None, move the model there too, and return the model itself. The checks
load files written by your own save_weights: make it pass first.

state_dict = torch.load(path, map_location=device, weights_only=True);
model.load_state_dict(state_dict); if device is not None, model.to(device); return model.
""")


def _saved_classifier(side: Side, **kwargs: object) -> str:
    """A file written by the student's own ``save_weights`` from a seeded classifier; its path."""
    source = seeded(side, _classifier(side, **kwargs))
    path = side.build(FIX + "scratch_file")
    side.module.save_weights(source, path)
    return path


@suite.check("load_weights", "load_weights(fresh model, file written by your own save_weights, device) returns "
             "the same model holding the file's weights")
def load_weights_round_trip(side: Side) -> object:
    path = _saved_classifier(side, batch_norm=True)
    target = _classifier(side, batch_norm=True)
    returned = side.module.load_weights(target, path, side.device)
    return {"returned the model itself": side.build(FIX + "same_object", returned, target),
            "weights after loading": side.build(FIX + "state_of", target),
            "devices": side.build(FIX + "parameter_devices", target)}


@suite.check("load_weights", "load_weights(model, file written by your own save_weights) with the default "
             "device=None")
def load_weights_default_device(side: Side) -> object:
    path = _saved_classifier(side, n_hidden=5)
    target = _classifier(side, n_hidden=5)
    returned = side.module.load_weights(target, path)
    return {"returned the model itself": side.build(FIX + "same_object", returned, target),
            "weights after loading": side.build(FIX + "state_of", target)}


@suite.check("load_weights", "load_weights(model, file written by your own save_weights, 'cpu') with a device "
             "given as a string")
def load_weights_string_device(side: Side) -> object:
    path = _saved_classifier(side)
    target = _classifier(side)
    side.module.load_weights(target, path, "cpu")
    return {"weights after loading": side.build(FIX + "state_of", target),
            "devices": side.build(FIX + "parameter_devices", target)}


@suite.check("load_weights", "load_weights of a file your own save_weights wrote from a model with BatchNorm, "
             "into one without: RuntimeError")
def load_weights_rejects_other_architecture(side: Side) -> object:
    path = _saved_classifier(side, batch_norm=True)
    target = _classifier(side)
    return side.build(FIX + "error_of", side.function("load_weights"), target, path)


@suite.check("load_weights", "load_weights of a file your own save_weights wrote with other layer sizes: "
             "RuntimeError")
def load_weights_rejects_other_sizes(side: Side) -> object:
    path = _saved_classifier(side, n_hidden=8)
    target = _classifier(side, n_hidden=5)
    return side.build(FIX + "error_of", side.function("load_weights"), target, path)


@suite.check("load_weights", "load_weights(CPU model, file written by your own save_weights, 'cuda') moves the "
             "model to the GPU", requires="cuda")
def load_weights_moves_to_gpu(side: Side) -> object:
    path = _saved_classifier(side, batch_norm=True)
    target = side.build("grader.fixtures:small_classifier", side.new_seed(), batch_norm=True)
    side.module.load_weights(target, path, str(side.device))
    return {"weights after loading": side.build(FIX + "state_of", target),
            "devices": side.build(FIX + "parameter_devices", target)}
