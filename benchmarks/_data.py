"""Shared helpers for the benchmark scripts: where ../shared/data is, how to read a set, and run facts."""

from __future__ import annotations

import copy
import os
from pathlib import Path

import yaml

from textcnn import TextClassifier
from textcnn.config import build_config
from textcnn.data.readers import read_records
from textcnn.data.provenance import describe_files
from textcnn.training.reproducibility import resolve_device, run_info

DATA_ROOT = Path(os.environ.get("TEXTCNN_DATA", Path(__file__).resolve().parents[2] / "shared" / "data"))
SETS = ("mr", "sst2", "trec", "chnsenticorp", "thucnews")
SPLITS = ("train", "dev", "test")


def split_path(name: str, split: str) -> Path | None:
    path = DATA_ROOT / name / f"{split}.csv"
    return path if path.exists() else None


def load_split(name: str, split: str):
    path = split_path(name, split)
    if path is None:
        return None
    records = read_records(path)
    return records.texts, records.labels


def parse_config(spec: str) -> tuple[str, dict]:
    """``NAME=key=value,,key=value`` -> (NAME, {key: value}); values are read as YAML."""
    name, _, rest = spec.partition("=")
    overrides = {}
    for item in filter(None, rest.split(",,")):
        key, _, value = item.partition("=")
        overrides[key] = yaml.safe_load(value)
    return name, overrides


def reading(classifier: TextClassifier, overrides: dict) -> TextClassifier:
    """The same trained model, reading texts with other tokenizer settings (e.g. tokenizer.long_text)."""
    clone = copy.copy(classifier)
    clone.config = build_config(classifier.config, overrides)
    return clone


def run_header(sets: list[str], seeds: list[int], configs: dict[str, dict]) -> dict:
    """Versions, device, threads, seeds, each configuration's embedding settings and every split's sha256."""
    info = run_info(build_config(None, {}), resolve_device("auto"))
    del info["seed"], info["embedding_mode"], info["vectors"]
    embedding = {}
    for name, overrides in configs.items():
        config_info = run_info(build_config(None, overrides), resolve_device("auto"))
        embedding[name] = {"embedding_mode": config_info["embedding_mode"], "vectors": config_info["vectors"]}
    splits = {name: describe_files({split: split_path(name, split) for split in SPLITS}) for name in sets}
    return {**info, "seeds": seeds, "embedding": embedding, "data": splits}


def print_header(header: dict) -> None:
    """The run facts as ``#`` lines above a table."""
    print(
        f"# textcnn {header['textcnn_version']}, torch {header['torch_version']}, numpy {header['numpy_version']}, "
        f"python {header['python_version']}; {header['platform']}; device {header['device']}, "
        f"{header['threads']} threads; seeds {header['seeds']}",
        flush=True,
    )
    for name, embedding in header["embedding"].items():
        vectors = embedding["vectors"] or "none"
        print(f"# {name}: embedding {embedding['embedding_mode']}, vectors {vectors}", flush=True)
    for name, files in header["data"].items():
        digests = ", ".join(f"{split} {entry['sha256']}" for split, entry in files.items())
        print(f"# {name} sha256: {digests}", flush=True)
