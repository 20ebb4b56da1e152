"""No hang: the integrators' step and wall-time budgets (numerics/flow/solvers.py, numerics/convergence/runs.py)
end a run with status "budget" and an "undecided: budget exhausted" verdict instead of running for minutes."""
from __future__ import annotations

import dataclasses
import json
import time

import numpy as np
import pytest

from attndyn.numerics.claims import convergence as CC
from attndyn.numerics.convergence import checker as C
from attndyn.numerics.convergence import runs
from attndyn.numerics.flow import solvers
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CONVERGENCE
from attndyn.reports.cli import main

BUDGET_S = 3.0  # a short wall budget for the tests (the setting's default is CONVERGENCE.flow_max_seconds)


@pytest.fixture
def short_budget(monkeypatch):
    monkeypatch.setattr(runs, "CONVERGENCE", dataclasses.replace(CONVERGENCE, flow_max_seconds=BUDGET_S))


def _scaled(factor: float):
    s = CC.paper_setting()
    W = s.system.theta0["W"] * factor
    return dataclasses.replace(s, system=dataclasses.replace(s.system, theta0={**s.system.theta0, "W": W}))


def test_the_wall_budget_stops_lsoda_and_dop853():
    stiff = lambda x: -1e8 * (x - np.cos(np.arange(x.size)))  # noqa: E731  (stiff, slow for DOP853)
    for method in ("DOP853", "LSODA"):
        t0 = time.monotonic()
        tr = solvers.integrate(stiff, np.zeros(3), np.linspace(0, 1e6, 5), method=method, max_seconds=0.2,
                               budget_name="TEST = 0.2 s")
        assert time.monotonic() - t0 < 10
        if tr.status == "ok":  # LSODA may finish a linear stiff problem in the budget: fine
            assert method == "LSODA"
            continue
        assert tr.status == "budget", tr.message
        assert tr.message.startswith("undecided: budget exhausted: the wall-time budget TEST = 0.2 s ran out")


def test_the_lsoda_step_budget_is_a_budget_status():
    tr = solvers.integrate(lambda x: -x + np.sin(50 * x), np.ones(2), np.linspace(0, 1e4, 5), method="LSODA",
                           max_steps=5)
    assert tr.status == "budget" and "step budget of 5 LSODA steps" in tr.message
    with pytest.raises(UsageError, match="method"):
        solvers.integrate(lambda x: -x, np.ones(1), [0.0, 1.0], method="RK4")


@pytest.mark.parametrize("factor", [1e6])
def test_a_classifier_scaled_far_up_ends_undecided_within_the_budget(short_budget, factor):
    t0 = time.monotonic()
    rep = C.check_convergence(_scaled(factor))
    took = time.monotonic() - t0
    assert took < BUDGET_S + 60, took  # hypotheses + the budget (+ slack for a loaded machine)
    assert rep.flow["status"] == "budget" and rep.flow["message"].startswith("undecided: budget exhausted")
    assert "CONVERGENCE.flow_max_seconds = 3 s" in rep.flow["message"]
    assert rep.flow["budget"]["max_seconds"] == BUDGET_S
    for w in rep.words:
        assert w.verdict == "undecided"
        assert any("budget exhausted" in r for r in w.reasons), w.reasons


def test_a_classifier_of_1e308_is_decided_up_to_the_flow(short_budget):
    """The LPs are scale-free (W is scaled by a power of two); the flow overflows at tau = 0 and
    the verdict says so instead of raising."""
    rep = C.check_convergence(_scaled(1e308 / np.abs(CC.paper_setting().system.theta0["W"]).max()))
    assert all(h.holds for w in rep.words for h in w.hypotheses if h.name in ("H-ach", "H-esc"))
    assert rep.flow["status"] == "failed"
    for w in rep.words:
        assert w.verdict == "undecided" and "the flow stopped at tau = 0" in " ".join(w.reasons)


def test_cli_long_horizon_ends_undecided_with_progress_and_records_the_budget(short_budget, tmp_path, capsys):
    t0 = time.monotonic()
    assert main(["check-convergence", "--preset", "paper-fc", "--horizon", "1e12",
                 "--json", str(tmp_path / "c.json")]) == 0
    assert time.monotonic() - t0 < BUDGET_S + 90
    out, err = capsys.readouterr()
    assert "undecided: budget exhausted" in out and "Traceback" not in err
    data = json.loads((tmp_path / "c.json").read_text())
    assert data["flow"]["status"] == "budget"
    assert data["flow"]["budget"]["settings"].startswith("CONVERGENCE.")


def test_flow_progress_reports_log_time(monkeypatch, capsys):
    """Not a terminal: a plain line per log interval with the fraction of log(1 + tau) done."""
    from attndyn.numerics import progress as P
    monkeypatch.setattr(P, "LOG_INTERVAL", 0.0)
    cb, close = runs.flow_progress(True)
    for _ in range(50):
        cb("LSODA", 1e3, 1e6)
    close()
    lines = capsys.readouterr().err.splitlines()
    assert lines and lines[0].startswith("flow: 500/1000 permille of log tau  LSODA tau 1e+03 of 1e+06, 50 steps")
    cb, close = runs.flow_progress(False)
    cb("LSODA", 1.0, 2.0)
    close()
    assert capsys.readouterr().err == ""
