r"""Exact algebra on the model's symbols: reduction to inner products and exact zero tests.

* :func:`scalarize` — a 1 x 1 matrix expression as a polynomial in inner products
  :math:`(x\cdot y)` (one real symbol each, :func:`inner`), so nothing depends on ``d``;
* :func:`freeze_exponentials` / :func:`is_exactly_zero` — every :math:`e^{n s}` becomes
  :math:`E_s^n` (a positive symbol) and the numerator over a common denominator must expand
  to the zero polynomial;
* :func:`readable` / :func:`tidy` — display forms for the report.
"""
from __future__ import annotations

from typing import Sequence

import sympy as sp
from sympy import Identity, MatrixSymbol, ZeroMatrix
from sympy.matrices.expressions import MatAdd, MatMul, MatrixExpr, Transpose

from attndyn.proofs.claims.registry import Derivation
from attndyn.proofs.model import A_T, BASE, NONZERO_VECTORS, W_TEST

# ------------------------------------------------------------ reduction to scalars

INNER_PAIRS: dict[sp.Symbol, tuple[str, str]] = {}


def inner(x: MatrixSymbol, y: MatrixSymbol) -> sp.Symbol:
    r"""The scalar :math:`x^\top y = y^\top x` of two column vectors, as one real symbol."""
    (nx, tx), (ny, ty) = sorted(((x.name, sp.latex(x)), (y.name, sp.latex(y))))
    if nx == ny:
        sym = sp.Symbol(rf"\|{tx}\|^{{2}}", **({"positive": True} if nx in NONZERO_VECTORS
                                              else {"nonnegative": True}))
    else:
        sym = sp.Symbol(rf"({tx}\cdot {ty})", real=True)
    INNER_PAIRS[sym] = (nx, ny)
    return sym


def matrix_factors(term: MatrixExpr) -> tuple[sp.Expr, list[MatrixExpr]] | None:
    """(scalar coefficient, matrix factors) of one expanded term; None for a zero term.

    Nested products (SymPy sometimes keeps ``MatMul(MatMul(...))``) are flattened.
    """
    coeff, factors = sp.S.One, []
    stack = [term]
    while stack:
        f = stack.pop(0)
        if isinstance(f, MatMul):
            stack[:0] = list(f.args)
        elif isinstance(f, ZeroMatrix):
            return None
        elif isinstance(f, Identity):
            continue
        elif isinstance(f, MatrixExpr):
            factors.append(f)
        else:
            coeff *= f
    return coeff, factors


def scalarize(expr) -> sp.Expr:
    r"""A 1 x 1 matrix expression as a scalar in inner-product symbols (see the module doc).

    Scalars pass through.  Raises ``ValueError`` for anything that is not a sum
    of products :math:`\alpha\,x_1^\top y_1 \cdots x_n^\top y_n` of column vectors.
    """
    if not isinstance(expr, MatrixExpr):
        return sp.sympify(expr)
    if expr.shape != (1, 1):
        raise ValueError(f"scalarize needs a 1x1 matrix expression, got shape {expr.shape}")
    expanded = sp.expand(expr.doit())
    terms = expanded.args if isinstance(expanded, MatAdd) else (expanded,)
    total = sp.S.Zero
    for term in terms:
        split = matrix_factors(term)
        if split is None:
            continue
        coeff, factors = split
        if len(factors) % 2:
            raise ValueError(f"cannot reduce {term} to inner products")
        product = coeff
        for row, col in zip(factors[::2], factors[1::2]):
            if not (isinstance(row, Transpose) and isinstance(row.arg, MatrixSymbol)
                    and isinstance(col, MatrixSymbol)):
                raise ValueError(f"cannot reduce {term} to inner products")
            product *= inner(row.arg, col)
        total += product
    return total


def vector_difference(x: MatrixExpr, y: MatrixExpr) -> sp.Expr:
    r""":math:`w^\top (x - y)` for the free test vector ``w``: zero for every ``w`` iff ``x = y``."""
    return scalarize(W_TEST.T * (x - y))


# ------------------------------------------------------------------- exact tests

_EXP_SYMBOLS: dict[sp.Expr, sp.Symbol] = {}


def _exp_symbol(score: sp.Expr) -> sp.Symbol:
    if score not in _EXP_SYMBOLS:
        _EXP_SYMBOLS[score] = sp.Dummy(f"E_{score}", positive=True)
    return _EXP_SYMBOLS[score]


def freeze_exponentials(expr: sp.Expr, scores: Sequence[sp.Expr] | None = None) -> sp.Expr:
    r"""Replace each :math:`e^{n s}` by :math:`E_s^n` (:math:`E_s > 0` a fresh symbol).

    ``scores`` lists the score expressions (explicit polynomials for the
    explicit-component model); by default every exponent must be a rational
    multiple of one symbol.  Raises ``ValueError`` on any other exponential,
    so nothing is silently left unfrozen.
    """
    expr = sp.sympify(expr)
    if scores is None:  # e^{a+b} = e^a e^b, so that each factor is e^{n s}
        expr = sp.expand_power_exp(expr)

    seen: dict[sp.Expr, sp.Expr] = {}

    def freeze(e: sp.exp) -> sp.Expr:
        if e.args[0] not in seen:
            seen[e.args[0]] = freeze_arg(e.args[0])
        return seen[e.args[0]]

    def freeze_arg(arg: sp.Expr) -> sp.Expr:
        if scores is None:
            n, rest = arg.as_coeff_Mul()
            if rest.is_Symbol:
                return _exp_symbol(rest) ** n
        else:
            for sc in scores:
                ratio = sp.cancel(arg / sc)
                if ratio.is_Rational:
                    return _exp_symbol(sc) ** ratio
        raise ValueError(f"cannot express exp({arg}) through the scores")

    return expr.replace(lambda e: isinstance(e, sp.exp), freeze)


def reduce_exactly(expr: sp.Expr, scores: Sequence[sp.Expr] | None = None) -> sp.Expr:
    """``expr`` with exponentials frozen, as one cancelled rational function."""
    return sp.cancel(sp.together(freeze_exponentials(expr, scores)))


def is_exactly_zero(expr: sp.Expr, scores: Sequence[sp.Expr] | None = None) -> bool:
    """True when ``expr`` is 0 as a rational function of its symbols, every exponential
    frozen as a free positive symbol: over a common denominator (``together``) the
    numerator expands to the zero polynomial.  (No gcd cancellation is needed for a
    zero test, which makes this much faster than ``cancel``.)"""
    numerator, _ = sp.fraction(sp.together(freeze_exponentials(expr, scores)))
    return sp.expand(numerator) == 0


def thaw(expr: sp.Expr) -> sp.Expr:
    """Undo :func:`freeze_exponentials` (for display)."""
    return expr.xreplace({E: sp.exp(s) for s, E in _EXP_SYMBOLS.items()})


def readable(expr: sp.Expr, m: sp.Expr = BASE.m, s: sp.Expr = BASE.s, z: sp.Expr | None = None) -> sp.Expr:
    r"""For display: write :math:`e^{s}/(e^{s}+Z)` as :math:`a_t` and :math:`Z/(e^{s}+Z)` as :math:`1-a_t`."""
    z = m if z is None else z
    a = sp.exp(s) / (sp.exp(s) + z)
    return sp.factor_terms(sp.sympify(expr).subs(a, A_T).subs(z / (sp.exp(s) + z), 1 - A_T))


def plus(*exprs) -> str:
    """LaTeX of a sum whose terms are kept apart (``a + b``, ``a - b``)."""
    out = ""
    for e in exprs:
        t = Derivation.tex(e)
        out += t if not out else (f" {t}" if t.startswith("-") else f" + {t}")
    return out


def tidy(expr: sp.Expr, z: sp.Expr | None = None) -> sp.Expr:
    """For display: factor with exponentials frozen, then :func:`readable`."""
    return readable(thaw(sp.factor(freeze_exponentials(expr))), z=z)


# --------------------------------------------------- S5 fixed linear classifier


def freeze_all_exponentials(expr: sp.Expr, scores: Sequence[sp.Expr] = (BASE.s,)) -> sp.Expr:
    r"""Freeze :math:`e^{n s}` for the given scores, then every remaining exponential
    (e.g. a classifier's :math:`e^{z_k}`) as its own positive symbol, innermost first."""
    expr = expr.replace(
        lambda e: isinstance(e, sp.exp) and any(sp.cancel(e.args[0] / sc).is_Rational for sc in scores),
        lambda e: freeze_exponentials(e, scores))
    for e in sorted(expr.atoms(sp.exp), key=sp.default_sort_key):
        expr = expr.xreplace({e: _exp_symbol(e.args[0])})
    return expr
