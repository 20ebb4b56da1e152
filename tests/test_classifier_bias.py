"""The linear classifier's optional bias (the authors' TC is a PyTorch ``nn.Linear``): kernels
against a loop-based twin written here from the definition z = W^T c + b, finite differences,
and thread-count determinism; the torch initialisation and the config fields."""
import numba
import numpy as np
import pytest

from attndyn.numerics.config.schema import ModelConfig
from attndyn.numerics.model import classifiers as cl
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import NUMERIC, TRAINING
from naive import random_problem


def loop_twin(E, Kx, q, W, b, word_ids, offsets, labels):
    """L = (1/n) sum_i [log sum_k exp(z_ik) - z_iy], z_i = W^T c_i + b, one sentence at a time."""
    n = len(labels)
    L = 0.0
    dE, ds, dW, db = np.zeros_like(E), np.zeros(len(E)), np.zeros_like(W), np.zeros_like(b)
    for i in range(n):
        ws = word_ids[offsets[i]:offsets[i + 1]]
        s = Kx[ws] @ q
        a = np.exp(s - s.max())
        a /= a.sum()
        c = a @ E[ws]
        z = W.T @ c + b
        p = np.exp(z - z.max())
        p /= p.sum()
        L += (np.log(np.sum(np.exp(z - z.max()))) + z.max() - z[labels[i]]) / n
        dz = p.copy()
        dz[labels[i]] -= 1.0
        dz /= n
        dW += np.outer(c, dz)
        db += dz
        g = W @ dz
        for j, w in enumerate(ws):
            dE[w] += a[j] * g
            ds[w] += a[j] * (E[w] - c) @ g
    return L, {"embeddings": dE, "scores": ds, "W": dW, "b": db}


def problem(seed, **kw):
    p = random_problem(seed, "tc", **kw)
    rng = np.random.default_rng(100 + seed)
    p["params"] = {"W": p["params"]["W"], "b": rng.standard_normal(p["K_classes"])}
    return p


# train.kernel forced: the d_e-wide, the K-wide (lowrank.py) and the fused K-wide step (fused.py; its gradients
# and its steps with per-sentence shifts are lowrank.py's)
PATHS = ("full", "lowrank", "fused")


def model(p, explicit=False, shared=True, path="full"):
    m = AttentionModel("tc", p["E"], p["K"], p["q"], p["params"], explicit_keys=explicit)
    m.shared_exp = shared
    m.kernel_path = path
    assert m.lowrank() is (path != "full")
    assert m.fused() is (path == "fused" and shared)
    return m


def batch(p):
    return Batch.build(p["word_ids"], p["offsets"], p["labels"], p["V"], p["K_classes"], p["d_e"])


def rel(a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300)


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("explicit", [False, True])
@pytest.mark.parametrize("shared", [True, False])
def test_bias_gradients_match_the_loop_twin(explicit, shared, path):
    for seed in range(3):
        p = problem(seed, d_e=3 + 3 * (seed % 2))
        loss, g = model(p, explicit, shared, path).gradients(batch(p))
        tl, tg = loop_twin(p["E"], p["K"], p["q"], p["params"]["W"], p["params"]["b"],
                           p["word_ids"], p["offsets"], p["labels"])
        assert loss == pytest.approx(tl, rel=NUMERIC.kernel_rtol)
        for name, ref in tg.items():
            assert rel(g[name], ref) <= NUMERIC.kernel_rtol, (seed, name)


def test_reference_with_bias_matches_the_loop_twin():
    p = problem(7)
    from naive import twin_loss_grads  # the vectorised reference path through classifiers.py

    tl, tg = loop_twin(p["E"], p["K"], p["q"], p["params"]["W"], p["params"]["b"],
                       p["word_ids"], p["offsets"], p["labels"])
    L, g = twin_loss_grads("tc", p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"],
                           p["labels"])
    assert L == pytest.approx(tl, rel=1e-12)
    assert rel(g["b"], tg["b"]) <= 1e-12 and rel(g["W"], tg["W"]) <= 1e-12


@pytest.mark.parametrize("path", PATHS)
def test_bias_gradient_matches_finite_differences_and_a_step_moves_it(path):
    p = problem(3, V=7, n=6, d_e=2, d_k=3, K=3, max_len=4)
    _, g = model(p, path=path).gradients(batch(p))
    h = TRAINING.fd_step
    b = p["params"]["b"]
    fd = np.zeros_like(b)
    for k in range(len(b)):
        old = b[k]
        b[k] = old + h
        fp = model(p).evaluate(p["word_ids"], p["offsets"], p["labels"])[0]
        b[k] = old - h
        fm = model(p).evaluate(p["word_ids"], p["offsets"], p["labels"])[0]
        b[k] = old
        fd[k] = (fp - fm) / (2 * h)
    assert rel(g["b"], fd) <= TRAINING.fd_rtol
    m = model(p, path=path)
    m.step(batch(p), 0.0, 0.0, 0.0, 0.5)
    assert np.allclose(m.classifier["b"], b - 0.5 * g["b"], rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("path", PATHS)
def test_bias_step_matches_the_loop_twin_on_every_group(path):
    """One step of embeddings, scores, W and b together: each moved by its gradient at the old point
    (the low-rank path adds a word's term of dL/dW before it updates v_w)."""
    p = problem(6, d_e=5)
    m = model(p, path=path)
    m.step(batch(p), 0.3, 0.3 / float(p["q"] @ p["q"]), 0.0, 0.3)
    _, tg = loop_twin(p["E"], p["K"], p["q"], p["params"]["W"], p["params"]["b"],
                      p["word_ids"], p["offsets"], p["labels"])
    assert rel(m.embeddings, p["E"] - 0.3 * tg["embeddings"]) <= NUMERIC.kernel_rtol
    assert rel(m.scores, p["K"] @ p["q"] - 0.3 * tg["scores"]) <= NUMERIC.kernel_rtol
    assert rel(m.classifier["W"], p["params"]["W"] - 0.3 * tg["W"]) <= NUMERIC.kernel_rtol
    assert rel(m.classifier["b"], p["params"]["b"] - 0.3 * tg["b"]) <= NUMERIC.kernel_rtol


def test_bias_changes_predictions_as_the_twin_says():
    p = problem(2)
    p["params"]["b"] = np.array([0.0, 50.0, 0.0])  # a large bias: every prediction is class 1
    _, _, pred = model(p).evaluate(p["word_ids"], p["offsets"], p["labels"])
    assert np.all(pred == 1)


@pytest.mark.parametrize("path", PATHS)
def test_bias_is_deterministic_for_any_thread_count(path):
    if numba.config.NUMBA_NUM_THREADS < 2:
        pytest.skip("needs 2 numba threads")
    p = problem(4, V=2000, n=1500, d_e=4, d_k=4, K=3, max_len=10)
    out = []
    for threads in (1, 2):
        old = numba.get_num_threads()
        numba.set_num_threads(threads)
        try:
            m = model(p, path=path)
            losses = [m.step(batch(p), 0.1, 0.1, 0.0, 0.1) for _ in range(2)]
        finally:
            numba.set_num_threads(old)
        out.append((losses, m._theta.copy(), m.embeddings.copy()))
    assert out[0][0] == out[1][0]
    assert np.array_equal(out[0][1], out[1][1]) and np.array_equal(out[0][2], out[1][2])


def test_torch_initialisation_is_nn_linear_default():
    rng = np.random.default_rng(0)
    p = cl.init_classifier("tc", 100, 2, rng, init="torch", bias=True)
    bound = 1 / np.sqrt(100)
    assert p["W"].shape == (100, 2) and p["b"].shape == (2,)
    assert np.all(np.abs(p["W"]) <= bound) and np.all(np.abs(p["b"]) <= bound)
    # squared column norm ~ d_e * bound^2 / 3 = 1/3 (the paper's matrix: ~ d_e)
    assert 0.2 < np.mean(np.sum(p["W"] ** 2, axis=0)) < 0.5
    q = cl.init_classifier("tc", 100, 2, np.random.default_rng(0), init="torch")
    assert np.array_equal(q["W"], p["W"]) and "b" not in q


def test_config_rejects_bias_and_torch_init_for_tl():
    with pytest.raises(UsageError, match="classifier_bias"):
        ModelConfig(classifier="tl", classifier_bias=True)
    with pytest.raises(UsageError, match="classifier_init"):
        ModelConfig(classifier="tc", classifier_init="xavier")
    with pytest.raises(UsageError, match="classifier_bias"):
        ModelConfig(classifier="tc", classifier_bias="yes")
