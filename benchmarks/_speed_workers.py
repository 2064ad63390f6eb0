"""The systems that benchmarks/speed.py times, each run in its own process: textcnn, the
tutorial-style reference TextCNN and fastText. Each returns a dict of figures."""

from __future__ import annotations

import os
import resource
import time
from pathlib import Path

LATENCY_CALLS = 1000  # calls per latency figure (one text per call; fewer for larger calls)
CALL_SIZES = (1, 8, 256)  # texts per predict call whose latency is measured


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def latencies(predict, texts: list[str], sizes: tuple[int, ...] = (1,)) -> dict:
    """p50 and p99 milliseconds of ``predict(list of n texts)`` for each n in ``sizes``."""
    result = {}
    for n in sizes:
        calls = max(50, LATENCY_CALLS // n)
        for i in range(20):
            predict(_window(texts, i * n, n))
        times = []
        for i in range(calls):
            batch = _window(texts, i * n, n)
            started = time.perf_counter()
            predict(batch)
            times.append(time.perf_counter() - started)
        times.sort()
        suffix = "" if n == 1 else f"_{n}"
        result[f"latency_p50_ms{suffix}"] = 1e3 * times[len(times) // 2]
        result[f"latency_p99_ms{suffix}"] = 1e3 * times[int(len(times) * 0.99)]
    return result


def _window(texts: list[str], start: int, n: int) -> list[str]:
    return [texts[(start + i) % len(texts)] for i in range(n)]


def accuracy(predicted: list, labels: list) -> float:
    return 100.0 * sum(str(p) == str(y) for p, y in zip(predicted, labels)) / len(labels)


def read_lines(path: str) -> list[str]:
    with open(path, encoding="utf-8") as handle:
        return [line.strip() for line in handle if line.strip()]


def conv_flops(batch: int, seq_len: int, size: dict, num_classes: int) -> int:
    """Forward FLOPs of the convolutions and the output layer over a (batch, seq_len) batch."""
    convs = sum(2 * batch * max(seq_len - k + 1, 1) * k * size["embed_dim"] * size["num_filters"] for k in size["kernel_sizes"])
    return convs + 2 * batch * size["num_filters"] * len(size["kernel_sizes"]) * num_classes


def training_flops(history: list[dict], tokens_per_text: float, size: dict, num_classes: int) -> float:
    """Arithmetic of the training steps run: forward + backward (3x forward) over every text of every
    epoch (selection and refit), at the training set's mean length (no padding)."""
    texts = sum(record["seconds"] * record["texts_per_second"] for record in history)
    per_text = conv_flops(1, round(tokens_per_text), size, num_classes)
    return 3.0 * per_text * texts


def worker_textcnn(job: dict) -> dict:
    import torch

    os.environ["TEXTCNN_CACHE_DIR"] = str(Path(job["folder"]) / "cache")  # cold: tokenizing is timed
    from textcnn.classifier import TextClassifier
    from textcnn.config import build_config
    from textcnn.data.batching import iter_batches
    from textcnn.data.readers import read_records
    from textcnn.inference.logits import predict_logits
    from textcnn.workflows import train_on_files

    torch.set_num_threads(job["threads"])
    size = job["size"]
    settings = {"train.epochs": job["epochs"], "train.threads": job["threads"], "train.device": "cpu",
                "train.precision": job["precision"]}  # fmt: skip
    if not job["default"]:  # the reference's model: one CNN of this size, no n-gram model
        settings.update({**{f"model.{k}": v for k, v in size.items()}, "train.ensemble": 1, "nb.ngrams": 0})
    started = time.perf_counter()
    trained = train_on_files(build_config(None, settings), job["train"], dev_path=job["dev"])
    seconds = time.perf_counter() - started
    history = trained.history
    bundle = Path(job["folder"]) / "textcnn-model"
    trained.save(bundle)
    test = read_records(job["test"])
    tokens_per_text = float(trained.encode(read_records(job["train"]).texts).lengths.mean())
    flops = training_flops(history, tokens_per_text, size, len(trained.classes))
    result = {"train_examples_per_s": sum(r["seconds"] * r["texts_per_second"] for r in history) / seconds,
              "train_seconds": seconds, "epochs": len(history), "train_arithmetic_s": flops / job["conv1d_peak"]}  # fmt: skip
    texts = read_records(job["predict"], label_column=None).texts

    def measure(classifier: TextClassifier, prefix: str) -> None:
        classifier.predict(texts[:2000])  # the first calls build the backend's kernels
        started = time.perf_counter()
        classifier.predict(texts)  # raw text file -> labels
        result[f"{prefix}predict_texts_per_s"] = job["sizes"][3] / (time.perf_counter() - started)
        result[f"{prefix}accuracy"] = accuracy(classifier.predict(test.texts), test.labels)
        result.update({prefix + key: value for key, value in latencies(classifier.predict, test.texts, CALL_SIZES).items()})

    classifier = TextClassifier.load(bundle, threads=job["threads"])
    measure(classifier, "")
    encoded = classifier.encode(read_lines(job["predict"]))
    min_len = classifier.model.min_len
    flops = sum(conv_flops(*batch.ids.shape, size, len(classifier.classes)) for batch in iter_batches(encoded, 256, min_len=min_len))
    started = time.perf_counter()
    predict_logits(classifier.model, encoded)
    result["model_flops_per_s"] = flops / (time.perf_counter() - started)
    result["peak_rss_mib"] = peak_rss_mib()
    measure(TextClassifier.load(bundle, runtime="torch-bf16", threads=job["threads"]), "bf16_")
    if job.get("onnx"):
        from textcnn.export import export_onnx

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
    size = job["reference_size"]
    reference = ReferenceClassifier(
        tokenizer=job["tokenizer"], **size, dropout=defaults.model.dropout, lr=defaults.train.lr,
        batch_size=defaults.train.batch_size, epochs=job["epochs"], seed=defaults.train.seed,
    )  # fmt: skip
    started = time.perf_counter()
    reference.fit(train.texts, train.labels, dev.texts, dev.labels)
    seconds = time.perf_counter() - started
    result = {"train_examples_per_s": len(train.texts) * reference.epochs_run / seconds, "train_seconds": seconds,
              "epochs": reference.epochs_run}  # fmt: skip
    started = time.perf_counter()
    reference.predict(read_lines(job["predict"]))
    result["predict_texts_per_s"] = job["sizes"][3] / (time.perf_counter() - started)
    result["accuracy"] = accuracy(reference.predict(test.texts), test.labels)
    result.update(latencies(reference.predict, test.texts, CALL_SIZES))
    ids = torch.tensor([reference._ids(text) for text in read_lines(job["predict"])])  # (num_texts, 32)
    started = time.perf_counter()
    with torch.no_grad():
        for start in range(0, len(ids), 256):
            reference.model(ids[start : start + 256])
    flops = conv_flops(len(ids), reference.max_len, size, len(reference.classes))
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
    predict(read_lines(job["predict"]))
    result["predict_texts_per_s"] = job["sizes"][3] / (time.perf_counter() - started)
    result["accuracy"] = accuracy(predict(test.texts), test.labels)
    result.update(latencies(predict, test.texts, CALL_SIZES))
    return result


WORKERS = {"textcnn": worker_textcnn, "reference": worker_reference, "fasttext": worker_fasttext}
