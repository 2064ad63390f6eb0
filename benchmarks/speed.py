"""Speed of textcnn next to fastText and the tutorial-style reference TextCNN, measured in one run.

For one set of ../shared/data and a model size, each system trains, predicts a file of raw text
and single texts in its own process (so peak RSS is its own), on the same threads:

    training seconds         wall time of training (reading, tokenizing, every epoch with its dev
                             evaluation, the refit and the n-gram model included)
    training arithmetic      FLOPs of the training steps run (forward + backward, 3x the forward
                             FLOPs, over every text of every epoch at the mean length) / the Conv1d
                             peak measured in the same run: what the steps would take at that peak
    prediction texts/s       a raw text file (one text per line) -> labels, in-process, model loaded
    latency p50 / p99        1, 8 and 256 texts -> their labels, one call each, in-process
    peak RSS                 of the system's process (training and prediction)
    peak fraction            the model's arithmetic (FLOPs counted from the padded shapes) per second
                             of batch prediction, over the peak of a large torch.matmul (and of a
                             large Conv1d) measured in the same run; a TextCNN that looks its
                             windows up (models/token_products.py) does almost none of that
                             arithmetic, and so goes past 100%
    test accuracy            of the kept model

Sizes: default = what `textcnn train` builds (embed 128, kernels 1-5 x 128 filters, the n-gram model,
the refit), first, since it is what users get; the reference then runs at lecture size. lecture =
embed 128, kernels 2,3,4 x 2 filters (the lecture's code); kim = embed 300, kernels 3,4,5 x 100 filters
(Kim 2014); at these two sizes textcnn trains one CNN without the n-gram model, the reference's
model. textcnn predicts in float32 and with `--runtime torch-bf16` (rows "bf16"). Dropout, learning
rate, batch size, epochs: textcnn's defaults, passed to the reference as well. fastText: word bigrams,
25 epochs (as benchmarks/accuracy.py), Chinese segmented by rjieba (HMM off).

    python benchmarks/speed.py --set mr                                  # the default model
    python benchmarks/speed.py --set mr --precision bfloat16             # trained in bfloat16
    python benchmarks/speed.py --set thucnews --systems textcnn fasttext
    python benchmarks/speed.py --set mr --size lecture
    python benchmarks/speed.py --set mr --size kim
    python benchmarks/speed.py --set mr --limit 2000                     # a quick smoke run
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import csv
import json
import os
import platform
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _data import split_path
from _speed_workers import WORKERS, peak_rss_mib

SIZES = {
    "default": None,  # TextCNNConfig's defaults, filled in by main
    "lecture": {"embed_dim": 128, "kernel_sizes": [2, 3, 4], "num_filters": 2},
    "kim": {"embed_dim": 300, "kernel_sizes": [3, 4, 5], "num_filters": 100},
}
SYSTEMS = ("textcnn", "fasttext", "reference")


# ----------------------------------------------------------------------------- parent


def _write_csv(path: Path, texts: list[str], labels: list) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows(zip(texts, labels))
    return path


def prepare_data(name: str, limit: int | None, predict_texts: int, folder: Path) -> dict:
    """train/dev/test CSVs (a seeded 10% of train as dev where the set has none) and a raw text file."""
    from textcnn.data.readers import read_records
    from textcnn.data.splits import stratified_split
    from textcnn.data.tokenizers import resolve_tokenizer_kind

    def load(split: str):
        path = split_path(name, split)
        if path is None:
            return None
        records = read_records(path)
        return records.texts, records.labels

    train, dev, test = load("train"), load("dev"), load("test")
    if train is None or test is None:
        raise SystemExit(f"no train.csv/test.csv for {name!r} under the data folder (set TEXTCNN_DATA)")
    if dev is None:
        keep, held = stratified_split(train[1], 0.1, 13)
        dev = [train[0][i] for i in held], [train[1][i] for i in held]
        train = [train[0][i] for i in keep], [train[1][i] for i in keep]
    if limit:
        rng = random.Random(0)
        def cut(data, n):  # noqa: E306
            pick = sorted(rng.sample(range(len(data[0])), min(n, len(data[0]))))
            return [data[0][i] for i in pick], [data[1][i] for i in pick]
        train, dev, test = cut(train, limit), cut(dev, max(200, limit // 4)), cut(test, max(200, limit // 4))
    lines = [" ".join(text.split()) for text in test[0]]
    lines = (lines * (predict_texts // len(lines) + 1))[: max(predict_texts, len(lines))]
    (folder / "predict.txt").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return {
        "train": str(_write_csv(folder / "train.csv", *train)),
        "dev": str(_write_csv(folder / "dev.csv", *dev)),
        "test": str(_write_csv(folder / "test.csv", *test)),
        "predict": str(folder / "predict.txt"),
        "tokenizer": resolve_tokenizer_kind("auto", train[0]),
        "sizes": [len(train[0]), len(dev[0]), len(test[0]), len(lines)],
    }


def measure_peaks(threads: int) -> dict[str, float]:
    """FLOP/s of the best large float32 torch.matmul, and of a large Conv1d, on ``threads`` threads.

    torch.matmul goes to MKL, Conv1d to oneDNN; on some CPUs (AMD with AVX-512) oneDNN runs twice
    as fast, so a model can exceed 100% of the matmul peak: both are printed.
    """
    import torch

    torch.set_num_threads(threads)

    def best(run, flops: int) -> float:
        run()
        fastest = float("inf")
        for _ in range(3):
            started = time.perf_counter()
            run()
            fastest = min(fastest, time.perf_counter() - started)
        return flops / fastest

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    x, conv = torch.randn(256, 300, 50), torch.nn.Conv1d(300, 300, 5)
    with torch.inference_mode():
        return {"matmul": best(lambda: a @ b, 2 * 2048**3), "conv1d": best(lambda: conv(x), 2 * 256 * 46 * 300 * 300 * 5)}


def run_worker(system: str, job: dict, folder: Path) -> dict:
    job_path = folder / f"{system}.json"
    job_path.write_text(json.dumps(job), encoding="utf-8")
    done = subprocess.run(
        [sys.executable, __file__, "--worker", system, "--job", str(job_path)], capture_output=True, text=True
    )
    lines = [line for line in done.stdout.splitlines() if line.startswith("RESULT ")]
    if done.returncode or not lines:
        sys.stderr.write(done.stdout + done.stderr)
        raise SystemExit(f"{system} failed (exit {done.returncode})")
    return json.loads(lines[-1][len("RESULT ") :])


def _fmt(value: float | None, digits: int = 0) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


ROWS = [  # (label, key, digits, higher is better)
    ("test accuracy (%)", "accuracy", 2, True),
    ("  bf16", "bf16_accuracy", 2, True),
    ("  with --runtime onnx / onnx-int8", ("onnx_accuracy", "int8_accuracy"), 2, None),
    ("training seconds", "train_seconds", 1, False),
    ("  arithmetic at the Conv1d peak (s)", "train_arithmetic_s", 1, None),
    ("training examples/s", "train_examples_per_s", 0, True),
    ("epochs run", "epochs", 0, None),
    ("prediction texts/s (file -> labels)", "predict_texts_per_s", 0, True),
    ("  bf16", "bf16_predict_texts_per_s", 0, True),
    ("latency p50 (ms, one text)", "latency_p50_ms", 3, False),
    ("latency p99 (ms, one text)", "latency_p99_ms", 3, False),
    ("  bf16 p50 / p99", ("bf16_latency_p50_ms", "bf16_latency_p99_ms"), 3, None),
    ("latency p50 / p99 (ms, 8 texts)", ("latency_p50_ms_8", "latency_p99_ms_8"), 2, None),
    ("  bf16", ("bf16_latency_p50_ms_8", "bf16_latency_p99_ms_8"), 2, None),
    ("latency p50 / p99 (ms, 256 texts)", ("latency_p50_ms_256", "latency_p99_ms_256"), 1, None),
    ("  bf16", ("bf16_latency_p50_ms_256", "bf16_latency_p99_ms_256"), 1, None),
    ("  with --runtime onnx", "onnx_predict_texts_per_s", 0, True),
    ("  with --runtime onnx-int8", "int8_predict_texts_per_s", 0, True),
    ("peak RSS (MiB)", "peak_rss_mib", 0, False),
    ("model FLOP/s / torch.matmul peak (%)", "matmul_fraction", 1, True),
    ("model FLOP/s / Conv1d peak (%)", "conv1d_fraction", 1, True),
]


def _cell(result: dict, key, digits: int) -> str:
    if isinstance(key, tuple):
        values = [result.get(k) for k in key]
        return "-" if any(v is None for v in values) else " / ".join(_fmt(v, digits) for v in values)
    return _fmt(result.get(key), digits)


def print_table(results: dict, peaks: dict[str, float]) -> None:
    rows = ROWS
    systems = list(results)
    others = [s for s in systems if s != "textcnn"] if "textcnn" in results else []
    header = f"{'':<38}" + "".join(f"{s:>16}" for s in systems) + "".join(f"{'vs ' + s:>14}" for s in others)
    print(header)
    for label, key, digits, higher in rows:
        cells = [_cell(results[s], key, digits) for s in systems]
        if all(cell == "-" for cell in cells):
            continue
        cells = "".join(f"{cell:>16}" for cell in cells)
        mine = results.get("textcnn", {}).get(key) if not isinstance(key, tuple) else None
        for other in others:
            theirs = results[other].get(key) if not isinstance(key, tuple) else None
            if mine is None or theirs is None or higher is None:
                cells += f"{'':>14}"
            elif key.endswith("accuracy"):
                cells += f"{mine - theirs:>+13.2f}p"
            else:
                ratio = mine / theirs if higher else theirs / mine
                cells += f"{ratio:>13.2f}x"
        print(f"{label:<38}" + cells)
    print(f"('vs': how many times better textcnn is, higher is better; accuracy: difference in points. Peaks: "
          f"torch.matmul 2048^2 {peaks['matmul'] / 1e9:.1f}, Conv1d 300->300 k=5 {peaks['conv1d'] / 1e9:.1f} GFLOP/s.)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--set", help="a set under ../shared/data (mr, sst2, trec, chnsenticorp, thucnews)")
    parser.add_argument("--size", choices=SIZES, default="default")
    parser.add_argument("--onnx", action="store_true", help="also export to ONNX and time --runtime onnx and onnx-int8")
    parser.add_argument("--precision", choices=["float32", "bfloat16"], default="float32", help="textcnn's train.precision")
    parser.add_argument("--systems", nargs="+", choices=SYSTEMS, default=list(SYSTEMS))
    parser.add_argument("--threads", type=int, default=None, help="threads of every system [default: one per core]")
    parser.add_argument("--epochs", type=int, default=None, help="textcnn's and the reference's epochs [default: textcnn's]")
    parser.add_argument("--limit", type=int, default=None, help="use this many training texts (a smoke run)")
    parser.add_argument("--predict-texts", type=int, default=20000, help="lines of the prediction file (test texts repeated)")
    parser.add_argument("--json", help="also write the results to this JSON file")
    parser.add_argument("--worker", choices=SYSTEMS, help=argparse.SUPPRESS)
    parser.add_argument("--job", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        job = json.loads(Path(args.job).read_text(encoding="utf-8"))
        result = WORKERS[args.worker](job)
        result.setdefault("peak_rss_mib", peak_rss_mib())
        print("RESULT " + json.dumps(result), flush=True)
        return

    if not args.set:
        parser.error("--set is required")
    import torch

    from textcnn import __version__
    from textcnn.config import TextCNNConfig, TrainConfig

    threads = args.threads or torch.get_num_threads()
    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="textcnn-speed-") as tmp:
        folder = Path(tmp)
        data = prepare_data(args.set, args.limit, args.predict_texts, folder)
        peaks = measure_peaks(threads)
        default = TextCNNConfig()
        size = SIZES[args.size] or {"embed_dim": default.embed_dim, "kernel_sizes": list(default.kernel_sizes), "num_filters": default.num_filters}
        job = {**data, "size": size, "reference_size": SIZES["lecture"] if args.size == "default" else size,
               "default": args.size == "default", "precision": args.precision, "onnx": args.onnx, "conv1d_peak": peaks["conv1d"],
               "threads": threads, "epochs": args.epochs or TrainConfig().epochs, "folder": tmp}  # fmt: skip
        print(f"# {args.set}: train {data['sizes'][0]:,} / dev {data['sizes'][1]:,} / test {data['sizes'][2]:,} texts, "
              f"prediction file {data['sizes'][3]:,} lines, tokenizer {data['tokenizer']}; textcnn {args.size} size, trained in {args.precision}: embed "
              f"{size['embed_dim']}, kernels {','.join(map(str, size['kernel_sizes']))} x {size['num_filters']}", flush=True)
        print(f"# textcnn {__version__}, torch {torch.__version__}, {platform.machine()}, {os.cpu_count()} cores, "
              f"{threads} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY')}", flush=True)
        results = {}
        for system in args.systems:
            results[system] = run_worker(system, job, folder)
            if "model_flops_per_s" in results[system]:
                for name, peak in peaks.items():
                    results[system][f"{name}_fraction"] = 100 * results[system]["model_flops_per_s"] / peak
            print(f"# {system} done", flush=True)
    print_table(results, peaks)
    print(f"# reproduce: {command}")
    if args.json:
        Path(args.json).write_text(json.dumps({"command": command, "peaks": peaks, "results": results}, indent=2))


if __name__ == "__main__":
    main()
