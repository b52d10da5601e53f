"""``python -m fastloss train``: runs, reports each batch size, writes the plot."""

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


def _table(out, loss):
    """The rows of ``loss``'s table: [batch, steps/epoch, loss, train acc, test acc]."""
    block = out.split(f"\n{loss}:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert block[0].split()[:2] == ["batch", "steps/epoch"]
    return [[float(x) for x in line.split()[:5]] for line in block[1:]]


def test_train_synthetic_both_losses(capsys):
    code, out = _run(["train", "--data", "synthetic", "--epochs", "3"], capsys)
    assert code == 0
    assert "data: synthetic" in out
    assert ("learning rate 0.5 for every batch size (held, not scaled with the batch size); "
            "reg 0.0001; 3 epochs; seed 0") in out
    for loss in ("softmax", "hinge"):
        rows = _table(out, loss)
        assert [r[0] for r in rows] == [32, 64, 128, 256]  # the plot's batch sizes
        assert [r[1] for r in rows] == [-(-1348 // b) for b in (32, 64, 128, 256)]
        for r in rows:
            assert r[2] > 0 and 0.0 <= r[3] <= 1.0 and 0.0 <= r[4] <= 1.0
        assert max(r[4] for r in rows) > 0.8  # the synthetic classes are easy


def test_the_table_is_the_classifier_trained_by_fit(capsys):
    """The test accuracy printed is that of LinearClassifier(...).fit with those settings."""
    import numpy as np

    import fastloss as fl

    code, out = _run(["train", "--data", "synthetic", "--epochs", "2", "--loss", "softmax",
                      "--batch-size", "64", "--seed", "3"], capsys)
    Xtr, Xte, ytr, yte, _ = _train.load_data("synthetic", 3)
    clf = fl.LinearClassifier(epochs=2, batch_size=64, random_state=3).fit(Xtr, ytr)
    row = _table(out, "softmax")[0]
    assert row[0] == 64 and f"{clf.score(Xte, yte):.4f}" == f"{row[4]:.4f}"
    assert f"{clf.epoch_loss_[-1]:.5f}" == f"{row[2]:.5f}"
    assert np.isfinite(row[2])


def test_train_options_are_passed(capsys):
    code, out = _run(["train", "--data", "synthetic", "--loss", "hinge", "--epochs", "2",
                      "--batch-size", "50,100", "--lr", "0.1", "--reg", "0.01"], capsys)
    assert code == 0
    assert "learning rate 0.1 for every batch size" in out and "reg 0.01; 2 epochs" in out
    assert [r[0] for r in _table(out, "hinge")] == [50, 100]
    assert "softmax:" not in out


def test_train_digits_when_sklearn_installed(capsys):
    pytest.importorskip("sklearn")
    code, out = _run(["train", "--loss", "softmax", "--epochs", "2", "--batch-size", "128"], capsys)
    assert code == 0 and "data: digits" in out and "1348 train / 449 test" in out


def test_plot_writes_png(tmp_path, capsys):
    pytest.importorskip("matplotlib")
    path = tmp_path / "curve.png"
    code, out = _run(["train", "--data", "synthetic", "--epochs", "2", "--plot", str(path)], capsys)
    assert code == 0 and f"wrote {path}" in out
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and path.stat().st_size > 10_000


def test_plot_has_a_panel_per_batch_size_and_the_accuracy(tmp_path, monkeypatch):
    plt = pytest.importorskip("matplotlib.pyplot")
    seen = {}
    real_close = plt.close

    def keep(fig):
        seen["fig"] = fig
    monkeypatch.setattr(plt, "close", keep)
    path = tmp_path / "curve.png"
    cli.main(["train", "--data", "synthetic", "--epochs", "3", "--batch-size", "32,64,128",
              "--plot", str(path)])
    fig = seen["fig"]
    axes = fig.axes
    assert len(axes) == 4  # 3 loss panels and the accuracy plot
    assert [a.get_title() for a in axes[:3]] == [
        "batch 32 (43 steps/epoch)", "batch 64 (22 steps/epoch)", "batch 128 (11 steps/epoch)"]
    assert all(a.get_xlim() == (0.0, 3.0) for a in axes)  # one x axis, in epochs
    assert len(fig.legends) == 1 and "held, not scaled" in fig._suptitle.get_text()
    # the epoch means at the middle of their epoch
    mean_line = [ln for ln in axes[0].lines if ln.get_label() == "softmax: mean over the epoch"][0]
    assert mean_line.get_xdata().tolist() == [0.5, 1.5, 2.5]
    acc = axes[3]
    assert acc.get_ylabel().startswith("test accuracy") and len(acc.lines) == 6
    real_close(fig)


def test_bench_stays_the_default_command():
    args = cli.build_parser().parse_args(["bench", "--quick"])
    assert args.func is cli.cmd_bench
    args = cli.build_parser().parse_args(["train"])
    assert args.func is _train.cmd_train and args.epochs == 20 and args.plot is None
    assert args.batch_size == (32, 64, 128, 256)


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
    assert "steps/epoch" in proc.stdout and "test acc" in proc.stdout


@pytest.mark.parametrize("option, value, message", [
    ("--batch-size", "0", "--batch-size must be >= 1"),
    ("--batch-size", "32,-1", "--batch-size must be >= 1"),
    ("--lr", "-1", "--lr must be"),
    ("--lr", "nan", "--lr must be"),
    ("--reg", "-0.5", "--reg must be"),
])
def test_bad_numeric_options_get_a_clean_message(option, value, message):
    with pytest.raises(SystemExit, match=message):
        cli.main(["train", option, value])
