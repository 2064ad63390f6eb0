"""The baseline of benchmarks/speed.py: a TextCNN written the way tutorials and the design lecture write it.

Python tokenization of every batch in the DataLoader's collate function, each text padded or cut to
a fixed ``max_len`` of 32, one ``Conv2d(1, num_filters, (k, embed_dim))`` per kernel size over a
one-channel "image" of embeddings, ``MaxPool1d`` over the whole conv output, dropout, a linear layer,
Adam; the best epoch on dev is kept. It uses textcnn's tokenizers and the hyperparameters of the
textcnn run it is compared with, so the figures compare implementations, not settings.
"""

from __future__ import annotations

import copy
from collections import Counter
from typing import Hashable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader

from textcnn.data.tokenizers import build_tokenizer


class ReferenceTextCNN(nn.Module):
    """Embedding -> Conv2d per kernel size -> ReLU -> MaxPool1d -> concat -> dropout -> linear."""

    def __init__(
        self, vocab_size: int, embed_dim: int, kernel_sizes: Sequence[int], num_filters: int, num_classes: int,
        dropout: float, max_len: int = 32,
    ) -> None:  # fmt: skip
        super().__init__()
        self.embedding = nn.Embedding(vocab_size, embed_dim, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv2d(1, num_filters, (k, embed_dim)) for k in kernel_sizes)
        self.pools = nn.ModuleList(nn.MaxPool1d(max_len - k + 1) for k in kernel_sizes)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(num_filters * len(kernel_sizes), num_classes)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        x = self.embedding(ids).unsqueeze(1)  # (batch, 1, max_len, embed_dim)
        outs = []
        for conv, pool in zip(self.convs, self.pools):
            h = F.relu(conv(x)).squeeze(3)  # (batch, num_filters, max_len - k + 1)
            outs.append(pool(h).squeeze(2))  # (batch, num_filters)
        return self.fc(self.dropout(torch.cat(outs, dim=1)))  # (batch, num_classes)


class ReferenceClassifier:
    """``fit`` / ``predict`` around ``ReferenceTextCNN``, tokenizing in the collate function."""

    def __init__(
        self, *, tokenizer: str, embed_dim: int, kernel_sizes: Sequence[int], num_filters: int, dropout: float,
        lr: float, batch_size: int, epochs: int, max_len: int = 32, seed: int = 13,
    ) -> None:  # fmt: skip
        self.tokenize = build_tokenizer(tokenizer)
        self.settings = dict(embed_dim=embed_dim, kernel_sizes=kernel_sizes, num_filters=num_filters, dropout=dropout)
        self.lr, self.batch_size, self.epochs, self.max_len, self.seed = lr, batch_size, epochs, max_len, seed
        self.epochs_run = 0

    def _ids(self, text: str) -> list[int]:
        ids = [self.vocab.get(token, 1) for token in self.tokenize(text)][: self.max_len]
        return ids + [0] * (self.max_len - len(ids))

    def _collate(self, batch: list) -> tuple[torch.Tensor, torch.Tensor | None]:
        if isinstance(batch[0], tuple):
            texts, labels = zip(*batch)
            return torch.tensor([self._ids(t) for t in texts]), torch.tensor([self.label_index[y] for y in labels])
        return torch.tensor([self._ids(t) for t in batch]), None

    def fit(
        self, texts: Sequence[str], labels: Sequence[Hashable], dev_texts: Sequence[str], dev_labels: Sequence[Hashable]
    ) -> "ReferenceClassifier":
        torch.manual_seed(self.seed)
        counts = Counter(token for text in texts for token in self.tokenize(text))
        self.vocab = {token: i for i, token in enumerate(counts, start=2)}  # 0 <pad>, 1 <unk>
        self.classes = sorted(set(labels), key=str)
        self.label_index = {label: i for i, label in enumerate(self.classes)}
        self.model = ReferenceTextCNN(len(self.vocab) + 2, num_classes=len(self.classes), max_len=self.max_len, **self.settings)
        optimizer = torch.optim.Adam(self.model.parameters(), lr=self.lr)
        loader = DataLoader(list(zip(texts, labels)), batch_size=self.batch_size, shuffle=True, collate_fn=self._collate)
        best, best_state = -1.0, None
        for _ in range(self.epochs):
            self.model.train()
            for ids, targets in loader:
                loss = F.cross_entropy(self.model(ids), targets)
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
            self.epochs_run += 1
            accuracy = sum(p == y for p, y in zip(self.predict(dev_texts), dev_labels)) / len(dev_labels)
            if accuracy > best:
                best, best_state = accuracy, copy.deepcopy(self.model.state_dict())
        self.model.load_state_dict(best_state)
        return self

    def predict(self, texts: Sequence[str], batch_size: int = 256) -> list[Hashable]:
        self.model.eval()
        predicted: list[Hashable] = []
        with torch.no_grad():
            for ids, _ in DataLoader(list(texts), batch_size=batch_size, collate_fn=self._collate):
                predicted.extend(self.classes[i] for i in self.model(ids).argmax(dim=1).tolist())
        return predicted
