r"""Numeric confirmation of symbolic identities at random points (float64).

The terms of an identity are lambdified and evaluated at ``SYMBOLIC.points`` random
points (:func:`sample_values`: inner products come from random vectors, so they are
mutually consistent); the identity holds numerically when
:math:`|\sum \text{terms}| \le \text{atol} + \text{rtol}\sum|\text{terms}|` everywhere
(:func:`check_vanishes`).  :class:`Check` pairs this with the exact verdict and
:func:`combine` turns a list of checks into a claim's status and reason.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import sympy as sp
from sympy.matrices.expressions import MatrixExpr

from attndyn.proofs.algebra import INNER_PAIRS, is_exactly_zero, scalarize
from attndyn.proofs.claims.registry import decide
from attndyn.proofs.model import W_TEST
from attndyn.proofs.settings import SYMBOLIC, SYMBOLIC_SAMPLING

# ----------------------------------------------------------------- numeric tests


@dataclass(frozen=True)
class NumericCheck:
    """Float64 evaluation of an identity ``sum(terms) == 0`` at random points."""

    what: str
    points: int
    max_abs: float
    max_rel: float
    zero: bool  # every point within atol + rtol * sum|terms|
    nonzero: bool  # some point off by more than refute_min relative to the terms
    max_over_tol: float = 0.0  # max |residual| / (atol + rtol * scale): <= 1 passes

    def details(self) -> dict:
        return {
            "what": self.what,
            "points": self.points,
            "max_abs_error": self.max_abs,
            "max_rel_error": self.max_rel,
            "max_error_over_tolerance": self.max_over_tol,
            "rtol": SYMBOLIC.rtol,
            "atol": SYMBOLIC.atol,
            "refute_min": SYMBOLIC.refute_min,
        }


def judge_arrays(what: str, residual: np.ndarray, scale: np.ndarray) -> NumericCheck:
    """The numeric verdict on residuals (should be 0) given the magnitude of what they compare."""
    residual = np.abs(np.asarray(residual, dtype=np.float64)).ravel()
    scale = np.abs(np.asarray(scale, dtype=np.float64)).ravel()
    finite = bool(np.all(np.isfinite(residual)) and np.all(np.isfinite(scale)))
    rel = residual / np.where(scale > 0, scale, 1.0)
    zero = finite and bool(np.all(residual <= SYMBOLIC.atol + SYMBOLIC.rtol * scale))
    nonzero = finite and bool(np.any((residual > SYMBOLIC.atol) & (rel > SYMBOLIC.refute_min)))
    over = residual / (SYMBOLIC.atol + SYMBOLIC.rtol * scale)
    return NumericCheck(what, int(residual.size), float(residual.max(initial=0.0)),
                        float(rel.max(initial=0.0)), zero, nonzero, float(over.max(initial=0.0)))


def sample_values(symbols: Sequence[sp.Symbol], n: int, rng: np.random.Generator,
                  vectors: dict[str, np.ndarray] | None = None) -> dict[sp.Symbol, np.ndarray]:
    """Random float64 values: inner products from random vectors, the rest by assumption.

    ``vectors`` (name -> (n, dim) array) pins vectors; others are standard normal.
    """
    cfg = SYMBOLIC_SAMPLING
    vecs = dict(vectors or {})

    def vec(name: str) -> np.ndarray:
        if name not in vecs:
            vecs[name] = rng.standard_normal((n, cfg.vector_dim))
        return vecs[name]

    out: dict[sp.Symbol, np.ndarray] = {}
    for sym in sorted(symbols, key=str):
        if sym in INNER_PAIRS:
            a, b = INNER_PAIRS[sym]
            out[sym] = np.einsum("pi,pi->p", vec(a), vec(b))
        elif sym.is_integer and sym.is_positive:
            out[sym] = rng.integers(cfg.integer_range[0], cfg.integer_range[1] + 1, n).astype(np.float64)
        elif sym.is_positive:
            out[sym] = rng.uniform(*cfg.positive_range, n)
        elif sym.is_nonnegative:
            out[sym] = rng.uniform(0.0, cfg.positive_range[1], n)
        else:
            out[sym] = rng.uniform(*cfg.real_range, n)
    return out


def rng_for(stream: int) -> np.random.Generator:
    """The deterministic random stream number ``stream`` of the symbolic checks."""
    return np.random.default_rng([SYMBOLIC.seed, stream])


def evaluate_terms(terms: Sequence[sp.Expr], values: dict[sp.Symbol, np.ndarray], n: int) -> np.ndarray:
    """Each term lambdified (float64) at the sampled points: an array (len(terms), n)."""
    syms = sorted(set().union(*(sp.sympify(t).free_symbols for t in terms)), key=str)
    f = sp.lambdify(syms, list(terms), modules="numpy")
    raw = f(*[values[s] for s in syms])
    return np.array([np.broadcast_to(np.asarray(r, dtype=np.float64), (n,)) for r in raw])


def residual_and_scale(exprs: Sequence[sp.Expr], stream: int) -> tuple[np.ndarray, np.ndarray]:
    """Several expressions that should vanish, at random points: (values, |values| + atol-scale 1)."""
    syms = set().union(*(e.free_symbols for e in exprs))
    vals = evaluate_terms(exprs, sample_values(syms, SYMBOLIC.points, rng_for(stream)), SYMBOLIC.points)
    return vals, np.ones_like(vals)


def check_vanishes(what: str, terms: Sequence[sp.Expr], stream: int,
                   points: int = SYMBOLIC.points, fixed: dict | None = None) -> NumericCheck:
    """Numeric confirmation that ``sum(terms) == 0`` (see the module doc)."""
    terms = [sp.sympify(t) for t in terms]
    syms = set().union(*(t.free_symbols for t in terms))
    values = sample_values(syms - set(fixed or {}), points, rng_for(stream))
    values.update({k: np.full(points, float(v)) for k, v in (fixed or {}).items()})
    arr = evaluate_terms(terms, values, points)
    return judge_arrays(what, arr.sum(axis=0), np.abs(arr).sum(axis=0))


# ------------------------------------------------------------------------ verdicts


@dataclass(frozen=True)
class Check:
    """One identity ``expr == 0`` tested exactly and numerically."""

    what: str
    exact_zero: bool
    numeric: NumericCheck

    def verdict(self) -> tuple[str, str]:
        if not (self.numeric.zero or self.numeric.nonzero):
            return "error", (f"{self.what}: numeric check inconclusive (max relative error "
                             f"{self.numeric.max_rel:.3g}, between rtol and refute_min)")
        status, reason = decide(self.exact_zero, self.numeric.zero, self.what)
        n = self.numeric
        return status, (f"{reason} [numeric at {n.points} points: max error / tolerance {n.max_over_tol:.3g}, "
                        f"max relative {n.max_rel:.3g} (refuted above {SYMBOLIC.refute_min:g})]")

    def details(self) -> dict:
        return {"exact_zero": self.exact_zero, **self.numeric.details()}


@dataclass(frozen=True)
class SignCheck:
    """A stated sign (``positive``, ``nonpositive``, ``nonzero``): SymPy's exact
    decision and the float64 values at random (or concrete) points."""

    what: str
    sign: str
    exact: bool | None  # SymPy: proved (True), disproved (False), undecided (None)
    values: np.ndarray

    def numeric_ok(self) -> bool:
        v = np.asarray(self.values, dtype=np.float64)
        if not np.all(np.isfinite(v)):
            return False
        return bool({"positive": np.all(v > 0), "nonpositive": np.all(v <= 0),
                     "nonnegative": np.all(v >= 0),
                     "nonzero": np.all(np.abs(v) > SYMBOLIC.refute_min)}[self.sign])

    def verdict(self) -> tuple[str, str]:
        ok = self.numeric_ok()
        if self.exact is True and ok:
            v = np.asarray(self.values, dtype=np.float64)
            return "verified", (f"{self.what}: {self.sign} by assumptions (SymPy decides the sign from the "
                                f"symbols' assumptions), and numerically at {v.size} points (values in "
                                f"[{v.min(initial=np.inf):.3g}, {v.max(initial=-np.inf):.3g}])")
        if self.exact is False and not ok:
            return "refuted", f"{self.what}: not {self.sign}, exactly and numerically"
        return "error", (f"{self.what}: exact sign decision {self.exact} but numeric "
                         f"{'agrees' if ok else 'disagrees'} with {self.sign}")

    def details(self) -> dict:
        v = np.asarray(self.values, dtype=np.float64)
        return {"what": self.what, "sign": self.sign, "exact": self.exact, "points": int(v.size),
                "min": float(v.min(initial=np.inf)), "max": float(v.max(initial=-np.inf))}


def combine(checks) -> tuple[str, str]:
    """All checks of a claim: verified if all hold, refuted if one fails consistently."""
    verdicts = [c.verdict() for c in checks]
    for status, reason in verdicts:
        if status == "error":
            return status, reason
    for status, reason in verdicts:
        if status == "refuted":
            return status, reason
    ids = [c for c in checks if isinstance(c, Check)]
    n_other = len(checks) - len(ids)
    worst = max((c.numeric.max_over_tol for c in ids), default=0.0)
    points = sum(c.numeric.points for c in ids)
    head = f"headroom {1 / worst:.3g}x" if worst > 0 else "every residual exactly 0.0"
    text = (f"route: exact simplification to 0 of {len(ids)} identities, confirmed numerically at {points} "
            f"float64 evaluations (max error / (atol {SYMBOLIC.atol:g} + rtol {SYMBOLIC.rtol:g} x scale) = "
            f"{worst:.3g}, {head})") if ids else ""
    if n_other:
        text += ("; " if text else "route: ") + (f"{n_other} sign/fact checks decided exactly (sign by "
                                                  f"assumptions or exact fact) and confirmed numerically")
    return "verified", text


def checks_details(checks) -> dict:
    """JSON details: per check the exact verdict and the numeric numbers."""
    numeric = [c.numeric for c in checks if isinstance(c, Check)]
    worst = max((n.max_over_tol for n in numeric), default=0.0)
    signs = [c for c in checks if isinstance(c, SignCheck)]
    return {
        "route": ("exact simplification (SymPy) + numeric confirmation at random points"
                  + ("; sign by assumptions" if signs else "")),
        "headroom": (1.0 / worst) if worst > 0 else None,  # tolerance / worst error (None: all exactly 0)
        "points": SYMBOLIC.points,
        "rtol": SYMBOLIC.rtol,
        "atol": SYMBOLIC.atol,
        "max_abs_error": max((n.max_abs for n in numeric), default=0.0),
        "max_rel_error": max((n.max_rel for n in numeric), default=0.0),
        "max_error_over_tolerance": max((n.max_over_tol for n in numeric), default=0.0),
        "checks": [c.details() for c in checks],
    }


def identity(what: str, terms: Sequence[sp.Expr], stream: int,
             scores: Sequence[sp.Expr] | None = None) -> Check:
    """``sum(terms) == 0``: exact (:func:`is_exactly_zero`) and numeric (:func:`check_vanishes`)."""
    return Check(what, is_exactly_zero(sp.Add(*terms), scores), check_vanishes(what, terms, stream))


def scalar_identity(what: str, derived: sp.Expr, stated: sp.Expr, stream: int) -> Check:
    """``derived == stated`` for scalars (1x1 matrix expressions are scalarized)."""
    d, s = scalarize(derived), scalarize(stated)
    return identity(what, [d, -s], stream)


def vector_identity(what: str, derived: MatrixExpr, stated: MatrixExpr, stream: int) -> Check:
    r"""``derived == stated`` for d-vectors, as :math:`w^\top` derived :math:`= w^\top` stated."""
    return scalar_identity(what, W_TEST.T * derived, W_TEST.T * stated, stream)
