r"""numba kernels: the word -> occurrences index (a CSR transpose) the word passes walk.

For sentences in CSR layout (``word_ids``, ``offsets``) the index lists, for each
distinct word ``uw[u]`` (ascending), the sentences of its occurrences
``occ_sent[uptr[u]:uptr[u+1]]`` in ascending sentence order (a word repeated in a
sentence appears once per occurrence).  Built by a counting sort: O(nnz + V)
time, no comparison sort.
"""
from __future__ import annotations

import numpy as np
from numba import njit

from attndyn.proofs.settings import NUMBA_FLAGS


@njit(**NUMBA_FLAGS)
def word_index(word_ids, offsets, vocab_size):
    """Return ``(uw, uptr, occ_sent)`` for the sentences; ids must be in ``0..vocab_size-1``."""
    n = offsets.shape[0] - 1
    count = np.zeros(vocab_size + 1, np.int64)
    for o in range(offsets[0], offsets[n]):
        count[word_ids[o] + 1] += 1
    U = 0
    for w in range(vocab_size):
        if count[w + 1] > 0:
            U += 1
    uw = np.empty(U, np.int64)
    uptr = np.empty(U + 1, np.int64)
    u = 0
    for w in range(vocab_size):
        if count[w + 1] > 0:
            uw[u] = w
            u += 1
    # prefix sums: count[w] becomes the first slot of word w
    for w in range(vocab_size):
        count[w + 1] += count[w]
    for u in range(U):
        uptr[u] = count[uw[u]]
    uptr[U] = count[vocab_size]
    occ_sent = np.empty(count[vocab_size], np.int64)
    for i in range(n):
        for o in range(offsets[i], offsets[i + 1]):
            w = word_ids[o]
            occ_sent[count[w]] = i
            count[w] += 1
    return uw, uptr, occ_sent
