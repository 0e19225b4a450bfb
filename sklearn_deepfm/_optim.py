"""Adam whose cost follows the embedding rows a batch touches.

The embedding tables produce sparse gradients (only the rows of the batch);
dense Adam would still read and write every row of every table at every
step, which dominates an epoch once the vocabulary reaches a million rows.
:class:`DenseSparseAdam` updates a parameter with a sparse gradient lazily
(only the rows in the gradient, and their moments, as
:class:`torch.optim.SparseAdam` does) and all dense parameters of a group
with multi-tensor (``foreach``) Adam, in one optimizer with ordinary
parameter groups, so learning-rate schedules act on it as usual.

On the CPU the dense update is PyTorch's fused Adam kernel
(``torch._fused_adam_``, the kernel of ``torch.optim.Adam(fused=True)``):
one pass over each tensor instead of the eight of the ``foreach`` update,
which on small tables' steps was most of the optimizer's time (HR's MLP on
Zen 5, 2 threads: 110 against 38 us a step).  The operator is private, so
:func:`_fused_agrees` checks it against the ``foreach`` update once per
process; where it is missing or disagrees, the ``foreach`` update runs.
"""

import functools
import math

import torch


def _undecorated(method):
    """``method`` without ``torch._disable_dynamo``'s wrapper, whose first call
    imports ``torch._dynamo`` (and sympy): about 65 MiB of modules in a
    process that never compiles anything."""
    return getattr(method, "__wrapped__", method)


class DenseSparseAdam(torch.optim.Optimizer):
    """Adam for dense gradients, lazy Adam for sparse gradients.

    Parameters
    ----------
    params : iterable of parameters or of dicts
        As for any torch optimizer.
    lr : float, default=1e-3
    betas : tuple of float, default=(0.9, 0.999)
    eps : float, default=1e-8
    weight_decay : float, default=0
        L2 penalty: ``weight_decay * param`` is added to each gradient, for a
        sparse gradient only on the rows it holds (the rows the batch used).
    """

    # torch.optim.Optimizer's own methods, unwrapped (see _undecorated)
    add_param_group = _undecorated(torch.optim.Optimizer.add_param_group)
    zero_grad = _undecorated(torch.optim.Optimizer.zero_grad)
    state_dict = _undecorated(torch.optim.Optimizer.state_dict)
    load_state_dict = _undecorated(torch.optim.Optimizer.load_state_dict)

    def __init__(self, params, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0):
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay}
        super().__init__(params, defaults)

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            dense = []
            for param in group["params"]:
                if param.grad is None:
                    continue
                state = self.state[param]
                if not state:
                    state["step"] = 0
                    state["exp_avg"] = torch.zeros_like(param)
                    state["exp_avg_sq"] = torch.zeros_like(param)
                state["step"] += 1
                if param.grad.is_sparse:
                    self._sparse_update(param, state, group)
                else:
                    dense.append((param, state))
            if dense:
                self._dense_update(dense, group)
        return loss

    @staticmethod
    def _sparse_update(param, state, group):
        beta1, beta2 = group["betas"]
        rows, values = _distinct_rows_and_values(param.grad)
        if group["weight_decay"]:
            values = values.add(param[rows], alpha=group["weight_decay"])
        exp_avg = state["exp_avg"][rows].mul_(beta1).add_(values, alpha=1 - beta1)
        exp_avg_sq = state["exp_avg_sq"][rows].mul_(beta2)
        exp_avg_sq.addcmul_(values, values, value=1 - beta2)
        state["exp_avg"].index_copy_(0, rows, exp_avg)
        state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
        correction1 = 1 - beta1 ** state["step"]
        correction2 = math.sqrt(1 - beta2 ** state["step"])
        denominator = exp_avg_sq.sqrt_().div_(correction2).add_(group["eps"])
        update = exp_avg.div_(denominator).mul_(-group["lr"] / correction1)
        param.index_add_(0, rows, update)

    @staticmethod
    def _dense_update(entries, group):
        if _fusable(entries, group) and _fused_agrees():
            _fused_update(entries, group)
        else:
            _foreach_update(entries, group)


def _fusable(entries, group):
    """Whether the fused kernel takes these parameters: float32 on the CPU,
    dense and contiguous, with a plain float learning rate.  The CPU kernel
    walks each tensor's memory in order: given a transposed gradient, it
    returns wrong numbers without an error."""
    return isinstance(group["lr"], float) and all(
        param.device.type == "cpu"
        and all(
            tensor.dtype == torch.float32
            and tensor.layout == torch.strided
            and tensor.is_contiguous()
            for tensor in (param, param.grad, state["exp_avg"], state["exp_avg_sq"])
        )
        for param, state in entries
    )


def _fused_update(entries, group):
    beta1, beta2 = group["betas"]
    params = [param for param, _ in entries]
    # the kernel reads each parameter's step count from a float tensor; the
    # state keeps its plain int, as the foreach update does.  One tensor per
    # distinct count (usually one for the whole group).
    counts = {state["step"] for _, state in entries}
    as_tensor = {count: torch.tensor(float(count)) for count in counts}
    steps = [as_tensor[state["step"]] for _, state in entries]
    torch._fused_adam_(
        params,
        [param.grad for param in params],
        [state["exp_avg"] for _, state in entries],
        [state["exp_avg_sq"] for _, state in entries],
        [],
        steps,
        lr=group["lr"],
        beta1=beta1,
        beta2=beta2,
        weight_decay=group["weight_decay"],
        eps=group["eps"],
        amsgrad=False,
        maximize=False,
    )


def _foreach_update(entries, group):
    beta1, beta2 = group["betas"]
    params = [param for param, _ in entries]
    grads = [param.grad for param in params]
    if group["weight_decay"]:
        grads = torch._foreach_add(grads, params, alpha=group["weight_decay"])
    exp_avgs = [state["exp_avg"] for _, state in entries]
    exp_avg_sqs = [state["exp_avg_sq"] for _, state in entries]
    steps = [state["step"] for _, state in entries]
    torch._foreach_lerp_(exp_avgs, grads, 1 - beta1)
    torch._foreach_mul_(exp_avg_sqs, beta2)
    torch._foreach_addcmul_(exp_avg_sqs, grads, grads, 1 - beta2)
    denominators = torch._foreach_sqrt(exp_avg_sqs)
    torch._foreach_div_(denominators, [math.sqrt(1 - beta2**s) for s in steps])
    torch._foreach_add_(denominators, group["eps"])
    step_sizes = [-group["lr"] / (1 - beta1**s) for s in steps]
    torch._foreach_addcdiv_(params, exp_avgs, denominators, step_sizes)


@functools.cache
def _fused_agrees():
    """Whether ``torch._fused_adam_`` gives the ``foreach`` update's results
    on this PyTorch, with and without weight decay, over three steps: a guard
    on the private operator's semantics."""
    if not hasattr(torch, "_fused_adam_"):
        return False
    generator = torch.Generator().manual_seed(0)
    for weight_decay in (0.0, 0.1):
        group = {"lr": 0.1, "betas": (0.9, 0.999), "eps": 1e-8}
        group["weight_decay"] = weight_decay
        start = [torch.randn(shape, generator=generator) for shape in ((37, 13), (5,))]
        fused, reference = _fresh_entries(start), _fresh_entries(start)
        for _ in range(3):
            grads = [torch.randn(param.shape, generator=generator) for param in start]
            try:
                _take_step(fused, grads, group, _fused_update)
            except (RuntimeError, TypeError):  # missing kernel, changed signature
                return False
            _take_step(reference, grads, group, _foreach_update)
        for (param, _), (twin, _) in zip(fused, reference, strict=True):
            if not torch.allclose(param, twin, rtol=1e-5, atol=1e-6):
                return False
    return True


def _fresh_entries(params):
    return [
        (
            param.clone(),
            {
                "step": 0,
                "exp_avg": torch.zeros_like(param),
                "exp_avg_sq": torch.zeros_like(param),
            },
        )
        for param in params
    ]


def _take_step(entries, grads, group, update):
    for (param, state), grad in zip(entries, grads, strict=True):
        param.grad = grad.clone()
        state["step"] += 1
    update(entries, group)


def _distinct_rows_and_values(grad):
    """Row indices (each once) and summed values of a sparse gradient.

    A gradient whose rows are already strictly increasing (see
    :func:`sklearn_deepfm._model.lookup`) is used as it is; any other is
    coalesced, which sorts it.
    """
    if not grad.is_coalesced():
        rows = grad._indices()[0]
        if rows.numel() > 1 and not bool((rows[1:] > rows[:-1]).all()):
            grad = grad.coalesce()
        else:
            return rows, grad._values()
    return grad.indices()[0], grad.values()


# The optimizers the estimators' ``optimizer`` names.
OPTIMIZERS = {
    "adam": DenseSparseAdam,
    "adamw": torch.optim.AdamW,
    "sgd": torch.optim.SGD,
    "adagrad": torch.optim.Adagrad,
    "rmsprop": torch.optim.RMSprop,
}
