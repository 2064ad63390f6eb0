"""One optimisation step of a rank of a distributed run: its share of the global batch, through
``DistributedDataParallel``.

Every rank draws the same batches (the same seeded order); rank r trains on rows r, r + world, ...
of each. Its loss is its rows' summed loss over the denominator of the whole batch (its size, or
its class weights' sum), so the gradients summed over the ranks are the single-process gradient of
the whole batch, however unevenly the rows split; the global batch size, the learning-rate schedule
and the number of steps per epoch are those of one process. With the summed gradients identical on
every rank, clipping, Adam, max-norm constraints, the schedule and the EMA stay identical too.

The gradients are summed by a DDP communication hook (``RowSumHook``) in one all-reduce per step.
Of a token embedding table only the rows of the tokens in the global batch (and ``<pad>``/``<unk>``,
which word dropout writes) can have a gradient, and every rank knows those rows, since every rank
holds the global batch: the hook sums those rows alone instead of the dense vocab_size x embed_dim
table, in place in DDP's bucket where its layout allows. The same all-reduce carries the batch's
loss and any rank's pending stop signal. ``train.grad_sync: bfloat16`` gathers each rank's share
as bfloat16 instead and sums in float32. Dropout draws from a seed per rank and step, so ranks
differ and a resumed fit draws what the uninterrupted one did.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.distributed import ReduceOp, all_gather_into_tensor, all_reduce
from torch.nn import functional as F
from torch.nn.parallel import DistributedDataParallel

from textcnn.config import TrainConfig
from textcnn.data.batching import Batch
from textcnn.data.encoding import EncodedTexts
from textcnn.data.vocab import PAD_ID, UNK_ID
from textcnn.models.embedding import TokenEmbedding
from textcnn.training import distributed
from textcnn.training.interrupt import SignalStop
from textcnn.training.trainer import _Step

ONE_BUCKET_MB = 1 << 20  # every gradient in one bucket: one all-reduce per step
DENSE_ABOVE = 0.5  # share of a table's rows in a batch above which summing it whole is cheaper


def shard(batch: Batch, rank: int, size: int, min_len: int) -> tuple[Batch, float]:
    """Rows rank, rank + size, ... of ``batch`` (padding trimmed to their longest), and the weight of
    their loss: 1, or 0 where the batch has fewer rows than ranks (the rank then trains on row 0 with
    weight 0, so that it still takes part in the step)."""
    rows = np.arange(rank, len(batch.index), size)
    weight = 1.0
    if not len(rows):
        rows, weight = np.zeros(1, dtype=np.int64), 0.0
    lengths = batch.lengths[rows]
    width = min(batch.ids.size(1), max(int(lengths.max()), min_len, 1))
    targets = batch.targets[rows] if batch.targets is not None else None
    return Batch(batch.ids[rows, :width].contiguous(), lengths, batch.index[rows], targets), weight


def shard_loss(loss_fn: nn.Module, logits: torch.Tensor, targets: torch.Tensor, batch_targets: torch.Tensor) -> torch.Tensor:
    """The share of these rows in ``loss_fn``'s mean loss over the whole batch (``batch_targets``, on the
    CPU): their summed loss over the whole batch's denominator."""
    if isinstance(loss_fn, nn.BCEWithLogitsLoss):
        total = F.binary_cross_entropy_with_logits(logits, targets, pos_weight=loss_fn.pos_weight, reduction="sum")
        return total / batch_targets.numel()
    if not isinstance(loss_fn, nn.CrossEntropyLoss):
        raise TypeError(f"a distributed run cannot split the loss {type(loss_fn).__name__}")
    weight = loss_fn.weight
    total = F.cross_entropy(logits, targets, weight=weight, label_smoothing=loss_fn.label_smoothing, reduction="sum")
    denominator = weight.cpu()[batch_targets].sum().item() if weight is not None else len(batch_targets)
    return total / denominator


def batch_rows(ids: torch.Tensor) -> torch.Tensor:
    """The embedding rows a batch of (batch, seq_len) token ``ids`` can touch: its tokens, ``<pad>`` and ``<unk>``."""
    special = torch.tensor([PAD_ID, UNK_ID], dtype=ids.dtype)
    return torch.unique(torch.cat([ids.flatten(), special]))


class RowSumHook:
    """The state of a DDP communication hook that sums the ranks' gradients (not their mean) in one
    all-reduce, of token embedding tables only ``rows``, with ``extras`` appended (loss, stop)."""

    def __init__(self, model: nn.Module, world_size: int, *, compress: bool) -> None:
        self.world_size, self.compress = world_size, compress
        self.row_params = {
            id(module.weight) for module in model.modules() if isinstance(module, TokenEmbedding) and module.weight.requires_grad
        }
        self.rows: torch.Tensor | None = None  # (num_rows,) int64, on the gradients' device
        self.extras = torch.zeros(3)  # this rank's loss share, its pending signal (or 0), whether it has one
        self.summed_extras = torch.zeros(3, dtype=torch.float64)  # their sums over the ranks, after the step

    def _rows_for(self, param: torch.Tensor) -> torch.Tensor | None:
        if id(param) not in self.row_params or self.rows is None or len(self.rows) > DENSE_ABOVE * param.shape[0]:
            return None
        return self.rows

    def __call__(self, bucket) -> torch.futures.Future:
        params, grads = bucket.parameters(), bucket.gradients()
        if not self.compress:
            in_place = self._in_place(bucket, params, grads)
            if in_place is not None:
                return in_place
        pieces = []
        for param, grad in zip(params, grads):
            rows = self._rows_for(param)
            pieces.append(grad.flatten() if rows is None else grad.view(param.shape[0], -1).index_select(0, rows).flatten())
        last = bucket.is_last()
        extras = self.extras.to(grads[0].device, torch.float32) if last else None
        if self.compress:
            summed = self._gather_bfloat16(torch.cat(pieces), extras)
        else:
            flat = torch.cat(pieces + ([extras] if extras is not None else []))
            summed = all_reduce(flat, op=ReduceOp.SUM, async_op=True).get_future()

        def unpack(done: torch.futures.Future) -> torch.Tensor:
            total, offset = done.value()[0], 0
            for param, grad in zip(params, grads):
                rows = self._rows_for(param)
                count = grad.numel() if rows is None else len(rows) * (grad.numel() // param.shape[0])
                part = total[offset : offset + count]
                if rows is None:
                    grad.copy_(part.view_as(grad))
                else:  # the other rows are zero on every rank, so their sum is too
                    grad.view(param.shape[0], -1).index_copy_(0, rows, part.view(len(rows), -1))
                offset += count
            if last:
                self.summed_extras = total[offset : offset + len(self.extras)].detach().cpu().double()
            return bucket.buffer()

        return summed.then(unpack)

    def _in_place(self, bucket, params: list[torch.Tensor], grads: list[torch.Tensor]) -> torch.futures.Future | None:
        """The all-reduce without copies, where the bucket ends with the one embedding table it holds
        (DDP's usual layout: the parameters in reverse order): the dense gradients before it are
        summed in place, the table's ``rows`` (and the extras) packed at its start and summed with
        them, then put back in their rows. None where the layout is another."""
        buffer = bucket.buffer()
        tables = [index for index, param in enumerate(params) if self._rows_for(param) is not None]
        if len(tables) != 1 or grads[tables[0]].data_ptr() + grads[tables[0]].numel() * grads[0].element_size() != (
            buffer.data_ptr() + buffer.numel() * buffer.element_size()
        ):
            return None
        param, grad = params[tables[0]], grads[tables[0]]
        rows = self.rows
        table = grad.view(param.shape[0], -1)  # (vocab_size, embed_dim), the end of the buffer
        packed = len(rows) * table.shape[1]
        extras = len(self.extras) if bucket.is_last() else 0
        start = buffer.numel() - grad.numel()
        if packed + extras > grad.numel():
            return None
        compact = table.index_select(0, rows).flatten()
        region = buffer[start : start + packed + extras]
        region[:packed] = compact
        if extras:
            region[packed:] = self.extras.to(buffer.device, buffer.dtype)
        future = all_reduce(buffer[: start + packed + extras], op=ReduceOp.SUM, async_op=True).get_future()

        def unpack(done: torch.futures.Future) -> torch.Tensor:
            done.wait()
            summed = region[:packed].clone()
            if extras:
                self.summed_extras = region[packed:].detach().cpu().double()
            region.zero_()  # rows outside the batch's are zero on every rank, and now here again
            table.index_copy_(0, rows, summed.view(len(rows), -1))
            return buffer

        return future.then(unpack)

    def _gather_bfloat16(self, flat: torch.Tensor, extras: torch.Tensor | None) -> torch.futures.Future:
        """The sum over the ranks of ``flat`` (and of ``extras``, kept exact): every rank's share as
        bfloat16, gathered (half the bytes of a float32 all-reduce, one exchange), summed in float32 in
        rank order (so identically on every rank)."""
        size = len(flat)
        parts = [flat.to(torch.bfloat16)] + ([extras.view(torch.bfloat16)] if extras is not None else [])
        mine = torch.cat(parts)
        gathered = torch.empty(self.world_size * len(mine), dtype=torch.bfloat16, device=flat.device)
        future = all_gather_into_tensor(gathered, mine, async_op=True).get_future()

        def add(done: torch.futures.Future) -> list[torch.Tensor]:
            done.wait()
            ranks = gathered.view(self.world_size, -1)  # the future's value is not the output on every backend
            total = ranks[:, :size].float().sum(dim=0)
            if extras is not None:
                total = torch.cat([total, ranks[:, size:].contiguous().view(torch.float32).sum(dim=0)])
            return [total]

        return future.then(add)


def _hook(state, bucket):  # no annotations: DDP refuses any but its own exact objects
    return state(bucket)


class DistributedStep(_Step):
    """``_Step`` for one rank: its share of each global batch, the gradients summed over the ranks."""

    def __init__(
        self, model: nn.Module, config: TrainConfig, train: EncodedTexts, targets: np.ndarray, device: torch.device,
        num_labels: int,
    ) -> None:  # fmt: skip
        super().__init__(model, config, train, targets, device, num_labels)
        self.world = distributed.current()
        self.device = device
        self.stop: SignalStop | None = None  # set by the run's checkpoints: a stop asked on any rank stops all
        self.stop_seen = 0.0  # after a step: the sum of the signals pending on the ranks
        self.stop_ranks = 0  # after a step: how many ranks have a stop pending
        self.sync = RowSumHook(model, self.world.size, compress=config.grad_sync == "bfloat16")
        self.ddp = DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None, forward_sync_buffers=False,
            bucket_cap_mb=ONE_BUCKET_MB, gradient_as_bucket_view=True,
        )  # fmt: skip
        self.ddp.register_comm_hook(self.sync, _hook)
        # dropout masks: a stream per rank and step (so ranks differ, and a resumed fit draws the same)
        self.dropout_seed = int(torch.randint(0, 2**31, (1,)).item())

    def __call__(self, batch: Batch) -> float:
        """Train this rank's rows of the global ``batch``; the mean loss of the whole batch."""
        rows, weight = shard(batch, self.world.rank, self.world.size, self.model.min_len)
        rows = rows.to(self.device)
        torch.manual_seed((self.dropout_seed * 1_000_003 + self.scheduler.last_epoch) * self.world.size + self.world.rank)
        self.sync.rows = batch_rows(batch.ids).to(self.device)
        with torch.autocast(self.device.type, dtype=torch.bfloat16, enabled=self.config.precision == "bfloat16"):
            logits = self.ddp(rows.ids, rows.lengths)  # (rows, num_classes)
        loss = shard_loss(self.loss_fn, logits.float(), rows.targets, batch.targets) * weight
        pending = self.stop.pending if self.stop is not None and self.stop.pending is not None else 0
        stop = torch.tensor([float(pending), float(pending > 0)], device=loss.device)
        self.sync.extras = torch.cat([loss.detach().float().view(1), stop])
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()  # the hook sums the gradients, the losses and the stop signals of the ranks
        self.stop_seen, self.stop_ranks = float(self.sync.summed_extras[1]), int(self.sync.summed_extras[2])
        self.update()
        return float(self.sync.summed_extras[0].item())
