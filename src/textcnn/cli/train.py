"""``textcnn train`` and ``textcnn tune``: a configuration from --config, flags and --set, then the job."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from textcnn.cli import launch
from textcnn.cli.console import err, log, out, progress_bar, set_quiet
from textcnn.cli.options import TRAIN_KEYS, TUNE_KEYS, resolve_config, with_config_flags
from textcnn.reporting import no_progress

TRAIN_HELP = "Labelled training file (CSV, TSV, JSONL or fastText lines)."
RESUME_HELP = (
    "Continue the run stopped or killed with this same command: from its checkpoint in --out DIR/checkpoint, "
    "skipping what it finished. Refused when the data or the settings differ."
)


@with_config_flags(TRAIN_KEYS)
def train(
    train_file: Annotated[Path, typer.Argument(metavar="TRAIN", help=TRAIN_HELP)],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory to write the model bundle to.")],
    dev: Annotated[Optional[Path], typer.Option(help="Labelled dev file; without it 10% of TRAIN (stratified, seeded) is held out.")] = None,
    test: Annotated[Optional[Path], typer.Option(help="Labelled test file, evaluated with the best model.")] = None,
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file of settings (sections data, tokenizer, model, train, nb).")] = None,
    *,
    set_: Annotated[list[str], typer.Option("--set", metavar="KEY=VALUE", help="Any setting as KEY=VALUE, e.g. --set model.embed_dropout=0.2 (repeatable).")] = [],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the final metrics (and warnings).")] = False,
    resume: Annotated[bool, typer.Option("--resume", help=RESUME_HELP)] = False,
    nproc: Annotated[Optional[int], typer.Option("--nproc", min=1, help=launch.NPROC_HELP)] = None,
    overrides: dict[str, Any],
) -> None:
    """Train a classifier on TRAIN, keep the best epoch on dev, evaluate on --test, save to --out."""
    if nproc is not None:
        raise typer.Exit(code=launch.launch(nproc, sys.argv[1:]))
    from textcnn.config import dump_yaml_config
    from textcnn.errors import TrainingInterrupted
    from textcnn.evaluation import summarize_report
    from textcnn.training.interrupt import signals_stop_at_once
    from textcnn.training.resume import CHECKPOINT_FOLDER, MANIFEST
    from textcnn.workflows import train_on_files

    set_quiet(quiet or launch.other_rank())
    run_config = resolve_config(config, overrides, set_)
    log.info("configuration\n" + dump_yaml_config(run_config).rstrip())
    bar = no_progress if quiet else progress_bar
    try:
        with signals_stop_at_once():
            classifier = train_on_files(
                run_config, train_file, dev_path=dev, test_path=test, out_dir=out_dir, progress=bar, resume=resume
            )
    except TrainingInterrupted as stop:
        again = shlex.join(["textcnn", *sys.argv[1:]] + ([] if "--resume" in sys.argv else ["--resume"]))
        folder = out_dir / CHECKPOINT_FOLDER
        where = f"the checkpoint is in {folder}" if (folder / MANIFEST).exists() else "before the first checkpoint"
        err.print(f"stopped by {stop.signal_name}; {where}. To continue: {again}", soft_wrap=True)
        raise typer.Exit(code=128 + stop.signum) from None
    if launch.other_rank():  # rank 0 prints the results
        return
    for split in ("dev", "test"):
        report = classifier.metrics.get(split)
        if report:
            line = summarize_report(report)
            out.print(line.replace(line.split()[0], f"{split} {line.split()[0]}", 1))
    out.print(f"saved model bundle to {out_dir}")


@with_config_flags(TUNE_KEYS)
def tune(
    train_file: Annotated[Path, typer.Argument(metavar="TRAIN", help=TRAIN_HELP)],
    out_dir: Annotated[Path, typer.Option("--out", help="Directory for the best model bundle and its best_config.yaml.")],
    dev: Annotated[Optional[Path], typer.Option(help="Labelled dev file that scores the trials; without it 10% of TRAIN is held out.")] = None,
    budget: Annotated[str, typer.Option(help="Number of trials (30) or seconds (600s: no trial starts after that).")] = "20",
    config: Annotated[Optional[Path], typer.Option("--config", help="YAML file of settings the search starts from.")] = None,
    *,
    set_: Annotated[list[str], typer.Option("--set", metavar="KEY=VALUE", help="Any setting as KEY=VALUE (repeatable); searched settings are replaced by the search.")] = [],
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="Only print the leaderboard (and warnings).")] = False,
    overrides: dict[str, Any],
) -> None:
    """Search the model's hyperparameters on the dev split (Optuna TPE), print a leaderboard, save the best."""
    from textcnn.tuning import BEST_CONFIG_FILE, format_leaderboard, parse_budget, tune_files

    set_quiet(quiet)
    search_budget = parse_budget(budget)
    run_config = resolve_config(config, overrides, set_)
    result = tune_files(run_config, train_file, dev_path=dev, out_dir=out_dir, budget=search_budget)
    out.print(format_leaderboard(result), soft_wrap=True)
    out.print(f"best: trial {result.best.number}, dev {result.metric} {100 * result.best.score:.2f}", soft_wrap=True)
    out.print(f"saved model bundle to {out_dir}; its settings in {out_dir / BEST_CONFIG_FILE} (for train --config)", soft_wrap=True)
