"""The deep part's linear layers, on the fastest float32 matrix product of
the CPU.

PyTorch's x86 builds multiply float32 matrices with Intel MKL, which runs
its AVX-512 kernels on Intel processors only: on AMD processors it takes a
generic path.  oneDNN, which PyTorch also ships (``torch.ops.mkldnn``),
picks its kernels by the instruction set alone.  On an AMD EPYC (Zen 5,
2 threads) a ``(2048, 400) x (400, 400)`` float32 product takes 3.5 ms with
MKL and 1.5 ms with oneDNN, and the two products of the backward pass gain
as much (``benchmarks/cpu_matmul.py``).

:class:`Linear` is ``nn.Linear`` whose float32 CPU forward and backward use
oneDNN where :func:`onednn_float32` says so, and ``F.linear`` everywhere
else: on Intel processors (where MKL is as fast), on other devices, under
autocast (the bfloat16 deep part), for other dtypes, for an empty batch,
and inside TorchScript, tracing, ``torch.export`` and ``torch.compile``, whose graphs
keep the portable ``aten.linear``.  In training, a product under
:data:`ONEDNN_MIN_PRODUCT` multiply-adds also keeps ``F.linear``: a oneDNN
call costs about 13 us before any arithmetic, MKL's about 2.5 us, so the
three products of the output layer's training pass on a small table's
batches (76 x 128 -> 1) took 46 us by oneDNN against 7 by MKL.  Prediction keeps
oneDNN at every size, so that a row's prediction does not depend on the
size of the batch it falls in.

The product is PyTorch's private operator ``torch.ops.mkldnn._linear_pointwise``,
whose contract is not documented: it reads the bias as contiguous (a strided
bias gives wrong sums, an expanded one reads past its buffer).
:func:`_product` gives it a contiguous bias and matrices in the layouts that
:func:`_product_agrees` checks against ``F.linear`` once per process; where the
operator is missing or disagrees, the layers keep ``F.linear``.
"""

import functools
import itertools
import platform

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from ._cpu import x86_vendor

# Multiply-adds (rows x inputs x outputs) from which a training product goes
# to oneDNN.  Zen 5, 2 threads, the three products of a layer's training pass
# by MKL against oneDNN, microseconds (benchmarks/results/small_steps.md):
# 76 x 128 -> 1 (10k multiply-adds) 7.0 against 46.0; 1024 x 400 -> 1 (410k)
# 73.9 against 80.8; 2048 x 400 -> 1 (819k) 139.1 against 125.0; 76 x 120 ->
# 256 (2.3M) 92.9 against 95.4; 320 x 120 -> 256 (9.8M) 335 against 228.
ONEDNN_MIN_PRODUCT = 1 << 19


@functools.cache
def onednn_float32():
    """Whether float32 linear layers on the CPU run through oneDNN: on x86
    processors other than Intel's, when PyTorch was built with oneDNN."""
    if not torch.backends.mkldnn.is_available():
        return False
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return False
    return x86_vendor() not in ("GenuineIntel", "")


def _applies(x, weight):
    return (
        not torch.jit.is_tracing()
        and not torch.compiler.is_compiling()
        and x.device.type == "cpu"
        and x.dtype == torch.float32
        and weight.dtype == torch.float32
        and x.dim() == 2
        and x.shape[0] > 0
        and not torch.is_autocast_enabled("cpu")
        and onednn_float32()
        and _product_agrees()
    )


def _operator():
    """oneDNN's fused linear operator, or None where this PyTorch lacks it."""
    try:
        return torch.ops.mkldnn._linear_pointwise
    except (AttributeError, RuntimeError):
        return None


def _product(x, weight, bias=None):
    """``x @ weight.T + bias`` by oneDNN (``weight``: (out, in), both 2-D)."""
    if not _major(x):
        x = x.contiguous()
    if not _major(weight):
        weight = weight.contiguous()
    if bias is not None and not bias.is_contiguous():
        bias = bias.contiguous()
    return _operator()(x, weight, bias, "none", [], "")


def _major(matrix):
    """Whether ``matrix`` is row- or column-major, rows or columns possibly
    padded: the layouts :func:`_product_agrees` checks (the backward pass
    multiplies transposed views)."""
    (rows, cols), (row_stride, col_stride) = matrix.shape, matrix.stride()
    return (col_stride == 1 and row_stride >= cols) or (
        row_stride == 1 and col_stride >= rows
    )


@functools.cache
def _product_agrees():
    """Whether :func:`_product` gives ``F.linear``'s results on this PyTorch,
    on small products in every layout it is given, with and without a bias:
    a guard on the private operator's semantics."""
    if _operator() is None:
        return False
    generator = torch.Generator().manual_seed(0)

    def matrix(rows, cols, layout):
        if layout == "rows":
            return torch.randn(rows, cols, generator=generator)
        if layout == "columns":
            return torch.randn(cols, rows, generator=generator).t()
        return torch.randn(rows, 2 * cols, generator=generator)[:, :cols]

    layouts = ("rows", "columns", "padded")
    try:
        for x_layout, weight_layout in itertools.product(layouts, layouts):
            x, weight = matrix(9, 13, x_layout), matrix(5, 13, weight_layout)
            bias = torch.randn(10, generator=generator)[::2]
            for b in (None, bias):
                if not torch.allclose(
                    _product(x, weight, b), F.linear(x, weight, b), atol=1e-5
                ):
                    return False
    except RuntimeError:
        return False
    return True


class _OneDNNLinear(torch.autograd.Function):
    """``F.linear`` with its three matrix products done by oneDNN."""

    @staticmethod
    def forward(ctx, x, weight, bias):
        ctx.save_for_backward(x, weight)
        return _product(x, weight, bias)

    @staticmethod
    def backward(ctx, grad):
        x, weight = ctx.saved_tensors
        grad = grad.contiguous()
        grad_x = grad_weight = grad_bias = None
        if ctx.needs_input_grad[0]:
            grad_x = _product(grad, weight.t())  # grad @ weight
        if ctx.needs_input_grad[1]:
            grad_weight = _product(grad.t(), x.t())  # grad.T @ x
        if ctx.needs_input_grad[2]:
            grad_bias = grad.sum(0)
        return grad_x, grad_weight, grad_bias


class Linear(nn.Linear):
    """``nn.Linear`` on oneDNN's float32 product where that is faster (see
    the module's docstring); same parameters, same results up to float32
    rounding."""

    def forward(self, x: Tensor) -> Tensor:
        if torch.jit.is_scripting():
            return F.linear(x, self.weight, self.bias)
        return self._forward(x)

    @torch.jit.unused
    def _forward(self, x: Tensor) -> Tensor:
        if not _applies(x, self.weight):
            return F.linear(x, self.weight, self.bias)
        if torch.is_grad_enabled() and (
            x.requires_grad
            or self.weight.requires_grad
            or (self.bias is not None and self.bias.requires_grad)
        ):
            if x.shape[0] * self.in_features * self.out_features < ONEDNN_MIN_PRODUCT:
                return F.linear(x, self.weight, self.bias)
            return _OneDNNLinear.apply(x, self.weight, self.bias)
        return _product(x, self.weight, self.bias)

    @torch.jit.unused
    def into(self, x: Tensor, out: Tensor) -> Tensor:
        """The forward without autograd, written into ``out`` (contiguous,
        ``(batch, out_features)``) where the product is ``F.linear``'s: the
        same kernel (``addmm``), the same results. oneDNN's operator has no
        output argument; where it applies, a new tensor is returned."""
        if _applies(x, self.weight) or x.dtype != out.dtype:
            return self._forward(x)
        if self.bias is None:
            return torch.mm(x, self.weight.t(), out=out)
        return torch.addmm(self.bias, x, self.weight.t(), out=out)
