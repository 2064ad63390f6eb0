"""Configuration: overrides in every spelling, all problems reported at once, defaults < YAML < flags."""

from __future__ import annotations

import pytest
from pydantic import ValidationError
from typer.testing import CliRunner

import textcnn.workflows
from textcnn.cli import app
from textcnn.config import RunConfig, build_config, dump_yaml_config, load_yaml_config
from textcnn.errors import ConfigError
from textcnn.reporting import no_progress


def test_the_guide_documents_the_real_defaults():
    import re
    from pathlib import Path

    import yaml

    guide = (Path(__file__).resolve().parents[1] / "docs" / "guide.md").read_text(encoding="utf-8")
    block = re.search(r"```yaml\n(data:.*?)```", guide, flags=re.S).group(1)
    documented = yaml.safe_load(block)
    assert documented == RunConfig().model_dump(mode="json")


def test_overrides_by_section_dotted_key_and_bare_name():
    config = build_config(None, {"model": {"num_filters": 7}, "train.epochs": 3, "lr": 0.01, "kind": "char"})

    assert config.model.num_filters == 7
    assert config.train.epochs == 3
    assert config.train.lr == 0.01
    assert config.tokenizer.kind == "char"
    assert config.model.embed_dim == RunConfig().model.embed_dim


def test_overrides_apply_on_top_of_a_base():
    base = build_config(None, {"epochs": 5, "num_filters": 9})

    config = build_config(base, {"epochs": 2})

    assert (config.train.epochs, config.model.num_filters) == (2, 9)
    assert base.train.epochs == 5


def test_config_is_frozen():
    with pytest.raises(ValidationError, match=r"epochs\n +Instance is frozen"):
        RunConfig().train.epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"model.kernel_sizes": [0, 3]}, r"model\.kernel_sizes: .*must be a non-empty list of positive integers, got \[0, 3\]"),
        ({"model.dropout": 1.0}, r"model\.dropout: "),
        ({"train.device": "tpu"}, r"train\.device: .*got 'tpu'"),
        ({"tokenizer.max_len": 0}, r"tokenizer\.max_len: "),
        ({"nonsense": 1}, r"nonsense: unknown key"),
        ({"modle.num_filters": 1}, r"modle\.num_filters: unknown section 'modle'"),
    ],
)
def test_validation_error_names_the_dotted_key(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_config(None, overrides)


def test_every_bad_override_is_reported_at_once():
    with pytest.raises(ConfigError) as caught:
        build_config(None, {"bogus": 1, "model.dropout": 2.0, "train.epoch": 3})

    message = str(caught.value)
    assert "bogus: unknown key" in message
    assert "model.dropout" in message
    assert "train.epoch: unknown key" in message


@pytest.mark.parametrize(
    ("yaml_text", "bad_keys"),
    [
        ("model:\n  num_filter: 5\ntrain:\n  epoch: 3\n", ["model.num_filter", "train.epoch"]),
        ("model:\n  num_filters: 0\n  pooling: mean\n", ["model.num_filters", "model.pooling"]),
        ("modle:\n  num_filters: 5\ntrain:\n  epoch: 3\n", ["modle", "train.epoch"]),
    ],
    ids=["two-unknown-fields", "two-invalid-values", "unknown-section-and-field"],
)
def test_yaml_with_two_bad_keys_raises_one_error_naming_both_and_the_file(tmp_path, yaml_text, bad_keys):
    path = tmp_path / "run.yaml"
    path.write_text(yaml_text, encoding="utf-8")

    with pytest.raises(ConfigError) as caught:
        load_yaml_config(path)

    message = str(caught.value)
    assert str(path) in message
    for key in bad_keys:
        assert key in message


@pytest.mark.parametrize(
    ("content", "pattern"),
    [
        (None, r"config file not found: .*run\.yaml"),
        ("model: [unclosed\n", r"run\.yaml: not valid YAML"),
        ("- a list\n", r"run\.yaml: expected a mapping of sections"),
    ],
)
def test_unreadable_yaml_is_a_config_error(tmp_path, content, pattern):
    path = tmp_path / "run.yaml"
    if content is not None:
        path.write_text(content, encoding="utf-8")

    with pytest.raises(ConfigError, match=pattern):
        load_yaml_config(path)


def test_dumped_yaml_loads_back_to_the_same_config(tmp_path):
    config = build_config(None, {"num_filters": 50, "kernel_sizes": [3, 4], "max_len": 64, "kind": "jieba"})
    path = tmp_path / "run.yaml"
    path.write_text(dump_yaml_config(config), encoding="utf-8")

    assert load_yaml_config(path) == config


def test_empty_yaml_gives_the_defaults(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("", encoding="utf-8")

    assert load_yaml_config(path) == RunConfig()


# --- precedence through the CLI: defaults < --config FILE.yaml < flags -----------------------------


class _Trained:
    metrics: dict = {}


@pytest.fixture
def received(monkeypatch):
    """Replace training by a fake that records the RunConfig and paths the CLI hands over."""
    calls: list[dict] = []

    def fake_train_on_files(config, train_path, **kwargs):
        calls.append({"config": config, "train_path": train_path, **kwargs})
        return _Trained()

    monkeypatch.setattr(textcnn.workflows, "train_on_files", fake_train_on_files)
    return calls


def _train(tmp_path, *args):
    result = CliRunner().invoke(app, ["train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "model"), *args])
    return result


def test_cli_without_settings_uses_the_defaults(tmp_path, received):
    result = _train(tmp_path, "--quiet")

    assert result.exit_code == 0, result.output
    (call,) = received
    assert call["config"] == RunConfig()
    assert call["train_path"] == tmp_path / "train.csv"
    assert call["out_dir"] == tmp_path / "model"
    assert (call["dev_path"], call["test_path"], call["progress"]) == (None, None, no_progress)  # --quiet: no bar


def test_yaml_overrides_defaults_and_flags_override_yaml(tmp_path, received):
    config_file = tmp_path / "run.yaml"
    config_file.write_text(
        "model:\n  num_filters: 50\n  dropout: 0.3\ntrain:\n  epochs: 7\n  lr: 0.01\ntokenizer:\n  kind: char\n",
        encoding="utf-8",
    )

    result = _train(
        tmp_path,
        "--config", str(config_file),
        "--epochs", "3",
        "--kernel-sizes", "3,4",
        "--tokenizer", "word",
        "--max-len", "80",
        "--set", "model.dropout=0.1",
        "--dev", str(tmp_path / "dev.csv"),
        "--quiet",
    )  # fmt: skip

    assert result.exit_code == 0, result.output
    config = received[0]["config"]
    assert config.train.epochs == 3  # flag beats YAML
    assert config.model.kernel_sizes == (3, 4)  # flag beats default
    assert config.tokenizer.kind == "word"  # flag beats YAML
    assert config.tokenizer.max_len == 80
    assert config.model.dropout == 0.1  # --set beats YAML
    assert config.model.num_filters == 50  # YAML beats default
    assert config.train.lr == 0.01  # YAML beats default
    assert config.train.batch_size == RunConfig().train.batch_size  # default kept
    assert received[0]["dev_path"] == tmp_path / "dev.csv"


def test_training_prints_the_resolved_config_unless_quiet(tmp_path, received):
    result = _train(tmp_path, "--num-filters", "33")

    assert result.exit_code == 0, result.output
    assert "num_filters: 33" in result.output
    assert "saved model bundle to" in result.output


@pytest.mark.parametrize(
    ("args", "pattern"),
    [
        (["--pooling", "mean"], "model.pooling"),
        (["--max-len", "long"], "--max-len: expected an integer or auto, got 'long'"),
        (["--kernel-sizes", "3,x"], "--kernel-sizes: expected comma-separated integers"),
        (["--set", "model.num_filters"], "--set expects KEY=VALUE"),
        (["--set", "model.num_filter=3"], "model.num_filter: unknown key"),
    ],
)
def test_bad_flags_exit_1_with_the_reason_and_no_traceback(tmp_path, received, args, pattern):
    result = _train(tmp_path, *args)

    assert result.exit_code == 1
    assert pattern in result.output
    assert "Traceback" not in result.output
    assert received == []


def test_bad_yaml_exits_1_naming_both_keys(tmp_path, received):
    config_file = tmp_path / "run.yaml"
    config_file.write_text("model:\n  num_filter: 5\ntrain:\n  epoch: 3\n", encoding="utf-8")

    result = _train(tmp_path, "--config", str(config_file))

    assert result.exit_code == 1
    assert "model.num_filter" in result.output
    assert "train.epoch" in result.output
    assert "Traceback" not in result.output


# --- pretrained vectors and Kim's embedding modes ---------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "pattern"),
    [
        ({"embedding_mode": "static"}, r"model\.embedding_mode: static needs pretrained vectors: set data\.vectors"),
        ({"embedding_mode": "multichannel"}, r"model\.embedding_mode: multichannel needs pretrained vectors"),
        ({"embedding_mode": "rand", "vectors": "v.txt"}, r"model\.embedding_mode: rand would ignore data\.vectors \(v\.txt\)"),
        ({"model.max_norm": 0}, r"model\.max_norm: Input should be greater than 0"),
    ],
)
def test_embedding_mode_and_vectors_must_agree(overrides, pattern):
    with pytest.raises(ConfigError, match=pattern):
        build_config(None, overrides)


@pytest.mark.parametrize("name", ["textcnn", "gated_cnn", "transformer"])
def test_every_model_takes_vectors_in_the_auto_mode_by_default(name):
    config = build_config(None, {"model": {"name": name}, "vectors": "glove-6b-50d"})

    assert (config.data.vectors, config.model.embedding_mode) == ("glove-6b-50d", "auto")


def test_cli_vectors_flags_reach_the_config(tmp_path, received):
    result = _train(tmp_path, "--vectors", "glove-6b-50d", "--embedding-mode", "multichannel", "--set", "model.max_norm=3", "-q")

    assert result.exit_code == 0, result.output
    config = received[0]["config"]
    assert (config.data.vectors, config.model.embedding_mode, config.model.max_norm) == ("glove-6b-50d", "multichannel", 3.0)


def test_no_cache_flag_turns_the_cache_off(tmp_path, received):
    assert _train(tmp_path, "--quiet").exit_code == 0
    assert _train(tmp_path, "--quiet", "--no-cache").exit_code == 0

    assert [call["config"].data.cache for call in received] == [True, False]


def test_threads_flag_sets_train_threads(tmp_path, received):
    assert _train(tmp_path, "--quiet", "--threads", "1").exit_code == 0

    assert received[0]["config"].train.threads == 1


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"nb.kind": "multinomial"}, "nb.kind: renamed to nb.method"),
        ({"nb": {"multi_label": True}}, "nb.multi_label is now nb.for_multi_label"),
    ],
)
def test_a_renamed_setting_is_an_error_that_names_the_new_key(overrides, message):
    with pytest.raises(ConfigError, match=message):
        build_config(None, overrides)


def test_no_bare_setting_name_belongs_to_two_sections():
    from textcnn.config.build import FIELD_OWNERS

    config = build_config(None, {"kind": "char", "multi_label": True, "method": "multinomial"})

    assert (config.tokenizer.kind, config.data.multi_label, config.nb.method) == ("char", True, "multinomial")
    assert FIELD_OWNERS["kind"] == "tokenizer" and FIELD_OWNERS["method"] == "nb"
