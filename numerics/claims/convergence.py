r"""Claims of the convergence checker (issue 4): C1, C2 and a negative control.

* ``C1-convergence-paper`` — the paper's FC setting (preset ``paper-fc``: its corpus and its
  initial parameters, reduced to the topic words): every hypothesis holds and every topic
  word is ``converged`` (attention :math:`\to1` and loss :math:`\to0`, by the certificate).
* ``C2-hypothesis-needed`` — the same setting with the classifier's column 0 replaced by the
  average of columns 1 and 2, so label 0 is not achievable (but escapable): the checker says
  ``not-converged`` for label 0's topic words *for the loss*, names H-ach as the failed
  hypothesis, and still certifies their attention :math:`\to1` — the two conclusions need
  different hypotheses.
* ``neg-convergence-wrong-expectation`` (expected ``refuted``) — the verifier of C1 fed its own
  non-achievable setting (column 2 replaced, not C2's column 0; its own checker run) with the
  (wrong) expectation "every word converges": it must refute.

The symbolic claims ``C0-certificate`` and ``C0-asymptotics`` behind the checker live in
:mod:`attndyn.proofs.claims.asymptotics`.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import sympy as sp

from attndyn.numerics.config.load import load_config
from attndyn.numerics.convergence.checker import (check_convergence, ConvergenceReport,
                                                  ConvergenceSetting, setting_from_config)
from attndyn.numerics.convergence.hypotheses import word_loss
from attndyn.proofs.asymptotics import asymptotics, certificate
from attndyn.proofs.claims.figures import FigureSpec, Panel, Series
from attndyn.proofs.claims.registry import claim, Derivation, NotApplicable, Outcome
from attndyn.proofs.settings import CONVERGENCE

REPORT_ORDER = 70  # where these claims stand in the report (attndyn.proofs.claims.registry)

PRESET = "paper-fc"
LAW_DECADES = 4  # the figure draws the leading-order growth laws over the last decades of tau
NON_ACHIEVABLE_LABEL = 0

_ASSUMPTIONS = (
    r"the paper's synthetic FC setting (preset \texttt{paper-fc}): 4 topics $\times$ 2 topic words, "
    r"$m = 20$, $d_e = d_k = 10$, $W$ standard normal with unit diagonal, query $\sim N(0, 0.3^2 I)$, "
    r"embeddings $\sim N(0, 10^{-12})$, keys 0, seed 0",
    r"reduced model: non-topic words at score 0 / embedding 0; gradient flow with "
    r"$\eta_v = \eta_k = 1$ ($\tau$ = lr $\times$ epochs) to $\tau = "
    + sp.latex(sp.Float(CONVERGENCE.horizon, 3)) + "$",
)


@lru_cache(maxsize=None)
def paper_setting() -> ConvergenceSetting:
    return setting_from_config(load_config(preset=PRESET), name=PRESET)


def non_achievable_matrix(W: np.ndarray, label: int = NON_ACHIEVABLE_LABEL) -> np.ndarray:
    """``W`` with column ``label`` replaced by the average of the next two columns."""
    K = W.shape[1]
    a, b = (label + 1) % K, (label + 2) % K
    out = np.array(W, dtype=np.float64)
    out[:, label] = (W[:, a] + W[:, b]) / 2
    return out


@lru_cache(maxsize=None)
def non_achievable_setting(label: int = NON_ACHIEVABLE_LABEL) -> ConvergenceSetting:
    base = paper_setting()
    W = non_achievable_matrix(base.system.theta0["W"], label)
    K = W.shape[1]
    return replace(base, system=base.system.replace(theta0={"W": W}),
                   name=f"{PRESET}, column {label} = average of columns "
                        f"{(label + 1) % K} and {(label + 2) % K}")


# the control's own setting: another label made non-achievable, so it is decided by its own run
CONTROL_LABEL = 2


def setting_report(setting, non_achievable: bool = False) -> ConvergenceReport:
    """The checker on a user's setting (cached on it), or on its non-achievable variant (column 0
    of W replaced by the average of columns 1 and 2: needs a linear classifier and K >= 3)."""
    cache = setting.__dict__.setdefault("_convergence_reports", {})
    if non_achievable not in cache:
        base = setting.convergence
        if non_achievable:
            S = base.system
            if S.classifier not in ("fc", "tc") or S.K < 3:
                raise NotApplicable(f"needs a linear classifier with K >= 3 classes (setting: "
                                    f"{S.classifier}, K = {S.K})")
            base = replace(base, system=S.replace(theta0={**S.theta0, "W": non_achievable_matrix(S.theta0["W"])}),
                           name=f"{base.name}, column {NON_ACHIEVABLE_LABEL} = average of columns "
                                f"{NON_ACHIEVABLE_LABEL + 1} and {NON_ACHIEVABLE_LABEL + 2}")
        cache[non_achievable] = check_convergence(base)
    return cache[non_achievable]


@lru_cache(maxsize=None)
def _report(which: str) -> ConvergenceReport:
    if which == "paper":
        return check_convergence(paper_setting())
    if which == "control":
        return check_convergence(non_achievable_setting(CONTROL_LABEL))
    return check_convergence(non_achievable_setting())


def _summary(report: ConvergenceReport) -> dict:
    return {"setting": report.setting, "flow": report.flow,
            "words": [{"word": w.name, "label": w.label, "verdict": w.verdict,
                       "attention": w.attention.verdict, "loss": w.loss.verdict,
                       "failed_hypotheses": w.failed_hypotheses,
                       "a_end": w.evidence.get("attention", {}).get("a_end"),
                       "loss_end": w.evidence.get("loss", {}).get("loss_end"),
                       "tau0": w.evidence.get("monotone", {}).get("tau0"),
                       "suppression_turning_time": w.evidence.get("suppression", {}).get("turning_time")}
                      for w in report.words]}


def _num(x) -> str:
    """A number as LaTeX (SymPy's rendering of a 4-digit Float), a dash when missing."""
    if x is None or not np.isfinite(x):
        return r"\text{--}"
    return sp.latex(sp.Float(float(x), 4))


def _word_rows(report: ConvergenceReport) -> str:
    """The per-word verdicts and end state as a LaTeX array (one row per topic word)."""
    head = (r"\text{word} & y & a_t\to 1 & \ell_t\to 0 & 1-a_t(\tau_{\mathrm{end}}) & "
            r"\ell_t(\tau_{\mathrm{end}}) & \text{failed hypotheses}")
    rows = []
    for w in report.words:
        ev = w.evidence
        a_end = ev.get("attention", {}).get("a_end")
        rows.append(" & ".join([
            r"\text{" + w.name + "}", str(w.label), r"\text{" + w.attention.verdict + "}",
            r"\text{" + w.loss.verdict + "}", _num(None if a_end is None else 1 - a_end),
            _num(ev.get("loss", {}).get("loss_end")),
            r"\text{" + (", ".join(w.failed_hypotheses) or "none") + "}"]))
    return r"\begin{array}{lllllll}" + head + r"\\ \hline " + r"\\ ".join(rows) + r"\end{array}"


def _growth_rows(report: ConvergenceReport) -> str | None:
    """Fitted growth laws against the derived ones, per word (None when no word has them)."""
    rows = []
    for w in report.words:
        g = w.evidence.get("growth", {})
        nl, tl = g.get("norm_vs_log_tau"), g.get("tau_loss")
        if not nl or not tl:
            continue
        rows.append(" & ".join([r"\text{" + w.name + "}", _num(nl["fitted_slope"]), _num(nl["derived_corrected"]),
                                _num(nl["derived_leading"]), _num(tl["fitted"]), _num(tl["derived_leading"])]))
    if not rows:
        return None
    head = (r"\text{word} & \frac{d|v_t|}{d\log\tau}\ \text{fitted} & \text{derived (corrected)} & "
            r"\frac{1}{\gamma} & \tau\,\ell_t\ \text{fitted} & \frac{1}{\eta_v\pi_t\gamma^2}")
    return r"\begin{array}{llllll}" + head + r"\\ \hline " + r"\\ ".join(rows) + r"\end{array}"


def _steps(report: ConvergenceReport) -> list:
    D = Derivation()
    f = report.flow
    D.note(f"Setting: {report.setting}. The reduced gradient flow is integrated with {f['solver']} to "
           f"$\\tau = {sp.latex(sp.Float(f['tau_end'], 3))}$ ({f['n_steps']} steps, {f['samples']} "
           f"log-spaced samples); the hypotheses are decided before it (linear programs).")
    C = certificate()
    D.eq(r"The certificate (derived from the model in \texttt{C0-certificate}): for a fixed direction $u$ "
         r"and $\mu = u\cdot v_t$, with $g = \nabla_c\mathrm{CE}$ and $-u\cdot g = \sum_j p_j (w_y - w_j)\cdot u$",
         r"\dot\mu", C.mu_dot)
    A = asymptotics()
    D.show(r"Growth laws (derived in \texttt{C0-asymptotics}; $\rho = |v_t|$, $r = \eta_v/\eta_k$, "
           r"$\gamma$ the hard margin of the word's label)",
           r"\lim_{\tau\to\infty}\frac{\rho}{\log\tau} = " + D.tex(A.slope)
           + r",\quad \lim_{\tau\to\infty}\tau\,\ell_t = " + D.tex(A.loss_tau)
           + r",\quad \lim_{\tau\to\infty}\rho^2(1-a_t) = " + D.tex(A.one_minus_a))
    D.show(r"Per topic word: the verdict for each conclusion (each rests on $\mu$ increasing along the "
           r"flow for the hard-margin direction $u^*$ under H-ach, or the escape direction under H-esc, "
           r"plus the SEN identity) and the state at $\tau_{\mathrm{end}}$", _word_rows(report))
    growth = _growth_rows(report)
    if growth is not None:
        D.show(r"The growth laws fitted on the last decades of $\tau$ against their derived values "
               r"(the rate corrected by the factor $1/(1 + (1-a_t))$ of the fit window)", growth)
    return D.steps


def convergence_figure(report: ConvergenceReport) -> FigureSpec | None:
    r"""Attention and loss over :math:`\tau` with the derived growth laws, one colour per topic word:
    (a) :math:`1-a_t` against :math:`2r/(|q|^2|v_t|^2)`, (b) :math:`\ell_t` against
    :math:`1/(\eta_v\pi_t\gamma^2\tau)`, (c) :math:`|v_t|` against :math:`\log\tau/\gamma` (its
    constant matched at :math:`\tau_{\mathrm{end}}`).  None without a flow."""
    res = report.result
    if res is None or len(res.t) < 2:
        return None
    t = np.asarray(res.t, dtype=np.float64)
    pos = t > 0
    A = res.attention()
    pa, pl, pn = [], [], []
    law = "derived growth law"
    late = t >= t[-1] * 10.0 ** (-LAW_DECADES)  # leading-order laws: drawn where they apply
    pts = 160  # samples per curve (log-spaced already): smooth at page width, small in verify.json
    for k, w in enumerate(report.words):
        i = w.word
        first = k == 0
        pred = w.evidence.get("growth", {}).get("derived", {})
        n = res.norms[:, i]
        pa.append(Series.of("flow, one colour per word" if first else "", t[pos], 1 - A[pos, i], color=k, max_points=pts))
        if pred.get("one_minus_a_coeff") is not None:
            pa.append(Series.of(law if first else "", t[late], pred["one_minus_a_coeff"] / n[late] ** 2,
                                "dashed", color=k, max_points=pts))
        if res.system.classifier == "fc":
            pl.append(Series.of("flow" if first else "", t[pos], word_loss(res, i)[pos], color=k, max_points=pts))
            if pred.get("loss_tau") is not None:
                pl.append(Series.of(law if first else "", t[late], pred["loss_tau"] / t[late], "dashed", color=k, max_points=pts))
        pn.append(Series.of("flow" if first else "", t[pos], n[pos], color=k, max_points=pts))
        if pred.get("slope") is not None:
            c = n[-1] - pred["slope"] * np.log(t[-1])
            pn.append(Series.of(law if first else "", t[late], c + pred["slope"] * np.log(t[late]), "dashed",
                                color=k, max_points=pts))
    panels = [Panel("(a) attention", r"$\tau$", r"$1 - a_t$", tuple(pa), "log", "log")]
    if pl:
        panels.append(Panel("(b) loss", r"$\tau$", r"$\ell_t$", tuple(pl), "log", "log"))
    panels.append(Panel("(c) embedding norm", r"$\tau$", r"$|v_t|$", tuple(pn), "log", "linear"))
    return FigureSpec(
        f"The reduced gradient flow of {report.setting} to $\\tau = {_num(t[-1])}$, one colour per topic word "
        r"(solid), with the growth laws derived in \texttt{C0-asymptotics} (dashed): (a) the attention "
        r"gap $1 - a_t$ against $2r/(|q|^2|v_t|^2)$; (b) the word's loss $\ell_t$ against "
        r"$1/(\eta_v\pi_t\gamma^2\tau)$; (c) the norm $|v_t|$ against $\log\tau/\gamma$ (its constant "
        r"matched at the horizon). The laws are leading order, drawn over the last "
        + f"{LAW_DECADES}" + r" decades of $\tau$; words whose label is not achievable have none.",
        tuple(panels))


def expect_all_converged(report: ConvergenceReport) -> tuple[str, str]:
    """The verifier of C1 (and of the negative control): ``verified`` iff every hypothesis holds
    and every topic word is ``converged``; ``refuted`` when the checker says a word is
    ``not-converged``; ``error`` when it is undecided (the check itself could not conclude)."""
    bad = [w for w in report.words if w.verdict == "not-converged"]
    undecided = [w for w in report.words if w.verdict == "undecided"]
    failed = sorted({h for w in report.words for h in w.failed_hypotheses})
    if bad:
        return "refuted", (f"expected every topic word converged; the checker says not-converged for "
                           f"{', '.join(w.name for w in bad)} (failed hypotheses: {', '.join(failed)})")
    if undecided:
        return "error", f"the checker is undecided for {', '.join(w.name for w in undecided)}: " \
                        + " | ".join(undecided[0].reasons)
    if failed:
        return "error", f"every word converged but hypotheses {failed} fail: inconsistent"
    return "verified", (f"all {len(report.words)} topic words converged: along the flow to τ = "
                        f"{report.flow['tau_end']:.3g} the certificate μ increases and H stays conserved; "
                        f"every hypothesis holds")


def hypothesis_needed_verdict(report: ConvergenceReport, label: int = NON_ACHIEVABLE_LABEL) -> tuple[str, str]:
    """The verifier of C2: label ``label``'s words must be ``not-converged`` for the loss with
    H-ach named (in the failed hypotheses and in the reasons), and converged for the attention
    (H-esc still holds); any other outcome refutes the claim."""
    words = [w for w in report.words if w.label == label]
    if not words:
        return "error", f"no topic word has label {label}"
    problems = []
    for w in words:
        if w.verdict != "not-converged" or w.loss.verdict != "not-converged":
            problems.append(f"{w.name}: verdict {w.verdict}, loss {w.loss.verdict}")
        if "H-ach" not in w.failed_hypotheses or not any("H-ach" in r for r in w.loss.reasons):
            problems.append(f"{w.name}: H-ach not named as the failed hypothesis ({w.failed_hypotheses})")
        if w.attention.verdict != "converged":
            problems.append(f"{w.name}: attention {w.attention.verdict} (H-esc holds, expected converged)")
    if problems:
        return "refuted", "; ".join(problems)
    return "verified", (f"label {label}'s words {', '.join(w.name for w in words)}: not-converged for the loss "
                        f"(failed hypothesis H-ach, loss floor {words[0].hypotheses[0].evidence.get('loss_floor', 0):.6g}), "
                        f"attention -> 1 certified by H-esc")


@claim(
    "C1-convergence-paper",
    "The paper's FC setting: every topic word converges",
    kind="numeric",
    statement=(r"With the paper's fixed linear classifier every topic word $t$ satisfies the hypotheses "
               r"(H-ach, H-esc, $|q|>0$, $\eta_v,\eta_k>0$, $\pi_t>0$) and its attention $a_t\to 1$ and "
               r"loss $\to 0$, certified by $\mu = \hat u^*\cdot v_t$ increasing and the SEN identity (the steps between: "
               r"C0-lemmas)."),
    assumptions=_ASSUMPTIONS,
)
def c1_convergence_paper(setting=None) -> Outcome:
    rep = _report("paper") if setting is None else setting_report(setting)
    status, reason = expect_all_converged(rep)
    fig = convergence_figure(rep)
    return Outcome(status, reason, _steps(rep), _summary(rep), [fig] if fig is not None else [])


@claim(
    "C2-hypothesis-needed",
    "Achievability is needed: without it the loss does not tend to 0",
    kind="numeric",
    statement=(r"With column $w_0$ of the paper's classifier replaced by $(w_1+w_2)/2$, label 0 is not "
               r"achievable: the checker says not-converged for label 0's topic words, names H-ach, and "
               r"shows the loss stays $\ge \inf_x \mathrm{CE}(W^\top x, 0) = \log 3$ while the attention still "
               r"tends to 1 (H-esc holds)."),
    assumptions=_ASSUMPTIONS,
)
def c2_hypothesis_needed() -> Outcome:
    rep = _report("non-achievable")
    status, reason = hypothesis_needed_verdict(rep)
    fig = convergence_figure(rep)
    return Outcome(status, reason, _steps(rep), _summary(rep), [fig] if fig is not None else [])


@claim(
    "neg-convergence-wrong-expectation",
    "Negative control: 'every word converges' for a non-achievable label must be refuted",
    kind="numeric",
    statement=(r"The verifier of C1 applied, with the wrong expectation that every topic word converges, to "
               r"its own setting: column $w_" + str(CONTROL_LABEL) + r"$ of the paper's classifier replaced by $(w_"
               + str((CONTROL_LABEL + 1) % 4) + r" + w_" + str((CONTROL_LABEL + 2) % 4)
               + r")/2$ (not C2's column), checked by its own run."),
    assumptions=_ASSUMPTIONS,
    expected="refuted",
)
def neg_convergence_wrong_expectation(setting=None) -> Outcome:
    rep = _report("control") if setting is None else setting_report(setting, non_achievable=True)
    status, reason = expect_all_converged(rep)
    return Outcome(status, reason, _steps(rep), _summary(rep))


# C1 with eta_v != eta_k: the certificate's SEN step carries the ratio (a checker that assumed
# ratio 1 would misjudge |v_t| -> infinity from s_t -> infinity)
UNEQUAL_RATES = ((2.0, 0.5), (0.5, 2.0))  # (eta_v, eta_k) of the reduced flow


@lru_cache(maxsize=None)
def _rates_report(lr_v: float, lr_k: float) -> ConvergenceReport:
    base = paper_setting()
    return check_convergence(replace(base, system=base.system.replace(lr_v=lr_v, lr_k=lr_k),
                                     name=f"{PRESET}, eta_v = {lr_v:g}, eta_k = {lr_k:g}"))


@claim(
    "C1r-convergence-paper-rates",
    "The paper's FC setting with eta_v != eta_k: every topic word converges",
    kind="numeric",
    statement=(r"C1's statement with unequal rates: for $(\eta_v, \eta_k) \in \{"
               + ", ".join(f"({v:g}, {k:g})" for v, k in UNEQUAL_RATES)
               + r"\}$ every topic word satisfies the hypotheses and converges (attention $\to 1$, loss $\to 0$), "
               r"certified by $\mu$ increasing and the SEN identity with ratio $\eta_v/\eta_k$."),
    assumptions=_ASSUMPTIONS[:1] + (
        r"reduced model: non-topic words at score 0 / embedding 0; gradient flow with the rates above to "
        r"$\tau = " + f"{CONVERGENCE.horizon:g}$",),
    slow=True,
)
def c1r_convergence_paper_rates() -> Outcome:
    steps, summaries, verdicts = [], {}, []
    for lv, lk in UNEQUAL_RATES:
        rep = _rates_report(lv, lk)
        status, reason = expect_all_converged(rep)
        verdicts.append((status, f"eta_v/eta_k = {lv / lk:g}: {reason}"))
        steps += _steps(rep)
        summaries[f"eta_v/eta_k={lv / lk:g}"] = _summary(rep)
    worst = next((v for v in verdicts if v[0] == "error"), None) or next(
        (v for v in verdicts if v[0] == "refuted"), None) or verdicts[0]
    return Outcome(worst[0], " | ".join(r for _, r in verdicts), steps, {"runs": summaries})
