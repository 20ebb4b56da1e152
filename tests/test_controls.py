"""Negative controls: the S2 machinery must refute every wrong SEN quantity."""
import pytest
import sympy as sp

from attndyn.proofs.claims import controls
import attndyn.proofs.claims.symbolic as Y
import attndyn.proofs.algebra as alg
import attndyn.proofs.dynamics as dyn
import attndyn.proofs.model as mdl
from attndyn.proofs.claims.registry import run_claim
from attndyn.reports.cli.assembly import claims as registry

CONTROL_IDS = ("neg-sen-m-plus-one", "neg-sen-missing-factor-2", "neg-sen-inverted-rates")


@pytest.mark.parametrize("cid", CONTROL_IDS)
def test_control_is_refuted_exactly_and_numerically(cid):
    c = registry()[cid]
    assert c.expected == "refuted" and c.kind == "symbolic" and cid.startswith("neg-")
    r = run_claim(c)
    assert r.outcome.status == "refuted", r.outcome.reason
    assert r.ok
    checks = r.outcome.details["checks"]
    # every part of the S2 machinery sees it: nothing cancels exactly, every numeric check is visibly off
    assert all(ch["exact_zero"] is False for ch in checks)
    assert all(ch["max_rel_error"] > 1e-3 for ch in checks)


def test_default_candidate_is_the_true_quantity():
    # the parameterisation is faithful: with the true coefficients it is verified
    out = Y.verify_first_integral(controls.wrong_sen(), "true coefficients", stream=200)
    assert out.status == "verified", out.reason


def test_candidates_differ_from_sen_in_one_coefficient():
    S = mdl.BASE
    H = alg.scalarize(dyn.sen_H())
    for build, diff in (
        (controls.wrong_sen(shift=1), 2 * mdl.LR_RATIO * sp.exp(S.s) * (1 / S.m - 1 / (S.m + 1))),
        (controls.wrong_sen(factor=1), mdl.LR_RATIO * (S.s + sp.exp(S.s) / S.m)),
    ):
        assert sp.simplify(alg.scalarize(build(S.m)) - H - diff) == 0


def test_inverted_rates_is_invisible_at_equal_rates():
    # the third control only exists because the general-rate form matters
    build = controls.wrong_sen(ratio=1 / mdl.LR_RATIO)
    H = alg.scalarize(build(mdl.BASE.m)).xreplace({mdl.ETA_V: mdl.ETA_K})
    assert sp.simplify(H - alg.scalarize(dyn.sen_H()).xreplace({mdl.ETA_V: mdl.ETA_K})) == 0
