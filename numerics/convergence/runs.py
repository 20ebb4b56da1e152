"""The checker's flow runs: its save times (log-spaced to the horizon) and the reduced flow
with DOP853, falling back to LSODA when the flow is stiff.  Shared by the checker and the
hypothesis counterexamples (:mod:`attndyn.numerics.convergence.hypotheses`).
"""
from __future__ import annotations

from dataclasses import replace
import math
import time
from typing import Callable

import numpy as np

from attndyn.numerics.flow.results import FlowResult
from attndyn.numerics.flow.solvers import reduced_flow, stiff_reduced_flow, time_grid
from attndyn.numerics.flow.systems import ReducedSystem
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CONVERGENCE
from attndyn.proofs.status import FlowStatus

# --------------------------------------------------------------------------- the flow

def save_times(horizon: float, n_save: int) -> np.ndarray:
    """0, then ``n_save - 1`` log-spaced times from ``horizon * first_fraction`` to ``horizon``
    (:func:`attndyn.numerics.flow.solvers.time_grid` with the checker's settings)."""
    return time_grid(horizon, n_save, "log", first_fraction=CONVERGENCE.first_fraction, name="--horizon", min_n=3)


def budget() -> dict:
    """The checker's integration budgets, as recorded in its JSON (named settings)."""
    return {"dop853_max_steps": CONVERGENCE.dop853_max_steps, "lsoda_max_steps": CONVERGENCE.lsoda_max_steps,
            "max_seconds": CONVERGENCE.flow_max_seconds,
            "settings": "CONVERGENCE.dop853_max_steps, CONVERGENCE.lsoda_max_steps, CONVERGENCE.flow_max_seconds"}


def run_flow(system: ReducedSystem, t_eval: np.ndarray, stiff: bool = False,
             progress: Callable[[str, float, float], None] | None = None) -> tuple[FlowResult, str]:
    """The reduced flow at ``t_eval``: DOP853 (:func:`attndyn.numerics.flow.solvers.reduced_flow`) within
    ``CONVERGENCE.dop853_max_steps`` steps.  A stiff flow — the loss stays bounded away from
    0 (H-ach fails), so the directions across the loss valley relax at a fixed rate while
    the flow itself slows down like 1/tau — is integrated with LSODA instead: directly when
    ``stiff``, else when DOP853 exhausts its step budget.  Both share one wall-time budget,
    ``CONVERGENCE.flow_max_seconds``; LSODA has its own step budget ``CONVERGENCE.lsoda_max_steps``.
    A run that exhausts a budget has status ``budget`` ("undecided: budget exhausted").
    ``progress(solver, tau, tau_end)`` is called after each step.  Returns the result and the solver used."""
    end = time.monotonic() + CONVERGENCE.flow_max_seconds
    name = f"CONVERGENCE.flow_max_seconds = {CONVERGENCE.flow_max_seconds:g} s"
    res = None
    if not stiff:
        res = reduced_flow(system, t_eval, max_steps=CONVERGENCE.dop853_max_steps,
                           max_seconds=CONVERGENCE.flow_max_seconds, budget_name=name,
                           progress=None if progress is None else (lambda t, T: progress("DOP853", t, T)))
        if res.ok or res.status != FlowStatus.BUDGET or "step budget" not in res.message:
            return res, "DOP853"
    why = "expected stiff (a label is not achievable)" if res is None else f"stiff: DOP853 stopped ({res.message})"
    out = stiff_reduced_flow(system, t_eval, rtol=CONVERGENCE.lsoda_rtol, atol=CONVERGENCE.lsoda_atol,
                             max_steps=CONVERGENCE.lsoda_max_steps, max_seconds=max(0.0, end - time.monotonic()),
                             budget_name=name,
                             progress=None if progress is None else (lambda t, T: progress("LSODA", t, T)))
    if out.status == FlowStatus.BUDGET:  # the verdict's reason starts with what happened
        return replace(out, message=f"{out.message}; before that: {why}"), "LSODA"
    return replace(out, message=f"{why}; {out.message}"), "LSODA"


def flow_progress(enabled: bool):
    """A ``progress(solver, tau, tau_end)`` for :func:`run_flow` drawing a
    :class:`~attndyn.numerics.progress.Progress` in log-time: the flow slows down like 1/tau, so
    log(1 + tau) / log(1 + tau_end) is the fraction of the work that is done.  Returns
    ``(callback, close)``."""
    from attndyn.numerics.progress import Progress  # deferred: only the command line draws it

    bar = Progress(1000, "flow", unit="permille of log tau", enabled=enabled)
    steps = [0]

    def callback(solver: str, t: float, t_end: float) -> None:
        steps[0] += 1
        if steps[0] % 50:
            return
        done = int(1000 * math.log1p(max(t, 0.0)) / math.log1p(t_end)) if t_end > 0 else 1000
        bar.update(min(done, 1000), f"{solver} tau {t:.3g} of {t_end:.3g}, {steps[0]} steps")
    return callback, bar.close
