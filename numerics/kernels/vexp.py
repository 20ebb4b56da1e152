r"""numba helper: :math:`e^x` for the softmax's arguments :math:`x \le 0`, in code LLVM can vectorise.

libm's ``exp`` is an opaque call: a loop that calls it runs one element at a time, and at the
paper's size the fused sentence pass spent about a third of its time in ``exp`` and ``log`` calls
(issue 13, ``perf``).  :func:`exp_nonpos` is plain arithmetic instead (Cody-Waite reduction and a
polynomial), so a loop over a block of sentences becomes SIMD code:

.. math::
    x = n\ln 2 + r,\quad n = \lfloor x\log_2 e + \tfrac12\rfloor,\ |r| \le \tfrac12\ln 2,\qquad
    e^x = 2^n \sum_{j=0}^{13} \frac{r^j}{j!}

with :math:`\ln 2` split in two (``LN2_HI`` has trailing zero bits, so :math:`n\,` ``LN2_HI`` is
exact for :math:`|n| < 2^{11}`), the sum in Horner form, and :math:`2^n` built from its exponent
bits (:func:`attndyn.numerics.kernels.simd.as_float64`).  The truncated series errs by :math:`r^{14}/14! < 10^{-17}` relative.
Measured once against a 120-bit reference (mpmath, 2·10⁴ points): within 1 ulp of the correctly
rounded value, as libm's ``exp`` is; ``tests/test_vexp.py`` checks 1 ulp against ``np.exp`` on
2.2·10⁵ points and the domain's edges, and bit equality with a NumPy twin of the algorithm.

**Domain.** :math:`-708 \le x \le 0` (the result is then a normal float64 and :math:`2^n` a valid
exponent); :math:`x < -708` gives 0 (true value below :math:`3.3\cdot 10^{-308}`, added to a sum of
at least 1 in the softmax), NaN gives NaN and :math:`-\infty` gives 0.  :math:`e^0 = 1` exactly,
as libm's.  Positive :math:`x` is outside the contract (the callers subtract the maximum).
Deterministic: the same bits on every run and thread count; compiled without fastmath.
"""
from __future__ import annotations

import math

import numpy as np
from numba import njit

from attndyn.numerics.kernels.simd import as_float64
from attndyn.proofs.settings import NUMBA_FLAGS


LOG2E = 1.4426950408889634  # log2(e)
LN2_HI = 6.93147180369123816490e-01  # ln 2 = LN2_HI + LN2_LO; LN2_HI's low 32 bits are zero (fdlibm)
LN2_LO = 1.90821492927058770002e-10
X_MIN = -708.0  # below: e^x is subnormal (or 0); the result is 0
# 1/j! for j = 2..13, the Horner coefficients (j = 0, 1 are 1)
C2, C3, C4, C5, C6, C7, C8, C9, C10, C11, C12, C13 = (1.0 / math.factorial(j) for j in range(2, 14))


@njit(inline="always", **NUMBA_FLAGS)
def exp_nonpos(x):
    r""":math:`e^x` for :math:`x \le 0` (module docstring: domain, accuracy); vectorisable."""
    xc = x if x >= X_MIN else X_MIN  # NaN and x < X_MIN: a valid exponent below, result replaced at the end
    n = math.floor(xc * LOG2E + 0.5)
    r = (xc - n * LN2_HI) - n * LN2_LO
    p = C13
    p = p * r + C12
    p = p * r + C11
    p = p * r + C10
    p = p * r + C9
    p = p * r + C8
    p = p * r + C7
    p = p * r + C6
    p = p * r + C5
    p = p * r + C4
    p = p * r + C3
    p = p * r + C2
    p = p * r + 1.0
    p = p * r + 1.0
    y = p * as_float64((np.int64(n) + 1023) << 52)  # times 2^n: n + 1023 in the exponent bits
    return y if x >= X_MIN else (0.0 if x == x else x)  # x < X_MIN (and -inf): 0; NaN stays NaN
