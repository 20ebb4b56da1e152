r"""Time derivatives on a phase space (positions and velocities) in a symbolic dimension.

A scalar built by :func:`attndyn.proofs.algebra.scalarize` is a function of inner-product
symbols :math:`(x\cdot y)`, the score :math:`s_t` and plain scalars.  Along a motion in which
each vector :math:`x` moves with a rate :math:`\dot x` (a matrix expression), its time derivative
is, by the product rule,

.. math:: \frac{d}{dt}E = \sum_{(x\cdot y)} \frac{\partial E}{\partial (x\cdot y)}
          \big(\dot x\cdot y + x\cdot\dot y\big) + \frac{\partial E}{\partial s_t}\,\dot s_t,
          \qquad \dot s_t = q\cdot\dot k_t

(the query is fixed, so :math:`\dot s_t` follows from :math:`s_t = q^\top k_t`).  Vectors without a
rate are constants; a vector whose rate is unknown (the classifier gradient ``g``) must not occur.
"""
from __future__ import annotations

from typing import Mapping

import sympy as sp
from sympy import MatrixSymbol
from sympy.matrices.expressions import MatrixExpr

from attndyn.proofs.algebra import INNER_PAIRS, inner, scalarize
from attndyn.proofs.model import BASE

# the velocities of the topic word's embedding and key (momentum methods keep them as state)
VEL_V = MatrixSymbol(r"\dot{v}_{t}", BASE.d, 1)
VEL_K = MatrixSymbol(r"\dot{k}_{t}", BASE.d, 1)


def time_derivative(expr: sp.Expr, rates: Mapping[MatrixSymbol, MatrixExpr],
                    constants: tuple[MatrixSymbol, ...] = (BASE.q,)) -> sp.Expr:
    r""":math:`dE/dt` of a scalarized expression (see the module doc).

    ``rates`` maps each moving vector to its rate; ``constants`` are vectors that do not move.
    ``rates`` must contain ``BASE.k`` if ``expr`` involves the score :math:`s_t`.
    Raises ``ValueError`` for an inner product of a vector that is neither.
    """
    by_name = {x.name: x for x in (*rates, *constants)}
    total = sp.S.Zero
    for sym in sorted(expr.free_symbols, key=sp.default_sort_key):
        if sym in INNER_PAIRS:
            names = INNER_PAIRS[sym]
            missing = [n for n in names if n not in by_name]
            if missing:
                raise ValueError(f"time_derivative: no rate for vector(s) {missing} in {sym}")
            x, y = (by_name[n] for n in names)
            d = sp.S.Zero
            if x in rates:
                d += scalarize(rates[x].T * y)
            if y in rates:
                d += scalarize(x.T * rates[y])
            total += expr.diff(sym) * d
        elif sym == BASE.s:
            if BASE.k not in rates:
                raise ValueError("time_derivative: the score moves but k_t has no rate")
            total += expr.diff(sym) * scalarize(BASE.q.T * rates[BASE.k])
    return total


def score_rate(kdot: MatrixExpr) -> sp.Expr:
    r""":math:`\dot s_t = q\cdot\dot k_t` with :math:`(k_t\cdot q)` written :math:`s_t`."""
    return scalarize(BASE.q.T * kdot).xreplace({inner(BASE.k, BASE.q): BASE.s})


def substitute_vectors(expr: sp.Expr, mapping: Mapping[MatrixSymbol, MatrixExpr],
                       known: tuple[MatrixSymbol, ...] = (BASE.q, BASE.v, BASE.k, BASE.g)) -> sp.Expr:
    r"""``expr`` (scalarized) with vectors replaced by vector expressions: every inner product
    :math:`(x\cdot y)` involving a replaced vector is re-expanded as :math:`X^\top Y`."""
    by_name = {x.name: x for x in (*known, *mapping)}
    sub = {}
    for sym in expr.free_symbols:
        if sym in INNER_PAIRS and any(by_name.get(n) in mapping for n in INNER_PAIRS[sym]):
            x, y = (by_name[n] for n in INNER_PAIRS[sym])
            sub[sym] = scalarize(mapping.get(x, x).T * mapping.get(y, y))
    return expr.xreplace(sub)
