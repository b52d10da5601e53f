"""Benchmark tooling: what fastloss is timed against, and how.

``peers`` (the implementations a case is timed with: fastloss, its NumPy twin,
PyTorch, scikit-learn, JAX, the one-pass floors), ``timing`` (interleaved
samples, medians, ratios), ``plotting`` (the speed-up chart) and ``cli`` (the
``python -m fastloss bench`` command), shared with the pytest-benchmark suites
in bench/.  Nothing in fastloss's core imports this package: ``import
fastloss`` loads none of it.
"""
