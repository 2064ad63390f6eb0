"""Token embeddings in Kim's (2014) modes, shared by every architecture.

    rand          one table from random vectors, trained
    static        one table from pretrained vectors, frozen (requires_grad off: no optimizer holds it)
    nonstatic     one table from pretrained vectors, trained
    multichannel  a frozen copy (``static``) and a trained copy of the vectors, in separate storage; the
                  output is their sum, which is Kim's "each kernel applied to both channels, the results
                  added" (a convolution is linear; its bias is then added once)
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import nn

from textcnn.config import resolve_embedding_mode

MODES = ("rand", "static", "nonstatic", "multichannel")


class TokenEmbedding(nn.Embedding):
    """Token ids (batch, seq_len) -> vectors (batch, seq_len, embed_dim) in one of ``MODES`` (or ``auto``).

    ``weight`` is the trained table (frozen in ``static`` mode), so bundles of the ``rand`` mode keep
    the key ``embedding.weight``; ``multichannel`` adds the frozen table ``static``. Without ``vectors``
    the tables start as ``nn.Embedding``'s (a model may redraw them with ``init_random``); a pretrained
    mode then still builds its tables, ready for saved weights to be loaded.
    """

    def __init__(
        self,
        vocab_size: int,
        embed_dim: int,
        *,
        mode: str,
        pad_id: int,
        vectors: torch.Tensor | None = None,
    ) -> None:
        super().__init__(vocab_size, embed_dim, padding_idx=pad_id)
        mode = resolve_embedding_mode(mode, vectors is not None)  # auto -> nonstatic with vectors, else rand
        if mode not in MODES:
            raise ValueError(f"unknown embedding mode {mode!r}; known: {', '.join(MODES)}")
        if mode == "rand" and vectors is not None:
            raise ValueError("the rand embedding mode takes no pretrained vectors")
        self.mode = mode
        self.pretrained = vectors is not None
        if vectors is not None:
            if tuple(vectors.shape) != (vocab_size, embed_dim):
                raise ValueError(
                    f"vectors of shape {tuple(vectors.shape)} do not fit (vocab_size, embed_dim) = ({vocab_size}, {embed_dim})"
                )
            with torch.no_grad():
                self.weight.copy_(vectors)
                self.weight[pad_id].zero_()
        self.static: nn.Embedding | None = None
        if mode == "multichannel":
            self.static = nn.Embedding(vocab_size, embed_dim, padding_idx=pad_id)
            with torch.no_grad():
                self.static.weight.copy_(self.weight)  # a copy: the two tables never share storage
            self.static.weight.requires_grad_(False)
        if mode == "static":
            self.weight.requires_grad_(False)

    def init_random(self, init: Callable[[torch.Tensor], object]) -> None:
        """Redraw the tables with ``init`` unless they hold pretrained vectors; ``<pad>`` stays zero."""
        if self.pretrained:
            return
        with torch.no_grad():
            for table in (self, self.static) if self.static is not None else (self,):
                init(table.weight)
                table.weight[self.padding_idx].zero_()

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = super().forward(ids)  # (batch, seq_len, embed_dim)
        if self.static is not None:
            x = x + self.static(ids)  # (batch, seq_len, embed_dim): the two channels, summed
        return x
