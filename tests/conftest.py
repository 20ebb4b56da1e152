"""Shared fixtures, and the order in which the two xdist workers receive the test files.

``--dist loadfile`` hands each file whole to one worker, in collection order
(``--no-loadscope-reorder`` in pyproject.toml keeps this order instead of xdist's "most tests
first"), and a worker takes the next file as it runs out.  The wall time is that of the busier
worker; the worst case is a long file handed out last while the other worker idles.  So the
files that cost most on a cold numba cache go first, largest first (the short files fill in the
gaps at the end); every other file follows by number of tests, as xdist would order it.  The
list only orders: a stale entry costs balance, never a test.  Measured per file (seconds of
test time, largest first) in the 2026-12-02 05:52 run, `python -m pytest -q -p no:cacheprovider
--durations=80` on a cold cache, with the savings of issue 13's test changes applied:
test_optimizers 173 (numba compiles the optimizer and float32 kernels), test_search_driver 133,
test_search_runs 73, test_cli 67, test_reproduce 42, test_snapshot 32, test_train 26,
test_laws_cli 25, test_laws_engine 24, test_bad_input 21; then 10-18 s each.
"""
from __future__ import annotations

from collections import Counter
import signal

import pytest

# Several tests send SIGINT (a terminal's Ctrl-C) to a child process and expect exit 130.  A test
# run started with SIGINT *ignored* (a background job of a non-interactive shell, `cmd &`, as a
# benchmark or a CI script may start it) passes the ignored disposition on to every child, whose
# Python then never sees the signal.  A handler, unlike SIG_IGN, is reset to the default on exec,
# so installing Python's own restores what a user's terminal gives the children.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

HEAVY_FIRST = ("test_optimizers.py", "test_search_driver.py", "test_search_runs.py", "test_cli.py",
               "test_reproduce.py", "test_claimpool.py", "test_snapshot.py", "test_train.py", "test_laws_cli.py",
               "test_laws_engine.py", "test_bad_input.py", "test_symbolic.py", "test_simulate_outputs.py",
               "test_verify_setting.py", "test_readme_example.py", "test_kernels.py",
               "test_optimizer_derivations.py", "test_flow.py", "test_bench.py", "test_cache.py")


def pytest_collection_modifyitems(config, items):
    rank = {name: i for i, name in enumerate(HEAVY_FIRST)}
    n_tests = Counter(item.path for item in items)
    # stable sort on a per-file key: a file's tests stay together and in their order
    items.sort(key=lambda it: (rank.get(it.path.name, len(rank)), -n_tests[it.path]))


@pytest.fixture
def one_kept_case(tmp_path_factory, monkeypatch):
    """``report`` and ``verify --report`` add a counterexample section drawn from every case kept
    in tests/data/counterexamples (nine figures, ~10 s).  Tests of *other* parts of the report
    use this fixture: the section is still built, through the same code, from one kept case.
    The full default section (every kept case) is drawn by tests/test_search_runs.py (the report
    hook)."""
    from attndyn.reports.sections import counterexamples

    folder = tmp_path_factory.mktemp("one-kept-case")
    case = counterexamples.KEPT_CASES / "sen_M-query.json"
    (folder / case.name).write_text(case.read_text())
    monkeypatch.setattr(counterexamples, "KEPT_CASES", folder)
    return folder
