"""`attndyn simulate` ends with the verdict on its own setting and writes figures beside its arrays;
summary.json and check-convergence --json can be read alone (issue 10 §1, §2)."""
import hashlib
import json
from pathlib import Path
import subprocess
import sys

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "tests" / "data" / "settings" / "sen-holds.toml"
SMALL = ["--set", "train.epochs=300", "--set", "corpus.n_sentences=400"]


def cli(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "attndyn.reports.cli", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


@pytest.mark.slow
def test_simulate_writes_figures_and_ends_with_the_verdict(tmp_path):
    out = tmp_path / "run"
    p = cli("simulate", CONFIG, *SMALL, "--out", out, "--no-progress")
    assert p.returncode == 0, p.stderr
    for stem in ("loss", "attention", "sen"):
        for ext in ("png", "pdf"):
            assert (out / f"{stem}.{ext}").stat().st_size > 1000
    assert "verdict on this setting" in p.stdout and "N3-sen-paper" in p.stdout and "C1-convergence-paper" in p.stdout
    summary = json.loads((out / "summary.json").read_text())
    ids = [c["id"] for c in summary["verdict"]["claims"]]
    assert ids == ["N1-sen-flow", "N3-sen-paper", "C1-convergence-paper"]
    assert summary["verdict"]["claims"][1]["details"]["tolerance"]["lr"] == 0.1


def test_summary_json_is_self_contained_with_the_classifier_matrix_values(tmp_path):
    W = np.arange(40, dtype=np.float64).reshape(10, 4) / 7.0
    np.save(tmp_path / "W.npy", W)
    cfg = tmp_path / "c.toml"
    cfg.write_text(CONFIG.read_text().replace('classifier = "fc"', 'classifier = "fc"\nclassifier_matrix = "W.npy"'))
    out = tmp_path / "run"
    p = cli("simulate", cfg, *SMALL, "--out", out, "--no-progress", "--no-verdict", "--no-figures")
    assert p.returncode == 0, p.stderr
    prov = json.loads((out / "summary.json").read_text())["provenance"]
    rec = prov["classifier_initial"]
    assert np.array_equal(np.array(rec["W"]["values"]), W) and rec["source"].startswith("file ")
    assert rec["matrix_sha256"] == hashlib.sha256(W.tobytes()).hexdigest()
    assert set(prov["versions"]) >= {"attndyn", "numpy", "numba"} and prov["threads"] >= 1
    assert set(prov["kernel_chunks"]) >= {"sentence_chunk", "word_chunk"}
    assert prov["config"]["model"]["classifier_matrix"].endswith("W.npy")
    js = tmp_path / "conv.json"
    p = cli("check-convergence", cfg, *SMALL, "--json", js, "--horizon", "1000")
    assert p.returncode == 0, p.stderr
    conv = json.loads(js.read_text())["provenance"]
    assert conv["classifier_initial"]["matrix_sha256"] == rec["matrix_sha256"]
    assert conv["config"] == prov["config"]
