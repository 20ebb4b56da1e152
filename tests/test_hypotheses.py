"""The hypotheses of the convergence theorem: LP decisions, loss floors, counterexamples."""
from __future__ import annotations

import numpy as np
import pytest
from scipy.special import logsumexp

from attndyn.numerics.convergence import hypotheses as H
from attndyn.proofs.errors import UsageError


def ce(W, y, X):
    """CE(W^T x, y) for the rows x of X (independent of attndyn.numerics.model.classifiers)."""
    Z = np.atleast_2d(X) @ W
    return logsumexp(Z, axis=1) - Z[:, y]


def achievable_by_grid(W, y, n=7200):
    """d_e = 2 only: is there an angle with every margin (w_y - w_j).u > 0?  (brute force)"""
    th = np.linspace(0, 2 * np.pi, n, endpoint=False)
    U = np.c_[np.cos(th), np.sin(th)]
    A = np.delete((W[:, [y]] - W).T, y, axis=0)
    return bool(np.any(np.min(U @ A.T, axis=1) > 0))


# --------------------------------------------------------------------------- LP decisions

def test_generic_matrix_every_label_achievable():
    W = H.generic_matrix()
    for y in range(W.shape[1]):
        assert H.achievability(W, y).holds
        assert H.escapability(W, y).holds
        assert H.loss_floor(W, y)["floor"] == 0.0


def test_average_column_k3_neither_achievable_nor_escapable():
    W = H.average_column_matrix(3)
    a, e = H.achievability(W, 0), H.escapability(W, 0)
    assert not a.holds and not e.holds
    assert a.needed_for == "loss" and e.needed_for == "attention" and e.implied_by == "H-ach"
    # the infimum is attained (H-esc fails): minimise CE directly, compare with the dual floor
    from scipy.optimize import minimize

    best = minimize(lambda x: ce(W, 0, x)[0], np.ones(3), method="BFGS").fun
    assert a.evidence["loss_floor"] == pytest.approx(best, abs=1e-8)
    assert a.evidence["loss_floor"] == pytest.approx(np.log(3), abs=1e-9)  # e^{H(1/2,1/2)} = 2


def test_average_column_k4_escapable_not_achievable():
    W = H.average_column_matrix(4)
    assert not H.achievability(W, 0).holds
    esc = H.escapability(W, 0)
    assert esc.holds and esc.evidence["strict_classes"] == [3]
    # along the escape direction the loss approaches the floor log 3 but never goes below it
    u = esc.evidence["direction"]
    floor = H.loss_floor(W, 0)["floor"]
    far = ce(W, 0, 60 * u[None, :])[0]
    assert floor - 1e-12 <= far < floor + 1e-6
    rng = np.random.default_rng(1)
    assert np.all(ce(W, 0, rng.normal(0, 5, (2000, 3))) >= floor - 1e-12)


def test_duplicate_column():
    W = np.array([[1.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    assert not H.achievability(W, 0).holds  # z_0 = z_1 always
    assert H.escapability(W, 0).holds  # but class 2 can be beaten
    assert H.loss_floor(W, 0)["floor"] == pytest.approx(np.log(2), abs=1e-9)


def test_d_e_smaller_than_k_minus_one():
    W = np.array([[1.0, 2.0, 3.0]])  # d_e = 1, K = 3
    assert [H.achievability(W, y).holds for y in range(3)] == [True, False, True]
    assert [H.escapability(W, y).holds for y in range(3)] == [True, False, True]
    # d_e = 2, K = 5: a regular pentagon, every vertex achievable; its centre is not
    ang = 2 * np.pi * np.arange(5) / 5
    P = np.c_[np.cos(ang), np.sin(ang)].T
    assert all(H.achievability(P, y).holds for y in range(5))
    C = np.c_[np.zeros(2), P]
    assert not H.achievability(C, 0).holds and not H.escapability(C, 0).holds


def test_lp_agrees_with_brute_force_and_alternatives():
    rng = np.random.default_rng(3)
    seen = set()
    for _ in range(40):
        K = int(rng.integers(3, 6))
        W = rng.standard_normal((2, K))
        if rng.random() < 0.5:  # put column 0 inside the hull of the others
            lam = rng.dirichlet(np.ones(K - 1))
            W[:, 0] = W[:, 1:] @ lam
        for y in range(K):
            ach = H.achievability(W, y).holds
            assert ach == achievable_by_grid(W, y)
            # Gordan's alternative: exactly one of the two systems is solvable
            g = H.gordan_multipliers(W, y)
            assert ach == (g["residual"] > g["tol"])
            # H-ach implies H-esc
            if ach:
                assert H.escapability(W, y).holds
            seen.add(ach)
    assert seen == {True, False}


def test_loss_floor_is_a_lower_bound_and_tight():
    rng = np.random.default_rng(4)
    for _ in range(5):
        K, d = 4, 3
        W = rng.standard_normal((d, K))
        W[:, 0] = W[:, 1:] @ rng.dirichlet(np.ones(K - 1))
        fl = H.loss_floor(W, 0)
        assert fl["floor"] >= np.log(2) - 1e-12 and fl["feasibility"] < 1e-8
        X = rng.normal(0, 3, (4000, d))
        assert np.all(ce(W, 0, X) >= fl["floor"] - 1e-9)
        from scipy.optimize import minimize

        best = min(minimize(lambda x: ce(W, 0, x)[0], x0, method="BFGS").fun for x0 in X[:3])
        assert best == pytest.approx(fl["floor"], abs=1e-6)


def test_a_repeated_lp_is_solved_once_and_each_caller_gets_its_own_witness(monkeypatch):
    """The LP memo (the checker and the search ask the same LP again): one solve per distinct LP,
    the same optimum as a fresh solve, and a witness the caller may change without changing the
    next caller's."""
    H._solved.cache_clear()
    calls = []
    real = H.linprog
    monkeypatch.setattr(H, "linprog", lambda *a, **k: calls.append(1) or real(*a, **k))
    W = H.generic_matrix()
    first = H.achievability_lp(W, 1)
    first["u"][:] = 7.0  # a caller scribbling on its witness
    second = H.achievability_lp(W, 1)
    assert len(calls) == 1
    assert not np.any(second["u"] == 7.0)
    H._solved.cache_clear()
    fresh = H.achievability_lp(W, 1)
    assert len(calls) == 2 and fresh["t"] == second["t"] and np.array_equal(fresh["u"], second["u"])
    H.achievability_lp(W, 2)  # another label is another LP
    assert len(calls) == 3


def test_bad_input_is_a_usage_error():
    with pytest.raises(UsageError, match="NaN"):
        H.achievability(np.array([[np.nan, 1.0]]), 0)
    with pytest.raises(UsageError, match="label y"):
        H.escapability(np.eye(3), 3)
    with pytest.raises(UsageError, match="shape"):
        H.achievability(np.ones(3), 0)


# --------------------------------------------------------------------------- the hypothesis list

def test_every_hypothesis_has_a_counterexample_or_an_implication():
    hs = H.check_word(W=H.generic_matrix(), y=0, q_norm=1.0, lr_v=1.0, lr_k=1.0, pi_t=0.5, m=20)
    names = [h.name for h in hs]
    assert names[:6] == ["H-ach", "H-esc", "H-q", "H-keys", "H-emb", "H-occ"]
    assert all(h.holds for h in hs)
    for h in hs:
        assert h.counterexample, h.name
        if h.counterexample.startswith("cx-"):
            assert H.COUNTEREXAMPLES[h.counterexample].hypothesis == h.name
    conditions = {h.name for h in hs if h.kind == "condition"}
    assert conditions <= {c.hypothesis for c in H.COUNTEREXAMPLES.values()}


def test_failing_hypotheses_are_reported():
    hs = {h.name: h for h in H.check_word(W=H.average_column_matrix(4), y=0, q_norm=0.0, lr_v=1.0, lr_k=1.0,
                                          pi_t=0.0, m=np.array([10.0, 30.0]), train_embeddings=False,
                                          classifier="fc", query_trained=True)}
    for name in ("H-ach", "H-q", "H-emb", "H-occ", "M-query", "M-lengths"):
        assert not hs[name].holds, name
    assert hs["H-esc"].holds and hs["H-keys"].holds
    assert "convex hull" in hs["H-ach"].detail


@pytest.mark.parametrize("cid", list(H.COUNTEREXAMPLES))
def test_counterexample_behaves_as_stated(cid):
    cx = H.COUNTEREXAMPLES[cid]
    system = cx.build()
    # the hypothesis really fails in the counterexample's setting
    if cid == "cx-query-zero":
        assert system.q_norm ** 2 == 0.0  # |q|^2 underflows: the score equation is exactly 0
    else:
        hs = {h.name: h for h in H.check_word(
            W=system.theta0["W"], y=int(system.y[cx.word]), q_norm=system.q_norm, lr_v=system.lr_v,
            lr_k=system.lr_k, pi_t=float(np.sum(system.pi[cx.word])), m=system.m[cx.word],
            train_embeddings=system.train_embeddings, train_keys=system.train_keys)}
        assert not hs[cx.hypothesis].holds
    observations, result = H.observe(cx)
    assert result.ok, result.message
    for o in observations:
        assert o.holds, f"{cid}: {o.behaviour}: {o.detail}"


def test_observe_rejects_a_wrong_expectation():
    """Negative control: the observers must not accept any behaviour on any flow."""
    cx = H.COUNTEREXAMPLES["cx-not-escapable"]
    wrong = H.Counterexample(cx.id, cx.hypothesis, "wrong", cx.build, ("attention-to-one", "loss-to-zero"))
    observations, _ = H.observe(wrong)
    assert not any(o.holds for o in observations)
    good = H.Counterexample("x", "H-ach", "generic", lambda: H.toy_system(H.generic_matrix()),
                            ("loss-floor", "attention-bounded", "score-frozen"))
    observations, _ = H.observe(good)
    assert not any(o.holds for o in observations)
