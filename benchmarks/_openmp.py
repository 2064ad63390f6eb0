"""Imported first by every benchmark, before torch: OpenMP threads then wait passively.

OpenMP threads that spin while they wait made torch many times slower whenever other processes kept
the cores busy; OpenMP reads this when torch starts. The ``textcnn`` command sets the same.
"""

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
