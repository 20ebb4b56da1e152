r"""What a claim's detail keys mean: the declared mapping from a key of ``Outcome.details`` to a
readable name (prose, ``$…$`` math allowed) and its unit or kind of number.

The report (:mod:`attndyn.reports.latex.details`) looks a key up here; a key not listed falls
back to its own words (``max_score_change`` -> "max score change"), so a new claim's details
always typeset, just less nicely until its keys are added.  A key ending in ``_latex`` holds
LaTeX math and is shown as a formula under the name of the key without the suffix.
Units: ``s`` seconds, ``ms`` milliseconds, ``τ`` flow time (lr × epochs), ``ratio`` a pure
number (measured/threshold or threshold/measured), ``rel.`` relative to a scale, ``abs.`` an
absolute difference, empty when the number has no unit.
"""
from __future__ import annotations

import re

# key -> (name, unit)
QUANTITIES: dict[str, tuple[str, str]] = {
    # verdict bookkeeping
    "tolerance": ("tolerance (threshold of the verdict)", ""),
    "threshold": ("threshold", ""),
    "threshold_rule": ("how the threshold is derived", ""),
    "headroom": ("headroom (threshold / measured)", "ratio"),
    "margin": ("margin (measured / threshold)", "ratio"),
    "refute_min": ("smallest value that refutes", "abs."),
    "points": ("random points checked", "count"),
    "comparisons": ("comparisons", "count"),
    "cases": ("cases", ""),
    "failing": ("failing cases", ""),
    "worst": ("worst relative difference", "rel."),
    "worst_at": ("where the worst difference is", ""),
    "what": ("what is checked", ""),
    "exact_zero": ("simplifies exactly to 0", ""),
    "exact": ("exact", ""),
    "explicit_exact": ("explicit form simplifies exactly", ""),
    "max_abs_error": ("max absolute error", "abs."),
    "max_rel_error": ("max relative error", "rel."),
    "max_error_over_tolerance": ("max error / tolerance", "ratio"),
    "rtol": ("relative tolerance $r_{\\mathrm{tol}}$", "rel."),
    "atol": ("absolute tolerance $a_{\\mathrm{tol}}$", "abs."),
    "numeric_max_abs": ("max absolute numeric error", "abs."),
    "checks": ("checks", ""),
    "status": ("status", ""),
    "message": ("message", ""),
    "seconds": ("wall time", "s"),
    # runs and flows
    "epochs": ("epochs", "count"),
    "ms_per_epoch": ("time per epoch", "ms"),
    "final_loss": ("final training loss", "nats"),
    "test_accuracy": ("test accuracy", "fraction"),
    "q_norm": ("query norm $|q|$", ""),
    "q_norm_initial": ("initial query norm $|q_0|$", ""),
    "sen_residual_max": ("max SEN residual $\\max|\\,|q||v_t| - \\mathrm{curve}(s_t)|$", "abs."),
    "sen_unreachable_records": ("records below the curve's domain", "count"),
    "residual_signed_min": ("smallest signed SEN residual", "abs."),
    "residual_signed_max": ("largest signed SEN residual", "abs."),
    "per_topic_word": ("per topic word", ""),
    "word": ("word", ""),
    "label": ("label $y$", ""),
    "score": ("final score $s_t$", ""),
    "scaled_norm": ("final $|q||v_t|$", ""),
    "runs": ("runs", ""),
    "max_drift": ("max normalised drift of $H$", "rel."),
    "drift_per_topic_word": ("drift of $H$ per topic word", "rel."),
    "horizon": ("horizon $T$", "τ"),
    "final_scores": ("final scores $s_t$", ""),
    "final_norms": ("final norms $|v_t|$", ""),
    "max_score_change": ("max score change $\\max_t|s_t(T) - s_t(0)|$", ""),
    "steps": ("integrator steps", "count"),
    "n_steps": ("integrator steps", "count"),
    "n_evals": ("vector-field evaluations", "count"),
    "relu_switches": ("ReLU switches (events)", "count"),
    "samples": ("saved samples", "count"),
    "solver": ("integrator", ""),
    "tau_end": ("flow time reached $\\tau_{\\mathrm{end}}$", "τ"),
    "time_unit": ("time unit", ""),
    "etas": ("step sizes $\\eta$", ""),
    "residuals": ("GD residual $\\max_{k\\le n}|H_k - H_0|$ per $\\eta$", "abs."),
    "slopes": ("fitted log-log slope", ""),
    "slope_range": ("accepted slope range", ""),
    # convergence
    "setting": ("setting", ""),
    "flow": ("reduced flow", ""),
    "words": ("topic words", ""),
    "verdict": ("verdict", ""),
    "attention": ("attention $a_t \\to 1$", ""),
    "loss": ("loss $\\to 0$", ""),
    "failed_hypotheses": ("failed hypotheses", ""),
    "a_end": ("$a_t(\\tau_{\\mathrm{end}})$", ""),
    "loss_end": ("$\\ell_t(\\tau_{\\mathrm{end}})$", "nats"),
    "tau0": ("$\\tau_0$ (score and norm monotone after)", "τ"),
    "suppression_turning_time": ("mutual-suppression turning time", "τ"),
    "H-ach positive": ("$\\dot\\mu > 0$ under H-ach (sign by assumptions)", ""),
    "H-esc positive": ("$\\dot\\mu > 0$ under H-esc (sign by assumptions)", ""),
    "lower bound exact": ("lower bound $\\eta_v\\pi_t a_t t^*(1-p_y)$ exact", ""),
    "mu": ("$\\dot\\mu$", ""),
    "mu_dot": ("$\\dot\\mu$", ""),
    "slope": ("growth rate $d|v_t|/d\\log\\tau$", ""),
    "loss_tau": ("limit of $\\tau\\,\\ell_t$", ""),
    "s_intercept": ("intercept of $s_t - 2\\log|v_t|$", ""),
    # laws
    "D": ("number of trained coordinates $D$", "count"),
    "rank_lower_bound": ("exact rank of the Lie algebra (lower bound)", "count"),
    "failure_bound": ("probability bound that the rank is not generic", ""),
    "laws_found": ("laws found", ""),
    "drift": ("drift along the flow", "abs."),
    "drift_over_threshold": ("drift / threshold", "ratio"),
    "law_drift_over_threshold": ("law drift / threshold", "ratio"),
    "loss0": ("initial loss", ""),
    "lossT": ("final loss", ""),
    "displacement": ("displacement $|\\theta(T) - \\theta_0|$", ""),
    "quantity": ("quantity followed along the flow", ""),
    "moved": ("the trajectory moved", ""),
    "loss_monotone": ("loss monotone", ""),
    # C0-asymptotics: the checks, by the name proofs/asymptotics.py gives them
    "slope = 1/gamma": ("growth rate $d|v_t|/d\\log\\tau = 1/\\gamma$", ""),
    "tau loss -> 1/(eta_v pi gamma^2)": ("$\\tau\\,\\ell_t \\to 1/(\\eta_v\\pi_t\\gamma^2)$", ""),
    "|v|^2 (1-a) -> 2r/|q|^2": ("$|v_t|^2(1-a_t) \\to 2r/|q|^2$", ""),
    "s intercept = log(m|q|^2/(2r))": ("intercept $s_t - 2\\log|v_t| \\to \\log(m|q|^2/(2r))$", ""),
    "rho(tau) solves the ODE": ("$\\rho(\\tau)$ solves the reduced ODE", ""),
    "exact correction": ("exact first-order correction", ""),
}


def quantity(key: str) -> tuple[str, str, bool]:
    """``(name, unit, is_latex)`` of a detail key: the declared entry, else the key's own words.

    ``is_latex``: the key ends in ``_latex``, so its value is a formula."""
    is_latex = key.endswith("_latex")
    base = key[: -len("_latex")] if is_latex else key
    if base in QUANTITIES:
        name, unit = QUANTITIES[base]
        return name, unit, is_latex
    words = re.sub(r"_+", " ", base).strip()
    return words or key, "", is_latex
