"""Plain skorch: ``NeuralNetBinaryClassifier`` around a hand-written DeepFM.

The module is what a user would write in a few lines: one ``nn.Embedding``
over all fields with per-field offsets (and a one-wide table for the
first-order term), the FM identity ``0.5 * ((sum e)^2 - sum e^2)``, and a
400-400-400 ReLU MLP on the concatenated embeddings, returning a logit that
skorch feeds to ``BCEWithLogitsLoss``.  Embeddings start from N(0, 0.01^2),
the first-order table from zeros.  ``train_split=None``, one epoch, Adam with
``lr=1e-3``, batch 2048, shuffled training batches.
"""


def unavailable(options):
    try:
        import skorch  # noqa: F401
    except ImportError as exc:
        return f"skorch is not installed ({exc})"
    return None


def _module_class():
    import numpy as np
    import torch
    from torch import nn

    class PlainDeepFM(nn.Module):
        def __init__(
            self, cardinalities, embedding_dim=10, hidden_units=(400, 400, 400)
        ):
            super().__init__()
            offsets = np.concatenate([[0], np.cumsum(cardinalities)[:-1]])
            self.register_buffer("offsets", torch.as_tensor(offsets, dtype=torch.long))
            total = int(np.sum(cardinalities))
            self.embedding = nn.Embedding(total, embedding_dim)
            self.first_order = nn.Embedding(total, 1)
            self.bias = nn.Parameter(torch.zeros(1))
            nn.init.normal_(self.embedding.weight, std=0.01)
            nn.init.zeros_(self.first_order.weight)
            layers, width = [], len(cardinalities) * embedding_dim
            for units in hidden_units:
                layers += [nn.Linear(width, units), nn.ReLU()]
                width = units
            layers.append(nn.Linear(width, 1))
            self.mlp = nn.Sequential(*layers)

        def forward(self, X):
            idx = X + self.offsets
            emb = self.embedding(idx)
            linear = self.first_order(idx).sum(dim=(1, 2)) + self.bias
            summed = emb.sum(dim=1)
            fm = 0.5 * (summed.pow(2) - emb.pow(2).sum(dim=1)).sum(dim=1)
            deep = self.mlp(emb.flatten(1)).squeeze(1)
            return linear + fm + deep

    return PlainDeepFM


class Runner:
    def __init__(self, cardinalities, config, device, **options):
        import torch
        from skorch import NeuralNetBinaryClassifier

        torch.manual_seed(config["seed"])
        self.model = NeuralNetBinaryClassifier(
            _module_class(),
            module__cardinalities=[int(c) for c in cardinalities],
            module__embedding_dim=config["embedding_dim"],
            module__hidden_units=tuple(config["hidden_units"]),
            optimizer=torch.optim.Adam,
            lr=config["lr"],
            batch_size=config["batch_size"],
            max_epochs=config["max_epochs"],
            train_split=None,
            iterator_train__shuffle=True,
            device=device,
            verbose=0,
        )

    def fit(self, X, y):
        import numpy as np

        self.model.fit(X, y.astype(np.float32))

    def predict_proba(self, X):
        return self.model.predict_proba(X)[:, 1]
