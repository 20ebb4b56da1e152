r"""The SEN (score / embedding-norm) quantities, evaluated in float64 with NumPy.

Derived and proved in :mod:`attndyn.proofs.claims.symbolic` (claims S2, S3): along the
gradient flow with the query fixed and the non-topic words frozen at score 0
and embedding 0, every topic word keeps

.. math::  H = |q|^2 |v|^2 - 2\frac{\eta_v}{\eta_k}\Big(s + \frac{e^{s}}{m}\Big)

constant, i.e. its scaled norm follows the closed-form curve

.. math::  |q|\,|v| = \sqrt{|q|^2|v_0|^2 + 2\frac{\eta_v}{\eta_k}
           \Big((s - s_0) + \frac{e^{s} - e^{s_0}}{m}\Big)},

which for :math:`\eta_v=\eta_k`, :math:`s_0 = 0`, :math:`v_0 = 0` is the paper's
:math:`|q||v| = \sqrt{2(s + (e^s - 1)/m)}`.

All functions are vectorised (NumPy broadcasting), float64, and never overflow
in an intermediate step: the curve is computed as
:math:`e^{M/2}\sqrt{Y}` with :math:`M = \max(s, s_0, 0)` and
:math:`Y = X e^{-M}` assembled from ``expm1`` terms, so :math:`e^{s}` is never
formed.  Results outside float64 are reported, not clipped:

* :func:`sen_log_curve` is finite for every finite score (use it for
  :math:`s \gtrsim 1418`, where the curve itself exceeds the float64 range and
  :func:`sen_curve` returns ``inf``);
* where the radicand is negative the score is unreachable from :math:`(s_0, v_0)`
  (the norm would be imaginary): the curve is ``nan`` there, no warning, no clipping.

Bad arguments raise :class:`~attndyn.proofs.errors.UsageError` naming the argument.
"""
from __future__ import annotations

import numpy as np

from attndyn.proofs.errors import UsageError

# exp(x) is finite in float64 for x <= 709.78; below this bound exp(M/2) is safe
_EXP_SAFE = 709.0


def _real(name: str, x, *, positive: bool = False, nonnegative: bool = False) -> np.ndarray:
    """``x`` as a finite float64 array, or a UsageError naming ``name``."""
    try:
        a = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: expected a real number or array of real numbers, got {x!r}") from None
    if not np.all(np.isfinite(a)):
        raise UsageError(f"{name}: expected finite values, got NaN or infinity")
    if positive and not np.all(a > 0):
        raise UsageError(f"{name}: expected values > 0, got minimum {a.min()!r}")
    if nonnegative and not np.all(a >= 0):
        raise UsageError(f"{name}: expected values >= 0, got minimum {a.min()!r}")
    return a


def _out(a: np.ndarray):
    """0-d results as Python floats, arrays as arrays."""
    return float(a) if a.ndim == 0 else a


def sen_H(v_sq, s, q_sq, m, lr_ratio=1.0):
    r"""The SEN first integral :math:`H = |q|^2|v|^2 - 2\frac{\eta_v}{\eta_k}(s + e^{s}/m)`.

    ``v_sq`` = :math:`|v|^2`, ``q_sq`` = :math:`|q|^2`, ``lr_ratio`` =
    :math:`\eta_v/\eta_k`.  Evaluated directly: :math:`e^s` overflows to ``-inf``
    for :math:`s > 709`; compare states there with :func:`sen_relative_residual`.
    """
    v_sq = _real("v_sq", v_sq, nonnegative=True)
    s = _real("s", s)
    q_sq = _real("q_sq", q_sq, nonnegative=True)
    m = _real("m", m, positive=True)
    rho = _real("lr_ratio", lr_ratio, positive=True)
    with np.errstate(over="ignore"):
        return _out(q_sq * v_sq - 2.0 * rho * (s + np.exp(s) / m))


def _scaled_radicand(s, m, s0, qv0_sq, rho):
    r"""``(Y, M)`` with :math:`X = e^{M} Y` the radicand of the curve, :math:`M = \max(s, s_0, 0)`.

    :math:`e^{-M}(e^{s} - e^{s_0}) = \operatorname{sign}(s-s_0)\,e^{h-M}(1 - e^{l-h})`
    with :math:`h = \max(s,s_0)`, :math:`l = \min(s,s_0)`: every exponent is <= 0.
    """
    M = np.maximum(np.maximum(s, s0), 0.0)
    hi, lo = np.maximum(s, s0), np.minimum(s, s0)
    exp_diff = -np.sign(s - s0) * np.exp(hi - M) * np.expm1(lo - hi)
    Y = (qv0_sq + 2.0 * rho * (s - s0)) * np.exp(-M) + (2.0 * rho / m) * exp_diff
    return Y, M


def _curve_args(s, m, s0, qv0_sq, lr_ratio):
    s = _real("s", s)
    m = _real("m", m, positive=True)
    s0 = _real("s0", s0)
    qv0_sq = _real("qv0_sq", qv0_sq, nonnegative=True)
    rho = _real("lr_ratio", lr_ratio, positive=True)
    return np.broadcast_arrays(s, m, s0, qv0_sq, rho)


def sen_log_curve(s, m, *, s0=0.0, qv0_sq=0.0, lr_ratio=1.0):
    r""":math:`\log(|q||v|)` on the SEN curve (see :func:`sen_curve`); finite for any finite score.

    ``-inf`` where the curve is 0 (:math:`s = s_0`, :math:`v_0 = 0`), ``nan`` where unreachable.
    """
    s, m, s0, qv0_sq, rho = _curve_args(s, m, s0, qv0_sq, lr_ratio)
    Y, M = _scaled_radicand(s, m, s0, qv0_sq, rho)
    with np.errstate(invalid="ignore", divide="ignore"):
        return _out(0.5 * (np.log(Y) + M))


def sen_curve(s, m, *, s0=0.0, qv0_sq=0.0, lr_ratio=1.0):
    r"""The scaled norm predicted by the SEN identity,

    .. math:: |q||v| = \sqrt{q_{v_0} + 2\rho\big((s - s_0) + (e^{s} - e^{s_0})/m\big)},

    with ``qv0_sq`` :math:`= q_{v_0} = |q|^2|v_0|^2` and ``lr_ratio`` :math:`=\rho=\eta_v/\eta_k`.
    The paper's curve is the default: ``sen_curve(s, m)`` :math:`=\sqrt{2(s + (e^s-1)/m)}`.
    ``inf`` only where the value exceeds float64 (:math:`s \gtrsim 1418`; see
    :func:`sen_log_curve`), ``nan`` where the radicand is negative (unreachable score).
    """
    s, m, s0, qv0_sq, rho = _curve_args(s, m, s0, qv0_sq, lr_ratio)
    Y, M = _scaled_radicand(s, m, s0, qv0_sq, rho)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        direct = np.sqrt(Y) * np.exp(np.minimum(M, 2 * _EXP_SAFE) / 2)
        via_log = np.exp(0.5 * (np.log(Y) + M))
        out = np.where(M <= 2 * _EXP_SAFE, direct, via_log)
    return _out(out)


def sen_residual(v_norm, s, q_norm, m, *, s0=0.0, v0_norm=0.0, lr_ratio=1.0):
    r"""Distance from the SEN curve: :math:`|q||v| - \text{curve}(s)` with
    :math:`q_{v_0} = |q|^2|v_0|^2` (a fixed query :math:`q`); see :func:`sen_curve`."""
    v_norm = _real("v_norm", v_norm, nonnegative=True)
    q_norm = _real("q_norm", q_norm, nonnegative=True)
    v0_norm = _real("v0_norm", v0_norm, nonnegative=True)
    curve = np.asarray(sen_curve(s, m, s0=s0, qv0_sq=(q_norm * v0_norm) ** 2, lr_ratio=lr_ratio))
    return _out(q_norm * v_norm - curve)


def sen_relative_residual(v_norm, s, q_norm, m, *, s0=0.0, v0_norm=0.0, lr_ratio=1.0):
    r""":math:`|q||v|/\text{curve}(s) - 1`, computed in log space: finite for any finite score.

    ``-1`` when :math:`|q||v| = 0` and the curve is not; ``inf`` when the curve is 0
    and :math:`|q||v|` is not; ``nan`` where both are 0 or the score is unreachable.
    """
    v_norm = _real("v_norm", v_norm, nonnegative=True)
    q_norm = _real("q_norm", q_norm, nonnegative=True)
    v0_norm = _real("v0_norm", v0_norm, nonnegative=True)
    log_curve = np.asarray(sen_log_curve(s, m, s0=s0, qv0_sq=(q_norm * v0_norm) ** 2, lr_ratio=lr_ratio))
    with np.errstate(divide="ignore", invalid="ignore"):
        return _out(np.expm1(np.log(q_norm * v_norm) - log_curve))
