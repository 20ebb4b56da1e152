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
* **L6** (attention bounded below): :math:`a(s) > 0` (sign by assumptions) and, on the SEN level
  set, :math:`f(s_t) = |q|^2|v_t|^2 - H_0 \ge -H_0`; with :math:`f` increasing (L2) and :math:`a`
  increasing (L3), :math:`s_t \ge s_{\min} = f^{-1}(-H_0)` and :math:`a_t \ge a(s_{\min}) > 0` for all
  :math:`\tau` — even while the word is first suppressed.
* **L7** (the gradient does not vanish while the loss stays up): for :math:`g = W(p - e_y)` and a
  direction :math:`u` with margins :math:`(w_y - w_j)\cdot u = \gamma + \epsilon_j`,
  :math:`\epsilon_j \ge 0` (H-ach), :math:`-g\cdot u - \gamma(1 - p_y) = \sum_{j\ne y} p_j\epsilon_j`
  (exact, K = 3 and 4) :math:`\ge 0` (sign by assumptions), and :math:`1 - p_y = 1 - e^{-\ell}` (exact,
  :math:`\ell = -\log p_y`); with L1, :math:`|g| \ge \gamma(1 - e^{-\ell})/|u|`.
* **L8** (loss :math:`\to 0`): S5 gives :math:`\dot\ell \le -\eta_v a_t^2|g|^2`, so by L6 and L7
  :math:`\dot\ell \le B = -\eta_v a_{\min}^2\gamma^2 X^2/|u|^2` with :math:`X = 1 - e^{-\ell} > 0` (L5):
  :math:`B < 0` (sign by assumptions) and :math:`B` is bounded away from 0 while
  :math:`\ell \ge \varepsilon`; a loss that stayed above :math:`\varepsilon` would fall below 0, so
  :math:`\ell \to 0` — without needing every margin to grow.

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
# L7/L8: softmax probabilities, the achievable direction's margins gamma + eps_j, the loss-rate bound
GAMMA, U_NORM, ETA_V, A_MIN, X_STALL = sp.symbols(r"\gamma |u| \eta_v a_{\min} X", positive=True)
RATE_BOUND = -ETA_V * A_MIN ** 2 * GAMMA ** 2 * X_STALL ** 2 / U_NORM ** 2


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


def lemma_facts(f_sen: sp.Expr = F_SEN, rate_bound: sp.Expr = RATE_BOUND) -> list[Fact]:
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
    facts.append(sign_fact("L6: a(s) > 0, so a_t >= a(s_min) > 0 on the level set", A_ATT, S, "positive", 96))
    facts += margin_facts()
    facts.append(sign_fact("L8: the loss-rate bound -eta_v a_min^2 gamma^2 X^2/|u|^2 < 0", rate_bound, X_STALL,
                           "negative", 97, lo=1e-3, hi=30.0))
    return facts


def margin_facts() -> list[Fact]:
    r"""L7 for K = 3 and 4 classes (label y = 0): the exact identity
    :math:`-g\cdot u - \gamma(1-p_y) = \sum_{j\ne y}p_j\epsilon_j`, the sign of the right side, and
    :math:`1 - p_y = 1 - e^{-\ell}` at :math:`\ell = -\log p_y`."""
    out = []
    for K in (3, 4):
        p = sp.symbols(f"p1:{K}", nonnegative=True)  # p_j, j != y
        eps = sp.symbols(f"epsilon1:{K}", nonnegative=True)
        py = 1 - sum(p)
        minus_g_dot_u = sum(pj * (GAMMA + ej) for pj, ej in zip(p, eps))  # sum_j p_j (w_y - w_j).u
        rest = sum(pj * ej for pj, ej in zip(p, eps))
        out.append(identity_fact(f"L7 K={K}: -g.u - gamma(1 - p_y) = sum_(j!=y) p_j eps_j",
                                 minus_g_dot_u - GAMMA * (1 - py), rest))
        out.append(Fact(f"L7 K={K}: sum_(j!=y) p_j eps_j >= 0", "sign by assumptions",
                        rest.is_nonnegative is True, _nonneg_numeric(rest, 98 + K), SYMBOLIC.points))
    p_y = sp.Symbol("p_y", positive=True)
    out.append(identity_fact("L7: 1 - p_y = 1 - e^-l at l = -log p_y", STALL.xreplace({ELL: -sp.log(p_y)}), 1 - p_y))
    return out


def _nonneg_numeric(expr, stream: int) -> bool:
    rng = rng_for(stream)
    free = sorted(expr.free_symbols, key=str)
    f = sp.lambdify(free, expr, "numpy")
    vals = np.asarray(f(*[rng.uniform(0.0, 5.0, SYMBOLIC.points) for _ in free]), dtype=np.float64)
    return bool(np.all(vals >= 0) and np.all(np.isfinite(vals)))


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
    D.eq(r"L6 (on the level set, $f$ and $a$ increasing)", r"a_t", r"\ge a(f^{-1}(-H_0)) = a_{\min} > 0")
    D.eq(r"L7 (H-ach: $(w_y - w_j)\cdot u = \gamma + \epsilon_j$, $\epsilon_j \ge 0$)", r"|g|\,|u| \ge -g\cdot u",
         r"\gamma(1 - p_y) + \sum_{j\ne y}p_j\epsilon_j \ge \gamma\,(1 - e^{-\ell})")
    D.eq(r"L8 (S5, L6, L7; $X = 1 - e^{-\ell} > 0$ by L5)", r"\dot\ell \le -\eta_v a_t^2|g|^2", r"\le " + sp.latex(RATE_BOUND) + " < 0")
    D.note(r"Chain: $\mu\uparrow\infty$ (C0, L5) $\Rightarrow |v_t|\to\infty$ (L1) $\Rightarrow s_t\to\infty$ (L2) "
           r"$\Rightarrow a_t\to1$ (L3); the loss falls at a rate bounded away from 0 while $\ell\ge\varepsilon$ "
           r"(L6-L8), so $\ell\to0$; where every margin grows, L4 gives the same.")
    return D.steps


@claim(
    "C0-lemmas",
    "The convergence argument's steps as checked lemmas (L1-L8)",
    kind="symbolic",
    statement=(r"L1: $|u|^2|v|^2-(u\cdot v)^2=\sum_{i<j}(u_iv_j-u_jv_i)^2$; L2: $f(s)=" + sp.latex(F_SEN)
               + r"$ has $f'>0$, $f(\pm\infty)=\pm\infty$; L3: $a=" + sp.latex(A_ATT) + r"$ has $a'=a(1-a)>0$, "
               r"$a\to1$; L4: $" + sp.latex(LOSS_BOUND) + r"$ decreases to 0 in $\delta$; L5: $"
               + sp.latex(STALL) + r"$ is positive and increasing for $\ell>0$; L6: $a_t \ge a_{\min} > 0$; "
               r"L7: $|g| \ge \gamma(1-e^{-\ell})/|u|$; L8: $\dot\ell \le " + sp.latex(RATE_BOUND) + r" < 0$."),
    assumptions=(r"$m, \rho = \eta_v/\eta_k, K-1 > 0$; $s, \delta$ real; $\ell > 0$; "
                 r"$\gamma, |u|, \eta_v, a_{\min} > 0$; $p_j, \epsilon_j \ge 0$",
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
