"""The batch order of a streamed file's train rows, drawn a window at a time, and the columns read with pread."""

from __future__ import annotations

import numpy as np
import pytest

from textcnn.data import stream_order
from textcnn.data.batching import batch_order
from textcnn.data.encoding import choose_max_len
from textcnn.data.hash_split import hashed_dev_rows
from textcnn.data.mapped_rows import FileColumn
from textcnn.data.stream_encoding import max_len_of_counts


class FakeRows:
    """Rows in memory with a hashed dev split (what ``StreamedTexts`` gives the order)."""

    def __init__(self, lengths: np.ndarray, split: tuple[float, int] | None = (0.2, 3)) -> None:
        self.lengths, self.split, self.held = lengths, split, 0

    def num_file_rows(self) -> int:
        return len(self.lengths)

    def train_mask(self, start: int, stop: int) -> np.ndarray:
        return np.ones(stop - start, dtype=bool) if self.split is None else ~hashed_dev_rows(start, stop - start, *self.split)

    def row_lengths(self, rows: np.ndarray) -> np.ndarray:
        return self.lengths[rows]

    def hold(self, rows: np.ndarray) -> None:
        self.held = max(self.held, len(rows))


@pytest.fixture
def small_windows(monkeypatch):
    monkeypatch.setattr(stream_order, "WINDOW_ROWS", 512)
    monkeypatch.setattr(stream_order, "BLOCK_ROWS", 64)


def _order(rows: FakeRows, seed: int, **options) -> list[np.ndarray]:
    return list(stream_order.window_batches(rows, 16, rng=np.random.default_rng(seed), **options))


def test_a_windowed_epoch_draws_every_train_row_once_in_full_batches(small_windows):
    rows = FakeRows(np.random.default_rng(0).integers(1, 50, size=5_003))
    train = np.flatnonzero(rows.train_mask(0, 5_003))

    batches = _order(rows, seed=1)

    assert np.array_equal(np.sort(np.concatenate(batches)), train)  # no dev row, none twice, none left out
    assert len(batches) == -(-len(train) // 16) and sum(len(b) < 16 for b in batches) == 1  # one short batch, as in memory
    assert rows.held <= 512 + 16  # a window (and the rows it carried over) at a time, not the file
    assert not np.array_equal(np.concatenate(batches[:20]), np.sort(np.concatenate(batches[:20])))  # shuffled


def test_a_windowed_order_is_seeded_and_resumes_on_the_same_batch(small_windows):
    rows = FakeRows(np.random.default_rng(0).integers(1, 50, size=3_000))

    first, again, other = _order(rows, seed=5), _order(rows, seed=5), _order(rows, seed=6)
    resumed = _order(rows, seed=5, start=77)

    assert all(np.array_equal(a, b) for a, b in zip(first, again)) and len(first) == len(again)
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))
    assert len(resumed) == len(first) - 77 and all(np.array_equal(a, b) for a, b in zip(first[77:], resumed))


def test_windowed_batches_hold_texts_of_similar_lengths(small_windows):
    lengths = np.random.default_rng(2).integers(1, 200, size=4_000)
    batches = _order(FakeRows(lengths, split=None), seed=0)

    spread = np.mean([np.ptp(lengths[b]) for b in batches])
    assert spread < 0.25 * np.ptp(lengths)  # sorted by length within pools, as in memory


def test_weights_draw_rows_in_proportion_within_windows(small_windows):
    rows = FakeRows(np.full(4_096, 5), split=None)
    heavy = np.arange(4_096) % 8 == 0  # one row in 8, weighted 7 times the others: half the draws

    drawn = np.concatenate(_order(rows, seed=0, weights=lambda r: np.where(heavy[r], 7.0, 1.0)))

    assert len(drawn) == 4_096
    assert 0.45 < heavy[drawn].mean() < 0.55


def test_a_file_within_one_window_is_ordered_as_in_memory():
    lengths = np.random.default_rng(0).integers(1, 50, size=1_000)
    rows = FakeRows(lengths)
    train = np.flatnonzero(rows.train_mask(0, 1_000))

    streamed = _order(rows, seed=4)
    in_memory = batch_order(lengths[train], 16, shuffle=True, rng=np.random.default_rng(4))

    assert len(streamed) == len(in_memory) and all(np.array_equal(s, train[m]) for s, m in zip(streamed, in_memory))


def test_a_file_column_reads_what_the_mapped_array_holds(tmp_path):
    values = np.random.default_rng(0).integers(-1_000, 1_000, size=10_000).astype(np.int64)
    np.save(tmp_path / "a.npy", values)
    column = FileColumn(np.load(tmp_path / "a.npy", mmap_mode="r"))
    positions = np.random.default_rng(1).integers(0, 10_000, size=(40, 7))

    assert np.array_equal(column[positions], values[positions])
    assert np.array_equal(column[100:2_100], values[100:2_100]) and column[9_999] == values[9_999]
    column.hold(np.arange(0, 10_000, 3))
    assert np.array_equal(column[np.array([3, 9, 3_000])], values[[3, 9, 3_000]])
    assert np.array_equal(column[np.array([1, 2])], values[[1, 2]])  # not held: read
    with pytest.raises(IndexError):
        column[np.array([10_000])]
    with pytest.raises(TypeError):
        np.asarray(column)


@pytest.mark.parametrize("seed", range(20))
def test_max_len_from_a_histogram_is_the_one_from_the_lengths(seed):
    rng = np.random.default_rng(seed)
    lengths = rng.geometric(0.02, size=int(rng.integers(1, 5_000))) if seed % 2 else rng.integers(0, 700, size=int(rng.integers(1, 5_000)))

    assert max_len_of_counts(np.bincount(lengths)) == choose_max_len(lengths)
