r"""Calibration flows with published law counts (Marcotte, Gribonval & Peyré, NeurIPS 2023).

* Two-layer linear network :math:`\varphi(U,V)=UV^\top`, :math:`U\in\mathbb R^{n\times r}`,
  :math:`V\in\mathbb R^{m\times r}`: the laws are the entries of
  :math:`U^\top U-V^\top V`, :math:`r(r+1)/2` of them, and there are no others.
* Two-layer ReLU network (no bias): on a region of fixed activation pattern the
  loss depends on the per-neuron rank-one matrices
  :math:`\varphi=(u_jv_j^\top)_{j\le r}`; one law per hidden neuron,
  :math:`|u_j|^2-|v_j|^2`.

These flows are polynomial (no exponentials), so the engine runs on them
unchanged.
"""
from __future__ import annotations

import sympy as sp

from ..errors import UsageError
from .problem import FlowProblem


def _check(**sizes):
    for k, v in sizes.items():
        if not isinstance(v, int) or isinstance(v, bool) or v < 1:
            raise UsageError(f"{k}: expected an integer >= 1, got {v!r}")


def linear_net(n: int, m: int, r: int) -> FlowProblem:
    """phi = U V^T with U n x r, V m x r; expected r(r+1)/2 laws."""
    _check(n=n, m=m, r=r)
    U = sp.Matrix(n, r, lambda i, j: sp.Symbol(f"U_{i + 1}{j + 1}", real=True))
    V = sp.Matrix(m, r, lambda i, j: sp.Symbol(f"V_{i + 1}{j + 1}", real=True))
    params = list(U) + list(V)
    P = U * V.T
    return FlowProblem.make(f"linear-net n={n} m={m} r={r}", params, [1] * len(params), {},
                            lambda E: ((), [sp.expand(x) for x in P]), groups=(("U", tuple(U)), ("V", tuple(V))))


def relu_net(n: int, m: int, r: int) -> FlowProblem:
    """phi = (u_j v_j^T)_j per hidden neuron; expected r laws |u_j|^2 - |v_j|^2."""
    _check(n=n, m=m, r=r)
    U = sp.Matrix(n, r, lambda i, j: sp.Symbol(f"U_{i + 1}{j + 1}", real=True))
    V = sp.Matrix(m, r, lambda i, j: sp.Symbol(f"V_{i + 1}{j + 1}", real=True))
    params = list(U) + list(V)
    phi = [U[a, j] * V[b, j] for j in range(r) for a in range(n) for b in range(m)]
    return FlowProblem.make(f"relu-net n={n} m={m} r={r}", params, [1] * len(params), {},
                            lambda E: ((), phi), groups=(("U", tuple(U)), ("V", tuple(V))))


def expected_count(kind: str, n: int, m: int, r: int) -> int:
    """The published count: r(r+1)/2 (linear), r (ReLU)."""
    return r * (r + 1) // 2 if kind == "linear" else r
