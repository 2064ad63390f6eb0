"""Speed of textcnn next to the tutorial-style reference TextCNN and fastText, measured in one run.

For one set of ../shared/data and a model size, each system trains, predicts a file of raw text
and single texts in its own process (so peak RSS is its own), on the same threads:

    training examples/s      examples x epochs run / wall time of training (reading, tokenizing and
                             the dev evaluation after each epoch included)
    prediction texts/s       a raw text file (one text per line) -> labels, in-process, model loaded
    latency p50 / p99        one text -> its label, in-process
    peak RSS                 of the system's process (training and prediction)
    peak fraction            the model's arithmetic (FLOPs counted from the padded shapes) per second
                             of batch prediction, over the peak of a large torch.matmul (and of a
                             large Conv1d) measured in the same run
    test accuracy            of the kept (best dev) model

textcnn trains one CNN without the n-gram Naive Bayes (``train.ensemble: 1``, ``nb.ngrams: 0``), the
reference's model. Sizes: lecture = embed 128, kernels 2,3,4 x 2 filters (the lecture's code; it gives no embedding
size, 128 is textcnn's default); kim = embed 300, kernels 3,4,5 x 100 filters (Kim 2014). Dropout,
learning rate, batch size, epochs: textcnn's defaults, passed to the reference as well. fastText:
word bigrams, 25 epochs (as benchmarks/accuracy.py), Chinese segmented by rjieba (HMM off).

    python benchmarks/speed.py --set mr --size lecture
    python benchmarks/speed.py --set mr --size kim
    python benchmarks/speed.py --set thucnews --size kim --systems textcnn --epochs 1   # peak RSS check
    python benchmarks/speed.py --set mr --size lecture --limit 2000                   # a quick smoke run
"""

from __future__ import annotations

import _openmp  # noqa: F401 (first, before torch starts: OpenMP threads wait passively)

import argparse
import csv
import json
import os
import platform
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _data import split_path

SIZES = {
    "lecture": {"embed_dim": 128, "kernel_sizes": [2, 3, 4], "num_filters": 2},
    "kim": {"embed_dim": 300, "kernel_sizes": [3, 4, 5], "num_filters": 100},
}
SYSTEMS = ("textcnn", "reference", "fasttext")
LATENCY_TEXTS = 1000


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


def print_table(results: dict, peaks: dict[str, float]) -> None:
    rows = [  # (label, key, digits, higher is better)
        ("training examples/s", "train_examples_per_s", 0, True),
        ("prediction texts/s (file -> labels)", "predict_texts_per_s", 0, True),
        ("  with --runtime onnx", "onnx_predict_texts_per_s", 0, True),
        ("  with --runtime onnx-int8", "int8_predict_texts_per_s", 0, True),
        ("latency p50 (ms, one text)", "latency_p50_ms", 3, False),
        ("latency p99 (ms, one text)", "latency_p99_ms", 3, False),
        ("peak RSS (MiB)", "peak_rss_mib", 0, False),
        ("model FLOP/s / torch.matmul peak (%)", "matmul_fraction", 1, True),
        ("model FLOP/s / Conv1d peak (%)", "conv1d_fraction", 1, True),
        ("test accuracy (%)", "accuracy", 2, True),
        ("  with --runtime onnx", "onnx_accuracy", 2, True),
        ("  with --runtime onnx-int8", "int8_accuracy", 2, True),
        ("epochs run", "epochs", 0, None),
        ("training seconds", "train_seconds", 1, None),
    ]
    systems = list(results)
    others = [s for s in systems if s != "textcnn"] if "textcnn" in results else []
    header = f"{'':<38}" + "".join(f"{s:>12}" for s in systems) + "".join(f"{'vs ' + s:>14}" for s in others)
    print(header)
    for label, key, digits, higher in rows:
        values = [results[s].get(key) for s in systems]
        if all(v is None for v in values):
            continue
        cells = "".join(f"{_fmt(v, digits):>12}" for v in values)
        mine = results.get("textcnn", {}).get(key)
        for other in others:
            theirs = results[other].get(key)
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
    parser.add_argument("--size", choices=SIZES, default="lecture")
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
        result = {"textcnn": worker_textcnn, "reference": worker_reference, "fasttext": worker_fasttext}[args.worker](job)
        result.setdefault("peak_rss_mib", _peak_rss_mib())
        print("RESULT " + json.dumps(result), flush=True)
        return

    if not args.set:
        parser.error("--set is required")
    import torch

    from textcnn import __version__
    from textcnn.config import TrainConfig

    threads = args.threads or torch.get_num_threads()
    command = "python benchmarks/speed.py " + " ".join(sys.argv[1:])
    with tempfile.TemporaryDirectory(prefix="textcnn-speed-") as tmp:
        folder = Path(tmp)
        data = prepare_data(args.set, args.limit, args.predict_texts, folder)
        peaks = measure_peaks(threads)
        size = SIZES[args.size]
        job = {**data, "size": size, "threads": threads, "epochs": args.epochs or TrainConfig().epochs, "folder": tmp}
        print(f"# {args.set}: train {data['sizes'][0]:,} / dev {data['sizes'][1]:,} / test {data['sizes'][2]:,} texts, "
              f"prediction file {data['sizes'][3]:,} lines, tokenizer {data['tokenizer']}; size {args.size}: embed "
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


# ----------------------------------------------------------------------------- workers


def _peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def _latencies(predict_one, texts: list[str]) -> dict:
    for text in texts[:20]:
        predict_one(text)
    times = []
    for i in range(LATENCY_TEXTS):
        text = texts[i % len(texts)]
        started = time.perf_counter()
        predict_one(text)
        times.append(time.perf_counter() - started)
    times.sort()
    return {"latency_p50_ms": 1e3 * times[len(times) // 2], "latency_p99_ms": 1e3 * times[int(len(times) * 0.99)]}


def _accuracy(predicted: list, labels: list) -> float:
    return 100.0 * sum(str(p) == str(y) for p, y in zip(predicted, labels)) / len(labels)


def _read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def _conv_flops(batch: int, seq_len: int, size: dict, num_classes: int) -> int:
    convs = sum(2 * batch * max(seq_len - k + 1, 1) * k * size["embed_dim"] * size["num_filters"] for k in size["kernel_sizes"])
    return convs + 2 * batch * size["num_filters"] * len(size["kernel_sizes"]) * num_classes


def worker_textcnn(job: dict) -> dict:
    import torch

    os.environ["TEXTCNN_CACHE_DIR"] = str(Path(job["folder"]) / "cache")  # cold: tokenizing is timed
    from textcnn.classifier import TextClassifier
    from textcnn.workflows import train_on_files
    from textcnn.config import build_config
    from textcnn.data.batching import iter_batches
    from textcnn.data.readers import read_records
    from textcnn.export import export_onnx
    from textcnn.inference.logits import predict_logits

    torch.set_num_threads(job["threads"])
    settings = {**{f"model.{k}": v for k, v in job["size"].items()}, "train.epochs": job["epochs"],
                "train.threads": job["threads"], "train.device": "cpu", "train.ensemble": 1,
                "nb.ngrams": 0}  # fmt: skip  # the reference's model: one CNN, no Naive Bayes
    started = time.perf_counter()
    trained = train_on_files(build_config(None, settings), job["train"], dev_path=job["dev"])
    seconds = time.perf_counter() - started
    epochs = len(trained.fit_result.history)
    bundle = Path(job["folder"]) / "textcnn-model"
    trained.save(bundle)
    test = read_records(job["test"])
    result = {"train_examples_per_s": job["sizes"][0] * epochs / seconds, "train_seconds": seconds, "epochs": epochs}

    def measure(classifier: TextClassifier, prefix: str) -> None:
        started = time.perf_counter()
        classifier.predict(read_records(job["predict"], label_column=None).texts)  # raw text file -> labels
        result[f"{prefix}predict_texts_per_s"] = job["sizes"][3] / (time.perf_counter() - started)
        result[f"{prefix}accuracy"] = _accuracy(classifier.predict(test.texts), test.labels)

    classifier = TextClassifier.load(bundle, threads=job["threads"])
    measure(classifier, "")
    result.update(_latencies(lambda text: classifier.predict([text]), test.texts))
    encoded = classifier.encode(_read_lines(job["predict"]))
    min_len = classifier.model.min_len
    flops = sum(_conv_flops(*batch.ids.shape, job["size"], len(classifier.classes)) for batch in iter_batches(encoded, 256, min_len=min_len))
    started = time.perf_counter()
    predict_logits(classifier.model, encoded)
    result["model_flops_per_s"] = flops / (time.perf_counter() - started)
    result["peak_rss_mib"] = _peak_rss_mib()  # before ONNX export and ONNX Runtime add their own
    export_onnx(bundle, int8=True)
    measure(TextClassifier.load(bundle, runtime="onnx", threads=job["threads"]), "onnx_")
    measure(TextClassifier.load(bundle, runtime="onnx-int8", threads=job["threads"]), "int8_")
    return result


def worker_reference(job: dict) -> dict:
    import torch

    from reference_textcnn import ReferenceClassifier
    from textcnn.config import RunConfig
    from textcnn.data.readers import read_records

    torch.set_num_threads(job["threads"])
    defaults = RunConfig()
    train, dev, test = (read_records(job[split]) for split in ("train", "dev", "test"))
    reference = ReferenceClassifier(
        tokenizer=job["tokenizer"], **job["size"], dropout=defaults.model.dropout, lr=defaults.train.lr,
        batch_size=defaults.train.batch_size, epochs=job["epochs"], seed=defaults.train.seed,
    )  # fmt: skip
    started = time.perf_counter()
    reference.fit(train.texts, train.labels, dev.texts, dev.labels)
    seconds = time.perf_counter() - started
    result = {"train_examples_per_s": len(train.texts) * reference.epochs_run / seconds, "train_seconds": seconds,
              "epochs": reference.epochs_run}  # fmt: skip
    started = time.perf_counter()
    reference.predict(_read_lines(job["predict"]))
    result["predict_texts_per_s"] = job["sizes"][3] / (time.perf_counter() - started)
    result["accuracy"] = _accuracy(reference.predict(test.texts), test.labels)
    result.update(_latencies(lambda text: reference.predict([text]), test.texts))
    ids = torch.tensor([reference._ids(text) for text in _read_lines(job["predict"])])  # (num_texts, 32)
    started = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(ids), 256):
            reference.model(ids[start : start + 256])
    flops = _conv_flops(len(ids), reference.max_len, job["size"], len(reference.classes))
    result["model_flops_per_s"] = flops / (time.perf_counter() - started)
    return result


def worker_fasttext(job: dict) -> dict:
    import fasttext
    import rjieba

    from textcnn.data.readers import read_records

    chinese = job["tokenizer"] != "word"

    def prepare(text: str) -> str:
        text = " ".join(text.split())
        return " ".join(w for w in rjieba.cut(text, False) if w.strip()) if chinese else text.lower()

    epochs = 25
    train, test = read_records(job["train"]), read_records(job["test"])
    started = time.perf_counter()
    path = Path(job["folder"]) / "fasttext-train.txt"
    with open(path, "w", encoding="utf-8") as handle:
        for text, label in zip(train.texts, train.labels):
            handle.write(f"__label__{label} {prepare(text)}\n")
    model = fasttext.train_supervised(str(path), wordNgrams=2, epoch=epochs, verbose=0, seed=13, thread=job["threads"])
    seconds = time.perf_counter() - started
    result = {"train_examples_per_s": len(train.texts) * epochs / seconds, "train_seconds": seconds, "epochs": epochs}

    def predict(texts: list[str]) -> list[str]:
        return [labels[0][len("__label__") :] for labels in model.predict([prepare(t) for t in texts])[0]]

    started = time.perf_counter()
    predict(_read_lines(job["predict"]))
    result["predict_texts_per_s"] = job["sizes"][3] / (time.perf_counter() - started)
    result["accuracy"] = _accuracy(predict(test.texts), test.labels)
    result.update(_latencies(lambda text: model.predict(prepare(text)), test.texts))
    return result


if __name__ == "__main__":
    main()
