"""textcnn: fast, accurate, explainable convolutional text classifiers (Kim 2014).

Public API: ``TextClassifier``, ``load`` and ``__version__``; other modules are internal.
"""

import os

# OpenMP threads that spin while they wait made torch ~50x slower whenever other processes kept the
# cores busy; waiting passively costs little on an idle machine. A value the user set wins.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from textcnn.classifier import TextClassifier, load  # noqa: E402
from textcnn.version import __version__  # noqa: E402

__all__ = ["TextClassifier", "load", "__version__"]
