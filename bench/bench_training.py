"""Training a linear classifier end to end: fastloss's engine against the NumPy loop, torch, scikit-learn.

One benchmark per (peer, case): a ``fit`` of ``EPOCHS`` epochs of mini-batch
SGD on Gaussian class clusters (float32), the peers and problems of
:mod:`fastloss._bench.training` (whose docstring says what each peer runs).
The group is the case, so the report puts the peers side by side; each
benchmark's ``extra_info`` holds the test accuracy and ms per epoch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        PYTHONPATH=src python -m pytest bench/bench_training.py --benchmark-only

``python -m fastloss bench --group training`` prints the same comparison as
one table of ratios (interleaved runs, medians).  Nothing here asserts
anything about speed.
"""

import pytest

from fastloss._bench import peers
from fastloss._bench import training as T

_SETTINGS = dict(min_rounds=3, max_time=5.0, warmup=False, disable_gc=True)
_PROBLEMS = {}

CASES = [(n, d, c, batch, loss) for n, d, c, batches in T.CASES for batch in batches
         for loss in ("softmax", "hinge")]


def _problem(n, d, c):
    if (n, d, c) not in _PROBLEMS:
        _PROBLEMS.clear()  # one problem in memory at a time
        _PROBLEMS[(n, d, c)] = T.problem(n, d, c)
    return _PROBLEMS[(n, d, c)]


@pytest.mark.benchmark(**_SETTINGS)
@pytest.mark.parametrize("peer", T.PEERS)
@pytest.mark.parametrize("case", CASES, ids=lambda c: "N{}xD{}xC{}-B{}-{}".format(*c))
def test_training(benchmark, case, peer):
    n, d, c, batch, loss = case
    if peer in ("torch", "torch-lce"):
        pytest.importorskip("torch")
    if peer.startswith("sklearn"):
        pytest.importorskip("sklearn")
    if not T._available(peer, loss):
        pytest.skip(f"{peer} has no {loss} training")
    fit, accuracy = T._MAKERS[peer](_problem(n, d, c), loss, batch)
    benchmark.group = f"training {loss} N={n} D={d} C={c} batch={batch} ({T.EPOCHS} epochs)"
    with peers.threads(1):
        benchmark.pedantic(fit, rounds=1 if peer.startswith("sklearn") else 3, iterations=1)
    benchmark.extra_info.update(peer=peer, accuracy=accuracy(), epochs=T.EPOCHS)
