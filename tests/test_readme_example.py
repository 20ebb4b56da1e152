"""The README's notebook example runs verbatim (issue 10 §1): load a config, simulate, check
convergence, verify on the setting, write a report."""
from pathlib import Path
import re
import shutil
import subprocess
import sys

import pytest

ROOT = Path(__file__).resolve().parents[1]


def notebook_block() -> str:
    text = (ROOT / "README.md").read_text()
    head = text.index("**In a notebook**")
    return re.search(r"```python\n(.*?)```", text[head:], re.S).group(1)


@pytest.mark.slow
def test_the_readme_notebook_example_runs_verbatim(tmp_path):
    code = notebook_block()
    assert "attndyn.setting(" in code and "attndyn.verify(setting=" in code and "write_report" in code
    shutil.copytree(ROOT / "tests" / "data" / "settings", tmp_path / "tests" / "data" / "settings")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=600, cwd=tmp_path)
    assert p.returncode == 0, p.stderr
    out = p.stdout
    assert out.startswith("TrainResult(ok:") and "ConvergenceReport(config: 8 of 8 topic words converged)" in out
    assert "Verification: 3 of 3 claims as expected on setting config" in out
    assert (tmp_path / "my-report" / "derivations.tex").exists()


def test_results_have_a_readable_repr_and_latex():
    from attndyn.proofs.claims.registry import Verification
    import attndyn

    results = attndyn.verify(ids=["S1-gradients"])
    assert isinstance(results, Verification) and results.ok
    assert repr(results).startswith("Verification: 1 of 1 claims as expected")
    assert results._repr_latex_().startswith("$\\begin{array}") and "S1-gradients" in results._repr_latex_()
    assert repr(results[0]).startswith("<S1-gradients: verified, as expected")
    assert results[0]._repr_latex_().startswith("\\textbf{S1-gradients} (verified)")
