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

from collections import deque
from dataclasses import dataclass, field
import json
from pathlib import Path
import sys
import time

import numpy as np

from attndyn.numerics.outputs import writable_dir
from attndyn.numerics.progress import Progress
from attndyn.numerics.search import metrics as sm
from attndyn.numerics.search.cases import evaluate_point, make_case
from attndyn.numerics.search.pools import connect, quiet_dask_logs
from attndyn.numerics.search.space import (check_claim, HYPOTHESES, point_key, SearchSpace,
                                           SPACE_VERSION)
from attndyn.numerics.search.store import (AppendLog, as_float, CASES, CORRUPT, dump_line, FORMAT,
                                           META, POINTS, read_jsonl, rewrite_lines, SHRINKS,
                                           SUMMARY, write_json_atomic)
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import SEARCH
from attndyn.proofs.status import PointStatus

# --------------------------------------------------------------------------- progress

@dataclass
class Counts:
    evaluated: int = 0
    candidates: int = 0
    confirmed: int = 0
    cases: int = 0
    failed: int = 0

    def status(self) -> str:
        """The progress line's status: what the search has found so far."""
        return f"{self.candidates} candidates  {self.confirmed} confirmed  {self.cases} cases"
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


class SearchInterrupted(KeyboardInterrupt):
    """Ctrl-C during a search, after every finished point was saved: says how many and where."""

    def __init__(self, saved: int, budget: int, points: Path):
        super().__init__(f"{saved} of {budget} points are saved in {points}: continue with --resume")
        self.saved, self.budget, self.points = saved, budget, points


def _warn(msg: str) -> None:
    """The default for ``warn``: one line on stderr, so that a resumed search says what it skipped."""
    print(f"attndyn search: warning: {msg}", file=sys.stderr, flush=True)


def _open_dir(out_dir, claim, seed, inside, resume) -> Path:
    d = writable_dir(out_dir, "--out")
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
    elif resume:
        raise UsageError(f"--resume: {d} holds no search (no {META}, no {POINTS}); run without --resume "
                         "to start one there")
    else:
        write_json_atomic(meta_path, meta)
    (d / CASES).mkdir(exist_ok=True)  # after the checks: a refused --resume leaves no search behind
    return d


def _load_state(d: Path, claim: str, points: list[dict], keys: list[str], warn=_warn) -> _State:
    st = _State()
    good, bad = read_jsonl(d / POINTS, warn)
    keep: list[bytes] = []
    drop: list[tuple[int, str]] = list(bad)
    for no, rec in good:
        i, key = rec.get("index"), rec.get("key")
        if not isinstance(i, int) or not isinstance(key, str) or "status" not in rec:
            warn(f"{d / POINTS} line {no}: not a point record (index, key, status); skipped")
            drop.append((no, json.dumps(rec)))
            continue
        if i < len(keys) and key != keys[i]:
            raise UsageError(f"--resume: {d / POINTS} line {no}: point {i} has key {key} but this search "
                             f"samples {keys[i]} there: the file was written by another search")
        if i in st.records:
            warn(f"{d / POINTS} line {no}: point {i} is already recorded; duplicate skipped")
            drop.append((no, json.dumps(rec)))
            continue
        st.records[i] = rec
        keep.append(dump_line(rec))
    if drop:  # rewrite atomically without the bad lines, keep them aside for inspection
        with open(d / CORRUPT, "a") as fh:
            for no, text in drop:
                fh.write(json.dumps({"line": no, "text": text}) + "\n")
        rewrite_lines(d / POINTS, keep)
    sgood, sbad = read_jsonl(d / SHRINKS, warn)
    if sbad:
        rewrite_lines(d / SHRINKS, [dump_line(r) for _, r in sgood])
    for _, r in sgood:
        _note_outcome(st, r)
    for f in sorted((d / CASES).glob("*.json")):
        try:
            case = json.loads(f.read_text())
            st.cases[tuple(case["broken"])] = f.name
            st.done.update(case["broken"])
        except (ValueError, KeyError, TypeError):
            warn(f"{f}: not a readable case file; ignored")
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
               resume: bool = False, inside_hypotheses: bool = False, progress: bool = True,
               warn=_warn) -> dict:
    """Run (or resume) a counterexample search; returns the summary also written to
    ``DIR/summary.json`` (counts, cases, seconds).  See the module docstring.

    ``warn(message)`` hears of skipped records when resuming (default: a line on stderr).
    Ctrl-C raises :class:`SearchInterrupted` once every finished point is saved."""
    _check_args(claim, budget, workers, seed)
    budget, workers, seed = int(budget), int(workers), int(seed)
    t0 = time.perf_counter()
    space = SearchSpace(claim, inside_hypotheses)

    writable_dir(out_dir, "--out")  # a bad --out fails before any cluster starts
    points = space.points(seed, budget)
    keys = [point_key(p) for p in points]
    pool = connect(workers, scheduler)  # ... and an unreachable scheduler before anything is written
    try:
        d = _open_dir(out_dir, claim, seed, inside_hypotheses, resume)
        st = _load_state(d, claim, points, keys, warn)
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
    bar = Progress(budget, "search", unit="evaluated", enabled=progress, interval=SEARCH.progress_interval)
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
        bar.update(counts.evaluated, counts.status(), force=True)
        while pool.pending():
            tag, res = pool.next()
            if tag[0] == "point":
                in_points -= 1
                if "infrastructure_error" in res:
                    i = tag[1]
                    res = {"index": i, "key": keys[i], "claim": claim, "point": points[i],
                           "broken": space.broken(points[i]), "status": PointStatus.ERROR, "violation": None,
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
            bar.update(counts.evaluated, counts.status())
        bar.update(counts.evaluated, counts.status(), force=True)
    except KeyboardInterrupt:
        interrupted = True
        quiet_dask_logs()
        raise
    finally:
        bar.close()
        log.close()
        shrink_log.close()
        pool.close(interrupted)
        if interrupted:
            saved = sum(1 for i in st.records if i < budget)
            raise SearchInterrupted(saved, budget, d / POINTS) from None
    summary = _summary(claim, seed, budget, inside_hypotheses, d, st, counts, pool,
                       time.perf_counter() - t0)
    write_json_atomic(d / SUMMARY, summary)
    return summary


def _count(c: Counts, r: dict) -> None:
    c.evaluated += 1
    c.candidates += bool(r.get("candidate"))
    c.confirmed += bool(r.get("confirmed"))
    c.failed += r.get("status") == PointStatus.FAILED
    c.errors += r.get("status") == PointStatus.ERROR


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
