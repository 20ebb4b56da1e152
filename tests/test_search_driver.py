"""The counterexample search, its findings: metrics and their confirmation, the shrunk regression
cases, and the expected findings inside and outside the paper's hypotheses.  Its runs (atomic
resume after SIGINT / SIGKILL, the dask paths, bad input, the report section) are in
tests/test_search_runs.py: two files, so the two test workers share the search's cost."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from searchfiles import assert_complete  # reading a search's output folder
from attndyn.numerics.search import metrics as sm
from attndyn.numerics.search.store import AppendLog, read_jsonl
from attndyn.numerics.search.cases import replay
from attndyn.numerics.search.driver import run_search
from attndyn.numerics.search.space import SearchSpace
from attndyn.proofs.settings import SEARCH
from attndyn.reports.cli import main as cli

DATA = Path(__file__).parent / "data" / "counterexamples"
CASES = sorted(DATA.glob("*.json"))


# --------------------------------------------------------------------------- the log

def test_append_log_and_reader_name_bad_lines(tmp_path):
    p = tmp_path / "x.jsonl"
    log = AppendLog(p)
    for i in range(3):
        log.append({"index": i, "v": float("inf") if i == 1 else 0.5})
    log.close()
    with open(p, "ab") as fh:
        fh.write(b'{"index": 3, "v"')  # a write cut short
    text = p.read_bytes().split(b"\n")
    text[1] = b"garbage{"
    p.write_bytes(b"\n".join(text))
    warnings: list[str] = []
    good, bad = read_jsonl(p, warnings.append)
    assert [r["index"] for _, r in good] == [0, 2]
    assert good[0][1]["v"] == 0.5
    assert [no for no, _ in bad] == [2, 4]
    assert "line 2" in warnings[0] and "line 4" in warnings[1] and "cut short" in warnings[1]


# --------------------------------------------------------------------------- metrics

def test_inside_point_conserves_H_and_is_no_candidate():
    sp = SearchSpace("sen-identity", inside=True)
    for p in sp.points(11, 8):
        r = sm.evaluate("sen-identity", p)
        assert r["status"] == "ok" and r["model"] == "reduced"
        assert r["violation"] < SEARCH.sen_threshold / 10  # H conserved up to integration error
        assert not sm.violates("sen-identity", r)


def test_loose_tolerance_drift_is_not_confirmed():
    """Negative control for confirmation: drift caused by a loose integrator looks like a
    violation but vanishes at the tight tolerance."""
    sp = SearchSpace("sen-identity")
    p = sp.with_values(json.loads((DATA / "sen_M-query.json").read_text())["point"],
                       train_query=False, horizon=20.0, emb_scale=0.5, K=3, d_e=3)
    loose = sm.evaluate("sen-identity", p, rtol=1e-3, atol=1e-5)
    assert sm.violates("sen-identity", loose)
    conf = sm.confirm("sen-identity", p, loose)
    assert not conf["confirmed"] and conf["violation"] < 1e-9
    assert "not stable" in conf["message"]


def test_discrete_gd_drift_is_not_confirmed():
    """Drift that shrinks like the step is GD's, not a failure of the (flow) identity."""
    sp = SearchSpace("sen-identity")
    p = sp.with_values(json.loads((DATA / "sen_M-query.json").read_text())["point"],
                       train_query=False, dynamics="gd", gd_lr=0.3, horizon=20.0, emb_scale=0.5)
    assert sp.broken(p) == ["M-flow"]
    r = sm.evaluate("sen-identity", p)
    assert sm.violates("sen-identity", r)
    conf = sm.confirm("sen-identity", p, r)
    assert not conf["confirmed"]
    d = conf["values"]  # d(eta), d(eta/2), d(eta/4): halves with the step
    assert 1.8 < d[0] / d[1] < 2.2 and 1.8 < d[1] / d[2] < 2.2
    # the same GD with the query trained: the violation persists as the step shrinks
    q = sp.with_values(p, train_query=True)
    rq = sm.evaluate("sen-identity", q)
    cq = sm.confirm("sen-identity", q, rq)
    assert cq["confirmed"] and cq["extrapolated"] > 0.5 * cq["values"][-1]


# --------------------------------------------------------------------------- regression cases

def test_regression_cases_cover_the_expected_families():
    names = {p.stem for p in CASES}
    assert {"sen_M-query", "sen_M-lengths", "conv_H-ach_average-column"} <= names


@pytest.mark.parametrize("path", CASES, ids=[p.stem for p in CASES])
def test_regression_case_still_violates(path):
    case = json.loads(path.read_text())
    rep = replay(path)
    assert rep["reproduces"], rep["message"]
    assert rep["broken"] == case["broken"] and len(case["broken"]) == 1
    assert rep["violation"] == pytest.approx(case["violation"], rel=1e-6)
    sp = SearchSpace(case["claim"])
    # control: the same point with its one broken hypothesis put back does not violate
    h = case["broken"][0]
    fixed = sp.with_values(case["point"], **({"matrix": "paper-random", "d_e": case["point"]["K"]}
                                             if h == "H-ach" else {}))
    if h != "H-ach":
        fixed = sp.isolate(fixed, "none")  # restores every restricted dimension
    assert sp.broken(fixed) == []
    r = sm.evaluate(case["claim"], fixed)
    assert r["status"] == "ok" and not sm.violates(case["claim"], r), r.get("violation")
    if case["claim"] == "convergence":
        words = case["confirm"]["words"]
        assert any(w["verdict"] == "not-converged" and h in w["failed_hypotheses"] for w in words)
        assert all(w["verdict"] == "converged" for w in r["words"])


def test_replay_cli_exit_codes(tmp_path, capsys):
    assert cli(["search", "--replay", str(DATA / "sen_M-lengths.json")]) == 0
    assert "REPRODUCES" in capsys.readouterr().out
    # a case edited back inside the hypotheses no longer violates: exit 1
    case = json.loads((DATA / "sen_M-lengths.json").read_text())
    case["point"]["m_spread"] = 0
    f = tmp_path / "fixed.json"
    f.write_text(json.dumps(case))
    assert cli(["search", "--replay", str(f)]) == 1
    assert "DOES NOT REPRODUCE" in capsys.readouterr().out


# --------------------------------------------------------------------------- expected findings

@pytest.fixture(scope="module")
def sen_outside(tmp_path_factory):
    out = tmp_path_factory.mktemp("sen-outside")
    return out, run_search("sen-identity", 40, 1, out, seed=1, progress=False)


@pytest.fixture(scope="module")
def conv_outside(tmp_path_factory):
    out = tmp_path_factory.mktemp("conv-outside")
    return out, run_search("convergence", 40, 1, out, seed=3, progress=False)


@pytest.mark.slow
def test_outside_sen_finds_query_and_lengths(sen_outside, capsys):
    out, s = sen_outside
    recs = assert_complete(out, 40)
    assert s["errors"] == 0 and s["confirmed"] > 0
    by = {tuple(c["broken"]): c for c in s["cases"]}
    for h in ("M-query", "M-lengths"):
        assert (h,) in by, s["cases"]
        case = json.loads((out / by[(h,)]["file"]).read_text())
        assert case["violation"] > SEARCH.shrink_margin * SEARCH.sen_threshold
        origin = case["origin"]["point"]
        assert case["shrink"]["evaluations"] > 0
        assert case["point"]["K"] <= origin["K"] and case["point"]["d_e"] <= origin["d_e"]
        assert case["point"]["horizon"] <= origin["horizon"]
        assert any(r["key"] == case["origin"]["key"] and r["confirmed"] for r in recs)
        assert cli(["search", "--replay", str(out / by[(h,)]["file"])]) == 0
    # GD alone never becomes a case: its drift shrinks with the step
    assert ("M-flow",) not in by
    assert "REPRODUCES" in capsys.readouterr().out


@pytest.mark.slow
def test_outside_convergence_finds_non_achievable_label(conv_outside):
    out, s = conv_outside
    assert_complete(out, 40)
    by = {tuple(c["broken"]): c for c in s["cases"]}
    assert ("H-ach",) in by, s["cases"]
    case = json.loads((out / by[("H-ach",)]["file"]).read_text())
    assert case["point"]["classifier"] == "fc"
    bad = [w for w in case["confirm"]["words"] if w["verdict"] == "not-converged"]
    assert bad and all("H-ach" in w["failed_hypotheses"] for w in bad)
    for w in bad:  # the loss stays on its floor inf_x CE(W^T x, y) > 0
        assert w["loss_end"] >= w["loss_floor"] * (1 - 1e-6) and w["loss_floor"] > 0.5
    assert s["undecided_points"] > 0  # modelling assumptions broken: the checker abstains


@pytest.mark.slow
def test_inside_hypotheses_no_convergence_failure(tmp_path):
    s = run_search("convergence", 200, 1, tmp_path, seed=0, inside_hypotheses=True, progress=False)
    recs = assert_complete(tmp_path, 200)
    assert all(r["status"] == "ok" and not r["broken"] for r in recs)
    assert s["candidates"] == s["confirmed"] == s["errors"] == s["failed"] == 0
    assert s["anomalies"] == 0 and s["undecided_points"] == 0 and s["cases"] == []
    assert all(w["verdict"] == "converged" for r in recs for w in r["metric"]["words"])


@pytest.mark.slow
def test_inside_hypotheses_no_sen_violation(tmp_path):
    s = run_search("sen-identity", 200, 1, tmp_path, seed=0, inside_hypotheses=True, progress=False)
    assert_complete(tmp_path, 200)
    assert s["candidates"] == s["confirmed"] == s["errors"] == s["failed"] == 0
    assert s["max_violation"] < SEARCH.sen_threshold / 10  # DOP853 at the screening tolerances


