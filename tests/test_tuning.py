"""Hyperparameter search: budgets, a tiny seeded search, the saved bundle and best_config.yaml."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from textcnn import TextClassifier
from textcnn.config import build_config, load_yaml_config
from textcnn.errors import ConfigError, TextcnnError
from textcnn.tuning import BEST_CONFIG_FILE, SPACES, Budget, format_leaderboard, parse_budget, tune, tune_files

pytest.importorskip("optuna", reason='the tune extra is not installed: pip install -e ".[dev]"')

TINY_RUN = {"epochs": 2, "patience": 2, "device": "cpu"}


@pytest.mark.parametrize(("text", "budget"), [("30", Budget(trials=30)), ("600s", Budget(seconds=600.0)), ("1.5s", Budget(seconds=1.5))])
def test_budget_is_trials_or_seconds(text, budget):
    assert parse_budget(text) == budget


@pytest.mark.parametrize("text", ["ten", "0", "1.5", "-3", "10m", ""])
def test_bad_budget_is_rejected_with_the_flag_named(text):
    with pytest.raises(ConfigError, match=r"--budget: expected a number of trials \(30\) or seconds \(600s\)"):
        parse_budget(text)


def test_every_architecture_has_a_search_space():
    from textcnn.models import MODELS

    assert set(SPACES) == set(MODELS)


@pytest.mark.parametrize("name", sorted(SPACES))
def test_search_is_seeded_and_keeps_the_best_trial(name, english):
    texts, labels = english
    config = build_config(None, {**TINY_RUN, "model.name": name})

    result = tune(config, texts, labels, dev=(texts, labels), budget=Budget(trials=3))
    again = tune(config, texts, labels, dev=(texts, labels), budget=Budget(trials=3))

    assert [record.number for record in result.trials] == [1, 2, 3]
    assert [record.params for record in again.trials] == [record.params for record in result.trials]
    assert result.best.score == max(record.score for record in result.trials)
    assert result.config == build_config(config, result.best.params)
    assert result.config.train.epochs == 2  # settings outside the search space come from the config
    assert result.classifier.fit_result.best_score == result.best.score
    board = format_leaderboard(result).splitlines()
    assert board[0].split() == ["rank", "trial", "dev", "accuracy", "seconds", "params"]
    assert len(board) == 4 and board[1].split()[1] == str(result.best.number)


def test_tune_files_saves_the_best_bundle_and_a_loadable_config(english, write_data, tmp_path):
    texts, labels = english
    train = write_data("train.csv", texts, labels)
    config = build_config(None, TINY_RUN)

    result = tune_files(config, train, dev_path=train, out_dir=tmp_path / "best", budget=Budget(trials=2))

    reloaded = TextClassifier.load(tmp_path / "best")
    np.testing.assert_array_equal(reloaded.predict_proba(texts), result.classifier.predict_proba(texts))
    resolved = {"embedding_mode"}  # auto in the search's config, rand in the trained bundle
    assert reloaded.config.model.model_dump(exclude=resolved) == result.config.model.model_dump(exclude=resolved)
    assert load_yaml_config(tmp_path / "best" / BEST_CONFIG_FILE) == result.config


def test_without_optuna_the_error_says_what_to_install(english, monkeypatch):
    texts, labels = english
    monkeypatch.setitem(sys.modules, "optuna", None)  # import optuna -> ImportError

    with pytest.raises(TextcnnError, match=r'pip install "textcnn\[tune\]"'):
        tune(build_config(None, TINY_RUN), texts, labels, budget=Budget(trials=1))


def test_an_empty_dev_set_is_an_error_before_any_trial(english):
    from textcnn.errors import DataError

    texts, labels = english

    with pytest.raises(DataError, match="the dev set is empty"):
        tune(build_config(None, TINY_RUN), texts, labels, dev=([], []), budget=Budget(trials=1))
