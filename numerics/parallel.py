r"""The numba thread pool: the wait policy attndyn sets for it, and what a run ended up with.

Issue 13.  numba's threading layer on this machine is OpenMP (GNU libgomp; TBB is not
installed).  With ``OMP_WAIT_POLICY`` unset, libgomp lets a thread that waits -- a worker
between parallel regions, the master at a region's closing barrier -- *spin* for
``GOMP_SPINCOUNT`` = 300 000 iterations (milliseconds) before it sleeps.  An epoch of the
paper's problem is 2-3 parallel regions of a few hundred microseconds with Python work
in between, so its threads spin most of the time.  Alone that costs nothing; but when
several such processes share 2 cores, the spinning threads take the time slices that the
*other* processes' threads need to reach their barriers, and every region waits for the
scheduler: at the paper's size 2 threads ran 3-16x slower per epoch than 1 thread, and
burnt ~10x the CPU time (``attndyn bench --stall``,
:mod:`attndyn.numerics.experiments.stallbench`).

The package therefore asks for ``OMP_WAIT_POLICY=PASSIVE`` (a waiting thread sleeps at
once) -- in ``os.environ``, before numba loads its OpenMP pool (:func:`configure`, run
when :mod:`attndyn.numerics` is imported).  A user's own ``OMP_WAIT_POLICY`` or
``GOMP_SPINCOUNT`` is left alone.  Child processes inherit the setting.
:func:`threading_info` reports the layer, thread count and wait policy a run used
(``summary.json`` records it).
"""
from __future__ import annotations

import os

from attndyn.proofs.settings import NUMBA_OMP_WAIT_POLICY

_WAIT_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")
_source = None  # how the wait policy was decided (set by configure)


def _openmp_loaded() -> bool:
    """Whether an OpenMP runtime is already mapped into this process (then it has read its env)."""
    try:
        with open("/proc/self/maps") as f:
            return any(lib in line for line in f for lib in ("libgomp", "libiomp", "libomp."))
    except OSError:
        return False


def configure() -> str:
    """Set ``OMP_WAIT_POLICY`` to ``attndyn.proofs.settings.NUMBA_OMP_WAIT_POLICY`` unless the user chose
    a wait policy; must run before numba starts its OpenMP pool.  Returns how it was decided."""
    global _source
    if _source is None:
        if any(k in os.environ for k in _WAIT_VARS):
            _source = "environment"
        elif _openmp_loaded():
            _source = "unset (an OpenMP runtime was loaded before attndyn)"
        else:
            os.environ["OMP_WAIT_POLICY"] = NUMBA_OMP_WAIT_POLICY
            _source = "attndyn"
    return _source


def threading_info() -> dict:
    """numba's threading layer (``omp``, ``tbb`` or ``workqueue``), its thread counts and the
    OpenMP wait policy, JSON-ready.  Starts numba's pool if it is not running yet."""
    import numba  # deferred: `import attndyn.numerics` (and `attndyn --help`) stays free of numba

    threads = numba.get_num_threads()  # launches the pool: the layer is known from here on
    return {"layer": numba.threading_layer(), "threads": threads,
            "default_threads": numba.config.NUMBA_NUM_THREADS,
            "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
            "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
            "wait_policy_source": configure()}
