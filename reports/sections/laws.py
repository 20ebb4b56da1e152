r"""The report section on conservation laws (``attndyn laws --report DIR``; ``attndyn verify`` /
``attndyn report`` with ``--laws-model NAME``).

:func:`laws_section` states the mathematics once (the loss :math:`L=\sum_i\ell_i(\varphi_i)`, the
fields :math:`\Lambda\nabla\varphi_{i,j}`, the Frobenius count :math:`D-\dim\operatorname{Lie}(W)`,
the exact rank over :math:`\mathbb Q` with :math:`E_w=e^{s_w}` as indeterminates (Ax's theorem),
the Schwartz–Zippel failure bound, the two-sided completeness certificate), then per model: the
model (coordinates, rates, scores), the generators, the rank certificate, each law with its proof,
the verdict, and — when given — its numeric confirmation along the real flow.
"""
from __future__ import annotations

from attndyn.proofs.errors import UsageError
from attndyn.proofs.laws.names import NAMED
from attndyn.reports.latex.document import Section
from attndyn.reports.latex.escape import breakable_tt, escape_text
from attndyn.reports.latex.mathlayout import display_math

TITLE = "Conservation laws of the training flow"

MATHEMATICS = r"""
\paragraph{Setting.} Write the training loss as $L(\theta)=\sum_i \ell_i(\varphi_i(\theta))$, where
$\varphi_i(\theta)$ is what the classifier sees of sentence $i$ (its context vector
$c_i=\sum_w a_w v_w$ with softmax attention over the scores $s_w$, or the logits $Wc_i$ of a fixed
linear classifier), and ``any classifier'' means that the $\ell_i$ are arbitrary. The gradient flow
$\dot\theta=-\Lambda\nabla L(\theta)$ with per-group learning rates $\Lambda=\operatorname{diag}(\eta_v,\eta_k,\eta_q)$
is then, at every point, a linear combination of the fields
\[ W=\{X_{i,j}=\Lambda\nabla\varphi_{i,j}\}. \]
A function $h$ is conserved for every classifier and every labelling iff $\nabla h\perp\operatorname{Lie}(W)$
at every point, and near a generic point the number of functionally independent conservation laws is
\[ D-\dim\operatorname{Lie}(W)(\theta) \]
(Frobenius; Marcotte, Gribonval \& Peyr\'e, NeurIPS 2023, Thm~3.3), $D$ the number of trained coordinates.

\paragraph{Exact rank.} Fields and brackets $[X,Y]=DY\,X-DX\,Y$ are derived symbolically from
$\varphi$ (never typed) and computed in exact arithmetic (python-flint). The fields contain
$e^{s_w}$ with polynomial scores $s_w$; each $E_w=e^{s_w}$ is treated as an indeterminate, with the
derivation $D_k=\partial_{\theta_k}+\sum_w E_w\,\partial_{\theta_k}s_w\,\partial_{E_w}$. This is exact:
by Ax's theorem (functional Lindemann--Weierstrass), exponentials of $\mathbb Q$-linearly independent
non-constant polynomials are algebraically independent over $\mathbb C(\theta)$, so a polynomial in
$(\theta,E)$ vanishes on the graph $E=e^{s(\theta)}$ only if it is the zero polynomial, and every minor
(a polynomial over positive partition functions) has the same rank over $\mathbb Q(\theta,E)$ as over
$\mathbb Q(\theta,e^{s(\theta)})$. Dependent scores are refused. The rank is that of an exact
rational matrix at a random rational point $p$ (never a float rank).

\paragraph{Failure bound.} The rank at $p$ of computed fields and brackets is always a \emph{lower
bound} on $\dim\operatorname{Lie}(W)$. It is below the generic rank only if some nonzero minor vanishes
at $p$; a minor's numerator has total degree at most $\delta$ (read off the exact polynomials), so with
coordinates drawn uniformly from $S=\{1,\dots,2^{b}\}$ and $N$ rank decisions, Schwartz--Zippel and a
union bound give $\Pr[\text{under-estimate}]\le N\delta/|S|$; points are redrawn from larger sets until
this is below $10^{-12}$.

\paragraph{Laws and the completeness certificate.} Laws are searched in a declared class (polynomials
of degree $\le K$ in $\theta$, together with the $s_w$ and $e^{s_w}$): $\nabla h\cdot X=0$ for every
generator is a linear system in the unknown coefficients, solved exactly; each law is then
\emph{proved} (the numerator of every $X(h)$ is the zero polynomial, and independently by SymPy with
the true exponentials), and functional independence is the exact rank $r_h$ of the gradients. Since
every law's gradient is orthogonal to $\operatorname{Lie}(W)$, generically
$r_L\le\dim\operatorname{Lie}(W)\le D-r_h$. If $r_L+r_h=D$ both bounds meet: the laws found are,
near a generic point, \emph{all} the laws (complete, a deterministic proof). Otherwise
$D-r_L-r_h$ laws lie outside the class (exact unless the rank was under-estimated, with the
probability bounded above).
"""


def _tex_expr(s: str) -> str:
    import sympy as sp  # deferred: keeps `attndyn --help` fast (report sections are imported for their options)

    return sp.latex(sp.sympify(s))


def model_latex(r, conf=None) -> str:
    """The subsection of one :class:`~attndyn.proofs.laws.run.LawsResult` (and its confirmation)."""
    import sympy as sp  # deferred: keeps `attndyn --help` fast (report sections are imported for their options)
    from attndyn.proofs.laws.run import tex_sci  # deferred: as above (flint, SymPy load with it)

    name = r.model.split(" d=")[0]
    lines = [rf"\subsection*{{Model {escape_text(r.model)}}}"]
    if name in NAMED:
        lines.append(escape_text(NAMED[name][0].upper() + NAMED[name][1:]) + ".")
    groups = ", ".join(rf"{breakable_tt(g)} ({n})" for g, n in r.groups)
    rates = ", ".join(rf"$\eta_{{{escape_text(g)}}}={sp.latex(sp.sympify(v))}$" for g, v in r.rates.items())
    lines.append(rf"\textbf{{Model.}} $D={r.D}$ trained coordinates: {groups}; rates {rates}.")
    if r.scores:
        lines.append("Scores: " + ", ".join(rf"$s_{{{E[2:]}}}={_tex_expr(s)}$" for E, s in r.scores.items()) + ".")
    P = r.problem
    if P is not None:
        lines.append(rf"\textbf{{Generators.}} {r.n_fields} field(s) $X_j=\Lambda\nabla\varphi_j$ of the "
                     rf"{len(P.phi)} feature component(s)" + (" (one fixed loss: a single field)" if r.single_field else "")
                     + (":" if len(P.phi) <= 4 else r" (the first four shown):"))
        for j, phi in enumerate(P.phi[:4]):
            lines.append(display_math(rf"\varphi_{{{j + 1}}} = " + sp.latex(phi)))
        if P.exps:
            lines.append(r"with $E_w=e^{s_w}$.")
    fb = tex_sci(r.failure_bound)
    lines.append(rf"\textbf{{Rank certificate.}} Exact rank over $\mathbb Q$ at a random rational point, by "
                 rf"bracket depth {escape_text(str(r.rank_by_depth))} ({escape_text(r.stop)} at depth {r.depth}): "
                 rf"$\dim\operatorname{{Lie}}(W)\ge {r.rank}$; probability of an under-estimate $\le {fb}$ "
                 rf"(Schwartz--Zippel, minor degree $\le {r.degree_bound}$, {r.n_points} point(s) from "
                 rf"$\{{1,\dots,2^{{{r.sample_bits}}}\}}$). Hence at most ${r.D - r.rank}$ independent laws.")
    lines.append(rf"\textbf{{Laws.}} Class: polynomials of degree $\le {r.degree}$ with the $s_w$ and $e^{{s_w}}$ "
                 rf"({r.class_size} functions); law space of dimension {r.space_dim}; "
                 rf"{r.n_independent} functionally independent law(s)"
                 + (", each proved: every Lie derivative $X_j(h)$ has zero numerator polynomial in "
                    r"$\mathbb Q[\theta,E]$, and the SymPy twin with the true exponentials agrees."
                    if r.laws else "."))
    for i, s in enumerate(r.law_latex()):
        lines.append(display_math(rf"h_{{{i + 1}}} = {s},\qquad X_j(h_{{{i + 1}}})\equiv 0\ \forall j"))
    rel = "=" if r.complete else "<"
    lines.append(rf"\textbf{{Verdict.}} ${r.rank}+{r.n_independent}{rel}D={r.D}$: "
                 rf"\textbf{{{escape_text(r.verdict())}}}. Time {r.seconds.get('total', 0):.2f}\,s.")
    if conf is not None:
        lines.append(rf"\textbf{{Along the real flow.}} {escape_text(conf.summary())}.")
        lines.append(r"\begin{center}\small" + conf.latex() + r"\end{center}")
    return "\n\n".join(lines)


def laws_section(results, confirmations: dict | None = None) -> Section:
    """One :class:`Section`: the mathematics, then one subsection per result."""
    confirmations = confirmations or {}
    body = [MATHEMATICS.strip()] + [model_latex(r, confirmations.get(r.model)) for r in results]
    return Section(TITLE, "\n\n".join(body), [])


# --------------------------------------------------------------------------- report hook

def add_report_arguments(p) -> None:
    """``--laws-model NAME`` for the commands that write the LaTeX report."""
    p.add_argument("--laws-model", action="append", metavar="NAME", default=None,
                   help="add a conservation-law section for this named model at d = 2 (repeatable; "
                        f"{', '.join(NAMED)}); see also `attndyn laws --report`")


def report_sections(args, report_dir) -> list:
    names = getattr(args, "laws_model", None) or []
    for n in names:
        if n not in NAMED:
            raise UsageError(f"--laws-model: unknown model {n!r} (expected one of {', '.join(NAMED)})")
    if not names:
        return []
    from attndyn.proofs.laws.run import run_laws  # deferred: flint and the engine load only when asked
    from attndyn.proofs.laws.spec import named_model  # deferred: flint and the engine load only when asked

    results = []
    for n in names:
        r = run_laws(named_model(n, d=2))
        r.model = f"{n} d=2"
        results.append(r)
    return [laws_section(results)]
