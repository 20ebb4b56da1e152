r"""Momentum methods: the SEN quantity along the heavy-ball and Nesterov limit ODEs.

**Limit ODE.**  Heavy ball, :math:`x_{n+1} = x_n + \beta(x_n - x_{n-1}) - \eta\Lambda\nabla L(x_n)`
(:math:`\Lambda = \mathrm{diag}(\eta_v, \eta_k)` per group).  With :math:`x_n = x(n\delta)` and
Taylor's formula the left side is :math:`(1-\beta)\delta\dot x + \frac{1+\beta}{2}\delta^2\ddot x
+ O(\delta^3)` (derived in :func:`heavy_ball_taylor`); with the time step
:math:`\delta = \eta/(1-\beta)` this is the damped ODE

.. math:: \mu\ddot x + \dot x = -\Lambda\nabla L, \qquad \mu = \frac{(1+\beta)\,\eta}{2(1-\beta)^2},

up to :math:`O(\eta^2)`: :math:`\gamma = 1/\mu`, :math:`\kappa = 1/\mu` below.  Nesterov's
method with constant :math:`\beta` adds the Hessian damping :math:`c'\frac{d}{dt}(\Lambda\nabla L)`,
:math:`c' = \beta\eta/(1-\beta)` (:func:`nesterov_damping`; the high-resolution ODE of Shi, Du, Jordan & Su);
with :math:`\beta_n = (n-1)/(n+2)` it has the limit :math:`\ddot x + \frac{3}{t}\dot x =
-\Lambda\nabla L` (Su, Boyd & Candès 2016; cited, not derived): :math:`\gamma = 3/t`, :math:`\kappa = 1`.

**The SEN quantity along** :math:`\ddot x + \gamma(t)\dot x = -\kappa(t)\Lambda\nabla L`
(:func:`momentum_H_rates`): because :math:`\nabla H\cdot\Lambda\nabla L = 0` for every classifier
(S2), the force drops out and

.. math:: \ddot H + \gamma(t)\dot H = R, \qquad R = \dot x^\top\nabla^2 H\,\dot x
          = 2|q|^2|\dot v_t|^2 - 2\frac{\eta_v}{\eta_k}\frac{e^{s_t}}{m}\dot s_t^2 ,

exactly; with a Hessian damping :math:`c\frac{d}{dt}(\Lambda\nabla L)` the source gains
:math:`c\,N`, :math:`N = \dot x^\top\nabla^2H\,\Lambda\nabla L` (:func:`nesterov_source_stated`).  Hence :math:`\frac{d}{dt}\big(e^{\int\gamma}\dot H\big) = e^{\int\gamma}R`: the
time-dependent laws of Marcotte, Gribonval & Peyré (ICML 2024) for momentum flows,
:math:`e^{\int\gamma}\,\nabla h\cdot\dot x`, survive only when the Hessian term :math:`R` vanishes
(symmetries whose conserved function has zero Hessian along the motion, e.g. rotations); the
rescaling symmetry behind SEN has an indefinite Hessian, so none survives (the ansatz and its proof
are in :func:`ansatz_rate`).
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp
from sympy import MatrixSymbol

from attndyn.proofs.algebra import inner, scalarize
from attndyn.proofs.dynamics import sen_H, topic_field
from attndyn.proofs.model import BASE, LR_RATIO
from attndyn.proofs.claims.symbolic_limits import drift_coefficient_stated
from attndyn.proofs.optimizers.phase import score_rate, substitute_vectors, time_derivative, VEL_K, VEL_V

GAMMA = sp.Symbol("gamma", positive=True)  # the damping gamma(t) at the current time
KAPPA = sp.Symbol("kappa", positive=True)  # the force scale kappa(t) at the current time
MU = sp.Symbol("mu", positive=True)  # the heavy-ball mass
BETA = sp.Symbol("beta", positive=True)  # the momentum coefficient, 0 < beta < 1
DELTA = sp.Symbol("delta", positive=True)  # the time step of the continuous interpolation
STEP = sp.Symbol("eta", positive=True)
HESS_DAMP = sp.Symbol("c", positive=True)  # Hessian damping of constant-beta Nesterov (high-resolution ODE)
G_DOT = MatrixSymbol(r"\dot{g}", BASE.d, 1)  # the rate of the classifier gradient (a free vector)
EPS = sp.Symbol("epsilon")


def field_rate() -> tuple:
    r""":math:`\dot F = \frac{d}{dt}F(v_t, s_t, g)` along the motion: the derivative in the direction
    :math:`(\dot v_t, \dot s_t)` plus :math:`F(g \to \dot g)` (F is linear in g; :math:`\dot g` is a free vector,
    so no classifier Hessian is assumed).  (SymPy's derivative of :math:`g^\top` in a matrix expression drops the
    transpose, hence the linearity route for g.)"""
    fv, fk = topic_field(BASE)
    move = {BASE.v: BASE.v + EPS * VEL_V, BASE.s: BASE.s + EPS * score_rate(VEL_K)}
    return tuple(f.xreplace(move).diff(EPS).subs(EPS, 0) + f.xreplace({BASE.g: G_DOT}) for f in (fv, fk))


def momentum_rates(hessian_damping: bool = False) -> dict:
    r"""Rates of the phase-space vectors along :math:`\ddot x + \gamma\dot x = \kappa F`, with
    :math:`F = (\dot v_t, \dot k_t)` the gradient-flow field of the model
    (:func:`attndyn.proofs.dynamics.topic_field`, one sentence with classifier gradient ``g``;
    several sentences add their ``g`` since every sentence containing t sees the same :math:`a_t`)."""
    fv, fk = topic_field(BASE)
    rates = {BASE.v: VEL_V, BASE.k: VEL_K,
             VEL_V: -GAMMA * VEL_V + KAPPA * fv, VEL_K: -GAMMA * VEL_K + KAPPA * fk}
    if hessian_damping:  # x'' + gamma x' + c d/dt(Lambda grad L) = -kappa Lambda grad L, and F = -Lambda grad L
        dv, dk = field_rate()
        rates[VEL_V] = rates[VEL_V] + HESS_DAMP * dv
        rates[VEL_K] = rates[VEL_K] + HESS_DAMP * dk
    return rates


def sen_scalar() -> sp.Expr:
    return scalarize(sen_H())


@lru_cache(maxsize=None)
def momentum_H_rates(hessian_damping: bool = False) -> tuple[sp.Expr, sp.Expr]:
    r""":math:`(\dot H, \ddot H)` along the damped flow, by the product rule on the phase space."""
    rates = momentum_rates(hessian_damping)
    Hdot = time_derivative(sen_scalar(), rates)
    Hddot = time_derivative(Hdot, rates)
    return Hdot, Hddot


def hessian_along_velocity() -> sp.Expr:
    r""":math:`\dot x^\top\nabla^2 H\,\dot x = \frac{d^2}{d\epsilon^2}H(v_t + \epsilon\dot v_t,
    k_t + \epsilon\dot k_t)\big|_0` (the velocities held fixed)."""
    straight = {BASE.v: VEL_V, BASE.k: VEL_K}
    consts = (BASE.q, VEL_V, VEL_K)
    return time_derivative(time_derivative(sen_scalar(), straight, consts), straight, consts)


def rate_source_stated(ratio: sp.Expr = LR_RATIO) -> sp.Expr:
    r""":math:`R = 2|q|^2|\dot v_t|^2 - 2\frac{\eta_v}{\eta_k}\frac{e^{s_t}}{m}(q\cdot\dot k_t)^2`."""
    Q = inner(BASE.q, BASE.q)
    return (2 * Q * inner(VEL_V, VEL_V)
            - 2 * ratio * sp.exp(BASE.s) / BASE.m * score_rate(VEL_K) ** 2)


def nesterov_source_stated() -> sp.Expr:
    r""":math:`N = \dot x^\top\nabla^2H\,\Lambda\nabla L = -\big(2|q|^2\,\dot v_t\cdot F_v
    - 2\frac{\eta_v}{\eta_k}\frac{e^{s_t}}{m}(q\cdot\dot k_t)(q\cdot F_k)\big)`, F the gradient-flow field: the
    extra source of the Hessian-damping term (it involves g, never its rate)."""
    fv, fk = topic_field(BASE)
    Q = inner(BASE.q, BASE.q)
    return -(2 * Q * scalarize(VEL_V.T * fv)
             - 2 * LR_RATIO * sp.exp(BASE.s) / BASE.m * score_rate(VEL_K) * score_rate(fk))


def nesterov_damping() -> sp.Expr:
    r"""Constant-:math:`\beta` Nesterov evaluates the gradient at :math:`y_n = x_n + \beta(x_n - x_{n-1})`;
    :math:`\nabla L(y_n) = \nabla L(x_n) + \nabla^2L\,(y_n - x_n) + \dots` and :math:`y_n - x_n =
    \beta\delta\dot x + O(\delta^2)` (Taylor), so after dividing by :math:`\eta` the ODE gains
    :math:`c'\,\frac{d}{dt}\Lambda\nabla L` with :math:`c' = \beta\delta = \beta\eta/(1-\beta)`; returns c'."""
    x = sp.symbols("x0:4", real=True)

    def taylor(h):
        return sum(x[k] * h ** k / sp.factorial(k) for k in range(4))

    lead = sp.expand(BETA * (taylor(0) - taylor(-DELTA))).coeff(x[1])
    return sp.factor(lead.xreplace({DELTA: STEP / (1 - BETA)}))


def heavy_ball_taylor() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    r"""The heavy-ball recurrence's left side :math:`x(t+\delta) - x(t) - \beta(x(t) - x(t-\delta))`
    for a smooth :math:`x`, by Taylor's formula to third order: returns its coefficients of
    :math:`\dot x`, :math:`\ddot x`, :math:`\dddot x` (symbols ``x1, x2, x3`` stand for them)."""
    x = sp.symbols("x0:4", real=True)

    def taylor(h):
        return sum(x[k] * h ** k / sp.factorial(k) for k in range(4))

    lhs = sp.expand(taylor(DELTA) - taylor(0) - BETA * (taylor(0) - taylor(-DELTA)))
    return tuple(sp.factor(lhs.coeff(x[k])) for k in (1, 2, 3))


def heavy_ball_mass() -> sp.Expr:
    r""":math:`\mu` from :func:`heavy_ball_taylor` with :math:`\delta = \eta/(1-\beta)`: dividing
    by :math:`\eta` (the coefficient of :math:`\dot x`) gives :math:`\dot x + \mu\ddot x = -\Lambda\nabla L`."""
    c1, c2, _ = heavy_ball_taylor()
    sub = {DELTA: STEP / (1 - BETA)}
    return sp.factor(sp.cancel((c2 / c1).xreplace(sub)))


def heavy_ball_mass_stated() -> sp.Expr:
    return (1 + BETA) * STEP / (2 * (1 - BETA) ** 2)


# ---------------------------------------------------- time-dependent modifications of H

ALPHA, ALPHA_P, BETA_T, BETA_P, C_P = sp.symbols(r"alpha \alpha' b b' c'", real=True)


def ansatz_rate(Hdot: sp.Expr, R: sp.Expr) -> sp.Expr:
    r"""For :math:`h = \alpha(t)H + b(t)\dot H + c(t)`:
    :math:`\dot h = \alpha' H + (\alpha + b' - b\gamma)\dot H + bR + c'` (using
    :math:`\ddot H = R - \gamma\dot H`), with ``alpha'`` etc. the values of the derivatives at t."""
    return ALPHA_P * sen_scalar() + (ALPHA + BETA_P - BETA_T * GAMMA) * Hdot + BETA_T * R + C_P


PHASE_GENERATORS = ("|v|^2", "v.vdot", "|vdot|^2", "q.kdot", "s", "E")


def phase_coordinates() -> dict[sp.Symbol, sp.Symbol]:
    r"""The phase-space functions that H, :math:`\dot H`, R depend on, as free coordinates
    (:math:`E = e^{s_t}`; with the parameters :math:`|q|^2, \eta_v, \eta_k, m` fixed)."""
    names = sp.symbols("P_vv P_vV P_VV P_qK P_s P_E", real=True)
    return dict(zip((inner(BASE.v, BASE.v), inner(BASE.v, VEL_V), inner(VEL_V, VEL_V),
                     inner(BASE.q, VEL_K), BASE.s, sp.exp(BASE.s)), names))


def coefficient_matrix(functions: list[sp.Expr]) -> sp.Matrix:
    """Rows: the functions' coefficients on the monomials of the phase coordinates (the
    parameters stay in the coefficients), for an exact linear-independence test."""
    coords = phase_coordinates()
    polys = [sp.Poly(sp.expand(sp.sympify(f).xreplace(coords)), *coords.values()) for f in functions]
    monomials = sorted({mono for p in polys for mono in p.as_dict()})
    return sp.Matrix([[p.as_dict().get(mono, 0) for mono in monomials] for p in polys])


# ------------------------------------------------ the first-order modified flow of heavy ball


@lru_cache(maxsize=None)
def modified_flow_rate() -> sp.Expr:
    r""":math:`\dot H` along the first-order reduction of :math:`\mu\ddot x + \dot x = F`:
    :math:`\dot x = F - \mu\,DF[F] + O(\mu^2)` (substitute :math:`\ddot x = DF[\dot x]` once).  Here
    :math:`DF[F]` is :func:`field_rate` with the velocities set to F (the classifier gradient's rate
    :math:`\dot g` stays a free vector), and the O(1) term :math:`\nabla H\cdot F` is kept: S2 cancels it."""
    fv, fk = topic_field(BASE)
    dv, dk = field_rate()
    rates = {BASE.v: fv - MU * dv, BASE.k: fk - MU * dk}
    Hdot = time_derivative(sen_scalar(), rates, (BASE.q, BASE.g, G_DOT, VEL_V, VEL_K))
    return substitute_vectors(Hdot, {VEL_V: fv, VEL_K: fk}, (BASE.q, BASE.v, BASE.k, BASE.g, G_DOT))


def modified_flow_rate_stated(factor: sp.Expr = 2) -> sp.Expr:
    r""":math:`\dot H = 2\mu\,Q(g)`, Q = S6's :math:`\eta^2` coefficient (``factor`` 2 is the derived value)."""
    return factor * MU * drift_coefficient_stated()


def heavy_ball_step_factor() -> sp.Expr:
    r"""One heavy-ball step lasts :math:`\delta = \eta/(1-\beta)`, so it changes H by
    :math:`\delta\cdot 2\mu Q = \frac{(1+\beta)\eta^2}{(1-\beta)^3}Q`: returns the factor of Q."""
    return sp.factor(STEP / (1 - BETA) * heavy_ball_mass() * modified_flow_rate_stated() / (MU * drift_coefficient_stated()))
