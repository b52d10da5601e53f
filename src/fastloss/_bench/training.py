"""The ``training`` benchmark group: training a linear classifier end to end.

Every peer trains the same problem -- Gaussian class clusters, float32 --
for the same epochs of mini-batch SGD (same batch size, learning rate, L2),
and is timed per epoch (a whole ``fit`` of ``EPOCHS`` epochs, divided), with
its test accuracy:

``fastloss``     ``LinearClassifier(loss).fit``: the training engine
``numpy``        the CS231n loop in NumPy, a step at a time: gather the batch,
                 ``Xb @ W + b``, the loss and its gradient, ``Xbᵀ @ dS``, the
                 update (:func:`fastloss.reference.train_epoch`, the engine's
                 twin: the same model up to rounding)
``torch``        ``nn.Linear`` + ``F.cross_entropy`` / ``F.multi_margin_loss``
                 + ``optim.SGD``, batches by a random permutation
``torch-lce``    softmax only: ``F.linear_cross_entropy`` (torch's fused
                 linear + cross-entropy) + ``optim.SGD``
``sklearn-sgd``  ``SGDClassifier(loss="log_loss" / "hinge")``, one-vs-rest,
                 ``max_iter=EPOCHS``, ``tol=None`` (its own per-row SGD: a
                 different model, the accuracy says how good)
``sklearn-lbfgs`` softmax only: ``LogisticRegression(solver="lbfgs")`` to its
                 default tolerance; its time is the whole fit (not per epoch)

The runs are interleaved (peer after peer, ``repeats`` times) and the median
is quoted.  Imported by ``python -m fastloss bench --group training`` and by
``bench/bench_training.py``; ``import fastloss`` never loads it.
"""

from __future__ import annotations

import statistics
import time
from dataclasses import dataclass, field

import numpy as np

import fastloss as fl
from fastloss import reference

from . import peers

#: Epochs of a timed fit (the time quoted is per epoch).
EPOCHS = 2
LR = 0.05
REG = 1e-4

#: (N, D, C, batch sizes): the issue's shape at two batch sizes, two more with
#: 16-20 classes, CS231n's CIFAR-10 width (D = 3073, the bias column included)
#: and wide heads.
CASES = (
    (50_000, 512, 10, (256, 32)),
    (50_000, 128, 20, (256,)),
    (50_000, 256, 16, (256,)),
    (20_000, 3073, 10, (256,)),
    (10_000, 256, 100, (256,)),
    (10_000, 256, 1000, (256,)),
)
QUICK_CASES = ((50_000, 512, 10, (256, 32)),)

PEERS = ("fastloss", "numpy", "torch", "torch-lce", "sklearn-sgd", "sklearn-lbfgs")


@dataclass
class Problem:
    n: int
    d: int
    c: int
    X: np.ndarray
    y: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray


def problem(n, d, c, seed=0):
    """Gaussian class clusters: n training rows (and n // 5 test rows) of d float32 features."""
    rng = np.random.default_rng(seed)
    means = rng.standard_normal((c, d)) * (2.5 / np.sqrt(d))
    m = n + n // 5
    y = rng.integers(0, c, m)
    X = (means[y] + rng.standard_normal((m, d))).astype(np.float32)
    return Problem(n, d, c, X[:n], y[:n], X[n:], y[n:])


@dataclass
class Result:
    peer: str
    loss: str
    n: int
    d: int
    c: int
    batch: int
    ms_per_epoch: float
    accuracy: float
    times: list = field(default_factory=list)
    per_epoch: bool = True

    def to_dict(self):
        return dict(vars(self))


def _accuracy(scores, y):
    return float(np.mean(np.argmax(scores, axis=1) == y))


def _fastloss(p, loss, batch):
    clf = fl.LinearClassifier(loss, learning_rate=LR, reg=REG, batch_size=batch, epochs=EPOCHS,
                              random_state=0, dtype="float32")

    def fit():
        clf.fit(p.X, p.y)

    return fit, lambda: clf.score(p.X_test, p.y_test)


def _numpy(p, loss, batch):
    model = {}

    def fit():
        rng = np.random.default_rng(0)
        W = (0.001 * rng.standard_normal((p.d, p.c))).astype(np.float32)
        b = np.zeros(p.c, np.float32)
        steps = -(-p.n // batch)
        for _ in range(EPOCHS):
            order = rng.permutation(p.n)
            reference.train_epoch(p.X, p.y, W, order, np.full(steps, LR), loss=loss,
                                  batch_size=batch, b=b, reg=REG)
        model.update(W=W, b=b)

    return fit, lambda: _accuracy(p.X_test @ model["W"] + model["b"], p.y_test)


def _torch(p, loss, batch, fused=False):
    import torch

    F = torch.nn.functional
    X, y = torch.from_numpy(p.X), torch.from_numpy(p.y)
    Xt = torch.from_numpy(p.X_test)

    lin = torch.nn.Linear(p.d, p.c)

    def fit():
        torch.manual_seed(0)
        lin.reset_parameters()
        opt = torch.optim.SGD(lin.parameters(), lr=LR, weight_decay=2 * REG)
        for _ in range(EPOCHS):
            perm = torch.randperm(p.n)
            for i in range(0, p.n, batch):
                idx = perm[i:i + batch]
                xb, yb = X.index_select(0, idx), y.index_select(0, idx)
                opt.zero_grad(set_to_none=True)
                if fused:
                    out = F.linear_cross_entropy(xb, lin.weight, yb, linear_bias=lin.bias)
                elif loss == "softmax":
                    out = F.cross_entropy(lin(xb), yb)
                else:
                    out = F.multi_margin_loss(lin(xb), yb) * (p.c - 1)  # torch divides by C
                out.backward()
                opt.step()

    def accuracy():
        with torch.no_grad():
            return _accuracy(lin(Xt).numpy(), p.y_test)

    return fit, accuracy


def _sklearn_sgd(p, loss, batch):
    from sklearn.linear_model import SGDClassifier

    clf = SGDClassifier(loss="log_loss" if loss == "softmax" else "hinge", alpha=2 * REG,
                        max_iter=EPOCHS, tol=None, learning_rate="constant", eta0=LR / 10,
                        random_state=0, n_jobs=1)

    def fit():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "max_iter reached": the epochs are the point
            clf.fit(p.X, p.y)

    return fit, lambda: float(clf.score(p.X_test, p.y_test))


def _sklearn_lbfgs(p, loss, batch):
    from sklearn.linear_model import LogisticRegression

    clf = LogisticRegression(C=1.0 / (2 * REG * p.n), max_iter=1000)

    def fit():
        clf.fit(p.X, p.y)

    return fit, lambda: float(clf.score(p.X_test, p.y_test))


def _available(peer, loss):
    if peer in ("torch", "torch-lce") and not peers.installed("torch"):
        return False
    if peer.startswith("sklearn") and not peers.installed("sklearn"):
        return False
    if peer in ("torch-lce", "sklearn-lbfgs") and loss != "softmax":
        return False
    if peer == "torch-lce":
        import torch

        return hasattr(torch.nn.functional, "linear_cross_entropy")
    return True


_MAKERS = {"fastloss": _fastloss, "numpy": _numpy, "torch": _torch,
           "torch-lce": lambda p, loss, batch: _torch(p, loss, batch, fused=True),
           "sklearn-sgd": _sklearn_sgd, "sklearn-lbfgs": _sklearn_lbfgs}


def run_case(p, loss, batch, *, repeats=3, peer_names=None, max_peer_time=20.0, threads=1):
    """Time each available peer on one case, interleaved; yields a Result per peer.

    A peer whose first fit takes more than ``max_peer_time`` seconds is timed
    once (its figure is then a single run).  fastloss and torch run on
    ``threads`` threads (scikit-learn's SGD is single-threaded; its lbfgs and
    the NumPy loop use whatever BLAS is allowed: set OPENBLAS_NUM_THREADS).
    """
    peer_names = PEERS if peer_names is None else peer_names
    runs = {name: _MAKERS[name](p, loss, batch) for name in peer_names if _available(name, loss)}
    times = {name: [] for name in runs}
    acc = {}
    with peers.threads(threads):
        for r in range(repeats):
            for name, (fit, accuracy) in runs.items():
                if r and times[name] and times[name][0] > max_peer_time:
                    continue
                t0 = time.perf_counter()
                fit()
                times[name].append(time.perf_counter() - t0)
                acc[name] = accuracy()
    for name in runs:
        whole = name == "sklearn-lbfgs"
        med = statistics.median(times[name])
        yield Result(name, loss, p.n, p.d, p.c, batch, 1e3 * med / (1 if whole else EPOCHS),
                     acc[name], times[name], per_epoch=not whole)


def run(cases=CASES, losses=("softmax", "hinge"), *, repeats=3, peer_names=None, threads=1):
    """Every case, loss and batch size: yields a Result per peer."""
    for n, d, c, batches in cases:
        p = problem(n, d, c)
        for loss in losses:
            for batch in batches:
                yield from run_case(p, loss, batch, repeats=repeats, peer_names=peer_names,
                                    threads=threads)


def lines(results):
    """The results as lines of text, as they come: per case, each peer's ms per epoch, its
    time over fastloss's (above 1x: fastloss is faster) and its test accuracy."""
    key, base = None, None
    for r in results:
        k = (r.loss, r.n, r.d, r.c, r.batch)
        if k != key:
            key, base = k, None
            yield f"\n{r.loss}  N={r.n} D={r.d} C={r.c}  batch {r.batch}  ({EPOCHS} epochs)"
            yield f"  {'peer':<15}{'ms/epoch':>10}{'/fastloss':>11}{'test acc':>10}"
        if r.peer == "fastloss":
            base = r.ms_per_epoch
        ratio = f"{r.ms_per_epoch / base:.2f}x" if base else "-"
        note = "" if r.per_epoch else "  (ms of the whole fit)"
        yield f"  {r.peer:<15}{r.ms_per_epoch:>10.1f}{ratio:>11}{r.accuracy:>10.4f}{note}"
