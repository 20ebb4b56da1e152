"""The numba training kernels against a plain NumPy twin, finite differences and each other.

The twin below is written from the model's definition (softmax attention over
each sentence, numerics/model/classifiers.py for the classifier) and shares no code
with the kernels.
"""
import itertools

import numba
import numpy as np
import pytest

from attndyn.numerics.model import classifiers as cl
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.numerics.kernels.index import word_index
from attndyn.numerics.kernels.stats import record_stats
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import KERNEL, NUMERIC, TRAINING
from naive import random_problem, twin_loss_grads  # the slow, obviously correct twins

GROUPS = ("embeddings", "keys", "query", "classifier")
# train.kernel forced: the d_e-wide kernels (scores.py, keys.py) and the K-wide low-rank ones
# (lowrank.py, linear classifiers only); "auto" picks by K < d_e, so the tests force each
PATHS = ("full", "lowrank")
# plus the fused K-wide GD step (fused.py: shared exponentials; its gradients, and its steps
# with per-sentence shifts, are lowrank.py's; with explicit keys its store mode and gd_key_rows), for the step tests
STEP_PATHS = PATHS + ("fused",)


# --------------------------------------------------------------------------- the twin

def model_of(p, kind, explicit_keys, dtype="float64", shared=True, path="full"):
    m = AttentionModel(kind, p["E"], p["K"], p["q"], p["params"], explicit_keys=explicit_keys, dtype=dtype)
    m.shared_exp = shared
    m.kernel_path = path
    assert m.lowrank() is (path in ("lowrank", "fused") and kind != "tl")  # the path under test runs
    assert m.fused() is (path == "fused" and kind != "tl" and shared)
    return m


def batch_of(p, dtype="float64", weight=None):
    return Batch.build(p["word_ids"], p["offsets"], p["labels"], p["V"], p["K_classes"], p["d_e"],
                       dtype, weight=weight)


def close(a, b, rtol):
    """max |a - b| <= rtol * max |b| (relative to the array's scale)."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(b)), 1e-300)
    return np.max(np.abs(a - b)) <= rtol * scale, np.max(np.abs(a - b)) / scale


def assert_close(a, b, rtol, what):
    ok, err = close(a, b, rtol)
    assert ok, f"{what}: relative error {err:.3g} > {rtol:g}"


# --------------------------------------------------------------------------- gradients

def _kind_paths(paths=PATHS):
    return [(k, path) for k in cl.KINDS for path in paths if not (k == "tl" and path != "full")]


@pytest.mark.parametrize("kind,path", _kind_paths())
@pytest.mark.parametrize("explicit_keys", [False, True])
@pytest.mark.parametrize("shared", [True, False])
def test_gradients_match_twin(kind, path, explicit_keys, shared):
    for seed in range(3):
        # K = 3 classes with d_e = 3 and d_e = 7 (K < d_e: where "auto" picks the low-rank path)
        p = random_problem(seed, kind, d_e=3 + 4 * (seed % 2))
        m = model_of(p, kind, explicit_keys, shared=shared, path=path)
        loss, g = m.gradients(batch_of(p))
        assert m.last_shared_exp is shared
        assert m.last_lowrank is (path == "lowrank")
        tloss, tg = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"],
                                    p["offsets"], p["labels"])
        assert loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
        for name, ref in tg.items():
            assert_close(g[name], ref, NUMERIC.kernel_rtol, f"{kind} seed {seed} d{name}")


@pytest.mark.parametrize("path", PATHS)
def test_gradients_with_batch_weight(path):
    p = random_problem(5, "tc")
    loss, g = model_of(p, "tc", False, path=path).gradients(batch_of(p, weight=0.37))
    tloss, tg = twin_loss_grads("tc", p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"],
                                p["labels"], weight=0.37)
    assert loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
    for name, ref in tg.items():
        assert_close(g[name], ref, NUMERIC.kernel_rtol, name)


def _fd_loss(p, kind):
    m = AttentionModel(kind, p["E"], p["K"], p["q"], p["params"], explicit_keys=True)
    return m.evaluate(p["word_ids"], p["offsets"], p["labels"])[0]


@pytest.mark.parametrize("kind,path", _kind_paths())
def test_gradients_match_finite_differences(kind, path):
    """Kernel gradients vs central differences of the kernels' own forward loss."""
    p = random_problem(11, kind, V=7, n=6, d_e=2, d_k=3, K=3, max_len=4)
    _, g = model_of(p, kind, False, path=path).gradients(batch_of(p))
    h = TRAINING.fd_step
    arrays = {"embeddings": p["E"], "keys": p["K"], "query": p["q"], **p["params"]}
    for name, arr in arrays.items():
        fd = np.zeros_like(arr)
        for idx in np.ndindex(arr.shape):
            old = arr[idx]
            arr[idx] = old + h
            fp = _fd_loss(p, kind)
            arr[idx] = old - h
            fm = _fd_loss(p, kind)
            arr[idx] = old
            fd[idx] = (fp - fm) / (2 * h)
        assert_close(g[name], fd, TRAINING.fd_rtol, f"{kind} d{name} vs finite differences")


@pytest.mark.parametrize("path", PATHS)
def test_shared_exponentials_fall_back_when_a_partition_underflows(path):
    """Scores ~700 apart: e^{s - max s} underflows for a whole sentence, the kernel must
    redo the step with per-sentence shifts and still match the twin."""
    p = random_problem(3, "fc")
    p["K"][0] = 0.0
    p["q"] = np.abs(p["q"])
    p["K"][1:] = -700.0 / p["q"].sum()  # every other word scores -700
    p["K"][1:] += 0.01 * np.random.default_rng(0).standard_normal(p["K"][1:].shape)
    # word 0 (score 0) must be absent from at least one sentence
    first = p["word_ids"][p["offsets"][0]:p["offsets"][1]]
    p["word_ids"][p["offsets"][0]:p["offsets"][1]] = np.maximum(first, 1)
    assert 0 in p["word_ids"]
    m = model_of(p, "fc", False, path=path)
    loss, g = m.gradients(batch_of(p))
    assert m.last_shared_exp is False  # the fallback ran
    tloss, tg = twin_loss_grads("fc", p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"],
                                p["labels"])
    assert np.isfinite(loss)
    assert loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
    for name in ("embeddings", "keys"):
        assert_close(g[name], tg[name], NUMERIC.kernel_rtol, name)
    # dL/dq = sum_w (dL/ds_w) k_w cancels between keys of size ~100: compare on the scale of its terms
    terms = np.abs(g["scores"]) @ np.abs(p["K"])
    assert np.all(np.abs(g["query"] - tg["query"]) <= NUMERIC.kernel_rtol * terms.max())


# --------------------------------------------------------------------------- one training step

def _subsets(kind):
    groups = GROUPS if kind != "fc" else GROUPS[:3]
    for r in range(len(groups) + 1):
        yield from itertools.combinations(groups, r)


def twin_step(kind, p, trainable, lr, weight=None):
    _, g = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"],
                           p["labels"], weight)
    out = {"embeddings": p["E"].copy(), "keys": p["K"].copy(), "query": p["q"].copy(),
           **{k: v.copy() for k, v in p["params"].items()}}
    cls_names = list(p["params"])
    for group in trainable:
        for name in (cls_names if group == "classifier" else [group]):
            out[name] -= lr * g[name]
    return out


@pytest.mark.parametrize("kind,path", _kind_paths(STEP_PATHS))
def test_step_matches_twin_for_every_trainable_subset(kind, path):
    lr = 0.3
    for trainable in _subsets(kind):
        for explicit in ([True] if "query" in trainable else [False, True]):
            p = random_problem(hash((kind, trainable)) % 1000, kind, d_e=5)
            m = model_of(p, kind, explicit, path=path)
            lrs = {f"lr_{g}": (lr if g in trainable else 0.0) for g in GROUPS}
            loss = m.step(batch_of(p), **lrs)
            assert m.last_fused is (path == "fused")  # the fused kernel ran (explicit keys too)
            tloss, _ = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"],
                                       p["offsets"], p["labels"])
            assert loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
            ref = twin_step(kind, p, trainable, lr)
            got = {"embeddings": m.embeddings, "keys": m.keys, "query": m.query, **m.classifier}
            for name, r in ref.items():
                assert_close(got[name], r, NUMERIC.kernel_rtol,
                             f"{kind} trainable={trainable} explicit_keys={explicit}: {name}")
            assert_close(m.scores, ref["keys"] @ ref["query"], NUMERIC.kernel_rtol, "scores")


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("path", STEP_PATHS)
def test_two_steps_match_twin_and_frozen_words_stay(path, explicit):
    p = random_problem(8, "tc", V=15)
    p["word_ids"][p["word_ids"] == 14] = 13  # word 14 occurs nowhere: it must not move
    m = model_of(p, "tc", explicit, path=path)
    b = batch_of(p)
    trained = ("embeddings", "keys", "classifier") + (("query",) if explicit else ())
    for _ in range(2):
        m.step(b, 0.2, 0.2, 0.2 if explicit else 0.0, 0.2)
        assert m.last_fused is (path == "fused")
        ref = twin_step("tc", p, trained, 0.2)
        p["E"], p["K"], p["q"], p["params"] = ref["embeddings"], ref["keys"], ref["query"], {"W": ref["W"]}
    assert_close(m.embeddings, p["E"], NUMERIC.kernel_rtol, "embeddings after 2 steps")
    assert_close(m.keys, p["K"], NUMERIC.kernel_rtol, "keys after 2 steps")
    assert_close(m.query, p["q"], NUMERIC.kernel_rtol, "query after 2 steps")
    first = random_problem(8, "tc", V=15)
    assert np.array_equal(m.embeddings[14], first["E"][14])
    assert np.array_equal(m.keys[14], first["K"][14])


def test_fixed_classifier_and_fixed_query_reject_a_learning_rate():
    p = random_problem(1, "fc")
    with pytest.raises(UsageError, match="fc classifier is fixed"):
        model_of(p, "fc", False).step(batch_of(p), 0.1, 0.1, 0.0, 0.1)
    with pytest.raises(UsageError, match="lr_query"):
        model_of(p, "fc", False).step(batch_of(p), 0.1, 0.1, 0.1, 0.0)


# --------------------------------------------------------------------------- determinism, dtypes

def _run_steps(p, kind, explicit, threads, steps=3, path="full"):
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        m = model_of(p, kind, explicit, path=path)
        b = batch_of(p)
        losses = [m.step(b, 0.1, 0.1, 0.1 if explicit else 0.0, 0.1 if kind != "fc" else 0.0)
                  for _ in range(steps)]
        return losses, m
    finally:
        numba.set_num_threads(old)


@pytest.mark.parametrize("kind,explicit,path", [("tc", False, "full"), ("tl", True, "full"),
                                               ("tc", False, "lowrank"), ("tc", True, "lowrank"),
                                               ("tc", False, "fused"), ("fc", False, "fused")])
def test_results_do_not_depend_on_the_thread_count(kind, explicit, path):
    """Fixed chunks, merged in a fixed order: 1 and 2 threads give bitwise-identical results."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    p = random_problem(4, kind, V=3000, n=2000, d_e=5, d_k=5, K=4, max_len=12)
    old = numba.get_num_threads()
    try:  # the serial driver with 1 thread, the parallel one with 2
        for t in (1, 2):
            numba.set_num_threads(t)
            assert AttentionModel._fused_parallel() is (t == 2)
    finally:
        numba.set_num_threads(old)
    l1, m1 = _run_steps(p, kind, explicit, 1, path=path)
    l2, m2 = _run_steps(p, kind, explicit, 2, path=path)  # fused: the parallel driver (1 thread: serial)
    l1b, m1b = _run_steps(p, kind, explicit, 1, path=path)
    assert m1.last_fused is m2.last_fused is (path == "fused")
    assert l1 == l2 == l1b
    for a, b, c in ((m1.embeddings, m2.embeddings, m1b.embeddings), (m1.keys, m2.keys, m1b.keys),
                    (m1.query, m2.query, m1b.query), (m1._theta, m2._theta, m1b._theta)):
        assert np.array_equal(a, b) and np.array_equal(a, c)


@pytest.mark.parametrize("path", STEP_PATHS)
def test_float32_path_runs_and_tracks_float64(path):
    p = random_problem(6, "tc")
    m64, m32 = model_of(p, "tc", False, path=path), model_of(p, "tc", False, dtype="float32", path=path)
    b64, b32 = batch_of(p), batch_of(p, "float32")
    for _ in range(5):
        l64 = m64.step(b64, 0.1, 0.1, 0.0, 0.1)
        l32 = m32.step(b32, 0.1, 0.1, 0.0, 0.1)
        assert l32 == pytest.approx(l64, rel=1e-5)
    assert m32.embeddings.dtype == np.float32
    assert_close(m32.embeddings, m64.embeddings, 1e-4, "float32 embeddings")
    with pytest.raises(UsageError, match="dtype"):
        m64.step(b32, 0.1, 0.1)


# --------------------------------------------------------------------------- helpers

def test_word_index_is_the_csr_transpose():
    p = random_problem(2, V=20, n=30)
    uw, uptr, occ = word_index(p["word_ids"], p["offsets"], 20)
    sent = np.repeat(np.arange(30), np.diff(p["offsets"]))
    order = np.argsort(p["word_ids"], kind="stable")
    assert np.array_equal(uw, np.unique(p["word_ids"]))
    assert np.array_equal(occ, sent[order])
    assert np.array_equal(np.diff(uptr), np.bincount(p["word_ids"])[uw])


def test_record_stats_matches_numpy():
    rng = np.random.default_rng(0)
    s, E = rng.standard_normal(50), rng.standard_normal((50, 4))
    topic = np.array([3, 7, 11])
    mask = np.zeros(50, bool)
    mask[topic] = True
    ts, tn = np.zeros(3), np.zeros(3)
    stats = record_stats(s, E, topic, mask, ts, tn)
    norms = np.linalg.norm(E, axis=1)
    assert np.array_equal(ts, s[topic])
    np.testing.assert_allclose(tn, norms[topic], rtol=1e-15)
    np.testing.assert_allclose(stats, [s[~mask].mean(), np.abs(s[~mask]).max(),
                                       norms[~mask].mean(), norms[~mask].max()], rtol=1e-13)


@pytest.mark.parametrize("bad,match", [
    (dict(word_ids=[0, 99]), "word ids"),
    (dict(labels=[0, 7]), "labels"),
    (dict(offsets=[0, 0, 2]), "at least one word"),
    (dict(offsets=[0, 1]), "offsets"),
])
def test_batch_rejects_bad_sentences(bad, match):
    args = dict(word_ids=[0, 1], offsets=[0, 1, 2], labels=[0, 1])
    args.update(bad)
    with pytest.raises(UsageError, match=match):
        Batch.build(args["word_ids"], args["offsets"], args["labels"], 5, 3, 2)


# --------------------------------------------------------------------------- the low-rank path

@pytest.mark.parametrize("kind,d_e,K,expected", [("fc", 16, 4, True), ("tc", 12, 3, True), ("fc", 10, 4, False),
                                                 ("tc", 4, 4, False), ("tc", 3, 5, False), ("tl", 16, 4, False)])
def test_auto_picks_the_low_rank_path_for_linear_classifiers_as_auto_lowrank_says(kind, d_e, K, expected):
    """Small tables here: the K-wide kernels only when d_e >= 4K (auto_lowrank; tests/test_train.py
    checks its table-size branch)."""
    p = random_problem(0, kind, d_e=d_e, K=K)
    m = AttentionModel(kind, p["E"], p["K"], p["q"], p["params"])
    assert m.kernel_path == "auto" and m.lowrank() is expected
    # a step of a linear classifier with a fixed query is the fused kernel's (auto_fused: tables in cache)
    # unless d_e >= 4K, where lowrank.py's K-wide kernels are faster (the SST sizes)
    fused = kind != "tl" and d_e < KERNEL.lowrank_min_width_ratio * K
    assert m.fused() is fused
    assert m.kernel_options()["path"] == ("fused" if fused else "lowrank" if expected else "full")
    m.gradients(batch_of(p))
    assert m.last_lowrank is expected
    m.kernel_path = "fast"
    with pytest.raises(UsageError, match="train.kernel"):
        m.lowrank()


def test_fused_applies_only_where_its_conditions_hold():
    """Fused: linear classifier, shared exponentials, K + 1 <= 8 lanes, and (auto) tables in cache (a
    trained query too: explicit keys); elsewhere the step is lowrank.py's (forced) or as auto_lowrank says."""
    from attndyn.numerics.model.attention import auto_fused
    from attndyn.proofs.settings import KERNEL
    p = random_problem(0, "tc", d_e=9, K=8)
    assert not AttentionModel("tc", p["E"], p["K"], p["q"], p["params"]).fused()  # K = 8: 9 lanes
    p = random_problem(0, "tc", d_e=9, K=7)
    m = AttentionModel("tc", p["E"], p["K"], p["q"], p["params"])
    assert m.fused()
    m.shared_exp = False
    assert not m.fused()
    m = AttentionModel("tc", p["E"], p["K"], p["q"], p["params"], explicit_keys=True)
    m.kernel_path = "fused"
    assert m.fused() and m.lowrank()
    m.shared_exp = False
    assert not m.fused() and m.lowrank()
    assert auto_fused(5008, 10, 4)  # the paper: 2 x 5008 x 64 B, d_e = 10
    big = KERNEL.fused_max_table_bytes // (KERNEL.fused_groups * 64) + 1
    assert auto_fused(big - 1, 10, 4) and not auto_fused(big, 10, 4)
    wide = KERNEL.lowrank_min_width_ratio * 4  # SST-like: d_e several times K is lowrank.py's
    assert auto_fused(5008, wide - 1, 4) and not auto_fused(5008, wide, 4)


@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("kind", ["fc", "tc"])
def test_fused_step_falls_back_when_a_partition_underflows(kind, explicit):
    """Scores ~700 apart (as above): the fused kernel must leave every parameter alone and the step be
    redone with per-sentence shifts, matching the twin's step (explicit keys: the query trained too)."""
    p = random_problem(3, kind)
    p["K"][0] = 0.0
    p["q"] = np.abs(p["q"])
    p["K"][1:] = -700.0 / p["q"].sum()
    p["K"][1:] += 0.01 * np.random.default_rng(0).standard_normal(p["K"][1:].shape)
    first = p["word_ids"][p["offsets"][0]:p["offsets"][1]]
    p["word_ids"][p["offsets"][0]:p["offsets"][1]] = np.maximum(first, 1)
    m = model_of(p, kind, explicit, path="fused")
    lr_c = 0.1 if kind == "tc" else 0.0
    lr_q = 1e-4 if explicit else 0.0  # small: the keys are ~700/sum(q) away, a big q step overflows
    loss = m.step(batch_of(p), 0.1, 0.1, lr_q, lr_c)
    assert m.last_fused is False  # it tried, found the underflow and handed over
    trainable = ("embeddings", "keys") + (("classifier",) if kind == "tc" else ())
    ref = twin_step(kind, p, trainable, 0.1)
    if explicit:
        ref["query"] = twin_step(kind, p, ("query",), lr_q)["query"]
    tloss, _ = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"],
                               p["labels"])
    assert np.isfinite(loss) and loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
    for name, got in (("embeddings", m.embeddings), ("W", m.classifier["W"])):
        assert_close(got, ref[name], NUMERIC.kernel_rtol, name)
    if explicit:
        assert_close(m.keys, ref["keys"], NUMERIC.kernel_rtol, "keys")
        assert_close(m.query, ref["query"], NUMERIC.kernel_rtol, "query")
    else:
        assert_close(m.scores, ref["keys"] @ ref["query"], NUMERIC.kernel_rtol, "scores")


def test_fused_and_full_paths_agree_over_steps():
    """Ten TC steps with a bias on the fused and the d_e-wide path: equal to rounding, on several
    sentence groups and word chunks (V beyond KERNEL.word_chunk), odd and even sentence lengths."""
    p = random_problem(9, "tc", V=1500, n=700, d_e=8, d_k=4, K=3, max_len=9)
    p["params"]["b"] = np.random.default_rng(9).standard_normal(3)
    runs = {}
    for path in ("full", "fused"):
        m = model_of(p, "tc", False, path=path)
        b = batch_of(p)
        runs[path] = ([m.step(b, 0.2, 0.2, 0.0, 0.2) for _ in range(10)], m)
        assert m.last_fused is (path == "fused")
    (lf, mf), (lz, mz) = runs["full"], runs["fused"]
    np.testing.assert_allclose(lz, lf, rtol=NUMERIC.kernel_rtol)
    for a, b in ((mz.embeddings, mf.embeddings), (mz.scores, mf.scores), (mz._theta, mf._theta)):
        assert_close(a, b, 1e-10, "fused vs full after 10 steps")
    assert not np.array_equal(mz.embeddings, p["E"])  # the steps moved something


@pytest.mark.parametrize("explicit", [False, True])
def test_low_rank_and_full_paths_agree_over_steps(explicit):
    """Ten steps of TC (every group that can train) on both paths: equal to rounding, on
    several sentence and word chunks (n, V beyond KERNEL's chunk sizes)."""
    p = random_problem(9, "tc", V=1500, n=700, d_e=8, d_k=4, K=3, max_len=9)
    runs = {}
    for path in PATHS:
        m = model_of(p, "tc", explicit, path=path)
        b = batch_of(p)
        losses = [m.step(b, 0.2, 0.2, 0.2 if explicit else 0.0, 0.2) for _ in range(10)]
        runs[path] = (losses, m)
    (lf, mf), (ll, ml) = runs["full"], runs["lowrank"]
    np.testing.assert_allclose(ll, lf, rtol=NUMERIC.kernel_rtol)
    for a, b in ((ml.embeddings, mf.embeddings), (ml.keys, mf.keys), (ml.query, mf.query),
                 (ml._theta, mf._theta)):
        assert_close(a, b, 1e-10, "low-rank vs full after 10 steps")
    assert not np.array_equal(mf.embeddings, p["E"])  # the steps moved something


@pytest.mark.parametrize("shared", [True, False])
def test_low_rank_fc_steps_carry_the_projection_bit_for_bit(shared):
    """FC on the low-rank path: each step leaves :math:`u_w = W^\\top v_w` of the new :math:`v` behind and
    the next step skips the projection pass (lowrank.epoch_lowrank).  Ten carried steps equal, bit for bit,
    ten steps that project afresh (the table handed out before each), and the d_e-wide path to rounding;
    the carry really ran (``_carried`` set after every low-rank step)."""
    p = random_problem(11, "fc", V=1500, n=700, d_e=8, d_k=4, K=3, max_len=9)
    runs = {}
    for mode in ("carried", "projected", "full"):
        m = model_of(p, "fc", False, shared=shared, path="full" if mode == "full" else "lowrank")
        b = batch_of(p)
        losses = []
        for _ in range(10):
            if mode == "projected":
                m.embeddings  # handing the table out drops the carry: this step projects
            losses.append(m.step(b, 0.2, 0.2))
            assert (m._carried is not None) is (mode != "full")
        runs[mode] = (losses, m.state())
    (lc, sc), (lp, sp), (lf, sf) = runs["carried"], runs["projected"], runs["full"]
    assert lc == lp
    for name in sc:
        assert np.array_equal(sc[name], sp[name]), name
        assert_close(sc[name], sf[name], 1e-10, f"carried low-rank vs full after 10 steps: {name}")
    assert not np.array_equal(sc["embeddings"], p["E"])  # the steps moved something


@pytest.mark.parametrize("write", ["embeddings", "classifier", "private (control)"])
def test_a_write_between_low_rank_steps_is_seen(write):
    """After a carried FC step, a write into the table (through ``embeddings``) or into :math:`W`
    (through the classifier dict's views) makes the next step project afresh: it equals, bit for bit, the
    step of a new model loaded with the written state.  Control: a write the model cannot see (its
    private array) leaves the carried rows stale and the two steps differ, so the comparison can tell."""
    p = random_problem(12, "fc", V=40, n=30, d_e=6, K=3)
    m = model_of(p, "fc", False, path="lowrank")
    b = batch_of(p)
    m.step(b, 0.3, 0.3)
    if write == "embeddings":
        m.embeddings[3] += 0.5
    elif write == "classifier":
        m.classifier["W"][0, 1] += 0.5
    else:
        m._emb[3] += 0.5
    fresh = model_of(p, "fc", False, path="lowrank")
    fresh.load_state(m.state())
    loss, loss_fresh = m.step(b, 0.3, 0.3), fresh.step(batch_of(p), 0.3, 0.3)
    same = loss == loss_fresh and np.array_equal(m.state()["embeddings"], fresh.state()["embeddings"])
    assert same is (write != "private (control)")


@pytest.mark.parametrize("kind", ["fc", "tc"])
@pytest.mark.parametrize("bias", [False, True])
def test_low_rank_evaluation_matches_the_full_path_and_the_twin(kind, bias):
    """``evaluate`` on the low-rank path (lowrank.forward_eval_lr: each used word projected once, then K
    wide) against the d_e-wide forward pass and the twin's loss: loss, log-partitions and predictions;
    twice in a row and after a step (the words' marks are cleared, the projections redone), and on a
    subset of the sentences (a different set of words)."""
    p = random_problem(13, kind, V=900, n=600, d_e=9, K=4, max_len=7)
    if bias:
        p["params"]["b"] = np.random.default_rng(13).standard_normal(4)
    full, low = (model_of(p, kind, False, path=path) for path in ("full", "lowrank"))
    tloss, _ = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"],
                               p["labels"])
    sub = (p["word_ids"][:p["offsets"][50]], p["offsets"][:51], p["labels"][:50])
    for when in ("first", "again", "after a step", "subset"):
        if when == "after a step":
            for m in (full, low):
                m.step(batch_of(p), 0.3, 0.3, 0.0, 0.3 if kind == "tc" else 0.0)
        args = sub if when == "subset" else (p["word_ids"], p["offsets"], p["labels"])
        (lf, sf, pf), (ll, sl, pl) = full.evaluate(*args), low.evaluate(*args)
        assert ll == pytest.approx(lf, rel=NUMERIC.kernel_rtol), when
        assert_close(sl, sf, NUMERIC.kernel_rtol, f"log-partitions ({when})")
        assert np.array_equal(pl, pf), when
        if when in ("first", "again"):
            assert ll == pytest.approx(tloss, rel=NUMERIC.kernel_rtol), when
    assert not low._seen.any()  # every mark cleared
    with pytest.raises(UsageError, match="word ids outside"):
        low.evaluate(np.array([0, 900]), np.array([0, 2]), np.array([0]))
