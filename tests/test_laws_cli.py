"""`attndyn laws` (the command, its JSON, its report, its bad inputs) and the conservation-law claims of
`attndyn verify`, run through the real registry (negative controls refuted)."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
import sympy as sp

from attndyn.proofs.claims.registry import run_claim
from attndyn.proofs.laws.names import NAMED
from attndyn.proofs.laws.spec import named_model
from attndyn.proofs.laws.verify import LawClaim, key_perp, law_checks, sen
from attndyn.reports.cli import main
from attndyn.reports.cli.assembly import claim_packages, COMMANDS, REPORT_SECTIONS, select

SEN_D2 = "-exp(s_t) - 2*s_t + 5*v_t_1**2 + 5*v_t_2**2"


def test_laws_is_a_command_and_a_report_section():
    assert "laws" in COMMANDS and "laws" in REPORT_SECTIONS
    assert {"attndyn.proofs.laws.claims", "attndyn.numerics.laws.claims"} <= set(claim_packages())


def test_paper_reduced_d2_prints_sen_and_complete(tmp_path, capsys):
    out_json = tmp_path / "laws.json"
    assert main(["laws", "--model", "paper-reduced", "--d", "2", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "D = 4" in out and "exact rank of Lie(W) >= 2" in out and "failure bound <= " in out
    assert f"h2 = {SEN_D2}" in out and "h1 = 2*k_t_1 - k_t_2" in out
    assert "verdict: complete (locally)" in out and "time: " in out and "pretty:" in out
    data = json.loads(out_json.read_text())
    assert data["format"] == "attndyn-laws/1" and data["D"] == 4
    assert data["lie"]["rank_lower_bound"] == 2 and 0 < data["lie"]["failure_bound"] < 1e-12
    assert data["functionally_independent"] == 2 and data["complete"] and data["missing"] == 0
    assert SEN_D2 in data["laws"] and len(data["laws_latex"]) == 2 and all(data["proved_by_sympy"])
    assert data["spec"]["d"] == 2 and data["spec"]["frozen"] == ["n1", "n2"]
    assert data["confirmation"] is None and data["seconds"]["total"] > 0


def test_toml_model_file_and_confirm(tmp_path, capsys):
    f = tmp_path / "rates.toml"
    f.write_text('[model]\nd = 2\nsentences = [["t", "n1", "n2"]]\nfrozen = ["n1", "n2"]\n'
                 'train = ["v", "k"]\n[model.rates]\nv = "3/2"\n')
    out_json = tmp_path / "o.json"
    assert main(["laws", str(f), "--confirm", "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    assert "model: rates" in out and "complete (locally)" in out and "confirm: rates: confirmed" in out
    data = json.loads(out_json.read_text())
    assert data["rates"]["v_t"] == "3/2" and data["confirmation"]["confirmed"]
    assert all(x["conserved"] for x in data["confirmation"]["laws"])
    assert all(not x["conserved"] for x in data["confirmation"]["controls"])


def test_report_writes_the_laws_section(tmp_path, capsys):
    assert main(["laws", "--model", "unequal-lengths", "--report", str(tmp_path / "rep")]) == 0
    tex = (tmp_path / "rep" / "derivations.tex").read_text()
    assert "Conservation laws of the training flow" in tex and "Schwartz" in tex and "Ax" in tex
    assert r"\dim\operatorname{Lie}(W)\ge 3" in tex and "complete (locally)" in tex


@pytest.mark.parametrize("argv, names", [
    (["--model", "no-such-model"], "--model"),
    (["--model", "paper-reduced", "--degree", "0"], "--degree"),
    (["--model", "paper-reduced", "--d", "0"], "--d"),
    ([], "MODEL.toml"),
    (["{toml}", "--model", "paper-reduced"], "not both"),
    (["{toml}"], "unknown field 'colour'"),
])
def test_bad_input_is_one_line_exit_2(argv, names, tmp_path, capsys):
    f = tmp_path / "bad.toml"
    f.write_text('d = 2\ncolour = "blue"\n')
    assert main(["laws"] + [a.replace("{toml}", str(f)) for a in argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and names in err[0] and "Traceback" not in err[0]


def test_model_that_trains_nothing_through_the_real_entry_point(tmp_path):
    f = tmp_path / "frozen.toml"
    f.write_text('d = 2\nsentences = [["t", "n1"]]\nfrozen = ["t", "n1"]\n')
    proc = subprocess.run([sys.executable, "-m", "attndyn.reports.cli", "laws", str(f)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and "train" in lines[0] and "trains nothing" in lines[0] and "Traceback" not in proc.stderr


def test_every_named_model_is_a_choice():
    for name in NAMED:
        named_model(name, d=1)


# ---- the claims, through the registry --------------------------------------------------------

LAW_IDS = [c.id for c in law_checks()]
FLOW_IDS = ["laws-flow-paper-reduced-d3", "neg-laws-flow-m-plus-one"]


def test_claims_are_registered_with_rendered_statements():
    chosen = {c.id: c for c in select(ids=LAW_IDS + FLOW_IDS)}
    assert set(chosen) == set(LAW_IDS + FLOW_IDS)
    assert sp.latex(sen(3, 2, sp.Rational(3, 2))) in chosen["laws-sen-rate-ratio-d3"].statement
    assert sp.latex(key_perp(3)[0]) in chosen["laws-paper-reduced-d3"].statement
    assert sp.latex(sen(3, 2, sp.Rational(3, 2))) in chosen["laws-flow-paper-reduced-d3"].statement
    negs = [i for i in LAW_IDS + FLOW_IDS if i.startswith("neg-")]
    assert len(negs) >= 3 and all(chosen[i].expected == "refuted" for i in negs)
    models = {"paper-reduced", "query-trained", "unequal-lengths", "moving-words", "key-projection",
              "linear-classifier", "calibration-linear", "calibration-relu"}
    assert all(any(m in i for i in LAW_IDS) for m in models)


@pytest.mark.slow
def test_law_claims_run_as_expected():
    for c in select(ids=LAW_IDS + FLOW_IDS):
        r = run_claim(c)
        assert r.ok, (c.id, r.outcome.status, r.outcome.reason)
        json.dumps(r.to_json())
        assert "exact rank over Q" in r.outcome.reason or c.kind == "numeric"
        if c.expected == "refuted":
            assert r.outcome.status == "refuted"


def test_a_wrong_law_claim_is_refuted_and_a_true_non_law_too():
    wrong = LawClaim("t-wrong", "t", "reduced d=2", lambda: named_model("paper-reduced", d=2),
                     laws=(sen(2, 2, 2),))
    status, reason, _, _ = wrong.check()
    assert status == "refuted" and "nonzero Lie derivative" in reason
    true_as_non = LawClaim("t-non", "t", "reduced d=2", lambda: named_model("paper-reduced", d=2),
                           non_laws=(sen(2, 2, 1),))
    status, reason, _, _ = true_as_non.check()
    assert status == "refuted" and "exactly zero" in reason
    outside = LawClaim("t-out", "t", "query-trained d=2", lambda: named_model("query-trained", d=2), count=4)
    assert outside.check()[0] == "refuted"  # one of the 4 lies outside the class, not 0


def test_the_readme_model_file_loads():
    from pathlib import Path

    from attndyn.reports.commands.laws import load_spec

    spec = load_spec(str(Path(__file__).parent / "data" / "laws" / "vocab6.toml"), None, 1)
    assert spec.name == "vocab6" and spec.d == 1 and len(spec.words()) == 6 and spec.frozen == ()


def test_report_laws_model_option_adds_the_section(one_kept_case, tmp_path, capsys):
    assert main(["verify", "--claim", "laws-paper-reduced-d1", "--laws-model", "paper-reduced",
                 "--report", str(tmp_path / "r")]) == 0
    tex = (tmp_path / "r" / "derivations.tex").read_text()
    assert "Conservation laws of the training flow" in tex and "paper-reduced d=2" in tex
    capsys.readouterr()
    assert main(["verify", "--claim", "laws-paper-reduced-d1", "--laws-model", "nope",
                 "--report", str(tmp_path / "r2")]) == 2  # validated before any claim runs
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--laws-model" in err[0]


def test_sweep_runs_the_grid_in_order(tmp_path, capsys):
    out_json = tmp_path / "sweep.json"
    assert main(["laws", "--sweep", "paper-reduced,unequal-lengths", "--dims", "1,2",
                 "--json", str(out_json)]) == 0
    out = capsys.readouterr().out
    data = json.loads(out_json.read_text())
    assert [r["model"] for r in data["rows"]] == ["paper-reduced d=1", "paper-reduced d=2",
                                                   "unequal-lengths d=1", "unequal-lengths d=2"]
    sen = data["rows"][1]["result"]
    assert SEN_D2 in sen["laws"] and sen["complete"]
    # unequal lengths: no SEN law, only the key component orthogonal to q
    assert data["rows"][3]["result"]["laws"] == ["2*k_t_1 - k_t_2"]
    assert "4 model(s), 4 complete, 0 failed" in out and out.count("| paper-reduced d=") == 2


@pytest.mark.parametrize("argv, names", [
    (["--sweep", "nope"], "--sweep: unknown model"),
    (["--sweep", "all", "--dims", "0"], "--dims"),
    (["--sweep", "all", "--dims", "x"], "--dims"),
    (["--sweep", "all", "--model", "paper-reduced"], "does not take --model"),
    (["--sweep", "all", "--workers", "0"], "--workers"),
])
def test_sweep_bad_input_is_one_line_exit_2(argv, names, capsys):
    assert main(["laws", *argv]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and names in err[0]


@pytest.mark.slow
def test_sweep_on_dask_gives_the_serial_results(tmp_path):
    """Each (model, d) is an exact computation with its own seed: the executor cannot change it."""
    a, b = tmp_path / "serial.json", tmp_path / "dask.json"
    grid = ["--sweep", "paper-reduced,query-trained", "--dims", "1,2"]
    assert main(["laws", *grid, "--json", str(a)]) == 0
    assert main(["laws", *grid, "--workers", "2", "--json", str(b)]) == 0

    def strip(path):
        return [{k: v for k, v in r["result"].items() if k != "seconds"} for r in json.loads(path.read_text())["rows"]]

    assert strip(a) == strip(b)
