r"""Mutual suppression, then promotion, found on a trajectory of the full model (issue 8).

The paper (§4): a topic word whose embedding starts against its label first loses score and
embedding norm *together*, turns, then gains both.  The reason is S4: along the flow
:math:`\frac{d|v_t|^2}{d\tau} = R\,\frac{ds_t}{d\tau}` with :math:`R > 0`
(:func:`attndyn.proofs.claims.symbolic.promotion_ratio_stated`).  For one gradient step the
same identity holds exactly up to the step's own square,
:math:`\Delta|v_t|^2 = R(s_t)\,\Delta s_t + |\Delta v_t|^2` (the first-order part
:math:`2v_t\cdot\Delta v_t = R\,\Delta s_t` is S4 at the step's start), so the two can disagree in
sign only on a step where :math:`|R\,\Delta s_t| \le |\Delta v_t|^2` — next to the turn.

* ``P3-suppression-promotion`` — preset ``paper-fc`` with topic word 0's embedding set to
  :math:`-\alpha\,w_y/|w_y|` (against its label's classifier column), keys 0, non-topic words
  held at score 0 / embedding 0 (S4's hypotheses).  On the recorded trajectory: (i) S4 holds at
  every step, :math:`|\Delta|v|^2 - R\Delta s - |\Delta v|^2| \le` rounding; (ii) the score falls
  from step 0 to a detected turning step :math:`n^*` (first :math:`\Delta s \ge 0`), strictly
  inside the run, and the norm falls with it; (iii) from :math:`n^*` on both rise to the end;
  (iv) every step where score and norm move in opposite directions is one S4 allows
  (:math:`|R\Delta s| \le |\Delta v|^2`).
* ``neg-suppression-aligned`` (expected refuted) — its own run with the embedding *along*
  :math:`w_y`: the score rises from the first step, so there is no suppression phase.
"""
from __future__ import annotations

from dataclasses import replace
from functools import lru_cache

import numpy as np
import sympy as sp

from attndyn.numerics.config.presets import preset_config
from attndyn.numerics.training.tracked import tracked_run, TrackedRun
from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.claims.symbolic import promotion_ratio_stated
from attndyn.proofs.settings import PAPER_CLAIMS

REPORT_ORDER = 66  # after the capacity and ablation claims (attndyn.proofs.claims.registry)

WORD = 0  # index among the topic words of the word put against its label


def ratio_function(R: sp.Expr | None = None):
    """S4's ratio as a NumPy function of (s, m, |q|^2, eta_v, eta_k), from the stated expression."""
    R = promotion_ratio_stated() if R is None else R
    by_name = {str(x): x for x in R.free_symbols}
    order = [by_name.get(n, sp.Symbol(n)) for n in ("s_t", "m", r"\|q\|^{2}", "eta_v", "eta_k")]
    return sp.lambdify(order, R, modules="numpy")


def suppression_verdict(s: np.ndarray, v: np.ndarray, m: float, q2: float, lr_v: float, lr_k: float,
                        R=None) -> tuple[str, str, dict]:
    """Decide the event on one word's trajectory (``s[n]``, ``v[n, :]``, n = 0..N)."""
    Rf = ratio_function(R)
    N = len(s) - 1
    ds = np.diff(s)
    v2 = np.sum(v ** 2, axis=1)
    dv2 = np.diff(v2)
    step2 = np.sum(np.diff(v, axis=0) ** 2, axis=1)
    Rn = Rf(s[:-1], m, q2, lr_v, lr_k) * np.ones_like(ds)
    gap = np.abs(dv2 - Rn * ds - step2)
    eps = np.finfo(np.float64).eps
    rounding = PAPER_CLAIMS.rounding_factor * eps * (v2[:-1] + v2[1:] + np.abs(Rn * ds) + step2)
    s4_ratio = float(np.max(gap / rounding)) if N else 0.0
    details: dict = {"steps": N, "s4_gap_max": float(gap.max()) if N else 0.0,
                     "s4_gap_over_rounding": s4_ratio}
    problems = []
    if not (np.all(np.isfinite(s)) and np.all(np.isfinite(v))):
        return "refuted", "the trajectory is not finite", details
    if s4_ratio > 1:
        problems.append(f"S4 fails on the trajectory: |d|v|^2 - R ds - |dv|^2| up to {gap.max():.3g} "
                        f"({s4_ratio:.3g} x rounding)")
    rising = np.flatnonzero(ds >= 0)
    turn = int(rising[0]) if rising.size else N
    details["turning_step"] = turn
    norm = np.sqrt(v2)
    details.update(score_start=float(s[0]), score_at_turn=float(s[turn]), score_end=float(s[-1]),
                   norm_start=float(norm[0]), norm_at_turn=float(norm[turn]), norm_end=float(norm[-1]),
                   norm_turning_step=int(np.argmin(norm)))
    if turn == 0:
        problems.append(f"no suppression: the score rises from the first step (ds_0 = {ds[0]:.3g})")
    elif turn >= N - 1:
        problems.append(f"no promotion: the score never turns within {N} steps")
    else:
        if not np.all(ds[turn:] > 0):
            problems.append(f"the score falls again after the turn at step {turn + int(np.argmax(ds[turn:] <= 0))}")
        mismatch = np.flatnonzero(np.sign(ds) != np.sign(dv2))
        allowed = np.abs(Rn * ds) <= step2
        unexplained = [int(n) for n in mismatch if not allowed[n]]
        details["opposite_steps"] = mismatch.tolist()
        if unexplained:
            problems.append(f"score and norm move in opposite directions at steps {unexplained[:5]} beyond S4's "
                            f"second-order slack")
        if not (norm[turn] < norm[0] and norm[-1] > norm[turn]):
            problems.append(f"the norm does not fall then rise ({norm[0]:.4g} -> {norm[turn]:.4g} -> {norm[-1]:.4g})")
        details["score_lost"] = float(s[0] - s[turn])
        details["score_gained"] = float(s[-1] - s[turn])
    if problems:
        return "refuted", "; ".join(problems), details
    details["headroom"] = {"s4_rounding": (1 / s4_ratio) if s4_ratio > 0 else float("inf"),
                           "turn_from_ends": min(turn, N - turn)}
    return "verified", (f"numeric at every one of {N} steps: score {s[0]:.3g} -> {s[turn]:.3g} (turn at step {turn}, "
                        f"tau = {turn * lr_k:g}) -> {s[-1]:.3g}, norm {norm[0]:.3g} -> {norm[turn]:.3g} -> "
                        f"{norm[-1]:.3g}; S4 exact to {s4_ratio:.2g} x rounding; opposite moves only within "
                        f"S4's slack ({len(details['opposite_steps'])} steps)"), details


def _init(sign: float):
    def put(model, corpus) -> None:
        w, y = int(corpus.topic_words[WORD]), int(corpus.topic_labels[WORD])
        col = np.asarray(model.classifier["W"][:, y], dtype=np.float64)
        model.embeddings[w] = sign * PAPER_CLAIMS.suppression_alpha * col / np.linalg.norm(col)
    return put


@lru_cache(maxsize=None)
def suppression_run(sign: float, seed: int = 0) -> TrackedRun:
    cfg = preset_config("paper-fc")
    cfg = replace(cfg, train=replace(cfg.train, seed=seed))
    lr = PAPER_CLAIMS.suppression_lr
    return tracked_run(cfg, PAPER_CLAIMS.suppression_epochs, lr_v=lr, lr_k=lr, init=_init(sign),
                       freeze_nontopic=True)


def _statement(R: sp.Expr) -> str:
    return (r"A topic word whose embedding starts against its label loses score and norm together, turns at a "
            r"detected step $n^*$ strictly inside the run, then gains both to the end; at every step "
            r"$\Delta|v_t|^2 = R\,\Delta s_t + |\Delta v_t|^2$ (to rounding) with S4's $R = " + sp.latex(R)
            + r"$, and score and norm move oppositely only where $|R\,\Delta s_t| \le |\Delta v_t|^2$.")


_ASSUMPTIONS = (
    r"preset \texttt{paper-fc} (seed 0), topic word 0 (label $y$), keys 0, non-topic words held at score 0 and "
    r"embedding 0 (S4's hypotheses), " + f"{PAPER_CLAIMS.suppression_epochs} full-batch steps with "
    r"$\eta\eta_v = \eta\eta_k = " + f"{PAPER_CLAIMS.suppression_lr:g}" + r"$",
)


def _outcome(sign: float) -> Outcome:
    d = Derivation()
    d.eq("S4 (the reason)", r"\frac{d|v_t|^2}{d\tau}", sp.latex(promotion_ratio_stated()) + r"\,\frac{ds_t}{d\tau}")
    d.eq("One step, exactly (first-order part = S4 at the step's start)", r"\Delta|v_t|^2",
         r"R(s_t)\,\Delta s_t + |\Delta v_t|^2")
    run = suppression_run(sign)
    if not run.finite:
        return Outcome("error", "the run diverged", d.steps)
    lr = PAPER_CLAIMS.suppression_lr
    status, reason, details = suppression_verdict(run.s[:, WORD], run.v[:, WORD, :], float(run.topic_m[WORD]),
                                                  run.q_norm ** 2, lr, lr)
    details["route"] = "numeric: every step of the recorded trajectory, S4 to float64 rounding"
    details["alpha"] = PAPER_CLAIMS.suppression_alpha
    return Outcome(status, reason, d.steps, details)


@claim(
    "P3-suppression-promotion",
    "Mutual suppression then promotion on an actual trajectory (S4 as the reason)",
    kind="numeric",
    statement=_statement(promotion_ratio_stated()),
    assumptions=_ASSUMPTIONS + (r"$v_t(0) = -\alpha\,w_y/|w_y|$, $\alpha = " + f"{PAPER_CLAIMS.suppression_alpha:g}$",),
)
def p3_suppression_promotion() -> Outcome:
    return _outcome(-1.0)


@claim(
    "neg-suppression-aligned",
    "Control: an embedding that starts along its label's column shows no suppression",
    kind="numeric",
    expected="refuted",
    statement=_statement(promotion_ratio_stated()),
    assumptions=_ASSUMPTIONS + (r"its own run: $v_t(0) = +\alpha\,w_y/|w_y|$, $\alpha = "
                                + f"{PAPER_CLAIMS.suppression_alpha:g}$",),
)
def neg_suppression_aligned() -> Outcome:
    return _outcome(+1.0)
