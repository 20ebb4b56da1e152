"""attndyn's ablation runs (presets ``ablation-{fc,tc}-{both,kf,ef}``) against an independent
PyTorch implementation of the authors' described training (``tests/torch_ablation.py``: nn.Embedding,
nn.Linear, CrossEntropyLoss, optim.SGD, freezing by ``requires_grad_(False)``), started from
attndyn's initial parameters.  Skipped without torch (never a dependency of attndyn).

* the twin's loss and gradients equal the loop-based twin of ``tests/naive.py`` (ragged sentences
  with repeated words, FC without and TC with a bias), so the twin is right on its own;
* short runs (200 epochs, 400 sentences) of all six presets: the loss curves agree to a relative
  1e-9 at every epoch (float64 both), and so do the final topic-word scores and norms; frozen
  groups keep their initial bits on both sides, trained ones move;
* negative control: the keys-frozen curve of one side against the embeddings-frozen curve of the
  other differs by far more than the tolerance (a swapped freezing cannot pass);
* the script writes its table, and refuses bad options in one line with exit 2.
"""
from __future__ import annotations

import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from tests.naive import random_problem, twin_loss_grads  # noqa: E402 (after the skip)
from tests import torch_ablation as ta  # noqa: E402

RTOL = 1e-9  # issue 11: float64 on both sides
SHORT = ["train.epochs=200", "corpus.n_sentences=400"]


# --------------------------------------------------------------------------- the twin itself

@pytest.mark.parametrize("kind", ["fc", "tc"])
def test_twin_loss_and_gradients_match_the_loop_twin(kind):
    ta.require_torch()
    p = random_problem(3, kind, V=10, n=8, d_e=3, d_k=4, K=3, max_len=6)  # ragged, repeated words
    params = dict(p["params"])
    if kind == "tc":  # TC is nn.Linear with a bias in the ablation presets
        params["b"] = np.random.default_rng(7).standard_normal(p["K_classes"])
    net = ta.BagOfWordsAttention(p["E"], p["K"], p["q"], params["W"], params.get("b"))
    idx, mask = ta.padded(p["word_ids"], p["offsets"])
    assert mask is not None  # the masked (padded) path is the one checked here
    loss = torch.nn.CrossEntropyLoss()(net(idx, mask), torch.from_numpy(p["labels"]))
    loss.backward()
    want_loss, want = twin_loss_grads(kind, p["E"], p["K"], p["q"], params, p["word_ids"], p["offsets"],
                                      p["labels"])
    assert abs(loss.item() - want_loss) <= 1e-12 * abs(want_loss)
    got = {"embeddings": net.embedding.weight.grad, "keys": net.keys.weight.grad,
           "W": net.classifier.weight.grad.T, "b": None if kind == "fc" else net.classifier.bias.grad}
    for name, g in got.items():
        if g is None:
            continue
        assert ta.scaled_gap(g.numpy(), want[name]) <= 1e-12, name
        assert np.max(np.abs(want[name])) > 0, name  # a zero gradient would compare trivially


# --------------------------------------------------------------------------- short runs, side by side

@pytest.fixture(scope="module")
def short_runs():
    from attndyn.numerics.config.load import load_config
    from attndyn.numerics.training.train import load_corpus

    corpus = load_corpus(load_config(preset=ta.PRESETS[0], overrides=SHORT).corpus)  # one corpus for all six
    return {p: ta.side_by_side(p, SHORT, corpus) for p in ta.PRESETS}


@pytest.mark.parametrize("preset", ta.PRESETS)
def test_short_run_curves_agree(short_runs, preset):
    r = short_runs[preset]
    a, t = r["attndyn_loss"], r["torch_loss"]
    assert len(a) == len(t) == 201
    assert r["loss_max_rel_gap"] <= RTOL, (preset, r["loss_max_rel_gap"], r["loss_max_rel_gap_epoch"])
    # the agreement is not that of two curves standing still: the loss moved far beyond the gap
    assert abs(t[-1] - t[0]) / t[0] > 1e3 * RTOL, preset
    assert r["topic_score_gap"] <= RTOL and r["topic_norm_gap"] <= RTOL, preset
    if "kf" not in preset:  # with the keys frozen every score is 0 on both sides
        assert np.max(np.abs(r["torch_topic_scores"])) > 0
    for name in ("W",) + (("b",) if preset.startswith("ablation-tc") else ()):
        assert ta.scaled_gap(r["attndyn_final"][name], r["torch_final"][name]) <= RTOL, (preset, name)


@pytest.mark.parametrize("preset", ta.PRESETS)
def test_frozen_groups_keep_their_bits_on_both_sides(short_runs, preset):
    r = short_runs[preset]
    init, a, t = r["initial"], r["attndyn_final"], r["torch_final"]
    frozen = {"embeddings": preset.endswith("-ef"), "scores": preset.endswith("-kf"),
              "W": preset.startswith("ablation-fc")}
    for name, is_frozen in frozen.items():
        for side, final in (("attndyn", a), ("torch", t)):
            same = np.array_equal(final[name], init[name])
            assert same == is_frozen, (preset, side, name, "frozen" if is_frozen else "trained")


@pytest.mark.parametrize("clf", ["fc", "tc"])
def test_negative_control_swapped_freezing_is_caught(short_runs, clf):
    kf, ef = short_runs[f"ablation-{clf}-kf"], short_runs[f"ablation-{clf}-ef"]
    for a, t in ((kf["attndyn_loss"], ef["torch_loss"]), (ef["attndyn_loss"], kf["torch_loss"])):
        assert ta.rel_gap(a, t) > 1e3 * RTOL, clf


# --------------------------------------------------------------------------- the script

def test_script_writes_the_table(tmp_path, capsys):
    out = tmp_path / "abl"
    assert ta.main(["--out", str(out), "--epochs", "5", "--sentences", "200", "--presets",
                    "ablation-fc-kf,ablation-tc-ef"]) == 0
    s = json.loads((out / "ablation_torch.json").read_text())
    curves = np.load(out / "ablation_torch_curves.npz")
    assert [r["preset"] for r in s["runs"]] == ["ablation-fc-kf", "ablation-tc-ef"]
    for r in s["runs"]:
        assert r["checkpoints"] == [0, 5]
        for side in ("attndyn", "torch"):
            assert r[f"{side}_loss"] == [float(curves[f"{r['preset']}/{side}"][c]) for c in r["checkpoints"]]
        assert r["loss_max_rel_gap"] == ta.rel_gap(curves[f"{r['preset']}/attndyn"], curves[f"{r['preset']}/torch"])
        assert r["loss_max_rel_gap"] <= RTOL
    md = (out / "ablation_torch.md").read_text()
    assert "ablation-tc-ef | torch" in md and s["command"] in md


@pytest.mark.parametrize("args, field", [
    (["--presets", "ablation-fc-xx"], "--presets"),
    (["--epochs", "0"], "--epochs"),
    (["--threads", "0"], "--threads"),
])
def test_script_bad_options_are_one_line_exit_2(tmp_path, capsys, args, field):
    assert ta.main(["--out", str(tmp_path / "o"), *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"error: {field}")


def test_script_unwritable_out_is_one_line_exit_2(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert ta.main(["--out", str(blocker / "sub"), "--epochs", "1", "--presets", "ablation-fc-kf"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: --out")
