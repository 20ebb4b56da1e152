r"""numba kernels: the gradient-descent step for a LINEAR classifier, per occurrence in K dimensions.

The model and the two-pass layout are those of :mod:`attndyn.numerics.kernels.scores` (read its
docstring first).  With a linear classifier, logits :math:`z_i = W^\top c_i (+ b)`, ``W``
(d_e x K), everything the passes move per word occurrence can be K wide instead of d_e wide
(K = 2 … 5 classes against d_e = 10 … 200; issues 11 and 13):

* **Projection** (per step, per distinct word, parallel over fixed word chunks):
  :math:`u_w = W^\top v_w` (K floats; old :math:`W` and :math:`v_w`), K dot products of d floats
  each by :func:`attndyn.numerics.kernels.rows.row_dot` (vectorised, see Determinism); the word
  ``ROW_PREFETCH_AHEAD`` words ahead has its embedding row hinted into cache (here and in the word pass).
* **Sentence pass** (shared exponentials :math:`e_w = e^{s_w - M}`):
  :math:`z_i = \sum_{w\in S_i} e_w u_w/\tilde Z_i (+ b)`,
  :math:`\delta_i = \omega(\operatorname{softmax}(z_i) - e_{y_i})` (so :math:`g_i = W\delta_i`),
  stored per sentence as :math:`d_i = \delta_i/\tilde Z_i` (K) and
  :math:`r_i = (z_i - b)\cdot\delta_i/\tilde Z_i = c_i\cdot g_i/\tilde Z_i`;
  :math:`\partial L/\partial b = \sum_i \delta_i`.  In blocks of ``KERNEL.fused_block`` sentences:
  gather each sentence's :math:`(\tilde Z_i z_i, \tilde Z_i)`, then the softmax, loss and
  :math:`(d_i, r_i)` across the block (:func:`attndyn.numerics.kernels.fused.softmax_block`: SIMD
  exponentials, one log per block; 1.45 to 1.21 ms per SST-5 TC pass, 1 thread, measured side by side
  on 2026-12-02).
* **Word pass**: :math:`D_w = \sum_{(i,w)} d_i`, :math:`R_w = \sum_{(i,w)} r_i`, then

  .. math::
      \frac{\partial L}{\partial v_w} = e_w\,W D_w,\qquad
      \frac{\partial L}{\partial s_w} = e_w\,(u_w\cdot D_w - R_w),\qquad
      \frac{\partial L}{\partial W} = \sum_w e_w\, v_w D_w^\top

  (the last with the *old* :math:`v_w`: a word's term is added before its row is updated).

**Carried projection** (:math:`W` fixed: FC, or a frozen classifier): the word pass writes each moved
row's next :math:`u_w` right after its update, and the next step skips the projection pass
(:func:`epoch_lowrank`; the same bits).  **Evaluation** (:func:`forward_eval_lr`): the forward pass
alone, K wide, for the dev and test losses of a training run.

**Fallback** (some :math:`\tilde Z_i <` ``KERNEL.shared_exp_floor``): the step is redone with
per-sentence shifts exactly as in scores.py, still K wide: :math:`a_{iw} = e^{s_w - \Lambda_i}`,
:math:`d_i = \delta_i`, :math:`r_i = (z_i - b)\cdot\delta_i`,
:math:`D_w = \sum a_{iw} d_i`, :math:`\partial L/\partial s_w = u_w\cdot D_w - \sum a_{iw} r_i`,
:math:`\partial L/\partial v_w = W D_w`, :math:`\partial L/\partial W = \sum_w v_w D_w^\top`.

**Explicit keys** (query trained, Adam): as in :mod:`attndyn.numerics.kernels.keys`,
:math:`\partial L/\partial k_w = (\partial L/\partial s_w) q`, :math:`\partial L/\partial q =
\sum_w (\partial L/\partial s_w) k_w` (old keys); a ``keys`` array with no rows means fixed query.

**Determinism.**  Fixed chunks (``KERNEL``), per-chunk buffers for the loss, :math:`\partial
L/\partial b`, :math:`\partial L/\partial W` and :math:`\partial L/\partial q`, merged in chunk
order: bitwise identical for any thread count.  The projection's dot products are the one place
compiled with reassociation (``NUMBA_ROW_REDUCTION_FLAGS``, in ``rows.py``): each row's sum is done by
one thread in one compiled order, so this holds for them too (their last bits may differ between CPUs
with different vector widths, as the compiled order does).  The summation order differs from
scores.py's d_e path, so the two agree to rounding, not bit for bit.

**One gather per occurrence.**  The per-word table ``u`` is V x (K + 1): row :math:`w` holds
:math:`u_w` and :math:`e_w` side by side, and the per-sentence table ``D`` is n x (K + 1): row
:math:`i` holds :math:`d_i` and :math:`r_i`, so each pass reads one contiguous row of K + 1 floats per
occurrence (a single cache line for K <= 7) instead of a row plus a scalar from another array.
``D`` is a view into the d_e path's ``G`` buffer when it fits (``lse`` as in scores.py; ``cg`` is
not used); ``u`` is float64.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from attndyn.numerics.kernels.classifier import loss_and_argmax
from attndyn.numerics.kernels.fused import BLOCK, softmax_block
from attndyn.numerics.kernels.keys import key_scores
from attndyn.numerics.kernels.prefetch import prefetch_row
from attndyn.numerics.kernels.rows import row_dot
from attndyn.numerics.kernels.scores import PREFETCH_AHEAD, shared_exp
# numba's cache (cache=True) stamps this file only: after editing scores.py, keys.py, classifier.py, prefetch.py or rows.py,
# touch this file or clear __pycache__/*.nb[ic] (see scores.py).
from attndyn.proofs.settings import NUMBA_FLAGS, NUMBA_PARALLEL_FLAGS


# distinct words between the prefetch of an embedding row and its use in project / the word pass
# (speed only).  The rows of uw are read in ascending order but with gaps, d_e = 100-200 floats (13-25
# cache lines) each, from a table out of cache at SST sizes (13-31 MB): issue 13 measured the word pass
# at SST-5 d_e 100 K 5 with eta_v > 0 at 4.1 -> 2.4-2.7 ms (FC-like) and 4.5 -> 3.2-3.5 ms (W trained)
# CPU, 1 thread, for 1, 2 or 4 words ahead (no measurable difference between them).
ROW_PREFETCH_AHEAD = 2


@njit(**NUMBA_FLAGS)
def prefetch_emb_row(embf, w, d):
    """Hint every cache line of row ``w`` of the embedding table (``embf``: the table flattened)."""
    base = w * d
    for l in range(0, d, 8):  # 8 floats = one 64-byte line; prefetch_row also hints the next line
        prefetch_row(embf, base + l)


@njit(**NUMBA_FLAGS)
def transposed_w(theta, d, K):
    r""":math:`W^\top` (K x d, float64) from the flat :math:`\theta` (``W`` row-major d x K first): the
    per-word loops then run over d contiguous floats (long inner loops; K is 2 … 5)."""
    Wt = np.empty((K, d))
    for j in range(d):
        for k in range(K):
            Wt[k, j] = theta[j * K + k]
    return Wt


@njit(**NUMBA_FLAGS)
def project_row(emb, w, Wt, K, u):
    r"""``u[w, :K]`` = :math:`W^\top v_w` (``Wt`` = :math:`W^\top`, K x d): the one place the projection
    is computed, so the step's pass, the carried rows and the evaluation agree bit for bit."""
    for k in range(K):
        u[w, k] = row_dot(emb[w], Wt[k])


@njit(**NUMBA_PARALLEL_FLAGS)
def project(uw, emb, theta, ew, chunk, u):
    r"""Row :math:`w` of ``u`` (V x (K + 1), float64) for the words ``uw``: :math:`u_w = W^\top v_w`,
    then :math:`e_w` (from ``ew``)."""
    d = emb.shape[1]
    K = u.shape[1] - 1
    Wt = transposed_w(theta, d, K)
    U = uw.shape[0]
    nch = (U + chunk - 1) // chunk
    embf = emb.reshape(-1)
    for ch in prange(nch):
        for x in range(ch * chunk, min(U, (ch + 1) * chunk)):
            if x + ROW_PREFETCH_AHEAD < U:
                prefetch_emb_row(embf, uw[x + ROW_PREFETCH_AHEAD], d)
            w = uw[x]
            u[w, K] = ew[w]
            project_row(emb, w, Wt, K, u)


@njit(**NUMBA_PARALLEL_FLAGS)
def fill_exps(uw, ew, chunk, u):
    r"""Column K of ``u`` (:math:`e_w` from ``ew``) for the words ``uw``, when columns 0 … K - 1 already
    hold :math:`u_w = W^\top v_w` (carried from the last step's word pass: see :func:`epoch_lowrank`)."""
    K = u.shape[1] - 1
    U = uw.shape[0]
    nch = (U + chunk - 1) // chunk
    for ch in prange(nch):
        for x in range(ch * chunk, min(U, (ch + 1) * chunk)):
            w = uw[x]
            u[w, K] = ew[w]


@njit(**NUMBA_FLAGS)
def shifted_sum(o0, o1, word_ids, scores, u, K, z):
    r"""Occurrences ``o0 .. o1 - 1`` of one sentence with its own shift :math:`m = \max s_w`: adds
    :math:`\sum_w e^{s_w - m} u_w` to ``z[:K]`` and returns ``(m, sum_w e^{s_w - m})``."""
    mx = -np.inf
    for o in range(o0, o1):
        sw = scores[word_ids[o]]
        if sw > mx:
            mx = sw
    tot = 0.0
    for o in range(o0, o1):
        w = word_ids[o]
        e = np.exp(scores[w] - mx)
        tot += e
        for k in range(K):
            z[k] += e * u[w, k]
    return mx, tot


@njit(**NUMBA_PARALLEL_FLAGS)
def sentence_pass_lr(sents, scores, M, shared, floor, u, theta, d, grads_on, chunk, work, dtheta):
    r"""Logits, loss and :math:`\delta_i` of every sentence in K dimensions; returns ``(L, ok)``.

    ``shared`` (:math:`e_w` from ``u[w, K]``): writes :math:`d_i = \delta_i/\tilde Z_i` to ``D[i, :K]`` and
    :math:`r_i = (z_i - b)\cdot\delta_i/\tilde Z_i` to ``D[i, K]``; ``ok`` is False when some
    :math:`\tilde Z_i <` ``floor``.  Otherwise per-sentence shifts and :math:`d_i = \delta_i`,
    :math:`r_i = (z_i - b)\cdot\delta_i`.  Always ``lse[i]`` = :math:`\Lambda_i`.  When
    ``grads_on`` and the classifier has a bias, writes :math:`\partial L/\partial b =
    \sum_i\delta_i` into ``dtheta[d K:]`` (the W part is the word pass's)."""
    word_ids, offsets, labels, weight = sents
    D, lse, _ = work
    n = labels.shape[0]
    K = u.shape[1] - 1
    with_bias = theta.shape[0] > d * K  # layout W then b (numerics/model/spec.layout)
    nch = (n + chunk - 1) // chunk
    nnz = word_ids.shape[0]
    ahead = PREFETCH_AHEAD
    loss_c = np.zeros(nch)
    bad_c = np.zeros(nch, np.int64)
    db_c = np.zeros((nch, K))
    bias = np.zeros(K)  # b (0 without one), read once instead of per sentence
    if with_bias:
        for k in range(K):
            bias[k] = theta[d * K + k]
    for ch in prange(nch):
        z = np.empty(K)
        zb = np.empty(K)
        bad = 0
        acc = 0.0
        i1 = min(n, (ch + 1) * chunk)
        if shared:  # blocks of BLOCK sentences: gather each, then the softmax across the block
            zs = np.empty((K + 1, BLOCK))  # per sentence (a column): Z~ z, then Z~ in row K
            dd = np.empty((K + 1, BLOCK))  # per sentence: d_i, then r_i in row K
            wk = np.empty((4, BLOCK))
            db = np.zeros(K)
            for i0 in range(ch * chunk, i1, BLOCK):
                nb = min(BLOCK, i1 - i0)
                for b in range(nb):
                    i = i0 + b
                    o0 = offsets[i]
                    o1 = offsets[i + 1]
                    for k in range(K):
                        z[k] = 0.0
                    Z = 0.0
                    o = o0
                    while o + 1 < o1:  # two occurrences per update: halves the dependency chain on z
                        if o + ahead + 1 < nnz:  # hint the rows needed `ahead` occurrences later
                            wa = word_ids[o + ahead]
                            wb = word_ids[o + ahead + 1]
                            prefetch_row(u, wa)
                            prefetch_row(u, wb)
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
                    if not Z >= floor:
                        bad += 1
                    lse[i] = M + np.log(Z)
                    for k in range(K):
                        zs[k, b] = z[k]
                    zs[K, b] = Z
                # logits, loss, d_i = delta_i / Z~_i and r_i across the block (fused.py's softmax)
                acc += softmax_block(nb, K, zs, labels[i0:i0 + nb], bias, weight, dd, db, wk)
                for b in range(nb):
                    for k in range(K + 1):
                        D[i0 + b, k] = dd[k, b]
            for k in range(K):
                db_c[ch, k] = db[k]
        else:  # per-sentence shifts, one sentence at a time (the rare fallback)
            for i in range(ch * chunk, i1):
                o0 = offsets[i]
                o1 = offsets[i + 1]
                for k in range(K):
                    z[k] = 0.0
                mx, tot = shifted_sum(o0, o1, word_ids, scores, u, K, z)
                iz = 1.0 / tot
                lse[i] = mx + np.log(tot)
                # z <- W^T c_i; zb <- the logits W^T c_i + b
                for k in range(K):
                    z[k] *= iz
                    zb[k] = z[k] + bias[k]
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
                acc += zmax + np.log(tot) - zy
                scale = weight / tot
                rr = 0.0
                for k in range(K):  # delta = omega (softmax - e_y); d_i = delta_i
                    dk = zb[k] * scale
                    if k == y:
                        dk -= weight
                    db_c[ch, k] += dk
                    rr += z[k] * dk
                    D[i, k] = dk
                D[i, K] = rr
        loss_c[ch] = acc
        bad_c[ch] = bad
    # merge the chunk buffers in chunk order: the order never depends on the threads
    total = 0.0
    nbad = 0
    for ch in range(nch):
        total += loss_c[ch]
        nbad += bad_c[ch]
    if grads_on and with_bias:
        for k in range(K):
            s = 0.0
            for ch in range(nch):
                s += db_c[ch, k]
            dtheta[d * K + k] = s
    return weight * total, nbad == 0


@njit(**NUMBA_PARALLEL_FLAGS)
def word_pass_lr(words, scores, shared, emb, u, theta, work, rates, chunk, grads_on, grad_v, grad_s,
                 dtheta, keys, q, dq, carry):
    r"""Per distinct word ``w = uw[u]``: :math:`D_w`, then :math:`\partial L/\partial v_w = (e_w) W D_w`
    and :math:`\partial L/\partial s_w` (module docstring).  ``grads_on``: writes
    :math:`\partial L/\partial W = \sum_w (e_w) v_w D_w^\top` (old :math:`v_w`) into ``dtheta[:d K]``.
    ``keys`` with rows (explicit keys): writes :math:`\partial L/\partial q` into ``dq``.  When
    ``grad_s`` is not empty the word gradients go to ``grad_v[u]``, ``grad_s[u]``; otherwise
    :math:`v_w \mathrel{-}= \eta_v\,\partial L/\partial v_w` and the score (or the key along
    :math:`q`) moves with ``rates.s`` in place.  ``carry`` (only with :math:`W` fixed, i.e. not
    ``grads_on``): each moved row's next projection :math:`u_w = W^\top v_w` is written into ``u[w, :K]``
    right after the update, while the row is in cache, by :func:`project_row` as :func:`project` does."""
    uw, uptr, occ_sent = words
    Dn, lse, _ = work
    lr_v, lr_s = rates.v, rates.s
    U = uw.shape[0]
    d = emb.shape[1]
    K = u.shape[1] - 1
    explicit = keys.shape[0] > 0
    dk = keys.shape[1]
    nch = (U + chunk - 1) // chunk
    store = grad_s.shape[0] > 0
    nocc = occ_sent.shape[0]
    Wt = transposed_w(theta, d, K)
    embf = emb.reshape(-1)
    dW_c = np.zeros((nch, K if grads_on else 0, d))  # per chunk, transposed: contiguous in j
    dq_c = np.zeros((nch, dk if explicit else 0))
    for ch in prange(nch):
        Dw = np.empty(K + 1)  # D_w, then R_w in Dw[K]
        dv = np.empty(d)
        for x in range(ch * chunk, min(U, (ch + 1) * chunk)):
            w = uw[x]
            o0 = uptr[x]
            o1 = uptr[x + 1]
            if x + ROW_PREFETCH_AHEAD < U:  # the row read (dL/dW) and written (the step) below
                prefetch_emb_row(embf, uw[x + ROW_PREFETCH_AHEAD], d)
            for k in range(K + 1):
                Dw[k] = 0.0
            if shared:
                o = o0
                while o + 1 < o1:  # two occurrences per update: halves the dependency chain on Dw
                    if o + PREFETCH_AHEAD + 1 < nocc:  # hint the rows needed a few occurrences later
                        prefetch_row(Dn, occ_sent[o + PREFETCH_AHEAD])
                        prefetch_row(Dn, occ_sent[o + PREFETCH_AHEAD + 1])
                    i0 = occ_sent[o]
                    i1 = occ_sent[o + 1]
                    for k in range(K + 1):
                        Dw[k] += Dn[i0, k] + Dn[i1, k]
                    o += 2
                if o < o1:
                    i0 = occ_sent[o]
                    for k in range(K + 1):
                        Dw[k] += Dn[i0, k]
                e_w = u[w, K]
                for k in range(K + 1):
                    Dw[k] *= e_w
            else:
                s_w = scores[w]
                for o in range(o0, o1):
                    i = occ_sent[o]
                    a = np.exp(s_w - lse[i])
                    for k in range(K + 1):
                        Dw[k] += a * Dn[i, k]
            uD = 0.0
            for k in range(K):
                uD += u[w, k] * Dw[k]
            ds = uD - Dw[K]  # (e_w) (u_w . D_w - R_w)
            for j in range(d):  # dv = W D_w, k outermost: long independent loops over j
                dv[j] = 0.0
            for k in range(K):
                Dk = Dw[k]
                for j in range(d):
                    dv[j] += Wt[k, j] * Dk
            if grads_on:  # this word's term of dL/dW, from the old v_w
                for k in range(K):
                    Dk = Dw[k]
                    for j in range(d):
                        dW_c[ch, k, j] += emb[w, j] * Dk
            if explicit:
                for j in range(dk):
                    dq_c[ch, j] += ds * keys[w, j]
            if store:
                grad_s[x] = ds
                for j in range(d):
                    grad_v[x, j] = dv[j]
            else:
                if lr_v != 0.0:
                    for j in range(d):
                        emb[w, j] -= lr_v * dv[j]
                    if carry:  # u_w (read above, for ds) is now the next step's W^T v_w
                        project_row(emb, w, Wt, K, u)
                if lr_s != 0.0:
                    if explicit:
                        for j in range(dk):
                            keys[w, j] -= lr_s * ds * q[j]
                    else:
                        scores[w] -= lr_s * ds
    if grads_on:
        for j in range(d):
            for k in range(K):
                acc = 0.0
                for ch in range(nch):
                    acc += dW_c[ch, k, j]
                dtheta[j * K + k] = acc
    if explicit:
        for j in range(dk):
            acc = 0.0
            for ch in range(nch):
                acc += dq_c[ch, j]
            dq[j] = acc


@njit(**NUMBA_FLAGS)
def forward_backward_lr(sents, uw, scores, emb, exps, clf, grads_on, chunks, u, work, dtheta, carried):
    r"""Shared exps (when ``exps.try_shared``), :math:`u_w = W^\top v_w` (unless ``carried``: ``u``
    already holds it, only :math:`e_w` is filled in), then the K-wide sentence pass, redone with
    per-sentence shifts if a partition underflows.  Returns ``(L, shared)``."""
    ew, try_shared, floor = exps
    theta = clf.theta
    d = emb.shape[1]
    M = shared_exp(uw, scores, ew)
    if carried:
        fill_exps(uw, ew, chunks.words, u)
    else:
        project(uw, emb, theta, ew, chunks.words, u)
    loss, ok = sentence_pass_lr(sents, scores, M, try_shared, floor, u, theta, d, grads_on,
                                chunks.sentences, work, dtheta)
    shared = try_shared and ok
    if not ok:  # ok is False here: the same (non-literal) flag selects per-sentence shifts
        loss, ok = sentence_pass_lr(sents, scores, M, ok, floor, u, theta, d, grads_on,
                                    chunks.sentences, work, dtheta)
    return loss, shared


@njit(**NUMBA_FLAGS)
def epoch_lowrank(sents, words, scores, emb, keys, q, exps, clf, rates, chunks, u, work, dtheta, dq, carried):
    r"""One gradient-descent step of the linear model (fixed query when ``keys`` has no rows, else
    scores from the keys and :math:`q \leftarrow q - \eta_q\,\partial L/\partial q`), all
    parameters moved by gradients at the old point; returns the loss before the step.

    **Carried projection.**  With :math:`W` fixed (``rates.c`` = 0: FC, or a frozen classifier) the
    word pass leaves ``u[w, :K]`` = :math:`W^\top v_w` of the *new* :math:`v_w` behind (bit for bit what
    :func:`project` would compute from it), so the next step may pass ``carried`` = True and skip the
    projection pass: one read of the V x d_e table per step fewer (SST FC: d_e = 200; N = V = 10^6).
    The caller guarantees that nothing wrote :math:`v` or :math:`W` in between
    (:meth:`attndyn.numerics.model.attention.AttentionModel.step`)."""
    theta, lr_q, lr_c = clf.theta, rates.q, rates.c
    explicit = keys.shape[0] > 0
    if explicit:
        key_scores(words.uw, keys, q, scores)
    grads_on = lr_c != 0.0
    loss, shared = forward_backward_lr(sents, words.uw, scores, emb, exps, clf, grads_on, chunks, u, work,
                                       dtheta, carried)
    word_pass_lr(words, scores, shared, emb, u, theta, work, rates, chunks.words, grads_on,
                 emb[:0], scores[:0], dtheta, keys, q, dq, not grads_on)
    if explicit and lr_q != 0.0:
        for j in range(q.shape[0]):
            q[j] -= lr_q * dq[j]
    if grads_on:
        for p in range(theta.shape[0]):
            theta[p] -= lr_c * dtheta[p]
    return loss


@njit(**NUMBA_PARALLEL_FLAGS)
def forward_eval_lr(sents, scores, emb, theta, K, chunk, u, seen, lse, pred):
    r"""Forward pass only, K wide (a linear classifier), as :func:`attndyn.numerics.kernels.scores.forward_eval`
    computes it d_e wide: writes :math:`\Lambda_i` and the predicted class of each sentence and returns
    :math:`\sum_i \ell_i` (``sents.weight`` not used).  First :math:`u_w = W^\top v_w` for every word the
    sentences use, once each (``seen``: V zeros, marked and cleared again here; ``u``: V x K scratch),
    then per sentence (per-sentence shift :math:`m_i = \max_{w\in S_i} s_w`)
    :math:`z_i = \sum_w e^{s_w - m_i} u_w / \sum_w e^{s_w - m_i} (+ b)`,
    :math:`\ell_i = \log\sum_k e^{z_{ik}} - z_{iy_i}`.  Dev and test evaluations during training read
    d_e = 100-200 floats per occurrence otherwise (SST: 5.2 ms per call at d_e = 200)."""
    word_ids, offsets, labels, _ = sents
    n = labels.shape[0]
    d = emb.shape[1]
    with_bias = theta.shape[0] > d * K
    Wt = transposed_w(theta, d, K)
    for o in range(word_ids.shape[0]):  # serial: each word projected once, in occurrence order
        w = word_ids[o]
        if seen[w] == 0:
            seen[w] = 1
            project_row(emb, w, Wt, K, u)
    nch = (n + chunk - 1) // chunk
    loss_c = np.zeros(nch)
    for ch in prange(nch):
        z = np.empty(K)
        acc = 0.0
        for i in range(ch * chunk, min(n, (ch + 1) * chunk)):
            for k in range(K):
                z[k] = 0.0
            mx, tot = shifted_sum(offsets[i], offsets[i + 1], word_ids, scores, u, K, z)
            lse[i] = mx + np.log(tot)
            for k in range(K):
                z[k] = z[k] / tot + (theta[d * K + k] if with_bias else 0.0)
            li, best = loss_and_argmax(z, K, labels[i])
            acc += li
            pred[i] = best
        loss_c[ch] = acc
    for o in range(word_ids.shape[0]):
        seen[word_ids[o]] = 0
    total = 0.0
    for ch in range(nch):  # merged in chunk order
        total += loss_c[ch]
    return total
