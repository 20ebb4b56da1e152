"""The vectorised NumPy reference of the full model against the loop-based twin (tests/naive.py),
and the two fast paths built on it (the full-model flow, the benchmark's NumPy twin)."""
import numpy as np
import pytest

from attndyn.numerics.experiments import bench
from attndyn.numerics.model import reference
from naive import random_problem, twin_loss_grads


@pytest.mark.parametrize("block", [None, 1, 4])
@pytest.mark.parametrize("kind", ["fc", "tc", "tl"])
@pytest.mark.parametrize("seed", [0, 1])
def test_reference_equals_the_naive_twin(seed, kind, block):
    p = random_problem(seed, kind)
    scores = p["K"] @ p["q"]
    L, dE, ds, dth = reference.loss_and_grads(kind, p["params"], p["E"], scores, p["word_ids"], p["offsets"],
                                              p["labels"], block=block)
    tL, tg = twin_loss_grads(kind, p["E"], p["K"], p["q"], p["params"], p["word_ids"], p["offsets"], p["labels"])
    assert L == pytest.approx(tL, rel=1e-13)
    np.testing.assert_allclose(dE, tg["embeddings"], rtol=1e-12, atol=1e-15)
    # the twin's key gradient is dL/ds_w q: recover dL/ds_w along q
    q = p["q"]
    np.testing.assert_allclose(ds[:, None] * q[None, :], tg["keys"], rtol=1e-12, atol=1e-15)
    for name, g in dth.items():
        np.testing.assert_allclose(g, tg[name], rtol=1e-12, atol=1e-15)


def test_the_benchmark_twin_is_one_reference_step():
    p = random_problem(3, "fc")
    scores, emb, W = p["K"] @ p["q"], p["E"].copy(), p["params"]["W"]
    s0, e0 = scores.copy(), emb.copy()
    L, dE, ds, _ = reference.loss_and_grads("fc", {"W": W}, e0, s0, p["word_ids"], p["offsets"], p["labels"])
    loss = bench.numpy_epoch_fc(p["word_ids"], p["offsets"], p["labels"], scores, emb, W, 0.5, 0.25)
    assert loss == L
    assert np.array_equal(emb, e0 - 0.5 * dE) and np.array_equal(scores, s0 - 0.25 * ds)
