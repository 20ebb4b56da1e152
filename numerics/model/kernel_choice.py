r"""Which kernel path ``train.kernel = "auto"`` takes for a linear classifier (issue 13).

Three paths compute the same gradient-descent step and agree to rounding: the d_e-wide kernels
(numerics/kernels/scores.py), the K-wide low-rank ones (lowrank.py) and the fused step (fused.py).
The rules below choose by size, from measurements recorded beside the thresholds in
``proofs/settings.py`` (``KERNEL``); :class:`attndyn.numerics.model.attention.AttentionModel`
applies them together with each path's own conditions (fixed query, shared exponentials, ...).
"""
from __future__ import annotations

from attndyn.numerics.kernels.fused import ROW
from attndyn.proofs.settings import KERNEL


def auto_lowrank(vocab_size: int, d_e: int, n_classes: int) -> bool:
    """``train.kernel = "auto"`` for a linear classifier: the K-wide kernels when K < d_e and either
    d_e is several times K or the embedding table is out of cache (``KERNEL.lowrank_min_*``, with
    the measurements behind them)."""
    if n_classes >= d_e:
        return False
    return (d_e >= KERNEL.lowrank_min_width_ratio * n_classes
            or vocab_size * d_e * 8 >= KERNEL.lowrank_min_table_bytes)


def auto_fused(vocab_size: int, d_e: int, n_classes: int) -> bool:
    """``train.kernel = "auto"`` where the fused step applies (numerics/kernels/fused.py): when its
    ``KERNEL.fused_groups`` accumulators of V x 8 floats stay in cache (``KERNEL.fused_max_table_bytes``)
    and the per-word d_e-wide work does not dominate (d_e < ``KERNEL.lowrank_min_width_ratio`` K; with
    wider embeddings lowrank.py's parallel projection is faster: measured at the SST sizes, see KERNEL)."""
    return (KERNEL.fused_groups * vocab_size * ROW * 8 <= KERNEL.fused_max_table_bytes
            and d_e < KERNEL.lowrank_min_width_ratio * n_classes)
