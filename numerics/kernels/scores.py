r"""numba kernels: one gradient-descent step of the attention model with a fixed query.

Model (paper's symbols).  Sentence :math:`i` holds word occurrences
:math:`w \in S_i` (CSR: ``word_ids[offsets[i]:offsets[i+1]]``; a word repeated in
a sentence is two softmax entries).  With scores :math:`s_w = q\cdot k_w`,

.. math::
    a_{iw} = e^{s_w}/Z_i,\quad Z_i = \textstyle\sum_{u\in S_i} e^{s_u},\quad
    c_i = \textstyle\sum_{w\in S_i} a_{iw} v_w,\quad
    L = \omega \textstyle\sum_i \ell(c_i, y_i)

(:math:`\omega = 1/n`: mean cross-entropy).  With :math:`g_i = \partial L/\partial c_i`,

.. math::
    \frac{\partial L}{\partial v_w} = \sum_{(i,w)} a_{iw} g_i, \qquad
    \frac{\partial L}{\partial s_w} = \sum_{(i,w)} a_{iw}\,(v_w - c_i)\cdot g_i .

**Fixed query: keys are implicit.**  :math:`\partial L/\partial k_w = (\partial L/\partial s_w)\,q`,
so the key step :math:`k_w \leftarrow k_w - \eta\,\partial L/\partial k_w` moves the score by
:math:`s_w \leftarrow s_w - \eta|q|^2\,\partial L/\partial s_w` and the key only along
:math:`q`.  These kernels therefore keep the scores :math:`s` (length V) instead of the keys
(V x d_k); the driver reconstructs :math:`k_w = k_w^0 + (s_w - s_w^0)\,q/|q|^2` when
asked.  This is exact, not an approximation.

**One exp per word.**  With :math:`M = \max_w s_w` and :math:`e_w = e^{s_w - M}` (computed once
per step), :math:`a_{iw} = e_w / \tilde Z_i`, :math:`\tilde Z_i = \sum_{u\in S_i} e_u`, and the
word gradients factor through per-sentence quantities
:math:`h_i = g_i/\tilde Z_i`, :math:`r_i = (c_i\cdot g_i)/\tilde Z_i`:

.. math::
    \frac{\partial L}{\partial v_w} = e_w H_w, \quad
    \frac{\partial L}{\partial s_w} = e_w\,(v_w\cdot H_w - R_w), \qquad
    H_w = \sum_{(i,w)} h_i,\ R_w = \sum_{(i,w)} r_i .

If some :math:`\tilde Z_i` falls below ``KERNEL.shared_exp_floor`` (all of a sentence's
words ~575 below the top score: underflow would cost precision) the step is
redone with a per-sentence shift, :math:`a_{iw} = e^{s_w - \Lambda_i}`,
:math:`\Lambda_i = \log Z_i` — the same math, more exps.

**Two passes, no V x d scatter buffers.**  The sentence pass (parallel over fixed
chunks of sentences) stores per sentence only :math:`h_i` (or :math:`g_i`), :math:`\Lambda_i`
and :math:`r_i` (or :math:`c_i\cdot g_i`).  The word pass (parallel over fixed chunks of
distinct words) walks each word's occurrences through a transposed index
(``uw``, ``uptr``, ``occ_sent``: numerics/kernels/index.py) in a fixed order;
every word is owned by one chunk, so the update is written in place without
races.  Memory beyond the parameters: n x (d_e + 2) floats, V exps and the
nnz-long index.

**Determinism.**  Chunks are fixed by ``attndyn.proofs.settings.KERNEL`` (not by the
thread count); each chunk sums into its own buffer (loss, classifier gradients)
and buffers are merged in chunk order.  Results are bitwise identical for the
same inputs whatever ``numba.set_num_threads`` says.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from attndyn.numerics.kernels.classifier import chunk_loss_and_backward, predict
from attndyn.numerics.kernels.prefetch import prefetch_row
from attndyn.proofs.settings import NUMBA_FLAGS, NUMBA_PARALLEL_FLAGS
# numba's cache (cache=True) stamps this file only: the classifier.py kernels called here are compiled
# into its cache entries, so an edit there alone leaves a stale kernel in use (seen with the
# linear bias, issue 11). After editing classifier.py, touch this file or clear __pycache__/*.nb[ic].

PREFETCH_AHEAD = 8  # occurrences between a prefetch hint and the read it serves (speed only)


@njit(**NUMBA_FLAGS)
def shared_exp(uw, scores, ew):
    r"""Return :math:`M = \max_{w\in uw} s_w` and write :math:`e_w = e^{s_w - M}` for the words ``uw``.

    Serial on purpose: V exps cost less than waking the threads for a parallel region
    at the paper's size, and little next to the passes over all occurrences at 10^6."""
    M = -np.inf
    for u in range(uw.shape[0]):
        s = scores[uw[u]]
        if s > M or s != s:
            M = s
    for u in range(uw.shape[0]):
        w = uw[u]
        ew[w] = np.exp(scores[w] - M)
    return M


@njit(**NUMBA_FLAGS)
def sentence_context(o0, o1, word_ids, scores, emb, c):
    r"""Write :math:`c = \sum_w a_w v_w` over occurrences ``o0..o1-1`` with a per-sentence
    shift; return :math:`\Lambda = \log\sum e^{s_w}`."""
    mx = -np.inf
    for o in range(o0, o1):
        sw = scores[word_ids[o]]
        if sw > mx:
            mx = sw
    for j in range(c.shape[0]):
        c[j] = 0.0
    tot = 0.0
    for o in range(o0, o1):
        w = word_ids[o]
        e = np.exp(scores[w] - mx)
        tot += e
        for j in range(c.shape[0]):
            c[j] += e * emb[w, j]
    for j in range(c.shape[0]):
        c[j] /= tot
    return mx + np.log(tot)


@njit(**NUMBA_PARALLEL_FLAGS)
def sentence_pass(sents, scores, ew, M, shared, floor, emb, clf, grads_on, chunk, work, dtheta):
    r"""Forward + classifier backward for every sentence; returns ``(L, ok)``.

    ``shared``: uses :math:`e_w` (``ew``, shift ``M``) and writes :math:`h_i = g_i/\tilde Z_i`
    to ``G[i]`` and :math:`r_i = c_i\cdot g_i/\tilde Z_i` to ``cg[i]``; ``ok`` is False when
    some :math:`\tilde Z_i <` ``floor`` (then redo with ``shared`` False).  Otherwise
    per-sentence shifts, ``G[i]`` = :math:`g_i = \omega\,\partial\ell_i/\partial c_i`,
    ``cg[i]`` = :math:`c_i\cdot g_i`.  Always ``lse[i]`` = :math:`\Lambda_i`.  When
    ``grads_on`` overwrites ``dtheta`` with the classifier gradient of
    :math:`L = \omega\sum_i\ell_i` (flat layout of numerics/kernels/classifier.py).
    """
    word_ids, offsets, labels, weight = sents
    kind, theta, K, H = clf
    G, lse, cg = work
    n = labels.shape[0]
    d = emb.shape[1]
    nch = (n + chunk - 1) // chunk
    nnz = word_ids.shape[0]
    ahead = PREFETCH_AHEAD
    # per-chunk buffers (the classifier's empty when it is frozen)
    P = dtheta.shape[0] if grads_on else 0
    loss_c = np.zeros(nch)
    bad_c = np.zeros(nch, np.int64)
    dth_c = np.zeros((nch, P))
    for ch in prange(nch):
        i0 = ch * chunk
        B = min(n, i0 + chunk) - i0
        c = np.empty(d)
        Ct = np.empty((d, B))  # the chunk's context vectors, one per column
        Gt = np.empty((d, B))
        invZ = np.empty(B)
        Zt = np.empty((K, B))
        Pre = np.empty((H, B))
        dH = np.empty((H, B))
        bad = 0
        for b in range(B):
            i = i0 + b
            o0 = offsets[i]
            o1 = offsets[i + 1]
            if shared:
                for j in range(d):
                    c[j] = 0.0
                Z = 0.0
                o = o0
                while o + 1 < o1:  # two occurrences per update: halves the dependency chain on c
                    if o + ahead + 1 < nnz:  # hint the rows needed `ahead` occurrences later
                        wa = word_ids[o + ahead]
                        wb = word_ids[o + ahead + 1]
                        prefetch_row(emb, wa)
                        prefetch_row(emb, wb)
                        prefetch_row(ew, wa)
                        prefetch_row(ew, wb)
                    w0 = word_ids[o]
                    w1 = word_ids[o + 1]
                    e0 = ew[w0]
                    e1 = ew[w1]
                    Z += e0 + e1
                    for j in range(d):
                        c[j] += e0 * emb[w0, j] + e1 * emb[w1, j]
                    o += 2
                if o < o1:
                    w0 = word_ids[o]
                    e0 = ew[w0]
                    Z += e0
                    for j in range(d):
                        c[j] += e0 * emb[w0, j]
                if not Z >= floor:
                    bad += 1
                iz = 1.0 / Z
                for j in range(d):
                    Ct[j, b] = c[j] * iz
                lse[i] = M + np.log(Z)
                invZ[b] = iz
            else:
                lse[i] = sentence_context(o0, o1, word_ids, scores, emb, c)
                for j in range(d):
                    Ct[j, b] = c[j]
                invZ[b] = 1.0
        loss_c[ch] = chunk_loss_and_backward(kind, Ct, labels[i0:i0 + B], weight, theta, K, H,
                                             Zt, Pre, dH, Gt, grads_on, dth_c[ch])
        for b in range(B):
            i = i0 + b
            iz = invZ[b]
            cgi = 0.0
            for j in range(d):
                G[i, j] = Gt[j, b] * iz
                cgi += Ct[j, b] * Gt[j, b]
            cg[i] = cgi * iz
        bad_c[ch] = bad
    # merge the chunk buffers in chunk order: the order never depends on the threads
    total = 0.0
    nbad = 0
    for ch in range(nch):
        total += loss_c[ch]
        nbad += bad_c[ch]
    if grads_on:
        for p in range(P):
            acc = 0.0
            for ch in range(nch):
                acc += dth_c[ch, p]
            dtheta[p] = acc
    return weight * total, nbad == 0


@njit(**NUMBA_FLAGS)
def word_grads(w, o0, o1, occ_sent, s_w, e_w, shared, emb, G, lse, cg, dv):
    r"""For word ``w`` (occurrences ``o0..o1-1`` of the transposed index) write
    :math:`\partial L/\partial v_w` into ``dv`` and return :math:`\partial L/\partial s_w`
    (``shared``: :math:`e_w H_w` and :math:`e_w(v_w\cdot H_w - R_w)`; otherwise
    :math:`\sum a_{iw} g_i` and :math:`\sum a_{iw}(v_w\cdot g_i - c_i\cdot g_i)`)."""
    d = emb.shape[1]
    for j in range(d):
        dv[j] = 0.0
    if shared:
        R = 0.0
        o = o0
        nocc = occ_sent.shape[0]
        while o + 1 < o1:  # two occurrences per update: halves the dependency chain on dv
            if o + PREFETCH_AHEAD + 1 < nocc:  # hint the rows needed a few occurrences later
                prefetch_row(G, occ_sent[o + PREFETCH_AHEAD])
                prefetch_row(G, occ_sent[o + PREFETCH_AHEAD + 1])
            i0 = occ_sent[o]
            i1 = occ_sent[o + 1]
            R += cg[i0] + cg[i1]
            for j in range(d):
                dv[j] += G[i0, j] + G[i1, j]
            o += 2
        if o < o1:
            i0 = occ_sent[o]
            R += cg[i0]
            for j in range(d):
                dv[j] += G[i0, j]
        vH = 0.0
        for j in range(d):
            vH += emb[w, j] * dv[j]
            dv[j] *= e_w
        return e_w * (vH - R)
    ds = 0.0
    for o in range(o0, o1):
        i = occ_sent[o]
        a = np.exp(s_w - lse[i])
        vg = 0.0
        for j in range(d):
            gij = G[i, j]
            vg += emb[w, j] * gij
            dv[j] += a * gij
        ds += a * (vg - cg[i])
    return ds


@njit(**NUMBA_PARALLEL_FLAGS)
def word_pass(words, scores, ew, shared, emb, work, rates, chunk, grad_v, grad_s):
    r"""Per distinct word ``w = uw[u]``: when ``grad_s`` is not empty write the gradients
    to ``grad_v[u]``, ``grad_s[u]``; otherwise update in place
    :math:`v_w \leftarrow v_w - \eta_v\,\partial L/\partial v_w`,
    :math:`s_w \leftarrow s_w - \eta_s\,\partial L/\partial s_w` (the driver passes
    :math:`\eta_s = \eta_k|q|^2` as ``rates.s``; 0 freezes)."""
    uw, uptr, occ_sent = words
    G, lse, cg = work
    lr_v, lr_s = rates.v, rates.s
    U = uw.shape[0]
    d = emb.shape[1]
    nch = (U + chunk - 1) // chunk
    store = grad_s.shape[0] > 0
    for ch in prange(nch):
        dv = np.empty(d)
        for u in range(ch * chunk, min(U, (ch + 1) * chunk)):
            w = uw[u]
            ds = word_grads(w, uptr[u], uptr[u + 1], occ_sent, scores[w], ew[w], shared, emb,
                            G, lse, cg, dv)
            if store:
                grad_s[u] = ds
                for j in range(d):
                    grad_v[u, j] = dv[j]
            else:
                if lr_v != 0.0:
                    for j in range(d):
                        emb[w, j] -= lr_v * dv[j]
                if lr_s != 0.0:
                    scores[w] -= lr_s * ds


@njit(**NUMBA_FLAGS)
def forward_backward(sents, uw, scores, emb, exps, clf, grads_on, chunk_s, work, dtheta):
    r"""Shared exps (when ``exps.try_shared``), then the sentence pass, redone with
    per-sentence shifts if a partition underflows.  Returns ``(L, shared)``: the
    loss and which form ``G``/``cg`` hold, for :func:`word_pass`."""
    ew, try_shared, floor = exps
    M = shared_exp(uw, scores, ew)
    loss, ok = sentence_pass(sents, scores, ew, M, try_shared, floor, emb, clf, grads_on, chunk_s, work,
                             dtheta)
    shared = try_shared and ok
    if not ok:  # ok is False here: the same (non-literal) flag selects per-sentence shifts
        loss, ok = sentence_pass(sents, scores, ew, M, ok, floor, emb, clf, grads_on, chunk_s, work, dtheta)
    return loss, shared


@njit(**NUMBA_FLAGS)
def epoch_scores(sents, words, scores, emb, exps, clf, rates, chunks, work, dtheta):
    r"""One gradient-descent step on the sentences given (a full batch or one
    mini-batch; :math:`\omega` = ``weight``), all parameters updated from the
    gradients at the old point.  Returns the loss :math:`L` *before* the step.
    ``exps.ew`` (V), ``work`` (n x d_e, n, n) and ``dtheta`` are work buffers."""
    theta, lr_c = clf.theta, rates.c
    grads_on = lr_c != 0.0
    loss, shared = forward_backward(sents, words.uw, scores, emb, exps, clf, grads_on, chunks.sentences,
                                    work, dtheta)
    word_pass(words, scores, exps.ew, shared, emb, work, rates, chunks.words, emb[:0], scores[:0])
    if grads_on:
        for p in range(theta.shape[0]):
            theta[p] -= lr_c * dtheta[p]
    return loss


@njit(**NUMBA_PARALLEL_FLAGS)
def forward_eval(sents, scores, emb, clf, chunk, lse, pred):
    r"""Forward pass only (per-sentence shifts): writes :math:`\Lambda_i` and the predicted
    class of each sentence; returns the summed loss :math:`\sum_i \ell_i` (not divided by n;
    ``sents.weight`` is not used)."""
    word_ids, offsets, labels, _ = sents
    kind, theta, K, H = clf
    n = labels.shape[0]
    d = emb.shape[1]
    nch = (n + chunk - 1) // chunk
    loss_c = np.zeros(nch)
    for ch in prange(nch):
        c = np.empty(d)
        z = np.empty(K)
        pre = np.empty(H)
        acc = 0.0
        for i in range(ch * chunk, min(n, (ch + 1) * chunk)):
            lse[i] = sentence_context(offsets[i], offsets[i + 1], word_ids, scores, emb, c)
            li, best = predict(kind, c, theta, K, H, z, pre, labels[i])
            acc += li
            pred[i] = best
        loss_c[ch] = acc
    total = 0.0
    for ch in range(nch):
        total += loss_c[ch]
    return total
