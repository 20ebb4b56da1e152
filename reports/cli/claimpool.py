"""The claims of ``attndyn verify`` / ``attndyn report`` on worker processes (``--workers N``; issue 13).

Each claim is a deterministic function of its own inputs (fixed seeds, fixed reduction order in
the kernels), so claims can run side by side: :func:`run_claims` keeps at most ``N`` of them in
flight on a :class:`concurrent.futures.ProcessPoolExecutor` started with the *spawn* context
(numba's OpenMP pool and ``fork`` do not mix).  A worker looks its claim up by id in the same
registry (:func:`attndyn.reports.cli.assembly.select`), runs it with
:func:`attndyn.proofs.claims.registry.run_claim` and sends the :class:`Outcome` back pickled; this
process pairs it with its own :class:`Claim`, so a result is the serial path's result (only its
seconds differ; ``tests/reports/test_claimpool.py`` compares the JSON).

* Each worker runs numba with one thread: N workers then use N cores, and no worker's parallel
  region waits at a barrier for a thread the other worker's process has descheduled (the stall of
  issue 13).  The kernels give the same bits for any thread count.
* Order: longest expected claim first (:data:`CLAIM_SECONDS`), so that the workers finish together
  instead of one of them starting the longest claim last.  A wrong estimate costs wall time only.
* Each row is printed as its claim finishes (so rows come in completion order); the results are
  returned in the registry's order, which is the order of ``verify.json`` and of the report.
* A worker that dies (killed, out of memory) turns the claims it had in flight, and those not
  yet started, into ``error`` results naming the cause; verify then exits 1 as for any claim not
  as expected.  Ctrl-C terminates the workers at once and re-raises (the CLI prints one line,
  exit 130).
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
import multiprocessing
import os
import time
from typing import Callable, Sequence

from attndyn.numerics.experiments.runpool import ignore_sigint, terminate
from attndyn.proofs.claims.registry import Claim, ClaimResult, Outcome
from attndyn.proofs.errors import UsageError

# Seconds each claim took in `attndyn verify --no-report --json F` (1 process, idle 2-core machine,
# 2026-12-02) — the claims over 0.4 s; the rest count as DEFAULT_SECONDS, a slow claim not listed as
# SLOW_SECONDS.  Used ONLY to order the claims longest first.
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


def resolve_workers(workers: int | None, claims: int) -> int:
    """``workers`` (an integer >= 1), or None -> one per core; never more than there are claims."""
    if workers is None:
        workers = os.cpu_count() or 1
    elif isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {workers!r}")
    return max(1, min(workers, claims))


def expected_seconds(c: Claim) -> float:
    return CLAIM_SECONDS.get(c.id, SLOW_SECONDS if c.slow else DEFAULT_SECONDS)


def run_claims(claims: Sequence[Claim], workers: int, *, on_result: Callable[[ClaimResult], None],
               on_tick: Callable[[list[str]], None] = lambda running: None) -> list[ClaimResult]:
    """Run ``claims`` on ``workers`` spawned processes; ``on_result`` is called in this process as
    each finishes, ``on_tick`` with the ids in flight about once a second (progress).  The results
    in ``claims``' order."""
    queue = sorted(range(len(claims)), key=lambda k: -expected_seconds(claims[k]))  # stable on ties
    results: list[ClaimResult | None] = [None] * len(claims)
    inflight: dict = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                               initializer=_init_worker)
    try:
        while queue or inflight:
            while queue and len(inflight) < workers:
                k = queue.pop(0)
                inflight[pool.submit(_work, claims[k].id)] = (k, time.perf_counter())
            on_tick([claims[k].id for k, _ in inflight.values()])
            done, _ = wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)
            for fut in done:
                k, t0 = inflight.pop(fut)
                try:
                    outcome, seconds = fut.result()
                except BrokenProcessPool as exc:
                    outcome, seconds = _died(exc), time.perf_counter() - t0
                results[k] = ClaimResult(claims[k], outcome, seconds)
                on_result(results[k])
            if any(r is not None and r.outcome.details.get("worker_died") for r in results):
                # the pool cannot take more work: what was not started gets the same error
                for k in queue:
                    results[k] = ClaimResult(claims[k], _died(None), 0.0)
                    on_result(results[k])
                queue.clear()
    except BaseException:  # Ctrl-C (or anything else): no worker may outlive us
        terminate(pool)
        raise
    pool.shutdown(wait=True)
    return results  # type: ignore[return-value]


def _died(exc: BaseException | None) -> Outcome:
    why = f"{type(exc).__name__}: {exc}" if exc is not None else "not started: an earlier worker died"
    return Outcome("error", f"the worker process running this claim ended abruptly ({why})",
                   details={"worker_died": True})


# --------------------------------------------------------------------------- worker side

def _init_worker() -> None:
    ignore_sigint()
    import numba  # deferred: the worker's numba, one thread (see the module docstring)

    numba.set_num_threads(1)


def _work(claim_id: str) -> tuple[Outcome, float]:
    from attndyn.proofs.claims.registry import run_claim  # deferred: imported in the worker
    from attndyn.reports.cli.assembly import select  # deferred: the registry loads in the worker

    (c,) = select("all", [claim_id])  # a claim named by id runs even when marked slow
    r = run_claim(c)
    return r.outcome, r.seconds
