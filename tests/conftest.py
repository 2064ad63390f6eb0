"""Shared fixtures: tiny corpora built in code, file writers, a tiny trained model, ../shared/data."""

from __future__ import annotations

import atexit
import csv
import itertools
import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Sequence

import pytest
import torch

# The models here are tiny: one thread is fastest, and on small CI machines OpenMP threads that
# spin-wait for each other made every training step ~50x slower than one thread.
torch.set_num_threads(1)

REPO_ROOT = Path(__file__).resolve().parents[1]

# The tokenization cache of test runs (CLI subprocesses included) lives in a temporary folder.
_CACHE_ROOT = tempfile.mkdtemp(prefix="textcnn-test-cache-")
os.environ["TEXTCNN_CACHE_DIR"] = _CACHE_ROOT
atexit.register(shutil.rmtree, _CACHE_ROOT, True)

# Small enough to train in well under a second on a CPU, large enough to overfit the corpora below.
TINY_SETTINGS: dict[str, Any] = {
    "embed_dim": 16,
    "num_filters": 8,
    "kernel_sizes": [2, 3],
    "batch_size": 8,
    "lr": 0.03,
    "epochs": 12,
    "patience": 12,
    "device": "cpu",
}

_SUBJECTS_EN = ["the film", "this book", "our hotel", "the meal"]
_POSITIVE_EN = ["great", "wonderful", "excellent", "lovely", "superb"]
_NEGATIVE_EN = ["terrible", "awful", "boring", "dreadful", "horrible"]

_SUBJECTS_ZH = ["这家酒店", "这本书", "这部电影", "这个手机"]
_POSITIVE_ZH = ["很好", "非常好", "真好用", "质量好", "服务好"]
_NEGATIVE_ZH = ["很差", "非常差", "太差劲", "质量差", "服务差"]


def _corpus(subjects: list[str], positive: list[str], negative: list[str], joiner: str) -> tuple[list[str], list[str]]:
    texts: list[str] = []
    labels: list[str] = []
    for subject, (good, bad) in itertools.product(subjects, zip(positive, negative)):
        texts += [f"{subject}{joiner}{good}", f"{subject}{joiner}{bad}"]
        labels += ["positive", "negative"]
    return texts, labels


def english_corpus() -> tuple[list[str], list[str]]:
    """40 English texts; the label is decided by one keyword ("the film was great" -> positive)."""
    return _corpus(_SUBJECTS_EN, _POSITIVE_EN, _NEGATIVE_EN, " was ")


def chinese_corpus() -> tuple[list[str], list[str]]:
    """40 Chinese reviews; the label is decided by 好 / 差 ("这家酒店很好" -> positive)."""
    return _corpus(_SUBJECTS_ZH, _POSITIVE_ZH, _NEGATIVE_ZH, "")


@pytest.fixture(autouse=True)
def _cache_in_tmp(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Every test gets an empty tokenization cache of its own (never ~/.cache)."""
    monkeypatch.setenv("TEXTCNN_CACHE_DIR", str(tmp_path_factory.mktemp("textcnn-cache")))


_TOPICS_EN = {"the film": "film", "this book": "book", "our hotel": "travel", "the meal": "food"}


def multilabel_corpus() -> tuple[list[str], list[list[str]]]:
    """44 English texts labelled with a topic and, when it has an adjective, a sentiment.

    "the film was great" -> ["film", "positive"]; "about the film" -> ["film"].
    """
    texts, labels = english_corpus()
    label_lists = [[_TOPICS_EN[text.split(" was ")[0]], label] for text, label in zip(texts, labels)]
    texts += [f"about {subject}" for subject in _TOPICS_EN]
    label_lists += [[topic] for topic in _TOPICS_EN.values()]
    return texts, label_lists


@pytest.fixture
def multilabel() -> tuple[list[str], list[list[str]]]:
    return multilabel_corpus()


@pytest.fixture
def english() -> tuple[list[str], list[str]]:
    return english_corpus()


@pytest.fixture
def chinese() -> tuple[list[str], list[str]]:
    return chinese_corpus()


def write_dataset(
    path: Path,
    texts: Sequence[str],
    labels: Sequence[Any] | None = None,
    *,
    text_column: str = "text",
    label_column: str = "label",
) -> Path:
    """Write texts (and labels) in the format named by ``path``'s extension.

    ``.csv`` / ``.tsv``: a header ``text,label``; ``.jsonl``: one object per line; ``.ft``: fastText
    ``__label__x text`` lines; ``.txt``: one text per line (no labels). Label lists (multi-label)
    are joined by ``|`` in CSV/TSV, JSON lists in JSONL, several ``__label__`` tokens in ``.ft``.
    """
    if labels is not None and labels and isinstance(labels[0], list) and path.suffix in (".csv", ".tsv"):
        labels = ["|".join(map(str, item)) for item in labels]
    path.parent.mkdir(parents=True, exist_ok=True)
    suffix = path.suffix
    rows = list(zip(texts, labels)) if labels is not None else [(text,) for text in texts]
    if suffix in (".csv", ".tsv"):
        with open(path, "w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle, delimiter="," if suffix == ".csv" else "\t")
            writer.writerow([text_column, label_column][: len(rows[0]) if rows else 2])
            writer.writerows(rows)
    elif suffix == ".jsonl":
        with open(path, "w", encoding="utf-8") as handle:
            for row in rows:
                item = {text_column: row[0]}
                if labels is not None:
                    item[label_column] = row[1]
                handle.write(json.dumps(item, ensure_ascii=False) + "\n")
    elif suffix == ".ft":
        def tags(label: Any) -> str:
            return " ".join(f"__label__{item}" for item in (label if isinstance(label, list) else [label]))

        path.write_text("".join(f"{tags(label)} {text}\n" for text, label in rows), encoding="utf-8")
    elif suffix == ".txt":
        path.write_text("".join(f"{row[0]}\n" for row in rows), encoding="utf-8")
    else:
        raise ValueError(f"write_dataset: no writer for {suffix!r}")
    return path


@pytest.fixture
def write_data(tmp_path: Path) -> Callable[..., Path]:
    """``write_data("train.csv", texts, labels)`` writes under this test's ``tmp_path``."""

    def write(name: str, texts: Sequence[str], labels: Sequence[Any] | None = None, **columns: str) -> Path:
        return write_dataset(tmp_path / name, texts, labels, **columns)

    return write


@pytest.fixture
def tiny_settings() -> dict[str, Any]:
    """TextClassifier settings for a model that fits the tiny corpora in well under a second."""
    return dict(TINY_SETTINGS)


@pytest.fixture(scope="session")
def tiny_classifier():
    """A TextClassifier fitted on the English corpus (dev = train, so the kept epoch fits it)."""
    from textcnn import TextClassifier

    texts, labels = english_corpus()
    return TextClassifier(**TINY_SETTINGS).fit(texts, labels, dev=(texts, labels), verbose=False)


@pytest.fixture(scope="session")
def tiny_bundle(tiny_classifier, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``tiny_classifier`` saved; tests read it and must not change it."""
    return tiny_classifier.save(tmp_path_factory.mktemp("bundle") / "tiny-model")


def _shared_data_root() -> Path:
    configured = os.environ.get("TEXTCNN_DATA")
    return Path(configured) if configured else REPO_ROOT.parent / "shared" / "data"


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """The benchmark sets in ../shared/data (or $TEXTCNN_DATA); skips the test when absent."""
    root = _shared_data_root()
    if not root.is_dir():
        pytest.skip(f"benchmark data not found at {root} (set TEXTCNN_DATA to its folder)")
    return root


@pytest.fixture
def textcnn_log():
    """The messages the ``textcnn`` logger emits during the test (INFO and above), as a list."""
    import logging

    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    logger = logging.getLogger("textcnn")
    handler, previous = _Collect(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    yield messages
    logger.removeHandler(handler)
    logger.setLevel(previous)


@pytest.fixture
def conv_calls(monkeypatch) -> list[tuple[tuple[int, ...], int]]:
    """The (input shape, kernel width) of every TextCNN convolution (a 2-d one over channels-last
    inputs, ``F.conv2d``) run while the test runs."""
    from torch.nn import functional

    calls: list[tuple[tuple[int, ...], int]] = []
    conv2d = functional.conv2d

    def recording(image, weight, *args, **kwargs):
        calls.append((tuple(image.shape), weight.size(-1)))
        return conv2d(image, weight, *args, **kwargs)

    monkeypatch.setattr(functional, "conv2d", recording)
    return calls


@pytest.fixture
def without_token_products(monkeypatch) -> None:
    """Predict by products, as a model whose table of token products would be too large does: the
    packed, window and convolution paths that the table otherwise takes over."""
    from textcnn.models import token_products

    monkeypatch.setattr(token_products, "MAX_TABLE_BYTES", 0)
