r"""The SymPy twin proof of a law, independent of the flint engine.

For a candidate :math:`h(\theta, E)` the features and :math:`h` are rewritten
with the true exponentials :math:`E_w\to e^{s_w(\theta)}`, SymPy differentiates
them in :math:`\theta` directly (no derivation :math:`D_k`, no common
denominators), and each Lie derivative
:math:`X_j(h)=\sum_k\eta_k\,\partial_k\varphi_j\,\partial_k h` is simplified:
the exponentials are renamed back to symbols (legitimate: an expression that is
the zero rational function of :math:`(\theta,E)` vanishes on the graph) and the
result put over one denominator with ``cancel``.  Zero for every field is a
proof; a nonzero remainder refutes the candidate as a law for every classifier
(Ax: a nonzero rational function in :math:`(\theta,E)` does not vanish
identically on the graph when the scores are independent, see :mod:`.problem`).
"""
from __future__ import annotations

import sympy as sp

from .problem import FlowProblem


class _Prover:
    """Caches the features' derivatives (true exponentials, renamed back to E) of one problem."""

    def __init__(self, problem: FlowProblem):
        self.problem = problem
        self.to_exp = {E: sp.exp(s) for E, s in problem.exps}
        self.back = {sp.expand(s): E for E, s in problem.exps}
        self.Es = [E for E, _ in problem.exps]
        self.ns = sp.symbols(f"n0:{len(self.Es)}")
        self.dphi = []  # dphi[j][k] = rate_k * d phi_j / d theta_k (E form), lazily
        self.phi_t = [sp.sympify(phi).subs(self.to_exp) for phi in problem.phi]
        self._cache = {}

    def rename(self, x):
        """exp(sum_w n_w s_w) -> prod_w E_w**n_w; refuse any other exponential."""
        arg = sp.expand(x.args[0])
        if arg in self.back:
            return self.back[arg]
        resid = sp.expand(arg - sum((n * s for n, (_, s) in zip(self.ns, self.problem.exps)), sp.Integer(0)))
        sol = sp.solve(sp.Poly(resid, *self.problem.params).coeffs(), self.ns, dict=True)
        if not sol or any(not sol[0].get(n, sp.Integer(0)).is_integer for n in self.ns):
            raise ValueError(f"unexpected exponential {x}")
        return sp.Mul(*[E ** sol[0].get(n, 0) for E, n in zip(self.Es, self.ns)])

    def e_form(self, expr):
        return sp.expand(expr, power_exp=False).replace(lambda x: x.func == sp.exp, self.rename)

    def dphi_jk(self, j, k):
        if (j, k) not in self._cache:
            th, r = self.problem.params[k], self.problem.rates[k]
            self._cache[(j, k)] = sp.together(self.e_form(r * sp.diff(self.phi_t[j], th)))
        return self._cache[(j, k)]

    def lie_derivatives(self, h) -> list:
        h_t = sp.sympify(h).subs(self.to_exp)
        dh = [(k, self.e_form(sp.diff(h_t, th))) for k, th in enumerate(self.problem.params)]
        dh = [(k, g) for k, g in dh if g != 0]
        out = []
        for j in range(len(self.phi_t)):
            expr = sum((self.dphi_jk(j, k) * g for k, g in dh), sp.Integer(0))
            out.append(sp.cancel(sp.together(expr)))
        return out


_PROVERS: dict = {}


def _prover(problem: FlowProblem) -> _Prover:
    key = id(problem)
    if key not in _PROVERS or _PROVERS[key].problem is not problem:
        if len(_PROVERS) > 32:
            _PROVERS.clear()
        _PROVERS[key] = _Prover(problem)
    return _PROVERS[key]


def lie_derivatives(problem: FlowProblem, h) -> list:
    """``[X_j(h)]`` over the generating fields, each simplified (0 means conserved along X_j)."""
    return _prover(problem).lie_derivatives(h)


def is_law(problem: FlowProblem, h) -> bool:
    """True iff every Lie derivative of ``h`` along a generating field is identically 0."""
    return all(x == 0 for x in lie_derivatives(problem, h))
