"""The training driver: records, divergence, snapshots, mini-batches, determinism, the CLI."""
import io
import json

import numpy as np
import pytest

from attndyn.numerics.model.attention import AttentionModel
from attndyn.numerics.config.schema import CorpusSpec, ModelConfig, RunConfig, TrainConfig
from attndyn.numerics.data.corpus import Corpus, SyntheticConfig, synthetic
from attndyn.proofs.settings import KERNEL
from attndyn.numerics.progress import Progress
from attndyn.numerics.model.attention import auto_fused, auto_lowrank
from attndyn.numerics.training.train import train
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli import main


def small(classifier="fc", epochs=40, **train_kw):
    corpus = SyntheticConfig(n_topics=3, topic_words_per_topic=2, n_nontopic=40, m=6, n_sentences=240,
                             split=(0.75, 0.05, 0.2), seed=3)
    train_kw.setdefault("record_every", 5)
    train_kw.setdefault("lr", 0.5)
    return RunConfig(CorpusSpec("synthetic", corpus), ModelConfig(classifier=classifier, d_e=4, d_k=5),
                     TrainConfig(epochs=epochs, **train_kw))


def tiny_corpus():
    """Variable-length sentences, built by hand: words 0, 1 are topic words of classes 0, 1."""
    sentences = [[0, 2, 3], [1, 4], [0, 5, 5, 2], [1, 3, 4, 6, 2], [0, 6], [1, 2, 2], [0, 3], [1, 5]]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    labels = np.array([0, 1, 0, 1, 0, 1, 0, 1], dtype=np.int64)
    split = np.array([0, 0, 0, 0, 0, 0, 2, 2], dtype=np.int8)
    return Corpus(np.concatenate(sentences).astype(np.int64), offsets, labels, split, 2, 7,
                  np.array([0, 1]), np.array([0, 1]), None, "tiny")


def test_training_records_the_trajectory_and_learns():
    r = train(small("tc"), progress=False)
    tr = r.trajectory
    assert r.status == "ok" and r.epochs == 40
    assert list(tr["epoch"]) == list(range(0, 41, 5))
    assert tr["topic_scores"].shape == (9, 6) and tr["topic_norms"].shape == (9, 6)
    assert tr["loss"][-1] < tr["loss"][0] and tr["loss"][-1] == pytest.approx(r.final_loss, rel=1e-12)
    assert np.all(tr["topic_scores"][-1] > 0) and np.all(tr["topic_norms"][-1] > tr["topic_norms"][0])
    assert 0.0 <= r.test_accuracy <= 1.0
    assert np.all((r.topic_attention_min > 0) & (r.topic_attention_min <= r.topic_attention_mean))
    assert np.all(r.topic_m == 6)


def test_first_record_is_the_initial_point():
    """Record 0 holds the loss and statistics at the initialisation, before any step."""
    cfg = small("tl", epochs=3, record_every=1)
    corpus = synthetic(cfg.corpus.synthetic)
    tc = corpus.subset("train")
    m0 = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)
    loss0 = m0.evaluate(tc.word_ids, tc.offsets, tc.labels)[0]
    r = train(cfg, corpus, progress=False)
    tr = r.trajectory
    assert tr["loss"][0] == pytest.approx(loss0, rel=1e-12)
    assert np.array_equal(tr["topic_norms"][0], np.linalg.norm(m0.embeddings[corpus.topic_words], axis=1))
    assert np.all(tr["topic_scores"][0] == 0.0)  # keys start at 0
    assert tr["q_norm"][0] == pytest.approx(np.linalg.norm(m0.query))
    others = np.setdiff1d(np.arange(corpus.vocab_size), corpus.topic_words)
    assert tr["nontopic_norm_max"][0] == pytest.approx(np.linalg.norm(m0.embeddings[others], axis=1).max())


def test_same_seed_same_result_and_seed_matters():
    a, b = train(small("tc"), progress=False), train(small("tc"), progress=False)
    c = train(small("tc", seed=1), progress=False)
    for k in a.trajectory:
        assert np.array_equal(a.trajectory[k], b.trajectory[k]), k
    assert np.array_equal(a.model.embeddings, b.model.embeddings)
    assert not np.array_equal(a.model.embeddings, c.model.embeddings)


def test_threads_do_not_change_the_result():
    a = train(small("tc", threads=1), progress=False)
    b = train(small("tc", threads=2), progress=False)
    assert np.array_equal(a.model.embeddings, b.model.embeddings)
    assert np.array_equal(a.trajectory["loss"], b.trajectory["loss"])
    assert (a.threads, b.threads) == (1, 2)


def test_summary_records_the_thread_pool():
    s = train(small("fc", threads=1), progress=False).summary()
    pool = s["threading"]
    assert pool["layer"] in ("omp", "tbb", "workqueue") and pool["threads"] == 1
    json.dumps(s, allow_nan=False)


def test_unset_threads_run_small_problems_on_one_thread(monkeypatch):
    """Issue 13: below TRAINING.auto_parallel_min_occurrences an epoch is too short for a parallel
    region to pay off beside other processes; above it numba's default stands.  Either way the
    caller's thread setting is restored and the result is the one of any explicit thread count."""
    import dataclasses  # deferred: only this test needs it

    import numba  # deferred: only this test needs it

    from attndyn.numerics.training import train as train_mod  # deferred: only this test needs it

    before = numba.get_num_threads()
    numba.set_num_threads(numba.config.NUMBA_NUM_THREADS)  # another test may have lowered it
    default = numba.get_num_threads()
    auto = train(small("fc"), progress=False)
    assert auto.threads == 1 and numba.get_num_threads() == default
    assert auto.summary()["threading"]["threads_chosen_by"].startswith("auto: ")
    two = train(small("fc", threads=2), progress=False)
    assert np.array_equal(auto.model.embeddings, two.model.embeddings)
    if numba.config.NUMBA_NUM_THREADS > 1:  # a tiny threshold: the default pool is used
        monkeypatch.setattr(train_mod, "TRAINING", dataclasses.replace(train_mod.TRAINING,
                                                                       auto_parallel_min_occurrences=1))
        big = train(small("fc"), progress=False)
        assert big.threads == default > 1
        assert np.array_equal(big.model.embeddings, auto.model.embeddings)
    numba.set_num_threads(before)


@pytest.mark.parametrize("env, policy", [({}, "PASSIVE"), ({"OMP_WAIT_POLICY": "ACTIVE"}, "ACTIVE"),
                                         ({"GOMP_SPINCOUNT": "1000"}, None)])
def test_importing_numerics_sets_a_passive_wait_policy_unless_the_user_chose(env, policy):
    """Issue 13: spinning OpenMP threads of concurrent trainings starve each other."""
    import os  # deferred: only this test needs it
    import subprocess  # deferred: only this test needs it
    import sys  # deferred: only this test needs it

    import attndyn  # deferred: only this test needs it

    base = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")}
    base["PYTHONPATH"] = os.path.dirname(os.path.dirname(os.path.abspath(attndyn.__file__)))  # this checkout
    out = subprocess.run([sys.executable, "-c",
                          "import os, attndyn.numerics; print(os.environ.get('OMP_WAIT_POLICY'))"],
                         env={**base, **env}, capture_output=True, text=True, check=True).stdout.split()
    assert out == [str(policy)]


def test_too_many_threads_is_a_usage_error():
    with pytest.raises(UsageError, match="train.threads"):
        train(small(threads=4096), progress=False)


def test_divergence_stops_with_a_status_and_keeps_the_finite_trajectory(monkeypatch):
    # the instability and precision checks (a huge but finite loss) would stop this run first: switch them off
    # to reach the non-finite loss
    import dataclasses
    import attndyn.numerics.training.train as train_mod
    import attndyn.numerics.training.health as health_mod
    off = dataclasses.replace(train_mod.TRAINING, unstable_factor=float("inf"), loss_precision_atol=float("inf"))
    monkeypatch.setattr(train_mod, "TRAINING", off)
    monkeypatch.setattr(health_mod, "TRAINING", off)  # and the precision check (huge logits come first)
    r = train(small("tc", epochs=200, lr=1e6, record_every=1), progress=False)
    assert r.status == "diverged"
    assert "diverged" in r.message and "train.lr" in r.message
    assert 0 < r.epochs < 200
    tr = r.trajectory
    assert len(tr["epoch"]) == r.epochs and np.all(np.isfinite(tr["loss"]))
    s = r.summary()
    assert s["status"] == "diverged" and s["final_loss"] is None and s["test_accuracy"] is None
    json.dumps(s, allow_nan=False)  # no NaN in the JSON


def test_output_dir_gets_trajectory_and_summary(tmp_path):
    r = train(small("fc"), progress=False, out_dir=tmp_path)
    assert (tmp_path / "trajectory.npz").exists()  # written by train itself (snapshots)
    files = r.save(tmp_path)
    summary = json.loads(files["summary"].read_text())
    z = np.load(files["trajectory"])
    assert np.array_equal(z["loss"], r.trajectory["loss"])
    assert RunConfig.from_dict(summary["config"]) == r.config
    word = summary["topic_words"][0]
    assert set(word) >= {"label", "score", "norm", "scaled_norm", "attention_mean", "attention_min"}
    assert word["scaled_norm"] == pytest.approx(summary["q_norm"] * word["norm"])
    # what decides the last bits is recorded: chunk sizes, the shared-exp path and the kernel that ran
    # (a linear classifier, fixed query, GD, a table in cache with train.kernel "auto": the fused step, as
    # auto_fused says; auto_lowrank would have kept the d_e-wide kernels: K = 3 < d_e = 4, a tiny table)
    assert r.model.n_classes < r.config.model.d_e
    assert not auto_lowrank(r.model.vocab_size, r.config.model.d_e, r.model.n_classes)
    assert auto_fused(r.model.vocab_size, r.config.model.d_e, r.model.n_classes) and r.model.last_fused
    assert summary["kernel"] == {"sentence_chunk": KERNEL.sentence_chunk, "word_chunk": KERNEL.word_chunk,
                                 "shared_exp": True, "shared_exp_floor": KERNEL.shared_exp_floor,
                                 "kernel": "auto", "path": "fused"}


def test_auto_kernel_choice_follows_the_measurements():
    """auto: K-wide kernels for SST (d_e 100-200, K 2-5) and N = V = 1e6 (an out-of-cache table),
    the d_e-wide ones at the paper's size (d = 10, K = 4, V = 5008) and whenever K >= d_e."""
    assert auto_lowrank(16000, 200, 2) and auto_lowrank(17000, 100, 5)
    assert auto_lowrank(1_000_000, 10, 4)
    assert not auto_lowrank(5008, 10, 4)
    assert not auto_lowrank(10 ** 7, 4, 4) and not auto_lowrank(10 ** 7, 3, 5)


@pytest.mark.parametrize("classifier", ["fc", "tc"])
def test_forced_kernel_paths_record_themselves_and_agree(classifier):
    """train.kernel = full / lowrank / fused: each recorded in the summary, the runs equal to rounding."""
    runs = {k: train(small(classifier, kernel=k), progress=False) for k in ("full", "lowrank", "fused")}
    for k, r in runs.items():
        assert r.summary()["kernel"]["kernel"] == k and r.summary()["kernel"]["path"] == k
    a, b = runs["full"].trajectory, runs["lowrank"].trajectory
    np.testing.assert_allclose(b["loss"], a["loss"], rtol=1e-10)
    for k in ("lowrank", "fused"):
        np.testing.assert_allclose(runs[k].trajectory["loss"], a["loss"], rtol=1e-10)
        np.testing.assert_allclose(runs[k].model.embeddings, runs["full"].model.embeddings,
                                   rtol=1e-8, atol=1e-10)
    assert not np.array_equal(b["loss"][:1], b["loss"][-1:])  # training moved the loss


def test_sen_residual_against_the_closed_form():
    """The residual is |q||v_t| minus sqrt(|q0|^2|v0|^2 + 2((s - s0) + (e^s - e^s0)/m)), written out here."""
    r = train(small("fc", epochs=60, record_every=1), progress=False)
    tr = r.trajectory
    s, y = tr["topic_scores"], tr["q_norm"][:, None] * tr["topic_norms"]
    rad = r.initial_qv ** 2 + 2 * ((s - r.initial_scores) + (np.exp(s) - np.exp(r.initial_scores)) / r.topic_m)
    with np.errstate(invalid="ignore"):
        expected = np.where(rad >= 0, y - np.sqrt(rad), y)
    res, unreachable = r.sen_residuals()
    np.testing.assert_allclose(res, expected, rtol=0, atol=1e-12)
    assert np.array_equal(unreachable, rad < 0)
    assert r.sen_residual_max() == pytest.approx(np.abs(expected).max())


def test_query_trainable_moves_the_query_and_keys_stay_consistent():
    r = train(small("fc", trainable=["embeddings", "keys", "query"]), progress=False)
    assert r.trajectory["q_norm"][-1] != r.trajectory["q_norm"][0]
    fixed = train(small("fc", epochs=10), progress=False)
    m = fixed.model
    np.testing.assert_allclose(m.keys @ m.query, m.scores, rtol=1e-12, atol=1e-15)


def test_frozen_groups_do_not_move():
    kf = train(small("tc", trainable=["embeddings", "classifier"]), progress=False)
    assert np.all(kf.trajectory["topic_scores"] == 0.0)
    ef = train(small("tc", trainable=["keys"]), progress=False)
    assert np.all(ef.trajectory["topic_norms"] == ef.trajectory["topic_norms"][0])


def test_mini_batches():
    full = train(small("tc", epochs=5), progress=False)
    whole = train(small("tc", epochs=5, batch_size=10_000), progress=False)
    assert np.array_equal(full.model.embeddings, whole.model.embeddings)
    mb = train(small("tc", epochs=5, batch_size=32), progress=False)
    mb2 = train(small("tc", epochs=5, batch_size=32), progress=False)
    assert np.array_equal(mb.model.embeddings, mb2.model.embeddings)
    assert mb.trajectory["loss"][-1] < mb.trajectory["loss"][0]
    assert not np.array_equal(mb.model.embeddings, full.model.embeddings)


def test_hand_built_corpus_with_variable_lengths():
    cfg = RunConfig(model=ModelConfig(classifier="tl", d_e=3, d_k=3), train=TrainConfig(epochs=30, lr=0.5))
    r = train(cfg, tiny_corpus(), progress=False)
    assert r.status == "ok"
    # training sentences of word 0 have lengths 3, 4, 2; of word 1: 2, 5, 3
    np.testing.assert_allclose(r.topic_m, [2.0, 7.0 / 3.0], rtol=1e-15)
    assert set(r.accuracy) == {"train", "valid", "test"} and r.accuracy["valid"] is None


def test_bad_inputs():
    with pytest.raises(UsageError, match="RunConfig"):
        train({"train": {}})
    empty = tiny_corpus()
    empty = Corpus(empty.word_ids, empty.offsets, empty.labels, np.full(8, 2, np.int8), 2, 7,
                   empty.topic_words, empty.topic_labels)
    with pytest.raises(UsageError, match="training split is empty"):
        train(RunConfig(), empty, progress=False)
    with pytest.raises(UsageError, match="classifier_matrix.*not found"):
        train(RunConfig(model=ModelConfig(classifier_matrix="/nonexistent/W.npy")), tiny_corpus())


def test_user_classifier_matrix(tmp_path):
    W = np.arange(8.0).reshape(4, 2) / 10
    np.save(tmp_path / "W.npy", W)
    cfg = RunConfig(model=ModelConfig(d_e=4, classifier_matrix=str(tmp_path / "W.npy")),
                    train=TrainConfig(epochs=2))
    assert np.array_equal(train(cfg, tiny_corpus(), progress=False).model.classifier["W"], W)
    np.save(tmp_path / "W.npy", W[:3])
    with pytest.raises(UsageError, match="shape"):
        train(cfg, tiny_corpus(), progress=False)


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_progress_bar_only_on_a_terminal():
    tty, pipe = _Tty(), io.StringIO()
    for stream in (tty, pipe):
        bar = Progress(10, "train", unit="epochs", enabled=True, stream=stream)
        bar.update(5, "loss 0.5", force=True)
        bar.close()
    assert "5/10 epochs" in tty.getvalue() and pipe.getvalue() == ""
    off = _Tty()
    Progress(10, "train", unit="epochs", enabled=False, stream=off).update(5, "loss 0.5", force=True)
    assert off.getvalue() == ""


# --------------------------------------------------------------------------- the command line

@pytest.mark.slow
def test_simulate_command(tmp_path, capsys):
    code = main(["simulate", "--preset", "paper-tc", "--set", "corpus.n_sentences=300",
                 "--set", "corpus.n_nontopic=50", "--set", "train.epochs=20", "--set", "train.record_every=4",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    assert code == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["epochs"] == 20 and summary["config"]["model"]["classifier"] == "tc"
    assert summary["sen_residual_max"] is not None and len(summary["topic_words"]) == 8
    assert "wrote" in capsys.readouterr().out


def test_simulate_from_toml(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[corpus]\nn_sentences = 100\nn_nontopic = 20\nm = 4\n[train]\nepochs = 3\n")
    assert main(["simulate", str(f), "--out", str(tmp_path / "o"), "--no-progress"]) == 0
    assert (tmp_path / "o" / "trajectory.npz").exists()


@pytest.mark.parametrize("argv,match", [
    (["--preset", "nope"], "unknown preset"),
    (["--preset", "paper-fc", "--set", "train.speed=2"], "train.speed: unknown key"),
    (["--preset", "paper-fc", "--set", "train.lr=-1"], "train.lr"),
    ([], "CONFIG.toml"),
])
def test_simulate_bad_input_exits_2(tmp_path, capsys, argv, match):
    assert main(["simulate", *argv, "--out", str(tmp_path)]) == 2
    assert match in capsys.readouterr().err


def test_simulate_divergence_exits_1(tmp_path, capsys):
    """lr 1e6: the loss explodes in the first epoch; the instability check stops it (exit 1)."""
    code = main(["simulate", "--preset", "paper-tc", "--set", "corpus.n_sentences=200", "--set",
                 "corpus.n_nontopic=30", "--set", "train.epochs=300", "--set", "train.lr=1e6",
                 "--out", str(tmp_path), "--no-progress"])
    assert code == 1
    assert "training is unstable" in capsys.readouterr().err
    assert json.loads((tmp_path / "summary.json").read_text())["status"] == "unstable"


def test_simulate_refuses_a_directory_holding_a_run_unless_overwrite(tmp_path, capsys):
    # what is checked is the refusal, not the run's outputs: no figures, no closing verdict (each
    # run drew its figures and ran N1, N3, C1 before; test_simulate_command keeps both)
    small = ["--preset", "paper-fc", "--set", "corpus.n_sentences=100", "--set", "corpus.n_nontopic=20",
             "--set", "train.epochs=3", "--out", str(tmp_path / "run"), "--no-progress", "--no-figures",
             "--no-verdict"]
    assert main(["simulate", *small]) == 0
    first = (tmp_path / "run" / "summary.json").read_bytes()
    capsys.readouterr()
    assert main(["simulate", *small, "--set", "train.epochs=4"]) == 2
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "already holds a run" in lines[0] and "--overwrite" in lines[0], err
    assert (tmp_path / "run" / "summary.json").read_bytes() == first  # untouched
    assert main(["simulate", *small, "--set", "train.epochs=4", "--overwrite"]) == 0
    assert json.loads((tmp_path / "run" / "summary.json").read_text())["epochs"] == 4
    # a trajectory alone (a killed run) is a run too
    (tmp_path / "run" / "summary.json").unlink()
    assert main(["simulate", *small]) == 2
    assert "trajectory.npz" in capsys.readouterr().err


# --------------------------------------------------------------------------- sizes before allocation

@pytest.mark.parametrize("override, field", [
    ("corpus.n_nontopic=1e10", "corpus.n_nontopic"),
    ("model.d_e=1e8", "model.d_e"),
    ("train.epochs=1e11", "train.epochs"),
    ("corpus.n_sentences=1e10", "corpus.n_sentences"),
])
def test_a_run_too_large_for_memory_is_refused_up_front(tmp_path, capsys, override, field):
    import time
    t0 = time.perf_counter()
    assert main(["simulate", "--preset", "paper-fc", "--set", override, "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 2
    assert time.perf_counter() - t0 < 10  # refused before anything large exists
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith(f"attndyn simulate: error: {field}") and " GB" in lines[0], lines[0]
    assert not (tmp_path / "o" / "trajectory.npz").exists()


def test_memory_estimate_against_a_given_budget():
    from attndyn.numerics.config.load import load_config
    from attndyn.numerics.training.memory import available_bytes, check_fits, GB
    from attndyn.proofs.errors import UsageError
    cfg = load_config(preset="paper-fc")
    need = check_fits(cfg, available=64 * GB)
    assert 0 < need < 0.1 * GB  # the paper's run is small
    with pytest.raises(UsageError, match=r"train.epochs: the run needs about .* GB .* raise train.record_every"):
        check_fits(load_config(preset="paper-fc", overrides=["train.epochs=1e10"]), available=GB)
    assert check_fits(load_config(preset="paper-fc", overrides=["train.epochs=1e10", "train.record_every=1e6"]),
                      available=GB) < GB
    avail = available_bytes()
    assert avail is None or avail > 0


def test_check_convergence_refuses_a_dimension_too_large(capsys):
    assert main(["check-convergence", "--preset", "paper-fc", "--set", "model.d_e=1e8"]) == 2
    assert capsys.readouterr().err.startswith("attndyn check-convergence: error: model.d_e: the run needs about")


# --------------------------------------------------------------------------- instability as a status

def test_a_loss_that_rose_far_above_its_start_is_unstable(tmp_path, capsys):
    """lr 1e3 with a trainable classifier: the loss climbs from log 4 to 1e7 while staying
    finite; the run must not say "ok"."""
    code = main(["simulate", "--preset", "ablation-tc-both", "--set", "corpus.n_sentences=300",
                 "--set", "corpus.n_nontopic=50", "--set", "train.epochs=200", "--set", "train.lr=1e3",
                 "--out", str(tmp_path), "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert captured.out.startswith("unstable:")
    assert "training is unstable" in captured.err and "Hint: train.lr = 1000 is too large" in captured.err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["status"] == "unstable" and summary["epochs"] < 200
    traj = np.load(tmp_path / "trajectory.npz")
    assert len(traj["epoch"]) >= 2 and traj["epoch"][0] == 0  # the partial trajectory is kept
    assert np.all(np.isfinite(traj["loss"])) and traj["loss"][-1] > 100 * traj["loss"][0]


def test_an_ordinary_run_is_not_unstable():
    from attndyn.numerics.config.load import load_config
    cfg = load_config(preset="paper-tc", overrides=["corpus.n_sentences=300", "corpus.n_nontopic=50",
                                                   "train.epochs=30"])
    r = train(cfg, progress=False)
    assert r.status == "ok"
