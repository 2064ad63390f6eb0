"""The rows `predict` writes: dicts for JSONL, a header and cells for CSV, single- and multi-label, with top-k."""

from __future__ import annotations

import io

from textcnn.inference.rows import csv_table, prediction_rows, write_predictions

TEXTS = ["the film was great", 'a "quoted", text']
TOP = [[("positive", 0.91234567), ("negative", 0.08765433)], [("negative", 0.6), ("positive", 0.4)]]
CHOSEN = [[("film", 0.97), ("positive", 0.5123456789)], []]


def test_single_label_rows_hold_the_best_label_rounded_to_six_decimals():
    assert prediction_rows(TEXTS, [pairs[:1] for pairs in TOP]) == [
        {"text": TEXTS[0], "label": "positive", "probability": 0.912346},
        {"text": TEXTS[1], "label": "negative", "probability": 0.6},
    ]


def test_top_k_adds_the_ranked_pairs_to_every_row():
    rows = prediction_rows(TEXTS, TOP, top_k=2)

    assert rows[0]["top_k"] == [{"label": "positive", "probability": 0.912346}, {"label": "negative", "probability": 0.087654}]
    assert rows[0]["label"] == rows[0]["top_k"][0]["label"]


def test_multi_label_rows_list_the_chosen_labels_even_when_none_was_chosen():
    rows = prediction_rows(TEXTS, TOP, CHOSEN)

    assert rows == [
        {"text": TEXTS[0], "labels": ["film", "positive"], "probabilities": [0.97, 0.512346]},
        {"text": TEXTS[1], "labels": [], "probabilities": []},
    ]


def test_single_label_csv_numbers_the_extra_columns_from_two():
    header, rows = csv_table(TEXTS, TOP, top_k=2)

    assert header == ["text", "label", "probability", "label_2", "probability_2"]
    assert rows[0] == [TEXTS[0], "positive", "0.912346", "negative", "0.087654"]


def test_multi_label_csv_joins_the_chosen_labels_and_numbers_top_k_from_one():
    header, rows = csv_table(TEXTS, TOP, CHOSEN, top_k=2, label_sep=";")
    plain_header, plain_rows = csv_table(TEXTS, TOP, CHOSEN)

    assert header == ["text", "labels", "probabilities", "label_1", "probability_1", "label_2", "probability_2"]
    assert rows[0] == [TEXTS[0], "film;positive", "0.970000;0.512346", "positive", "0.912346", "negative", "0.087654"]
    assert plain_header == ["text", "labels", "probabilities"]
    assert plain_rows[1] == [TEXTS[1], "", ""]


def test_csv_cells_are_strings_also_for_integer_labels():
    _, rows = csv_table(["x"], [[(3, 1.0)]])

    assert rows == [["x", "3", "1.000000"]]


def test_the_writer_writes_json_lines_and_quoted_csv():
    jsonl, table = io.StringIO(), io.StringIO(newline="")

    write_predictions(jsonl, "jsonl", ["这家酒店很好"], [[("positive", 0.5)]])
    write_predictions(table, "csv", TEXTS, [pairs[:1] for pairs in TOP])  # top_k 1: one pair per text

    assert jsonl.getvalue() == '{"text": "这家酒店很好", "label": "positive", "probability": 0.5}\n'
    assert table.getvalue() == (
        "text,label,probability\r\n"
        "the film was great,positive,0.912346\r\n"
        '"a ""quoted"", text",negative,0.600000\r\n'
    )
