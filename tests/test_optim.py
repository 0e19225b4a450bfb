"""The optimizer and the embedding lookup behind the default training path
agree with plain PyTorch."""

import pytest
import torch
from torch import nn

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


def _dense_sparse_adam(embedding, layer):
    return DenseSparseAdam([*embedding.parameters(), *layer.parameters()], lr=0.01)


def _torch_adams(embedding, layer):
    class Both:
        def __init__(self):
            if embedding.sparse:
                self.parts = [torch.optim.SparseAdam(embedding.parameters(), lr=0.01)]
            else:
                self.parts = [torch.optim.Adam(embedding.parameters(), lr=0.01)]
            self.parts.append(torch.optim.Adam(layer.parameters(), lr=0.01))

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


def test_dense_updates_match_torch_adam():
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
