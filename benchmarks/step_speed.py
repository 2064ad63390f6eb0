"""Training examples/s of TextCNN variants: one training step as the trainer takes it, on random batches.

Forward, cross-entropy, backward, gradient clipping, fused Adam, EMA of the weights; batch 32 of
mr-like lengths (up to 47 tokens) over an 18k-word vocabulary, one thread.

    python benchmarks/step_speed.py --config default= --config bag2=model.ngram_bag=2
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import time

import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from textcnn.config import build_config
from textcnn.models import build_model
from textcnn.training.optim import build_optimizer
from tune import parse_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", action="append", required=True, help="NAME=key=value,,key=value")
    parser.add_argument("--vocab", type=int, default=18_000)
    parser.add_argument("--max-len", type=int, default=47)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--rounds", type=int, default=3, help="the configs take turns; the best round counts")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    lengths = torch.randint(5, args.max_len + 1, (args.steps, 32), generator=generator)
    batches = []
    for step_lengths in lengths:
        seq_len = int(step_lengths.max())
        ids = torch.randint(2, args.vocab, (32, seq_len), generator=generator)
        ids[torch.arange(seq_len)[None, :] >= step_lengths[:, None]] = 0
        batches.append((ids, step_lengths, torch.randint(0, 2, (32,), generator=generator)))
    runs = []
    for name, overrides in (parse_config(spec) for spec in args.config):
        config = build_config(None, overrides)
        torch.manual_seed(0)
        model = build_model(config.model, vocab_size=args.vocab, num_classes=2).train()
        optimizer = build_optimizer(model, config.train)
        ema = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.99), use_buffers=True)
        runs.append((name, model, optimizer, ema, sum(p.numel() for p in model.parameters())))
    best = {name: float("inf") for name, *_ in runs}
    for _ in range(args.rounds):
        for name, model, optimizer, ema, _params in runs:
            started = time.perf_counter()
            for ids, step_lengths, labels in batches:
                loss = torch.nn.functional.cross_entropy(model(ids, step_lengths), labels)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
                optimizer.step()
                ema.update_parameters(model)
            best[name] = min(best[name], time.perf_counter() - started)
    base = None
    print(f"{'config':<24} {'params':>11} {'ex/s':>8} {'vs first':>8}")
    for name, *_, params in runs:
        rate = args.steps * 32 / best[name]
        base = base or rate
        print(f"{name:<24} {params:>11,} {rate:8.0f} {rate / base:8.2f}")


if __name__ == "__main__":
    main()
