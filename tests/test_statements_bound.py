"""Statements are rendered from the checked objects: S6's printed formula is the LaTeX of the
expression its check compares, and a wrong coefficient there is refuted."""
import sympy as sp

from attndyn.proofs.algebra import readable
from attndyn.proofs.claims import symbolic_limits as sl
from attndyn.reports.cli.assembly import claims


def test_s6_statement_is_the_checked_expression():
    stated = sp.latex(sl.STEP ** 2 * readable(sl.drift_coefficient_stated()))
    assert stated in claims()["S6-discrete-drift"].statement


def test_s6_refutes_a_wrong_coefficient(monkeypatch):
    right = sl.drift_coefficient_stated()
    wrong = right.xreplace({sl.ETA_K: sl.ETA_K * 2})  # eta_k|q|^2 a(1-a) -> 2 eta_k|q|^2 a(1-a)
    assert sp.simplify(wrong - right) != 0
    monkeypatch.setattr(sl, "drift_coefficient_stated", lambda: wrong)
    out = sl.s6_discrete_drift()
    assert out.status == "refuted"  # the exact identity and the mpmath check both say nonzero
    assert sp.latex(sl.STEP ** 2 * readable(wrong)) != sp.latex(sl.STEP ** 2 * readable(right))


def test_resolution_control_fails_under_a_loose_tolerance(monkeypatch):
    """neg-sen-resolution is refuted at the real tolerance and turns to error when rtol is loosened
    past its 1e-4 defect (what kills the tolerance mutant of the mutation suite)."""
    from dataclasses import replace

    from attndyn.proofs import confirm
    from attndyn.proofs.claims import controls

    assert controls.neg_sen_resolution().status == "refuted"
    monkeypatch.setattr(confirm, "SYMBOLIC", replace(confirm.SYMBOLIC, rtol=1e-3))
    assert controls.neg_sen_resolution().status == "error"
