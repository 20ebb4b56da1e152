"""The top-level package: cheap to import, a small lazy public API, a version."""
import subprocess
import sys

import pytest

import attndyn


def test_import_attndyn_loads_no_numerics_or_sympy():
    code = "import sys, attndyn; print(sorted(m for m in ('numba', 'sympy', 'numpy', 'scipy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "[]"


def test_public_api_resolves_lazily_to_the_implementations():
    from attndyn.numerics.config.load import load_config
    from attndyn.numerics.config.presets import preset_config
    from attndyn.numerics.convergence.checker import check_convergence
    from attndyn.numerics.training.train import train
    from attndyn.reports.cli.assembly import verify
    from attndyn.reports.latex.compile import write_report

    assert attndyn.load_config is load_config and attndyn.preset is preset_config
    assert attndyn.simulate is train and attndyn.train is train
    assert attndyn.check_convergence is check_convergence
    assert attndyn.verify is verify and attndyn.write_report is write_report
    assert set(attndyn.__all__) <= set(dir(attndyn))
    assert isinstance(attndyn.__version__, str) and attndyn.__version__


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no_such_thing"):
        attndyn.no_such_thing  # noqa: B018


def test_verify_returns_results_without_printing(capsys):
    results = attndyn.verify(ids=["S1-gradients"])
    assert [r.claim.id for r in results] == ["S1-gradients"] and results[0].ok
    assert capsys.readouterr().out == ""


def test_setting_api_resolves_lazily():
    from attndyn.numerics.setting import Setting, setting

    assert attndyn.setting is setting and attndyn.Setting is Setting
    s = attndyn.setting("paper-fc", ["train.epochs=10"])
    assert repr(s).startswith("Setting('paper-fc': fc, lr 0.1 x 10 epochs (tau = 1)")
