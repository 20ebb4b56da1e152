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
from attndyn.proofs.settings import NUMERIC, TRAINING

GROUPS = ("embeddings", "keys", "query", "classifier")


# --------------------------------------------------------------------------- the twin

def twin_loss_grads(kind, E, K, q, params, word_ids, offsets, labels, weight=None):
    """Loss L = w * sum_i l_i and its gradients, one sentence at a time in plain NumPy."""
    n = len(labels)
    w = 1.0 / n if weight is None else weight
    C = np.zeros((n, E.shape[1]))
    A = []
    for i in range(n):
        ws = word_ids[offsets[i]:offsets[i + 1]]
        s = K[ws] @ q
        a = np.exp(s - s.max())
        a /= a.sum()
        A.append(a)
        C[i] = a @ E[ws]
    loss, dC, cls_grads = cl.loss_and_grads(kind, params, C, labels, np.full(n, w))
    dE, dK, dq = np.zeros_like(E), np.zeros_like(K), np.zeros_like(q)
    for i in range(n):
        ws = word_ids[offsets[i]:offsets[i + 1]]
        a, g = A[i], dC[i]
        np.add.at(dE, ws, a[:, None] * g[None, :])
        ds = a * ((E[ws] - C[i]) @ g)  # dL/ds_p = a_p (v_p - c) . g
        np.add.at(dK, ws, ds[:, None] * q[None, :])
        dq += ds @ K[ws]
    return loss, {"embeddings": dE, "keys": dK, "query": dq, **cls_grads}


def random_problem(seed, kind="fc", V=12, n=9, d_e=3, d_k=4, K=3, max_len=6, key_std=0.5):
    """Variable-length sentences (1..max_len words, repeats allowed) and random parameters."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    word_ids = rng.integers(0, V, offsets[-1]).astype(np.int64)
    labels = rng.integers(0, K, n).astype(np.int64)
    E = rng.standard_normal((V, d_e))
    Kx = key_std * rng.standard_normal((V, d_k))
    q = rng.standard_normal(d_k)
    params = cl.init_classifier(kind, d_e, K, rng)
    if kind == "tl":  # larger weights so that some ReLUs are on and some off
        params = {k: 3 * v for k, v in params.items()}
    return dict(word_ids=word_ids, offsets=offsets, labels=labels, E=E, K=Kx, q=q, params=params,
                V=V, K_classes=K, d_e=d_e)


def model_of(p, kind, explicit_keys, dtype="float64", shared=True):
    m = AttentionModel(kind, p["E"], p["K"], p["q"], p["params"], explicit_keys=explicit_keys, dtype=dtype)
    m.shared_exp = shared
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

@pytest.mark.parametrize("kind", cl.KINDS)
@pytest.mark.parametrize("explicit_keys", [False, True])
@pytest.mark.parametrize("shared", [True, False])
def test_gradients_match_twin(kind, explicit_keys, shared):
    for seed in range(3):
        p = random_problem(seed, kind)
        m = model_of(p, kind, explicit_keys, shared=shared)
        loss, g = m.gradients(batch_of(p))
        assert m.last_shared_exp is shared
        tloss, tg = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"],
                                    p["offsets"], p["labels"])
        assert loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
        for name, ref in tg.items():
            assert_close(g[name], ref, NUMERIC.kernel_rtol, f"{kind} seed {seed} d{name}")


def test_gradients_with_batch_weight():
    p = random_problem(5, "tc")
    loss, g = model_of(p, "tc", False).gradients(batch_of(p, weight=0.37))
    tloss, tg = twin_loss_grads("tc", p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"],
                                p["labels"], weight=0.37)
    assert loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
    for name, ref in tg.items():
        assert_close(g[name], ref, NUMERIC.kernel_rtol, name)


def _fd_loss(p, kind):
    m = AttentionModel(kind, p["E"], p["K"], p["q"], p["params"], explicit_keys=True)
    return m.evaluate(p["word_ids"], p["offsets"], p["labels"])[0]


@pytest.mark.parametrize("kind", cl.KINDS)
def test_gradients_match_finite_differences(kind):
    """Kernel gradients vs central differences of the kernels' own forward loss."""
    p = random_problem(11, kind, V=7, n=6, d_e=2, d_k=3, K=3, max_len=4)
    _, g = model_of(p, kind, False).gradients(batch_of(p))
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


def test_shared_exponentials_fall_back_when_a_partition_underflows():
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
    m = model_of(p, "fc", False)
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


@pytest.mark.parametrize("kind", cl.KINDS)
def test_step_matches_twin_for_every_trainable_subset(kind):
    lr = 0.3
    for trainable in _subsets(kind):
        for explicit in ([True] if "query" in trainable else [False, True]):
            p = random_problem(hash((kind, trainable)) % 1000, kind)
            m = model_of(p, kind, explicit)
            lrs = {f"lr_{g}": (lr if g in trainable else 0.0) for g in GROUPS}
            loss = m.step(batch_of(p), **lrs)
            tloss, _ = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"],
                                       p["offsets"], p["labels"])
            assert loss == pytest.approx(tloss, rel=NUMERIC.kernel_rtol)
            ref = twin_step(kind, p, trainable, lr)
            got = {"embeddings": m.embeddings, "keys": m.keys, "query": m.query, **m.classifier}
            for name, r in ref.items():
                assert_close(got[name], r, NUMERIC.kernel_rtol,
                             f"{kind} trainable={trainable} explicit_keys={explicit}: {name}")
            assert_close(m.scores, ref["keys"] @ ref["query"], NUMERIC.kernel_rtol, "scores")


def test_two_steps_match_twin_and_frozen_words_stay():
    p = random_problem(8, "tc", V=15)
    p["word_ids"][p["word_ids"] == 14] = 13  # word 14 occurs nowhere: it must not move
    m = model_of(p, "tc", False)
    b = batch_of(p)
    for _ in range(2):
        m.step(b, 0.2, 0.2, 0.0, 0.2)
        ref = twin_step("tc", p, ("embeddings", "keys", "classifier"), 0.2)
        p["E"], p["K"], p["params"] = ref["embeddings"], ref["keys"], {"W": ref["W"]}
    assert_close(m.embeddings, p["E"], NUMERIC.kernel_rtol, "embeddings after 2 steps")
    assert_close(m.keys, p["K"], NUMERIC.kernel_rtol, "keys after 2 steps")
    assert np.array_equal(m.embeddings[14], random_problem(8, "tc", V=15)["E"][14])


def test_fixed_classifier_and_fixed_query_reject_a_learning_rate():
    p = random_problem(1, "fc")
    with pytest.raises(UsageError, match="fc classifier is fixed"):
        model_of(p, "fc", False).step(batch_of(p), 0.1, 0.1, 0.0, 0.1)
    with pytest.raises(UsageError, match="lr_query"):
        model_of(p, "fc", False).step(batch_of(p), 0.1, 0.1, 0.1, 0.0)


# --------------------------------------------------------------------------- determinism, dtypes

def _run_steps(p, kind, explicit, threads, steps=3):
    old = numba.get_num_threads()
    numba.set_num_threads(threads)
    try:
        m = model_of(p, kind, explicit)
        b = batch_of(p)
        losses = [m.step(b, 0.1, 0.1, 0.1 if explicit else 0.0, 0.1 if kind != "fc" else 0.0)
                  for _ in range(steps)]
        return losses, m
    finally:
        numba.set_num_threads(old)


@pytest.mark.parametrize("kind,explicit", [("tc", False), ("tl", True)])
def test_results_do_not_depend_on_the_thread_count(kind, explicit):
    """Fixed chunks, merged in a fixed order: 1 and 2 threads give bitwise-identical results."""
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    p = random_problem(4, kind, V=3000, n=2000, d_e=5, d_k=5, K=4, max_len=12)
    l1, m1 = _run_steps(p, kind, explicit, 1)
    l2, m2 = _run_steps(p, kind, explicit, 2)
    l1b, m1b = _run_steps(p, kind, explicit, 1)
    assert l1 == l2 == l1b
    for a, b, c in ((m1.embeddings, m2.embeddings, m1b.embeddings), (m1.keys, m2.keys, m1b.keys),
                    (m1.query, m2.query, m1b.query), (m1._theta, m2._theta, m1b._theta)):
        assert np.array_equal(a, b) and np.array_equal(a, c)


def test_float32_path_runs_and_tracks_float64():
    p = random_problem(6, "tc")
    m64, m32 = model_of(p, "tc", False), model_of(p, "tc", False, dtype="float32")
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
