"""Record the outputs of fastloss's public functions, to prove a refactor changes no bit.

A fixed, seeded set of calls -- every public function, float32 and float64,
every option, tiny, odd and wide shapes, rows with ±inf, NaN, huge and shifted
scores -- is run on one kernel build, and every result (losses, gradients,
updated parameters, fitted weights) is saved in one ``.npz`` file.  Two
recordings are then compared bit for bit::

    python tools/record_outputs.py record DIR [--threads N]   # one .npz per ISA build
    python tools/record_outputs.py compare DIR_BEFORE DIR_AFTER

``record`` runs one subprocess per kernel build this CPU can run
(``FASTLOSS_ISA=baseline|avx2|avx512``) with ``N`` threads (default 1), and
writes ``DIR/<isa>-t<N>.npz``.  ``compare`` reports every array that differs
in any bit and exits 1 if one does -- except where the only difference is the
sign or payload of a NaN, which IEEE 754 leaves unspecified (x86 gives a NaN
the sign of whichever NaN operand the compiler put first); those are counted
apart, and ``--nan-bits`` makes them count as differences too.
Run it with the package importable (installed, or ``PYTHONPATH=src`` after
``python setup.py build_ext --inplace``).
"""

from __future__ import annotations

import argparse
import itertools
import os
import subprocess
import sys
import warnings

import numpy as np

DTYPES = ("float32", "float64")
#: (N, C) of the multiclass functions: row-block path, per-row path, in-place
#: heap buffer (C > 1024), every vector tail of every ISA.
SHAPES = [(1, 1), (1, 2), (3, 3), (17, 7), (33, 10), (64, 10), (35, 16), (19, 17), (40, 31),
          (40, 32), (33, 33), (20, 63), (20, 64), (21, 65), (13, 100), (9, 129), (5, 1000),
          (3, 1025), (2, 2100),
          # >= 2**14 elements: split over the threads when recorded with --threads 2
          (2053, 10), (521, 33), (173, 101), (20, 1025)]
#: N of the elementwise functions (vector tails, the binary kernels' 1024 blocks and
#: 16384-label check blocks).
BINARY_N = [1, 7, 16, 33, 1000, 1025, 5000, 20000]
SGD_N = [1, 7, 100, 8193, 20000, 140001]   # the last over SGD's thread threshold (2**17)


def _scores(rng, n, c, dtype, kind):
    """Scores of one kind: plain, spread (rows redone with the max shift), or edge rows."""
    if kind == "plain":
        s = 3.0 * rng.standard_normal((n, c))
    elif kind == "spread":
        s = 30.0 * rng.standard_normal((n, c))
    else:  # edge: one special row per pattern, cycling over the rows
        s = 3.0 * rng.standard_normal((n, c))
        big = 1e4 if dtype == "float32" else 1e300
        for i in range(n):
            pattern = i % 8
            if pattern == 0 and c > 1:
                s[i, (i + 1) % c] = np.inf
            elif pattern == 1:
                s[i, i % c] = -np.inf
            elif pattern == 2:
                s[i] += 1e6
            elif pattern == 3:
                s[i, :: max(1, c // 3)] = big
            elif pattern == 4:
                s[i, :: max(1, c // 2)] = -big
            elif pattern == 5 and c > 2:
                s[i, 1:] = -np.inf
            elif pattern == 6:
                s[i, (2 * i) % c] = np.nan
            # pattern 7: plain
    return s.astype(dtype)


def _labels(rng, n, c):
    return rng.integers(0, c, n)


def _put(out, name, value):
    if value is None:
        return
    arr = np.asarray(value)
    if arr.dtype == object:
        raise TypeError(f"{name}: object array")
    if name in out:
        raise KeyError(f"duplicate case name {name}")
    out[name] = arr.copy()


def _call(out, name, fn, *args, **kwargs):
    """Run a call; store its result (a loss, an array or a (loss, grad) pair) or its error."""
    try:
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            r = fn(*args, **kwargs)
    except Exception as e:  # an error is a result too: the same call must raise the same
        _put(out, name + ":error", np.frombuffer(f"{type(e).__name__}: {e}".encode(), np.uint8))
        return None
    if isinstance(r, tuple):
        for k, part in enumerate(r):
            _put(out, f"{name}:{k}", part)
    else:
        _put(out, name, r)
    return r


def record_multiclass(fl, out):
    rng = np.random.default_rng(1)
    for dtype, (n, c), kind in itertools.product(DTYPES, SHAPES, ("plain", "spread", "edge")):
        s = _scores(rng, n, c, dtype, kind)
        y = _labels(rng, n, c)
        cw = rng.uniform(0.2, 2.0, c)
        sw = rng.uniform(0.0, 3.0, n)
        base = f"{dtype}/{n}x{c}/{kind}"
        # softmax, log_softmax (out of place and in place)
        _call(out, f"softmax/{base}", fl.softmax, s)
        _call(out, f"log_softmax/{base}", fl.log_softmax, s)
        t = s.copy()
        _call(out, f"softmax_inplace/{base}", lambda: fl.softmax(t, out=t))
        t = s.copy()
        _call(out, f"log_softmax_inplace/{base}", lambda: fl.log_softmax(t, out=t))
        # softmax_cross_entropy with hard labels: every option, alone and in pairs
        ce_options = [
            {},
            {"reduction": "sum"},
            {"reduction": "none"},
            {"grad": False},
            {"reduction": "none", "grad": False},
            {"class_weight": cw},
            {"sample_weight": sw},
            {"class_weight": cw, "sample_weight": sw, "reduction": "sum"},
            {"label_smoothing": 0.1},
            {"label_smoothing": 0.1, "class_weight": cw},
            {"label_smoothing": 0.3, "sample_weight": sw, "reduction": "none"},
            {"ignore_index": int(y[0])},
            {"ignore_index": int(y[-1]), "class_weight": cw, "reduction": "none"},
            {"class_weight": cw, "sample_weight": sw},
            {"class_weight": cw, "sample_weight": sw, "label_smoothing": 0.05,
             "ignore_index": int(y[0])},
        ]
        y32 = y.astype(np.int32)
        for k, opts in enumerate(ce_options):
            _call(out, f"sce/{base}/{k}", fl.softmax_cross_entropy, s, y, **opts)
            if k in (0, 2, 5, 8, 11):
                _call(out, f"sce_y32/{base}/{k}", fl.softmax_cross_entropy, s, y32, **opts)
            if opts.get("grad", True):
                t = s.copy()
                _call(out, f"sce_inplace/{base}/{k}",
                      lambda: fl.softmax_cross_entropy(t, y, out=t, **opts))
        # soft targets
        targets = rng.dirichlet(np.ones(c), n).astype(dtype)
        for k, opts in enumerate([{}, {"reduction": "sum"}, {"reduction": "none"},
                                  {"class_weight": cw}, {"sample_weight": sw},
                                  {"label_smoothing": 0.2, "grad": False}]):
            _call(out, f"sce_soft/{base}/{k}", fl.softmax_cross_entropy, s, targets, **opts)
        t = s.copy()
        _call(out, f"sce_soft_inplace/{base}",
              lambda: fl.softmax_cross_entropy(t, targets, out=t))
        # multiclass hinge, both variants
        for variant in ("weston_watkins", "crammer_singer"):
            hinge_options = [
                {},
                {"reduction": "sum"},
                {"reduction": "none"},
                {"grad": False},
                {"squared": True},
                {"margin": 0.0},
                {"margin": 2.5, "squared": True, "reduction": "none"},
                {"class_weight": cw},
                {"sample_weight": sw, "reduction": "sum"},
                {"class_weight": cw, "sample_weight": sw},
                {"class_weight": cw, "sample_weight": sw, "squared": True, "reduction": "none"},
            ]
            for k, opts in enumerate(hinge_options):
                _call(out, f"hinge_{variant}/{base}/{k}", fl.multiclass_hinge, s, y,
                      variant=variant, **opts)
                if k in (0, 4):
                    _call(out, f"hinge_{variant}_y32/{base}/{k}", fl.multiclass_hinge, s, y32,
                          variant=variant, **opts)
                if opts.get("grad", True):
                    t = s.copy()
                    _call(out, f"hinge_{variant}_inplace/{base}/{k}",
                          lambda: fl.multiclass_hinge(t, y, out=t, variant=variant, **opts))


def record_binary(fl, out):
    rng = np.random.default_rng(2)
    for dtype, n in itertools.product(DTYPES, BINARY_N):
        s = (3.0 * rng.standard_normal(n)).astype(dtype)
        if n >= 8:
            s[::7] = 1.0           # kinks of the margin-1 hinge
            s[3] = np.inf
            s[4] = -np.inf
            s[5] = np.nan
        signs = np.where(rng.random(n) < 0.5, -1, 1)
        sw = rng.uniform(0.0, 2.0, n)
        base = f"{dtype}/{n}"
        _call(out, f"sigmoid/{base}", fl.sigmoid, s)
        for ydt in ("int8", "int32", "int64", "float32", "float64"):
            yy = signs.astype(ydt)
            for k, opts in enumerate([{}, {"reduction": "sum"}, {"reduction": "none"},
                                      {"squared": True}, {"margin": 0.5, "grad": False},
                                      {"sample_weight": sw},
                                      {"sample_weight": sw, "squared": True, "reduction": "none"}]):
                if ydt not in ("int8", "int64") and k > 2:
                    continue
                _call(out, f"binary_hinge/{base}/{ydt}/{k}", fl.binary_hinge, s, yy, **opts)
            t = s.copy()
            _call(out, f"binary_hinge_inplace/{base}/{ydt}",
                  lambda: fl.binary_hinge(t, yy, out=t))
        hard = (signs > 0).astype(np.int64)
        soft = rng.random(n)
        for yname, yy in (("hard", hard), ("bool", hard.astype(bool)), ("soft", soft),
                          ("soft32", soft.astype(np.float32))):
            for k, opts in enumerate([{}, {"reduction": "sum"}, {"reduction": "none"},
                                      {"pos_weight": 2.5}, {"sample_weight": sw},
                                      {"pos_weight": 0.5, "sample_weight": sw,
                                       "reduction": "none", "grad": False}]):
                _call(out, f"sigmoid_ce/{base}/{yname}/{k}", fl.sigmoid_cross_entropy, s, yy,
                      **opts)
        t = s.copy()
        _call(out, f"sigmoid_ce_inplace/{base}", lambda: fl.sigmoid_cross_entropy(t, hard, out=t))
    # (N, K) logits: per-column pos weights, per-row and per-element sample weights
    for dtype, (n, k) in itertools.product(DTYPES, [(5, 3), (300, 7), (1100, 20)]):
        x = (4.0 * rng.standard_normal((n, k))).astype(dtype)
        yy = rng.random((n, k))
        pw = rng.uniform(0.5, 3.0, k)
        base = f"{dtype}/{n}x{k}"
        for j, opts in enumerate([{}, {"pos_weight": pw}, {"sample_weight": rng.random(n)},
                                  {"sample_weight": rng.random((n, k)), "reduction": "none"},
                                  {"pos_weight": pw, "reduction": "sum"}]):
            _call(out, f"sigmoid_ce2d/{base}/{j}", fl.sigmoid_cross_entropy, x, yy, **opts)
        _call(out, f"sigmoid2d/{base}", fl.sigmoid, x)


def record_sgd(fl, out):
    rng = np.random.default_rng(3)
    options = [
        {},
        {"weight_decay": 0.01},
        {"maximize": True},
        {"momentum": 0.9},
        {"momentum": 0.9, "dampening": 0.3},
        {"momentum": 0.9, "nesterov": True},
        {"momentum": 0.5, "nesterov": True, "weight_decay": 0.1},
        {"momentum": 0.9, "weight_decay": 0.05, "maximize": True},
    ]
    for dtype, n in itertools.product(DTYPES, SGD_N):
        p0 = rng.standard_normal(n).astype(dtype)
        g = rng.standard_normal(n).astype(dtype)
        for k, opts in enumerate(options):
            p = p0.copy()
            vel = np.full(n, 0.25, dtype) if opts.get("momentum") else None
            for _ in range(3):
                _call(out, f"sgd_update/{dtype}/{n}/{k}/{_}",
                      lambda: fl.sgd_update(p, g, lr=0.05, velocity=vel, **opts))
            _put(out, f"sgd_update_param/{dtype}/{n}/{k}", p)
            if vel is not None:
                _put(out, f"sgd_update_velocity/{dtype}/{n}/{k}", vel)
            # the optimiser: torch's first step, then the rule
            p = p0.reshape(-1, 1).copy() if n > 1 else p0.copy()
            q = p0[::-1].copy()
            opt = fl.SGD([p, q], lr=fl.StepLR(0.1, step_size=2, gamma=0.5), **opts)
            for step in range(4):
                opt.step([np.sin(p + step), np.cos(q)])
            _put(out, f"SGD/{dtype}/{n}/{k}/p", p)
            _put(out, f"SGD/{dtype}/{n}/{k}/q", q)


def record_linear(fl, out):
    rng = np.random.default_rng(4)
    for dtype, (n, d, c) in itertools.product(DTYPES, [(1, 3, 2), (17, 5, 3), (256, 31, 10),
                                                      (40, 7, 100)]):
        W = (0.01 * rng.standard_normal((d, c))).astype(dtype)
        X = rng.standard_normal((n, d)).astype(dtype)
        y = rng.integers(0, c, n)
        base = f"{dtype}/{n}x{d}x{c}"
        for reg in (0.0, 0.5):
            _call(out, f"svm_loss/{base}/{reg}", fl.svm_loss, W, X, y, reg)
            _call(out, f"svm_loss_m2/{base}/{reg}", fl.svm_loss, W, X, y, reg, margin=2.0)
            _call(out, f"softmax_loss/{base}/{reg}", fl.softmax_loss, W, X, y, reg)
    # gradcheck on a fixed seed
    W = 0.01 * rng.standard_normal((5, 3))
    X = rng.standard_normal((8, 5))
    y = rng.integers(0, 3, 8)
    _, dW = fl.softmax_loss(W, X, y, reg=0.1)
    _call(out, "gradcheck", fl.gradcheck, lambda w: fl.softmax_loss(w, X, y, reg=0.1), W, dW,
          seed=0)


def record_classifier(fl, out):
    rng = np.random.default_rng(5)
    centers = rng.standard_normal((4, 6)) * 2
    y = rng.integers(0, 4, 301)
    X = centers[y] + rng.standard_normal((301, 6))
    settings = [
        {},
        {"loss": "hinge"},
        {"momentum": 0.9},
        {"momentum": 0.9, "nesterov": True, "loss": "hinge"},
        {"learning_rate": fl.CosineLR(0.5, total_steps=20)},
        {"learning_rate": fl.InverseScalingLR(0.5, power=0.5), "batch_size": 301},
        {"fit_intercept": False},
        {"shuffle": False, "batch_size": 64},
        {"batch_size": 1, "epochs": 2},
        {"reg": 0.0, "batch_size": 50},
    ]
    for dtype in DTYPES:
        for k, params in enumerate(settings):
            params = {"epochs": 5, "random_state": 0, "dtype": dtype, **params}
            clf = fl.LinearClassifier(**params).fit(X, y)
            base = f"LinearClassifier/{dtype}/{k}"
            _put(out, base + "/coef", clf.coef_)
            _put(out, base + "/intercept", clf.intercept_)
            _put(out, base + "/loss_history", clf.loss_history_)
            _put(out, base + "/decision", clf.decision_function(X))
            _put(out, base + "/predict", clf.predict(X))
            if clf.loss == "softmax":
                _put(out, base + "/proba", clf.predict_proba(X))
        clf = fl.LinearClassifier(random_state=1, dtype=dtype, momentum=0.5)
        for _ in range(3):
            clf.partial_fit(X, y, classes=np.arange(4))
        _put(out, f"LinearClassifier/{dtype}/partial/coef", clf.coef_)
        _put(out, f"LinearClassifier/{dtype}/partial/loss_history", clf.loss_history_)


def record(path, threads):
    import fastloss as fl

    fl.set_num_threads(threads)
    out = {}
    record_multiclass(fl, out)
    record_binary(fl, out)
    record_sgd(fl, out)
    record_linear(fl, out)
    record_classifier(fl, out)
    np.savez_compressed(path, **out)
    print(f"{fl.kernel_isa()}: {len(out)} arrays -> {path}")


def _same(x, y, nan_bits):
    """Bitwise equal; or, without nan_bits, equal but for the sign/payload of NaNs."""
    if x.tobytes() == y.tobytes():
        return True, False
    if nan_bits or x.dtype.kind != "f":
        return False, False
    nx, ny = np.isnan(x), np.isnan(y)
    if not np.array_equal(nx, ny):
        return False, False
    return np.where(nx, 0, x).tobytes() == np.where(ny, 0, y).tobytes(), True


def compare(dir_a, dir_b, nan_bits=False):
    files = sorted(f for f in os.listdir(dir_a) if f.endswith(".npz"))
    if not files:
        raise SystemExit(f"no .npz recordings in {dir_a}")
    failed = False
    for f in files:
        pb = os.path.join(dir_b, f)
        if not os.path.exists(pb):
            print(f"{f}: missing in {dir_b}")
            failed = True
            continue
        a, b = np.load(os.path.join(dir_a, f)), np.load(pb)
        only_a, only_b = set(a.files) - set(b.files), set(b.files) - set(a.files)
        diffs = []
        nan_only = 0
        for name in sorted(set(a.files) & set(b.files)):
            x, y = a[name], b[name]
            if x.dtype != y.dtype or x.shape != y.shape:
                diffs.append(f"{name}: {x.dtype}{x.shape} vs {y.dtype}{y.shape}")
                continue
            same, nan_sign = _same(x, y, nan_bits)
            nan_only += same and nan_sign
            if not same:
                xv = x.reshape(-1).view(np.uint8).reshape(x.size, -1) if x.size else x
                yv = y.reshape(-1).view(np.uint8).reshape(y.size, -1) if y.size else y
                bad = int(np.any(xv != yv, axis=1).sum()) if x.size else 0
                diffs.append(f"{name}: {bad} of {x.size} elements differ")
        status = "identical" if not (diffs or only_a or only_b) else "DIFFERENT"
        nan_note = f" ({nan_only} differ only in the sign of a NaN)" if nan_only else ""
        print(f"{f}: {len(a.files)} arrays, {status}{nan_note}")
        for line in diffs[:40]:
            print("   ", line)
        if len(diffs) > 40:
            print(f"    ... {len(diffs) - 40} more")
        for name in sorted(only_a)[:10]:
            print(f"    only in {dir_a}: {name}")
        for name in sorted(only_b)[:10]:
            print(f"    only in {dir_b}: {name}")
        failed |= bool(diffs or only_a or only_b)
    return 1 if failed else 0


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    rec = sub.add_parser("record", help="record every ISA build's outputs into DIR")
    rec.add_argument("dir")
    rec.add_argument("--threads", type=int, default=1)
    rec.add_argument("--isa", help="only this build (default: every build this CPU runs)")
    one = sub.add_parser("record-one", help=argparse.SUPPRESS)  # the per-ISA subprocess
    one.add_argument("path")
    one.add_argument("--threads", type=int, default=1)
    cmp_ = sub.add_parser("compare", help="compare two recording directories bit for bit")
    cmp_.add_argument("before")
    cmp_.add_argument("after")
    cmp_.add_argument("--nan-bits", action="store_true",
                      help="count a NaN of another sign or payload as a difference")
    args = parser.parse_args(argv)
    if args.cmd == "record-one":
        record(args.path, args.threads)
        return 0
    if args.cmd == "compare":
        return compare(args.before, args.after, args.nan_bits)
    import fastloss as fl

    isas = [args.isa] if args.isa else list(fl.show_config(mode="dicts")["usable_isas"])
    os.makedirs(args.dir, exist_ok=True)
    for isa in isas:
        path = os.path.join(args.dir, f"{isa}-t{args.threads}.npz")
        env = dict(os.environ, FASTLOSS_ISA=isa)
        subprocess.run([sys.executable, __file__, "record-one", path, "--threads",
                        str(args.threads)], env=env, check=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
