r"""The gradient-flow problem the law engine works on, and its exact arithmetic.

A :class:`FlowProblem` is what every model (attention or calibration network)
compiles to:

* trained coordinates :math:`\theta\in\mathbb R^D` with per-coordinate learning
  rates :math:`\Lambda=\operatorname{diag}(\eta)` (rationals);
* the features :math:`\varphi(\theta)`, the quantities the loss depends on
  (context vectors, logits, or the loss itself), written in SymPy;
* the exponentiated scores.  :math:`\varphi` contains :math:`e^{s_w(\theta)}` for
  polynomial scores :math:`s_w`.  Each :math:`E_w = e^{s_w}` is a new
  indeterminate and :math:`\varphi` is a rational function of
  :math:`(\theta, E)` whose denominators are products of the partition
  functions :math:`Z_i = \sum_{w\in i} E_w + (\text{frozen words})`.
  Derivatives use the derivation

  .. math:: D_k = \partial_{\theta_k} + \sum_w E_w\,\frac{\partial s_w}{\partial\theta_k}\,
            \partial_{E_w},

  which is :math:`\partial/\partial\theta_k` on the graph :math:`E = e^{s(\theta)}`
  (the chain rule with :math:`dE_w = E_w\,ds_w`).

**Why free indeterminates are exact (Ax).**  If the non-constant parts of the
scores :math:`s_1..s_n` are :math:`\mathbb Q`-linearly independent, then
:math:`e^{s_1},\dots,e^{s_n}` are algebraically independent over
:math:`\mathbb C(\theta)` (Ax 1971, the functional Lindemann–Weierstrass
theorem).  Hence a polynomial :math:`P(\theta,E)` vanishes on the graph
:math:`E=e^{s(\theta)}` iff it is the zero polynomial, and the rank of any matrix
built from fields, brackets and gradients over the field
:math:`\mathbb Q(\theta, e^{s(\theta)})` equals its rank over
:math:`\mathbb Q(\theta, E)` with the :math:`E_w` free: every minor is such a
:math:`P` over a product of :math:`Z_i` (which are :math:`>0`).  Evaluating at a
rational :math:`(\theta_0, E_0)` is evaluating the model whose scores carry the
constant offsets :math:`\log E_{0,w} - s_w(\theta_0)`.  Scores that are
*dependent* break this: identical scores (two copies of a word, or two words with
the same parameters) are collapsed onto one :math:`E`; any other dependence
(e.g. :math:`s_1 = 2 s_2` or :math:`s_1 = s_2 + c`) is refused with
:class:`~proofs.errors.UsageError`, since :math:`E_1 = E_2^2` is then an algebraic
relation the free evaluation would ignore.  A score that is constant must be 0
(it contributes :math:`E = 1`); :math:`e^{c}` for rational :math:`c\ne0` is
transcendental and is refused.

Arithmetic is exact: polynomials in :math:`(\theta, E)` are python-flint
``fmpq_mpoly``; a scalar is a :class:`RF`, numerator over
:math:`\prod_i Z_i^{e_i}`.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from fractions import Fraction

import flint
import sympy as sp

from ..errors import UsageError


@dataclass(frozen=True)
class FlowProblem:
    """Trained coordinates, rates, scores and features of one gradient flow.

    ``exps`` pairs each exponential indeterminate :math:`E_w` with its score
    polynomial :math:`s_w(\\theta)`; ``partitions`` are the :math:`Z_i` (SymPy,
    linear in the ``E``); ``phi`` the feature components.  ``single_field``:
    ``phi`` is one fixed loss and the flow is the one field :math:`-\\Lambda\\nabla L`.
    """

    name: str
    params: tuple
    rates: tuple
    exps: tuple = ()
    partitions: tuple = ()
    phi: tuple = ()
    single_field: bool = False
    groups: tuple = ()  # (group name, tuple of params) for display
    notes: tuple = ()

    @property
    def D(self) -> int:
        return len(self.params)

    @staticmethod
    def make(name, params, rates, scores, phi_builder, *, single_field=False, groups=(), notes=()):
        """Build a problem from score polynomials ``scores`` = {word: s_w(θ)}.

        Identical scores are collapsed onto one ``E``; constant scores must be 0
        (they become the number 1); other Q-linear dependences are refused.
        ``phi_builder(expE)`` receives {word: E-symbol-or-1} and returns
        ``(partitions, phi)``.
        """
        params = tuple(params)
        if len(set(params)) != len(params):
            raise UsageError("params: a coordinate is listed twice")
        if not params:
            raise UsageError("train: the model trains nothing (no trained coordinate)")
        expE, exps, seen = {}, [], {}
        for w, s in scores.items():
            s = sp.expand(sp.sympify(s))
            if not (s.free_symbols <= set(params)):
                raise UsageError(f"score of word {w!r} depends on an untrained symbol")
            if not s.free_symbols:
                if s != 0:
                    raise UsageError(
                        f"score of word {w!r} is the constant {s}; an exact evaluation needs e^s rational, "
                        "so frozen scores must be 0")
                expE[w] = sp.Integer(1)
                continue
            if s in seen:  # identical scores: collapse (same E)
                expE[w] = seen[s]
                continue
            E = sp.Symbol(f"E_{w}", positive=True)
            seen[s] = E
            expE[w] = E
            exps.append((E, s))
        _check_independent_scores([s for _, s in exps], params)
        partitions, phi = phi_builder(expE)
        return FlowProblem(name, params, tuple(sp.Rational(r) for r in rates), tuple(exps),
                           tuple(partitions), tuple(phi), single_field, tuple(groups), tuple(notes))


def _check_independent_scores(scores, params):
    """Refuse Q-linearly dependent non-constant score parts (see the module docstring)."""
    if len(scores) < 2:
        return
    polys = [sp.Poly(s, *params) for s in scores]
    monos = sorted({m for p in polys for m in p.monoms() if any(m)})
    rows = [[p.coeff_monomial(m) for m in monos] for p in polys]
    M = flint.fmpq_mat(len(rows), len(monos), [flint.fmpq(int(sp.fraction(x)[0]), int(sp.fraction(x)[1]))
                                               for r in rows for x in r])
    if M.rank() < len(scores):
        raise UsageError("scores: the non-constant parts of the scores are Q-linearly dependent "
                         f"({', '.join(map(str, scores))}); e^s would satisfy an algebraic relation that "
                         "exact evaluation with free E cannot see")


def _fmpq(x) -> flint.fmpq:
    x = sp.Rational(x)
    return flint.fmpq(int(x.p), int(x.q))


@dataclass
class RF:
    """A scalar ``num / prod_i Z_i**e[i]`` (num an fmpq_mpoly)."""

    num: object
    e: tuple


class Ring:
    """Exact arithmetic for a :class:`FlowProblem`: polynomials in (θ, E) and the derivation D_k."""

    def __init__(self, problem: FlowProblem):
        self.problem = problem
        self.nparams = problem.D
        self.Es = [E for E, _ in problem.exps]
        self.syms = list(problem.params) + self.Es
        self.index = {s: i for i, s in enumerate(self.syms)}
        self.ctx = flint.fmpq_mpoly_ctx.get(tuple(f"x{i}" for i in range(len(self.syms))), "deglex")
        self.gens = self.ctx.gens()
        self.zero = self.ctx.from_dict({})
        self.one = self.ctx.from_dict({(0,) * len(self.syms): 1})
        self.scores = [self.poly(s) for _, s in problem.exps]
        # ds[k] = list of (E index in ring, dscore/dtheta_k poly) over scores depending on theta_k
        self.ds = []
        for k in range(self.nparams):
            row = []
            for w, s in enumerate(self.scores):
                dsk = s.derivative(k)
                if not dsk.is_zero():
                    row.append((self.nparams + w, dsk * self.gens[self.nparams + w]))
            self.ds.append(row)
        self.Z = [self.poly(z) for z in problem.partitions]
        self.Zdeg = [int(z.total_degree()) for z in self.Z]
        self.DZ = [[self.D(z, k) for z in self.Z] for k in range(self.nparams)]
        self._zpow = {}
        self._on_Z = self._hyperplane_points()
        self.rates = [_fmpq(r) for r in problem.rates]

    # ---- conversion from SymPy -------------------------------------------------
    def poly(self, expr):
        expr = sp.expand(sp.sympify(expr))
        if not expr.free_symbols <= set(self.syms):
            raise UsageError(f"expression {expr} has symbols outside the problem: "
                             f"{sorted(map(str, expr.free_symbols - set(self.syms)))}")
        P = sp.Poly(expr, *self.syms)
        return self.ctx.from_dict({m: _fmpq(c) for m, c in P.terms()})

    def rf(self, expr) -> RF:
        """Convert a SymPy expression built from (θ, E, rationals, 1/Z_i) into an :class:`RF`."""
        n = len(self.Z)
        if expr.is_Add:
            out = RF(self.zero, (0,) * n)
            for a in expr.args:
                out = self.add(out, self.rf(a))
            return out
        if expr.is_Mul:
            out = RF(self.one, (0,) * n)
            for a in expr.args:
                out = self.mul(out, self.rf(a))
            return out
        if expr.is_Pow and expr.exp.is_Integer and expr.exp < 0:
            base = sp.expand(expr.base)
            for i, z in enumerate(self.problem.partitions):
                if sp.expand(z - base) == 0:
                    e = [0] * n
                    e[i] = int(-expr.exp)
                    return RF(self.one, tuple(e))
            raise UsageError(f"feature denominator {expr.base} is not a partition function")
        if expr.is_Pow and expr.exp.is_Integer and expr.exp > 0 and not expr.base.is_Symbol:
            b = self.rf(expr.base)
            out = RF(self.one, (0,) * n)
            for _ in range(int(expr.exp)):
                out = self.mul(out, b)
            return out
        return RF(self.poly(expr), (0,) * n)

    # ---- arithmetic -----------------------------------------------------------
    def zpow(self, e):
        e = tuple(e)
        if e not in self._zpow:
            p = self.one
            for z, k in zip(self.Z, e):
                for _ in range(k):
                    p = p * z
            self._zpow[e] = p
        return self._zpow[e]

    def add(self, a: RF, b: RF) -> RF:
        if a.num.is_zero():
            return b
        if b.num.is_zero():
            return a
        e = tuple(max(x, y) for x, y in zip(a.e, b.e))
        na = a.num if e == a.e else a.num * self.zpow([x - y for x, y in zip(e, a.e)])
        nb = b.num if e == b.e else b.num * self.zpow([x - y for x, y in zip(e, b.e)])
        return RF(na + nb, e)

    def mul(self, a: RF, b: RF) -> RF:
        return RF(a.num * b.num, tuple(x + y for x, y in zip(a.e, b.e)))

    def scale(self, a: RF, c) -> RF:
        return RF(a.num * c, a.e)

    def reduce(self, a: RF) -> RF:
        """Cancel factors Z_i of the numerator against the denominator (exact division).

        Divisibility is first tested cheaply: the numerator must vanish at a point of the
        hyperplane Z_i = 0 (a nonzero value proves Z_i does not divide it); only then divide."""
        if a.num.is_zero():
            return RF(self.zero, (0,) * len(a.e))
        e = list(a.e)
        num = a.num
        for i, z in enumerate(self.Z):
            while e[i] > 0 and self.Zdeg[i] > 0:
                if num(*self._on_Z[i]) != 0:
                    break
                q, r = divmod(num, z)
                if not r.is_zero():
                    break
                num, e[i] = q, e[i] - 1
        return RF(num, tuple(e))

    def _hyperplane_points(self):
        """For each Z_i, a rational point with Z_i = 0 (solve for its first E)."""
        rng = random.Random(12345)
        pts = []
        for z in self.Z:
            pt = [flint.fmpq(rng.randint(1, 2 ** 20)) for _ in self.syms]
            if int(z.total_degree()) > 0:
                j = next(j for j in range(len(self.syms)) if not z.derivative(j).is_zero())
                c = z.derivative(j)(*pt)  # Z linear in E_j: Z = c E_j + rest
                pt[j] = flint.fmpq(0)
                pt[j] = -z(*pt) / c
            pts.append(pt)
        return pts

    def D(self, p, k):
        """The derivation D_k on a polynomial in (θ, E)."""
        out = p.derivative(k)
        for j, dsE in self.ds[k]:
            dj = p.derivative(j)
            if not dj.is_zero():
                out = out + dsE * dj
        return out

    def Drf(self, a: RF, k: int) -> RF:
        """D_k of num / prod Z^e (quotient rule; only Z_i that depend on θ_k raise the denominator)."""
        active = [i for i, x in enumerate(a.e) if x > 0 and not self.DZ[k][i].is_zero()]
        if not active:
            return RF(self.D(a.num, k), a.e)
        prodZ = self.one
        for i in active:
            prodZ = prodZ * self.Z[i]
        num = self.D(a.num, k) * prodZ
        for i in active:
            rest = self.one
            for l in active:
                if l != i:
                    rest = rest * self.Z[l]
            num = num - a.num * a.e[i] * self.DZ[k][i] * rest
        e = tuple(x + (1 if i in active else 0) for i, x in enumerate(a.e))
        return self.reduce(RF(num, e))

    # ---- evaluation -------------------------------------------------------------
    def value(self, a: RF, point) -> flint.fmpq:
        """a at the rational point ``point`` (values of θ then E)."""
        v = a.num(*point)
        den = flint.fmpq(1)
        for z, k in zip(self.Z, a.e):
            if k:
                den *= z(*point) ** k
        return v / den

    def degree(self, vec) -> int:
        """Total degree of the numerator of the vector ``vec`` over its common denominator."""
        if not vec:
            return 0
        e = [max(a.e[i] for a in vec) for i in range(len(self.Z))]
        deg = 0
        for a in vec:
            if a.num.is_zero():
                continue
            extra = sum((x - y) * zd for x, y, zd in zip(e, a.e, self.Zdeg))
            deg = max(deg, int(a.num.total_degree()) + extra)
        return deg


def frac(x) -> Fraction:
    """A rational from int, Fraction, SymPy Rational, decimal float or 'a/b' string."""
    if isinstance(x, bool):
        raise TypeError("bool")
    if isinstance(x, (int, Fraction)):
        return Fraction(x)
    if isinstance(x, float):
        return Fraction(str(x))
    if isinstance(x, str):
        return Fraction(x.strip())
    if isinstance(x, sp.Rational):
        return Fraction(int(x.p), int(x.q))
    raise TypeError(type(x).__name__)
