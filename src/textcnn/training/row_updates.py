"""Training updates of the embedding table's rows that a batch uses, and of no others.

A batch of 32 short texts meets a few hundred of the table's tens of thousands of rows, yet dense
Adam, the moving average of the weights (EMA) and gradient clipping each pass over every row at
every step: on a CPU those passes are bound by memory, about a third of MR's training time. With
``train.embedding_updates: rows`` the table gets a sparse gradient (the rows of its batch) and

- ``RowAdam`` is Adam on the other parameters (fused, as before) and lazy Adam on the table: a
  row's moments and weights change only at the steps whose batch uses it (TensorFlow's LazyAdam,
  PyTorch's SparseAdam); the bias corrections count every step, as Adam's do;
- ``RowAverage`` is the EMA of every weight, a table row's brought up to date only when its batch
  uses it or the average is read. A row no batch used for s updates kept its weights w meanwhile,
  so its average then is exactly ``w + d**s * (average - w)``.

The weights differ from dense Adam's (rows no batch uses do not coast on their momentum); the
averaged weights are those of a dense EMA over the same weights, up to rounding.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from textcnn.config import TrainConfig

ROW_UPDATES = "row_updates"  # the key of each row's update count in ``RowAverage.state_dict``


def trained_table(model: nn.Module, config: TrainConfig, device: torch.device, distributed: bool) -> nn.Parameter | None:
    """The embedding table whose rows are updated alone, or None where the updates stay dense: other
    settings, a device other than the CPU, a distributed run (its gradients are summed densely),
    weight decay (AdamW), a frozen or missing table."""
    embedding = getattr(model, "embedding", None)
    if (
        config.embedding_updates != "rows"
        or device.type != "cpu"
        or distributed
        or config.weight_decay != 0
        or not isinstance(embedding, nn.Embedding)
        or not embedding.weight.requires_grad
    ):
        return None
    return embedding.weight


class RowAdam(torch.optim.Adam):
    """Adam, fused where torch has it, except that a parameter whose gradient is sparse (the
    embedding table's) updates only the rows its gradient holds."""

    def step(self, closure=None):  # noqa: ANN001, ANN201 (torch.optim.Optimizer's signature)
        sparse = [(p, group) for group in self.param_groups for p in group["params"] if p.grad is not None and p.grad.is_sparse]
        grads = [p.grad for p, _ in sparse]
        for p, _ in sparse:
            p.grad = None  # the dense step leaves it alone
        loss = super().step(closure)
        for (p, group), grad in zip(sparse, grads):
            _lazy_adam(p, grad, self.state[p], group)
            p.grad = grad
        return loss


@torch.no_grad()
def _lazy_adam(param: torch.Tensor, grad: torch.Tensor, state: dict, group: dict) -> None:
    """Adam's update of the rows of ``param`` in the sparse ``grad``; ``state`` as Adam keeps it."""
    if group["amsgrad"] or group["maximize"] or group["weight_decay"]:
        raise ValueError("row updates are plain Adam: no amsgrad, maximize or weight decay")
    if not state:
        state["step"] = torch.zeros((), dtype=torch.float32)
        state["exp_avg"] = torch.zeros_like(param)
        state["exp_avg_sq"] = torch.zeros_like(param)
    state["step"] += 1
    step = float(state["step"])
    grad = grad.coalesce()
    rows, values = grad.indices()[0], grad.values()
    beta1, beta2 = group["betas"]
    exp_avg = state["exp_avg"].index_select(0, rows).lerp_(values, 1 - beta1)
    exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(beta2).addcmul_(values, values, value=1 - beta2)
    state["exp_avg"].index_copy_(0, rows, exp_avg)
    state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
    denom = exp_avg_sq.sqrt_().div_(math.sqrt(1 - beta2**step)).add_(group["eps"])
    param.index_add_(0, rows, exp_avg.div_(denom), alpha=-float(group["lr"]) / (1 - beta1**step))


class RowAverage:
    """The EMA of ``model``'s weights with ``decay`` (``AveragedModel`` with ``get_ema_multi_avg_fn``:
    the first update copies, each later one moves the average ``1 - decay`` of the way to the
    weights), the rows of ``table`` averaged at the updates that change them.

    ``module`` holds the averaged weights; the trainer calls ``catch_up`` before reading them (a
    checkpoint's ``state_dict`` does not: it keeps each row's update count instead).
    """

    def __init__(self, model: nn.Module, table: nn.Parameter, decay: float) -> None:
        self.averaged = AveragedModel(model, multi_avg_fn=self._average_the_rest, use_buffers=True)
        self.module = self.averaged.module
        self.table, self.decay = table, decay
        name = next(name for name, p in model.named_parameters() if p is table)
        self.average = self.module.get_parameter(name)
        self.current = torch.zeros(table.size(0), dtype=torch.long)  # the update each row's average is of
        self.rows: torch.Tensor | None = None

    @property
    def updates(self) -> int:
        return int(self.averaged.n_averaged)

    @torch.no_grad()
    def before_step(self, rows: torch.Tensor) -> None:
        """Bring the average of ``rows`` (distinct) up to the last update, before the optimizer changes them."""
        self.rows = rows
        if self.updates:
            self._catch_up(rows)

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Average the weights after an optimizer step: every weight but the table, and the table's ``rows``."""
        first = self.updates == 0
        self.averaged.update_parameters(model)  # the first update copies every weight, the table's too
        if first:
            self.current.fill_(self.updates)
        elif self.rows is not None:
            self.average.index_copy_(0, self.rows, self.average.index_select(0, self.rows).lerp_(self.table.index_select(0, self.rows), 1 - self.decay))
            self.current.index_fill_(0, self.rows, self.updates)
        self.rows = None

    @torch.no_grad()
    def catch_up(self) -> None:
        """Bring every row's average up to the last update (the weights are then read whole)."""
        if self.updates:
            self._catch_up(torch.nonzero(self.current != self.updates).flatten())

    def _catch_up(self, rows: torch.Tensor) -> None:
        gaps = (self.updates - self.current.index_select(0, rows)).double()
        weights = self.table.index_select(0, rows)
        factor = torch.pow(self.decay, gaps).to(weights.dtype)[:, None]  # d**s: s updates with the same weights
        self.average.index_copy_(0, rows, weights.add_(factor * (self.average.index_select(0, rows) - weights)))
        self.current.index_fill_(0, rows, self.updates)

    def _average_the_rest(self, averages: list[torch.Tensor], weights: list[torch.Tensor], _updates: torch.Tensor) -> None:
        """``get_ema_multi_avg_fn``'s update of one device's and dtype's weights, the table's left out."""
        pairs = [(a, w) for a, w in zip(averages, weights) if a.data_ptr() != self.average.data_ptr()]
        if pairs and torch.is_floating_point(pairs[0][0]):
            torch._foreach_lerp_([a for a, _ in pairs], [w for _, w in pairs], 1 - self.decay)
        for average, weight in pairs if pairs and not torch.is_floating_point(pairs[0][0]) else ():
            average.copy_(average * self.decay + weight * (1 - self.decay))

    def state_dict(self) -> dict:
        """``AveragedModel``'s state as it stands (rows not caught up: a checkpoint leaves the run's
        arithmetic as it was) and each row's update, ``row_updates``."""
        return {**self.averaged.state_dict(), ROW_UPDATES: self.current.clone()}

    def load_state_dict(self, state: dict) -> None:
        state = dict(state)
        current = state.pop(ROW_UPDATES, None)
        self.averaged.load_state_dict(state)
        if current is None:  # a dense average's state: every row up to date
            self.current.fill_(self.updates)
        else:
            self.current.copy_(current)
