r"""A short full-batch run that records the topic words after *every* step, with per-group rates.

:func:`tracked_run` trains the model of a :class:`~attndyn.numerics.config.schema.RunConfig`
(its corpus, initialisation and classifier) with the numba kernels, but with a learning
rate per parameter group, :math:`v \leftarrow v - \eta\eta_v\nabla_v L`,
:math:`k \leftarrow k - \eta\eta_k\nabla_k L` (and :math:`\eta\eta_c` for a trainable
classifier), which :func:`attndyn.numerics.training.train.train` (one ``train.lr`` for every
group) does not offer.  It keeps, after each of the ``epochs`` steps (record 0 is the start),
every topic word's score :math:`s_t`, embedding :math:`v_t` and the loss — what the paper's
claims about single words (SEN with :math:`\eta_v\ne\eta_k`, mutual suppression) are decided on.

``init(model, corpus)`` may edit the freshly initialised :class:`AttentionModel` (e.g. put one
embedding against its label's classifier column) before the first step; the caller states what
it does (the claims say it in their assumptions).
"""
from __future__ import annotations

from dataclasses import dataclass
import math
import time
from typing import Callable

import numba
import numpy as np

from attndyn.numerics.config.schema import RunConfig
from attndyn.numerics.data.corpus import mean_length_minus_one
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.numerics.training.train import load_corpus


@dataclass
class TrackedRun:
    """Per record r = 0..epochs (the state after r steps): ``s[r, t]``, ``v[r, t, :]``,
    ``loss[r]`` (the loss at that state; the last one evaluated after the final step)."""

    config: RunConfig
    rates: dict  # lr_embeddings, lr_keys, lr_classifier as passed to the kernel
    topic_words: np.ndarray
    topic_labels: np.ndarray
    topic_m: np.ndarray  # mean length - 1 of each topic word's training sentences
    q_norm: float
    s: np.ndarray
    v: np.ndarray
    loss: np.ndarray
    model: AttentionModel
    seconds: float
    finite: bool

    @property
    def norms(self) -> np.ndarray:
        return np.linalg.norm(self.v, axis=2)


def tracked_run(cfg: RunConfig, epochs: int, *, lr_v: float, lr_k: float, lr_c: float | None = None,
                init: Callable[[AttentionModel, object], None] | None = None,
                freeze_nontopic: bool = False) -> TrackedRun:
    """Train ``cfg`` for ``epochs`` full-batch steps with rates ``lr_v``, ``lr_k`` (and ``lr_c``,
    default ``lr_v``, when the classifier trains), one numba thread (bitwise the same for any
    count, and immune to barrier stalls on a shared machine).

    ``freeze_nontopic``: hold every non-topic word at score 0 and embedding 0 (set at the start and
    after every step) — the reduced model's hypothesis under which the SEN identity is exact; the
    kernels still compute every sentence's loss and gradient.  Fixed-query mode only."""
    corpus = load_corpus(cfg.corpus)
    train_c = corpus.subset("train")
    model = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)
    if init is not None:
        init(model, corpus)
    batch = Batch.from_corpus(train_c, cfg.model.d_e, cfg.train.dtype)
    tw = np.asarray(corpus.topic_words, dtype=np.int64)
    frozen = np.ones(corpus.vocab_size, dtype=bool)
    frozen[tw] = False
    if freeze_nontopic:
        if model.explicit_keys:
            raise ValueError("freeze_nontopic needs a fixed query (the scores are the state)")
        model.embeddings[frozen] = 0.0
        model.scores[frozen] = 0.0  # the model's own score array in fixed-query mode
    groups = cfg.train.trainable
    rates = dict(lr_embeddings=lr_v if "embeddings" in groups else 0.0,
                 lr_keys=lr_k if "keys" in groups else 0.0,
                 lr_classifier=(lr_v if lr_c is None else lr_c) if "classifier" in groups else 0.0)
    s = np.zeros((epochs + 1, len(tw)))
    v = np.zeros((epochs + 1, len(tw), cfg.model.d_e))
    loss = np.full(epochs + 1, np.nan)
    old = numba.get_num_threads()
    numba.set_num_threads(1)
    finite = True
    t0 = time.perf_counter()
    try:
        for r in range(epochs):
            s[r] = model.scores[tw]
            v[r] = model.embeddings[tw]
            loss[r] = model.step(batch, **rates)
            if freeze_nontopic:
                model.embeddings[frozen] = 0.0
                model.scores[frozen] = 0.0
            if not math.isfinite(loss[r]):
                finite = False
                break
        else:
            s[epochs] = model.scores[tw]
            v[epochs] = model.embeddings[tw]
            loss[epochs] = model.evaluate(train_c.word_ids, train_c.offsets, train_c.labels)[0]
    finally:
        numba.set_num_threads(old)
    return TrackedRun(cfg, rates, tw, np.asarray(corpus.topic_labels, dtype=np.int64),
                      np.asarray(mean_length_minus_one(train_c, tw), dtype=np.float64),
                      float(np.linalg.norm(model.query.astype(np.float64))), s, v, loss, model,
                      time.perf_counter() - t0, finite)
