r"""Numeric claims on the reduced topic-word system (issue: numerics): N1, N2.

* ``N1-sen-flow`` — along the reduced gradient flow (:func:`attndyn.numerics.flow.solvers.reduced_flow`,
  DOP853 at ``NUMERIC.flow_rtol``) the SEN quantity
  :math:`H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}(s_t + e^{s_t}/m)` stays at its initial
  value, for FC, TC and TL: :math:`\max_\tau|H(\tau)-H(0)|/\max(1,|H(0)|)\le` ``NUMERIC.sen_flow_max``.
* ``N2-sen-gd-order`` — discrete gradient descent (:func:`attndyn.numerics.flow.solvers.reduced_gd`) breaks
  the identity only through its step size: over a fixed horizon :math:`T = n\eta` the
  residual shrinks like :math:`\eta` (fitted log-log slope in ``NUMERIC.gd_slope_range``).

The verdict functions (:func:`sen_flow_verdict`, :func:`fit_order`, :func:`order_verdict`)
are separate from the runs so that the tests can feed them negative controls (a wrong
:math:`H`, a residual sequence of order 2) that they must reject.
"""
from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from attndyn.numerics.flow.results import FlowResult
from attndyn.numerics.flow.solvers import reduced_flow, reduced_gd
from attndyn.numerics.flow.systems import paper_reduced_system, ReducedSystem
from attndyn.proofs.claims.figures import FigureSpec, Panel, Series
from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.errors import UsageError
from attndyn.proofs.sen import sen_H
from attndyn.proofs.settings import FLOW, NUMERIC

REPORT_ORDER = 50  # where these claims stand in the report (attndyn.proofs.claims.registry)

CLASSIFIERS = ("fc", "tc", "tl")
_ASSUMPTIONS = (
    r"query fixed; non-topic words frozen at score 0 and embedding 0 (the reduced system)",
    r"equal sentence lengths: every sentence has $m$ non-topic words",
    r"paper-like setting: 4 topics $\times$ 2 topic words, $d_e = d_k = 10$, $m = 20$, "
    r"$q\sim N(0, 0.3^2 I)$, embeddings $\sim N(0, 0.1^2)$, keys 0, "
    r"$\eta_v = \eta_k = \eta_c = 1$, seed " + str(FLOW.claims_seed),
)


def _system(kind: str) -> ReducedSystem:
    return paper_reduced_system(kind, seed=FLOW.claims_seed)


# --------------------------------------------------------------------------- N1

def sen_flow_verdict(runs: dict[str, FlowResult], tol: float = NUMERIC.sen_flow_max,
                     H: Callable | None = None) -> tuple[str, str, dict]:
    """Decide N1 from finished flow runs (one per classifier).

    ``verified`` iff every run's normalised drift of ``H`` (default the SEN quantity)
    is <= ``tol``; ``error`` when a run failed or moved too little for the test to mean
    anything (no score changed by ``FLOW.n1_min_score_change``)."""
    details: dict = {"tolerance": tol, "runs": {}}
    worst = 0.0
    for kind, r in runs.items():
        if not r.ok:
            return "error", f"{kind}: the flow failed: {r.message}", details
        drift = r.sen_drift(H)
        moved = float(np.max(np.abs(r.s[-1] - r.s[0])))
        details["runs"][kind] = {
            "max_drift": float(drift.max()),
            "drift_per_topic_word": drift.tolist(),
            "horizon": float(r.t[-1]),
            "final_scores": r.s[-1].tolist(),
            "final_norms": r.norms[-1].tolist(),
            "max_score_change": moved,
            "final_loss": float(r.loss[-1]),
            "steps": r.n_steps,
            "relu_switches": r.n_events,
        }
        if moved < FLOW.n1_min_score_change:
            return "error", (f"{kind}: no score moved by {FLOW.n1_min_score_change} "
                             f"(max {moved:.3g}): the run tests nothing"), details
        worst = max(worst, float(drift.max()))
    details["max_drift"] = worst
    details["headroom"] = tol / worst if worst > 0 else float("inf")
    kinds = ", ".join(k.upper() for k in runs)
    if worst <= tol:
        return "verified", f"{kinds}: max normalised drift of H = {worst:.2e} <= {tol:g}", details
    return "refuted", f"{kinds}: max normalised drift of H = {worst:.2e} > {tol:g}", details


# N1 also runs with unequal rates: H's coefficient is eta_v/eta_k, which equal rates cannot test
UNEQUAL_RATES = (("fc", 2.0, 0.5), ("tc", 0.5, 2.0))  # (classifier, eta_v, eta_k)


@lru_cache(maxsize=None)  # N1 and its control measure the same runs
def n1_runs(horizon: float = FLOW.n1_horizon) -> dict[str, FlowResult]:
    runs = {k: reduced_flow(_system(k), horizon=horizon) for k in CLASSIFIERS}
    for kind, lr_v, lr_k in UNEQUAL_RATES:
        system = paper_reduced_system(kind, seed=FLOW.claims_seed, lr_v=lr_v, lr_k=lr_k)
        runs[f"{kind} eta_v/eta_k={lr_v / lr_k:g}"] = reduced_flow(system, horizon=horizon)
    return runs


@claim(
    "N1-sen-flow",
    "SEN identity along the reduced gradient flow (FC, TC, TL; equal and unequal rates)",
    kind="numeric",
    statement=r"$\max_\tau |H(\tau) - H(0)| / \max(1, |H(0)|) \le " + f"{NUMERIC.sen_flow_max:g}"
              + r"$ for every topic word, with $H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}"
              r"\left(s_t + \frac{e^{s_t}}{m}\right)$.",
    assumptions=_ASSUMPTIONS + (
        r"DOP853, rtol " + f"{NUMERIC.flow_rtol:g}" + r", atol " + f"{NUMERIC.flow_atol:g}"
        + r", horizon $\tau = " + f"{FLOW.n1_horizon:g}" + r"$ (log-spaced samples)",
        r"TL: the ReLU kinks are followed as a Filippov system (sliding modes solved exactly)",
        r"and two runs with unequal rates: " + ", ".join(
            f"{k.upper()} with $\\eta_v = {v:g}$, $\\eta_k = {q:g}$" for k, v, q in UNEQUAL_RATES),
    ),
)
def n1_sen_flow(setting=None) -> Outcome:
    if setting is not None:
        return n1_on_setting(setting)
    d = Derivation()
    d.note("Reduced system: in every sentence containing topic word t, a_t = e^{s_t}/(e^{s_t}+m), "
           "context a_t v_t; loss sum_t pi_t CE(f(a_t v_t), y_t).")
    d.eq("Flow", r"(\dot v_t, \dot s_t, \dot\theta)",
         r"(-\eta_v \partial_{v_t} L,\; -\eta_k |q|^2 \partial_{s_t} L,\; -\eta_c \partial_\theta L)")
    d.note(f"Integrated with DOP853 (rtol {NUMERIC.flow_rtol:g}, atol {NUMERIC.flow_atol:g}) "
           f"to tau = {FLOW.n1_horizon:g} for each classifier; H evaluated at every sample.")
    status, reason, details = sen_flow_verdict(n1_runs())
    return Outcome(status, reason, d.steps, details)


def flow_hypotheses(setting) -> list[dict]:
    """What the reduced flow of ``setting`` needs for H to be a first integral, each with the
    number that shows it (the reduced flow itself fixes q and freezes the non-topic words)."""
    S = setting.system
    m = np.unique(np.asarray(S.m, dtype=np.float64))
    return [
        {"name": "equal sentence lengths", "holds": m.size == 1,
         "evidence": (f"unequal lengths: m = {m.min():g}..{m.max():g} non-topic words per sentence "
                      f"({m.size} lengths); H holds for one m"), "remedy": "corpus.m_spread = 0"},
        {"name": "keys trained", "holds": bool(S.train_keys),
         "evidence": "keys not trained (or |q| = 0): the scores are frozen while v_t moves",
         "remedy": "train the keys"},
        {"name": "embeddings trained", "holds": bool(S.train_embeddings),
         "evidence": "embeddings not trained: v_t is frozen while s_t moves", "remedy": "train the embeddings"},
    ]


def _why(hyps: list[dict]) -> str:
    bad = [h for h in hyps if not h["holds"]]
    if not bad:
        return "no hypothesis of the identity is violated"
    return "; ".join(f"{h['evidence']} ({h['remedy']})" for h in bad)


def setting_flow_runs(setting) -> dict[str, FlowResult]:
    """The reduced flow of ``setting`` to its horizon tau = lr x epochs (cached on the setting)."""
    cache = setting.__dict__.setdefault("_flow_runs", {})
    if "runs" not in cache:
        cache["runs"] = {setting.system.classifier: reduced_flow(setting.system, horizon=setting.horizon)}
    return cache["runs"]


def n1_on_setting(setting) -> Outcome:
    d = Derivation()
    d.note(f"Setting {setting.name}: the config's corpus and initial parameters reduced to its "
           f"{setting.system.T} topic words (m, pi_t from the training sentences); every group steps "
           f"with train.lr, so tau = lr x epochs = {setting.horizon:g}.")
    d.note(f"Integrated with DOP853 (rtol {NUMERIC.flow_rtol:g}, atol {NUMERIC.flow_atol:g}); the "
           f"tolerance {NUMERIC.sen_flow_max:g} on the normalised drift is the integrator's, not the setting's.")
    status, reason, details = sen_flow_verdict(setting_flow_runs(setting))
    hyps = flow_hypotheses(setting)
    details.update(route=f"numeric: DOP853 at rtol {NUMERIC.flow_rtol:g}, drift tolerance {NUMERIC.sen_flow_max:g}",
                   hypotheses=hyps, horizon=setting.horizon,
                   statement_on_setting=(r"$\max_{\tau\le" + f"{setting.horizon:g}" + r"} |H(\tau) - H(0)| / "
                                         r"\max(1, |H(0)|) \le " + f"{NUMERIC.sen_flow_max:g}$ on the reduced "
                                         f"flow of setting {setting.name}"))
    if status == "refuted":
        reason += f": {_why(hyps)}"
    return Outcome(status, reason, d.steps, details)


def _H_m_plus_one(v_sq, s, q_sq, m, lr_ratio=1.0):
    """The SEN quantity with 1/(m+1) for 1/m: a deliberately wrong first integral."""
    return sen_H(v_sq, s, q_sq, np.asarray(m, dtype=np.float64) + 1.0, lr_ratio=lr_ratio)


@claim(
    "neg-sen-flow-m-plus-one",
    "Control: the SEN quantity with 1/(m+1) drifts along the same flow",
    kind="numeric",
    expected="refuted",
    statement=r"$\max_\tau |H'(\tau) - H'(0)| / \max(1, |H'(0)|) \le " + f"{NUMERIC.sen_flow_max:g}"
              + r"$ with the wrong $H' = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}\left(s_t + "
              r"\frac{e^{s_t}}{m+1}\right)$, on N1's runs.",
    assumptions=_ASSUMPTIONS,
)
def neg_sen_flow_m_plus_one(setting=None) -> Outcome:
    d = Derivation()
    d.note("N1's runs again (the paper's, or the setting's reduced flow), H replaced by H' with 1/(m+1): "
           "N1's tolerance must reject it on these runs alone.")
    runs = n1_runs() if setting is None else setting_flow_runs(setting)
    status, reason, details = sen_flow_verdict(runs, H=_H_m_plus_one)
    details["route"] = f"numeric: the same DOP853 runs, drift tolerance {NUMERIC.sen_flow_max:g}"
    if details.get("max_drift"):
        details["margin"] = details["max_drift"] / NUMERIC.sen_flow_max
    return Outcome(status, "1/(m+1): " + reason, d.steps, details)


# --------------------------------------------------------------------------- N2

def gd_residuals(system: ReducedSystem, etas=FLOW.gd_etas, horizon: float = FLOW.gd_horizon,
                 H: Callable | None = None) -> list[float]:
    r"""Residual of the SEN identity under discrete GD with each step size over a fixed horizon:
    :math:`\max_{n\eta\le T}\max_t |H_n - H_0| / \max(1, |H_0|)`."""
    out = []
    for eta in etas:
        n = int(round(horizon / eta))
        if not np.isclose(n * eta, horizon, rtol=1e-12):
            raise UsageError(f"gd_etas: horizon {horizon} is not a whole number of steps of {eta}")
        r = reduced_gd(system, eta, n)
        if not r.ok:
            raise RuntimeError(f"GD with eta = {eta} failed: {r.message}")
        out.append(float(r.sen_drift(H).max()))
    return out


def fit_order(etas, residuals) -> float:
    """Least-squares slope of log(residual) against log(eta) (numpy polyfit)."""
    e = np.asarray(etas, dtype=np.float64)
    r = np.asarray(residuals, dtype=np.float64)
    if e.shape != r.shape or e.ndim != 1 or e.size < 2:
        raise UsageError(f"residuals: expected one residual per step size (>= 2), got {r.shape} for {e.shape}")
    if np.any(e <= 0) or np.any(~np.isfinite(r)) or np.any(r <= 0):
        raise UsageError("residuals: expected positive step sizes and positive finite residuals")
    return float(np.polyfit(np.log(e), np.log(r), 1)[0])


def order_verdict(slopes: dict[str, float], slope_range=NUMERIC.gd_slope_range) -> tuple[str, str]:
    lo, hi = slope_range
    text = ", ".join(f"{k.upper()} {s:.3f}" for k, s in slopes.items())
    if all(lo <= s <= hi for s in slopes.values()):
        return "verified", f"log-log slopes of the GD residual vs eta: {text}, all in [{lo}, {hi}]"
    return "refuted", f"log-log slopes of the GD residual vs eta: {text}, not all in [{lo}, {hi}]"


def order_figure(etas, residuals: dict[str, list[float]], slopes: dict[str, float],
                 slope_range=NUMERIC.gd_slope_range) -> FigureSpec:
    r"""The log-log fit of N2: each classifier's residual :math:`\max_k|H_k - H_0|` against
    :math:`\eta` (markers), its least-squares line :math:`\log r = p\log\eta + c` (dashed,
    ``fit_order``), and the accepted slopes' ends drawn through the first classifier's middle point."""
    e = np.asarray(etas, dtype=np.float64)
    series = []
    for i, (kind, res) in enumerate(residuals.items()):
        r = np.asarray(res, dtype=np.float64)
        p, c = np.polyfit(np.log(e), np.log(r), 1)
        series.append(Series.of(f"{kind.upper()}: slope {slopes[kind]:.3f}", e, r, "markers", color=i))
        series.append(Series.of("", e, np.exp(c) * e ** p, "dashed", color=i))
    first = np.asarray(next(iter(residuals.values())), dtype=np.float64)
    gm_e, gm_r = float(np.exp(np.log(e).mean())), float(np.exp(np.log(first).mean()))
    lo, hi = slope_range
    series.append(Series.of(f"slopes {lo:g} and {hi:g} (accepted range)", e, gm_r * (e / gm_e) ** lo,
                            "dotted", color=-1))
    series.append(Series.of("", e, gm_r * (e / gm_e) ** hi, "dotted", color=-1))
    return FigureSpec(
        r"Discrete gradient descent over the fixed horizon $T = n\eta$: the residual "
        r"$\max_{k\le n}|H_k - H_0|/\max(1,|H_0|)$ of the SEN quantity against the step size $\eta$, "
        r"log-log, per classifier (markers), with each least-squares line (dashed; its slope is the "
        r"fitted order) and, dotted, lines of the slopes that bound the accepted range "
        + f"$[{lo:g}, {hi:g}]$" + r" around order 1.",
        (Panel("residual against step size", r"step size $\eta$", r"$\max_k |H_k - H_0|$", tuple(series),
               "log", "log"),))


def setting_etas(setting) -> tuple[tuple[float, ...], float]:
    """N2 on a setting: the config's step lr and lr/2, lr/4, lr/8 over a horizon of whole steps of
    lr, about ``FLOW.gd_horizon`` but no longer than the run itself (lr x epochs)."""
    lr = setting.lr
    n = max(1, int(round(min(FLOW.gd_horizon, setting.horizon) / lr)))
    return tuple(lr / 2 ** k for k in range(4)), n * lr


def n2_on_setting(setting) -> Outcome:
    d = Derivation()
    etas, horizon = setting_etas(setting)
    d.eq("GD step", r"x_{k+1}", r"x_k + \eta F(x_k)")
    d.note(f"Setting {setting.name}: its reduced system, step sizes lr = {setting.lr:g} halved three times, "
           f"fixed horizon T = {horizon:g}; the residual must shrink like eta (slope in "
           f"[{NUMERIC.gd_slope_range[0]:g}, {NUMERIC.gd_slope_range[1]:g}]).")
    residuals = gd_residuals(setting.system, etas, horizon)
    if min(residuals) <= 1e-13:  # rounding level: the run does not move enough to show an order
        return Outcome("error", f"GD residuals {residuals} are at rounding level: the horizon {horizon:g} "
                       "moves too little to measure an order", d.steps, {"etas": list(etas), "residuals": residuals})
    slopes = {setting.system.classifier: fit_order(etas, residuals)}
    status, reason = order_verdict(slopes)
    hyps = flow_hypotheses(setting)
    if status == "refuted":
        reason += f"; the flow itself does not conserve H: {_why(hyps)}" if not all(h["holds"] for h in hyps) \
            else f"; residuals {', '.join(f'{r:.3g}' for r in residuals)}"
    details = {"etas": list(etas), "horizon": horizon, "residuals": {setting.system.classifier: residuals}, "slopes": slopes,
               "slope_range": list(NUMERIC.gd_slope_range), "hypotheses": hyps,
               "route": f"numeric: least-squares log-log slope over {len(etas)} step sizes"}
    return Outcome(status, reason, d.steps, details, [order_figure(etas, details["residuals"], slopes)])


# N2 with eta_v != eta_k: a GD step that used the wrong ratio would drift at O(1), not O(eta)
N2_UNEQUAL_RATES = (("fc", 1.0, 0.25),)  # (classifier, eta_v, eta_k): ratio 4, GD stable at eta <= 0.2


@claim(
    "N2-sen-gd-order",
    "Discrete GD breaks the SEN identity only at first order in the step size",
    kind="numeric",
    statement=r"Over a fixed horizon $T = n\eta$, $\max_{k\le n}|H_k - H_0| = O(\eta)$: the fitted "
              r"log-log slope over $\eta\in\{" + ", ".join(f"{e:g}" for e in FLOW.gd_etas)
              + r"\}$ lies in $[" + f"{NUMERIC.gd_slope_range[0]:g}, {NUMERIC.gd_slope_range[1]:g}" + r"]$.",
    assumptions=_ASSUMPTIONS + (r"horizon $T = " + f"{FLOW.gd_horizon:g}" + r"$; FC, TC and TL",
                                r"and, with unequal rates (H carries $\eta_v/\eta_k$): " + ", ".join(
                                    rf"{k.upper()} with $\eta_v = {v:g}$, $\eta_k = {q:g}$"
                                    for k, v, q in N2_UNEQUAL_RATES)),
)
def n2_sen_gd_order(setting=None) -> Outcome:
    if setting is not None:
        return n2_on_setting(setting)
    d = Derivation()
    d.eq("GD step", r"x_{k+1}", r"x_k + \eta F(x_k)")
    d.note("F is the reduced flow's vector field, so the flow is GD's eta -> 0 limit and any drift "
           "of H comes from the step size alone (non-topic words are frozen by construction).")
    residuals, slopes = {}, {}
    systems = {kind: _system(kind) for kind in CLASSIFIERS}
    for kind, lr_v, lr_k in N2_UNEQUAL_RATES:
        systems[f"{kind} eta_v/eta_k={lr_v / lr_k:g}"] = paper_reduced_system(kind, seed=FLOW.claims_seed,
                                                                               lr_v=lr_v, lr_k=lr_k)
    for key, system in systems.items():
        residuals[key] = gd_residuals(system)
        slopes[key] = fit_order(FLOW.gd_etas, residuals[key])
    status, reason = order_verdict(slopes)
    details = {"etas": list(FLOW.gd_etas), "horizon": FLOW.gd_horizon, "residuals": residuals,
               "slopes": slopes, "slope_range": list(NUMERIC.gd_slope_range)}
    return Outcome(status, reason, d.steps, details, [order_figure(FLOW.gd_etas, residuals, slopes)])
