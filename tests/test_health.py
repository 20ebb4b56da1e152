"""Loss precision and overflow as training statuses (numerics/training/health.py)."""
from __future__ import annotations

import json

import numpy as np

from attndyn.numerics.model.attention import AttentionModel
from attndyn.numerics.training import health
from attndyn.numerics.training.train import train
from attndyn.proofs.settings import TRAINING
from attndyn.reports.cli import main

from tests.test_train import small

SMALL = ["--preset", "paper-fc", "--set", "corpus.n_sentences=50", "--set", "corpus.n_nontopic=20",
         "--set", "train.epochs=20", "--no-progress"]


def test_a_classifier_of_1e308_is_precision_lost_not_a_loss_of_zero(tmp_path, capsys):
    """Logits near 1e306: the computed loss is 0.0 where the true loss is log 4."""
    np.save(tmp_path / "W.npy", np.full((10, 4), 1e308))
    assert main(["simulate", *SMALL, "--set", f"model.classifier_matrix={tmp_path / 'W.npy'}",
                 "--out", str(tmp_path / "o")]) == 1
    out, err = capsys.readouterr()
    assert out.startswith("precision-lost: 0 epochs") and "final loss None" in out
    assert "the loss lost its precision" in err and "Hint:" in err and "Traceback" not in err
    s = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert s["status"] == "precision-lost" and s["final_loss"] is None


def test_float32_overflow_of_the_classifier_is_named_with_a_hint(tmp_path, capsys):
    np.save(tmp_path / "W.npy", np.full((10, 4), 1e308))
    assert main(["simulate", *SMALL, "--set", f"model.classifier_matrix={tmp_path / 'W.npy'}",
                 "--set", "train.dtype=float32", "--out", str(tmp_path / "o")]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1, err  # no RuntimeWarning from the cast
    assert "overflow at the start: classifier.W became inf in float32" in err[0]
    assert 'train.dtype = "float64"' in err[0]
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["status"] == "overflow"


def test_precision_lost_mid_run_keeps_the_partial_trajectory(monkeypatch):
    """tc with lr 1e6: the classifier grows until the logits swamp the loss; the records before
    are kept (the instability check is switched off to reach this point)."""
    import dataclasses
    import attndyn.numerics.training.train as train_mod
    monkeypatch.setattr(train_mod, "TRAINING", dataclasses.replace(TRAINING, unstable_factor=float("inf")))
    r = train(small("tc", epochs=200, lr=1e6, record_every=1), progress=False)
    assert r.status == "precision-lost"
    assert "logits reach |z|" in r.message and "trajectory records kept" in r.message
    assert 0 < r.epochs < 200 and len(r.trajectory["epoch"]) == r.epochs
    assert np.all(np.isfinite(r.trajectory["loss"]))
    json.dumps(r.summary(), allow_nan=False)


def test_the_precision_threshold_is_eps_times_the_largest_logit():
    from attndyn.numerics.data.corpus import synthetic
    cfg = small("fc")
    corpus = synthetic(cfg.corpus.synthetic)
    model = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)
    tr = corpus.subset("train")
    z = health.max_logit(model, tr)
    assert 0 < z <= health.logit_bound(model) * (1 + 1e-12)
    assert health.precision_problem(model, tr) is None
    # scale the classifier until eps * |z| just exceeds the tolerance, and just stays below it
    target = TRAINING.loss_precision_atol / np.finfo(np.float64).eps
    W = model.classifier["W"]
    W *= 1.01 * target / z
    assert "nats" in health.precision_problem(model, tr)
    W *= 0.98
    assert health.precision_problem(model, tr) is None


def test_an_infinite_sen_residual_is_the_string_inf_with_a_note():
    r = train(small("fc", epochs=5), progress=False)
    r.trajectory["topic_norms"][-1, 0] = np.inf
    s = r.summary()
    assert s["sen_residual_max"] == "inf" and "inf" in s["sen_residual_note"]
    assert s["topic_words"][0]["sen_residual_max"] == "inf"
    json.dumps(s, allow_nan=False)
    ok = train(small("fc", epochs=5), progress=False).summary()
    assert isinstance(ok["sen_residual_max"], float) and "sen_residual_note" not in ok


def test_overflowed_names_the_group():
    model = AttentionModel.initial(small("fc"), 10, 3)
    assert health.overflowed(model) == []
    model.embeddings[2, 0] = np.inf
    assert health.overflowed(model) == ["embeddings"]


def test_the_bound_from_the_record_is_the_bound_from_the_table():
    """The training loop takes max_w |v_w| from the record it stages (Trajectory.max_norm) instead of
    a second pass over the table: the same number to rounding, and the bound with it is still >= the
    largest logit; NaN and inf norms reach the bound as before."""
    from attndyn.numerics.data.corpus import synthetic
    from attndyn.numerics.training.train import Trajectory
    cfg = small("tl")
    corpus = synthetic(cfg.corpus.synthetic)
    model = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)
    rng = np.random.default_rng(3)
    model.embeddings[:] = rng.normal(size=model.embeddings.shape)
    tw = np.asarray(corpus.topic_words, np.int64)
    traj = Trajectory(4, tw, np.asarray(corpus.topic_labels, np.int64), corpus.vocab_size)
    for row, factor in ((int(tw[0]), 50.0), (int(np.flatnonzero(~traj.is_topic)[-1]), 100.0)):
        model.embeddings[row] *= factor  # the largest row: a topic word, then a non-topic word
        table = float(np.sqrt(np.max(np.sum(model.embeddings.astype(np.float64) ** 2, axis=1))))
        assert table == float(np.linalg.norm(model.embeddings[row]))
        traj.add(0, model, 1.0)
        assert abs(traj.max_norm(traj.n - 1) - table) <= 1e-12 * table
        assert health.logit_bound(model, traj.max_norm(traj.n - 1)) >= health.logit_bound(model) / health.BOUND_MARGIN
        assert health.max_logit(model, corpus.subset("train")) <= health.logit_bound(model, traj.max_norm(traj.n - 1))
    model.embeddings[5, 0] = np.nan
    traj.add(1, model, 1.0)
    assert np.isnan(traj.max_norm(traj.n - 1)) and np.isnan(health.logit_bound(model, traj.max_norm(traj.n - 1)))


def test_max_norm_is_the_max_of_the_record_with_nan_propagated():
    """Trajectory.max_norm (floats, no array built) against np.max over the record's topic norms and its
    non-topic largest norm, for NaN and inf on either side, and with no topic word / no other word."""
    from attndyn.numerics.training.train import Trajectory
    cases = [([1.0, 3.0], 2.0), ([1.0, 3.0], 5.0), ([np.nan, 3.0], 2.0), ([1.0, 3.0], np.nan),
             ([np.inf, 1.0], 2.0), ([1.0], np.inf), ([0.0, 0.0], 0.0), ([], 4.0)]
    for norms, other in cases:
        T = len(norms)
        traj = Trajectory(2, np.arange(T, dtype=np.int64), np.zeros(T, np.int64), vocab_size=T + 3)
        traj.a["topic_norms"][0] = norms
        traj.a["nontopic_norm_max"][0] = other
        want = float(np.max(np.append(np.asarray(norms, float), other)))
        got = traj.max_norm(0)
        assert (np.isnan(got) and np.isnan(want)) or got == want, (norms, other, got, want)
    all_topic = Trajectory(2, np.arange(3, dtype=np.int64), np.zeros(3, np.int64), vocab_size=3)
    all_topic.a["topic_norms"][0] = [2.0, 7.0, 1.0]
    all_topic.a["nontopic_norm_max"][0] = np.nan  # no non-topic word: NaN by definition, left out
    assert all_topic.max_norm(0) == 7.0


def test_the_operator_norm_bound_outside_the_normal_range():
    """The fast Frobenius path and the scaled one agree; 1e200 entries (squares overflow) and 1e-160
    ones (squares underflow) take the scaled path and stay exact to rounding."""
    a = np.random.default_rng(0).normal(size=(7, 3))
    exact = float(np.linalg.norm(a))
    for scale in (1.0, 1e200, 1e-160):
        got = health._opnorm(a * scale)
        assert abs(got - exact * scale) <= 1e-14 * exact * scale, scale
    assert np.isinf(health._opnorm(np.array([[np.inf, 1.0]])))
    assert np.isnan(health._opnorm(np.array([[np.nan, 1.0]])))
    assert health._opnorm(np.zeros((2, 2))) == 0.0
