"""How training scales with the data: one streamed epoch on THUCNews' train split repeated x1, x4,
x16, x64 (x64: about 11.5 M texts), wall time, texts/s and peak memory per size; one process
against ``torchrun --nproc_per_node=2`` on the CPU; and, where CUDA is present, the same on the GPU.

Each size is one ``textcnn train FILE --stream`` command in a child process (read, vocabulary,
token cache built afresh, one epoch of batches, the dev evaluation, the bundle), timed from the outside; its
peak resident memory is the child's (``ru_maxrss``; under torchrun the largest process). What is
measured is the data path, so the model is small (2 filters per kernel width) by default and there
is no n-gram model, no refit and one epoch; ``--default-model-up-to N`` also trains the default
model on the sizes up to xN. The repeated files are written once under ``--work`` and reused.

    python benchmarks/scale.py --sizes 1 4 16 64 --default-model-up-to 4
    python benchmarks/scale.py --sizes 1 4 16 --default-model-up-to 16 --no-small   # the default model alone
    python benchmarks/scale.py --sizes 1 --distributed          # 1 process vs torchrun 2, 1 thread each
    python benchmarks/scale.py --sizes 1 --device cuda          # on a GPU machine

Linear growth means the x64 epoch takes at most 1.25 x 64 times the x1 epoch, and flat memory that
x64's peak memory stays within 1.3x of x1's: both ratios are printed.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from _data import split_path

SMALL = {"model": {"num_filters": 2}}


@dataclass
class Result:
    size: int
    rows: int
    model: str
    processes: int
    wall: float
    epoch: float  # the training epoch's own seconds (history.json)
    rss_mb: float

    def row(self) -> str:
        return (
            f"| x{self.size} | {self.rows:,} | {self.model} | {self.processes} | {self.wall:,.1f} | {self.epoch:,.1f} | "
            f"{self.rows / self.wall:,.0f} | {self.rss_mb:,.0f} |"
        )


def repeated_file(source: Path, times: int, work: Path) -> tuple[Path, int]:
    """``source``'s rows (header once) written ``times`` times over, once per size; the path and row count."""
    target = work / f"{source.parent.name}-x{times}.csv"
    lines = source.read_bytes().splitlines(keepends=True)
    header, rows = lines[0], lines[1:]
    if not target.exists() or target.stat().st_size != len(header) + times * sum(map(len, rows)):
        partial = target.with_suffix(".partial")
        with open(partial, "wb") as handle:
            handle.write(header)
            body = b"".join(rows)
            for _ in range(times):
                handle.write(body)
        partial.replace(target)
    return target, times * len(rows)


def settings(model: str, device: str, threads: int) -> dict:
    """The run's YAML sections: one epoch, no refit, no n-gram model; the small model unless ``model`` is default."""
    config = {
        "data": {"stream": True},
        "train": {"epochs": 1, "patience": 1, "refit": "never", "device": device, "threads": threads},
        "nb": {"ngrams": 0},
    }
    if model == "small":
        config.update(SMALL)
    return config


def train_once(path: Path, dev: Path, config: dict, work: Path, processes: int) -> tuple[float, float, float]:
    """(wall seconds, epoch seconds, peak RSS in MB) of one ``textcnn train`` child process."""
    out = work / "bundle"
    shutil.rmtree(out, ignore_errors=True)
    shutil.rmtree(work / "cache", ignore_errors=True)  # the token cache is part of what is measured
    config_file = work / "settings.json"  # JSON is YAML
    config_file.write_text(json.dumps(config))
    textcnn = ["-m", "textcnn", "train", str(path), "--dev", str(dev), "--out", str(out), "--config", str(config_file)]
    if processes > 1:
        command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={processes}", *textcnn]
    else:
        command = [sys.executable, *textcnn]
    env = {**os.environ, "OMP_NUM_THREADS": str(config["train"]["threads"]), "TEXTCNN_CACHE_DIR": str(work / "cache")}
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, stderr = child.communicate()
    wall = time.perf_counter() - started
    if child.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed ({child.returncode}):\n{stderr[-3000:]}")
    history = json.loads((out / "history.json").read_text())
    epoch = sum(record["seconds"] for record in history) or float("nan")
    return wall, epoch, _children_peak_mb()


def _children_peak_mb() -> float:
    import resource

    return resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", default="thucnews")
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 4, 16, 64])
    parser.add_argument("--default-model-up-to", type=int, default=0, help="also train the default model on sizes up to this")
    parser.add_argument("--no-small", action="store_true", help="leave the small model out (the default model alone)")
    parser.add_argument("--distributed", action="store_true", help="also torchrun --nproc_per_node=2, one thread per process")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--work", type=Path, default=Path("/tmp/textcnn-scale"))
    args = parser.parse_args()
    train, dev = split_path(args.set, "train"), split_path(args.set, "dev")
    if train is None or dev is None:
        raise SystemExit(f"no {args.set} train/dev files under ../shared/data")
    args.work.mkdir(parents=True, exist_ok=True)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    print(f"command: python {' '.join(sys.argv)}")
    print(f"commit {commit}, {os.cpu_count()} CPUs, device {args.device}, {args.threads} thread(s) per process\n")
    print("| size | texts | model | processes | wall s | epoch s | texts/s (wall) | peak RSS MB |")
    print("| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: |")
    results = []
    for size in args.sizes:
        path, rows = repeated_file(train, size, args.work)
        runs = [] if args.no_small else [("small", 1)] + ([("small", 2)] if args.distributed else [])
        runs += [("default", 1)] if size <= args.default_model_up_to else []
        for model, processes in runs:
            wall, epoch, rss = _isolated(path, dev, settings(model, args.device, args.threads), args.work, processes)
            results.append(Result(size, rows, model, processes, wall, epoch, rss))
            print(results[-1].row(), flush=True)
    _ratios(results)


def _isolated(path: Path, dev: Path, config: dict, work: Path, processes: int) -> tuple[float, float, float]:
    """``train_once`` in a fresh Python, so that ``RUSAGE_CHILDREN`` holds this run's processes only."""
    if os.environ.get("_TEXTCNN_SCALE_CHILD"):
        return train_once(path, dev, config, work, processes)
    code = (
        "import json, sys; sys.path.insert(0, 'benchmarks'); import scale; "
        f"print(json.dumps(scale.train_once(scale.Path({str(path)!r}), scale.Path({str(dev)!r}), "
        f"json.loads({json.dumps(json.dumps(config))}), scale.Path({str(work)!r}), {processes})))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "_TEXTCNN_SCALE_CHILD": "1"})
    if done.returncode != 0:
        raise SystemExit(done.stderr[-3000:])
    return tuple(json.loads(done.stdout.strip().splitlines()[-1]))


def _ratios(results: list[Result]) -> None:
    base = {(r.model, r.processes): r for r in results if r.size == min(x.size for x in results)}
    for r in results:
        first = base.get((r.model, r.processes))
        if first is None or r is first:
            continue
        expected = r.size / first.size
        print(
            f"{r.model}, {r.processes} process(es), x{r.size}: wall {r.wall / first.wall:.2f}x of x{first.size} "
            f"(linear: {expected:g}x; ratio to linear {r.wall / first.wall / expected:.2f}), "
            f"peak RSS {r.rss_mb / first.rss_mb:.2f}x"
        )
    for r in results:
        single = next((s for s in results if s.size == r.size and s.model == r.model and s.processes == 1), None)
        if r.processes > 1 and single is not None:
            print(f"x{r.size} {r.model}: {r.processes} processes take {r.wall / single.wall:.2f}x the wall time "
                  f"({r.epoch / single.epoch:.2f}x the epoch) of one")


if __name__ == "__main__":
    main()
