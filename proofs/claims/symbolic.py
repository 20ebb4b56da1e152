r"""Exact (SymPy) proofs of the paper's symbolic claims S1–S7.

Every result is *derived* from the one model definition, :mod:`attndyn.proofs.model`:
no gradient is typed in.  The topic word's context vector
:math:`c = (e^{s_t} v_t + N)/(e^{s_t} + Z_0)` is differentiated with SymPy's
matrix calculus in a symbolic dimension ``d`` (``MatrixSymbol``), the score
:math:`s_t = q^\top k_t` is differentiated as ``(q.T*k).diff(k)``, and the
classifier enters only through :math:`g = \nabla_c \ell`, a free vector (an
arbitrary classifier).

How an identity is proved
-------------------------
* **Reduction to inner products** (:func:`scalarize`).  After expansion a
  1 x 1 matrix expression is a sum of terms
  :math:`\alpha\, x_1^\top y_1\, x_2^\top y_2 \cdots` of column vectors; each
  :math:`x^\top y` is a 1 x 1 matrix, hence a scalar, and equals its transpose
  :math:`y^\top x`.  Each becomes one real symbol :math:`(x\cdot y)` (and
  :math:`\|x\|^2 \ge 0`), so nothing depends on ``d``.  A vector identity
  :math:`X = Y` is proved as :math:`w^\top (X - Y) = 0` for a free vector ``w``.
* **Exact zero** (:func:`is_exactly_zero`).  Every :math:`e^{n s}` is replaced by
  :math:`E_s^n` with :math:`E_s > 0` a symbol; over a common denominator
  (``together``) the numerator must expand to the zero polynomial.  A rational
  function that vanishes with the exponentials as free symbols vanishes
  identically; a nonzero one is nonzero as a function of independent symbols
  (no global ``simplify``, which is slow and opaque; displays use ``cancel``/``factor``).
* **Numeric confirmation** (:func:`check_vanishes`).  The terms of each identity
  are lambdified and evaluated in float64 at ``SYMBOLIC.points`` random points
  (inner products come from random vectors, so they are mutually consistent);
  the identity holds numerically when
  :math:`|\sum \text{terms}| \le \text{atol} + \text{rtol}\sum|\text{terms}|`
  everywhere, and is visibly false when some point exceeds
  ``SYMBOLIC.refute_min`` relative to the terms.  The exact and the numeric
  verdicts must agree (:func:`attndyn.proofs.claims.registry.decide`).

The first-integral verifier :func:`verify_first_integral` is parameterised by
the candidate quantity, so the negative controls (:mod:`attndyn.proofs.claims.controls`) run
exactly the machinery that proves S2.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np
import sympy as sp
from sympy import ImmutableMatrix, MatrixSymbol
from sympy.matrices.expressions import MatAdd, MatrixExpr
from sympy.simplify.simplify import factor_sum

from attndyn.proofs.algebra import (inner, INNER_PAIRS, matrix_factors, plus, readable,
                                    reduce_exactly, scalarize, thaw, tidy)
from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.confirm import (Check, checks_details, combine, evaluate_terms, identity,
                                    judge_arrays, NumericCheck, rng_for, sample_values,
                                    scalar_identity, SignCheck, vector_identity)
from attndyn.proofs.dynamics import (derive_gradients, explicit_linear, explicit_linear_check,
                                     explicit_s1_exact, lie_derivative, sen_H, topic_field)
from attndyn.proofs.model import (A_T, BASE, ETA_K, ETA_V, H_SYM, LR_RATIO, sentence_symbols,
                                  SentenceSymbols)
from attndyn.proofs.sen import sen_curve, sen_log_curve
from attndyn.proofs.settings import SYMBOLIC, SYMBOLIC_SAMPLING

REPORT_ORDER = 10  # where these claims stand in the report (attndyn.proofs.claims.registry)

# ------------------------------------------------------------------- S1 gradients

NONTOPIC = sp.Symbol("s_j", real=True)
V_J = MatrixSymbol("v_j", BASE.d, 1)
K_J = MatrixSymbol("k_j", BASE.d, 1)
Z_REST = sp.Symbol("Z'", positive=True)
N_REST = MatrixSymbol("N'", BASE.d, 1)


@claim(
    "S1-gradients",
    "Gradients of one sentence's loss, for any classifier and any dimension",
    kind="symbolic",
    statement=(
        r"With $g=\nabla_c\ell$ and $a_w = e^{s_w}/\sum_u e^{s_u}$: "
        r"$\nabla_{v_t}\ell = a_t\,g$, "
        r"$\nabla_{k_t}\ell = a_t\,g^\top(v_t-c)\,q$, "
        r"$\nabla_q\ell = \sum_w a_w\,g^\top(v_w-c)\,k_w$."
    ),
    assumptions=(
        r"one sentence: the topic word $t$ and $m$ non-topic words with arbitrary scores $s_j$ "
        r"and embeddings $v_j$, entering through $Z_0=\sum_j e^{s_j}$ and $N=\sum_j e^{s_j}v_j$",
        r"an arbitrary classifier: $g = \nabla_c \ell(c)$ is a free vector",
        r"symbolic dimension $d$ (matrix calculus); confirmed in components for "
        r"$(d, m) = (1,2), (2,2), (3,1)$ with an undefined loss $L(c_1,\dots,c_d)$",
    ),
)
def s1_gradients() -> Outcome:
    D = Derivation()
    S = BASE
    G = derive_gradients(S)
    a = S.weight()
    c_sym = sp.Symbol("c")
    D.eq("The model's context vector, with the non-topic words aggregated in $Z_0$, $N$",
         c_sym, G.c)
    D.eq(r"Matrix calculus: the Jacobian of $c$ in $v_t$ ($I_d$ the identity)",
         r"\frac{\partial c}{\partial v_t}", sp.latex(matrix_factors(G.dc_dv)[0]) + r"\, I_d")
    D.eq(r"Differentiating $c$ in the score $s_t$", r"\frac{\partial c}{\partial s_t}", G.dc_ds)
    D.eq(r"Differentiating $s_t = q^\top k_t$ in $k_t$", r"\nabla_{k_t} s_t", G.ds_dk)
    checks = [
        vector_identity(r"dc/ds_t = a_t (v_t - c)", G.dc_ds, a * (S.v - G.c), 11),
        vector_identity(r"grad_v loss = a_t g", G.grad_v, a * S.g, 12),
        scalar_identity(r"d loss/ds_t = a_t g.(v_t - c)", G.dl_ds, a * S.g.T * (S.v - G.c), 13),
        vector_identity(r"grad_k loss = a_t g.(v_t - c) q", G.grad_k, a * S.q * S.g.T * (S.v - G.c), 14),
    ]
    D.eq(r"Hence $\partial c/\partial s_t = a_t(v_t - c)$ and, by the chain rule through $g$",
         r"\frac{\partial \ell}{\partial s_t} = g^\top\frac{\partial c}{\partial s_t}",
         A_T * (S.g.T * (S.v - MatrixSymbol("c", S.d, 1))))
    D.eq("Embedding gradient", r"\nabla_{v_t}\ell", A_T * S.g)
    D.eq("Key gradient", r"\nabla_{k_t}\ell = \frac{\partial\ell}{\partial s_t}\nabla_{k_t}s_t",
         A_T * S.q * S.g.T * (S.v - MatrixSymbol("c", S.d, 1)))

    # a non-topic word j: split it out of the aggregates, Z0 = e^{s_j} + Z', N = e^{s_j} v_j + N'
    split = {S.Z0: sp.exp(NONTOPIC) + Z_REST, S.N: sp.exp(NONTOPIC) * V_J + N_REST}
    c_j = G.c.xreplace(split)
    a_j = sp.exp(NONTOPIC) / (sp.exp(S.s) + sp.exp(NONTOPIC) + Z_REST)
    dl_dsj = S.g.T * c_j.diff(NONTOPIC)
    D.eq(r"A non-topic word $j$: write $Z_0 = e^{s_j} + Z'$, $N = e^{s_j}v_j + N'$ and differentiate",
         r"\frac{\partial \ell}{\partial s_j}", dl_dsj)
    checks.append(scalar_identity(r"d loss/ds_j = a_j g.(v_j - c)", dl_dsj,
                                  a_j * S.g.T * (V_J - c_j), 15))
    ds_dq_t, ds_dq_j = S.score_expr().diff(S.q), (S.q.T * K_J).diff(S.q)
    checks.append(vector_identity(r"grad_q s_t = k_t", ds_dq_t, S.k, 16))
    checks.append(vector_identity(r"grad_q s_j = k_j", ds_dq_j, K_J, 17))
    D.eq(r"The query enters every score, $\nabla_q s_w = k_w$, so",
         r"\nabla_q\ell", r"\frac{\partial\ell}{\partial s_t}k_t + \sum_{j=1}^{m}\frac{\partial\ell}{\partial s_j}k_j"
         r" = \sum_{w} a_w\, g^\top(v_w - c)\, k_w")

    # the same results in explicit components, with an undefined classifier loss
    explicit = {f"d={d}, m={m}": explicit_s1_exact(d, m) for d, m in SYMBOLIC_SAMPLING.explicit_dims}
    d3, m3 = SYMBOLIC_SAMPLING.explicit_dims[-1]
    numeric = explicit_linear_check(
        f"explicit components d={d3}, m={m3}, concrete linear classifier K={SYMBOLIC_SAMPLING.explicit_classes}", 18)
    checks.append(Check("explicit components (" + "; ".join(explicit) + ")", all(explicit.values()), numeric))
    D.note("Explicit components: " + ", ".join(
        f"${k}$: {'the derived gradients equal the formulas exactly' if v else 'MISMATCH'}"
        for k, v in explicit.items()) + r" (undefined loss $L(c_1,\dots,c_d)$, $\partial_i L$ at $c$ "
        r"standing for $g_i$); numerically with a concrete linear classifier at "
        f"{SYMBOLIC.points} random points.")
    status, reason = combine(checks)
    return Outcome(status, reason, D.steps, {**checks_details(checks), "explicit_exact": explicit})


# ---------------------------------------------------- S2: the SEN first integral

SENT_I = sp.Symbol("i", integer=True, positive=True)  # a sentence index
N_SENTENCES = sp.Symbol("n", integer=True, positive=True)
X_IDX = sp.IndexedBase("x")  # x_i = g_i . v_t for sentence i

HBuilder = Callable[[sp.Expr], MatrixExpr]  # m -> candidate H (1x1) in BASE's symbols


def sentence(label: str) -> SentenceSymbols:
    """Symbols of sentence ``label``: its own g, N, Z0; the topic word's q, k_t, v_t, s_t shared."""
    return sentence_symbols(label)


def explicit_first_integral_check(H_builder: HBuilder, what: str, stream: int,
                                  sentences: int = 2) -> NumericCheck:
    r"""dH/dτ numerically on the explicit model (components, concrete linear classifier):
    non-topic keys and embeddings 0, ``sentences`` sentences containing t (each its own
    classifier gradient), :math:`\dot H = \sum_i \nabla_v H\cdot(-\eta_v\nabla_v\ell_i)
    + \nabla_k H\cdot(-\eta_k\nabla_k\ell_i)` with ∇H differentiated in components."""
    cfg = SYMBOLIC_SAMPLING
    d, m = cfg.explicit_dims[-1]
    E = explicit_linear(d, m, cfg.explicit_classes)
    X = E.X
    Hx = H_builder(sp.Integer(m)).xreplace(
        {BASE.q: ImmutableMatrix(X.q), BASE.v: ImmutableMatrix(X.embeddings[0])}
    ).doit().as_explicit()[0, 0].xreplace({BASE.s: X.scores[0]})
    grad_H = sp.lambdify(list(X.parameters()) + [ETA_V, ETA_K],
                         [Hx.diff(x) for x in list(X.embeddings[0]) + list(X.keys[0])],
                         modules="numpy", cse=True)
    n = SYMBOLIC.points
    rng = rng_for(stream)
    topic = sample_values(list(X.parameters()) + [ETA_V, ETA_K], n, rng)
    for w in range(1, m + 1):  # the frozen regime: non-topic keys and embeddings 0
        for x in list(X.keys[w]) + list(X.embeddings[w]):
            topic[x] = np.zeros(n)
    gH = np.array(grad_H(*[topic[x] for x in list(X.parameters()) + [ETA_V, ETA_K]]), dtype=np.float64)
    emb, sco = np.zeros(n), np.zeros(n)
    for _ in range(sentences):
        clf = sample_values(list(E.W) + list(E.b), n, rng)
        vals = {**topic, **clf}
        grads = np.array(E.gradients(*[vals[x] for x in E.symbols]), dtype=np.float64)
        emb += np.einsum("ip,ip->p", gH[:d], -topic[ETA_V] * grads[:d])
        sco += np.einsum("ip,ip->p", gH[d:], -topic[ETA_K] * grads[d:2 * d])
    return judge_arrays(what, emb + sco, np.abs(emb) + np.abs(sco))


def verify_first_integral(H_builder: HBuilder, name: str, stream: int = 20) -> Outcome:
    r"""Is ``H_builder(m)`` a first integral of the topic word's gradient flow?

    Query fixed, non-topic words frozen at score 0 and embedding 0, an arbitrary
    classifier, any :math:`\eta_v, \eta_k`, a sum over any number of sentences
    containing t (each with m non-topic words).  The Lie derivative is computed
    (i) for one sentence i, (ii) for n sentences with a symbolic n, by linearity
    of the field in the sentences, (iii) for n = 1, 2, 3 sentences spelled out,
    and (iv) numerically on the explicit-component model.  Verified iff all vanish.
    """
    D = Derivation()
    S, m = BASE, BASE.m
    H = H_builder(m)
    D.eq(f"The candidate first integral ({name})", H_SYM, scalarize(H))
    D.note(r"Frozen regime: every non-topic score $s_j = 0$ and embedding $v_j = 0$, so "
           r"$Z_0 = m$, $N = 0$ and $c = a_t v_t$ with $a_t = e^{s_t}/(e^{s_t}+m)$; "
           r"the query is fixed.")
    Si = sentence("i")
    vdot, kdot = topic_field(Si, m=m)
    sdot = scalarize(S.score_expr().diff(S.k).T * kdot)
    D.eq(r"Sentence $i$ (classifier gradient $g_i$): the flow of S1", r"\dot v_t^{(i)}", readable(vdot))
    D.eq(r"and the score moves along $\dot s_t = \nabla_{k_t}s_t\cdot\dot k_t$",
         r"\dot s_t^{(i)}", tidy(sdot))
    D.eq(r"Gradient of the candidate", r"\nabla_{v_t}H,\ \partial_{s_t}H",
         sp.latex(H.diff(S.v)) + r",\quad " + sp.latex(scalarize(H.diff(S.s))))
    terms = lie_derivative(H, vdot, kdot)
    D.eq(r"Lie derivative, sentence $i$: $\nabla_v H\cdot\dot v_t + \partial_s H\,\dot s_t$",
         r"\dot H^{(i)}", plus(tidy(terms["embedding"]), tidy(terms["score"])))
    one = reduce_exactly(sp.Add(*terms.values()))
    D.eq("Cancelling (exponentials as free symbols)", r"\dot H^{(i)}", tidy(thaw(one)))
    checks = [identity("one sentence", list(terms.values()), stream)]

    # (ii) any number n of sentences: the field is the sum of the sentences' fields, so
    # dH/dtau = sum_i (embedding_i + score_i); each depends on sentence i only through x_i
    x_i = inner(Si.g, S.v)
    per = {k: t.xreplace({x_i: X_IDX[SENT_I]}) for k, t in terms.items()}
    own = {Si.g.name, Si.N.name}
    stray = [str(sym) for t in per.values() for sym in t.free_symbols
             if sym in INNER_PAIRS and own & set(INNER_PAIRS[sym])]
    if stray:
        raise ValueError(f"sentence terms depend on g_i other than through g_i.v_t: {stray}")
    sums = [factor_sum(sp.Sum(t, (SENT_I, 1, N_SENTENCES))) for t in per.values()]
    X_sum = sp.Sum(X_IDX[SENT_I], (SENT_I, 1, N_SENTENCES))
    X_sym = sp.Symbol(r"\sum_{i=1}^{n} x_i", real=True)
    pulled = [t.xreplace({X_sum: X_sym}) for t in sums]
    if any(t.has(sp.Sum) for t in pulled):
        raise ValueError("a sentence coefficient depends on the sentence index")
    D.eq(r"$n$ sentences containing $t$ (symbolic $n$, $x_i = g_i\cdot v_t$): linearity of the "
         r"field in the sentences, then the $i$-independent factors leave the sums",
         r"\dot H", plus(*[tidy(t) for t in sums]))
    total = reduce_exactly(sp.Add(*pulled))
    D.eq("Cancelling", r"\dot H", tidy(thaw(total)).xreplace({X_sym: X_sum}))
    checks.append(identity("n sentences (symbolic n)", pulled, stream + 1))

    # (iii) n = 1, 2, 3 sentences written out
    results = []
    for n in (1, 2, 3):
        fields = [topic_field(sentence(str(j + 1)), m=m) for j in range(n)]
        terms_n = lie_derivative(H, MatAdd(*[f[0] for f in fields]), MatAdd(*[f[1] for f in fields]))
        chk = identity(f"n = {n} sentences written out", list(terms_n.values()), stream + 1 + n)
        checks.append(chk)
        results.append(f"$n={n}$: " + ("0" if chk.exact_zero else r"$\neq 0$"))
    D.note("The same with $n = 1, 2, 3$ sentences written out (fields summed, then reduced): "
           + ", ".join(results) + ".")
    numeric = explicit_first_integral_check(H_builder, "explicit components, concrete linear classifier, "
                                            "2 sentences", stream + 5)
    checks.append(Check(numeric.what, checks[0].exact_zero, numeric))
    D.note(r"Numerically on the explicit-component model (a concrete linear classifier, two "
           r"sentences): max $|\dot H|$ = " + f"{numeric.max_abs:.3g}, max relative "
           f"{numeric.max_rel:.3g} at {numeric.points} random points.")
    status, reason = combine(checks)
    return Outcome(status, reason, D.steps, checks_details(checks))


@claim(
    "S2-sen-identity",
    "The SEN quantity is a first integral of the gradient flow",
    kind="symbolic",
    statement=(
        # rendered from the very builder the check differentiates (sen_H)
        r"$H = " + sp.latex(readable(scalarize(sen_H()))) + r"$ "
        r"satisfies $\dot H = 0$ along the gradient flow."
    ),
    assumptions=(
        r"the query $q$ is fixed; keys and embeddings train with rates $\eta_k$, $\eta_v$ (any)",
        r"every non-topic word is frozen at score $0$ and embedding $0$",
        r"the topic word $t$ occurs in any number $n$ of sentences, each with $m$ non-topic words",
        r"an arbitrary classifier (each sentence's $g_i = \nabla_c\ell_i$ is free)",
    ),
)
def s2_sen_identity() -> Outcome:
    return verify_first_integral(sen_H, "the SEN quantity", stream=20)


# --------------------------------------------- S3 closed form, S4 mutual promotion


def sen_rates(S: SentenceSymbols, m: sp.Expr = BASE.m) -> tuple[sp.Expr, sp.Expr]:
    r""":math:`(d|v_t|^2/d\tau,\ ds_t/d\tau)` for sentence ``S`` in the frozen regime,
    as :math:`\nabla_v|v_t|^2\cdot\dot v_t` and :math:`\nabla_k s_t\cdot\dot k_t` (S1's flow)."""
    vdot, kdot = topic_field(S, m=m)
    vsq = BASE.v.T * BASE.v
    return scalarize(vsq.diff(BASE.v).T * vdot), scalarize(BASE.score_expr().diff(BASE.k).T * kdot)


def promotion_ratio() -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """(d|v|^2/dτ, ds/dτ, their ratio reduced) for one sentence; the ratio does not involve g."""
    vsq_dot, s_dot = sen_rates(sentence("i"))
    ratio = thaw(sp.factor(reduce_exactly(vsq_dot / s_dot)))
    return vsq_dot, s_dot, ratio


def promotion_ratio_stated() -> sp.Expr:
    r"""The stated ratio :math:`2\frac{\eta_v}{\eta_k}(1 + e^{s_t}/m)/|q|^2`."""
    return 2 * LR_RATIO * (1 + sp.exp(BASE.s) / BASE.m) / inner(BASE.q, BASE.q)


S_VAR = sp.Symbol("sigma", real=True)  # the integration variable standing for the score
S0 = sp.Symbol("s_0", real=True)
V0SQ = sp.Symbol(r"\|v_{0}\|^{2}", nonnegative=True)


@lru_cache(maxsize=None)
def sen_closed_form() -> sp.Expr:
    r"""Integrate :math:`d|v_t|^2/ds_t = R(s_t)` from :math:`s_0` to :math:`s_t`:
    returns :math:`|q|^2(|v_t|^2 - |v_0|^2)` as an expression in ``s_t``, ``s_0``, m, rates."""
    _, _, ratio = promotion_ratio()
    Q = inner(BASE.q, BASE.q)
    return sp.expand(Q * sp.integrate(sp.expand(ratio.xreplace({BASE.s: S_VAR})), (S_VAR, S0, BASE.s)))


def sen_closed_form_stated() -> sp.Expr:
    return 2 * LR_RATIO * ((BASE.s - S0) + (sp.exp(BASE.s) - sp.exp(S0)) / BASE.m)


@claim(
    "S3-sen-closed-form",
    "Closed form of the SEN curve",
    kind="symbolic",
    statement=(
        # rendered from the expression the check compares (sen_closed_form_stated)
        r"$|q|^2(|v_t|^2 - |v_0|^2) = " + sp.latex(readable(sen_closed_form_stated()))
        + r"$. With $\eta_v=\eta_k$, $s_0 = 0$ and $v_0 = 0$ this is the paper's curve "
        r"$|q||v_t| = \sqrt{2\left(s_t + (e^{s_t}-1)/m\right)}$."
    ),
    assumptions=(
        r"as for S2 (S4's ratio $d|v_t|^2/ds_t$ depends on $s_t$ only)",
        r"$(s_0, v_0)$: the topic word's score and embedding at $\tau = 0$",
        r"the float64 evaluator \texttt{attndyn.proofs.sen.sen\_curve} is checked against the closed form",
    ),
)
def s3_sen_closed_form() -> Outcome:
    D = Derivation()
    S = BASE
    Q = inner(S.q, S.q)
    _, _, ratio = promotion_ratio()
    D.eq(r"From S4, wherever $\dot s_t \ne 0$ (where $\dot s_t = 0$ the norm is still too)",
         r"\frac{d|v_t|^2}{ds_t}", ratio)
    derived = sen_closed_form()
    D.eq(r"Integrating from $s_0$ to $s_t$", r"|q|^2\left(|v_t|^2 - |v_0|^2\right)",
         sp.Integral(sp.factor(Q * ratio.xreplace({S.s: S_VAR})), (S_VAR, S0, S.s)))
    D.eq("", r"|q|^2\left(|v_t|^2 - |v_0|^2\right)", sp.factor_terms(derived))
    stated = sen_closed_form_stated()
    checks: list = [scalar_identity("closed form = stated", derived, stated, 30)]
    # the closed form solves the ODE (differentiating back: the same result the other way)
    checks.append(scalar_identity("d/ds of the closed form = |q|^2 R", derived.diff(S.s), Q * ratio, 31))
    # agreement with S2: H is the same at (s, v(s)) and (s0, v0)
    H = scalarize(sen_H())
    vsq = inner(S.v, S.v)
    on_curve = H.xreplace({vsq: V0SQ + derived / Q})
    at_start = H.xreplace({vsq: V0SQ, S.s: S0})
    checks.append(identity("H(s, v(s)) - H(s0, v0) = 0 (agrees with S2)", [on_curve, -at_start], 32))
    D.eq(r"Agreement with S2: on the curve", r"H(s_t, v_t) - H(s_0, v_0)",
         reduce_exactly(on_curve - at_start))
    paper = {ETA_V: ETA_K, S0: 0}
    paper_form = sp.expand(derived.xreplace(paper))
    paper_curve = sp.sqrt(2 * (S.s + (sp.exp(S.s) - 1) / S.m))
    checks.append(scalar_identity("paper: |q|^2|v|^2 = (paper's curve)^2", paper_form, paper_curve ** 2, 33))
    D.eq(r"The paper's setting $\eta_v = \eta_k$, $s_0 = 0$, $v_0 = 0$",
         r"|q|^2|v_t|^2", paper_form)
    D.eq(r"hence (the nonnegative root; as $|q||v_t| \ge 0$ this also forces $s_t \ge 0$)",
         r"|q||v_t|", paper_curve)

    # the float64 evaluator against the closed form (random points) and mpmath (large scores)
    n = SYMBOLIC.points
    rng = rng_for(34)
    vals = sample_values(sorted(stated.free_symbols | {Q, V0SQ}, key=str), n, rng)
    lo, hi = np.minimum(vals[S.s], vals[S0]), np.maximum(vals[S.s], vals[S0])
    vals[S0], vals[S.s] = lo, hi  # reachable scores: s >= s0 keeps the radicand >= 0
    closed = sp.sqrt(Q * V0SQ + stated)
    ref = evaluate_terms([closed], vals, n)[0]
    num = sen_curve(vals[S.s], vals[S.m], s0=vals[S0], qv0_sq=vals[Q] * vals[V0SQ],
                    lr_ratio=vals[ETA_V] / vals[ETA_K])
    checks.append(Check("sen_curve = lambdified closed form", checks[0].exact_zero,
                        judge_arrays("sen_curve = lambdified closed form", num - ref,
                                     np.abs(num) + np.abs(ref))))
    import mpmath  # deferred: only the overflow-safe path needs it

    large = np.array(SYMBOLIC_SAMPLING.sen_large_scores)
    m_big = float(vals[S.m][0])
    with mpmath.workdps(SYMBOLIC_SAMPLING.mp_digits):
        exact_log = np.array([float(mpmath.log(2 * (mpmath.mpf(x) + (mpmath.exp(x) - 1) / m_big)) / 2)
                              for x in large])
    log_num = np.asarray(sen_log_curve(large, m_big))
    rel = np.expm1(np.abs(log_num - exact_log))  # relative error of the curve's value
    checks.append(Check(f"sen_log_curve at s up to {large.max():g} vs mpmath", True,
                        judge_arrays(f"sen_log_curve at s up to {large.max():g} vs mpmath "
                                     f"({SYMBOLIC_SAMPLING.mp_digits} digits)", rel, np.ones_like(rel))))
    fin = large <= 1400
    cur = np.asarray(sen_curve(large[fin], m_big))
    checks.append(Check("sen_curve finite up to s = 1400, vs mpmath", True,
                        judge_arrays("sen_curve (finite) vs mpmath", cur / np.exp(exact_log[fin]) - 1,
                                     np.ones(int(fin.sum())))))
    D.note(r"Numerically safe evaluation: \texttt{attndyn.proofs.sen.sen\_curve} computes "
           r"$e^{M/2}\sqrt{X e^{-M}}$ with $M=\max(s_t, s_0, 0)$ from \texttt{expm1} terms "
           r"(no overflow), and \texttt{sen\_log\_curve} its logarithm, finite for every score; "
           f"checked against the closed form at {n} random points and against mpmath "
           f"({SYMBOLIC_SAMPLING.mp_digits} digits) at $s_t$ up to ${large.max():g}$.")
    status, reason = combine(checks)
    return Outcome(status, reason, D.steps, checks_details(checks))


@claim(
    "S4-mutual-promotion",
    "Mutual promotion and suppression of score and embedding norm",
    kind="symbolic",
    statement=(
        r"$\frac{d|v_t|^2}{d\tau} = R\,\frac{ds_t}{d\tau}$ with "
        # rendered from the expression the check compares (promotion_ratio_stated)
        r"$R = " + sp.latex(readable(promotion_ratio_stated())) + r" > 0$: score and embedding norm "
        r"rise together ($g\cdot v_t < 0$) or fall together ($g\cdot v_t > 0$)."
    ),
    assumptions=(
        r"as for S2: $q \ne 0$ fixed; non-topic words frozen at score 0 and embedding 0",
        r"any classifier; any number of sentences containing $t$, each with $m$ non-topic words",
    ),
)
def s4_mutual_promotion() -> Outcome:
    D = Derivation()
    S = BASE
    vsq_dot, s_dot, ratio = promotion_ratio()
    D.eq(r"Embedding norm along the flow of S1, $\nabla_v |v_t|^2\cdot\dot v_t$ (sentence $i$)",
         r"\frac{d|v_t|^2}{d\tau}", tidy(vsq_dot))
    D.eq(r"Score, $\nabla_k s_t\cdot\dot k_t$", r"\frac{ds_t}{d\tau}", tidy(s_dot))
    D.eq(r"Their ratio, cancelled: the classifier ($g_i$) drops out", "R", ratio)
    stated = promotion_ratio_stated()
    checks: list = [
        scalar_identity("ratio = 2 (eta_v/eta_k)(1 + e^s/m)/|q|^2", ratio, stated, 40),
        identity("d|v|^2/dtau - R ds/dtau = 0 (one sentence)", [vsq_dot, -stated * s_dot], 41),
    ]
    # n = 2 sentences: both rates are sums over the sentences, with the same ratio
    rates = [sen_rates(sentence(str(j))) for j in (1, 2)]
    checks.append(identity("d|v|^2/dtau - R ds/dtau = 0 (two sentences)",
                           [sum(r[0] for r in rates), -stated * sum(r[1] for r in rates)], 42))
    D.eq("With two sentences the rates add up, and the same ratio holds", r"\frac{d|v_t|^2}{d\tau}",
         r"R\,\frac{ds_t}{d\tau},\quad " + sp.latex(sp.Symbol("R")) + " = " + sp.latex(stated))
    values = sample_values(stated.free_symbols, SYMBOLIC.points, rng_for(43))
    R_num = evaluate_terms([stated], values, SYMBOLIC.points)[0]
    checks.append(SignCheck("R > 0", "positive", stated.is_positive, R_num))
    D.note(r"$R$ is a product and quotient of positive symbols ($\eta_v,\eta_k,m,|q|^2 > 0$, "
           r"$e^{s_t} > 0$): SymPy decides $R > 0$ "
           + ("exactly" if stated.is_positive else "NOT") + r", so $\frac{d|v_t|^2}{d\tau}$ and "
           r"$\frac{ds_t}{d\tau}$ always share their sign (both vanish together).")
    pairs = evaluate_terms([vsq_dot, s_dot], sample_values(vsq_dot.free_symbols | s_dot.free_symbols,
                                                           SYMBOLIC.points, rng_for(44)), SYMBOLIC.points)
    product = thaw(sp.factor(reduce_exactly(vsq_dot * s_dot)))
    checks.append(SignCheck("d|v|^2/dtau * ds/dtau >= 0", "nonnegative", product.is_nonnegative,
                            pairs[0] * pairs[1]))
    D.eq("Equivalently, the product of the two rates (a square times positive factors)",
         r"\frac{d|v_t|^2}{d\tau}\frac{ds_t}{d\tau}", tidy(product))
    D.eq(r"Sign: with $x = g\cdot v_t$", r"\operatorname{sign}\frac{ds_t}{d\tau}",
         r"-\operatorname{sign}(x)")
    status, reason = combine(checks)
    return Outcome(status, reason, D.steps, checks_details(checks))
