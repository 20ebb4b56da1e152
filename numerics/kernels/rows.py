r"""numba helper on a row of d floats, for the K-wide kernels (:mod:`attndyn.numerics.kernels.lowrank`).

* :func:`row_dot`: :math:`x\cdot y = \sum_j x_j y_j` (the projection :math:`u_{wk} = (W^\top)_k\cdot v_w`).
  Compiled with ``NUMBA_ROW_REDUCTION_FLAGS`` (``proofs/settings.py``): the partial sums may be
  reassociated and each multiply-add fused, so that LLVM vectorises the sum.  A row is summed by one thread in one compiled
  order, so the kernels stay bitwise identical for any thread count; nothing here merges across
  chunks or threads.
"""
from __future__ import annotations

from numba import njit

from attndyn.proofs.settings import NUMBA_ROW_REDUCTION_FLAGS


@njit(**NUMBA_ROW_REDUCTION_FLAGS)
def row_dot(x, y):
    r""":math:`\sum_j x_j y_j` over one row (vectorised: partial sums in a compiled, fixed order)."""
    s = 0.0
    for j in range(x.shape[0]):
        s += x[j] * y[j]
    return s

