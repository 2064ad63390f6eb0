"""What makes ``TextClassifier`` a scikit-learn estimator, without scikit-learn as a dependency.

Parameters are the settings of the configuration, as dotted keys (``model.num_filters``); ``set_params``
also takes bare names (``num_filters``), sections (``model={...}``), scikit-learn's nested form
(``model__num_filters``) and a whole ``config``. ``clone`` gives an untrained copy with the same
settings; ``score`` is accuracy (subset accuracy for multi-label data), as scikit-learn's classifiers.
"""

from __future__ import annotations

from typing import Any, Hashable, Sequence

from textcnn.config import RunConfig, build_config


def flat_settings(config: RunConfig) -> dict[str, Any]:
    """Every setting of ``config`` as ``{"section.field": value}``."""
    return {f"{section}.{field}": value for section, fields in config.model_dump().items() for field, value in fields.items()}


class EstimatorMixin:
    """``get_params``/``set_params``, ``clone`` support, ``score`` and ``classes_`` over ``self.params``."""

    params: RunConfig
    _trained: object | None

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The settings as ``{"section.field": value}`` (``deep`` is accepted for scikit-learn; nothing is nested)."""
        return flat_settings(self.params)

    def set_params(self, **params: Any) -> "EstimatorMixin":
        """Change settings (any form ``build_config`` reads, or ``section__field``); the trained model is kept until ``fit``."""
        config = params.pop("config", None)
        base = config if isinstance(config, RunConfig) else build_config(self.params, config or {})
        overrides = {key.replace("__", ".", 1) if "__" in key else key: value for key, value in params.items()}
        self.params = build_config(base, overrides, source="set_params")
        return self

    def __sklearn_clone__(self) -> "EstimatorMixin":
        """An untrained estimator with the same settings (what ``sklearn.base.clone`` returns)."""
        return type(self)(self.params)

    def __sklearn_tags__(self):
        from sklearn.utils import ClassifierTags, InputTags, Tags, TargetTags

        return Tags(
            estimator_type="classifier",
            target_tags=TargetTags(required=True, one_d_labels=True),
            classifier_tags=ClassifierTags(multi_class=True, multi_label=True),
            input_tags=InputTags(one_d_array=True, two_d_array=False, string=True),
            non_deterministic=False,
        )

    def __sklearn_is_fitted__(self) -> bool:
        return self._trained is not None

    @property
    def _estimator_type(self) -> str:
        return "classifier"

    @property
    def classes_(self) -> list[Hashable]:
        """The labels in the order of ``predict_proba``'s columns (scikit-learn's name)."""
        return self.classes

    def score(self, texts: Sequence[str], labels: Sequence[Hashable]) -> float:
        """Accuracy on labelled texts; subset accuracy (every label right) for a multi-label model."""
        report = self.evaluate(texts, labels)
        return float(report["subset_accuracy"] if self.multi_label else report["accuracy"])

    def __repr__(self) -> str:
        changed = {key: value for key, value in flat_settings(self.params).items() if value != _DEFAULTS.get(key)}
        return f"{type(self).__name__}({', '.join(f'{key}={value!r}' for key, value in changed.items())})"


_DEFAULTS = flat_settings(RunConfig())
