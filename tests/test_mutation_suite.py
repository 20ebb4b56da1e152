"""The mutation suite cannot rot: every mutant still applies to the current tree (its text
occurs exactly once) and changes the file.  Running the mutants is ``python -m tests.mutation``."""
from pathlib import Path

import pytest

from tests.mutation.mutants import MUTANTS

ROOT = Path(__file__).resolve().parents[1]


def test_ids_unique():
    ids = [m.id for m in MUTANTS]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("m", MUTANTS, ids=[m.id for m in MUTANTS])
def test_mutant_applies(m):
    text = (ROOT / m.path).read_text()
    assert text.count(m.old) == 1, f"{m.id}: {m.old!r} occurs {text.count(m.old)} times in {m.path}"
    assert m.old != m.new and text.replace(m.old, m.new) != text
