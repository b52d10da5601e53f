"""``python -m fastloss train``: train both linear classifiers on a small data set.

The data are scikit-learn's bundled digits (1797 8x8 images, pixels / 16)
when scikit-learn is installed, a seeded synthetic set of the same shape
otherwise.  Each classifier is trained epoch by epoch (``partial_fit``), and
every epoch's mean loss and train / test accuracy are printed.  With
``plot``, the per-step loss of several batch sizes (the noisy mini-batch
curve) is drawn with its per-epoch mean (matplotlib, imported only then).
"""

import math
import time

import numpy as np

from .classifier import LinearClassifier

#: Batch sizes drawn by ``--plot``.
PLOT_BATCH_SIZES = (32, 128, 512)


def load_data(name="auto", seed=0):
    """``(X_train, X_test, y_train, y_test, description)``; 75 % / 25 %, split seeded."""
    if name in ("auto", "digits"):
        try:
            from sklearn.datasets import load_digits
        except ImportError:
            if name == "digits":
                raise SystemExit(
                    "the digits data need scikit-learn: pip install 'fastloss[digits]'"
                ) from None
        else:
            X, y = load_digits(return_X_y=True)
            X = X / 16.0
            desc = "digits (scikit-learn's bundled copy, 8x8 pixels / 16)"
            return _split(X, y, seed) + (desc,)
    X, y = synthetic(seed=seed)
    return _split(X, y, seed) + ("synthetic (seeded: 10 Gaussian classes in 64 dimensions)",)


def synthetic(n=1797, d=64, c=10, seed=0):
    """A seeded stand-in for digits: c Gaussian classes in d dimensions, values in [0, 1]."""
    rng = np.random.default_rng(seed)
    centers = rng.uniform(0.0, 1.0, (c, d))
    y = rng.integers(0, c, n)
    X = np.clip(centers[y] + 0.35 * rng.standard_normal((n, d)), 0.0, 1.0)
    return X, y


def _split(X, y, seed):
    perm = np.random.default_rng(seed).permutation(len(y))
    cut = int(round(0.75 * len(y)))
    tr, te = perm[:cut], perm[cut:]
    return X[tr], X[te], y[tr], y[te]


def train(args, out=print):
    """Train and report; returns the fitted classifiers by loss name."""
    Xtr, Xte, ytr, yte, desc = load_data(args.data, args.seed)
    out(f"data: {desc}: {len(ytr)} train / {len(yte)} test samples, {Xtr.shape[1]} features, "
        f"{len(np.unique(ytr))} classes")
    losses = ("softmax", "hinge") if args.loss == "both" else (args.loss,)
    fitted = {}
    classes = np.unique(np.concatenate([ytr, yte]))
    for loss in losses:
        clf = LinearClassifier(loss, **_hyper(args), random_state=args.seed)
        out(f"\n{loss}: batch_size={clf.batch_size} learning_rate={clf.learning_rate} "
            f"reg={clf.reg} epochs={args.epochs}")
        out(f"{'epoch':>5}  {'loss':>9}  {'train acc':>9}  {'test acc':>8}  {'time':>7}")
        for e in range(args.epochs):
            t0 = time.perf_counter()
            clf.partial_fit(Xtr, ytr, classes=classes)
            dt = time.perf_counter() - t0
            out(f"{e + 1:5d}  {clf.epoch_loss_[-1]:9.5f}  {clf.score(Xtr, ytr):9.4f}  "
                f"{clf.score(Xte, yte):8.4f}  {dt * 1e3:5.1f}ms")
        fitted[loss] = clf
    if args.plot:
        plot(args, Xtr, ytr, losses, classes, desc)
        out(f"\nwrote {args.plot}")
    return fitted


def _hyper(args):
    kw = {"epochs": args.epochs}
    if args.batch_size is not None:
        kw["batch_size"] = args.batch_size
    if args.lr is not None:
        kw["learning_rate"] = args.lr
    if args.reg is not None:
        kw["reg"] = args.reg
    return kw


def pyplot():
    """``matplotlib.pyplot`` on the Agg backend; SystemExit naming the ``plot`` extra if it is missing."""
    try:
        import matplotlib
    except ImportError:
        raise SystemExit("--plot needs matplotlib: pip install 'fastloss[plot]'") from None
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot(args, Xtr, ytr, losses, classes, desc):
    """PNG of the per-step loss and its per-epoch mean for several batch sizes."""
    plt = pyplot()
    fig, axes = plt.subplots(1, len(losses), figsize=(6.4 * len(losses), 4.4), squeeze=False)
    for ax, loss in zip(axes[0], losses):
        for i, b in enumerate(PLOT_BATCH_SIZES):
            kw = _hyper(args)
            kw["batch_size"] = b
            clf = LinearClassifier(loss, **kw, random_state=args.seed).fit(Xtr, ytr)
            h, ep = clf.loss_history_, clf.epoch_loss_
            spe = len(h) // len(ep)
            x = np.arange(1, len(h) + 1) / spe
            color = f"C{i}"
            ax.plot(x, h, color=color, lw=0.6, alpha=0.45)
            ax.plot(np.arange(1, len(ep) + 1), ep, color=color, lw=2.0, marker="o", ms=3,
                    label=f"batch {b}: per-step (thin), epoch mean (thick)")
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss (data + L2)")
        ax.set_title(f"{loss} loss, mini-batch SGD")
        ax.legend(fontsize=8)
        ax.grid(alpha=0.3)
    fig.suptitle(f"fastloss.LinearClassifier on {desc.split(' (')[0]}", fontsize=11)
    fig.tight_layout()
    fig.savefig(args.plot, dpi=110)
    plt.close(fig)


def add_parser(commands):
    """Register the ``train`` subcommand on an argparse subparsers object."""
    p = commands.add_parser(
        "train",
        help="train the softmax and SVM linear classifiers by mini-batch SGD",
        description="Train fastloss.LinearClassifier (softmax and hinge losses) by mini-batch "
        "SGD on the digits data bundled with scikit-learn (pixels / 16) when it is installed, "
        "a seeded synthetic data set otherwise; print every epoch's mean loss and train/test "
        "accuracy.",
    )
    p.add_argument("--loss", choices=("softmax", "hinge", "both"), default="both",
                   help="which classifier(s) to train (default: %(default)s)")
    p.add_argument("--batch-size", type=int, default=None, help="mini-batch size (default: 200)")
    p.add_argument("--epochs", type=int, default=20, help="passes over the data (default: %(default)s)")
    p.add_argument("--lr", type=float, default=None, help="learning rate (default: 0.5)")
    p.add_argument("--reg", type=float, default=None, help="L2 strength (default: 1e-4)")
    p.add_argument("--data", choices=("auto", "digits", "synthetic"), default="auto",
                   help="data set; auto = digits when scikit-learn is installed (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, init and shuffling")
    p.add_argument("--plot", metavar="FILE",
                   help=f"write a PNG of the per-step loss and its epoch mean for batch sizes "
                   f"{', '.join(map(str, PLOT_BATCH_SIZES))} (needs matplotlib)")
    p.set_defaults(func=cmd_train)
    return p


def cmd_train(args):
    if args.epochs < 1:
        raise SystemExit("--epochs must be >= 1")
    if args.batch_size is not None and args.batch_size < 1:
        raise SystemExit("--batch-size must be >= 1")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise SystemExit("--lr must be a finite number > 0")
    if args.reg is not None and not (math.isfinite(args.reg) and args.reg >= 0):
        raise SystemExit("--reg must be a finite number >= 0")
    train(args)
    return 0
