"""Token vocabulary with ``<pad>`` (id 0) and ``<unk>`` (id 1); saved as a JSON list."""

from __future__ import annotations

from typing import Iterable, Sequence

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1


class Vocab:
    """Maps tokens to ids; the id of a token is its index in ``tokens``."""

    def __init__(self, tokens: Sequence[str]) -> None:
        if len(tokens) < 2 or tokens[PAD_ID] != PAD or tokens[UNK_ID] != UNK:
            raise ValueError(f"a vocabulary starts with {PAD!r}, {UNK!r}")
        self.tokens = list(tokens)
        self.index = {token: i for i, token in enumerate(self.tokens)}
        if len(self.index) != len(self.tokens):
            raise ValueError("vocabulary tokens must be unique")

    def __len__(self) -> int:
        return len(self.tokens)

    def __contains__(self, token: str) -> bool:
        return token in self.index

    def ids(self, tokens: Iterable[str]) -> list[int]:
        """The ids of ``tokens``, ``<unk>`` for unknown ones."""
        get = self.index.get
        return [get(token, UNK_ID) for token in tokens]

    def to_json(self) -> list[str]:
        return list(self.tokens)

    @classmethod
    def from_json(cls, data: list[str]) -> "Vocab":
        return cls(data)
