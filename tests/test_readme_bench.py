"""The README's performance table is the rendering of one saved `attndyn bench --all` run (issue 13).

`tests/data/bench/all_idle.json` is that run's JSON, as the bench wrote it; the README shows
`attndyn bench --table tests/data/bench/all_idle.json` verbatim.  A hand edit of either side, or a
new run whose table is not pasted, fails here.
"""
import json
from pathlib import Path

import pytest

from attndyn.numerics.experiments.fullbench import markdown

ROOT = Path(__file__).resolve().parents[1]
RUNS = sorted((ROOT / "tests" / "data" / "bench").glob("all_*.json"))


@pytest.mark.parametrize("path", RUNS, ids=[p.stem for p in RUNS])
def test_readme_shows_the_saved_run_verbatim(path):
    table = markdown(json.loads(path.read_text()))
    assert table in (ROOT / "README.md").read_text()


def test_there_is_a_saved_idle_run():
    assert any(p.stem == "all_idle" for p in RUNS)


def test_a_changed_number_is_caught():
    """The control: one measured value altered in the JSON (a command's wall time) no longer matches."""
    path = next(p for p in RUNS if p.stem == "all_idle")
    out = json.loads(path.read_text())
    out["commands"][0]["seconds"] += 1.0
    assert markdown(out) not in (ROOT / "README.md").read_text()
