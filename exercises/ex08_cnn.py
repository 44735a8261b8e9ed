"""Convolutional networks: the airplane/bird classifier on 32x32 CIFAR-10 images.

What you learn: how ``nn.Conv2d`` and ``F.max_pool2d`` shrink an image step by step, how to
write a model as an ``nn.Module`` class, how to pick a GPU when there is one, and three ways to
make a network train better: L2 regularization, dropout and batch normalization, plus the
residual block that ResNet is built from. You also write one training epoch that runs on any
device and save/load a model's weights.

Follows "Deep Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning 2020; DLwPT below),
chapter 8 "Using convolutions to generalize": convolutions and pooling (8.2), the network as an
``nn.Module`` subclass (8.3), training on the GPU and saving the weights (8.4), and model design
(8.5: weight penalties, dropout, batch normalization, and the skip connections of ResNet). Names
such as ``Net``, ``conv1``, ``conv1_batchnorm`` and ``fc1`` are the book's; ``ResidualBlock`` uses
the layer names of torchvision's ResNet.

How to work: fill in each function and class, then run ``grade check ex08``
(or a single item, e.g. ``grade check ex08.Net``).
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Iterable

import torch
import torch.nn.functional as F  # noqa: F401, RUF100 (used by the solution)
from torch import nn


def pick_device() -> torch.device:
    """Return the fastest device this machine offers: CUDA, then Apple MPS, then the CPU.

    Training a CNN on a GPU is often ten times faster than on the CPU. Code that asks for the
    device once and then moves the model and every batch there runs unchanged on an NVIDIA
    card, on a Mac, and on a laptop without a GPU.

    Returns:
        ``torch.device("cuda")`` if ``torch.cuda.is_available()``, else ``torch.device("mps")``
        if ``torch.backends.mps.is_available()``, else ``torch.device("cpu")``.
        ``torch.device("cuda:0")``, the first GPU, is as good as ``torch.device("cuda")``; any
        probe of the GPUs (``torch.cuda.device_count()``, ``torch.accelerator``) may decide.

    Example:
        >>> pick_device().type in {"cuda", "mps", "cpu"}
        True

    Hint: DLwPT 8.4.3 picks the device in one line with a conditional expression; here
    you need two.
    """
    raise NotImplementedError(
        "ex08.pick_device is not implemented yet: see its docstring, then run `grade check ex08.pick_device`"
    )


class Net(nn.Module):
    """The small CNN of DLwPT 8.3 that tells airplanes (class 0) from birds (class 1).

    Two convolution blocks extract local features; each halves the image with max pooling,
    so 32x32 becomes 16x16 and then 8x8. Two fully connected layers turn the 8 channels of
    8x8 features into two logits. Layers (the names are part of the contract, because
    weights are loaded by name):

    - ``conv1``: ``nn.Conv2d(3, 16, kernel_size=3, padding=1)``
    - ``conv2``: ``nn.Conv2d(16, 8, kernel_size=3, padding=1)``
    - ``fc1``: ``nn.Linear(8 * 8 * 8, 32)``
    - ``fc2``: ``nn.Linear(32, 2)``

    Shapes through ``forward`` for a batch of B images:
    (B, 3, 32, 32) -conv1, relu-> (B, 16, 32, 32) -pool-> (B, 16, 16, 16)
    -conv2, relu-> (B, 8, 16, 16) -pool-> (B, 8, 8, 8) -flatten-> (B, 512)
    -fc1, relu-> (B, 32) -fc2-> (B, 2).

    Example:
        >>> model = Net()
        >>> model(torch.zeros(4, 3, 32, 32)).shape
        torch.Size([4, 2])
        >>> sum(p.numel() for p in model.parameters())
        18090
    """

    def __init__(self) -> None:
        """Create the layers ``conv1``, ``conv2``, ``fc1`` and ``fc2`` (see the class docstring)."""
        raise NotImplementedError(
            "ex08.Net is not implemented yet: see its docstring, then run `grade check ex08.Net`"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the logits of a batch of images.

        Each block is ``max_pool2d(relu(conv(x)), 2)``; then flatten everything but the batch
        dimension, ``relu(fc1(...))`` and ``fc2(...)``. No softmax at the end:
        ``nn.CrossEntropyLoss`` expects raw logits.

        Args:
            x: (B, 3, 32, 32) float32 images, on the same device as the model.

        Returns:
            (B, 2) float32 logits, one row per image.

        Hint: ``F.max_pool2d`` without a kernel size fails (a common slip when copying
        code); give it ``2``. ``torch.flatten(out, 1)`` keeps the batch dimension, even for B = 1.
        """
        raise NotImplementedError(
            "ex08.Net.forward is not implemented yet: see its docstring, then run `grade check ex08.Net`"
        )


class NetBatchNorm(nn.Module):
    """``Net`` with a width parameter and batch normalization after each convolution block.

    Batch normalization rescales each channel to zero mean and unit variance over the batch
    (with a learned scale and shift), which lets a network train faster with a larger
    learning rate. In training mode it uses the batch statistics and updates its running
    averages; in eval mode it uses the running averages. Layers, with ``n = n_chans1``:

    - ``conv1``: ``nn.Conv2d(3, n, kernel_size=3, padding=1)``
    - ``conv1_batchnorm``: ``nn.BatchNorm2d(n)``
    - ``conv2``: ``nn.Conv2d(n, n // 2, kernel_size=3, padding=1)``
    - ``conv2_batchnorm``: ``nn.BatchNorm2d(n // 2)``
    - ``fc1``: ``nn.Linear(8 * 8 * (n // 2), 32)``
    - ``fc2``: ``nn.Linear(32, 2)``

    Args:
        n_chans1: number of channels of the first convolution (an int >= 2); the second
            convolution has ``n_chans1 // 2``.

    Example:
        >>> model = NetBatchNorm(n_chans1=32)
        >>> model(torch.zeros(4, 3, 32, 32)).shape
        torch.Size([4, 2])
        >>> model.fc1.in_features
        1024
    """

    def __init__(self, n_chans1: int = 16) -> None:
        """Create the layers listed in the class docstring for ``n_chans1`` channels."""
        raise NotImplementedError(
            "ex08.NetBatchNorm is not implemented yet: see its docstring, then run `grade check ex08.NetBatchNorm`"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the logits of a batch of images.

        Each block is ``max_pool2d(batchnorm(relu(conv(x))), 2)``, in exactly that order
        (DLwPT 8.5.2 normalizes before the activation; here it comes after); then flatten,
        ``relu(fc1(...))`` and ``fc2(...)``.

        Args:
            x: (B, 3, 32, 32) float32 images, on the same device as the model. In training
                mode B must be at least 2 (batch statistics need two samples).

        Returns:
            (B, 2) float32 logits.

        Hint: ``self.conv1_batchnorm`` is a module; call it like a function.
        """
        raise NotImplementedError(
            "ex08.NetBatchNorm.forward is not implemented yet: see its docstring, then run `grade check ex08.NetBatchNorm`"
        )


class NetDropout(nn.Module):
    """``Net`` with dropout between the two fully connected layers.

    Dropout zeroes each hidden unit with probability ``p`` during training (and scales the
    others by ``1 / (1 - p)``), so the network cannot rely on any single unit and overfits
    less. At evaluation time it must do nothing, so the output becomes deterministic.
    The layers are exactly ``Net``'s: ``conv1``, ``conv2``, ``fc1``, ``fc2`` with the same
    shapes; ``p`` is stored as ``self.p``.

    Args:
        p: probability of zeroing a unit, a float in [0, 1).

    Example:
        >>> model = NetDropout(p=0.5).eval()
        >>> x = torch.zeros(4, 3, 32, 32)
        >>> torch.equal(model(x), model(x))
        True
    """

    def __init__(self, p: float = 0.5) -> None:
        """Create ``Net``'s four layers and remember the dropout probability as ``self.p``."""
        raise NotImplementedError(
            "ex08.NetDropout is not implemented yet: see its docstring, then run `grade check ex08.NetDropout`"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the logits of a batch of images, with dropout after ``relu(fc1(...))``.

        Same as ``Net.forward``, except that the (B, 32) hidden activations go through
        ``F.dropout`` with probability ``self.p`` before ``fc2``, only in training mode.

        Args:
            x: (B, 3, 32, 32) float32 images, on the same device as the model.

        Returns:
            (B, 2) float32 logits; random in training mode, deterministic in eval mode.

        Hint: ``F.dropout`` is active by default; pass it ``training=self.training``, which
        ``model.train()`` and ``model.eval()`` switch.
        """
        raise NotImplementedError(
            "ex08.NetDropout.forward is not implemented yet: see its docstring, then run `grade check ex08.NetDropout`"
        )


class ResidualBlock(nn.Module):
    """The basic ResNet block: two 3x3 convolutions plus a shortcut that adds the input back.

    Because the block only has to learn a correction to its input, gradients flow through
    the shortcut unchanged and very deep networks stay trainable. Layers:

    - ``conv1``: ``nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1, bias=False)``
    - ``bn1``: ``nn.BatchNorm2d(out_channels)``
    - ``relu``: ``nn.ReLU()``
    - ``conv2``: ``nn.Conv2d(out_channels, out_channels, 3, stride=1, padding=1, bias=False)``
    - ``bn2``: ``nn.BatchNorm2d(out_channels)``
    - ``downsample``: an empty ``nn.Sequential()`` (the identity) when ``stride == 1`` and
      ``in_channels == out_channels``; otherwise ``nn.Sequential(nn.Conv2d(in_channels,
      out_channels, 1, stride=stride, bias=False), nn.BatchNorm2d(out_channels))`` so the
      shortcut has the same shape as the main path.

    Args:
        in_channels: channels C_in of the input.
        out_channels: channels C_out of the output.
        stride: stride of ``conv1`` (and of the shortcut); 2 halves the height and width.

    Example:
        >>> block = ResidualBlock(16, 32, stride=2)
        >>> block(torch.zeros(4, 16, 32, 32)).shape
        torch.Size([4, 32, 16, 16])
        >>> len(ResidualBlock(16, 16).downsample)
        0
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        """Create the layers listed in the class docstring."""
        raise NotImplementedError(
            "ex08.ResidualBlock is not implemented yet: see its docstring, then run `grade check ex08.ResidualBlock`"
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Return ``relu(bn2(conv2(relu(bn1(conv1(x))))) + downsample(x))``.

        Args:
            x: (B, C_in, H, W) float32 feature maps.

        Returns:
            (B, C_out, ceil(H / stride), ceil(W / stride)) float32, all values >= 0.

        Hint: the shortcut is added *before* the final ReLU.
        """
        raise NotImplementedError(
            "ex08.ResidualBlock.forward is not implemented yet: see its docstring, then run `grade check ex08.ResidualBlock`"
        )


def l2_penalty(model: nn.Module, l2_lambda: float) -> torch.Tensor:
    """Return the L2 regularization term ``l2_lambda * sum of the squares of all parameters``.

    Adding this term to the loss pulls every weight towards zero (weight decay), which keeps
    the model simple and reduces overfitting.

    Args:
        model: any module; every tensor in ``model.parameters()`` is included (weights,
            biases, BatchNorm scales and shifts).
        l2_lambda: the regularization strength, e.g. 0.001.

    Returns:
        A 0-d float tensor on the parameters' device, differentiable with respect to the
        parameters (its gradient for a parameter p is ``2 * l2_lambda * p``).

    Example:
        >>> layer = nn.Linear(2, 1)
        >>> with torch.no_grad():
        ...     _ = layer.weight.copy_(torch.tensor([[1.0, 2.0]]))
        ...     _ = layer.bias.fill_(3.0)
        >>> l2_penalty(layer, 0.5)  # doctest: +ELLIPSIS
        tensor(7., grad_fn=<...>)

    Hint: the one-line sum over ``p.pow(2.0).sum()`` of DLwPT 8.5.2 is exactly this.
    """
    raise NotImplementedError(
        "ex08.l2_penalty is not implemented yet: see its docstring, then run `grade check ex08.l2_penalty`"
    )


def train_epoch(
    model: nn.Module,
    loader: Iterable[tuple[torch.Tensor, torch.Tensor]],
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    device: torch.device | str,
    l2_lambda: float = 0.0,
) -> float:
    """Train ``model`` for one pass over ``loader`` and return the mean loss of its batches.

    This is the body of the ``training_loop`` of DLwPT 8.4, made reusable: it works on any
    device and optionally adds the L2 penalty to the loss it optimizes.

    For every ``(images, labels)`` batch: move both to ``device``, compute
    ``loss = loss_fn(model(images), labels) + l2_penalty(model, l2_lambda)``, then
    ``optimizer.zero_grad()``, ``loss.backward()``, ``optimizer.step()``.

    Args:
        model: the network, already on ``device``; it is put in training mode.
        loader: yields ``(images, labels)`` pairs, e.g. (B, 3, 32, 32) float32 images and (B,)
            int64 labels, from a ``DataLoader``; at least one batch.
        optimizer: an optimizer over ``model.parameters()``.
        loss_fn: maps (B, C) logits and (B,) labels to a 0-d loss, e.g.
            ``nn.CrossEntropyLoss()``.
        device: where to run, e.g. ``pick_device()`` or ``"cpu"``.
        l2_lambda: strength of the L2 penalty; 0.0 means no regularization.

    Returns:
        The mean over batches of the total loss (penalty included) as a Python float.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> model = nn.Linear(2, 2)
        >>> batches = [(torch.randn(8, 2), torch.randint(0, 2, (8,))) for _ in range(3)]
        >>> opt = torch.optim.SGD(model.parameters(), lr=0.1)
        >>> loss = train_epoch(model, batches, opt, nn.CrossEntropyLoss(), "cpu", l2_lambda=0.001)
        >>> isinstance(loss, float) and loss > 0
        True

    Hint: ``image.to(device)`` returns a new tensor; assign it back (a common pitfall).
    """
    raise NotImplementedError(
        "ex08.train_epoch is not implemented yet: see its docstring, then run `grade check ex08.train_epoch`"
    )


def save_weights(model: nn.Module, path: str | pathlib.Path) -> None:
    """Save the model's learned weights (its ``state_dict``) to a file.

    Saving the ``state_dict`` rather than the whole model stores only tensors, keyed by
    attribute name (``"conv1.weight"``, ...), so the file can be loaded into a freshly built
    model of the same class, on any machine.

    Args:
        model: the trained module.
        path: the file to write, e.g. ``"model.pt"``.

    Example:
        >>> import tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.pt"
        >>> save_weights(Net(), path)
        >>> path.exists()
        True
    """
    raise NotImplementedError(
        "ex08.save_weights is not implemented yet: see its docstring, then run `grade check ex08.save_weights`"
    )


def load_weights(
    model: nn.Module, path: str | pathlib.Path, device: torch.device | str | None = None
) -> nn.Module:
    """Load weights saved by ``save_weights`` into ``model`` and return it.

    The tensors are mapped to ``device`` while loading, so weights saved on a GPU load on a
    machine without one. Only tensors are read (``weights_only=True``), which is the safe way
    to open a file you did not write yourself.

    Args:
        model: a module of the same class (and sizes) as the one that was saved.
        path: the file written by ``save_weights``.
        device: where the loaded tensors and the model should live; ``None`` keeps the
            model where it is.

    Returns:
        ``model`` itself, holding the loaded weights (on ``device`` when one is given).

    Raises:
        RuntimeError: from ``load_state_dict`` when the keys or shapes do not match.

    Example:
        >>> import tempfile
        >>> path = pathlib.Path(tempfile.mkdtemp()) / "net.pt"
        >>> trained = Net()
        >>> save_weights(trained, path)
        >>> restored = load_weights(Net(), path, device="cpu")
        >>> torch.equal(restored.fc2.bias, trained.fc2.bias)
        True

    Hint: ``torch.load(path, map_location=device, weights_only=True)``, then
    ``load_state_dict``.
    """
    raise NotImplementedError(
        "ex08.load_weights is not implemented yet: see its docstring, then run `grade check ex08.load_weights`"
    )
