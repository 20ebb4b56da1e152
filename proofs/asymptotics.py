r"""The convergence certificate and the leading-order asymptotics of the reduced FC flow.

Everything is derived from the one model (:mod:`attndyn.proofs.model`) through the flow of
:func:`attndyn.proofs.claims.symbolic.topic_field` (query fixed, non-topic words frozen at score 0 and
embedding 0), with :math:`L = \sum_t \pi_t\,\ell_t`: every sentence containing the topic
word :math:`t` is the same sentence in the reduced model, so its field is :math:`\pi_t`
times one sentence's.

**Certificate** (claim ``C0-certificate``).  For a fixed direction :math:`u` let
:math:`\mu = u\cdot v_t`.  Then

.. math:: \dot\mu = \eta_v\pi_t a_t\sum_{j} p_j\,(w_y - w_j)\cdot u ,

so :math:`\dot\mu > 0` whenever :math:`(w_y-w_j)\cdot u \ge 0` for all :math:`j` with
strict inequality for one (H-esc), and :math:`\dot\mu\ge\eta_v\pi_t a_t t^*(1-p_y)` when
:math:`(w_y-w_j)\cdot u\ge t^*>0` for all :math:`j\ne y` (H-ach).  With the SEN identity
(S2: :math:`|q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}(s_t + e^{s_t}/m)` conserved, and
:math:`s\mapsto s + e^s/m` increasing from :math:`-\infty` to :math:`\infty`) this decides
convergence: on :math:`\{|v_t|\le R\}` the score is bounded, so :math:`\dot\mu\ge c_R>0`
there; hence :math:`\mu\to\infty` or the flow spends finite time in every ball — either way
:math:`|v_t|\to\infty`, so :math:`s_t\to\infty` and :math:`a_t\to 1`.  Under H-ach moreover
the loss tends to 0: if it stayed above :math:`\ell_*>0`, :math:`1-p_y\ge 1-e^{-\ell_*}` and
:math:`|\nabla_v L|\ge\pi_t a_t t^*(1-e^{-\ell_*})/|u|` would make the loss decrease without
bound.

**Asymptotics** (claim ``C0-asymptotics``), under H-ach with the hard-margin direction
:math:`u^* = \arg\min\{|u|^2 : (w_y-w_j)\cdot u\ge 1\ \forall j\ne y\}`, margin
:math:`\gamma = 1/|u^*|` (:func:`max_margin`, KKT checked):

.. math::
   s_t = 2\log|v_t| + \log\frac{m|q|^2}{2r} + o(1),\qquad
   1 - a_t \sim \frac{2r}{|q|^2|v_t|^2},\qquad
   |v_t| \sim \frac{1}{\gamma}\log\tau,\qquad
   \tau\,\ell_t \to \frac{1}{\eta_v\pi_t\gamma^2}

(:math:`r=\eta_v/\eta_k`).  The first two follow from the SEN identity alone; the last
two from :math:`\dot\rho = \eta_v\pi_t\gamma C e^{-\gamma\rho}` for
:math:`\rho = \hat u^*\cdot v_t` (only the support classes :math:`S` with
:math:`(w_y-w_j)\cdot u^* = 1` contribute at leading order, :math:`a_t\to 1`,
:math:`p_j\approx e^{-(w_y-w_j)\cdot v_t}`), solved exactly by SymPy.  The corrections
are slow (relative :math:`O(1/\log^2\tau)`), so :func:`predictions` also gives the
first-order corrected values the numeric checker compares with.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp
from sympy import MatrixSymbol

from attndyn.proofs.algebra import inner, is_exactly_zero, scalarize
from attndyn.proofs.claims.registry import Derivation
from attndyn.proofs.confirm import check_vanishes
from attndyn.proofs.dynamics import sen_H, topic_field
from attndyn.proofs.errors import UsageError
from attndyn.proofs.model import BASE, ETA_K, ETA_V, linear_cross_entropy, Q_SQ
from attndyn.proofs.settings import CONVERGENCE

PI_T = sp.Symbol(r"\pi_t", positive=True)  # fraction of training sentences containing t
U_DIR = MatrixSymbol("u", BASE.d, 1)  # a fixed direction (the LP witness)
R_RATIO = sp.Symbol("r", positive=True)  # eta_v / eta_k
RHO = sp.Symbol(r"\rho", positive=True)  # |v_t|, or the component of v_t along the margin direction
H0 = sp.Symbol("H_0", real=True)  # the conserved value of the SEN quantity
S_OFFSET = sp.Symbol(r"\sigma", real=True)  # s - 2 log rho (bounded, see the bootstrap)
TAU = sp.Symbol(r"\tau", positive=True)
GAMMA = sp.Symbol(r"\gamma", positive=True)
C_SUP = sp.Symbol("C", positive=True)  # sum over support classes of exp(-(w_y - w_j).v_perp)
RHO0 = sp.Symbol(r"\rho_0", real=True)


# --------------------------------------------------------------------------- certificate

@dataclass(frozen=True)
class CertificateDerivation:
    """``mu_dot`` the derived :math:`\\dot\\mu` in the symbolic-dimension model (inner-product
    symbols, ``g`` free); ``explicit_exact`` whether :math:`-u\\cdot g = \\sum_j p_j(w_y-w_j)\\cdot u`
    cancelled exactly for the explicit linear classifier; ``positive_ach`` / ``positive_esc``
    SymPy's sign decision under H-ach / H-esc; ``steps`` the derivation."""

    mu_dot: sp.Expr
    explicit_exact: bool
    explicit_numeric: object
    positive_ach: bool | None
    positive_esc: bool | None
    lower_bound_exact: bool
    steps: list


def _explicit_classifier_identity(d: int = 2, K: int = 3, y: int = 0):
    r""":math:`-u\cdot\nabla_c\mathrm{CE}(Wc, y)` against :math:`\sum_j p_j (w_y - w_j)\cdot u`
    in explicit components (``W`` K x d as in :func:`attndyn.proofs.model.linear_cross_entropy`)."""
    W = sp.Matrix(K, d, lambda i, j: sp.Symbol(f"W_{{{i + 1},{j + 1}}}", real=True))
    c = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"c_{i + 1}", real=True))
    u = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"u_{i + 1}", real=True))
    L = linear_cross_entropy(W, y)(c)
    g = sp.Matrix([L.diff(ci) for ci in c])  # derived, not typed
    z = W * c
    Z = sum(sp.exp(z[k]) for k in range(K))
    p = [sp.exp(z[j]) / Z for j in range(K)]
    derived = -(u.T * g)[0, 0]
    stated = sum(p[j] * ((W[y, :] - W[j, :]) * u)[0, 0] for j in range(K))
    return derived, stated, list(z)


@lru_cache(maxsize=None)
def certificate() -> CertificateDerivation:
    D = Derivation()
    S = BASE
    vdot, _ = topic_field(S, m=S.m)
    D.note(r"Reduced model: non-topic words at score 0 and embedding 0 ($Z_0 = m$, $N = 0$), query "
           r"fixed. Every sentence containing $t$ is the same sentence, so with "
           r"$L=\sum_t\pi_t\ell_t$ the field of $v_t$ is $\pi_t$ times one sentence's (S1).")
    D.eq(r"One sentence's embedding field (from the model, S1)", r"\dot v_t / \pi_t", vdot)
    mu_dot = PI_T * scalarize(U_DIR.T * vdot)
    D.eq(r"For a fixed direction $u$ and $\mu = u\cdot v_t$", r"\dot\mu", mu_dot)
    derived, stated, z = _explicit_classifier_identity()
    exact = is_exactly_zero(derived - stated, z)
    num = check_vanishes(r"$-u\cdot g = \sum_j p_j (w_y - w_j)\cdot u$ (explicit, $d = 2$, $K = 3$)", [derived, -stated], 61)
    D.eq(r"The fixed linear classifier, $g = \nabla_c\,\mathrm{CE}(W^\top c, y)$ differentiated in "
         r"components ($d=2$, $K=3$, label the first class): " + ("cancels exactly" if exact else "MISMATCH"),
         r"-u\cdot g", r"\sum_j p_j\,(w_y - w_j)\cdot u")
    # the sign: delta_j = (w_y - w_j).u; p_j > 0 (softmax), a_t > 0
    K = 4
    p = sp.symbols("p_1:%d" % (K + 1), positive=True)
    a = sp.Symbol("a_t", positive=True)
    t_star = sp.Symbol("t^*", positive=True)
    eps = sp.symbols(r"\epsilon_2:%d" % (K + 1), nonnegative=True)
    delta_ach = [sp.S.Zero] + [t_star + e for e in eps]  # class 1 = y, delta_y = 0
    rate = ETA_V * PI_T * a * sum(pj * dj for pj, dj in zip(p, delta_ach))
    positive_ach = rate.is_positive
    bound = ETA_V * PI_T * a * t_star * sum(p[1:])
    lower_exact = sp.expand(rate - bound - ETA_V * PI_T * a * sum(pj * e for pj, e in zip(p[1:], eps))) == 0
    D.eq(r"H-ach: $(w_y - w_j)\cdot u = t^* + \epsilon_j$, $\epsilon_j\ge 0$, $j\ne y$ (shown $K=4$); "
         r"SymPy decides the sign: " + ("positive" if positive_ach else str(positive_ach)),
         r"\dot\mu", rate)
    D.eq(r"hence, exactly, with $\sum_{j\ne y} p_j = 1 - p_y$", r"\dot\mu - \eta_v\pi_t a_t t^*(1-p_y)",
         ETA_V * PI_T * a * sum(pj * e for pj, e in zip(p[1:], eps)))
    d_pos = sp.Symbol(r"\delta_2", positive=True)
    d_nn = sp.symbols(r"\delta_3:%d" % (K + 1), nonnegative=True)
    rate_esc = ETA_V * PI_T * a * (p[1] * d_pos + sum(pj * dj for pj, dj in zip(p[2:], d_nn)))
    positive_esc = rate_esc.is_positive
    D.eq(r"H-esc: $(w_y - w_j)\cdot u\ge 0$ for all $j$, $>0$ for one: SymPy decides "
         + ("positive" if positive_esc else str(positive_esc)), r"\dot\mu", rate_esc)
    D.note(r"Certificate. $\mu$ increases strictly. On $\{|v_t|\le R\}$ the SEN identity bounds $s_t$, "
           r"so $a_t$ and every $p_j$ are bounded below and $\dot\mu\ge c_R>0$: either $\mu\to\infty$, or "
           r"the flow spends finite time in every ball (its speed is bounded). Either way "
           r"$|v_t|\to\infty$, and since $s\mapsto s+e^s/m$ is increasing onto $\mathbb R$ the SEN identity "
           r"gives $s_t\to\infty$, $a_t\to 1$. Under H-ach the loss also tends to 0: $\dot\mu\ge"
           r"\eta_v\pi_t a_t t^*(1-p_y)$ bounds $|\nabla_{v}L|$ below while the loss stays above a "
           r"positive level, which the decreasing loss cannot afford.")
    return CertificateDerivation(mu_dot, exact, num, positive_ach, positive_esc, lower_exact, D.steps)


# --------------------------------------------------------------------------- asymptotics

@dataclass(frozen=True)
class Asymptotics:
    """The derived leading-order laws, as SymPy expressions in the symbols of this module."""

    s_intercept: sp.Expr  # lim (s - 2 log|v|)
    s_correction: sp.Expr  # exact: s - 2 log|v| - s_intercept as a function of s, |v|, H0
    one_minus_a: sp.Expr  # lim |v|^2 (1 - a)
    rho_solution: sp.Expr  # rho(tau) solving rho' = eta_v pi gamma C exp(-gamma rho)
    slope: sp.Expr  # lim rho / log tau
    loss_tau: sp.Expr  # lim tau * loss
    steps: list
    checks: list


@lru_cache(maxsize=None)
def asymptotics() -> Asymptotics:
    D = Derivation()
    S = BASE
    m = S.m
    s = S.s
    H = scalarize(sen_H(m))
    qsq, vsq = inner(S.q, S.q), inner(S.v, S.v)  # |q|^2, |v_t|^2 as scalarize writes them
    Hr = H.xreplace({qsq: Q_SQ, vsq: RHO ** 2, ETA_V: R_RATIO * ETA_K})
    D.eq(r"The SEN first integral (S2) with $\rho = |v_t|$, $r = \eta_v/\eta_k$", H0, Hr)
    X = sp.Dummy("X", positive=True)  # e^s as an unknown: the identity is linear in it
    E = sp.solve(sp.Eq(Hr.subs(sp.exp(s), X), H0), X)
    if len(E) != 1:
        raise RuntimeError(f"solving the SEN identity for e^s gave {E}")
    E = sp.expand(E[0])
    D.eq(r"Solved for $e^{s_t}$", sp.exp(s), E)
    D.note(r"Bootstrap: $s + e^s/m = (|q|^2\rho^2 - H_0)/(2r)$ and $s\mapsto s+e^s/m$ increases onto "
           r"$\mathbb R$, so $\rho\to\infty$ forces $s\to\infty$; then $e^{s} = m|q|^2\rho^2/(2r) + O(\log\rho)$"
           r" shows $\sigma = s - 2\log\rho$ is bounded. Substitute $s = 2\log\rho + \sigma$.")
    ratio = sp.expand(E / RHO ** 2).xreplace({s: 2 * sp.log(RHO) + S_OFFSET})
    intercept = sp.simplify(sp.limit(sp.log(ratio), RHO, sp.oo))
    D.eq(r"$s_t - 2\log\rho = \log(e^{s_t}/\rho^2)\to$", r"\lim_{\rho\to\infty}(s_t - 2\log\rho)", intercept)
    correction = sp.simplify(sp.expand(E / RHO ** 2) / sp.exp(intercept))
    stated_corr = 1 - (H0 + 2 * R_RATIO * s) / (Q_SQ * RHO ** 2)
    corr_exact = sp.simplify(correction - stated_corr) == 0
    D.eq(r"Exactly (first-order correction, used by the numeric checker)",
         r"s_t - 2\log\rho - \log\frac{m|q|^2}{2r}", sp.log(stated_corr))
    one_minus_a = m / (sp.exp(s) + m)
    lim_a = sp.simplify(sp.limit((RHO ** 2 * m / (E + m)).xreplace({s: 2 * sp.log(RHO) + S_OFFSET}), RHO, sp.oo))
    D.eq(r"$1 - a_t = m/(e^{s_t}+m)$, so", r"\lim_{\rho\to\infty}\rho^2(1-a_t)", lim_a)

    # margin growth along the hard-margin direction
    rho_f = sp.Function(r"\rho")
    ode = sp.Eq(rho_f(TAU).diff(TAU), ETA_V * PI_T * GAMMA * C_SUP * sp.exp(-GAMMA * rho_f(TAU)))
    D.note(r"Under H-ach take $\hat u = \gamma u^*$ ($u^*$ the hard-margin direction, $\gamma = 1/|u^*|$, "
           r"support classes $S$: $(w_y - w_j)\cdot\hat u = \gamma$). With $\rho=\hat u\cdot v_t$ the "
           r"certificate's rate becomes, at leading order ($a_t\to1$, $p_j\approx e^{-(w_y-w_j)\cdot v_t}$, "
           r"non-support classes exponentially smaller, $C=\sum_{j\in S}e^{-(w_y-w_j)\cdot v_\perp}$):")
    D.eq("", ode.lhs, ode.rhs)
    implicit = sp.dsolve(ode, rho_f(TAU), ics={rho_f(0): RHO0}, hint="separable", simplify=False)
    D.eq("Separating variables (dsolve)", implicit.lhs, implicit.rhs)
    sols = sp.solve(implicit, rho_f(TAU))
    if len(sols) != 1:
        raise RuntimeError(f"solving the margin ODE gave {sols}")
    rho_sol = sp.simplify(sols[0])
    D.eq("Solved for the margin", r"\rho(\tau)", rho_sol)
    slope = sp.simplify(sp.limit(rho_sol / sp.log(TAU), TAU, sp.oo))
    D.eq("Hence the growth law", r"\lim_{\tau\to\infty}\rho/\log\tau", slope)
    loss = C_SUP * sp.exp(-GAMMA * rho_sol)
    loss_tau = sp.simplify(sp.limit(TAU * loss, TAU, sp.oo))
    D.eq(r"and the loss $\ell_t\approx\sum_{j\in S}p_j\approx C e^{-\gamma\rho}$", r"\lim_{\tau\to\infty}\tau\,\ell_t",
         loss_tau)
    D.note(r"First-order correction of the slope: the logits see $R = a_t\rho$, and $R$ (not $\rho$) "
           r"follows the law, $R\approx\frac1\gamma\log\tau$; with $1 - a_t\approx 2r/(|q|^2\rho^2)$, "
           r"$dR/d\rho = 1 + (1-a_t) + O(\rho^{-4})$, so $d\rho/d\log\tau\approx\frac{1}{\gamma(1 + (1-a_t))}$.")
    checks = [
        ("s intercept = log(m|q|^2/(2r))", sp.simplify(intercept - sp.log(m * Q_SQ / (2 * R_RATIO))) == 0),
        ("exact correction", corr_exact),
        ("|v|^2 (1-a) -> 2r/|q|^2", sp.simplify(lim_a - 2 * R_RATIO / Q_SQ) == 0),
        ("rho(tau) solves the ODE", sp.simplify(rho_sol.diff(TAU) - ode.rhs.subs(rho_f(TAU), rho_sol)) == 0),
        ("slope = 1/gamma", sp.simplify(slope - 1 / GAMMA) == 0),
        ("tau loss -> 1/(eta_v pi gamma^2)", sp.simplify(loss_tau - 1 / (ETA_V * PI_T * GAMMA ** 2)) == 0),
    ]
    return Asymptotics(intercept, sp.log(stated_corr), lim_a, rho_sol, slope, loss_tau, D.steps, checks)


# --------------------------------------------------------------------------- the hard margin

@dataclass(frozen=True)
class Margin:
    r"""The multiclass hard-margin direction of label ``y``: :math:`u^*` minimising
    :math:`|u|^2` s.t. :math:`(w_y-w_j)\cdot u\ge 1` (j != y); ``gamma`` = 1/|u*|;
    ``support`` the classes with an active constraint; ``multipliers`` their KKT
    multipliers; ``kkt`` the residuals (primal, dual, stationarity, complementarity),
    ``ok`` all within ``CONVERGENCE.kkt_tol``."""

    u: np.ndarray
    gamma: float
    support: tuple[int, ...]
    multipliers: np.ndarray
    kkt: dict
    ok: bool

    def to_json(self) -> dict:
        return {"u": self.u, "gamma": self.gamma, "support": list(self.support),
                "multipliers": self.multipliers, "kkt": self.kkt, "ok": self.ok}


def max_margin(W, y: int) -> Margin:
    r"""Solve the hard-margin QP with SLSQP and certify it by KKT.

    The QP is convex, so KKT certify optimality: :math:`u^* = \sum_{j\in S}\lambda_j (w_y-w_j)`
    with :math:`\lambda\ge0` (found by non-negative least squares on the active set :math:`S`),
    :math:`(w_y-w_j)\cdot u^*\ge 1`, and :math:`\lambda_j = 0` off :math:`S`.  Needs H-ach
    (otherwise the QP is infeasible: UsageError).
    """
    from scipy.optimize import minimize, nnls  # deferred: SciPy is slow to import

    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[1] < 2 or not 0 <= int(y) < W.shape[1]:
        raise UsageError(f"max_margin: expected W of shape (d_e, K >= 2) and 0 <= y < K, got {W.shape}, {y}")
    y = int(y)
    others = [j for j in range(W.shape[1]) if j != y]
    A = (W[:, [y]] - W[:, others]).T
    # start from the achievability LP's witness, scaled to be feasible
    from scipy.optimize import linprog  # deferred: SciPy is slow to import

    d = W.shape[0]
    lp = linprog(np.r_[np.zeros(d), -1.0], A_ub=np.c_[-A, np.ones(len(others))], b_ub=np.zeros(len(others)),
                 bounds=[(-1, 1)] * d + [(None, 1)], method="highs")
    t = -lp.fun if lp.status == 0 else 0.0
    if not t > CONVERGENCE.lp_tol * max(1.0, float(np.abs(A).sum(axis=1).max())):
        raise UsageError(f"max_margin: label {y} is not achievable (LP margin {t:.3g}); no hard margin exists")
    u0 = lp.x[:d] / t
    res = minimize(lambda u: 0.5 * u @ u, u0, jac=lambda u: u, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda u: A @ u - 1.0, "jac": lambda u: A}],
                   options={"ftol": 1e-16, "maxiter": 1000})
    u = res.x
    margins = A @ u
    scale = max(1.0, float(np.linalg.norm(u)))
    active = np.flatnonzero(margins <= 1.0 + 1e-6)
    lam_s, _ = nnls(A[active].T, u) if active.size else (np.zeros(0), 0.0)
    lam = np.zeros(len(others))
    lam[active] = lam_s
    kkt = {
        "primal": float(max(0.0, 1.0 - margins.min())),
        "dual": float(max(0.0, -lam.min(initial=0.0))),
        "stationarity": float(np.linalg.norm(u - A.T @ lam) / scale),
        "complementarity": float(np.max(np.abs(lam * (margins - 1.0)), initial=0.0)),
    }
    ok = all(v <= CONVERGENCE.kkt_tol for v in kkt.values())
    support = tuple(others[i] for i in active)
    return Margin(u, float(1.0 / np.linalg.norm(u)), support, lam, kkt, ok)


# --------------------------------------------------------------------------- numeric predictions

def predictions(*, gamma: float | None, q_norm: float, m: float, lr_v: float, lr_k: float, pi_t: float) -> dict:
    r"""The derived constants as numbers: ``s_intercept`` :math:`\log(m|q|^2/(2r))`,
    ``one_minus_a_coeff`` :math:`2r/|q|^2` (so :math:`1-a\approx` coeff :math:`/|v|^2`),
    ``slope`` :math:`1/\gamma` and ``loss_tau`` :math:`1/(\eta_v\pi_t\gamma^2)` (None without
    a margin).  Evaluated from the SymPy results of :func:`asymptotics` (lambdified)."""
    A = asymptotics()
    vals = {S: v for S, v in ((BASE.m, m), (Q_SQ, q_norm ** 2), (R_RATIO, lr_v / lr_k), (ETA_V, lr_v),
                              (PI_T, pi_t))}
    out = {"s_intercept": float(A.s_intercept.xreplace(vals)),
           "one_minus_a_coeff": float(A.one_minus_a.xreplace(vals))}
    if gamma is not None:
        vals[GAMMA] = gamma
        out["slope"] = float(A.slope.xreplace(vals))
        out["loss_tau"] = float(A.loss_tau.xreplace(vals))
    else:
        out["slope"] = out["loss_tau"] = None
    return out


def s_correction(s, v_norm, *, H0: float, q_norm: float, lr_v: float, lr_k: float) -> np.ndarray:
    r"""The exact first-order term :math:`\log(1 - (H_0 + 2rs)/(|q|^2|v|^2))` of
    :math:`s - 2\log|v| - \log(m|q|^2/(2r))` (vectorised)."""
    f = _s_correction_fn()
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(f(np.asarray(s), np.asarray(v_norm), H0, q_norm ** 2, lr_v / lr_k), dtype=np.float64)


H0_SYM = H0


@lru_cache(maxsize=None)
def _s_correction_fn():
    return sp.lambdify((BASE.s, RHO, H0_SYM, Q_SQ, R_RATIO), asymptotics().s_correction, "numpy")
