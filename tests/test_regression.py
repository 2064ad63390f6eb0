"""Training is reproducible across code changes: fixed seeds on tiny data give the recorded weights.

``tests/golden_weights.json`` holds, per case, the sha256 of every trained tensor (network, n-gram
model, thresholds), each tensor's sum, sum of magnitudes and sum of squares, the resolved
configuration and the logits of fixed texts. The digests are compared only on the machine that
recorded them (the same ``torch.backends.cpu.get_cpu_capability()`` and the same processor: two
AVX-512 CPUs of different makers round float sums differently in NumPy's and PyTorch's kernels);
everywhere the sums are compared to a relative 1e-3 and the logits to 1e-4.

After a deliberate change of behaviour, record the new figures with
``python tests/test_regression.py --record`` and say why in the commit message.
"""

from __future__ import annotations

import hashlib
import json
import platform
import sys
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
import torch

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from conftest import TINY_SETTINGS, chinese_corpus, english_corpus, multilabel_corpus, write_dataset  # noqa: E402
from textcnn.training.reproducibility import cpu_facts  # noqa: E402

GOLDEN = HERE / "golden_weights.json"
PROBE_TEXTS = ["the film was great", "our hotel was horrible", "words never seen", "", "这家酒店很好", "the meal was lovely"]


def _fit(settings: dict[str, Any], corpus: Callable, *, dev: bool = True, base: dict[str, Any] = TINY_SETTINGS):
    from textcnn import TextClassifier

    texts, labels = corpus()
    return TextClassifier(**{**base, **settings}).fit(
        texts, labels, dev=(texts, labels) if dev else None, verbose=False
    )


def _fit_files(tmp: Path):
    from textcnn.workflows import train_on_files
    from textcnn.config import build_config

    texts, labels = english_corpus()
    train = write_dataset(tmp / "train.csv", texts[:30], labels[:30])
    dev = write_dataset(tmp / "dev.csv", texts[30:], labels[30:])
    config = build_config(None, {**TINY_SETTINGS, "cache": False})
    return train_on_files(config, train, dev_path=dev, test_path=dev)


CASES: dict[str, Callable[[Path], Any]] = {
    "english_dev_refit_nb": lambda tmp: _fit({}, english_corpus),
    "english_carved_dev": lambda tmp: _fit({}, english_corpus, dev=False),
    "chinese_ensemble_2": lambda tmp: _fit({"ensemble": 2}, chinese_corpus),
    "multinomial_no_refit": lambda tmp: _fit({"nb": {"method": "multinomial"}, "refit": "never"}, english_corpus),
    "multilabel": lambda tmp: _fit({}, multilabel_corpus),
    "gated_cnn": lambda tmp: _fit(
        {"model": {"name": "gated_cnn", "embed_dim": 16, "hidden_dim": 8, "num_layers": 1}, "epochs": 4},
        english_corpus, base={key: TINY_SETTINGS[key] for key in ("batch_size", "lr", "patience", "device")},
    ),
    "files": _fit_files,
}


def _digest_arrays(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for name in sorted(arrays):
        array = np.ascontiguousarray(arrays[name])
        digest.update(f"{name}:{array.dtype}:{array.shape}".encode())
        digest.update(array.tobytes())
    return digest.hexdigest()


def _sums(arrays: dict[str, np.ndarray]) -> dict[str, list[float]]:
    """Each array's sum, sum of magnitudes and sum of squares (in float64): what a change of behaviour moves."""
    widened = {name: np.asarray(array, dtype=np.float64) for name, array in arrays.items() if np.asarray(array).dtype.kind == "f"}
    return {name: [float(a.sum()), float(np.abs(a).sum()), float((a * a).sum())] for name, a in sorted(widened.items())}


def machine() -> str:
    """PyTorch's CPU capability and the processor (vendor, family, model): float sums round alike only on the same."""
    facts = cpu_facts()
    cpu = " ".join(facts.get(key, "?") for key in ("vendor_id", "cpu family", "model")) if facts else platform.processor()
    return f"{torch.backends.cpu.get_cpu_capability()} {cpu}"


def fingerprint(classifier) -> dict[str, Any]:
    """What a trained classifier is: digests of its weights, its resolved config, its probe predictions."""
    state = {name: tensor.detach().cpu().numpy() for name, tensor in classifier.model.state_dict().items()}
    ngram = classifier.naive_bayes.state() if classifier.naive_bayes is not None else {}
    thresholds = classifier.thresholds if classifier.thresholds is not None else np.zeros(0)
    return {
        "network": _digest_arrays(state),
        "ngram_model": _digest_arrays(ngram),
        "thresholds": _digest_arrays({"thresholds": np.asarray(thresholds, dtype=np.float64)}),
        "sums": _sums({**{f"network.{k}": v for k, v in state.items()}, **{f"ngram_model.{k}": v for k, v in ngram.items()}}),
        "config": classifier.config.model_dump(mode="json"),
        "probe_logits": np.round(classifier.predict_logits(PROBE_TEXTS), 5).tolist(),
    }


def record(path: Path = GOLDEN) -> None:
    import tempfile

    torch.set_num_threads(1)
    figures: dict[str, Any] = {"machine": machine(), "cases": {}}
    for name, case in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            figures["cases"][name] = fingerprint(case(Path(tmp)))
    path.write_text(json.dumps(figures, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


@pytest.mark.parametrize("name", list(CASES))
def test_training_reproduces_the_recorded_weights(name: str, tmp_path: Path):
    golden = json.loads(GOLDEN.read_text(encoding="utf-8"))
    expected = golden["cases"][name]

    got = fingerprint(CASES[name](tmp_path))

    assert got["config"] == expected["config"]
    if machine() == golden["machine"]:
        assert {key: got[key] for key in ("network", "ngram_model", "thresholds")} == {
            key: expected[key] for key in ("network", "ngram_model", "thresholds")
        }
    assert got["sums"].keys() == expected["sums"].keys()
    for name, (total, magnitude, squares) in expected["sums"].items():
        found = got["sums"][name]
        assert found[0] == pytest.approx(total, abs=1e-3 * magnitude + 1e-6), name
        assert found[1:] == pytest.approx([magnitude, squares], rel=1e-3, abs=1e-6), name
    np.testing.assert_allclose(got["probe_logits"], expected["probe_logits"], atol=1e-4)


if __name__ == "__main__":
    if sys.argv[1:] == ["--record"]:
        record()
        print(f"wrote {GOLDEN}")
    else:
        sys.exit("usage: python tests/test_regression.py --record")
