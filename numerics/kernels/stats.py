r"""numba kernels: the per-record statistics of a training trajectory.

One pass over the vocabulary gives the topic words' scores :math:`s_t` and
embedding norms :math:`|v_t|`, and over the other words the mean score, the
largest :math:`|s_w|`, the mean norm and the largest norm.  Serial on purpose:
it runs once per recorded epoch and its sums must not depend on threads.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from attndyn.proofs.settings import NUMBA_FLAGS


@njit(**NUMBA_FLAGS)
def record_stats(scores, emb, topic_words, is_topic, out_scores, out_norms):
    r"""Write :math:`s_t`, :math:`|v_t|` of ``topic_words`` into ``out_scores``/``out_norms``;
    return (mean :math:`s_w`, max :math:`|s_w|`, mean :math:`|v_w|`, max :math:`|v_w|`) over
    the words with ``is_topic`` false (NaN when there are none)."""
    d = emb.shape[1]
    for t in range(topic_words.shape[0]):
        w = topic_words[t]
        out_scores[t] = scores[w]
        acc = 0.0
        for j in range(d):
            acc += emb[w, j] * emb[w, j]
        out_norms[t] = np.sqrt(acc)
    n = 0
    s_sum = 0.0
    s_max = 0.0
    n_sum = 0.0
    n_max = 0.0
    for w in range(scores.shape[0]):
        if is_topic[w]:
            continue
        n += 1
        s = scores[w]
        s_sum += s
        if abs(s) > s_max or s != s:
            s_max = abs(s)
        acc = 0.0
        for j in range(d):
            acc += emb[w, j] * emb[w, j]
        nv = np.sqrt(acc)
        n_sum += nv
        if nv > n_max or nv != nv:
            n_max = nv
    if n == 0:
        return np.nan, np.nan, np.nan, np.nan
    return s_sum / n, s_max, n_sum / n, n_max


@njit(**NUMBA_FLAGS)
def sentence_sums(word_ids, offsets, scores, emb, P, NV):
    r"""Per sentence :math:`i`: :math:`P_i = \sum_{w\in S_i} e^{s_w}` and
    :math:`N_i = \sum_{w\in S_i} e^{s_w} v_w` (unshifted: the residual budget's derived formulas
    are in :math:`e^{s}`, numerics/training/budget.py), written into ``P`` (n) and ``NV`` (n x d).
    Serial: one pass in sentence order, so the sums do not depend on threads."""
    d = emb.shape[1]
    for i in range(offsets.shape[0] - 1):
        p = 0.0
        for j in range(d):
            NV[i, j] = 0.0
        for o in range(offsets[i], offsets[i + 1]):
            w = word_ids[o]
            e = np.exp(scores[w])
            p += e
            for j in range(d):
                NV[i, j] += e * emb[w, j]
        P[i] = p
