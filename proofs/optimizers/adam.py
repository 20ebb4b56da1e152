r"""Adam: per-coordinate scaling, and the sign-like flow of its limit.

**Diagonal preconditioning.**  Adam's update is :math:`-\eta\,\hat m/(\sqrt{\hat v}+\epsilon)`; as a flow
with the second moment frozen it is the preconditioned flow
:math:`\dot v_t = -\eta_v P_v\nabla_{v_t}\ell`, :math:`\dot k_t = -\eta_k P_k\nabla_{k_t}\ell` with positive
diagonal :math:`P_v`, :math:`P_k`.  From the model's gradients (S1, in explicit components) the SEN
quantity changes at the rate (:func:`preconditioned_rate`)

.. math:: \dot H = -2\eta_v|q|^2 a_t\Big((P_v v_t)\cdot g - (g\cdot v_t)\frac{q^\top P_k q}{|q|^2}\Big),

which vanishes for every classifier iff :math:`P_v v_t = \lambda v_t` with
:math:`\lambda = q^\top P_k q/|q|^2`: a common scale on the two directions that matter.  Plain gradient
flow (:math:`P = I`) satisfies it; Adam's per-coordinate :math:`1/(\sqrt{\hat v_j}+\epsilon)` does not.

**Sign flow.**  With :math:`\beta_1 = \beta_2 = 0` (and :math:`\epsilon \to 0`) Adam's step is
:math:`-\eta\,\mathrm{sign}(\nabla\ell)` per coordinate, :math:`P = \mathrm{diag}(1/|\nabla_j\ell|)`.  Since
:math:`\mathrm{sign}(\nabla_{v_t}\ell) = \mathrm{sign}(g)` and
:math:`\mathrm{sign}(\nabla_{k_t}\ell) = \mathrm{sign}(g\cdot v_t)\,\mathrm{sign}(q)` (S1: :math:`a_t > 0`,
:math:`\nabla_{k_t}\ell = a_t(1-a_t)(g\cdot v_t)q`),

.. math:: \dot H = -2\eta_v\Big(|q|^2\,v_t\cdot\mathrm{sign}(g) - \Big(1 + \frac{e^{s_t}}{m}\Big)|q|_1\,
          \mathrm{sign}(g\cdot v_t)\Big).

What it conserves instead (for every classifier): in :math:`d = 1`,
:math:`J = \eta_k|q||v_t| - \eta_v s_t` (on each region :math:`v_t \ne 0`); in :math:`d \ge 2`, only the
:math:`d - 1` linear forms :math:`w\cdot k_t` with :math:`w \perp \mathrm{sign}(q)` — the attainable sign
fields span :math:`d + 1` dimensions of the :math:`2d` (:func:`attainable_fields`), so no law involves
:math:`v_t` or :math:`s_t`.
"""
from __future__ import annotations

from functools import lru_cache
from itertools import product

import sympy as sp

from attndyn.proofs.algebra import inner
from attndyn.proofs.dynamics import topic_field
from attndyn.proofs.model import BASE, ETA_K, ETA_V, LR_RATIO


def components(name: str, d: int) -> sp.ImmutableMatrix:
    return sp.ImmutableMatrix(d, 1, lambda i, _: sp.Symbol(f"{name}_{i + 1}", real=True))


@lru_cache(maxsize=None)
def explicit_gradients(d: int) -> dict:
    r"""The frozen-regime gradients :math:`\nabla_{v_t}\ell`, :math:`\nabla_{k_t}\ell` of the model
    (:func:`attndyn.proofs.dynamics.topic_field` divided by the rates) in explicit components."""
    S = BASE
    vec = {"g": components("g", d), "v": components("v", d), "q": components("q", d), "k": components("k", d)}
    sub = {S.d: d, S.g: vec["g"], S.v: vec["v"], S.q: vec["q"], S.k: vec["k"]}
    fv, fk = topic_field(S)
    gv = sp.ImmutableMatrix(fv.xreplace(sub).doit()) / (-ETA_V)
    gk = sp.ImmutableMatrix(fk.xreplace(sub).doit()) / (-ETA_K)
    return {**vec, "grad_v": gv.applyfunc(sp.cancel), "grad_k": gk.applyfunc(sp.cancel)}


def explicit_H_rate(d: int, vdot: sp.Matrix, kdot: sp.Matrix) -> sp.Expr:
    r""":math:`\dot H = \nabla_{v_t}H\cdot\dot v_t + \partial_{s_t}H\,q\cdot\dot k_t` for
    :math:`H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}(s_t + e^{s_t}/m)` in components."""
    E = explicit_gradients(d)
    q, v = E["q"], E["v"]
    H = (q.T * q)[0, 0] * (v.T * v)[0, 0] - 2 * LR_RATIO * (BASE.s + sp.exp(BASE.s) / BASE.m)
    return sum(H.diff(v[i]) * vdot[i] for i in range(d)) + H.diff(BASE.s) * (q.T * kdot)[0, 0]


P_V = sp.symbols("p_1:4", positive=True)
P_K = sp.symbols("r_1:4", positive=True)


PV_G = sp.Symbol(r"(P_{v} v_{t})\cdot g", real=True)  # stands for (P_v v_t).g in the stated rate
Q_PK_Q = sp.Symbol(r"q^{\top} P_{k} q", positive=True)  # stands for q^T P_k q


def preconditioned_rate_stated() -> sp.Expr:
    r""":math:`-2\eta_v|q|^2a_t\big((P_vv_t)\cdot g - (g\cdot v_t)\,q^\top P_kq/|q|^2\big)` in the symbols
    ``PV_G``, ``Q_PK_Q`` (the statement of O3 is rendered from this expression)."""
    a = BASE.weight().xreplace({BASE.Z0: BASE.m})
    Q = inner(BASE.q, BASE.q)
    return -2 * ETA_V * Q * a * (PV_G - inner(BASE.g, BASE.v) * Q_PK_Q / Q)


def preconditioned_rate(d: int) -> tuple[sp.Expr, sp.Expr]:
    r"""(derived :math:`\dot H` along the diagonally preconditioned flow, the stated formula in components)."""
    E = explicit_gradients(d)
    Pv, Pk = sp.diag(*P_V[:d]), sp.diag(*P_K[:d])
    derived = explicit_H_rate(d, -ETA_V * Pv * E["grad_v"], -ETA_K * Pk * E["grad_k"])
    g, v, q = E["g"], E["v"], E["q"]
    components = {PV_G: (Pv * v).dot(g), Q_PK_Q: (q.T * Pk * q)[0, 0], inner(BASE.q, BASE.q): (q.T * q)[0, 0],
                  inner(BASE.g, BASE.v): v.dot(g)}
    return derived, preconditioned_rate_stated().xreplace(components)


SIG_G = sp.symbols("sigma_1:4", real=True)  # sign(g_j)
SIG_Q = sp.symbols("tau_1:4", real=True)  # sign(q_j)
SIG_S = sp.Symbol("sigma_s", real=True)  # sign(g . v_t)


def sign_flow_substitution(d: int) -> dict:
    r"""The sign flow as a preconditioner: :math:`p_j = \sigma_j/\partial_{v_j}\ell`,
    :math:`r_j = \sigma_s\tau_j/\partial_{k_j}\ell` (so that :math:`P\nabla\ell` is the sign vector)."""
    E = explicit_gradients(d)
    sub = {P_V[j]: SIG_G[j] / E["grad_v"][j] for j in range(d)}
    sub.update({P_K[j]: SIG_S * SIG_Q[j] / E["grad_k"][j] for j in range(d)})
    return sub


def sign_flow_rate_stated(d: int, factor: sp.Expr = 1) -> sp.Expr:
    r""":math:`-2\eta_v\big(|q|^2 v_t\cdot\sigma - (1 + e^{s_t}/m)|q|_1\sigma_s\big)`, with
    :math:`|q|_1 = \sum_j\tau_j q_j`; ``factor`` scales the second term (1 is the derived value)."""
    E = explicit_gradients(d)
    q, v = E["q"], E["v"]
    qq = (q.T * q)[0, 0]
    l1 = sum(SIG_Q[j] * q[j] for j in range(d))
    return -2 * ETA_V * (qq * sum(SIG_G[j] * v[j] for j in range(d))
                         - factor * (1 + sp.exp(BASE.s) / BASE.m) * l1 * SIG_S)


def sign_flow_rate(d: int) -> sp.Expr:
    """Derived :math:`\\dot H` of the sign flow: the preconditioned rate at the sign preconditioner."""
    derived, _ = preconditioned_rate(d)
    return derived.xreplace(sign_flow_substitution(d))


def one_dim_law_rate(power: int = 1) -> sp.Expr:
    r""":math:`\dot J` for :math:`J = \eta_k|q|^{p}|v_t| - \eta_v s_t` (p = ``power``; 1 is the law) along
    the sign flow in :math:`d = 1` (:math:`|v_t| = \sigma_v v_t`, :math:`|q| = \tau q`,
    :math:`\mathrm{sign}(g v_t) = \sigma_g\sigma_v`)."""
    sv = sp.Symbol("sigma_v", real=True)
    q, v = sp.Symbol("q_1", real=True), sp.Symbol("v_1", real=True)
    vdot = -ETA_V * SIG_G[0]
    sdot = q * (-ETA_K * (SIG_G[0] * sv) * SIG_Q[0])  # q * kdot, kdot = -eta_k sign(dl/ds) sign(q)
    J = ETA_K * (SIG_Q[0] * q) ** power * sv * v - ETA_V * BASE.s
    return J.diff(v) * vdot + J.diff(BASE.s) * sdot


def attainable_fields(v: tuple[int, ...], q: tuple[int, ...]) -> sp.Matrix:
    r"""Rows: every sign-flow direction :math:`(-\sigma, -\varepsilon\,\mathrm{sign}(q))` (rates 1) that
    some classifier produces at :math:`v_t`: :math:`\sigma = \mathrm{sign}(g)` any pattern,
    :math:`\varepsilon = \mathrm{sign}(g\cdot v_t)`, attainable as +1 iff some :math:`\sigma_jv_j > 0`
    and as -1 iff some :math:`\sigma_jv_j < 0` (choose the magnitudes :math:`|g_j|`)."""
    d = len(v)
    rows = []
    for sigma in product((1, -1), repeat=d):
        terms = [s * x for s, x in zip(sigma, v)]
        for eps in (1, -1):
            if any(t * eps > 0 for t in terms):
                rows.append([-s for s in sigma] + [-eps * sp.sign(x) for x in q])
    return sp.Matrix(rows)
