r"""Conservation laws inside a declared function class, found and proved exactly.

**The class** :math:`\mathcal H_K`: the span of the monomials of total degree
:math:`1..K` in the trained coordinates :math:`\theta`, of :math:`E_w\,m(\theta)`
for every exponential :math:`E_w=e^{s_w}` and monomial :math:`m` of degree
:math:`0..K_E` (default :math:`K_E=0`: the :math:`e^{s_w}` themselves), and of the
scores :math:`s_w` whose degree exceeds :math:`K` (lower-degree scores are already
polynomials of the class).  This contains the SEN law
:math:`|q|^2|v_t|^2-2\frac{\eta_v}{\eta_k}(s_t+e^{s_t}/m)` for :math:`K\ge2`.

**Solving.**  :math:`h=\sum_b c_b\,b` is conserved for every classifier iff
:math:`X(h)=\sum_k X_k D_k h=0` for every generating field :math:`X` (the bracket
condition then follows).  Each :math:`X(h)` is linear in the unknown :math:`c`.
Candidates: the nullspace of the exact rational matrix
:math:`[X(b)(p)]_{(X,p),b}` over random rational points :math:`p` (at least as
many rows as unknowns); this nullspace contains the law space.  Each candidate
basis vector is then **proved**: the numerator of :math:`X(h)`, a polynomial in
:math:`(\theta,E)`, is computed exactly and must be the zero polynomial (then
:math:`X(h)=0` on the graph :math:`E=e^{s(\theta)}` too).  If a candidate fails,
more points are added.  So the returned space is exactly the law space of the
class (the "only if" direction uses the algebraic independence of the
:math:`e^{s_w}`, see :mod:`.problem`).  Learning rates are the spec's given
rationals (not symbols): a law's coefficients are exact rationals that follow
:math:`\eta_v/\eta_k`.

**Functional independence.**  The basis is put in reduced echelon form (columns
ordered exponentials first, then by decreasing degree), then laws are taken
greedily by increasing degree, kept when the exact rank of their gradients
:math:`(D_k h)(p)` at a random rational point grows.  That rank at one point is a
lower bound on the number of functionally independent laws — sound for the
certificate of :mod:`.run`.
"""
from __future__ import annotations

import itertools
import random
from math import gcd, lcm
import time
from dataclasses import dataclass

import flint
import sympy as sp

from .lie import fields, random_point
from .problem import Ring


@dataclass
class LawSearch:
    degree: int
    exp_degree: int
    class_size: int  # number of basis functions of the class
    space_dim: int  # dimension of the space of laws in the class
    laws: list  # SymPy expressions (in θ and E), a functionally independent selection
    polys: list  # the same as ring polynomials
    n_independent: int  # exact gradient rank at a random point (a lower bound, see docstring)
    space: list  # SymPy basis of the whole law space (reduced echelon form)
    seconds: float


def function_class(ring: Ring, degree: int, exp_degree: int = 0):
    """``[(sympy_expr, ring_poly, sort_key)]``: the basis of the class (see the module docstring)."""
    th = list(ring.problem.params)
    out = []
    for deg in range(1, degree + 1):
        for combo in itertools.combinations_with_replacement(range(len(th)), deg):
            e = sp.Mul(*[th[i] for i in combo])
            out.append((e, ring.poly(e), (1, deg)))
    for E, s in ring.problem.exps:
        for deg in range(0, exp_degree + 1):
            for combo in itertools.combinations_with_replacement(range(len(th)), deg):
                e = E * sp.Mul(*[th[i] for i in combo])
                out.append((e, ring.poly(e), (2, deg)))
        if sp.Poly(s, *th).total_degree() > degree:
            out.append((s, ring.poly(s), (1, degree + 1)))
    return out


def lie_derivative_num(ring: Ring, X, h):
    """Numerator of X(h) = sum_k X_k D_k h over X's common denominator (h a polynomial)."""
    e = [max(c.e[i] for c in X) for i in range(len(ring.Z))]
    out = ring.zero
    for k, c in enumerate(X):
        if c.num.is_zero():
            continue
        dh = ring.D(h, k)
        if dh.is_zero():
            continue
        out = out + c.num * ring.zpow([x - y for x, y in zip(e, c.e)]) * dh
    return out


def _nullspace(rows, ncols):
    """Exact nullspace basis (list of fmpq lists) of a list of fmpq rows."""
    if not rows:
        return [[flint.fmpq(int(i == j)) for j in range(ncols)] for i in range(ncols)]
    R, rank = flint.fmpq_mat(rows).rref()
    pivots, r = [], 0
    for i in range(rank):
        while R[i, r] == 0:
            r += 1
        pivots.append(r)
    free = [j for j in range(ncols) if j not in set(pivots)]
    basis = []
    for f in free:
        v = [flint.fmpq(0)] * ncols
        v[f] = flint.fmpq(1)
        for i, pc in enumerate(pivots):
            v[pc] = -R[i, f]
        basis.append(v)
    return basis


def _grad_rows(ring, polys, p):
    return [[ring.D(h, k)(*p) for k in range(ring.nparams)] for h in polys]


def _rank(rows):
    return flint.fmpq_mat(rows).rank() if rows else 0


def find_laws(ring: Ring, degree: int, *, exp_degree: int = 0, seed: int = 1, gens=None) -> LawSearch:
    """All laws of the class of degree ``degree``: exact basis, proved, plus an independent selection."""
    t0 = time.perf_counter()
    rng = random.Random(seed)
    basis = function_class(ring, degree, exp_degree)
    # column order: exponential terms first, then decreasing degree (nice echelon pivots)
    order = sorted(range(len(basis)), key=lambda i: (-basis[i][2][0], -basis[i][2][1], i))
    basis = [basis[i] for i in order]
    n = len(basis)
    gens = gens if gens is not None else fields(ring)
    grads = [[(k, ring.D(b, k)) for k in range(ring.nparams)] for _, b, _ in basis]
    grads = [[(k, g) for k, g in gl if not g.is_zero()] for gl in grads]
    rows = []
    target = n + 4
    while True:
        while len(rows) < target:
            p = random_point(ring, rng, bits=12)
            Xp = [[ring.value(c, p) for c in X] for X in gens]
            gp = [{k: g(*p) for k, g in gl} for gl in grads]
            for xv in Xp:
                rows.append([sum((xv[k] * val for k, val in gb.items()), flint.fmpq(0)) for gb in gp])
        cand = _nullspace(rows, n)
        polys = [sum((b * c for (_, b, _), c in zip(basis, v) if c != 0), ring.zero) for v in cand]
        if all(lie_derivative_num(ring, X, h).is_zero() for h in polys for X in gens):
            break
        target = 2 * len(rows)  # a candidate failed the exact proof: more points
    # reduced echelon form of the law space, in the column order above
    if cand:
        R, rk = flint.fmpq_mat(cand).rref()
        cand = [[R[i, j] for j in range(n)] for i in range(rk)]
    exprs = []
    for v in cand:
        v = _integral(v)
        exprs.append(sp.Add(*[sp.Rational(int(c.p), int(c.q)) * e for (e, _, _), c in zip(basis, v) if c != 0]))
    polys = [ring.poly(e) for e in exprs]

    def key(i):
        P = sp.Poly(exprs[i], *ring.syms)
        return (P.total_degree(), len(P.terms()), i)

    p = random_point(ring, rng)
    chosen, rows_g = [], []
    for i in sorted(range(len(exprs)), key=key):
        r = _grad_rows(ring, [polys[i]], p)[0]
        if _rank(rows_g + [r]) > len(rows_g):
            rows_g.append(r)
            chosen.append(i)
    return LawSearch(degree, exp_degree, n, len(exprs), [exprs[i] for i in chosen], [polys[i] for i in chosen],
                     len(chosen), exprs, time.perf_counter() - t0)


def _integral(v):
    """Scale a rational vector to coprime integers with a positive first nonzero entry."""
    nz = [c for c in v if c != 0]
    if not nz:
        return v
    L = 1
    for c in nz:
        L = lcm(L, int(c.q))
    ints = [int(c.p) * (L // int(c.q)) for c in v]
    g = 0
    for x in ints:
        g = gcd(g, x)
    sign = 1 if next(x for x in ints if x) > 0 else -1
    return [flint.fmpq(sign * x // g) for x in ints]
