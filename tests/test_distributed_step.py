"""The arithmetic of a distributed step, without a process group: how a global batch splits over the
ranks, that the ranks' loss shares add up to the whole batch's gradient, that an embedding table's
gradient lives in the batch's rows only, and what ``--nproc`` hands to torchrun."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from textcnn.cli.launch import torchrun_command, without_nproc
from textcnn.config import build_config
from textcnn.data.batching import iter_batches
from textcnn.data.encoding import EncodedTexts
from textcnn.models import build_model
from textcnn.training.distributed_step import batch_rows, shard, shard_loss
from textcnn.training.losses import build_loss


def encoded_texts(count: int, vocab_size: int, seed: int = 0) -> EncodedTexts:
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 12, count)
    ids = rng.integers(2, vocab_size, lengths.sum()).astype(np.int32)
    return EncodedTexts(ids, np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)


def first_batch(count: int, batch_size: int, targets: np.ndarray, min_len: int = 1):
    encoded = encoded_texts(count, 50)
    return next(iter_batches(encoded, batch_size, targets=targets, shuffle=True, rng=np.random.default_rng(3), min_len=min_len))


@pytest.mark.parametrize("size", [2, 3, 4])
def test_the_ranks_rows_cover_the_batch_once(size: int):
    batch = first_batch(40, 7, np.zeros(40, dtype=np.int64))
    shares = [shard(batch, rank, size, min_len=1) for rank in range(size)]
    assert sorted(np.concatenate([rows.index for rows, _ in shares]).tolist()) == sorted(batch.index.tolist())
    assert all(weight == 1.0 for _, weight in shares)
    for rows, _ in shares:  # padding trimmed to the rows' longest text, the tokens unchanged
        assert rows.ids.size(1) == int(rows.lengths.max())
        for row, position in enumerate(rows.index):
            where = int(np.flatnonzero(batch.index == position)[0])
            assert torch.equal(rows.ids[row, : rows.lengths[row]], batch.ids[where, : batch.lengths[where]])


def test_a_rank_without_rows_takes_part_with_weight_zero():
    batch = first_batch(3, 3, np.zeros(3, dtype=np.int64))
    rows, weight = shard(batch, 3, 4, min_len=1)
    assert weight == 0.0 and len(rows.index) == 1


LOSSES = {
    "plain": ({}, "single"),
    "class weights and label smoothing": ({"train.class_weight": "balanced", "train.label_smoothing": 0.1}, "single"),
    "multi-label, balanced": ({"train.class_weight": "balanced"}, "multi"),
}


@pytest.mark.parametrize("name", list(LOSSES))
def test_the_ranks_loss_shares_add_up_to_the_whole_batch_loss_and_gradient(name: str):
    settings, kind = LOSSES[name]
    config = build_config(None, settings).train
    rng = np.random.default_rng(1)
    targets = rng.integers(0, 3, 60) if kind == "single" else (rng.random((60, 3)) < 0.4).astype(np.float32)
    loss_fn = build_loss(config, targets, 3)
    batch = first_batch(60, 9, targets)
    logits = torch.randn(60, 3, generator=torch.Generator().manual_seed(0), requires_grad=True)

    whole = loss_fn(logits[torch.from_numpy(batch.index)], batch.targets)
    (expected,) = torch.autograd.grad(whole, logits)
    shares = []
    for rank in range(2):  # 9 rows: 5 and 4
        rows, _ = shard(batch, rank, 2, min_len=1)
        shares.append(shard_loss(loss_fn, logits[torch.from_numpy(rows.index)], rows.targets, batch.targets))
    (summed,) = torch.autograd.grad(sum(shares), logits)

    torch.testing.assert_close(sum(shares), whole)
    torch.testing.assert_close(summed, expected)


@pytest.mark.parametrize("name", ["textcnn", "gated_cnn", "transformer"])
def test_an_embedding_gradient_lives_in_the_rows_of_the_batch(name: str):
    model = build_model(build_config(None, {"model.name": name, "model.embed_dim": 16}).model, vocab_size=300, num_classes=3, vectors=None)
    model.train()
    batch = first_batch(50, 16, np.zeros(50, dtype=np.int64), min_len=model.min_len)
    model(batch.ids, batch.lengths).sum().backward()
    touched = torch.nonzero(model.embedding.weight.grad.abs().sum(dim=1)).flatten()
    assert set(touched.tolist()) <= set(batch_rows(batch.ids).tolist())
    assert len(batch_rows(batch.ids)) < 300 // 2  # the rows sent are a small part of the table


def test_nproc_is_left_out_of_the_command_torchrun_runs():
    arguments = ["train", "data.csv", "--nproc", "2", "--out", "m", "--nproc=3", "--epochs", "2"]
    assert without_nproc(arguments) == ["train", "data.csv", "--out", "m", "--epochs", "2"]
    command = torchrun_command(4, arguments)
    assert command[1:7] == ["-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "4", "-m"]
    assert command[7:] == ["textcnn", "train", "data.csv", "--out", "m", "--epochs", "2"]


def test_a_loss_the_ranks_cannot_split_is_refused():
    with pytest.raises(TypeError, match="cannot split"):
        shard_loss(nn.MSELoss(), torch.zeros(2, 3), torch.zeros(2, 3), torch.zeros(2, 3))


def test_cpu_processes_that_each_get_few_texts_a_step_are_told_to_raise_the_batch():
    from textcnn.training.distributed import World, batch_note

    note = batch_note(World(size=2, rank=0, backend="gloo"), 32)
    assert note is not None and "16 texts per process" in note and "--batch-size" in note and "128" in note
    assert batch_note(World(size=2, rank=0, backend="gloo"), 128) is None  # 64 a process: enough
    assert batch_note(World(size=2, rank=0, backend="nccl"), 32) is None  # GPUs: no such note
    assert batch_note(World(), 32) is None  # one process
