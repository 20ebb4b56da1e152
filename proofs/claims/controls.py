r"""Negative controls: deliberately wrong claims that a sound verifier must refute.

Each control hands a *wrong* candidate first integral to the very machinery
that proves S2 (:func:`attndyn.proofs.claims.symbolic.verify_first_integral`): one sentence,
a symbolic number of sentences, n = 1, 2, 3 sentences written out, and the
explicit-component model with a concrete classifier.  The candidates differ
from the SEN quantity :math:`H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}(s_t + e^{s_t}/m)`
in one coefficient only, so a refutation shows the checks are sharp enough to
see a single wrong constant.
"""
from __future__ import annotations

import sympy as sp
from sympy import Identity

from attndyn.proofs.claims.registry import claim, Outcome
from attndyn.proofs.claims.symbolic import verify_first_integral
from attndyn.proofs.model import BASE, LR_RATIO

REPORT_ORDER = 30  # where these claims stand in the report (attndyn.proofs.claims.registry)

_ASSUMPTIONS = (
    r"the hypotheses of S2 (query fixed, non-topic words frozen at score 0 and embedding 0, "
    r"any classifier, any number of sentences with $m$ non-topic words)",
    r"expected: refuted (the verifier must find $\dot H \neq 0$ exactly and numerically)",
)


def wrong_sen(ratio: sp.Expr = LR_RATIO, factor: sp.Expr = 2, shift: sp.Expr = 0):
    r"""A candidate :math:`|q|^2|v_t|^2 - \text{factor}\cdot\text{ratio}\,(s_t + e^{s_t}/(m + \text{shift}))`
    (factor 2, ratio :math:`\eta_v/\eta_k`, shift 0 is the true SEN quantity)."""
    S = BASE

    def build(m: sp.Expr):
        return (S.q.T * S.q) * (S.v.T * S.v) - factor * ratio * (S.s + sp.exp(S.s) / (m + shift)) * Identity(1)

    return build


@claim(
    "neg-sen-m-plus-one",
    "Negative control: 1/(m+1) instead of 1/m in the SEN quantity",
    kind="symbolic",
    expected="refuted",
    statement=r"$|q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}\left(s_t + \frac{e^{s_t}}{m+1}\right)$ is a first integral.",
    assumptions=_ASSUMPTIONS,
)
def neg_sen_m_plus_one() -> Outcome:
    return verify_first_integral(wrong_sen(shift=1), "wrong: 1/(m+1)", stream=100)


@claim(
    "neg-sen-missing-factor-2",
    "Negative control: the SEN quantity without its factor 2",
    kind="symbolic",
    expected="refuted",
    statement=r"$|q|^2|v_t|^2 - \frac{\eta_v}{\eta_k}\left(s_t + \frac{e^{s_t}}{m}\right)$ is a first integral.",
    assumptions=_ASSUMPTIONS,
)
def neg_sen_missing_factor_2() -> Outcome:
    return verify_first_integral(wrong_sen(factor=1), "wrong: factor 1 instead of 2", stream=110)


@claim(
    "neg-sen-inverted-rates",
    "Negative control: the learning-rate ratio inverted in the SEN quantity",
    kind="symbolic",
    expected="refuted",
    statement=r"$|q|^2|v_t|^2 - 2\frac{\eta_k}{\eta_v}\left(s_t + \frac{e^{s_t}}{m}\right)$ is a first integral.",
    assumptions=_ASSUMPTIONS + (r"(it agrees with the SEN quantity when $\eta_v = \eta_k$: "
                                r"only unequal rates expose it)",),
)
def neg_sen_inverted_rates() -> Outcome:
    return verify_first_integral(wrong_sen(ratio=1 / LR_RATIO), "wrong: eta_k/eta_v", stream=120)


# A factor 2(1 + 10^-4): the numeric confirmation must still *see* this defect.  Its relative size in
# the Lie derivative sits between SYMBOLIC.refute_min (1e-6) and float64 round-off far below
# SYMBOLIC.rtol (1e-9), so the control is refuted exactly and numerically; loosen the numeric
# tolerance past the defect and the numeric route calls it zero while the exact one does not, and
# the claim turns to `error`.  It is the resolution check of every symbolic verdict's tolerance.
RESOLUTION_DEFECT = sp.Rational(1, 10 ** 4)


@claim(
    "neg-sen-resolution",
    "Negative control: a relative defect of 1e-4 in the SEN coefficient is seen numerically too",
    kind="symbolic",
    expected="refuted",
    statement=(r"$|q|^2|v_t|^2 - 2(1 + " + sp.latex(RESOLUTION_DEFECT) + r")\frac{\eta_v}{\eta_k}"
               r"\left(s_t + \frac{e^{s_t}}{m}\right)$ is a first integral."),
    assumptions=_ASSUMPTIONS + (r"the defect is small on purpose: the numeric check at random points must "
                                r"resolve it (refuted numerically as well as exactly), which a tolerance "
                                r"looser than the defect cannot",),
)
def neg_sen_resolution() -> Outcome:
    return verify_first_integral(wrong_sen(factor=2 * (1 + RESOLUTION_DEFECT)), "wrong: factor 2(1 + 1e-4)",
                                 stream=130)
