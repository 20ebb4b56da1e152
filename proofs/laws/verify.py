r"""Claims for ``attndyn verify``, ready to register (kept free of the registry's import).

Each :class:`LawCheck` has the registry's fields (``id``, ``title``, ``expected``,
``statement``, ``assumptions``; kind ``symbolic``: every decision is exact) and
``run() -> (status, reason, steps, details)`` with ``steps`` a list of
``(text, latex)``.  Wiring after the reshape is three lines::

    from attndyn.proofs.claims import claim, Outcome, Step
    from attndyn.proofs.laws.verify import law_checks
    for c in law_checks():
        claim(c.id, c.title, kind="symbolic", statement=c.statement, assumptions=c.assumptions,
              expected=c.expected)(c.outcome(Outcome, Step))
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .calibration import expected_count, linear_net, relu_net
from .prove import lie_derivatives
from .run import check_count, in_law_space, run_laws, sen_law
from .spec import named_model

_ASSUME = (r"any classifier: the $\ell_i$ are arbitrary functions of the context vectors",
           r"fixed query $q=(1,\dots,d)$, $m$ non-topic words frozen at score 0 and embedding 0",
           r"laws searched among polynomials of degree $\le 2$ in the trained coordinates, $s_t$ and $e^{s_t}$")


@dataclass(frozen=True)
class LawCheck:
    id: str
    title: str
    expected: str
    statement: str
    assumptions: tuple
    run: Callable[[], tuple]

    def outcome(self, Outcome, Step):
        """A zero-argument verifier returning the registry's ``Outcome``."""
        def verifier():
            status, reason, steps, details = self.run()
            return Outcome(status, reason, steps=[Step(t, l) for t, l in steps], details=details)
        verifier.__name__ = self.id.replace("-", "_")
        return verifier


def _steps(r):
    return [(f"{r.model}: D = {r.D}; exact rank of Lie(W) at a random rational point "
             f"(failure bound {r.failure_bound:.1e})", rf"\dim\operatorname{{Lie}}(W)\ge {r.rank}"),
            (f"{r.n_independent} functionally independent laws found and proved exactly", r" \\ ".join(r.law_latex())),
            (r.verdict(), rf"{r.rank} + {r.n_independent} {'=' if r.complete else '<'} {r.D}")]


def _paper_reduced():
    steps, details = [], {}
    for d in (1, 2, 3, 4):
        r = run_laws(named_model("paper-reduced", d=d))
        sen = in_law_space(r, sen_law(r.problem, 2, 1))
        steps += _steps(r)
        details[f"d={d}"] = {"D": r.D, "rank": r.rank, "laws": r.law_strings(), "complete": r.complete}
        if not (r.complete and r.n_independent == d and sen):
            return "refuted", f"d={d}: {r.verdict()}, {r.n_independent} laws, SEN in span: {sen}", steps, details
    return ("verified", "d = 1..4: exactly d laws (SEN + the d-1 components of k_t orthogonal to q), complete",
            steps, details)


def _rate_ratio():
    r = run_laws(named_model("paper-reduced", d=2, m=3, rate_v=sp.Rational(3, 2)))
    ok = in_law_space(r, sen_law(r.problem, 3, sp.Rational(3, 2))) and not in_law_space(r, sen_law(r.problem, 3, 1))
    return ("verified" if ok else "refuted", f"eta_v/eta_k = 3/2: SEN with ratio 3/2 in the law space: {ok}",
            _steps(r), {"laws": r.law_strings()})


def _wrong_sen():
    r = run_laws(named_model("paper-reduced", d=2, m=2))
    h = sen_law(r.problem, 3, 1)  # 1/(m+1)
    lie = lie_derivatives(r.problem, h)
    if all(x == 0 for x in lie):
        return "verified", "the Lie derivatives of the wrong quantity vanish", [], {}
    return ("refuted", "a Lie derivative of |q|^2|v|^2 - 2(s + e^s/(m+1)) is nonzero",
            [("Lie derivative along the first field", sp.latex(lie[0]))], {"lie_derivative": str(lie[0])})


def _wrong_count():
    r = run_laws(named_model("paper-reduced", d=2))
    why = check_count(r, 3)
    return ("refuted", why, _steps(r), {}) if why else ("verified", "3 laws is consistent", [], {})


def _unequal():
    r = run_laws(named_model("unequal-lengths", d=2))
    sen = in_law_space(r, sen_law(r.problem, 2, 1))
    ok = r.complete and not sen and all(not (h.free_symbols & {E for E, _ in r.problem.exps}) for h in r.laws)
    return ("verified" if ok else "refuted", f"unequal lengths: {r.verdict()}; no law involves e^s",
            _steps(r), {"laws": r.law_strings()})


def _calibration():
    steps, details = [], {}
    for kind, f in (("linear", linear_net), ("relu", relu_net)):
        for n, m, k in ((2, 3, 2), (3, 3, 3)):
            r = run_laws(f(n, m, k))
            steps += _steps(r)
            details[r.model] = r.n_independent
            if not (r.complete and r.n_independent == expected_count(kind, n, m, k)):
                return "refuted", f"{r.model}: {r.n_independent} laws, published {expected_count(kind, n, m, k)}", steps, details
    return "verified", "linear nets r(r+1)/2 and ReLU nets r laws, complete", steps, details


def law_checks() -> list:
    return [
        LawCheck("laws-paper-reduced", "All conservation laws of the paper's reduced model, d = 1..4", "verified",
                 r"For every classifier the laws are generated by $|q|^2|v_t|^2-2\frac{\eta_v}{\eta_k}"
                 r"(s_t+e^{s_t}/m)$ and the components of $k_t$ orthogonal to $q$: exactly $d$, complete.",
                 _ASSUME, _paper_reduced),
        LawCheck("laws-sen-rate-ratio", "The discovered SEN law carries the learning-rate ratio", "verified",
                 r"With $\eta_v/\eta_k=3/2$ the law space contains the SEN quantity with ratio $3/2$, not $1$.",
                 _ASSUME, _rate_ratio),
        LawCheck("laws-unequal-lengths", "Unequal sentence lengths destroy the SEN law", "verified",
                 r"Topic word in sentences with $m$ and $m+1$ frozen words: the only laws are linear in $k_t$.",
                 _ASSUME, _unequal),
        LawCheck("laws-calibration", "Law counts of two-layer linear and ReLU networks", "verified",
                 r"$U V^\top$: $r(r+1)/2$ laws; ReLU: $r$ laws (Marcotte, Gribonval, Peyr\'e 2023).",
                 (), _calibration),
        LawCheck("neg-laws-sen-m-plus-one", "Negative control: 1/(m+1) in the SEN law", "refuted",
                 r"$|q|^2|v_t|^2-2(s_t+e^{s_t}/(m+1))$ is conserved for every classifier.", _ASSUME, _wrong_sen),
        LawCheck("neg-laws-count", "Negative control: 3 laws for the reduced model at d = 2", "refuted",
                 r"The reduced model at $d=2$ has 3 functionally independent laws.", _ASSUME, _wrong_count),
    ]
