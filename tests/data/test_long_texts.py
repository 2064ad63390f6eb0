"""Long texts: truncation, head + tail, and overlapping windows on the flat ids + offsets arrays."""

from __future__ import annotations

import math

import numpy as np
import pytest

from textcnn.data.encoding import EncodedTexts
from textcnn.data.long_texts import WindowedTexts, cut_texts, expand_windows, fit_long_texts
from textcnn.errors import ConfigError


def _whole(lengths: list[int]) -> EncodedTexts:
    """Whole texts whose ids are their token positions (so a kept id tells which token it was)."""
    sizes = np.array(lengths, dtype=np.int64)
    ids = np.concatenate([np.arange(n, dtype=np.int32) for n in lengths])
    return EncodedTexts(ids, np.cumsum(sizes) - sizes, sizes, tokens_total=int(sizes.sum()))


def _rows(encoded: EncodedTexts) -> list[list[int]]:
    return [encoded.ids[o : o + n].tolist() for o, n in zip(encoded.offsets, encoded.lengths)]


def test_truncate_keeps_the_head_and_counts_what_was_cut():
    cut = fit_long_texts(_whole([10, 4, 0]), 6, mode="truncate")

    assert _rows(cut) == [list(range(6)), list(range(4)), []]
    assert (cut.num_truncated, cut.tokens_cut, cut.tokens_total) == (1, 4, 14)
    assert cut.truncation_note() == "1 of 3 texts were longer than max_len and truncated (28.6% of tokens cut)"


def test_head_tail_keeps_a_quarter_from_the_head_and_the_rest_from_the_tail():
    cut = fit_long_texts(_whole([20, 8, 5]), 8, mode="head-tail")

    assert _rows(cut) == [[0, 1] + list(range(14, 20)), list(range(8)), list(range(5))]
    assert (cut.num_truncated, cut.tokens_cut) == (1, 12)


def test_head_tail_works_on_a_selection_of_texts():
    whole = _whole([5, 20, 9])
    picked = whole.select(np.array([2, 1]))  # offsets out of order: gathered, not sliced

    assert _rows(cut_texts(picked, 4, head=1)) == [[0, 6, 7, 8], [0, 17, 18, 19]]


@pytest.mark.parametrize("length, max_len, stride", [(1, 4, 2), (4, 4, 2), (5, 4, 2), (10, 4, 2), (11, 4, 3), (100, 16, 16), (17, 16, 1)])
def test_windows_cover_every_token_with_ceil_many_windows(length, max_len, stride):
    windows = expand_windows(_whole([length]), max_len, stride)

    expected = 1 if length <= max_len else 1 + math.ceil((length - max_len) / stride)
    assert len(windows) == expected
    assert set(np.concatenate([np.asarray(row) for row in _rows(windows)]).tolist()) == set(range(length))
    assert all(len(row) == min(length, max_len) for row in _rows(windows))
    starts = [row[0] for row in _rows(windows)]
    assert starts == sorted(set(starts))  # no window twice
    assert _rows(windows)[-1][-1] == length - 1  # the last window ends on the last token


def test_windows_map_back_to_their_texts_in_order():
    windows = fit_long_texts(_whole([3, 10, 0, 6]), 4, mode="windows", pool="mean")

    assert isinstance(windows, WindowedTexts)
    assert windows.window_text.tolist() == [0, 1, 1, 1, 1, 2, 3, 3]  # stride 4 // 2 = 2
    assert _rows(windows)[1:5] == [[0, 1, 2, 3], [2, 3, 4, 5], [4, 5, 6, 7], [6, 7, 8, 9]]
    assert (windows.num_texts, windows.num_truncated, windows.tokens_cut, windows.pool) == (4, 2, 0, "mean")
    assert windows.truncation_note() == (
        "2 of 4 texts were longer than max_len and were read whole, in 6 overlapping windows (mean of their "
        "logits; no tokens cut)"
    )


def test_short_texts_are_one_window_each_identical_to_truncation():
    whole = _whole([3, 1, 4])

    windows = fit_long_texts(whole, 4, mode="windows")
    cut = fit_long_texts(whole, 4, mode="truncate")

    assert windows.window_text.tolist() == [0, 1, 2]
    assert _rows(windows) == _rows(cut)
    assert windows.truncation_note() == ""


def test_a_stride_longer_than_max_len_is_refused():
    with pytest.raises(ConfigError, match="tokenizer.window_stride: 9 is longer than max_len \\(8\\)"):
        fit_long_texts(_whole([20]), 8, mode="windows", stride=9)
