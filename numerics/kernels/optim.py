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
* :func:`gd_key_rows` — plain gradient descent on the stored rows only (a step of a model with
  explicit keys on the fused path, :meth:`attndyn.numerics.model.attention.AttentionModel.step`):
  :math:`v_w \leftarrow v_w - \eta_v g_{v_w}`, :math:`k_w \leftarrow k_w - \eta_k (\partial L/\partial s_w)\,q`.
* :func:`adam_rows` — ``torch.optim.Adam(betas=(β₁, β₂), eps=ε)`` at step :math:`t`:
  :math:`m \leftarrow m + (1-\beta_1)(g - m)` (PyTorch's ``lerp``),
  :math:`v \leftarrow \beta_2 v + (1-\beta_2) g^2`,
  :math:`P \leftarrow P - \frac{\eta}{1-\beta_1^t}\,m \big/ \big(\sqrt{v}/\sqrt{1-\beta_2^t} + \varepsilon\big)`
  (ε outside the square root).  The caller passes ``step_size`` :math:`= \eta/(1-\beta_1^t)`
  and ``bc2_sqrt`` :math:`= \sqrt{1-\beta_2^t}`, computed in Python as PyTorch does.

Speed: rows are split into fixed chunks; a chunk whose rows all have a gradient row (a full
batch) is updated as one flat loop over its elements (contiguous in ``P``, the state and
``G``), which LLVM vectorises (``NUMBA_VECTOR_FLAGS``: IEEE division); a chunk with absent
words goes row by row.  Both paths do the same arithmetic per element, and rows are
independent, so the result does not depend on the thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from attndyn.proofs.settings import NUMBA_FLAGS, NUMBA_IEEE_FLAGS, NUMBA_VECTOR_FLAGS


@njit(**NUMBA_FLAGS)
def _covered(uw, r0, r1):
    """``(u0, full)``: the first gradient row at or after row ``r0``, and whether the gradient
    rows ``u0..u0 + (r1 - r0) - 1`` are exactly the rows ``r0..r1-1`` (``uw`` ascending, distinct)."""
    u0 = np.searchsorted(uw, r0)
    n = r1 - r0
    return u0, u0 + n <= uw.shape[0] and n > 0 and uw[u0 + n - 1] == r1 - 1


@njit(**NUMBA_IEEE_FLAGS)
def _momentum_flat(P, G, buf, k0, g0, n, lr, mu, nesterov):
    # slices indexed by the loop counter: no wrap-around index logic, so the loop vectorises
    Ps, Gs, Bs = P[k0:k0 + n], G[g0:g0 + n], buf[k0:k0 + n]
    if nesterov:
        for k in range(n):
            g = Gs[k]
            b = mu * Bs[k] + g
            Bs[k] = b
            Ps[k] -= lr * (g + mu * b)
    else:
        for k in range(n):
            b = mu * Bs[k] + Gs[k]
            Bs[k] = b
            Ps[k] -= lr * b


@njit(**NUMBA_VECTOR_FLAGS)
def momentum_rows(P, uw, G, buf, lr, mu, nesterov, chunk):
    r"""Heavy-ball / Nesterov step of every row of ``P`` (R x d) with velocity ``buf`` (R x d);
    ``G`` (>= U x d) holds the gradient rows of the words ``uw``, the other rows' gradient is 0."""
    R, d = P.shape
    U = uw.shape[0]
    Pf = P.reshape(-1)
    Bf = buf.reshape(-1)
    Gf = G.reshape(-1)
    nch = (R + chunk - 1) // chunk
    for ch in prange(nch):
        r0 = ch * chunk
        r1 = min(R, r0 + chunk)
        u, full = _covered(uw, r0, r1)
        if full:
            _momentum_flat(Pf, Gf, Bf, r0 * d, u * d, (r1 - r0) * d, lr, mu, nesterov)
            continue
        for r in range(r0, r1):
            has = u < U and uw[u] == r
            for j in range(d):
                g = G[u, j] if has else 0.0
                b = mu * buf[r, j] + g
                buf[r, j] = b
                if nesterov:
                    P[r, j] -= lr * (g + mu * b)
                else:
                    P[r, j] -= lr * b
            if has:
                u += 1


@njit(**NUMBA_FLAGS)
def gd_key_rows(emb, keys, q, uw, grad_v, grad_s, lr_v, lr_k):
    r"""One gradient-descent step of the rows of the words ``w = uw[x]`` from the stored gradients:
    :math:`v_w \mathrel{-}= \eta_v\,` ``grad_v[x]`` and :math:`k_w \mathrel{-}= \eta_k\,`
    ``grad_s[x]`` :math:`q` (:math:`\nabla_{k_w} L = (\partial L/\partial s_w)\,q`, the *old* q: the
    caller moves q afterwards), with the arithmetic of the in-place kernels
    (:func:`attndyn.numerics.kernels.keys.epoch_keys`); a rate 0 leaves its group untouched.  Other
    rows have gradient 0 and do not move.  Row-wise and serial: the same bits for any thread count."""
    d = emb.shape[1]
    dk = keys.shape[1]
    for x in range(uw.shape[0]):
        w = uw[x]
        if lr_v != 0.0:
            for j in range(d):
                emb[w, j] -= lr_v * grad_v[x, j]
        if lr_k != 0.0:
            ds = grad_s[x]
            for j in range(dk):
                keys[w, j] -= lr_k * ds * q[j]


@njit(**NUMBA_IEEE_FLAGS)
def _adam_flat(P, G, m, v, k0, g0, n, step_size, bc2_sqrt, w1, beta2, w2, eps):
    # slices indexed by the loop counter: no wrap-around index logic, so the loop vectorises
    Ps, Gs, Ms, Vs = P[k0:k0 + n], G[g0:g0 + n], m[k0:k0 + n], v[k0:k0 + n]
    for k in range(n):
        g = Gs[k]
        mk = Ms[k]
        mm = mk + w1 * (g - mk)
        vv = beta2 * Vs[k] + w2 * (g * g)
        Ms[k] = mm
        Vs[k] = vv
        Ps[k] += (-step_size * mm) / (np.sqrt(vv) / bc2_sqrt + eps)


@njit(**NUMBA_VECTOR_FLAGS)
def adam_rows(P, uw, G, m, v, step_size, bc2_sqrt, beta1, beta2, eps, chunk):
    r"""Adam step of every row of ``P`` (R x d) with moments ``m``, ``v`` (R x d); ``G`` as in
    :func:`momentum_rows`."""
    R, d = P.shape
    U = uw.shape[0]
    w1 = 1.0 - beta1
    w2 = 1.0 - beta2
    Pf = P.reshape(-1)
    Mf = m.reshape(-1)
    Vf = v.reshape(-1)
    Gf = G.reshape(-1)
    nch = (R + chunk - 1) // chunk
    for ch in prange(nch):
        r0 = ch * chunk
        r1 = min(R, r0 + chunk)
        u, full = _covered(uw, r0, r1)
        if full:
            _adam_flat(Pf, Gf, Mf, Vf, r0 * d, u * d, (r1 - r0) * d, step_size, bc2_sqrt, w1, beta2, w2, eps)
            continue
        for r in range(r0, r1):
            has = u < U and uw[u] == r
            for j in range(d):
                g = G[u, j] if has else 0.0
                mm = m[r, j] + w1 * (g - m[r, j])
                vv = beta2 * v[r, j] + w2 * (g * g)
                m[r, j] = mm
                v[r, j] = vv
                P[r, j] += (-step_size * mm) / (np.sqrt(vv) / bc2_sqrt + eps)
            if has:
                u += 1
