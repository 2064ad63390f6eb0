"""Properties over arbitrary Unicode (hypothesis): tokenizing, encoding, reading, predicting and
explaining never fail on any text, and a text's prediction does not depend on the batch it is in.

Texts mix every code point (lone surrogates included), combining marks, emoji ZWJ sequences,
decomposed Hangul, control characters (NUL too), right-to-left scripts, case-changing and
NFKC-changing characters, words of up to 10,000 characters and the words the models know, so
predictions vary. ``pytest --hypothesis-show-statistics`` shows how many examples ran.

Lone surrogates are code points of a Python ``str`` like any other: the tokenizers make tokens of
them and the model reads them as unknown. They cannot be written to a UTF-8 file, so no file holds
one; a file with the bytes of one is not valid UTF-8 and is refused with a ``DataError``.
"""

from __future__ import annotations

import csv
import json
import math
import unicodedata

import numpy as np
import pytest
import torch

pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from textcnn import TextClassifier  # noqa: E402
from textcnn.data.alignment import MARKERS, token_spans  # noqa: E402
from textcnn.data.encoding import tokenize_compact  # noqa: E402
from textcnn.data.readers import read_records  # noqa: E402
from textcnn.errors import DataError  # noqa: E402
from textcnn.models import token_products  # noqa: E402

from conftest import TINY_SETTINGS, chinese_corpus, english_corpus  # noqa: E402

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
FEW = settings(SETTINGS, max_examples=100)  # the properties that explain or run a whole batch per example

_KNOWN_WORDS = sorted({word for text in english_corpus()[0] for word in text.split()}) + ["Film", "GREAT", "Awful", "NASA's"]
_KNOWN_CHARS = sorted({char for text in chinese_corpus()[0] for char in text})
_SPECIAL = (
    "\u0300\u0301\u0308\u0327\u20dd\u0e31\u093f"  # combining marks (and a Thai and a Devanagari vowel sign)
    "\u200d\u200c\u200b\u2060\ufe0f\U0001f3fb"  # joiners, variation selector, skin tone
    "\x00\x01\x07\x08\x1b\x1c\x1f\x7f\x85\t\n\r\x0b\x0c"  # control characters, C0/C1 separators
    " \u00a0\u2028\u2029\u3000\u1680\u2009"  # Unicode spaces
    "\u05d0\u05e9\u0627\u0644\u0639\u200e\u200f\u202e\u2066\u2069"  # Hebrew, Arabic, bidi marks and overrides
    "İıΣσςßẞﬁﬀ¨´½⑴Å\u212bㄱ각\u1100\u1161ǅ"  # case folding and NFKC changes (ligatures, Kelvin/Ångström signs, jamo)
    "'’<>_-.,!?"
)
_SEQUENCES = [
    "👩\u200d👩\u200d👧", "🏳️\u200d🌈", "👍🏽", "🇫🇷", "😀", "❤️",  # emoji: ZWJ sequences, modifiers, flags
    unicodedata.normalize("NFD", "한국어 텍스트"), "ㄱ\u1161",  # conjoining jamo, which NFKC composes into syllables
    "\u0b95\u0bc6\u0bbe", "\u0b92\u0bd7", "e\u0301\u0327", "\u1e9b\u0323",  # vowel signs that compose; marks in any order
]

_any_char = st.characters(exclude_categories=())  # every code point but surrogates (hypothesis leaves Cs out)
_surrogate = st.characters(categories=["Cs"])
_special = st.sampled_from(_SPECIAL)
_piece = st.one_of(
    st.text(st.one_of(_any_char, _surrogate, _special), max_size=12),
    st.sampled_from(_KNOWN_WORDS),
    st.sampled_from(_KNOWN_CHARS),
    st.sampled_from(_SEQUENCES),
)
_long_word = st.builds(lambda char, n: char * n, st.one_of(st.sampled_from("xé字\u0301"), _any_char), st.integers(1_000, 10_000))
_joiner = st.sampled_from(["", " ", "  ", "\n", "\u3000", "\x00", "\t"])
_short_texts = st.builds(lambda pieces, joiner: joiner.join(pieces), st.lists(_piece, max_size=12), _joiner)
texts = st.one_of(
    _short_texts,
    st.builds(lambda text, word, at: text[:at] + word + text[at:], _short_texts, _long_word, st.integers(0, 200)),
)
# what a UTF-8 file can hold: no lone surrogates
file_texts = texts.map(lambda text: "".join(c for c in text if not 0xD800 <= ord(c) <= 0xDFFF))


def _fit(corpus, **overrides) -> TextClassifier:
    sample, labels = corpus
    return TextClassifier(**{**TINY_SETTINGS, **overrides}).fit(sample, labels, dev=(sample, labels))


@pytest.fixture(scope="module", params=["word", "char"])
def classifier(request) -> TextClassifier:
    """A word model with case markers (truncating), or a character model of Chinese that reads long texts as windows."""
    if request.param == "word":
        return _fit(english_corpus(), tokenizer={"kind": "word", "case_markers": True})
    return _fit(chinese_corpus(), tokenizer={"kind": "char", "max_len": 16, "long_text": "windows"})


def _check_spans(spans: list[tuple[int, int]], text: str) -> None:
    starts = [start for start, _ in spans]
    assert all(0 <= start <= end <= len(text) for start, end in spans), (spans, len(text))
    assert starts == sorted(starts), "token spans go left to right"


@SETTINGS
@given(text=texts)
def test_tokenizing_never_fails_and_every_token_maps_into_the_text(classifier, text):
    tokens = classifier.tokenizer(text)
    spans = token_spans(text, tokens, lowercase=classifier.config.tokenizer.lowercase)

    assert all(isinstance(token, str) and token and not token.isspace() for token in tokens)
    assert len(spans) == len(tokens)
    _check_spans(spans, text)
    sources = {span: unicodedata.normalize("NFKC", text[span[0] : span[1]]).casefold() for span in set(spans)}
    for token, span in zip(tokens, spans):
        if token not in MARKERS:  # the characters a token came from hold it, normalized and case-folded
            assert token.casefold() in sources[span], (token, text[span[0] : span[1]])


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=6))
def test_tokenizing_many_texts_at_once_gives_each_text_its_own_tokens(classifier, batch):
    tokenizer = classifier.tokenizer
    compact = tokenize_compact(batch, tokenizer, by_pieces=True)

    for i, text in enumerate(batch):
        ids = compact.ids[compact.offsets[i] : compact.offsets[i] + compact.lengths[i]]
        assert [compact.tokens[j] for j in ids] == tokenizer(text)


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=6))
def test_encoding_gives_vocabulary_ids_within_max_len(classifier, batch):
    encoded = classifier.encode(batch)
    max_len = classifier.config.tokenizer.max_len

    assert encoded.ids.dtype == np.int32 and (encoded.ids >= 0).all() and (encoded.ids < len(classifier.vocab)).all()
    assert (encoded.lengths <= max_len).all()


@SETTINGS
@given(batch=st.lists(texts, min_size=1, max_size=6))
def test_predictions_are_labels_with_finite_probabilities_summing_to_1(classifier, batch):
    probabilities = classifier.predict_proba(batch)
    labels = classifier.predict(batch)

    assert probabilities.shape == (len(batch), len(classifier.classes))
    assert np.isfinite(probabilities).all() and (probabilities >= 0).all()
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-5)
    assert [classifier.classes[j] for j in probabilities.argmax(axis=1)] == labels


@FEW
@given(text=texts)
def test_an_explanation_sums_to_the_logit_and_its_spans_lie_in_the_text(classifier, text):
    (explanation,) = classifier.explain([text], top=None)
    logits = classifier.predict_logits([text])[0]

    assert explanation.exact and explanation.text == text
    assert len(explanation.token_chars) == len(explanation.tokens)
    _check_spans(explanation.token_chars, text)
    for item in explanation.explained:
        total = item.bias + math.fsum(part.contribution for part in item.items)
        assert total == pytest.approx(item.logit, abs=1e-4)
        assert item.logit == pytest.approx(float(logits[classifier.classes.index(item.label)]), abs=1e-4)
        assert math.isfinite(item.probability) and 0 <= item.probability <= 1
        for part in item.items:
            assert 0 <= part.chars[0] <= part.chars[1] <= len(text)
            assert 0 <= part.tokens[0] < part.tokens[1] <= len(explanation.tokens)


@pytest.fixture(scope="module")
def looked_up() -> TextClassifier:
    """A word model with 16 filters per width: prediction looks its windows up in the table of token
    products, and its explanations read their windows and token parts from that table."""
    classifier = _fit(english_corpus(), num_filters=16, tokenizer={"kind": "word", "max_len": 24})
    with torch.inference_mode():
        assert token_products.applies(classifier.model, torch.zeros((1, 8), dtype=torch.long))
    return classifier


@FEW
@given(text=texts)
def test_an_explanation_from_the_table_sums_to_the_predicted_logit_and_its_token_scores_to_the_items(looked_up, text):
    (explanation,) = looked_up.explain([text], target=list(looked_up.classes), top=None)
    logits = looked_up.predict_logits([text])[0]

    for item, logit in zip(explanation.explained, logits):
        assert item.logit == float(logit)  # the same maxima prediction takes, bit for bit
        assert item.bias + math.fsum(part.contribution for part in item.items) == pytest.approx(item.logit, abs=1e-4)
        assert math.fsum(item.token_scores) == pytest.approx(math.fsum(part.contribution for part in item.items), abs=1e-9)


@FEW
@given(text=texts, others=st.lists(texts, max_size=8), data=st.data())
def test_a_prediction_does_not_depend_on_the_other_texts_of_its_batch(classifier, text, others, data):
    position = data.draw(st.integers(0, len(others)), label="position")
    batch = others[:position] + [text] + others[position:]
    batch_size = data.draw(st.sampled_from([3, 16, 256]), label="batch_size")
    alone = classifier.predict_proba([text])[0]

    together = classifier.predict_proba(batch, batch_size=batch_size)

    np.testing.assert_allclose(together[position], alone, atol=1e-5)
    np.testing.assert_allclose(classifier.predict_logits(batch)[position], classifier.predict_logits([text])[0], atol=1e-5)


@SETTINGS
@given(batch=st.lists(file_texts, min_size=1, max_size=8))
def test_a_csv_written_by_the_csv_module_reads_back_its_texts_stripped(tmp_path_factory, batch):
    path = tmp_path_factory.mktemp("csv") / "texts.csv"
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["text", "label"])
        writer.writerows([text, "a"] for text in batch)

    if any("\x00" in text for text in batch):  # a NUL in a file means binary or damaged: refused at its row
        row = next(i for i, text in enumerate(batch) if "\x00" in text) + 2
        with pytest.raises(DataError, match=rf"texts\.csv, row {row}: a NUL character"):
            read_records(path)
        return
    records = read_records(path)

    kept = [text.strip() for text in batch if text.strip()]
    assert records.texts == kept and records.labels == ["a"] * len(kept)
    assert records.skips.total_rows == len(batch) and records.skips.num_skipped == len(batch) - len(kept)


@SETTINGS
@given(batch=st.lists(file_texts, min_size=1, max_size=8))
def test_a_jsonl_file_reads_back_its_texts_stripped(tmp_path_factory, batch):
    path = tmp_path_factory.mktemp("jsonl") / "texts.jsonl"
    path.write_text("".join(json.dumps({"text": text}, ensure_ascii=False) + "\n" for text in batch), encoding="utf-8")

    records = read_records(path, label_column=None)

    assert records.texts == [text.strip() for text in batch if text.strip()]


@pytest.mark.parametrize("text, offset", [("\ud800", 16), ("x\udfff", 17)])
def test_a_file_with_the_bytes_of_a_lone_surrogate_is_refused_with_a_data_error(tmp_path, text, offset):
    path = tmp_path / "texts.csv"
    path.write_bytes(b"text,label\nok,a\n" + text.encode("utf-8", "surrogatepass") + b",a\n")

    with pytest.raises(DataError, match=rf"texts\.csv, row 3: not valid utf-8 at byte {offset}"):
        read_records(path)
