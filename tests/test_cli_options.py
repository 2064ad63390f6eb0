"""The command line's plumbing, in process: flags derived from the config models, the error line,
logging on stderr, the progress bar, and the OpenMP setting."""

from __future__ import annotations

import ast
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.main import get_command
from typer.testing import CliRunner

import textcnn.config
import textcnn.workflows
from textcnn.cli import COMMANDS, app
from textcnn.cli.console import progress_bar, set_quiet, stderr_logging
from textcnn.cli.options import TRAIN_KEYS, TUNE_KEYS, config_flag, describe, resolve_key
from textcnn.config import RunConfig
from textcnn.reporting import logger

CLI_DIR = Path(__file__).resolve().parents[1] / "src" / "textcnn" / "cli"

# The train flags users' scripts have been calling (the n-gram model's kind follows its config key).
TRAIN_FLAGS = {
    "--format", "--text-column", "--label-column", "--multi-label", "--single-label", "--label-sep", "--tokenizer",
    "--max-len", "--long-text", "--model", "--vectors", "--embedding-mode", "--kernel-sizes", "--num-filters",
    "--embed-dim", "--dropout", "--pooling", "--epochs", "--batch-size", "--lr", "--patience", "--class-weight",
    "--sampler", "--seed", "--ensemble", "--nb-ngrams", "--nb-weight", "--device", "--threads", "--no-cache",
    "--set", "--config", "--dev", "--test", "--out", "--quiet",
}  # fmt: skip


def _options(name: str) -> dict[str, str]:
    """Every option string of a command -> its help text."""
    found = {}
    for param in get_command(app).commands[name].params:
        for flag in [*param.opts, *param.secondary_opts]:
            found[flag] = param.help or ""
    return found


def test_train_keeps_its_flags_and_tune_has_its_subset():
    train, tune = _options("train"), _options("tune")

    assert TRAIN_FLAGS <= set(train)
    assert config_flag("nb.kind").name in train  # --nb-kind, or the name the key was renamed to
    assert {config_flag(key).flag for key in TUNE_KEYS} <= set(tune)
    assert set(TUNE_KEYS) <= set(TRAIN_KEYS)


def test_a_flag_shows_the_field_description_and_the_default_of_runconfig():
    help_text = _options("train")["--num-filters"]

    assert help_text == f"{textcnn.config.TextCNNConfig.model_fields['num_filters'].description} [default: 128]"
    assert _options("train")["--kernel-sizes"].endswith("[default: 1,2,3,4,5]")
    assert _options("train")["--threads"].endswith("[default: none]")
    assert RunConfig().model.num_filters == 128


@pytest.mark.parametrize(
    ("key", "name", "metavar"),
    [
        ("model.num_filters", "--num-filters", None),
        ("nb.ngrams", "--nb-ngrams", "INT|auto"),
        ("tokenizer.kind", "--tokenizer", "auto|word|char|jieba"),
        ("model.name", "--model", "textcnn|gated_cnn|transformer"),  # every architecture's name
        ("data.cache", "--cache/--no-cache", None),
        ("data.multi_label", "--multi-label/--single-label", None),
        ("tokenizer.max_len", "--max-len", "INT|auto"),
        ("nb.weight", "--nb-weight", "NUMBER|auto"),
        ("data.vectors", "--vectors", "FILE|glove-6b-50d"),
    ],
)
def test_flag_names_follow_the_rule_and_its_named_exceptions(key, name, metavar):
    flag = config_flag(key)

    assert (flag.name, flag.metavar) == (name, metavar)


def test_a_renamed_key_gets_the_flag_of_its_new_name(monkeypatch):
    monkeypatch.setattr(textcnn.config, "RENAMED", {"nb.kind": "nb.smoothing"}, raising=False)

    flag = config_flag("nb.kind")

    assert (resolve_key("nb.kind"), flag.key, flag.name) == ("nb.smoothing", "nb.smoothing", "--nb-smoothing")
    assert flag.help.startswith(describe("nb.smoothing"))


@pytest.fixture
def received(monkeypatch):
    """Replace training by a fake that records what the CLI hands over."""
    calls: list[dict] = []

    class Trained:
        metrics: dict = {}

    def fake(config, train_path, *, dev_path=None, test_path=None, out_dir=None, progress=None, resume=False):
        calls.append({"config": config, "progress": progress, "resume": resume})
        return Trained()

    monkeypatch.setattr(textcnn.workflows, "train_on_files", fake)
    return calls


def _train(tmp_path, *args):
    return CliRunner().invoke(app, ["train", str(tmp_path / "train.csv"), "--out", str(tmp_path / "model"), "-q", *args])


def test_flag_values_are_parsed_as_their_fields_say(tmp_path, received):
    args = ["--no-cache", "--single-label", "--max-len", "auto", "--nb-weight", "0.5", "--kernel-sizes", "3, 4", "--lr", "0.01"]

    result = _train(tmp_path, *args)

    assert result.exit_code == 0, result.output
    config = received[0]["config"]
    assert (config.data.cache, config.data.multi_label, config.tokenizer.max_len) == (False, False, "auto")
    assert (config.nb.weight, config.model.kernel_sizes, config.train.lr) == (0.5, (3, 4), 0.01)


def test_flags_not_given_leave_the_defaults(tmp_path, received):
    assert _train(tmp_path).exit_code == 0
    assert received[0]["config"] == RunConfig()
    assert received[0]["resume"] is False


def test_resume_and_the_checkpoint_flags_reach_training(tmp_path, received):
    result = _train(tmp_path, "--resume", "--checkpoint-every-steps", "500", "--keep-checkpoints")

    assert result.exit_code == 0, result.output
    config = received[0]["config"]
    assert received[0]["resume"] is True
    assert (config.train.checkpoint_every_steps, config.train.keep_checkpoints) == (500, True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--nb-weight", "much"], "error: --nb-weight: expected a number or auto, got 'much'"),
        (["--max-len", "0"], "tokenizer.max_len: Value error, must be a positive integer or 'auto', got 0"),
        (["--nb-ngrams", "5"], "nb.ngrams: Value error, must be 'auto' or 0 to 4, got 5"),
    ],
)
def test_a_bad_flag_value_is_one_error_naming_the_flag_or_key(tmp_path, received, args, message):
    result = _train(tmp_path, *args)

    assert result.exit_code == 1
    assert message in result.output and "Traceback" not in result.output
    assert received == []


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--ensemble", "17"], "Invalid value for '--ensemble': Input should be less than or equal to 16"),
        (["--threads", "0"], "Invalid value for '--threads': Input should be greater than or equal to 1"),
    ],
)
def test_an_integer_out_of_the_settings_range_is_a_usage_error_naming_the_flag(tmp_path, received, args, message):
    result = _train(tmp_path, *args)

    assert result.exit_code == 2  # as the command line reports a bad option
    assert message in result.output
    assert received == []


def test_every_command_runs_through_the_error_handler():
    registered = {info.name: info.callback for info in app.registered_commands}

    assert list(registered) == list(COMMANDS)
    assert all(callback.__wrapped__ is COMMANDS[name] for name, callback in registered.items())


def test_log_records_print_on_stderr_as_they_are_while_a_command_runs(capsys):
    message = "read data[v2].csv [bold]as is[/bold] :smile:"
    with stderr_logging():
        logger.info(message)
        set_quiet(True)
        logger.info("hidden by --quiet")
        logger.warning("shown even with --quiet")
    logger.warning("after the command: not printed")

    assert capsys.readouterr().err == f"{message}\nshown even with --quiet\n"
    assert logger.level == logging.NOTSET and len(logger.handlers) == 1  # only the library's NullHandler


def test_the_progress_bar_draws_nothing_when_stderr_is_no_terminal(capsys):
    with progress_bar("epoch 1/2", 10) as advance:
        advance(5, 0.5, 100.0)

    assert capsys.readouterr() == ("", "")


def test_importing_the_cli_sets_passive_openmp_waiting():
    env = {key: value for key, value in os.environ.items() if key != "OMP_WAIT_POLICY"}
    code = "import os, textcnn.cli; print(os.environ['OMP_WAIT_POLICY'])"

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)

    assert result.stdout.strip() == "PASSIVE", result.stderr


def test_the_cli_modules_import_torch_heavy_modules_only_inside_commands():
    # textcnn.serve.settings is one pydantic model (the serve flags' help); FastAPI is imported inside the command
    light = ("textcnn.cli", "textcnn.config", "textcnn.errors", "textcnn.reporting", "textcnn.serve.settings")
    for path in sorted(CLI_DIR.glob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        top = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
        names = [alias.name for node in top if isinstance(node, ast.Import) for alias in node.names]
        names += [node.module or "" for node in top if isinstance(node, ast.ImportFrom)]
        heavy = [name for name in names if name.startswith("textcnn") and not name.startswith(light) or name == "torch"]
        assert heavy == [], path.name


def test_torch_is_not_loaded_before_the_cli_sets_openmp_waiting():
    code = "import sys, textcnn.cli; print('torch' in sys.modules)"

    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)

    assert result.stdout.strip() == "False", result.stderr
