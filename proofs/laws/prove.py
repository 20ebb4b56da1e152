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


def lie_derivatives(problem: FlowProblem, h) -> list:
    """``[X_j(h)]`` over the generating fields, each simplified (0 means conserved along X_j)."""
    to_exp = {E: sp.exp(s) for E, s in problem.exps}
    back = {sp.expand(s): E for E, s in problem.exps}

    Es = [E for E, _ in problem.exps]
    ns = sp.symbols(f"n0:{len(Es)}")

    def rename(x):  # exp(sum_w n_w s_w) -> prod_w E_w**n_w; refuse any other exponential
        arg = sp.expand(x.args[0])
        if arg in back:
            return back[arg]
        resid = sp.expand(arg - sum((n * s for n, (_, s) in zip(ns, problem.exps)), sp.Integer(0)))
        sol = sp.solve(sp.Poly(resid, *problem.params).coeffs(), ns, dict=True)
        if not sol or any(not sol[0].get(n, sp.Integer(0)).is_integer for n in ns):
            raise ValueError(f"unexpected exponential {x}")
        return sp.Mul(*[E ** sol[0].get(n, 0) for E, n in zip(Es, ns)])
    h_t = sp.sympify(h).subs(to_exp)
    dh = [sp.diff(h_t, th) for th in problem.params]
    out = []
    for phi in problem.phi:
        phi_t = sp.sympify(phi).subs(to_exp)
        expr = sum((r * sp.diff(phi_t, th) * g for th, r, g in zip(problem.params, problem.rates, dh)
                    if g != 0), sp.Integer(0))
        expr = sp.expand(expr, power_exp=False).replace(lambda x: x.func == sp.exp, rename)
        out.append(sp.cancel(sp.together(expr)))
    return out


def is_law(problem: FlowProblem, h) -> bool:
    """True iff every Lie derivative of ``h`` along a generating field is identically 0."""
    return all(x == 0 for x in lie_derivatives(problem, h))
