"""``textcnn predict --input BIG --output OUT`` in constant memory: chunks of the input in, rows out as they go."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any, TextIO

from textcnn.cli.console import log, progress_bar

STREAM_MIN_BYTES = 1 << 30  # an --input file this long is predicted chunk by chunk (as `data.stream_min_bytes`)


def should_stream(input: Path | None, output: Path | None, stream: bool | None) -> bool:
    """``--stream``, or (neither flag) an --input file of at least ``STREAM_MIN_BYTES`` written to --output."""
    if input is None or output is None or str(input) == "-":
        return False
    if stream is not None:
        return stream
    return input.is_file() and input.stat().st_size >= STREAM_MIN_BYTES


def predict_chunks(classifier: Any, input: Path, handle: TextIO, kind: str, top_k: int, *, format: str | None, text_column: str, encoding: str) -> int:
    """Predict the texts of ``input`` a chunk at a time, each chunk's rows written before the next is read; the rows written."""
    from textcnn.data.readers import iter_chunks
    from textcnn.inference.rows import csv_table, prediction_rows

    writer = csv.writer(handle) if kind == "csv" else None
    written = 0
    chunks = iter_chunks(input, format=format or "auto", text_column=text_column, label_column=None, encoding=encoding)
    with progress_bar(f"predicting {input.name}", None) as advance:  # type: ignore[arg-type]
        skips = None
        for chunk, skips in chunks:
            texts = [text for _, text, _ in chunk]
            probabilities = classifier.predict_proba(classifier.encode(texts))
            top = classifier.predictor.top_k_from(probabilities, top_k)
            chosen = classifier.predictor.scored_from(probabilities) if classifier.multi_label else None
            if writer is None:
                handle.writelines(json.dumps(row, ensure_ascii=False) + "\n" for row in prediction_rows(texts, top, chosen, top_k))
            else:
                header, rows = csv_table(texts, top, chosen, top_k, classifier.config.data.label_sep)
                if not written:
                    writer.writerow(header)
                writer.writerows(rows)
            written += len(texts)
            advance(len(texts), 0.0, 0.0)
    if skips is not None and skips.num_skipped:
        log.warning(skips.describe())
    return written
