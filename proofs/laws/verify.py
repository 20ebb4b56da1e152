r"""Claims about conservation laws, declared as data (registered by :mod:`attndyn.proofs.laws.claims`).

A :class:`LawClaim` names a model and states, about its training flow *for every
classifier*:

* ``laws`` — expressions claimed conserved;
* ``non_laws`` — expressions claimed **not** conserved;
* ``count`` — the number of functionally independent conservation laws near a
  generic point (:math:`D-\dim\operatorname{Lie}(W)`), ``outside`` of them outside
  the searched class (0: the class holds them all, the answer is *complete*).

Expressions are written in *display form*: ``s_w`` (a real symbol) stands for the
score of word ``w`` and ``exp(s_w)`` for :math:`e^{s_w}`; every other symbol is
a trained coordinate of the model, by name (``v_t_1``, ``k_t_2``, ``q_1``,
``K_12``, ``U_11`` …).  :meth:`LawClaim.statement` renders the LaTeX of exactly
these expressions and numbers, and :meth:`LawClaim.check` maps the same
expressions onto the model's coordinates (:func:`to_problem`) and decides:

* a claimed law is **proved** when every Lie derivative :math:`X_j(h)` along the
  generating fields :math:`X_j=\Lambda\nabla\varphi_j` is the zero rational
  function (:func:`~attndyn.proofs.laws.prove.is_law`, SymPy with the true
  exponentials renamed to indeterminates), and it must also lie in the law space
  the engine found (exact rank over :math:`\mathbb Q`);
* a claimed non-law is **refuted** by a nonzero Lie derivative (exact; Ax's theorem
  makes a nonzero rational function of :math:`(\theta,E)` nonzero on the graph);
* the count is compared with the two-sided certificate of
  :func:`~attndyn.proofs.laws.run.run_laws` (:func:`~attndyn.proofs.laws.run.check_count`):
  the exact rank at a random rational point bounds :math:`\dim\operatorname{Lie}(W)`
  from below (Schwartz–Zippel failure bound reported, target
  :data:`~attndyn.proofs.laws.lie.TARGET_FAILURE`), the proved laws bound it from
  above; equality is a deterministic completeness proof.

Every decision is exact: these are ``symbolic`` claims.  The reason of each
outcome names its route and its headroom (failure bound against the target).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp

from .calibration import expected_count, linear_net, relu_net
from .lie import TARGET_FAILURE
from .prove import lie_derivatives
from .run import check_count, in_law_space, run_laws, tex_sci
from .spec import _default_W, named_model

ANY_CLASSIFIER = r"any classifier: the loss is $\sum_i\ell_i(\varphi_i)$ with the $\ell_i$ arbitrary"
CLASS = r"laws searched among polynomials of degree $\le {K}$ in the trained coordinates, the $s_w$ and the $e^{{s_w}}$"


# ---------------------------------------------------------------- display-form expressions

def vec(name: str, d: int) -> list:
    """The coordinate symbols ``name_1 .. name_d`` (as the model compiler names them)."""
    return list(sp.symbols(f"{name}_1:{d + 1}", real=True))


def score(w: str):
    return sp.Symbol(f"s_{w}", real=True)


def query(d: int) -> list:
    """The default fixed query of the named models, :math:`q=(1,2,\\dots,d)`."""
    return [sp.Integer(i + 1) for i in range(d)]


def sen(d: int, m: int, rho, q=None, word: str = "t"):
    r"""The SEN quantity :math:`|q|^2|v_w|^2-2\rho(s_w+e^{s_w}/m)` in display form (fixed ``q``,
    default :math:`(1..d)`; symbols for a trained query)."""
    q = query(d) if q is None else q
    v = vec(f"v_{word}", d)
    s = score(word)
    return (sum(x ** 2 for x in q) * sum(x ** 2 for x in v)
            - 2 * sp.Rational(rho) * (s + sp.exp(s) / sp.Integer(m)))


def perpendicular(q) -> list:
    """A basis of :math:`q^\\perp` (integer vectors)."""
    out = []
    for u in sp.Matrix([list(q)]).nullspace():
        den = sp.ilcm(*[sp.fraction(x)[1] for x in u])
        out.append([sp.Integer(x * den) for x in u])
    return out


def dot(u, x):
    return sp.expand(sum(a * b for a, b in zip(u, x)))


def key_perp(d: int, word: str = "t") -> list:
    """The components :math:`u\\cdot k_w`, :math:`u\\perp q`, of a word's key."""
    return [dot(u, vec(f"k_{word}", d)) for u in perpendicular(query(d))]


def to_problem(problem, expr):
    """``expr`` (display form) in the problem's symbols: ``exp(s_w)`` -> :math:`E_w`, ``s_w`` -> the
    score polynomial, other symbols -> the trained coordinate of the same name."""
    by_name = {str(p): p for p in problem.params}
    exps = {str(E)[2:]: (E, s) for E, s in problem.exps}
    rep_exp, rep = {}, {}
    for f in sp.sympify(expr).atoms(sp.exp):
        w = str(f.args[0])[2:]
        if not (str(f.args[0]).startswith("s_") and w in exps):
            raise ValueError(f"{f}: not the exponential of a score of {problem.name}")
        rep_exp[f] = exps[w][0]
    for x in sp.sympify(expr).free_symbols:
        name = str(x)
        if name in by_name:
            rep[x] = by_name[name]
        elif name.startswith("s_") and name[2:] in exps:
            rep[x] = exps[name[2:]][1]
        else:
            raise ValueError(f"{name} is not a trained coordinate or a score of {problem.name}")
    return sp.expand(sp.sympify(expr).xreplace(rep_exp).xreplace(rep))


def tex(expr) -> str:
    return sp.latex(expr)


# ---------------------------------------------------------------- the claim


@dataclass(frozen=True)
class LawClaim:
    id: str
    title: str
    model: str  # plain-text description of the model (rendered in the statement)
    build: Callable[[], object]  # -> ModelSpec | FlowProblem
    laws: tuple = ()  # display-form expressions claimed conserved
    non_laws: tuple = ()  # display-form expressions claimed NOT conserved
    count: int | None = None  # claimed D - dim Lie(W) (functionally independent laws)
    outside: int = 0  # claimed number of those outside the class
    expected: str = "verified"
    degree: int = 2
    assumptions: tuple = (ANY_CLASSIFIER,)
    gloss: str = ""  # one plain sentence on what the laws are (prose, may hold $..$)

    # ---- what is claimed, rendered from the objects checked
    def statement(self) -> str:
        parts = [f"{self.model}: for every classifier"]
        if self.laws:
            parts.append((" the quantity " if len(self.laws) == 1 else " the quantities ")
                         + ", ".join(f"${tex(h)}$" for h in self.laws)
                         + (" is" if len(self.laws) == 1 else " are") + " conserved")
        if self.non_laws:
            parts.append(("; " if self.laws else " ") + " and ".join(f"${tex(h)}$" for h in self.non_laws)
                         + (" is" if len(self.non_laws) == 1 else " are") + " not conserved")
        if self.count is not None:
            inside = self.count - self.outside
            parts.append(("; " if self.laws or self.non_laws else " ") + f"the flow has exactly ${self.count}$ functionally independent conservation "
                         f"law(s) near a generic point, "
                         + ("all in the class (complete)" if self.outside == 0 else
                            f"${inside}$ in the class and ${self.outside}$ outside it"))
        text = "".join(parts) + "."
        if self.gloss:
            text += " " + self.gloss
        return text

    def full_assumptions(self) -> tuple:
        return tuple(self.assumptions) + (CLASS.format(K=self.degree),)

    # ---- the decision
    def check(self):
        """``(status, reason, steps, details)``; ``steps`` are ``(text, latex)`` pairs."""
        r = run_laws(self.build(), self.degree)
        P = r.problem
        steps = certificate_steps(r)
        details = result_details(r)
        problems = []
        proved = []
        for h in self.laws:
            hp = to_problem(P, h)
            lie = lie_derivatives(P, hp)
            nonzero = [x for x in lie if x != 0]
            if nonzero:
                problems.append(f"claimed law {_short(h)} has a nonzero Lie derivative (exact): "
                                f"{_short(nonzero[0])}")
                steps.append((f"Lie derivative of the claimed law ${tex(h)}$ along a generating field "
                              "(exact, nonzero)", tex(nonzero[0]) + r" \neq 0"))
                continue
            steps.append((f"Every Lie derivative of ${tex(h)}$ along the {len(lie)} generating field(s) is "
                          "exactly zero", r"X_j(h) = \Lambda\nabla\varphi_j\cdot\nabla h \equiv 0"))
            if not in_law_space(r, hp):
                problems.append(f"claimed law {_short(h)} is conserved but not in the law space found "
                                f"(degree {self.degree})")
            proved.append(h)
        refuted_non = []
        for h in self.non_laws:
            lie = lie_derivatives(P, to_problem(P, h))
            nonzero = [x for x in lie if x != 0]
            if not nonzero:
                problems.append(f"{_short(h)}, claimed not conserved, has every Lie derivative exactly zero")
                continue
            refuted_non.append(h)
            steps.append((f"${tex(h)}$ is not conserved: a Lie derivative is a nonzero rational function "
                          f"({_terms(nonzero[0])} term(s) in its numerator)", tex(_short_expr(nonzero[0])) + r" \neq 0"))
        if self.count is not None:
            why = check_count(r, self.count)
            if why:
                problems.append(f"count {self.count}: {why}")
            elif r.missing != self.outside or (self.outside and r.stop == "max_depth"):
                problems.append(f"count {self.count}: {r.n_independent} found in the class and "
                                f"{r.verdict()}, not {self.outside} outside")
        details["claimed"] = {"laws": [str(h) for h in self.laws], "non_laws": [str(h) for h in self.non_laws],
                              "count": self.count, "outside": self.outside}
        route = rank_route(r)
        head = headline(r)
        if problems:
            return "refuted", "; ".join(problems) + f" [{head}; {route}]", steps, details
        said = [head]
        if self.laws:
            said.append(f"{len(proved)} claimed law(s) with every Lie derivative exactly 0, in the law space")
        if self.non_laws:
            said.append(f"{len(refuted_non)} claimed non-law(s) with an exact nonzero Lie derivative")
        if self.count is not None:
            if self.outside == 0:
                said.append(f"count {self.count} = D - rank: rank {r.rank} + {r.n_independent} proved independent "
                            f"laws = D = {r.D}, complete (deterministic)")
            else:
                said.append(f"count {self.count} = D - rank = {r.D - r.rank}: {r.n_independent} in the class, "
                            f"{r.missing} outside (exact unless the rank is under-estimated)")
        return "verified", "; ".join(said) + f" [{route}]", steps, details

    def outcome(self, Outcome, Step):
        """A zero-argument verifier returning the registry's ``Outcome``."""
        def verifier():
            status, reason, steps, details = self.check()
            return Outcome(status, reason, steps=[Step(t, l) for t, l in steps], details=details)
        verifier.__name__ = self.id.replace("-", "_")
        return verifier


def _terms(x) -> int:
    num = sp.fraction(sp.together(x))[0]
    return len(sp.Add.make_args(sp.expand(num)))


def _short_expr(x):
    num, den = sp.fraction(sp.together(x))
    return sp.factor(num) / den if _terms(x) <= 12 else sp.Symbol(r"\text{(a nonzero rational function)}")


def _short(x) -> str:
    s = str(x)
    return s if len(s) <= 120 else s[:117] + "..."


def headline(r) -> str:
    """The certificate in a few words (what the verify table shows first)."""
    fb = "0" if r.failure_bound == 0 else f"{r.failure_bound:.0e}"
    return f"exact: dim Lie(W) >= {r.rank}/{r.D} (failure <= {fb}), {r.n_independent} laws, {r.verdict()}"


def rank_route(r) -> str:
    """The rank certificate in one phrase: route, bound, headroom against the target."""
    if r.failure_bound == 0:
        fb = "failure bound 0: the span is the whole tangent space"
    else:
        fb = (f"Schwartz-Zippel failure bound {r.failure_bound:.1e} <= target {TARGET_FAILURE:.0e}, "
              f"headroom {TARGET_FAILURE / r.failure_bound:.1e}x")
    return (f"exact rank over Q at a random rational point, E_w = e^(s_w) as indeterminates (Ax): "
            f"dim Lie(W) >= {r.rank} of D = {r.D} ({r.stop} at depth {r.depth}); {fb}; "
            f"{r.seconds.get('total', 0):.2f}s")


def certificate_steps(r) -> list:
    steps = [(f"Model {r.model}: $D = {r.D}$ trained coordinates, {r.n_fields} generating field(s) "
              r"$X_j=\Lambda\nabla\varphi_j$, the exponentials $E_w=e^{s_w}$ as indeterminates (Ax's theorem)",
              r"D = " + str(r.D)),
             (f"Exact rank over $\\mathbb{{Q}}$ of the fields and brackets at a random rational point "
              f"(by depth {r.rank_by_depth}, {r.stop}); probability that it is below the generic rank "
              f"$\\le {tex_sci(r.failure_bound)}$ (Schwartz--Zippel, degree bound {r.degree_bound})",
              rf"\dim\operatorname{{Lie}}(W) \ge {r.rank}")]
    if r.laws:
        steps.append((f"{r.n_independent} functionally independent law(s) of the class found and proved "
                      "exactly (zero numerator polynomial, and the SymPy twin with true exponentials)",
                      r" \\ ".join(rf"h_{{{i + 1}}} = {s}" for i, s in enumerate(r.law_latex()))))
    else:
        steps.append(("No conservation law in the class", r"\text{none}"))
    rel = "=" if r.complete else "<"
    steps.append((f"Two-sided certificate: {r.verdict()}", rf"{r.rank} + {r.n_independent} {rel} D = {r.D}"))
    return steps


def result_details(r) -> dict:
    return {"model": r.model, "D": r.D, "rank_lower_bound": r.rank, "failure_bound": r.failure_bound,
            "laws_found": r.law_strings(), "functionally_independent": r.n_independent,
            "verdict": r.verdict(), "seconds": round(r.seconds.get("total", 0.0), 3)}


# ---------------------------------------------------------------- the claims

def _reduced(d: int, m: int = 2, rho=1) -> LawClaim:
    laws = (sen(d, m, rho),) + tuple(key_perp(d))
    rate = "" if rho == 1 else rf", $\eta_v/\eta_k={sp.latex(sp.Rational(rho))}$"
    return LawClaim(
        f"laws-paper-reduced-d{d}" if rho == 1 else f"laws-sen-rate-ratio-d{d}",
        f"All conservation laws of the paper's reduced model, d = {d}" + ("" if rho == 1 else f", eta_v/eta_k = {rho}"),
        f"The paper's reduced model ($d={d}$, fixed $q=({', '.join(map(str, query(d)))})$, one topic word $t$, "
        f"$m={m}$ frozen non-topic words{rate})",
        lambda: named_model("paper-reduced", d=d, m=m, rate_v=rho),
        laws=laws, non_laws=((sen(d, m, 1),) if rho != 1 else ()), count=len(laws),
        gloss=(f"That is the SEN identity and the ${d - 1}$ component(s) of $k_t$ orthogonal to $q$, and nothing else."
               if rho == 1 else "The law carries the learning-rate ratio; the ratio-1 quantity is not a law."))


def _query_trained(d: int = 2) -> LawClaim:
    q, k = vec("q", d), vec("k_t", d)
    gram = tuple(sp.expand(q[i] * q[j] - k[i] * k[j]) for i in range(d) for j in range(i, d))
    wedge = tuple(sp.expand(q[i] * k[j] - q[j] * k[i]) for i in range(d) for j in range(i + 1, d))
    return LawClaim(
        f"laws-query-trained-d{d}", f"What replaces SEN when the query trains (d = {d})",
        f"The reduced model with the query $q$ trained too ($d={d}$, $m=2$)",
        lambda: named_model("query-trained", d=d),
        laws=gram + wedge, non_laws=(sen(d, 2, 1, q=q),), count=2 * d, outside=1,
        gloss=r"The entries of $qq^\top-k_tk_t^\top$ and of $q\wedge k_t$ replace SEN; one law lies outside "
              r"the class (a non-elementary analogue of SEN).")


def _unequal(d: int = 2) -> LawClaim:
    return LawClaim(
        f"laws-unequal-lengths-d{d}", f"Unequal sentence lengths destroy the SEN law (d = {d})",
        f"The topic word in two sentences with $2$ and $3$ frozen non-topic words ($d={d}$)",
        lambda: named_model("unequal-lengths", d=d),
        laws=tuple(key_perp(d)), non_laws=(sen(d, 2, 1), sen(d, 3, 1)), count=d - 1,
        gloss=r"Only the components of $k_t$ orthogonal to $q$ survive.")


MOVING_WORDS = ("t", "a", "b", "c")


def _moving(d: int = 1) -> LawClaim:
    total = sum((score(w) for w in MOVING_WORDS), sp.Integer(0))
    laws = tuple(x for w in MOVING_WORDS for x in key_perp(d, w)) + (total,)
    return LawClaim(
        f"laws-moving-words-d{d}", f"Non-topic words that move keep only key components (d = {d})",
        f"Topic word $t$ and non-topic words $a,b,c$ all trained, sentences $\\{{t,a,b\\}},\\{{t,b,c\\}},"
        f"\\{{t,a,c\\}}$ ($d={d}$)",
        lambda: named_model("moving-words", d=d),
        laws=laws, non_laws=(sen(d, 2, 1),), count=len(laws),
        gloss=r"Only the key components orthogonal to $q$ and the total score $\sum_w s_w$ are conserved.")


def _key_projection(d: int = 2) -> LawClaim:
    K = sp.Matrix(d, d, lambda a, b: sp.Symbol(f"K_{a + 1}{b + 1}", real=True))
    laws = tuple(sp.expand((sp.Matrix([u]) * K)[j]) for u in perpendicular(query(d)) for j in range(d))
    return LawClaim(
        f"laws-key-projection-d{d}", f"Keys from embeddings, k_t = W_K v_t (d = {d})",
        f"The reduced model with $k_t=W_Kv_t$, $W_K$ and $v_t$ trained ($d={d}$)",
        lambda: named_model("key-projection", d=d),
        laws=laws, non_laws=(sen(d, 2, 1),), count=len(laws),
        gloss=r"The laws are the entries of $u^\top W_K$ for $u\perp q$; no SEN analogue.")


def _linear_classifier(d: int) -> LawClaim:
    W = sp.Matrix([[sp.Rational(x.numerator, x.denominator) for x in row] for row in _default_W(d)])
    kern = [dot([sp.Integer(x * sp.ilcm(*[sp.fraction(y)[1] for y in n])) for x in n], vec("v_t", d))
            for n in W.nullspace()]
    laws = (sen(d, 2, 1),) + tuple(key_perp(d)) + tuple(kern)
    return LawClaim(
        f"laws-linear-classifier-d{d}", f"A fixed linear classifier (d = {d}): what is conserved in addition",
        f"The reduced model with a fixed linear classifier $W={sp.latex(W)}$ ($d={d}$, any loss of the logits)",
        lambda: named_model("linear-classifier", d=d),
        laws=laws, count=len(laws),
        gloss=("The components of $v_t$ in $\\ker W$ are conserved in addition." if kern else
               "Nothing is conserved beyond the any-classifier laws ($W$ is injective)."))


def _calibration(kind: str, n: int, m: int, r: int) -> LawClaim:
    U = sp.Matrix(n, r, lambda i, j: sp.Symbol(f"U_{i + 1}{j + 1}", real=True))
    V = sp.Matrix(m, r, lambda i, j: sp.Symbol(f"V_{i + 1}{j + 1}", real=True))
    G = (U.T * U - V.T * V).applyfunc(sp.expand)
    laws = tuple(G[i, j] for i in range(r) for j in range(i, r) if kind == "linear" or i == j)
    count = expected_count(kind, n, m, r)
    net = "linear network $UV^\\top$" if kind == "linear" else "ReLU network (one activation region)"
    return LawClaim(
        f"laws-calibration-{kind}-{n}{m}{r}", f"Calibration: two-layer {kind} network n={n} m={m} r={r}",
        f"Two-layer {net}, $U\\in\\mathbb R^{{{n}\\times{r}}}$, $V\\in\\mathbb R^{{{m}\\times{r}}}$",
        lambda: (linear_net if kind == "linear" else relu_net)(n, m, r),
        laws=laws, count=count, assumptions=(r"any loss of the network's output",),
        gloss=(f"The published count ({'$r(r+1)/2$' if kind == 'linear' else '$r$'} $= {count}$, Marcotte, "
               r"Gribonval \& Peyr\'e 2023) is reproduced."))


def _neg_wrong_law() -> LawClaim:
    return LawClaim(
        "neg-laws-sen-m-plus-one", "Negative control: 1/(m+1) in the SEN law",
        "The paper's reduced model ($d=2$, $m=2$)", lambda: named_model("paper-reduced", d=2, m=2),
        laws=(sen(2, 3, 1),), expected="refuted",
        gloss=r"(Wrong: $1/(m+1)$ instead of $1/m$; the exact Lie derivative must be nonzero.)")


def _neg_wrong_count() -> LawClaim:
    return LawClaim(
        "neg-laws-count", "Negative control: 3 laws for the reduced model at d = 2",
        "The paper's reduced model ($d=2$, $m=2$)", lambda: named_model("paper-reduced", d=2, m=2),
        count=3, expected="refuted",
        gloss="(Wrong: the certificate gives exactly 2.)")


def law_checks() -> list:
    """The claims of ``attndyn verify`` about conservation laws, in report order (all fast: < 5 s each)."""
    return ([_reduced(d) for d in (1, 2, 3, 4)]
            + [_reduced(3, rho=sp.Rational(3, 2)), _query_trained(2), _unequal(2), _moving(1), _key_projection(2),
               _linear_classifier(2), _linear_classifier(3)]
            + [_calibration(k, *a) for k in ("linear", "relu") for a in ((2, 3, 2), (3, 3, 3))]
            + [_neg_wrong_law(), _neg_wrong_count()])
