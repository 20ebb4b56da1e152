r"""numba kernels: the classifier of one sentence's context vector, forward and backward.

For a context vector :math:`c` (length d_e) and label :math:`y` the logits are

* ``LINEAR`` (the paper's FC and TC): :math:`z = W^\top c (+ b)`, ``W`` of shape (d_e, K), the
  bias ``b`` (K) present when θ is longer than d_e K (the authors' TC is a PyTorch ``nn.Linear``);
* ``TWO_LAYER`` (TL): :math:`z = W_2^\top \max(0, W_1^\top c + b_1) + b_2`, hidden width H;

the loss is :math:`\ell = \log\sum_k e^{z_k} - z_y` (in :func:`chunk_loss_and_backward`, for a block of
sentences at once: exponentials by :func:`attndyn.numerics.kernels.vexp.exp_nonpos` in loops across
the block, and one log of the product of the partition sums) and, with the batch weight
:math:`\omega` (1/n for the mean over n sentences),
:math:`\partial(\omega\ell)/\partial z = \omega(\operatorname{softmax}(z) - e_y)`,
back-propagated to :math:`g = \partial(\omega\ell)/\partial c` (the paper's
classifier gradient at the context vector) and to the classifier's parameters.
The same math as :mod:`attndyn.numerics.model.classifiers`, the reference these are tested against.

The parameters travel as one flat vector :math:`\theta` (row-major blocks, see
:func:`attndyn.numerics.model.spec.layout`): ``W`` for linear; ``W1, b1, W2, b2`` for TL.  Accumulators are
float64 whatever the storage dtype.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from attndyn.numerics.model.spec import LINEAR, TWO_LAYER
from attndyn.numerics.kernels.vexp import exp_nonpos
from attndyn.proofs.settings import NUMBA_FLAGS, NUMBA_IEEE_FLAGS


@njit(**NUMBA_FLAGS)
def logits(kind, c, theta, K, H, z, pre):
    """Fill ``z`` with the logits of context ``c`` (and ``pre`` with TL's pre-activations)."""
    d = c.shape[0]
    if kind == LINEAR:
        with_bias = theta.shape[0] > d * K  # layout W then b (numerics/model/spec.layout)
        for k in range(K):
            z[k] = theta[d * K + k] if with_bias else 0.0
        for j in range(d):  # row by row: K independent sums instead of K serial chains
            cj = c[j]
            row = j * K
            for k in range(K):
                z[k] += cj * theta[row + k]
    else:
        ob1 = d * H
        oW2 = ob1 + H
        ob2 = oW2 + H * K
        for h in range(H):
            acc = 1.0 * theta[ob1 + h]
            for j in range(d):
                acc += c[j] * theta[j * H + h]
            pre[h] = acc
        for k in range(K):
            acc = 1.0 * theta[ob2 + k]
            for h in range(H):
                if pre[h] > 0.0:
                    acc += pre[h] * theta[oW2 + h * K + k]
            z[k] = acc


@njit(**NUMBA_FLAGS)
def dot(x, y):
    """sum_b x[b] y[b] with four partial sums (a fixed order: deterministic, shorter chains)."""
    n = x.shape[0]
    a0 = 0.0
    a1 = 0.0
    a2 = 0.0
    a3 = 0.0
    b = 0
    while b + 3 < n:
        a0 += x[b] * y[b]
        a1 += x[b + 1] * y[b + 1]
        a2 += x[b + 2] * y[b + 2]
        a3 += x[b + 3] * y[b + 3]
        b += 4
    while b < n:
        a0 += x[b] * y[b]
        b += 1
    return (a0 + a1) + (a2 + a3)


@njit(**NUMBA_FLAGS)
def dots_into(x, Y, R, out, base, stride):
    r"""``out[base + r*stride] += dot(x, Y[r, :n])`` for r < R (n = len(x)), bitwise as :func:`dot`.

    Four rows per sweep over ``x``: 16 independent partial sums instead of 4, so the adds are no
    longer bound by one dot's four dependency chains (TL's classifier gradients, issue 13); each row
    keeps :func:`dot`'s partial sums, order and final ``(a0 + a1) + (a2 + a3)``."""
    n = x.shape[0]
    r = 0
    while r + 3 < R:
        a0 = a1 = a2 = a3 = 0.0
        b0 = b1 = b2 = b3 = 0.0
        c0 = c1 = c2 = c3 = 0.0
        e0 = e1 = e2 = e3 = 0.0
        b = 0
        while b + 3 < n:
            x0 = x[b]
            x1 = x[b + 1]
            x2 = x[b + 2]
            x3 = x[b + 3]
            a0 += x0 * Y[r, b]
            a1 += x1 * Y[r, b + 1]
            a2 += x2 * Y[r, b + 2]
            a3 += x3 * Y[r, b + 3]
            b0 += x0 * Y[r + 1, b]
            b1 += x1 * Y[r + 1, b + 1]
            b2 += x2 * Y[r + 1, b + 2]
            b3 += x3 * Y[r + 1, b + 3]
            c0 += x0 * Y[r + 2, b]
            c1 += x1 * Y[r + 2, b + 1]
            c2 += x2 * Y[r + 2, b + 2]
            c3 += x3 * Y[r + 2, b + 3]
            e0 += x0 * Y[r + 3, b]
            e1 += x1 * Y[r + 3, b + 1]
            e2 += x2 * Y[r + 3, b + 2]
            e3 += x3 * Y[r + 3, b + 3]
            b += 4
        while b < n:  # dot's tail goes to its first partial sum
            a0 += x[b] * Y[r, b]
            b0 += x[b] * Y[r + 1, b]
            c0 += x[b] * Y[r + 2, b]
            e0 += x[b] * Y[r + 3, b]
            b += 1
        out[base + r * stride] += (a0 + a1) + (a2 + a3)
        out[base + (r + 1) * stride] += (b0 + b1) + (b2 + b3)
        out[base + (r + 2) * stride] += (c0 + c1) + (c2 + c3)
        out[base + (r + 3) * stride] += (e0 + e1) + (e2 + e3)
        r += 4
    while r < R:
        out[base + r * stride] += dot(x, Y[r, :n])
        r += 1


@njit(**NUMBA_FLAGS)
def sums_into(Y, R, B, out, base):
    r"""``out[base + r] += \sum_{b<B} Y[r, b]`` for r < R, each a serial sum in ascending b (bitwise the
    one-row loop); four rows per sweep, so four independent chains run at once."""
    r = 0
    while r + 3 < R:
        a0 = a1 = a2 = a3 = 0.0
        for b in range(B):
            a0 += Y[r, b]
            a1 += Y[r + 1, b]
            a2 += Y[r + 2, b]
            a3 += Y[r + 3, b]
        out[base + r] += a0
        out[base + r + 1] += a1
        out[base + r + 2] += a2
        out[base + r + 3] += a3
        r += 4
    while r < R:
        acc = 0.0
        for b in range(B):
            acc += Y[r, b]
        out[base + r] += acc
        r += 1


@njit(**NUMBA_IEEE_FLAGS)
def chunk_loss_and_backward(kind, Ct, labels, weight, theta, K, H, Zt, Pre, dH, Gt,
                            grads_on, dtheta):
    r"""The classifier on a block of B context vectors at once (columns of ``Ct``, d x B).

    Returns :math:`\sum_b \ell_b`; writes :math:`g_b = \omega\,\partial\ell_b/\partial c_b` into
    the columns of ``Gt`` (d x B) and, when ``grads_on``, adds
    :math:`\omega\sum_b\partial\ell_b/\partial\theta` to ``dtheta``.  ``Zt`` (K x B), ``Pre`` and
    ``dH`` (H x B) are scratch.  Loops run with the block index innermost, so the
    tiny d, K, H loops do not dominate.
    """
    d = Ct.shape[0]
    B = labels.shape[0]
    Zt[:, :B] = 0.0
    with_bias = kind == LINEAR and theta.shape[0] > d * K  # the linear classifier's bias b (K)
    if kind == LINEAR:
        if with_bias:
            for k in range(K):
                bias = 1.0 * theta[d * K + k]
                for b in range(B):
                    Zt[k, b] = bias
        for j in range(d):
            for k in range(K):
                w = theta[j * K + k]
                for b in range(B):
                    Zt[k, b] += w * Ct[j, b]
    else:
        ob1 = d * H
        oW2 = ob1 + H
        ob2 = oW2 + H * K
        for h in range(H):
            bias = 1.0 * theta[ob1 + h]
            for b in range(B):
                Pre[h, b] = bias
        for j in range(d):
            for h in range(H):
                w = theta[j * H + h]
                for b in range(B):
                    Pre[h, b] += w * Ct[j, b]
        for h in range(H):  # Pre becomes the activation max(0, pre); dH marks pre > 0
            for b in range(B):  # selects, not branches: the signs are random, a branch mispredicts half the time
                p = Pre[h, b]
                pos = p > 0.0  # False for NaN, as the branch was: activation 0, mark 0
                dH[h, b] = 1.0 if pos else 0.0
                Pre[h, b] = p if pos else 0.0
        for k in range(K):
            bias = 1.0 * theta[ob2 + k]
            for b in range(B):
                Zt[k, b] = bias
        for h in range(H):
            for k in range(K):
                w = theta[oW2 + h * K + k]
                for b in range(B):
                    Zt[k, b] += w * Pre[h, b]
    # softmax cross-entropy across the block (sentence innermost, exp_nonpos: SIMD code, as
    # fused.softmax_block); Zt becomes omega (softmax - e_y).  The loss sums max - z_y, plus the log of
    # the product of the partition sums, taken whenever the product passes 1e280 (each factor lies in
    # [1, K], so it never overflows for K < 1e28): one log per block instead of one per sentence
    wk = np.empty((3, B))
    zmax, tot, acc = wk[0], wk[1], wk[2]
    for b in range(B):
        zmax[b] = Zt[0, b]
        tot[b] = 0.0
    for k in range(1, K):
        for b in range(B):
            t = Zt[k, b]
            zmax[b] = t if t > zmax[b] else zmax[b]
    total = 0.0
    for b in range(B):  # sentence order
        total += zmax[b] - Zt[labels[b], b]
    for k in range(K):  # one exp per class
        for b in range(B):
            e = exp_nonpos(Zt[k, b] - zmax[b])
            Zt[k, b] = e
            tot[b] += e
    prod = 1.0
    for b in range(B):
        prod *= tot[b]
        tot[b] = weight / tot[b]
        if prod > 1e280:
            total += np.log(prod)
            prod = 1.0
    total += np.log(prod)
    for k in range(K):
        for b in range(B):
            Zt[k, b] = Zt[k, b] * tot[b] - (weight if labels[b] == k else 0.0)
    Gt[:, :B] = 0.0
    if kind == LINEAR:
        for j in range(d):
            for k in range(K):
                w = theta[j * K + k]
                for b in range(B):
                    Gt[j, b] += w * Zt[k, b]
        if grads_on:
            for j in range(d):
                for k in range(K):
                    dtheta[j * K + k] += dot(Ct[j, :B], Zt[k, :B])
            if with_bias:  # dL/db_k = omega sum_b (softmax - e_y)_k
                for k in range(K):
                    acc = 0.0
                    for b in range(B):
                        acc += Zt[k, b]
                    dtheta[d * K + k] += acc
    else:
        for h in range(H):  # dH = (pre > 0) * W2 dZ
            for b in range(B):
                acc[b] = 0.0
            for k in range(K):  # class by class across the block (SIMD code); each sum in class order
                w = theta[oW2 + h * K + k]
                for b in range(B):
                    acc[b] += w * Zt[k, b]
            for b in range(B):  # the sum for every b, then a select (no branch): same value where pre > 0
                dH[h, b] = acc[b] if dH[h, b] != 0.0 else 0.0
        for j in range(d):
            for h in range(H):
                w = theta[j * H + h]
                for b in range(B):
                    Gt[j, b] += w * dH[h, b]
        if grads_on:  # each entry the same sum in the same order as one dot / one serial sum per entry
            for h in range(H):
                dots_into(Pre[h, :B], Zt, K, dtheta, oW2 + h * K, 1)  # dW2[h, k] = sum_b act[h, b] dZ[k, b]
                dots_into(dH[h, :B], Ct, d, dtheta, h, H)  # dW1[j, h] = sum_b c[j, b] dH[h, b]
            sums_into(dH, H, B, dtheta, ob1)  # db1
            sums_into(Zt, K, B, dtheta, ob2)  # db2
    return total


@njit(**NUMBA_FLAGS)
def predict(kind, c, theta, K, H, z, pre, y):
    """Return (loss, argmax of the logits) for context ``c`` and label ``y``."""
    logits(kind, c, theta, K, H, z, pre)
    return loss_and_argmax(z, K, y)


@njit(**NUMBA_FLAGS)
def loss_and_argmax(z, K, y):
    r"""Cross-entropy :math:`\log\sum_k e^{z_k} - z_y` of the logits ``z[:K]`` and their argmax (first
    on ties)."""
    best = 0
    zmax = z[0]
    for k in range(1, K):
        if z[k] > zmax:
            zmax = z[k]
            best = k
    tot = 0.0
    for k in range(K):
        tot += np.exp(z[k] - zmax)
    return zmax + np.log(tot) - z[y], best
