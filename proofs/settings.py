"""Every tolerance, sample count and numba flag of attndyn, in one place.

Nothing else in the toolkit hard-codes a tolerance: a verifier that needs one
imports it from here, and the LaTeX report quotes the same numbers.
This module imports nothing heavy, so any part of the toolkit may use it.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class SymbolicChecks:
    """How each exact (SymPy) result is confirmed numerically.

    An exact identity ``expr == 0`` is also evaluated (lambdify, float64) at
    ``points`` random points; it passes when every ``|expr| <= atol + rtol * scale``
    where ``scale`` is the magnitude of the terms being compared.
    """

    points: int = 20
    seed: int = 20210503  # ICLR 2021 opening day: any fixed value works, this one is memorable
    rtol: float = 1e-9
    atol: float = 1e-12
    # a refuted identity must be visibly nonzero at some point, not merely above round-off
    refute_min: float = 1e-6


@dataclass(frozen=True)
class NumericTolerances:
    """Pass/fail thresholds of the numeric claims (issue: numerics)."""

    flow_rtol: float = 1e-11  # DOP853 relative tolerance for gradient-flow integration
    flow_atol: float = 1e-13
    sen_flow_max: float = 1e-8  # N1: max |H(t)-H(0)| / max(1, |H|) on the reduced flow
    gd_slope_range: tuple[float, float] = (0.8, 1.2)  # N2: fitted log-log slope of drift vs step
    sen_paper_max: float = 0.05  # N3: max | |q||v| - curve | in the paper's synthetic run
    kernel_rtol: float = 1e-12  # kernel vs NumPy twin, float64
    negative_factor: float = 10.0  # neg-trainable-query: residual must exceed this x N3's


SYMBOLIC = SymbolicChecks()
NUMERIC = NumericTolerances()

# numba compilation flags: every @njit in numerics/ uses one of these two dicts.
# fastmath stays off so that float64 results are reproducible and comparable to
# the NumPy twins at 1e-12; cache=True keeps `attndyn verify` under its time budget.
NUMBA_FLAGS = {"cache": True, "fastmath": False, "nogil": True}
NUMBA_PARALLEL_FLAGS = {**NUMBA_FLAGS, "parallel": True}
