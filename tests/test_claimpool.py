"""``attndyn verify --workers N`` (reports/cli/claimpool.py): claims run on worker processes give
the serial results, in the registry's order; a dead worker is an ``error`` row, never a hang."""
from __future__ import annotations

import json
import os
import signal

import pytest

from attndyn.proofs.claims.registry import Claim, Outcome
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli import claimpool, main
from attndyn.reports.cli.assembly import select

# cheap real claims of every kind: symbolic, a negative control, the laws engine, a numeric one
IDS = ["S2-sen-identity", "neg-sen-m-plus-one", "laws-paper-reduced-d2", "S4-mutual-promotion"]
TIMING = {"seconds"}


def _strip(d):
    """A verify.json record without its timings (seconds, and the ``…; 0.12s]`` a reason may end in)."""
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k not in TIMING and k != "reason"}
    if isinstance(d, list):
        return [_strip(v) for v in d]
    return d


@pytest.mark.slow
def test_workers_give_the_serial_results_in_registry_order(tmp_path, capsys):
    argv = ["verify", "--no-report", *[a for i in IDS for a in ("--claim", i)]]
    assert main(argv + ["--workers", "1", "--json", str(tmp_path / "one.json")]) == 0
    assert main(argv + ["--workers", "2", "--json", str(tmp_path / "two.json")]) == 0
    one = json.loads((tmp_path / "one.json").read_text())["claims"]
    two = json.loads((tmp_path / "two.json").read_text())["claims"]
    order = [c.id for c in select("all", IDS)]
    assert [c["id"] for c in one] == [c["id"] for c in two] == order
    assert _strip(one) == _strip(two)
    for a, b in zip(one, two):  # the reason too, up to a timing it may quote
        assert a["details"]["reason"].split("s]")[0].rsplit(";", 1)[0] == \
            b["details"]["reason"].split("s]")[0].rsplit(";", 1)[0]
    out = capsys.readouterr().out
    assert out.count("claims as expected") == 2 and "4 of 4 claims as expected" in out


def test_a_dead_worker_is_an_error_row_not_a_hang(monkeypatch):
    ok = select("all", ["S4-mutual-promotion"])[0]
    doomed = Claim("fake-kills-its-worker", "a claim whose process dies", "numeric", "verified", "x", (),
                   lambda: Outcome("verified", "never"))
    monkeypatch.setattr(claimpool, "_work", _KillSelf("fake-kills-its-worker"))
    seen = []
    results = claimpool.run_claims([ok, doomed], 1, on_result=seen.append).results
    assert [r.claim.id for r in results] == [ok.id, doomed.id]
    assert {r.claim.id for r in seen} == {ok.id, doomed.id}
    bad = results[1]
    assert bad.outcome.status == "error" and "ended abruptly" in bad.outcome.reason and not bad.ok


class _KillSelf:
    """Picklable stand-in for ``claimpool._work``: dies on ``victim``, else runs the real one.
    (The spawned worker pickles it by reference to this test module.)"""

    def __init__(self, victim):
        self.victim = victim

    def __call__(self, group, figures_to):
        if any(claim_id == self.victim for claim_id, _ in group):
            os.kill(os.getpid(), signal.SIGKILL)
        return _REAL_WORK(group, figures_to)


_REAL_WORK = claimpool._work


@pytest.mark.parametrize("bad", [0, -1, True, "2"])
def test_bad_worker_counts(bad):
    with pytest.raises(UsageError, match="--workers: expected an integer >= 1"):
        claimpool.resolve_workers(bad, 5)


def test_worker_count_defaults_to_cores_and_never_exceeds_the_claims():
    assert claimpool.resolve_workers(None, 100) == (os.cpu_count() or 1)
    assert claimpool.resolve_workers(8, 3) == 3 and claimpool.resolve_workers(None, 1) == 1


def test_claims_of_one_module_form_one_task_longest_first():
    claims = select("all", None, include_slow=False)  # the default run's claims
    groups = claimpool.claim_groups(claims)
    assert sorted(k for g in groups for k in g) == list(range(len(claims)))  # each claim once
    for g in groups:
        assert len({claims[k].run.__module__ for k in g}) == 1 and g == sorted(g)  # one module, registry order
    cost = [sum(claimpool.expected_seconds(claims[k]) for k in g) for g in groups]
    assert cost == sorted(cost, reverse=True)
    first = {claims[k].id for k in groups[0]}
    assert {"N3-sen-paper", "neg-trainable-query"} <= first  # one module, the costliest task


def test_the_cost_table_names_registered_claims_only():
    known = {c.id for c in select("all", None, include_slow=True)}
    assert set(claimpool.CLAIM_SECONDS) <= known, set(claimpool.CLAIM_SECONDS) - known


def test_cli_rejects_bad_workers_in_one_line(capsys):
    assert main(["verify", "--workers", "zero", "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--workers: expected an integer >= 1, got 'zero'" in err[0]


@pytest.mark.slow
def test_workers_draw_the_claims_figures_and_the_report_includes_them(one_kept_case, tmp_path, monkeypatch, capsys):
    """With --workers 2 the claims' figures are drawn by the workers: this process's ``draw``,
    made to fail here, is never called for them (the counterexample case still is: it is drawn in
    this process while the claims run).  Control: with --workers 1 the same failing ``draw`` shows
    in the report as a figure not drawn."""
    from attndyn.reports.latex import document

    def broken(spec, path):
        raise RuntimeError("drawn in the parent")

    monkeypatch.setattr(document, "draw", broken)
    argv = ["verify", "--claim", "S2-sen-identity", "--claim", "N2-sen-gd-order"]
    assert main(argv + ["--workers", "2", "--report", str(tmp_path / "two")]) == 0
    tex = (tmp_path / "two" / "derivations.tex").read_text()
    k = [c.id for c in select("all", ["S2-sen-identity", "N2-sen-gd-order"])].index("N2-sen-gd-order") + 1
    assert (tmp_path / "two" / "figures" / f"claim{k}-1.pdf").stat().st_size > 1000
    assert f"figures/claim{k}-1.pdf" in tex and "drawn in the parent" not in tex
    assert "Case 1" in tex  # the section built while the claims ran
    assert main(argv + ["--workers", "1", "--report", str(tmp_path / "one")]) == 0
    assert "drawn in the parent" in (tmp_path / "one" / "derivations.tex").read_text()


@pytest.mark.slow
def test_ctrl_c_stops_verify_and_its_workers(tmp_path):
    """SIGINT to the process group (a terminal's Ctrl-C) while two workers run claims: exit 130 with
    one line, and no worker process left behind."""
    import subprocess
    import sys
    import time

    proc = subprocess.Popen([sys.executable, "-m", "attndyn.reports.cli", "verify", "--no-report",
                             "--claim", "N3-sen-paper", "--claim", "N1-sen-flow", "--workers", "2"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, start_new_session=True)
    time.sleep(6)  # the workers are up and running their claims (each takes 5+ s)
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    end = time.monotonic() + 10  # the group empties: no worker (nor multiprocessing's helper) outlives verify
    while time.monotonic() < end:
        try:
            os.killpg(proc.pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.2)
    left = subprocess.run(["ps", "-o", "pid,args", "-g", str(proc.pid)], capture_output=True, text=True).stdout
    pytest.fail(f"processes left in verify's group:\n{left}")
