r"""numba kernels: one fused gradient-descent step for a linear classifier with a fixed query.

The model is that of :mod:`attndyn.numerics.kernels.scores` and the K-wide algebra that of
:mod:`attndyn.numerics.kernels.lowrank` (read both docstrings first): logits
:math:`z_i = W^\top c_i (+ b)`, :math:`u_w = W^\top v_w`, shared exponentials
:math:`e_w = e^{s_w - M}`, :math:`M = \max_w s_w`, :math:`\tilde Z_i = \sum_{w\in S_i} e_w`.
Issue 13: at the paper's size (n = 4000 sentences of 21 words, V = 5008, d_e = 10, K = 4)
lowrank.py's second pass *gathers* each word's per-sentence rows through the occurrence ->
sentence index (random reads).  Here the sentence pass *scatters* them instead, while the
sentence's word rows are still in L1:

* **Prepare** (serial, per distinct word): :math:`M`, then the row ``u[w]`` =
  :math:`(u_w, e_w)` = :math:`(W^\top v_w,\ e^{s_w - M})` (old :math:`W`, :math:`v_w`, :math:`s_w`).
* **Sentence pass** (per sentence group): :math:`z_i = \sum_{w\in S_i} e_w u_w/\tilde Z_i (+ b)`,
  :math:`\ell_i = \log\sum_k e^{z_{ik}} - z_{iy_i}`,
  :math:`\delta_i = \omega(\operatorname{softmax}(z_i) - e_{y_i})`,
  :math:`d_i = \delta_i/\tilde Z_i`, :math:`r_i = (z_i - b)\cdot\delta_i/\tilde Z_i`, then for every
  occurrence :math:`(i, w)`: :math:`A_g[w] \mathrel{+}= (d_i, r_i)`;
  :math:`\partial L/\partial b = \sum_i \delta_i`.
* **Word pass** (per distinct word, fixed word chunks): :math:`(D_w, R_w) = e_w\sum_g A_g[w]`
  (groups in order), then, as in lowrank.py,

  .. math::
      \frac{\partial L}{\partial v_w} = W D_w,\qquad
      \frac{\partial L}{\partial s_w} = u_w\cdot D_w - R_w,\qquad
      \frac{\partial L}{\partial W} = \sum_w v_w D_w^\top

  (the last with the *old* :math:`v_w`), and the updates :math:`v_w \mathrel{-}= \eta_v\,\partial
  L/\partial v_w`, :math:`s_w \mathrel{-}= \eta_s\,\partial L/\partial s_w` in place; finally
  :math:`\theta \mathrel{-}= \eta_c\,\partial L/\partial\theta` (:math:`W` and :math:`b`).

**Narrow on purpose.**  Only plain gradient descent (no stored gradient rows for an optimizer),
a fixed query (scores kept, no explicit keys) and the shared exponentials: when some
:math:`\tilde Z_i <` ``floor`` the kernel returns before touching a parameter and the caller
redoes the step with lowrank.py (per-sentence shifts).  numerics/model/attention.py decides.

**Determinism.**  The sentences are split into ``KERNEL.fused_groups`` fixed contiguous groups,
each scattering into its own V x (K + 1) accumulator :math:`A_g`, summed in group order; the
word pass uses ``KERNEL.word_chunk`` chunks with per-chunk :math:`\partial L/\partial W` buffers
merged in chunk order.  Neither depends on the thread count, and the serial and the parallel
drivers run the same arithmetic: bitwise identical for 1 or 2 threads.  The summation order
differs from lowrank.py's (scatter vs gather), so the two agree to rounding.

**Serial or parallel.**  :func:`epoch_fused` takes ``parallel``: the caller passes True only with
more than one numba thread.  One thread runs no parallel region at all (a region costs a
thread wake-up under ``OMP_WAIT_POLICY=PASSIVE``, numerics/parallel.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from attndyn.numerics.kernels.lowrank import dot8, transposed_w
# numba's cache (cache=True) stamps this file only: after editing lowrank.py's helpers, touch this file.
from attndyn.proofs.settings import NUMBA_FLAGS, NUMBA_PARALLEL_FLAGS


@njit(**NUMBA_FLAGS)
def prepare(uw, scores, emb, theta, u):
    r"""Return :math:`M = \max_{w\in uw} s_w` and write ``u[w]`` = :math:`(W^\top v_w, e^{s_w - M})`."""
    d = emb.shape[1]
    K = u.shape[1] - 1
    M = -np.inf
    for x in range(uw.shape[0]):
        s = scores[uw[x]]
        if s > M or s != s:
            M = s
    Wt = transposed_w(theta, d, K)
    for x in range(uw.shape[0]):
        w = uw[x]
        u[w, K] = np.exp(scores[w] - M)
        for k in range(K):
            u[w, k] = dot8(emb[w], Wt[k])
    return M


@njit(**NUMBA_FLAGS)
def sentence_group(g, sents, uw, u, theta, d, floor, acc, loss_g, bad_g, db_g):
    r"""Group ``g`` of ``acc.shape[0]`` (sentences ``g n/G .. (g+1) n/G - 1``): zeroes
    :math:`A_g` on the rows ``uw``, then per sentence the logits, loss and :math:`\delta_i`, and
    scatters :math:`(d_i, r_i)` into :math:`A_g` (module docstring).  Writes the group's loss sum
    to ``loss_g[g]``, the number of partitions below ``floor`` to ``bad_g[g]`` and
    :math:`\sum_i\delta_i` to ``db_g[g]``."""
    word_ids, offsets, labels, weight = sents
    G = acc.shape[0]
    K = u.shape[1] - 1
    n = labels.shape[0]
    with_bias = theta.shape[0] > d * K  # layout W then b (numerics/model/spec.layout)
    A = acc[g]
    for x in range(uw.shape[0]):
        w = uw[x]
        for k in range(K + 1):
            A[w, k] = 0.0
    for k in range(K):
        db_g[g, k] = 0.0
    z = np.empty(K)
    zb = np.empty(K)
    dd = np.empty(K + 1)
    bad = 0
    total = 0.0
    for i in range(g * n // G, (g + 1) * n // G):
        o0 = offsets[i]
        o1 = offsets[i + 1]
        for k in range(K):
            z[k] = 0.0
        Z = 0.0
        o = o0
        while o + 1 < o1:  # two occurrences per update: halves the dependency chain on z
            w0 = word_ids[o]
            w1 = word_ids[o + 1]
            e0 = u[w0, K]
            e1 = u[w1, K]
            Z += e0 + e1
            for k in range(K):
                z[k] += e0 * u[w0, k] + e1 * u[w1, k]
            o += 2
        if o < o1:
            w0 = word_ids[o]
            e0 = u[w0, K]
            Z += e0
            for k in range(K):
                z[k] += e0 * u[w0, k]
        if not Z >= floor:  # the caller redoes the whole step with per-sentence shifts
            bad += 1
            continue
        iz = 1.0 / Z
        for k in range(K):  # z <- W^T c_i; zb <- the logits W^T c_i + b
            z[k] *= iz
            zb[k] = z[k] + (theta[d * K + k] if with_bias else 0.0)
        y = labels[i]
        zy = zb[y]
        zmax = zb[0]
        for k in range(1, K):
            if zb[k] > zmax:
                zmax = zb[k]
        tot = 0.0
        for k in range(K):  # one exp per class; zb becomes exp(z - zmax)
            e = np.exp(zb[k] - zmax)
            zb[k] = e
            tot += e
        total += zmax + np.log(tot) - zy
        scale = weight / tot
        rr = 0.0
        for k in range(K):  # delta = omega (softmax - e_y); d_i = delta / Z~_i
            dk = zb[k] * scale
            if k == y:
                dk -= weight
            db_g[g, k] += dk
            rr += z[k] * dk
            dd[k] = dk * iz
        dd[K] = rr * iz
        for o in range(o0, o1):  # scatter while the sentence's rows are in L1
            w = word_ids[o]
            for k in range(K + 1):
                A[w, k] += dd[k]
    loss_g[g] = total
    bad_g[g] = bad


@njit(**NUMBA_FLAGS)
def word_chunk(c, chunk, uw, scores, emb, u, acc, Wt, lr_v, lr_s, grads_on, dW_c):
    r"""Words ``uw[c chunk .. (c+1) chunk - 1]``: :math:`D_w, R_w`, the gradients and the in-place
    updates of :math:`v_w, s_w`; adds :math:`v_w D_w^\top` (old :math:`v_w`) to ``dW_c[c]``
    (transposed, K x d) when ``grads_on``."""
    G = acc.shape[0]
    K = u.shape[1] - 1
    d = emb.shape[1]
    Dw = np.empty(K + 1)
    dv = np.empty(d)
    if grads_on:
        for k in range(K):
            for j in range(d):
                dW_c[c, k, j] = 0.0
    for x in range(c * chunk, min(uw.shape[0], (c + 1) * chunk)):
        w = uw[x]
        e_w = u[w, K]
        for k in range(K + 1):
            t = acc[0, w, k]
            for g in range(1, G):  # groups in order: the sum never depends on the threads
                t += acc[g, w, k]
            Dw[k] = t * e_w
        uD = 0.0
        for k in range(K):
            uD += u[w, k] * Dw[k]
        ds = uD - Dw[K]
        for j in range(d):
            dv[j] = 0.0
        for k in range(K):  # dv = W D_w, k outermost: long independent loops over j
            Dk = Dw[k]
            for j in range(d):
                dv[j] += Wt[k, j] * Dk
        if grads_on:  # this word's term of dL/dW, from the old v_w
            for k in range(K):
                Dk = Dw[k]
                for j in range(d):
                    dW_c[c, k, j] += emb[w, j] * Dk
        if lr_v != 0.0:
            for j in range(d):
                emb[w, j] -= lr_v * dv[j]
        if lr_s != 0.0:
            scores[w] -= lr_s * ds


@njit(**NUMBA_PARALLEL_FLAGS)
def sentences_parallel(sents, uw, u, theta, d, floor, acc, loss_g, bad_g, db_g):
    for g in prange(acc.shape[0]):
        sentence_group(g, sents, uw, u, theta, d, floor, acc, loss_g, bad_g, db_g)


@njit(**NUMBA_PARALLEL_FLAGS)
def words_parallel(nch, chunk, uw, scores, emb, u, acc, Wt, lr_v, lr_s, grads_on, dW_c):
    for c in prange(nch):
        word_chunk(c, chunk, uw, scores, emb, u, acc, Wt, lr_v, lr_s, grads_on, dW_c)


@njit(**NUMBA_FLAGS)
def epoch_fused(sents, uw, scores, emb, clf, rates, floor, chunk, parallel, u, acc, dtheta):
    r"""One gradient-descent step (module docstring); returns ``(L, ok)``: the loss before the step
    and whether it was taken.  ``ok`` False (a partition below ``floor``): nothing was updated,
    ``L`` is NaN, the caller redoes the step with lowrank.py.  ``acc`` is G x V x (K + 1) float64
    work space, ``u`` V x (K + 1) float64."""
    theta = clf.theta
    lr_v, lr_s, lr_c = rates.v, rates.s, rates.c
    d = emb.shape[1]
    K = u.shape[1] - 1
    G = acc.shape[0]
    grads_on = lr_c != 0.0
    prepare(uw, scores, emb, theta, u)
    loss_g = np.zeros(G)
    bad_g = np.zeros(G, np.int64)
    db_g = np.zeros((G, K))
    if parallel:
        sentences_parallel(sents, uw, u, theta, d, floor, acc, loss_g, bad_g, db_g)
    else:
        for g in range(G):
            sentence_group(g, sents, uw, u, theta, d, floor, acc, loss_g, bad_g, db_g)
    total = 0.0
    nbad = 0
    for g in range(G):  # merged in group order
        total += loss_g[g]
        nbad += bad_g[g]
    if nbad > 0:
        return np.nan, False
    Wt = transposed_w(theta, d, K)  # the old W (theta moves only after the word pass)
    U = uw.shape[0]
    nch = (U + chunk - 1) // chunk
    dW_c = np.empty((nch, K if grads_on else 0, d))
    if parallel:
        words_parallel(nch, chunk, uw, scores, emb, u, acc, Wt, lr_v, lr_s, grads_on, dW_c)
    else:
        for c in range(nch):
            word_chunk(c, chunk, uw, scores, emb, u, acc, Wt, lr_v, lr_s, grads_on, dW_c)
    if grads_on:
        for j in range(d):
            for k in range(K):
                s = 0.0
                for c in range(nch):  # merged in chunk order
                    s += dW_c[c, k, j]
                dtheta[j * K + k] = s
        for k in range(theta.shape[0] - d * K):  # the bias: sum_i delta_i, groups in order
            s = 0.0
            for g in range(G):
                s += db_g[g, k]
            dtheta[d * K + k] = s
        for p in range(theta.shape[0]):
            theta[p] -= lr_c * dtheta[p]
    return sents.weight * total, True
