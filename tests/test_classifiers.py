"""numerics/model/classifiers.py (the reference twin) against central finite differences."""
import numpy as np
import pytest

from attndyn.numerics.model import classifiers as cl
from attndyn.proofs.errors import UsageError


def _fd(f, x, h=1e-6):
    g = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        g[i] = (fp - fm) / (2 * h)
    return g


@pytest.mark.parametrize("kind", cl.KINDS)
def test_gradients_match_finite_differences(kind):
    rng = np.random.default_rng(1)
    n, d, K = 7, 4, 3
    params = cl.init_classifier(kind, d, K, rng)
    C = rng.standard_normal((n, d))
    y = rng.integers(0, K, n)
    w = rng.uniform(0.1, 1.0, n)
    loss, dC, grads = cl.loss_and_grads(kind, params, C, y, w)
    f = lambda: cl.loss_and_grads(kind, params, C, y, w)[0]
    np.testing.assert_allclose(dC, _fd(f, C), rtol=1e-6, atol=1e-8)
    for name, g in grads.items():
        np.testing.assert_allclose(g, _fd(f, params[name]), rtol=1e-6, atol=1e-8, err_msg=name)


def test_loss_is_the_mean_cross_entropy_by_default():
    rng = np.random.default_rng(2)
    params = cl.init_classifier("fc", 3, 4, rng)
    C = rng.standard_normal((5, 3))
    y = rng.integers(0, 4, 5)
    Z = C @ params["W"]
    naive = np.mean([-np.log(np.exp(Z[i, y[i]]) / np.exp(Z[i]).sum()) for i in range(5)])
    assert cl.loss_and_grads("fc", params, C, y)[0] == pytest.approx(naive, rel=1e-12)


def test_paper_matrix_has_unit_diagonal():
    W = cl.paper_matrix(10, 4, np.random.default_rng(0))
    assert W.shape == (10, 4)
    assert np.all(W[np.arange(4), np.arange(4)] == 1.0)


@pytest.mark.parametrize("bad, match", [
    (np.zeros((3, 3)), "shape"),
    (np.full((4, 3), np.nan), "NaN"),
])
def test_bad_matrix_is_a_usage_error(bad, match):
    with pytest.raises(UsageError, match=match):
        cl.check_matrix(bad, 4, 3)


def test_unknown_kind_is_a_usage_error():
    with pytest.raises(UsageError, match="classifier"):
        cl.init_classifier("svm", 3, 2, np.random.default_rng(0))


def test_tl_sided_relu_reduces_to_the_ordinary_relu():
    """The side choice used by the flow at ReLU kinks is the ordinary ReLU when read off the sign."""
    rng = np.random.default_rng(0)
    theta = cl.init_classifier("tl", 5, 3, rng)
    C, y, w = rng.normal(size=(7, 5)), rng.integers(0, 3, 7), rng.uniform(0, 1, 7)
    mask = ((C @ theta["W1"] + theta["b1"]) > 0).astype(float)
    L1, G1, g1 = cl.loss_and_grads("tl", theta, C, y, w, relu=(mask, mask))
    L2, G2, g2 = cl.loss_and_grads("tl", theta, C, y, w)
    assert L1 == pytest.approx(L2, rel=1e-14)
    np.testing.assert_allclose(G1, G2, rtol=1e-13, atol=1e-15)
    for k in g2:
        np.testing.assert_allclose(g1[k], g2[k], rtol=1e-13, atol=1e-15)


def test_tl_fixed_side_gradient_matches_finite_differences_of_that_piece():
    """With the sides held fixed the TL map is smooth: its gradient is that piece's derivative."""
    rng = np.random.default_rng(3)
    theta = cl.init_classifier("tl", 4, 3, rng)
    C, y = rng.normal(size=(6, 4)), rng.integers(0, 3, 6)
    side = rng.integers(0, 2, (6, cl.TL_HIDDEN)).astype(float)  # arbitrary, not the sign
    f = lambda: cl.loss_and_grads("tl", theta, C, y, relu=(side, side))[0]
    _, dC, grads = cl.loss_and_grads("tl", theta, C, y, relu=(side, side))
    np.testing.assert_allclose(dC, _fd(f, C), rtol=1e-6, atol=1e-8)
    np.testing.assert_allclose(grads["W1"], _fd(f, theta["W1"]), rtol=1e-6, atol=1e-8)
