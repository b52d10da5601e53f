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
    ``LinearClassifier(loss, batch_size=B, learning_rate=schedule, reg=0)`` on
    the csr_array (the sparse engine, one thread unless ``--threads``), with
    the settings of ``SETTINGS[(loss, C)]``: an inverse-time schedule
    (``InverseTimeLR``, the form of scikit-learn's ``"optimal"`` rate) or a
    cosine one, found by a small search on this data (seed 0) -- as
    scikit-learn's ``alpha`` is a chosen value.  ``--batch`` overrides B.
``fastloss-hinge-m``, ``fastloss-softmax-m`` (not run by default)
    ``momentum=0.9`` (lazy momentum), ``learning_rate=LR_M``, batch 16
``sklearn-sgd-hinge``, ``sklearn-sgd-log``
    ``SGDClassifier(loss="hinge" / "log_loss", alpha=ALPHA, max_iter=EPOCHS,
    tol=None)``: per-row SGD with its ``"optimal"`` rate, one-vs-rest for
    C > 2 (C passes over the data)
``sklearn-saga``
    ``LogisticRegression(solver="saga", max_iter=EPOCHS, tol=0)`` (multinomial)

The dense path does not fit in memory at this shape (N·D·4 bytes = 38 GB).
Runs are interleaved (peer after peer, ``repeats`` times) and medians quoted
with their range.  ``python -m fastloss._bench.sparse [--n N] [--repeats R]
[--threads T [T ...]] [--classes 2 20] [--batch B] [--seed S]`` prints the table; bench/bench_sparse.py
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
LR_M = 0.5
ALPHA = 1e-6
# (loss, C) -> (batch size, schedule(steps of the whole fit)); reg = 0 throughout
SETTINGS = {
    ("hinge", 2): (8, lambda steps: fl.InverseTimeLR(15.0, decay_steps=20_000)),
    ("softmax", 2): (8, lambda steps: fl.InverseTimeLR(10.0, decay_steps=20_000)),
    ("hinge", 20): (16, lambda steps: fl.InverseTimeLR(40.0, decay_steps=20_000)),
    ("softmax", 20): (16, lambda steps: fl.CosineLR(40.0, total_steps=steps)),
}
PEERS = ("fastloss-hinge", "fastloss-softmax", "sklearn-sgd-hinge", "sklearn-sgd-log",
         "sklearn-saga")
ALL_PEERS = PEERS[:2] + ("fastloss-hinge-m", "fastloss-softmax-m") + PEERS[2:]


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


def make(peer, X, y, X_test, y_test, *, epochs=EPOCHS, threads=1, batch=None):
    """(fit, accuracy): ``fit()`` trains ``epochs`` epochs from scratch; ``accuracy()`` the last
    fit's test accuracy.  ``batch`` (fastloss) overrides the batch size of ``SETTINGS``."""
    model = {}
    c = int(max(y.max(), y_test.max())) + 1
    if peer.startswith("fastloss"):
        loss = peer.split("-")[1]
        if peer.endswith("-m"):
            b = batch or 16
            momentum, lr = 0.9, LR_M
        else:
            b, schedule = SETTINGS[(loss, 2 if c == 2 else 20)]  # C > 2: the C = 20 settings
            b = batch or b
            momentum, lr = 0.0, schedule(epochs * -(-X.shape[0] // b))

        def fit():
            clf = fl.LinearClassifier(loss, batch_size=b, learning_rate=lr, reg=0.0,
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


def run(c, *, n=N, repeats=3, threads=1, epochs=EPOCHS, peer_names=PEERS, batch=None,
        seed=0, out=sys.stdout):
    """Interleaved fits of every peer on the C = ``c`` problem; returns
    {peer: (median s/epoch, min, max, accuracy)} and prints a table.  ``threads``: a count,
    or a list of them -- fastloss's peers then run at each (named ``peer@Tt``), interleaved,
    scikit-learn's at the first."""
    counts = [threads] if isinstance(threads, int) else list(threads)
    X, y, Xt, yt = text_like(n, c=c, seed=seed)
    print(f"C = {c}: N = {X.shape[0]}, D = {X.shape[1]}, {X.nnz / X.shape[0]:.1f} non-zeros a "
          f"row ({100 * X.nnz / X.shape[0] / X.shape[1]:.2f} %), float64, {epochs} epochs, "
          f"{'/'.join(map(str, counts))} thread(s), {repeats} interleaved runs"
          + (f", fastloss's batch {batch}" if batch else "") + (f", data seed {seed}" if seed else ""),
          file=out, flush=True)
    fits = {}
    for p in peer_names:
        for t in (counts if p.startswith("fastloss") else counts[:1]):
            name = p if len(counts) == 1 or not p.startswith("fastloss") else f"{p}@{t}t"
            fits[name] = make(p, X, y, Xt, yt, epochs=epochs, threads=t, batch=batch)
    times = {p: [] for p in fits}
    with peers.threads(counts[0]):
        for _ in range(repeats):
            for p, (fit, _) in fits.items():
                t0 = time.perf_counter()
                fit()
                times[p].append((time.perf_counter() - t0) / epochs)
    result = {}
    for p in fits:
        med = statistics.median(times[p])
        result[p] = (med, min(times[p]), max(times[p]), fits[p][1]())
        print(f"  {p:21s} {med:8.3f} s/epoch ({min(times[p]):.3f}-{max(times[p]):.3f})  "
              f"{1e6 * med / X.shape[0]:6.2f} us/row  accuracy {result[p][3]:.4f}",
              file=out, flush=True)
    return result


def main(argv=None):
    ap = argparse.ArgumentParser(prog="python -m fastloss._bench.sparse", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=N)
    ap.add_argument("--classes", type=int, nargs="+", default=[2, 20])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, nargs="+", default=[1],
                    help="thread counts; several: fastloss's peers at each, interleaved")
    ap.add_argument("--epochs", type=int, default=EPOCHS)
    ap.add_argument("--batch", type=int, default=None, help="fastloss's batch (default: SETTINGS)")
    ap.add_argument("--peers", nargs="+", default=list(PEERS), choices=ALL_PEERS)
    ap.add_argument("--seed", type=int, default=0, help="the data's seed (the settings were "
                    "chosen on seed 0)")
    args = ap.parse_args(argv)
    for c in args.classes:
        run(c, n=args.n, repeats=args.repeats, threads=args.threads, epochs=args.epochs,
            peer_names=args.peers, batch=args.batch, seed=args.seed)


if __name__ == "__main__":
    main()
