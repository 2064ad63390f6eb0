"""Typed configuration: one object per concern, filled from defaults < YAML file < CLI flags.

Every field is documented where it is declared. The YAML keys, the Python attributes, the
``config.json`` keys of a bundle and the CLI flags use the same names (``num_filters`` <->
``--num-filters``), and no bare field name belongs to two sections. No torch import here.
"""

from textcnn.config.architectures import (
    MODEL_CONFIGS,
    EmbeddingMode,
    GatedCNNConfig,
    ModelConfig,
    TextCNNConfig,
    TransformerConfig,
    resolve_embedding_mode,
)
from textcnn.config.build import RENAMED, SECTIONS, RunConfig, build_config, dump_yaml_config, load_yaml_config
from textcnn.config.sections import REFIT_AUTO_MAX_TEXTS, DataConfig, NaiveBayesConfig, TokenizerConfig, TrainConfig

__all__ = [
    "MODEL_CONFIGS", "REFIT_AUTO_MAX_TEXTS", "RENAMED", "SECTIONS", "DataConfig", "EmbeddingMode", "GatedCNNConfig",
    "ModelConfig", "NaiveBayesConfig", "RunConfig", "TextCNNConfig", "TokenizerConfig", "TrainConfig",
    "TransformerConfig", "build_config", "dump_yaml_config", "load_yaml_config", "resolve_embedding_mode",
]
