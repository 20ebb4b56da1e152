r"""Checks that a training run's numbers still mean something: the loss's precision and overflow.

*Precision.*  The cross-entropy of sentence i is :math:`\ell_i = \log\sum_j e^{z_{ij}} - z_{iy}`
with logits :math:`z_i = f(c_i)` (fc/tc: :math:`c_i W`).  Each logit carries a rounding error of
about :math:`\varepsilon|z_{ij}|` (:math:`\varepsilon` the float type's machine epsilon), so the
computed loss is only known to :math:`\delta = \varepsilon\max_{ij}|z_{ij}|` — a classifier
matrix of 1e308 gives logits near 1e306 and a computed loss of 0.0 where the true one is
:math:`\log K`.  When :math:`\delta` exceeds ``TRAINING.loss_precision_atol`` (nats) the run ends
as ``precision-lost``.  The check is cheap: the bound :math:`|z| \le \max_w|v_w|\,\|W\|_F` (Frobenius, :math:`\ge \|W\|_2`)
(:math:`c_i` is a convex combination of embeddings; tl: :math:`\|W_2\|(\|W_1\|\max|v| + |b_1|) + |b_2|`)
is computed at every record, and the logits themselves only when the bound exceeds the threshold.

*Overflow.*  A parameter that is :math:`\pm\infty` (not NaN) overflowed its float type:
float32 ends at 3.4e38, so a matrix of 1e308 becomes inf when the run is float32.
"""
from __future__ import annotations

import math

import numpy as np

from attndyn.numerics.model import classifiers as cl
from attndyn.proofs.settings import TRAINING


def _opnorm(a) -> float:
    """An upper bound of the operator norm: the Frobenius norm (>= the spectral norm; an SVD at
    every record cost more than the rest of the check).  Fast path ``sqrt(a.a)`` while the sum of
    squares is a normal float64; else (1e308 entries overflow it, 1e-160 ones underflow it)
    scaled by ``max|a|`` first.  Both are rounded; :func:`logit_bound` adds a margin for that."""
    a = np.asarray(a, dtype=np.float64)
    if a.size == 0:
        return 0.0
    ss = float(np.vdot(a, a))
    if _NORMAL_SUMSQ <= ss < math.inf:  # squares below ~1e-290 would drop out: scaled path
        return math.sqrt(ss)
    with np.errstate(over="ignore", invalid="ignore"):
        scale = float(np.max(np.abs(a)))
        if not np.isfinite(scale) or scale == 0.0:
            return scale
        b = a / scale
        return scale * float(np.sqrt(np.vdot(b, b)))


_NORMAL_SUMSQ = 1e-290  # a sum of squares above this lost at most ~1e-18 of itself to underflowed terms
# The bound is only a filter in front of the exact check (max_logit): a looser bound runs that
# check more often, a tighter-than-true one could skip it.  Its parts (Frobenius norms, the largest
# row norm, possibly from the trajectory's float32-product record) are rounded to ~1e-7 relative at
# worst, so the bound is inflated by this factor to stay >= the exactly computed one.
BOUND_MARGIN = 1.0 + 1e-6


def logit_bound(model, vmax: float | None = None) -> float:
    """An upper bound of :math:`\\max_{i,j}|z_{ij}|` from the parameters alone (see the module docstring).
    ``vmax``: :math:`\\max_w|v_w|` if the caller has it already (the training loop takes it from the
    record it just staged: :func:`attndyn.numerics.training.train.Trajectory.max_norm`), else computed."""
    with np.errstate(over="ignore", invalid="ignore"):
        if vmax is None:
            E = model.embeddings
            # row norms in float64 without a float64 copy of the table
            vmax = float(np.sqrt(np.max(np.einsum("ij,ij->i", E, E, dtype=np.float64)))) if E.size else 0.0
        c = model.classifier
        if model.kind == "tl":
            hidden = _opnorm(c["W1"]) * vmax + _opnorm(c["b1"])
            return BOUND_MARGIN * (_opnorm(c["W2"]) * hidden + _opnorm(c["b2"]))
        return BOUND_MARGIN * _opnorm(c["W"]) * vmax


_EPS = {"d": float(np.finfo(np.float64).eps), "f": float(np.finfo(np.float32).eps)}  # np.finfo per record cost ~10 us


def max_logit(model, corpus) -> float:
    r""":math:`\max_{i,j}|z_{ij}|` over the sentences of ``corpus`` (contexts
    :math:`c_i = \sum_w a_{iw} v_w` from the current scores), in float64."""
    _, lse, _ = model.evaluate(corpus.word_ids, corpus.offsets, corpus.labels)
    with np.errstate(over="ignore", invalid="ignore"):
        sent = np.repeat(np.arange(corpus.n_sentences), np.diff(corpus.offsets))
        a = np.exp(model.scores.astype(np.float64)[corpus.word_ids] - lse.astype(np.float64)[sent])
        C = np.add.reduceat(a[:, None] * model.embeddings.astype(np.float64)[corpus.word_ids],
                            corpus.offsets[:-1], axis=0)
        params = {k: v.astype(np.float64) for k, v in model.classifier.items()}
        Z = cl.logits(model.kind, params, C)
        return float(np.max(np.abs(Z))) if Z.size else 0.0


def precision_problem(model, corpus, vmax: float | None = None) -> str | None:
    """None while the loss is known to ``TRAINING.loss_precision_atol``, else the reason (one clause).
    ``vmax``: :math:`\\max_w|v_w|` when known (see :func:`logit_bound`)."""
    eps = _EPS[model.embeddings.dtype.char] if model.embeddings.dtype.char in _EPS else float(
        np.finfo(model.embeddings.dtype).eps)
    atol = TRAINING.loss_precision_atol
    if not eps * logit_bound(model, vmax) > atol:  # also True for a NaN bound: the loss check handles NaN
        return None
    z = max_logit(model, corpus)
    delta = eps * z
    if not delta > atol or np.isnan(delta):
        return None
    return (f"the logits reach |z| = {z:.3g}, so the {model.dtype} loss is only known to "
            f"+-{delta:.3g} nats (machine epsilon {eps:.3g} x |z|; tolerance "
            f"TRAINING.loss_precision_atol = {atol:g})")


def overflowed(model) -> list[str]:
    """The parameter groups holding +-inf (overflow), e.g. ``["classifier.W"]``."""
    groups = {"embeddings": model.embeddings, "scores": model.scores, "query": model.query}
    groups.update({f"classifier.{k}": v for k, v in model.classifier.items()})
    return [name for name, a in groups.items() if np.isinf(a).any()]


def overflow_message(model, where: str, lr: float) -> str:
    bad = overflowed(model)
    if model.dtype == "float32":
        hint = ('Hint: float32 ends at 3.4e38; run with train.dtype = "float64"'
                + (f", or a smaller train.lr than {lr:g}" if where != "at the start" else
                   ", or scale the classifier matrix down"))
    else:
        hint = f"Hint: train.lr = {lr:g} is probably too large; try {lr / 10:g}"
    return (f"overflow {where}: {', '.join(bad)} became inf in {model.dtype}. {hint}")
