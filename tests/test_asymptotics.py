"""The convergence certificate and the leading-order asymptotics (proofs/asymptotics.py)."""
from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

from attndyn.numerics.convergence import hypotheses as H
from attndyn.numerics.flow.solvers import reduced_flow
from attndyn.numerics.flow.systems import reduced_vector_field
from attndyn.proofs import asymptotics as A
from attndyn.proofs.claims import asymptotics as AC
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CONVERGENCE


def test_certificate_derivation():
    C = A.certificate()
    assert C.explicit_exact and C.explicit_numeric.zero
    assert C.positive_ach is True and C.positive_esc is True and C.lower_bound_exact
    # the derived rate is -eta_v pi a (g.u): exactly one inner product, the one with g
    inner = [s for s in C.mu_dot.free_symbols if "cdot" in s.name]
    assert len(inner) == 1 and "g" in inner[0].name and "u" in inner[0].name


def test_sign_decision_is_not_vacuous():
    """Negative control: without H-ach's sign conditions SymPy must not call the rate positive."""
    p = sp.symbols("p_1:4", positive=True)
    d = sp.symbols("d_1:4", real=True)
    assert (sum(pi * di for pi, di in zip(p, d))).is_positive is None


def test_certificate_rate_matches_the_numeric_vector_field():
    """mu_dot = eta_v pi a sum_j p_j (w_y - w_j).u, against attndyn.numerics.flow.systems's vector field."""
    rng = np.random.default_rng(11)
    W = H.generic_matrix()
    system = H.toy_system(W, v0=rng.normal(0, 1, (2, 3)), pi=[0.3, 0.7], y=np.array([0, 2]))
    for _ in range(5):
        x = system.initial_state() + rng.normal(0, 1, system.state_size)
        v, s, _ = system.unpack(x)
        field = reduced_vector_field(system, x)[:system.T * system.d_e].reshape(system.T, system.d_e)
        for t in range(system.T):
            u = rng.standard_normal(3)
            a = 1 / (1 + system.m[t] * np.exp(-s[t]))
            z = a * v[t] @ W
            p = np.exp(z - z.max()) / np.exp(z - z.max()).sum()
            y = system.y[t]
            stated = system.lr_v * system.pi[t] * a * sum(p[j] * (W[:, y] - W[:, j]) @ u for j in range(4))
            assert field[t] @ u == pytest.approx(stated, rel=1e-12, abs=1e-14)


def test_asymptotics_derived():
    S = A.asymptotics()
    assert all(ok for _, ok in S.checks), S.checks
    m, q, r, eta, pi, g = 20.0, 1.3, 0.7, 0.9, 0.25, 0.8
    pr = A.predictions(gamma=g, q_norm=q, m=m, lr_v=eta, lr_k=eta / r, pi_t=pi)
    assert pr["s_intercept"] == pytest.approx(np.log(m * q ** 2 / (2 * r)))
    assert pr["one_minus_a_coeff"] == pytest.approx(2 * r / q ** 2)
    assert pr["slope"] == pytest.approx(1 / g)
    assert pr["loss_tau"] == pytest.approx(1 / (eta * pi * g ** 2))
    assert A.predictions(gamma=None, q_norm=q, m=m, lr_v=1, lr_k=1, pi_t=pi)["slope"] is None


def test_exact_correction_on_the_flow():
    """s - 2 log|v| = log(m|q|^2/(2r)) + log(1 - (H0 + 2rs)/(|q|^2|v|^2)) along a real flow."""
    system = H.toy_system(H.generic_matrix(), q_norm=0.8, m=12)
    res = reduced_flow(system, horizon=1e5, n_save=60)
    s, n = res.s[1:, 0], res.norms[1:, 0]
    H0 = float(res.H()[0, 0])
    pred = A.predictions(gamma=None, q_norm=0.8, m=12, lr_v=1, lr_k=1, pi_t=1)["s_intercept"]
    lhs = s - 2 * np.log(n)
    rhs = pred + A.s_correction(s, n, H0=H0, q_norm=0.8, lr_v=1, lr_k=1)
    late = s > 1
    assert late.sum() > 10
    assert np.max(np.abs(lhs[late] - rhs[late])) < 1e-7


def test_max_margin_kkt_and_brute_force():
    with pytest.raises(UsageError, match="not achievable"):
        A.max_margin(H.average_column_matrix(4), 0)
    rng = np.random.default_rng(5)
    for _ in range(4):
        W = rng.standard_normal((2, 4))
        W[:, 3] = (W[:, 0] + W[:, 1]) / 2  # label 3 not achievable
        for y in range(4):
            if not H.achievability(W, y).holds:
                with pytest.raises(UsageError, match="not achievable"):
                    A.max_margin(W, y)
                continue
            M = A.max_margin(W, y)
            assert M.ok, M.kkt
            # gamma = max over unit u of min_j (w_y - w_j).u, by a dense angle grid
            th = np.linspace(0, 2 * np.pi, 40000, endpoint=False)
            U = np.c_[np.cos(th), np.sin(th)]
            Adiff = np.delete((W[:, [y]] - W).T, y, axis=0)
            grid = np.max(np.min(U @ Adiff.T, axis=1))  # max-min has a kink: first-order grid error
            step = 2 * np.pi / th.size * np.linalg.norm(Adiff, axis=1).max()
            assert grid <= M.gamma + 1e-12 and M.gamma - grid <= step


def test_growth_laws_on_the_flow():
    """|v| vs log tau and tau * loss against the derived constants, to tau = 1e6."""
    W = H.generic_matrix()
    system = H.toy_system(W)
    res = reduced_flow(system, horizon=1e6, n_save=121)
    assert res.ok
    M = A.max_margin(W, 0)
    pr = A.predictions(gamma=M.gamma, q_norm=1.0, m=20, lr_v=1, lr_k=1, pi_t=1.0)
    t = res.t
    win = t >= 1e4
    a = res.attention()[win, 0]
    slope = np.polyfit(np.log(t[win]), res.norms[win, 0], 1)[0]
    corrected = np.mean(pr["slope"] / (1 + (1 - a)))
    assert abs(slope - corrected) / corrected < CONVERGENCE.growth_rtol
    loss = H.word_loss(res, 0)
    assert abs(np.median(t[win] * loss[win]) - pr["loss_tau"]) / pr["loss_tau"] < CONVERGENCE.growth_rtol
    # direction: v aligns with the hard-margin direction
    cos = res.v[-1, 0] @ M.u / (np.linalg.norm(res.v[-1, 0]) * np.linalg.norm(M.u))
    assert cos > 0.99


def test_claims_verified():
    assert AC.c0_certificate().status == "verified"
    assert AC.c0_asymptotics().status == "verified"
