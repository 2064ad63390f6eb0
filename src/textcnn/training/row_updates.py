"""Training updates of the embedding table's rows that a batch uses, and of no others.

A batch of 32 short texts meets a few hundred of the table's tens of thousands of rows, yet dense
Adam, the moving average of the weights (EMA) and gradient clipping each pass over every row at
every step: on a CPU those passes are bound by memory, about a third of MR's training time. With
``train.embedding_updates: rows`` the table gets a sparse gradient (the rows of its batch) and

- ``RowAdam`` is Adam on the other parameters (fused, as before), and Adam without momentum
  (beta1 = 0) on the table. Without momentum a row with no gradient does not move, so updating
  the batch's rows alone is that optimizer exactly: each row's second moment is decayed by
  ``beta2`` once for every step since its last update, when it is next updated. (Lazy Adam, which
  keeps the momentum but applies it only at the steps that use a row, lets a rare word's gradient
  move it a tenth as far; at seed 13 it needed more epochs on three of four sets and lost test
  accuracy on three; see docs/benchmarks.md.)
- ``RowAverage`` is the EMA of every weight, a table row's brought up to date only when its batch
  uses it or the average is read. A row no batch used for s updates kept its weights w meanwhile,
  so its average then is exactly ``w + d**s * (average - w)``.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel

from textcnn.config import TrainConfig

ROW_UPDATES = "row_updates"  # the key of each row's update count in ``RowAverage.state_dict``


def momentumless_table(model: nn.Module, config: TrainConfig) -> nn.Parameter | None:
    """The embedding table that ``train.embedding_updates: rows`` trains by Adam without momentum,
    or None: ``dense``, weight decay (AdamW), a frozen or missing table."""
    embedding = getattr(model, "embedding", None)
    if config.embedding_updates != "rows" or config.weight_decay != 0 or not isinstance(embedding, nn.Embedding):
        return None
    return embedding.weight if embedding.weight.requires_grad else None


def writes_rows(device: torch.device, distributed: bool) -> bool:
    """Whether that optimizer is computed row by row (a sparse gradient, ``RowAdam``, ``RowAverage``):
    on one CPU process. A distributed run sums dense gradients over its ranks, and a GPU has the
    bandwidth for dense passes: both compute the same optimizer densely (Adam with ``betas[0] = 0``
    on the table)."""
    return device.type == "cpu" and not distributed


class RowAdam(torch.optim.Adam):
    """Adam, fused where torch has it, except that a parameter whose gradient is sparse (the
    embedding table's) is trained without momentum, row by row (``_rows_step``)."""

    def step(self, closure=None):  # noqa: ANN001, ANN201 (torch.optim.Optimizer's signature)
        sparse = [(p, group) for group in self.param_groups for p in group["params"] if p.grad is not None and p.grad.is_sparse]
        grads = [p.grad for p, _ in sparse]
        for p, _ in sparse:
            p.grad = None  # the dense step leaves it alone
        loss = super().step(closure)
        for (p, group), grad in zip(sparse, grads):
            _rows_step(p, grad, self.state[p], group)
            p.grad = grad
        return loss


@torch.no_grad()
def _rows_step(param: torch.Tensor, grad: torch.Tensor, state: dict, group: dict) -> None:
    """Adam with beta1 = 0 on the rows of ``param`` in the sparse ``grad``: dense Adam with beta1 = 0
    over every row, whose other rows would not move. ``state``: ``step``, ``exp_avg_sq`` and each
    row's last ``updated`` step (float32, as Adam keeps ``step``: exact to 16M steps)."""
    if group["amsgrad"] or group["maximize"] or group["weight_decay"]:
        raise ValueError("row updates are plain Adam: no amsgrad, maximize or weight decay")
    if not state:
        state["step"] = torch.zeros((), dtype=torch.float32)
        state["exp_avg_sq"] = torch.zeros_like(param)
        state["updated"] = torch.zeros(param.size(0), dtype=torch.float32)
    state["step"] += 1
    step = float(state["step"])
    grad = grad.coalesce()
    rows, values = grad.indices()[0], grad.values()
    beta2 = group["betas"][1]
    decay = torch.pow(beta2, step - state["updated"].index_select(0, rows).double()).to(values.dtype)  # beta2 per step since
    exp_avg_sq = state["exp_avg_sq"].index_select(0, rows).mul_(decay[:, None]).addcmul_(values, values, value=1 - beta2)
    state["exp_avg_sq"].index_copy_(0, rows, exp_avg_sq)
    state["updated"].index_fill_(0, rows, step)
    denom = exp_avg_sq.sqrt_().div_(math.sqrt(1 - beta2**step)).add_(group["eps"])
    param.index_add_(0, rows, values / denom, alpha=-float(group["lr"]))


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
        if not pairs:
            return
        if torch.is_floating_point(pairs[0][0]):  # foreach lerp handles floating dtypes only
            torch._foreach_lerp_([a for a, _ in pairs], [w for _, w in pairs], 1 - self.decay)
            return
        for average, weight in pairs:
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
