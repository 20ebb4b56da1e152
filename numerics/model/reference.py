r"""The one vectorised NumPy reference of the full model's loss and gradients.

Sentence :math:`i` holds word occurrences :math:`w_j` (``word_ids[offsets[i]:offsets[i+1]]``);
:math:`a_{ij}=\mathrm{softmax}_j(s_{w_j})`, :math:`c_i=\sum_j a_{ij}v_{w_j}`, the classifier
(:func:`attndyn.numerics.model.classifiers.loss_and_grads`) gives :math:`L=\frac1n\sum_i\ell_i`
and :math:`g_i=\partial L/\partial c_i`; then

.. math::  \partial L/\partial v_w=\sum_{(i,j):w_j=w} a_{ij}g_i, \qquad
           \partial L/\partial s_w=\sum_{(i,j):w_j=w} a_{ij}\,g_i\cdot(v_w-c_i).

Used by the full-model gradient flow (:mod:`attndyn.numerics.flow.full`) and the benchmark's
NumPy twin (:mod:`attndyn.numerics.experiments.bench`); checked against the loop-based twin
in ``tests/naive.py``, as the numba kernels are.
"""
from __future__ import annotations

import numpy as np

from attndyn.numerics.model import classifiers as clf


def loss_and_grads(kind: str, theta: dict, E: np.ndarray, scores: np.ndarray, word_ids: np.ndarray,
                   offsets: np.ndarray, labels: np.ndarray, *, block: int | None = None
                   ) -> tuple[float, np.ndarray, np.ndarray, dict]:
    """``(L, dL/dE (V, d_e), dL/ds (V,), dL/dtheta)`` at one point, the mean over the sentences.

    Sentences are processed ``block`` at a time (all at once by default) to bound memory; every
    gradient is taken at the same point whatever the block."""
    n = len(labels)
    V, d = E.shape
    lengths = np.diff(offsets)
    block = n if block is None else max(1, int(block))
    L, dE, ds, dtheta = 0.0, np.zeros((V, d)), np.zeros(V), None
    for i0 in range(0, n, block):
        i1 = min(n, i0 + block)
        nb, o0 = i1 - i0, offsets[i0]
        ids = word_ids[o0:offsets[i1]]
        starts = offsets[i0:i1] - o0
        sent = np.repeat(np.arange(nb), lengths[i0:i1])
        sc = scores[ids]
        e = np.exp(sc - np.maximum.reduceat(sc, starts)[sent])  # per-sentence max: stable softmax
        a = e / np.bincount(sent, weights=e, minlength=nb)[sent]
        Ew = E[ids]
        aE = a[:, None] * Ew
        C = np.stack([np.bincount(sent, weights=aE[:, k], minlength=nb) for k in range(d)], axis=1)
        weights = None if nb == n else np.full(nb, 1.0 / n)  # None: the mean over all (one block)
        Lb, G, gth = clf.loss_and_grads(kind, theta, C, labels[i0:i1], weights)
        Gs = G[sent]
        aG = a[:, None] * Gs
        dEb = np.stack([np.bincount(ids, weights=aG[:, k], minlength=V) for k in range(d)], axis=1)
        occ = a * np.einsum("ij,ij->i", Gs, Ew - C[sent])
        dsb = np.bincount(ids, weights=occ, minlength=V)
        if nb == n:  # one block: the result as computed, no accumulation round-off
            return Lb, dEb, dsb, gth
        L += Lb
        dE += dEb
        ds += dsb
        dtheta = gth if dtheta is None else {k: dtheta[k] + gth[k] for k in gth}
    return L, dE, ds, ({} if dtheta is None else dtheta)
