"""A/B timing of two fastloss builds, interleaved sample by sample.

    python tools/ab_bench.py A_SRC B_SRC [--dtype both] [--repeats 21] [--cases NAME ...]

A_SRC and B_SRC are directories to put first on PYTHONPATH (``src`` of two
checkouts built in place, say the previous commit and this one).  Each runs
in a worker process of its own, one thread (``fl.set_num_threads(1)``), on
the same seeded inputs; the controller asks them for timing samples in turn
(A B B A A B ..., each sample at least 2 ms of calls) so that the machine's
slow and fast phases hit both alike, and prints per case the median time of
each and the ratio B/A with the range of the per-round ratios.  Only the public
API is called (with ``out=`` where a function has it), so any two builds can
be compared.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys

SHAPES = {
    "softmax_cross_entropy": [(128, 10), (4096, 10), (65536, 10), (4096, 100), (1024, 1000),
                              (16384, 1000)],
    "softmax_cross_entropy[soft]": [(128, 10), (4096, 10), (4096, 100), (1024, 1000)],
    "multiclass_hinge": [(128, 10), (4096, 10), (65536, 10), (4096, 100), (1024, 1000),
                         (16384, 1000)],
    "multiclass_hinge[crammer_singer]": [(128, 10), (4096, 10), (4096, 100), (1024, 1000)],
    "softmax": [(128, 10), (4096, 10), (4096, 100), (1024, 1000)],
    "log_softmax": [(128, 10), (4096, 10), (4096, 100), (1024, 1000)],
    "binary_hinge": [(10_000,), (1_000_000,)],
    "sigmoid_cross_entropy": [(10_000,), (1_000_000,)],
    "sigmoid": [(10_000,), (1_000_000,)],
    "sgd_update": [(100_000,), (1_000_000,), (10_000_000,)],
}

WORKER = r'''
import json, sys, time
import numpy as np
import fastloss as fl
fl.set_num_threads(1)
calls = {}

def make(function, dtype, shape):
    rng = np.random.default_rng(0)
    name, _, variant = function.partition("[")
    if name == "sgd_update":
        p = rng.standard_normal(shape).astype(dtype); g = rng.standard_normal(shape).astype(dtype)
        v = np.zeros_like(p)
        return lambda: fl.sgd_update(p, g, lr=1e-3, momentum=0.9, velocity=v)
    if name in ("binary_hinge", "sigmoid_cross_entropy", "sigmoid"):
        s = (3 * rng.standard_normal(shape)).astype(dtype)
        out = np.empty_like(s)
        if name == "sigmoid":
            return lambda: fl.sigmoid(s, out=out)
        if name == "binary_hinge":
            y = np.where(rng.random(shape) < 0.5, -1, 1).astype(np.int64)
            return lambda: fl.binary_hinge(s, y, out=out)
        y = (rng.random(shape) < 0.5).astype(np.int64)
        return lambda: fl.sigmoid_cross_entropy(s, y, out=out)
    n, c = shape
    s = (3 * rng.standard_normal(shape)).astype(dtype)
    out = np.empty_like(s)
    y = rng.integers(0, c, n)
    if name in ("softmax", "log_softmax"):
        f = getattr(fl, name)
        return lambda: f(s, out=out)
    if variant.startswith("soft"):
        t = rng.dirichlet(np.ones(c), n).astype(dtype)
        return lambda: fl.softmax_cross_entropy(s, t, out=out)
    if name == "softmax_cross_entropy":
        return lambda: fl.softmax_cross_entropy(s, y, out=out)
    kw = {"variant": "crammer_singer"} if variant.startswith("crammer") else {}
    return lambda: fl.multiclass_hinge(s, y, out=out, **kw)

for line in sys.stdin:
    msg = json.loads(line)
    if msg["op"] == "setup":
        f = calls[msg["id"]] = make(msg["function"], msg["dtype"], tuple(msg["shape"]))
        for _ in range(3):
            f()
        t0 = time.perf_counter(); f(); one = time.perf_counter() - t0
        reply = {"one": one}
    else:
        f = calls[msg["id"]]
        loops = msg["loops"]
        t0 = time.perf_counter()
        for _ in range(loops):
            f()
        reply = {"t": (time.perf_counter() - t0) / loops}
    sys.stdout.write(json.dumps(reply) + "\n")
    sys.stdout.flush()
'''


class Worker:
    def __init__(self, src):
        env = dict(os.environ, PYTHONPATH=os.pathsep.join(
            p for p in (os.path.abspath(src), os.environ.get("PYTHONPATH")) if p))
        self.proc = subprocess.Popen([sys.executable, "-c", WORKER], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, text=True, env=env)

    def ask(self, **msg):
        self.proc.stdin.write(json.dumps(msg) + "\n")
        self.proc.stdin.flush()
        line = self.proc.stdout.readline()
        if not line:
            raise RuntimeError("worker died")
        return json.loads(line)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("a")
    parser.add_argument("b")
    parser.add_argument("--dtype", choices=("float32", "float64", "both"), default="both")
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--cases", nargs="*", help="functions (default: all)")
    parser.add_argument("--json", help="write the samples here")
    args = parser.parse_args(argv)
    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    a, b = Worker(args.a), Worker(args.b)
    results = []
    print(f"{'function':34} {'dtype':8} {'shape':14} {'A µs':>10} {'B µs':>10} {'B/A':>6}  per-round B/A")
    case_id = 0
    for function, shapes in SHAPES.items():
        if args.cases and function not in args.cases:
            continue
        for dtype in dtypes:
            for shape in shapes:
                case_id += 1
                spec = dict(op="setup", id=case_id, function=function, dtype=dtype, shape=shape)
                one = max(a.ask(**spec)["one"], b.ask(**spec)["one"])
                loops = max(1, int(2e-3 / max(one, 1e-7)))
                ta, tb = [], []
                for r in range(args.repeats):
                    order = (a, b) if r % 2 == 0 else (b, a)
                    for w in order:
                        (ta if w is a else tb).append(w.ask(op="sample", id=case_id, loops=loops)["t"])
                ratios = sorted(y / x for x, y in zip(ta, tb))
                ma, mb = statistics.median(ta), statistics.median(tb)
                q = len(ratios) // 4
                print(f"{function:34} {dtype:8} {str(shape):14} {ma * 1e6:10.2f} {mb * 1e6:10.2f} "
                      f"{mb / ma:6.3f}  [{ratios[q]:.3f}, {ratios[-q - 1]:.3f}]", flush=True)
                results.append(dict(function=function, dtype=dtype, shape=shape, a=ta, b=tb))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main())
