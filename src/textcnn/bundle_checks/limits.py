"""Upper bounds on what a bundle may ask for, checked before anything is allocated.

No real bundle comes near them (each comment gives the real range); they are there so that a
damaged or hostile bundle is refused with an error rather than taking the machine's memory. Each
bounds one dimension of a tensor, or one file's size; every tensor's bytes are then checked
against model.safetensors itself, so loading allocates at most what the files hold.
"""

from __future__ import annotations

KIB, MIB, GIB = 2**10, 2**20, 2**30

# Rows of the embedding table, strings of vocab.json. Real: a few hundred (characters) to a few million (every
# word of a large corpus, min_freq 1).
MAX_VOCAB_SIZE = 20_000_000
# Rows of the output layer, thresholds.json, the confusion matrix of metrics.json (labels x labels). Real: 2 to a few thousand.
MAX_LABELS = 100_000
# Columns of the embedding table, of the position table and of every layer's weights. Real: 16 to 1,024.
MAX_EMBED_DIM = 8_192
# Kernels per kernel size, channels of a gated block, the feed-forward width, the n-gram bag's vectors. Real: 8 to 4,096.
MAX_CHANNELS = 16_384
# Convolutions of a TextCNN, one module each. Real: 1 to 6.
MAX_KERNEL_SIZES = 32
# Width of a kernel, in tokens (its weights are num_filters x embed_dim x width). Real: 1 to 10.
MAX_KERNEL_SIZE = 256
# Stacked blocks of a gated CNN or transformer, and k of k-max pooling. Real: 1 to 12.
MAX_LAYERS = 64
# Rows of the position table (built at load time, sinusoidal tables too), tokenizer.max_len, the window
# stride: the longest text a batch pads to. Real: 16 to 4,096.
MAX_POSITIONS = 65_536
# Entries of the position table (max_positions x embed_dim floats), built at load time whatever the weights
# file holds (a sinusoidal table is no weight). Real: 512 x 128 by default, at most a few million.
MAX_POSITION_TABLE = 2**24
# Rows of the n-gram bag's hash table. Real: 2**17 (the default) to 2**21.
MAX_NGRAM_BUCKETS = 2**24
# Every tensor of model.safetensors together, as config.json's model implies them. Real: under 2 GiB.
MAX_MODEL_BYTES = 32 * GIB
# naive_bayes.safetensors: n-grams seen in training x labels, float16. Real: under 2 GiB.
MAX_NGRAM_MODEL_BYTES = 32 * GIB
# An ONNX export (model.onnx, model.int8.onnx): about the size of model.safetensors.
MAX_ONNX_BYTES = 32 * GIB
# A safetensors header holds one entry per tensor (name, dtype, shape, offsets: about 120 bytes) and a small
# __metadata__; a header over this many bytes per expected tensor, plus the slack, is no header textcnn wrote.
HEADER_BYTES_PER_TENSOR = 512
HEADER_SLACK_BYTES = 4 * KIB
# JSON files, read whole and parsed in memory (a parsed JSON list takes up to ~10x its bytes). Real sizes:
# config.json a few KiB; vocab.json ~15 bytes per token; labels.json and thresholds.json ~20 bytes per
# label; metrics.json is dominated by the confusion matrix; history.json has one short row per epoch.
MAX_JSON_BYTES = {
    "config.json": 1 * MIB,
    "vocab.json": 1 * GIB,
    "labels.json": 64 * MIB,
    "thresholds.json": 16 * MIB,
    "metrics.json": 256 * MIB,
    "history.json": 64 * MIB,
}
# Lists and objects inside one another in a JSON file: a real bundle nests at most 5 deep (metrics.json); what
# reads the files later (the report, the server's /metadata) walks them recursively.
MAX_JSON_DEPTH = 32
# Any one string of config.json (a column name, a recorded data path).
MAX_STRING_CHARS = 4_096

# The config fields each limit bounds (the model section of every architecture; kernel_sizes apart).
MODEL_FIELD_LIMITS = {
    "embed_dim": MAX_EMBED_DIM,
    "num_filters": MAX_CHANNELS,
    "hidden_dim": MAX_CHANNELS,
    "ff_dim": MAX_CHANNELS,
    "ngram_dim": MAX_CHANNELS,
    "num_layers": MAX_LAYERS,
    "kmax_k": MAX_LAYERS,
    "kernel_size": MAX_KERNEL_SIZE,
    "max_positions": MAX_POSITIONS,
    "ngram_buckets": MAX_NGRAM_BUCKETS,
}
TOKENIZER_FIELD_LIMITS = {"max_len": MAX_POSITIONS, "window_stride": MAX_POSITIONS, "max_vocab": MAX_VOCAB_SIZE}
