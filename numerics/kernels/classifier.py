r"""numba kernels: the classifier of one sentence's context vector, forward and backward.

For a context vector :math:`c` (length d_e) and label :math:`y` the logits are

* ``LINEAR`` (the paper's FC and TC): :math:`z = W^\top c (+ b)`, ``W`` of shape (d_e, K), the
  bias ``b`` (K) present when θ is longer than d_e K (the authors' TC is a PyTorch ``nn.Linear``);
* ``TWO_LAYER`` (TL): :math:`z = W_2^\top \max(0, W_1^\top c + b_1) + b_2`, hidden width H;

the loss is :math:`\ell = \log\sum_k e^{z_k} - z_y` and, with the batch weight
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
from attndyn.proofs.settings import NUMBA_FLAGS


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
            for b in range(B):
                if Pre[h, b] > 0.0:
                    dH[h, b] = 1.0
                else:
                    dH[h, b] = 0.0
                    Pre[h, b] = 0.0
        for k in range(K):
            bias = 1.0 * theta[ob2 + k]
            for b in range(B):
                Zt[k, b] = bias
        for h in range(H):
            for k in range(K):
                w = theta[oW2 + h * K + k]
                for b in range(B):
                    Zt[k, b] += w * Pre[h, b]
    # softmax cross-entropy, one column at a time; Zt becomes omega (softmax - e_y)
    total = 0.0
    for b in range(B):
        y = labels[b]
        zmax = Zt[0, b]
        for k in range(1, K):
            if Zt[k, b] > zmax:
                zmax = Zt[k, b]
        zy = Zt[y, b]
        tot = 0.0
        for k in range(K):  # one exp per class
            e = np.exp(Zt[k, b] - zmax)
            Zt[k, b] = e
            tot += e
        total += zmax + np.log(tot) - zy
        scale = weight / tot
        for k in range(K):
            Zt[k, b] *= scale
        Zt[y, b] -= weight
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
                if dH[h, b] != 0.0:
                    acc = 0.0
                    for k in range(K):
                        acc += theta[oW2 + h * K + k] * Zt[k, b]
                    dH[h, b] = acc
        for j in range(d):
            for h in range(H):
                w = theta[j * H + h]
                for b in range(B):
                    Gt[j, b] += w * dH[h, b]
        if grads_on:
            for h in range(H):
                for k in range(K):
                    dtheta[oW2 + h * K + k] += dot(Pre[h, :B], Zt[k, :B])
                acc = 0.0
                for b in range(B):
                    acc += dH[h, b]
                dtheta[ob1 + h] += acc
                for j in range(d):
                    dtheta[j * H + h] += dot(Ct[j, :B], dH[h, :B])
            for k in range(K):
                acc = 0.0
                for b in range(B):
                    acc += Zt[k, b]
                dtheta[ob2 + k] += acc
    return total


@njit(**NUMBA_FLAGS)
def predict(kind, c, theta, K, H, z, pre, y):
    """Return (loss, argmax of the logits) for context ``c`` and label ``y``."""
    logits(kind, c, theta, K, H, z, pre)
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
