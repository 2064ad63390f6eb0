"""textcnn: fast, accurate, explainable convolutional text classifiers (Kim 2014).

Public API: ``TextClassifier``, ``load`` and ``__version__``; other modules are internal. The library
logs to ``logging.getLogger("textcnn")`` and prints nothing unless asked (``fit(verbose=True)``, or
a handler of the application's own).
"""

from textcnn.classifier import TextClassifier, load
from textcnn.version import __version__

__all__ = ["TextClassifier", "load", "__version__"]
