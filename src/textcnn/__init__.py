"""textcnn: fast, accurate, explainable convolutional text classifiers (Kim 2014).

Public API: ``TextClassifier``, ``load`` and ``__version__``; other modules are internal. The library
logs to ``logging.getLogger("textcnn")`` and prints nothing unless asked (``fit(verbose=True)``, or
a handler of the application's own).

``TextClassifier`` and ``load`` are imported on first use, so that importing a part of the package
(the command line, say) does not start torch before that part has set up its environment.
"""

from typing import TYPE_CHECKING, Any

from textcnn.version import __version__

if TYPE_CHECKING:
    from textcnn.classifier import TextClassifier, load

__all__ = ["TextClassifier", "load", "__version__"]


def __getattr__(name: str) -> Any:
    if name in ("TextClassifier", "load"):
        from textcnn import classifier

        return getattr(classifier, name)
    raise AttributeError(f"module 'textcnn' has no attribute {name!r}")
