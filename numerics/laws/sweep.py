"""Many models at once: :func:`attndyn.proofs.laws.run_laws` over a grid of (named model, d),
in this process or on dask.distributed — the same executors as the counterexample search
(:func:`attndyn.numerics.search.pools.connect`: ``workers = 1`` in-process, a LocalCluster of
``workers`` processes, or an existing scheduler).

Every (model, d) is an independent exact computation with its own seed, so the results do not
depend on the executor or on completion order; they are returned in grid order.  A task that
dies (a worker killed) is reported as an ``error`` row instead of stopping the sweep.
"""
from __future__ import annotations

import time

from attndyn.numerics.progress import Progress
from attndyn.numerics.search.pools import connect
from attndyn.proofs.errors import UsageError
from attndyn.proofs.laws.names import NAMED


def parse_grid(models: str, dims: str) -> list[tuple[str, int]]:
    """``models``: ``all`` or a comma list of named models; ``dims``: a comma list of d ≥ 1.
    UsageError naming the option otherwise."""
    names = list(NAMED) if models.strip() == "all" else [m.strip() for m in models.split(",") if m.strip()]
    if not names:
        raise UsageError("--sweep: expected 'all' or a comma list of model names")
    unknown = [m for m in names if m not in NAMED]
    if unknown:
        raise UsageError(f"--sweep: unknown model(s) {', '.join(unknown)} (expected 'all' or some of "
                         f"{', '.join(NAMED)})")
    try:
        ds = [int(x) for x in dims.split(",") if x.strip()]
    except ValueError:
        raise UsageError(f"--dims: expected a comma list of integers >= 1, got {dims!r}") from None
    if not ds or min(ds) < 1:
        raise UsageError(f"--dims: expected a comma list of integers >= 1, got {dims!r}")
    return [(m, d) for m in names for d in ds]


def one_model(name: str, d: int, degree: int, seed: int) -> dict:
    """Run one named model (on whichever worker) and return plain data (picklable, JSON-ready)."""
    from attndyn.proofs.laws.run import run_laws  # deferred: runs on the worker; flint/SymPy load there
    from attndyn.proofs.laws.spec import named_model  # deferred: as above

    t0 = time.perf_counter()
    r = run_laws(named_model(name, d=d), degree, seed=seed)
    r.model = f"{name} d={d}"
    return {"model": r.model, "row": r.row(), "verdict": r.verdict(), "complete": bool(r.complete),
            "result": r.to_dict(), "seconds": round(time.perf_counter() - t0, 3)}


def sweep(grid: list[tuple[str, int]], degree: int, *, workers: int = 1, scheduler: str | None = None,
          seed: int = 0, progress: bool = True) -> list[dict]:
    """:func:`one_model` for every (name, d) of ``grid``; results in grid order."""
    if workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {workers}")
    pool = connect(workers, scheduler)
    out: list[dict | None] = [None] * len(grid)
    bar = Progress(len(grid), "laws sweep", unit="models", enabled=progress)
    interrupted = False
    try:
        for i, (name, d) in enumerate(grid):
            pool.submit(i, one_model, name, d, degree, seed)
        done = 0
        while pool.pending():
            i, res = pool.next()
            name, d = grid[i]
            if not isinstance(res, dict) or "infrastructure_error" in res or "row" not in res:
                why = res.get("infrastructure_error") if isinstance(res, dict) else f"{type(res).__name__}: {res}"
                res = {"model": f"{name} d={d}", "error": why, "complete": False}
            out[i] = res
            done += 1
            bar.update(done, postfix=res["model"])
    except KeyboardInterrupt:
        interrupted = True
        raise
    finally:
        bar.close()
        pool.close(interrupted=interrupted)
    return out  # type: ignore[return-value]


def sweep_table(rows: list[dict]) -> str:
    """The README's markdown table of a sweep (error rows say why)."""
    from attndyn.proofs.laws.run import table  # deferred: the table header lives with LawsResult.row

    head = table([])
    lines = [head]
    for r in rows:
        lines.append(r["row"] if "row" in r else f"| {r['model']} | error: {r['error']} |||||||")
    return "\n".join(lines)
