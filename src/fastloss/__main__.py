"""Command line: ``python -m fastloss [command] [options]``.

Commands
--------
``info``
    Print the version and configuration (``fastloss.show_config()``): the
    kernel build in use and how it was chosen, the builds this CPU can run,
    the compiler and flags, OpenMP state.  ``--json`` for machine reading.

``bench`` (the default when no command is given)
    Time every kernel -- ``softmax_cross_entropy`` (also with soft targets),
    ``multiclass_hinge`` (also Crammer–Singer), ``softmax``, ``log_softmax``,
    ``binary_hinge``, ``sigmoid_cross_entropy``, ``sigmoid``, the distance
    losses ``squared_error``, ``absolute_error``, ``huber``, ``smooth_l1`` -- and
    ``sgd_update`` and ``adam_update`` against its plain-NumPy twin in :mod:`fastloss.reference`,
    against PyTorch, scikit-learn and JAX when they are installed, and against
    a one-pass floor (``np.exp`` or ``np.copyto`` over the same array), on the
    issue's target shapes (softmax cross-entropy and hinge at (128, 10),
    (4096, 10), (65536, 10), (4096, 100), (1024, 1000), (16384, 1000); the
    other multiclass kernels on the first, second, fourth and fifth of these;
    N = 1e4 and 1e6 for the elementwise ones, and (4096, 100) for the
    distance losses; 1e5, 1e6, 1e7 parameters for ``sgd_update`` and
    ``adam_update``).  Prints, per case, fastloss's median time per call and
    per element, **peer time / fastloss time** for each peer (above 1x
    fastloss is faster; "—" where the peer is not installed or has no such
    function) and **fastloss time / floor time**; the header names the code
    path (the kernel build, ``fastloss.kernel_isa()``, OpenMP and the threads)
    and the peers' versions.  What each peer computes exactly (forward and
    backward, per-row or mean) is in :mod:`fastloss._bench.peers`.  fastloss writes
    into a preallocated ``out=`` buffer; the reference is called as a user
    would call it.

    The measurement (see :mod:`fastloss._bench.timing`) interleaves the samples of
    all implementations of a case so that machine noise hits all alike.  On a
    shared machine absolute times drift from run to run; the **ratios** are
    the meaningful figures.  The full run takes a few minutes.

    Options: ``--quick`` (shapes (128, 10) and (4096, 100), N = 1e6, fewer
    samples: well under a minute), ``--dtype float32|float64|both`` (default
    float32), ``--threads N`` (threads of fastloss, torch and scikit-learn;
    default 1, as the targets are single-threaded), ``--json FILE`` (also
    write every figure, with versions, machine and code path, as JSON),
    ``--plot FILE`` (a PNG bar chart of fastloss's speed-up over each peer,
    per case, log scale; needs matplotlib: ``pip install 'fastloss[plot]'``),
    ``--function NAME`` (only that function's cases; repeat it for several),
    ``--impl NAME`` (fastloss against only that implementation; repeatable).

    JAX reads its thread settings once, at import: with ``--threads 1``,
    ``XLA_FLAGS`` asks it for one thread (unless it is already set); with
    more, it runs with XLA's default.  The environment variable
    ``FASTLOSS_ISA`` (``baseline``, ``avx2``, ``avx512``) times a given kernel
    build instead of the one chosen for this CPU.

    ``--interop`` times the drop-ins of :mod:`fastloss.torch` and
    :mod:`fastloss.jax` instead (forward + backward with every wrapper
    overhead, against ``torch.nn.functional`` and the same losses written in
    ``jax.numpy`` under ``jax.jit(jax.value_and_grad(...))``), and the
    overhead of each drop-in over the bare NumPy API; see
    :mod:`fastloss._bench.interop`.

``train``
    Train :class:`fastloss.LinearClassifier` with the softmax and the hinge
    loss by mini-batch SGD at batch sizes 32, 64, 128 and 256 (the same
    learning rate for each) on the digits data bundled with scikit-learn (an
    optional extra; a seeded synthetic set of the same shape otherwise) and
    print, per batch size, the last epoch's loss, train/test accuracy and
    time.  Options: ``--loss softmax|hinge|both``, ``--batch-size B[,B...]``,
    ``--epochs``, ``--lr``, ``--reg``, ``--data auto|digits|synthetic``,
    ``--seed`` and ``--plot FILE`` (a PNG: a panel per batch size with the
    per-step loss and its epoch means, and the test accuracy per epoch; needs
    matplotlib).  See :mod:`fastloss._train`.
"""

import argparse
import json
import sys

import numpy as np

DEFAULT_COMMAND = "bench"


def _positive_int(text):
    """argparse type: an int >= 1."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {value}")
    return value


def cmd_bench(args):
    """``bench``: the timing table (fastloss._bench.cli, imported only now)."""
    if getattr(args, "interop", False):
        from ._bench import interop

        return interop.main(args)
    from ._bench import cli

    return cli.run(args)


def build_parser():
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="python -m fastloss",
        description="fastloss: fused loss + gradient kernels for NumPy.",
        epilog=f"Without a command, runs '{DEFAULT_COMMAND}' (its options may be given "
        f"directly: python -m fastloss --quick).",
    )
    parser.add_argument(
        "--version",
        action="version",
        version=f"fastloss {__version__} (numpy {np.__version__})",
    )
    commands = parser.add_subparsers(dest="command", metavar="command")

    bench = commands.add_parser(
        "bench",
        help="time every kernel against the NumPy reference, torch, scikit-learn, JAX (default)",
        description="Time every fastloss kernel and sgd_update against its NumPy reference "
        "twin and, when installed, PyTorch, scikit-learn and JAX, and against the np.exp / "
        "np.copyto floors, interleaved. Prints fastloss's time per call and per element, "
        "peer time / fastloss time for each peer and fastloss time / floor time. On a shared "
        "machine the ratios, not the absolute times, are the meaningful figures.",
        epilog="FASTLOSS_ISA=baseline|avx2|avx512 in the environment times that kernel "
        "build instead of the one chosen for this CPU. JAX reads its thread settings at "
        "import: with --threads 1 XLA_FLAGS asks it for one thread, otherwise it runs with "
        "XLA's default.",
    )
    bench.add_argument(
        "--group",
        choices=("kernels", "training"),
        default="kernels",
        help="kernels: every loss kernel and sgd_update (default); training: a linear "
        "classifier's fit end to end, per epoch, against the NumPy loop, torch and "
        "scikit-learn, with test accuracy",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="shapes (128, 10) and (4096, 100), N = 1e6 for the elementwise functions and "
        "sgd_update, and fewer samples: well under a minute",
    )
    bench.add_argument(
        "--dtype",
        choices=("float32", "float64", "both"),
        default="float32",
        help="dtype of the scores (default: %(default)s)",
    )
    bench.add_argument(
        "--threads",
        type=_positive_int,
        default=1,
        metavar="N",
        help="threads of fastloss, torch and scikit-learn (default: %(default)s)",
    )
    bench.add_argument(
        "--function",
        action="append",
        metavar="NAME",
        help="time only this function (repeat for several; e.g. adam_update, huber, "
        "softmax_cross_entropy[soft]); default: every one",
    )
    bench.add_argument(
        "--impl",
        action="append",
        metavar="NAME",
        help="time fastloss against only this implementation (repeat for several: reference, "
        "torch, sklearn, jax, floor_np.exp, floor_np.copyto); default: every one",
    )
    bench.add_argument(
        "--json", metavar="FILE", help="also write every figure, with versions, to FILE as JSON"
    )
    bench.add_argument(
        "--plot",
        metavar="FILE",
        help="also draw fastloss's speed-up over each peer, per case, as a PNG bar chart "
        "(needs matplotlib: pip install 'fastloss[plot]')",
    )
    bench.add_argument(
        "--interop",
        action="store_true",
        help="instead: fastloss.torch and fastloss.jax (forward + backward, all wrapper "
        "overhead) against torch.nn.functional and the jax.numpy losses, with the eager "
        "overhead over the bare NumPy API (--dtype, --threads, --quick, --json apply)",
    )
    bench.set_defaults(func=cmd_bench)

    info = commands.add_parser(
        "info",
        help="print the version, the kernel build in use, compiler, flags and OpenMP state",
        description="Print fastloss's version and configuration (as fastloss.show_config()).",
    )
    info.add_argument("--json", action="store_true", help="print it as JSON instead")
    info.set_defaults(func=cmd_info)

    from . import _train

    _train.add_parser(commands)
    return parser


def cmd_info(args):
    from ._config import show_config

    if args.json:
        print(json.dumps(show_config(mode="dicts"), indent=2))
    else:
        show_config()
    return 0


def main(argv=None):
    parser = build_parser()
    argv = list(sys.argv[1:] if argv is None else argv)
    # No command, or only options: the default command (top-level -h and
    # --version stay with the top-level parser).
    if not argv or (argv[0].startswith("-") and argv[0] not in ("-h", "--help", "--version")):
        argv.insert(0, DEFAULT_COMMAND)
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except BrokenPipeError:  # output piped into head & co.: stop quietly
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
