"""Numeric confirmation of the exactly proved conservation laws along the real training flow (issue 9)."""
from __future__ import annotations

import json
from fractions import Fraction
from functools import lru_cache

import numpy as np
import pytest
import sympy as sp

from attndyn.numerics.laws import Confirmation, confirm_laws, perturbed_controls, table, threshold_rule
from attndyn.proofs.laws import in_law_space, named_model, run_laws, sen_law


@lru_cache(maxsize=None)
def _run(name, d, rate_v=1):
    spec = named_model(name, d=d, rate_v=rate_v)
    return spec, run_laws(spec)


@lru_cache(maxsize=None)
def _confirm(name, d, rate_v=1, **kw):
    spec, r = _run(name, d, rate_v)
    return confirm_laws(r, spec=spec, **kw)


def _assert_confirmed(c: Confirmation, n_laws: int):
    assert c.confirmed, c.status()
    assert c.status() == "confirmed"
    assert len(c.laws) == n_laws
    for law in c.laws:
        assert law.conserved and law.drift <= law.threshold, law
        assert law.threshold < 1e-4  # the threshold is an integrator-tolerance quantity, not a fudge
    # the trajectory really moved and the loss really dropped, monotonically (a gradient flow)
    assert c.moved and c.displacement_rel >= 0.05 and c.loss_drop_rel >= 1e-3 and c.loss_monotone
    assert c.grad_check < 1e-6 and c.integrator_status == 0 and c.n_steps >= 5
    # every default control (one coefficient x 3/2) is refuted on its own threshold, by far
    assert c.controls and all(not x.conserved and x.headroom > 1e3 for x in c.controls)


@pytest.mark.parametrize("d", [2, 3])
def test_paper_reduced_sen_and_orthogonal_key_laws_confirmed(d):
    spec, r = _run("paper-reduced", d)
    c = _confirm("paper-reduced", d)
    _assert_confirmed(c, d)
    assert c.classifier == "random-mlp" and c.blocks == 1 and c.method == "DOP853"
    # the laws followed are exactly the engine's: SEN (in the law space) and the d-1 key components ⟂ q
    assert in_law_space(r, sen_law(r.problem, 2, 1))
    exps = [law for law in c.laws if "exp(s_t)" in law.expr]
    assert len(exps) == 1 and len(c.laws) - len(exps) == d - 1
    # SEN in the paper's own form, followed separately along the same trajectory
    sen = c.drift_of(sen_law(r.problem, 2, 1), "SEN", role="law")
    assert sen.conserved and sen.drift < 1e-9


def test_negative_control_wrong_sen_refuted_on_its_own_threshold():
    spec, r = _run("paper-reduced", 2)
    wrong = sen_law(r.problem, 3, 1)  # 1/(m+1) instead of 1/m, m = 2
    c = confirm_laws(r, spec=spec, controls=[("SEN with 1/(m+1)", wrong)])
    assert c.confirmed, c.status()
    (ctrl,) = c.controls
    assert ctrl.role == "control" and ctrl.verdict() == "refuted"
    assert ctrl.drift > 1e4 * ctrl.threshold  # far above: threshold derived from ctrl's own gradient
    assert ctrl.delta_min < 0 or ctrl.delta_max > 0
    # a control that is in fact a law makes the confirmation fail (the control is not rubber-stamped)
    c2 = confirm_laws(r, spec=spec, controls=[("SEN (true)", sen_law(r.problem, 2, 1))])
    assert not c2.confirmed and c2.status().startswith("negative control not refuted")


def test_query_trained_d2():
    _assert_confirmed(_confirm("query-trained", 2), 3)


def test_moving_words_d1():
    c = _confirm("moving-words", 1)
    _assert_confirmed(c, 1)
    assert c.blocks == 3  # one block per sentence, a shared classifier, per-sentence labels
    assert c.laws[0].expr == "k_a_1 + k_b_1 + k_c_1 + k_t_1"


def test_rate_ratio_three_halves():
    spec, r = _run("paper-reduced", 2, Fraction(3, 2))
    c = _confirm("paper-reduced", 2, Fraction(3, 2))
    _assert_confirmed(c, 2)
    assert c.rates == {"v_t": "3/2", "k_t": "1"}
    # the flow really runs at eta_v/eta_k = 3/2: SEN with ratio 3/2 holds, SEN with ratio 1 drifts
    assert c.drift_of(sen_law(r.problem, 2, Fraction(3, 2)), role="law").conserved
    wrong = c.drift_of(sen_law(r.problem, 2, 1))
    assert not wrong.conserved and wrong.headroom > 1e3


def test_stationary_trajectory_is_flagged():
    spec, r = _run("paper-reduced", 2)
    c = confirm_laws(r, spec=spec, horizon=1e-6)
    assert all(law.conserved for law in c.laws)  # trivially: nothing moved
    assert not c.moved and not c.confirmed
    assert c.status().startswith("stationary")
    assert c.displacement_rel < 1e-4


def test_linear_classifier_softmax_ce_and_outputs():
    spec, r = _run("linear-classifier", 1)
    c = confirm_laws(r, spec=spec, classifier="softmax-ce", seed=3)
    _assert_confirmed(c, 1)
    d = json.loads(c.to_json())
    for key in ("classifier", "classifier_detail", "seed", "rtol", "atol", "horizon", "n_steps", "displacement",
                "loss0", "lossT", "laws", "controls", "threshold_rule", "confirmed", "status", "theta0"):
        assert key in d
    assert d["classifier"] == "softmax-ce" and d["seed"] == 3 and d["rtol"] == 1e-11 and d["confirmed"] is True
    assert {"drift", "threshold", "headroom", "delta_min", "delta_max", "verdict"} <= set(d["laws"][0])
    assert d["threshold_rule"] == threshold_rule()
    assert r"\begin{tabular}" in c.latex() and c.latex_row().endswith(r"\\")
    assert "| linear-classifier | law |" in table([c])
    with pytest.raises(ValueError):
        confirm_laws(r, spec=spec, classifier="nope")


def test_perturbed_controls_change_one_coefficient():
    _, r = _run("paper-reduced", 2)
    ctrls = perturbed_controls(r)
    assert len(ctrls) == len(r.laws)
    for (label, h), law in zip(ctrls, r.laws):
        diff = sp.expand(h - law)
        assert diff != 0 and len(sp.Add.make_args(diff)) == 1 and "x3/2" in label


def test_sen_drift_tracks_the_integrator_tolerance():
    """The SEN drift is the integrator's: it shrinks with rtol (RK keeps linear laws exact; SEN is not linear)."""
    spec, r = _run("paper-reduced", 3)
    loose = confirm_laws(r, spec=spec, rtol=1e-7, atol=1e-9)
    tight = _confirm("paper-reduced", 3)
    sen = lambda c: next(law for law in c.laws if "exp(s_t)" in law.expr)
    assert loose.confirmed and tight.confirmed
    assert sen(loose).drift > 100 * sen(tight).drift
    assert sen(loose).threshold > 100 * sen(tight).threshold
