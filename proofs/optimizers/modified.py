r"""Gradient descent: is there a modified invariant :math:`H + \eta H_1` conserved to :math:`O(\eta^2)`?

One step of size :math:`\eta` changes H by :math:`\eta^2 Q(g) + O(\eta^3)` (S6) and a function
:math:`H_1(v_t, s_t)` by :math:`\eta\,\mathcal L_F H_1 + O(\eta^2)`, :math:`F` the gradient-flow field.  So

.. math:: \Delta(H + \eta H_1) = \eta^2\big(Q(g) + \mathcal L_F H_1\big) + O(\eta^3),

and :math:`H + \eta H_1` drifts by :math:`O(\eta^2)` over a fixed horizon iff
:math:`\mathcal L_F H_1 = -Q(g)`.

**(a) Any classifier: no.**  :math:`\mathcal L_F H_1 = \nabla_{v_t}H_1\cdot\dot v_t + \partial_{s_t}H_1\,\dot s_t`
is *linear* in :math:`g` (the field is), while :math:`Q(g)` is *quadratic* and not identically 0.  If
:math:`\mathcal L_F H_1 = -Q` held for every classifier, then at :math:`g` and :math:`2g` (both attainable
at the same :math:`(v_t, s_t)`) :math:`-4Q(g) = 2\mathcal L_F H_1(g) = -2Q(g)`, so :math:`Q \equiv 0`: a
contradiction.  This holds for every differentiable :math:`H_1(v_t, s_t)` that does not depend on the
classifier — no ansatz class needed (:func:`homogeneity`).

**(b) A fixed classifier (e.g. the fixed linear one): yes, locally, but not in closed form.**  With the
classifier fixed, :math:`g` is a function of the state and :math:`\mathcal L_F H_1 = -Q` is a linear
first-order PDE, solvable by characteristics wherever the flow is transverse to a level set of the loss;
S5 gives :math:`\dot\ell < 0` wherever :math:`g \ne 0`, so

.. math:: H_1(x) = \int_{\ell(x)}^{\ell_0} \frac{Q}{\dot\ell}\Big|_{\varphi(\lambda)}\, d\lambda

(the integral along the gradient-flow orbit through :math:`x`, parametrised by the loss :math:`\lambda`)
satisfies :math:`\mathcal L_F H_1 = -Q` on the region whose orbits reach the level :math:`\ell_0`
(:func:`correction`).  It depends on the classifier through :math:`g` along the whole orbit; we do not claim
a closed form.  Numerically the fitted drift slope of :math:`H` is 1 and that of :math:`H + \eta H_1` is 2
(claim O4b).
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp
from sympy import MatrixSymbol

from attndyn.proofs.algebra import inner, scalarize
from attndyn.proofs.claims.symbolic_limits import drift_coefficient_stated
from attndyn.proofs.dynamics import topic_field
from attndyn.proofs.model import BASE
from attndyn.proofs.optimizers.phase import score_rate
from attndyn.proofs.optimizers.sgd import Q_at
from attndyn.proofs.optimizers.reduced import lambdify_inner, paper_like, Reduced, rk4
from attndyn.proofs.settings import OPTIMIZERS

GRAD_H1_V = MatrixSymbol(r"\nabla_{v}H_{1}", BASE.d, 1)  # the gradient of an arbitrary H1(v_t, s_t)
GRAD_H1_S = sp.Symbol(r"\partial_{s}H_{1}", real=True)


def lie_H1(g: MatrixSymbol | None = None) -> sp.Expr:
    r""":math:`\mathcal L_F H_1 = \nabla_{v_t}H_1\cdot\dot v_t + \partial_{s_t}H_1\,q\cdot\dot k_t` with the
    model's field at classifier gradient ``g`` (default ``BASE.g``; ``2*g`` for the scaling argument)."""
    fv, fk = topic_field(BASE)
    if g is not None:
        fv, fk = fv.xreplace({BASE.g: g}), fk.xreplace({BASE.g: g})
    return scalarize(GRAD_H1_V.T * fv) + GRAD_H1_S * score_rate(fk)


def homogeneity(factor: int = 2) -> dict[str, sp.Expr]:
    r"""Expressions that vanish exactly: :math:`\mathcal L(\lambda g) - \lambda\mathcal L(g)` and
    :math:`Q(\lambda g) - \lambda^2 Q(g)` (λ = ``factor``), Q = S6's coefficient."""
    Q = drift_coefficient_stated()
    return {"lie": lie_H1(factor * BASE.g) - factor * lie_H1(),
            "Q": Q_at(factor * BASE.g) - factor ** 2 * Q}


# ------------------------------------------------------------- (b) the fixed classifier


def loss_rate(model: Reduced, v, s) -> float:
    r""":math:`\dot\ell = \nabla_v\ell\cdot\dot v_t + \partial_s\ell\,\dot s_t` along the gradient flow."""
    _, gv, gs = model.loss_and_grads(v, s)
    fv, fs = model.field(v, s)
    return float(gv @ fv + gs * fs)


@lru_cache(maxsize=None)
def _Q_numeric():
    return lambdify_inner(drift_coefficient_stated())


def Q_value(model: Reduced, v, s) -> float:
    """S6's coefficient at the state, with the state's classifier gradient."""
    g = model.classifier_gradient(v, s)
    return _Q_numeric()({"q": model.q, "v_t": v, "g": g}, s=s, m=model.m, eta_v=model.eta_v, eta_k=model.eta_k)


def correction(model: Reduced, v, s, level: float, steps: int) -> float:
    r""":math:`H_1(v_t, s_t) = \int_{\ell(x)}^{\ell_0} Q/\dot\ell\,d\lambda` along the gradient-flow orbit,
    integrated with RK4 in the loss :math:`\lambda` (state and integral carried together)."""
    l_start = model.loss_and_grads(v, s)[0]

    def f(lam, y):
        vv, ss = y[:-2], y[-2]
        fv, fs = model.field(vv, ss)
        rate = loss_rate(model, vv, ss)
        return np.concatenate([fv / rate, [fs / rate], [Q_value(model, vv, ss) / rate]])

    y = rk4(f, np.concatenate([v, [s], [0.0]]), l_start, level, steps)
    return float(y[-1])


V0, S0 = np.array([0.3, -0.2]), 0.1


def modified_drift(scale: float = 1.0) -> dict:
    r"""Gradient descent from :math:`(v_0, s_0)` over the horizon T for each step size: the drift of H
    and of :math:`H + \text{scale}\cdot\eta H_1` (:math:`H_1(x_0) = 0`: the level is :math:`\ell(x_0)`),
    with the RK4 error of :math:`H_1` estimated by step doubling."""
    raw = _gd_and_correction()
    rows = [{**r, "drift_modified": r["drift_H"] + scale * r["eta"] * r["H1"]} for r in raw["rows"]]
    return {**raw, "rows": rows, "scale": scale}


@lru_cache(maxsize=None)
def _gd_and_correction() -> dict:
    """The gradient-descent runs and :math:`H_1` at their ends (shared by the claim and its control)."""
    model = paper_like()
    T, steps = OPTIMIZERS.horizon, OPTIMIZERS.characteristic_steps
    level = model.loss_and_grads(V0, S0)[0]
    H0 = model.H(V0, S0)
    rows = []
    for eta in OPTIMIZERS.step_sizes:
        v, s = V0.copy(), S0
        for _ in range(int(round(T / eta))):
            v, s = model.gd_step(v, s, eta)
        h1 = correction(model, v, s, level, steps)
        h1c = correction(model, v, s, level, steps // 2)
        dH = model.H(v, s) - H0
        rows.append({"eta": eta, "drift_H": dH, "H1": h1, "H1_rk4_error": abs(h1 - h1c)})
    return {"rows": rows, "T": T, "level": level}


# ------------------------------------- (b') the SEN-shaped class: H_1 a function of |v_t|^2 and s_t

H1_NORM = sp.Symbol(r"\partial_{|v|^2}H_{1}", real=True)  # dH_1/d|v_t|^2 of a radial H_1(|v_t|^2, s_t)


def lie_radial_H1() -> sp.Expr:
    r""":math:`\mathcal L_F H_1` for :math:`H_1 = h(|v_t|^2, s_t)` (any h, the class of H itself):
    :math:`\nabla_{v_t}H_1 = 2\,\partial_{|v|^2}h\;v_t`, so every term carries :math:`g\cdot v_t`."""
    return lie_H1().xreplace({inner(GRAD_H1_V, BASE.g): 2 * H1_NORM * inner(BASE.g, BASE.v)})


def on_orthogonal_gradient(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` where :math:`g\cdot v_t = 0`."""
    return expr.xreplace({inner(BASE.g, BASE.v): 0})


@lru_cache(maxsize=None)
def orthogonal_point(radius: float = 1.0, s: float = 0.1, grid: int = 64) -> dict:
    r"""A state of the fixed-linear-classifier model where :math:`g\cdot v_t = 0 \ne g`: :math:`v_t` on the circle
    of ``radius`` at score ``s``, bracketed by a sign change of :math:`g\cdot v_t` (so a zero exists by the
    intermediate value theorem) and refined by bisection."""
    model = paper_like()

    def h(theta):
        v = radius * np.array([np.cos(theta), np.sin(theta)])
        return float(model.classifier_gradient(v, s) @ v)

    thetas = np.linspace(0.0, 2 * np.pi, grid + 1)
    values = [h(t) for t in thetas]
    k = next(i for i in range(grid) if values[i] * values[i + 1] < 0)
    lo, hi, f_lo = thetas[k], thetas[k + 1], values[k]
    bracket = (float(values[k]), float(values[k + 1]))
    for _ in range(60):
        mid = 0.5 * (lo + hi)
        f_mid = h(mid)
        if f_mid * f_lo > 0:
            lo, f_lo = mid, f_mid
        else:
            hi = mid
    v = radius * np.array([np.cos(lo), np.sin(lo)])
    g = model.classifier_gradient(v, s)
    return {"model": model, "v": v, "s": s, "g": g, "g.v": float(g @ v), "|g|": float(np.linalg.norm(g)),
            "bracket_values": bracket, "Q": Q_value(model, v, s)}
