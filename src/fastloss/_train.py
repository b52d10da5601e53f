"""``python -m fastloss train``: train the linear classifiers at several batch sizes.

The data are scikit-learn's bundled digits (1797 8x8 images, pixels / 16)
when scikit-learn is installed, a seeded synthetic set of the same shape
otherwise.  For each loss and each batch size (32, 64, 128, 256 by default)
a classifier is trained epoch by epoch (``partial_fit``, the same steps as
``fit``) with the same learning rate (held, not scaled with the batch size),
and a table gives each batch size's final loss, train / test accuracy and
time.  With ``plot``, a PNG (matplotlib, imported only then): one panel per
batch size with the per-step loss and its per-epoch mean drawn at the
middle of its epoch, and below them the test accuracy after every epoch.
"""

import argparse
import math
import time

import numpy as np

from .classifier import LinearClassifier

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


#: Batch sizes trained by default (and drawn by ``--plot``).
BATCH_SIZES = (32, 64, 128, 256)


class Run:
    """One classifier trained epoch by epoch, with what the table and the plot show."""

    def __init__(self, loss, batch_size, clf, step_loss, epoch_loss, train_acc, test_acc, seconds):
        self.loss, self.batch_size, self.clf = loss, batch_size, clf
        self.step_loss, self.epoch_loss = step_loss, epoch_loss
        self.train_acc, self.test_acc, self.seconds = train_acc, test_acc, seconds

    @property
    def steps_per_epoch(self):
        return len(self.step_loss) // len(self.epoch_loss)


def fit_epochs(loss, batch_size, args, Xtr, ytr, Xte, yte, classes):
    """Train ``args.epochs`` epochs by partial_fit; the test accuracy after each (a :class:`Run`)."""
    clf = LinearClassifier(loss, **_hyper(args), batch_size=batch_size, random_state=args.seed)
    train_acc, test_acc, seconds = [], [], 0.0
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        clf.partial_fit(Xtr, ytr, classes=classes)
        seconds += time.perf_counter() - t0
        train_acc.append(clf.score(Xtr, ytr))
        test_acc.append(clf.score(Xte, yte))
    return Run(loss, batch_size, clf, clf.loss_history_, clf.epoch_loss_, np.array(train_acc),
               np.array(test_acc), seconds)


def lr_note(args):
    """How the learning rate goes with the batch size (said in the table and on the plot)."""
    lr = args.lr if args.lr is not None else LinearClassifier().learning_rate
    return f"learning rate {lr:g} for every batch size (held, not scaled with the batch size)"


def train(args, out=print):
    """Train, print the table; returns the runs as {loss: [Run per batch size]}."""
    Xtr, Xte, ytr, yte, desc = load_data(args.data, args.seed)
    out(f"data: {desc}: {len(ytr)} train / {len(yte)} test samples, {Xtr.shape[1]} features, "
        f"{len(np.unique(ytr))} classes")
    losses = ("softmax", "hinge") if args.loss == "both" else (args.loss,)
    sizes = args.batch_size
    classes = np.unique(np.concatenate([ytr, yte]))
    reg = args.reg if args.reg is not None else LinearClassifier().reg
    out(f"{lr_note(args)}; reg {reg:g}; {args.epochs} epochs; seed {args.seed}")
    runs = {}
    for loss in losses:
        out(f"\n{loss}:")
        out(f"{'batch':>5}  {'steps/epoch':>11}  {'last epoch loss':>15}  {'train acc':>9}  "
            f"{'test acc':>8}  {'time':>9}")
        runs[loss] = []
        for b in sizes:
            r = fit_epochs(loss, b, args, Xtr, ytr, Xte, yte, classes)
            runs[loss].append(r)
            out(f"{b:5d}  {r.steps_per_epoch:11d}  {r.epoch_loss[-1]:15.5f}  "
                f"{r.train_acc[-1]:9.4f}  {r.test_acc[-1]:8.4f}  {r.seconds * 1e3:6.1f} ms")
    if args.plot:
        plot(args, runs, desc)
        out(f"\nwrote {args.plot}")
    return runs


def _hyper(args):
    kw = {"epochs": args.epochs}
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


#: The colour of each batch size in the accuracy plot (not those of the losses).
BATCH_COLORS = ("C0", "C1", "C2", "C3", "C6", "C7", "C8", "C9")


def plot(args, runs, desc):
    """PNG: a panel per batch size (per-step loss, epoch means), the test accuracy below."""
    plt = pyplot()
    sizes = [r.batch_size for r in next(iter(runs.values()))]
    ncol = len(sizes)
    fig = plt.figure(figsize=(3.4 * ncol + 0.6, 7.6))
    grid = fig.add_gridspec(2, ncol, height_ratios=(1.25, 1.0))
    first = None
    colors = {"softmax": "C4", "hinge": "C5"}  # the batch sizes' colours below are others
    for j, b in enumerate(sizes):
        ax = fig.add_subplot(grid[0, j], sharex=first, sharey=first)
        first = first or ax
        for loss, rs in runs.items():
            r = rs[j]
            spe = r.steps_per_epoch
            x_step = (np.arange(len(r.step_loss)) + 0.5) / spe  # step k of epoch e at e + (k + ½)/S
            x_epoch = np.arange(len(r.epoch_loss)) + 0.5         # an epoch's mean at its middle
            ax.plot(x_step, r.step_loss, color=colors[loss], lw=0.5, alpha=0.35,
                    label=f"{loss}: loss of each step")
            ax.plot(x_epoch, r.epoch_loss, color=colors[loss], lw=1.8, marker="o", ms=2.5,
                    label=f"{loss}: mean over the epoch")
        ax.set_title(f"batch {b} ({next(iter(runs.values()))[j].steps_per_epoch} steps/epoch)",
                     fontsize=10)
        ax.set_yscale("log")
        ax.set_xlabel("epoch")
        if j == 0:
            ax.set_ylabel("loss (data + L2)")
        else:
            ax.tick_params(labelleft=False)
        ax.grid(alpha=0.3)
    handles, labels = first.get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=len(labels), fontsize=8,
               bbox_to_anchor=(0.5, 0.955), frameon=False)
    acc = fig.add_subplot(grid[1, :], sharex=first)
    styles = {"softmax": "-", "hinge": "--"}
    for loss, rs in runs.items():
        for j, r in enumerate(rs):
            acc.plot(np.arange(1, len(r.test_acc) + 1), r.test_acc, styles[loss],
                     color=BATCH_COLORS[j % len(BATCH_COLORS)],
                     marker="o", ms=2.5, lw=1.3, label=f"{loss}, batch {r.batch_size}")
    acc.set_xlabel("epoch")
    acc.set_ylabel("test accuracy (after the epoch)")
    acc.set_title("test accuracy per epoch", fontsize=10)
    acc.grid(alpha=0.3)
    acc.legend(fontsize=8, ncol=len(runs), loc="lower right")
    first.set_xlim(0, args.epochs)
    fig.suptitle(f"fastloss.LinearClassifier, mini-batch SGD on {desc.split(' (')[0]}: "
                 f"{lr_note(args)}", fontsize=11)
    fig.tight_layout(rect=(0, 0, 1, 0.93))
    fig.savefig(args.plot, dpi=110)
    plt.close(fig)


def batch_sizes(text):
    """``--batch-size``: one size or a comma-separated list, each >= 1 (argparse type)."""
    try:
        sizes = tuple(int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected integers separated by commas, got {text!r}") from None
    return sizes


def add_parser(commands):
    """Register the ``train`` subcommand on an argparse subparsers object."""
    p = commands.add_parser(
        "train",
        help="train the softmax and SVM linear classifiers by mini-batch SGD at several batch sizes",
        description="Train fastloss.LinearClassifier (softmax and hinge losses) by mini-batch "
        "SGD on the digits data bundled with scikit-learn (pixels / 16) when it is installed, "
        "a seeded synthetic data set otherwise, at each batch size with the same learning rate; "
        "print each batch size's final loss, train/test accuracy and time.",
    )
    p.add_argument("--loss", choices=("softmax", "hinge", "both"), default="both",
                   help="which classifier(s) to train (default: %(default)s)")
    p.add_argument("--batch-size", type=batch_sizes, default=BATCH_SIZES, metavar="B[,B...]",
                   help="mini-batch sizes, comma-separated (default: "
                   f"{','.join(map(str, BATCH_SIZES))})")
    p.add_argument("--epochs", type=int, default=20, help="passes over the data (default: %(default)s)")
    p.add_argument("--lr", type=float, default=None,
                   help="learning rate, the same for every batch size (default: 0.5)")
    p.add_argument("--reg", type=float, default=None, help="L2 strength (default: 1e-4)")
    p.add_argument("--data", choices=("auto", "digits", "synthetic"), default="auto",
                   help="data set; auto = digits when scikit-learn is installed (default: %(default)s)")
    p.add_argument("--seed", type=int, default=0, help="seed of the split, init and shuffling")
    p.add_argument("--plot", metavar="FILE",
                   help="write a PNG: per batch size the per-step loss and its epoch means, and "
                   "the test accuracy per epoch (needs matplotlib)")
    p.set_defaults(func=cmd_train)
    return p


def cmd_train(args):
    if args.epochs < 1:
        raise SystemExit("--epochs must be >= 1")
    if any(b < 1 for b in args.batch_size):
        raise SystemExit("--batch-size must be >= 1")
    if args.lr is not None and not (math.isfinite(args.lr) and args.lr > 0):
        raise SystemExit("--lr must be a finite number > 0")
    if args.reg is not None and not (math.isfinite(args.reg) and args.reg >= 0):
        raise SystemExit("--reg must be a finite number >= 0")
    train(args)
    return 0
