"""Training on sparse text-like data (CSR): fastloss's sparse engine against scikit-learn.

One benchmark per (peer, C): a fit of ``EPOCHS`` epochs on the synthetic
RCV1-shaped data of :mod:`fastloss._bench.sparse` (whose docstring says how
they are made and what each peer runs), at N = 200,000 rows by default
(``FASTLOSS_BENCH_SPARSE_N`` to change it).  The group is C, so the report
puts the peers side by side; ``extra_info`` holds the test accuracy and the
seconds per epoch.

    env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 \\
        PYTHONPATH=src python -m pytest bench/bench_sparse.py --benchmark-only

``python -m fastloss._bench.sparse`` prints the same comparison as one table
(interleaved runs, medians).  Nothing here asserts anything about speed.
"""

import os

import pytest

pytest.importorskip("scipy.sparse")
pytest.importorskip("sklearn")

from fastloss._bench import peers  # noqa: E402
from fastloss._bench import sparse as S  # noqa: E402

N = int(os.environ.get("FASTLOSS_BENCH_SPARSE_N", S.N))
_DATA = {}


def _data(c):
    if c not in _DATA:
        _DATA.clear()  # one problem in memory at a time
        _DATA[c] = S.text_like(N, c=c)
    return _DATA[c]


@pytest.mark.benchmark(min_rounds=1, max_time=1.0, warmup=False, disable_gc=True)
@pytest.mark.parametrize("peer", S.PEERS)
@pytest.mark.parametrize("c", [2, 20])
def test_sparse_training(benchmark, c, peer):
    fit, accuracy = S.make(peer, *_data(c))
    benchmark.group = f"sparse training N={N} D={S.D} C={c} ({S.EPOCHS} epochs)"
    with peers.threads(1):
        benchmark.pedantic(fit, rounds=1, iterations=1)
    benchmark.extra_info.update(peer=peer, accuracy=accuracy(), epochs=S.EPOCHS,
                                seconds_per_epoch=benchmark.stats.stats.median / S.EPOCHS)
