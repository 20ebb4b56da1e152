r"""numba kernels: one gradient-descent step with explicit keys (the query may be trained).

When the query :math:`q` is trainable the scores cannot be kept alone: every
step recomputes :math:`s_w = q\cdot k_w` from the keys (V x d_k) and uses

.. math::
    \frac{\partial L}{\partial k_w} = \frac{\partial L}{\partial s_w}\,q, \qquad
    \frac{\partial L}{\partial q} = \sum_w \frac{\partial L}{\partial s_w}\,k_w,

with :math:`\partial L/\partial s_w` and :math:`\partial L/\partial v_w` from the same
sentence and word passes as the fixed-query kernels (numerics/kernels/scores.py,
whose docstring gives the model and the two-pass layout).  The sum over words
for :math:`\partial L/\partial q` is accumulated per fixed chunk of words and the
chunks merged in order, so results do not depend on the thread count.
"""
from __future__ import annotations

import numpy as np
from numba import njit, prange

from attndyn.numerics.kernels.scores import forward_backward, word_grads
# numba's cache (cache=True) stamps this file only: the scores.py (and classifier.py) kernels called here are compiled
# into its cache entries, so an edit there alone leaves a stale kernel in use (seen with the
# linear bias, issue 11). After editing scores.py, touch this file or clear __pycache__/*.nb[ic].
from attndyn.proofs.settings import NUMBA_FLAGS, NUMBA_PARALLEL_FLAGS


@njit(**NUMBA_PARALLEL_FLAGS)
def key_scores(uw, keys, q, scores):
    r""":math:`s_w = q\cdot k_w` for the words ``uw`` (written into ``scores``)."""
    dk = keys.shape[1]
    for u in prange(uw.shape[0]):
        w = uw[u]
        acc = 0.0
        for j in range(dk):
            acc += keys[w, j] * q[j]
        scores[w] = acc


@njit(**NUMBA_PARALLEL_FLAGS)
def word_pass_keys(words, scores, ew, shared, emb, keys, q, work, rates, chunk, grad_v, grad_s, dq):
    r"""Per distinct word ``w = uw[u]``: :math:`\partial L/\partial v_w`, :math:`\partial L/\partial s_w`;
    writes :math:`\partial L/\partial q = \sum_w (\partial L/\partial s_w) k_w` (old keys) into ``dq``.
    When ``grad_s`` is not empty the word gradients go to ``grad_v[u]``, ``grad_s[u]``;
    otherwise :math:`v_w \mathrel{-}= \eta_v\,\partial L/\partial v_w` and
    :math:`k_w \mathrel{-}= \eta_k(\partial L/\partial s_w)\,q` in place (old ``q``; :math:`\eta_k` = ``rates.s``)."""
    uw, uptr, occ_sent = words
    G, lse, cg = work
    lr_v, lr_k = rates.v, rates.s
    U = uw.shape[0]
    d = emb.shape[1]
    dk = keys.shape[1]
    nch = (U + chunk - 1) // chunk
    store = grad_s.shape[0] > 0
    dq_c = np.zeros((nch, dk))
    for ch in prange(nch):
        dv = np.empty(d)
        for u in range(ch * chunk, min(U, (ch + 1) * chunk)):
            w = uw[u]
            ds = word_grads(w, uptr[u], uptr[u + 1], occ_sent, scores[w], ew[w], shared, emb,
                            G, lse, cg, dv)
            for j in range(dk):
                dq_c[ch, j] += ds * keys[w, j]
            if store:
                grad_s[u] = ds
                for j in range(d):
                    grad_v[u, j] = dv[j]
            else:
                if lr_v != 0.0:
                    for j in range(d):
                        emb[w, j] -= lr_v * dv[j]
                if lr_k != 0.0:
                    for j in range(dk):
                        keys[w, j] -= lr_k * ds * q[j]
    for j in range(dk):
        acc = 0.0
        for ch in range(nch):
            acc += dq_c[ch, j]
        dq[j] = acc


@njit(**NUMBA_FLAGS)
def epoch_keys(sents, words, scores, emb, keys, q, exps, clf, rates, chunks, work, dtheta, dq):
    r"""One gradient-descent step with explicit keys: scores from the keys, the
    sentence pass, the word pass (embeddings and keys updated in place), then
    :math:`q \leftarrow q - \eta_q\,\partial L/\partial q` and the classifier step, all from
    gradients at the old point.  Returns the loss before the step.  ``scores``
    and ``ew`` (length V) are scratch."""
    theta, lr_q, lr_c = clf.theta, rates.q, rates.c
    key_scores(words.uw, keys, q, scores)
    grads_on = lr_c != 0.0
    loss, shared = forward_backward(sents, words.uw, scores, emb, exps, clf, grads_on, chunks.sentences,
                                    work, dtheta)
    word_pass_keys(words, scores, exps.ew, shared, emb, keys, q, work, rates, chunks.words, emb[:0],
                   scores[:0], dq)
    if lr_q != 0.0:
        for j in range(q.shape[0]):
            q[j] -= lr_q * dq[j]
    if grads_on:
        for p in range(theta.shape[0]):
            theta[p] -= lr_c * dtheta[p]
    return loss
