"""Command line: ``python -m fastloss [command] [options]``.

Commands
--------
``bench`` (the default when no command is given)
    Time every kernel -- ``softmax_cross_entropy``, ``multiclass_hinge``,
    ``softmax``, ``log_softmax`` -- against its plain-NumPy twin in
    :mod:`fastloss.reference` on a few shapes, and print a table of the median
    time per call of each, the speed-up (reference / fastloss) and fastloss's
    nanoseconds per element.  The fastloss calls write into a preallocated
    ``out=`` buffer; the reference is called as a user would call it.

    The measurement (see :mod:`fastloss._timing`) interleaves the samples of
    fastloss and of the reference so that machine noise hits both.  On a
    shared machine absolute times drift from run to run; the **ratios** are
    the meaningful figures.

    Options: ``--quick`` (two shapes, fewer samples: a few seconds),
    ``--dtype float32|float64|both`` (default float32), ``--json FILE``
    (also write every figure, with versions and machine, as JSON).

    The environment variable ``FASTLOSS_ISA`` (``baseline``, ``avx2``,
    ``avx512``) times a given kernel build instead of the one chosen for this
    CPU.

``train``
    Train :class:`fastloss.LinearClassifier` with the softmax and the hinge
    loss by mini-batch SGD on the digits data bundled with scikit-learn (an
    optional extra; a seeded synthetic set of the same shape otherwise) and
    print each epoch's mean loss and train/test accuracy.  Options:
    ``--loss softmax|hinge|both``, ``--batch-size``, ``--epochs``, ``--lr``,
    ``--reg``, ``--data auto|digits|synthetic``, ``--seed`` and ``--plot FILE``
    (a PNG of the per-step loss with its per-epoch mean for several batch
    sizes; needs matplotlib).  See :mod:`fastloss._train`.
"""

import argparse
import json
import sys

import numpy as np

DEFAULT_COMMAND = "bench"


def _micro():
    """"µs" if stdout can print it, else "us"."""
    try:
        "µ".encode(sys.stdout.encoding or "ascii")
    except (UnicodeEncodeError, LookupError):
        return "u"
    return "µ"


def _fmt_us(seconds):
    us = seconds * 1e6
    if us >= 100:
        return f"{us:,.0f}"
    if us >= 10:
        return f"{us:.1f}"
    return f"{us:.2f}"


_COLUMNS = (
    # title, width, align
    ("kernel", 21, "<"),
    ("dtype", 7, "<"),
    ("shape", 11, "<"),
    ("fastloss {u}s", 12, ">"),
    ("reference {u}s", 13, ">"),
    ("speed-up", 8, ">"),
    ("ns/elem", 7, ">"),
)


def _line(cells):
    return "  ".join(f"{c:{a}{w}}" for c, (_, w, a) in zip(cells, _COLUMNS)).rstrip()


def _table_header():
    u = _micro()
    titles = [t.format(u=u) for t, _, _ in _COLUMNS]
    head = _line(titles)
    return head + "\n" + "-" * len(head)


def _table_row(r):
    return _line(
        (
            r.kernel,
            r.dtype,
            f"({r.shape[0]}, {r.shape[1]})",
            _fmt_us(r.fastloss.median),
            _fmt_us(r.reference.median),
            f"{r.speedup:.1f}x",
            f"{r.ns_per_element:.2f}",
        )
    )


def cmd_bench(args):
    """``bench``: print the timing table (and write it as JSON if asked)."""
    from . import _timing

    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    shapes = _timing.QUICK_SHAPES if args.quick else _timing.SHAPES
    repeats = _timing.QUICK_REPEATS if args.quick else _timing.REPEATS

    env = _timing.environment()
    print(
        f"fastloss {env['fastloss']}  |  numpy {env['numpy']}  |  kernel ISA: {env['kernel_isa']}"
        f" (usable: {', '.join(env['available_isas'])})  |  Python {env['python']}"
        f" on {env['machine']}"
    )
    print(
        f"median time per call of {repeats} samples (each >= "
        f"{_timing.MIN_SAMPLE_TIME * 1e3:g} ms), fastloss and reference interleaved; "
        "fastloss writes into out=.\n"
        "speed-up = reference / fastloss. On a shared machine the ratios, not the "
        "absolute times, are the meaningful figures.\n"
    )
    print(_table_header(), flush=True)

    results = []
    interrupted = False
    try:
        for r in _timing.run(_timing.KERNELS, dtypes, shapes, repeats=repeats):
            results.append(r)
            print(_table_row(r), flush=True)
    except KeyboardInterrupt:  # keep (and write) what was measured
        interrupted = True
        print("interrupted", file=sys.stderr)

    if args.json and results:
        doc = {
            "environment": env,
            "settings": {
                "quick": args.quick,
                "dtypes": list(dtypes),
                "shapes": [list(s) for s in shapes],
                "repeats": repeats,
                "min_sample_time_s": _timing.MIN_SAMPLE_TIME,
                "statistic": "median of per-call times",
                "speedup": "reference / fastloss",
            },
            "results": [r.to_dict() for r in results],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    return 130 if interrupted else 0


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
        help="time every kernel against the NumPy reference (default)",
        description="Time every fastloss kernel against its NumPy reference twin and "
        "print the median time per call, the speed-up (reference / fastloss) and "
        "fastloss's ns per element. On a shared machine the ratios, not the absolute "
        "times, are the meaningful figures.",
        epilog="FASTLOSS_ISA=baseline|avx2|avx512 in the environment times that kernel "
        "build instead of the one chosen for this CPU.",
    )
    bench.add_argument(
        "--quick",
        action="store_true",
        help="two shapes, (128, 10) and (4096, 100), and fewer samples: a few seconds",
    )
    bench.add_argument(
        "--dtype",
        choices=("float32", "float64", "both"),
        default="float32",
        help="dtype of the scores (default: %(default)s)",
    )
    bench.add_argument(
        "--json", metavar="FILE", help="also write every figure, with versions, to FILE as JSON"
    )
    bench.set_defaults(func=cmd_bench)

    from . import _train

    _train.add_parser(commands)
    return parser


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
