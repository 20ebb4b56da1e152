"""`attndyn bench` optimizer rows (numerics/experiments/optbench.py): plumbing on a tiny size."""
from __future__ import annotations

import pytest

from attndyn.numerics.experiments import optbench
from attndyn.numerics.experiments.bench import parse_sizes
from attndyn.reports.cli import main


def test_in_process_rows_and_ratios():
    lines = []
    out = optbench.optimizer_bench(parse_sizes("64"), threads=1, quick=True, isolate=False, log=lines.append)
    r = out["sizes"]["64"]
    assert set(r["epoch_seconds"]) == {"gd", "momentum", "adam"}
    assert all(len(v) == r["rounds"] for v in r["epoch_seconds"].values())
    assert set(r["ratio_to_gd"]) == {"momentum", "adam"} and r["ratio_to_gd"]["adam"] > 0
    assert out["targets"] == []  # targets only at the paper's size and 10^6
    assert any("adam/gd" in ln for ln in lines)


def test_worker_subprocess_and_auto_threads():
    spec = {"size": {"name": "64", "n_sentences": 64, "vocab": 64, "split": [1.0, 0.0, 0.0]},
            "rounds": 2, "warmup": 1, "threads": None}
    r = optbench._worker(spec)
    assert "error" not in r, r
    assert r["threads"] == 1 and r["threads_chosen_by"].startswith("auto")
    assert r["peak_rss_bytes"] > 10e6


def test_bad_threads_exit_2(capsys):
    assert main(["bench", "--optimizers", "--sizes", "64", "--threads", "99"]) == 2
    assert "--threads" in capsys.readouterr().err


def test_bench_optimizers_is_an_option(capsys):
    with pytest.raises(SystemExit) as e:
        main(["bench", "--help"])
    assert e.value.code == 0 and "--optimizers" in capsys.readouterr().out
