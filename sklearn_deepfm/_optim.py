"""Adam whose cost follows the embedding rows a batch touches.

The embedding tables produce sparse gradients (only the rows of the batch);
dense Adam would still read and write every row of every table at every
step, which dominates an epoch once the vocabulary reaches a million rows.
:class:`DenseSparseAdam` updates a parameter with a sparse gradient lazily
(only the rows in the gradient, and their moments, as
:class:`torch.optim.SparseAdam` does) and all dense parameters of a group
with multi-tensor (``foreach``) Adam, in one optimizer with ordinary
parameter groups, so learning-rate schedules act on it as usual.
"""

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
