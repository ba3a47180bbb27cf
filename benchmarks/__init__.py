"""structmat benchmarks: ``python -m benchmarks <name> [--out DIR] [--quick]``.

Each script measures its candidates and their baselines in the same run, interleaved, and
prints medians and ratios (ratios are what we quote: the machines are noisy).
"""
