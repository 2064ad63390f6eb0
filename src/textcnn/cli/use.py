"""``textcnn evaluate`` and ``textcnn predict``: a saved bundle on new texts."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from textcnn.cli.console import log, out
from textcnn.cli.options import describe
from textcnn.errors import TextcnnError

AS_TRAINED = " [default: as in training]."
RUNTIME_HELP = (
    "torch|torch-bf16|onnx|onnx-int8: torch-bf16 computes the network's products in bfloat16 (about twice the "
    "batch speed on CPUs with AVX512-BF16 or AMX, logits within about 0.01); onnx runs the model that "
    "`textcnn export DIR --onnx` wrote, in ONNX Runtime."
)
THREADS_HELP = "CPU threads for prediction [default: one per core]."
LONG_TEXT_HELP = describe("tokenizer.long_text") + AS_TRAINED
STREAM_HELP = "Read --input a chunk at a time and write --output as it goes, in constant memory [default: for an --input of 1 GiB or more]."
ENCODING_HELP = "Text encoding of the input: any Python codec (gbk, gb18030, big5, latin-1, ...); a byte-order mark wins [default: utf-8, whatever the training files were]."
BundleDir = Annotated[Path, typer.Argument(metavar="DIR", help="Model bundle directory.")]


def load_classifier(model_dir: Path, long_text: Optional[str], threads: Optional[int], runtime: str) -> Any:
    """The bundle's classifier, reading long texts as ``long_text`` says (none: as it was trained)."""
    from textcnn.classifier import TextClassifier

    return TextClassifier.load(model_dir, threads=threads, runtime=runtime, long_text=long_text)


def _encode(classifier: Any, texts: list[str]) -> Any:
    encoded = classifier.encode(texts)
    if encoded.num_truncated:
        log.info(f"note: {encoded.truncation_note()}")
    return encoded


def evaluate(
    model_dir: BundleDir,
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Labelled file to evaluate on.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    format: Annotated[Optional[str], typer.Option(help="auto|csv|tsv|jsonl|fasttext.")] = None,
    text_column: Annotated[Optional[str], typer.Option(help=describe("data.text_column") + AS_TRAINED)] = None,
    label_column: Annotated[Optional[str], typer.Option(help=describe("data.label_column") + AS_TRAINED)] = None,
    long_text: Annotated[Optional[str], typer.Option(help=LONG_TEXT_HELP)] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help=THREADS_HELP)] = None,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = "torch",
    label_sep: Annotated[Optional[str], typer.Option(help=describe("data.label_sep") + AS_TRAINED)] = None,
    encoding: Annotated[str, typer.Option(help=ENCODING_HELP, show_default=False)] = "utf-8",
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix on DATA.

    For a multi-label model: micro-, macro- and samples-F1, subset accuracy, hamming loss and
    per-label precision/recall/F1/support with each label's threshold.
    """
    from textcnn.data.readers import read_records
    from textcnn.evaluation import render_report

    classifier = load_classifier(model_dir, long_text, threads, runtime)
    data_config = classifier.config.data
    records = read_records(
        data,
        format=format or data_config.format,
        text_column=text_column or data_config.text_column,
        label_column=label_column or data_config.label_column,
        multi_label=classifier.multi_label,
        label_sep=label_sep or data_config.label_sep,
        encoding=encoding,
    )
    if records.skips.num_skipped:
        log.warning(records.skips.describe())
    if not len(records):
        raise TextcnnError(f"{data}: no labelled rows to evaluate")
    report = classifier.evaluate(_encode(classifier, records.texts), records.labels, source=str(data))
    if json_output:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for renderable in render_report(report, title=str(data)):
            out.print(renderable)


def read_texts(
    texts: Optional[list[str]], input: Optional[Path], format: Optional[str], text_column: str, encoding: str = "utf-8"
) -> list[str]:
    """The texts to classify: the arguments, else the --input file (``-``: stdin), else the lines on stdin."""
    from textcnn.data.readers import read_records

    if texts:
        return list(texts)
    if input is None and sys.stdin is not None and sys.stdin.isatty():
        raise TextcnnError("give texts as arguments, --input FILE, or lines on stdin")
    source = input if input is not None else Path("-")
    records = read_records(source, format=format or "auto", text_column=text_column, label_column=None, encoding=encoding)
    if records.skips.num_skipped:
        log.warning(records.skips.describe())
    if not records.texts:
        raise TextcnnError(f"no texts to classify in {'stdin' if str(source) == '-' else source}")
    return records.texts


def _open_output(path: Path) -> Any:
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as error:
        raise TextcnnError(f"cannot write {path}: {error.strerror or error}") from None


def predict(
    model_dir: BundleDir,
    texts: Annotated[Optional[list[str]], typer.Argument(metavar="[TEXT]...", help="Texts to classify; none: read --input or stdin lines.")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="File of texts: CSV/TSV/JSONL (text column) or plain lines (.txt).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write predictions here (.csv or .jsonl) instead of stdout.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Report the K most probable labels (multi-label models: as well as the labels over their thresholds).")] = 1,
    output_format: Annotated[Optional[str], typer.Option("--output-format", help="csv|jsonl [default: by --output extension, jsonl on stdout].")] = None,
    format: Annotated[Optional[str], typer.Option(help="Input format: auto|csv|tsv|jsonl|fasttext|lines.")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of --input" + AS_TRAINED)] = None,
    long_text: Annotated[Optional[str], typer.Option(help=LONG_TEXT_HELP)] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help=THREADS_HELP)] = None,
    runtime: Annotated[str, typer.Option(help=RUNTIME_HELP)] = "torch",
    encoding: Annotated[str, typer.Option(help=ENCODING_HELP, show_default=False)] = "utf-8",
    stream: Annotated[Optional[bool], typer.Option("--stream/--no-stream", help=STREAM_HELP, show_default=False)] = None,
) -> None:
    """Labels and probabilities for TEXT arguments, an --input file, or lines on stdin.

    A multi-label model gives every label whose probability reaches its threshold (tuned on dev),
    or the single most probable label when none does: a list in JSONL, joined by the training
    label separator in CSV.
    """
    from textcnn.inference.rows import write_predictions

    from textcnn.cli import predict_stream

    classifier = load_classifier(model_dir, long_text, threads, runtime)
    kind = output_format or (output.suffix.lstrip(".").lower() if output else "jsonl")
    if kind not in ("csv", "jsonl"):
        raise TextcnnError(f"--output-format must be csv or jsonl, got {kind!r}")
    column = text_column or classifier.config.data.text_column
    if not texts and predict_stream.should_stream(input, output, stream):
        _predict_streaming(classifier, input, output, kind, top_k, format, column, encoding)  # type: ignore[arg-type]
        return
    items = read_texts(texts, input, format, column, encoding)
    probabilities = classifier.predict_proba(_encode(classifier, items))  # one model pass for both row kinds
    top = classifier.predictor.top_k_from(probabilities, top_k)
    chosen = classifier.predictor.scored_from(probabilities) if classifier.multi_label else None
    if output is None:
        write_predictions(sys.stdout, kind, items, top, chosen, top_k, classifier.config.data.label_sep)
        return
    try:
        with _open_output(output) as handle:
            write_predictions(handle, kind, items, top, chosen, top_k, classifier.config.data.label_sep)
    except OSError as error:  # a full disk: no half-written file is left behind
        output.unlink(missing_ok=True)
        raise TextcnnError(f"cannot write {output}: {error.strerror or error}") from None
    log.info(f"wrote {len(items):,} predictions to {output}")


def _predict_streaming(classifier: Any, input: Path, output: Path, kind: str, top_k: int, format: Optional[str], column: str, encoding: str) -> None:
    from textcnn.cli.predict_stream import predict_chunks

    try:
        with _open_output(output) as handle:
            written = predict_chunks(classifier, input, handle, kind, top_k, format=format, text_column=column, encoding=encoding)
    except (OSError, TextcnnError) as error:  # a full disk, a bad row: no half-written file is left behind
        output.unlink(missing_ok=True)
        if isinstance(error, TextcnnError):
            raise
        raise TextcnnError(f"cannot write {output}: {error.strerror or error}") from None
    if not written:
        output.unlink(missing_ok=True)
        raise TextcnnError(f"no texts to classify in {input}")
    log.info(f"wrote {written:,} predictions to {output}")
