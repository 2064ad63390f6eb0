"""Length-bucketed batches of padded id matrices, built with NumPy (no per-text Python)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np
import torch

from textcnn.data.encoding import EncodedTexts
from textcnn.data.vocab import PAD_ID


@dataclass
class Batch:
    """A padded batch: ``ids[i, :lengths[i]]`` are the tokens of text ``index[i]``."""

    ids: torch.Tensor  # (batch, seq_len) int64
    lengths: torch.Tensor  # (batch,) int64
    index: np.ndarray  # (batch,) positions in the encoded texts
    targets: torch.Tensor | None = None  # (batch,) int64 class ids, or (batch, num_labels) float32 multi-hot

    def to(self, device: torch.device) -> "Batch":
        """The batch on ``device``; to a GPU through pinned memory, so the copies run asynchronously."""
        if device.type == "cpu":
            return self

        def moved(tensor: torch.Tensor) -> torch.Tensor:
            return (tensor.pin_memory() if device.type == "cuda" else tensor).to(device, non_blocking=True)

        targets = moved(self.targets) if self.targets is not None else None
        return Batch(moved(self.ids), moved(self.lengths), self.index, targets)


def pad_batch(encoded: EncodedTexts, index: np.ndarray, min_len: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Ids of texts ``index`` as a (len(index), seq_len) matrix padded with ``PAD_ID`` on the right."""
    lengths = encoded.lengths[index]
    seq_len = max(int(lengths.max()) if len(lengths) else 0, min_len, 1)
    positions = np.arange(seq_len)
    valid = positions[None, :] < lengths[:, None]  # (batch, seq_len)
    if not valid.any():
        return np.full((len(index), seq_len), PAD_ID, dtype=np.int64), lengths
    gather = np.where(valid, encoded.offsets[index][:, None] + positions[None, :], 0)
    ids = np.where(valid, encoded.ids[gather], PAD_ID)
    return ids.astype(np.int64), lengths


def balanced_sample_weights(targets: np.ndarray) -> np.ndarray:
    """Per-text sampling weights 1 / count of its class, so every class is drawn about equally often.

    ``targets`` are class ids (num_texts,) or multi-hot rows (num_texts, num_labels); a multi-label
    text takes the weight of its rarest label. Targets read from a streamed file's labels
    (``stream_encoding.MappedTargets``) give a function of rows to their weights instead.
    """
    if hasattr(targets, "row_weights"):
        return targets.row_weights()
    if targets.ndim == 1:
        counts = np.bincount(targets)
        return 1.0 / counts[targets]
    counts = targets.sum(axis=0)  # (num_labels,)
    inverse = np.divide(1.0, counts, out=np.zeros_like(counts, dtype=np.float64), where=counts > 0)
    return (targets * inverse).max(axis=1)


# Texts of one length that get batches of their own when predicting; the rest share padded batches.
MIN_EQUAL_GROUP = 8
# The same for a model that predicts shared batches packed (models/packed.py: no arithmetic on
# padding): there many small batches of one length each would only run the convolutions at small
# shapes, where they are slow (256 MR texts: 1.5x the time of one packed call).
MIN_EQUAL_GROUP_PACKED = 64


def equal_length_batches(lengths: np.ndarray, batch_size: int, *, min_group: int = MIN_EQUAL_GROUP) -> list[np.ndarray]:
    """Batches for prediction, sorted by length, in which the texts of each length that has at
    least ``min_group`` of them are alone: such a batch has no padding, so the model need not mask
    it. The lengths with fewer texts share batches (padded), so a long tail of rare lengths does not
    become a long tail of tiny batches."""
    order = np.argsort(lengths, kind="stable")
    starts = np.flatnonzero(np.diff(lengths[order], prepend=-1))  # first text of each length
    bounds = np.append(starts, len(order))
    batches: list[np.ndarray] = []
    shared: list[np.ndarray] = []  # rare lengths waiting for a batch
    for start, stop in zip(bounds[:-1], bounds[1:]):
        group = order[start:stop]
        if len(group) < min_group:
            shared.append(group)
            if sum(map(len, shared)) < batch_size:
                continue
            group, shared = np.concatenate(shared), []
        elif shared:
            batches.append(np.concatenate(shared))
            shared = []
        batches.extend(group[i : i + batch_size] for i in range(0, len(group), batch_size))
    if shared:
        batches.append(np.concatenate(shared))
    return batches


def batch_order(
    lengths: np.ndarray,
    batch_size: int,
    *,
    shuffle: bool,
    rng: np.random.Generator | None = None,
    pool: int = 50,
    weights: np.ndarray | None = None,
) -> list[np.ndarray]:
    """Batches of indices with similar lengths (little padding).

    With ``shuffle``, texts are shuffled, sorted by length within pools of ``pool`` batches, cut into
    batches, and the batches shuffled; without it, all texts are sorted by length. With ``weights``
    (and ``shuffle``), the epoch is as many texts drawn with replacement in proportion to ``weights``.
    """
    n = len(lengths)
    if not shuffle:
        order = np.argsort(lengths, kind="stable")
        return [order[i : i + batch_size] for i in range(0, n, batch_size)]
    rng = rng or np.random.default_rng()
    order = rng.permutation(n) if weights is None else rng.choice(n, size=n, replace=True, p=weights / weights.sum())
    batches: list[np.ndarray] = []
    span = batch_size * pool
    for start in range(0, n, span):
        chunk = order[start : start + span]
        chunk = chunk[np.argsort(lengths[chunk], kind="stable")]
        batches.extend(chunk[i : i + batch_size] for i in range(0, len(chunk), batch_size))
    rng.shuffle(batches)
    return batches


def iter_batches(
    encoded: EncodedTexts,
    batch_size: int,
    *,
    targets: np.ndarray | None = None,
    shuffle: bool = False,
    rng: np.random.Generator | None = None,
    min_len: int = 1,
    weights: np.ndarray | None = None,
    equal_lengths: bool = False,
    min_group: int = MIN_EQUAL_GROUP,
    start: int = 0,
) -> Iterator[Batch]:
    """Padded batches over ``encoded`` (shuffled and bucketed for training, length-sorted otherwise).

    ``weights``: draw each epoch's texts in proportion to them (see ``batch_order``).
    ``equal_lengths``: batches of one length where there are ``min_group`` such texts (``equal_length_batches``).
    ``start``: leave out the first ``start`` batches of the order (the order is drawn whole all the same).
    The rows of a streamed file (``stream_encoding.StreamedTexts``) are ordered a window at a time.
    """
    if shuffle and hasattr(encoded, "batch_windows"):
        order = encoded.batch_windows(batch_size, rng=rng or np.random.default_rng(), weights=weights, start=start)
        start = 0
    elif equal_lengths:
        order = equal_length_batches(encoded.lengths, batch_size, min_group=min_group)
    else:
        order = batch_order(encoded.lengths, batch_size, shuffle=shuffle, rng=rng, weights=weights)
    for index in order[start:] if start else order:
        ids, lengths = pad_batch(encoded, index, min_len)
        batch_targets = torch.from_numpy(targets[index]) if targets is not None else None
        yield Batch(torch.from_numpy(ids), torch.from_numpy(lengths), index, batch_targets)
