"""Class labels (strings or integers) <-> contiguous ids (or multi-hot rows); saved as a JSON list."""

from __future__ import annotations

from typing import Hashable, Iterable, Sequence

import numpy as np

from textcnn.errors import DataError


class LabelSet:
    """The classes of a model, in id order."""

    def __init__(self, labels: Sequence[Hashable]) -> None:
        self.labels = list(labels)
        self.index = {label: i for i, label in enumerate(self.labels)}
        if len(self.index) != len(self.labels):
            raise ValueError("labels must be unique")

    def __len__(self) -> int:
        return len(self.labels)

    @classmethod
    def from_labels(cls, labels: Iterable[Hashable]) -> "LabelSet":
        """Sorted distinct labels (numbers numerically, strings alphabetically)."""
        distinct = set(labels)
        try:
            return cls(sorted(distinct))
        except TypeError:
            return cls(sorted(distinct, key=str))

    def encode(self, labels: Sequence[Hashable], *, source: str = "labels") -> np.ndarray:
        """Ids of ``labels``; a label the model was not trained on is an error naming it."""
        return np.fromiter((self._id(label, i, source) for i, label in enumerate(labels)), dtype=np.int64, count=len(labels))

    def encode_multi_hot(self, label_lists: Sequence[Sequence[Hashable]], *, source: str = "labels") -> np.ndarray:
        """(len(label_lists), num_labels) float32 rows with 1.0 at each text's labels."""
        multi_hot = np.zeros((len(label_lists), len(self)), dtype=np.float32)
        for i, labels in enumerate(label_lists):
            multi_hot[i, [self._id(label, i, source) for label in labels]] = 1.0
        return multi_hot

    def _id(self, label: Hashable, i: int, source: str) -> int:
        found = self.index.get(label)
        if found is None:
            found = self._lookup_loosely(label)
        if found is None:
            known = ", ".join(map(str, self.labels[:20]))
            raise DataError(
                f"label {label!r} (item {i + 1}) was not seen in training; known labels: {known}",
                path=source,
            )
        return found

    def _lookup_loosely(self, label: Hashable) -> int | None:
        # A CSV gives "1" where the model was fitted on int 1 (or the reverse).
        for known, i in self.index.items():
            if str(known) == str(label):
                return i
        return None

    def decode(self, ids: Iterable[int]) -> list[Hashable]:
        return [self.labels[int(i)] for i in ids]

    def to_json(self) -> list:
        return [label if isinstance(label, (str, int)) else str(label) for label in self.labels]

    @classmethod
    def from_json(cls, data: list) -> "LabelSet":
        return cls(data)


LABEL_LIST_TYPES = (list, tuple, set, frozenset)


def is_label_list(item: object) -> bool:
    """Whether a label is a list of labels (the mark of multi-label data)."""
    return isinstance(item, LABEL_LIST_TYPES)


def is_multi_label(setting: bool | str, labels: Sequence[object]) -> bool:
    """``data.multi_label`` resolved: ``true``, or ``auto`` (or false, checked elsewhere) with label lists."""
    return setting is True or any(is_label_list(item) for item in labels)


def as_label_list(item: object) -> list:
    """A label list as a list; a single label as a list of one."""
    return list(item) if is_label_list(item) else [item]
