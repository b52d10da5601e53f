"""``python -m fastloss bench``: the timing table, its JSON and its chart.

Built on :mod:`fastloss._bench.timing` (the interleaved measurement) and
:mod:`fastloss._bench.peers` (what is timed); see the docstring of
``fastloss.__main__`` for the command.  Imported only when the command runs.
"""

import json
import sys

from . import peers, plotting, timing

#: Columns of the table: the peers (peer / fastloss) and the floors (fastloss / floor).
PEER_COLUMNS = peers.PEERS
FLOOR_COLUMNS = peers.FLOORS


def micro():
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


def _fmt_ratio(r):
    if r is None:
        return "—"
    return f"{r:.0f}x" if r >= 100 else f"{r:.1f}x" if r >= 1 else f"{r:.2f}x"


COLUMNS = (
    # title, width, align
    ("function", 32, "<"),
    ("dtype", 7, "<"),
    ("shape", 12, "<"),
    ("fastloss {u}s", 12, ">"),
    ("ns/elem", 7, ">"),
) + tuple((impl, max(len(impl), 6), ">") for impl in PEER_COLUMNS) + tuple(
    (f"/{floor.removeprefix('floor_')}", 10, ">") for floor in FLOOR_COLUMNS
)


def _line(cells):
    return "  ".join(f"{c:{a}{w}}" for c, (_, w, a) in zip(cells, COLUMNS)).rstrip()


def _table_header():
    u = micro()
    titles = [t.format(u=u) for t, _, _ in COLUMNS]
    head = _line(titles)
    return head + "\n" + "-" * len(head)


def _table_row(r):
    return _line(
        (
            r.function,
            r.dtype,
            str(tuple(r.shape)),
            _fmt_us(r.fastloss.median),
            f"{r.ns_per_element:.2f}",
            *(_fmt_ratio(r.ratio(impl)) for impl in PEER_COLUMNS + FLOOR_COLUMNS),
        )
    )


def _header(env, repeats):
    peers, t = env["peers"], env["threads"]
    threads = {
        "torch": f"{t} thread{'s' * (t > 1)}",
        "sklearn": f"n_threads={t}",
        "jax": "1 thread via XLA_FLAGS" if env["jax_threads"] == "1" else "XLA's default threads",
    }
    installed = [f"{p} {v} ({threads[p]})" for p, v in peers.items() if v is not None and p in threads]
    absent = [p for p, v in peers.items() if v is None]
    return (
        f"fastloss {env['fastloss']}  |  numpy {env['numpy']}  |  Python {env['python']} on "
        f"{env['machine']}\n"
        f"code path: kernel ISA {env['kernel_isa']} (usable: {', '.join(env['available_isas'])}), "
        f"OpenMP {'on' if env['openmp'] else 'off'}, threads {env['fastloss_threads']} "
        f"(arrays below {env['parallel_min_elements']} elements, "
        f"{env['sgd_parallel_min_elements']} for sgd_update, "
        f"{env['adaptive_parallel_min_elements']} for adam_update: 1)\n"
        f"peers: {', '.join(installed) or 'none'}"
        + (f"; not installed: {', '.join(absent)}" if absent else "")
        + "\n"
        f"median time per call of up to {repeats} samples (each >= "
        f"{timing.MIN_SAMPLE_TIME * 1e3:g} ms), all implementations interleaved; fastloss "
        "writes into out=.\n"
        "peer columns: peer time / fastloss time (above 1x: fastloss is faster); /np.exp, "
        "/np.copyto: fastloss time / that one-pass floor.\n"
        "—: peer not installed or without that function. On a shared machine the ratios, "
        "not the absolute times, are the meaningful figures.\n"
    )


def run_training(args):
    """``bench --group training``: a linear classifier's fit per epoch, every peer, interleaved."""
    from . import training

    if args.plot:
        raise SystemExit("--plot draws the kernels group only")
    cases = training.QUICK_CASES if args.quick else training.CASES
    repeats = 3 if args.quick else 5
    env = timing.environment(args.threads)
    print(_header(env, repeats))
    print(f"training: float32 Gaussian class clusters, {training.EPOCHS} epochs a fit, "
          f"lr {training.LR}, L2 {training.REG}; median of {repeats} interleaved fits "
          "(single runs for fits over 20 s)", flush=True)
    results = []
    interrupted = False
    try:
        for line in training.lines(_collect(training.run(cases, repeats=repeats,
                                                         threads=args.threads), results)):
            print(line, flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print("interrupted", file=sys.stderr)
    if args.json and results:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump({"environment": env, "group": "training", "epochs": training.EPOCHS,
                       "results": [r.to_dict() for r in results]}, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    return 130 if interrupted else 0


def _collect(iterable, into):
    for item in iterable:
        into.append(item)
        yield item


def run(args):
    """``bench``: print the timing table (and write it as JSON / plot it if asked)."""
    if getattr(args, "group", "kernels") == "training":
        return run_training(args)
    if args.plot:
        plotting.pyplot()  # fail now, not after the run, if matplotlib is missing

    dtypes = ("float32", "float64") if args.dtype == "both" else (args.dtype,)
    if args.quick:
        cases, repeats = timing.QUICK_CASES, timing.QUICK_REPEATS
        max_time, min_repeats = timing.QUICK_MAX_CASE_TIME, timing.QUICK_MIN_REPEATS
    else:
        cases, repeats = timing.CASES, timing.REPEATS
        max_time, min_repeats = timing.MAX_CASE_TIME, timing.MIN_REPEATS

    only = getattr(args, "function", None)
    if only:
        unknown = sorted(set(only) - set(cases))
        if unknown:
            print(f"--function: unknown {', '.join(unknown)}; one of {', '.join(cases)}",
                  file=sys.stderr)
            return 2
        cases = {f: shapes for f, shapes in cases.items() if f in only}
    impls = getattr(args, "impl", None) or peers.IMPLS
    unknown = sorted(set(impls) - set(peers.IMPLS))
    if unknown:
        print(f"--impl: unknown {', '.join(unknown)}; one of {', '.join(peers.IMPLS)}",
              file=sys.stderr)
        return 2

    peers.pin_jax_threads(args.threads)  # before anything imports jax
    env = timing.environment(args.threads)
    print(_header(env, repeats))
    print(_table_header(), flush=True)

    results = []
    interrupted = False
    try:
        for r in timing.run(cases, dtypes, threads=args.threads, impls=impls, repeats=repeats,
                             min_sample_time=timing.MIN_SAMPLE_TIME, max_time=max_time,
                             min_repeats=min_repeats):
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
                "threads": args.threads,
                "cases": {f: [list(s) for s in shapes] for f, shapes in cases.items()},
                "repeats": repeats,
                "min_repeats": min_repeats,
                "max_case_time_s": max_time,
                "min_sample_time_s": timing.MIN_SAMPLE_TIME,
                "statistic": "median of per-call times",
                "ratios": "peer / fastloss for reference, torch, sklearn, jax; "
                          "fastloss / floor for floor_np.exp, floor_np.copyto",
            },
            "results": [r.to_dict() for r in results],
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=2)
            f.write("\n")
        print(f"\nwrote {args.json}")
    if args.plot and results:
        plotting.speedup_chart(results, args.plot, env)
        print(f"wrote {args.plot}")
    return 130 if interrupted else 0
