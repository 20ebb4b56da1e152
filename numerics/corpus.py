"""Corpora as flat arrays (CSR layout): the one input format of every kernel.

Sentence ``i`` is ``word_ids[offsets[i]:offsets[i+1]]``; lengths may differ, so
the synthetic corpus, unequal-length variants and real text (SST) all use the
same kernels.  Word ids are ``0..vocab_size-1``; in synthetic corpora the topic
words come first (ids ``0..n_topics*topic_words_per_topic-1``).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SPLITS = {"train": 0, "valid": 1, "test": 2}


@dataclass(frozen=True)
class Corpus:
    word_ids: np.ndarray  # int64 [nnz]
    offsets: np.ndarray  # int64 [n + 1], offsets[0] == 0, non-decreasing
    labels: np.ndarray  # int64 [n], in 0..n_classes-1
    split: np.ndarray  # int8 [n]: 0 train, 1 valid, 2 test
    n_classes: int
    vocab_size: int
    topic_words: np.ndarray  # int64 ids of the topic words (empty for real text)
    topic_labels: np.ndarray  # int64 label of each topic word (aligned with topic_words)
    vocab: tuple[str, ...] | None = None  # the words, for real text
    name: str = "corpus"

    @property
    def n_sentences(self) -> int:
        return len(self.labels)

    @property
    def lengths(self) -> np.ndarray:
        return np.diff(self.offsets)

    def subset(self, which: str) -> "Corpus":
        """The sentences of one split (``train``, ``valid`` or ``test``), same vocabulary."""
        keep = np.flatnonzero(self.split == SPLITS[which])
        lengths = self.lengths[keep]
        offsets = np.zeros(len(keep) + 1, dtype=np.int64)
        np.cumsum(lengths, out=offsets[1:])
        starts = self.offsets[keep]
        # gather the kept sentences' word ids without a Python loop
        idx = np.repeat(starts - offsets[:-1], lengths) + np.arange(offsets[-1])
        return Corpus(self.word_ids[idx], offsets, self.labels[keep], self.split[keep],
                      self.n_classes, self.vocab_size, self.topic_words, self.topic_labels,
                      self.vocab, f"{self.name}[{which}]")
