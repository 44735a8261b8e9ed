"""Hidden checks for ex01_tensors: creating, inspecting, combining and reshaping tensors."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from grader.suite import Side, Suite

suite = Suite("ex01_tensors")


# ------------------------------------------------------------------ helpers
def snapshot(value: object) -> object:
    """A copy of ``value`` when it is a tensor (so later writes to its memory do not show)."""
    return value.clone() if type(value) is torch.Tensor else value


def shares_memory(result: object, source: torch.Tensor | np.ndarray) -> bool:
    """True when ``result`` is a tensor that uses the memory of ``source`` (a tensor or a NumPy array)."""
    if type(result) is not torch.Tensor:
        return False
    if type(source) is np.ndarray:
        source = torch.from_numpy(source)
    if result.device != source.device:
        return False
    return result.untyped_storage().data_ptr() == source.untyped_storage().data_ptr()


def memory_observations(result: object, source: torch.Tensor | np.ndarray) -> dict[str, object]:
    """The result, whether it shares memory with ``source``, and the result after adding 1 to ``source``."""
    before = snapshot(result)
    shared = shares_memory(result, source)
    if type(source) is np.ndarray:
        source += 1
    else:
        with torch.no_grad():
            source.add_(1)
    return {"result": before, "shares memory with the input": shared,
            "result after adding 1 to the input": snapshot(result)}


def names_shape(message: str, shape: tuple[int, ...]) -> bool:
    """True when ``message`` writes ``shape`` in one of the usual ways: (2, 3), [2, 3], 2x3, 2 x 3."""
    numbers = [str(n) for n in shape]
    spellings = ("(" + ", ".join(numbers) + ")", "[" + ", ".join(numbers) + "]",
                 "x".join(numbers), " x ".join(numbers), "×".join(numbers), " × ".join(numbers))
    return any(spelling in message for spelling in spellings)


def error_of(call: Callable[..., object], a: torch.Tensor, b: torch.Tensor) -> dict[str, object]:
    """What ``call(a, b)`` raised (its type name) and whether its message names both shapes.

    On the reference side the exception is the real one; on the student's side it arrives as a
    ``StudentError`` with ``type_name`` and ``message``. A stub's NotImplementedError is passed on
    so the item is reported as not implemented.
    """
    try:
        value = call(a, b)
    except Exception as error:
        type_name = getattr(error, "type_name", type(error).__name__)
        if type_name == "NotImplementedError":
            raise
        message = str(getattr(error, "message", str(error)))
        both = names_shape(message, tuple(a.shape)) and names_shape(message, tuple(b.shape))
        return {"raised": type_name, "message names both shapes": both}
    shape = tuple(value.shape) if type(value) is torch.Tensor else type(value).__name__
    return {"raised": f"no exception (it returned {shape})", "message names both shapes": False}


# ------------------------------------------------------------------ from_nested
suite.item("from_nested", points=1, hint="""
torch.tensor builds a new tensor from Python data (DLwPT chapter 3, "It starts with a tensor"). Look at
which keyword arguments it accepts besides the data, and pass it ONE nested list.

With dtype=None PyTorch infers the dtype: int64 for whole numbers and float32 for decimals. When a dtype
is given, pass it straight to torch.tensor: building a float32 tensor first and converting it afterwards
loses digits (0.1 in float64 is not 0.1 in float32).

torch.tensor(data, dtype=dtype) copies a nested list into a new tensor. torch.Tensor(...) (capital T)
always gives float32, so it is not the same thing.
""")


@suite.check("from_nested", "from_nested([[1, 2], [2, 3], [1, 2]]): ints give an int64 (3, 2) tensor")
def from_nested_ints(side: Side) -> object:
    return side.module.from_nested([[1, 2], [2, 3], [1, 2]])


@suite.check("from_nested", "from_nested on a (2, 4) list of decimals: float32")
def from_nested_floats(side: Side) -> object:
    data = [[round(v, 3) for v in row] for row in (side.randn(2, 4) * 10).tolist()]
    return side.module.from_nested(data)


@suite.check("from_nested", "from_nested([0.1, 0.2, 1e-12, 16777217.0], dtype=torch.float64): every float64 digit kept",
             rtol=1e-15, atol=0.0)
def from_nested_float64(side: Side) -> object:
    return side.module.from_nested([0.1, 0.2, 1e-12, 16777217.0], dtype=torch.float64)


@suite.check("from_nested", "from_nested on a (2, 3, 2) list of ints with dtype=torch.float16")
def from_nested_three_levels_float16(side: Side) -> object:
    data = side.randint(-50, 50, (2, 3, 2)).tolist()
    return side.module.from_nested(data, dtype=torch.float16)


@suite.check("from_nested", "from_nested([2**40, -3], dtype=torch.int64): large integers stay exact")
def from_nested_large_ints(side: Side) -> object:
    return side.module.from_nested([2**40 + 1, -3], dtype=torch.int64)


@suite.check("from_nested", "from_nested([1, 2.5, 3]): mixed ints and floats give float32")
def from_nested_mixed(side: Side) -> object:
    return side.module.from_nested([1, 2.5, 3])


# ------------------------------------------------------------------ tensor_info
suite.item("tensor_info", points=1, hint="""
Every tensor knows its own dtype, shape, device and number of dimensions: look at its attributes and
methods (t.dtype, t.shape, ...), and mind the types the docstring asks for.

ndim is the number of dimensions (2 for a (3, 4) tensor), not the number of elements or of rows, and a
0-d tensor has ndim 0. The device must be a string such as "cpu" or "cuda:0", not a torch.device.

Return {"dtype": t.dtype, "shape": tuple(t.shape), "device": str(t.device), "ndim": t.dim()}.
""")


@suite.check("tensor_info", "tensor_info on a (3, 4) float32 tensor")
def tensor_info_matrix(side: Side) -> object:
    return side.module.tensor_info(side.randn(3, 4))


@suite.check("tensor_info", "tensor_info on a (2, 5, 1, 3) int64 tensor")
def tensor_info_four_dims(side: Side) -> object:
    return side.module.tensor_info(side.randint(0, 9, (2, 5, 1, 3)))


@suite.check("tensor_info", "tensor_info on a 0-d float64 tensor")
def tensor_info_scalar(side: Side) -> object:
    return side.module.tensor_info(side.tensor(2.5, dtype=torch.float64))


@suite.check("tensor_info", "tensor_info on a transposed (4, 2) uint8 tensor")
def tensor_info_transposed(side: Side) -> object:
    return side.module.tensor_info(side.randint(0, 255, (2, 4), dtype=torch.uint8).t())


# ------------------------------------------------------------------ cast
suite.item("cast", points=2, hint="""
Tensor.to converts between dtypes. Then read the docstring again: the result must never share memory
with t. Does .to always give you a new tensor?

t.to(dtype) hands back t itself when t already has that dtype, so a later change to the result would
change t. Float to int conversion truncates toward zero: 1.7 -> 1, -2.5 -> -2 (not rounding).

Ask .to for a copy with its copy= argument, t.to(dtype, copy=True), or clone the result.
""")


@suite.check("cast", "cast([1.7, -2.5, 0.2, -0.9, 3.0], torch.int64): truncation toward zero")
def cast_float_to_int(side: Side) -> object:
    t = side.tensor([1.7, -2.5, 0.2, -0.9, 3.0])
    return {"result": side.module.cast(t, torch.int64), "input after the call": t}


@suite.check("cast", "cast of a (3, 4) int64 tensor to torch.float32")
def cast_int_to_float(side: Side) -> object:
    t = side.randint(-100, 100, (3, 4))
    return {"result": side.module.cast(t, torch.float32), "input after the call": t}


@suite.check("cast", "cast of a (2, 3) uint8 image to torch.float64")
def cast_uint8_to_float64(side: Side) -> object:
    return side.module.cast(side.randint(0, 256, (2, 3), dtype=torch.uint8), torch.float64)


@suite.check("cast", "cast of large float64 values (about 1e10) to torch.int64")
def cast_large_values(side: Side) -> object:
    return side.module.cast(side.randn(5, dtype=torch.float64) * 1e10, torch.int64)


@suite.check("cast", "cast of a (3, 2) float32 tensor to torch.float32 (same dtype): still a new tensor")
def cast_same_dtype_is_a_copy(side: Side) -> object:
    t = side.randn(3, 2)
    return memory_observations(side.module.cast(t, torch.float32), t)


@suite.check("cast", "cast of a transposed (4, 3) float32 tensor to torch.float16")
def cast_non_contiguous(side: Side) -> object:
    return side.module.cast(side.randn(3, 4).t(), torch.float16)


# ------------------------------------------------------------------ elementwise
suite.item("elementwise", points=1, hint="""
Python's arithmetic operators work on tensors element by element, and broadcasting handles different
shapes by itself: no loops, no reshaping. The docstring asks for four results in a fixed order.

/ is true division: two int64 tensors give a float32 quotient (// would round down). Return the tuple
(a + b, a - b, a * b, a / b) in this order.
""")


def _nonzero_ints(side: Side, shape: tuple[int, ...]) -> torch.Tensor:
    """Integers in [-9, 9] without 0 (safe divisors)."""
    values = side.randint(1, 10, shape)
    signs = side.randint(0, 2, shape) * 2 - 1
    return values * signs


@suite.check("elementwise", "elementwise on (2, 2) and (2,) int64 tensors with negatives (broadcast)")
def elementwise_ints_broadcast(side: Side) -> object:
    a, b = side.randint(-20, 20, (2, 2)), _nonzero_ints(side, (2,))
    return {"result": side.module.elementwise(a, b), "a after the call": a, "b after the call": b}


@suite.check("elementwise", "elementwise on two (3, 5) float32 tensors")
def elementwise_same_shape(side: Side) -> object:
    a, b = side.randn(3, 5), side.rand(3, 5) + 0.5
    return {"result": side.module.elementwise(a, b), "a after the call": a, "b after the call": b}


@suite.check("elementwise", "elementwise on (3, 1) and (1, 4) float64 tensors: broadcast to (3, 4)")
def elementwise_outer_broadcast(side: Side) -> object:
    a = side.randn(3, 1, dtype=torch.float64)
    b = side.rand(1, 4, dtype=torch.float64) + 0.5
    return side.module.elementwise(a, b)


@suite.check("elementwise", "elementwise on a batch of one: (1,) int64 tensors 7 and -2")
def elementwise_one_element(side: Side) -> object:
    return side.module.elementwise(side.tensor([7]), side.tensor([-2]))


# ------------------------------------------------------------------ matmul
suite.item("matmul", points=2, hint="""
Two jobs: check the shapes first, then multiply. Which sizes must agree in a matrix product, and which
torch function handles batches of matrices (torch.mm does not)?

Raise ValueError unless a.dim() >= 2, b.dim() >= 2 and a.shape[-1] == b.shape[-2] (the last size of a
against the second-to-last of b, not b.shape[0]). The message must contain both shapes.

A message such as f"a has shape {tuple(a.shape)}, b has shape {tuple(b.shape)}" does it. Then return
a @ b (torch.matmul): it handles batches and broadcasting; torch.mm only handles plain 2-D matrices.
""")


@suite.check("matmul", "matmul of a (2, 3) and a (3, 4) matrix")
def matmul_matrices(side: Side) -> object:
    return side.module.matmul(side.randn(2, 3), side.randn(3, 4))


@suite.check("matmul", "matmul of a (1, 5) row and a (5, 1) column (float64)")
def matmul_row_times_column(side: Side) -> object:
    return side.module.matmul(side.randn(1, 5, dtype=torch.float64), side.randn(5, 1, dtype=torch.float64))


@suite.check("matmul", "matmul of a batch (5, 2, 3) and one (3, 4) matrix")
def matmul_batch_times_matrix(side: Side) -> object:
    return side.module.matmul(side.randn(5, 2, 3), side.randn(3, 4))


@suite.check("matmul", "matmul of (1, 2, 3) and (7, 3, 4): the batch dimension broadcasts to 7")
def matmul_broadcast_batch(side: Side) -> object:
    return side.module.matmul(side.randn(1, 2, 3), side.randn(7, 3, 4))


@suite.check("matmul", "matmul of (3, 1, 2, 3) and (4, 3, 5): batch (3, 1) with (4,)")
def matmul_broadcast_two_batch_dims(side: Side) -> object:
    return side.module.matmul(side.randn(3, 1, 2, 3), side.randn(4, 3, 5))


@suite.check("matmul", "matmul of a transposed (4, 3) matrix and a (3, 2) matrix")
def matmul_non_contiguous(side: Side) -> object:
    return side.module.matmul(side.randn(3, 4).t(), side.randn(3, 2))


@suite.check("matmul", "matmul of (2, 3) and (4, 5): ValueError naming both shapes")
def matmul_inner_mismatch(side: Side) -> object:
    return error_of(side.module.matmul, side.randn(2, 3), side.randn(4, 5))


@suite.check("matmul", "matmul of a batch (5, 2, 3) and a batch (5, 4, 2): ValueError naming both shapes")
def matmul_batched_mismatch(side: Side) -> object:
    return error_of(side.module.matmul, side.randn(5, 2, 3), side.randn(5, 4, 2))


@suite.check("matmul", "matmul of (3, 4) and (3, 4): ValueError naming both shapes (same shapes, inner 4 vs 3)")
def matmul_same_shape_mismatch(side: Side) -> object:
    return error_of(side.module.matmul, side.randn(3, 4), side.randn(3, 4))


@suite.check("matmul", "matmul of a 1-D (3,) tensor and a (3, 4) matrix: ValueError")
def matmul_one_dimensional(side: Side) -> object:
    outcome = error_of(side.module.matmul, side.randn(3), side.randn(3, 4))
    return outcome["raised"]


# ------------------------------------------------------------------ mean_of
suite.item("mean_of", points=1, hint="""
Try t.mean() on an integer tensor and read the error: which dtype does .mean() want?

Convert to float32 first, then take the mean of all elements (no dim argument). The result is a 0-d
float32 tensor, also for float64 input, so convert float64 too.

t.to(torch.float32).mean() (or t.float().mean()).
""")


@suite.check("mean_of", "mean_of([[1, 2], [3, 4]]) (int64)")
def mean_of_ints(side: Side) -> object:
    return side.module.mean_of(side.tensor([[1, 2], [3, 4]]))


@suite.check("mean_of", "mean_of a (32, 48, 3) uint8 image")
def mean_of_uint8_image(side: Side) -> object:
    image = side.randint(0, 256, (32, 48, 3), dtype=torch.uint8)
    return {"result": side.module.mean_of(image), "input after the call": image}


@suite.check("mean_of", "mean_of a (4, 5) float64 tensor: the result is float32")
def mean_of_float64(side: Side) -> object:
    return side.module.mean_of(side.randn(4, 5, dtype=torch.float64) + 3)


@suite.check("mean_of", "mean_of a (3, 7) float32 tensor")
def mean_of_float32(side: Side) -> object:
    return side.module.mean_of(side.randn(3, 7))


@suite.check("mean_of", "mean_of a one-element (1, 1) int64 tensor [[5]]")
def mean_of_one_element(side: Side) -> object:
    return side.module.mean_of(side.tensor([[5]]))


# ------------------------------------------------------------------ argmax_position
suite.item("argmax_position", points=2, hint="""
t.argmax() gives one index counted in the flattened tensor (row-major order). You need one index per
dimension instead: how do you turn a flat position into a row and a column?

For a (2, 3) tensor, flat index 4 is row 4 // 3 = 1, column 4 % 3 = 1; torch.unravel_index does it for
any number of dimensions. The result must be a tuple of Python ints, not of tensors.

tuple(int(i) for i in torch.unravel_index(t.argmax(), t.shape)): int(...) (or .item()) turns each 0-d
tensor into a Python int, one per dimension.
""")


@suite.check("argmax_position", "argmax_position on a (2, 3) int64 tensor")
def argmax_position_matrix(side: Side) -> object:
    return side.module.argmax_position(side.tensor([[1, 4, 3], [2, 8, 0]]))


@suite.check("argmax_position", "argmax_position on [[1, 9, 3], [9, 0, 9]]: the first 9 wins")
def argmax_position_ties(side: Side) -> object:
    return side.module.argmax_position(side.tensor([[1, 9, 3], [9, 0, 9]]))


@suite.check("argmax_position", "argmax_position on a 1-D (7,) float32 tensor")
def argmax_position_vector(side: Side) -> object:
    return side.module.argmax_position(side.randn(7))


@suite.check("argmax_position", "argmax_position on a (3, 4, 5) float64 tensor")
def argmax_position_three_dims(side: Side) -> object:
    return side.module.argmax_position(side.randn(3, 4, 5, dtype=torch.float64))


@suite.check("argmax_position", "argmax_position on a transposed (5, 3) tensor (non-contiguous)")
def argmax_position_transposed(side: Side) -> object:
    return side.module.argmax_position(side.randn(3, 5).t())


@suite.check("argmax_position", "argmax_position on a (2, 3) tensor of negative values only")
def argmax_position_negative(side: Side) -> object:
    return side.module.argmax_position(-side.rand(2, 3) - 1)


# ------------------------------------------------------------------ reshaped
suite.item("reshaped", points=2, hint="""
Compare t.view and t.reshape (DLwPT 3.7-3.8 explains views of one storage): which one copies only when
it must?

t.view(shape) shares memory but raises on some non-contiguous tensors (a transposed one); a clone copies
always. The checks want both: memory shared with a contiguous t (writing into t shows in the result),
and no error on a transposed t.

t.reshape(shape) is a view when it can be and copies only when it must: return t.reshape(shape).
""")


@suite.check("reshaped", "reshaped(torch.arange(6), (2, 3)), then 1 is added to the input")
def reshaped_shares_memory(side: Side) -> object:
    t = torch.arange(6, device=side.device)
    return memory_observations(side.module.reshaped(t, (2, 3)), t)


@suite.check("reshaped", "reshaped of a (3, 2, 1) float32 tensor to (1, 2, 3), then 1 is added to the input")
def reshaped_three_dims_shares_memory(side: Side) -> object:
    t = side.randn(3, 2, 1)
    return memory_observations(side.module.reshaped(t, (1, 2, 3)), t)


@suite.check("reshaped", "reshaped of a (4, 6) int64 tensor to (-1, 3)")
def reshaped_with_minus_one(side: Side) -> object:
    t = side.randint(-9, 9, (4, 6))
    return memory_observations(side.module.reshaped(t, (-1, 3)), t)


@suite.check("reshaped", "reshaped of a transposed (3, 2) tensor (non-contiguous) to (-1,)")
def reshaped_non_contiguous(side: Side) -> object:
    t = torch.arange(6, device=side.device).reshape(2, 3).t()
    return {"result": side.module.reshaped(t, (-1,)), "input after the call": t}


@suite.check("reshaped", "reshaped of a permuted (4, 3, 2) float64 tensor (non-contiguous) to (6, 4)")
def reshaped_permuted(side: Side) -> object:
    t = side.randn(2, 3, 4, dtype=torch.float64).permute(2, 1, 0)
    return side.module.reshaped(t, (6, 4))


@suite.check("reshaped", "reshaped of a batch of one (1, 5) to (5,)")
def reshaped_batch_of_one(side: Side) -> object:
    t = side.randn(1, 5)
    return memory_observations(side.module.reshaped(t, (5,)), t)


# ------------------------------------------------------------------ add_leading_dim
suite.item("add_leading_dim", points=1, hint="""
You add a dimension of size 1 in front: the opposite of squeeze. Look up Tensor.unsqueeze.

The new dimension goes at position 0: (3, 4) -> (1, 3, 4), and a 0-d tensor becomes (1,).
unsqueeze(-1) would put it at the end instead. The result must share memory with t: no copy.

t.unsqueeze(0) (or t[None]) puts a new size-1 dimension in front and shares memory with t.
""")


@suite.check("add_leading_dim", "add_leading_dim on a (3, 4) float32 tensor, then 1 is added to the input")
def add_leading_dim_matrix(side: Side) -> object:
    t = side.randn(3, 4)
    return memory_observations(side.module.add_leading_dim(t), t)


@suite.check("add_leading_dim", "add_leading_dim on a (3, 5, 2) uint8 image")
def add_leading_dim_image(side: Side) -> object:
    return side.module.add_leading_dim(side.randint(0, 256, (3, 5, 2), dtype=torch.uint8))


@suite.check("add_leading_dim", "add_leading_dim on a 0-d tensor: (1,)")
def add_leading_dim_scalar(side: Side) -> object:
    return side.module.add_leading_dim(side.tensor(3.5))


@suite.check("add_leading_dim", "add_leading_dim on a (1,) tensor: (1, 1)")
def add_leading_dim_batch_of_one(side: Side) -> object:
    return side.module.add_leading_dim(side.tensor([7]))


@suite.check("add_leading_dim", "add_leading_dim on a transposed (4, 2) tensor (non-contiguous)")
def add_leading_dim_transposed(side: Side) -> object:
    t = side.randn(2, 4).t()
    return memory_observations(side.module.add_leading_dim(t), t)


# ------------------------------------------------------------------ drop_unit_dims
suite.item("drop_unit_dims", points=1, hint="""
Look up Tensor.squeeze: what does it do when you give it no dimension at all?

Without an argument it removes every size-1 dimension: (1, 3, 1, 4) -> (3, 4). squeeze(0) only removes
the first one. When every size is 1 the result is 0-d.

t.squeeze() with no argument; it shares memory with t.
""")


@suite.check("drop_unit_dims", "drop_unit_dims on a (1, 3, 1, 4) tensor, then 1 is added to the input")
def drop_unit_dims_typical(side: Side) -> object:
    t = side.randn(1, 3, 1, 4)
    return memory_observations(side.module.drop_unit_dims(t), t)


@suite.check("drop_unit_dims", "drop_unit_dims on a (3, 1, 2, 1) int64 tensor (no leading 1)")
def drop_unit_dims_inner(side: Side) -> object:
    return side.module.drop_unit_dims(side.randint(0, 9, (3, 1, 2, 1)))


@suite.check("drop_unit_dims", "drop_unit_dims on a (1, 1, 1) tensor: 0-d")
def drop_unit_dims_all_ones(side: Side) -> object:
    return side.module.drop_unit_dims(side.tensor([[[4.0]]]))


@suite.check("drop_unit_dims", "drop_unit_dims on a (2, 3) tensor: unchanged shape")
def drop_unit_dims_nothing_to_drop(side: Side) -> object:
    t = side.randn(2, 3)
    return memory_observations(side.module.drop_unit_dims(t), t)


@suite.check("drop_unit_dims", "drop_unit_dims on a (1, 5) batch of one")
def drop_unit_dims_batch_of_one(side: Side) -> object:
    return side.module.drop_unit_dims(side.randn(1, 5))


# ------------------------------------------------------------------ transpose_2d
suite.item("transpose_2d", points=1, hint="""
Transposing swaps rows and columns: result[j, i] == t[i, j]. PyTorch does it without copying, as a
view of the same memory (DLwPT 3.8).

Reshaping a (2, 3) tensor to (3, 2) has the right shape but the wrong order of elements: you want the
two dimensions swapped, not the elements poured into a new shape.

t.t() (or t.T, t.transpose(0, 1)) swaps rows and columns and shares memory with t.
""")


@suite.check("transpose_2d", "transpose_2d of [[1, 2, 3], [4, 5, 6]]")
def transpose_2d_example(side: Side) -> object:
    return side.module.transpose_2d(side.tensor([[1, 2, 3], [4, 5, 6]]))


@suite.check("transpose_2d", "transpose_2d of a (4, 4) square float32 matrix, then 1 is added to the input")
def transpose_2d_square(side: Side) -> object:
    t = side.randn(4, 4)
    return memory_observations(side.module.transpose_2d(t), t)


@suite.check("transpose_2d", "transpose_2d of a (1, 5) row (float64)")
def transpose_2d_row(side: Side) -> object:
    return side.module.transpose_2d(side.randn(1, 5, dtype=torch.float64))


@suite.check("transpose_2d", "transpose_2d of a (3, 7) uint8 matrix")
def transpose_2d_uint8(side: Side) -> object:
    t = side.randint(0, 256, (3, 7), dtype=torch.uint8)
    return memory_observations(side.module.transpose_2d(t), t)


# ------------------------------------------------------------------ hwc_to_chw
suite.item("hwc_to_chw", points=1, hint="""
Reorder the dimensions, do not reshape: look up Tensor.permute, which takes the new order of the old
dimensions.

In (H, W, C) the channels are dimension 2, the height 0 and the width 1; you want channels, then height,
then width. img.view(C, H, W) has the right shape but scrambles the pixels, and permute(2, 1, 0) swaps
height and width.

img.permute(2, 0, 1) takes dimension 2 (channels) first, then height (0) and width (1).
""")


@suite.check("hwc_to_chw", "hwc_to_chw on a (4, 6, 3) uint8 image")
def hwc_to_chw_uint8(side: Side) -> object:
    img = side.randint(0, 256, (4, 6, 3), dtype=torch.uint8)
    return {"result": side.module.hwc_to_chw(img), "input after the call": img}


@suite.check("hwc_to_chw", "hwc_to_chw on a (5, 5, 3) square float32 image")
def hwc_to_chw_square(side: Side) -> object:
    return side.module.hwc_to_chw(side.rand(5, 5, 3))


@suite.check("hwc_to_chw", "hwc_to_chw on a (3, 7, 1) single-channel image")
def hwc_to_chw_one_channel(side: Side) -> object:
    return side.module.hwc_to_chw(side.randint(0, 256, (3, 7, 1), dtype=torch.uint8))


@suite.check("hwc_to_chw", "hwc_to_chw on a (2, 3, 4) image with 4 channels")
def hwc_to_chw_four_channels(side: Side) -> object:
    return side.module.hwc_to_chw(side.randn(2, 3, 4))


# ------------------------------------------------------------------ stack_images
suite.item("stack_images", points=2, hint="""
Two steps you have met already: join the images on a new first dimension (torch.stack), and move the
channels in front of height and width (as in hwc_to_chw).

torch.stack(images) alone makes a (B, H, W, C) batch; the channels must come second. Reorder each image
before stacking, or the whole batch once after. Keep the uint8 dtype: no conversion.

torch.stack([img.permute(2, 0, 1) for img in images]), or torch.stack(images).permute(0, 3, 1, 2).
""")


def _images(side: Side, count: int, height: int, width: int, channels: int = 3) -> list[torch.Tensor]:
    return [side.randint(0, 256, (height, width, channels), dtype=torch.uint8) for _ in range(count)]


@suite.check("stack_images", "stack_images of four (4, 6, 3) uint8 images")
def stack_images_four(side: Side) -> object:
    images = _images(side, 4, 4, 6)
    return {"result": side.module.stack_images(images), "images after the call": images}


@suite.check("stack_images", "stack_images of one (5, 2, 3) image: a batch of 1")
def stack_images_one(side: Side) -> object:
    return side.module.stack_images(_images(side, 1, 5, 2))


@suite.check("stack_images", "stack_images of three (4, 4, 3) square images")
def stack_images_square(side: Side) -> object:
    return side.module.stack_images(_images(side, 3, 4, 4))


@suite.check("stack_images", "stack_images of two (3, 5, 1) single-channel images")
def stack_images_one_channel(side: Side) -> object:
    return side.module.stack_images(_images(side, 2, 3, 5, 1))


# ------------------------------------------------------------------ flatten_batch
suite.item("flatten_batch", points=1, hint="""
Keep the first size (the batch) and let PyTorch work out the rest: a shape may contain one -1, which is
inferred from the other sizes.

x.view(...) fails on a non-contiguous batch, and view(-1, N) with a fixed N (as in DLwPT chapter 8)
breaks for other shapes. Take the batch size from x itself.

x.reshape(x.shape[0], -1) (or torch.flatten(x, 1)).
""")


@suite.check("flatten_batch", "flatten_batch on an (8, 3, 4, 4) batch")
def flatten_batch_images(side: Side) -> object:
    x = side.randn(8, 3, 4, 4)
    return {"result": side.module.flatten_batch(x), "input after the call": x}


@suite.check("flatten_batch", "flatten_batch on a (1, 5, 2) batch of one")
def flatten_batch_one(side: Side) -> object:
    return side.module.flatten_batch(side.randn(1, 5, 2))


@suite.check("flatten_batch", "flatten_batch on a (6, 7) batch that is already flat")
def flatten_batch_already_flat(side: Side) -> object:
    return side.module.flatten_batch(side.randint(0, 9, (6, 7)))


@suite.check("flatten_batch", "flatten_batch on a permuted (2, 3, 5) batch (non-contiguous)")
def flatten_batch_non_contiguous(side: Side) -> object:
    return side.module.flatten_batch(side.randn(5, 3, 2).permute(2, 1, 0))


@suite.check("flatten_batch", "flatten_batch on a (3, 1, 2, 1) batch with unit dimensions")
def flatten_batch_unit_dims(side: Side) -> object:
    return side.module.flatten_batch(side.randn(3, 1, 2, 1))


# ------------------------------------------------------------------ concat_and_stack
suite.item("concat_and_stack", points=1, hint="""
torch.cat and torch.stack both join a list of tensors along dim 0: one keeps the number of dimensions,
the other adds a new one.

torch.cat([a, b], dim=0) joins along the existing first dimension ((2, 3) and (2, 3) -> (4, 3));
torch.stack([a, b], dim=0) adds a new first dimension (-> (2, 2, 3)). Return them as (cat, stack).
""")


@suite.check("concat_and_stack", "concat_and_stack of two (2, 3) float32 tensors")
def concat_and_stack_matrices(side: Side) -> object:
    a, b = side.randn(2, 3), side.randn(2, 3)
    return {"result": side.module.concat_and_stack(a, b), "a after the call": a, "b after the call": b}


@suite.check("concat_and_stack", "concat_and_stack of two (5,) int64 vectors")
def concat_and_stack_vectors(side: Side) -> object:
    return side.module.concat_and_stack(side.randint(0, 9, (5,)), side.randint(0, 9, (5,)))


@suite.check("concat_and_stack", "concat_and_stack of two (1, 4) rows")
def concat_and_stack_rows(side: Side) -> object:
    return side.module.concat_and_stack(side.randn(1, 4), side.randn(1, 4))


@suite.check("concat_and_stack", "concat_and_stack of two (3, 2, 4) float64 tensors")
def concat_and_stack_three_dims(side: Side) -> object:
    return side.module.concat_and_stack(side.randn(3, 2, 4, dtype=torch.float64),
                                        side.randn(3, 2, 4, dtype=torch.float64))


# ------------------------------------------------------------------ split_and_chunk
suite.item("split_and_chunk", points=2, hint="""
torch.split and torch.chunk both cut along a dimension (dim 0 here): one takes the size of each block,
the other the number of blocks.

torch.split(t, size, dim=0) gives blocks of `size` rows (the last may be shorter); torch.chunk(t, n,
dim=0) asks for n blocks of ceil(rows / n) rows, so 6 rows in 4 chunks give 3 chunks of 2.
torch.tensor_split is not the same as chunk.

Both already return tuples: return (torch.split(t, size, dim=0), torch.chunk(t, n, dim=0)).
""")


@suite.check("split_and_chunk", "split_and_chunk of a (5, 2) tensor with size 2 and n 2")
def split_and_chunk_example(side: Side) -> object:
    t = torch.arange(10, device=side.device).reshape(5, 2)
    return side.module.split_and_chunk(t, 2, 2)


@suite.check("split_and_chunk", "split_and_chunk of a (6, 3) tensor with size 4 and n 4 (chunk gives 3 blocks)")
def split_and_chunk_fewer_chunks(side: Side) -> object:
    t = side.randn(6, 3)
    return {"result": side.module.split_and_chunk(t, 4, 4), "input after the call": t}


@suite.check("split_and_chunk", "split_and_chunk of a (7,) vector with size 3 and n 3")
def split_and_chunk_vector(side: Side) -> object:
    return side.module.split_and_chunk(side.randint(0, 9, (7,)), 3, 3)


@suite.check("split_and_chunk", "split_and_chunk of a (1, 4) tensor with size 3 and n 2: one block each")
def split_and_chunk_one_row(side: Side) -> object:
    return side.module.split_and_chunk(side.randn(1, 4), 3, 2)


@suite.check("split_and_chunk", "split_and_chunk of a (9, 2, 2) float64 tensor with size 2 and n 3")
def split_and_chunk_three_dims(side: Side) -> object:
    return side.module.split_and_chunk(side.randn(9, 2, 2, dtype=torch.float64), 2, 3)


# ------------------------------------------------------------------ select_rows
suite.item("select_rows", points=1, hint="""
Picking rows by number is indexing with an index tensor, or index_select on dimension 0; the data_iter
of d2l 3.2 draws its mini-batches this way.

Rows come back in the order given, repeats included: indices [2, 0, 2] give row 2, row 0, row 2.
Dimension 0 is the rows: t.index_select(0, indices) (or t[indices]).
""")


@suite.check("select_rows", "select_rows of a (3, 3) int64 tensor with indices [0, 2]")
def select_rows_example(side: Side) -> object:
    t = side.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    return side.module.select_rows(t, side.tensor([0, 2]))


@suite.check("select_rows", "select_rows of a (5, 4) tensor with indices [4, 1, 4, 0] (unsorted, repeated)")
def select_rows_repeats(side: Side) -> object:
    t, indices = side.randn(5, 4), side.tensor([4, 1, 4, 0])
    return {"result": side.module.select_rows(t, indices), "input after the call": t,
            "indices after the call": indices}


@suite.check("select_rows", "select_rows of a (6, 2, 3) float64 tensor with one index [3]")
def select_rows_one(side: Side) -> object:
    return side.module.select_rows(side.randn(6, 2, 3, dtype=torch.float64), side.tensor([3]))


@suite.check("select_rows", "select_rows of a (4, 7) tensor with 9 random indices")
def select_rows_random(side: Side) -> object:
    return side.module.select_rows(side.randn(4, 7), side.randint(0, 4, (9,)))


# ------------------------------------------------------------------ at_least
suite.item("at_least", points=1, hint="""
A comparison such as t >= threshold gives a boolean tensor (a mask) of t's shape; indexing with a mask
keeps the elements where it is True.

Note >=, not >: an element equal to the threshold is kept. The kept elements come out as a 1-D tensor in
row-major order, and the dtype stays that of t.

t[t >= threshold] (or torch.masked_select(t, t >= threshold)).
""")


@suite.check("at_least", "at_least([[1, 2, 3], [4, 5, 6], [7, 8, 9]], 5): 5 itself is kept")
def at_least_example(side: Side) -> object:
    t = side.tensor([[1, 2, 3], [4, 5, 6], [7, 8, 9]])
    return {"result": side.module.at_least(t, 5), "input after the call": t}


@suite.check("at_least", "at_least of a (4, 5) int64 tensor with threshold 3 (ties present)")
def at_least_int_ties(side: Side) -> object:
    return side.module.at_least(side.randint(0, 6, (4, 5)), 3)


@suite.check("at_least", "at_least of a (3, 4) float32 tensor with threshold 0.25")
def at_least_float(side: Side) -> object:
    t = side.randn(3, 4)
    t[1, 2] = 0.25
    return side.module.at_least(t, 0.25)


@suite.check("at_least", "at_least of a transposed (5, 3) tensor (non-contiguous) with threshold 0")
def at_least_transposed(side: Side) -> object:
    return side.module.at_least(side.randn(3, 5).t(), 0.0)


@suite.check("at_least", "at_least with a threshold above every element: empty (0,) result")
def at_least_none(side: Side) -> object:
    return side.module.at_least(side.randint(0, 9, (2, 3)), 100)


# ------------------------------------------------------------------ pick_scores
suite.item("pick_scores", points=2, hint="""
You want scores[i, labels[i]] for every row i, without a Python loop: look up Tensor.gather on dim 1.
Beware: scores[:, labels] is something else (an (N, N) table).

gather wants an index with as many dimensions as scores, shape (N, 1), so add a dimension to labels
first. The result is (N, 1); remove only that dimension afterwards, so that a batch of 1 stays (1,),
not 0-d.

scores.gather(1, labels.unsqueeze(1)).squeeze(1). A plain .squeeze() would turn N == 1 into a 0-d
tensor.
""")


@suite.check("pick_scores", "pick_scores of the tutorial's (2, 3) y_hat with labels [0, 2]")
def pick_scores_example(side: Side) -> object:
    y_hat = side.tensor([[0.1, 0.3, 0.6], [0.3, 0.2, 0.5]])
    labels = side.tensor([0, 2])
    return {"result": side.module.pick_scores(y_hat, labels), "scores after the call": y_hat,
            "labels after the call": labels}


@suite.check("pick_scores", "pick_scores of (6, 4) random scores with random labels")
def pick_scores_random(side: Side) -> object:
    return side.module.pick_scores(side.randn(6, 4), side.randint(0, 4, (6,)))


@suite.check("pick_scores", "pick_scores on a batch of 1: (1, 5) scores, result (1,)")
def pick_scores_batch_of_one(side: Side) -> object:
    return side.module.pick_scores(side.randn(1, 5), side.tensor([3]))


@suite.check("pick_scores", "pick_scores of (3, 3) float64 scores, labels [2, 0, 1] (not the row maxima)")
def pick_scores_square_float64(side: Side) -> object:
    scores = side.tensor([[5.0, 1.0, 0.5], [0.1, 4.0, 2.0], [3.0, 0.2, 1.0]], dtype=torch.float64)
    return side.module.pick_scores(scores, side.tensor([2, 0, 1]))


# ------------------------------------------------------------------ share_numpy
suite.item("share_numpy", points=1, hint="""
PyTorch can wrap a NumPy array's memory without copying it (DLwPT chapter 3, NumPy interoperability).
Which functions wrap, and which copy?

After arr += 1 the tensor must show the new values, so nothing may copy: torch.tensor(arr) copies, and
.float() on a float64 array copies too. Keep the array's dtype.

torch.from_numpy(arr) (or torch.as_tensor(arr)) wraps the array's memory without copying.
""")


def _array(side: Side, *shape: int, dtype: torch.dtype = torch.float64) -> np.ndarray:
    """A seeded NumPy array (CPU memory)."""
    if dtype.is_floating_point:
        return side.randn(*shape, dtype=dtype).cpu().numpy()
    return side.randint(-50, 50, tuple(shape), dtype=dtype).cpu().numpy()


@suite.check("share_numpy", "share_numpy of a (5,) float64 array, then arr += 1")
def share_numpy_float64(side: Side) -> object:
    arr = _array(side, 5)
    return memory_observations(side.module.share_numpy(arr), arr)


@suite.check("share_numpy", "share_numpy of a (3, 4) int32 array, then arr += 1")
def share_numpy_int32(side: Side) -> object:
    arr = _array(side, 3, 4, dtype=torch.int32)
    return memory_observations(side.module.share_numpy(arr), arr)


@suite.check("share_numpy", "share_numpy of a (2, 3, 2) float32 array, then arr += 1")
def share_numpy_float32(side: Side) -> object:
    arr = _array(side, 2, 3, 2, dtype=torch.float32)
    return memory_observations(side.module.share_numpy(arr), arr)


# ------------------------------------------------------------------ copy_numpy
suite.item("copy_numpy", points=1, hint="""
The opposite of share_numpy: the tensor must own its memory, so that a later change to the array does
not reach it.

torch.from_numpy / torch.as_tensor alone share memory, so they are not enough. Keep the array's dtype
(float64 stays float64): no .float().

torch.tensor(arr) copies the data into new memory (torch.from_numpy(arr).clone() too), so a later
arr += 1 does not reach the tensor.
""")


@suite.check("copy_numpy", "copy_numpy of a (5,) float64 array, then arr += 1")
def copy_numpy_float64(side: Side) -> object:
    arr = _array(side, 5)
    return memory_observations(side.module.copy_numpy(arr), arr)


@suite.check("copy_numpy", "copy_numpy of a (3, 4) int64 array, then arr += 1")
def copy_numpy_int64(side: Side) -> object:
    arr = _array(side, 3, 4, dtype=torch.int64)
    return memory_observations(side.module.copy_numpy(arr), arr)


@suite.check("copy_numpy", "copy_numpy of a (2, 3) float32 array, then arr += 1")
def copy_numpy_float32(side: Side) -> object:
    arr = _array(side, 2, 3, dtype=torch.float32)
    return memory_observations(side.module.copy_numpy(arr), arr)

