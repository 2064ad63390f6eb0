"""``textcnn explain``: which n-grams made a saved model score each text as it did."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from textcnn.cli.console import log, out
from textcnn.cli.use import ENCODING_HELP, THREADS_HELP, BundleDir, load_classifier, read_texts
from textcnn.errors import TextcnnError


def explain(
    model_dir: BundleDir,
    texts: Annotated[Optional[list[str]], typer.Argument(metavar="[TEXT]...", help="Texts to explain; none: read --input or stdin lines.")] = None,
    input: Annotated[Optional[Path], typer.Option("--input", "-i", help="File of texts: CSV/TSV/JSONL (text column) or plain lines (.txt).")] = None,
    json_output: Annotated[bool, typer.Option("--json", help="One JSON object per text (every contribution: bias + contributions = logit).")] = False,
    html_file: Annotated[Optional[Path], typer.Option("--html", help="Also write a page with the texts highlighted by contribution.")] = None,
    top: Annotated[Optional[int], typer.Option(min=1, help="Contributions shown per class [default: 10; with --json: all].")] = None,
    target: Annotated[Optional[list[str]], typer.Option(help="Explain this label (repeatable) [default: the predicted class, or the labels over their thresholds].")] = None,
    threads: Annotated[Optional[int], typer.Option(min=1, help=THREADS_HELP)] = None,
    encoding: Annotated[str, typer.Option(help=ENCODING_HELP, show_default=False)] = "utf-8",
) -> None:
    """The n-grams that drive each explained logit, from the network and the n-gram model, and the bias.

    For the default TextCNN (max pooling) the explanation is exact: bias + contributions = logit.
    Other models are explained by occlusion (each token's contribution: the logit's drop without it).
    """
    from textcnn.inference.explain_render import render_html, render_text

    classifier = load_classifier(model_dir, None, threads, "torch")
    items = read_texts(texts, input, None, classifier.config.data.text_column, encoding)
    labels = [_label(classifier, name) for name in target] if target else None
    explanations = classifier.explain(items, target=labels, top=top)
    for explanation in explanations:
        if json_output:
            print(json.dumps(explanation.to_dict(), ensure_ascii=False))
        else:
            out.print(render_text(explanation, top or 10), soft_wrap=True)
    if html_file is not None:
        try:
            html_file.write_text(render_html(explanations, top or 10), encoding="utf-8")
        except OSError as error:
            raise TextcnnError(f"cannot write {html_file}: {error.strerror or error}") from None
        log.info(f"wrote {html_file}")


def _label(classifier, name: str):
    """A label as the model knows it: labels read from files may be ints, the command line gives strings."""
    for label in classifier.classes:
        if str(label) == name:
            return label
    raise TextcnnError(f"--target {name!r} is not a label of this model (labels: {', '.join(map(str, classifier.classes))})")
