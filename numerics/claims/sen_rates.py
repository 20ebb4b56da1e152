r"""N3 with unequal rates: the paper's run stays on the SEN curve with ratio :math:`\eta_v/\eta_k` (issue 8).

``N3r-sen-paper-rates`` trains the paper's FC setting (all words trained, as N3) with
:math:`\eta\eta_v \ne \eta\eta_k` (:func:`attndyn.numerics.training.tracked.tracked_run`) and
compares every topic word's :math:`|q||v_t|` with the closed form
:math:`\sqrt{|q|^2|v_{t,0}|^2 + 2\frac{\eta_v}{\eta_k}\big((s_t - s_{t,0}) + (e^{s_t} - e^{s_{t,0}})/m\big)}`
(:func:`attndyn.proofs.sen.sen_curve` with ``lr_ratio``) at every step, to N3's bound.  Both
directions of the ratio are run: a curve that inverted the ratio, or dropped it, fails one.

``neg-sen-paper-rates-ratio-one`` (expected refuted): on its own run (another seed, ratio 4) the
ratio-1 curve — N3's curve, right only for equal rates — must leave the same bound.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np

from attndyn.numerics.config.presets import preset_config
from attndyn.numerics.training.tracked import tracked_run, TrackedRun
from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.sen import sen_curve
from attndyn.proofs.settings import NUMERIC, PAPER_CLAIMS

REPORT_ORDER = 63  # after N5 (attndyn.proofs.claims.registry)

RATES = ((0.2, 0.05), (0.05, 0.2))  # (eta*eta_v, eta*eta_k): ratios 4 and 1/4
EPOCHS = 2000
CONTROL_EPOCHS = 1000


@lru_cache(maxsize=None)
def rates_run(lr_v: float, lr_k: float, seed: int, epochs: int) -> TrackedRun:
    cfg = preset_config("paper-fc")
    cfg = replace(cfg, train=replace(cfg.train, seed=seed))
    return tracked_run(cfg, epochs, lr_v=lr_v, lr_k=lr_k)


def curve_residuals(run: TrackedRun, ratio: float) -> np.ndarray:
    """``|q||v_t| - curve(s_t)`` per record and topic word; a score below the curve's domain
    (negative radicand, reachable only by a discrete step) is measured to the curve's end value 0."""
    out = np.zeros_like(run.s)
    for t in range(run.s.shape[1]):
        c = np.asarray(sen_curve(run.s[:, t], float(run.topic_m[t]), s0=float(run.s[0, t]),
                                 qv0_sq=float(run.q_norm * run.norms[0, t]) ** 2, lr_ratio=ratio), dtype=np.float64)
        c = np.where(np.isnan(c) & np.isfinite(run.s[:, t]), 0.0, c)
        out[:, t] = run.q_norm * run.norms[:, t] - c
    return out


def residual_verdict(residuals: dict[str, np.ndarray], limit: float = NUMERIC.sen_paper_max) -> tuple[str, str, dict]:
    """``verified`` iff the max over runs, records and topic words of |residual| is <= ``limit``."""
    details: dict = {"tolerance": limit, "runs": {}}
    worst, worst_key = 0.0, None
    for key, r in residuals.items():
        a = np.abs(r)
        m = float(np.max(a)) if np.all(np.isfinite(a)) else float("inf")
        details["runs"][key] = {"max_abs": m, "signed_min": float(np.nanmin(r)), "signed_max": float(np.nanmax(r))}
        if m >= worst:
            worst, worst_key = m, key
    details["max_abs"] = worst
    details["headroom"] = limit / worst if worst > 0 else float("inf")
    if worst <= limit:
        return "verified", (f"numeric at every step of {len(residuals)} runs: max ||q||v_t| - curve| = {worst:.3g} <= "
                            f"{limit:g} (headroom {limit / worst if worst else float('inf'):.3g}x; worst {worst_key})"), details
    return "refuted", (f"numeric at every step of {len(residuals)} runs: max ||q||v_t| - curve| = {worst:.3g} > {limit:g} "
                       f"(worst {worst_key})"), details


def _statement(ratio_text: str) -> str:
    return (r"$\max_{n}\max_t \big|\,|q||v_t| - \sqrt{|q|^2|v_{t,0}|^2 + 2\," + ratio_text
            + r"\big((s_t - s_{t,0}) + (e^{s_t} - e^{s_{t,0}})/m\big)}\,\big| \le " + f"{NUMERIC.sen_paper_max:g}$")


_ASSUMPTIONS = (
    r"preset \texttt{paper-fc} (every word trained, as N3; query fixed), seed 0",
    f"{EPOCHS} full-batch steps with " + ", ".join(f"$(\\eta\\eta_v, \\eta\\eta_k) = ({v:g}, {k:g})$" for v, k in RATES),
    r"N3's bound " + f"{NUMERIC.sen_paper_max:g}" + r" (it covers the non-topic words' motion and the $O(\eta)$ drift)",
)


@claim(
    "N3r-sen-paper-rates",
    "The paper's run with eta_v != eta_k stays on the SEN curve with ratio eta_v/eta_k",
    kind="numeric",
    statement=_statement(r"\frac{\eta_v}{\eta_k}"),
    assumptions=_ASSUMPTIONS,
    slow=True,
)
def n3r_sen_paper_rates() -> Outcome:
    d = Derivation()
    d.note("Train with unequal rates and record every topic word after every step; compare with the "
           "closed form (attndyn.proofs.sen.sen_curve) carrying the run's own ratio.")
    res = {}
    for lv, lk in RATES:
        run = rates_run(lv, lk, 0, EPOCHS)
        if not run.finite:
            return Outcome("error", f"the run with rates ({lv}, {lk}) diverged", d.steps)
        res[f"eta_v/eta_k={lv / lk:g}"] = curve_residuals(run, lv / lk)
    status, reason, details = residual_verdict(res)
    details["route"] = "numeric: every step, max of absolute residuals against the fixed bound"
    return Outcome(status, reason, d.steps, details)


@claim(
    "neg-sen-paper-rates-ratio-one",
    "Control: with eta_v/eta_k = 4 the ratio-1 curve does not fit",
    kind="numeric",
    expected="refuted",
    statement=_statement("") + r" on a run with $\eta_v/\eta_k = 4$.",
    assumptions=(r"preset \texttt{paper-fc}, its own seed " + str(PAPER_CLAIMS.sen_control_seed)
                 + f", {CONTROL_EPOCHS} steps with rates (0.2, 0.05)",),
    slow=True,
)
def neg_sen_paper_rates_ratio_one() -> Outcome:
    d = Derivation()
    d.note("The ratio-1 closed form (N3's) applied to a run with unequal rates.")
    run = rates_run(0.2, 0.05, PAPER_CLAIMS.sen_control_seed, CONTROL_EPOCHS)
    if not run.finite:
        return Outcome("error", "the control run diverged", d.steps)
    status, reason, details = residual_verdict({"ratio-1 curve": curve_residuals(run, 1.0)})
    details["route"] = "numeric: every step, max of absolute residuals against the fixed bound"
    return Outcome(status, reason, d.steps, details)
