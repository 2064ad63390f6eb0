"""Kim's embedding modes in every architecture, and the max-norm constraint of TextCNN."""

from __future__ import annotations

import pytest
import torch
from safetensors.torch import load_file, save_file
from torch.nn import functional as F

from textcnn.config import MODEL_CONFIGS, TextCNNConfig, TrainConfig
from textcnn.models import MODELS, build_model
from textcnn.training.optim import build_optimizer

from test_registry import NUM_CLASSES, TINY, VOCAB_SIZE, _batch

EMBED_DIM = TINY["textcnn"]["embed_dim"]


def pretrained() -> torch.Tensor:
    vectors = torch.randn(VOCAB_SIZE, EMBED_DIM, generator=torch.Generator().manual_seed(7))
    vectors[0] = 0.0  # <pad>
    return vectors


def model_with(name: str, mode: str, vectors: torch.Tensor | None = None) -> torch.nn.Module:
    torch.manual_seed(0)
    config = MODEL_CONFIGS[name](name=name, **{**TINY[name], "embedding_mode": mode})
    return build_model(config, vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES, vectors=vectors)


def one_step(model: torch.nn.Module) -> None:
    """One Adam step on a random batch, as the trainer makes it."""
    optimizer = build_optimizer(model, TrainConfig(lr=0.1))
    ids, lengths = _batch([6, 4, 3])
    model.train()
    torch.nn.functional.cross_entropy(model(ids, lengths), torch.tensor([0, 1, 2])).backward()
    optimizer.step()


@pytest.mark.parametrize("name", sorted(MODELS))
def test_static_embeddings_are_unchanged_after_an_optimizer_step(name):
    vectors = pretrained()
    model = model_with(name, "static", vectors)

    one_step(model)

    assert not model.embedding.weight.requires_grad
    torch.testing.assert_close(model.embedding.weight, vectors, rtol=0, atol=0)
    optimized = {id(p) for group in build_optimizer(model, TrainConfig()).param_groups for p in group["params"]}
    assert id(model.embedding.weight) not in optimized


@pytest.mark.parametrize("name", sorted(MODELS))
def test_nonstatic_embeddings_start_from_the_vectors_and_are_fine_tuned(name):
    vectors = pretrained()
    model = model_with(name, "nonstatic", vectors)
    torch.testing.assert_close(model.embedding.weight.detach(), vectors, rtol=0, atol=0)

    one_step(model)

    assert not torch.equal(model.embedding.weight.detach(), vectors)
    assert not model.embedding.weight[0].any()  # <pad> stays zero


@pytest.mark.parametrize("name", sorted(MODELS))
def test_multichannel_tables_do_not_share_storage_and_only_one_is_tuned(name, tmp_path):
    vectors = pretrained()
    model = model_with(name, "multichannel", vectors)
    static, tuned = model.embedding.static.weight, model.embedding.weight
    assert static.untyped_storage().data_ptr() != tuned.untyped_storage().data_ptr()
    assert static.untyped_storage().data_ptr() != vectors.untyped_storage().data_ptr()

    one_step(model)

    torch.testing.assert_close(static, vectors, rtol=0, atol=0)
    assert not torch.equal(tuned.detach(), vectors)
    save_file(model.state_dict(), tmp_path / "model.safetensors")  # refuses tensors that share memory
    reloaded = model_with(name, "multichannel")  # no vectors needed to load
    reloaded.load_state_dict(load_file(tmp_path / "model.safetensors"))
    ids, lengths = _batch([5, 2])
    with torch.no_grad():
        torch.testing.assert_close(reloaded.eval()(ids, lengths), model.eval()(ids, lengths), rtol=0, atol=0)
    assert not reloaded.embedding.static.weight.requires_grad


def test_multichannel_applies_each_kernel_to_both_channels_and_adds_the_results():
    model = model_with("textcnn", "multichannel", pretrained()).eval()
    with torch.no_grad():
        model.embedding.weight.add_(torch.randn_like(model.embedding.weight))
    ids, lengths = _batch([6])
    conv = model.convs[0]

    with torch.no_grad():
        static = model.embedding.static.weight[ids].transpose(1, 2)  # (1, embed_dim, seq_len)
        tuned = model.embedding.weight[ids].transpose(1, 2)  # (1, embed_dim, seq_len)
        separate = F.conv1d(static, conv.weight) + F.conv1d(tuned, conv.weight) + conv.bias[:, None]
        together = conv(model.embedding(ids).transpose(1, 2))  # (1, num_filters, seq_len - k + 1)

    torch.testing.assert_close(together, separate)


@pytest.mark.parametrize(("vectors", "mode"), [(None, "rand"), (pretrained(), "nonstatic")])
def test_auto_mode_is_nonstatic_with_vectors_and_rand_without(vectors, mode):
    assert model_with("textcnn", "auto", vectors).embedding.mode == mode


def test_vectors_of_the_wrong_shape_are_rejected():
    with pytest.raises(ValueError, match=r"do not fit \(vocab_size, embed_dim\) = \(50, 8\)"):
        model_with("textcnn", "static", torch.zeros(VOCAB_SIZE, EMBED_DIM + 1))


def test_max_norm_rescales_only_the_output_rows_above_the_bound():
    model = build_model(TextCNNConfig(**TINY["textcnn"], max_norm=3.0), vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES)
    with torch.no_grad():
        model.classifier.weight.copy_(torch.ones_like(model.classifier.weight))
        model.classifier.weight[0].mul_(100.0)
    small = model.classifier.weight[1:].detach().clone()

    model.apply_constraints()

    norms = model.classifier.weight.norm(dim=1)
    assert norms[0].item() == pytest.approx(3.0, rel=1e-5)
    torch.testing.assert_close(model.classifier.weight[1:].detach(), small)


def test_without_max_norm_the_constraint_changes_nothing():
    model = build_model(TextCNNConfig(**TINY["textcnn"]), vocab_size=VOCAB_SIZE, num_classes=NUM_CLASSES)
    with torch.no_grad():
        model.classifier.weight.mul_(1000.0)
    before = model.classifier.weight.detach().clone()

    model.apply_constraints()

    torch.testing.assert_close(model.classifier.weight.detach(), before, rtol=0, atol=0)
