"""train.optimizer: momentum, Nesterov and Adam (numerics/training/optimizers.py, kernels/optim.py).

Each optimizer is checked, over several steps with full and mini-batches (so that some words
are absent from a step and move only by their decayed state), against

* a plain NumPy twin (tests/naive.py: ``twin_loss_grads`` + ``twin_optimizer_step``), and
* PyTorch's optimizer of the same name on the same model written in torch (float64), in tests
  skipped when torch is not installed (it is never a dependency of attndyn),

to 1e-10 relative; plus determinism (bitwise, threads 1 vs 2, through ``train``), the
``gd`` path left as it was, and what summary.json records.
"""
from __future__ import annotations

import numpy as np
import pytest

from attndyn.numerics.config.schema import CorpusSpec, ModelConfig, RunConfig, TrainConfig
from attndyn.numerics.data.corpus import SyntheticConfig
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.numerics.training.optimizers import Optimizer
from attndyn.numerics.training.train import train
from attndyn.proofs.errors import UsageError
from tests.naive import random_problem, twin_loss_grads, twin_optimizer_step

RTOL = 1e-10
OPTIMIZERS = ("momentum", "nesterov", "adam")
# unequal rates, so a group stepping with another group's rate is caught
RATES = {"embeddings": 0.3, "keys": 0.2, "query": 0.1, "classifier": 0.05}
HYPER = dict(momentum=0.8, betas=(0.85, 0.99), eps=1e-8)


def _batches(p):
    """Full batch, then the two halves of the sentences (words missing from a half), twice."""
    n = len(p["labels"])
    halves = [np.arange(0, n // 2), np.arange(n // 2, n)]
    out = []
    for idx in [np.arange(n), *halves] * 2:
        wid = np.concatenate([p["word_ids"][p["offsets"][i]:p["offsets"][i + 1]] for i in idx])
        off = np.concatenate([[0], np.cumsum(np.diff(p["offsets"])[idx])]).astype(np.int64)
        out.append((wid.astype(np.int64), off, p["labels"][idx].astype(np.int64)))
    return out


def _problem(seed, kind):
    r"""``random_problem`` from the first seed >= ``seed`` where, in every batch, each word shares
    some sentence with another word.  A word alone in all its sentences has
    :math:`\partial L/\partial s_w = 0` exactly; the kernels compute it as rounding noise
    (~1e-17, c_i = e_w v_w / Z_i is not v_w to the last bit), which Adam divides by
    :math:`\sqrt{u}` ~ noise and ε: a key step up to lr·noise/ε ~ 1e-9.  Both are right to
    rounding but not to 1e-10, so the comparison problems avoid such words."""
    while True:
        p = random_problem(seed, kind)
        ok = True
        for wid, off, _ in _batches(p):
            for w in np.unique(wid):
                sents = [wid[off[i]:off[i + 1]] for i in range(len(off) - 1) if w in wid[off[i]:off[i + 1]]]
                ok &= any(np.any(s != w) for s in sents)
        if ok:
            return p
        seed += 1


def _groups(kind, query):
    g = ["embeddings", "keys"] + (["query"] if query else []) + (["classifier"] if kind != "fc" else [])
    return g


def _lrs(groups):
    return {f"lr_{k}": (RATES[k] if k in groups else 0.0) for k in RATES}


def _run_kernel(p, kind, name, groups, path="auto"):
    explicit = "query" in groups or name == "adam"
    model = AttentionModel(kind, p["E"], p["K"], p["q"], p["params"], explicit_keys=explicit)
    model.kernel_path = path
    opt = Optimizer(model, name, _lrs(groups), **HYPER)
    losses = []
    for wid, off, lab in _batches(p):
        b = Batch.build(wid, off, lab, p["V"], p["K_classes"], p["d_e"])
        losses.append(opt.step(b))
        if path != "auto":
            assert model.last_fused is (path == "fused")  # the gradients came from the kernel asked for
    out = {"embeddings": model.embeddings, "keys": model.keys, "query": model.query,
           **{k: v for k, v in model.classifier.items()}}
    return losses, out


def _close(name, got, want):
    err = np.max(np.abs(got - want)) / max(np.max(np.abs(want)), 1e-300)
    assert err <= RTOL, f"{name}: relative difference {err:.3g} > {RTOL}"


CASES = [(kind, name, query) for kind in ("fc", "tc", "tl") for name in OPTIMIZERS for query in (False, True)]


PATH_CASES = [(kind, name, query, path) for kind in ("fc", "tc") for name in ("momentum", "adam")
              for query in (False, True) for path in ("lowrank", "fused")]


@pytest.mark.parametrize("kind, name, query, path", [c + ("auto",) for c in CASES] + PATH_CASES)
def test_matches_numpy_twin(kind, name, query, path):
    """Every optimizer against the twin; for the linear classifiers also with the gradients forced through
    the K-wide kernels: lowrank.py's store mode and the fused step's (fused.py, explicit keys included)."""
    p = _problem(11, kind)
    groups = _groups(kind, query)
    losses, got = _run_kernel(p, kind, name, groups, path)
    params = {"embeddings": p["E"].copy(), "keys": p["K"].copy(), "query": p["q"].copy(),
              **{k: v.copy() for k, v in p["params"].items()}}
    state, twin_losses = {}, []
    trained = [k for k in params if (k if k in RATES else "classifier") in groups]
    for t, (wid, off, lab) in enumerate(_batches(p), start=1):
        loss, grads = twin_loss_grads(kind, params["embeddings"], params["keys"], params["query"],
                                      {k: params[k] for k in p["params"]}, wid, off, lab)
        twin_losses.append(loss)
        for k in trained:
            group = k if k in RATES else "classifier"
            twin_optimizer_step(name, {k: params[k]}, grads, state, RATES[group], t, **HYPER)
    np.testing.assert_allclose(losses, twin_losses, rtol=1e-12)
    for k in params:
        _close(k, got[k], params[k])
    assert not np.allclose(got["embeddings"], p["E"])  # it moved


def test_words_absent_from_a_batch_still_move():
    """Dense, like PyTorch: after a step that saw a word, a batch without it moves it by its state."""
    p = random_problem(11, "fc")
    b0, b1 = _batches(p)[1:3]
    absent = sorted(set(b0[0]) - set(b1[0]))
    assert absent
    for name in OPTIMIZERS:
        model = AttentionModel("fc", p["E"], p["K"], p["q"], p["params"], explicit_keys=name == "adam")
        opt = Optimizer(model, name, _lrs(["embeddings", "keys"]), **HYPER)
        opt.step(Batch.build(*b0, p["V"], p["K_classes"], p["d_e"]))
        before = model.embeddings[absent].copy()
        opt.step(Batch.build(*b1, p["V"], p["K_classes"], p["d_e"]))
        assert np.all(model.embeddings[absent] != before), name


def test_adam_with_a_fixed_query_keeps_the_keys():
    p = random_problem(3, "fc")
    model = AttentionModel("fc", p["E"], p["K"], p["q"], p["params"], explicit_keys=False)
    with pytest.raises(UsageError, match="adam"):
        Optimizer(model, "adam", _lrs(["embeddings", "keys"]))
    cfg = RunConfig(train=TrainConfig(optimizer="adam"))
    assert AttentionModel.initial(cfg, 10, 4).explicit_keys
    assert not AttentionModel.initial(RunConfig(train=TrainConfig(optimizer="momentum")), 10, 4).explicit_keys


# --------------------------------------------------------------------------- PyTorch

def _torch_run(p, kind, name, groups):
    torch = pytest.importorskip("torch")
    P = {"embeddings": p["E"], "keys": p["K"], "query": p["q"], **p["params"]}
    T = {k: torch.tensor(np.array(v), dtype=torch.float64,
                         requires_grad=(k if k in RATES else "classifier") in groups) for k, v in P.items()}
    param_groups = [{"params": [T[k]], "lr": RATES[k if k in RATES else "classifier"]}
                    for k in T if T[k].requires_grad]
    if name == "adam":
        opt = torch.optim.Adam(param_groups, lr=1.0, betas=HYPER["betas"], eps=HYPER["eps"])
    else:
        opt = torch.optim.SGD(param_groups, lr=1.0, momentum=HYPER["momentum"], dampening=0.0,
                              nesterov=name == "nesterov")
    losses = []
    for wid, off, lab in _batches(p):
        opt.zero_grad()
        total = 0.0
        for i in range(len(lab)):
            ws = torch.as_tensor(wid[off[i]:off[i + 1]])
            a = torch.softmax(T["keys"][ws] @ T["query"], 0)
            c = a @ T["embeddings"][ws]
            if kind == "tl":
                z = torch.relu(c @ T["W1"] + T["b1"]) @ T["W2"] + T["b2"]
            else:
                z = c @ T["W"]
            total = total + torch.logsumexp(z, 0) - z[int(lab[i])]
        loss = total / len(lab)
        loss.backward()
        losses.append(float(loss.detach()))
        opt.step()
    return losses, {k: v.detach().numpy() for k, v in T.items()}


@pytest.mark.parametrize("kind, name, query", CASES)
def test_matches_pytorch(kind, name, query):
    p = _problem(5, kind)
    groups = _groups(kind, query)
    want_losses, want = _torch_run(p, kind, name, groups)
    losses, got = _run_kernel(p, kind, name, groups)
    np.testing.assert_allclose(losses, want_losses, rtol=1e-12)
    for k in want:
        _close(k, got[k], want[k])


# --------------------------------------------------------------------------- through train()

def _cfg(**kw):
    corpus = SyntheticConfig(n_topics=3, topic_words_per_topic=2, n_nontopic=1500, m=6, n_sentences=1000,
                             split=(0.8, 0.0, 0.2), seed=1)
    kw.setdefault("epochs", 3)
    return RunConfig(CorpusSpec("synthetic", corpus), ModelConfig(classifier="tc", d_e=4, d_k=5),
                     TrainConfig(**kw))


@pytest.mark.parametrize("name", OPTIMIZERS)
def test_bitwise_for_any_thread_count(name):
    import numba  # noqa: F401 (the limit below)

    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("one numba thread on this machine")
    # > 512 words and > 256 sentences per batch: several chunks of every kernel
    runs = [train(_cfg(optimizer=name, batch_size=400, lr=0.05, threads=th), progress=False) for th in (1, 2)]
    for a in ("embeddings", "keys", "query"):
        assert np.array_equal(getattr(runs[0].model, a), getattr(runs[1].model, a)), (name, a)
    assert np.array_equal(runs[0].model._theta, runs[1].model._theta)


def test_sgd_is_the_gd_step_on_mini_batches_and_gd_is_unchanged():
    gd = train(_cfg(batch_size=300, lr=0.5), progress=False)
    sgd = train(_cfg(optimizer="sgd", batch_size=300, lr=0.5), progress=False)
    assert np.array_equal(gd.model.embeddings, sgd.model.embeddings)
    assert np.array_equal(gd.model.scores, sgd.model.scores)


def test_summary_records_the_optimizer():
    r = train(_cfg(optimizer="nesterov", momentum=0.5, batch_size=400, lr=0.05), progress=False)
    s = r.summary()
    assert s["config"]["train"]["optimizer"] == "nesterov"
    assert s["config"]["train"]["momentum"] == 0.5
    assert s["config"]["train"]["betas"] == (0.9, 0.999) or list(s["config"]["train"]["betas"]) == [0.9, 0.999]
    assert s["optimizer"]["name"] == "nesterov" and s["optimizer"]["nesterov"] is True
    assert s["optimizer"]["steps"] == 3 * 2  # 800 training sentences in batches of 400
    assert s["optimizer"]["groups"]["keys"]["stored_as"] == "scores"  # fixed query: one velocity per word
    assert RunConfig.from_dict(s["config"]) == r.config


def test_batch_larger_than_the_corpus_is_refused_for_the_new_optimizers():
    with pytest.raises(UsageError, match="train.batch_size: at most the 800 training sentences"):
        train(_cfg(optimizer="momentum", batch_size=801), progress=False)
    train(_cfg(batch_size=801, epochs=1), progress=False)  # gd: the full batch, as before


def test_float32_and_a_diverging_run():
    r = train(_cfg(optimizer="adam", lr=0.01, dtype="float32", batch_size=400), progress=False)
    assert r.status == "ok" and r.model.embeddings.dtype == np.float32 and r.final_loss < r.trajectory["loss"][0]
    bad = train(_cfg(optimizer="momentum", lr=1e4, epochs=30), progress=False)
    assert bad.status in ("diverged", "unstable")
    assert np.all(np.isfinite(bad.trajectory["loss"]))  # the finite part of the trajectory is kept


@pytest.mark.parametrize("kw, field", [
    (dict(optimizer="nesterov", momentum=0.0), "train.momentum"),
    (dict(optimizer="sgd"), "train.batch_size"),
    (dict(betas=(0.9, 0.999, 0.5)), "train.betas"),
    (dict(betas="a,b"), "train.betas"),
    (dict(eps=float("nan")), "train.eps"),
])
def test_config_errors_name_the_field(kw, field):
    with pytest.raises(UsageError, match=field):
        TrainConfig(**kw)
