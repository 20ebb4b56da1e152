r"""Full-model SEN: the numba kernels keep the SEN quantity within its step-size bound (issue 8).

On the full model (every sentence, the classifier trained for TC and TL) with the reduced
model's hypotheses held (query fixed, non-topic words at score 0 and embedding 0, every
sentence of length :math:`m + 1` with one topic word), one gradient step
:math:`v_t \leftarrow v_t + \Delta v_t`, :math:`s_t \leftarrow s_t + \Delta s_t` changes

.. math:: H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}\Big(s_t + \frac{e^{s_t}}{m}\Big)

by exactly :math:`\Delta H = |q|^2|\Delta v_t|^2 - 2\frac{\eta_v}{\eta_k}\frac{e^{s_t}}{m}
(e^{\Delta s_t} - 1 - \Delta s_t)`: the first-order terms cancel (S2's identity at the step's
start point; :math:`(1 + e^s/m)a(1-a) = a`), and what is left is S6's :math:`\eta^2` coefficient
to leading order.  Both terms have a fixed sign, so
:math:`|H_n - H_0| \le B_n = \sum_{j<n}\big(|q|^2|\Delta v_j|^2 + 2\frac{\eta_v}{\eta_k}
\frac{e^{s_j}}{m}(e^{\Delta s_j} - 1 - \Delta s_j)\big)`, the tolerance of ``N5-sen-full-model``,
plus a float64 rounding allowance :math:`R_n = n\,c\,\epsilon\max_j(|q|^2|v_j|^2 +
2\frac{\eta_v}{\eta_k}(|s_j| + e^{s_j}/m))` (``PAPER_CLAIMS.rounding_factor`` = c).  Nothing is
hand-picked: the bound is the run's own per-step second-order terms.

The expressions :data:`H_EXPR` and :data:`STEP_EXPR` are SymPy objects: the statement prints
them and the check evaluates them (lambdified), so a changed coefficient is printed and refuted
together (tests/test_statements_bound.py).
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import sympy as sp

from attndyn.numerics.config.presets import preset_config
from attndyn.numerics.training.tracked import tracked_run, TrackedRun
from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.settings import PAPER_CLAIMS

REPORT_ORDER = 62  # after N3/N4 (attndyn.proofs.claims.registry)

CLASSIFIERS = ("fc", "tc", "tl")

Q2, V2, M = sp.symbols(r"|q|^2 |v_t|^2 m", positive=True)
S = sp.Symbol("s_t", real=True)
DV2, DS = sp.Symbol(r"|\Delta v_t|^2", nonnegative=True), sp.Symbol(r"\Delta s_t", real=True)
RHO = sp.Symbol(r"\frac{\eta_v}{\eta_k}", positive=True)

H_EXPR = Q2 * V2 - 2 * RHO * (S + sp.exp(S) / M)
# the two fixed-sign parts of the exact one-step change (their sum with the minus sign is Delta H)
STEP_EXPR = Q2 * DV2 + 2 * RHO * sp.exp(S) / M * (sp.exp(DS) - 1 - DS)
SCALE_EXPR = Q2 * V2 + 2 * RHO * (sp.Abs(S) + sp.exp(S) / M)  # magnitude of H's terms (rounding)

_ARGS = (Q2, V2, S, M, RHO, DV2, DS)


def _f(expr):
    return sp.lambdify(_ARGS, expr, modules="numpy")


def drift_and_bound(run: TrackedRun, ratio: float, H=None, step=None, scale=None):
    """Per record n and topic word: ``|H_n - H_0|``, the signed ``H_n - H_0``, and the tolerance
    ``B_n + R_n`` (module docstring), with ``H``/``step``/``scale`` SymPy expressions in
    :data:`_ARGS` (default the stated ones)."""
    H, step, scale = (_f(e) for e in (H if H is not None else H_EXPR,
                                     step if step is not None else STEP_EXPR,
                                     scale if scale is not None else SCALE_EXPR))
    q2, m = run.q_norm ** 2, run.topic_m[None, :]
    v2 = np.sum(run.v ** 2, axis=2)
    zero = np.zeros_like(v2)
    with np.errstate(over="ignore", invalid="ignore"):
        Hn = H(q2, v2, run.s, m, ratio, zero, zero)
        dv2 = np.sum(np.diff(run.v, axis=0) ** 2, axis=2)
        ds = np.diff(run.s, axis=0)
        per_step = step(q2, v2[:-1], run.s[:-1], m, ratio, dv2, ds)
        mag = scale(q2, v2, run.s, m, ratio, zero, zero)
    B = np.vstack([np.zeros((1, v2.shape[1])), np.cumsum(per_step, axis=0)])
    n = np.arange(len(v2))[:, None]
    R = n * PAPER_CLAIMS.rounding_factor * np.finfo(np.float64).eps * np.maximum.accumulate(mag, axis=0)
    signed = Hn - Hn[0]
    return np.abs(signed), signed, B + R


def sen_full_verdict(measured: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]]) -> tuple[str, str, dict]:
    """``verified`` iff every run's drift stays within its own tolerance at every record; headroom
    is the smallest tolerance/drift over records n >= 1 (> 1 means inside)."""
    details: dict = {"runs": {}}
    worst_key, worst_ratio = None, 0.0
    for key, (drift, signed, tol) in measured.items():
        if not (np.all(np.isfinite(drift)) and np.all(np.isfinite(tol))):
            return "refuted", f"{key}: the run or its bound is not finite", details
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(drift[1:] > 0, drift[1:] / np.where(tol[1:] > 0, tol[1:], np.inf), 0.0)
            ratio = np.where((drift[1:] > 0) & (tol[1:] == 0), np.inf, ratio)
        r = float(ratio.max()) if ratio.size else 0.0
        details["runs"][key] = {"max_drift": float(drift.max()), "final_tolerance": float(tol[-1].max()),
                                "drift_over_tolerance": r, "signed_min": float(signed.min()),
                                "signed_max": float(signed.max())}
        if r >= worst_ratio:
            worst_key, worst_ratio = key, r
    details["worst"] = worst_key
    details["worst_drift_over_tolerance"] = worst_ratio
    details["headroom"] = (1.0 / worst_ratio) if worst_ratio > 0 else float("inf")
    verdict = "verified" if worst_ratio <= 1.0 else "refuted"
    rel = "<=" if verdict == "verified" else ">"
    return verdict, (f"numeric at every step of {len(measured)} runs: max |H_n - H_0| / (B_n + R_n) = "
                     f"{worst_ratio:.12g} {rel} 1 (worst {worst_key}; B_n the run's summed second-order "
                     f"step terms, R_n rounding)"), details


def _cfg(kind: str, seed: int):
    cfg = preset_config(f"paper-{kind}")
    return replace(cfg, train=replace(cfg.train, seed=seed, threads=1))


@lru_cache(maxsize=None)
def sen_run(kind: str, seed: int, lr_v: float, lr_k: float) -> TrackedRun:
    return tracked_run(_cfg(kind, seed), PAPER_CLAIMS.sen_epochs, lr_v=lr_v, lr_k=lr_k,
                       freeze_nontopic=True)


def _statement(H, step) -> str:
    return (r"Full model, non-topic words held at score 0 and embedding 0: for every topic word and step "
            r"$n$, $|H_n - H_0| \le \sum_{j<n}\Big(" + sp.latex(step) + r"\Big)_j + R_n$ with $H = "
            + sp.latex(H) + r"$, $\Delta$ the step's increments and $R_n$ float64 rounding ("
            + f"{PAPER_CLAIMS.rounding_factor:g}" + r"$\,n\epsilon$ times the size of $H$'s terms).")


_ASSUMPTIONS = (
    r"presets \texttt{paper-fc}, \texttt{paper-tc}, \texttt{paper-tl} (5000 sentences, $m = 20$, $d = 10$), "
    r"seeds " + ", ".join(str(s) for s in PAPER_CLAIMS.seeds) + r" (initialisation)",
    f"{PAPER_CLAIMS.sen_epochs} full-batch steps with the numba kernels, rates "
    + ", ".join(f"$(\\eta\\eta_v, \\eta\\eta_k) = ({v:g}, {k:g})$" for v, k in PAPER_CLAIMS.sen_rates)
    + r"; the classifier (TC, TL) steps with $\eta\eta_v$",
    r"non-topic words reset to score 0 and embedding 0 after every step (the identity's hypothesis; "
    r"N3 measures the run without it)",
)


@claim(
    "N5-sen-full-model",
    "SEN on the full model for FC, TC, TL across seeds, eta_v = eta_k and eta_v != eta_k, within the step-size bound",
    kind="numeric",
    statement=_statement(H_EXPR, STEP_EXPR),
    assumptions=_ASSUMPTIONS,
    slow=True,
)
def n5_sen_full_model() -> Outcome:
    d = Derivation()
    d.eq("One step changes H exactly by (first-order terms cancel: S2 at the step's start)",
         r"\Delta H", r"|q|^2|\Delta v_t|^2 - 2\frac{\eta_v}{\eta_k}\frac{e^{s_t}}{m}(e^{\Delta s_t} - 1 - \Delta s_t)")
    d.note(r"Both parts are $\ge 0$; to leading order they are S6's $\eta^2$ coefficient. Hence the "
           r"tolerance $B_n$ = the sum of their magnitudes over the run's own steps.")
    measured = {}
    for kind in CLASSIFIERS:
        for seed in PAPER_CLAIMS.seeds:
            for lv, lk in PAPER_CLAIMS.sen_rates:
                run = sen_run(kind, seed, lv, lk)
                if not run.finite:
                    return Outcome("error", f"{kind} seed {seed}: the run diverged", d.steps)
                measured[f"{kind} seed {seed} eta_v/eta_k={lv / lk:g}"] = drift_and_bound(run, lv / lk)
    status, reason, details = sen_full_verdict(measured)
    details["epochs"] = PAPER_CLAIMS.sen_epochs
    details["rates"] = [list(r) for r in PAPER_CLAIMS.sen_rates]
    details["route"] = "numeric: drift against the run's own step-size bound, at every step"
    return Outcome(status, reason, d.steps, details)


CONTROL_RATES = (0.2, 0.05)
H_RATIO_ONE = H_EXPR.xreplace({RHO: 1})
STEP_RATIO_ONE = STEP_EXPR.xreplace({RHO: 1})
SCALE_RATIO_ONE = SCALE_EXPR.xreplace({RHO: 1})


@claim(
    "neg-sen-full-ratio-one",
    "Control: with eta_v/eta_k = 4 the ratio-1 quantity is not conserved within its step-size bound",
    kind="numeric",
    expected="refuted",
    statement=_statement(H_RATIO_ONE, STEP_RATIO_ONE) + (
        r" On a run with $\eta_v/\eta_k = " + f"{CONTROL_RATES[0] / CONTROL_RATES[1]:g}" + r"$."),
    assumptions=(r"preset \texttt{paper-fc}, its own seed " + str(PAPER_CLAIMS.sen_control_seed)
                 + f", {PAPER_CLAIMS.sen_epochs} steps, rates ({CONTROL_RATES[0]:g}, {CONTROL_RATES[1]:g}), "
                 r"non-topic words held at 0",),
    slow=True,
)
def neg_sen_full_ratio_one() -> Outcome:
    d = Derivation()
    d.note(r"The quantity S2 conserves for $\eta_v = \eta_k$, applied to a run with unequal rates: its "
           r"one-step change has a first-order part $2(\eta_v/\eta_k - 1)(1 + e^{s}/m)\Delta s$ that no "
           r"second-order bound covers.")
    lv, lk = CONTROL_RATES
    run = sen_run("fc", PAPER_CLAIMS.sen_control_seed, lv, lk)
    if not run.finite:
        return Outcome("error", "the control run diverged", d.steps)
    measured = {f"fc seed {PAPER_CLAIMS.sen_control_seed} (ratio-1 H)":
                drift_and_bound(run, 1.0, H_RATIO_ONE, STEP_RATIO_ONE, SCALE_RATIO_ONE)}
    status, reason, details = sen_full_verdict(measured)
    details["route"] = "numeric: drift against the run's own step-size bound, at every step"
    return Outcome(status, reason, d.steps, details)
