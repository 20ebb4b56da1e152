r"""How fast the host is right now: a fixed probe timed at the start, between the parts and at the end
of ``attndyn bench --all`` (issue 13).

On a shared virtual machine the same code's wall time moves with the neighbours: on 2026-12-02 a
plain Python loop took 0.142 s at 20:11 UTC and 0.212 s at 19:59 on this 2-core machine, nothing of
ours running.  A wall-time budget then turns PASS or MISS with no change of code, so every
``bench --all`` run records the probe beside its figures, and its table prints the spread: a reader
can tell a slower tree from a slower host.

The probe is the minimum of ``REPEATS`` runs of each of two fixed workloads (CPU only, no numba,
~0.5 s in all):

* ``python_loop_s`` — ``LOOP`` integer additions in a Python ``for`` loop (the interpreter: figures,
  the training loop's bookkeeping);
* ``numpy_gather_s`` — ``GATHER_PASSES`` random gathers ``a[idx].sum()`` of ``GATHER_N`` float64 from
  a 16 MB table (memory latency and bandwidth past L2, as the kernels' gathers at N = 10⁶).

The minimum, not the median: it is the host's best speed in that moment, so a burst shows as
slower only when it lasts the whole probe.  The table is built with a fixed seed, so every probe
does the same work.
"""
from __future__ import annotations

import datetime
import time

import numpy as np

LOOP = 3_000_000
GATHER_N = 2_000_000
GATHER_PASSES = 5
REPEATS = 3


def _python_loop() -> float:
    t = time.perf_counter()
    s = 0
    for i in range(LOOP):
        s += i
    return time.perf_counter() - t


def _gather(a: np.ndarray, idx: np.ndarray) -> float:
    t = time.perf_counter()
    for _ in range(GATHER_PASSES):
        a[idx].sum()
    return time.perf_counter() - t


def probe(when: str) -> dict:
    """One probe: the fastest of ``REPEATS`` runs of each workload (module docstring), labelled ``when``."""
    rng = np.random.default_rng(0)
    a = rng.random(GATHER_N)
    idx = rng.integers(0, GATHER_N, GATHER_N)
    return {"when": when,
            "utc": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "python_loop_s": min(_python_loop() for _ in range(REPEATS)),
            "numpy_gather_s": min(_gather(a, idx) for _ in range(REPEATS))}


def spread(probes: list[dict]) -> dict | None:
    """Slowest over fastest of each workload across ``probes`` (1.0: the host's speed did not move);
    None without two probes."""
    if len(probes) < 2:
        return None
    out = {}
    for key in ("python_loop_s", "numpy_gather_s"):
        xs = [p[key] for p in probes]
        out[key] = {"min": min(xs), "max": max(xs), "ratio": max(xs) / min(xs)}
    return out


def line(probes: list[dict]) -> str:
    """One sentence for a table's header: the probe's range over the run."""
    s = spread(probes)
    if s is None:
        return "host speed probe: not recorded"
    py, ga = s["python_loop_s"], s["numpy_gather_s"]
    return (f"host speed probe ({len(probes)} times over the run; `numerics/experiments/hostspeed.py`): "
            f"Python loop {py['min']:.3f}–{py['max']:.3f} s ({py['ratio']:.2f}× spread), "
            f"NumPy gather {ga['min']:.3f}–{ga['max']:.3f} s ({ga['ratio']:.2f}×)")
