"""``python -m fastloss bench``: options, the table, --json, --plot and missing peers.

Every run here is shrunk to a few tiny cases with one or two samples (the
``tiny`` fixture); nothing is asserted about speed.
"""

import json
import os
import sys

import pytest

import fastloss
from fastloss import __main__ as cli
from fastloss._bench import cli as bench_cli
from fastloss._bench import peers as _peers
from fastloss._bench import timing as _timing

TINY_CASES = {
    "softmax_cross_entropy": ((8, 3),),
    "multiclass_hinge": ((8, 3),),
    "sigmoid_cross_entropy": ((16,),),
    "sgd_update": ((16,),),
}


@pytest.fixture
def tiny(monkeypatch):
    """Shrink --quick to TINY_CASES, 2 rounds of short samples; keep XLA_FLAGS as it was."""
    monkeypatch.setattr(_timing, "QUICK_CASES", TINY_CASES)
    monkeypatch.setattr(_timing, "QUICK_REPEATS", 2)
    monkeypatch.setattr(_timing, "QUICK_MIN_REPEATS", 1)
    monkeypatch.setattr(_timing, "MIN_SAMPLE_TIME", 1e-4)
    monkeypatch.setenv("XLA_FLAGS", os.environ.get("XLA_FLAGS", ""))


@pytest.fixture
def no_peers(monkeypatch):
    """Pretend that torch, scikit-learn and JAX are not installed."""
    monkeypatch.setattr(_peers, "installed", lambda peer: peer == "reference")


def _run(argv, capsys):
    code = cli.main(argv)
    return code, capsys.readouterr().out


def _table(out):
    """{(function, dtype, shape): {column title: cell}} from the printed table."""
    lines = out.splitlines()
    head = next(i for i, line in enumerate(lines) if line.startswith("function "))
    titles = [t.format(u=bench_cli.micro()) for t, _, _ in bench_cli.COLUMNS]
    rows = {}
    for line in lines[head + 2:]:
        if not line.strip():
            break
        cells, pos = [], 0
        for _, width, _ in bench_cli.COLUMNS:
            cells.append(line[pos:pos + width].strip())
            pos += width + 2
        row = dict(zip(titles, cells))
        rows[(row["function"], row["dtype"], row["shape"])] = row
    return rows


def test_options_parse():
    args = cli.build_parser().parse_args(
        ["bench", "--quick", "--dtype", "both", "--threads", "2", "--json", "a.json", "--plot", "b.png"])
    assert args.func is cli.cmd_bench
    assert (args.quick, args.dtype, args.threads, args.json, args.plot) == (True, "both", 2, "a.json", "b.png")
    args = cli.build_parser().parse_args(["bench"])
    assert (args.quick, args.dtype, args.threads, args.json, args.plot) == (False, "float32", 1, None, None)


@pytest.mark.parametrize("value", ["0", "-1", "two"])
def test_threads_must_be_positive(value, capsys):
    with pytest.raises(SystemExit) as e:
        cli.build_parser().parse_args(["bench", "--threads", value])
    assert e.value.code == 2
    assert "--threads" in capsys.readouterr().err


def test_full_run_has_the_target_cases():
    for shape in ((128, 10), (4096, 10), (65536, 10), (4096, 100), (1024, 1000), (16384, 1000)):
        assert shape in _timing.CASES["softmax_cross_entropy"]
    for shape in ((4096, 10), (4096, 100), (1024, 1000)):
        assert shape in _timing.CASES["multiclass_hinge"]
    assert _timing.CASES["sgd_update"] == ((100_000,), (1_000_000,), (10_000_000,))
    for f in ("binary_hinge", "sigmoid_cross_entropy"):
        assert (1_000_000,) in _timing.CASES[f]
    assert set(_timing.CASES) == set(_peers.FUNCTIONS)


def test_quick_run_without_peers(tiny, no_peers, capsys):
    code, out = _run(["bench", "--quick"], capsys)
    assert code == 0
    assert f"kernel ISA {fastloss.kernel_isa()}" in out
    assert "peers: none; not installed: torch, sklearn, jax" in out
    rows = _table(out)
    assert list(rows) == [(f, "float32", str(s[0])) for f, s in TINY_CASES.items()]
    for (function, _, _), row in rows.items():
        assert row["reference"].endswith("x")
        for peer in ("torch", "sklearn", "jax"):
            assert row[peer] == "—"
        floor = "/" + _peers.FUNCTIONS[function].removeprefix("floor_")
        other = ({"/np.exp", "/np.copyto"} - {floor}).pop()
        assert row[floor].endswith("x") and row[other] == "—"
        assert float(row["ns/elem"]) > 0


def test_default_command_is_bench(tiny, no_peers, capsys):
    code, out = _run(["--quick", "--dtype", "float64"], capsys)
    assert code == 0
    assert {dtype for _, dtype, _ in _table(out)} == {"float64"}


def test_threads_option(tiny, no_peers, capsys):
    before = fastloss.get_num_threads()
    code, out = _run(["bench", "--quick", "--threads", "2"], capsys)
    assert code == 0
    with fastloss.threads(2):
        expected = fastloss.get_num_threads()  # 1 without OpenMP
    assert f"threads {expected} " in out
    assert fastloss.get_num_threads() == before  # the process's setting is restored


def test_json(tiny, no_peers, tmp_path, capsys):
    path = tmp_path / "bench.json"
    code, out = _run(["bench", "--quick", "--dtype", "both", "--json", str(path)], capsys)
    assert code == 0 and f"wrote {path}" in out
    doc = json.loads(path.read_text())
    env = doc["environment"]
    assert env["kernel_isa"] == fastloss.kernel_isa() and env["threads"] == 1
    assert env["peers"] == {"reference": fastloss.__version__, "torch": None, "sklearn": None, "jax": None}
    assert doc["settings"]["threads"] == 1 and doc["settings"]["dtypes"] == ["float32", "float64"]
    assert len(doc["results"]) == 2 * len(TINY_CASES)
    for r in doc["results"]:
        assert set(r["timings"]) == {"fastloss", "reference", _peers.FUNCTIONS[r["function"]]}
        assert all(t["median_us"] > 0 and len(t["samples_us"]) == 2 for t in r["timings"].values())
        assert r["status"]["torch"] == r["status"]["jax"] == "not installed"
        assert r["ratios"]["torch"] is None and r["ratios"]["reference"] > 0
        assert r["fastloss_ns_per_element"] > 0


def test_plot_writes_png(tiny, no_peers, tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "speedups.png"
    code, out = _run(["bench", "--quick", "--plot", str(path)], capsys)
    assert code == 0 and f"wrote {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_without_matplotlib_fails_before_timing(tiny, no_peers, monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    with pytest.raises(SystemExit, match=r"--plot needs matplotlib: pip install 'fastloss\[plot\]'"):
        cli.main(["bench", "--quick", "--plot", str(tmp_path / "x.png")])
    assert "function" not in capsys.readouterr().out


def test_peers_are_timed_interleaved_with_fastloss(monkeypatch):
    """One time_interleaved call per case, holding fastloss and every applicable implementation."""
    calls = []
    real = _timing.time_interleaved

    def spy(funcs, **kw):
        funcs = list(funcs)
        calls.append(len(funcs))
        return real(funcs, **dict(kw, repeats=1, min_sample_time=1e-5))

    monkeypatch.setattr(_timing, "time_interleaved", spy)
    monkeypatch.setattr(_peers, "installed", lambda peer: peer == "reference")
    r = _timing.run_case(_peers.Problem("multiclass_hinge", "float32", (4, 3)))
    assert calls == [3] and list(r.timings) == ["fastloss", "reference", "floor_np.copyto"]
    assert r.missing == {"torch": "not installed", "sklearn": "not installed", "jax": "not installed",
                         "floor_np.exp": "not applicable"}


@pytest.mark.parametrize("peer", ["torch", "sklearn"])
def test_installed_peer_gets_a_ratio(peer, tiny, capsys):
    pytest.importorskip(peer)
    code, out = _run(["bench", "--quick"], capsys)
    assert code == 0
    assert {"torch": "(1 thread)", "sklearn": "(n_threads=1)"}[peer] in out
    row = _table(out)[("softmax_cross_entropy", "float32", "(8, 3)")]
    assert row[peer].endswith("x")
    hinge = _table(out)[("multiclass_hinge", "float32", "(8, 3)")]
    assert hinge["sklearn"] == "—"  # scikit-learn has no multiclass hinge


def test_training_group_runs_every_peer_on_a_tiny_problem():
    """The training benchmark's peers all fit and score (those installed); no timing asserted."""
    from fastloss._bench import training

    p = training.problem(300, 12, 3)
    results = list(training.run_case(p, "softmax", 64, repeats=1))
    names = [r.peer for r in results]
    assert names[:2] == ["fastloss", "numpy"]
    for r in results:
        assert r.ms_per_epoch > 0 and 0.0 <= r.accuracy <= 1.0, r
    fast = {r.peer: r.accuracy for r in results}
    # the engine and its twin: the same model up to rounding (a near-tie may flip a row)
    assert abs(fast["fastloss"] - fast["numpy"]) <= 2 / p.y_test.shape[0]
    text = "\n".join(training.lines(results))
    assert "fastloss" in text and "/fastloss" in text


def test_training_group_option(monkeypatch, capsys):
    from fastloss import __main__ as main
    from fastloss._bench import training

    monkeypatch.setattr(training, "QUICK_CASES", ((200, 8, 3, (50,)),))
    monkeypatch.setattr(training, "PEERS", ("fastloss", "numpy"))
    assert main.main(["bench", "--group", "training", "--quick"]) == 0
    out = capsys.readouterr().out
    assert "N=200 D=8 C=3" in out and "numpy" in out


def test_function_option_selects_cases(tiny, no_peers, capsys, monkeypatch):
    monkeypatch.setitem(_timing.QUICK_CASES, "huber", ((16,), (4, 5)))
    code, out = _run(["bench", "--quick", "--function", "huber", "--function", "sgd_update"], capsys)
    assert code == 0
    assert list(_table(out)) == [("sgd_update", "float32", "(16,)"), ("huber", "float32", "(16,)"),
                                 ("huber", "float32", "(4, 5)")]
    code = cli.main(["bench", "--quick", "--function", "no_such_loss"])
    assert code == 2 and "--function: unknown no_such_loss" in capsys.readouterr().err


def test_impl_option_selects_implementations(tiny, capsys):
    code, out = _run(["bench", "--quick", "--function", "sgd_update", "--impl", "floor_np.copyto"],
                     capsys)
    assert code == 0
    row = _table(out)[("sgd_update", "float32", "(16,)")]
    assert row["reference"] == row["torch"] == "—" and row["/np.copyto"].endswith("x")
    code = cli.main(["bench", "--quick", "--impl", "numba"])
    assert code == 2 and "--impl: unknown numba" in capsys.readouterr().err
