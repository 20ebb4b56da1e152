r"""The training dynamics derived from the one model (:mod:`attndyn.proofs.model`).

* :func:`derive_gradients` — the topic word's gradients by matrix calculus (symbolic ``d``);
* :func:`topic_field` — the gradient-flow vector field :math:`(\dot v_t, \dot k_t)` with the
  query fixed and the non-topic words frozen;
* :func:`sen_H` and :func:`lie_derivative` — the SEN quantity
  :math:`H = |q|^2|v_t|^2 - 2(\eta_v/\eta_k)(s_t + e^{s_t}/m)` and its derivative along a flow;
* ``explicit_*`` — the same gradients in explicit components (concrete ``d``, ``m``).
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp
from sympy import Identity, ZeroMatrix
from sympy.matrices.expressions import MatrixExpr

from attndyn.proofs.algebra import is_exactly_zero, scalarize
from attndyn.proofs.confirm import judge_arrays, NumericCheck, rng_for, sample_values
from attndyn.proofs.model import (BASE, ETA_K, ETA_V, explicit_sentence, linear_cross_entropy,
                                  LR_RATIO, SentenceSymbols, undefined_loss)
from attndyn.proofs.settings import SYMBOLIC, SYMBOLIC_SAMPLING

# ---------------------------------------------------------------- the derivations


@dataclass(frozen=True)
class TopicGradients:
    r"""Loss derivatives of one sentence w.r.t. the topic word, derived by matrix calculus.

    ``dc_ds`` = :math:`\partial c/\partial s_t`; ``grad_v`` =
    :math:`(\partial c/\partial v_t)^\top g`; ``dl_ds`` = :math:`g^\top \partial c/\partial s_t`
    (1x1); ``grad_k`` = :math:`\nabla_k s_t\,\partial\ell/\partial s_t`; ``ds_dk`` =
    :math:`\nabla_k (q^\top k_t)`.
    """

    S: SentenceSymbols
    c: MatrixExpr
    dc_ds: MatrixExpr
    dc_dv: MatrixExpr
    grad_v: MatrixExpr
    dl_ds: MatrixExpr
    ds_dk: MatrixExpr
    grad_k: MatrixExpr


@lru_cache(maxsize=None)
def derive_gradients(S: SentenceSymbols) -> TopicGradients:
    """Differentiate the model's context vector (chain rule through ``g``)."""
    c = S.context()
    dc_ds = c.diff(S.s)
    dc_dv = c.diff(S.v)
    grad_v = dc_dv.T * S.g
    dl_ds = S.g.T * dc_ds
    ds_dk = S.score_expr().diff(S.k)
    return TopicGradients(S, c, dc_ds, dc_dv, grad_v, dl_ds, ds_dk, ds_dk * dl_ds)


def frozen(S: SentenceSymbols, m: sp.Expr | None = None) -> dict:
    r"""The paper's regime for the non-topic words: scores 0 and embeddings 0, so
    :math:`Z_0 = \sum_j e^{0} = m` and :math:`N = \sum_j e^{0}\,0 = 0`."""
    return {S.Z0: S.m if m is None else m, S.N: ZeroMatrix(S.d, 1)}


def topic_field(S: SentenceSymbols, *, m: sp.Expr | None = None, freeze: bool = True,
                eta_v: sp.Expr = ETA_V, eta_k: sp.Expr = ETA_K) -> tuple[MatrixExpr, MatrixExpr]:
    r"""Gradient flow of the topic word for sentence ``S``:
    :math:`\dot v_t = -\eta_v\nabla_v\ell`, :math:`\dot k_t = -\eta_k\nabla_k\ell`
    (in the frozen regime with ``m`` non-topic words unless ``freeze=False``)."""
    G = derive_gradients(S)
    sub = frozen(S, m) if freeze else {}
    return (-eta_v * G.grad_v).xreplace(sub), (-eta_k * G.grad_k).xreplace(sub)


def sen_H(m: sp.Expr = BASE.m, ratio: sp.Expr = LR_RATIO, S: SentenceSymbols = BASE) -> MatrixExpr:
    r"""The SEN quantity :math:`H = |q|^2 |v_t|^2 - 2\frac{\eta_v}{\eta_k}(s_t + e^{s_t}/m)` (1x1)."""
    return (S.q.T * S.q) * (S.v.T * S.v) - 2 * ratio * (S.s + sp.exp(S.s) / m) * Identity(1)


def lie_derivative(H: MatrixExpr, vdot: MatrixExpr, kdot: MatrixExpr, qdot: MatrixExpr | None = None,
                   S: SentenceSymbols = BASE) -> dict[str, sp.Expr]:
    r"""The terms of :math:`dH/d\tau` along a field, H a function of :math:`(v_t, q, s_t)`:

    .. math:: \dot H = \nabla_v H\cdot\dot v_t + \partial_s H\,(\nabla_k s_t\cdot\dot k_t
              + \nabla_q s_t\cdot\dot q) + \nabla_q H|_{s}\cdot\dot q

    with :math:`\nabla_k s_t`, :math:`\nabla_q s_t` differentiated from :math:`s_t = q^\top k_t`.
    """
    H_s = scalarize(H.diff(S.s))
    score = S.score_expr()
    terms = {
        "embedding": scalarize(H.diff(S.v).T * vdot),
        "score": H_s * scalarize(score.diff(S.k).T * kdot),
    }
    if qdot is not None:
        terms["query norm"] = scalarize(H.diff(S.q).T * qdot)
        terms["score via query"] = H_s * scalarize(score.diff(S.q).T * qdot)
    return terms


# ------------------------------------------------- explicit components (d = 1, 2, 3)


def canonical_loss_gradient(expr: sp.Expr, L: sp.Function, G: sp.Matrix) -> sp.Expr:
    r"""Replace SymPy's :math:`\partial_i L` evaluated at the context vector by the symbol ``G[i]``.

    SymPy writes the chain rule through an undefined ``L(c_1, ..., c_d)`` with
    ``Subs(Derivative(L(..., xi_i, ...), xi_i), xi_i, c_i)``; the index ``i`` is the
    position of the differentiation variable among L's arguments.
    """
    def index(der: sp.Derivative) -> int:
        if der.expr.func != L or len(der.variables) != 1:
            raise ValueError(f"unexpected derivative {der}")
        return list(der.expr.args).index(der.variables[0])

    expr = expr.replace(lambda e: isinstance(e, sp.Subs) and isinstance(e.expr, sp.Derivative),
                        lambda e: G[index(e.expr)])
    return expr.replace(lambda e: isinstance(e, sp.Derivative) and e.expr.func == L,
                        lambda e: G[index(e)])


def explicit_gradient_formulas(X, G: sp.Matrix) -> dict[str, list[sp.Expr]]:
    r"""S1's formulas in explicit components, with ``G`` for :math:`\nabla_c\ell`:
    :math:`a_t G`, :math:`a_t G^\top(v_t-c)\,q` and :math:`\sum_w a_w G^\top(v_w-c)\,k_w`."""
    a, c = X.weights, X.context
    dl_ds = [a[w] * (G.T * (X.embeddings[w] - c))[0, 0] for w in range(X.m + 1)]
    grad_q = sum((dl_ds[w] * X.keys[w] for w in range(X.m + 1)), sp.zeros(X.d, 1))
    return {"v_t": list(a[0] * G), "k_t": list(dl_ds[0] * X.q), "q": list(grad_q)}


def explicit_derivatives(X, loss: sp.Expr) -> dict[str, list[sp.Expr]]:
    """The same gradients by differentiating the explicit loss component by component."""
    return {"v_t": [loss.diff(x) for x in X.embeddings[0]],
            "k_t": [loss.diff(x) for x in X.keys[0]],
            "q": [loss.diff(x) for x in X.q]}


def explicit_s1_exact(d: int, m: int) -> bool:
    """S1 with explicit components and an undefined classifier loss: derived - formula cancels to 0."""
    X = explicit_sentence(d, m)
    Lf, L = undefined_loss(d)
    G = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"G_{i + 1}", real=True))
    derived = explicit_derivatives(X, X.loss(Lf))
    stated = explicit_gradient_formulas(X, G)
    return all(
        is_exactly_zero(canonical_loss_gradient(dv, L, G) - sv, X.scores)
        for name in derived for dv, sv in zip(derived[name], stated[name])
    )


@dataclass(frozen=True)
class ExplicitLinear:
    """A concrete classifier (linear, cross-entropy, label 0) in explicit components, lambdified.

    ``gradients(*args)`` returns the derived gradients w.r.t. v_t, k_t, q (flattened,
    in that order) and ``formulas(*args)`` S1's formulas with :math:`g = \\nabla_c\\ell`;
    ``args`` are the values of ``symbols``.
    """

    X: object
    symbols: tuple[sp.Symbol, ...]
    W: sp.Matrix
    b: sp.Matrix
    gradients: Callable
    formulas: Callable


@lru_cache(maxsize=None)
def explicit_linear(d: int, m: int, K: int) -> ExplicitLinear:
    X = explicit_sentence(d, m)
    W = sp.Matrix(K, d, lambda i, j: sp.Symbol(f"W_{{{i + 1},{j + 1}}}", real=True))
    b = sp.Matrix(K, 1, lambda i, _: sp.Symbol(f"b_{i + 1}", real=True))
    L = linear_cross_entropy(W, 0, b)
    C = sp.Matrix(d, 1, lambda i, _: sp.Dummy(f"C_{i + 1}", real=True))
    # g = nabla_c loss of the classifier, differentiated on its own and evaluated at c
    g = sp.Matrix([L(C).diff(ci) for ci in C]).xreplace(dict(zip(C, X.context)))
    derived = explicit_derivatives(X, X.loss(L))
    stated = explicit_gradient_formulas(X, g)
    flat = lambda dd: [e for name in ("v_t", "k_t", "q") for e in dd[name]]  # noqa: E731
    syms = tuple(X.parameters()) + tuple(W) + tuple(b)
    return ExplicitLinear(X, syms, W, b,
                          sp.lambdify(syms, flat(derived), modules="numpy", cse=True),
                          sp.lambdify(syms, flat(stated), modules="numpy", cse=True))


def explicit_linear_check(what: str, stream: int) -> NumericCheck:
    """S1 numerically with a concrete linear classifier: derived gradients vs the formulas."""
    cfg = SYMBOLIC_SAMPLING
    d, m = cfg.explicit_dims[-1]
    E = explicit_linear(d, m, cfg.explicit_classes)
    values = sample_values(E.symbols, SYMBOLIC.points, rng_for(stream))
    args = [values[s] for s in E.symbols]
    derived = np.array(E.gradients(*args), dtype=np.float64)
    stated = np.array(E.formulas(*args), dtype=np.float64)
    return judge_arrays(what, derived - stated, np.abs(derived) + np.abs(stated))
