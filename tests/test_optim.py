"""The optimizer and the embedding lookup behind the default training path
agree with plain PyTorch."""

import functools

import pytest
import torch
from torch import nn

from sklearn_deepfm import _optim
from sklearn_deepfm._model import distinct_rows, lookup
from sklearn_deepfm._optim import DenseSparseAdam


def _train(optimizer_factory, sparse, distinct, n_steps=5):
    torch.manual_seed(0)
    embedding = nn.Embedding(50, 4, sparse=sparse)
    layer = nn.Linear(8, 1)
    optimizer = optimizer_factory(embedding, layer)
    generator = torch.Generator().manual_seed(1)
    for _ in range(n_steps):
        # repeated rows within a batch, as categorical data has
        indices = torch.randint(0, 12, (16, 2), generator=generator)
        rows = distinct_rows(indices) if distinct else None
        embedded = lookup(embedding.weight, indices, rows, embedding.sparse)
        embedded = embedded.flatten(1)
        loss = layer(embedded).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    return embedding.weight.detach(), layer.weight.detach()


def _dense_sparse_adam(embedding, layer, weight_decay=0.0):
    params = [*embedding.parameters(), *layer.parameters()]
    return DenseSparseAdam(params, lr=0.01, weight_decay=weight_decay)


def _torch_adams(embedding, layer, weight_decay=0.0):
    class Both:
        def __init__(self):
            if embedding.sparse:
                self.parts = [torch.optim.SparseAdam(embedding.parameters(), lr=0.01)]
            else:
                self.parts = [
                    torch.optim.Adam(
                        embedding.parameters(), lr=0.01, weight_decay=weight_decay
                    )
                ]
            self.parts.append(
                torch.optim.Adam(layer.parameters(), lr=0.01, weight_decay=weight_decay)
            )

        def zero_grad(self):
            for part in self.parts:
                part.zero_grad()

        def step(self):
            for part in self.parts:
                part.step()

    return Both()


@pytest.mark.parametrize("distinct", [False, True])
def test_sparse_updates_match_torch_sparse_adam(distinct):
    expected = _train(_torch_adams, sparse=True, distinct=False)
    got = _train(_dense_sparse_adam, sparse=True, distinct=distinct)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-5, atol=1e-6)


@pytest.fixture(params=[True, False], ids=["fused", "foreach"])
def fused(request, monkeypatch):
    """Run the test with the fused dense update where this PyTorch passes its
    check, then with the foreach update."""
    if not request.param:
        monkeypatch.setattr(_optim, "_fused_agrees", lambda: False)
    return request.param


@pytest.mark.parametrize("weight_decay", [0.0, 0.05])
def test_dense_updates_match_torch_adam(fused, weight_decay):
    expected = _train(
        functools.partial(_torch_adams, weight_decay=weight_decay),
        sparse=False,
        distinct=False,
    )
    with torch.profiler.profile() as profile:
        got = _train(
            functools.partial(_dense_sparse_adam, weight_decay=weight_decay),
            sparse=False,
            distinct=False,
        )
    ran = {event.name for event in profile.events()}
    assert ("aten::_fused_adam_" in ran) == (fused and _optim._fused_agrees())
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-7)


def test_the_fused_operator_agrees_with_the_foreach_update_on_this_torch():
    # fails when a PyTorch release changes the private operator's semantics
    # (the dense update then falls back to foreach, slower on small batches)
    assert _optim._fused_agrees.__wrapped__()


def _with_another_signature(*args, **kwargs):
    raise TypeError("_fused_adam_() got an unexpected keyword argument 'beta1'")


def _without_bias_correction(*args, **kwargs):
    steps = [torch.ones_like(step) for step in args[5]]
    return torch.ops.aten._fused_adam_(*args[:5], steps, **kwargs)


@pytest.mark.parametrize(
    "operator",
    [None, _with_another_signature, _without_bias_correction],
    ids=["missing", "another-signature", "wrong"],
)
def test_a_missing_or_wrong_fused_operator_leaves_the_foreach_update(
    monkeypatch, operator
):
    if operator is None:
        monkeypatch.delattr(torch, "_fused_adam_")
    else:
        monkeypatch.setattr(torch, "_fused_adam_", operator)
    fresh = functools.cache(_optim._fused_agrees.__wrapped__)
    monkeypatch.setattr(_optim, "_fused_agrees", fresh)
    assert not fresh()
    expected = _train(_torch_adams, sparse=False, distinct=False)
    got = _train(_dense_sparse_adam, sparse=False, distinct=False)
    for e, g in zip(expected, got, strict=True):
        torch.testing.assert_close(g, e, rtol=1e-6, atol=1e-7)


def test_distinct_lookup_gives_rows_once_in_increasing_order():
    embedding = nn.Embedding(30, 3, sparse=True)
    indices = torch.tensor([[5, 2, 5], [2, 29, 0]])
    rows = distinct_rows(indices)
    looked_up = lookup(embedding.weight, indices, rows, sparse=True)
    torch.testing.assert_close(looked_up, embedding(indices))
    looked_up.sum().backward()
    grad = embedding.weight.grad
    assert grad._indices()[0].tolist() == [0, 2, 5, 29]
    torch.testing.assert_close(
        grad.to_dense().sum(1)[[0, 2, 5, 29]], torch.tensor([3.0, 6.0, 6.0, 3.0])
    )


def test_transposed_gradients_take_the_foreach_update():
    # the fused CPU kernel reads memory in order and would mis-update a
    # parameter whose gradient is a transposed view
    torch.manual_seed(0)
    start = torch.randn(6, 4)
    ours, reference = start.clone().requires_grad_(), start.clone().requires_grad_()
    optimizer = DenseSparseAdam([ours], lr=0.1)
    torch_adam = torch.optim.Adam([reference], lr=0.1)
    generator = torch.Generator().manual_seed(1)
    for _ in range(3):
        grad = torch.randn(4, 6, generator=generator).t()
        assert not grad.is_contiguous()
        ours.grad, reference.grad = grad, grad.clone()
        optimizer.step()
        torch_adam.step()
    torch.testing.assert_close(ours.detach(), reference.detach(), rtol=1e-6, atol=1e-7)
