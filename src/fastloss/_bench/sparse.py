"""Training on sparse text-like data: fastloss's CSR engine against scikit-learn.

The data are made here, at RCV1's shape (issue 18): N training rows (200,000
by default) and 10 % more test rows, D = 47,236 columns, ~76 non-zeros a row
(0.16 %): column frequencies Zipf-distributed (p_j ∝ 1/(j + 20)^1.05 over a
random permutation of the columns), values TF-IDF-like ((1 + log tf)·idf),
rows L2-normalised, int32 indices; labels the argmax of a planted sparse
linear model plus noise (C = 2 or 20 classes).

Peers, each trained ``EPOCHS`` epochs, timed per epoch (the whole fit
divided), with test accuracy after them:

``fastloss-hinge``, ``fastloss-softmax``
    ``LinearClassifier(loss, batch_size=BATCH, learning_rate=LR, reg=REG)``
    on the csr_array (the sparse engine), at the thread count asked
``fastloss-hinge-m``, ``fastloss-softmax-m``
    the same with ``momentum=0.9``, ``learning_rate=LR_M`` (lazy momentum)
``sklearn-sgd-hinge``, ``sklearn-sgd-log``
    ``SGDClassifier(loss="hinge" / "log_loss", alpha=ALPHA, max_iter=EPOCHS,
    tol=None)``: per-row SGD, one-vs-rest for C > 2 (C passes over the data)
``sklearn-saga``
    ``LogisticRegression(solver="saga", max_iter=EPOCHS, tol=0)`` (multinomial)

The dense path does not fit in memory at this shape (N·D·4 bytes = 38 GB).
Runs are interleaved (peer after peer, ``repeats`` times) and medians quoted
with their range.  ``python -m fastloss._bench.sparse [--n N] [--repeats R]
[--threads T] [--classes 2 20]`` prints the table; bench/bench_sparse.py
runs the same fits under pytest-benchmark.  ``import fastloss`` never loads
this module.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import warnings

import numpy as np

import fastloss as fl

from . import peers

N, D, NNZ_ROW = 200_000, 47_236, 76
EPOCHS = 3
BATCH, LR, LR_M, REG = 16, 5.0, 0.5, 1e-6
ALPHA = 1e-6
PEERS = ("fastloss-hinge", "fastloss-softmax", "fastloss-hinge-m", "fastloss-softmax-m",
         "sklearn-sgd-hinge", "sklearn-sgd-log", "sklearn-saga")


def text_like(n=N, d=D, c=2, *, nnz_row=NNZ_ROW, seed=0, dtype=np.float64, test_fraction=0.1):
    """(X, y, X_test, y_test): synthetic RCV1-shaped text data (see the module's docstring)."""
    import scipy.sparse as sp

    rng = np.random.default_rng(seed)
    total = n + int(n * test_fraction)
    p = 1.0 / (np.arange(1, d + 1) + 20.0) ** 1.05
    cdf = np.cumsum(p / p.sum())
    words = rng.permutation(d)               # frequent words spread over the columns
    counts = np.maximum(rng.poisson(nnz_row * 1.05, total), 1)
    rows = np.repeat(np.arange(total), counts)
    cols = words[np.searchsorted(cdf, rng.random(rows.size), side="right").clip(0, d - 1)]
    X = sp.csr_array((np.ones(rows.size), (rows, cols)), shape=(total, d))
    X.sum_duplicates()                       # term counts
    idf = np.log(total / (np.bincount(X.indices, minlength=d) + 1)) + 1
    X.data = (1 + np.log(X.data)) * idf[X.indices]
    norms = np.sqrt(np.add.reduceat(X.data ** 2, X.indptr[:-1]))
    X.data /= np.repeat(norms, np.diff(X.indptr))
    planted = rng.standard_normal((d, c)) * (rng.random((d, 1)) < 0.3)
    S = X @ planted
    S += 0.15 * S.std() * rng.standard_normal(S.shape)
    y = np.argmax(S, axis=1)
    X = sp.csr_array((X.data.astype(dtype), X.indices.astype(np.int32),
                      X.indptr.astype(np.int32)), shape=X.shape)
    return X[:n], y[:n], X[n:], y[n:]


def make(peer, X, y, X_test, y_test, *, epochs=EPOCHS, threads=1, batch=BATCH):
    """(fit, accuracy): ``fit()`` trains ``epochs`` epochs from scratch; ``accuracy()`` the last
    fit's test accuracy."""
    model = {}
    if peer.startswith("fastloss"):
        loss = peer.split("-")[1]
        momentum = 0.9 if peer.endswith("-m") else 0.0
        lr = LR_M if momentum else LR

        def fit():
            clf = fl.LinearClassifier(loss, batch_size=batch, learning_rate=lr, reg=REG,
                                      momentum=momentum, epochs=epochs, random_state=0,
                                      dtype=X.dtype)
            with fl.threads(threads):
                model["m"] = clf.fit(X, y)
    elif peer.startswith("sklearn-sgd"):
        from sklearn.linear_model import SGDClassifier

        loss = "hinge" if peer.endswith("hinge") else "log_loss"

        def fit():
            model["m"] = SGDClassifier(loss=loss, alpha=ALPHA, max_iter=epochs, tol=None,
                                       random_state=0, n_jobs=threads).fit(X, y)
    elif peer == "sklearn-saga":
        from sklearn.linear_model import LogisticRegression

        def fit():
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # ConvergenceWarning: epochs are fixed here
                model["m"] = LogisticRegression(solver="saga", max_iter=epochs, tol=0,
                                                C=1.0 / (ALPHA * X.shape[0])).fit(X, y)
    else:
        raise ValueError(f"unknown peer {peer!r}")
    return fit, lambda: float(model["m"].score(X_test, y_test))


def run(c, *, n=N, repeats=3, threads=1, epochs=EPOCHS, peer_names=PEERS, batch=BATCH,
        out=sys.stdout):
    """Interleaved fits of every peer on the C = ``c`` problem; returns
    {peer: (median s/epoch, min, max, accuracy)} and prints a table."""
    X, y, Xt, yt = text_like(n, c=c)
    print(f"C = {c}: N = {X.shape[0]}, D = {X.shape[1]}, {X.nnz / X.shape[0]:.1f} non-zeros a "
          f"row ({100 * X.nnz / X.shape[0] / X.shape[1]:.2f} %), float64, {epochs} epochs, "
          f"{threads} thread(s), {repeats} interleaved runs, fastloss's batch {batch}", file=out,
          flush=True)
    fits = {p: make(p, X, y, Xt, yt, epochs=epochs, threads=threads, batch=batch)
            for p in peer_names}
    times = {p: [] for p in peer_names}
    with peers.threads(threads):
        for _ in range(repeats):
            for p, (fit, _) in fits.items():
                t0 = time.perf_counter()
                fit()
                times[p].append((time.perf_counter() - t0) / epochs)
    result = {}
    for p in peer_names:
        med = statistics.median(times[p])
        result[p] = (med, min(times[p]), max(times[p]), fits[p][1]())
        print(f"  {p:18s} {med:8.3f} s/epoch ({min(times[p]):.3f}-{max(times[p]):.3f})  "
              f"{1e6 * med / X.shape[0]:6.2f} us/row  accuracy {result[p][3]:.4f}",
              file=out, flush=True)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fastloss._bench.sparse", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=N)
    ap.add_argument("--classes", type=int, nargs="+", default=[2, 20])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--batch", type=int, default=BATCH)
    ap.add_argument("--peers", nargs="+", default=list(PEERS), choices=PEERS)
    args = ap.parse_args(argv)
    for c in args.classes:
        run(c, n=args.n, repeats=args.repeats, threads=args.threads, epochs=args.epochs,
            peer_names=args.peers, batch=args.batch)


if __name__ == "__main__":
    main()
