"""One point's evaluation (run on a worker), and a counterexample case: confirm, shrink to the
smallest violating setting, save, load and replay."""
from __future__ import annotations

import json
import math
from pathlib import Path
import time
import traceback

import numpy as np

from attndyn.numerics.search import metrics as sm
from attndyn.numerics.search.space import (CLAIMS, DIMENSIONS, DIMS, HYPOTHESES, point_key,
                                           SearchSpace, SPACE_VERSION)
from attndyn.numerics.search.store import CASE_FORMAT
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import SEARCH
from attndyn.proofs.status import PointStatus

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
        rec.update(status=PointStatus.coerce(res["status"]), violation=res.get("violation"), candidate=cand, confirmed=False,
                   metric=_strip(res))
        if cand:
            conf = sm.confirm(claim, point, res)
            rec["confirmed"] = bool(conf["confirmed"])
            rec["confirm"] = _strip(conf)
    except Exception as exc:  # noqa: BLE001 - recorded, never lost: a search must not die on one point
        rec.update(status=PointStatus.ERROR, violation=None, candidate=False, confirmed=False,
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
