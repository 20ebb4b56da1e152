r"""Floors for ``attndyn bench``: what one training epoch cannot be faster than, measured here.

An epoch of the fixed-query kernel (numerics/kernels/scores.py) makes two passes over the
:math:`\mathrm{nnz}` word occurrences:

* the sentence pass gathers, for every occurrence :math:`(i, w)`, the row :math:`v_w` (and
  :math:`e_w`) into the context :math:`c_i = \sum_w e_w v_w / \tilde Z_i`;
* the word pass gathers, for every occurrence, the row :math:`h_i` of its sentence into
  :math:`H_w = \sum_{(i,w)} h_i` and writes the word's row :math:`v_w` once.

**Memory floor** (:func:`gather_scatter`): the same two passes over the *same* CSR index,
the same embedding table and a per-sentence table of the same shape and dtype, with no
arithmetic beyond one add per element — the minimum memory traffic of an epoch laid out
this way.  Its time, measured in the kernel's own process right after the kernel, is the
floor the kernel's epoch is compared with (``kernel / floor``).

**Arithmetic floor** (:func:`flops_per_occurrence`, :func:`peak_flops`): the kernel's
floating-point operations per occurrence, :math:`2d + 1` in the sentence pass (:math:`c \mathrel{+}= e_w v_w`,
:math:`Z \mathrel{+}= e_w`) and :math:`d + 1` in the word pass (:math:`H \mathrel{+}= h_i`,
:math:`R \mathrel{+}= r_i`), divided by the machine's multiply-add rate measured on an
in-cache loop (:func:`peak_flops`).  Per-sentence and per-word terms (the classifier,
one exp per word) are left out, so this is a lower bound.
"""
from __future__ import annotations

import time

import numpy as np
from numba import njit, prange

from attndyn.proofs.settings import NUMBA_FLAGS, NUMBA_PARALLEL_FLAGS


@njit(**NUMBA_PARALLEL_FLAGS)
def gather_scatter(word_ids, offsets, uw, uptr, occ_sent, emb, ctx, chunk_s, chunk_w):
    """The memory floor: ``ctx[i] = sum of emb[w] over sentence i``, then
    ``emb[w] += 0 * sum of ctx[i] over w's occurrences`` (written, so not optimised away,
    and leaving ``emb`` unchanged for finite values).  Returns a checksum of ``ctx``."""
    n = offsets.shape[0] - 1
    d = emb.shape[1]
    nch = (n + chunk_s - 1) // chunk_s
    for ch in prange(nch):
        c = np.empty(d)
        for i in range(ch * chunk_s, min(n, (ch + 1) * chunk_s)):
            for j in range(d):
                c[j] = 0.0
            for o in range(offsets[i], offsets[i + 1]):
                w = word_ids[o]
                for j in range(d):
                    c[j] += emb[w, j]
            for j in range(d):
                ctx[i, j] = c[j]
    U = uw.shape[0]
    ncw = (U + chunk_w - 1) // chunk_w
    for ch in prange(ncw):
        acc = np.empty(d)
        for u in range(ch * chunk_w, min(U, (ch + 1) * chunk_w)):
            for j in range(d):
                acc[j] = 0.0
            for o in range(uptr[u], uptr[u + 1]):
                i = occ_sent[o]
                for j in range(d):
                    acc[j] += ctx[i, j]
            w = uw[u]
            for j in range(d):
                emb[w, j] += 0.0 * acc[j]
    total = 0.0
    for j in range(d):
        total += ctx[0, j]
    return total


def flops_per_occurrence(d: int) -> int:
    """Floating-point operations per word occurrence in the kernel's two passes: ``3 d + 2``."""
    return (2 * d + 1) + (d + 1)


@njit(**NUMBA_FLAGS)
def _fma_loop(x, y, reps):
    # eight independent accumulators: the loop is limited by throughput, not latency
    d = x.shape[0]
    acc = np.zeros((8, d))
    for r in range(reps):
        for k in range(8):
            for j in range(d):
                acc[k, j] += x[j] * y[j]
    return acc.sum()


def peak_flops(d: int = 16, seconds: float = 0.2) -> float:
    """One thread's measured multiply-add rate on in-cache data (floating-point operations per
    second, a multiply-add counting 2), the best of a few timed runs of about ``seconds``."""
    x = np.linspace(0.5, 1.5, d)
    y = np.linspace(1e-9, 2e-9, d)
    _fma_loop(x, y, 1)
    reps = 1000
    while True:
        t = time.perf_counter()
        _fma_loop(x, y, reps)
        dt = time.perf_counter() - t
        if dt > seconds / 5 or reps > 1 << 30:
            break
        reps *= 4
    best = dt
    for _ in range(4):
        t = time.perf_counter()
        _fma_loop(x, y, reps)
        best = min(best, time.perf_counter() - t)
    return 2.0 * 8 * d * reps / best
