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

:func:`describe` names the host itself: the CPU model, its cache sizes and vector extensions (the
same code's 10⁶ epoch took 0.43 s beside a 32 MB L3 and 0.90 s beside a 105 MB one on these
sessions' virtual machines) and the commit of the tree being timed.
"""
from __future__ import annotations

import datetime
from pathlib import Path
import subprocess
import time

import numpy as np

CACHES = Path("/sys/devices/system/cpu/cpu0/cache")  # Linux: one indexN folder per cache level/type
ISA_FLAGS = ("avx2", "avx512f", "amx_tile")  # the vector extensions numba's code can use here
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


def describe() -> dict:
    """The host and the tree: ``cpu`` (the model name of ``/proc/cpuinfo``), ``caches`` (per level,
    e.g. ``{"L1d": "48K", "L2": "2048K", "L3": "107520K"}``, from sysfs), ``isa`` (which of
    :data:`ISA_FLAGS` the CPU has) and ``commit`` (``git rev-parse --short HEAD`` of the package's
    checkout, ``+dirty`` when it has uncommitted changes; None outside a git checkout).  A field that
    cannot be read here (not Linux, no git) is None."""
    cpu, isa = None, None
    try:
        info = Path("/proc/cpuinfo").read_text()
        cpu = next((ln.split(":", 1)[1].strip() for ln in info.splitlines() if ln.startswith("model name")), None)
        flags = next((ln.split(":", 1)[1].split() for ln in info.splitlines() if ln.startswith("flags")), [])
        isa = [f for f in ISA_FLAGS if f in flags]
    except OSError:
        pass
    caches = {}
    for d in sorted(CACHES.glob("index*")):
        try:
            level, kind, size = ((d / f).read_text().strip() for f in ("level", "type", "size"))
        except OSError:
            continue
        if kind != "Instruction":
            caches[f"L{level}" + ("d" if kind == "Data" else "")] = size
    return {"cpu": cpu, "caches": caches or None, "isa": isa, "commit": _commit()}


def _commit() -> str | None:
    root = Path(__file__).resolve().parents[2]  # numerics/experiments/ -> the package's checkout
    try:
        head = subprocess.run(["git", "-C", str(root), "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10)
        dirty = subprocess.run(["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if head.returncode != 0:
        return None
    return head.stdout.strip() + ("+dirty" if dirty.returncode == 0 and dirty.stdout.strip() else "")


def host_line(host: dict | None) -> str:
    """The host for a table's header: CPU, caches, vector extensions, commit ("" for a run saved
    before :func:`describe` existed)."""
    if not host:
        return ""
    caches = ", ".join(f"{k} {v}" for k, v in (host.get("caches") or {}).items())
    parts = [host.get("cpu") or "CPU not recorded", caches, "/".join(host.get("isa") or ())]
    text = "; ".join(p for p in parts if p)
    return f"host {text}; commit {host.get('commit') or 'not recorded'}"
