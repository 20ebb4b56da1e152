"""Reading a search's output folder in tests (shared by test_search_driver.py and test_search_runs.py)."""
import json
from pathlib import Path


def records(path: Path) -> list[dict]:
    """The JSON records of a .jsonl file, one per line."""
    return [json.loads(x) for x in path.read_text().splitlines()]


def assert_complete(out: Path, budget: int) -> list[dict]:
    """``out/points.jsonl`` holds each point of the budget exactly once; returns its records."""
    recs = records(out / "points.jsonl")
    assert len(recs) == budget  # none lost, none duplicated
    assert sorted(r["index"] for r in recs) == list(range(budget))
    assert len({r["key"] for r in recs}) == budget
    return recs
