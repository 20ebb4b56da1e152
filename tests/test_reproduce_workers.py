"""`attndyn reproduce --workers N`: runs trained on worker processes are bitwise the serial runs.

Every trajectory array, the final parameters and every summary field except timings are
compared between ``workers=1`` (in-process, one after another) and ``workers=2`` (spawned
worker processes); also the bad-input and failed-worker paths.
"""
import json

import numpy as np
import pytest

from attndyn.numerics.experiments import reproduce as rp
from attndyn.numerics.experiments import runpool
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli import main

from tests.test_reproduce import TINY, _write_sst

TIMING = {"seconds", "seconds_per_epoch", "training_seconds", "provenance", "threading"}


def _strip(d):
    """A summary without its timing fields (and provenance: host, time, process)."""
    if isinstance(d, dict):
        return {k: _strip(v) for k, v in d.items() if k not in TIMING}
    if isinstance(d, list):
        return [_strip(v) for v in d]
    return d


def _same_bits(a, b, what):
    a, b = np.asarray(a), np.asarray(b)
    assert a.dtype == b.dtype and a.shape == b.shape, what
    assert a.tobytes() == b.tobytes(), what  # bitwise: NaN == NaN, -0.0 != 0.0


def _compare(serial, parallel, out_serial, out_parallel, overrides):
    assert [r.preset for r in serial] == [r.preset for r in parallel]
    for a, b in zip(serial, parallel):
        ta, tb = a.result.trajectory, b.result.trajectory
        assert sorted(ta) == sorted(tb)
        for key in ta:
            _same_bits(ta[key], tb[key], f"{a.preset} trajectory[{key}]")
        sa, sb = a.result.model.state(), b.result.model.state()
        assert sorted(sa) == sorted(sb)
        for key in sa:
            _same_bits(sa[key], sb[key], f"{a.preset} parameter {key}")
        assert a.result.epochs == b.result.epochs and a.result.status == b.result.status
        assert _strip(a.result.summary()) == _strip(b.result.summary())
        ra, rb = rp.run_summary(a, out_serial, overrides), rp.run_summary(b, out_parallel, overrides)
        ra.pop("command"), rb.pop("command")
        assert _strip(ra) == _strip(rb)
        assert json.dumps(_strip(a.extra), sort_keys=True, default=str) == json.dumps(
            _strip(b.extra), sort_keys=True, default=str)
        _same_bits(a.train_corpus.word_ids, b.train_corpus.word_ids, f"{a.preset} corpus")


def test_synthetic_workers_are_bitwise_serial(tmp_path):
    over = TINY + ["train.record_every=3"]
    lines1, lines2 = [], []
    serial = rp.train_runs("synthetic", over, progress=False, log=lines1.append, workers=1)
    parallel = rp.train_runs("synthetic", over, progress=False, log=lines2.append, workers=2)
    _compare(serial, parallel, tmp_path / "a", tmp_path / "b", over)
    # a start and a finish line per run, the ETA once a run has finished, the order longest first
    for k, preset in enumerate(("paper-fc", "paper-tc", "paper-tl"), 1):
        assert sum(line.startswith(f"[{k}/3] {preset}: training") for line in lines2) == 1
        assert sum(line.startswith(f"[{k}/3] {preset}: ok in") for line in lines2) == 1
    assert "longest expected first: paper-tl, paper-fc, paper-tc" in lines2[0]
    assert any("ETA of all runs" in line for line in lines2[2:])


def test_sst_workers_are_bitwise_serial(tmp_path):
    _write_sst(tmp_path / "data")
    over = [f"corpus.sst_dir={tmp_path / 'data'}", "train.epochs=30", "train.lr=0.5", "train.record_every=3",
            "train.word_record_every=5", "model.d_e=6"]
    serial = rp.train_runs("sst", over, progress=False, log=lambda _: None, workers=1)
    parallel = rp.train_runs("sst", over, progress=False, log=lambda _: None, workers=3)
    _compare(serial, parallel, tmp_path / "a", tmp_path / "b", over)


def test_summary_records_workers_and_saves_every_run(tmp_path):
    summary = rp.reproduce("synthetic", tmp_path, TINY, progress=False, log=lambda _: None, workers=2)
    assert summary["workers"] == 2
    # the figures drawn side by side on the workers: the serial path's files, in its order
    assert summary["figures"] == [f"synthetic_{s}.{e}" for s in ("sen", "loss", "distributions")
                                  for e in ("png", "pdf")]
    for name in summary["figures"]:
        assert (tmp_path / name).stat().st_size > 0
    for r in summary["runs"]:
        assert (tmp_path / "runs" / r["preset"] / "trajectory.npz").is_file()
        assert (tmp_path / "runs" / r["preset"] / "final_words.npz").is_file()


def test_resolve_workers():
    assert runpool.resolve_workers(1, 3) == 1
    assert runpool.resolve_workers(8, 3) == 3  # never more processes than runs
    assert 1 <= runpool.resolve_workers(None, 3) <= 3
    for bad in (0, -1, 1.5, True, "2"):
        with pytest.raises(UsageError, match="--workers"):
            runpool.resolve_workers(bad, 3)


def test_cli_bad_workers_is_one_line(capsys):
    for bad in ("0", "two"):
        assert main(["reproduce", "synthetic", "--workers", bad]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and "--workers" in err[0], err


def test_a_failing_worker_is_one_line(tmp_path, capsys):
    # the SST files are missing: each worker's corpus load raises; the parent reports it in one line
    argv = ["reproduce", "sst", "--out", str(tmp_path / "o"), "--no-progress", "--workers", "2",
            "--set", f"corpus.sst_dir={tmp_path / 'missing'}"]
    assert main(argv) == 2
    captured = capsys.readouterr()
    err = captured.err.strip().splitlines()
    assert len(err) == 1 and "missing" in err[0] and "Traceback" not in captured.err, captured.err
    assert "failed on its worker" in captured.out


def test_an_idle_worker_warms_up_while_the_last_run_trains(tmp_path):
    """``RunPool.train(warm=...)``: with three runs on two workers the hook is queued once the queue of
    runs is empty and a worker idles, and has run by the time the pool shuts down; the real hook
    (:func:`runpool.warm_figures`) draws and saves in a worker without error."""
    import functools
    from pathlib import Path

    marker = tmp_path / "warmed"
    planned = rp.plan("synthetic", TINY)
    with runpool.RunPool(2) as pool:
        runs = pool.train(planned, TINY, log=lambda _: None, on_run=None,
                          warm=functools.partial(Path.touch, marker))
        assert all(r is not None for r in runs)
        pool.pool.submit(runpool.warm_figures).result()
    assert marker.is_file()
