r"""numba kernels: the optimizer updates (momentum, Nesterov, Adam) over parameter rows.

The gradient kernels (numerics/kernels/scores.py, keys.py) write, in their store mode, the
gradient rows :math:`g_u = \partial L/\partial \theta_{w}` of the distinct words
:math:`w = uw[u]` of a batch (ascending); every other row's gradient is 0.  The kernels here
then update **every** row :math:`r` of a parameter array :math:`P` (R x d), as PyTorch's dense
optimizers do (a word absent from the mini-batch has gradient 0 and still moves with its
decayed state):

* :func:`momentum_rows` — ``torch.optim.SGD(momentum=μ, dampening=0, nesterov=...)``:
  :math:`b \leftarrow \mu b + g`, then :math:`P \leftarrow P - \eta\,b`
  (heavy ball) or :math:`P \leftarrow P - \eta\,(g + \mu b)` (Nesterov).  PyTorch's first
  step sets :math:`b = g`, which is :math:`\mu\cdot 0 + g` exactly.
* :func:`adam_rows` — ``torch.optim.Adam(betas=(β₁, β₂), eps=ε)`` at step :math:`t`:
  :math:`m \leftarrow m + (1-\beta_1)(g - m)` (PyTorch's ``lerp``),
  :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
  :math:`P \leftarrow P - \frac{\eta}{1-\beta_1^t}\,m \big/ \big(\sqrt{v}/\sqrt{1-\beta_2^t} + \varepsilon\big)`
  (ε outside the square root).  The caller passes ``step_size`` :math:`= \eta/(1-\beta_1^t)`
  and ``bc2_sqrt`` :math:`= \sqrt{1-\beta_2^t}`, computed in Python as PyTorch does.

A gradient row is ``G[u, j] * cs[j]`` when ``G`` has d columns, ``G[u, 0] * cs[j]`` when it
has one: the keys' gradient :math:`(\partial L/\partial s_w)\,q` is passed as the U scores'
gradients and ``cs`` = q, without a U x d_k array; other groups pass ``cs`` = 1 (exact).

Rows are independent and split into fixed chunks, so the result does not depend on the
thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from attndyn.proofs.settings import NUMBA_PARALLEL_FLAGS


@njit(**NUMBA_PARALLEL_FLAGS)
def momentum_rows(P, uw, G, cs, buf, lr, mu, nesterov, chunk):
    r"""Heavy-ball / Nesterov step of every row of ``P`` with velocity ``buf`` (same shape)."""
    R, d = P.shape
    U = uw.shape[0]
    bcast = G.shape[1] != d
    nch = (R + chunk - 1) // chunk
    for ch in prange(nch):
        r0 = ch * chunk
        r1 = min(R, r0 + chunk)
        u = np.searchsorted(uw, r0)
        for r in range(r0, r1):
            has = u < U and uw[u] == r
            for j in range(d):
                g = 0.0
                if has:
                    g = G[u, 0 if bcast else j] * cs[j]
                b = mu * buf[r, j] + g
                buf[r, j] = b
                if nesterov:
                    P[r, j] -= lr * (g + mu * b)
                else:
                    P[r, j] -= lr * b
            if has:
                u += 1


@njit(**NUMBA_PARALLEL_FLAGS)
def adam_rows(P, uw, G, cs, m, v, step_size, bc2_sqrt, beta1, beta2, eps, chunk):
    r"""Adam step of every row of ``P`` with first and second moments ``m``, ``v`` (same shape)."""
    R, d = P.shape
    U = uw.shape[0]
    bcast = G.shape[1] != d
    w1 = 1.0 - beta1
    w2 = 1.0 - beta2
    nch = (R + chunk - 1) // chunk
    for ch in prange(nch):
        r0 = ch * chunk
        r1 = min(R, r0 + chunk)
        u = np.searchsorted(uw, r0)
        for r in range(r0, r1):
            has = u < U and uw[u] == r
            for j in range(d):
                g = 0.0
                if has:
                    g = G[u, 0 if bcast else j] * cs[j]
                mm = m[r, j] + w1 * (g - m[r, j])
                vv = beta2 * v[r, j] + w2 * (g * g)
                m[r, j] = mm
                v[r, j] = vv
                P[r, j] += (-step_size * mm) / (np.sqrt(vv) / bc2_sqrt + eps)
            if has:
                u += 1
