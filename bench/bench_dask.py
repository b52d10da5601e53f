"""Benchmark of fastloss.dask.softmax_loss / svm_loss: 1 vs 2 workers, and against the in-memory call.

The data, (N, D) = (160_000, 256) float32 with C = 10 classes (164 MB), is
cut into 16 row chunks of 10_000 rows and persisted on the workers before
timing, so a call measures the distributed loss + gradient itself: shipping
W, 16 chunk tasks, the tree reduction, the mean on the client.

Implementations, one pytest-benchmark group per loss:

* ``in-memory``            ``fastloss.softmax_loss(W, X, y)`` on the NumPy array (BLAS on every core)
* ``in-memory, 1 thread``  the same with BLAS and OpenMP limited to one thread (threadpoolctl),
  as a worker runs
* ``threaded``             ``fastloss.dask`` on Dask's local threaded scheduler
* ``1 worker`` / ``2 workers``  ``fastloss.dask`` on a LocalCluster of 1 or 2 worker processes
  (one thread each, loopback), X persisted on the workers

Run the pytest-benchmark suite with

    PYTHONPATH=src python -m pytest bench/bench_dask.py --benchmark-only

or print the ratios (medians of interleaved rounds) directly with

    PYTHONPATH=src python bench/bench_dask.py [--rounds 15] [--loss softmax|svm] [--chunk-rows 10000]

*scaling* is t(1 worker) / t(2 workers) (2.0 is perfect on two cores); *overhead*
is t(k workers) / t(in-memory call with as many threads).  Nothing here asserts
anything about speed.
"""

import argparse
import contextlib
import os
import statistics
import sys
import time
import warnings

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
distributed = pytest.importorskip("distributed")
import dask  # noqa: E402

import fastloss as fl  # noqa: E402
import fastloss.dask as fld  # noqa: E402

N, D, C = 160_000, 256, 10
CHUNK_ROWS = 10_000
DTYPE = np.float32
LOSSES = {"softmax": (fl.softmax_loss, fld.softmax_loss), "svm": (fl.svm_loss, fld.svm_loss)}
_FASTLOSS_PATH = os.pathsep.join(
    p for p in (os.path.dirname(os.path.dirname(fl.__file__)), os.environ.get("PYTHONPATH")) if p
)


def make_data(seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, D), dtype=np.float32).astype(DTYPE, copy=False)
    y = rng.integers(0, C, N)
    W = (0.01 * rng.standard_normal((D, C))).astype(DTYPE)
    return W, X, y


@contextlib.contextmanager
def cluster_client(n_workers):
    with distributed.LocalCluster(
        host="127.0.0.1", n_workers=n_workers, threads_per_worker=1, processes=True,
        dashboard_address=":0", env={"PYTHONPATH": _FASTLOSS_PATH},
    ) as cluster, distributed.Client(cluster, set_as_default=False) as client:
        client.wait_for_workers(n_workers, timeout=60)
        yield client


def _one_blas_thread():
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:
        return None
    return threadpool_limits(limits=1)  # BLAS and OpenMP (the kernels' prange)


def implementations(W, X, y, loss, clients, chunk_rows=CHUNK_ROWS):
    """name -> zero-argument callable computing (loss, dW); clients: {n_workers: (client, Xd, yd)}."""
    local, distributed_loss = LOSSES[loss]
    Xd = da.from_array(X, chunks=(chunk_rows, D))
    yd = da.from_array(y, chunks=chunk_rows)

    def in_memory_one_thread():
        limit = _one_blas_thread()
        if limit is None:
            return local(W, X, y)
        with limit:
            return local(W, X, y)

    impls = {
        "in-memory": lambda: local(W, X, y),
        "in-memory, 1 thread": in_memory_one_thread,
        "threaded": lambda: _with_scheduler("threads", distributed_loss, W, Xd, yd),
    }
    for k, (client, Xk, yk) in sorted(clients.items()):
        impls[f"{k} worker{'s' if k > 1 else ''}"] = (
            lambda c=client, a=Xk, b=yk: _with_client(c, distributed_loss, W, a, b)
        )
    return impls


def _with_scheduler(scheduler, f, W, Xd, yd):
    with dask.config.set(scheduler=scheduler):
        return f(W, Xd, yd)


def _with_client(client, f, W, Xd, yd):
    with client.as_current(), dask.config.set(scheduler=client.get):
        return f(W, Xd, yd)


def persisted(client, X, y, chunk_rows=CHUNK_ROWS):
    """X and y cut into row chunks and held by the workers (sent once, before any timing)."""
    with warnings.catch_warnings():  # "Sending large graph": on purpose, the data goes out once
        warnings.filterwarnings("ignore", message="Sending large graph")
        Xd, yd = client.persist([da.from_array(X, chunks=(chunk_rows, D)), da.from_array(y, chunks=chunk_rows)])
        with client.as_current():
            distributed.wait([Xd, yd])
    return Xd, yd


# --------------------------------------------------------------------------
# pytest-benchmark


@pytest.fixture(scope="module")
def data():
    return make_data()


@pytest.fixture(scope="module")
def clients(data):
    _, X, y = data
    with cluster_client(1) as c1, cluster_client(2) as c2:
        yield {1: (c1, *persisted(c1, X, y)), 2: (c2, *persisted(c2, X, y))}


IMPLS = ("in-memory", "in-memory, 1 thread", "threaded", "1 worker", "2 workers")


@pytest.mark.benchmark(min_rounds=5, max_time=2.0, warmup=True, warmup_iterations=1)
@pytest.mark.parametrize("impl", IMPLS)
@pytest.mark.parametrize("loss", list(LOSSES))
def test_distributed_loss(benchmark, data, clients, loss, impl):
    W, X, y = data
    fn = implementations(W, X, y, loss, clients)[impl]
    benchmark.group = f"fastloss.dask.{loss}_loss float32 ({N}, {D}) C={C}, {N // CHUNK_ROWS} chunks"
    benchmark.extra_info.update(impl=impl, loss=loss, shape=[N, D, C], chunk_rows=CHUNK_ROWS)
    got_loss, dW = benchmark(fn)
    want_loss, want_dW = LOSSES[loss][0](W, X, y)
    assert got_loss == pytest.approx(want_loss, rel=1e-4)  # the benchmarked call computes the right thing


# --------------------------------------------------------------------------
# python bench/bench_dask.py: a table of medians and ratios


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--loss", choices=list(LOSSES), default="softmax")
    parser.add_argument("--chunk-rows", type=int, default=CHUNK_ROWS)
    args = parser.parse_args(argv)
    W, X, y = make_data()
    print(f"fastloss.dask.{args.loss}_loss, float32 X ({N}, {D}), C={C}, "
          f"{-(-N // args.chunk_rows)} chunks of {args.chunk_rows} rows, {os.cpu_count()} CPUs, "
          f"kernel ISA {fl.kernel_isa()}")
    with cluster_client(1) as c1, cluster_client(2) as c2:
        clients = {k: (c, *persisted(c, X, y, args.chunk_rows)) for k, c in ((1, c1), (2, c2))}
        impls = implementations(W, X, y, args.loss, clients, args.chunk_rows)
        for fn in impls.values():  # warm up: imports on the workers, W's first trip
            fn()
        times = {name: [] for name in impls}
        for _ in range(args.rounds):  # interleaved, so drifts of a shared machine hit all alike
            for name, fn in impls.items():
                t0 = time.perf_counter()
                fn()
                times[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    for name, t in med.items():
        print(f"  {name:22s} {1e3 * t:9.1f} ms")
    print(f"scaling 1 -> 2 workers:                 {med['1 worker'] / med['2 workers']:.2f}x")
    print(f"overhead, 1 worker vs in-memory 1 thread: {med['1 worker'] / med['in-memory, 1 thread']:.2f}x")
    print(f"overhead, 2 workers vs in-memory:         {med['2 workers'] / med['in-memory']:.2f}x")
    print(f"overhead, threaded scheduler vs in-memory: {med['threaded'] / med['in-memory']:.2f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
