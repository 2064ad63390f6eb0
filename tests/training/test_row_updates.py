"""Row updates of the embedding table: Adam without momentum on the rows a batch uses, which is
dense Adam without momentum exactly, plain fused Adam on the rest, an EMA equal to a dense EMA of the same weights, clipping
that counts a sparse gradient's rows, and a trainer that uses them by default and can be told not to."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from textcnn.config import TextCNNConfig, TrainConfig
from textcnn.data.encoding import build_compact_vocab, encode_compact, tokenize_compact
from textcnn.data.labels import LabelSet
from textcnn.data.tokenizers import WordTokenizer
from textcnn.models import build_model
from textcnn.training.reproducibility import seed_everything
from textcnn.training.optim import build_optimizer
from textcnn.training.row_updates import RowAdam, RowAverage, momentumless_table, writes_rows
from textcnn.training.trainer import Trainer, _Step, clip_gradients


class Tiny(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Embedding(50, 6, padding_idx=0)
        self.out = nn.Linear(6, 3)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.out(self.embedding(ids).mean(dim=1))


def _batches(steps: int, seed: int = 0) -> list[torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    return [torch.randint(0, 12 if step % 3 else 50, (4, 5), generator=generator) for step in range(steps)]  # some rows idle for long


def test_the_table_moves_as_under_dense_adam_without_momentum_and_the_rest_as_under_adam():
    torch.manual_seed(0)
    ours, theirs = Tiny(), Tiny()
    theirs.load_state_dict(ours.state_dict())
    ours.embedding.sparse = True
    row_adam = RowAdam(ours.parameters(), lr=0.01, fused=True)
    table_adam = torch.optim.Adam([theirs.embedding.weight], lr=0.01, betas=(0.0, 0.999))
    adam = torch.optim.Adam(theirs.out.parameters(), lr=0.01, fused=True)
    batches = _batches(40)
    for step, ids in enumerate(batches):
        before = ours.embedding.weight.detach().clone()
        for model in (ours, theirs):
            model.zero_grad(set_to_none=True)
            model(ids).square().sum().backward()
        for optimizer in (row_adam, table_adam, adam):
            optimizer.step()
            for group in optimizer.param_groups:
                group["lr"] = 0.01 * (1 - step / len(batches))  # a schedule, as the trainer's
        used = torch.zeros(50, dtype=torch.bool)
        used[ids.flatten()] = True
        used[0] = False  # padding: no gradient
        assert torch.equal(ours.embedding.weight[~used], before[~used])  # only the batch's rows were written
        torch.testing.assert_close(ours.embedding.weight, theirs.embedding.weight, rtol=0, atol=1e-6)
    torch.testing.assert_close(ours.out.weight, theirs.out.weight, rtol=0, atol=1e-6)
    assert not ours.embedding.weight[0].any()
    state = row_adam.state[ours.embedding.weight]
    assert float(state["step"]) == 40 and set(state) == {"step", "exp_avg_sq", "updated"}


def _averages(steps: int, read_at: set[int]) -> tuple[RowAverage, AveragedModel, Tiny]:
    torch.manual_seed(1)
    model = Tiny()
    model.embedding.sparse = True
    optimizer = RowAdam(model.parameters(), lr=0.05)
    rows_average = RowAverage(model, model.embedding.weight, 0.9)
    dense_average = AveragedModel(model, multi_avg_fn=get_ema_multi_avg_fn(0.9), use_buffers=True)
    for step, ids in enumerate(_batches(steps, seed=2)):
        model.zero_grad(set_to_none=True)
        model(ids).square().sum().backward()
        model.embedding.weight.grad = model.embedding.weight.grad.coalesce()
        rows_average.before_step(model.embedding.weight.grad.indices()[0])
        optimizer.step()
        rows_average.update_parameters(model)
        dense_average.update_parameters(model)
        if step in read_at:
            rows_average.catch_up()
    return rows_average, dense_average, model


@pytest.mark.parametrize("read_at", [set(), {3, 4, 17}], ids=["read at the end", "read on the way too"])
def test_the_average_equals_a_dense_average_of_the_same_weights(read_at):
    rows_average, dense_average, _ = _averages(40, read_at)
    rows_average.catch_up()
    for ours, theirs in zip(rows_average.module.parameters(), dense_average.module.parameters()):
        torch.testing.assert_close(ours, theirs, rtol=0, atol=1e-6)
    lagging = (rows_average.current != rows_average.updates).sum()
    assert lagging == 0 and rows_average.updates == 40


def test_a_saved_average_goes_on_as_the_one_never_saved_bit_for_bit():
    saved, _, model = _averages(20, set())
    state = saved.state_dict()
    assert (state["row_updates"] != 20).any()  # saved as it stands: saving changes no rounding
    restored = RowAverage(model, model.embedding.weight, 0.9)
    restored.load_state_dict(state)
    for average in (saved, restored):
        average.before_step(torch.tensor([1, 30]))
        average.update_parameters(model)
        average.catch_up()
    for ours, theirs in zip(saved.module.parameters(), restored.module.parameters()):
        assert torch.equal(ours, theirs)


@pytest.mark.parametrize("scale", [0.01, 100.0], ids=["norm within bounds", "norm above the bound"])
def test_clipping_counts_a_sparse_gradient_as_its_dense_form(scale):
    torch.manual_seed(0)
    sparse, dense = Tiny(), Tiny()
    dense.load_state_dict(sparse.state_dict())
    sparse.embedding.sparse = True
    ids = torch.tensor([[1, 2, 2, 5, 1]])  # repeated rows: the sparse gradient comes uncoalesced
    for model in (sparse, dense):
        model(ids).sum().mul(scale).backward()
    clip_gradients(sparse, max_norm=1.0)
    torch.nn.utils.clip_grad_norm_(dense.parameters(), max_norm=1.0)
    torch.testing.assert_close(sparse.embedding.weight.grad.to_dense(), dense.embedding.weight.grad, rtol=1e-6, atol=0)
    assert torch.equal(sparse.out.weight.grad, dense.out.weight.grad)


def test_rows_apply_to_a_trained_table_without_weight_decay_and_are_written_on_one_cpu_process():
    model = Tiny()
    assert momentumless_table(model, TrainConfig()) is model.embedding.weight
    assert momentumless_table(model, TrainConfig(embedding_updates="dense")) is None
    assert momentumless_table(model, TrainConfig(weight_decay=0.01)) is None
    assert writes_rows(torch.device("cpu"), distributed=False)
    assert not writes_rows(torch.device("cpu"), distributed=True) and not writes_rows(torch.device("cuda"), distributed=False)
    model.embedding.weight.requires_grad_(False)
    assert momentumless_table(model, TrainConfig()) is None


def test_where_rows_are_not_written_the_same_optimizer_runs_densely():
    """A distributed run or a GPU: the table in a dense Adam group of its own, without momentum,
    which moves it as RowAdam does."""
    torch.manual_seed(0)
    ours, theirs = Tiny(), Tiny()
    theirs.load_state_dict(ours.state_dict())
    ours.embedding.sparse = True
    row_adam = build_optimizer(ours, TrainConfig(lr=0.01), table=ours.embedding.weight, rows=True)
    dense = build_optimizer(theirs, TrainConfig(lr=0.01), table=theirs.embedding.weight, rows=False)
    assert isinstance(row_adam, RowAdam) and not isinstance(dense, RowAdam)
    for ids in _batches(20):
        for model, optimizer in ((ours, row_adam), (theirs, dense)):
            model.zero_grad(set_to_none=True)
            model(ids).square().sum().backward()
            optimizer.step()
    for a, b in zip(ours.parameters(), theirs.parameters()):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-6)


def _fit(config: TrainConfig, corpus: tuple[list[str], list[str]]):
    texts, labels = corpus
    tokenized = tokenize_compact([*texts, "zebra quokka narwhal zebra quokka narwhal"], WordTokenizer())
    vocab = build_compact_vocab(tokenized)  # three words that no batch holds
    label_set = LabelSet.from_labels(labels)
    encoded = encode_compact(tokenized, vocab, max_len=16).select(np.arange(len(texts)))
    targets = label_set.encode(labels)
    model = build_model(TextCNNConfig(embed_dim=16, num_filters=16, kernel_sizes=(2, 3)), vocab_size=len(vocab), num_classes=2)
    initial = model.embedding.weight.detach().clone()
    result = Trainer(config, device=torch.device("cpu"), rng=seed_everything(config.seed)).fit(
        model, encoded, targets, encoded, targets, label_set.labels
    )
    never = torch.tensor([vocab.index[word] for word in ("zebra", "quokka", "narwhal")])
    return model, result, initial, never


@pytest.mark.parametrize("updates", ["rows", "dense"])
def test_training_learns_with_either_update_and_leaves_a_dense_embedding(english, updates):
    config = TrainConfig(epochs=10, batch_size=8, lr=0.03, seed=3, patience=10, embedding_updates=updates)
    model, result, initial, never = _fit(config, english)
    assert result.best_score > 0.8
    assert not model.embedding.sparse  # prediction, export and explanations see the usual module
    assert torch.equal(model.embedding.weight[never], initial[never])  # words no batch held keep their vectors


def test_the_default_trains_by_rows():
    step = _Step(Tiny(), TrainConfig(), encode_compact(tokenize_compact(["a b"], WordTokenizer()), build_compact_vocab(
        tokenize_compact(["a b"], WordTokenizer())), max_len=4), np.zeros(1, dtype=np.int64), torch.device("cpu"), 2)
    assert isinstance(step.optimizer, RowAdam) and isinstance(step.ema, RowAverage) and step.model.embedding.sparse
