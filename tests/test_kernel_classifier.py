"""numerics/kernels/classifier.py: the batched dot products and sums of the TL gradients are the same
bits as one :func:`dot` / one serial sum per entry (the order the kernels' determinism rests on)."""
import numpy as np
import pytest

from attndyn.numerics.kernels.classifier import dot, dots_into, sums_into


@pytest.mark.parametrize("R", [0, 1, 3, 4, 5, 8, 10])
@pytest.mark.parametrize("n", [0, 1, 3, 4, 5, 160, 257])
def test_dots_into_is_dot_per_row_bitwise(R, n):
    """Row counts around the four-row sweep and lengths around dot's four partial sums (tails included);
    a wider Y (only its first n columns are read), a stride and a base offset, and out accumulated into."""
    rng = np.random.default_rng(100 * R + n)
    x = rng.standard_normal(n)
    Y = rng.standard_normal((R, n + 3))  # columns past n must not be read
    stride, base = 3, 2
    out = rng.standard_normal(base + stride * R + 1)
    start, want = out.copy(), out.copy()
    for r in range(R):
        want[base + r * stride] += dot(x, Y[r, :n])
    dots_into(x, Y, R, out, base, stride)
    assert out.tobytes() == want.tobytes()
    if R and n:  # each row's entry reads its own row: a change in the last row moves only its entry
        Y2 = Y.copy()
        Y2[R - 1, n - 1] += 1.0
        out2 = start.copy()
        dots_into(x, Y2, R, out2, base, stride)
        moved = np.flatnonzero(out2 != out)  # the entries that changed
        assert list(moved) == ([base + (R - 1) * stride] if x[n - 1] != 0.0 else [])


@pytest.mark.parametrize("R", [0, 1, 4, 6, 10])
@pytest.mark.parametrize("B", [0, 1, 7, 256])
def test_sums_into_is_the_serial_sum_per_row_bitwise(R, B):
    rng = np.random.default_rng(10 * R + B)
    Y = rng.standard_normal((R, B + 2)) * np.logspace(0, 12, B + 2)  # wide range: order matters to the bits
    out = rng.standard_normal(R + 3)
    want = out.copy()
    for r in range(R):
        acc = 0.0
        for b in range(B):  # Python floats: the IEEE serial sum, b ascending
            acc += float(Y[r, b])
        want[1 + r] += acc
    sums_into(Y, R, B, out, 1)
    assert out.tobytes() == want.tobytes()


def _numpy_linear(Ct, labels, weight, W):
    """The linear classifier's loss sum and g_b = omega W (softmax - e_y), written out in NumPy."""
    Z = W.T @ Ct  # K x B
    zmax = Z.max(axis=0)
    P = np.exp(Z - zmax)
    tot = P.sum(axis=0)
    loss = float(np.sum(zmax + np.log(tot) - Z[labels, np.arange(len(labels))]))
    delta = weight * P / tot
    delta[labels, np.arange(len(labels))] -= weight
    return loss, W @ delta


@pytest.mark.parametrize("B", [1, 5, 256])
def test_block_softmax_matches_numpy(B):
    """chunk_loss_and_backward's softmax runs across the block (exp_nonpos, one log per block): its loss
    and its g_b agree with the column-by-column NumPy formula to a few ulp."""
    from attndyn.numerics.kernels.classifier import chunk_loss_and_backward
    from attndyn.numerics.model.spec import LINEAR

    rng = np.random.default_rng(B)
    d, K = 10, 4
    W = rng.standard_normal((d, K))
    Ct = 3.0 * rng.standard_normal((d, B))
    labels = rng.integers(0, K, B)
    Zt, Gt = np.empty((K, B)), np.empty((d, B))
    loss = chunk_loss_and_backward(LINEAR, Ct, labels, 0.25, W.reshape(-1), K, 0, Zt, np.empty((0, B)),
                                   np.empty((0, B)), Gt, False, np.zeros(0))
    want_loss, want_G = _numpy_linear(Ct, labels, 0.25, W)
    assert abs(loss - want_loss) <= 1e-13 * abs(want_loss)
    assert np.max(np.abs(Gt - want_G)) <= 1e-14 * np.max(np.abs(want_G))


def test_block_loss_stays_finite_when_the_partition_product_would_overflow():
    """Equal logits and K = 16 classes: every partition sum is 16 and their product over a block of 256
    is 16^256 = 2^1024, past float64's range; the product is logged early (past 1e280), so the loss is
    256 log 16 and not inf.  Control: the product taken whole overflows."""
    from attndyn.numerics.kernels.classifier import chunk_loss_and_backward
    from attndyn.numerics.model.spec import LINEAR

    d, K, B = 3, 16, 256
    W = np.zeros(d * K)  # all logits 0
    Ct = np.ones((d, B))
    labels = np.arange(B) % K
    Zt, Gt = np.empty((K, B)), np.empty((d, B))
    loss = chunk_loss_and_backward(LINEAR, Ct, labels, 1.0 / B, W, K, 0, Zt, np.empty((0, B)),
                                   np.empty((0, B)), Gt, False, np.zeros(0))
    assert abs(loss - B * np.log(K)) <= 1e-12 * B * np.log(K)
    with np.errstate(over="ignore"):
        assert np.isinf(np.log(np.prod(np.full(B, float(K)))))  # the control: one product overflows
