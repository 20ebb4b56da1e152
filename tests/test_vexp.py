"""numerics/kernels/vexp.py: the vectorisable e^x of the fused softmax, against libm and against a
NumPy twin of the same algorithm (whose shortened series is the negative control)."""
import math

import numpy as np
import pytest
from numba import njit

from attndyn.numerics.kernels import vexp
from attndyn.numerics.kernels.vexp import exp_nonpos


@njit(cache=False)
def _exp_all(x, out):
    for i in range(x.shape[0]):  # a loop LLVM vectorises: what fused.softmax_block compiles
        out[i] = exp_nonpos(x[i])


def exp_numba(x):
    out = np.empty_like(x)
    _exp_all(np.ascontiguousarray(x, dtype=np.float64), out)
    return out


def exp_twin(x, degree=13):
    """The module's algorithm in NumPy, written from its docstring: n = floor(x log2 e + 1/2),
    r = x - n ln2 (two parts), e^x = 2^n sum_{j <= degree} r^j / j! in Horner form."""
    xc = np.maximum(x, vexp.X_MIN)
    n = np.floor(xc * vexp.LOG2E + 0.5)
    r = (xc - n * vexp.LN2_HI) - n * vexp.LN2_LO
    p = np.full_like(r, 1.0 / math.factorial(degree))
    for j in range(degree - 1, -1, -1):
        p = p * r + 1.0 / math.factorial(j)
    y = np.ldexp(p, n.astype(np.int64))
    return np.where(x >= vexp.X_MIN, y, np.where(np.isnan(x), x, 0.0))


def ulps(a, b):
    """|a - b| in units of b's last place (the spacing at b)."""
    return np.abs(a - b) / np.spacing(np.abs(b))


POINTS = -np.random.default_rng(0).exponential(3.0, 200_000)  # softmax arguments: mostly near 0
EDGES = np.array([0.0, -0.0, -1e-300, -5e-324, -0.5 * math.log(2), -math.log(2), -1.0, -700.0,
                  vexp.X_MIN])


def test_within_one_ulp_of_libm_and_bitwise_the_twin():
    x = np.concatenate([POINTS, EDGES, -np.linspace(0.0, -vexp.X_MIN, 20_001)])
    got, libm = exp_numba(x), np.exp(x)
    assert ulps(got, libm).max() <= 1.0
    assert (got == libm).mean() > 0.8  # mostly the same bits: a 1-ulp error is the exception
    np.testing.assert_array_equal(got, exp_twin(x))  # the compiled code is the written algorithm


def test_the_checks_above_catch_a_shortened_series():
    """Negative control: the twin with the series cut at degree 9 errs by ~r^10/10! > 1 ulp near
    |r| = ln2/2, and the 1-ulp check sees it."""
    x = np.concatenate([POINTS, EDGES])
    assert ulps(exp_twin(x, degree=9), np.exp(x)).max() > 1.0
    assert ulps(exp_twin(x), np.exp(x)).max() <= 1.0


def test_domain_edges():
    x = np.array([0.0, -0.0, vexp.X_MIN, np.nextafter(vexp.X_MIN, -np.inf), -745.2, -1e308, -np.inf, np.nan])
    got = exp_numba(x)
    assert got[0] == got[1] == 1.0  # e^0 = 1 exactly, as libm's
    assert ulps(got[2:3], np.exp(x[2:3])).max() <= 1.0 and got[2] > 0
    np.testing.assert_array_equal(got[3:7], 0.0)  # below X_MIN (subnormal or 0 in libm): 0
    assert np.isnan(got[7])


@pytest.mark.parametrize("x", [1e-3, -1e-3])
def test_tiny_arguments_are_1_plus_x(x):
    assert ulps(exp_numba(np.array([-abs(x)])), np.exp([-abs(x)])).max() <= 1.0
