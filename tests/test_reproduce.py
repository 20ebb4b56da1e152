"""`attndyn reproduce`: runs, summary, figures and the report section, on tiny corpora.

The paper-size runs are `attndyn reproduce synthetic` itself (timed by `attndyn bench`);
here every experiment runs with a few epochs on a few hundred sentences.
"""
import argparse
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from attndyn.numerics.experiments import reproduce as rp
from attndyn.reports.sections import reproduction
from attndyn.numerics.config.load import load_config
from attndyn.numerics.data.corpus import sentence_counts
from attndyn.numerics.training.train import train
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import REPORT, REPRODUCE
from attndyn.reports.cli import main
from attndyn.reports.latex.compile import tex_engine, write_report
from attndyn.numerics.outputs import DEFAULT_REPORT_DIR

TINY = ["train.epochs=40", "train.lr=0.5", "corpus.n_sentences=240", "corpus.n_nontopic=30", "corpus.m=5",
        "model.d_e=4", "model.d_k=4"]


@pytest.fixture(scope="module")
def synthetic_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("synthetic")
    lines = []
    summary = rp.reproduce("synthetic", out, TINY, progress=False, log=lines.append)
    return out, summary, lines


@pytest.mark.slow
def test_synthetic_summary_runs_and_files(synthetic_dir):
    out, summary, lines = synthetic_dir
    assert json.loads((out / "summary.json").read_text()) == json.loads(json.dumps(summary))
    assert [r["preset"] for r in summary["runs"]] == ["paper-fc", "paper-tc", "paper-tl"]
    assert any("[3/3] paper-tl" in line for line in lines)  # progress lines
    for stem in ("synthetic_sen", "synthetic_loss", "synthetic_distributions"):
        for ext in ("png", "pdf"):
            assert f"{stem}.{ext}" in summary["figures"] and (out / f"{stem}.{ext}").stat().st_size > 1000
    assert summary["training_seconds"] == pytest.approx(sum(r["training_seconds"] for r in summary["runs"]), abs=1e-3)
    for r in summary["runs"]:
        assert r["epochs"] == 40 and r["status"] == "ok" and len(r["topic_words"]) == 8
        assert "--set train.epochs=40" in r["command"] and r["preset"] in r["command"]
        run_dir = out / "runs" / r["preset"]
        own = json.loads((run_dir / "summary.json").read_text())
        assert own["sen_residual_max"] == r["sen_residual_max"]
        final = np.load(run_dir / "final_words.npz")
        assert final["scores"].shape == (38,)
        assert [w["score"] for w in r["topic_words"]] == pytest.approx(final["scores"][:8].tolist())


def test_synthetic_runs_equal_a_direct_training(synthetic_dir):
    """Reproduce trains each preset exactly as `train` does (shared corpus, same seed)."""
    _, summary, _ = synthetic_dir
    for r in summary["runs"][:2]:
        direct = train(load_config(preset=r["preset"], overrides=TINY), progress=False)
        assert r["final_loss"] == direct.final_loss
        assert r["sen_residual_max"] == direct.sen_residual_max()


def _result(loss, attention, status="ok", kind="synthetic", words=2):
    return SimpleNamespace(final_loss=loss, status=status, message="boom",
                           topic_attention_mean=np.asarray(attention, float),
                           topic_words=np.arange(words), config=SimpleNamespace(corpus=SimpleNamespace(kind=kind)))


def test_convergence_verdict():
    L, A = REPRODUCE.converged_loss, REPRODUCE.converged_attention
    assert rp.converged(_result(L / 2, [A + 0.1, A + 0.2]))["verdict"] is True
    no_attention = rp.converged(_result(L / 2, [A + 0.1, A / 10]))
    assert no_attention["verdict"] is False and no_attention["attention_ok"] is False
    assert rp.converged(_result(2 * L, [0.9, 0.9]))["final_loss_ok"] is False
    assert rp.converged(_result(float("nan"), [0.9, 0.9], status="diverged"))["verdict"] is False
    real = rp.converged(_result(L / 2, [0.01, 0.01], kind="sst2"))
    assert real["verdict"] is None and real["attention_ok"] is None  # not judged on real text
    # ... whatever the loss: no "not converged" by the synthetic criterion on SST
    sst = rp.converged(_result(4 * L, [0.01, 0.01], kind="sst2"))
    assert sst["verdict"] is None and "converged" not in sst["label"] and "not judged" in sst["explanation"]


def test_tl_low_attention_is_explained_not_a_bare_no():
    L, A = REPRODUCE.converged_loss, REPRODUCE.converged_attention
    r = _result(L / 2, [0.9, 0.9, A / 5, A / 4], words=4)
    r.topic_labels = np.array([0, 0, 1, 1])
    r.topic_m = np.array([20.0, 20.0, 20.0, 20.0])  # measured against uniform attention 1/(m+1)
    r.accuracy = {"train": 1.0, "test": 0.99}
    r.config.model = SimpleNamespace(classifier="tl")
    v = rp.converged(r)
    assert v["verdict"] is False and v["label"].startswith("fits; low attention on class 1 (TL)")
    assert "fixed linear classifier" in v["explanation"] and f"{A / 5 * 0.5 + A / 4 * 0.5:.3g}" in v["explanation"]
    assert "uniform attention 1/(m+1) = 0.0476" in v["explanation"]
    r.config.model = SimpleNamespace(classifier="fc")  # FC: inside the theorem, so simply not converged
    assert rp.converged(r)["label"] == "not converged"


def test_reproduction_section_and_report(synthetic_dir, tmp_path):
    out, summary, _ = synthetic_dir
    sec = reproduction.reproduction_section(out)
    assert "synthetic" in sec.title
    assert [Path(f.path).name for f in sec.figures] == [f for f in summary["figures"] if f.endswith(".pdf")]
    assert all(f.caption != Path(f.path).stem for f in sec.figures)  # captions say what is shown
    assert sec.body_latex.count(r"\\") - sec.body_latex.count(r"\\[") == 1 + len(summary["runs"])
    assert reproduction.reproduction_section(tmp_path) is None
    (tmp_path / "summary.json").write_text('{"experiment": "other"}')
    assert reproduction.reproduction_section(tmp_path) is None
    if tex_engine() is None:
        pytest.skip("no TeX engine")
    files = write_report([], tmp_path / "rep", require_pdf=True, extra_sections=[sec])
    assert files.pdf is not None
    assert all(w <= REPORT.overfull_max_pt for w in files.overfull), files.overfull


def test_report_sections_from_given_and_default_dirs(synthetic_dir, tmp_path):
    out, _, _ = synthetic_dir
    secs = reproduction.report_sections(argparse.Namespace(reproduced=[str(out)]), tmp_path)
    assert len(secs) == 1
    with pytest.raises(UsageError, match="--reproduced"):
        reproduction.report_sections(argparse.Namespace(reproduced=[str(tmp_path)]), tmp_path)
    # by default: the experiments under REPORT_DIR/reproduce/, where `reproduce` writes by default
    report_dir = tmp_path / "report"
    assert reproduction.report_sections(argparse.Namespace(reproduced=None), report_dir) == []
    (report_dir / "reproduce").mkdir(parents=True)
    (report_dir / "reproduce" / "synthetic").symlink_to(out)
    assert len(reproduction.report_sections(argparse.Namespace(reproduced=None), report_dir)) == 1
    assert rp.default_out("synthetic") == rp.DEFAULT_DIR / "synthetic"
    assert rp.DEFAULT_DIR.parent == DEFAULT_REPORT_DIR


def test_report_command_includes_the_reproduction(synthetic_dir, one_kept_case, tmp_path, capsys, monkeypatch):
    out, _, _ = synthetic_dir
    rep = tmp_path / "rep"
    # the .tex is what this test reads: no TeX engine on PATH, so no second PDF build of the section
    # (test_reproduction_section_and_report compiles it; without TeX `report` still exits 0)
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["report", "--out", str(rep), "--claim", "neg-sen-m-plus-one", "--reproduced", str(out)]) == 0
    tex = (rep / "derivations.tex").read_text()
    assert "Reproduction: synthetic" in tex and "synthetic-sen.pdf" in tex


def test_ablation_freezes_what_it_says(tmp_path):
    summary = rp.reproduce("ablation", tmp_path, TINY, progress=False, log=lambda _: None)
    assert summary["figures"] == ["ablation_curves.png", "ablation_curves.pdf"]
    for r in summary["runs"]:
        tr = np.load(tmp_path / "runs" / r["preset"] / "trajectory.npz")
        scores_move = np.ptp(tr["topic_scores"], axis=0).max() > 0
        norms_move = np.ptp(tr["topic_norms"], axis=0).max() > 0
        variant = r["preset"].rsplit("-", 1)[1]
        assert scores_move == (variant != "kf"), r["preset"]
        assert norms_move == (variant != "ef"), r["preset"]


def _write_sst(root):
    """Tiny SST-2 / SST-5 files: 'good'/'bad' carry the label, the rest is filler."""
    rng = np.random.default_rng(0)
    filler = ["the", "film", "a", "is", "of", "story", "and", "it", "plot", "actors"]
    for sub, stem, K in (("sst2", "stsa.binary", 2), ("sst5", "stsa.fine", 5)):
        d = root / sub
        d.mkdir(parents=True)
        for split, n in (("train", 60), ("dev", 6), ("test", 10)):
            lines = []
            for i in range(n):
                y = i % K
                words = list(rng.choice(filler, size=rng.integers(3, 8))) + [f"w{y}", "good" if y else "bad"]
                lines.append(f"{y} {' '.join(words)}")
            (d / f"{stem}.{split}").write_text("\n".join(lines) + "\n")


@pytest.mark.slow
def test_sst_trains_once_and_draws_from_the_records(tmp_path):
    _write_sst(tmp_path / "data")
    out = tmp_path / "out"
    over = [f"corpus.sst_dir={tmp_path / 'data'}", "train.epochs=30", "train.lr=0.5", "train.record_every=3",
            "train.word_record_every=5", "model.d_e=6"]
    summary = rp.reproduce("sst", out, over, progress=False, log=lambda _: None)
    assert summary["figures"] == ["sst_sen.png", "sst_sen.pdf", "sst_named_scores.png", "sst_named_scores.pdf",
                                  "sst_dev.png", "sst_dev.pdf", "sst_top20.md", "sst_purity.png", "sst_purity.pdf"]
    from attndyn.numerics.data.sst import read_sst

    for r in summary["runs"]:
        assert r["trained_once"] is True and "training_seconds_first_pass" not in r
        es = r["early_stopping"]
        assert es["patience"] == 2000 and es["reason"].startswith("epoch cap") and es["best_epoch"] is not None
        assert r["test_accuracy"] == es["test_accuracy_at_best"]  # reported at the checkpoint
        corpus = read_sst(r["preset"][:4], tmp_path / "data").subset("train")
        counts = sentence_counts(corpus)
        scores = np.load(out / "runs" / r["preset"] / "final_words.npz")["scores"]
        eligible = np.flatnonzero(counts >= REPRODUCE.sst_min_sentences)
        best = eligible[np.argsort(-scores[eligible], kind="stable")][:REPRODUCE.sst_sen_top_k]
        assert r["top_word_ids"] == best.tolist()
        assert [w["word"] for w in r["top_words"]] == best[:REPRODUCE.sst_table_words].tolist()
        assert r["m_mean_length_minus_one"] == pytest.approx(np.mean(corpus.lengths) - 1)
        tr = np.load(out / "runs" / r["preset"] / "trajectory.npz")
        assert tr["word_scores"].shape[1] == len(scores) and list(tr["word_epoch"]) == [0, 5, 10, 15, 20, 25, 30]
        assert r["converged"]["attention_ok"] is None
    assert "| rank | word |" in (out / "sst_top20.md").read_text()


def test_sst_padded_run_shows_the_pad_prediction(tmp_path):
    _write_sst(tmp_path / "data")
    over = [f"corpus.sst_dir={tmp_path / 'data'}", "train.epochs=20", "train.lr=0.5", "corpus.pad_to=12",
            "model.d_e=4", "train.word_record_every=2"]
    runs = rp.train_runs("sst", over, progress=False, log=lambda _: None)
    for run in runs:
        assert run.extra["pad"]["pad_to"] == 12 and run.extra["pad"]["word"] == run.result.model.vocab_size - 1
        assert run.extra["pad"]["word"] not in run.extra["top_word_ids"]
        assert run.extra["m_mean_length_minus_one"] == 11.0
    from attndyn.numerics.experiments import sst_figures

    names = sst_figures.draw_sen(runs, tmp_path, rp._save, rp._pyplot())
    assert (tmp_path / names[0]).stat().st_size > 0


@pytest.mark.slow
def test_cli(tmp_path, capsys):
    out = tmp_path / "cli"
    argv = ["reproduce", "synthetic", "--out", str(out), "--no-progress"] + [x for s in TINY for x in ("--set", s)]
    assert main(argv) == 0
    text = capsys.readouterr().out
    assert "[1/3] paper-fc" in text and "verdicts:" in text and str(out) in text
    assert (out / "summary.json").is_file()
    assert main(["reproduce", "synthetic", "--out", str(out), "--set", "train.nope=1"]) == 2
    assert "train.nope" in capsys.readouterr().err
    assert main(["reproduce", "synthetic", "--out", "/proc/attndyn/x"]) == 2
    assert "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["reproduce", "imagenet"])
    assert main(["verify", "--claim", "neg-sen-m-plus-one", "--reproduced", str(tmp_path / "none"),
                 "--report", str(tmp_path / "rep")]) == 2
    assert "--reproduced" in capsys.readouterr().err


def test_plan_validates_every_config_first():
    with pytest.raises(UsageError, match="SyntheticConfig.m"):
        rp.plan("synthetic", ["corpus.m=0"])
    with pytest.raises(UsageError, match="experiment"):
        rp.plan("imagenet")
