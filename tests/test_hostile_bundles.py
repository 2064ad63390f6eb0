"""Hostile bundles: each one, made from a real tiny bundle and then damaged, is refused with one line that
names the file and the problem, runs nothing, reads nothing outside the bundle and stays far from
allocating what it asks for.

The loads run in one child process (importing torch once costs seconds), one bundle after another,
with an audit hook that records every file opened and every attempt to run code (a process, an
unpickled global). Memory: the child's peak RSS (``ru_maxrss``) after each load, less its peak after
importing textcnn and torch; the peak only grows, so each figure bounds that load and all before it.
"""

from __future__ import annotations

import gzip
import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file as load_numpy
from safetensors.numpy import save_file as save_numpy
from safetensors.torch import load_file, save_file

from textcnn import TextClassifier

from conftest import REPO_ROOT, TINY_SETTINGS, english_corpus, multilabel_corpus

PEAK_GROWTH_LIMIT_KIB = 200 * 1024
MARKER = "code-ran"  # what a payload would create in the folder outside the bundles

CHILD = r"""
import json, os, resource, sys
WATCHED = {"os.system", "os.exec", "os.posix_spawn", "os.spawn", "os.fork", "subprocess.Popen", "pickle.find_class", "ctypes.dlopen"}
opened, events = [], []

def hook(event, args):
    if event == "open" and args and isinstance(args[0], (str, bytes)):
        opened.append(os.fsdecode(args[0]))
    elif event in WATCHED:
        events.append(event)

import torch, textcnn
from textcnn.bundle import load_bundle
from textcnn.errors import BundleError
sys.addaudithook(hook)
baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
results = {}
for name, directory in json.loads(sys.stdin.read()).items():
    opened.clear(); events.clear()
    try:
        load_bundle(directory)
        outcome = {"loaded": True}
    except BundleError as error:
        outcome = {"error": str(error)}
    except BaseException as error:
        outcome = {"crash": f"{type(error).__name__}: {error}"}
    outcome.update(growth_kib=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - baseline, opened=list(opened), events=list(events))
    results[name] = outcome
print(json.dumps(results))
"""


class _RunsCode:
    """Pickles to a call of os.system: unpickling it would create the marker file."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


def _edit_json(path: Path, edit: Callable[[object], object]) -> None:
    data = json.loads(path.read_text(encoding="utf-8"))
    path.write_text(json.dumps(edit(data) or data), encoding="utf-8")


def _edit_config(edit: Callable[[dict], None]) -> Callable[[Path, Path], None]:
    return lambda bundle, outside: _edit_json(bundle / "config.json", edit)


def _edit_weights(edit: Callable[[dict], None], name: str = "model.safetensors") -> Callable[[Path, Path], None]:
    def damage(bundle: Path, outside: Path) -> None:
        state = load_file(str(bundle / name))
        edit(state)
        save_file(state, str(bundle / name))

    return damage


def _raw_safetensors(header: dict, data: bytes) -> bytes:
    raw = json.dumps(header).encode("utf-8")
    return len(raw).to_bytes(8, "little") + raw + data


def _pickle_weights(protocol: int) -> Callable[[Path, Path], None]:
    def damage(bundle: Path, outside: Path) -> None:
        (bundle / "model.safetensors").write_bytes(pickle.dumps({"weights": _RunsCode(outside / MARKER)}, protocol=protocol))

    return damage


def _torch_save_weights(bundle: Path, outside: Path) -> None:
    torch.save({"weights": _RunsCode(outside / MARKER)}, bundle / "model.safetensors")


def _gzip_bomb_weights(bundle: Path, outside: Path) -> None:
    with gzip.open(bundle / "model.safetensors", "wb") as handle:  # 256 MiB of zeros in ~250 KiB
        for _ in range(256):
            handle.write(bytes(1 << 20))


def _symlink_outside(bundle: Path, outside: Path) -> None:
    shutil.copy(bundle / "vocab.json", outside / "vocab.json")
    (bundle / "vocab.json").unlink()
    (bundle / "vocab.json").symlink_to(outside / "vocab.json")


def _fifo_labels(bundle: Path, outside: Path) -> None:
    (bundle / "labels.json").unlink()
    os.mkfifo(bundle / "labels.json")


def _truncate_weights(bundle: Path, outside: Path) -> None:
    path = bundle / "model.safetensors"
    path.write_bytes(path.read_bytes()[:-100])


def _nan_in_table(bundle: Path, outside: Path) -> None:
    state = load_numpy(str(bundle / "naive_bayes.safetensors"))
    state["table"][0, 0] = np.nan
    save_numpy(state, str(bundle / "naive_bayes.safetensors"))


def _set(section: str, key: str, value: object) -> Callable[[dict], None]:
    return lambda info: info["config"][section].__setitem__(key, value)


def _with_header(header: dict, data: bytes) -> Callable[[Path, Path], None]:
    return lambda bundle, outside: (bundle / "model.safetensors").write_bytes(_raw_safetensors(header, data))


def _write(name: str, text: str) -> Callable[[Path, Path], None]:
    return lambda bundle, outside: (bundle / name).write_text(text, encoding="utf-8")


@dataclass(frozen=True)
class Hostile:
    name: str
    file: str  # the file the error must name
    problem: str  # a fragment of the error
    damage: Callable[[Path, Path], None]  # (bundle copy, a folder outside it)
    source: str = "single"  # the tiny bundle it starts from: single-label (with an n-gram model) or multi-label


_BIG = {"embedding.weight": {"dtype": "F32", "shape": [25_000_000_000], "data_offsets": [0, 100_000_000_000]}}
HOSTILE = [
    Hostile("pickle as weights", "model.safetensors", "is a Python pickle", _pickle_weights(4)),
    Hostile("protocol-0 pickle as weights", "model.safetensors", "not safetensors: its header claims", _pickle_weights(0)),
    Hostile("torch.save zip as weights", "model.safetensors", "is a zip archive", _torch_save_weights),
    Hostile("gzip bomb as weights", "model.safetensors", "is a gzip file", _gzip_bomb_weights),
    Hostile("header claims a 100 GB tensor", "model.safetensors", "ends at byte 100,000,000,000", _with_header(_BIG, bytes(64))),
    Hostile("header longer than the file", "model.safetensors", "header claims 1,000,000 bytes",
            lambda bundle, outside: (bundle / "model.safetensors").write_bytes((10**6).to_bytes(8, "little") + b"{}")),
    Hostile("header padded past what the tensors need", "model.safetensors", "its safetensors header is 2,097,152 bytes, more than",
            lambda bundle, outside: (bundle / "model.safetensors").write_bytes((2 << 20).to_bytes(8, "little") + b"{}".ljust(2 << 20))),
    Hostile("truncated tensor", "model.safetensors", "truncated or damaged", _truncate_weights),
    Hostile("NaN weights", "model.safetensors", "tensor convs.0.weight holds NaN",
            _edit_weights(lambda state: state["convs.0.weight"].view(-1)[3].fill_(float("nan")))),
    Hostile("infinite weights", "model.safetensors", "tensor classifier.bias holds NaN or infinite",
            _edit_weights(lambda state: state["classifier.bias"].fill_(float("inf")))),
    Hostile("NaN in the n-gram table", "naive_bayes.safetensors", "tensor table holds NaN", _nan_in_table),
    Hostile("mismatched shape", "model.safetensors", "weights do not match config.json: tensor embedding.weight has shape",
            _edit_weights(lambda state: state.__setitem__("embedding.weight", torch.zeros(len(state["embedding.weight"]) + 1, 16)))),
    Hostile("extra tensor", "model.safetensors", "holds 1 tensors its model lacks (extra.weight)",
            _edit_weights(lambda state: state.__setitem__("extra.weight", torch.zeros(2)))),
    Hostile("float64 weights", "model.safetensors", "tensor classifier.bias is F64, expected F32",
            _edit_weights(lambda state: state.__setitem__("classifier.bias", state["classifier.bias"].double()))),
    Hostile("10^9-dimensional embedding", "config.json", "model.embed_dim is 1,000,000,000, more than any real model",
            _edit_config(_set("model", "embed_dim", 10**9))),
    Hostile("10^5 kernel sizes", "config.json", "model.kernel_sizes (count) is 100,000",
            _edit_config(_set("model", "kernel_sizes", [2] * 100_000))),
    Hostile("a position table of 2^29 entries", "config.json", "model.max_positions x model.embed_dim is 536,870,912",
            _edit_config(lambda info: info["config"]["model"].update(positions="sinusoidal", max_positions=65_536, embed_dim=8_192))),
    Hostile("huge vocab_size", "config.json", "vocab_size 1000000000000 is not an integer from 2",
            _edit_config(lambda info: info.__setitem__("vocab_size", 10**12))),
    Hostile("unknown model name", "config.json", "does not match any of the expected tags", _edit_config(_set("model", "name", "bert"))),
    Hostile("unknown key in a section", "config.json", "config.model.run_this: unknown key", _edit_config(_set("model", "run_this", "x"))),
    Hostile("unknown top-level key", "config.json", "unknown key 'hook'", _edit_config(lambda info: info.__setitem__("hook", "x"))),
    Hostile("a string where a number belongs", "config.json", "config.model.num_filters: Input should be a valid integer",
            _edit_config(_set("model", "num_filters", "8"))),
    Hostile("NaN setting", "config.json", "config.nb.weight is nan", _edit_config(_set("nb", "weight", float("nan")))),
    Hostile("a key twice", "config.json", "key 'config' appears twice",
            lambda bundle, outside: (bundle / "config.json").write_text(
                (bundle / "config.json").read_text(encoding="utf-8").replace('"config":', '"config": {}, "config":', 1), encoding="utf-8")),
    Hostile("oversized config.json", "config.json", "more than any real bundle's config.json",
            lambda bundle, outside: (bundle / "config.json").write_bytes((bundle / "config.json").read_bytes() + b" " * (2 << 20))),
    Hostile("a path in a column name", "config.json", "data.text_column '/etc/passwd' is a path",
            _edit_config(_set("data", "text_column", "/etc/passwd"))),
    Hostile("a URL for the vectors", "config.json", "config.data.vectors: 'https://example.com/v.txt' is a URL",
            _edit_config(_set("data", "vectors", "https://example.com/v.txt"))),
    Hostile("a path as the device", "config.json", "train.device 'cuda/../../x' is no device name",
            _edit_config(_set("train", "device", "cuda/../../x"))),
    Hostile("symlink out of the bundle", "vocab.json", "is a symbolic link to", _symlink_outside),
    Hostile("a FIFO for labels.json", "labels.json", "is not a regular file", _fifo_labels),
    Hostile("duplicate tokens", "vocab.json", "appears twice (ids 2 and ",
            lambda bundle, outside: _edit_json(bundle / "vocab.json", lambda tokens: tokens[:-1] + tokens[2:3])),
    Hostile("a non-string token", "vocab.json", "token 2 is a int, not a string",
            lambda bundle, outside: _edit_json(bundle / "vocab.json", lambda tokens: tokens[:2] + [7] + tokens[3:])),
    Hostile("duplicate labels", "labels.json", "label 'positive' appears twice", _write("labels.json", '["positive", "positive"]')),
    Hostile("a threshold over 1", "thresholds.json", "is 1.5, not a number in [0, 1]",
            lambda bundle, outside: _edit_json(bundle / "thresholds.json", lambda values: [1.5] + values[1:]), "multi"),
    Hostile("a negative threshold", "thresholds.json", "is -0.1, not a number in [0, 1]",
            lambda bundle, outside: _edit_json(bundle / "thresholds.json", lambda values: values[:-1] + [-0.1]), "multi"),
    Hostile("a NaN threshold", "thresholds.json", "is nan, not a number in [0, 1]",
            lambda bundle, outside: _edit_json(bundle / "thresholds.json", lambda values: [float("nan")] + values[1:]), "multi"),
    Hostile("JSON nested past the parser", "metrics.json", "not valid JSON (nested too deeply)", _write("metrics.json", "[" * 200_000 + "]" * 200_000)),
    Hostile("JSON nested 100 deep", "history.json", "nested more than 32 levels deep", _write("history.json", "[" * 100 + "]" * 100)),
]  # fmt: skip


@pytest.fixture(scope="module")
def sources(tiny_bundle, tmp_path_factory) -> dict[str, Path]:
    texts, labels = multilabel_corpus()
    multi = TextClassifier(**{**TINY_SETTINGS, "epochs": 2}).fit(texts, labels, dev=(texts, labels), verbose=False)
    return {"single": tiny_bundle, "multi": multi.save(tmp_path_factory.mktemp("multi") / "model")}


def _vectors_named(bundle: Path, outside: Path) -> None:
    (outside / "vectors.txt").write_text("great 0.1 0.2\n", encoding="utf-8")
    _edit_config(_set("data", "vectors", str(outside / "vectors.txt")))(bundle, outside)


def _symlink_inside(bundle: Path, outside: Path) -> None:
    (bundle / "labels.json").rename(bundle / "labels-of-the-model.json")
    (bundle / "labels.json").symlink_to("labels-of-the-model.json")


LOADABLE = {"intact": lambda bundle, outside: None, "names a vectors path": _vectors_named, "symlink inside": _symlink_inside}


@pytest.fixture(scope="module")
def outcomes(sources, tmp_path_factory) -> dict[str, dict]:
    """What the child process made of every hostile and loadable bundle, by name; also the folders."""
    root = tmp_path_factory.mktemp("hostile")
    outside = root / "outside"
    outside.mkdir()
    cases = [(case.name, case.source, case.damage) for case in HOSTILE] + [(name, "single", damage) for name, damage in LOADABLE.items()]
    directories = {}
    for number, (name, source, damage) in enumerate(cases):
        directories[name] = shutil.copytree(sources[source], root / f"bundle-{number}")
        damage(directories[name], outside)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": os.pathsep.join([str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH", "")])}
    child = subprocess.run(
        [sys.executable, "-c", CHILD], input=json.dumps({name: str(path) for name, path in directories.items()}),
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert child.returncode == 0, child.stderr
    results = json.loads(child.stdout)
    for name, result in results.items():
        result["directory"], result["outside"] = str(directories[name]), str(outside)
    return results


def _assert_harmless(outcome: dict) -> None:
    """Nothing run, nothing read outside the bundle, no payload's marker, the peak memory growth bounded."""
    assert outcome["events"] == []
    assert not (Path(outcome["outside"]) / MARKER).exists()
    outside = str(Path(outcome["outside"]).resolve())
    assert [path for path in outcome["opened"] if str(Path(path).resolve()).startswith(outside)] == []
    assert outcome["growth_kib"] < PEAK_GROWTH_LIMIT_KIB, f"peak RSS grew {outcome['growth_kib'] / 1024:.0f} MiB"


@pytest.mark.parametrize("case", HOSTILE, ids=[case.name for case in HOSTILE])
def test_hostile_bundle_is_refused_in_one_line_naming_the_file(case, outcomes):
    outcome = outcomes[case.name]

    assert "crash" not in outcome and "loaded" not in outcome, outcome
    assert "\n" not in outcome["error"]
    assert outcome["error"].startswith(f"{Path(outcome['directory']) / case.file}: "), outcome["error"]
    assert case.problem in outcome["error"]
    _assert_harmless(outcome)


@pytest.mark.parametrize("name", list(LOADABLE))
def test_a_real_bundle_loads_without_reading_paths_it_names(name, outcomes):
    outcome = outcomes[name]

    assert outcome.get("loaded"), outcome
    _assert_harmless(outcome)


def test_the_pickle_payload_would_run_code_if_it_were_unpickled(tmp_path):
    (tmp_path / "bundle").mkdir()
    _pickle_weights(4)(tmp_path / "bundle", tmp_path)

    pickle.loads((tmp_path / "bundle" / "model.safetensors").read_bytes())  # what the loader must never do

    assert (tmp_path / MARKER).exists()


def test_a_checked_bundle_predicts_as_the_model_did_before_saving(tiny_classifier, tmp_path):
    texts = english_corpus()[0]

    loaded = TextClassifier.load(tiny_classifier.save(tmp_path / "model"))

    np.testing.assert_array_equal(loaded.predict_logits(texts), tiny_classifier.predict_logits(texts))
    assert loaded.predict(texts) == tiny_classifier.predict(texts)


def _pickle_error(bundle: str) -> str:
    return f"error: {Path(bundle) / 'model.safetensors'}: is a Python pickle (the format of torch.save), not safetensors: refused (reading it could run code)"


@pytest.mark.parametrize("command", ["predict", "explain", "evaluate", "serve"])
def test_every_command_that_loads_a_bundle_refuses_a_hostile_one_in_one_line(command, outcomes, monkeypatch):
    from typer.testing import CliRunner

    from textcnn.cli import app

    bundle = outcomes["pickle as weights"]["directory"]
    extra = {"predict": ["the film was great"], "explain": ["the film was great"], "evaluate": ["test.csv"], "serve": ["--port", "0"]}
    monkeypatch.setenv("COLUMNS", "400")

    result = CliRunner().invoke(app, [command, bundle, *extra[command]])

    assert (result.exit_code, result.stderr.splitlines(), result.stdout) == (1, [_pickle_error(bundle)], "")
    assert not (Path(outcomes["pickle as weights"]["outside"]) / MARKER).exists()


def test_the_command_exits_1_with_that_line_and_no_traceback(outcomes):
    bundle = outcomes["pickle as weights"]["directory"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "400", "PYTHONPATH": str(REPO_ROOT / "src")}

    result = subprocess.run([sys.executable, "-m", "textcnn", "predict", bundle, "great"], capture_output=True, text=True, env=env, timeout=120)

    assert (result.returncode, result.stderr.splitlines(), result.stdout) == (1, [_pickle_error(bundle)], "")
