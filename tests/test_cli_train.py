"""``python -m fastloss train``: runs, reports every epoch, writes the plot."""

import os
import subprocess
import sys

import pytest

import fastloss
from fastloss import __main__ as cli
from fastloss import _train

# where the fastloss under test was imported from (an in-place build or an installed copy)
PACKAGE_PARENT = os.path.dirname(os.path.dirname(os.path.abspath(fastloss.__file__)))


def _run(argv, capsys):
    code = cli.main(argv)
    return code, capsys.readouterr().out


def test_train_synthetic_both_losses(capsys):
    code, out = _run(["train", "--data", "synthetic", "--epochs", "3"], capsys)
    assert code == 0
    assert "data: synthetic" in out
    for loss in ("softmax", "hinge"):
        assert f"\n{loss}: batch_size=200 learning_rate=0.5 reg=0.0001 epochs=3" in out
    rows = [line.split() for line in out.splitlines() if line.strip()[:1].isdigit()]
    assert [r[0] for r in rows] == ["1", "2", "3"] * 2
    for r in rows:
        assert 0.0 <= float(r[2]) <= 1.0 and 0.0 <= float(r[3]) <= 1.0
    assert float(rows[2][3]) > 0.8  # the synthetic classes are easy


def test_train_options_are_passed(capsys):
    code, out = _run(["train", "--data", "synthetic", "--loss", "hinge", "--epochs", "2",
                      "--batch-size", "50", "--lr", "0.1", "--reg", "0.01"], capsys)
    assert code == 0
    assert "hinge: batch_size=50 learning_rate=0.1 reg=0.01 epochs=2" in out
    assert "softmax:" not in out


def test_train_digits_when_sklearn_installed(capsys):
    pytest.importorskip("sklearn")
    code, out = _run(["train", "--loss", "softmax", "--epochs", "2"], capsys)
    assert code == 0 and "data: digits" in out and "1348 train / 449 test" in out


def test_plot_writes_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.png"
    code, out = _run(["train", "--data", "synthetic", "--epochs", "2", "--plot", str(path)], capsys)
    assert code == 0 and f"wrote {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_bench_stays_the_default_command():
    args = cli.build_parser().parse_args(["bench", "--quick"])
    assert args.func is cli.cmd_bench
    args = cli.build_parser().parse_args(["train"])
    assert args.func is _train.cmd_train and args.epochs == 20 and args.plot is None


def test_bad_epochs(capsys):
    with pytest.raises(SystemExit, match="--epochs must be >= 1"):
        cli.main(["train", "--epochs", "0"])


def test_module_entry_point_without_matplotlib_import():
    """The real command line; matplotlib is not imported unless --plot is given."""
    code = (
        "import sys, runpy; sys.argv = ['fastloss', 'train', '--data', 'synthetic', '--epochs', '1'];"
        "\ntry:\n    runpy.run_module('fastloss', run_name='__main__')\nexcept SystemExit as e:\n"
        "    assert not e.code, e.code\nassert 'matplotlib' not in sys.modules"
    )
    env = dict(os.environ, PYTHONPATH=PACKAGE_PARENT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "epoch" in proc.stdout and "test acc" in proc.stdout


@pytest.mark.parametrize("option, value, message", [
    ("--batch-size", "0", "--batch-size must be >= 1"),
    ("--lr", "-1", "--lr must be"),
    ("--lr", "nan", "--lr must be"),
    ("--reg", "-0.5", "--reg must be"),
])
def test_bad_numeric_options_get_a_clean_message(option, value, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["train", option, value])
