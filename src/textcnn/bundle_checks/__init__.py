"""Checks that make loading a bundle safe against hostile files, run before anything is allocated.

A bundle is data from someone else: its config.json is validated against limits no real model
reaches (``limits.py``), its safetensors headers are read and compared with the tensors that config
implies (built on the meta device, so nothing is allocated), its files must be the bundle's own
regular files of bounded size, and its JSON files are checked for what the loader relies on.
Every refusal is a one-line ``BundleError`` that names the file and the problem.
"""

from textcnn.bundle_checks.config_checks import EXTRA_INFO_KEYS, check_info, validate_config
from textcnn.bundle_checks.contents import check_history, check_labels, check_metrics, check_thresholds, check_vocab
from textcnn.bundle_checks.files import bundle_file, read_json, required_file
from textcnn.bundle_checks.ngram_checks import check_ngram_state, expected_ngram_tensors
from textcnn.bundle_checks.safetensors_header import TensorEntry, read_header
from textcnn.bundle_checks.tensors import TensorSpec, check_finite, check_tensors, expected_model_tensors, free_dimension, header_limit

__all__ = [
    "EXTRA_INFO_KEYS", "TensorEntry", "TensorSpec", "bundle_file", "check_finite", "check_history", "check_info",
    "check_labels", "check_metrics", "check_ngram_state", "check_tensors", "check_thresholds", "check_vocab",
    "expected_model_tensors", "expected_ngram_tensors", "free_dimension", "header_limit", "read_header", "read_json",
    "required_file", "validate_config",
]
