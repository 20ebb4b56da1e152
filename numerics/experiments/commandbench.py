r"""``attndyn bench --commands``: the wall time of whole commands against their budgets (issue 13).

Each command runs as a fresh subprocess of this very checkout (as a user types it, output
into a temporary folder), with the numba cache warm (each is run once untimed first when
``warm`` is set, so compilation is not counted — the budgets are for a warm cache):

* ``reproduce synthetic`` — budget ``BENCH.reproduce_synthetic_seconds`` idle, and
  ``BENCH.reproduce_synthetic_loaded_seconds`` beside two CPU-bound processes
  (the ``hogs`` load of :mod:`attndyn.numerics.experiments.stallbench`, started here);
* ``reproduce sst`` — ``BENCH.reproduce_sst_seconds`` (all four SST runs, figures, summary);
* ``verify`` — the default claims, ``BENCH.verify_seconds``;
* ``tests`` — ``python -m pytest -q`` from the repository root, ``BENCH.tests_seconds``
  (only with ``tests`` in the list: it takes minutes and is not warmed up).

A command that fails is reported with its exit status and its budget verdict is MISS.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Callable, Sequence

from attndyn.numerics.experiments.stallbench import _env, Load
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import BENCH

COMMANDS = ("reproduce-synthetic", "reproduce-synthetic-loaded", "reproduce-sst", "verify", "tests")
DEFAULT_COMMANDS = ("reproduce-synthetic", "reproduce-synthetic-loaded", "reproduce-sst", "verify")
REPO = Path(__file__).resolve().parents[2]  # the checkout's root: the attndyn package folder


WARM_SST_EPOCHS = 20  # the untimed warm-up of `reproduce sst` compiles every kernel it uses in a few epochs


def _argv(name: str, out: str, warm: bool = False) -> list[str]:
    cli = [sys.executable, "-m", "attndyn.reports.cli"]
    if name == "reproduce-sst" and warm:  # the same code paths, a few epochs: compiling is all a warm-up is for
        return cli + ["reproduce", "sst", "--out", out, "--no-progress", "--set", f"train.epochs={WARM_SST_EPOCHS}"]
    if name.startswith("reproduce-synthetic"):
        return cli + ["reproduce", "synthetic", "--out", out, "--no-progress"]
    if name == "reproduce-sst":
        return cli + ["reproduce", "sst", "--out", out, "--no-progress"]
    if name == "verify":
        return cli + ["verify", "--report", out]
    if name == "tests":
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    raise UsageError(f"--commands {name!r}: expected some of {', '.join(COMMANDS)}")


def budget(name: str) -> float:
    return {"reproduce-synthetic": BENCH.reproduce_synthetic_seconds,
            "reproduce-synthetic-loaded": BENCH.reproduce_synthetic_loaded_seconds,
            "reproduce-sst": BENCH.reproduce_sst_seconds, "verify": BENCH.verify_seconds,
            "tests": BENCH.tests_seconds}[name]


def parse_commands(text: str) -> list[str]:
    names = [t.strip() for t in str(text).split(",") if t.strip()]
    bad = [n for n in names if n not in COMMANDS]
    if bad or not names:
        raise UsageError(f"--commands: unknown command(s) {bad or text!r}; expected some of {', '.join(COMMANDS)}")
    return names


def _run(name: str, env: dict, warm: bool = False) -> tuple[float, int, str]:
    with tempfile.TemporaryDirectory(prefix="attndyn-cmdbench-") as tmp:
        out = os.path.join(tmp, "out")
        t = time.perf_counter()
        proc = subprocess.run(_argv(name, out, warm), env=env, cwd=str(REPO), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=BENCH.worker_timeout)
        seconds = time.perf_counter() - t
    return seconds, proc.returncode, _why(proc)


def _why(proc) -> str:
    """What a failed command said: pytest's FAILED/ERROR lines and its summary when there are any
    (its stderr ends in warnings, which name no test), else the last three lines of its output."""
    out = (proc.stdout or "").splitlines()
    failed = [line for line in out if line.startswith(("FAILED ", "ERROR "))]
    if failed:
        return "\n".join(failed[:10] + out[-1:])
    return "\n".join((proc.stderr or proc.stdout or "").strip().splitlines()[-3:])


def command_bench(names: Sequence[str] = DEFAULT_COMMANDS, warm: bool = True,
                  log: Callable[[str], None] = print) -> list[dict]:
    """Time each command (see the module docstring); one row per command with its budget and verdict."""
    env = _env(None)
    rows = []
    warmed = set()
    for name in names:
        base = name.replace("-loaded", "")
        if warm and name != "tests" and base not in warmed:
            log(f"  {name}: warming the numba cache (untimed run) ...")
            _run(base, env, warm=True)
            warmed.add(base)
        load_kind = "hogs" if name.endswith("-loaded") else "idle"
        t0 = os.getloadavg()[0]
        with Load(load_kind):
            seconds, rc, tail = _run(base, env)
        row = {"command": name, "argv": " ".join(_argv(base, "OUT")[1:]), "load": load_kind,
               "seconds": seconds, "exit_status": rc, "budget_seconds": budget(name),
               "load_average_1min_before": t0, "load_average_1min_after": os.getloadavg()[0],
               "verdict": "PASS" if rc == 0 and seconds <= budget(name) else "MISS"}
        if rc != 0:
            row["error"] = tail
        rows.append(row)
        log(f"  {name:<27} {seconds:7.1f} s  budget {budget(name):5.0f} s  {row['verdict']}"
            + (f"  (exit {rc}: {tail.splitlines()[-1] if tail else ''})" if rc else "")
            + f"  [load {load_kind}, load average {t0:.1f}]")
    return rows
