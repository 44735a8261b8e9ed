"""Tensors: creating, inspecting, combining and reshaping them.

What you learn: how to build tensors from Python lists and NumPy arrays, read their
dtype/shape/device, do element-wise arithmetic and matrix products, and move data
between shapes (reshape/view, squeeze/unsqueeze, transpose/permute, cat/stack,
split/chunk) and pick elements out of them (index_select, boolean masks, gather).

Background reading (public sources):
- "Deep Learning with PyTorch" (Stevens, Antiga and Viehmann, Manning 2020; DLwPT
  below), chapter 3 "It starts with a tensor": creating and indexing tensors, dtypes,
  the tensor API, views of one storage, transposing, NumPy interoperability; and
  section 4.1 "Working with images": an (H, W, C) image as (C, H, W), a (B, C, H, W)
  batch.
- "Dive into Deep Learning" (d2l.ai, PyTorch edition; d2l below), section 2.1 "Data
  Manipulation" (views share memory, converting to and from NumPy) and section 3.6
  "Implementation of Softmax Regression from Scratch" (picking each row's score of the
  true class).

How to work: fill in each function, then run `grade check ex01`
(or a single item, e.g. `grade check ex01.matmul`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch


def from_nested(data: Sequence[Any], dtype: torch.dtype | None = None) -> torch.Tensor:
    """Build a tensor from (nested) Python lists.

    Real data often starts life as plain Python lists (a CSV row, a list of
    readings). ``torch.tensor`` copies such data into a new tensor and infers the
    dtype (ints -> int64, floats -> float32) unless you ask for one.

    Args:
        data: a list of numbers, or a list of equally long lists, e.g.
            ``[[1, 2], [2, 3], [1, 2]]`` for a (3, 2) tensor.
        dtype: the dtype of the result (e.g. ``torch.float64``); ``None`` lets
            PyTorch infer it from the values.

    Returns:
        A new tensor holding a copy of ``data``: shape given by the nesting,
        e.g. (3, 2), on the CPU.

    Example:
        >>> from_nested([[1, 2], [2, 3], [1, 2]])
        tensor([[1, 2],
                [2, 3],
                [1, 2]])
        >>> from_nested([1, 2], dtype=torch.float16)
        tensor([1., 2.], dtype=torch.float16)

    Hint: pass ONE nested list. ``torch.tensor([1, 2], [3, 4])`` (two lists, a
    common slip) is an error: the second argument is not data.
    """
    return torch.tensor(data, dtype=dtype)


def tensor_info(t: torch.Tensor) -> dict[str, Any]:
    """Describe a tensor by its dtype, shape, device and number of dimensions.

    Most bugs in deep-learning code are a wrong dtype, a wrong shape or a tensor on
    the wrong device, so these are the first things to print when something fails.

    Args:
        t: any tensor, e.g. a (2, 3) float32 tensor.

    Returns:
        A dict with exactly these keys: ``"dtype"`` (a ``torch.dtype``),
        ``"shape"`` (a tuple of Python ints; a ``torch.Size`` is fine),
        ``"device"`` (a string such as ``"cpu"`` or ``"cuda:0"``) and
        ``"ndim"`` (a Python int).

    Example:
        >>> info = tensor_info(torch.zeros(2, 3))
        >>> sorted(info)
        ['device', 'dtype', 'ndim', 'shape']
        >>> info["dtype"], tuple(info["shape"]), info["device"], info["ndim"]
        (torch.float32, (2, 3), 'cpu', 2)

    Hint: every one of these is an attribute of the tensor; only the device
    needs ``str(...)``.
    """
    return {
        "dtype": t.dtype,
        "shape": tuple(t.shape),
        "device": str(t.device),
        "ndim": t.dim(),
    }


def cast(t: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
    """Return a new tensor with the values of ``t`` converted to ``dtype``.

    Models want float32 inputs, labels must be int64, images arrive as uint8: you
    convert between dtypes all the time. Float to int conversion truncates toward
    zero (1.7 -> 1, -2.5 -> -2).

    Args:
        t: a tensor of any shape and dtype, e.g. (4,) float32.
        dtype: the target dtype, e.g. ``torch.int64``.

    Returns:
        A new tensor with the shape and device of ``t`` and dtype ``dtype``. It never
        shares memory with ``t``, not even when ``t`` already has that dtype, so
        changing the result never changes ``t``.

    Example:
        >>> cast(torch.tensor([1.7, -2.5]), torch.int64)
        tensor([ 1, -2])

    Hint: ``t.to(dtype)`` (or ``t.type(dtype)``) hands back ``t`` itself when
    nothing needs converting; ``.to`` has an argument that forces a copy.
    """
    return t.to(dtype=dtype, copy=True)


def elementwise(
    a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Add, subtract, multiply and divide two tensors element by element.

    The four operators work element by element; when the shapes differ, PyTorch
    broadcasts them (a (2, 2) tensor and a (2,) tensor act like two (2, 2) ones).

    Args:
        a: a tensor, e.g. (2, 2) int64.
        b: a tensor whose shape broadcasts with ``a``, e.g. (2,) int64 or (2, 2).

    Returns:
        ``(a + b, a - b, a * b, a / b)``, each with the broadcast shape, e.g. (2, 2).
        The division is true division: two int64 tensors give a float32 quotient.

    Example:
        >>> a = torch.tensor([[1, 2], [3, 4]])
        >>> total, diff, prod, quot = elementwise(a, torch.tensor([5, 6]))
        >>> total
        tensor([[ 6,  8],
                [ 8, 10]])
        >>> quot
        tensor([[0.2000, 0.3333],
                [0.6000, 0.6667]])

    Hint: the operators ``+ - * /`` and ``torch.add/sub/mul/div`` are the same thing.
    """
    return a + b, a - b, a * b, a / b


def matmul(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Matrix product of ``a`` and ``b``, batched and broadcast like ``a @ b``.

    A (m, n) matrix times a (n, p) matrix is a (m, p) matrix: the inner sizes must
    agree. Extra leading dimensions are batch dimensions and broadcast, so a stack
    of 5 matrices (5, 2, 3) times one (3, 4) matrix gives (5, 2, 4). A clear
    message naming both shapes saves a lot of debugging, so check before you multiply.

    Args:
        a: (..., m, n) tensor with at least 2 dimensions, e.g. (2, 3) or (5, 2, 3).
        b: (..., n, p) tensor with at least 2 dimensions and the dtype of ``a``,
            e.g. (3, 4) or (7, 3, 4); its leading (batch) dimensions must broadcast
            with those of ``a``.

    Returns:
        (..., m, p) tensor: the broadcast batch dimensions, then m and p,
        e.g. (2, 4), (5, 2, 4), or (7, 2, 4) for (1, 2, 3) @ (7, 3, 4).

    Raises:
        ValueError: if ``a`` or ``b`` has fewer than 2 dimensions, or if the last
            dimension of ``a`` differs from the second-to-last of ``b``. The
            message names both shapes, e.g. "matmul: inner dimensions differ:
            a has shape (2, 3), b has shape (4, 5)".

    Example:
        >>> matmul(torch.ones(2, 3), torch.ones(3, 4)).shape
        torch.Size([2, 4])
        >>> matmul(torch.ones(5, 2, 3), torch.ones(3, 4)).shape
        torch.Size([5, 2, 4])
        >>> matmul(torch.ones(2, 3), torch.ones(4, 5))
        Traceback (most recent call last):
            ...
        ValueError: matmul: inner dimensions differ: a has shape (2, 3), b has shape (4, 5)

    Hint: ``torch.mm`` only multiplies plain 2-D matrices; ``@`` (``torch.matmul``)
    handles batches. ``tuple(t.shape)`` prints as ``(2, 3)``.
    """
    shapes = f"a has shape {tuple(a.shape)}, b has shape {tuple(b.shape)}"
    if a.dim() < 2 or b.dim() < 2:
        raise ValueError(f"matmul: both operands need at least 2 dimensions: {shapes}")
    if a.shape[-1] != b.shape[-2]:
        raise ValueError(f"matmul: inner dimensions differ: {shapes}")
    return a @ b


def mean_of(t: torch.Tensor) -> torch.Tensor:
    """Mean of all elements of ``t`` as a 0-d float32 tensor.

    ``t.mean()`` refuses integer tensors (a class of integer labels, uint8
    pixels), so convert first. The result is always float32, also for float64 input.

    Args:
        t: a non-empty tensor of any shape and any numeric dtype, e.g. (2, 2) int64.

    Returns:
        0-d float32 tensor on the device of ``t``: the mean of all its elements.

    Example:
        >>> mean_of(torch.tensor([[1, 2], [3, 4]]))
        tensor(2.5000)

    Hint: ``a.mean()`` fails on integer tensors: what dtype does it want?
    """
    return t.to(torch.float32).mean()


def argmax_position(t: torch.Tensor) -> tuple[int, ...]:
    """Index, in every dimension, of the largest element of ``t``.

    ``t.argmax()`` answers with a single position counted in the flattened
    tensor (row-major order: the last index moves fastest). Often you want the
    row and column instead, e.g. which image in a batch and which pixel.

    Args:
        t: a tensor with at least 1 dimension, e.g. (2, 3), any numeric dtype
            except bool; it may be non-contiguous (e.g. a transposed view).

    Returns:
        A tuple of ``t.ndim`` Python ints, e.g. ``(0, 1)`` for a (2, 3) tensor whose
        largest element is ``t[0, 1]``. On ties, the first largest element in
        row-major order wins.

    Example:
        >>> argmax_position(torch.tensor([[1, 9, 3], [9, 0, 2]]))
        (0, 1)
        >>> argmax_position(torch.tensor([4, 7, 7]))
        (1,)

    Hint: flat index 4 in a (2, 3) tensor is row 4 // 3 = 1, column 4 % 3 = 1;
    ``torch.unravel_index`` does this for any number of dimensions.
    """
    return tuple(int(i) for i in torch.unravel_index(t.argmax(), t.shape))


def reshaped(t: torch.Tensor, shape: tuple[int, ...]) -> torch.Tensor:
    """``t`` arranged in a new shape, sharing memory with ``t`` whenever possible.

    ``view`` never copies: the result looks at the same memory, so writing to it
    writes to ``t``. That only works when the memory layout allows it; a transposed
    (non-contiguous) tensor cannot be viewed in every shape and ``view`` raises.

    Args:
        t: a tensor of any shape and dtype, e.g. (3, 2, 1), contiguous or not.
        shape: the new shape, with the same number of elements, e.g. ``(1, 2, 3)``;
            one entry may be -1 (inferred from the others).

    Returns:
        Tensor of shape ``shape`` with the elements of ``t`` in row-major order,
        same dtype and device. When ``t`` is contiguous it shares memory with ``t``;
        otherwise it may be a copy.

    Example:
        >>> t = torch.arange(6)
        >>> r = reshaped(t, (2, 3))
        >>> r[0, 0] = 100
        >>> t[0]
        tensor(100)
        >>> reshaped(torch.arange(6).reshape(2, 3).t(), (-1,))
        tensor([0, 3, 1, 4, 2, 5])

    Hint: compare ``view`` and ``reshape`` (DLwPT 3.7-3.8 explains views of one
    storage): which one copies only when it must?
    """
    return t.reshape(shape)


def add_leading_dim(t: torch.Tensor) -> torch.Tensor:
    """``t`` with a new dimension of size 1 in front: (C, H, W) -> (1, C, H, W).

    Models expect a batch dimension first; a single sample becomes a batch of one.

    Args:
        t: a tensor of any shape, e.g. (3, 4).

    Returns:
        Tensor of shape (1, *t.shape), e.g. (1, 3, 4), sharing memory with ``t``.

    Example:
        >>> add_leading_dim(torch.zeros(3, 4)).shape
        torch.Size([1, 3, 4])

    Hint: the opposite of squeeze.
    """
    return t.unsqueeze(0)


def drop_unit_dims(t: torch.Tensor) -> torch.Tensor:
    """``t`` without any of its size-1 dimensions: (1, 3, 1, 4) -> (3, 4).

    Args:
        t: a tensor of any shape, e.g. (1, 3, 1, 4).

    Returns:
        Tensor with every size-1 dimension removed, e.g. (3, 4) (a 0-d tensor when
        every dimension has size 1), sharing memory with ``t``.

    Example:
        >>> drop_unit_dims(torch.zeros(1, 3, 1, 4)).shape
        torch.Size([3, 4])

    Hint: one call without arguments removes them all.
    """
    return t.squeeze()


def transpose_2d(t: torch.Tensor) -> torch.Tensor:
    """Transpose of a matrix: rows become columns.

    Args:
        t: (M, N) tensor of any dtype, e.g. (2, 3).

    Returns:
        (N, M) tensor with ``result[j, i] == t[i, j]``, sharing memory with ``t``
        (a view, usually non-contiguous).

    Example:
        >>> transpose_2d(torch.tensor([[1, 2, 3], [4, 5, 6]]))
        tensor([[1, 4],
                [2, 5],
                [3, 6]])

    Hint: ``torch.t`` and ``torch.transpose`` both do it, without copying (DLwPT 3.8).
    """
    return t.t()


def hwc_to_chw(img: torch.Tensor) -> torch.Tensor:
    """Reorder an image from (H, W, C), as image files load, to (C, H, W), as PyTorch wants.

    Image libraries give height x width x channels; PyTorch's convolution layers
    want the channels first.

    Args:
        img: (H, W, C) image, e.g. (32, 48, 3) uint8.

    Returns:
        (C, H, W) tensor, e.g. (3, 32, 48), same dtype, with
        ``result[c, h, w] == img[h, w, c]``.

    Example:
        >>> hwc_to_chw(torch.zeros(32, 48, 3, dtype=torch.uint8)).shape
        torch.Size([3, 32, 48])

    Hint: ``view``/``reshape`` would scramble the pixels; you want to reorder the
    dimensions.
    """
    return img.permute(2, 0, 1)


def stack_images(images: Sequence[torch.Tensor]) -> torch.Tensor:
    """Turn a list of (H, W, C) images into one (B, C, H, W) batch.

    Models process a batch of images at once; the batch dimension comes first,
    then channels, height and width.

    Args:
        images: B >= 1 images of the same shape (H, W, C), uint8, e.g. four
            (32, 48, 3) images.

    Returns:
        (B, C, H, W) uint8 tensor, e.g. (4, 3, 32, 48), with
        ``result[i] == images[i]`` reordered to (C, H, W).

    Example:
        >>> batch = stack_images([torch.zeros(32, 48, 3, dtype=torch.uint8)] * 4)
        >>> batch.shape, batch.dtype
        (torch.Size([4, 3, 32, 48]), torch.uint8)

    Hint: reorder each image as in ``hwc_to_chw`` and stack them on a new first
    dimension, or stack first and reorder once.
    """
    return torch.stack([img.permute(2, 0, 1) for img in images])


def flatten_batch(x: torch.Tensor) -> torch.Tensor:
    """Flatten every sample of a batch into one row: (B, ...) -> (B, N).

    A fully connected layer wants one vector per sample, so a (B, C, H, W) batch of
    images becomes (B, C * H * W).

    Args:
        x: (B, d1, d2, ...) tensor with at least 2 dimensions and B >= 1,
            e.g. (8, 3, 32, 32); it may be non-contiguous.

    Returns:
        (B, N) tensor with N = d1 * d2 * ..., e.g. (8, 3072); row i holds
        sample i in row-major order.

    Example:
        >>> flatten_batch(torch.zeros(8, 3, 32, 32)).shape
        torch.Size([8, 3072])
        >>> flatten_batch(torch.zeros(1, 5, 2)).shape
        torch.Size([1, 10])

    Hint: keep the first size and let -1 work out the rest. DLwPT chapter 8's
    ``view(-1, 8 * 8 * 8)`` fixes the row length instead; which one is safe for any B?
    """
    return x.reshape(x.shape[0], -1)


def concat_and_stack(
    a: torch.Tensor, b: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Join two tensors along an existing dimension, and along a new one.

    ``cat`` keeps the number of dimensions (two (2, 3) tensors make a (4, 3));
    ``stack`` adds a dimension (they make a (2, 2, 3)).

    Args:
        a: (N, ...) tensor, e.g. (2, 3).
        b: tensor with the same shape and dtype as ``a``, e.g. (2, 3).

    Returns:
        ``(cat, stack)``: ``torch.cat`` of ``[a, b]`` on dim 0, e.g. (4, 3), and
        ``torch.stack`` of ``[a, b]`` on dim 0, e.g. (2, 2, 3).

    Example:
        >>> cat, stack = concat_and_stack(torch.zeros(2, 3), torch.ones(2, 3))
        >>> cat.shape, stack.shape
        (torch.Size([4, 3]), torch.Size([2, 2, 3]))
    """
    return torch.cat([a, b], dim=0), torch.stack([a, b], dim=0)


def split_and_chunk(
    t: torch.Tensor, size: int, n: int
) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
    """Cut a tensor into row blocks, once by block size and once by block count.

    ``torch.split`` makes blocks of ``size`` rows (the last one may be shorter);
    ``torch.chunk`` makes ``n`` blocks of equal size (ceil(rows / n) rows each;
    the last may be shorter, and there may be fewer than ``n`` blocks: 6 rows
    in 4 chunks gives 3 chunks of 2).

    Args:
        t: (R, ...) tensor with R >= 1, e.g. (5, 2).
        size: rows per block for ``torch.split``, >= 1, e.g. 2.
        n: number of blocks asked of ``torch.chunk``, >= 1, e.g. 2.

    Returns:
        ``(pieces, chunks)``: two tuples of tensors, both cut along dim 0.
        For a (5, 2) tensor, size 2 and n 2: pieces have 2, 2 and 1 rows,
        chunks have 3 and 2 rows.

    Example:
        >>> pieces, chunks = split_and_chunk(torch.arange(10).reshape(5, 2), 2, 2)
        >>> [p.shape[0] for p in pieces], [c.shape[0] for c in chunks]
        ([2, 2, 1], [3, 2])
    """
    return torch.split(t, size, dim=0), torch.chunk(t, n, dim=0)


def select_rows(t: torch.Tensor, indices: torch.Tensor) -> torch.Tensor:
    """Rows of ``t`` picked by index, in the order given (repeats allowed).

    This is how a mini-batch is drawn from a dataset: shuffle the row numbers,
    then take the rows for each batch.

    Args:
        t: (R, ...) tensor, e.g. (3, 3).
        indices: (K,) int64 tensor of row numbers in [0, R), e.g. ``[0, 2]``.

    Returns:
        (K, ...) tensor, e.g. (2, 3): row k is ``t[indices[k]]``.

    Example:
        >>> t = torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
        >>> select_rows(t, torch.tensor([0, 2]))
        tensor([[1, 2, 3],
                [7, 8, 9]])

    Hint: ``index_select`` on dimension 0, or indexing with the index tensor; the
    ``data_iter`` of d2l 3.2 draws its mini-batches this way.
    """
    return t.index_select(0, indices)


def at_least(t: torch.Tensor, threshold: float) -> torch.Tensor:
    """All elements of ``t`` that are greater than or equal to ``threshold``.

    A comparison gives a boolean tensor (a mask) of the same shape; indexing with
    that mask keeps the elements where it is True.

    Args:
        t: a tensor of any shape and numeric dtype except bool, e.g. (3, 3) int64.
        threshold: the smallest value to keep, e.g. 5.

    Returns:
        1-D tensor with the dtype of ``t``: the kept elements in row-major order,
        e.g. (5,); empty (0,) when none qualifies.

    Example:
        >>> at_least(torch.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]]), 5)
        tensor([5, 6, 7, 8, 9])

    Hint: ``t >= threshold`` is a mask; ``torch.masked_select`` or indexing with it
    keeps the matching elements.
    """
    return t[t >= threshold]


def pick_scores(scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """For each row, the score of that row's label: ``scores[i, labels[i]]``.

    A classifier gives one score per class for every sample; to compute a loss or
    an accuracy you need the score of the correct class of each sample.

    Args:
        scores: (N, C) float tensor, e.g. (2, 3) predicted probabilities.
        labels: (N,) int64 tensor of class indices in [0, C), e.g. ``[0, 2]``.

    Returns:
        (N,) tensor with the dtype of ``scores``, e.g. (2,); also (1,), not 0-d,
        when N == 1.

    Example:
        >>> y_hat = torch.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
        >>> pick_scores(y_hat, torch.tensor([0, 2]))
        tensor([0.1000, 0.5000])

    Hint: ``gather`` on dim 1 wants an index with as many dimensions as ``scores``:
    (N, 1). Remove only that added dimension afterwards.
    """
    return scores.gather(1, labels.unsqueeze(1)).squeeze(1)


def share_numpy(arr: np.ndarray) -> torch.Tensor:
    """A CPU tensor that shares memory with a NumPy array.

    No data is copied, so it is fast, and changing the array changes the tensor
    (and the other way round).

    Args:
        arr: a NumPy array of any shape and numeric dtype, e.g. (5,) float64.

    Returns:
        CPU tensor with the shape and matching dtype of ``arr`` (float64 stays
        float64), using the same memory.

    Example:
        >>> arr = np.ones(3)
        >>> t = share_numpy(arr)
        >>> arr += 1
        >>> t
        tensor([2., 2., 2.], dtype=torch.float64)
    """
    return torch.from_numpy(arr)


def copy_numpy(arr: np.ndarray) -> torch.Tensor:
    """A CPU tensor with a copy of a NumPy array's data.

    Unlike ``share_numpy``, later changes to the array do not reach the tensor.

    Args:
        arr: a NumPy array of any shape and numeric dtype, e.g. (5,) float64.

    Returns:
        CPU tensor with the shape, matching dtype (float64 stays float64) and
        values of ``arr``, in its own memory.

    Example:
        >>> arr = np.ones(3)
        >>> t = copy_numpy(arr)
        >>> arr += 1
        >>> t
        tensor([1., 1., 1.], dtype=torch.float64)
    """
    return torch.tensor(arr)
