r"""The reduced model with concrete fixed linear classifiers, in float64, for the numeric
confirmations of the optimizer derivations.

State :math:`(v_t, s_t)` (query fixed, non-topic words frozen: :math:`c = a_t v_t`,
:math:`a_t = e^{s_t}/(e^{s_t}+m)`); one or more sentences containing t, sentence i with its own
fixed classifier :math:`\ell_i = \mathrm{CE}(W_i c + b_i, y_i)`.  The loss derivatives
:math:`\partial\ell_i/\partial v_t` and :math:`\partial\ell_i/\partial s_t` are **SymPy's
derivatives of the model** (:func:`attndyn.proofs.model.linear_cross_entropy` composed with the
context vector), lambdified; nothing is typed in.  By S1, :math:`\nabla_{k_t}\ell =
(\partial\ell/\partial s_t)\,q`, so a key step moves the score by
:math:`q\cdot\Delta k_t = -\eta\eta_k|q|^2\,\partial\ell/\partial s_t` exactly.

:func:`rk4` is a fixed-step classical Runge–Kutta integrator (error :math:`O(h^4)`); the claims estimate its
error by step doubling (the same run with half the steps), which is what their numeric thresholds use.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp

from attndyn.proofs.algebra import INNER_PAIRS
from attndyn.proofs.model import BASE, ETA_K, ETA_V, linear_cross_entropy


@lru_cache(maxsize=None)
def _derivatives(d: int, K: int) -> Callable:
    v = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"v_{i + 1}", real=True))
    W = sp.Matrix(K, d, lambda i, j: sp.Symbol(f"W_{i + 1}_{j + 1}", real=True))
    b = sp.Matrix(K, 1, lambda i, _: sp.Symbol(f"b_{i + 1}", real=True))
    a = BASE.weight().xreplace({BASE.Z0: BASE.m})
    fns = []
    for label in range(K):
        ell = linear_cross_entropy(W, label, b)(a * v)
        out = [ell] + [ell.diff(x) for x in v] + [ell.diff(BASE.s)]
        fns.append(sp.lambdify([list(v), BASE.s, BASE.m, list(W), list(b)], out, modules="numpy", cse=True))
    return tuple(fns)


@dataclass(frozen=True)
class Sentence:
    """One sentence's fixed linear classifier: ``W`` (K x d), ``b`` (K), label ``y``."""

    W: np.ndarray
    b: np.ndarray
    y: int

    def evaluate(self, v: np.ndarray, s: float, m: float) -> tuple[float, np.ndarray, float]:
        r"""(:math:`\ell`, :math:`\partial\ell/\partial v_t`, :math:`\partial\ell/\partial s_t`)."""
        K, d = self.W.shape
        out = _derivatives(d, K)[self.y](list(v), s, m, list(self.W.ravel()), list(self.b))
        return float(out[0]), np.array(out[1:1 + d], dtype=np.float64), float(out[1 + d])


@dataclass(frozen=True)
class Reduced:
    r"""The reduced model: sentences containing t, :math:`q`, m and the rates."""

    sentences: tuple[Sentence, ...]
    q: np.ndarray
    m: float
    eta_v: float
    eta_k: float

    @property
    def q_sq(self) -> float:
        return float(self.q @ self.q)

    @property
    def ratio(self) -> float:
        return self.eta_v / self.eta_k

    def attention(self, s: float) -> float:
        return 1.0 / (1.0 + self.m * np.exp(-s))

    def loss_and_grads(self, v, s, which=None) -> tuple[float, np.ndarray, float]:
        r"""Summed over ``which`` sentences (all by default): :math:`\ell`, :math:`\nabla_v\ell`, :math:`\partial_s\ell`."""
        idx = range(len(self.sentences)) if which is None else which
        L, gv, gs = 0.0, np.zeros_like(v), 0.0
        for i in idx:
            li, gvi, gsi = self.sentences[i].evaluate(v, s, self.m)
            L, gv, gs = L + li, gv + gvi, gs + gsi
        return L, gv, gs

    def field(self, v, s, which=None) -> tuple[np.ndarray, float]:
        r"""Gradient flow: :math:`\dot v_t = -\eta_v\nabla_v\ell`, :math:`\dot s_t = -\eta_k|q|^2\partial_s\ell`."""
        _, gv, gs = self.loss_and_grads(v, s, which)
        return -self.eta_v * gv, -self.eta_k * self.q_sq * gs

    def classifier_gradient(self, v, s, which=None) -> np.ndarray:
        r""":math:`g = \nabla_c\ell`, recovered from :math:`\nabla_v\ell = a_t g` (S1)."""
        _, gv, _ = self.loss_and_grads(v, s, which)
        return gv / self.attention(s)

    def H(self, v, s) -> float:
        r""":math:`H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}(s_t + e^{s_t}/m)`."""
        return self.q_sq * float(v @ v) - 2.0 * self.ratio * (s + np.exp(s) / self.m)

    def gd_step(self, v, s, eta: float, which=None) -> tuple[np.ndarray, float]:
        """One gradient-descent step of size ``eta`` (on the sentences ``which``)."""
        fv, fs = self.field(v, s, which)
        return v + eta * fv, s + eta * fs


def lambdify_inner(expr: sp.Expr, extra: tuple[sp.Symbol, ...] = ()) -> Callable:
    r"""``f(vectors, **scalars)``: ``expr`` (inner-product symbols, :math:`s_t`, m, rates, ``extra``)
    evaluated with :math:`(x\cdot y)` computed from ``vectors`` (name -> array)."""
    inners = sorted((s for s in expr.free_symbols if s in INNER_PAIRS), key=str)
    scalars = sorted(expr.free_symbols - set(inners), key=str)
    f = sp.lambdify(inners + scalars, expr, modules="numpy")
    names = {BASE.s: "s", BASE.m: "m", ETA_V: "eta_v", ETA_K: "eta_k", **{e: str(e) for e in extra}}

    def call(vectors: dict[str, np.ndarray], **kw) -> float:
        args = [float(np.dot(vectors[INNER_PAIRS[x][0]], vectors[INNER_PAIRS[x][1]])) for x in inners]
        args += [kw[names[x]] for x in scalars]
        return float(f(*args))

    return call


def rk4(f: Callable[[float, np.ndarray], np.ndarray], y0: np.ndarray, t0: float, t1: float,
        steps: int) -> np.ndarray:
    """Classical RK4 with ``steps`` equal steps from t0 to t1; returns the state at t1."""
    h = (t1 - t0) / steps
    y, t = np.array(y0, dtype=np.float64), t0
    for _ in range(steps):
        k1 = f(t, y)
        k2 = f(t + h / 2, y + h / 2 * k1)
        k3 = f(t + h / 2, y + h / 2 * k2)
        k4 = f(t + h, y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
        t = t0 + (_ + 1) * h
    return y


def paper_like(eta_v: float = 1.0, eta_k: float = 0.5, sentences: int = 1) -> Reduced:
    """A fixed small instance (d = 2, K = 3, m = 4, unequal rates) used by the optimizer claims;
    sentence i has its own classifier so that mini-batches see different gradients."""
    rng = np.random.default_rng(20210503)
    sents = tuple(Sentence(rng.standard_normal((3, 2)), 0.3 * rng.standard_normal(3), int(i % 3))
                  for i in range(sentences))
    return Reduced(sents, np.array([0.6, 0.8]), 4.0, eta_v, eta_k)
