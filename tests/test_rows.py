"""numerics/kernels/rows.py: the vectorised row dot product of the K-wide projection."""
import math

import numpy as np
import pytest

from attndyn.numerics.kernels.rows import row_dot


@pytest.mark.parametrize("n", [0, 1, 7, 8, 9, 31, 32, 33, 100, 200, 203])
def test_row_dot_is_the_exact_sum_to_rounding_for_every_length(n):
    """Lengths around the vector widths (remainders included): |row_dot - fsum| <= n eps sum|x_j y_j|,
    the bound of any summation order (no term dropped or counted twice)."""
    rng = np.random.default_rng(n)
    x, y = rng.standard_normal(n), rng.standard_normal(n)
    exact = math.fsum(float(a) * float(b) for a, b in zip(x, y))  # products exact to rounding, summed exactly
    scale = float(np.abs(x * y).sum())
    assert abs(row_dot(x, y) - exact) <= (n + 1) * np.finfo(float).eps * scale + 0.0
    if n:  # one changed element changes the result: every term is read
        x2 = x.copy()
        x2[-1] += 1.0
        assert abs(row_dot(x2, y) - row_dot(x, y) - y[-1]) <= 1e-12 * (scale + abs(y[-1]) + 1.0)


def test_row_dot_is_the_same_bits_on_every_call_and_for_views():
    """One compiled order: the same inputs (a row view of a table or a copy) give the same bits."""
    rng = np.random.default_rng(1)
    table = rng.standard_normal((5, 100))
    w = rng.standard_normal(100)
    assert all(row_dot(table[i], w) == row_dot(table[i].copy(), w) for i in range(5))
