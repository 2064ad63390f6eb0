"""Every bad input the commands meet, each with what textcnn does about it: a one-line error that names
the file, the row and the problem (exit status 1, no traceback), or a documented recovery.

``PROBLEMS`` is the table "Data problems and what textcnn does" of the README, row for row: each entry
names the test that shows the behaviour, and ``test_the_readme_table_lists_every_problem_tested`` keeps
the two in step. The files are built here; commands run in-process (``CliRunner``) on a tiny bundle,
except where a real process is the point (closed stdin and stdout, ``--debug``).
"""

from __future__ import annotations

import errno
import io
import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import pytest
from typer.testing import CliRunner

from textcnn import TextClassifier
from textcnn.cli import app

from conftest import REPO_ROOT, chinese_corpus, english_corpus

TINY_FLAGS = [
    "--epochs", "2", "--patience", "2", "--kernel-sizes", "2,3", "--batch-size", "8", "--device", "cpu", "--no-cache",
    "--set", "model.embed_dim=8", "--set", "model.num_filters=4", "--nb-ngrams", "0", "--quiet",
]  # fmt: skip
_SOURCE = os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")]))  # this checkout's code
_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "COLUMNS": "200", "PYTHONIOENCODING": "utf-8", "PYTHONPATH": _SOURCE}

EN_TEXTS, EN_LABELS = english_corpus()
ZH_TEXTS, ZH_LABELS = chinese_corpus()


def csv_text(texts: list[str], labels: list[str] | None = None, header: str = "text,label", end: str = "\n") -> str:
    rows = [header] + [f"{t},{l}" for t, l in zip(texts, labels)] if labels is not None else [header, *texts]
    return end.join(rows) + end


ENGLISH = csv_text(EN_TEXTS[:4], EN_LABELS[:4])  # 4 rows: great, terrible, wonderful, awful
CHINESE = csv_text(ZH_TEXTS[:4], ZH_LABELS[:4])


def run(*args: str | Path, input: object = None) -> "Result":
    result = CliRunner().invoke(app, [str(arg) for arg in args], input=input)
    return Result(result.exit_code, result.stdout, result.stderr, result.exception)


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str
    exception: BaseException | None

    def error(self) -> str:
        """The one error line (without ``error: ``), after checking it is the only one and nothing raised through."""
        assert self.code == 1, (self.code, self.stderr, self.exception)
        assert isinstance(self.exception, SystemExit), self.exception  # handled: no traceback
        errors = [line for line in self.stderr.splitlines() if line.startswith("error: ")]
        assert len(errors) == 1 and self.stderr.rstrip().endswith(errors[0]), self.stderr
        assert "Traceback" not in self.stderr
        return errors[0].removeprefix("error: ")

    def report(self) -> dict:
        assert self.code == 0, (self.stderr, self.exception)
        return json.loads(self.stdout)


# ------------------------------------------------------------------ the table

PROBLEMS: dict[str, str] = {}  # README problem -> "error" or "recovery"


def problem(name: str, kind: str) -> Callable:
    """Register a test as one that shows what textcnn does about ``name``."""

    def register(test: Callable) -> Callable:
        PROBLEMS.setdefault(name, kind)
        return test

    return register


@dataclass(frozen=True)
class Case:
    """A data file given to `evaluate` (or other args), and the error line or the rows read."""

    problem: str
    variant: str
    content: bytes
    name: str = "data.csv"
    error: str | None = None  # the error line, without "error: "
    rows: int | None = None  # rows evaluated on success
    note: str | None = None  # a skipped-rows line on stderr
    args: tuple[str, ...] = ()
    command: str = "evaluate"
    extra: dict = field(default_factory=dict)


CASES = [
    Case("GBK file (Chinese CSV from Excel)", "", CHINESE.encode("gbk"),
         error="data.csv, row 2: not valid utf-8 at byte 11; it looks like gb18030: try --encoding gb18030"),
    Case("GBK file (Chinese CSV from Excel)", "--encoding gbk", CHINESE.encode("gbk"), rows=4, args=("--encoding", "gbk")),
    Case("Big5 file", "", csv_text(["這部電影非常好看", "服務態度很差勁"], ["positive", "negative"]).encode("big5"),
         error="data.csv, row 2: not valid utf-8 at byte 11; it looks like big5: try --encoding big5"),
    Case("Latin-1 file", "", "text,label\nthe café was great,positive\n".encode("latin-1"),
         error="data.csv, row 2: not valid utf-8 at byte 18; it looks like latin-1: try --encoding latin-1"),
    Case("Latin-1 file", "--encoding latin-1", "text,label\nthe café was great,positive\n".encode("latin-1"),
         rows=1, args=("--encoding", "latin-1")),
    Case("UTF-16 with BOM", "", ENGLISH.encode("utf-16"), rows=4),
    Case("UTF-16 without BOM", "", ENGLISH.encode("utf-16-le"),
         error="data.csv, row 1: a NUL character in the text; it looks like utf-16-le: try --encoding utf-16-le"),
    Case("UTF-8 BOM", "", b"\xef\xbb\xbf" + ENGLISH.encode(), rows=4),
    Case("CRLF line ends", "", csv_text(EN_TEXTS[:4], EN_LABELS[:4], end="\r\n").encode(), rows=4),
    Case("lone CR line ends", "", csv_text(EN_TEXTS[:4], EN_LABELS[:4], end="\r").encode(), rows=4),
    Case("quoted newlines", "", b'text,label\n"the film\nwas great",positive\n"the meal\r\nwas awful",negative\n', rows=2),
    Case("ragged rows", "", b"text,label\nthe film was great,positive\nthe meal was awful,negative,extra\n",
         error="data.csv, row 3: expected 2 fields, found 3"),
    Case("missing columns", "in the header", b"text,stars\nthe film was great,5\n",
         error="data.csv, row 1: no column 'label' in the header (columns: text, stars); "
         "choose with --text-column / --label-column"),
    Case("missing columns", "in a row", b"text,label\nthe film was great,positive\nthe meal was awful\n",
         error="data.csv, row 3: expected 2 fields, found 1"),
    Case("unclosed quote", "", b'text,label\nthe film was great,positive\n"the meal was awful,negative\nit was,positive\n',
         error="data.csv, row 3: expected 2 fields, found 1 (a quote opened in this row is never closed?)"),
    Case("duplicate header names", "", b"text,label,text\nthe film was great,positive,again\n",
         error="data.csv, row 1: column 'text' appears more than once in the header (columns 1, 3)"),
    Case("empty and whitespace-only text", "", b"text,label\nthe film was great,positive\n,negative\n   ,positive\n"
         b"the meal was awful,negative\n", rows=2,
         note="data.csv: skipped 2 of 4 rows: 2 rows with empty text (rows 3, 4)"),
    Case("empty label", "", b"text,label\nthe film was great,positive\nthe meal was awful, \n",
         error="data.csv, row 3, column 'label': empty label"),
    Case("NUL bytes", "", b"text,label\nthe film\x00 was great,positive\n",
         error="data.csv, row 2: a NUL character in the text: is the file binary or damaged? (remove NULs with: tr -d '\\000')"),
    Case("header-only file", "evaluate", b"text,label\n", error="data.csv: no labelled rows to evaluate"),
    Case("header-only file", "predict", b"text\n", command="predict", error="no texts to classify in data.csv"),
    Case("empty file", "evaluate", b"", error="data.csv: file is empty (expected a header row)"),
    Case("empty file", "predict", b"", name="data.txt", command="predict", error="no texts to classify in data.txt"),
    Case("dev/test labels unseen in training", "evaluate", b"text,label\nthe film was fine,neutral\n",
         error="data.csv: label 'neutral' (item 1) was not seen in training; known labels: negative, positive"),
    Case("unknown encoding name", "", ENGLISH.encode(), args=("--encoding", "klingon"),
         error="encoding: 'klingon' is not an encoding Python knows (e.g. utf-8, utf-8-sig, gbk, gb18030, big5, latin-1)"),
]
for _case in CASES:
    PROBLEMS.setdefault(_case.problem, "error" if _case.error else "recovery")


@pytest.mark.parametrize("case", CASES, ids=[f"{case.problem} {case.variant}".strip() for case in CASES])
def test_a_bad_file(case: Case, tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path(case.name).write_bytes(case.content)
    where = [case.name] if case.command == "evaluate" else ["--input", case.name]

    result = run(case.command, tiny_bundle, *where, *case.args, *(["--json"] if case.command == "evaluate" else []))

    if case.error is not None:
        assert result.error() == case.error
    else:
        assert result.report()["num_examples"] == case.rows
        assert "error" not in result.stderr
    if case.note is not None:
        assert case.note in result.stderr.splitlines()


@problem("a directory instead of a file", "error")
def test_a_directory_instead_of_a_file(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("folder.csv").mkdir()
    Path("data").mkdir()

    assert run("evaluate", tiny_bundle, "folder.csv").error() == "folder.csv: is a directory, expected a file"
    assert run("train", "data", "--out", "model", *TINY_FLAGS).error() == "data: is a directory, expected a file"
    assert run("predict", tiny_bundle, "--input", "data").error() == "data: is a directory, expected a file"


@problem("a 5 MB single text", "recovery")
def test_a_5_mb_text_is_read_and_cut_to_max_len(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    huge = "the film was great " * 276_000  # 5.2 MB in one CSV field, 40x the csv module's default limit
    Path("big.csv").write_text(f"text\n{huge}\nthe meal was awful\n", encoding="utf-8")

    result = run("predict", tiny_bundle, "--input", "big.csv")

    assert result.code == 0, result.stderr
    assert [json.loads(line)["label"] for line in result.stdout.splitlines()] == ["positive", "negative"]
    assert "note: 1 of 2 texts were longer than max_len and truncated" in result.stderr


@problem("a 1 GB line", "error")
def test_a_line_past_the_limit_is_an_error_found_before_the_line_ends(tiny_bundle, tmp_path, monkeypatch):
    from textcnn.data.text_files import MAX_LINE_CHARS

    process = subprocess.Popen(
        [sys.executable, "-m", "textcnn", "predict", str(tiny_bundle)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV,
    )  # fmt: skip
    written, chunk = 0, b"a" * (1 << 20)
    try:
        while written < 1 << 30:  # a gigabyte on one line, unless the reader stops taking it
            process.stdin.write(chunk)
            written += len(chunk)
    except BrokenPipeError:
        pass
    _, stderr = process.communicate(timeout=120)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("textcnn.data.text_files.MAX_LINE_CHARS", 1000)
    Path("long.csv").write_text("text,label\n" + "a" * 1001 + ",positive\n", encoding="utf-8")

    from_file = run("evaluate", tiny_bundle, "long.csv")

    assert process.returncode == 1
    assert stderr.decode().strip() == f"error: stdin, row 1: a line longer than {MAX_LINE_CHARS:,} characters (the most one line may hold)"
    assert written < MAX_LINE_CHARS + (8 << 20)  # read lazily: the limit and some buffers, not the gigabyte
    assert from_file.error() == "long.csv, row 2: a line longer than 1,000 characters (the most one line may hold)"


class VanishingFile(io.RawIOBase):
    """A file that reads one line at a time, then fails as a file removed from a network drive does."""

    def __init__(self, path: Path, lines: int) -> None:
        self.lines = path.read_bytes().splitlines(keepends=True)[:lines]

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if not self.lines:
            raise OSError(errno.ESTALE, os.strerror(errno.ESTALE))
        line = self.lines.pop(0)
        buffer[: len(line)] = line
        return len(line)


@problem("a file that disappears while reading", "error")
def test_a_file_that_fails_while_it_is_read(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("gone.csv").write_text(ENGLISH, encoding="utf-8")
    monkeypatch.setattr("textcnn.data.text_files._open_binary", lambda path: io.BufferedReader(VanishingFile(path, 2)))

    result = run("evaluate", tiny_bundle, "gone.csv")

    assert result.error() == (
        f"gone.csv, row 3: reading failed after line 2: {os.strerror(errno.ESTALE)} (did the file change or go away?)"
    )


# ------------------------------------------------------------------ training files


@problem("one class only", "error")
def test_a_training_file_with_one_label(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("one.csv").write_text(csv_text(EN_TEXTS[:6], ["positive"] * 6), encoding="utf-8")

    result = run("train", "one.csv", "--out", "model", *TINY_FLAGS)

    assert result.error() == "one.csv: every row has the label 'positive': a classifier needs at least 2 labels"
    assert not Path("model").exists()


@problem("dev/test labels unseen in training", "error")
@pytest.mark.parametrize("split", ["--dev", "--test"])
def test_dev_or_test_labels_unseen_in_training(tmp_path, monkeypatch, split):
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_text(csv_text(EN_TEXTS, EN_LABELS), encoding="utf-8")
    Path("other.csv").write_text("text,label\nthe film was fine,neutral\n", encoding="utf-8")

    result = run("train", "train.csv", split, "other.csv", "--out", "model", *TINY_FLAGS)

    assert result.error() == "other.csv: label(s) 'neutral' never occur in the training file train.csv"


@problem("header-only file", "error")
@problem("empty file", "error")
@pytest.mark.parametrize(("content", "message"), [
    ("text,label\n", "train.csv: no labelled rows to use"),
    ("", "train.csv: file is empty (expected a header row)"),
])  # fmt: skip
def test_a_training_file_without_rows(tmp_path, monkeypatch, content, message):
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_text(content, encoding="utf-8")

    assert run("train", "train.csv", "--out", "model", *TINY_FLAGS).error() == message


@problem("a full disk when writing the bundle", "error")
@pytest.mark.parametrize("existing", [False, True], ids=["new folder", "over a bundle"])
def test_a_full_disk_leaves_no_half_written_bundle(tmp_path, monkeypatch, tiny_bundle, existing):
    import shutil

    import textcnn.bundle as bundle

    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_text(csv_text(EN_TEXTS, EN_LABELS), encoding="utf-8")
    if existing:
        shutil.copytree(tiny_bundle, "model")
    before = sorted(p.name for p in Path(".").iterdir())
    write_json = bundle._write_json

    def full_disk(path: Path, data: object) -> None:
        if path.name == "metrics.json":  # after the weights, config, vocabulary and labels were written
            path.write_text("{", encoding="utf-8")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        write_json(path, data)

    monkeypatch.setattr(bundle, "_write_json", full_disk)

    result = run("train", "train.csv", "--out", "model", *TINY_FLAGS)

    assert result.error() == f"cannot write the model bundle model: {os.strerror(errno.ENOSPC)}"
    assert sorted(p.name for p in Path(".").iterdir()) == sorted({*before, "model"})  # no staging folder left
    if not existing:  # only the run's checkpoint, which --resume saves the bundle from without training again
        assert [p.name for p in Path("model").iterdir()] == ["checkpoint"]
    if existing:  # the bundle that was there is untouched, and loads
        assert TextClassifier.load("model").predict(["the film was great"]) == ["positive"]


@problem("a full disk when writing predictions", "error")
def test_a_full_disk_leaves_no_half_written_predictions(tiny_bundle, tmp_path, monkeypatch):
    import textcnn.inference.rows as rows

    monkeypatch.chdir(tmp_path)

    def full_disk(handle, *args) -> None:
        handle.write("text,label\n")
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(rows, "write_predictions", full_disk)

    result = run("predict", tiny_bundle, "the film was great", "--output", "preds.csv")

    assert result.error() == f"cannot write preds.csv: {os.strerror(errno.ENOSPC)}"
    assert not Path("preds.csv").exists()


# ------------------------------------------------------------------ the encoding in every command


def test_every_command_that_reads_a_file_takes_the_encoding(tiny_bundle, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_bytes(csv_text(ZH_TEXTS, ZH_LABELS).encode("gbk"))
    Path("new.txt").write_bytes("\n".join(ZH_TEXTS[:3]).encode("gbk"))
    flag = ("--encoding", "gbk")

    trained = run("train", "train.csv", "--dev", "train.csv", "--out", "model", *TINY_FLAGS, *flag)
    evaluated = run("evaluate", "model", "train.csv", "--json", *flag)
    predicted = run("predict", "model", "--input", "new.txt", *flag)
    explained = run("explain", "model", "--input", "new.txt", "--json", *flag)
    refused = run("predict", "model", "--input", "new.txt")  # the bundle's encoding is not the default

    assert trained.code == 0, trained.stderr
    assert json.loads(Path("model/config.json").read_text(encoding="utf-8"))["config"]["data"]["encoding"] == "gbk"
    assert evaluated.report()["num_examples"] == 40
    assert [json.loads(line)["text"] for line in predicted.stdout.splitlines()] == ZH_TEXTS[:3]
    assert [json.loads(line)["text"] for line in explained.stdout.splitlines()] == ZH_TEXTS[:3]
    assert refused.error().startswith("new.txt, row 1: not valid utf-8 at byte 0; it looks like gb18030")


def test_vectors_and_tune_take_the_encoding(tmp_path, monkeypatch):
    pytest.importorskip("gensim")
    pytest.importorskip("optuna")
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_bytes(csv_text(ZH_TEXTS, ZH_LABELS).encode("gbk"))

    vectors = run("vectors", "train.csv", "--out", "vectors.txt", "--min-count", "1", "--dim", "4", "--encoding", "gbk")
    tuned = run("tune", "train.csv", "--out", "best", "--budget", "1", "--epochs", "1", "--device", "cpu", "--encoding", "gbk")
    undecoded = run("vectors", "train.csv", "--out", "vectors.txt")

    assert vectors.code == 0, vectors.stderr
    assert "好" in Path("vectors.txt").read_text(encoding="utf-8")
    assert tuned.code == 0, tuned.stderr
    assert "try --encoding gb18030" in undecoded.error()


def test_a_bad_encoding_setting_names_the_key(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    Path("train.csv").write_text(ENGLISH, encoding="utf-8")

    result = run("train", "train.csv", "--out", "model", "--encoding", "klingon")

    assert result.code == 1 and isinstance(result.exception, SystemExit)
    assert "data.encoding: Value error, 'klingon' is not an encoding Python knows" in result.stderr


# ------------------------------------------------------------------ stdin and stdout, in real processes


def textcnn(*args: str | Path, **options) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "textcnn", *map(str, args)], capture_output=True, text=True, env=_ENV, timeout=120, **options
    )


@problem("stdin closed or empty", "error")
def test_closed_or_empty_stdin(tiny_bundle):
    closed = textcnn("predict", tiny_bundle, stdin=None, preexec_fn=lambda: os.close(0))
    empty = run("predict", tiny_bundle, input="")
    blank = run("predict", tiny_bundle, input="\n  \n")

    assert closed.returncode == 1 and "Traceback" not in closed.stderr
    assert closed.stderr.strip() == "error: standard input is closed: give texts as arguments or --input FILE"
    assert empty.error() == "no texts to classify in stdin"
    assert blank.error() == "no texts to classify in stdin"
    assert "stdin: skipped 2 of 2 rows: 2 rows with empty line (rows 1, 2)" in blank.stderr


@problem("stdout closed early (piped to head -1)", "recovery")
def test_stdout_closed_early_ends_quietly(tiny_bundle, tmp_path):
    source = tmp_path / "many.txt"
    source.write_text("the film was great\n" * 20_000, encoding="utf-8")  # about 1 MB of JSONL out, past a pipe's buffer
    process = subprocess.Popen(
        [sys.executable, "-m", "textcnn", "predict", str(tiny_bundle), "--input", str(source)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV, text=True,
    )  # fmt: skip
    first = process.stdout.readline()
    process.stdout.close()
    stderr = process.stderr.read()
    process.wait(timeout=120)

    assert json.loads(first)["label"] == "positive"
    assert process.returncode == 141  # as a command killed by SIGPIPE
    assert "Traceback" not in stderr and "Exception ignored" not in stderr and "error" not in stderr


def test_debug_shows_the_traceback(tiny_bundle, tmp_path):
    plain = textcnn("evaluate", tiny_bundle, tmp_path / "missing.csv")
    debug = textcnn("--debug", "evaluate", tiny_bundle, tmp_path / "missing.csv")

    assert plain.stderr.strip() == f"error: {tmp_path / 'missing.csv'}: file not found"
    assert debug.returncode == 1
    assert "Traceback" in debug.stderr and f"DataError: {tmp_path / 'missing.csv'}: file not found" in debug.stderr


# ------------------------------------------------------------------ the README


def test_the_readme_table_lists_every_problem_tested():
    readme = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Data problems and what textcnn does", 1)[1].split("\n## ", 1)[0]
    rows = re.findall(r"^\| (?!problem |---)(.+?) \| (.+?) \|$", section, flags=re.M)
    documented = {name: does for name, does in rows}

    assert sorted(documented) == sorted(PROBLEMS)
    for name, kind in PROBLEMS.items():
        says_error = documented[name].startswith("error")
        assert says_error == (kind == "error"), f"README row {name!r}: {documented[name]!r} should be an {kind}"
