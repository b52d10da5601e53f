"""`python -m fastloss bench --interop` (fastloss._bench.interop): runs, and reports every case."""

import subprocess
import sys

import pytest

from fastloss._bench import interop, peers


def test_run_small_cases():
    if not (peers.installed("torch") or peers.installed("jax")):
        pytest.skip("neither torch nor jax is installed")
    results = list(interop.run(
        torch_cases=(("cross_entropy", (8, 3)), ("multi_margin_loss", (8, 3)),
                     ("binary_cross_entropy_with_logits", (8, 3)),
                     ("linear_cross_entropy", (8, 3))),
        jax_cases=(("softmax_cross_entropy", (8, 3)), ("multiclass_hinge", (8, 3))),
        repeats=1, max_time=0.01))
    frameworks = {r.framework for r in results}
    assert frameworks == {f for f in ("torch", "jax") if peers.installed(f)}
    for r in results:
        assert r.medians["fastloss"] > 0 and r.speedup > 0
        row = interop.format_row(r)
        assert r.function in row
        doc = r.to_dict()
        assert doc["shape"] == [8, 3]
        if r.function in ("cross_entropy", "multi_margin_loss", "softmax_cross_entropy"):
            assert doc["overhead_us"] is not None
        if r.framework == "torch" and r.function == "cross_entropy":
            assert doc["overhead_no_grad_us"] is not None


def test_cli_flag_is_documented():
    out = subprocess.run([sys.executable, "-m", "fastloss", "bench", "--help"],
                         capture_output=True, text=True, check=True).stdout
    assert "--interop" in out
