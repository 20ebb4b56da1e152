"""The counterexample search, its runs: atomic resume after SIGINT / SIGKILL, the dask paths (local
cluster, --scheduler, unreachable scheduler), bad input, and the report section.  Its findings
are in tests/test_search_driver.py (split in two so the two test workers share the search's cost)."""
from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from searchfiles import assert_complete, records  # reading a search's output folder
from attndyn.numerics.search.driver import run_search
from attndyn.reports.sections.counterexamples import counterexample_section
from attndyn.numerics.search.space import SearchSpace, point_key
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import SEARCH
from attndyn.reports.cli import main as cli

DATA = Path(__file__).parent / "data" / "counterexamples"
ROOT = Path(__file__).resolve().parents[1]


# --------------------------------------------------------------------------- dask

@pytest.fixture(scope="module")
def loopback_cluster():
    from distributed import LocalCluster

    cluster = LocalCluster(host="127.0.0.1", processes=True, n_workers=2, threads_per_worker=1,
                           dashboard_address=None)
    yield cluster.scheduler_address
    cluster.close()


@pytest.mark.slow
def test_search_on_an_existing_dask_scheduler(loopback_cluster, tmp_path):
    s = run_search("sen-identity", 16, 1, tmp_path, seed=6, scheduler=loopback_cluster, progress=False)
    assert s["executor"] == f"dask scheduler {loopback_cluster} (2 worker(s))"
    recs = assert_complete(tmp_path, 16)
    # each point depends only on its own seed: the cluster gives what the in-process run gives
    serial = run_search("sen-identity", 16, 1, tmp_path / "serial", seed=6, progress=False)
    by = {r["index"]: r for r in records(tmp_path / "serial" / "points.jsonl")}
    for r in recs:
        assert r["key"] == by[r["index"]]["key"] and r["violation"] == by[r["index"]]["violation"]
    assert s["confirmed"] == serial["confirmed"] > 0


@pytest.mark.slow
def test_default_local_cluster(tmp_path):
    s = run_search("sen-identity", 6, 2, tmp_path, seed=4, inside_hypotheses=True, progress=False)
    assert s["executor"] == "dask LocalCluster (2 processes)"
    assert_complete(tmp_path, 6)


def test_unreachable_scheduler_fails_fast(tmp_path):
    t0 = time.monotonic()
    with pytest.raises(UsageError, match=r"--scheduler tcp://127.0.0.1:1: cannot reach"):
        run_search("sen-identity", 5, 1, tmp_path / "s", scheduler="tcp://127.0.0.1:1", progress=False)
    assert time.monotonic() - t0 < SEARCH.connect_timeout + 5
    assert not (tmp_path / "s" / "search.json").exists()  # nothing written: a retry needs no --resume


# --------------------------------------------------------------------------- kill and resume

def _start(out: Path, budget: int, workers: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "attndyn.reports.cli", "search", "--claim", "sen-identity", "--budget", str(budget),
         "--workers", str(workers), "--seed", "5", "--inside-hypotheses", "--out", str(out)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _wait_lines(out: Path, n: int, proc: subprocess.Popen, timeout: float = 60) -> int:
    end = time.monotonic() + timeout
    f = out / "points.jsonl"
    while time.monotonic() < end:
        if f.exists():
            k = f.read_bytes().count(b"\n")
            if k >= n:
                return k
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.05)
    raise AssertionError("the search did not write points in time")


@pytest.mark.slow
@pytest.mark.parametrize("sig,workers", [(signal.SIGINT, 2), (signal.SIGKILL, 1)], ids=["SIGINT", "SIGKILL"])
def test_killed_search_resumes_without_loss_or_duplicates(tmp_path, sig, workers):
    # 4x the 20 points seen before the signal: the run is still far from done when it lands (the
    # signal follows within one 50 ms poll), and the resume has 60+ points to add in order
    budget = 80
    proc = _start(tmp_path, budget, workers)
    _wait_lines(tmp_path, 20, proc)
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=60)
    before = (tmp_path / "points.jsonl").read_bytes()
    done = before.count(b"\n")
    assert done < budget  # killed mid-run
    if sig == signal.SIGINT:
        assert proc.returncode == 130
        assert "continue with --resume" in err and "Traceback" not in err
    else:
        assert proc.returncode == -signal.SIGKILL
    s = run_search("sen-identity", budget, 1, tmp_path, seed=5, resume=True, inside_hypotheses=True,
                   progress=False)
    recs = assert_complete(tmp_path, budget)
    assert s["evaluated_this_run"] == budget - len([x for x in before.split(b"\n")[:done] if x])
    assert (tmp_path / "points.jsonl").read_bytes().startswith(before)  # finished points kept as they were
    sp = SearchSpace("sen-identity", inside=True)
    assert [r["key"] for r in sorted(recs, key=lambda r: r["index"])] == [point_key(p) for p in sp.points(5, budget)]


def test_resume_skips_corrupted_line_and_cut_off_tail(tmp_path, capsys):
    run_search("sen-identity", 12, 1, tmp_path, seed=2, inside_hypotheses=True, progress=False)
    f = tmp_path / "points.jsonl"
    lines = f.read_bytes().split(b"\n")
    lines[4] = b'{"index": 4, "key": "oops'  # line 5 corrupted
    lines = lines[:10]  # lines 11.. lost ...
    f.write_bytes(b"\n".join(lines) + b"\n" + b'{"index": 10, "key"')  # ... and a cut-off line 11
    capsys.readouterr()
    s = run_search("sen-identity", 12, 1, tmp_path, seed=2, resume=True, inside_hypotheses=True, progress=False)
    err = capsys.readouterr().err
    assert "points.jsonl line 5: not a JSON record" in err
    assert "points.jsonl line 11: incomplete last line" in err
    assert s["evaluated_this_run"] == 12 - 9
    assert_complete(tmp_path, 12)
    assert len(records(tmp_path / "points.corrupt.jsonl")) == 2


def test_resume_checks_it_is_the_same_search(tmp_path):
    run_search("sen-identity", 3, 1, tmp_path, seed=2, inside_hypotheses=True, progress=False)
    with pytest.raises(UsageError, match="already holds a search"):
        run_search("sen-identity", 3, 1, tmp_path, seed=2, inside_hypotheses=True, progress=False)
    with pytest.raises(UsageError, match="seed = 2 but this search has seed = 3"):
        run_search("sen-identity", 3, 1, tmp_path, seed=3, resume=True, inside_hypotheses=True, progress=False)
    # a larger budget extends the same sequence
    s = run_search("sen-identity", 5, 1, tmp_path, seed=2, resume=True, inside_hypotheses=True, progress=False)
    assert s["evaluated_this_run"] == 2
    assert_complete(tmp_path, 5)


# --------------------------------------------------------------------------- bad input

@pytest.mark.parametrize("argv,message", [
    (["--claim", "collapse", "--budget", "5", "--out", "X"], "--claim: expected one of sen-identity, convergence"),
    (["--claim", "sen-identity", "--budget", "0", "--out", "X"], "--budget: expected an integer > 0, got 0"),
    (["--claim", "sen-identity", "--budget", "3", "--workers", "0", "--out", "X"], "--workers: expected an integer >= 1"),
    (["--claim", "sen-identity", "--out", "X"], "--budget: required"),
    (["--replay", "MISSING.json"], "no such case file"),
    (["--replay", "BAD.json"], "not valid JSON"),
    (["--replay", "OTHER.json"], "not an attndyn counterexample"),
    (["--replay", "FIELD.json"], "point.K: expected a value in [2, 4], got 99"),
])
def test_bad_input_is_one_clear_message(tmp_path, capsys, argv, message):
    (tmp_path / "BAD.json").write_text("{not json")
    (tmp_path / "OTHER.json").write_text('{"format": "something-else"}')
    case = json.loads((DATA / "sen_M-query.json").read_text())
    case["point"]["K"] = 99
    (tmp_path / "FIELD.json").write_text(json.dumps(case))
    argv = [str(tmp_path / a) if a in ("X", "MISSING.json", "BAD.json", "OTHER.json", "FIELD.json") else a
            for a in argv]
    assert cli(["search", *argv]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.count("\n") == 1


def test_non_integer_budget_is_an_argparse_error(capsys):
    with pytest.raises(SystemExit) as exc:
        cli(["search", "--claim", "sen-identity", "--budget", "lots", "--out", "x"])
    assert exc.value.code == 2
    assert "--budget: expected an integer, got 'lots'" in capsys.readouterr().err


def test_help_documents_the_space(capsys):
    with pytest.raises(SystemExit):
        cli(["search", "--help"])
    out = capsys.readouterr().out
    for word in ("m_spread", "n_nontopic", "train_query", "average-column", "M-query", "H-ach", "--resume"):
        assert word in out


# --------------------------------------------------------------------------- report section

def test_report_section_lists_every_case(tmp_path):
    cases = tmp_path / "cases"
    cases.mkdir()
    picked = [DATA / "sen_M-query.json", DATA / "conv_H-ach_average-column.json"]
    for f in picked:
        (cases / f.name).write_text(f.read_text())
    (cases / "notes.json").write_text('{"not": "a case"}')  # ignored
    sec = counterexample_section(tmp_path, fig_dir=tmp_path / "figures")  # a search dir holds cases/
    assert sec.title == "Counterexamples found by the search"
    assert len(sec.figures) == len(picked)
    for fig in sec.figures:  # each with a caption saying what it shows (issue 10 §5)
        f = Path(fig.path)
        assert f.is_file() and f.stat().st_size > 1000 and f.with_suffix(".png").is_file()
        assert "over $\\tau$" in fig.caption and "broken" in fig.caption
    for text in ("M-query", "H-ach", "sen-identity", "convergence", "replay", "average-column"):
        assert text in sec.body_latex
    assert sec.body_latex.count(r"\subsection*") == len(picked)
    empty = counterexample_section(tmp_path / "figures")
    assert "No confirmed counterexample" in empty.body_latex and empty.figures == []


@pytest.mark.slow
def test_report_hook_lists_kept_cases_and_rejects_an_empty_cases_dir(tmp_path):
    import argparse

    from attndyn.reports.sections import counterexamples as search_report

    sections = search_report.report_sections(argparse.Namespace(cases=None), tmp_path)
    assert [s.title for s in sections] == ["Counterexamples found by the search"]
    assert sections[0].figures and all(Path(f.path).exists() for f in sections[0].figures)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(UsageError, match="--cases"):
        search_report.report_sections(argparse.Namespace(cases=[str(empty)]), tmp_path)


def test_resume_drops_a_duplicated_record(tmp_path, capsys):
    """A record written twice (e.g. a retried append) is kept once on resume: no point counts twice."""
    run_search("sen-identity", 6, 1, tmp_path, seed=2, inside_hypotheses=True, progress=False)
    f = tmp_path / "points.jsonl"
    lines = f.read_bytes().split(b"\n")  # the last element is b"" (the final newline)
    f.write_bytes(b"\n".join(lines[:3] + [lines[1]] + lines[3:]))
    capsys.readouterr()
    s = run_search("sen-identity", 6, 1, tmp_path, seed=2, resume=True, inside_hypotheses=True, progress=False)
    assert "already recorded; duplicate skipped" in capsys.readouterr().err
    assert s["evaluated_this_run"] == 0
    assert_complete(tmp_path, 6)
