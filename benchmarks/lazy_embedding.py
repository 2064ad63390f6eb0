"""A candidate for faster training, studied before it is built: a row-sparse update of the token embedding.

Every step of the default trainer runs Adam, the EMA and gradient clipping over the whole embedding
table, although a batch's gradient lives in the rows of its tokens only; on MR's 18k-word table that
is about a quarter of the training time. The candidate ("lazy" Adam, as TensorFlow's LazyAdam):

- the embedding's gradient is sparse (``nn.Embedding(sparse=True)``); clipping sums its rows' squares;
- Adam moves only the rows of the batch: their moments decay and grow, the other rows stay (dense
  Adam keeps moving a row on its momentum for steps after its tokens were seen, so this is not the
  same optimizer, hence the accuracy check);
- the EMA of a row that did not change is caught up in closed form (``p + decay^k (ema - p)``)
  when the row changes again or the EMA is read: exactly what the dense EMA gives for those rows.

Each set trains the default run twice in this process, the default step and the candidate,
``train.seed`` as given, one thread, and prints seconds, dev and test accuracy of both::

    python benchmarks/lazy_embedding.py --sets mr sst2 trec --seed 13
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import json
import time

import torch

import textcnn.training.trainer as trainer
from _data import split_path
from textcnn.config import build_config
from textcnn.models.embedding import TokenEmbedding
from textcnn.training.optim import build_scheduler
from textcnn.workflows import train_on_files

BETAS, EPS = (0.9, 0.999), 1e-8  # torch.optim.Adam's defaults, which build_optimizer uses


class LazyEmbeddingStep(trainer._Step):
    """``_Step`` with the token embedding updated row-sparsely (Adam and EMA), the rest as before."""

    def __init__(self, model, config, train, targets, device, num_labels) -> None:  # noqa: ANN001
        super().__init__(model, config, train, targets, device, num_labels)
        tables = [m for m in model.modules() if isinstance(m, TokenEmbedding) and m.weight.requires_grad]
        if len(tables) != 1 or config.weight_decay:
            raise SystemExit("the study covers one trained embedding table and no weight decay (the defaults)")
        self.table = tables[0]
        self.table.sparse = True
        weight = self.table.weight
        self.optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad and p is not weight], lr=config.lr, fused=True)
        self.scheduler = build_scheduler(self.optimizer, config, self.steps_per_epoch)
        self.first, self.second, self.steps = torch.zeros_like(weight), torch.zeros_like(weight), 0
        self.caught_up = torch.zeros(weight.shape[0], dtype=torch.long)  # the step each row's EMA is exact at
        if self.ema is not None:
            averaged = dict(self.ema.module.named_parameters())
            self.pairs = [(averaged[name], p) for name, p in model.named_parameters() if p is not weight]
            self.ema_table = averaged["embedding.weight"]

    @property
    def scored(self):  # noqa: ANN201 (the weights the trainer evaluates and keeps: the EMA, caught up)
        if self.ema is None:
            return self.model
        self.catch_up()
        return self._scored

    @scored.setter
    def scored(self, module) -> None:  # noqa: ANN001
        self._scored = module

    def catch_up(self, rows: torch.Tensor | None = None) -> None:
        """The EMA of ``rows`` (all: None) over the steps since each last changed, its weights constant."""
        weight, ema = self.table.weight.data, self.ema_table.data
        rows = torch.arange(weight.shape[0]) if rows is None else rows
        factor = (self.config.ema_decay ** (self.steps - self.caught_up[rows]).to(weight.dtype))[:, None]
        ema[rows] = weight[rows] + factor * (ema[rows] - weight[rows])
        self.caught_up[rows] = self.steps

    def update(self) -> None:
        weight = self.table.weight
        gradient = weight.grad.coalesce()
        rows, values = gradient.indices()[0], gradient.values()
        weight.grad = None
        if self.config.max_grad_norm is not None:
            dense = [p.grad for p in self.optimizer.param_groups[0]["params"] if p.grad is not None]
            norm = torch.sqrt(sum((g**2).sum() for g in dense) + (values**2).sum())
            clip = (self.config.max_grad_norm / (norm + 1e-6)).clamp(max=1.0)
            for g in dense:
                g.mul_(clip)
            values = values * clip
        if self.ema is not None and self.steps:
            self.catch_up(rows)  # the rows about to change: their EMA up to this step
        self.optimizer.step()
        self._adam_rows(weight, rows, values, self.optimizer.param_groups[0]["lr"])
        self.model.apply_constraints()
        self.scheduler.step()
        if self.ema is not None:
            self._ema_step(weight, rows)

    def _adam_rows(self, weight: torch.Tensor, rows: torch.Tensor, values: torch.Tensor, lr: float) -> None:
        self.steps += 1
        first = self.first[rows].mul_(BETAS[0]).add_(values, alpha=1 - BETAS[0])
        second = self.second[rows].mul_(BETAS[1]).addcmul_(values, values, value=1 - BETAS[1])
        self.first[rows], self.second[rows] = first, second
        denominator = (second / (1 - BETAS[1] ** self.steps)).sqrt_().add_(EPS)
        weight.data[rows] -= (lr / (1 - BETAS[0] ** self.steps)) * first / denominator

    def _ema_step(self, weight: torch.Tensor, rows: torch.Tensor) -> None:
        decay = self.config.ema_decay
        if self.steps == 1:  # AveragedModel's first update copies the weights
            for averaged, p in self.pairs:
                averaged.data.copy_(p.data)
            self.ema_table.data.copy_(weight.data)
            self.caught_up[:] = 1
            return
        for averaged, p in self.pairs:
            averaged.data.lerp_(p.data, 1 - decay)
        self.ema_table.data[rows] = decay * self.ema_table.data[rows] + (1 - decay) * weight.data[rows]
        self.caught_up[rows] = self.steps


def run(name: str, seed: int, lazy: bool) -> dict:
    default = trainer._Step
    trainer._Step = LazyEmbeddingStep if lazy else default
    try:
        config = build_config(None, {"train.seed": seed, "train.threads": 1})
        started = time.perf_counter()
        dev = split_path(name, "dev")
        classifier = train_on_files(config, split_path(name, "train"), dev_path=dev, test_path=split_path(name, "test"))
        seconds = time.perf_counter() - started
    finally:
        trainer._Step = default
    metrics = classifier.metrics
    return {"set": name, "step": "lazy" if lazy else "default", "seed": seed, "seconds": round(seconds, 1),
            "dev": metrics["dev"]["accuracy"], "test": metrics["test"]["accuracy"]}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sets", nargs="+", default=["mr", "sst2", "trec"])
    parser.add_argument("--seed", type=int, default=13)
    args = parser.parse_args()
    torch.set_num_threads(1)
    for name in args.sets:
        for lazy in (True, False):
            print(json.dumps(run(name, args.seed, lazy)), flush=True)


if __name__ == "__main__":
    main()
