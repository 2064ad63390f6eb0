"""Explanations: bias + contributions == logit wherever it holds; spans point into the original text."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from textcnn import TextClassifier
from textcnn.cli import app
from textcnn.data.alignment import token_spans
from textcnn.data.tokenizers import build_tokenizer
from textcnn.inference.explain import check_identity

PROBES = [
    "The film was GREAT",
    "our hotel was horrible",
    "a text with words the model never saw",
    "",
    "great",
    "the film was great and our hotel was horrible but the meal was lovely and this book was boring",
    "这家酒店很好",
]

EXACT_CASES = {
    "default": {},
    "one epoch (near-random weights)": {"epochs": 1, "lr": 1e-4},
    "same padding": {"padding": "same"},
    "tanh": {"activation": "tanh"},
    "network alone": {"nb": {"ngrams": 0}},
    "multinomial trigrams": {"nb": {"method": "multinomial", "ngrams": 3}},
    "ensemble of 2": {"ensemble": 2},
    "windows, max": {"tokenizer": {"max_len": 4, "long_text": "windows", "window_pool": "max"}},
    "windows, mean": {"tokenizer": {"max_len": 4, "long_text": "windows", "window_pool": "mean"}},
    "head-tail": {"tokenizer": {"max_len": 4, "long_text": "head-tail"}},
    "tfidf n-gram model": {"nb": {"method": "tfidf"}},
    "16 filters (the window products prediction reads)": {"num_filters": 16},
    "16 filters, same padding, windows": {"num_filters": 16, "padding": "same", "tokenizer": {"max_len": 4, "long_text": "windows"}},
    "16 filters, ensemble of 2, head-tail": {"num_filters": 16, "ensemble": 2, "tokenizer": {"max_len": 4, "long_text": "head-tail"}},
}


def _fit(tiny_settings, corpus, **settings):
    texts, labels = corpus
    return TextClassifier(**{**tiny_settings, **settings}).fit(texts, labels, dev=(texts, labels))


def _assert_exact(classifier, texts, tolerance=1e-4):
    logits = classifier.predict_logits(texts)
    for explanation, row in zip(classifier.explain(texts, top=None), logits):
        assert explanation.exact and explanation.method == "exact"
        check_identity(explanation, tolerance)
        for item in explanation.explained:
            assert item.logit == pytest.approx(float(row[classifier.classes.index(item.label)]), abs=tolerance)
            contributions = sum(part.contribution for part in item.items)
            assert sum(item.token_scores) == pytest.approx(contributions, abs=1e-6)
            assert item.rest == 0.0


@pytest.mark.parametrize("name", list(EXACT_CASES))
def test_contributions_plus_bias_equal_the_logit(name, tiny_settings, english):
    classifier = _fit(tiny_settings, english, **EXACT_CASES[name])

    _assert_exact(classifier, PROBES)


def test_exact_for_multi_label_with_the_ngram_model_and_every_label_over_its_threshold(tiny_settings, multilabel):
    classifier = _fit(tiny_settings, multilabel, nb={"for_multi_label": True})

    _assert_exact(classifier, PROBES)
    explained = classifier.explain(["the film was great"])[0].explained
    assert [item.label for item in explained] == classifier.predict(["the film was great"])[0]


def test_exact_for_chinese_characters_and_jieba_words(tiny_settings, chinese):
    for kind in ("char", "jieba"):
        classifier = _fit(tiny_settings, chinese, tokenizer={"kind": kind})
        _assert_exact(classifier, ["这家酒店很好，服务也好", "这部电影非常差", ""])


def test_top_keeps_the_largest_contributions_and_the_rest_keeps_the_sum(tiny_classifier):
    full = tiny_classifier.explain(["our hotel was horrible"], top=None)[0].explained[0]
    short = tiny_classifier.explain(["our hotel was horrible"], top=2)[0].explained[0]

    assert short.items == full.items[:2]
    assert short.rest == pytest.approx(sum(part.contribution for part in full.items[2:]))
    assert abs(full.items[0].contribution) >= abs(full.items[-1].contribution)


def test_a_chosen_target_is_explained_instead_of_the_prediction(tiny_classifier):
    explanation = tiny_classifier.explain(["our hotel was horrible"], target="positive")[0]

    assert [item.label for item in explanation.explained] == ["positive"]
    check_identity(explanation)


def test_the_winning_ngram_names_the_words_that_decide(tiny_classifier):
    top = tiny_classifier.explain(["our hotel was horrible"])[0].explained[0]

    assert top.label == "negative" and "horrible" in top.items[0].ngram


@pytest.mark.parametrize("settings", [{"pooling": "attention"}, {"model": {"name": "gated_cnn", "embed_dim": 16, "hidden_dim": 8, "num_layers": 1}}])
def test_models_without_an_exact_explanation_are_explained_by_occlusion(settings, english):
    base = {"batch_size": 8, "lr": 0.03, "epochs": 3, "device": "cpu"}
    if "model" not in settings:
        base.update(embed_dim=16, num_filters=8, kernel_sizes=[2, 3])
    classifier = TextClassifier(**base, **settings).fit(*english, dev=english)

    explanation = classifier.explain(["the film was great"], top=None)[0]

    assert not explanation.exact and explanation.method == "occlusion" and "not exact" in explanation.note
    item = explanation.explained[0]
    column = classifier.classes.index(item.label)
    without_great = classifier.predict_logits(["the film was"])[0, column]
    great = next(part for part in item.items if part.ngram == "great")
    assert great.contribution == pytest.approx(item.logit - without_great, abs=1e-4)


@pytest.mark.parametrize(
    ("kind", "text"),
    [("word", "The  ﬁlm was GREAT, wasn't it?"), ("char", "这家酒店，很好！"), ("jieba", "这家酒店很好 服务也好")],
)
def test_token_spans_point_at_the_characters_each_token_came_from(kind, text):
    tokenizer = build_tokenizer(kind, lowercase=True, case_markers=True)
    tokens = tokenizer(text)

    spans = token_spans(text, tokens)

    for token, (start, end) in zip(tokens, spans):
        source = text[start:end]
        if token in ("<maj>", "<up>"):
            assert source[0].isupper()  # the marked word
        else:
            assert build_tokenizer(kind, lowercase=True)(source) == [token], (token, source)


def test_cli_prints_json_that_sums_and_writes_a_page(tiny_bundle, tmp_path):
    page = tmp_path / "why.html"

    result = CliRunner().invoke(app, ["explain", str(tiny_bundle), "our hotel was <horrible>", "--json", "--html", str(page)])

    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
    (row,) = rows
    for item in row["explained"]:
        total = item["bias"] + sum(part["contribution"] for part in item["items"]) + item["rest"]
        assert total == pytest.approx(item["logit"], abs=1e-4)
        assert {"ngram", "tokens", "chars", "width", "source", "contribution"} <= set(item["items"][0])
    html = page.read_text(encoding="utf-8")
    assert "&lt;horrible&gt;" in html and "<horrible>" not in html and "http" not in html


def test_cli_names_an_unknown_target_in_one_line(tiny_bundle):
    result = CliRunner().invoke(app, ["explain", str(tiny_bundle), "a text", "--target", "nope"])

    assert result.exit_code == 1
    assert "--target 'nope' is not a label of this model (labels: negative, positive)" in result.output


def test_explaining_a_loaded_bundle_gives_what_the_trained_model_gave(tiny_classifier, tiny_bundle):
    loaded = TextClassifier.load(tiny_bundle)

    first = tiny_classifier.explain(PROBES[:3], top=None)
    second = loaded.explain(PROBES[:3], top=None)

    for a, b in zip(first, second):
        np.testing.assert_allclose([p.contribution for p in a.explained[0].items], [p.contribution for p in b.explained[0].items], atol=1e-6)


def test_the_bias_is_the_output_bias_plus_the_active_filters_shares(tiny_settings, english):
    import torch

    classifier = _fit(tiny_settings, english, nb={"ngrams": 0})
    model = classifier.model
    ids = torch.tensor([classifier.vocab.ids(classifier.tokenizer("our hotel was horrible"))])
    with torch.inference_mode():
        features = model.pooled(ids, torch.tensor([ids.size(1)])).features[0]
    filter_bias = torch.cat([conv.bias for conv in model.convs])
    weight, bias = model.classifier.weight, model.classifier.bias

    explained = classifier.explain(["our hotel was horrible"], target=["negative", "positive"])[0].explained

    for item in explained:
        c = classifier.classes.index(item.label)
        expected = (bias[c] + (weight[c] * filter_bias * (features > 0)).sum()).detach()
        assert item.bias == pytest.approx(float(expected), abs=1e-5)


def test_head_tail_ngrams_name_the_gap_where_tokens_were_cut(tiny_settings, english):
    classifier = _fit(tiny_settings, english, tokenizer={"max_len": 4, "long_text": "head-tail"})
    text = "the film was great and our hotel was horrible"

    explanation = classifier.explain([text], top=None)[0]

    check_identity(explanation)
    ngrams = [part.ngram for item in explanation.explained for part in item.items]
    assert any(" … " in ngram for ngram in ngrams)  # a window across the cut
    assert all("and our" not in ngram for ngram in ngrams)  # tokens the model never read


def test_spans_survive_case_folding_and_combining_marks():
    for text, lowercase in [("İstanbul is big", False), ("ΟΔΟΣ και", True), ("cafe\u0301 ok", True)]:
        tokens = build_tokenizer("word", lowercase=lowercase, case_markers=lowercase)(text)
        spans = token_spans(text, tokens, lowercase=lowercase)
        assert all(end > start for start, end in spans), (text, tokens, spans)


@pytest.mark.parametrize("kind", ["word", "char"])
def test_spans_of_decomposed_hangul_and_composing_vowel_signs_cover_their_characters(kind):
    text = "\u1100\u1161\u11a8 \u1112\u1161\u11ab\u1100\u116e\u11a8 \u0b95\u0bc6\u0bbe"  # 각 한국 கொ, decomposed (NFD)
    tokens = build_tokenizer(kind)(text)

    spans = token_spans(text, tokens)

    assert "각" in tokens and "ொ" in tokens  # the tokenizer composes them (NFKC)
    assert all(end > start for start, end in spans), (tokens, spans)
    assert spans[tokens.index("각")] == (0, 3)


@pytest.mark.parametrize("method", ["logistic", "tfidf"])
def test_an_ngram_counted_once_shares_its_contribution_equally_among_its_occurrences(tiny_settings, english, method):
    classifier = _fit(tiny_settings, english, nb={"method": method}, epochs=1)
    text = "the film was great , the film was great"  # "great" and "was great" twice: each counted once
    explained = classifier.explain([text], top=None)[0].explained[0]
    check_identity(classifier.explain([text], top=None)[0], 1e-4)
    ngram_items = [item for item in explained.items if item.source == "ngram_model"]
    by_ngram: dict[str, list[float]] = {}
    for item in ngram_items:
        by_ngram.setdefault(item.ngram, []).append(item.contribution)
    assert {"great", "was great"} <= set(by_ngram)
    for ngram in ("great", "was great"):
        shares = by_ngram[ngram]
        assert len(shares) == 2 and shares[0] == pytest.approx(shares[1], abs=1e-12)
    once = classifier.explain(["the film was great"], top=None)[0].explained[0]
    whole = {item.ngram: item.contribution for item in once.items if item.source == "ngram_model"}
    assert sum(by_ngram["great"]) == pytest.approx(whole["great"], rel=1e-9)  # the row counted once, as in the score
