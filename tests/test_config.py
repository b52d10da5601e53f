"""fastloss.show_config() and `python -m fastloss info`: truthful about the build in use."""

import json
import subprocess
import sys

import pytest

import fastloss as fl
import fastloss._dispatch as dispatch


def test_show_config_dicts_describes_the_build_in_use():
    info = fl.show_config(mode="dicts")
    assert info["fastloss"] == fl.__version__
    assert info["kernel_isa"] == fl.kernel_isa()
    assert info["usable_isas"] == list(dispatch.available_isas())
    assert info["cflags"] == dispatch.kernels.build_info()["cflags"]
    assert info["vector_bits"] == {"baseline": 128, "avx2": 256, "avx512": 512}[fl.kernel_isa()]


@pytest.mark.parametrize("isa", dispatch.available_isas())
def test_no_build_changes_floating_point_state_or_targets_the_build_machine(isa):
    flags = dispatch.load(isa).build_info()["cflags"].split()
    for forbidden in ("-ffast-math", "-Ofast", "-march=native", "-funsafe-math-optimizations"):
        assert forbidden not in flags, (isa, flags)


def test_show_config_prints(capsys):
    assert fl.show_config() is None
    out = capsys.readouterr().out
    assert f"fastloss {fl.__version__}" in out
    assert fl.kernel_isa() in out


def test_show_config_rejects_unknown_mode():
    with pytest.raises(ValueError, match="mode"):
        fl.show_config(mode="yaml")


def test_cli_info_json_matches_show_config():
    out = subprocess.run(
        [sys.executable, "-m", "fastloss", "info", "--json"],
        check=True, capture_output=True, text=True,
    ).stdout
    assert json.loads(out) == fl.show_config(mode="dicts")


def test_show_config_reports_the_choice_made_at_import(monkeypatch):
    """Setting FASTLOSS_ISA after import changes nothing, and show_config says so."""
    monkeypatch.setenv("FASTLOSS_ISA", "baseline")
    info = fl.show_config(mode="dicts")
    assert info["kernel_isa"] == dispatch.isa
    assert info["kernel_isa_chosen_by"] == (
        "FASTLOSS_ISA" if dispatch.forced else "CPU detection at import"
    )
