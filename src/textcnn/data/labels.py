"""Class labels (strings or integers) <-> contiguous ids; saved as a JSON list."""

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
        index = self.index
        ids = np.empty(len(labels), dtype=np.int64)
        for i, label in enumerate(labels):
            found = index.get(label)
            if found is None:
                found = self._lookup_loosely(label)
            if found is None:
                known = ", ".join(map(str, self.labels[:20]))
                raise DataError(
                    f"label {label!r} (item {i + 1}) was not seen in training; known labels: {known}",
                    path=source,
                )
            ids[i] = found
        return ids

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
