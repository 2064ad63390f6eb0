"""textcnn: fast, accurate, explainable convolutional text classifiers (Kim 2014).

Public API: ``TextClassifier``, ``load`` and ``__version__``; other modules are internal.
"""

from textcnn.classifier import TextClassifier, load
from textcnn.version import __version__

__all__ = ["TextClassifier", "load", "__version__"]
