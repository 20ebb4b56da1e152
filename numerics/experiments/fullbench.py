r"""``attndyn bench --all``: every measurement of issue 13 in one run, one JSON, one table.

The parts are the benchmarks the other ``bench`` modes run alone, called one after another in
this process so that they share one machine state, one date and one load note:

1. kernel epochs at the paper's size and at N = V = 10^6 beside the NumPy twin and PyTorch, the
   memory and arithmetic floors, the scale curve N = V in {1e4, 1e5, 1e6, 4e6}, and the training
   of ``reproduce synthetic`` (:func:`attndyn.numerics.experiments.bench.run_bench`);
2. Adam and momentum epochs against gradient descent (:mod:`.optbench`);
3. threads under load: ``threads=1`` against the default beside background load the bench starts
   itself (:mod:`.stallbench`);
4. whole commands against their wall-time budgets, the test suite included (:mod:`.commandbench`).

A fixed host-speed probe (:mod:`.hostspeed`) runs at the start and after each part; the table's
header prints its spread over the run.

``load = "hogs"`` runs parts 1 and 2 beside two CPU-bound processes started here (the bench's
own load); parts 3 and 4 start their own loads and are then left out, as nesting loads would
measure neither.

Every target of every part goes into one list (name, target, measured, PASS/MISS/n/a), and
:func:`markdown` renders that list with the date, machine and load averages as the table the
README's performance section shows (``attndyn bench --table FILE`` prints it from a saved run).
"""
from __future__ import annotations

import datetime
import os
from typing import Callable, Sequence

from attndyn.numerics.experiments import hostspeed
from attndyn.proofs.errors import UsageError

LOADS = ("idle", "hogs")


def _load_average() -> float | None:
    return os.getloadavg()[0] if hasattr(os, "getloadavg") else None


def stall_targets(rows: Sequence[dict]) -> list[dict]:
    """The stall rows that carry a target, in the bench's common target form."""
    out = []
    for r in rows:
        t = r.get("target")
        if not t:
            continue
        measured = t["measured"]
        # the ratio is the median of the pairs' ratios (stallbench.measure), not the ratio of the two medians
        pairs = f"median of {r['blocks']} paired blocks; " if "ratio_estimate" in r else ""
        text = (f"{measured:.2f}x ({r['size']}, {r['load']}: {pairs}threads=1 {r['ms_per_epoch_1']:.3g} ms, "
                f"default {r['ms_per_epoch_default']:.3g} ms)")
        out.append({"name": t["target"], "target": None, "measured": measured, "measured_text": text,
                    "verdict": t["verdict"]})
    return out


def _typed(argv: str) -> str:
    """A command as a user types it: ``-m attndyn.reports.cli X`` is ``attndyn X``, ``--out OUT`` dropped."""
    text = argv.replace("-m attndyn.reports.cli", "attndyn", 1).replace(" --out OUT", "").replace(" --report OUT", "")
    return text.replace("-m pytest", "python -m pytest", 1) if text.startswith("-m pytest") else text


def command_targets(rows: Sequence[dict]) -> list[dict]:
    """One target per timed command: its wall time against its budget."""
    return [{"name": f"`{_typed(r['argv'])}` ({r['load']}) <= {r['budget_seconds']:g} s", "target": r["budget_seconds"],
             "measured": r["seconds"],
             "measured_text": f"{r['seconds']:.1f} s" + ("" if r["exit_status"] == 0 else f" (exit {r['exit_status']})"),
             "verdict": r["verdict"]} for r in rows]


def optimizer_targets(opt: dict) -> list[dict]:
    """The optimizer bench's own targets (Adam epoch against GD epoch), unchanged."""
    return list(opt.get("targets", ()))


def merged_targets(out: dict) -> list[dict]:
    """Every target of a ``bench --all`` run, computed from its measurements (so a saved JSON renders
    with the current rules): the kernel part's, the optimizers', the stall rows' and the commands'.
    When the commands ran, the kernel part's "reproduce synthetic training" row (the runs' training
    summed, in one process, no figures) is left out: the budget is the command's wall time, which
    the commands part measures as a user runs it (worker processes, figures)."""
    from attndyn.numerics.experiments import bench  # deferred: loads numba

    timed = {r["command"] for r in out.get("commands", ())}
    rows = [t for t in bench.targets(out)
            if not ("reproduce-synthetic" in timed and t["name"].startswith("reproduce synthetic training"))]
    return (rows + optimizer_targets(out.get("optimizers") or {}) + stall_targets(out.get("stall", ()))
            + command_targets(out.get("commands", ())))


def run_all(sizes, *, load: str = "idle", threads: int | None = None, quick: bool = False,
            commands: Sequence[str] | None = None, log: Callable[[str], None] = print) -> dict:
    """Run every part (module docstring) and return one JSON-ready dict with ``targets`` merged."""
    from attndyn.numerics.experiments import bench, optbench, stallbench, commandbench  # deferred: each loads numba

    if load not in LOADS:
        raise UsageError(f"--load: expected one of {', '.join(LOADS)}, got {load!r}")
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out = {"all": True, "load": load, "started": started, "load_average_1min_start": _load_average(),
           "host": hostspeed.describe()}
    log(f"attndyn bench --all ({load}): started {started}, load average {out['load_average_1min_start']:.2f}; "
        f"{hostspeed.host_line(out['host'])}")
    probes = out["host_speed"] = []

    def probe(when: str) -> None:  # the host's speed now (hostspeed.py), outside any load the bench starts
        p = hostspeed.probe(when)
        probes.append(p)
        log(f"host speed probe ({when}): Python loop {p['python_loop_s']:.3f} s, "
            f"NumPy gather {p['numpy_gather_s']:.3f} s")

    probe("start")
    with stallbench.Load(load if load != "idle" else "idle"):
        kern = bench.run_bench(sizes, quick=quick, threads=threads, reproduce=not quick, scale=not quick, log=log)
        opt = optbench.optimizer_bench(sizes, threads, quick=quick, log=log)
    out.update(kern)
    out["optimizers"] = opt
    probe("after the kernel and optimizer parts")
    if load == "idle":
        names = [s.name for s in sizes]
        out["stall"] = stallbench.stall_bench(names, log=log)
        probe("after the stall part")
        todo = commandbench.COMMANDS if commands is None else commands
        log(f"commands: {', '.join(todo)}")
        out["commands"] = commandbench.command_bench(todo, log=log)
        probe("after the commands")
    log(hostspeed.line(probes))
    targets = out["targets"] = merged_targets(out)
    out["finished"] = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    out["load_average_1min_end"] = _load_average()
    log("every target of this run:")
    for t in targets:
        log(f"  {t['name']:<64} {t['measured_text']:<24} {t['verdict']}")
    return out


def _machine_line(out: dict) -> str:
    m = out.get("machine", {})
    host = hostspeed.host_line(out.get("host"))
    return (f"{m.get('cores', '?')} cores, Python {m.get('python', '?')}, numpy {m.get('numpy', '?')}, "
            f"numba {m.get('numba', '?')}, torch {m.get('torch') or 'not installed'}, {m.get('platform', '?')}"
            + (f"; {host}" if host else ""))


def markdown(out: dict) -> str:
    """The table of one ``bench --all`` JSON: a header naming the run, then one row per target."""
    if not out.get("all"):
        raise UsageError("--table: expected the JSON of `attndyn bench --all --json FILE` (this one has no 'all' key)")
    la0, la1 = out.get("load_average_1min_start"), out.get("load_average_1min_end")
    fmt = (lambda x: "n/a" if x is None else f"{x:.1f}")
    lines = [f"`attndyn bench --all{' --load ' + out['load'] if out['load'] != 'idle' else ''}`, "
             f"{out['started']} to {out['finished']}; {_machine_line(out)}; load {out['load']} "
             f"(1-min load average {fmt(la0)} at the start, {fmt(la1)} at the end); "
             f"{hostspeed.line(out.get('host_speed', []))}.",
             "",
             "| target | measured | verdict |",
             "|---|---|---|"]
    for t in merged_targets(out):
        lines.append(f"| {t['name']} | {t['measured_text']} | {t['verdict']} |")
    return "\n".join(lines) + "\n"
