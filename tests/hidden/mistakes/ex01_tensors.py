"""Typical mistakes in ex01_tensors, recognised from what the code returns (see grader/mistakes.py).

Each entry is the wrong code a beginner writes; several entries may share one sentence when different
code makes the same mistake (``torch.tensor(arr)``, ``.clone()`` and ``arr.copy()`` all copy).
Entries are tried in order, and on one check the first that matches names the mistake.
"""

from __future__ import annotations

import numpy as np
import torch

from grader.mistakes import Mistakes

mistakes = Mistakes("ex01_tensors")


def _same(item: str, sentence: str, *implementations):
    """Register each implementation as a mistake of ``item`` told with the same ``sentence``."""
    for implementation in implementations:
        mistakes.of(item, sentence)(lambda reference, implementation=implementation: implementation)


# ------------------------------------------------------------------ from_nested
_same("from_nested",
      "you ignore the dtype argument: pass it on to torch.tensor(data, dtype=dtype) (None lets PyTorch infer it)",
      lambda data, dtype=None: torch.tensor(data))

_same("from_nested",
      "your result is always float32: torch.Tensor (capital T) or a .float() forces it; "
      "use torch.tensor(data, dtype=dtype), which keeps ints as int64 and honours dtype",
      lambda data, dtype=None: torch.Tensor(data),
      lambda data, dtype=None: torch.tensor(data, dtype=dtype).float())

_same("from_nested",
      "you build the tensor first and convert it afterwards, so the decimals were already rounded to float32: "
      "pass dtype= to torch.tensor itself",
      lambda data, dtype=None: torch.tensor(data) if dtype is None else torch.tensor(data).to(dtype))

_same("from_nested",
      "going through NumPy (np.array) makes decimals float64: build the tensor with torch.tensor(data, dtype=dtype), "
      "which gives float32 for decimals",
      lambda data, dtype=None: torch.as_tensor(np.array(data), dtype=dtype),
      lambda data, dtype=None: torch.from_numpy(np.array(data)) if dtype is None
      else torch.from_numpy(np.array(data)).to(dtype))

_same("from_nested",
      "pass ONE nested list: torch.tensor(*data) or torch.tensor(row1, row2) takes the second list as another "
      "argument; write torch.tensor(data, dtype=dtype)",
      lambda data, dtype=None: torch.tensor(*data, dtype=dtype))


# ------------------------------------------------------------------ tensor_info
def _info(t, **changes):
    info = {"dtype": t.dtype, "shape": tuple(t.shape), "device": str(t.device), "ndim": t.dim()}
    info.update({key: change(t) for key, change in changes.items()})
    return info


_same("tensor_info",
      "the device must be a string: use str(t.device) ('cpu', 'cuda:0'), not the torch.device object",
      lambda t: _info(t, device=lambda t: t.device))

_same("tensor_info",
      "ndim is the number of dimensions (t.dim(), 2 for a (3, 4) tensor), not the number of rows (len(t) or t.shape[0])",
      lambda t: _info(t, ndim=lambda t: len(t)))

_same("tensor_info",
      "ndim is the number of dimensions (t.dim()), not the number of elements (t.numel())",
      lambda t: _info(t, ndim=lambda t: t.numel()))

_same("tensor_info",
      "the dtype key should hold t.dtype itself (a torch.dtype such as torch.float32), not its name as a string",
      lambda t: _info(t, dtype=lambda t: str(t.dtype)))

_same("tensor_info",
      "t.type() gives a type name such as 'torch.FloatTensor'; the dtype key wants t.dtype (torch.float32)",
      lambda t: _info(t, dtype=lambda t: t.type()))

_same("tensor_info",
      "the shape should be a tuple: use tuple(t.shape) (or t.shape itself), not a list",
      lambda t: _info(t, shape=lambda t: list(t.shape)))


# ------------------------------------------------------------------ cast
_same("cast",
      "t.to(dtype) and t.type(dtype) hand back t itself when t already has that dtype, so the result shares t's "
      "memory: force a copy with t.to(dtype, copy=True) or .clone()",
      lambda t, dtype: t.to(dtype),
      lambda t, dtype: t.type(dtype))

_same("cast",
      "float to int conversion truncates toward zero (1.7 -> 1, -2.5 -> -2): do not round() first, "
      "the conversion itself is right",
      lambda t, dtype: (t.round() if t.is_floating_point() else t).to(dtype=dtype, copy=True))

_same("cast",
      "floor() rounds down, so -2.5 becomes -3: float to int conversion truncates toward zero, just convert",
      lambda t, dtype: (t.floor() if t.is_floating_point() else t).to(dtype=dtype, copy=True))

_same("cast",
      "you ignore the dtype argument (a plain copy, or always float32): convert to the dtype asked for with "
      "t.to(dtype=dtype, copy=True)",
      lambda t, dtype: t.to(dtype=torch.float32, copy=True),
      lambda t, dtype: t.float().clone(),
      lambda t, dtype: t.clone())

_same("cast",
      "you convert through float32 first (.float()), which keeps only about 7 digits and shares memory for float32: "
      "convert straight to the target with t.to(dtype, copy=True)",
      lambda t, dtype: t.float().to(dtype))


# ------------------------------------------------------------------ elementwise
_same("elementwise",
      "// is floor division (it rounds down and keeps ints): / is true division and gives float32 for int64 tensors",
      lambda a, b: (a + b, a - b, a * b, a // b),
      lambda a, b: (a + b, a - b, a * b, torch.div(a, b, rounding_mode="floor")))

_same("elementwise",
      "you subtract the wrong way round: the second result is a - b, not b - a",
      lambda a, b: (a + b, b - a, a * b, a / b))

_same("elementwise",
      "return a tuple (a + b, a - b, a * b, a / b), not a list",
      lambda a, b: [a + b, a - b, a * b, a / b])

_same("elementwise",
      "the .float() before dividing turns float64 into float32: a / b alone gives a float for ints and keeps float64",
      lambda a, b: (a + b, a - b, a * b, a.float() / b.float()))

_same("elementwise",
      "a.add_(b) or a += b changes a in place, so the next results use the changed a: a + b makes a new tensor",
      lambda a, b: (a.add_(b), a - b, a * b, a / b))

_same("elementwise",
      "the product is element by element (a * b); a @ b is a matrix product",
      lambda a, b: (a + b, a - b, a @ b, a / b))

_same("elementwise",
      "the results come in the wrong order: return (a + b, a - b, a * b, a / b)",
      lambda a, b: (a + b, a - b, a / b, a * b),
      lambda a, b: (a + b, a * b, a - b, a / b))


# ------------------------------------------------------------------ matmul
def _checked(a, b, message, error=ValueError, inner=lambda a, b: a.shape[-1] != b.shape[-2], dims=True,
             product=lambda a, b: a @ b):
    """A matmul with the reference's checks, some of them changed."""
    shapes = f"a has shape {tuple(a.shape)}, b has shape {tuple(b.shape)}"
    if dims and (a.dim() < 2 or b.dim() < 2):
        raise error(message(shapes, "both operands need at least 2 dimensions"))
    if inner(a, b):
        raise error(message(shapes, "inner dimensions differ"))
    return product(a, b)


def _named(shapes, what):
    return f"matmul: {what}: {shapes}"


_same("matmul",
      "you accept 1-D tensors: also check a.dim() >= 2 and b.dim() >= 2 and raise ValueError otherwise",
      lambda a, b: _checked(a, b, _named, dims=False))

_same("matmul",
      "you let torch raise its own RuntimeError: compare a.shape[-1] with b.shape[-2] yourself first and raise "
      "ValueError naming both shapes",
      lambda a, b: _checked(a, b, _named, inner=lambda a, b: False),
      lambda a, b: a @ b)

_same("matmul",
      "your ValueError's message does not name the shapes: put both in it, "
      "e.g. f\"a has shape {tuple(a.shape)}, b has shape {tuple(b.shape)}\"",
      lambda a, b: _checked(a, b, lambda shapes, what: f"matmul: {what}"),
      lambda a, b: _checked(a, b, lambda shapes, what: "the shapes do not match"))

_same("matmul",
      "you compare with b.shape[0] (or a.shape[1]), which fits only plain matrices: compare the last size of a, "
      "a.shape[-1], with the second-to-last of b, b.shape[-2]",
      lambda a, b: _checked(a, b, _named, inner=lambda a, b: a.shape[-1] != b.shape[0]),
      lambda a, b: _checked(a, b, _named, inner=lambda a, b: a.shape[1] != b.shape[0]))

_same("matmul",
      "torch.mm only multiplies plain 2-D matrices: use a @ b (torch.matmul), which handles batches and broadcasting",
      lambda a, b: _checked(a, b, _named, product=torch.mm))

_same("matmul",
      "torch.bmm needs two 3-D batches of the same size and does not broadcast: use a @ b (torch.matmul)",
      lambda a, b: _checked(a, b, _named, product=torch.bmm),
      lambda a, b: _checked(a, b, _named, product=lambda a, b: torch.bmm(a, b) if a.dim() == 3 else a @ b))

_same("matmul",
      "a * b multiplies element by element: the matrix product is a @ b (torch.matmul)",
      lambda a, b: _checked(a, b, _named, product=lambda a, b: a * b),
      lambda a, b: a * b)

_same("matmul",
      "you multiply in the wrong order: the product is a @ b, not b @ a",
      lambda a, b: _checked(a, b, _named, product=lambda a, b: b @ a))

_same("matmul",
      "raise ValueError (not TypeError) when the shapes do not fit: the types are right, the values are not",
      lambda a, b: _checked(a, b, _named, error=TypeError),
      lambda a, b: _checked(a, b, lambda shapes, what: f"matmul: {what}", error=TypeError))


def _asserting(a, b, with_shapes):
    shapes = f"a has shape {tuple(a.shape)}, b has shape {tuple(b.shape)}" if with_shapes else ""
    assert a.dim() >= 2 and b.dim() >= 2, shapes
    assert a.shape[-1] == b.shape[-2], shapes
    return a @ b


_same("matmul",
      "assert raises AssertionError: raise ValueError(...) yourself, with both shapes in the message",
      lambda a, b: _asserting(a, b, True),
      lambda a, b: _asserting(a, b, False))


# ------------------------------------------------------------------ mean_of
_same("mean_of",
      "the result must be float32 for every input, float64 included: convert every t with t.to(torch.float32) "
      "before .mean()",
      lambda t: t.mean() if t.is_floating_point() else t.float().mean())

_same("mean_of",
      "t.mean() refuses integer tensors: convert to float32 first, t.to(torch.float32).mean() (or t.float().mean())",
      lambda t: t.mean())

_same("mean_of",
      ".double() makes the mean float64: convert to float32 instead, t.float().mean()",
      lambda t: t.double().mean())

_same("mean_of",
      ".item() turns the mean into a Python float: return the 0-d tensor itself",
      lambda t: t.to(torch.float32).mean().item(),
      lambda t: float(t.to(torch.float32).mean()))

_same("mean_of",
      "you average along one dimension only (mean(dim=0) or dim=1): call .mean() with no dim to average every element",
      lambda t: t.to(torch.float32).mean(dim=0),
      lambda t: t.to(torch.float32).mean(dim=-1),
      lambda t: t.to(torch.float32).mean(dim=1))

_same("mean_of",
      "len(t) (or t.shape[0]) is the number of rows, not of elements: divide the sum by t.numel(), or just use .mean()",
      lambda t: t.to(torch.float32).sum() / len(t))

_same("mean_of",
      "integer division // drops the decimals: convert to float32 and use .mean()",
      lambda t: t.sum() // t.numel())


# ------------------------------------------------------------------ argmax_position
def _unravel(flat, shape):
    return tuple(int(i) for i in torch.unravel_index(flat, shape))


_same("argmax_position",
      "t.argmax() counts in the flattened tensor: turn it into one index per dimension with "
      "torch.unravel_index(t.argmax(), t.shape) (row = i // columns, column = i % columns)",
      lambda t: (int(t.argmax()),),
      lambda t: int(t.argmax()))

_same("argmax_position",
      "you work out only a row and a column (divmod by the last size): a tensor of 1 or 3 dimensions needs one index "
      "per dimension, torch.unravel_index(t.argmax(), t.shape)",
      lambda t: divmod(int(t.argmax()), t.shape[-1]))

_same("argmax_position",
      "you divide the flat index by the number of rows: the row is i // (number of columns), the column "
      "i % (number of columns); torch.unravel_index does it for you",
      lambda t: divmod(int(t.argmax()), t.shape[0]))

_same("argmax_position",
      "torch.unravel_index gives 0-d tensors: turn each into a Python int with int(i) or .item()",
      lambda t: tuple(torch.unravel_index(t.argmax(), t.shape)))

_same("argmax_position",
      "you take the last of the tied maxima: the first largest element in row-major order should win, "
      "as t.argmax() gives it",
      lambda t: tuple(int(i) for i in (t == t.max()).nonzero()[-1]))

_same("argmax_position",
      "view(-1) fails on a non-contiguous (transposed) tensor: use t.reshape(-1), t.flatten(), or just t.argmax()",
      lambda t: _unravel(t.view(-1).argmax(), t.shape))

_same("argmax_position",
      "your indices come out in reversed order: the first is the index along dimension 0 (the row), the last "
      "along the last dimension (the column)",
      lambda t: tuple(reversed(_unravel(t.argmax(), t.shape))))


# ------------------------------------------------------------------ reshaped
_same("reshaped",
      "view cannot handle a non-contiguous (transposed) tensor: use t.reshape(shape), which views when it can "
      "and copies only when it must",
      lambda t, shape: t.view(shape),
      lambda t, shape: t.view(*shape))

_same("reshaped",
      "your result is a copy (clone, contiguous copy, torch.tensor), so changes to t no longer show in it: "
      "t.reshape(shape) shares memory whenever it can",
      lambda t, shape: t.clone().reshape(shape),
      lambda t, shape: t.reshape(shape).clone())

_same("reshaped",
      "you transpose before reshaping (t.T / t.mT): reshape reads the elements of t itself in row-major order, "
      "just t.reshape(shape)",
      lambda t, shape: t.reshape(shape) if t.dim() < 2 else t.mT.reshape(shape))

_same("reshaped",
      "you fill the new shape column by column (Fortran/MATLAB order): PyTorch reads and writes elements row by row, "
      "t.reshape(shape)",
      lambda t, shape: t.permute(*reversed(range(t.dim()))).reshape(tuple(reversed(shape)))
      .permute(*reversed(range(len(shape)))))


# ------------------------------------------------------------------ add_leading_dim
_same("add_leading_dim",
      "the new dimension goes in the wrong place (unsqueeze(-1) or unsqueeze(1)): unsqueeze(0) puts it in front",
      lambda t: t.unsqueeze(-1),
      lambda t: t.unsqueeze(1))

_same("add_leading_dim",
      "torch.stack([t]), .clone() or torch.tensor copies the data: t.unsqueeze(0) is a view that shares memory with t",
      lambda t: t.unsqueeze(0).clone())

_same("add_leading_dim",
      "reshape(1, -1) / view(1, -1) also flattens the other dimensions: keep t's shape behind the 1 with unsqueeze(0)",
      lambda t: t.reshape(1, -1))


# ------------------------------------------------------------------ drop_unit_dims
_same("drop_unit_dims",
      "when every size is 1 the result is a 0-d tensor: do not turn it back into shape (1,)",
      lambda t: t.squeeze() if t.numel() > 1 else t.reshape(1),
      lambda t: torch.atleast_1d(t.squeeze()))

_same("drop_unit_dims",
      "squeeze with a dimension (e.g. squeeze(0)) removes only that one: call t.squeeze() with no argument "
      "to remove every size-1 dimension",
      lambda t: t.squeeze(0),
      lambda t: t.squeeze(1),
      lambda t: t.squeeze(-1))

_same("drop_unit_dims",
      "flatten() (or reshape(-1)) merges all dimensions into one: squeeze() removes only the size-1 ones",
      lambda t: t.flatten())

_same("drop_unit_dims",
      "your result is a copy (clone, contiguous, torch.tensor): t.squeeze() alone shares memory with t",
      lambda t: t.squeeze().clone())


# ------------------------------------------------------------------ transpose_2d
_same("transpose_2d",
      "reshape/view to (N, M) keeps the elements in reading order, so they land in the wrong places: "
      "t.t() (or t.T) swaps rows and columns",
      lambda t: t.reshape(t.shape[1], t.shape[0]))

_same("transpose_2d",
      "your result is a copy (.contiguous(), clone): t.t() alone is a view that shares memory with t",
      lambda t: t.t().contiguous(),
      lambda t: t.t().clone())

_same("transpose_2d",
      "you rotate the matrix (a flip plus a transpose, like rot90) instead of transposing it: "
      "result[j, i] is t[i, j], just t.t()",
      lambda t: t.flip(0).t(),
      lambda t: t.flip(1).t())


# ------------------------------------------------------------------ hwc_to_chw
_same("hwc_to_chw",
      "permute(2, 1, 0) (or transpose(0, 2)) also swaps height and width: permute(2, 0, 1) takes channels, "
      "then height, then width",
      lambda img: img.permute(2, 1, 0))

_same("hwc_to_chw",
      "permute(1, 2, 0) goes the other way (channels first to channels last): list the old dimensions in their "
      "new order, permute(2, 0, 1)",
      lambda img: img.permute(1, 2, 0))

_same("hwc_to_chw",
      "reshape/view to (C, H, W) keeps the memory order and scrambles the pixels: reorder the dimensions with "
      "permute(2, 0, 1)",
      lambda img: img.reshape(img.shape[2], img.shape[0], img.shape[1]))

_same("hwc_to_chw",
      "the .float() changes the dtype: keep the image's own dtype (uint8 stays uint8), just permute it",
      lambda img: img.permute(2, 0, 1).float())


# ------------------------------------------------------------------ stack_images
_same("stack_images",
      "squeeze() removes the batch dimension of a batch of one: one image still gives a (1, C, H, W) batch",
      lambda images: torch.stack([img.permute(2, 0, 1) for img in images]).squeeze(0),
      lambda images: torch.stack([img.permute(2, 0, 1) for img in images]).squeeze())

_same("stack_images",
      "the channels are still last, (B, H, W, C): permute each image with permute(2, 0, 1) before stacking, "
      "or the batch with permute(0, 3, 1, 2)",
      lambda images: torch.stack(list(images)))

_same("stack_images",
      "permute(0, 3, 2, 1) (or permute(2, 1, 0) per image) also swaps height and width: use permute(0, 3, 1, 2) "
      "on the batch",
      lambda images: torch.stack(list(images)).permute(0, 3, 2, 1))

_same("stack_images",
      "reshape/view to (B, C, H, W) scrambles the pixels: reorder the dimensions with permute(0, 3, 1, 2)",
      lambda images: torch.stack(list(images)).reshape(len(images), images[0].shape[2], *images[0].shape[:2]))

_same("stack_images",
      "torch.cat joins the images along their existing first dimension: torch.stack adds the new batch dimension",
      lambda images: torch.cat([img.permute(2, 0, 1) for img in images]))

_same("stack_images",
      "the .float() changes the dtype: the batch keeps the images' uint8",
      lambda images: torch.stack([img.permute(2, 0, 1) for img in images]).float())


# ------------------------------------------------------------------ flatten_batch
_same("flatten_batch",
      "squeeze() also removes the batch dimension of a batch of one: a (1, ...) batch must give (1, N), so do "
      "not squeeze",
      lambda x: x.reshape(x.shape[0], -1).squeeze(),
      lambda x: x.squeeze().reshape(x.squeeze().shape[0], -1))

_same("flatten_batch",
      "view cannot flatten a non-contiguous (permuted) batch: use x.reshape(x.shape[0], -1) or torch.flatten(x, 1)",
      lambda x: x.view(x.shape[0], -1))

_same("flatten_batch",
      "you flatten the batch dimension too: keep it with torch.flatten(x, start_dim=1) or x.reshape(x.shape[0], -1)",
      lambda x: x.flatten())

_same("flatten_batch",
      "you fix the row length to the last size instead of keeping the number of rows: x.reshape(x.shape[0], -1) "
      "keeps the batch size first",
      lambda x: x.reshape(-1, x.shape[-1]))

_same("flatten_batch",
      "you multiply only some of the sizes: let -1 work out the rest, x.reshape(x.shape[0], -1)",
      lambda x: x.reshape(x.shape[0], x.shape[1] * x.shape[2]))


# ------------------------------------------------------------------ concat_and_stack
_same("concat_and_stack",
      "cat and stack are swapped: torch.cat joins along an existing dimension ((2, 3) -> (4, 3)), torch.stack "
      "adds a new one (-> (2, 2, 3)); return (cat, stack)",
      lambda a, b: (torch.stack([a, b], dim=0), torch.cat([a, b], dim=0)))

_same("concat_and_stack",
      "torch.cat along dim=1 or dim=-1 puts b beside a: cat along dim=0 puts b's rows under a's",
      lambda a, b: (torch.cat([a, b], dim=-1), torch.stack([a, b], dim=0)),
      lambda a, b: (torch.cat([a, b], dim=1), torch.stack([a, b], dim=0)))

_same("concat_and_stack",
      "torch.stack on dim=1 or dim=-1 inserts the new dimension later: stack on dim=0 so result[0] is a and "
      "result[1] is b",
      lambda a, b: (torch.cat([a, b], dim=0), torch.stack([a, b], dim=1)),
      lambda a, b: (torch.cat([a, b], dim=0), torch.stack([a, b], dim=-1)))

_same("concat_and_stack",
      "torch.vstack turns 1-D tensors into rows first: use torch.cat([a, b], dim=0)",
      lambda a, b: (torch.vstack([a, b]), torch.stack([a, b], dim=0)))

_same("concat_and_stack",
      "return a tuple (cat, stack), not a list",
      lambda a, b: [torch.cat([a, b], dim=0), torch.stack([a, b], dim=0)])

_same("concat_and_stack",
      "torch.cat and torch.stack take ONE list of tensors: torch.cat([a, b]), not torch.cat(a, b)",
      lambda a, b: (torch.cat(a, b), torch.stack(a, b)))


# ------------------------------------------------------------------ split_and_chunk
_same("split_and_chunk",
      "torch.tensor_split (like np.array_split) always makes n pieces of nearly equal size; torch.chunk makes "
      "pieces of ceil(rows / n) rows, maybe fewer than n",
      lambda t, size, n: (torch.split(t, size, dim=0), torch.tensor_split(t, n, dim=0)))

_same("split_and_chunk",
      "size and n are swapped: torch.split takes the rows per block (size), torch.chunk the number of blocks (n)",
      lambda t, size, n: (torch.split(t, n, dim=0), torch.chunk(t, size, dim=0)))

_same("split_and_chunk",
      "blocks of rows // n rows round down: torch.chunk(t, n) uses ceil(rows / n) rows per block",
      lambda t, size, n: (torch.split(t, size, dim=0), torch.split(t, t.shape[0] // n, dim=0)))

_same("split_and_chunk",
      "torch.split and torch.chunk already return tuples: return them as they are, not as lists",
      lambda t, size, n: (list(torch.split(t, size, dim=0)), list(torch.chunk(t, n, dim=0))))

_same("split_and_chunk",
      "you cut along the last dimension (dim=-1 or dim=1): cut the rows, dim=0 (the default)",
      lambda t, size, n: (torch.split(t, size, dim=-1), torch.chunk(t, n, dim=0)),
      lambda t, size, n: (torch.split(t, size, dim=-1), torch.chunk(t, n, dim=-1)))


# ------------------------------------------------------------------ select_rows
_same("select_rows",
      "index_select(1, ...) (or t[:, indices]) picks columns: dimension 0 is the rows, t.index_select(0, indices)",
      lambda t, indices: t.index_select(1, indices))

_same("select_rows",
      "unique() drops the repeated indices (and sorts them): take the rows in the order given, repeats included",
      lambda t, indices: t.index_select(0, indices.unique()))

_same("select_rows",
      "sorting the indices changes the order of the rows: take them in the order given",
      lambda t, indices: t.index_select(0, indices.sort().values))

_same("select_rows",
      "gather wants an index shaped like t; to take whole rows use t.index_select(0, indices) or t[indices]",
      lambda t, indices: t.gather(0, indices))

_same("select_rows",
      "a slice takes every row from the first index to the last: index with the tensor itself, t[indices]",
      lambda t, indices: t[int(indices[0]):int(indices[-1]) + 1])


# ------------------------------------------------------------------ at_least
_same("at_least",
      "> drops the elements equal to the threshold: use >= to keep them",
      lambda t, threshold: t[t > threshold])

_same("at_least",
      "your comparison is the wrong way round: keep the elements >= threshold",
      lambda t, threshold: t[t <= threshold],
      lambda t, threshold: t[t < threshold])

_same("at_least",
      "you sort the kept elements: keep them in row-major order, as t[t >= threshold] gives them",
      lambda t, threshold: t[t >= threshold].sort().values)

_same("at_least",
      "you read the elements column by column: t[t >= threshold] keeps them row by row (row-major order)",
      lambda t, threshold: t.mT[t.mT >= threshold] if t.dim() == 2 else t[t >= threshold])

_same("at_least",
      "multiplying by the mask (or torch.where) sets the other elements to 0 instead of removing them: "
      "index with the mask, t[t >= threshold]",
      lambda t, threshold: (t * (t >= threshold)).flatten(),
      lambda t, threshold: t * (t >= threshold),
      lambda t, threshold: torch.where(t >= threshold, t, 0))

_same("at_least",
      "you return the mask itself: index t with it, t[t >= threshold], to get the values",
      lambda t, threshold: t >= threshold)

_same("at_least",
      "nonzero() gives the positions of the kept elements, not their values: index t with the mask, t[t >= threshold]",
      lambda t, threshold: (t >= threshold).nonzero())

_same("at_least",
      "the .float() changes the dtype: the kept elements keep t's dtype",
      lambda t, threshold: t[t >= threshold].float())


# ------------------------------------------------------------------ pick_scores
def _gathered(scores, labels):
    return scores.gather(1, labels.unsqueeze(1))


_same("pick_scores",
      "squeeze() with no argument also removes the batch dimension of a batch of one: use squeeze(1) to remove "
      "only the dimension gather added",
      lambda scores, labels: _gathered(scores, labels).squeeze())

_same("pick_scores",
      "scores[:, labels] takes every label's column for every row, an (N, N) table: pair each row with its own "
      "label, scores[torch.arange(N), labels]",
      lambda scores, labels: scores[:, labels])

_same("pick_scores",
      "gather keeps the (N, 1) shape of its index: remove that dimension with .squeeze(1)",
      lambda scores, labels: _gathered(scores, labels))

_same("pick_scores",
      "you take each row's largest score (max) instead of the score of the row's label: "
      "scores.gather(1, labels.unsqueeze(1)).squeeze(1)",
      lambda scores, labels: scores.max(dim=1).values)

_same("pick_scores",
      "argmax gives positions (the predicted classes), not scores: pick the score of each row's label, "
      "scores[torch.arange(N), labels]",
      lambda scores, labels: scores.argmax(dim=1))

_same("pick_scores",
      "you index the rows by label (dimension 0): the label picks the column, so gather along dim 1 "
      "or write scores[torch.arange(N), labels]",
      lambda scores, labels: scores[labels, torch.arange(len(labels), device=labels.device) % scores.shape[1]],
      lambda scores, labels: scores[labels, torch.arange(len(labels), device=labels.device)],
      lambda scores, labels: scores.gather(0, labels.unsqueeze(0)).squeeze(0))

_same("pick_scores",
      "gather's index must have as many dimensions as scores: pass labels.unsqueeze(1), shape (N, 1)",
      lambda scores, labels: scores.gather(1, labels))

_same("pick_scores",
      "labels.unsqueeze(0) makes a (1, N) row of indices, read from the first row only: gather wants a column, "
      "labels.unsqueeze(1)",
      lambda scores, labels: scores.gather(1, labels.unsqueeze(0)).squeeze(0))

_same("pick_scores",
      "building the result from Python numbers (.item() in a list) turns float64 into float32: index with tensors, "
      "scores[torch.arange(N), labels]",
      lambda scores, labels: torch.tensor([scores[i, labels[i]].item() for i in range(len(labels))],
                                          device=scores.device))


# ------------------------------------------------------------------ share_numpy
_same("share_numpy",
      "your tensor holds a copy (torch.tensor, .clone() or arr.copy()): torch.from_numpy(arr) uses the array's "
      "own memory, no copy",
      lambda arr: torch.tensor(arr),
      lambda arr: torch.from_numpy(arr).clone(),
      lambda arr: torch.from_numpy(arr.copy()))

_same("share_numpy",
      "changing the dtype (.float(), torch.Tensor, .double()) makes a converted copy: torch.from_numpy(arr) keeps "
      "the array's dtype and memory",
      lambda arr: torch.from_numpy(arr).float(),
      lambda arr: torch.Tensor(arr),
      lambda arr: torch.from_numpy(arr).double(),
      lambda arr: torch.from_numpy(arr).long())


# ------------------------------------------------------------------ copy_numpy
_same("copy_numpy",
      "torch.from_numpy(arr) and torch.as_tensor(arr) share the array's memory: copy with torch.tensor(arr) "
      "or torch.from_numpy(arr).clone()",
      lambda arr: torch.from_numpy(arr),
      lambda arr: torch.as_tensor(arr))

_same("copy_numpy",
      "torch.Tensor(arr) (capital T) and .float() make float32 (and a float32 array stays shared): "
      "torch.tensor(arr) keeps the dtype and copies",
      lambda arr: torch.Tensor(arr),
      lambda arr: torch.from_numpy(arr).float())

_same("copy_numpy",
      ".double() (or .long()) changes the dtype: torch.tensor(arr) keeps the array's dtype (float32 stays float32)",
      lambda arr: torch.tensor(arr).double(),
      lambda arr: torch.tensor(arr).long())
