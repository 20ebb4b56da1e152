"""The one specification of the classifiers: which kinds exist, their parameters, which
of them train, how they sit in the kernels' flat parameter vector.

* ``fc`` — fixed linear (the paper's FC): logits :math:`W^\\top c`, ``W`` (d_e, K), frozen;
* ``tc`` — trainable linear (TC): the same, ``W`` trains;
* either linear kind may carry a bias ``b`` (K), logits :math:`W^\top c + b` (the authors' TC is
  a PyTorch ``nn.Linear``, which has one); it trains with ``W``;
* ``tl`` — two-layer ReLU (TL): ``W1`` (d_e, H), ``b1`` (H), ``W2`` (H, K), ``b2`` (K), all train.

Only the linear kinds take a given classifier matrix.  Everything that needs one of these
facts (the NumPy reference, the kernels' driver, the flows, the config checks) reads it here.
"""
from __future__ import annotations

KINDS = ("fc", "tc", "tl")
LINEAR_KINDS = ("fc", "tc")  # logits W^T c; the only kinds that take a classifier matrix
PARAMETERS = {"fc": ("W",), "tc": ("W",), "tl": ("W1", "b1", "W2", "b2")}
TRAINABLE = {"fc": (), "tc": ("W",), "tl": ("W1", "b1", "W2", "b2")}  # trained by gradient flow/descent
OUTPUT_WEIGHT = {"fc": "W", "tc": "W", "tl": "W2"}  # the array whose last axis is the K classes

LINEAR = 0  # kernel code of the linear kinds
TWO_LAYER = 1  # kernel code of tl
KIND_CODES = {"fc": LINEAR, "tc": LINEAR, "tl": TWO_LAYER}


def is_linear(kind: str) -> bool:
    return kind in LINEAR_KINDS


def trains_classifier(kind: str) -> bool:
    """Whether the classifier's parameters train by default (``tc``, ``tl``)."""
    return bool(TRAINABLE[kind])


def layout(kind: str, d: int, K: int, H: int, bias: bool = False) -> dict[str, tuple[int, tuple[int, ...]]]:
    """Name -> (offset, shape) of each classifier array inside the kernels' flat vector θ
    (row-major blocks in :data:`PARAMETERS` order; a linear kind's optional bias ``b`` last)."""
    if KIND_CODES[kind] == LINEAR:
        return {"W": (0, (d, K)), "b": (d * K, (K,))} if bias else {"W": (0, (d, K))}
    return {"W1": (0, (d, H)), "b1": (d * H, (H,)), "W2": (d * H + H, (H, K)),
            "b2": (d * H + H + H * K, (K,))}
