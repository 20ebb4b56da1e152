"""`attndyn verify CONFIG.toml`: the numeric claims measured on a user's setting (issue 10 §1).

Two configs that are not presets, in tests/data/settings/: on ``sen-holds.toml`` the SEN
residual claim holds; on ``few-nontopic.toml`` (30 non-topic words) it fails and names the
violated hypothesis (non-topic words moved) with the number that shows it."""
import json
from pathlib import Path
import subprocess
import sys

import pytest

from attndyn.numerics.setting import Setting
from attndyn.proofs.claims.registry import NotApplicable, run_claim
from attndyn.reports.cli.assembly import claims

DATA = Path(__file__).parent / "data" / "settings"
PASS, FAIL = DATA / "sen-holds.toml", DATA / "few-nontopic.toml"
ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def registry():
    return claims()


@pytest.fixture(scope="module")
def passing():
    return Setting.of(PASS)


def test_the_numeric_claims_take_a_setting(registry):
    on_setting = {c.id for c in registry.values() if c.takes_setting}
    assert {"N1-sen-flow", "N2-sen-gd-order", "N3-sen-paper", "C1-convergence-paper",
            "neg-sen-flow-m-plus-one", "neg-trainable-query", "neg-convergence-wrong-expectation"} <= on_setting
    assert not registry["S2-sen-identity"].takes_setting


def test_sen_residual_holds_on_the_passing_setting_with_a_derived_tolerance(registry, passing):
    r = run_claim(registry["N3-sen-paper"], passing)
    assert r.outcome.status == "verified", r.outcome.reason
    tol = r.outcome.details["tolerance"]
    assert tol["tolerance"] == pytest.approx(tol["discrete_step_drift"] + tol["allowance"])
    assert 0 < tol["discrete_step_drift"] < tol["allowance"] and tol["lr"] == 0.1 and tol["epochs"] == 2000
    assert "every hypothesis holds" in r.outcome.reason and r.setting == str(PASS)


def test_the_tolerance_follows_the_step_size():
    small, large = (Setting.of(PASS, [f"train.lr={lr}", "train.epochs=500"]) for lr in (0.05, 0.2))
    assert small.sen_tolerance()["discrete_step_drift"] < large.sen_tolerance()["discrete_step_drift"]


def test_sen_residual_fails_on_few_nontopic_words_naming_the_hypothesis(registry):
    r = run_claim(registry["N3-sen-paper"], Setting.of(FAIL))
    assert r.outcome.status == "refuted"
    reason = r.outcome.reason
    assert "non-topic words moved: max |s_w| = " in reason and "frozen-non-topic assumption does not hold" in reason
    assert "with more non-topic words" in reason
    hyp = {h["name"]: h for h in r.outcome.details["hypotheses"]}
    assert not hyp["non-topic words frozen"]["holds"] and hyp["query fixed"]["holds"]
    assert hyp["non-topic words frozen"]["measured"] > hyp["non-topic words frozen"]["limit"]


def test_unequal_lengths_break_the_flow_identity_and_say_so(registry):
    s = Setting.of(PASS, ["corpus.m_spread=5", "train.epochs=500"])
    r = run_claim(registry["N1-sen-flow"], s)
    assert r.outcome.status == "refuted" and "unequal lengths: m = 15..25" in r.outcome.reason
    assert run_claim(registry["neg-sen-flow-m-plus-one"], s).outcome.status == "refuted"


def test_the_flow_identity_and_its_control_on_the_passing_setting(registry, passing):
    assert run_claim(registry["N1-sen-flow"], passing).outcome.status == "verified"
    control = run_claim(registry["neg-sen-flow-m-plus-one"], passing)
    assert control.outcome.status == "refuted" and control.outcome.details["margin"] > 1e3


def test_a_control_that_needs_a_linear_classifier_does_not_apply_to_tl(registry):
    s = Setting.of(PASS, ["model.classifier=tl", "train.epochs=10"])
    with pytest.raises(NotApplicable, match="linear classifier"):
        run_claim(registry["neg-convergence-wrong-expectation"], s)


@pytest.mark.slow
def test_cli_verify_on_a_failing_config_names_the_hypothesis_and_records_the_setting(tmp_path):
    out = tmp_path / "v.json"
    p = subprocess.run([sys.executable, "-m", "attndyn.reports.cli", "verify", str(FAIL), "--claim", "N1-sen-flow",
                        "--claim", "N3-sen-paper", "--no-report", "--json", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert p.returncode == 1, p.stderr
    assert "non-topic words moved" in p.stdout and "Traceback" not in p.stderr
    data = json.loads(out.read_text())
    assert data["setting"]["config"]["corpus"]["n_nontopic"] == 30
    assert data["setting"]["tolerances"]["N3-sen-paper"]["tolerance"] > 0.05
    assert {c["id"]: c["status"] for c in data["claims"]} == {"N1-sen-flow": "verified", "N3-sen-paper": "refuted"}
    assert all(c["setting"] == str(FAIL) for c in data["claims"])


def test_cli_verify_setting_rejects_a_claim_that_is_not_measured_on_a_setting(tmp_path):
    p = subprocess.run([sys.executable, "-m", "attndyn.reports.cli", "verify", str(PASS), "--claim", "S1-gradients",
                        "--no-report"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert p.returncode == 2 and "measured on a setting" in p.stderr and "Traceback" not in p.stderr


def test_the_setting_statement_is_rendered_from_the_tolerance_it_compares(registry, passing, monkeypatch):
    from dataclasses import replace

    import attndyn.numerics.setting as setting_module

    r = run_claim(registry["N3-sen-paper"], passing)
    tol = r.outcome.details["tolerance"]["tolerance"]
    assert f"{tol:.4g}" in r.outcome.details["statement_on_setting"]
    # no allowance: only the discrete-step drift is tolerated, which this run's non-topic motion exceeds
    monkeypatch.setattr(setting_module, "NUMERIC", replace(setting_module.NUMERIC, sen_paper_max=0.0))
    tight = run_claim(registry["N3-sen-paper"], passing)
    assert tight.outcome.status == "refuted"
    assert tight.outcome.details["tolerance"]["tolerance"] == pytest.approx(tight.outcome.details["tolerance"]
                                                                            ["discrete_step_drift"])
    assert f"{tight.outcome.details['tolerance']['tolerance']:.4g}" in tight.outcome.details["statement_on_setting"]


@pytest.mark.parametrize("argv, match", [
    (["--set", "train.lr=1"], "--set: give CONFIG.toml or --preset NAME"),
    (["--preset", "sst2-fc"], "need topic words with labels"),
    (["--preset", "paper-fc", "--only", "symbolic"], "--only symbolic: none of the chosen claims"),
    (["--preset", "paper-fc", "--set", "train.epochs=0"], "train.epochs = 0"),
    (["--preset", "paper-fc", "--set", "corpus.topic_words_per_sentence=2"], "one topic word per sentence"),
])
def test_verify_on_a_setting_bad_input_is_one_line(argv, match, capsys):
    from attndyn.reports.cli import main

    assert main(["verify", *argv, "--no-report"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and match in err[0], err


def test_the_setting_verdict_names_every_violated_hypothesis_and_only_those():
    from attndyn.numerics.claims.training import sen_setting_verdict

    tol = {"tolerance": 0.06, "discrete_step_drift": 0.01, "allowance": 0.05}
    hyps = [{"name": "query fixed", "holds": False, "evidence": "query trained: |q| went from 1 to 4", "remedy": "fix q"},
            {"name": "equal sentence lengths", "holds": True, "evidence": "every sentence has m = 20", "remedy": "-"}]
    status, reason = sen_setting_verdict(1.75, tol, hyps)
    assert status == "refuted" and "query trained: |q| went from 1 to 4; fix q" in reason and "m = 20" not in reason
    assert sen_setting_verdict(0.05, tol, hyps)[0] == "verified"
    status, reason = sen_setting_verdict(1.0, tol, hyps[1:])
    assert status == "refuted" and "no hypothesis of the identity is measurably violated" in reason
    assert sen_setting_verdict(float("inf"), tol, hyps)[0] == "refuted"
