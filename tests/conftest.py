"""Fixtures shared by several test files."""
from __future__ import annotations

import pytest


@pytest.fixture
def one_kept_case(tmp_path_factory, monkeypatch):
    """``report`` and ``verify --report`` add a counterexample section drawn from every case kept
    in tests/data/counterexamples (nine figures, ~10 s).  Tests of *other* parts of the report
    use this fixture: the section is still built, through the same code, from one kept case.
    The full default section (every kept case) is drawn by tests/test_search_runs.py (the report
    hook)."""
    from attndyn.reports.sections import counterexamples

    folder = tmp_path_factory.mktemp("one-kept-case")
    case = counterexamples.KEPT_CASES / "sen_M-query.json"
    (folder / case.name).write_text(case.read_text())
    monkeypatch.setattr(counterexamples, "KEPT_CASES", folder)
    return folder
