"""TextClassifier where scikit-learn users put estimators: clone, Pipeline, cross_val_score, GridSearchCV."""

from __future__ import annotations

import numpy as np
import pytest

from textcnn import TextClassifier
from textcnn.errors import ConfigError, TextcnnError

sklearn = pytest.importorskip("sklearn", reason="scikit-learn is optional: pip install scikit-learn")
from sklearn.base import clone, is_classifier  # noqa: E402
from sklearn.model_selection import GridSearchCV, StratifiedKFold, cross_val_score  # noqa: E402
from sklearn.pipeline import Pipeline  # noqa: E402
from sklearn.preprocessing import FunctionTransformer  # noqa: E402


def test_params_are_the_settings_and_set_params_takes_every_form(tiny_settings):
    classifier = TextClassifier(**tiny_settings)

    params = classifier.get_params()
    classifier.set_params(num_filters=5, **{"train.epochs": 3}, model__dropout=0.1, tokenizer={"kind": "char"})

    assert params["model.num_filters"] == tiny_settings["num_filters"] and params["train.lr"] == tiny_settings["lr"]
    assert TextClassifier(**params).get_params() == params
    got = classifier.get_params()
    assert (got["model.num_filters"], got["train.epochs"], got["model.dropout"], got["tokenizer.kind"]) == (5, 3, 0.1, "char")
    with pytest.raises(ConfigError, match="num_filterz: unknown key"):
        classifier.set_params(num_filterz=5)


def test_clone_is_untrained_with_the_same_settings(tiny_classifier):
    copy = clone(tiny_classifier)

    assert is_classifier(copy)
    assert copy.get_params() == tiny_classifier.get_params()
    assert copy.config.tokenizer.kind == "auto"  # as asked, not as training resolved it
    with pytest.raises(TextcnnError, match="not trained yet"):
        copy.predict(["the film was great"])


def test_score_is_accuracy_and_classes_follow_the_probability_columns(tiny_classifier, english):
    texts, labels = english

    assert tiny_classifier.score(texts, labels) == 1.0
    assert tiny_classifier.classes_ == ["negative", "positive"]
    assert tiny_classifier.predict_proba(texts).shape == (len(texts), len(tiny_classifier.classes_))


def _folds():
    return StratifiedKFold(n_splits=2, shuffle=True, random_state=0)


def test_cross_val_score_on_a_list_of_texts(tiny_settings, english):
    texts, labels = english

    scores = cross_val_score(TextClassifier(**tiny_settings), texts, labels, cv=_folds())

    assert len(scores) == 2 and min(scores) >= 0.85  # the keyword decides the label: held-out halves are easy


def test_inside_a_pipeline_with_grid_search(tiny_settings, english):
    texts, labels = english
    pipeline = Pipeline([("strip", FunctionTransformer(lambda items: [item.strip() for item in items])), ("clf", TextClassifier(**tiny_settings))])

    search = GridSearchCV(pipeline, {"clf__num_filters": [4, 8]}, cv=_folds(), refit=True)
    search.fit([f"  {text} " for text in texts], labels)

    assert search.best_params_["clf__num_filters"] in (4, 8)
    assert search.best_estimator_.named_steps["clf"].config.model.num_filters == search.best_params_["clf__num_filters"]
    assert search.best_score_ >= 0.85
    assert np.mean(np.array(search.predict(texts)) == np.array(labels)) >= 0.9


def test_an_untrained_classifier_has_no_fitted_attributes(tiny_settings):
    untrained = TextClassifier(**tiny_settings)

    assert not hasattr(untrained, "classes_") and getattr(untrained, "model", None) is None
    assert untrained.config.model.num_filters == tiny_settings["num_filters"]  # the settings are there
