r"""The counterexample search resumes without counting a point twice (issue 8).

``attndyn search --resume`` rebuilds its state from ``points.jsonl``; an append that was retried
(or a copy of the file concatenated by hand) leaves a point's record twice.  The resume must keep
one record per point index, so the summary's counts and the cases rest on each point once.

* ``X1-search-resume-dedup`` — a tiny search (claim ``sen-identity``, inside the hypotheses,
  ``SEARCH_BUDGET`` points, one worker) is run, one record is duplicated in ``points.jsonl``, the
  search is resumed: exactly one record per index 0..budget-1 remains, nothing is evaluated again,
  and the summary counts ``budget`` points.  Route: exact counts.
* ``neg-search-raw-duplicates`` (expected refuted) — the same count on its own search's file
  *before* the resume (duplicated record in place, never read back by ``--resume``): the check
  must see the duplicate, so "one record per index" is refuted.
"""
from __future__ import annotations

from collections import Counter
import json
from pathlib import Path
import tempfile

from attndyn.numerics.search.driver import run_search
from attndyn.proofs.claims.registry import claim, Derivation, Outcome

REPORT_ORDER = 72  # after the convergence claims (attndyn.proofs.claims.registry)

SEARCH_CLAIM = "sen-identity"
SEARCH_BUDGET = 4
DUPLICATED = 1  # the line of points.jsonl written twice


def indices(points_file: Path) -> list[int]:
    out = []
    for line in points_file.read_text().splitlines():
        if line.strip():
            out.append(int(json.loads(line)["index"]))
    return out


def dedup_verdict(found: list[int], budget: int, summary: dict | None) -> tuple[str, str, dict]:
    """``verified`` iff every index 0..budget-1 occurs exactly once (and, after a resume, nothing
    was evaluated again and the summary counts ``budget`` points)."""
    counts = Counter(found)
    dup = sorted(i for i, c in counts.items() if c > 1)
    missing = sorted(set(range(budget)) - set(counts))
    details = {"records": len(found), "budget": budget, "duplicated_indices": dup, "missing_indices": missing}
    problems = []
    if dup:
        problems.append(f"indices recorded more than once: {dup}")
    if missing:
        problems.append(f"indices missing: {missing}")
    if summary is not None:
        details["evaluated_this_run"] = summary.get("evaluated_this_run")
        if summary.get("evaluated_this_run") != 0:
            problems.append(f"the resume evaluated {summary.get('evaluated_this_run')} points again")
    if problems:
        return "refuted", "exact count: " + "; ".join(problems), details
    return "verified", (f"exact count: {len(found)} records, each index 0..{budget - 1} once"
                        + (", nothing evaluated again" if summary is not None else "")), details


def _search_with_duplicate(d: Path, seed: int, warnings: list) -> Path:
    run_search(SEARCH_CLAIM, SEARCH_BUDGET, 1, d, seed=seed, inside_hypotheses=True, progress=False,
               warn=warnings.append)
    f = d / "points.jsonl"
    lines = f.read_bytes().split(b"\n")
    f.write_bytes(b"\n".join(lines[:DUPLICATED + 1] + [lines[DUPLICATED]] + lines[DUPLICATED + 1:]))
    return f


_ASSUMPTIONS = (f"search claim \\texttt{{{SEARCH_CLAIM}}} inside the hypotheses, budget {SEARCH_BUDGET}, one worker, "
                f"line {DUPLICATED} of \\texttt{{points.jsonl}} written twice",)


@claim(
    "X1-search-resume-dedup",
    "A resumed counterexample search keeps one record per point",
    kind="numeric",
    statement=(r"After \texttt{search --resume} on a \texttt{points.jsonl} holding a record twice, every point "
               r"index $0..N-1$ has exactly one record, none is evaluated again, and the summary counts $N$."),
    assumptions=_ASSUMPTIONS + ("seed 2",),
)
def x1_search_resume_dedup() -> Outcome:
    d = Derivation()
    d.note("Run a tiny search, duplicate one record line, resume it, count the records per index.")
    warnings: list = []
    with tempfile.TemporaryDirectory(prefix="attndyn-x1-") as tmp:
        f = _search_with_duplicate(Path(tmp), 2, warnings)
        summary = run_search(SEARCH_CLAIM, SEARCH_BUDGET, 1, Path(tmp), seed=2, resume=True,
                             inside_hypotheses=True, progress=False, warn=warnings.append)
        status, reason, details = dedup_verdict(indices(f), SEARCH_BUDGET, summary)
    details["warnings"] = warnings
    details["route"] = "exact counts"
    return Outcome(status, reason, d.steps, details)


@claim(
    "neg-search-raw-duplicates",
    "Control: the file with the duplicated record, not resumed, does not have one record per point",
    kind="numeric",
    expected="refuted",
    statement=r"Every point index $0..N-1$ has exactly one record in \texttt{points.jsonl} with a record written twice, before any resume.",
    assumptions=_ASSUMPTIONS + ("its own search, seed 3",),
)
def neg_search_raw_duplicates() -> Outcome:
    d = Derivation()
    d.note("Run a tiny search, duplicate one record line, count the records per index without resuming.")
    with tempfile.TemporaryDirectory(prefix="attndyn-x1neg-") as tmp:
        f = _search_with_duplicate(Path(tmp), 3, [])
        status, reason, details = dedup_verdict(indices(f), SEARCH_BUDGET, None)
    details["route"] = "exact counts"
    return Outcome(status, reason, d.steps, details)
