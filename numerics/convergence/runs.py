"""The checker's flow runs: its save times (log-spaced to the horizon) and the reduced flow
with DOP853, falling back to LSODA when the flow is stiff.  Shared by the checker and the
hypothesis counterexamples (:mod:`attndyn.numerics.convergence.hypotheses`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from attndyn.numerics.flow.results import FlowResult
from attndyn.numerics.flow.solvers import reduced_flow, stiff_reduced_flow, time_grid
from attndyn.numerics.flow.systems import ReducedSystem
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CONVERGENCE

# --------------------------------------------------------------------------- the flow

def save_times(horizon: float, n_save: int) -> np.ndarray:
    """0, then ``n_save - 1`` log-spaced times from ``horizon * first_fraction`` to ``horizon``
    (:func:`attndyn.numerics.flow.solvers.time_grid` with the checker's settings)."""
    return time_grid(horizon, n_save, "log", first_fraction=CONVERGENCE.first_fraction, name="--horizon", min_n=3)


def run_flow(system: ReducedSystem, t_eval: np.ndarray, stiff: bool = False) -> tuple[FlowResult, str]:
    """The reduced flow at ``t_eval``: DOP853 (:func:`attndyn.numerics.flow.solvers.reduced_flow`) within
    ``CONVERGENCE.dop853_max_steps`` steps.  A stiff flow — the loss stays bounded away from
    0 (H-ach fails), so the directions across the loss valley relax at a fixed rate while
    the flow itself slows down like 1/tau — is integrated with LSODA instead: directly when
    ``stiff``, else when DOP853 exhausts its budget.  Returns the result and the solver used."""
    res = None
    if not stiff:
        res = reduced_flow(system, t_eval, max_steps=CONVERGENCE.dop853_max_steps)
        if res.ok or "step budget" not in res.message:
            return res, "DOP853"
    why = "expected stiff (a label is not achievable)" if res is None else f"stiff: DOP853 stopped ({res.message})"
    out = stiff_reduced_flow(system, t_eval, rtol=CONVERGENCE.lsoda_rtol, atol=CONVERGENCE.lsoda_atol)
    return replace(out, message=f"{why}; {out.message}"), "LSODA"
