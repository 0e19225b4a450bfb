"""The MLP's linear layers give nn.Linear's results on either float32 path."""

import functools

import pytest
import torch
from numpy.testing import assert_allclose
from torch import nn

from sklearn_deepfm import _cpu_linear
from sklearn_deepfm._cpu_linear import Linear

pytestmark = pytest.mark.skipif(
    not torch.backends.mkldnn.is_available(), reason="PyTorch built without oneDNN"
)


@pytest.fixture(params=[True, False], ids=["onednn", "blas"])
def path(request, monkeypatch):
    """Run the test with oneDNN forced on, then off, whatever the CPU."""
    monkeypatch.setattr(_cpu_linear, "onednn_float32", lambda: request.param)
    return request.param


def _pair(n_in, n_out):
    torch.manual_seed(0)
    ours = Linear(n_in, n_out)
    reference = nn.Linear(n_in, n_out)
    reference.load_state_dict(ours.state_dict())
    return ours, reference


@pytest.mark.parametrize("n_rows", [0, 1, 7, 300])
@pytest.mark.parametrize("n_out", [1, 64])  # 300 x 40 -> 64: large
def test_outputs_and_gradients_match_nn_linear(path, n_rows, n_out):
    ours, reference = _pair(40, n_out)
    x = torch.randn(n_rows, 40)
    _cpu_linear._product_agrees()  # its once-per-process check runs oneDNN
    results = []
    for layer in (ours, reference):
        inputs = x.clone().requires_grad_()
        with torch.profiler.profile() as profile:
            out = layer(inputs)
            (out.square().sum() + out.sum()).backward()
        ran = {event.name for event in profile.events()}
        if layer is ours:
            # forward and both gradients by oneDNN, when it is on and the
            # product is large enough to repay oneDNN's cost per call
            onednn = "mkldnn::_linear_pointwise" in ran
            large = n_rows * 40 * n_out >= _cpu_linear.ONEDNN_MIN_PRODUCT
            assert onednn == (path and large)
        results.append([out.detach(), inputs.grad, layer.weight.grad, layer.bias.grad])
    for got, want in zip(*results, strict=True):
        assert got.shape == want.shape
        assert_allclose(got.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_prediction_keeps_onednn_at_every_batch_size(path):
    # a row's prediction does not depend on whether its batch is large
    ours, reference = _pair(40, 1)
    x = torch.randn(7, 40)
    _cpu_linear._product_agrees()
    with torch.no_grad(), torch.profiler.profile() as profile:
        out = ours(x)
    ran = {event.name for event in profile.events()}
    assert ("mkldnn::_linear_pointwise" in ran) == path
    with torch.no_grad():
        assert_allclose(out.numpy(), reference(x).numpy(), rtol=1e-5, atol=1e-5)


def test_inference_and_frozen_weights(path):
    ours, reference = _pair(40, 16)
    x = torch.randn(50, 40)
    with torch.no_grad():
        assert_allclose(ours(x).numpy(), reference(x).numpy(), rtol=1e-5, atol=1e-5)
    ours.requires_grad_(False)
    reference.requires_grad_(False)
    inputs = x.clone().requires_grad_()
    ours(inputs).sum().backward()
    want = reference.weight.sum(0).expand(50, -1)
    assert_allclose(inputs.grad.numpy(), want.numpy(), rtol=1e-5, atol=1e-5)


def test_autocast_and_other_dtypes_keep_torch_semantics(path):
    ours, _ = _pair(40, 16)
    x = torch.randn(8, 40)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        assert ours(x).dtype == torch.bfloat16
    assert ours.double()(x.double()).dtype == torch.float64


def test_torchscript_and_tracing_give_portable_graphs(path):
    ours, reference = _pair(40, 16)
    x = torch.randn(8, 40)
    scripted = torch.jit.script(ours)
    traced = torch.jit.trace(ours, x)
    for graph in (scripted.graph, traced.graph):
        assert "mkldnn" not in str(graph)
    for module in (scripted, traced):
        assert_allclose(
            module(x).detach().numpy(),
            reference(x).detach().numpy(),
            rtol=1e-5,
            atol=1e-5,
        )


def test_a_process_group_changes_nothing(monkeypatch, tmp_path):
    # distributed training takes the oneDNN products too: the heap corruption
    # once blamed on them under gloo came with DistributedDataParallel, which
    # the library no longer uses (0 failures in 40 two-process runs with them
    # forced on, against 2 in 50 with DDP and F.linear)
    dist = torch.distributed
    if not (dist.is_available() and dist.is_gloo_available()):
        pytest.skip("torch.distributed with gloo is not available")
    monkeypatch.setattr(_cpu_linear, "onednn_float32", lambda: True)
    ours, reference = _pair(40, 16)
    x = torch.randn(1000, 40)  # large enough a product for oneDNN in training
    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    try:
        with torch.profiler.profile() as profile:
            out = ours(x)
    finally:
        dist.destroy_process_group()
    assert "mkldnn::_linear_pointwise" in {e.name for e in profile.events()}
    assert_allclose(out.detach().numpy(), reference(x).detach().numpy(), rtol=1e-5)


def _layouts(rows, cols):
    """The same kind of matrix in layouts a caller may hand the product."""
    torch.manual_seed(1)
    yield torch.randn(rows, cols)
    yield torch.randn(cols, rows).t()
    yield torch.randn(rows, 2 * cols)[:, ::2]  # no unit stride
    yield torch.randn(1, cols).expand(rows, cols)  # stride 0
    yield torch.randn(rows * cols + 3)[3:].view(rows, cols)  # offset


def _biases(n):
    torch.manual_seed(2)
    yield None
    yield torch.randn(n)
    yield torch.randn(2 * n)[::2]  # strided: was read as contiguous
    yield torch.randn(1).expand(n)  # stride 0: was read past its buffer
    yield torch.randn(n + 1)[1:]


def test_product_takes_any_layout_of_its_operands():
    for x in _layouts(33, 17):
        for weight in _layouts(6, 17):
            for bias in _biases(6):
                assert_allclose(
                    _cpu_linear._product(x, weight, bias).numpy(),
                    nn.functional.linear(x, weight, bias).numpy(),
                    rtol=1e-5,
                    atol=1e-5,
                )


def test_the_operator_agrees_with_f_linear_on_this_torch():
    # fails when a PyTorch release changes the private operator's semantics
    # (the layers then fall back to F.linear, slower on AMD processors)
    assert _cpu_linear._product_agrees.__wrapped__()


def _misbehaving(x, weight, bias, *args):
    return torch.ops.mkldnn._linear_pointwise(x, weight, None, *args)


@pytest.mark.parametrize("operator", [None, _misbehaving], ids=["missing", "wrong"])
def test_a_missing_or_wrong_operator_leaves_f_linear(monkeypatch, operator):
    monkeypatch.setattr(_cpu_linear, "onednn_float32", lambda: True)
    monkeypatch.setattr(_cpu_linear, "_operator", lambda: operator)
    fresh = functools.cache(_cpu_linear._product_agrees.__wrapped__)
    monkeypatch.setattr(_cpu_linear, "_product_agrees", fresh)
    assert not fresh()
    ours, reference = _pair(40, 16)
    x = torch.randn(8, 40)
    with torch.profiler.profile() as profile:
        out = ours(x)
    assert "mkldnn::_linear_pointwise" not in {e.name for e in profile.events()}
    assert_allclose(out.detach().numpy(), reference(x).detach().numpy(), rtol=1e-5)
