"""numerics/kernels/simd.py: the hand-written LLVM intrinsics give the same bits as scalar code."""
import numpy as np
import pytest
from numba import njit
from numba.core.errors import TypingError

from attndyn.numerics.kernels.simd import add4, as_float64


@njit(cache=False)
def _scatter_vector(A, rows, d):
    for x in range(rows.shape[0]):
        add4(A, rows[x], d[x, 0], d[x, 1], d[x, 2], d[x, 3])


def test_add4_is_four_scalar_adds_bit_for_bit_and_touches_nothing_else():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((50, 8)) * 10.0 ** rng.integers(-8, 8, (50, 8))
    rows = rng.integers(0, 50, 400)  # repeated rows: each add sees the previous one's store
    d = rng.standard_normal((400, 4)) * 1e-3
    want = A.copy()
    for x in range(400):
        for k in range(4):
            want[rows[x], k] += d[x, k]
    got = A.copy()
    _scatter_vector(got, rows, d)
    np.testing.assert_array_equal(got, want)  # lanes 4-7 untouched, lanes 0-3 the scalar sums
    assert not np.array_equal(got, A)


def test_add4_refuses_what_it_cannot_address():
    @njit(cache=False)
    def on_fortran(A):
        add4(A, 0, 1.0, 1.0, 1.0, 1.0)

    with pytest.raises(TypingError):
        on_fortran(np.asfortranarray(np.zeros((3, 8))))


@njit(cache=False)
def _bits(b):
    return as_float64(b)


@pytest.mark.parametrize("x", [1.0, -2.5, 2.0 ** -1022, 1e300, 0.0])
def test_as_float64_is_a_bit_cast(x):
    bits = np.array([x]).view(np.int64)[0]
    assert _bits(bits) == x
    assert _bits((np.int64(5) + 1023) << 52) == 32.0  # 2^5 from its exponent bits, as vexp builds 2^n
