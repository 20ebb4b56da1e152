"""attndyn.proofs.sen: the float64 SEN evaluators against the symbolic closed form (S3) and mpmath."""
import warnings

import mpmath
import numpy as np
import pytest
import sympy as sp

from attndyn.proofs import sen
import attndyn.proofs.claims.symbolic as Y
import attndyn.proofs.algebra as alg
import attndyn.proofs.dynamics as dyn
import attndyn.proofs.model as mdl
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import SYMBOLIC, SYMBOLIC_SAMPLING

S = mdl.BASE
Q = alg.inner(S.q, S.q)
RTOL = SYMBOLIC.rtol


@pytest.fixture(scope="module")
def closed_form():
    """The curve lambdified from S3's *derived* closed form (integrated by SymPy)."""
    rhs = Y.sen_closed_form()  # |q|^2 (|v|^2 - |v0|^2)
    qv0, rho = sp.Symbol("qv0", nonnegative=True), sp.Symbol("rho", positive=True)
    curve = sp.sqrt(qv0 + rhs.xreplace({Q: 1}).xreplace({mdl.ETA_V: rho * mdl.ETA_K}))
    return sp.lambdify([S.s, S.m, Y.S0, qv0, rho], curve, modules="numpy")


def mp_log_curve(s, m, s0=0.0, qv0_sq=0.0, rho=1.0):
    with mpmath.workdps(SYMBOLIC_SAMPLING.mp_digits):
        s, s0 = mpmath.mpf(s), mpmath.mpf(s0)
        x = qv0_sq + 2 * rho * ((s - s0) + (mpmath.exp(s) - mpmath.exp(s0)) / m)
        return mpmath.log(x) / 2


def test_curve_matches_the_derived_closed_form_at_random_points(closed_form):
    rng = np.random.default_rng(1)
    n = 200
    s0 = rng.uniform(-5, 5, n)
    s = s0 + rng.uniform(0, 10, n)
    m, qv0, rho = rng.integers(1, 50, n).astype(float), rng.uniform(0, 3, n), rng.uniform(0.1, 3, n)
    ref = closed_form(s, m, s0, qv0, rho)
    got = sen.sen_curve(s, m, s0=s0, qv0_sq=qv0, lr_ratio=rho)
    np.testing.assert_allclose(got, ref, rtol=RTOL)


def test_paper_default_is_the_papers_curve():
    s = np.linspace(0, 30, 31)
    np.testing.assert_allclose(sen.sen_curve(s, 20), np.sqrt(2 * (s + np.expm1(s) / 20)), rtol=RTOL)


@pytest.mark.parametrize("s", SYMBOLIC_SAMPLING.sen_large_scores)
def test_large_scores_no_overflow_and_match_mpmath(s):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow / invalid warning either
        log_c = sen.sen_log_curve(s, 20.0, s0=0.5, qv0_sq=0.25, lr_ratio=0.7)
        c = sen.sen_curve(s, 20.0, s0=0.5, qv0_sq=0.25, lr_ratio=0.7)
    exact = mp_log_curve(s, 20.0, 0.5, 0.25, 0.7)
    assert np.isfinite(log_c)
    assert abs(np.expm1(log_c - float(exact))) < RTOL
    if s <= 1400:  # representable in float64: finite and accurate
        assert np.isfinite(c) and abs(c / float(mpmath.exp(exact)) - 1) < RTOL
    else:  # e^(s/2) beyond float64: reported as inf, never nan
        assert c == np.inf


def test_s800_value():
    c = sen.sen_curve(800.0, 20)
    assert np.isfinite(c) and abs(c / float(mpmath.exp(mp_log_curve(800, 20))) - 1) < RTOL


def test_accurate_near_the_starting_score():
    # s - s0 tiny: the expm1 form keeps full relative accuracy
    for ds in (1e-12, 1e-8, 1e-4):
        got = sen.sen_log_curve(3.0 + ds, 5, s0=3.0)
        assert abs(np.expm1(got - float(mp_log_curve(mpmath.mpf(3) + mpmath.mpf(ds), 5, 3.0)))) < 1e-9


def test_unreachable_and_zero_points():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(sen.sen_curve(-1.0, 20))  # from (0, v0=0) a negative score is unreachable
        assert sen.sen_curve(0.0, 20) == 0.0
        assert sen.sen_log_curve(0.0, 20) == -np.inf
        assert np.isnan(sen.sen_curve(-800.0, 3))
    # but with a nonzero start it is reachable
    assert np.isfinite(sen.sen_curve(-1.0, 20, qv0_sq=10.0))


def test_vectorised_broadcasting():
    s = np.linspace(0.1, 5, 6).reshape(2, 3)
    out = sen.sen_curve(s, np.array([5.0, 10.0, 20.0]))
    assert out.shape == (2, 3)
    assert isinstance(sen.sen_curve(1.0, 2), float)


def test_H_constant_along_the_curve():
    s = np.linspace(-1, 8, 40)
    s0, v0sq, q2, m, rho = -1.0, 0.3, 2.5, 7.0, 1.7
    v_sq = sen.sen_curve(s, m, s0=s0, qv0_sq=q2 * v0sq, lr_ratio=rho) ** 2 / q2
    H = sen.sen_H(v_sq, s, q2, m, lr_ratio=rho)
    H0 = sen.sen_H(v0sq, s0, q2, m, lr_ratio=rho)
    np.testing.assert_allclose(H, H0, rtol=1e-10, atol=1e-10 * np.max(np.abs(np.exp(s))))


def test_sen_H_matches_symbolic():
    f = sp.lambdify([alg.inner(S.v, S.v), S.s, Q, S.m, mdl.ETA_V, mdl.ETA_K], alg.scalarize(dyn.sen_H()))
    rng = np.random.default_rng(3)
    args = rng.uniform(0.1, 3, (6, 30))
    args[1] = rng.uniform(-3, 3, 30)
    np.testing.assert_allclose(sen.sen_H(args[0], args[1], args[2], args[3], args[4] / args[5]),
                               f(*args), rtol=RTOL)


def test_residuals():
    s, m, q = np.array([0.5, 2.0, 800.0]), 20.0, 1.5
    v = sen.sen_curve(s, m) / q
    np.testing.assert_allclose(sen.sen_residual(v, s, q, m), 0.0, atol=1e-9 * np.max(v * q))
    np.testing.assert_allclose(sen.sen_relative_residual(v, s, q, m), 0.0, atol=1e-12)
    # a point off the curve by 1%
    assert abs(sen.sen_relative_residual(1.01 * v[0], s[0], q, m) - 0.01) < 1e-12
    # finite at a score whose curve overflows float64
    assert sen.sen_relative_residual(1.0, 1e4, q, m) == -1.0
    assert np.isfinite(sen.sen_relative_residual(1e300, 1400.0, q, m))


@pytest.mark.parametrize("kwargs, field", [
    ({"m": 0.0}, "m"), ({"m": -2}, "m"), ({"lr_ratio": 0.0}, "lr_ratio"),
    ({"qv0_sq": -1.0}, "qv0_sq"), ({"s": np.nan}, "s"), ({"s": "x"}, "s"), ({"s0": np.inf}, "s0"),
])
def test_bad_input_names_the_field(kwargs, field):
    args = {"s": 1.0, "m": 20.0, **kwargs}
    s, m = args.pop("s"), args.pop("m")
    with pytest.raises(UsageError, match=field):
        sen.sen_curve(s, m, **args)


def test_bad_input_residual_and_H():
    with pytest.raises(UsageError, match="v_norm"):
        sen.sen_residual(-1.0, 1.0, 1.0, 20)
    with pytest.raises(UsageError, match="q_sq"):
        sen.sen_H(1.0, 1.0, -1.0, 20)
