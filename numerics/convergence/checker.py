r"""The convergence checker: does each topic word converge, and why (or why not)?

:func:`check_convergence` decides, for every topic word :math:`t` of a setting, two
conclusions that need different hypotheses (see :mod:`attndyn.numerics.convergence.hypotheses`):

* **attention**: :math:`a_t = e^{s_t}/(e^{s_t}+m)\to 1`;
* **loss**: :math:`\mathrm{CE}(W^\top a_t v_t, y_t)\to 0`;

and gives a per-word verdict ``converged`` (both), ``not-converged`` (one of them provably
fails) or ``undecided`` (the theorem does not apply, or the numerics disagree with it).

The verdict rests on a **certificate**, not on :math:`a\approx 1` at some time (the
attention creeps towards 1 over decades of :math:`\tau`):

* *converged*: the hypotheses the conclusion needs hold (decided exactly: linear
  programs for H-ach / H-esc), and along the reduced flow the certificate of
  :mod:`attndyn.proofs.asymptotics` is observed — :math:`\mu = u\cdot v_t` non-decreasing
  (:math:`u` the hard-margin direction under H-ach, the escape direction under H-esc;
  :math:`\dot\mu = \eta_v\pi_t a_t\sum_j p_j (w_y-w_j)\cdot u > 0`) and the SEN quantity
  :math:`H` conserved (so :math:`|v_t|\to\infty\iff s_t\to\infty`);
* *not-converged*: a needed hypothesis fails and its failure certifies it — H-ach fails:
  the loss stays :math:`\ge\inf_x\mathrm{CE}(W^\top x, y) > 0` (Gordan multipliers); H-esc
  fails: the infimum is attained, :math:`|v_t|` and :math:`s_t` stay bounded; :math:`|q| = 0`
  or frozen keys: :math:`\dot s_t\equiv 0`; frozen embeddings: the loss stays
  :math:`\ge\min_a\mathrm{CE}(aW^\top v_0)>0` and the score goes where the convex 1-D loss
  :math:`f(a)=\mathrm{CE}(aW^\top v_0)` sends it (:math:`a\to1` iff :math:`f'(1)<0`);
  :math:`\pi_t = 0`: nothing moves;
* *undecided*: a modelling assumption of the reduced model fails (trained query,
  unequal lengths, trainable classifier), or the flow contradicts the theory (failed
  integration, :math:`\mu` decreasing, :math:`H` drifting).

The reduced flow (:func:`attndyn.numerics.flow.solvers.reduced_flow`, DOP853; LSODA when the flow is
stiff, which happens when the loss stays bounded away from 0) is run to
``horizon`` (default :math:`10^6`, learning rates 1, so :math:`\tau` = lr x epochs) on
log-spaced samples, and its evidence is reported: attention trend, :math:`\tau_0` after
which :math:`s_t` and :math:`|v_t|` are monotone, the loss trend, growth laws fitted on the
last decades against the derived constants (:func:`attndyn.proofs.asymptotics.predictions`), the
certificate, and **mutual suppression** (score and norm first decreasing together, then
both growing; the turning time is the minimum of :math:`s_t`, located by a refined re-run).

Size: over 500 lines because the evidence a verdict rests on (certificate, growth laws, suppression
turning times, GD confirmation) is read off one flow result and reported together; the flow runs
themselves live in :mod:`attndyn.numerics.convergence.runs`.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
import time
from typing import Callable

import numpy as np

from attndyn.numerics.config.schema import RunConfig
from attndyn.numerics.convergence import hypotheses as hyp
from attndyn.numerics.convergence.runs import budget as flow_budget
from attndyn.numerics.convergence.runs import flow_progress as flow_progress_bar
from attndyn.numerics.convergence.runs import run_flow, save_times
from attndyn.numerics.data.corpus import sentence_counts
from attndyn.numerics.flow.full import FullSystem
from attndyn.numerics.flow.results import FlowResult
from attndyn.numerics.flow.solvers import reduced_flow
from attndyn.numerics.flow.systems import ReducedSystem
from attndyn.numerics.model.attention import AttentionModel
from attndyn.numerics.model.classifiers import check_matrix, load_matrix_file, loss_and_grads
from attndyn.numerics.training.train import load_corpus, train
from attndyn.proofs.asymptotics import max_margin, predictions, s_correction
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CONVERGENCE, NUMERIC
from attndyn.proofs.status import FlowStatus, Verdict

VERDICTS = tuple(v.value for v in Verdict)


class ConvergenceFailure(RuntimeError):
    """Raised by :func:`check_convergence` with ``raise_on_failure=True`` when some topic
    word is not ``converged``; ``report`` holds the full :class:`ConvergenceReport`."""

    def __init__(self, report: "ConvergenceReport"):
        bad = [f"{w.name}: {w.verdict}" for w in report.words if w.verdict != "converged"]
        super().__init__(f"{report.setting}: not every topic word converged ({'; '.join(bad)})")
        self.report = report


# --------------------------------------------------------------------------- the setting

@dataclass(frozen=True, eq=False)
class ConvergenceSetting:
    """What the checker decides about: the reduced system of the topic words plus what the
    reduced system cannot hold (the real :math:`|q|` when it is 0, whether the query trains,
    the non-topic vocabulary) and, for ``--confirm-gd``, the run config and corpus.

    With ``q_norm == 0`` the ``system`` must have ``train_keys=False`` (the same flow:
    :math:`\\dot s_t` carries the factor :math:`|q|^2`).
    """

    system: ReducedSystem
    name: str = "custom"
    word_names: tuple[str, ...] | None = None
    q_norm: float | None = None
    query_trained: bool = False
    n_nontopic: int | None = None
    occurrences: float | None = None
    config: object | None = None
    corpus: object | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.system, ReducedSystem):
            raise UsageError(f"setting.system: expected a attndyn.numerics.flow.systems.ReducedSystem, got "
                             f"{type(self.system).__name__}")
        if self.q_norm is not None:
            q = float(self.q_norm)
            if not np.isfinite(q) or q < 0:
                raise UsageError(f"setting.q_norm: expected a finite |q| >= 0, got {self.q_norm!r}")
            if q == 0 and self.system.train_keys:
                raise UsageError("setting.q_norm: |q| = 0 freezes the scores; give a system with train_keys=False")
        names = self.word_names or tuple(f"t{i}" for i in range(self.system.T))
        if len(names) != self.system.T:
            raise UsageError(f"setting.word_names: expected {self.system.T} names, got {len(names)}")
        object.__setattr__(self, "word_names", tuple(names))

    @property
    def query_norm(self) -> float:
        return float(self.system.q_norm if self.q_norm is None else self.q_norm)

    def hypotheses(self, word: int) -> tuple[hyp.Hypothesis, ...]:
        S = self.system
        W = S.theta0["W"] if S.classifier in ("fc", "tc") else None
        pi = S.pi[word].sum() if S.pi.ndim == 2 else S.pi[word]
        return hyp.check_word(W=W, y=int(S.y[word]), q_norm=self.query_norm, lr_v=S.lr_v, lr_k=S.lr_k,
                              pi_t=float(pi), m=S.m[word], train_embeddings=S.train_embeddings,
                              train_keys=S.train_keys, classifier=S.classifier,
                              query_trained=self.query_trained, n_nontopic=self.n_nontopic,
                              occurrences=self.occurrences)


def load_classifier_matrix(path, d_e: int, K: int) -> np.ndarray:
    """A user's ``.npy`` classifier matrix, validated: readable, shape (d_e, K), finite."""
    W = load_matrix_file(path, f"--classifier-matrix {path}")
    return check_matrix(W, d_e, K, name=f"--classifier-matrix {path}")


def setting_from_config(cfg, *, name: str = "config", corpus=None) -> ConvergenceSetting:
    """The setting of a :class:`~attndyn.numerics.config.schema.RunConfig`: its corpus (training split) and
    its initial parameters exactly as :func:`attndyn.numerics.training.train.train` draws them, reduced to the
    topic words (:meth:`attndyn.numerics.flow.full.FullSystem.reduced`: :math:`\\pi_t`, m per length group).
    Learning rates 1 (all groups share ``train.lr``), so the flow time is :math:`\\tau` = lr x epochs."""
    if corpus is None:
        corpus = load_corpus(cfg.corpus)
    if len(corpus.topic_words) == 0:
        raise UsageError(f"corpus {corpus.name!r}: has no topic words; the convergence checker needs a "
                         "synthetic corpus (topic words with labels)")
    model = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)
    groups = cfg.train.trainable
    q = np.asarray(model.query, dtype=np.float64)
    q_norm = float(np.linalg.norm(q))
    keys = np.asarray(model.keys, dtype=np.float64)
    train_keys = "keys" in groups and q_norm > 0
    q_used = q if q_norm > 0 else np.eye(q.size)[0]  # |q| = 0: keys frozen, same flow
    full = FullSystem(corpus, q_used, np.asarray(model.embeddings, dtype=np.float64), keys, cfg.model.classifier,
                      {k: np.asarray(v, dtype=np.float64) for k, v in model.classifier.items()},
                      train_embeddings="embeddings" in groups, train_keys=train_keys)
    system = full.reduced()
    if q_norm == 0:
        system = system.replace(s0=np.zeros(system.T))
    train = corpus.subset("train")
    counts = sentence_counts(train)
    is_topic = np.zeros(corpus.vocab_size, dtype=bool)
    is_topic[np.asarray(corpus.topic_words, dtype=np.int64)] = True
    nontopic = np.flatnonzero(~is_topic)
    occ = float(counts[nontopic].mean()) if nontopic.size else None
    names = tuple(f"w{int(w)}" if corpus.vocab is None else corpus.vocab[w] for w in corpus.topic_words)
    return ConvergenceSetting(system, name, names, q_norm=q_norm, query_trained="query" in groups,
                              n_nontopic=int(nontopic.size), occurrences=occ, config=cfg, corpus=corpus)


# --------------------------------------------------------------------------- results

@dataclass(frozen=True)
class Conclusion:
    """One conclusion (``attention`` or ``loss``) for one word: verdict, reasons, and the
    certificate that decided it."""

    name: str
    verdict: Verdict  # a plain string is accepted and converted
    reasons: tuple[str, ...]
    certificate: str

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict.coerce(self.verdict))

    def to_json(self) -> dict:
        return {"verdict": self.verdict, "reasons": list(self.reasons), "certificate": self.certificate}


@dataclass(frozen=True)
class WordVerdict:
    word: int
    name: str
    label: int
    verdict: Verdict  # a plain string is accepted and converted
    reasons: tuple[str, ...]
    attention: Conclusion
    loss: Conclusion
    hypotheses: tuple[hyp.Hypothesis, ...]
    evidence: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "verdict", Verdict.coerce(self.verdict))

    @property
    def failed_hypotheses(self) -> list[str]:
        return [h.name for h in self.hypotheses if not h.holds]

    def to_json(self) -> dict:
        return {"word": self.word, "name": self.name, "label": self.label, "verdict": self.verdict,
                "reasons": list(self.reasons), "failed_hypotheses": self.failed_hypotheses,
                "conclusions": {"attention -> 1": self.attention.to_json(), "loss -> 0": self.loss.to_json()},
                "hypotheses": [h.to_json() for h in self.hypotheses], "evidence": self.evidence}


@dataclass(frozen=True, eq=False)
class ConvergenceReport:
    setting: str
    words: tuple[WordVerdict, ...]
    flow: dict
    gd: dict | None = None
    result: FlowResult | None = None  # the reduced flow (not serialised)

    @property
    def verdicts(self) -> dict[str, str]:
        return {w.name: w.verdict for w in self.words}

    @property
    def all_converged(self) -> bool:
        return all(w.verdict == "converged" for w in self.words)

    def __repr__(self) -> str:  # one line per topic word, not the dataclass's dump of the flow
        lines = [f"ConvergenceReport({self.setting}: {sum(w.verdict == 'converged' for w in self.words)} of "
                 f"{len(self.words)} topic words converged)"]
        lines += [f"  {w.name} (label {w.label}): {w.verdict}; attention -> 1 {w.attention.verdict}, loss -> 0 "
                  f"{w.loss.verdict}" + (f"; failed: {', '.join(w.failed_hypotheses)}" if w.failed_hypotheses else "")
                  for w in self.words]
        return "\n".join(lines)

    def to_json(self) -> dict:
        return {"setting": self.setting, "verdicts": self.verdicts, "all_converged": self.all_converged,
                "flow": self.flow, "confirm_gd": self.gd, "words": [w.to_json() for w in self.words]}


# --------------------------------------------------------------------------- evidence

def _decreases(x: np.ndarray) -> np.ndarray:
    """Indices i where x[i+1] < x[i] by more than the round-off allowance."""
    tol = CONVERGENCE.monotone_rtol * np.maximum(1.0, np.abs(x[1:]))
    return np.flatnonzero(np.diff(x) < -tol)


def _tau0(s: np.ndarray, n: np.ndarray, t: np.ndarray) -> float | None:
    """The earliest sample time after which s and |v| never decrease (None if they do at the end)."""
    bad = np.union1d(_decreases(s), _decreases(n))
    if bad.size == 0:
        return 0.0
    i = int(bad.max()) + 1
    return float(t[i]) if i < len(t) - 1 else None


def _fit_window(t: np.ndarray, decades: float) -> np.ndarray:
    return (t > 0) & (t >= t[-1] * 10.0 ** (-decades))


def _slope(x: np.ndarray, y: np.ndarray) -> float:
    return float(np.polyfit(x, y, 1)[0])


def _growth(res: FlowResult, word: int, margin) -> dict:
    """Growth laws on the last ``fit_decades`` decades against the derived constants."""
    S = res.system
    t, s, n = res.t, res.s[:, word], res.norms[:, word]
    a = res.attention()[:, word]
    loss = hyp.word_loss(res, word)
    pi = float(S.pi[word])
    m = float(S.m_eff[word])
    pred = predictions(gamma=margin.gamma if margin is not None else None, q_norm=S.q_norm, m=m,
                       lr_v=S.lr_v, lr_k=S.lr_k, pi_t=pi)
    win = _fit_window(t, CONVERGENCE.fit_decades)
    prev = (t > 0) & (t >= t[-1] * 10.0 ** (-2 * CONVERGENCE.fit_decades)) & ~win
    H0 = float(res.H()[0, word])
    out: dict = {"window": [float(t[win][0]), float(t[-1])], "derived": pred}
    if win.sum() < 3:
        out["note"] = "too few samples in the fit window"
        return out
    # s against 2 log|v|: leading constant, exact first-order correction
    inter = s[win] - 2 * np.log(n[win])
    corr = pred["s_intercept"] + s_correction(s[win], n[win], H0=H0, q_norm=S.q_norm, lr_v=S.lr_v, lr_k=S.lr_k)
    out["s_vs_2log_v"] = {
        "fitted_intercept": float(inter.mean()), "derived_leading": pred["s_intercept"],
        "derived_corrected": float(np.mean(corr)),
        "gap_leading": float(abs(inter.mean() - pred["s_intercept"])),
        "gap_corrected": float(np.max(np.abs(inter - corr))),
        "fitted_slope": _slope(2 * np.log(n[win]), s[win]),
    }
    # 1 - a against 2r/(|q|^2 |v|^2) at the end
    out["one_minus_a"] = {"measured": float(1 - a[-1]),
                          "derived": float(pred["one_minus_a_coeff"] / n[-1] ** 2)}
    if margin is not None:
        lt = np.log(t[win])
        slope = _slope(lt, n[win])
        corrected = float(np.mean(pred["slope"] / (1 + (1 - a[win]))))
        gap = abs(slope - corrected) / corrected
        approaching = None
        if prev.sum() >= 3:
            slope_prev = _slope(np.log(t[prev]), n[prev])
            corr_prev = float(np.mean(pred["slope"] / (1 + (1 - a[prev]))))
            approaching = bool(abs(slope - pred["slope"]) <= abs(slope_prev - pred["slope"]))
            out["previous_window_slope"] = {"fitted": slope_prev, "corrected": corr_prev}
        out["norm_vs_log_tau"] = {"fitted_slope": slope, "derived_leading": pred["slope"],
                                  "derived_corrected": corrected, "relative_gap": gap,
                                  "approaching_leading": approaching,
                                  "consistent": bool(gap <= CONVERGENCE.growth_rtol)}
        tl = t[win] * loss[win]
        out["tau_loss"] = {"fitted": float(np.median(tl)), "derived_leading": pred["loss_tau"],
                           "relative_gap": float(abs(np.median(tl) - pred["loss_tau"]) / pred["loss_tau"]),
                           "consistent": bool(abs(np.median(tl) - pred["loss_tau"])
                                              <= CONVERGENCE.growth_rtol * pred["loss_tau"])}
        out["consistent"] = bool(out["norm_vs_log_tau"]["consistent"] and out["tau_loss"]["consistent"])
    return out


def _suppression(system: ReducedSystem, res: FlowResult, word: int) -> dict:
    """Mutual suppression: s and |v| first decrease together, then both grow past their start.
    The turning time (the minimum of s) is located on a refined re-run of the flow."""
    t, s, n = res.t, res.s[:, word], res.norms[:, word]
    i_s, i_n = int(np.argmin(s)), int(np.argmin(n))
    dips = bool(s[i_s] < s[0] and n[i_n] < n[0] * (1 - CONVERGENCE.suppression_rtol))
    together = abs(i_s - i_n) <= 1
    recovers = bool(s[-1] > s[0] and n[-1] > n[0])
    out = {"detected": bool(dips and together and recovers), "s_min": float(s[i_s]), "s0": float(s[0]),
           "norm_min": float(n[i_n]), "norm0": float(n[0])}
    if not out["detected"]:
        return out
    lo, hi = t[max(i_s - 1, 0)], t[min(i_s + 1, len(t) - 1)]
    fine = np.r_[0.0, np.linspace(lo, hi, CONVERGENCE.suppression_refine)] if lo > 0 else \
        np.linspace(0.0, hi, CONVERGENCE.suppression_refine)
    ref = reduced_flow(system, fine)
    j = int(np.argmin(ref.s[:, word]))
    out["turning_time"] = float(ref.t[j])
    out["turning_time_bracket"] = [float(lo), float(hi)]
    out["s_min"] = float(ref.s[j, word])
    out["norm_min"] = float(ref.norms[j, word])
    # first-order prediction for a small v0: g.v(tau) = g0.v0 - eta_v pi a0 |g0|^2 tau

    S = system
    a0 = 1.0 / (1.0 + float(S.m_eff[word]) * np.exp(-float(S.s0[word])))
    _, G, _ = loss_and_grads(S.classifier, S.theta0, (a0 * S.v0[word])[None, :], S.y[word:word + 1])
    g0 = G[0]
    pi = float(np.sum(S.pi[word]))
    out["turning_time_linearised"] = float(g0 @ S.v0[word] / (S.lr_v * pi * a0 * (g0 @ g0)))
    return out


def _certificate(res: FlowResult, word: int, u: np.ndarray, what: str, sen_needed: bool) -> dict:
    mu = res.v[:, word] @ u
    dmu = np.diff(mu)
    tol = CONVERGENCE.certificate_rtol * np.maximum(1.0, np.abs(mu[1:]))
    increasing = bool(np.all(dmu >= -tol))
    out = {"direction": what, "u": u, "mu0": float(mu[0]), "mu_end": float(mu[-1]),
           "mu_increasing": increasing, "worst_decrease": float(min(0.0, dmu.min(initial=0.0)))}
    if sen_needed:
        drift = float(res.sen_drift()[word])
        out["sen_drift"] = drift
        out["sen_conserved"] = bool(drift <= NUMERIC.sen_flow_max)
    out["holds"] = bool(increasing and out.get("sen_conserved", True))
    return out


def _attention_frozen_embeddings(S: ReducedSystem, word: int) -> tuple[str, str]:
    """v_t frozen: a(s) moves down the convex f(a) = CE(a W^T v0, y); a -> 1 iff f'(1) < 0."""
    v0 = S.v0[word]
    _, G, _ = loss_and_grads("fc", S.theta0, v0[None, :], S.y[word:word + 1])
    fprime1 = float(G[0] @ v0)  # f'(1) = g(c = v0) . v0
    tol = CONVERGENCE.lp_tol * max(1.0, float(np.abs(v0).sum() * np.abs(S.theta0["W"]).max()))
    if fprime1 < -tol:
        return "converged", (f"H-emb fails but f(a) = CE(a W^T v0, y) is convex with f'(1) = {fprime1:.3g} < 0, "
                             "so ds/dtau >= c (1 - a) > 0 and a -> 1")
    if fprime1 > tol:
        return "not-converged", (f"H-emb fails: with v frozen, s follows -f'(a) for the convex f(a) = "
                                 f"CE(a W^T v0, y); f'(1) = {fprime1:.3g} > 0, so a stays below the minimiser < 1")
    return "undecided", f"H-emb fails and f'(1) = {fprime1:.3g} is 0 within tolerance"


# --------------------------------------------------------------------------- deciding

def _decide(setting: ConvergenceSetting, word: int, hyps: tuple, res: FlowResult | None, ev: dict,
            margin) -> tuple[Conclusion, Conclusion]:
    S = setting.system
    by = {h.name: h for h in hyps}
    failed_model = [h for h in hyps if h.kind == "modelling" and not h.holds]
    out = {}
    for concl in ("attention", "loss"):
        if failed_model:
            out[concl] = Conclusion(concl, "undecided", tuple(
                f"modelling assumption {h.name} fails ({h.detail}); the theorem does not apply"
                for h in failed_model), "none")
            continue
        if not by["H-occ"].holds:
            out[concl] = Conclusion(concl, "not-converged", (f"H-occ fails: {by['H-occ'].detail}",),
                                    "zero gradient: the word never moves")
            continue
        if not by["H-emb"].holds:
            if concl == "loss":
                floor = hyp.frozen_embedding_floor(S.theta0["W"], int(S.y[word]), S.v0[word])
                out[concl] = Conclusion(concl, "not-converged", (
                    f"H-emb fails: the loss stays >= min_a CE(a W^T v0, y) = {floor:.6g} > 0",),
                    "frozen-embedding floor")
            else:
                if not (by["H-q"].holds and by["H-keys"].holds):
                    out[concl] = Conclusion(concl, "not-converged", (
                        "H-emb, and H-q or H-keys, fail: nothing moves the attention",), "frozen score")
                else:
                    v, why = _attention_frozen_embeddings(S, word)
                    out[concl] = Conclusion(concl, v, (why,), "convexity of f(a) = CE(a W^T v0, y)")
            continue
        if concl == "attention" and not (by["H-q"].holds and by["H-keys"].holds):
            bad = [by[n] for n in ("H-q", "H-keys") if not by[n].holds]
            out[concl] = Conclusion(concl, "not-converged", tuple(
                f"{h.name} fails: {h.detail}; the attention stays at a0 = "
                f"{1 / (1 + float(S.m_eff[word]) * np.exp(-float(S.s0[word]))):.6g} < 1" for h in bad),
                "ds/dtau = 0")
            continue
        key = "H-esc" if concl == "attention" else "H-ach"
        h = by[key]
        if not h.holds:
            cert = ("Gordan multipliers: loss >= inf_x CE(W^T x, y)" if key == "H-ach"
                    else "infimum attained: |v| and s bounded")
            out[concl] = Conclusion(concl, "not-converged", (f"{key} fails: {h.detail}",), cert)
            continue
        # the theorem applies: confirm the certificate on the flow
        cert = ev.get("certificate", {}).get(concl)
        name = ("mu = u*.v increasing (hard margin, H-ach)" if by["H-ach"].holds
                else "mu = u.v increasing (escape direction, H-esc)")
        name += " + SEN identity" if concl == "attention" else ""
        if res is None or len(res.t) <= 1 or cert is None:
            why = (f": the flow stopped at tau = 0 ({res.message})" if res is not None and len(res.t) <= 1
                   else "")
            out[concl] = Conclusion(concl, "undecided", (f"no flow evidence{why}",), name)
            continue
        reasons = [f"{key} holds ({h.detail.split(':')[0]})"]
        problems = []
        if res.status == FlowStatus.BUDGET:
            problems.append(f"the flow stopped early, {res.message}")
        elif not res.ok:
            problems.append(f"the flow failed: {res.message}")
        if not cert["mu_increasing"]:
            problems.append(f"mu = u.v decreased on the flow (worst step {cert['worst_decrease']:.3g})")
        if concl == "attention" and not cert.get("sen_conserved", True):
            problems.append(f"the SEN quantity drifted by {cert['sen_drift']:.3g} > {NUMERIC.sen_flow_max:g}")
        if problems:
            out[concl] = Conclusion(concl, "undecided", tuple(
                reasons + ["the theory says converged but the numerics disagree: " + "; ".join(problems)]), name)
            continue
        reasons.append(f"certificate on the flow to tau = {res.t[-1]:.3g}: mu increasing "
                       f"({cert['mu0']:.3g} -> {cert['mu_end']:.3g})"
                       + (f", H conserved (drift {cert['sen_drift']:.2g})" if "sen_drift" in cert else ""))
        out[concl] = Conclusion(concl, "converged", tuple(reasons), name)
    return out["attention"], out["loss"]


def check_convergence(setting, *, horizon: float = CONVERGENCE.horizon, n_save: int = CONVERGENCE.n_save,
                      confirm_gd: bool = False, gd_epochs: int | None = None,
                      raise_on_failure: bool = False,
                      progress: Callable[[str], None] | None = None,
                      flow_progress: bool = False) -> ConvergenceReport:
    """Decide convergence for every topic word of ``setting`` (a :class:`ConvergenceSetting`,
    a :class:`~attndyn.numerics.flow.systems.ReducedSystem`, or a :class:`~attndyn.numerics.config.schema.RunConfig`).

    Hypotheses first (:mod:`attndyn.numerics.convergence.hypotheses`), then the reduced flow to ``horizon``
    with ``n_save`` log-spaced samples (within the budgets of :func:`attndyn.numerics.convergence.runs.budget`:
    a flow that exhausts one gives "undecided: budget exhausted"), the evidence, and the verdicts
    (see the module doc).  ``flow_progress`` draws the flow's progress on stderr.
    ``confirm_gd`` also trains the full model with :func:`attndyn.numerics.training.train.train` for
    ``gd_epochs`` epochs (needs a setting built from a config) and compares.  Returns a
    :class:`ConvergenceReport`; raises :class:`ConvergenceFailure` only when
    ``raise_on_failure`` and some word is not converged.
    """
    if isinstance(setting, RunConfig):
        setting = setting_from_config(setting)
    elif isinstance(setting, ReducedSystem):
        setting = ConvergenceSetting(setting)
    elif not isinstance(setting, ConvergenceSetting):
        raise UsageError(f"setting: expected a ConvergenceSetting, ReducedSystem or RunConfig, got "
                         f"{type(setting).__name__}")
    say = progress or (lambda _msg: None)
    S = setting.system
    t_eval = save_times(horizon, n_save)
    hyps_all = [setting.hypotheses(w) for w in range(S.T)]
    say(f"hypotheses decided for {S.T} topic word(s)")
    t0 = time.perf_counter()
    stiff = any(not h.holds for hs in hyps_all for h in hs if h.name == "H-ach")
    bar, close = flow_progress_bar(flow_progress)
    try:
        res, solver = run_flow(S, t_eval, stiff=stiff, progress=bar)
    finally:
        close()
    flow = {"solver": solver, "status": res.status, "message": res.message, "horizon": float(t_eval[-1]),
            "budget": flow_budget(),
            "tau_end": float(res.t[-1]) if len(res.t) else 0.0, "samples": int(len(res.t)),
            "n_steps": int(res.n_steps), "n_evals": int(res.n_evals),
            "seconds": round(time.perf_counter() - t0, 3), "time_unit": "τ = lr × epochs (rates η_v = η_k = 1 "
            "relative to the shared learning rate)"}
    say(f"reduced flow: {res.message}")
    words = []
    for w in range(S.T):
        hyps = hyps_all[w]
        ev, margin = _evidence(setting, res, w, hyps)
        att, loss = _decide(setting, w, hyps, res, ev, margin)
        verdict = ("converged" if att.verdict == loss.verdict == "converged" else
                   "not-converged" if "not-converged" in (att.verdict, loss.verdict) else "undecided")
        reasons = tuple([f"attention -> 1: {att.verdict}: " + "; ".join(att.reasons),
                         f"loss -> 0: {loss.verdict}: " + "; ".join(loss.reasons)])
        words.append(WordVerdict(w, setting.word_names[w], int(S.y[w]), verdict, reasons, att, loss, hyps, ev))
    gd = None
    if confirm_gd:
        gd, words = _confirm_gd(setting, words, gd_epochs or CONVERGENCE.gd_epochs, say)
    report = ConvergenceReport(setting.name, tuple(words), flow, gd, res)
    if raise_on_failure and not report.all_converged:
        raise ConvergenceFailure(report)
    return report


def _evidence(setting: ConvergenceSetting, res: FlowResult, word: int, hyps) -> tuple[dict, object]:
    S = setting.system
    by = {h.name: h for h in hyps}
    if len(res.t) < 2:
        return {"note": "the flow produced no samples beyond tau = 0"}, None
    t, s, n = res.t, res.s[:, word], res.norms[:, word]
    a = res.attention()[:, word]
    ev: dict = {}
    ev["attention"] = {"a0": float(a[0]), "a_end": float(a[-1]),
                       "a_at_tau_end_over_100": float(a[np.searchsorted(t, t[-1] / 100)]),
                       "increasing_after_tau0": None}
    tau0 = _tau0(s, n, t)
    ev["monotone"] = {"tau0": tau0, "s_decreases": int(_decreases(s).size), "norm_decreases": int(_decreases(n).size)}
    if tau0 is not None:
        after = t >= tau0
        ev["attention"]["increasing_after_tau0"] = bool(np.all(np.diff(a[after]) >= -1e-15))
    ev["score"] = {"s0": float(s[0]), "s_end": float(s[-1])}
    ev["norm"] = {"norm0": float(n[0]), "norm_end": float(n[-1])}
    if S.classifier == "fc":
        loss = hyp.word_loss(res, word)
        ev["loss"] = {"loss0": float(loss[0]), "loss_end": float(loss[-1]),
                      "nonincreasing": bool(np.all(np.diff(loss) <= 1e-12 * np.maximum(1.0, loss[1:])))}
        if "H-ach" in by and "loss_floor" in by["H-ach"].evidence:
            ev["loss"]["floor"] = by["H-ach"].evidence["loss_floor"]
    margin = None
    ev["certificate"] = {}
    conditions_ok = all(by[k].holds for k in ("H-q", "H-keys", "H-emb", "H-occ") if k in by)
    if S.classifier == "fc" and by["H-emb"].holds and by["H-occ"].holds:
        W, y = S.theta0["W"], int(S.y[word])
        sen = by["H-q"].holds and by["H-keys"].holds and S.m.ndim == 1
        if by["H-ach"].holds:
            margin = max_margin(W, y)
            ev["margin"] = margin.to_json()
            u = margin.u * margin.gamma
            c = _certificate(res, word, u, "hard-margin direction u*/|u*|", sen)
            ev["certificate"] = {"attention": c, "loss": c}
        elif by["H-esc"].holds:
            u = by["H-esc"].evidence["direction"]
            ev["certificate"] = {"attention": _certificate(res, word, u, "escape direction (H-esc LP)", sen)}
        if conditions_ok and by["H-ach"].holds and sen:
            ev["growth"] = _growth(res, word, margin)
    if S.train_keys and S.train_embeddings and S.m.ndim == 1:
        ev["suppression"] = _suppression(S, res, word)
    return ev, margin


def _confirm_gd(setting: ConvergenceSetting, words: list, epochs: int, say) -> tuple[dict, list]:
    """Train the full model with the numba kernels and compare the topic words' scores and norms
    with the reduced flow at the same tau = lr x epochs; a word whose GD does not agree (or
    whose score does not grow over the second half) is downgraded from converged to undecided."""
    if setting.config is None:
        raise UsageError("--confirm-gd: needs a setting built from a config or preset (the full model)")
    if int(epochs) != epochs or epochs < 2:
        raise UsageError(f"gd_epochs: expected an integer >= 2, got {epochs!r}")

    cfg = setting.config
    every = max(1, int(epochs) // 100)
    cfg = replace(cfg, train=replace(cfg.train, epochs=int(epochs), record_every=every))
    say(f"confirming with the full model: {epochs} epochs of discrete GD")
    tr = train(cfg, setting.corpus, progress=False)
    traj = tr.trajectory
    tau = traj["epoch"] * cfg.train.lr
    ref = reduced_flow(setting.system, tau)
    gd = {"epochs": int(tr.epochs), "status": tr.status, "message": tr.message, "lr": cfg.train.lr,
          "tau_end": float(tau[-1]), "seconds": round(tr.seconds, 3), "words": []}
    out = []
    half = traj["epoch"] >= traj["epoch"][-1] / 2
    for wv in words:
        w = wv.word
        s_gd, n_gd = traj["topic_scores"][:, w], traj["topic_norms"][:, w]
        s_fl, n_fl = ref.s[:, w], ref.norms[:, w]
        scale = lambda x: np.maximum(1.0, np.abs(x))  # noqa: E731
        ds = float(np.max(np.abs(s_gd - s_fl) / scale(s_fl)))
        dn = float(np.max(np.abs(n_gd - n_fl) / scale(n_fl)))
        grows = bool(np.all(np.diff(s_gd[half]) >= 0) and np.all(np.diff(n_gd[half]) >= 0))
        agrees = bool(tr.status == "ok" and ref.ok and ds <= CONVERGENCE.gd_rtol and dn <= CONVERGENCE.gd_rtol)
        entry = {"word": wv.name, "score_gd": float(s_gd[-1]), "score_flow": float(s_fl[-1]),
                 "norm_gd": float(n_gd[-1]), "norm_flow": float(n_fl[-1]), "max_rel_diff_score": ds,
                 "max_rel_diff_norm": dn, "grows_second_half": grows, "confirmed": bool(agrees and grows)}
        gd["words"].append(entry)
        if wv.verdict == "converged" and not entry["confirmed"]:
            why = (f"full-model GD ({epochs} epochs) does not confirm: max relative difference to the flow "
                   f"score {ds:.3g}, norm {dn:.3g} (tolerance {CONVERGENCE.gd_rtol}); grows: {grows}")
            wv = replace(wv, verdict="undecided", reasons=wv.reasons + (why,))
        elif entry["confirmed"]:
            wv = replace(wv, reasons=wv.reasons + (
                f"confirmed by full-model GD to epoch {epochs}: score {s_gd[-1]:.4g} vs flow {s_fl[-1]:.4g}",))
        out.append(wv)
    return gd, out
