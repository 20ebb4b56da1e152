"""The convergence checker (numerics/convergence/checker.py), its claims and its command."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from attndyn.numerics.convergence import checker as C
from attndyn.numerics.claims import convergence as CC
from attndyn.numerics.convergence import hypotheses as H
from attndyn.numerics.flow.results import FlowResult
from attndyn.numerics.flow.solvers import reduced_flow
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli import main


@pytest.fixture(scope="module")
def paper():
    return C.check_convergence(CC.paper_setting())


@pytest.fixture(scope="module")
def non_achievable():
    return C.check_convergence(CC.non_achievable_setting())


def word_g0_dot_v0(system, t):
    """g(c0).v0 at the start: the sign that decides whether s and |v| first decrease."""
    W = system.theta0["W"]
    a0 = 1 / (1 + system.m[t] * np.exp(-system.s0[t]))
    z = a0 * system.v0[t] @ W
    p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
    g = W @ (p - np.eye(W.shape[1])[system.y[t]])
    return float(g @ system.v0[t])


# --------------------------------------------------------------------------- verdicts

def test_paper_setting_converges(paper):
    assert paper.all_converged, paper.verdicts
    for w in paper.words:
        assert all(h.holds for h in w.hypotheses)
        assert w.attention.verdict == w.loss.verdict == "converged"
        ev = w.evidence
        assert ev["certificate"]["attention"]["mu_increasing"] and ev["certificate"]["attention"]["sen_conserved"]
        assert ev["attention"]["a_end"] > ev["attention"]["a_at_tau_end_over_100"] > ev["attention"]["a0"]
        assert ev["monotone"]["tau0"] is not None and ev["monotone"]["tau0"] < 1.0
        assert ev["loss"]["nonincreasing"]
        g = ev["growth"]
        assert g["consistent"], g
        assert g["s_vs_2log_v"]["gap_corrected"] < 1e-8  # the SEN identity, exactly
    assert paper.flow["tau_end"] >= 1e6


def test_not_achievable_separates_the_conclusions(non_achievable):
    for w in non_achievable.words:
        if w.label == CC.NON_ACHIEVABLE_LABEL:
            assert w.verdict == "not-converged" and w.failed_hypotheses == ["H-ach"]
            assert w.loss.verdict == "not-converged" and "H-ach fails" in w.loss.reasons[0]
            assert w.attention.verdict == "converged"  # escapable: attention -> 1 anyway
            floor = w.evidence["loss"]["floor"]
            assert floor == pytest.approx(np.log(3), abs=1e-9)
            assert w.evidence["loss"]["loss_end"] >= floor * (1 - 1e-6)
        else:
            assert w.verdict == "converged"
    assert non_achievable.flow["solver"] == "LSODA"


def test_query_zero_and_frozen_keys():
    W = H.generic_matrix()
    base = H.toy_system(W)
    with pytest.raises(UsageError, match="train_keys=False"):
        C.ConvergenceSetting(base, q_norm=0.0)
    for setting, failed in ((C.ConvergenceSetting(base.replace(train_keys=False), q_norm=0.0), {"H-q", "H-keys"}),
                            (C.ConvergenceSetting(base.replace(train_keys=False)), {"H-keys"})):
        w = C.check_convergence(setting).words[0]
        assert set(w.failed_hypotheses) == failed
        assert w.attention.verdict == "not-converged" and w.loss.verdict == "converged"
        assert w.verdict == "not-converged"


def test_not_escapable_fails_both():
    w = C.check_convergence(H.toy_system(H.average_column_matrix(3))).words[0]
    assert w.attention.verdict == w.loss.verdict == "not-converged"
    assert set(w.failed_hypotheses) == {"H-ach", "H-esc"}
    assert w.evidence["attention"]["a_end"] < 0.1


def test_frozen_embeddings_decided_by_convexity():
    W = H.generic_matrix()
    against = C.check_convergence(H.toy_system(W, v0=H.against_label(W), train_embeddings=False)).words[0]
    assert against.attention.verdict == "not-converged" and against.loss.verdict == "not-converged"
    assert against.evidence["score"]["s_end"] < 0  # indeed the score went down
    along = C.check_convergence(H.toy_system(W, v0=-H.against_label(W, scale=3.0), train_embeddings=False)).words[0]
    assert along.attention.verdict == "converged" and along.loss.verdict == "not-converged"
    assert along.evidence["attention"]["a_end"] > 0.9


def test_modelling_assumptions_make_it_undecided():
    W = H.generic_matrix()
    lengths = C.check_convergence(H.toy_system(W, m=np.array([[10.0, 30.0]]), pi=np.array([[0.5, 0.5]]))).words[0]
    assert lengths.verdict == "undecided" and "M-lengths" in lengths.failed_hypotheses
    from attndyn.numerics.flow.systems import ReducedSystem

    tc = ReducedSystem(q_norm=1.0, m=20, y=np.array([0]), pi=np.array([1.0]), v0=np.full((1, 3), 1e-3),
                       s0=np.zeros(1), classifier="tc", theta0={"W": W})
    w = C.check_convergence(tc, horizon=1e3).words[0]
    assert w.verdict == "undecided" and "M-fc" in w.failed_hypotheses
    q = C.check_convergence(C.ConvergenceSetting(H.toy_system(W), query_trained=True), horizon=1e3).words[0]
    assert q.verdict == "undecided" and "M-query" in q.failed_hypotheses


def test_raise_only_when_asked():
    setting = H.toy_system(H.average_column_matrix(4))
    rep = C.check_convergence(setting, horizon=1e3)  # a verdict, not an exception
    assert rep.words[0].verdict == "not-converged"
    with pytest.raises(C.ConvergenceFailure) as exc:
        C.check_convergence(setting, horizon=1e3, raise_on_failure=True)
    assert exc.value.report.words[0].failed_hypotheses == ["H-ach"]
    C.check_convergence(H.toy_system(H.generic_matrix()), horizon=1e3, raise_on_failure=True)


def test_certificate_check_rejects_a_decreasing_mu():
    """Negative control: a trajectory along which mu = u.v decreases must not pass."""
    res = reduced_flow(H.toy_system(H.generic_matrix()), horizon=10.0, n_save=20)
    u = H.escapability_lp(H.generic_matrix(), 0)["u"]
    assert C._certificate(res, 0, u, "test", True)["holds"]
    flipped = FlowResult(res.system, res.t, res.v[::-1].copy(), res.s, res.theta, res.loss, "ok", "")
    bad = C._certificate(flipped, 0, u, "test", False)
    assert not bad["mu_increasing"] and not bad["holds"]


def test_growth_check_rejects_a_wrong_margin(paper):
    """Negative control: the same fit against a doubled margin must be inconsistent."""
    from attndyn.proofs.asymptotics import max_margin

    res = paper.result
    W, y = res.system.theta0["W"], int(res.system.y[0])
    m = max_margin(W, y)
    assert C._growth(res, 0, m)["consistent"]
    wrong = replace(m, gamma=2 * m.gamma)
    assert not C._growth(res, 0, wrong)["consistent"]


def test_bad_arguments():
    with pytest.raises(UsageError, match="horizon"):
        C.check_convergence(H.toy_system(H.generic_matrix()), horizon=0)
    with pytest.raises(UsageError, match="setting"):
        C.check_convergence("paper")
    with pytest.raises(UsageError, match="--confirm-gd"):
        C.check_convergence(H.toy_system(H.generic_matrix()), horizon=10, confirm_gd=True)


# --------------------------------------------------------------------------- mutual suppression

def test_suppression_in_the_paper_setting(paper):
    system = CC.paper_setting().system
    found = 0
    for w in paper.words:
        sup = w.evidence["suppression"]
        # theory: s and |v| first decrease together iff g.v0 > 0 at the start
        assert sup["detected"] == (word_g0_dot_v0(system, w.word) > 0)
        if sup["detected"]:
            found += 1
            assert sup["s_min"] < sup["s0"] and sup["norm_min"] < sup["norm0"]
            lo, hi = sup["turning_time_bracket"]
            assert lo <= sup["turning_time"] <= hi
            # v0 ~ 1e-6: the linearised turning time is accurate
            assert sup["turning_time"] == pytest.approx(sup["turning_time_linearised"], rel=0.02)
    assert found >= 1


def test_suppression_in_a_constructed_setting():
    W = H.generic_matrix()
    system = H.toy_system(W, v0=H.against_label(W, scale=1.0))
    w = C.check_convergence(system, horizon=1e4).words[0]
    sup = w.evidence["suppression"]
    assert sup["detected"] and w.verdict == "converged"
    # independent dense run: s and |v| decrease before the turning time, increase after it
    t = np.linspace(0, 3 * sup["turning_time"], 3001)
    r = reduced_flow(system, t)
    i = int(np.argmin(r.s[:, 0]))
    assert t[i] == pytest.approx(sup["turning_time"], rel=2e-3)
    assert np.all(np.diff(r.s[:i + 1, 0]) < 0) and np.all(np.diff(r.norms[:i + 1, 0]) < 0)
    assert np.all(np.diff(r.s[i + 1:, 0]) > 0) and np.all(np.diff(r.norms[i + 1:, 0]) > 0)
    assert w.evidence["monotone"]["tau0"] >= sup["turning_time_bracket"][0]


# --------------------------------------------------------------------------- claims

def test_claim_verdicts(paper, non_achievable):
    assert CC.expect_all_converged(paper)[0] == "verified"
    assert CC.expect_all_converged(non_achievable)[0] == "refuted"
    assert CC.hypothesis_needed_verdict(non_achievable)[0] == "verified"
    assert CC.hypothesis_needed_verdict(paper)[0] == "refuted"


# --------------------------------------------------------------------------- the command

def test_cli_paper(tmp_path, capsys):
    out = tmp_path / "conv.json"
    assert main(["check-convergence", "--preset", "paper-fc", "--json", str(out), "--horizon", "1e5"]) == 0
    text = capsys.readouterr().out
    assert text.index("Hypotheses") < text.index("Reduced flow") < text.index("Reasons")
    assert "converged: 8, not-converged: 0, undecided: 0" in text
    data = json.loads(out.read_text())
    assert data["all_converged"] and len(data["words"]) == 8
    assert data["words"][0]["hypotheses"][0]["name"] == "H-ach"


def test_cli_non_achievable_matrix(tmp_path, capsys):
    setting = CC.paper_setting()
    path = tmp_path / "avg.npy"
    np.save(path, CC.non_achievable_matrix(setting.system.theta0["W"]))
    assert main(["check-convergence", "--preset", "paper-fc", "--classifier-matrix", str(path),
                 "--horizon", "1e4"]) == 0  # not-converged is a result, exit 0
    text = capsys.readouterr().out
    assert "H-ach fails" in text and "not-converged: 2" in text


@pytest.mark.parametrize("content, message", [
    (np.ones((3, 4)), "expected shape"),
    (np.full((10, 4), np.nan), "NaN"),
    ("text", "not a .npy file"),
    (np.array(["a", "b"]), "numeric array"),
])
def test_cli_bad_matrix(tmp_path, capsys, content, message):
    path = tmp_path / "W.npy"
    if isinstance(content, str):
        path.write_text(content)
    else:
        np.save(path, content)
    assert main(["check-convergence", "--preset", "paper-fc", "--classifier-matrix", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err and "--classifier-matrix" in err and "Traceback" not in err


def test_cli_usage_errors(tmp_path, capsys):
    assert main(["check-convergence", "--preset", "paper-fc", "--classifier-matrix", str(tmp_path / "no.npy")]) == 2
    assert "file not found" in capsys.readouterr().err
    assert main(["check-convergence"]) == 2
    assert main(["check-convergence", "--preset", "paper-fc", "--horizon", "-1"]) == 2
    assert "--horizon" in capsys.readouterr().err
    assert main(["check-convergence", "--preset", "nope"]) == 2


@pytest.mark.slow
def test_confirm_gd():
    setting = CC.paper_setting()
    rep = C.check_convergence(setting, horizon=1e3, confirm_gd=True, gd_epochs=100)
    assert rep.gd["epochs"] == 100 and rep.gd["status"] == "ok"
    assert all(e["confirmed"] for e in rep.gd["words"]), rep.gd
    assert rep.all_converged
