"""pytorch-fm (``torchfm`` 0.7.0) ``DeepFactorizationMachineModel``.

The package ships models but no estimator, so the training loop is written
the way its README's example script does it: a ``DataLoader`` over the
training tensors, ``BCELoss`` on the model's sigmoid output, ``Adam``,
``model.zero_grad(); loss.backward(); optimizer.step()`` per batch, and an
evaluation loop under ``torch.no_grad()``.  BARS setting: ``embed_dim=10``,
``mlp_dims=(400, 400, 400)``, ``dropout=0``, Adam ``lr=1e-3`` (no weight
decay), batch 2048, one epoch; ``num_workers=0`` since the data are already
in memory and the run is limited to 2 threads.  Its MLP has batch norm after
each hidden layer, as shipped.

Option ``zero_linear``: zero the first-order (linear) embedding table after
construction.  As shipped, that table keeps ``nn.Embedding``'s N(0, 1)
initialisation, so the sum over fields starts with a standard deviation of
about sqrt(n_fields) on the logit.

torchfm uses ``np.long``, which some NumPy versions lack; the alias is added
here, in the runner only, when it is missing.
"""


def _import():
    import numpy as np

    if not hasattr(np, "long"):
        np.long = np.int64
    from torchfm.model.dfm import DeepFactorizationMachineModel

    return DeepFactorizationMachineModel


def unavailable(options):
    try:
        _import()
    except ImportError as exc:
        return f"torchfm is not installed ({exc}); see benchmarks/requirements.txt"
    return None


class Runner:
    def __init__(self, cardinalities, config, device, zero_linear=False, **options):
        import torch

        DeepFactorizationMachineModel = _import()
        torch.manual_seed(config["seed"])
        self.device = torch.device(device)
        self.batch_size = config["batch_size"]
        self.epochs = config["max_epochs"]
        self.model = DeepFactorizationMachineModel(
            [int(c) for c in cardinalities],
            embed_dim=config["embedding_dim"],
            mlp_dims=tuple(config["hidden_units"]),
            dropout=0.0,
        ).to(self.device)
        if zero_linear:
            torch.nn.init.zeros_(self.model.linear.fc.weight)
        self.criterion = torch.nn.BCELoss()
        self.optimizer = torch.optim.Adam(
            params=self.model.parameters(), lr=config["lr"]
        )

    def fit(self, X, y):
        import numpy as np
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        dataset = TensorDataset(
            torch.from_numpy(X), torch.from_numpy(y.astype(np.float32))
        )
        loader = DataLoader(
            dataset, batch_size=self.batch_size, shuffle=True, num_workers=0
        )
        for _ in range(self.epochs):
            self.model.train()
            for fields, target in loader:
                fields, target = fields.to(self.device), target.to(self.device)
                out = self.model(fields)
                loss = self.criterion(out, target.float())
                self.model.zero_grad()
                loss.backward()
                self.optimizer.step()

    def predict_proba(self, X):
        import numpy as np
        import torch
        from torch.utils.data import DataLoader, TensorDataset

        loader = DataLoader(
            TensorDataset(torch.from_numpy(X)), batch_size=self.batch_size
        )
        self.model.eval()
        outputs = []
        with torch.no_grad():
            for (fields,) in loader:
                outputs.append(self.model(fields.to(self.device)).cpu().numpy())
        return np.concatenate(outputs).astype(np.float64)
