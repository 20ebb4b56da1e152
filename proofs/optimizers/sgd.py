r"""Mini-batch SGD: the change of the SEN quantity over one epoch, to :math:`O(\eta^2)`.

An epoch is B steps :math:`\theta_{b} = \theta_{b-1} - \eta\Lambda\nabla L_{B_b}(\theta_{b-1})`, batch
:math:`B_b` with classifier gradient :math:`g_b = \sum_{i\in B_b} g_i` (the field of the model is linear
in g: every sentence containing t sees the same :math:`a_t`, so a batch acts as one sentence with
:math:`g_b`).  S2 makes the :math:`O(\eta)` term of every step vanish *at every state and for every g*,
so cross terms between steps only enter at :math:`O(\eta^3)` and (derived for B = 2 in
:func:`epoch_change`)

.. math:: \Delta H_{\text{epoch}} = \eta^2\sum_{b=1}^{B} Q(g_b) + O(\eta^3),\qquad
          Q(g) = g^\top M g,\quad M = \eta_v|q|^2a_t^2\big(\eta_v I - \eta_k|q|^2a_t(1-a_t)v_tv_t^\top\big),

:math:`Q` being S6's :math:`\eta^2` coefficient, evaluated at the epoch's starting state.  With
:math:`\bar g = \frac1B\sum_b g_b` and the batch gradients' covariance
:math:`\Sigma_B = \frac1B\sum_b (g_b-\bar g)(g_b-\bar g)^\top`:

.. math:: \sum_b Q(g_b) = B\,Q(\bar g) + B\operatorname{tr}(M\Sigma_B).

Over uniformly random partitions of n sentences into batches of b (sampling without replacement),
with :math:`G = \sum_i g_i` and the per-sentence covariance
:math:`S = \frac1n\sum_i (g_i - G/n)(g_i - G/n)^\top`:

.. math:: \mathbb E\,\Delta H_{\text{epoch}} = \eta^2\Big(\frac{b}{n}Q(G) + \frac{n(n-b)}{n-1}
          \operatorname{tr}(MS)\Big) + O(\eta^3),

which at full batch (b = n) is S6's coefficient :math:`Q(G)`.
"""
from __future__ import annotations

from itertools import combinations
import sympy as sp
from sympy import MatrixSymbol
from sympy.matrices.expressions import MatAdd, MatrixExpr

from attndyn.proofs.algebra import inner, scalarize
from attndyn.proofs.claims.symbolic_limits import drift_coefficient_stated, taylor_coefficients
from attndyn.proofs.dynamics import sen_H, topic_field
from attndyn.proofs.model import BASE, STEP
from attndyn.proofs.optimizers.phase import substitute_vectors, time_derivative, VEL_K, VEL_V


ALPHA_Q = sp.Symbol("alpha_Q", real=True)
BETA_Q = sp.Symbol("beta_Q", real=True)


def generic_quadratic() -> sp.Expr:
    r""":math:`\alpha|g|^2 + \beta(g\cdot v_t)^2`: the shape of S6's coefficient (see :func:`quadratic_factors`),
    used to check the purely algebraic epoch identities fast (no exponentials)."""
    return ALPHA_Q * inner(BASE.g, BASE.g) + BETA_Q * inner(BASE.g, BASE.v) ** 2


def quadratic_factors() -> dict[sp.Symbol, sp.Expr]:
    r""":math:`\alpha = \partial Q/\partial|g|^2`, :math:`\beta = \partial Q/\partial(g\cdot v_t)^2` of S6's
    coefficient (``Q`` must equal :func:`generic_quadratic` with these, checked by the claim)."""
    Q, x = drift_coefficient_stated(), inner(BASE.g, BASE.v)
    return {ALPHA_Q: Q.diff(inner(BASE.g, BASE.g)), BETA_Q: Q.diff(x, 2) / 2}


def batch_gradients(B: int) -> tuple[MatrixSymbol, ...]:
    return tuple(MatrixSymbol(f"g_{{{b}}}", BASE.d, 1) for b in range(1, B + 1))


def Q_at(h: MatrixExpr, coefficient: sp.Expr | None = None) -> sp.Expr:
    r"""S6's :math:`\eta^2` coefficient with the classifier gradient ``g`` replaced by the vector
    expression ``h`` (its inner products :math:`g\cdot g`, :math:`g\cdot v_t` re-expanded)."""
    c = drift_coefficient_stated() if coefficient is None else coefficient
    S = BASE
    return c.xreplace({inner(S.g, S.g): scalarize(h.T * h), inner(S.g, S.v): scalarize(h.T * S.v),
                       inner(S.g, S.q): scalarize(h.T * S.q)})


def epoch_change(B: int = 2) -> sp.Expr:
    r""":math:`H(\theta_B) - H(\theta_0)` for B consecutive gradient steps of size :math:`\eta`, step b
    with a free classifier gradient :math:`g_b` (its value at the state it acts on), the field of
    each step being the model's (:func:`attndyn.proofs.dynamics.topic_field`) at the current state;
    the score moves by :math:`q\cdot\Delta k_t` exactly."""
    S = BASE
    fv0, fk0 = topic_field(S)
    v, s = S.v, S.s
    for g in batch_gradients(B):
        fv, sk = fv0.xreplace({S.g: g}), (S.q.T * fk0).xreplace({S.g: g})
        here = {S.v: v, S.s: s}  # simultaneous: the field at the current state
        v, s = v + STEP * fv.xreplace(here), s + STEP * scalarize(sk.xreplace(here))
    return _H_at(v, s) - scalarize(sen_H())


def _H_at(v: MatrixExpr, s: sp.Expr) -> sp.Expr:
    """The SEN quantity at a moved state: ``sen_H`` with v_t and s_t substituted."""
    S = BASE
    Hm = sen_H()
    norm = MatAdd(*[t for t in MatAdd.make_args(Hm) if t.has(S.v)])
    rest = MatAdd(*[t for t in MatAdd.make_args(Hm) if not t.has(S.v)])
    return scalarize(norm.xreplace({S.v: v})) + scalarize(rest).xreplace({S.s: s})


def epoch_coefficients(B: int = 2) -> list[sp.Expr]:
    """Taylor coefficients in eta (orders 0, 1, 2) of :func:`epoch_change`."""
    return taylor_coefficients(epoch_change(B), STEP, 2)


def covariance_split(B: int, coefficient: sp.Expr | None = None, with_noise: bool = True) -> tuple[sp.Expr, sp.Expr]:
    r"""(:math:`\sum_b Q(g_b)`, :math:`B\,Q(\bar g) + \sum_b Q(g_b - \bar g)`); the second sum is
    :math:`B\operatorname{tr}(M\Sigma_B)`; ``with_noise=False`` drops it (the control)."""
    gs = batch_gradients(B)
    mean = MatAdd(*gs) / B
    lhs = sp.Add(*[Q_at(g, coefficient) for g in gs])
    rhs = B * Q_at(mean, coefficient)
    if with_noise:
        rhs += sp.Add(*[Q_at(g - mean, coefficient) for g in gs])
    return lhs, rhs


def partitions(n: int, b: int) -> list[tuple[tuple[int, ...], ...]]:
    """Every partition of range(n) into n/b unordered batches of size b."""
    if n % b:
        raise ValueError(f"batch size {b} must divide n = {n}")
    if n == 0:
        return [()]
    first, rest = 0, list(range(1, n))
    out = []
    for others in combinations(rest, b - 1):
        batch = (first, *others)
        left = [i for i in rest if i not in others]
        for tail in partitions(len(left), b):
            out.append((batch, *tuple(tuple(left[j] for j in bt) for bt in tail)))
    return out


N_SYM = sp.Symbol("n", integer=True, positive=True)  # sentences containing t
B_SYM = sp.Symbol("b", integer=True, positive=True)  # batch size


def epoch_weights() -> tuple[sp.Expr, sp.Expr]:
    r"""The weights of :math:`Q(G)` and of :math:`\operatorname{tr}(MS)` in :math:`\mathbb E\sum_b Q(g_b)`:
    :math:`b/n` and :math:`n(n-b)/(n-1)` (the statement of O2 is rendered from these)."""
    return B_SYM / N_SYM, N_SYM * (N_SYM - B_SYM) / (N_SYM - 1)


def sentence_gradients(n: int) -> tuple[MatrixSymbol, ...]:
    return tuple(MatrixSymbol(f"g^{{({i})}}", BASE.d, 1) for i in range(1, n + 1))


def expected_epoch(n: int, b: int, coefficient: sp.Expr | None = None) -> tuple[sp.Expr, sp.Expr]:
    r"""(average over all partitions of :math:`\sum_b Q(g_b)`, the stated
    :math:`\frac{b}{n}Q(G) + \frac{n(n-b)}{n-1}\cdot\frac1n\sum_i Q(g_i - G/n)`)."""
    gs = sentence_gradients(n)
    parts = partitions(n, b)
    avg = sp.Add(*[Q_at(MatAdd(*[gs[i] for i in batch]), coefficient) for p in parts for batch in p]) / len(parts)
    G = MatAdd(*gs)
    w_mean, w_noise = (w.subs({N_SYM: n, B_SYM: b}) for w in epoch_weights())
    noise = sp.Add(*[Q_at(g - G / n, coefficient) for g in gs]) / n if n > 1 else sp.S.Zero  # tr(M S)
    stated = w_mean * Q_at(G, coefficient) + w_noise * noise  # w_noise = 0 at full batch (b = n)
    return avg, stated


EPS = sp.Symbol("epsilon")


def _field(g: MatrixSymbol) -> tuple[MatrixExpr, MatrixExpr]:
    fv, fk = topic_field(BASE)
    return fv.xreplace({BASE.g: g}), fk.xreplace({BASE.g: g})


def _directional(f: MatrixExpr, dv: MatrixExpr, dk: MatrixExpr) -> MatrixExpr:
    r""":math:`\frac{d}{d\epsilon} f(v_t + \epsilon\,dv, s_t + \epsilon\,q\cdot dk)|_0` (g held fixed)."""
    move = {BASE.v: BASE.v + EPS * dv, BASE.s: BASE.s + EPS * scalarize(BASE.q.T * dk)}
    return f.xreplace(move).diff(EPS).subs(EPS, 0)


def epoch_coefficients_chain() -> tuple[sp.Expr, sp.Expr]:
    r"""Orders :math:`\eta` and :math:`\eta^2` of :math:`H(\theta_2(\eta)) - H(\theta_0)` for two steps, by the chain
    rule along the curve :math:`\theta_2(\eta) = \theta_0 + \eta F(\theta_0, g_1) + \eta F(\theta_1(\eta), g_2)`:
    :math:`\theta_2'(0) = F(g_1) + F(g_2)`, :math:`\theta_2''(0) = 2\,DF_{g_2}[F(g_1)]`, and
    :math:`\frac{d^2}{d\eta^2}H = \theta'^\top\nabla^2H\,\theta' + \nabla H\cdot\theta''`.  Returns
    (:math:`\nabla H\cdot\theta'`, :math:`\frac12(\theta'^\top\nabla^2H\theta' + \nabla H\cdot\theta'')`)."""
    g1, g2 = batch_gradients(2)
    (v1, k1), (v2, k2) = _field(g1), _field(g2)
    first = {BASE.v: v1 + v2, BASE.k: k1 + k2}
    second = {BASE.v: 2 * _directional(v2, v1, k1), BASE.k: 2 * _directional(k2, v1, k1)}
    H = scalarize(sen_H())
    consts = (BASE.q, g1, g2)
    c1 = time_derivative(H, first, consts)
    # the Hessian form along a fixed direction (VEL_V, VEL_K), then the direction set to theta'(0)
    straight, fixed = {BASE.v: VEL_V, BASE.k: VEL_K}, (BASE.q, VEL_V, VEL_K)
    hess = time_derivative(time_derivative(H, straight, fixed), straight, fixed)
    hess = substitute_vectors(hess, {VEL_V: v1 + v2, VEL_K: k1 + k2}, (BASE.q, BASE.v, BASE.k, g1, g2))
    return c1, (hess + time_derivative(H, second, consts)) / 2
