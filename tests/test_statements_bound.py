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


# --- every expression-based statement: printed from the checked object, refuted when perturbed

def test_s2_s3_s4_statements_are_the_checked_expressions():
    from attndyn.proofs.algebra import scalarize
    from attndyn.proofs.claims import symbolic as sy
    from attndyn.proofs.dynamics import sen_H

    c = claims()
    assert sp.latex(readable(scalarize(sen_H()))) in c["S2-sen-identity"].statement
    assert sp.latex(readable(sy.sen_closed_form_stated())) in c["S3-sen-closed-form"].statement
    assert sp.latex(readable(sy.promotion_ratio_stated())) in c["S4-mutual-promotion"].statement


def test_s3_refutes_a_wrong_coefficient(monkeypatch):
    from attndyn.proofs.claims import symbolic as sy

    right = sy.sen_closed_form_stated()
    wrong = right.xreplace({sy.BASE.m: sy.BASE.m + 1})  # 1/(m+1) in the closed form
    monkeypatch.setattr(sy, "sen_closed_form_stated", lambda: wrong)
    assert sy.s3_sen_closed_form().status == "refuted"


def test_s4_refutes_a_wrong_coefficient(monkeypatch):
    from attndyn.proofs.claims import symbolic as sy

    wrong = sy.promotion_ratio_stated() * sp.Rational(1, 2)  # R without its factor 2
    monkeypatch.setattr(sy, "promotion_ratio_stated", lambda: wrong)
    assert sy.s4_mutual_promotion().status == "refuted"


def test_s2_refutes_a_wrong_first_integral():
    from attndyn.proofs.claims import symbolic as sy
    from attndyn.proofs.dynamics import sen_H

    out = sy.verify_first_integral(lambda m: sen_H(m + 1), "H with 1/(m+1)", stream=20)
    assert out.status == "refuted"


def test_lemmas_statement_bound_and_perturbed_refuted():
    from attndyn.proofs.claims import lemmas

    st = claims()["C0-lemmas"].statement
    for e in (lemmas.F_SEN, lemmas.A_ATT, lemmas.LOSS_BOUND, lemmas.STALL, lemmas.RATE_BOUND):
        assert sp.latex(e) in st
    assert lemmas.facts_verdict(lemmas.lemma_facts())[0] == "verified"
    wrong = lemmas.F_SEN.xreplace({lemmas.M: -lemmas.M})  # s - e^s/m: not increasing
    assert lemmas.facts_verdict(lemmas.lemma_facts(wrong))[0] == "refuted"
    # L8 with the sign of S5's bound flipped: the loss would not be pushed down
    assert lemmas.facts_verdict(lemmas.lemma_facts(rate_bound=-lemmas.RATE_BOUND))[0] == "refuted"


def test_lemma_l7_margin_identity_fails_with_a_wrong_coefficient():
    from attndyn.proofs.claims import lemmas

    facts = lemmas.margin_facts()
    assert all(f.holds and f.numeric_ok for f in facts)
    # gamma (1 - p_y) replaced by gamma p_y: no longer the identity L7 rests on
    p = sp.symbols("p1:3", nonnegative=True)
    eps = sp.symbols("epsilon1:3", nonnegative=True)
    lhs = sum(pj * (lemmas.GAMMA + ej) for pj, ej in zip(p, eps)) - lemmas.GAMMA * (1 - sum(p))
    assert not lemmas.identity_fact("wrong", lhs, sum(pj * ej for pj, ej in zip(p, eps)) + lemmas.GAMMA).holds
