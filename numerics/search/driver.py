r"""The counterexample search: sample the space, measure, confirm, shrink, keep everything.

:func:`run_search` draws ``budget`` points of :class:`attndyn.numerics.search.space.SearchSpace`
(point ``i`` from ``default_rng([seed, i, attempt])``), evaluates each with the claim's
violation metric (:mod:`attndyn.numerics.search.metrics`), and

1. **confirms** every candidate (violation above the claim's threshold) at higher precision
   (tighter DOP853 tolerances; for discrete GD smaller steps, extrapolated to step 0), so
   no numerical error is ever called a counterexample;
2. **isolates** each hypothesis a confirmed point breaks: the point with every *other*
   restricted dimension put back inside the hypotheses, re-evaluated and confirmed — a
   hypothesis whose violation alone breaks the claim is a *family*; when no single one
   suffices the point is minimised greedily instead (restore dimensions while the violation
   persists);
3. **shrinks** the cause greedily: round values for the continuous dimensions, then
   smaller d_e, d_k, K, T, m, vocabulary, corpus and horizon while the violation persists,
   confirms the result, and writes it to ``DIR/cases/*.json`` with a replay command
   (``attndyn search --replay CASE.json``).  One case per set of broken hypotheses.

Files in ``DIR``:

* ``search.json`` — claim, seed, inside/outside, space version (checked by ``--resume``);
* ``points.jsonl`` — one JSON line per evaluated point, appended with a single ``os.write``
  of the complete line followed by ``fsync``; a killed search loses at most its in-flight
  points, and ``--resume`` skips every point already there (matched by index and canonical
  key).  A line that is not a complete record (a write cut by SIGKILL, a corrupted file)
  is reported with its line number, moved to ``points.corrupt.jsonl`` and evaluated again;
* ``shrinks.jsonl`` — the outcome of every isolation / minimisation (same append rule);
* ``cases/*.json`` — the confirmed, shrunk counterexamples; ``summary.json`` at the end.

Execution: in-process for ``workers == 1``; otherwise a ``dask.distributed`` LocalCluster
(processes, one thread each, no dashboard), or an existing cluster with ``scheduler``.
Results are written by the driver as they complete (``as_completed``).  With one worker
the sequence of records is deterministic; with several, the *set* of evaluated points
and their values are (each point depends only on its own seed), the order of lines and
which confirmed point seeds a family's case depend on completion order.
"""
from __future__ import annotations

import json
import logging
import math
import os
import sys
import time
import traceback
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from attndyn.numerics.search import metrics as sm
from attndyn.numerics.search.space import (CLAIMS, DIMENSIONS, DIMS, HYPOTHESES, SPACE_VERSION,
                                           SearchSpace, check_claim, point_key)
from attndyn.proofs.errors import UsageError
from attndyn.numerics.outputs import atomic_replace
from attndyn.proofs.settings import SEARCH

FORMAT = "attndyn-search/1"
CASE_FORMAT = "attndyn-counterexample/1"
POINTS, META, SHRINKS, CORRUPT, SUMMARY, CASES = ("points.jsonl", "search.json", "shrinks.jsonl",
                                                  "points.corrupt.jsonl", "summary.json", "cases")


# --------------------------------------------------------------------------- JSON helpers

def _clean(obj):
    """JSON-safe copy: NumPy scalars/arrays to Python, non-finite floats to the strings
    "inf" / "-inf" / "nan" (strict JSON has no such numbers)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))
    if isinstance(obj, Path):
        return str(obj)
    return obj


def as_float(x) -> float | None:
    """A violation read back from JSON ("inf" strings included)."""
    if x is None:
        return None
    return float(x)


def dump_line(obj) -> bytes:
    return (json.dumps(_clean(obj), allow_nan=False, separators=(",", ":")) + "\n").encode()


class AppendLog:
    """A JSON-lines file appended atomically: each record is one ``os.write`` of a complete
    line on an ``O_APPEND`` descriptor, then ``fsync`` — after a crash the file holds whole
    lines plus at most one cut-off last line, which :func:`read_jsonl` detects."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, obj) -> None:
        data = dump_line(obj)
        n = os.write(self.fd, data)
        if n != len(data):  # a regular file takes the whole buffer unless the disk is full
            raise OSError(f"{self.path}: short write ({n} of {len(data)} bytes)")
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def read_jsonl(path: Path, warn) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """The complete JSON-object lines of ``path`` as ``(line number, record)``, and the bad
    ones as ``(line number, text)`` — each bad line is reported through ``warn``."""
    good, bad = [], []
    if not path.exists():
        return good, bad
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    for no, line in enumerate(lines, 1):
        last = no == len(lines)
        if last and line == b"":
            break
        text = line.decode("utf-8", errors="replace")
        if last:  # no newline: a write cut short
            warn(f"{path} line {no}: incomplete last line (a write cut short, e.g. by SIGKILL); skipped")
            bad.append((no, text))
            continue
        try:
            rec = json.loads(text)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            warn(f"{path} line {no}: not a JSON record ({exc}); skipped")
            bad.append((no, text))
            continue
        good.append((no, rec))
    return good, bad


def write_json_atomic(path: Path, data) -> None:
    atomic_replace(path, (json.dumps(_clean(data), indent=1, allow_nan=False) + "\n").encode())


def _rewrite_lines(path: Path, lines: list[bytes]) -> None:
    atomic_replace(path, b"".join(lines))


# --------------------------------------------------------------------------- tasks (run on workers)

def _strip(result: dict) -> dict:
    """A metric result without its bulky parts (traces, reasons), for points.jsonl."""
    out = {k: v for k, v in result.items() if k not in ("trace", "per_word")}
    if "words" in out:
        out["words"] = [{k: v for k, v in w.items() if k != "reasons"} for w in out["words"]]
    return out


def evaluate_point(claim: str, inside: bool, index: int, point: dict) -> dict:
    """Task: evaluate one point, confirm it when it is a candidate.  Never raises: a failure
    inside the metric becomes a record with status ``error`` and the traceback's tail."""
    t0 = time.perf_counter()
    space = SearchSpace(claim, inside)
    rec = {"index": index, "key": point_key(point), "claim": claim, "point": point,
           "broken": space.broken(point)}
    try:
        res = sm.evaluate(claim, point)
        cand = sm.violates(claim, res)
        rec.update(status=res["status"], violation=res.get("violation"), candidate=cand, confirmed=False,
                   metric=_strip(res))
        if cand:
            conf = sm.confirm(claim, point, res)
            rec["confirmed"] = bool(conf["confirmed"])
            rec["confirm"] = _strip(conf)
    except Exception as exc:  # noqa: BLE001 - recorded, never lost: a search must not die on one point
        rec.update(status="error", violation=None, candidate=False, confirmed=False,
                   message=f"{type(exc).__name__}: {exc}", traceback=_tb())
    rec["seconds"] = round(time.perf_counter() - t0, 4)
    return rec


def _tb() -> str:
    return "".join(traceback.format_exc().splitlines(keepends=True)[-8:])


def _violates(claim: str, point: dict, budget: list[int]) -> bool:
    """Screening check used while shrinking (counts against ``budget[0]``)."""
    budget[0] -= 1
    try:
        return sm.violates(claim, sm.evaluate(claim, point), margin=SEARCH.shrink_margin)
    except UsageError:
        return False


def _size_candidates(space: SearchSpace, point: dict, name: str) -> list:
    """Smaller values of a size dimension, smallest first; a restricted dimension that is
    outside stays outside (m_spread >= 1, a finite vocabulary, >= 2 topic words ...)."""
    d = DIMS[name]
    x = point[name]
    if x is None:
        return []
    low, _ = d.bounds(point, space.claim)
    outside = d.restricts(space.claim) and x not in d.inside
    if d.kind in ("int", "frozen-or-int"):
        if not isinstance(x, int):
            return []
        lo = low
        if outside:
            lo = max(low, min((v for v in range(low, x + 1) if v not in d.inside), default=x))
        cands = sorted({lo, (lo + x) // 2, x - 1})
        return [c for c in cands if lo <= c < x]
    if d.kind == "log":
        cands = [low, float(f"{math.sqrt(low * x):.6g}")]
        return [c for c in cands if c < 0.9 * x]
    return []


def shrink(claim: str, space: SearchSpace, point: dict, restore: bool, budget: list[int],
           order_seed: int = 0) -> tuple[dict, list[str]]:
    """Greedy shrinking of a violating point (each trial one screening evaluation, at most
    ``budget[0]`` of them).  ``restore``: first put broken hypotheses back inside, one at a time
    in a seeded order, keeping each restore under which the violation persists (a 1-minimal
    set of broken hypotheses).  Then the continuous dimensions to their round values, then the
    sizes, repeatedly, smallest candidate first.  Returns the point and a log of accepted steps."""
    log: list[str] = []
    cur = dict(point)

    def attempt(trial: dict, what: str) -> bool:
        nonlocal cur
        if budget[0] <= 0 or trial == cur:
            return False
        if _violates(claim, trial, budget):
            cur = trial
            log.append(what)
            return True
        return False

    if restore:
        names = [d.name for d in DIMENSIONS if d.restricts(claim) and cur.get(d.name) is not None
                 and cur[d.name] not in d.inside]
        for i in np.random.default_rng(order_seed).permutation(len(names)):
            d = DIMS[names[i]]
            attempt(space.with_values(cur, **{d.name: d.restore}), f"{d.name} -> {d.restore} (restored)")
    for d in DIMENSIONS:
        if d.simple is not None and cur.get(d.name) is not None and cur[d.name] != d.simple:
            if d.restricts(claim) and d.simple not in d.inside and cur[d.name] in d.inside:
                continue
            if d.restricts(claim) and cur[d.name] not in d.inside and d.simple in d.inside:
                continue  # simplifying must not restore a hypothesis the case is about
            attempt(space.with_values(cur, **{d.name: d.simple}), f"{d.name} -> {d.simple}")
    changed = True
    while changed and budget[0] > 0:
        changed = False
        for d in DIMENSIONS:
            if not d.shrink:
                continue
            for c in _size_candidates(space, cur, d.name):
                trial = space.with_values(cur, **{d.name: c})
                if trial[d.name] != c:
                    continue
                if attempt(trial, f"{d.name} -> {c}"):
                    changed = True
                    break
    return cur, log


def make_case(claim: str, inside: bool, origin: dict, hypothesis: str | None, restore: bool) -> dict:
    """Task: isolate ``hypothesis`` from the confirmed point ``origin`` (or, with ``restore``,
    minimise it greedily), confirm, shrink, confirm again.  Returns ``{"outcome": "case" |
    "not-alone" | "error", "case": {...}}``.  Never raises."""
    t0 = time.perf_counter()
    space = SearchSpace(claim, False)
    out = {"hypothesis": hypothesis, "origin": point_key(origin), "restore": restore}
    try:
        start = space.isolate(origin, hypothesis) if hypothesis else dict(origin)
        screen = sm.evaluate(claim, start)
        if not sm.violates(claim, screen):
            out.update(outcome="not-alone", message=f"with only {hypothesis} broken the violation is "
                       f"{screen.get('violation')!r} ({screen.get('status')})")
            return out
        if start != origin:
            conf = sm.confirm(claim, start, screen)
            if not conf["confirmed"]:
                out.update(outcome="not-alone", message=f"with only {hypothesis} broken: not confirmed "
                           f"({conf.get('message')})")
                return out
        budget = [SEARCH.shrink_max_evals]
        seed = int(point_key(origin)[:8], 16)
        small, log = shrink(claim, space, start, restore, budget, order_seed=seed)
        final = sm.evaluate(claim, small)
        conf = sm.confirm(claim, small, final) if sm.violates(claim, final) else {"confirmed": False}
        if not conf["confirmed"]:  # the shrunk point fell below: keep the confirmed unshrunk one
            log.append("shrunk point not confirmed: kept the unshrunk one")
            small, final = start, screen
            conf = sm.confirm(claim, small, final)
            if not conf["confirmed"]:
                out.update(outcome="not-alone", message="not confirmed after isolation")
                return out
        out.update(outcome="case", case=_case(claim, inside, small, final, conf, origin, log,
                                              SEARCH.shrink_max_evals - budget[0]))
    except Exception as exc:  # noqa: BLE001
        out.update(outcome="error", message=f"{type(exc).__name__}: {exc}", traceback=_tb())
    out["seconds"] = round(time.perf_counter() - t0, 4)
    return out


def _case(claim, inside, point, screen, conf, origin, log, evals) -> dict:
    space = SearchSpace(claim, False)
    broken = space.broken(point)
    return {
        "format": CASE_FORMAT,
        "claim": claim,
        "point": point,
        "key": point_key(point),
        "broken": broken,
        "broken_statements": {h: HYPOTHESES[h][0] for h in broken},
        "kind": ("theorem-refuted" if not broken else "hypothesis-needed"),
        "violation": conf.get("violation"),
        "threshold": sm.threshold(claim),
        "metric": _strip(screen),
        "per_word": conf.get("per_word") or screen.get("per_word"),
        "confirm": _strip(conf),
        "trace": conf.get("trace") or screen.get("trace"),
        "origin": {"key": point_key(origin), "point": origin},
        "shrink": {"evaluations": evals, "steps": log},
        "replay": "attndyn search --replay CASE.json",
        "search": {"inside_hypotheses": inside, "space_version": SPACE_VERSION},
    }


# --------------------------------------------------------------------------- replay

def load_case(path) -> dict:
    """Read and validate a case file (UsageError naming the problem)."""
    p = Path(path)
    if not p.is_file():
        raise UsageError(f"--replay {p}: no such case file")
    try:
        case = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"--replay {p}: cannot read it ({exc})") from None
    except ValueError as exc:
        raise UsageError(f"--replay {p}: not valid JSON ({exc})") from None
    if not isinstance(case, dict) or case.get("format") != CASE_FORMAT:
        raise UsageError(f"--replay {p}: not an attndyn counterexample (expected \"format\": "
                         f"\"{CASE_FORMAT}\")")
    claim = case.get("claim")
    if claim not in CLAIMS:
        raise UsageError(f"--replay {p}: field claim: expected one of {', '.join(CLAIMS)}, got {claim!r}")
    case["point"] = SearchSpace(claim).validate(case.get("point"), where=f"--replay {p}: point")
    return case


def replay(path) -> dict:
    """Recompute a case: screening run plus confirmation.  Returns a report with ``reproduces``
    (the violation is confirmed again), the recomputed and the recorded violation."""
    case = load_case(path)
    claim, point = case["claim"], case["point"]
    t0 = time.perf_counter()
    screen = sm.evaluate(claim, point)
    conf = sm.confirm(claim, point, screen) if sm.violates(claim, screen) else {
        "confirmed": False, "message": f"not a candidate: {screen.get('status')}, violation "
                                       f"{screen.get('violation')!r} <= threshold {sm.threshold(claim):g}"}
    return {"case": str(path), "claim": claim, "broken": SearchSpace(claim).broken(point),
            "reproduces": bool(conf["confirmed"]), "violation": conf.get("violation", screen.get("violation")),
            "recorded_violation": case.get("violation"), "threshold": sm.threshold(claim),
            "message": conf.get("message", ""), "seconds": round(time.perf_counter() - t0, 3)}


# --------------------------------------------------------------------------- executors

class SerialPool:
    """In-process execution, one task at a time, in submission order."""

    workers = 1
    description = "in-process (1 worker)"

    def __init__(self):
        self.queue: deque = deque()

    def submit(self, tag, fn, *args) -> None:
        self.queue.append((tag, fn, args))

    def pending(self) -> int:
        return len(self.queue)

    def next(self):
        tag, fn, args = self.queue.popleft()
        return tag, fn(*args)

    def close(self, interrupted: bool = False) -> None:
        self.queue.clear()


def _quiet_dask_logs() -> None:
    """After Ctrl-C (which may reach the worker processes too) the connection errors dask logs
    while the cluster goes down are expected, and would bury our one-line message."""
    for name in ("distributed", "tornado", "asyncio"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class DaskPool:
    """Tasks on a dask.distributed cluster, results as they complete."""

    def __init__(self, client, cluster=None, description: str = ""):
        from distributed import as_completed

        self.client, self.cluster = client, cluster
        self.description = description
        self.workers = max(1, len(client.scheduler_info().get("workers", {})))
        self.tags: dict = {}
        self.ac = as_completed([], with_results=True, raise_errors=False)

    def submit(self, tag, fn, *args) -> None:
        fut = self.client.submit(fn, *args, pure=False)
        self.tags[fut.key] = tag
        self.ac.add(fut)

    def pending(self) -> int:
        return self.ac.count()

    def next(self):
        fut, res = next(self.ac)
        tag = self.tags.pop(fut.key)
        if fut.status != "finished":  # the task itself died (a worker killed, ...)
            res = {"infrastructure_error": f"{type(res).__name__}: {res}"}
        return tag, res

    def close(self, interrupted: bool = False) -> None:
        if interrupted:
            _quiet_dask_logs()
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing after an interrupt: best effort
            pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass


def connect(workers: int, scheduler: str | None):
    """The executor: in-process (1 worker, no scheduler), a LocalCluster of ``workers``
    processes, or the dask scheduler at ``scheduler`` (UsageError within
    ``SEARCH.connect_timeout`` seconds when it cannot be reached or has no worker)."""
    if scheduler is None and workers == 1:
        return SerialPool()
    import logging

    from distributed import Client, LocalCluster

    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise UsageError("--scheduler: expected an address like tcp://host:8786")
        try:
            client = Client(scheduler, timeout=SEARCH.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot reach a dask scheduler within "
                             f"{SEARCH.connect_timeout:g} s ({type(exc).__name__}: {exc})") from None
        except ValueError as exc:
            raise UsageError(f"--scheduler {scheduler}: not a scheduler address ({exc})") from None
        try:
            client.wait_for_workers(1, timeout=SEARCH.connect_timeout)
        except (TimeoutError, OSError):
            client.close()
            raise UsageError(f"--scheduler {scheduler}: the scheduler has no worker (waited "
                             f"{SEARCH.connect_timeout:g} s); start one with `dask worker {scheduler}`") from None
        n = len(client.scheduler_info().get("workers", {}))
        return DaskPool(client, None, f"dask scheduler {scheduler} ({n} worker(s))")
    import warnings

    with warnings.catch_warnings():
        # the dashboard is off; the scheduler's small HTTP endpoint (health checks) only says
        # so when its default port is taken, e.g. by another cluster: not the user's concern
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1", silence_logs=logging.ERROR)
    client = Client(cluster)
    return DaskPool(client, cluster, f"dask LocalCluster ({workers} processes)")


# --------------------------------------------------------------------------- progress

class Progress:
    """One status line on stderr: a bar on a terminal (redrawn at most every
    ``SEARCH.progress_interval`` s), plain lines every 10 % otherwise."""

    def __init__(self, total: int, enabled: bool, stream=None):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tty = enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = max(1, total)
        self.t0 = self.last = time.perf_counter()
        self.last_decile = -1

    def update(self, c: "Counts", force: bool = False) -> None:
        if not self.enabled:
            return
        now = time.perf_counter()
        text = (f"{c.evaluated}/{self.total} evaluated  {c.candidates} candidates  {c.confirmed} confirmed  "
                f"{c.cases} cases  {now - self.t0:.1f}s")
        if self.tty:
            if not force and now - self.last < SEARCH.progress_interval:
                return
            frac = min(1.0, c.evaluated / self.total)
            bar = "#" * int(24 * frac) + "." * (24 - int(24 * frac))
            self.stream.write(f"\r[{bar}] {text}")
        else:
            decile = int(10 * c.evaluated / self.total)
            if not force and decile == self.last_decile:
                return
            self.last_decile = decile
            self.stream.write(f"search: {text}\n")
        self.last = now
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


@dataclass
class Counts:
    evaluated: int = 0
    candidates: int = 0
    confirmed: int = 0
    cases: int = 0
    failed: int = 0
    errors: int = 0
    new: int = 0


# --------------------------------------------------------------------------- the driver

@dataclass
class _State:
    """What the driver knows: records, families tried, cases written (rebuilt on resume)."""

    records: dict = field(default_factory=dict)  # index -> record
    attempts: dict = field(default_factory=dict)  # hypothesis -> failed isolation attempts
    tried: set = field(default_factory=set)  # (hypothesis, origin key)
    outcomes: dict = field(default_factory=dict)  # origin key -> {hypothesis: outcome}
    done: set = field(default_factory=set)  # hypotheses with a case (or covered by one)
    minimized: set = field(default_factory=set)  # origin keys minimised
    cases: dict = field(default_factory=dict)  # tuple(broken) -> case file name
    inflight: set = field(default_factory=set)  # ("family", h) / ("min", key)


def _check_args(claim, budget, workers, seed) -> None:
    check_claim(claim)
    if isinstance(budget, bool) or not isinstance(budget, (int, np.integer)) or budget <= 0:
        raise UsageError(f"--budget: expected an integer > 0, got {budget!r}")
    if isinstance(workers, bool) or not isinstance(workers, (int, np.integer)) or workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {workers!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise UsageError(f"--seed: expected an integer >= 0, got {seed!r}")


def _warn(msg: str) -> None:
    print(f"attndyn search: warning: {msg}", file=sys.stderr, flush=True)


def _open_dir(out_dir, claim, seed, inside, resume) -> Path:
    from attndyn.numerics.outputs import writable_dir

    d = writable_dir(out_dir, "--out")
    (d / CASES).mkdir(exist_ok=True)
    meta = {"format": FORMAT, "claim": claim, "seed": int(seed), "inside_hypotheses": bool(inside),
            "space_version": SPACE_VERSION}
    meta_path, points = d / META, d / POINTS
    has_points = points.exists() and points.stat().st_size > 0
    if meta_path.exists():
        try:
            old = json.loads(meta_path.read_text())
        except ValueError as exc:
            raise UsageError(f"--out {d}: {META} is not valid JSON ({exc}); use another --out") from None
        if not resume:
            raise UsageError(f"--out {d}: already holds a search ({META}); continue it with --resume "
                             "or choose another --out")
        for k, v in meta.items():
            if old.get(k) != v:
                raise UsageError(f"--resume: {d / META} has {k} = {old.get(k)!r} but this search has "
                                 f"{k} = {v!r}; a resumed search must be the same search")
    elif has_points and not resume:
        raise UsageError(f"--out {d}: already holds {POINTS}; continue it with --resume or choose another --out")
    elif has_points:
        raise UsageError(f"--resume: {d} has {POINTS} but no {META}: cannot tell which search wrote it")
    else:
        write_json_atomic(meta_path, meta)
    return d


def _load_state(d: Path, claim: str, points: list[dict], keys: list[str]) -> _State:
    st = _State()
    good, bad = read_jsonl(d / POINTS, _warn)
    keep: list[bytes] = []
    drop: list[tuple[int, str]] = list(bad)
    for no, rec in good:
        i, key = rec.get("index"), rec.get("key")
        if not isinstance(i, int) or not isinstance(key, str) or "status" not in rec:
            _warn(f"{d / POINTS} line {no}: not a point record (index, key, status); skipped")
            drop.append((no, json.dumps(rec)))
            continue
        if i < len(keys) and key != keys[i]:
            raise UsageError(f"--resume: {d / POINTS} line {no}: point {i} has key {key} but this search "
                             f"samples {keys[i]} there: the file was written by another search")
        if i in st.records:
            _warn(f"{d / POINTS} line {no}: point {i} is already recorded; duplicate skipped")
            drop.append((no, json.dumps(rec)))
            continue
        st.records[i] = rec
        keep.append(dump_line(rec))
    if drop:  # rewrite atomically without the bad lines, keep them aside for inspection
        with open(d / CORRUPT, "a") as fh:
            for no, text in drop:
                fh.write(json.dumps({"line": no, "text": text}) + "\n")
        _rewrite_lines(d / POINTS, keep)
    sgood, sbad = read_jsonl(d / SHRINKS, _warn)
    if sbad:
        _rewrite_lines(d / SHRINKS, [dump_line(r) for _, r in sgood])
    for _, r in sgood:
        _note_outcome(st, r)
    for f in sorted((d / CASES).glob("*.json")):
        try:
            case = json.loads(f.read_text())
            st.cases[tuple(case["broken"])] = f.name
            st.done.update(case["broken"])
        except (ValueError, KeyError, TypeError):
            _warn(f"{f}: not a readable case file; ignored")
    return st


def _note_outcome(st: _State, r: dict) -> None:
    h, origin = r.get("hypothesis"), r.get("origin")
    if r.get("restore"):
        st.minimized.add(origin)
        return
    st.tried.add((h, origin))
    st.outcomes.setdefault(origin, {})[h] = r.get("outcome")
    if r.get("outcome") == "case":
        st.done.add(h)
    else:
        st.attempts[h] = st.attempts.get(h, 0) + 1


def _case_name(claim: str, broken: list[str], key: str) -> str:
    tag = "+".join(broken) if broken else "no-hypothesis-broken"
    return f"{claim}--{tag}--{key}.json"


def run_search(claim: str, budget: int, workers: int, out_dir, seed: int = 0, scheduler: str | None = None,
               resume: bool = False, inside_hypotheses: bool = False, progress: bool = True) -> dict:
    """Run (or resume) a counterexample search; returns the summary also written to
    ``DIR/summary.json`` (counts, cases, seconds).  See the module docstring."""
    _check_args(claim, budget, workers, seed)
    budget, workers, seed = int(budget), int(workers), int(seed)
    t0 = time.perf_counter()
    space = SearchSpace(claim, inside_hypotheses)
    from attndyn.numerics.outputs import writable_dir

    writable_dir(out_dir, "--out")  # a bad --out fails before any cluster starts
    points = space.points(seed, budget)
    keys = [point_key(p) for p in points]
    pool = connect(workers, scheduler)  # ... and an unreachable scheduler before anything is written
    try:
        d = _open_dir(out_dir, claim, seed, inside_hypotheses, resume)
        st = _load_state(d, claim, points, keys)
    except BaseException:
        pool.close()
        raise
    todo = [i for i in range(budget) if i not in st.records]
    counts = Counts()
    for i, r in st.records.items():
        if i < budget:
            _count(counts, r)
    counts.cases = len(st.cases)
    log, shrink_log = AppendLog(d / POINTS), AppendLog(d / SHRINKS)
    bar = Progress(budget, progress)
    queue = deque(todo)
    limit = max(1, pool.workers) * SEARCH.inflight_per_worker
    in_points = 0
    interrupted = False

    def submit_points():
        nonlocal in_points
        while queue and in_points < limit:
            i = queue.popleft()
            pool.submit(("point", i), evaluate_point, claim, inside_hypotheses, i, points[i])
            in_points += 1

    def schedule_cases():
        if len(st.cases) + sum(1 for x in st.inflight) >= SEARCH.max_cases:
            return
        confirmed = [st.records[i] for i in sorted(st.records) if st.records[i].get("confirmed")]
        for h in HYPOTHESES:
            if h in st.done or ("family", h) in st.inflight or st.attempts.get(h, 0) >= SEARCH.isolate_attempts:
                continue
            origin = next((r for r in confirmed if h in r["broken"] and (h, r["key"]) not in st.tried), None)
            if origin is None:
                continue
            if len(st.cases) + len(st.inflight) >= SEARCH.max_cases:
                return
            st.inflight.add(("family", h))
            st.tried.add((h, origin["key"]))
            pool.submit(("family", h), make_case, claim, inside_hypotheses, origin["point"], h, False)
        for r in confirmed:
            key = r["key"]
            if key in st.minimized or ("min", key) in st.inflight:
                continue
            outs = st.outcomes.get(key, {})
            alone = r["broken"] and all(outs.get(h) == "not-alone" for h in r["broken"])
            if r["broken"] and not alone:
                continue
            if r["broken"] and tuple(r["broken"]) in st.cases:
                continue
            if len(st.cases) + len(st.inflight) >= SEARCH.max_cases:
                return
            st.inflight.add(("min", key))
            st.minimized.add(key)
            pool.submit(("min", key), make_case, claim, inside_hypotheses, r["point"], None, True)

    def write_case(res: dict) -> None:
        case = res["case"]
        broken = tuple(case["broken"])
        covered = next((name for b, name in st.cases.items() if set(b) <= set(broken)), None)
        if covered is not None:  # an existing case already breaks the claim with fewer hypotheses
            res["covered_by"] = covered
            st.done.update(broken)
            return
        name = _case_name(claim, list(broken), case["key"])
        case["replay"] = f"attndyn search --replay {d / CASES / name}"
        case["search"].update(seed=seed, out=str(d))
        write_json_atomic(d / CASES / name, case)
        st.cases[broken] = name
        st.done.update(broken)
        res["case_file"] = name

    try:
        submit_points()
        schedule_cases()
        bar.update(counts, force=True)
        while pool.pending():
            tag, res = pool.next()
            if tag[0] == "point":
                in_points -= 1
                if "infrastructure_error" in res:
                    i = tag[1]
                    res = {"index": i, "key": keys[i], "claim": claim, "point": points[i],
                           "broken": space.broken(points[i]), "status": "error", "violation": None,
                           "candidate": False, "confirmed": False, "message": res["infrastructure_error"]}
                log.append(res)
                st.records[res["index"]] = res
                _count(counts, res)
                counts.new += 1
                submit_points()
            else:
                st.inflight.discard(tag)
                if "infrastructure_error" in res:
                    res = {"hypothesis": tag[1] if tag[0] == "family" else None,
                           "origin": tag[1] if tag[0] == "min" else None, "restore": tag[0] == "min",
                           "outcome": "error", "message": res["infrastructure_error"]}
                if res.get("outcome") == "case":
                    write_case(res)
                    counts.cases = len(st.cases)
                entry = {k: v for k, v in res.items() if k != "case"}
                shrink_log.append(entry)
                _note_outcome(st, entry)
                if res.get("outcome") == "case" and entry.get("hypothesis"):
                    st.done.add(entry["hypothesis"])
            schedule_cases()
            bar.update(counts)
        bar.update(counts, force=True)
    except KeyboardInterrupt:
        interrupted = True
        _quiet_dask_logs()
        raise
    finally:
        bar.close()
        log.close()
        shrink_log.close()
        pool.close(interrupted)
        if interrupted:
            saved = sum(1 for i in st.records if i < budget)
            print(f"attndyn search: interrupted; {saved} of {budget} points are saved in {d / POINTS}: "
                  f"continue with --resume", file=sys.stderr, flush=True)
    summary = _summary(claim, seed, budget, inside_hypotheses, d, st, counts, pool,
                       time.perf_counter() - t0)
    write_json_atomic(d / SUMMARY, summary)
    return summary


def _count(c: Counts, r: dict) -> None:
    c.evaluated += 1
    c.candidates += bool(r.get("candidate"))
    c.confirmed += bool(r.get("confirmed"))
    c.failed += r.get("status") == "failed"
    c.errors += r.get("status") == "error"


def _summary(claim, seed, budget, inside, d: Path, st: _State, c: Counts, pool, seconds) -> dict:
    recs = [st.records[i] for i in sorted(st.records) if i < budget]
    vio = [as_float(r.get("violation")) for r in recs if r.get("status") == "ok"
           and r.get("violation") is not None]
    inside_vio = [as_float(r.get("violation")) for r in recs if r.get("status") == "ok" and not r["broken"]
                  and r.get("violation") is not None]
    by_h: dict = {}
    for r in recs:
        for h in r["broken"]:
            e = by_h.setdefault(h, {"points": 0, "confirmed": 0})
            e["points"] += 1
            e["confirmed"] += bool(r.get("confirmed"))
    cases = []
    for broken, name in sorted(st.cases.items(), key=lambda kv: kv[1]):
        try:
            case = json.loads((d / CASES / name).read_text())
            cases.append({"file": f"{CASES}/{name}", "broken": list(broken), "violation": case.get("violation"),
                          "kind": case.get("kind")})
        except (OSError, ValueError):
            continue
    return {
        "format": FORMAT, "claim": claim, "seed": seed, "budget": budget, "inside_hypotheses": inside,
        "space_version": SPACE_VERSION, "executor": pool.description,
        "evaluated": c.evaluated, "evaluated_this_run": c.new, "candidates": c.candidates,
        "confirmed": c.confirmed, "failed": c.failed, "errors": c.errors,
        "confirmed_inside_hypotheses": sum(1 for r in recs if r.get("confirmed") and not r["broken"]),
        # convergence: words the checker left undecided (modelling assumption broken) / anomalies
        # (undecided although every hypothesis holds: the flow contradicts the certificate)
        "undecided_points": sum(1 for r in recs if (r.get("metric") or {}).get("undecided")),
        "anomalies": sum(int((r.get("metric") or {}).get("anomalies") or 0) for r in recs),
        "max_violation_inside_hypotheses": max(inside_vio) if inside_vio else None,
        "max_violation": max(vio) if vio else None,
        "threshold": sm.threshold(claim),
        "by_hypothesis": by_h,
        "cases": cases,
        "seconds": round(seconds, 3),
    }
