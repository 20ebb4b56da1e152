"""The claims of ``attndyn verify`` / ``attndyn report`` on worker processes (``--workers N``; issue 13).

Each claim is a deterministic function of its own inputs (fixed seeds, fixed reduction order in
the kernels), so claims can run side by side: :func:`run_claims` queues them all on a
:class:`concurrent.futures.ProcessPoolExecutor` of ``N`` processes started with the *spawn* context
(numba's OpenMP pool and ``fork`` do not mix).  A worker looks its claim up by id in the same
registry (:func:`attndyn.reports.cli.assembly.select`), runs it with
:func:`attndyn.proofs.claims.registry.run_claim` and sends the :class:`Outcome` back pickled; this
process pairs it with its own :class:`Claim`, so a result is the serial path's result (only its
seconds differ; ``tests/test_claimpool.py`` compares the JSON).

* Each worker runs numba with one thread: N workers then use N cores, and no worker's parallel
  region waits at a barrier for a thread the other worker's process has descheduled (the stall of
  issue 13).  The kernels give the same bits for any thread count.
* Claims defined in one module run as one task, in order, on one worker: they share that module's
  caches (a trained run, a symbolic derivation), which a second process would compute again.
* Order: longest expected task first (:data:`CLAIM_SECONDS`), so that the workers finish together
  instead of one of them starting the longest task last.  A wrong estimate costs wall time only.
* Each row is printed as its claim finishes (so rows come in completion order); the results are
  returned in the registry's order, which is the order of ``verify.json`` and of the report.
* With a report, each worker also draws its claim's figures into the report directory, and this
  process builds the report's other sections (the counterexample figures) while the claims run:
  the drawing, ~15 s of one core, overlaps the claims instead of following them.
* A worker that dies (killed, out of memory) breaks the pool: the claims it had in flight, and
  those not yet started, become ``error`` results naming the cause; verify then exits 1 as for
  any claim not as expected.  Ctrl-C terminates the workers at once and re-raises (the CLI prints one line,
  exit 130).
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
import multiprocessing
from pathlib import Path
import time
from typing import Callable, Sequence

# the same rule as reproduce's runs: None -> one per core, never more than there are tasks
from attndyn.numerics.experiments.runpool import ignore_sigint, resolve_workers, terminate  # noqa: F401 - resolve_workers re-exported
from attndyn.proofs.claims.registry import Claim, ClaimResult, Outcome

# Seconds each claim took in `attndyn verify --no-report --workers 1 --json F` (one process, registry
# order, so a claim after the first of its module pays no shared cost; idle 2-core machine,
# 2026-12-02): the claims over 0.4 s; the rest count as DEFAULT_SECONDS, a slow claim not listed as
# SLOW_SECONDS.  Used ONLY to order the tasks longest first; a wrong estimate costs wall time only.
CLAIM_SECONDS = {
    "neg-trainable-query": 11.2, "N3-sen-paper": 8.2, "N1-sen-flow": 4.6, "N4-kernel-vs-symbolic": 3.5,
    "S1-gradients": 2.3, "laws-moving-words-d1": 2.2, "N7-budget-eta-scaling": 2.2, "N2-sen-gd-order": 1.8,
    "laws-flow-paper-reduced-d3": 1.8, "neg-convergence-wrong-expectation": 1.7, "O1-momentum-sen": 1.5,
    "C2-hypothesis-needed": 1.2, "S5-fixed-linear-descent": 1.1, "O2-sgd-epoch-drift": 1.0,
    "laws-calibration-relu-333": 0.9, "O1b-heavy-ball-drift": 0.8, "laws-paper-reduced-d4": 0.8,
    "laws-linear-classifier-d3": 0.7, "laws-key-projection-d2": 0.7, "C0-asymptotics": 0.7,
    "S2-sen-identity": 0.7,
}
DEFAULT_SECONDS = 0.3
SLOW_SECONDS = 30.0


def expected_seconds(c: Claim) -> float:
    return CLAIM_SECONDS.get(c.id, SLOW_SECONDS if c.slow else DEFAULT_SECONDS)


@dataclass(frozen=True)
class PoolRun:
    """What :func:`run_claims` gives back: the results in the claims' order, and the report figure
    files the workers drew (resolved paths; ``render`` includes them without drawing again)."""
    results: list[ClaimResult]
    drawn: frozenset[Path]


def run_claims(claims: Sequence[Claim], workers: int, *, on_result: Callable[[ClaimResult], None],
               on_tick: Callable[[list[str]], None] = lambda running: None,
               figures_to: Path | None = None, meanwhile: Callable[[], None] = lambda: None) -> PoolRun:
    """Run ``claims`` on ``workers`` spawned processes; ``on_result`` is called in this process as
    each finishes, ``on_tick`` with the ids in flight about once a second (progress).

    ``figures_to``: the report directory; each worker then draws its claim's figures there
    (:func:`attndyn.reports.latex.document.draw_figures`, under the claim's place in ``claims``),
    so that drawing overlaps the claims still running.  ``meanwhile`` runs in this process once
    every claim is queued (``verify`` builds the report's extra sections there: their figures are
    drawn while the workers run claims); an exception from it stops the workers and propagates."""
    from attndyn.reports.latex.document import claim_tag  # deferred: the LaTeX layer loads on use

    groups = claim_groups(claims)
    results: list[ClaimResult | None] = [None] * len(claims)
    drawn: set[Path] = set()
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker)
    try:
        t0 = time.perf_counter()
        # all queued at once, longest first: the executor hands them out in this order
        futures = {pool.submit(_work, [(claims[k].id, claim_tag(k + 1)) for k in g], figures_to): g for g in groups}
        meanwhile()
        pending = set(futures)
        while pending:
            on_tick([claims[futures[f][0]].id + ("…" if len(futures[f]) > 1 else "")
                     for f in futures if f in pending and f.running()][:workers])
            done, pending = wait(pending, timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: groups.index(futures[f])):
                group = futures[fut]
                try:
                    got = fut.result()
                except BrokenProcessPool as exc:
                    got = [(_died(exc), time.perf_counter() - t0, frozenset())] * len(group)
                for k, (outcome, seconds, figs) in zip(group, got):
                    drawn |= figs
                    results[k] = ClaimResult(claims[k], outcome, seconds)
                    on_result(results[k])
    except BaseException:  # Ctrl-C (or anything else): no worker may outlive us
        terminate(pool)
        raise
    pool.shutdown(wait=True)
    return PoolRun(results, frozenset(drawn))  # type: ignore[arg-type]


def claim_groups(claims: Sequence[Claim]) -> list[list[int]]:
    """The claims' indices grouped by the module that defines each claim (claims of one module share
    its caches: a trained run, a derivation, so they run on one worker, in ``claims``' order), the
    groups longest expected first (:data:`CLAIM_SECONDS`; stable on ties)."""
    by_module: dict[str, list[int]] = {}
    for k, c in enumerate(claims):
        by_module.setdefault(getattr(c.run, "__module__", None) or c.id, []).append(k)
    groups = list(by_module.values())
    return sorted(groups, key=lambda g: -sum(expected_seconds(claims[k]) for k in g))


def _died(exc: BaseException) -> Outcome:
    return Outcome("error", f"the worker process running this claim ended abruptly ({type(exc).__name__}: {exc})",
                   details={"worker_died": True})


# --------------------------------------------------------------------------- worker side

def _init_worker() -> None:
    ignore_sigint()
    import numba  # deferred: the worker's numba, one thread (see the module docstring)

    numba.set_num_threads(1)


def _work(group: list[tuple[str, str]], figures_to: Path | None) -> list[tuple[Outcome, float, frozenset[Path]]]:
    """Run the claims ``(id, figure tag)`` of ``group`` in order; each one's outcome, seconds and the
    figure files drawn for it."""
    from attndyn.proofs.claims.registry import run_claim  # deferred: imported in the worker
    from attndyn.reports.cli.assembly import select  # deferred: the registry loads in the worker
    from attndyn.reports.latex.document import draw_figures  # deferred: like the registry

    out = []
    for claim_id, tag in group:
        (c,) = select("all", [claim_id])  # a claim named by id runs even when marked slow
        r = run_claim(c)
        drawn = draw_figures(r.outcome.figures, figures_to, tag) if figures_to is not None else frozenset()
        out.append((r.outcome, r.seconds, drawn))
    return out
