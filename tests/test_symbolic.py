"""Symbolic claims S1–S7: verdicts, the key derived expressions (each derived two ways),
and the sharpness of the exact and numeric checks (a wrong coefficient must be caught)."""
import numpy as np
import pytest
import sympy as sp
from sympy import MatrixSymbol

import attndyn.proofs.claims.symbolic as Y
import attndyn.proofs.claims.symbolic_limits as YL
import attndyn.proofs.algebra as alg
import attndyn.proofs.settings as cfg
import attndyn.proofs.confirm as conf
import attndyn.proofs.dynamics as dyn
import attndyn.proofs.model as mdl
from attndyn.proofs.claims.registry import run_claim
from attndyn.reports.cli.assembly import claims as registry
from attndyn.proofs.settings import SYMBOLIC

S = mdl.BASE
A = S.weight().xreplace({S.Z0: S.m})  # frozen-regime topic weight e^s/(e^s+m)
Q, X, G2 = alg.inner(S.q, S.q), alg.inner(S.g, S.v), alg.inner(S.g, S.g)

SYMBOLIC_IDS = (
    "S1-gradients", "S2-sen-identity", "S3-sen-closed-form", "S4-mutual-promotion",
    "S5-fixed-linear-descent", "S6-discrete-drift", "S7a-trainable-query",
    "S7b-unequal-lengths", "S7c-moving-nontopic",
)


def zero(expr) -> bool:
    return sp.simplify(expr) == 0


# ------------------------------------------------------------------- verdicts


@pytest.fixture(scope="module")
def results():
    reg = registry()
    return {cid: run_claim(reg[cid]) for cid in SYMBOLIC_IDS}


@pytest.mark.slow
@pytest.mark.parametrize("cid", SYMBOLIC_IDS)
def test_claim_is_verified_with_numbers_and_steps(results, cid):
    r = results[cid]
    c = r.claim
    assert c.kind == "symbolic" and c.expected == "verified"
    assert r.outcome.status == "verified", r.outcome.reason
    assert c.title and c.statement and c.assumptions
    assert len(r.outcome.steps) >= 3
    det = r.to_json()["details"]
    assert det["points"] >= SYMBOLIC.points >= 20
    assert det["rtol"] == SYMBOLIC.rtol and det["atol"] == SYMBOLIC.atol
    assert det["max_abs_error"] < 1e-8
    assert all(ch.get("exact_zero", True) is True for ch in det["checks"])


def test_claim_ids_registered_in_report_order():
    ids = [cid for cid in registry() if cid in SYMBOLIC_IDS]
    assert ids == list(SYMBOLIC_IDS)


def test_every_step_renders_as_latex_of_bounded_size():
    # a cheap claim suffices: the sizes of all steps are checked by test_latex's PDF
    out = Y.s4_mutual_promotion()
    for st in out.steps:
        assert len(st.latex) < 1500, st.latex


# ------------------------------------------------------- reduction machinery


def test_inner_is_symmetric_and_scalarize_reduces_products():
    assert alg.inner(S.g, S.v) == alg.inner(S.v, S.g)
    e = alg.scalarize(3 * S.g.T * S.v * S.q.T * S.q + S.v.T * S.g)
    assert zero(e - (3 * X * Q + X))
    assert Q.is_positive and alg.inner(S.v, S.v).is_nonnegative


def test_scalarize_rejects_what_is_not_a_scalar():
    with pytest.raises(ValueError, match="1x1"):
        alg.scalarize(S.v * S.g.T)


def test_freeze_exponentials_maps_powers_and_rejects_others():
    E = alg.freeze_exponentials(sp.exp(S.s))
    assert alg.freeze_exponentials(sp.exp(2 * S.s)) == E ** 2
    assert alg.freeze_exponentials(sp.exp(S.s + Y.S0)) == E * alg.freeze_exponentials(sp.exp(Y.S0))
    with pytest.raises(ValueError, match="exp"):
        alg.freeze_exponentials(sp.exp(S.s * S.m))


def test_exact_zero_test_sees_small_coefficient_changes():
    e = A * (1 - A) * (1 + sp.exp(S.s) / S.m) - A
    assert alg.is_exactly_zero(e)
    assert not alg.is_exactly_zero(A * (1 - A) * (1 + sp.exp(S.s) / (S.m + 1)) - A)
    assert not alg.is_exactly_zero(e + sp.Rational(1, 10 ** 12))


def test_numeric_check_tolerances_pass_roundoff_and_catch_a_wrong_coefficient():
    vsq_dot, s_dot, _ = Y.promotion_ratio()
    R = Y.promotion_ratio_stated()
    good = conf.check_vanishes("R", [vsq_dot, -R * s_dot], 1)
    assert good.zero and not good.nonzero and good.points == SYMBOLIC.points
    bad = conf.check_vanishes("R wrong", [vsq_dot, -R * (1 + sp.Rational(1, 1000)) * s_dot], 1)
    assert bad.nonzero and not bad.zero
    # a perturbation between rtol and refute_min is neither: reported as an error, not a pass
    grey = conf.check_vanishes("R grey", [vsq_dot, -R * (1 + sp.Rational(1, 10 ** 8)) * s_dot], 1)
    assert not grey.zero and not grey.nonzero
    assert conf.Check("grey", True, grey).verdict()[0] == "error"


def test_judge_arrays_relative_scale_and_nonfinite():
    ok = conf.judge_arrays("x", np.array([1e-7]), np.array([1e3]))
    assert ok.zero
    assert not conf.judge_arrays("x", np.array([np.nan]), np.array([1.0])).zero


def test_sign_and_fact_checks_report_disagreement_as_error():
    assert conf.SignCheck("p", "positive", True, np.array([1.0, 2.0])).verdict()[0] == "verified"
    assert conf.SignCheck("p", "positive", False, np.array([-1.0])).verdict()[0] == "refuted"
    assert conf.SignCheck("p", "positive", True, np.array([-1.0])).verdict()[0] == "error"
    assert conf.SignCheck("p", "positive", None, np.array([1.0])).verdict()[0] == "error"
    assert YL.ExactFact("f", False).verdict()[0] == "refuted"


def test_combine_orders_error_before_refuted():
    num = conf.judge_arrays("x", np.zeros(3), np.ones(3))
    good = conf.Check("good", True, num)
    bad = YL.ExactFact("bad", False)
    assert conf.combine([good])[0] == "verified"
    assert conf.combine([good, bad])[0] == "refuted"
    assert conf.combine([bad, conf.SignCheck("e", "positive", None, np.ones(1))])[0] == "error"


# ------------------------------------------------------------ S1 gradients


def test_s1_gradients_symbolic_dimension_match_the_formulas():
    G = dyn.derive_gradients(S)
    a = S.weight()
    c = G.c
    w = mdl.W_TEST
    assert zero(alg.scalarize(w.T * (G.grad_v - a * S.g)))
    assert zero(alg.scalarize(w.T * (G.dc_ds - a * (S.v - c))))
    assert zero(alg.scalarize(G.dl_ds - a * S.g.T * (S.v - c)))
    assert zero(alg.scalarize(w.T * (G.grad_k - a * S.q * S.g.T * (S.v - c))))
    # a wrong formula is not accepted
    assert not zero(alg.scalarize(w.T * (G.grad_v - S.g)))


@pytest.mark.parametrize("d,m", [(1, 1), (2, 1)])
def test_s1_explicit_components_second_way(d, m):
    assert dyn.explicit_s1_exact(d, m)


def test_s1_explicit_components_reject_a_wrong_formula(monkeypatch):
    real = dyn.explicit_gradient_formulas

    def wrong(X, G):
        f = real(X, G)
        f["k_t"] = [2 * e for e in f["k_t"]]
        return f

    monkeypatch.setattr(dyn, "explicit_gradient_formulas", wrong)
    assert not dyn.explicit_s1_exact(1, 1)


def test_s1_linear_classifier_numeric_check_is_sharp():
    ok = dyn.explicit_linear_check("linear", 5)
    assert ok.zero and ok.points >= SYMBOLIC.points
    E = dyn.explicit_linear(*cfg.SYMBOLIC_SAMPLING.explicit_dims[-1], cfg.SYMBOLIC_SAMPLING.explicit_classes)
    vals = conf.sample_values(E.symbols, 5, np.random.default_rng(0))
    args = [vals[s] for s in E.symbols]
    derived = np.array(E.gradients(*args))
    stated = np.array(E.formulas(*args)) * (1 + 1e-4)
    assert conf.judge_arrays("x", derived - stated, np.abs(derived) + np.abs(stated)).nonzero


# ------------------------------------------------------------ S2 first integral


def test_s2_lie_derivative_is_zero_and_each_term_is_not():
    vdot, kdot = dyn.topic_field(Y.sentence("i"))
    terms = dyn.lie_derivative(dyn.sen_H(), vdot, kdot)
    assert zero(sp.Add(*terms.values()))
    assert all(not zero(t) for t in terms.values())
    xi = alg.inner(Y.sentence("i").g, S.v)
    assert zero(terms["embedding"] + 2 * mdl.ETA_V * Q * A * xi)


def test_s2_second_way_explicit_model_numerically():
    good = Y.explicit_first_integral_check(dyn.sen_H, "sen", 3)
    assert good.zero
    from attndyn.proofs.claims.controls import wrong_sen

    bad = Y.explicit_first_integral_check(wrong_sen(shift=1), "m+1", 3)
    assert bad.nonzero and not bad.zero


def test_verify_first_integral_rejects_a_perturbed_quantity():
    from attndyn.proofs.claims.controls import wrong_sen

    out = Y.verify_first_integral(wrong_sen(factor=sp.Rational(201, 100)), "factor 2.01", stream=7)
    assert out.status == "refuted", out.reason


# --------------------------------------------------------- S3, S4 closed form


def test_s4_ratio_is_the_stated_positive_expression():
    _, _, ratio = Y.promotion_ratio()
    stated = 2 * (mdl.ETA_V / mdl.ETA_K) * (1 + sp.exp(S.s) / S.m) / Q
    assert zero(ratio - stated)
    assert stated.is_positive


def test_s3_closed_form_integrated_and_second_way_by_dsolve():
    derived = Y.sen_closed_form()
    stated = 2 * (mdl.ETA_V / mdl.ETA_K) * ((S.s - Y.S0) + (sp.exp(S.s) - sp.exp(Y.S0)) / S.m)
    assert zero(derived - stated)
    # second way: solve the ODE d(|q|^2 |v|^2)/ds = |q|^2 R(s) with the initial value 0 at s0
    _, _, ratio = Y.promotion_ratio()
    f = sp.Function("f")
    sol = sp.dsolve(sp.Eq(f(S.s).diff(S.s), sp.expand(Q * ratio)), f(S.s), ics={f(Y.S0): 0})
    assert zero(sol.rhs - derived)


def test_s3_s4_consistent_derivative_of_closed_form_is_the_ratio():
    _, _, ratio = Y.promotion_ratio()
    assert zero(Y.sen_closed_form().diff(S.s) / Q - ratio)


def test_s3_paper_reduction():
    paper = Y.sen_closed_form().xreplace({mdl.ETA_V: mdl.ETA_K, Y.S0: 0})
    assert zero(paper - 2 * (S.s + (sp.exp(S.s) - 1) / S.m))


# ------------------------------------------------------------- S5, S6


def test_s5_descent_rate_from_components_small_case():
    derived, stated = YL.explicit_fixed_linear(1, 2)
    frozen = alg.freeze_all_exponentials(derived - stated)
    assert sp.cancel(sp.together(frozen)) == 0
    # a wrong factor is caught
    assert sp.cancel(sp.together(alg.freeze_all_exponentials(derived - 2 * stated))) != 0


def test_s5_stated_rate_is_nonpositive():
    stated = -(mdl.ETA_K * Q * A ** 2 * (1 - A) ** 2 * X ** 2 + mdl.ETA_V * A ** 2 * G2)
    assert stated.is_nonpositive
    assert not (-stated).is_nonpositive


def test_s6_second_order_coefficient_two_ways():
    parts, _ = YL.discrete_step_change()
    dH = sp.Add(*parts.values())
    c = YL.taylor_coefficients(dH, mdl.STEP, 2)
    stated = YL.drift_coefficient_stated()
    assert alg.is_exactly_zero(c[1])
    assert alg.is_exactly_zero(c[2] - stated)
    # second way: SymPy's series expansion
    ser = sp.series(dH, mdl.STEP, 0, 3).removeO()
    assert alg.is_exactly_zero(ser.coeff(mdl.STEP, 1))
    assert alg.is_exactly_zero(ser.coeff(mdl.STEP, 2) - stated)
    assert not alg.is_exactly_zero(ser.coeff(mdl.STEP, 2) - 2 * stated)


# ------------------------------------------------------------------ S7


def test_s7b_term_vanishes_exactly_at_its_own_length():
    H = dyn.sen_H()
    terms = dyn.lie_derivative(H, *dyn.topic_field(Y.sentence("1"), m=YL.M1))
    total = sp.Add(*terms.values())
    assert alg.is_exactly_zero(total.xreplace({S.m: YL.M1}))
    assert not alg.is_exactly_zero(total.xreplace({S.m: YL.M2}))


def test_nonzero_at_refutes_a_term_that_vanishes_there():
    chk, value = YL.nonzero_at("m - 2", S.m - 2, {S.m: 2})
    assert value == 0 and chk.verdict()[0] == "refuted"
    chk, value = YL.nonzero_at("m - 2", S.m - 2, {S.m: 3})
    assert value == 1 and chk.verdict()[0] == "verified"
    with pytest.raises(ValueError, match="unset"):
        YL.nonzero_at("x", S.m * X, {S.m: 1})


def test_s7a_query_terms_from_model():
    G = dyn.derive_gradients(S)
    vdot, kdot = dyn.topic_field(S)
    qdot = -mdl.ETA_Q * S.score_expr().diff(S.q) * G.dl_ds.xreplace(dyn.frozen(S))
    terms = dyn.lie_derivative(dyn.sen_H(), vdot, kdot, qdot)
    qn = terms["query norm"].xreplace({alg.inner(S.k, S.q): S.s})
    assert zero(qn + 2 * mdl.ETA_Q * A * (1 - A) * X * alg.inner(S.v, S.v) * S.s)


def test_s7c_frozen_limit_recovers_s2():
    vdot, kdot = dyn.topic_field(S, freeze=False)
    total = sp.Add(*dyn.lie_derivative(dyn.sen_H(), vdot, kdot).values())
    assert alg.is_exactly_zero(total.xreplace({S.Z0: S.m, alg.inner(S.g, S.N): 0}))
    assert not alg.is_exactly_zero(total.xreplace({alg.inner(S.g, S.N): 0}))


def test_concrete_point_is_consistent():
    pt = YL.concrete_point({"q": (1, 0), "v_t": (1, 1)}, {S.s: 0})
    assert pt[Q] == 1 and pt[alg.inner(S.q, S.v)] == 1 and pt[alg.inner(S.v, S.v)] == 2


def test_unused_matrix_symbol_guard():
    # scalarize refuses a product it cannot read as inner products (a matrix between vectors)
    M = MatrixSymbol("M", S.d, S.d)
    with pytest.raises(ValueError, match="inner products"):
        alg.scalarize(S.v.T * M * S.v)
