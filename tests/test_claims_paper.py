"""The paper's claims as claims (issue 8): the verdict functions decide from their evidence, and
reversed or equal evidence is refuted (numerics/claims/paper.py, sen_full.py, suppression.py)."""
import numpy as np
import pytest

from attndyn.numerics.claims import paper, sen_full, suppression


def _values(fc, tc, tl):
    return {s: {"fc": {"score": fc + s, "attention": fc / 10},
                "tc": {"score": tc + s, "attention": tc / 10},
                "tl": {"score": tl + s, "attention": tl / 10}} for s in (0, 1, 2)}


def test_capacity_ordering_verdict():
    assert paper.ordering_verdict(_values(4.0, 3.0, 2.0), 5000)[0] == "verified"
    status, reason, details = paper.ordering_verdict(_values(3.0, 4.0, 2.0), 5000)
    assert status == "refuted" and "FC - TC" in reason
    assert paper.ordering_verdict(_values(2.0, 3.0, 4.0), 5000)[0] == "refuted"  # direction matters
    # equal values (keys frozen: every score exactly 0) cannot show a strict ordering
    assert paper.ordering_verdict(_values(0.0, 0.0, 0.0), 50)[0] == "refuted"
    # a gap inside float64 rounding does not count
    tiny = paper.resolution([1.0], 5000) / 2
    assert paper.ordering_verdict(_values(1.0 + 2 * tiny, 1.0 + tiny, 1.0), 5000)[0] == "refuted"
    details = paper.ordering_verdict(_values(4.0, 3.0, 2.0), 5000)[2]
    assert details["spread"]["fc score"] == {"mean": 5.0, "min": 4.0, "max": 6.0}


def test_ablation_verdict():
    E = 100
    both = np.linspace(1.4, 0.05, E)
    kf, ef = np.linspace(1.4, 1.2, E), np.linspace(1.4, 1.38, E)
    runs = {"FC seed 0": {"both": both, "kf": kf, "ef": ef}}
    assert paper.ablation_verdict(runs)[0] == "verified"
    assert paper.ablation_verdict(runs, "kf", ("both", "ef"))[0] == "refuted"
    # KF reaching both's final loss at some epoch refutes, even if it ends higher
    kf2 = kf.copy()
    kf2[50] = 0.04
    assert paper.ablation_verdict({"FC seed 0": {"both": both, "kf": kf2, "ef": ef}})[0] == "refuted"


def test_sen_full_verdict_and_bound_on_a_short_run():
    """A short real run: the stated H stays within its step-size bound; H with 1/(m+1) does not."""
    run = sen_full.tracked_run(sen_full._cfg("fc", 0), 30, lr_v=0.2, lr_k=0.05, freeze_nontopic=True)
    good = sen_full.drift_and_bound(run, 4.0)
    assert sen_full.sen_full_verdict({"r": good})[0] == "verified"
    wrong = sen_full.H_EXPR.xreplace({sen_full.M: sen_full.M + 1})
    assert sen_full.sen_full_verdict({"r": sen_full.drift_and_bound(run, 4.0, H=wrong)})[0] == "refuted"
    # the wrong rate ratio (the stated H with 1 for eta_v/eta_k) is refuted too
    assert sen_full.sen_full_verdict({"r": sen_full.drift_and_bound(run, 1.0)})[0] == "refuted"
    drift, signed, tol = good
    assert np.all(drift == np.abs(signed))


def test_sen_full_verdict_rejects_non_finite():
    d = np.array([[0.0], [np.nan]])
    assert sen_full.sen_full_verdict({"r": (d, d, np.ones_like(d))})[0] == "refuted"


@pytest.fixture(scope="module")
def against_run():
    return suppression.suppression_run(-1.0)


def test_suppression_event_and_s4_binding(against_run):
    r = against_run
    lr = suppression.PAPER_CLAIMS.suppression_lr
    args = (r.s[:, 0], r.v[:, 0, :], float(r.topic_m[0]), r.q_norm ** 2, lr, lr)
    status, reason, details = suppression.suppression_verdict(*args)
    assert status == "verified", reason
    assert 0 < details["turning_step"] < len(r.s) - 2
    assert details["score_lost"] > 0 and details["score_gained"] > 0
    # S4's ratio with a wrong coefficient no longer fits the trajectory
    R = suppression.promotion_ratio_stated()
    assert suppression.suppression_verdict(*args, R=R * sp_rational(3, 2))[0] == "refuted"
    # cut before the turn: no promotion
    cut = (r.s[:40, 0], r.v[:40, 0, :]) + args[2:]
    assert suppression.suppression_verdict(*cut)[0] == "refuted"


def sp_rational(p, q):
    import sympy as sp

    return sp.Rational(p, q)


def test_suppression_statement_is_rendered_from_the_ratio():
    import sympy as sp

    from attndyn.reports.cli.assembly import claims

    stated = sp.latex(suppression.promotion_ratio_stated())
    assert stated in claims()["P3-suppression-promotion"].statement
    assert sp.latex(sen_full.H_EXPR) in claims()["N5-sen-full-model"].statement
    assert sp.latex(sen_full.STEP_EXPR) in claims()["N5-sen-full-model"].statement


def test_n3r_residual_verdict_and_ratio():
    """The closed form with the run's own ratio fits a short unequal-rate run; the ratio-1 curve is
    further off than with the right ratio (the control's mechanism), and a residual above the bound
    is refuted with its signed extremes kept."""
    from attndyn.numerics.claims import sen_rates

    run = sen_rates.rates_run(0.2, 0.05, 0, 200)
    right = sen_rates.curve_residuals(run, 4.0)
    wrong = sen_rates.curve_residuals(run, 1.0)
    assert np.abs(right).max() < np.abs(wrong).max()
    assert sen_rates.residual_verdict({"r": right})[0] == "verified"
    status, _, details = sen_rates.residual_verdict({"r": np.array([[0.0], [-0.3]])})
    assert status == "refuted" and details["runs"]["r"]["signed_min"] == -0.3


def test_search_resume_dedup_verdict():
    from attndyn.numerics.claims import search_resume as sr

    assert sr.dedup_verdict([0, 1, 2, 3], 4, {"evaluated_this_run": 0})[0] == "verified"
    assert sr.dedup_verdict([0, 1, 1, 2, 3], 4, {"evaluated_this_run": 0})[0] == "refuted"
    assert sr.dedup_verdict([0, 1, 3], 4, None)[0] == "refuted"
    assert sr.dedup_verdict([0, 1, 2, 3], 4, {"evaluated_this_run": 2})[0] == "refuted"
    assert sr.x1_search_resume_dedup().status == "verified"
    assert sr.neg_search_raw_duplicates().status == "refuted"
