"""Doctest collection of the package: modules of optional extras are skipped when the extra
is not installed (the test extra installs them all)."""

import importlib.util

collect_ignore = [] if importlib.util.find_spec("torch") else ["torch.py"]
