"""The kernels' argument bundles: named tuples of arrays and scalars.

A call site builds each bundle by field name, so it cannot swap two arrays (or two learning
rates) of the same type as a 20-argument positional call could; numba passes the bundles as
(named) tuples and every kernel unpacks them at its top.  No code here runs in a kernel.
"""
from __future__ import annotations

from collections import namedtuple

# the sentences of one step: flattened word ids, offsets (n + 1), labels, the batch weight ω
Sentences = namedtuple("Sentences", "word_ids offsets labels weight")
# the distinct words of a batch (uw), their occurrences uptr[u]..uptr[u+1] and each occurrence's sentence
WordIndex = namedtuple("WordIndex", "uw uptr occ_sent")
# the shared-exponential path: buffer e_w = exp(s_w - max s), whether to try it, its underflow floor
SharedExp = namedtuple("SharedExp", "ew try_shared floor")
# the classifier: kernel code (attndyn.numerics.model.spec.KIND_CODES), flat θ, classes K, hidden H
Classifier = namedtuple("Classifier", "kind theta K H")
# learning rates: embeddings, scores (η_k|q|² with a fixed query) or keys, query, classifier; 0 freezes
Rates = namedtuple("Rates", "v s q c")
# the fixed reduction chunks (attndyn.proofs.settings.KERNEL): sentences, words
Chunks = namedtuple("Chunks", "sentences words")
# per-sentence work arrays: G = ∂(ωℓ_i)/∂c_i (n x d_e), lse = Λ_i (n), cg = c_i·G_i (n)
Work = namedtuple("Work", "G lse cg")


def rates(v: float = 0.0, s: float = 0.0, q: float = 0.0, c: float = 0.0) -> Rates:
    """Learning rates as floats (one compiled signature whatever the caller passes)."""
    return Rates(float(v), float(s), float(q), float(c))
