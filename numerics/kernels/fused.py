r"""numba kernels: one fused gradient-descent step for a linear classifier (fixed query; trained via store mode).

The model is that of :mod:`attndyn.numerics.kernels.scores` and the K-wide algebra that of
:mod:`attndyn.numerics.kernels.lowrank` (read both docstrings first): logits
:math:`z_i = W^\top c_i (+ b)`, :math:`u_w = W^\top v_w`, shared exponentials
:math:`e_w = e^{s_w - M}`, :math:`M = \max_w s_w`, :math:`\tilde Z_i = \sum_{w\in S_i} e_w`.
Issue 13: at the paper's size (n = 4000 sentences of 21 words, V = 5008, d_e = 10, K = 4)
lowrank.py's second pass *gathers* each word's per-sentence rows through the occurrence ->
sentence index (random reads).  Here the sentence pass *scatters* them instead, while the
sentence's word rows are still in cache:

* **Prepare** (serial, per distinct word): :math:`M`, then the row ``u[w]`` =
  :math:`(e_w u_w, e_w)` = :math:`e^{s_w - M}(W^\top v_w, 1)` (old :math:`W`, :math:`v_w`, :math:`s_w`).
* **Sentence pass** (per sentence group, in blocks of ``KERNEL.fused_block`` sentences: gather the
  block's logits, their softmax across the block in SIMD code (:func:`softmax_block`), scatter):
  :math:`z_i = \sum_{w\in S_i} e_w u_w/\tilde Z_i (+ b)`,
  :math:`\ell_i = \log\sum_k e^{z_{ik}} - z_{iy_i}`,
  :math:`\delta_i = \omega(\operatorname{softmax}(z_i) - e_{y_i})`,
  :math:`d_i = \delta_i/\tilde Z_i`, :math:`r_i = (z_i - b)\cdot\delta_i/\tilde Z_i`, then for every
  occurrence :math:`(i, w)`: :math:`A_g[w] \mathrel{+}= (d_i, r_i)`;
  :math:`\partial L/\partial b = \sum_i \delta_i`.  (:math:`\tilde Z_i` and :math:`\tilde Z_i z_i` are
  the sums of the rows ``u[w]``.)
* **Word pass** (per distinct word, fixed word chunks): :math:`(D_w, R_w) = e_w\sum_g A_g[w]`
  (groups in order), then, as in lowrank.py,

  .. math::
      \frac{\partial L}{\partial v_w} = W D_w,\qquad
      \frac{\partial L}{\partial s_w} = u_w\cdot D_w - R_w,\qquad
      \frac{\partial L}{\partial W} = \sum_w v_w D_w^\top

  (the last with the *old* :math:`v_w`), and the updates :math:`v_w \mathrel{-}= \eta_v\,\partial
  L/\partial v_w`, :math:`s_w \mathrel{-}= \eta_s\,\partial L/\partial s_w` in place; finally
  :math:`\theta \mathrel{-}= \eta_c\,\partial L/\partial\theta` (:math:`W` and :math:`b`).

**Narrow on purpose.**  The step: plain gradient descent, a fixed query (scores kept, no
explicit keys; a trained query takes store mode, below) and the shared exponentials: when some :math:`\tilde Z_i <` ``floor`` the kernel
returns before touching a parameter and the caller redoes the step with lowrank.py (per-sentence
shifts).  **Store mode** (:func:`fused_pass` with gradient rows, for an optimizer: momentum, Adam) runs
the same passes but writes :math:`\partial L/\partial v_w`, :math:`\partial L/\partial s_w` into the
caller's rows and moves nothing; with explicit keys the caller refreshes :math:`s_w = q\cdot k_w` before
and :func:`query_gradient` sums :math:`\partial L/\partial q` after (issue 13: Adam at the paper's size
was 1.66x a GD epoch through lowrank.py's store mode).  A GD step with explicit keys is store mode followed
by :func:`attndyn.numerics.kernels.optim.gd_key_rows` (the keys' d-wide kernel took about twice as long at
the paper's size: ``neg-trainable-query``'s 5000 epochs 21 s, now 6-7 s).  numerics/model/attention.py decides.

**Rows of ROW = 8 floats.**  Every per-word row (``u``, the accumulators, the transposed
:math:`W` padded with zero columns) is ``ROW`` = 8 float64 wide, one 64-byte cache line (the
buffers are 64-byte aligned, :func:`aligned_zeros`): the per-occurrence loops have a fixed width
whatever K (lanes spelled out as scalars held in registers: 0-4 always, 5-7 only when K > 4), so the
kernel needs :math:`K + 1 \le 8`.  Lanes past
:math:`K` hold zeros or values nobody reads (a zero column of :math:`W` multiplies them by 0).

**Determinism.**  The sentences are split into ``KERNEL.fused_groups`` fixed contiguous groups,
each scattering into its own V x ROW accumulator :math:`A_g`, summed in group order; the
word pass uses ``KERNEL.word_chunk`` chunks with per-chunk :math:`\partial L/\partial W` buffers
merged in chunk order.  Neither depends on the thread count, and the serial and the parallel
drivers run the same arithmetic: bitwise identical for 1 or 2 threads.  The summation order
differs from lowrank.py's (scatter vs gather), so the two agree to rounding.

**Serial or parallel.**  :func:`epoch_fused` takes ``parallel``: the caller passes True with more
than one numba thread (how many a run uses is the training's thread rule: one below 10^6
occurrences per step).  The serial driver runs no parallel region (a region costs a thread
wake-up under ``OMP_WAIT_POLICY=PASSIVE``, numerics/parallel.py).
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from attndyn.numerics.kernels.simd import add4
from attndyn.numerics.kernels.vexp import exp_nonpos
from attndyn.proofs.settings import KERNEL, NUMBA_FLAGS, NUMBA_IEEE_FLAGS, NUMBA_PARALLEL_FLAGS

ROW = 8  # floats per row: one 64-byte cache line; the kernel needs K + 1 <= ROW (8 lanes are spelled out)
BLOCK = KERNEL.fused_block  # sentences per softmax block (a compile-time constant)


def aligned_zeros(shape) -> np.ndarray:
    """float64 zeros whose first element sits on a 64-byte boundary (so does every ROW-wide row)."""
    n = int(np.prod(shape))
    raw = np.zeros(n + 8)
    start = (-raw.ctypes.data // 8) % 8
    return raw[start:start + n].reshape(shape)


@njit(**NUMBA_FLAGS)
def padded_w(theta, d, K):
    r""":math:`W` (d x ROW, float64) from the flat :math:`\theta` (``W`` row-major d x K first), zero
    in the columns past K."""
    Wp = np.zeros((d, ROW))
    for j in range(d):
        for k in range(K):
            Wp[j, k] = theta[j * K + k]
    return Wp


@njit(**NUMBA_IEEE_FLAGS)
def prepare(uw, scores, emb, Wp, K, u):
    r"""Return :math:`M = \max_{w\in uw} s_w` and write ``u[w]`` = :math:`e_w(W^\top v_w, 1, 0, ...)`.
    The exponentials run as one loop over a contiguous copy of the scores (SIMD code: :func:`exp_nonpos`)."""
    d = emb.shape[1]
    U = uw.shape[0]
    ew = np.empty(U)  # s_w, then e_w
    M = -np.inf
    for x in range(U):
        s = scores[uw[x]]
        ew[x] = s
        if s > M or s != s:
            M = s
    for x in range(U):
        ew[x] = exp_nonpos(ew[x] - M)
    wide = K + 1 > 5  # lanes 5-7 in use
    for x in range(U):
        w = uw[x]
        e = ew[x]
        r0 = r1 = r2 = r3 = r4 = r5 = r6 = r7 = 0.0  # u_w = W^T v_w (zero columns of W past K)
        for j in range(d):
            vj = emb[w, j]
            r0 += vj * Wp[j, 0]
            r1 += vj * Wp[j, 1]
            r2 += vj * Wp[j, 2]
            r3 += vj * Wp[j, 3]
            r4 += vj * Wp[j, 4]
            if wide:
                r5 += vj * Wp[j, 5]
                r6 += vj * Wp[j, 6]
                r7 += vj * Wp[j, 7]
        u[w, 0], u[w, 1], u[w, 2], u[w, 3] = e * r0, e * r1, e * r2, e * r3
        u[w, 4], u[w, 5], u[w, 6], u[w, 7] = e * r4, e * r5, e * r6, e * r7
        u[w, K] = e
    return M


@njit(**NUMBA_IEEE_FLAGS)
def softmax_block(nb, K, zs, ys, bias, weight, dd, db, wk):
    r"""Sentences ``b < nb`` of a block, from ``zs[:, b]`` = :math:`(\tilde Z_b z_b, \tilde Z_b)` (lanes
    0..K-1, K; :math:`z_b = W^\top c_b` before the bias) and labels ``ys[b]``: returns
    :math:`\sum_b \ell_b`, writes :math:`(d_b, r_b)` to ``dd[:, b]`` (lanes 0..K-1, K; lanes past K are
    left alone) and adds :math:`\sum_b \delta_b` to ``db``.  ``zs`` lanes 0..K-1 become :math:`z_b`.

    Every loop runs across the block, sentence innermost, with :func:`exp_nonpos` instead of libm's
    ``exp`` (IEEE division, no fastmath): LLVM turns them into SIMD code.  The loss
    :math:`\ell_b = \max_k z_{bk} + \log\sum_k e^{z_{bk} - \max} - z_{by_b}` (logits with the bias) is
    summed as :math:`\sum_b(\max - z_{by_b}) + \log\prod_b\sum_k e^{\ldots}`: one ``log`` per block
    (each factor lies in [1, K]; a product past 1e280 is logged early, so any K is safe).  The low-rank
    sentence pass calls it too (:func:`attndyn.numerics.kernels.lowrank.sentence_pass_lr`).  ``zs``,
    ``dd`` and ``wk`` (4 rows of work space) have at least ``nb`` columns; ``ys`` has ``nb`` labels."""
    iz, zmax, tot, rr = wk[0], wk[1], wk[2], wk[3]
    for b in range(nb):
        iz[b] = 1.0 / zs[K, b]
    for k in range(K):  # z <- W^T c_b
        for b in range(nb):
            zs[k, b] *= iz[b]
    for b in range(nb):
        zmax[b] = zs[0, b] + bias[0]
        tot[b] = 0.0
        rr[b] = 0.0
    for k in range(1, K):
        for b in range(nb):
            t = zs[k, b] + bias[k]
            zmax[b] = t if t > zmax[b] else zmax[b]
    for k in range(K):  # dd <- e^(z + b - max); tot <- their sum
        for b in range(nb):
            e = exp_nonpos((zs[k, b] + bias[k]) - zmax[b])
            dd[k, b] = e
            tot[b] += e
    lsum = 0.0
    prod = 1.0
    for b in range(nb):  # sentence order
        y = ys[b]
        lsum += zmax[b] - (zs[y, b] + bias[y])
        prod *= tot[b]
        tot[b] = weight / tot[b]
        if prod > 1e280:  # each factor lies in [1, K]: a log now and then keeps the product finite for any K
            lsum += np.log(prod)
            prod = 1.0
    for k in range(K):  # delta = omega (softmax - e_y); r_b = z_b . delta_b (its sum over k in class order)
        for b in range(nb):
            dk = dd[k, b] * tot[b] - (weight if ys[b] == k else 0.0)
            rr[b] += zs[k, b] * dk
            dd[k, b] = dk
    for k in range(K):
        s = db[k]
        for b in range(nb):  # sum_b delta_b, sentence order
            s += dd[k, b]
        db[k] = s
        for b in range(nb):  # d_b = delta_b / Z~_b
            dd[k, b] *= iz[b]
    for b in range(nb):
        dd[K, b] = rr[b] * iz[b]
    return lsum + np.log(prod)


@njit(**NUMBA_FLAGS)
def sentence_group(g, sents, uw, u, theta, d, K, floor, acc, loss_g, bad_g, db_g):
    r"""Group ``g`` of ``acc.shape[0]`` (sentences ``g n/G .. (g+1) n/G - 1``): zeroes
    :math:`A_g` on the rows ``uw``, then per block of ``KERNEL.fused_block`` sentences: gathers
    :math:`(\tilde Z_i z_i, \tilde Z_i)` from the rows ``u[w]``, computes logits, loss and
    :math:`(d_i, r_i)` across the block (:func:`softmax_block`), and scatters :math:`(d_i, r_i)` into
    :math:`A_g` (module docstring).  Writes the group's loss sum to ``loss_g[g]``, the number of
    partitions below ``floor`` to ``bad_g[g]`` and :math:`\sum_i\delta_i` to ``db_g[g]``."""
    word_ids, offsets, labels, weight = sents
    G = acc.shape[0]
    n = labels.shape[0]
    with_bias = theta.shape[0] > d * K  # layout W then b (numerics/model/spec.layout)
    A = acc[g]
    for x in range(uw.shape[0]):
        w = uw[x]
        for k in range(ROW):
            A[w, k] = 0.0
    bias = np.zeros(K)  # b (0 without one), read once per group instead of per sentence
    if with_bias:
        for k in range(K):
            bias[k] = theta[d * K + k]
    db = np.zeros(K)  # the group's sum_i delta_i, in a local buffer
    wide = K + 1 > 5  # lanes 5-7 in use
    B = BLOCK
    zs = np.empty((ROW, B))  # per sentence of the block (a column): Z~ z, then Z~ in lane K
    dd = np.zeros((ROW, B))  # per sentence: d_i, then r_i in lane K; lanes past K stay 0
    wk = np.empty((4, B))
    bad = 0
    total = 0.0
    last = (g + 1) * n // G
    for i0 in range(g * n // G, last, B):
        nb = min(B, last - i0)
        for b in range(nb):
            o0 = offsets[i0 + b]
            o1 = offsets[i0 + b + 1]
            # lanes: Z~_i z_i (before the bias), then Z~_i in lane K.  Scalars, not an array, so the sums
            # stay in registers; lanes 0-4 always (zeros past K), 5-7 only when K > 4; two occurrences
            # per step halve the dependency chains
            z0 = z1 = z2 = z3 = z4 = z5 = z6 = z7 = 0.0
            o = o0
            while o + 1 < o1:
                w = word_ids[o]
                v = word_ids[o + 1]
                z0 += u[w, 0] + u[v, 0]
                z1 += u[w, 1] + u[v, 1]
                z2 += u[w, 2] + u[v, 2]
                z3 += u[w, 3] + u[v, 3]
                z4 += u[w, 4] + u[v, 4]
                if wide:
                    z5 += u[w, 5] + u[v, 5]
                    z6 += u[w, 6] + u[v, 6]
                    z7 += u[w, 7] + u[v, 7]
                o += 2
            if o < o1:
                w = word_ids[o]
                z0 += u[w, 0]
                z1 += u[w, 1]
                z2 += u[w, 2]
                z3 += u[w, 3]
                z4 += u[w, 4]
                if wide:
                    z5 += u[w, 5]
                    z6 += u[w, 6]
                    z7 += u[w, 7]
            zs[0, b], zs[1, b], zs[2, b], zs[3, b] = z0, z1, z2, z3
            zs[4, b], zs[5, b], zs[6, b], zs[7, b] = z4, z5, z6, z7
        nbad = 0
        for b in range(nb):
            if not zs[K, b] >= floor:  # the caller redoes the whole step with per-sentence shifts
                nbad += 1
        if nbad > 0:
            bad += nbad
            continue
        total += softmax_block(nb, K, zs, labels[i0:i0 + nb], bias, weight, dd, db, wk)
        for b in range(nb):
            d0, d1, d2, d3 = dd[0, b], dd[1, b], dd[2, b], dd[3, b]
            d4, d5, d6, d7 = dd[4, b], dd[5, b], dd[6, b], dd[7, b]
            o = offsets[i0 + b]
            o1 = offsets[i0 + b + 1]
            while o < o1:  # scatter while the sentence's rows are in cache (in order: a repeated word adds twice)
                w = word_ids[o]
                add4(A, w, d0, d1, d2, d3)  # lanes 0-3 as one vector add (the same bits as four scalar adds)
                A[w, 4] += d4
                if wide:
                    A[w, 5] += d5
                    A[w, 6] += d6
                    A[w, 7] += d7
                o += 1
    for k in range(K):
        db_g[g, k] = db[k]
    loss_g[g] = total
    bad_g[g] = bad


@njit(**NUMBA_FLAGS)
def word_chunk(c, chunk, uw, scores, emb, u, acc, Wp, K, lr_v, lr_s, grads_on, dW_c, grad_v, grad_s):
    r"""Words ``uw[c chunk .. (c+1) chunk - 1]``: :math:`D_w, R_w`, the gradients and the in-place
    updates of :math:`v_w, s_w`; adds :math:`v_w D_w^\top` (old :math:`v_w`) to ``dW_c[c]``
    (d x ROW, lanes past K unread) when ``grads_on``.  Store mode (``grad_s`` not empty): the
    gradients go to ``grad_v[x]``, ``grad_s[x]`` for ``w = uw[x]`` and nothing moves."""
    G = acc.shape[0]
    d = emb.shape[1]
    store = grad_s.shape[0] > 0
    S = np.empty(ROW)
    wide = K + 1 > 5  # lanes 5-7 in use
    if grads_on:
        for j in range(d):
            for k in range(ROW):
                dW_c[c, j, k] = 0.0
    for x in range(c * chunk, min(uw.shape[0], (c + 1) * chunk)):
        w = uw[x]
        for k in range(ROW):
            S[k] = acc[0, w, k]
        for g in range(1, G):  # groups in order: the sum never depends on the threads
            for k in range(ROW):
                S[k] += acc[g, w, k]
        e_w = u[w, K]
        uS = 0.0
        for k in range(K):  # u[w, k] = e_w u_w[k]
            uS += u[w, k] * S[k]
        ds = uS - e_w * S[K]  # e_w (u_w . S_w - R'_w) = u_w . D_w - R_w
        # D_w = e_w S_w in scalars (lane K holds R_w: W's zero column K drops it from W D_w)
        D0, D1, D2, D3, D4 = e_w * S[0], e_w * S[1], e_w * S[2], e_w * S[3], e_w * S[4]
        D5, D6, D7 = e_w * S[5], e_w * S[6], e_w * S[7]
        for j in range(d):
            vj = emb[w, j]
            t = Wp[j, 0] * D0 + Wp[j, 1] * D1 + Wp[j, 2] * D2 + Wp[j, 3] * D3 + Wp[j, 4] * D4  # (W D_w)_j
            if wide:
                t += Wp[j, 5] * D5 + Wp[j, 6] * D6 + Wp[j, 7] * D7
            if grads_on:  # this word's term of dL/dW, from the old v_w
                dW_c[c, j, 0] += vj * D0
                dW_c[c, j, 1] += vj * D1
                dW_c[c, j, 2] += vj * D2
                dW_c[c, j, 3] += vj * D3
                dW_c[c, j, 4] += vj * D4
                if wide:
                    dW_c[c, j, 5] += vj * D5
                    dW_c[c, j, 6] += vj * D6
                    dW_c[c, j, 7] += vj * D7
            if store:
                grad_v[x, j] = t
            elif lr_v != 0.0:
                emb[w, j] = vj - lr_v * t
        if store:
            grad_s[x] = ds
        elif lr_s != 0.0:
            scores[w] -= lr_s * ds


@njit(**NUMBA_PARALLEL_FLAGS)
def sentences_parallel(sents, uw, u, theta, d, K, floor, acc, loss_g, bad_g, db_g):
    for g in prange(acc.shape[0]):
        sentence_group(g, sents, uw, u, theta, d, K, floor, acc, loss_g, bad_g, db_g)


@njit(**NUMBA_PARALLEL_FLAGS)
def words_parallel(nch, chunk, uw, scores, emb, u, acc, Wp, K, lr_v, lr_s, grads_on, dW_c, grad_v, grad_s):
    for c in prange(nch):
        word_chunk(c, chunk, uw, scores, emb, u, acc, Wp, K, lr_v, lr_s, grads_on, dW_c, grad_v, grad_s)


@njit(**NUMBA_FLAGS)
def fused_pass(sents, uw, scores, emb, clf, rates, floor, chunk, parallel, u, acc, dtheta, grad_v, grad_s):
    r"""The step's passes (module docstring) up to, not including, the classifier's update; returns
    ``(L, ok)``.  ``ok`` False (a partition below ``floor``): nothing was updated or stored, ``L`` is
    NaN.  ``dtheta`` receives :math:`\partial L/\partial\theta` when ``rates.c`` is not 0.  Store mode
    (``grad_s`` not empty, for an optimizer): ``grad_v[x]``, ``grad_s[x]`` receive
    :math:`\partial L/\partial v_w`, :math:`\partial L/\partial s_w` of ``w = uw[x]`` and no word moves.
    ``u`` is V x ROW and ``acc`` G x V x ROW float64 work space (:func:`aligned_zeros`); needs K + 1 <= ROW."""
    theta, K = clf.theta, clf.K
    lr_v, lr_s, lr_c = rates.v, rates.s, rates.c
    d = emb.shape[1]
    G = acc.shape[0]
    grads_on = lr_c != 0.0
    Wp = padded_w(theta, d, K)  # the old W (theta moves only after the word pass)
    prepare(uw, scores, emb, Wp, K, u)
    loss_g = np.zeros(G)
    bad_g = np.zeros(G, np.int64)
    db_g = np.zeros((G, K))
    if parallel:
        sentences_parallel(sents, uw, u, theta, d, K, floor, acc, loss_g, bad_g, db_g)
    else:
        for g in range(G):
            sentence_group(g, sents, uw, u, theta, d, K, floor, acc, loss_g, bad_g, db_g)
    total = 0.0
    nbad = 0
    for g in range(G):  # merged in group order
        total += loss_g[g]
        nbad += bad_g[g]
    if nbad > 0:
        return np.nan, False
    U = uw.shape[0]
    nch = (U + chunk - 1) // chunk
    dW_c = np.empty((nch, d if grads_on else 0, ROW))
    if parallel:
        words_parallel(nch, chunk, uw, scores, emb, u, acc, Wp, K, lr_v, lr_s, grads_on, dW_c, grad_v, grad_s)
    else:
        for c in range(nch):
            word_chunk(c, chunk, uw, scores, emb, u, acc, Wp, K, lr_v, lr_s, grads_on, dW_c, grad_v, grad_s)
    if grads_on:
        for j in range(d):
            for k in range(K):
                s = 0.0
                for c in range(nch):  # merged in chunk order
                    s += dW_c[c, j, k]
                dtheta[j * K + k] = s
        for k in range(theta.shape[0] - d * K):  # the bias: sum_i delta_i, groups in order
            s = 0.0
            for g in range(G):
                s += db_g[g, k]
            dtheta[d * K + k] = s
    return sents.weight * total, True


@njit(**NUMBA_FLAGS)
def epoch_fused(sents, uw, scores, emb, clf, rates, floor, chunk, parallel, u, acc, dtheta):
    r"""One gradient-descent step (module docstring); returns ``(L, ok)``: the loss before the step
    and whether it was taken.  ``ok`` False (a partition below ``floor``): nothing was updated,
    ``L`` is NaN, the caller redoes the step with lowrank.py.  ``u`` is V x ROW and ``acc``
    G x V x ROW float64 work space (:func:`aligned_zeros`); needs K + 1 <= ROW."""
    theta = clf.theta
    loss, ok = fused_pass(sents, uw, scores, emb, clf, rates, floor, chunk, parallel, u, acc, dtheta,
                          emb[:0], scores[:0])
    if ok and rates.c != 0.0:
        for p in range(theta.shape[0]):
            theta[p] -= rates.c * dtheta[p]
    return loss, ok


@njit(**NUMBA_FLAGS)
def query_gradient(uw, grad_s, keys, dq):
    r""":math:`\partial L/\partial q = \sum_w (\partial L/\partial s_w)\,k_w` (old keys) from the stored score
    gradients ``grad_s[x]`` of ``w = uw[x]``, summed in word order (serial: the same bits for any
    thread count)."""
    for j in range(dq.shape[0]):
        dq[j] = 0.0
    for x in range(uw.shape[0]):
        g = grad_s[x]
        w = uw[x]
        for j in range(dq.shape[0]):
            dq[j] += g * keys[w, j]
