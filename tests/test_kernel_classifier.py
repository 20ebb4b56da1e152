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
