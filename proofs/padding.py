r"""The SEN relation of a topic word when every sentence is padded with one shared trainable word.

The authors pad each SST sentence to L tokens with a word ``$PAD$`` that has its own score
:math:`p = q\cdot k_P` and embedding :math:`u` and trains (no mask).  For a topic word t in a
sentence with r other real words (frozen: score 0, embedding 0, as in the paper's regime) and
:math:`k_P = L - 1 - r` PAD tokens, the non-topic aggregates of :mod:`attndyn.proofs.model` are

.. math::  Z_0 = r + k_P e^{p} =: M(p), \qquad N = k_P e^{p} u,

so PAD is the "moving non-topic words" case (S7c) with one word that occurs :math:`k_P` times.
Substituting into the topic word's flow (derived from the model, :func:`topic_field` with
``freeze=False``) gives, exactly (claim ``S8-pad-sen``),

.. math::  \frac{d}{d\tau}\big(|q|^2|v_t|^2\big) - 2\frac{\eta_v}{\eta_k}\Big(1 + \frac{e^{s_t}}{M(p)}\Big)
           \frac{ds_t}{d\tau} = -2\eta_v|q|^2 a_t\,\frac{k_P e^{p}}{M(p)}\,(g\cdot u),

:math:`a_t = e^{s_t}/(e^{s_t} + M(p))`.  PAD's *score* only replaces the paper's m by the moving
:math:`M(p(\tau)) = r + k_P e^{p(\tau)}`; its *embedding* adds the right-hand side.  With
:math:`u \approx 0` the scaled norm follows

.. math::  |q|^2|v_t|^2 = |q|^2|v_{t,0}|^2 + 2\frac{\eta_v}{\eta_k}\Big((s_t - s_{t,0})
           + \int \frac{e^{s_t}\,ds_t}{r + k_P e^{p(\tau)}}\Big)

(:func:`pad_sen_prediction`): between the closed forms with :math:`m = r + k_P` (PAD at score 0,
the padded length − 1) and :math:`m = r` (PAD ignored), nearer the first while :math:`p \approx 0`
and the second once p has fallen.  How the curve bends is read off :math:`M(p)`: the
:math:`e^{s}` term of the slope is divided by :math:`M(p)` instead of m.
"""
from __future__ import annotations

import numpy as np
import sympy as sp
from sympy import MatrixSymbol

from attndyn.proofs.algebra import inner
from attndyn.proofs.errors import UsageError
from attndyn.proofs.model import BASE, ETA_V

R_REAL = sp.Symbol("r", positive=True)  # other real words in the sentence (frozen)
K_PAD = sp.Symbol("k_P", positive=True)  # PAD tokens in the sentence (L - 1 - r)
P_SCORE = sp.Symbol("p", real=True)  # PAD's score q . k_P
U_PAD = MatrixSymbol("u", BASE.d, 1)  # PAD's embedding


def effective_m(r: sp.Expr = R_REAL, k: sp.Expr = K_PAD, p: sp.Expr = P_SCORE) -> sp.Expr:
    r""":math:`M(p) = r + k_P e^{p}`: what PAD makes of the paper's m."""
    return r + k * sp.exp(p)


def pad_aggregates(S=BASE) -> dict:
    r"""The non-topic aggregates of a padded sentence: :math:`Z_0 = M(p)`, :math:`N = k_P e^{p} u`."""
    return {S.Z0: effective_m(), S.N: K_PAD * sp.exp(P_SCORE) * U_PAD}


def pad_drift_stated(S=BASE) -> sp.Expr:
    r"""The stated right-hand side :math:`-2\eta_v|q|^2 a_t\,\frac{k_P e^{p}}{M(p)}\,(g\cdot u)`."""
    M = effective_m()
    a_t = sp.exp(S.s) / (sp.exp(S.s) + M)
    return -2 * ETA_V * inner(S.q, S.q) * a_t * K_PAD * sp.exp(P_SCORE) / M * inner(S.g, U_PAD)


# --------------------------------------------------------------------------- numeric prediction

def pad_sen_prediction(s, p, r, k, *, s0=None, qv0_sq=0.0, lr_ratio=1.0) -> np.ndarray:
    r"""The scaled norm :math:`|q||v_t|` predicted along a recorded path (``s[j]``, ``p[j]``) of the
    topic word's score and PAD's score, with PAD's embedding neglected:

    .. math:: |q|^2|v_t|^2 = q_{v_0} + 2\rho\Big((s_j - s_0) + \sum_{i<j}
              \frac{e^{s_{i+1}} - e^{s_i}}{r + k\,\bar E_i}\Big),
              \quad \bar E_i = \tfrac12(e^{p_i} + e^{p_{i+1}})

    (the integral of :math:`e^{s}/M(p)\,ds` with :math:`M` held at its interval mean; exact when p
    is constant).  ``r``, ``k``: real other words and PAD tokens of the word's sentences (means).
    ``nan`` where the radicand is negative.  Computed with :math:`e^{s - \max s}` (no overflow
    for scores below ~700 + log of the float range)."""
    s = np.asarray(s, dtype=np.float64)
    p = np.asarray(p, dtype=np.float64)
    if s.shape != p.shape or s.ndim != 1 or len(s) == 0:
        raise UsageError(f"pad_sen_prediction: s and p must be 1-D paths of the same length, got "
                         f"{s.shape} and {p.shape}")
    if not (r >= 0 and k >= 0 and r + k > 0):
        raise UsageError(f"pad_sen_prediction: expected r, k >= 0 with r + k > 0, got r={r}, k={k}")
    s0 = float(s[0]) if s0 is None else float(s0)
    shift = max(float(np.max(s)), s0)
    es = np.exp(s - shift)
    ep = np.exp(p)
    M = r + k * 0.5 * (ep[1:] + ep[:-1])
    first = (es[0] - np.exp(s0 - shift)) / (r + k * ep[0])  # 0 when the path starts at s0
    integral = np.concatenate([[first], np.diff(es) / M])
    y2 = qv0_sq + 2 * lr_ratio * ((s - s0) + np.cumsum(integral) * np.exp(shift))
    with np.errstate(invalid="ignore"):
        return np.where(y2 >= 0, np.sqrt(np.maximum(y2, 0.0)), np.nan)
