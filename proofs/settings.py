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


@dataclass(frozen=True)
class CorpusChecks:
    """Validation tolerances of corpus configurations (numerics/corpus.py)."""

    # topic_probs and split fractions must sum to 1 within this (float round-off of
    # hand-written fractions such as 0.8 + 0.01 + 0.19, nothing more)
    prob_sum_atol: float = 1e-9


CORPUS = CorpusChecks()


@dataclass(frozen=True)
class ReportSettings:
    """LaTeX report: compilation limits and what counts as text running off the page."""

    compile_timeout: float = 120.0  # seconds for latexmk (or each pdflatex pass) before giving up
    overfull_max_pt: float = 5.0  # an "Overfull \hbox" wider than this is a layout defect (tests)
    max_terms: int = 400  # a displayed expression longer than this many top-level terms is cut
    detail_chars: int = 400  # a details value longer than this is shortened in the report
    traceback_lines: int = 12  # last lines of an error's traceback shown in the report


REPORT = ReportSettings()


@dataclass(frozen=True)
class KernelLayout:
    """How the training kernels (numerics/kernels_*.py) split their parallel work.

    Sentences are processed in fixed chunks of ``sentence_chunk`` and words in
    fixed chunks of ``word_chunk``; every chunk sums into its own buffer and the
    buffers are merged in chunk order.  The chunks do not depend on the thread
    count, so results are bitwise identical for any number of threads; changing
    these sizes changes the summation order (last bits only).
    """

    sentence_chunk: int = 256
    word_chunk: int = 512


@dataclass(frozen=True)
class TrainingChecks:
    """Tolerances of the training-kernel tests and claims (numerics/train.py, N4)."""

    fd_step: float = 1e-6  # central finite differences of the full model's loss
    fd_rtol: float = 1e-6  # ... agree with the kernel gradients to this (relative to the array's scale)
    symbolic_rtol: float = 1e-11  # N4: kernel vs lambdified S1 gradients (relative to the array's scale)
    symbolic_points: int = 5  # N4: random points per classifier
    progress_interval: float = 0.1  # seconds between progress-bar refreshes (at most 10 per second)
    snapshot_seconds: float = 10.0  # wall time between trajectory snapshots when an output dir is given


KERNEL = KernelLayout()
TRAINING = TrainingChecks()


@dataclass(frozen=True)
class FlowSettings:
    """Gradient-flow integration (numerics/flow.py) and the numeric claims N1, N2."""

    max_steps: int = 1_000_000  # DOP853 step budget: beyond it a run returns status "failed"
    n_save: int = 200  # default number of save times
    log_first: float = 1e-3  # first nonzero save time of a log-spaced grid ...
    log_first_fraction: float = 1e-6  # ... at most this fraction of the horizon
    gd_etas: tuple[float, ...] = (0.2, 0.1, 0.05, 0.025)  # N2: GD step sizes
    gd_horizon: float = 40.0  # N2: fixed horizon T = n * eta
    n1_horizon: float = 400.0  # N1: flow time of the paper-like reduced runs
    fd_step: float = 1e-6  # central finite differences of the reduced / full flow loss (tests)
    fd_rtol: float = 1e-7  # ... agreement with the analytic gradient, relative to the array's scale


FLOW = FlowSettings()
