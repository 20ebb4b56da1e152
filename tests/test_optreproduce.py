"""``attndyn reproduce optimizers`` (numerics/experiments/optreproduce.py) on a small corpus."""
from __future__ import annotations

import json

import pytest

from attndyn.numerics.experiments.optreproduce import CLASSIFIERS, OPTIMIZERS, reproduce_optimizers, table
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli import main
from attndyn.reports.sections.reproduction import reproduction_section

SMALL = ["corpus.n_sentences=200", "corpus.n_nontopic=40", "train.epochs=60"]


def test_small_run_matches_losses_and_writes_everything(tmp_path):
    s = reproduce_optimizers(tmp_path / "o", SMALL, progress=False, log=lambda _l: None)
    assert [(r["classifier"], r["optimizer"]) for r in s["runs"]] == [
        (c.upper(), o) for c in CLASSIFIERS for o in OPTIMIZERS]
    for c in CLASSIFIERS:
        rows = {r["optimizer"]: r for r in s["runs"] if r["classifier"] == c.upper()}
        target = rows["gd"]["final_loss"]
        assert rows["gd"]["epochs"] == 60
        for o, r in rows.items():
            assert r["status"] == "ok"
            b = r["budget"]  # recorded during the run: the derived sources against the measured drift of H
            assert b is not None and b["step_gap"] < 1e-9, (c, o, b)
            assert abs(sum(b["shares"].values()) - 1) < 1e-12 and b["dominant"] == max(b["shares"], key=b["shares"].get)
            own = {"sgd": "mini-batch-noise", "momentum": "momentum", "nesterov": "momentum", "adam": "adam-scaling"}
            assert (own[o] in b["shares"]) if o != "gd" else not set(own.values()) & set(b["shares"])
            if o != "gd" and r["matched"]:
                # stopped at the first epoch at or below the reference loss
                assert r["final_loss"] <= target and r["epochs"] <= 60
    saved = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert saved["rule"].startswith("gd at lr 0.1") and saved["epochs_cap"] == {"fc": 60, "tc": 60}
    for f in ("sen_optimizers.png", "sen_optimizers.pdf"):
        assert (tmp_path / "o" / f).stat().st_size > 1000
    assert (tmp_path / "o" / "runs" / "tc-adam" / "trajectory.npz").exists()
    assert len(table(saved)) == 1 + len(CLASSIFIERS) * len(OPTIMIZERS)
    assert all(("closes (" in line or "OPEN (" in line) for line in table(saved)[1:])
    assert (tmp_path / "o" / "runs" / "fc-sgd" / "budget_terms.npz").exists()
    for run in ("fc-momentum", "tc-sgd", "fc-adam"):  # every optimizer's sources have a place in the plot
        assert main(["budget", str(tmp_path / "o" / "runs" / run)]) in (0, 1)
        assert (tmp_path / "o" / "runs" / run / "budget.png").stat().st_size > 1000
    # the report picks it up (reports/sections/optimizers.py), from --reproduced or REPORT_DIR/reproduce/
    sec = reproduction_section(tmp_path / "o")
    assert sec.title == "Reproduction: optimizers at matched loss" and "matched" in sec.body_latex
    assert [f.name for f in sec.figures] == ["sen_optimizers.pdf"]


def test_the_rule_owns_optimizer_and_lr(tmp_path, capsys):
    with pytest.raises(UsageError, match="train.lr"):
        reproduce_optimizers(tmp_path / "o", ["train.lr=0.5"], progress=False)
    assert main(["reproduce", "optimizers", "--out", str(tmp_path / "p"), "--set", "train.optimizer=adam"]) == 2
    assert "train.optimizer" in capsys.readouterr().err
