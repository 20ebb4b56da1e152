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


SYMBOLIC = SymbolicChecks()
NUMERIC = NumericTolerances()

# numba compilation flags: every @njit in numerics/ uses one of these two dicts.
# fastmath stays off so that float64 results are reproducible and comparable to
# the NumPy twins at 1e-12; cache=True keeps `attndyn verify` under its time budget.
NUMBA_FLAGS = {"cache": True, "fastmath": False, "nogil": True}
NUMBA_PARALLEL_FLAGS = {**NUMBA_FLAGS, "parallel": True}
# the per-row helpers of the K-wide kernels only (numerics/kernels/rows.py: the row dot product of
# lowrank.project), never code that merges across chunks or threads.  "reassoc" lets LLVM keep a dot
# product's partial sums in SIMD registers, "contract" fuses each multiply-add (issue 13: the scalar
# chain made `project` compute-bound, 3.4 ms CPU at SST-5 d_e 100 K 5; 1.35 ms with both flags, ~1.8
# with reassoc alone, 1 thread).  Still deterministic: each row's sum is computed by one thread, in
# the one order fixed when the helper is compiled (by the row length, not by the data, the chunks or
# the thread count), so results are bitwise the same for any number of threads; they differ from an
# in-order sum in the last bits only (and may differ between CPU models: the vector width).
NUMBA_ROW_REDUCTION_FLAGS = {**NUMBA_FLAGS, "fastmath": {"reassoc", "contract"}}
# the optimizer update kernels (numerics/kernels/optim.py): IEEE division (x/0 = inf or NaN, as in
# PyTorch, instead of a ZeroDivisionError check in every iteration), which lets LLVM vectorise
# their element loops; still no fastmath, so each element's arithmetic is the written one
NUMBA_IEEE_FLAGS = {**NUMBA_FLAGS, "error_model": "numpy"}
NUMBA_VECTOR_FLAGS = {**NUMBA_IEEE_FLAGS, "parallel": True}
# OpenMP wait policy of numba's thread pool, set by numerics/parallel.py unless the user set
# OMP_WAIT_POLICY or GOMP_SPINCOUNT.  PASSIVE: a waiting thread sleeps at once instead of
# spinning ~ms; spinning threads of several trainings on a shared machine starve each
# other's barriers (issue 13: 2 threads were 3-16x slower per epoch than 1 under load)
NUMBA_OMP_WAIT_POLICY = "PASSIVE"


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
    # Fast path: one exp per word, e_w = exp(s_w - max s), shared by all sentences.  A
    # sentence whose partition sum_w e_w falls below this floor (its words all score
    # ~575 below the top word) would lose precision to underflow, so the whole step is
    # then redone with a per-sentence shift: the same math, not a stabiliser.
    shared_exp_floor: float = 1e-250
    # train.kernel "auto" (a linear classifier with K < d_e) takes the K-wide low-rank kernels when
    # d_e >= lowrank_min_width_ratio * K (SST: d_e 100-200, K 2-5: ~3x per epoch) or when the V x d_e
    # float64 embedding table exceeds lowrank_min_table_bytes (out of cache: N = V = 1e6, d = 10, K = 4:
    # 386 vs 660 ms/epoch); in cache with d_e close to K (the paper: V = 5008, d = 10, K = 4, a 0.4 MB
    # table) the extra per-word projection pass costs more than it saves (1.27-1.36 vs 0.90 ms/epoch).
    # Measured with `attndyn bench --sizes paper,1e6`, idle, 2026-12-02.  Results agree to rounding.
    lowrank_min_width_ratio: int = 4
    lowrank_min_table_bytes: int = 4 << 20
    # the fused kernel (numerics/kernels/fused.py): the sentences are split into this many fixed
    # groups, each scattering into its own V x 8 accumulator (summed in group order), so the
    # result never depends on the thread count; 2 lets two threads share the sentence pass
    fused_groups: int = 2
    # ... and each group's sentences into blocks of this many: the softmax of a block runs as loops
    # across its sentences (SIMD code, fused.softmax_block) and its loss as one log of the product of
    # the partition sums (each in [1, K], K <= 7: below 2^180 for 64).  The block fixes that product's
    # grouping, so changing it changes the loss in its last bits only (the gradients not at all)
    fused_block: int = 64
    # train.kernel "auto" takes the fused step (where it applies) while its fused_groups accumulators of
    # V x 8 float64 fit in this many bytes (in cache; the paper: 2 x 5008 x 64 B = 0.64 MB) and d_e is
    # below lowrank_min_width_ratio * K: at the SST sizes (d_e 100-200) the fused step was slower than
    # lowrank.py (`python -m attndyn.numerics.experiments.kernelpaths sst5-tc --rounds 6 --steps 5
    # --threads 1`: 13.1 vs 9.4 ms; sst2-fc 12.7 vs 8.1 ms; load 2.0, 2026-12-02)
    fused_max_table_bytes: int = 4 << 20


@dataclass(frozen=True)
class TrainingChecks:
    """Tolerances of the training-kernel tests and claims (numerics/training/train.py, N4)."""

    fd_step: float = 1e-6  # central finite differences of the full model's loss
    fd_rtol: float = 1e-6  # ... agree with the kernel gradients to this (relative to the array's scale)
    symbolic_rtol: float = 1e-11  # N4: kernel vs lambdified S1 gradients (relative to the array's scale)
    symbolic_points: int = 5  # N4: random points per classifier
    progress_interval: float = 0.1  # seconds between progress-bar refreshes (at most 10 per second)
    snapshot_seconds: float = 10.0  # wall time between trajectory snapshots when an output dir is given
    unstable_factor: float = 100.0  # a loss above this times max(initial loss, 1) ends training as "unstable"
    # a loss whose rounding error eps * max|logit| exceeds this (nats) has lost its precision: the run ends
    # as "precision-lost" (float64: logits beyond ~4.5e12; float32: beyond ~8.4e3)
    loss_precision_atol: float = 1e-3
    # train.threads unset: below this many word occurrences per epoch run on 1 thread. At the paper's
    # size (84k occurrences, ~1.5 ms/epoch) 2 threads gain only ~1.16x idle but lose 1.1-1.4x beside two
    # CPU-bound processes (barrier waits on a descheduled thread); at 10^6 (21M) they gain ~1.8x idle.
    # Measured with `attndyn bench --stall` (issue 13). With the blocked fused step (~0.4 ms/epoch) 2 threads
    # are slower even idle: 0.65-0.98 vs 0.53-0.64 ms (`attndyn bench --all`, 2026-12-02 17:18 UTC).
    # Results never depend on the thread count.
    auto_parallel_min_occurrences: int = 1_000_000


KERNEL = KernelLayout()
TRAINING = TrainingChecks()


@dataclass(frozen=True)
class FlowSettings:
    """Gradient-flow integration (numerics/flow/) and the numeric claims N1, N2."""

    max_steps: int = 1_000_000  # DOP853 step budget: beyond it a run returns status "budget" (undecided)
    max_seconds: float = 600.0  # wall-time budget of one integration: beyond it status "budget" (undecided)
    max_events: int = 100_000  # switch budget (TL: a ReLU changing side or sliding along its kink)
    kink_max_trials: int = 20_000  # TL: mode assignments tried at a kink before giving up (failed)
    kink_rtol: float = 1e-9  # TL: sign tolerance of the one-sided rates dp/dt at a kink (relative)
    n_save: int = 200  # default number of save times
    log_first: float = 1e-3  # first nonzero save time of a log-spaced grid ...
    log_first_fraction: float = 1e-6  # ... at most this fraction of the horizon
    gd_etas: tuple[float, ...] = (0.2, 0.1, 0.05, 0.025)  # N2: GD step sizes
    gd_horizon: float = 40.0  # N2: fixed horizon T = n * eta
    n1_horizon: float = 1000.0  # N1: flow time of the paper-like reduced runs (scores grow by ~2-4)
    n1_min_score_change: float = 1.0  # N1: a run where no score moves this much tests nothing (error)
    claims_seed: int = 0  # N1, N2: seed of the paper-like reduced system
    fd_step: float = 1e-6  # central finite differences of the reduced / full flow loss (tests)
    fd_rtol: float = 1e-7  # ... agreement with the analytic gradient, relative to the array's scale


FLOW = FlowSettings()


@dataclass(frozen=True)
class SymbolicSampling:
    """Where the random points of the symbolic checks are drawn (proofs/claims/symbolic.py).

    Inner products come from random standard-normal vectors of ``vector_dim``
    components, so a point is always realisable; integers (the number ``m`` of
    non-topic words) are drawn in ``integer_range``; positive symbols (learning
    rates, partition sums) in ``positive_range``; real ones (scores) in ``real_range``.
    """

    vector_dim: int = 3
    integer_range: tuple[int, int] = (1, 40)
    positive_range: tuple[float, float] = (0.1, 3.0)
    real_range: tuple[float, float] = (-3.0, 3.0)
    explicit_dims: tuple[tuple[int, int], ...] = ((1, 2), (2, 2), (3, 1))  # S1: (d, m) in components
    explicit_classes: int = 3  # K of the concrete linear classifier of the numeric cross-checks
    mp_digits: int = 50  # mpmath precision of the large-score checks of the SEN curve
    sen_large_scores: tuple[float, ...] = (50.0, 300.0, 709.0, 800.0, 1400.0, 1e4)


SYMBOLIC_SAMPLING = SymbolicSampling()


@dataclass(frozen=True)
class ConvergenceChecks:
    """The convergence checker (numerics/convergence/hypotheses.py, numerics/convergence/checker.py,
    proofs/asymptotics.py) and its claims C0-C2."""

    # an LP optimum counts as positive when above lp_tol * max(1, scale), scale the
    # largest |(w_y - w_j).u| the box |u|_inf <= 1 allows (so the test is scale-free)
    lp_tol: float = 1e-9
    lp_rescale_above: float = 1e150  # a classifier with max |W| above this is scaled (exactly, by 2^-k) for the LPs
    kkt_tol: float = 1e-7  # max-margin QP: primal, dual and stationarity residuals (relative)
    horizon: float = 1e6  # flow time of the checker's reduced-flow run (tau, lr-scaled)
    n_save: int = 401  # log-spaced save times: 0, then horizon * first_fraction .. horizon
    first_fraction: float = 1e-14  # ... early enough to see the turning time of a suppression dip
    # a sample-to-sample decrease of s or |v| counts only when larger than this (relative to
    # max(1, |value|)): round-off of the integrator is far below, genuine dips (>= 1e-17 in
    # the paper's setting, where s starts at exactly 0) are far above the noise of a run that
    # does not move at all
    monotone_rtol: float = 1e-14
    certificate_rtol: float = 1e-12  # mu = u.v may dip by at most this (relative) to count as increasing
    fit_decades: float = 2.0  # growth laws are fitted on the last fit_decades decades of tau
    growth_rtol: float = 0.15  # fitted vs derived (first-order corrected) constant, relative
    floor_rtol: float = 1e-6  # loss floor: the flow's loss must stay >= floor * (1 - floor_rtol)
    suppression_refine: int = 200  # save times of the re-run that locates a turning time
    # a suppression dip: |v| falls below |v0| by more than this (relative) while s falls below s0;
    # the SEN identity locks the two, and |v| is the better-resolved of them near s0 = 0
    suppression_rtol: float = 1e-9
    # DOP853 step budget of the checker's run; a flow needing more is stiff (the loss stays
    # bounded away from 0, e.g. H-ach fails) and is integrated with LSODA instead
    dop853_max_steps: int = 2_000
    lsoda_max_steps: int = 200_000  # LSODA step budget of the checker's flow (status "budget" beyond)
    # wall-time budget of the checker's flow (DOP853 and the LSODA fallback together): a classifier
    # scaled by 1e6 or a horizon of 1e12 ends "undecided: budget exhausted" instead of running for minutes
    flow_max_seconds: float = 60.0
    lsoda_rtol: float = 1e-12  # LSODA keeps the SEN drift below NUMERIC.sen_flow_max at these
    lsoda_atol: float = 1e-14
    gd_epochs: int = 5000  # --confirm-gd: discrete GD epochs of the full model (the paper's run)
    gd_rtol: float = 0.05  # --confirm-gd: GD score/norm vs the reduced flow at the same tau


CONVERGENCE = ConvergenceChecks()


@dataclass(frozen=True)
class SearchSettings:
    """The counterexample search (numerics/search/space.py, numerics/search/driver.py,
    numerics/search_metrics.py)."""

    p_inside: float = 0.5  # outside search: each restricted dimension keeps its hypothesis with this probability
    sample_attempts: int = 1000  # draws per point index before the space counts as exhausted
    # SEN: a normalised drift max_tau |H - H(0)| / max(1, |H(0)|) above this is a candidate; DOP853's
    # own drift at the screening tolerances stays below ~1e-9 (measured on the inside space)
    sen_threshold: float = 1e-6
    screen_rtol: float = 1e-9  # DOP853 tolerances of the screening run
    screen_atol: float = 1e-12
    confirm_rtol: float = 1e-12  # ... and of the confirmation run (1000x tighter)
    confirm_atol: float = 1e-15
    # a flow violation is confirmed when the tight run's value stays within this fraction of
    # the screening value (numerical drift would shrink ~1000x with the tolerance)
    confirm_stable: float = 0.1
    # discrete GD: confirmation reruns with steps eta/2 and eta/4 at the same horizon; the
    # first-order (Richardson) extrapolation 2 d(eta/4) - d(eta/2) to eta -> 0 must stay above
    # the threshold (drift caused by the step alone shrinks like eta and extrapolates to ~0)
    gd_refine: tuple[int, ...] = (2, 4)
    gd_max_steps: int = 200_000  # a GD run longer than this (horizon / step) is refused
    max_steps: int = 5000  # DOP853 step budget of one search run (a chattering TL kink fails fast)
    eval_seconds: float = 20.0  # wall-time limit of one run: beyond it the run fails (status, not a hang)
    n_save: int = 60  # save times per run (log-spaced)
    trace_samples: int = 60  # samples of the trajectory kept in a case file (for its plot)
    convergence_n_save: int = 61  # save times of the checker's flow at a search point (log-spaced)
    convergence_confirm_horizon: float = 10.0  # confirmation: the checker again on a horizon this many times longer
    shrink_max_evals: int = 60  # evaluations a shrink may spend
    # a shrinking step is kept only if the violation stays above this multiple of the threshold,
    # so a shrunk case is not left balanced on the threshold (robust as a regression test)
    shrink_margin: float = 10.0
    max_cases: int = 12  # shrunk cases written per search (one per family of broken hypotheses)
    isolate_attempts: int = 3  # points from which one broken hypothesis is tried alone before giving up
    connect_timeout: float = 3.0  # seconds to reach a --scheduler (and for it to have a worker)
    inflight_per_worker: int = 2  # point tasks queued per worker (what a killed driver can lose)
    progress_interval: float = 0.2  # seconds between progress-bar redraws


SEARCH = SearchSettings()


@dataclass(frozen=True)
class ReproduceSettings:
    """``attndyn reproduce`` (numerics/reproduce.py): verdicts and figure layout."""

    # a run "converged" (to attending to the topic words) when its final training loss is at
    # most converged_loss and every topic word's mean attention weight over its training
    # sentences is at least converged_attention (the paper's runs end near loss 2e-3 and
    # topic attention ~0.9; uniform attention over m + 1 = 21 words would be ~0.05)
    converged_loss: float = 0.05
    converged_attention: float = 0.5
    sen_points: int = 40  # empirical points per word on a SEN plot (log-spaced records)
    curve_points: int = 400  # points of each closed-form curve
    sst_min_sentences: int = 5  # SST: words in fewer training sentences are left out (noise)
    sst_sen_top_k: int = 100  # SST: the SEN figure's words (the authors plot their top 100)
    sst_table_words: int = 20  # SST: the top-words table
    sst_named_words: tuple = ("powerful", "stupid", "solid", "suffers", "mess")  # the authors' examples
    png_dpi: int = 150
    # training-time target of `reproduce synthetic` (3 x 5000 epochs), checked by `attndyn bench`
    synthetic_seconds_target: float = 15.0


REPRODUCE = ReproduceSettings()


@dataclass(frozen=True)
class BenchSettings:
    """``attndyn bench`` (numerics/experiments/bench.py): sizes, repetitions, targets.  A benchmark, not a test."""

    warmup_epochs: int = 2  # epochs run (and discarded) before timing: compilation, caches, page faults
    rounds: int = 3  # sizes up to 10^5: every implementation measured this many times, in turn
    paper_epochs: int = 30  # timed epochs per implementation at the paper's size (median reported)
    # ... and below 10^6 at least this much timed wall time (epochs added up to max_timed_epochs): a 0.4 ms
    # kernel epoch is timed ~750 times, not 30, so that one burst of load from another job on this shared
    # machine moves its median no more than it moves PyTorch's (30 epochs of ~10 ms)
    min_timed_seconds: float = 0.3
    max_timed_epochs: int = 3000
    large_epochs: int = 5  # ... at N = V = 10^6 for the kernel
    large_slow_epochs: int = 3  # ... at 10^6 for the NumPy twin and PyTorch (seconds per epoch each)
    quick_paper_epochs: int = 10  # --quick
    quick_large_epochs: int = 2
    numpy_block: int = 65536  # NumPy twin: sentences per vectorised block (bounds its memory)
    torch_ratio_target: float = 25.0  # kernel >= 25x faster than PyTorch per epoch (paper size, issue 13)
    large_epoch_target: float = 0.45  # seconds per epoch at 10^6, float64 (issue 13)
    large_rss_target: float = 1.0e9  # bytes of peak resident memory at 10^6 (issue 13)
    floor_ratio_target: float = 1.3  # kernel epoch / measured memory floor at 10^6 (issue 13)
    scale_exponent_target: float = 1.1  # fitted exponent of epoch time in N = V (about 1 expected)
    # `attndyn bench --commands` (numerics/experiments/commandbench.py): wall-time budgets, warm cache
    reproduce_synthetic_seconds: float = 15.0  # `attndyn reproduce synthetic`, idle
    reproduce_synthetic_loaded_seconds: float = 25.0  # ... beside two CPU-bound processes
    reproduce_sst_seconds: float = 180.0  # `attndyn reproduce sst`, idle
    verify_seconds: float = 60.0  # `attndyn verify` (default claims)
    tests_seconds: float = 240.0  # `python -m pytest -q`, idle
    agreement_rtol: float = 1e-10  # twin / PyTorch vs kernel after one epoch (sanity of the comparison)
    worker_timeout: float = 1800.0  # seconds for one measurement subprocess before it is killed
    # `attndyn bench --stall` (numerics/experiments/stallbench.py, issue 13)
    stall_seconds: float = 20.0  # foreground time per (load, size): alternating threads=1 / default blocks
    stall_load_ratio_target: float = 1.10  # default / threads=1 ms per epoch at paper size, under load
    stall_large_speedup_target: float = 1.6  # threads=1 / default at N = V = 10^6, idle
    # `attndyn bench`: optimizer epochs side by side (numerics/experiments/optbench.py, issue 12)
    optimizer_ratio_target: float = 1.5  # Adam epoch / GD epoch, paper size and N = V = 10^6
    optimizer_rounds_paper: int = 30  # alternating (gd, momentum, adam) epochs timed at the paper's size
    optimizer_rounds_large: int = 4  # ... at N = V = 10^6


BENCH = BenchSettings()


@dataclass(frozen=True)
class OptimizerChecks:
    """Numeric confirmations of the optimizer derivations (``proofs/optimizers``, issue 12 §3).

    Trajectories of the reduced model are integrated with a fixed-step RK4 whose error is
    estimated by step doubling; a quantity is called *conserved* when its drift stays within
    ``rk4_safety`` times that estimate (plus ``SYMBOLIC.atol``-scale round-off), *not conserved*
    when it exceeds it.  Discrete-step orders are fitted on ``step_sizes`` (log-log slope).
    """

    rk4_steps: int = 600  # RK4 steps over the horizon (the error estimate uses half as many)
    characteristic_steps: int = 100  # RK4 steps of the characteristic integral H_1 (O4b)
    rk4_safety: float = 10.0
    roundoff: float = 1e-11  # relative float64 round-off allowed on top of the RK4 estimate
    momentum_mu: float = 0.5  # heavy-ball mass of the trajectory confirmation
    horizon: float = 3.0  # time horizon of the trajectory confirmations
    step_sizes: tuple[float, ...] = (0.04, 0.02, 0.01, 0.005)  # GD / SGD steps of the order fits
    first_order_slope: tuple[float, float] = (0.8, 1.2)  # a remainder O(eta^1) (relative to eta^2)
    second_order_slope: tuple[float, float] = (1.8, 2.2)  # a drift O(eta^2) over a fixed horizon


OPTIMIZERS = OptimizerChecks()


@dataclass(frozen=True)
class BudgetSettings:
    """The residual budget of H (``attndyn budget``, ``numerics/training/budget.py``).

    ``closure_rtol``: the budget closes for a topic word when
    ``|predicted - measured| <= closure_rtol * |measured|`` (issue 12: 10 %); the control with a
    source omitted is refuted when its gap exceeds the same bound. ``kernel_check_every``: epochs
    between comparisons of the derived step totals with the kernel's gradients;
    ``kernel_gap_max``: the largest relative gap accepted there (float64 round-off).
    ``slope_tol``: the finite-step drift at a fixed horizon must scale like eta^1 within this.
    """

    closure_rtol: float = 0.10
    kernel_check_every: int = 500
    kernel_gap_max: float = 1e-10
    slope_tol: float = 0.1
    sweep_lrs: tuple[float, ...] = (0.025, 0.05, 0.1, 0.2)


BUDGET = BudgetSettings()


@dataclass(frozen=True)
class PaperClaimSettings:
    """The paper's claims as claims (issue 8; numerics/claims/paper.py, sen_full.py, suppression.py):
    which runs decide them.  Thresholds are derived in the claims (rounding, step size), not set here."""

    seeds: tuple[int, ...] = (0, 1, 2)  # train.seed of the repeated runs (initialisation)
    capacity_epochs: int = 5000  # the paper's epochs: at 1000 FC > TC is not yet settled (seed 2)
    capacity_control_epochs: int = 50  # keys frozen: the scores cannot move, any epoch count shows it
    ablation_epochs: int = 1000  # the ablation presets' epochs overridden (the ordering is settled by then)
    sen_epochs: int = 300  # full-model SEN: steps per run (every step recorded)
    sen_rates: tuple[tuple[float, float], ...] = ((0.1, 0.1), (0.2, 0.05))  # (eta*eta_v, eta*eta_k)
    sen_control_seed: int = 3  # the control's own run
    rounding_factor: float = 16.0  # float64 rounding allowance per step: factor * eps * |terms|
    suppression_epochs: int = 150  # mutual suppression then promotion: steps of the constructed run (turn at 66)
    suppression_lr: float = 0.5  # eta*eta_v = eta*eta_k of that run: the turn comes within a few seconds
    suppression_alpha: float = 0.5  # |v_t(0)|: the topic word's embedding starts at -alpha * w_y/|w_y|


PAPER_CLAIMS = PaperClaimSettings()
