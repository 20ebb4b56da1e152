r"""Claims S8: the SEN relation of a topic word in sentences padded with one shared trainable
word (the authors' ``$PAD$``), derived from the model (:mod:`attndyn.proofs.padding`), and its
negative control (the closed form with m = the padded length − 1 is not conserved).
"""
from __future__ import annotations

import sympy as sp

from attndyn.proofs.algebra import inner, plus, readable, tidy
from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.confirm import checks_details, combine, identity
from attndyn.proofs.dynamics import lie_derivative, sen_H, topic_field
from attndyn.proofs.model import BASE, LR_RATIO
from attndyn.proofs.padding import (effective_m, K_PAD, P_SCORE, pad_aggregates, pad_drift_stated,
                                    R_REAL, U_PAD)

REPORT_ORDER = 25  # after S5–S7 (attndyn.proofs.claims.registry)

_ASSUMPTIONS = (
    r"query fixed; one topic word $t$ per sentence; the sentence's $r$ other real words frozen at "
    r"score $0$ and embedding $0$ (the paper's regime)",
    r"the sentence padded with $k_P \ge 1$ copies of one word PAD with score $p = q\cdot k_P$ and "
    r"embedding $u$, both free to move (PAD trains; no mask); any classifier ($g = \nabla_c\ell$)",
)


def _pad_terms():
    """The topic word's flow with PAD's aggregates, and the terms of d/dτ of H built with M(p)
    (p, u held: their own motion does not enter H, which involves only the topic word)."""
    S = BASE
    sub = pad_aggregates(S)
    vdot, kdot = (f.xreplace(sub) for f in topic_field(S, freeze=False))
    return vdot, kdot


def _stated_relation() -> str:
    S = BASE
    M = effective_m()
    return (r"$\frac{d}{d\tau}\left(|q|^2|v_t|^2\right) - 2" + sp.latex(LR_RATIO) + r"\left(1 + "
            + sp.latex(sp.exp(S.s) / M) + r"\right)\frac{ds_t}{d\tau} = "
            + sp.latex(readable(pad_drift_stated())) + r"$, so with $u = 0$ the SEN quantity with $m$ "
            r"replaced by $M(p) = " + sp.latex(M) + r"$ is conserved while $p$ is")


@claim(
    "S8-pad-sen",
    "A shared trainable padding word (PAD) replaces the m of the SEN identity by M(p)",
    kind="symbolic",
    statement=_stated_relation(),
    assumptions=_ASSUMPTIONS,
)
def s8_pad_sen() -> Outcome:
    D = Derivation()
    S = BASE
    M = effective_m()
    D.eq(r"PAD's share of the non-topic aggregates ($r$ real words at score $0$, embedding $0$; "
         r"$k_P$ PAD tokens)", r"(Z_0, N)", sp.Tuple(M, K_PAD * sp.exp(P_SCORE) * U_PAD))
    vdot, kdot = _pad_terms()
    terms = lie_derivative(sen_H(m=M), vdot, kdot)
    D.eq(r"The topic word's flow (S1, not frozen) with these aggregates; then "
         r"$\nabla_v H\cdot\dot v_t + \partial_s H\,\dot s_t$ for $H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}"
         r"(s_t + e^{s_t}/M(p))$ at fixed $p$", r"\dot H|_{p}", plus(*[tidy(t) for t in terms.values()]))
    stated = pad_drift_stated()
    checks: list = [identity("embedding + score terms = stated PAD-embedding drift",
                             [*terms.values(), -stated], 120)]
    D.eq("Collecting", r"\dot H|_{p}", readable(stated))
    checks.append(identity("PAD embedding u = 0: the relation with M(p) closes (SEN with m -> M(p))",
                           [t.xreplace({inner(S.g, U_PAD): 0}) for t in terms.values()], 121))
    no_pad = {K_PAD: 0}
    checks.append(identity("no PAD tokens (k_P = 0): the paper's SEN with m = r",
                           [t.xreplace(no_pad) for t in lie_derivative(sen_H(m=R_REAL),
                            *(f.xreplace({S.Z0: R_REAL, S.N: sp.ZeroMatrix(S.d, 1)})
                              for f in topic_field(S, freeze=False))).values()], 122))
    D.note(r"So PAD's score acts only through $M(p) = r + k_P e^{p}$ in place of the paper's $m$ "
           r"(the $e^{s_t}$ term of the slope $d(|q|^2|v_t|^2)/ds_t$ is divided by $M(p)$), and PAD's "
           r"embedding only through the stated right-hand side. With $p$ falling from $0$ the curve "
           r"starts on the closed form with $m = r + k_P$ and bends up towards the one with $m = r$.")
    status, reason = combine(checks)
    if status == "verified":
        reason = ("the padded relation derived exactly from the model: " + reason)
    return Outcome(status, reason, D.steps, checks_details(checks))


def _padded_length_candidate() -> sp.Expr:
    """The wrong candidate: the paper's H with m = r + k_P (the padded sentence length − 1)."""
    return sen_H(m=R_REAL + K_PAD)


@claim(
    "neg-pad-sen-padded-length",
    "Negative control: with a moving PAD, the SEN quantity with m = padded length minus 1 is conserved",
    kind="symbolic",
    expected="refuted",
    statement=(r"With PAD's embedding $u = 0$ but its score $p$ free, $"
               + sp.latex(readable(_padded_length_candidate()[0, 0])) + r"$ is a first integral."),
    assumptions=_ASSUMPTIONS + (r"expected: refuted ($\dot H \ne 0$ unless $p = 0$)",),
)
def neg_pad_sen_padded_length() -> Outcome:
    D = Derivation()
    S = BASE
    vdot, kdot = _pad_terms()
    terms = lie_derivative(_padded_length_candidate(), vdot, kdot)
    terms = [t.xreplace({inner(S.g, U_PAD): 0}) for t in terms.values()]
    D.eq(r"$\dot H$ of the candidate along the padded flow, $g\cdot u = 0$", r"\dot H", plus(*[tidy(t) for t in terms]))
    checks = [identity("dH/dtau of H with m = r + k_P vanishes", terms, 123)]
    status, reason = combine(checks)
    return Outcome(status, reason, D.steps, checks_details(checks))
