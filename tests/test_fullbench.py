"""`attndyn bench --all` / `--table` (numerics/experiments/fullbench.py): one run, one target list, one table.

The parts themselves are measured by their own tests (test_bench, test_optbench, the stall and
command benches); here they are replaced by stand-ins so that only the merging is under test.
"""
import json
import subprocess
import sys

import pytest

from attndyn.numerics.experiments import fullbench, hostspeed
from attndyn.proofs.errors import UsageError


def _target(name, verdict, text="1.0x"):
    return {"name": name, "target": 1.0, "measured": 1.0, "measured_text": text, "verdict": verdict}


@pytest.fixture
def stand_ins(monkeypatch):
    """Every part replaced by a function that records its call and returns one target of its own."""
    from attndyn.numerics.experiments import bench, commandbench, optbench, stallbench

    calls = []

    def run_bench(sizes, **kw):
        calls.append("kernels")
        return {"machine": {"cores": 2, "python": "3.x"}, "sizes": {}, "reproduce": None,
                "targets": [_target("kernel target", "PASS")]}

    def optimizer_bench(sizes, threads, quick=False, log=print):
        calls.append("optimizers")
        return {"sizes": {}, "targets": [_target("adam target", "MISS")]}

    def stall_bench(sizes, log=print):
        calls.append("stall")
        return [{"size": "paper", "load": "hogs", "ms_per_epoch_1": 2.0, "ms_per_epoch_default": 2.4,
                 "target": {"target": "default <= 1.1 x threads=1", "measured": 1.2, "verdict": "MISS"}},
                {"size": "paper", "load": "idle", "ms_per_epoch_1": 2.0, "ms_per_epoch_default": 2.0}]

    def command_bench(names, log=print):
        calls.append(("commands", tuple(names)))
        argv = {"verify": "-m attndyn.reports.cli verify --report OUT",
                "reproduce-synthetic": "-m attndyn.reports.cli reproduce synthetic --out OUT --no-progress"}
        return [{"command": n, "argv": argv[n], "load": "idle", "budget_seconds": 60.0, "seconds": 70.0,
                 "exit_status": 0, "verdict": "MISS"} for n in names]

    def targets(out, reproduce_overrides=()):  # the kernel part's rules, applied to its measurements
        return [_target("kernel target", "PASS"), _target("reproduce synthetic training <= 15 s", "MISS")]

    def probe(when):  # the host-speed probe: a slower host at each call
        calls.append(("probe", when))
        k = sum(1 for c in calls if isinstance(c, tuple) and c[0] == "probe")
        return {"when": when, "utc": "now", "python_loop_s": 0.1 * k, "numpy_gather_s": 0.2}

    monkeypatch.setattr(hostspeed, "probe", probe)
    monkeypatch.setattr(bench, "run_bench", run_bench)
    monkeypatch.setattr(bench, "targets", targets)
    monkeypatch.setattr(optbench, "optimizer_bench", optimizer_bench)
    monkeypatch.setattr(stallbench, "stall_bench", stall_bench)
    monkeypatch.setattr(commandbench, "command_bench", command_bench)
    return calls


def test_an_idle_run_merges_every_part_and_keeps_every_verdict(stand_ins):
    out = fullbench.run_all([], commands=("verify",), log=lambda line: None)
    assert [c for c in stand_ins if c[0] != "probe"] == ["kernels", "optimizers", "stall", ("commands", ("verify",))]
    # the host-speed probe at the start and after each part, each recorded
    assert [c[1] for c in stand_ins if c[0] == "probe"] == [p["when"] for p in out["host_speed"]] == [
        "start", "after the kernel and optimizer parts", "after the stall part", "after the commands"]
    names = [t["name"] for t in out["targets"]]
    verdicts = [t["verdict"] for t in out["targets"]]
    # the stall row without a target adds nothing; the command is named as a user types it
    assert names == ["kernel target", "reproduce synthetic training <= 15 s", "adam target",
                     "default <= 1.1 x threads=1", "`attndyn verify` (idle) <= 60 s"]
    assert verdicts == ["PASS", "MISS", "MISS", "MISS", "MISS"]  # a MISS anywhere stays a MISS in the merged list


def test_the_timed_command_replaces_the_summed_training_row(stand_ins):
    """With `reproduce synthetic` timed as a command, the kernel part's summed-training row goes."""
    out = fullbench.run_all([], commands=("reproduce-synthetic",), log=lambda line: None)
    names = [t["name"] for t in out["targets"]]
    assert not any(n.startswith("reproduce synthetic training") for n in names)
    assert "`attndyn reproduce synthetic --no-progress` (idle) <= 60 s" in names


def test_under_the_bench_own_load_the_parts_with_their_own_loads_are_left_out(stand_ins, monkeypatch):
    from attndyn.numerics.experiments import stallbench

    started = []

    class FakeLoad:
        def __init__(self, kind, *a, **k):
            started.append(kind)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return None

    monkeypatch.setattr(stallbench, "Load", FakeLoad)
    out = fullbench.run_all([], load="hogs", log=lambda line: None)
    assert started == ["hogs"]
    assert [c for c in stand_ins if c[0] != "probe"] == ["kernels", "optimizers"]
    assert [p["when"] for p in out["host_speed"]] == ["start", "after the kernel and optimizer parts"]
    assert out["load"] == "hogs" and "stall" not in out and "commands" not in out


def test_an_unknown_load_is_refused():
    with pytest.raises(UsageError, match="--load"):
        fullbench.run_all([], load="trainings", log=lambda line: None)


def test_the_table_has_one_row_per_target_and_names_the_run(stand_ins):
    out = fullbench.run_all([], commands=("verify",), log=lambda line: None)
    table = fullbench.markdown(out)
    rows = [line for line in table.splitlines() if line.startswith("| ") and not line.startswith("| target")]
    assert len(rows) == len(out["targets"])
    assert out["started"] in table and "load idle" in table
    # the probe's spread over the run (0.1 to 0.4 s: 4x) is in the header
    assert "Python loop 0.100–0.400 s (4.00× spread)" in table
    assert "| `attndyn verify` (idle) <= 60 s | 70.0 s | MISS |" in rows
    # the host and the commit timed are named (what this checkout is, read now)
    assert out["host"] == hostspeed.describe() and hostspeed.host_line(out["host"]) in table


def test_a_run_saved_before_the_host_was_recorded_still_renders(stand_ins):
    out = fullbench.run_all([], commands=("verify",), log=lambda line: None)
    del out["host"]
    assert "commit" not in fullbench.markdown(out).splitlines()[0]


def test_table_refuses_a_json_that_is_not_a_full_run():
    with pytest.raises(UsageError, match="bench --all"):
        fullbench.markdown({"sizes": {}})


def test_cli_table_prints_a_saved_run_and_bad_input_is_one_line(tmp_path, stand_ins, monkeypatch):
    saved = tmp_path / "all.json"
    saved.write_text(json.dumps(fullbench.run_all([], commands=("verify",), log=lambda line: None)))
    monkeypatch.undo()  # the CLI below applies the real rules to the saved measurements
    cli = [sys.executable, "-m", "attndyn.reports.cli", "bench"]
    ok = subprocess.run(cli + ["--table", str(saved)], capture_output=True, text=True)
    assert ok.returncode == 0 and ok.stdout == fullbench.markdown(json.loads(saved.read_text()))
    bad = subprocess.run(cli + ["--table", str(tmp_path / "missing.json")], capture_output=True, text=True)
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1 and "--table" in bad.stderr
    load = subprocess.run(cli + ["--load", "hogs"], capture_output=True, text=True)
    assert load.returncode == 2 and "--load" in load.stderr and "Traceback" not in load.stderr


def test_a_failed_test_run_is_reported_by_the_tests_that_failed():
    """The commands part keeps pytest's FAILED lines, not the warnings its stderr ends with."""
    from types import SimpleNamespace

    from attndyn.numerics.experiments.commandbench import _why

    run = SimpleNamespace(stdout="..F\nFAILED tests/test_x.py::test_y - assert 1 == 2\n1 failed, 2 passed in 3.0s",
                          stderr="warnings\n  warner(PytestBenchmarkWarning(text))")
    assert _why(run) == "FAILED tests/test_x.py::test_y - assert 1 == 2\n1 failed, 2 passed in 3.0s"
    other = SimpleNamespace(stdout="", stderr="one\ntwo\nthree\nattndyn: error: --out: not a folder")
    assert _why(other) == "two\nthree\nattndyn: error: --out: not a folder"
