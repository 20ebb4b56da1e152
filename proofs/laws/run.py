r"""``attndyn laws``: the conservation laws of a model's training flow, with a certificate.

:func:`run_laws` puts the pieces together:

1. the exact lower bound :math:`r_L` on :math:`\dim\operatorname{Lie}(W)` at a
   random rational point (:mod:`.lie`): fields and brackets in exact arithmetic,
   rank of an ``fmpq_mat``; with the Schwartz–Zippel bound on the probability
   that it is below the generic rank of the computed brackets;
2. the laws of the class :math:`\mathcal H_K` (:mod:`.search`), each proved
   exactly (flint: zero numerator polynomial; and independently by SymPy with the
   true exponentials, :mod:`.prove`), and the exact rank :math:`r_h` of their
   gradients at a random rational point;
3. **the two-sided certificate.**  Every law's gradient is orthogonal to
   :math:`\operatorname{Lie}(W)`, so at a generic point
   :math:`\dim\operatorname{Lie}(W)\le D-(\#\text{functionally independent laws})
   \le D-r_h`, while :math:`\dim\operatorname{Lie}(W)\ge r_L` (computed brackets).
   Both bounds are deterministic (a rank at a point never exceeds the generic
   rank).  If :math:`r_L + r_h = D` then :math:`\dim\operatorname{Lie}(W)=r_L`
   generically and the :math:`r_h` laws found are, near a generic point, all
   the laws (every conserved function is locally a function of them): the
   result is **complete (locally)** — a proof, no probability involved.
   Otherwise :math:`D-r_L-r_h` laws are missing from the class; that number is
   exact unless the rank was under-estimated (probability at most the reported
   bound) or the bracket search hit ``max_depth`` (then it is an upper bound).
"""
from __future__ import annotations

import json
import time
from dataclasses import dataclass, field

import flint
import sympy as sp

from ..errors import UsageError
from .lie import lie_rank
from .problem import FlowProblem, Ring
from .prove import is_law
from .search import find_laws
from .spec import NAMED, ModelSpec, named_model


@dataclass
class LawsResult:
    model: str
    D: int
    groups: list  # [(group, n coordinates)]
    rates: dict  # group -> rate (as string)
    scores: dict  # E symbol -> score polynomial (as string)
    n_fields: int
    rank: int  # exact lower bound on dim Lie(W)
    rank_by_depth: list
    stop: str
    depth: int
    degree_bound: int
    n_points: int
    failure_bound: float
    sample_bits: int
    degree: int
    exp_degree: int
    class_size: int
    space_dim: int
    n_independent: int
    laws: list  # SymPy expressions (E_w standing for e^{s_w})
    proved: list  # SymPy twin proof per law (None if not run)
    complete: bool
    missing: int  # D - rank - n_independent
    single_field: bool
    seconds: dict = field(default_factory=dict)
    problem: FlowProblem | None = field(default=None, repr=False)
    space: list = field(default_factory=list, repr=False)

    # ---- presentation -------------------------------------------------------------
    def _display(self, h, exp_name, s_name):
        """h with E_w shown as e^{s_w} and a linear part that is a multiple of a score shown as s_w."""
        h = sp.expand(h)
        th = list(self.problem.params)
        for E, s in self.problem.exps:
            Pl = sp.Poly(h, *th)
            linpart = sum((Pl.coeff_monomial(x) * x for x in th), sp.Integer(0))
            Ps = sp.Poly(s, *th)
            if linpart != 0 and Ps.total_degree() == 1:
                ratio = sp.cancel(linpart / s)
                if ratio.is_number:
                    h = sp.expand(h - linpart) + ratio * sp.Symbol(s_name(E))
                    break
        return h.subs({E: sp.Symbol(exp_name(E)) for E in self._Es()})

    def law_strings(self) -> list:
        return [sp.sstr(self._display(h, lambda E: f"exp(s_{str(E)[2:]})", lambda E: f"s_{str(E)[2:]}"))
                for h in self.laws]

    def law_latex(self) -> list:
        return [sp.latex(self._display(h, lambda E: f"e^{{s_{{{str(E)[2:]}}}}}", lambda E: f"s_{{{str(E)[2:]}}}"))
                for h in self.laws]

    def _Es(self):
        return [E for E, _ in self.problem.exps] if self.problem else []

    def verdict(self) -> str:
        if self.complete:
            return "complete (locally)"
        if self.stop == "max_depth":
            return f"at most {self.missing} law(s) outside the class (bracket search stopped at depth {self.depth})"
        return f"{self.missing} law(s) outside the class"

    def to_dict(self) -> dict:
        return {
            "model": self.model, "D": self.D, "groups": self.groups, "rates": self.rates,
            "scores": self.scores, "n_fields": self.n_fields, "single_field": self.single_field,
            "lie": {"rank_lower_bound": self.rank, "rank_by_depth": self.rank_by_depth, "stop": self.stop,
                    "depth": self.depth, "schwartz_zippel_degree": self.degree_bound,
                    "points": self.n_points, "sample_set": f"{{1..2^{self.sample_bits}}}",
                    "failure_bound": self.failure_bound},
            "class": {"degree": self.degree, "exp_degree": self.exp_degree, "size": self.class_size,
                      "law_space_dim": self.space_dim},
            "laws": self.law_strings(), "laws_latex": self.law_latex(), "proved_by_sympy": self.proved,
            "functionally_independent": self.n_independent,
            "upper_bound_laws": self.D - self.rank,
            "complete": self.complete, "missing": self.missing, "verdict": self.verdict(),
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **({"indent": 2} | kw))

    def latex(self) -> str:
        """A LaTeX paragraph: counts, certificate and the laws."""
        lines = [
            rf"\paragraph{{Conservation laws of \texttt{{{self.model}}}.}}",
            rf"$D={self.D}$ trained coordinates, {self.n_fields} generating field(s); "
            rf"$\dim\operatorname{{Lie}}(W)\ge {self.rank}$ (exact rank at a random rational point; "
            rf"under-estimate probability $\le {_sci(self.failure_bound)}$), "
            rf"so at most ${self.D - self.rank}$ independent laws. "
            rf"Class: polynomials of degree $\le {self.degree}$ with $e^{{s_w}}$; "
            rf"{self.n_independent} functionally independent law(s) found and proved exactly: "
            rf"\textbf{{{self.verdict()}}}.",
        ]
        if self.laws:
            lines.append(r"\begin{align*}")
            lines.append(r" \\ ".join(rf"h_{{{i + 1}}} &= {s}" for i, s in enumerate(self.law_latex())))
            lines.append(r"\end{align*}")
        if self.scores:
            lines.append("where " + ", ".join(rf"$s_{{{str(E)[2:]}}} = {sp.latex(sp.sympify(s))}$"
                                              for E, s in self.scores.items()) + ".")
        return "\n".join(lines)

    def row(self) -> str:
        """One markdown table row (see :func:`table`)."""
        laws = "; ".join(self.law_strings()) or "—"
        return (f"| {self.model} | {self.D} | {self.rank} | {_sci(self.failure_bound)} | {self.n_independent} "
                f"| {self.verdict()} | {self.seconds.get('total', 0):.2f} | {laws} |")


def _sci(x: float) -> str:
    return "0" if x == 0 else f"{x:.1e}"


def tex_sci(x: float) -> str:
    r"""``x`` in LaTeX math with two significant digits: ``2.2\cdot 10^{-13}`` (``0`` for zero)."""
    if x == 0:
        return "0"
    m, e = f"{x:.1e}".split("e")
    return rf"{m}\cdot 10^{{{int(e)}}}"


def table(results) -> str:
    head = ("| model | D | rank Lie(W) ≥ | failure ≤ | laws found | verdict | s | laws |\n"
            "|---|---|---|---|---|---|---|---|")
    return "\n".join([head] + [r.row() for r in results])


#: the (model, d) grid of the README table
TABLE_GRID = ([("paper-reduced", d) for d in (1, 2, 3, 4)]
              + [(n, d) for n in NAMED if n != "paper-reduced" for d in (1, 2, 3)])


def named_table(grid=TABLE_GRID, degree: int = 2) -> tuple[str, list]:
    """Run every (named model, d) of ``grid``; the markdown table and the results."""
    results = []
    for name, d in grid:
        r = run_laws(named_model(name, d=d), degree)
        r.model = f"{name} d={d}"
        results.append(r)
    return table(results), results


def _problem_of(spec, d=None) -> FlowProblem:
    if isinstance(spec, FlowProblem):
        return spec
    if isinstance(spec, str):
        if spec not in NAMED:
            raise UsageError(f"model: unknown named model {spec!r} (expected one of {', '.join(NAMED)})")
        spec = named_model(spec, **({"d": d} if d else {}))
    if isinstance(spec, dict):
        spec = ModelSpec.from_dict(spec)
    if not isinstance(spec, ModelSpec):
        raise UsageError(f"model: expected a ModelSpec, a table or a model name, got {type(spec).__name__}")
    return spec.problem()


def run_laws(spec, degree: int = 2, *, exp_degree: int = 0, seed: int = 0, max_depth: int = 6,
             prove: bool = True) -> LawsResult:
    """Discover and certify the conservation laws of ``spec`` (ModelSpec, dict, name or FlowProblem)."""
    if not isinstance(degree, int) or isinstance(degree, bool) or degree < 1:
        raise UsageError(f"degree: expected an integer >= 1, got {degree!r}")
    if not isinstance(exp_degree, int) or isinstance(exp_degree, bool) or exp_degree < 0:
        raise UsageError(f"exp_degree: expected an integer >= 0, got {exp_degree!r}")
    t0 = time.perf_counter()
    problem = _problem_of(spec)
    ring = Ring(problem)
    lie, ring, _ = lie_rank(problem, seed=seed, max_depth=max_depth, ring=ring)
    t1 = time.perf_counter()
    found = find_laws(ring, degree, exp_degree=exp_degree, seed=seed + 1)
    found.laws = [_natural(problem, h, found.space) for h in found.laws]
    t2 = time.perf_counter()
    proved = [is_law(problem, h) for h in found.laws] if prove else [None] * len(found.laws)
    if prove and not all(proved):
        raise RuntimeError(f"{problem.name}: the SymPy twin refutes an engine law: {found.laws}")
    t3 = time.perf_counter()
    missing = problem.D - lie.rank - found.n_independent
    if missing < 0:
        raise RuntimeError(f"{problem.name}: {found.n_independent} laws but Lie rank {lie.rank} of D={problem.D}")
    rate_of = {}
    for g, syms in problem.groups:
        i = problem.params.index(syms[0])
        rate_of[g] = str(problem.rates[i])
    return LawsResult(
        model=problem.name, D=problem.D, groups=[[g, len(s)] for g, s in problem.groups], rates=rate_of,
        scores={str(E): str(s) for E, s in problem.exps}, n_fields=lie.n_fields, rank=lie.rank,
        rank_by_depth=lie.rank_by_depth, stop=lie.stop, depth=lie.depth, degree_bound=lie.degree_bound,
        n_points=lie.n_points, failure_bound=lie.failure_bound, sample_bits=lie.sample_bits, degree=degree, exp_degree=exp_degree,
        class_size=found.class_size, space_dim=found.space_dim, n_independent=found.n_independent,
        laws=found.laws, proved=proved, complete=missing == 0, missing=missing,
        single_field=problem.single_field,
        seconds={"lie": t1 - t0, "laws": t2 - t1, "sympy_proofs": t3 - t2, "total": t3 - t0},
        problem=problem, space=found.space)


def _natural(problem: FlowProblem, h, space):
    r"""Rewrite a law with exponentials modulo the *linear* laws so that its linear part is a multiple of
    one score, and scale it so that the :math:`e^{s_w}` coefficient is -1 (the SEN form
    :math:`|q|^2|v|^2 - 2\rho s_t - e^{s_t}` up to the factor :math:`2\rho/m`).  Adding a linear law keeps
    it a law and keeps the selection functionally independent (all linear laws are selected)."""
    Es = [E for E, _ in problem.exps]
    th = list(problem.params)
    P = sp.Poly(sp.expand(h), *(th + Es))
    if not any(P.degree(E) > 0 for E in Es):
        return h
    lin = lambda e: sum((sp.Poly(e, *(th + Es)).coeff_monomial(x) * x for x in th), sp.Integer(0))
    linear_laws = [g for g in space if sp.Poly(g, *(th + Es)).total_degree() == 1 and not (g.free_symbols & set(Es))]
    cs = sp.symbols(f"c0:{len(linear_laws) + 1}")
    E0 = next(E for E in Es if P.degree(E) > 0)
    for E, s in problem.exps:
        target = sp.expand(lin(h) + sum((c * g for c, g in zip(cs[1:], linear_laws)), sp.Integer(0)) - cs[0] * s)
        eqs = sp.Poly(target, *th).coeffs() if target != 0 else []
        sol = sp.solve(eqs, cs, dict=True) if eqs else [{}]
        if sol:
            sub = {c: sol[0].get(c, 0) for c in cs}
            sub = {c: v.subs({x: 0 for x in cs}) for c, v in sub.items()}
            h2 = sp.expand(h + sum((sub[c] * g for c, g in zip(cs[1:], linear_laws)), sp.Integer(0)))
            break
    else:
        h2 = h
    coeff = sp.Poly(h2, *(th + Es)).coeff_monomial(E0)
    return sp.expand(-h2 / coeff) if coeff != 0 else h2


def check_count(result: LawsResult, claimed: int) -> str | None:
    """``None`` if ``claimed`` functionally independent laws is consistent with the certificate,
    else the reason it is refuted (every reason is deterministic: exact ranks, proved laws)."""
    if claimed > result.D - result.rank:
        return (f"refuted: dim Lie(W) >= {result.rank} (exact), so at most {result.D - result.rank} "
                f"independent laws, not {claimed}")
    if claimed < result.n_independent:
        return f"refuted: {result.n_independent} functionally independent laws are proved, more than {claimed}"
    if result.complete and claimed != result.n_independent:
        return f"refuted: the certificate gives exactly {result.n_independent}"
    return None


def in_law_space(result: LawsResult, h) -> bool:
    """Whether ``h`` (SymPy, in θ and E) is a linear combination of the laws found (exact)."""
    syms = list(result.problem.params) + [E for E, _ in result.problem.exps]
    polys = [sp.Poly(sp.expand(x), *syms) for x in list(result.space) + [sp.sympify(h)]]
    monos = sorted({m for p in polys for m in p.monoms()})
    rows = [[_q(p.coeff_monomial(m)) for m in monos] for p in polys]
    rank = lambda rs: flint.fmpq_mat(rs).rank() if rs else 0
    return rank(rows) == rank(rows[:-1])


def _q(x):
    x = sp.Rational(x)
    return flint.fmpq(int(x.p), int(x.q))


def sen_law(problem: FlowProblem, m, rate_ratio, word: str = "t"):
    r"""The SEN quantity :math:`|q|^2|v_t|^2-2\rho(s_t+e^{s_t}/m)` in the problem's symbols
    (fixed query: :math:`|q|^2` read off the score :math:`s_t=q\cdot k_t`)."""
    E, s = next((E, s) for E, s in problem.exps if str(E) == f"E_{word}")
    v = [p for p in problem.params if str(p).startswith(f"v_{word}_")]
    k = [p for p in problem.params if str(p).startswith(f"k_{word}_")]
    q2 = sum(sp.diff(s, x) ** 2 for x in k)
    return q2 * sum(x ** 2 for x in v) - 2 * sp.Rational(rate_ratio) * (s + E / m)
