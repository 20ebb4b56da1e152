r"""The convergence argument as checked lemmas (issue 8): from ":math:`\mu = u\cdot v_t` increases"
to ":math:`|v_t|\to\infty`, :math:`s_t\to\infty`, :math:`a_t\to1`, loss :math:`\to0`".

C0-certificate derives :math:`\dot\mu > 0` (and :math:`\dot\mu \ge \eta_v\pi_t a_t t^*(1-p_y)`
under H-ach); the checker's verdict then rests on the steps below, each decided here by exact
simplification, a sign the symbols' assumptions decide, or an exact limit — no prose:

* **L1** (Cauchy–Schwarz, exact): :math:`|u|^2|v|^2 - (u\cdot v)^2 = \sum_{i<j}(u_iv_j - u_jv_i)^2
  \ge 0` (checked as a polynomial identity for d = 2, 3), so :math:`|v_t| \ge \mu/|u|`:
  :math:`\mu\to\infty \Rightarrow |v_t|\to\infty`.
* **L2** (SEN level set): :math:`|q|^2|v_t|^2 = H_0 + f(s_t)`, :math:`f(s) = 2\rho(s + e^s/m)`;
  :math:`f'(s) = 2\rho(1 + e^s/m) > 0` (sign by assumptions), :math:`f\to+\infty` as
  :math:`s\to+\infty`, :math:`f\to-\infty` as :math:`s\to-\infty` (exact limits): :math:`f` is an
  increasing bijection of :math:`\mathbb R`, so :math:`|v_t|\to\infty \iff s_t\to\infty`.
* **L3** (attention): :math:`a(s) = e^s/(e^s + m)` has :math:`a' = a(1-a)` (exact) :math:`> 0`
  (sign by assumptions) and :math:`a\to1` as :math:`s\to\infty` (exact limit).
* **L4** (loss): with margins :math:`\delta_j = z_y - z_j \ge \delta` (:math:`j\ne y`, K classes),
  :math:`\ell = \log(1 + \sum_{j\ne y}e^{-\delta_j}) \le \log(1 + (K-1)e^{-\delta})`; the bound is
  decreasing in :math:`\delta` (sign by assumptions) with limit 0 (exact): margins :math:`\to\infty
  \Rightarrow \ell\to0`.
* **L5** (the certificate does not stall while the loss stays up): :math:`1 - p_y = 1 - e^{-\ell}`
  is increasing in :math:`\ell` and :math:`> 0` for :math:`\ell > 0` (sign by assumptions), so while
  :math:`\ell \ge \varepsilon`, :math:`\dot\mu \ge \eta_v\pi_t a_t t^*(1 - e^{-\varepsilon})`.

``neg-lemma-wrong-monotone`` (expected refuted): L2 with :math:`f(s) = 2\rho(s - e^s/m)` (a sign
error) is not increasing: SymPy cannot prove the sign and the derivative is negative at a point.
"""
from __future__ import annotations

from dataclasses import dataclass
import itertools

import numpy as np
import sympy as sp

from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.confirm import rng_for
from attndyn.proofs.settings import SYMBOLIC

REPORT_ORDER = 41  # right after C0 (attndyn.proofs.claims.registry)

S = sp.Symbol("s", real=True)
M, RHO, QSQ = sp.symbols(r"m \rho |q|^2", positive=True)
DELTA = sp.Symbol(r"\delta", real=True)
K1 = sp.Symbol("K-1", positive=True)  # number of wrong classes
ELL = sp.Symbol(r"\ell", positive=True)

F_SEN = 2 * RHO * (S + sp.exp(S) / M)
A_ATT = sp.exp(S) / (sp.exp(S) + M)
LOSS_BOUND = sp.log(1 + K1 * sp.exp(-DELTA))
STALL = 1 - sp.exp(-ELL)


@dataclass
class Fact:
    what: str
    route: str  # "exact simplification" | "sign by assumptions" | "exact limit"
    holds: bool
    numeric_ok: bool  # the same fact at random points (float64)
    points: int = 0


def _numeric(expr, sym, sign: str, lo=-30.0, hi=30.0, stream=0) -> tuple[bool, int]:
    """``expr`` (of ``sym`` and positive parameters) has ``sign`` at SYMBOLIC.points random points."""
    rng = rng_for(stream)
    free = sorted(expr.free_symbols - {sym}, key=str)
    f = sp.lambdify([sym, *free], expr, "numpy")
    n = SYMBOLIC.points
    vals = f(rng.uniform(lo, hi, n), *[rng.uniform(0.1, 40.0, n) for _ in free])
    vals = np.asarray(vals, dtype=np.float64) * np.ones(n)
    ok = {"positive": np.all(vals > 0), "negative": np.all(vals < 0)}[sign]
    return bool(ok and np.all(np.isfinite(vals))), n


def sign_fact(what: str, expr: sp.Expr, sym, sign: str, stream: int, lo=-30.0, hi=30.0) -> Fact:
    e = sp.simplify(expr)
    exact = {"positive": e.is_positive, "negative": e.is_negative}[sign]
    ok, n = _numeric(e, sym, sign, lo, hi, stream)
    return Fact(what, "sign by assumptions", exact is True, ok, n)


def limit_fact(what: str, expr, sym, at, value) -> Fact:
    """An exact limit (SymPy), with a float64 twin: at |sym| = 20 and 40 (parameters 1) the values
    move towards ``value`` (grow with the right sign for an infinite one; for a finite one, the
    gap shrinks below 1e-6)."""
    got = sp.limit(expr, sym, at)
    sign = 1 if at == sp.oo else -1
    f = sp.lambdify([sym, *sorted(expr.free_symbols - {sym}, key=str)], expr, "numpy")
    ones = [1.0] * (len(expr.free_symbols) - 1)
    x20, x40 = float(f(sign * 20.0, *ones)), float(f(sign * 40.0, *ones))
    if value in (sp.oo, -sp.oo):
        s = 1 if value == sp.oo else -1
        num = s * x40 > s * x20 > 0
    else:
        num = abs(x40 - float(value)) < min(abs(x20 - float(value)), 1e-6) or x40 == float(value)
    return Fact(f"{what} (limit = {sp.sstr(got)})", "exact limit", bool(got == value), bool(num), 2)


def identity_fact(what: str, lhs, rhs) -> Fact:
    return Fact(what, "exact simplification", sp.simplify(sp.expand(lhs - rhs)) == 0, True)


def cauchy_schwarz(d: int) -> Fact:
    u, v = sp.symbols(f"u1:{d + 1}", real=True), sp.symbols(f"v1:{d + 1}", real=True)
    lhs = sum(x ** 2 for x in u) * sum(x ** 2 for x in v) - sum(a * b for a, b in zip(u, v)) ** 2
    rhs = sum((u[i] * v[j] - u[j] * v[i]) ** 2 for i, j in itertools.combinations(range(d), 2))
    return identity_fact(f"L1 d={d}: |u|^2|v|^2 - (u.v)^2 = sum_(i<j) (u_i v_j - u_j v_i)^2", lhs, rhs)


def lemma_facts(f_sen: sp.Expr = F_SEN) -> list[Fact]:
    facts = [cauchy_schwarz(2), cauchy_schwarz(3)]
    facts.append(sign_fact("L2: f'(s) > 0", sp.diff(f_sen, S), S, "positive", 90))
    facts.append(limit_fact("L2: f -> +oo as s -> +oo", f_sen, S, sp.oo, sp.oo))
    facts.append(limit_fact("L2: f -> -oo as s -> -oo", f_sen, S, -sp.oo, -sp.oo))
    facts.append(identity_fact("L3: a'(s) = a(1-a)", sp.diff(A_ATT, S), A_ATT * (1 - A_ATT)))
    facts.append(sign_fact("L3: a(1-a) > 0", A_ATT * (1 - A_ATT), S, "positive", 91))
    facts.append(limit_fact("L3: a -> 1 as s -> +oo", A_ATT, S, sp.oo, 1))
    facts.append(sign_fact("L4: d/d delta log(1 + (K-1)e^-delta) < 0", sp.diff(LOSS_BOUND, DELTA), DELTA,
                           "negative", 92))
    facts.append(limit_fact("L4: the bound -> 0 as delta -> +oo", LOSS_BOUND, DELTA, sp.oo, 0))
    # 1 - e^-l > 0 for l > 0 by an exact sign argument: it is 0 at l = 0 and its derivative is > 0
    facts.append(identity_fact("L5: (1 - e^-l) at l = 0 is 0", STALL.xreplace({ELL: 0}), 0))
    facts.append(sign_fact("L5: d/dl (1 - e^-l) > 0, so 1 - e^-l > 0 for l > 0", sp.diff(STALL, ELL), ELL,
                           "positive", 94, lo=1e-3, hi=30.0))
    return facts


def facts_verdict(facts: list[Fact]) -> tuple[str, str, dict]:
    details = {"facts": [f.__dict__ for f in facts]}
    inconsistent = [f for f in facts if f.holds != f.numeric_ok]
    failed = [f for f in facts if not f.holds]
    routes = sorted({f.route for f in facts})
    if inconsistent:
        return "error", ("exact and numeric disagree: " + "; ".join(f.what for f in inconsistent)), details
    if failed:
        return "refuted", ("not proved (route " + ", ".join(sorted({f.route for f in failed})) + "): "
                           + "; ".join(f.what for f in failed)), details
    n_num = sum(f.points for f in facts)
    return "verified", (f"{len(facts)} lemma steps, routes: {', '.join(routes)}; the signs confirmed numerically "
                        f"at {n_num} float64 points"), details


def _steps() -> list:
    D = Derivation()
    D.eq("L1 (Cauchy-Schwarz, exact)", r"|u|^2|v_t|^2 - (u\cdot v_t)^2", r"\sum_{i<j}(u_iv_j - u_jv_i)^2 \ge 0")
    D.eq(r"L2 (SEN level set, $f$ increasing onto $\mathbb R$)", r"|q|^2|v_t|^2 - H_0", sp.latex(F_SEN))
    D.eq("", "f'(s)", sp.latex(sp.diff(F_SEN, S)))
    D.eq("L3 (attention)", "a'(s)", sp.latex(A_ATT * (1 - A_ATT)))
    D.eq(r"L4 (loss, margins $\delta_j \ge \delta$)", r"\ell", r"\le " + sp.latex(LOSS_BOUND))
    D.eq(r"L5 (while $\ell \ge \varepsilon$)", r"\dot\mu", r"\ge \eta_v\pi_t a_t t^*" + sp.latex(STALL.xreplace({ELL: sp.Symbol(r"\varepsilon")})))
    D.note(r"Chain: $\mu\uparrow\infty$ (C0, L5) $\Rightarrow |v_t|\to\infty$ (L1) $\Rightarrow s_t\to\infty$ (L2) "
           r"$\Rightarrow a_t\to1$ (L3); margins $\to\infty$ $\Rightarrow \ell\to0$ (L4).")
    return D.steps


@claim(
    "C0-lemmas",
    "The convergence argument's steps as checked lemmas (L1-L5)",
    kind="symbolic",
    statement=(r"L1: $|u|^2|v|^2-(u\cdot v)^2=\sum_{i<j}(u_iv_j-u_jv_i)^2$; L2: $f(s)=" + sp.latex(F_SEN)
               + r"$ has $f'>0$, $f(\pm\infty)=\pm\infty$; L3: $a=" + sp.latex(A_ATT) + r"$ has $a'=a(1-a)>0$, "
               r"$a\to1$; L4: $" + sp.latex(LOSS_BOUND) + r"$ decreases to 0 in $\delta$; L5: $"
               + sp.latex(STALL) + r"$ is positive and increasing for $\ell>0$."),
    assumptions=(r"$m, \rho = \eta_v/\eta_k, K-1 > 0$; $s, \delta$ real; $\ell > 0$",
                 r"C0-certificate for $\dot\mu$; S2/S3 for the SEN level set"),
)
def c0_lemmas() -> Outcome:
    status, reason, details = facts_verdict(lemma_facts())
    return Outcome(status, reason, _steps(), details)


F_WRONG = 2 * RHO * (S - sp.exp(S) / M)


@claim(
    "neg-lemma-wrong-monotone",
    "Control: L2 with a sign error (f = 2 rho (s - e^s/m)) is not a monotone bijection",
    kind="symbolic",
    expected="refuted",
    statement=r"L2 for $f(s) = " + sp.latex(F_WRONG) + r"$: $f' > 0$ and $f(\pm\infty) = \pm\infty$.",
    assumptions=(r"as for C0-lemmas",),
)
def neg_lemma_wrong_monotone() -> Outcome:
    facts = [sign_fact("L2: f'(s) > 0", sp.diff(F_WRONG, S), S, "positive", 95),
             limit_fact("L2: f -> +oo as s -> +oo", F_WRONG, S, sp.oo, sp.oo)]
    status, reason, details = facts_verdict(facts)
    return Outcome(status, reason, [], details)
