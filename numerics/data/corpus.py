"""Corpora as flat arrays (CSR layout): the one input format of every kernel.

Sentence ``i`` is ``word_ids[offsets[i]:offsets[i+1]]``; lengths may differ, so
the synthetic corpus, unequal-length variants and real text (SST) all use the
same kernels.  Word ids are ``0..vocab_size-1``; in synthetic corpora the topic
words come first (ids ``0..n_topics*topic_words_per_topic-1``).

This module also builds the paper's synthetic corpus (:class:`SyntheticConfig`,
:func:`synthetic`) and holds the per-word statistics the SST experiments need
(:func:`mean_length_minus_one`, :func:`topic_purity`).  The SST loader lives in
:mod:`attndyn.numerics.data.sst`.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from numbers import Integral, Real

import numpy as np

from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CORPUS

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


# --------------------------------------------------------------------------- synthetic

def _check_int(field: str, value, minimum: int) -> int:
    """``value`` as a Python int >= ``minimum``, or a UsageError naming ``field``."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Integral):
        raise UsageError(f"SyntheticConfig.{field}: expected an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise UsageError(f"SyntheticConfig.{field}: expected an integer >= {minimum}, got {int(value)}")
    return int(value)


def _check_distribution(field: str, value, length: int | None) -> tuple[float, ...]:
    """``value`` as a tuple of finite non-negative floats summing to 1 (within
    ``CORPUS.prob_sum_atol``), of ``length`` entries if given."""
    if isinstance(value, (str, bytes)) or not isinstance(value, (Sequence, np.ndarray)):
        raise UsageError(f"SyntheticConfig.{field}: expected a sequence of numbers, got {value!r}")
    items = list(np.asarray(value, dtype=object).ravel()) if isinstance(value, np.ndarray) else list(value)
    if length is not None and len(items) != length:
        raise UsageError(f"SyntheticConfig.{field}: expected {length} entries, got {len(items)}")
    if any(isinstance(x, (bool, np.bool_)) or not isinstance(x, Real) for x in items):
        raise UsageError(f"SyntheticConfig.{field}: expected numbers, got {value!r}")
    probs = tuple(float(x) for x in items)
    if not all(np.isfinite(x) and x >= 0.0 for x in probs):
        raise UsageError(f"SyntheticConfig.{field}: expected finite non-negative entries, got {probs}")
    total = float(np.sum(probs))
    if abs(total - 1.0) > CORPUS.prob_sum_atol:
        raise UsageError(f"SyntheticConfig.{field}: entries must sum to 1 "
                         f"(within {CORPUS.prob_sum_atol:g}), got sum {total!r}")
    return probs


@dataclass(frozen=True)
class SyntheticConfig:
    """The paper's synthetic corpus (defaults: its §5 configuration).

    * ``n_topics`` (K >= 2) classes, class ``c`` drawn with probability
      ``topic_probs[c]`` (``None``: uniform 1/K).
    * each topic owns ``topic_words_per_topic`` (T >= 1) topic words; a sentence
      of class ``c`` contains ``topic_words_per_sentence`` (default 1, the paper)
      topic words of topic ``c``, each chosen uniformly among its T.
    * ``m`` (>= 1) non-topic words per sentence, uniform with replacement from
      ``n_nontopic`` (N >= 1); with ``m_spread`` = r > 0 each sentence's own
      ``m_i`` is uniform on ``{m - r, ..., m + r}`` (``m - r >= 1`` required).
    * ``n_sentences`` sentences, split (train, valid, test) by ``split``
      fractions (non-negative, summing to 1); ``seed`` (>= 0) fixes everything.
    """

    n_topics: int = 4
    topic_probs: tuple[float, ...] | None = None
    topic_words_per_topic: int = 2
    n_nontopic: int = 5000
    m: int = 20
    n_sentences: int = 5000
    split: tuple[float, float, float] = (0.8, 0.01, 0.19)
    seed: int = 0
    m_spread: int = 0
    topic_words_per_sentence: int = 1

    def __post_init__(self) -> None:
        # normalise to plain Python values so the config hashes, compares and
        # serialises (JSON/TOML) the same whatever numeric types came in
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        put("n_topics", _check_int("n_topics", self.n_topics, 2))
        if self.topic_probs is not None:
            put("topic_probs", _check_distribution("topic_probs", self.topic_probs, self.n_topics))
        put("topic_words_per_topic", _check_int("topic_words_per_topic", self.topic_words_per_topic, 1))
        put("n_nontopic", _check_int("n_nontopic", self.n_nontopic, 1))
        put("m", _check_int("m", self.m, 1))
        put("n_sentences", _check_int("n_sentences", self.n_sentences, 1))
        put("split", _check_distribution("split", self.split, 3))
        put("seed", _check_int("seed", self.seed, 0))
        put("m_spread", _check_int("m_spread", self.m_spread, 0))
        if self.m - self.m_spread < 1:
            raise UsageError(f"SyntheticConfig.m_spread: m - m_spread must be >= 1 (every sentence "
                             f"keeps a non-topic word), got m={self.m}, m_spread={self.m_spread}")
        put("topic_words_per_sentence",
            _check_int("topic_words_per_sentence", self.topic_words_per_sentence, 1))

    @classmethod
    def from_mapping(cls, values: Mapping) -> "SyntheticConfig":
        """A config from a mapping (TOML table, ``--set`` overrides); unknown keys are an error."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise UsageError(f"SyntheticConfig: unknown field(s) {unknown}; expected some of {sorted(known)}")
        return cls(**dict(values))

    @property
    def probs(self) -> np.ndarray:
        """The class probabilities ``p_c`` as an array (uniform when ``topic_probs`` is None)."""
        if self.topic_probs is None:
            return np.full(self.n_topics, 1.0 / self.n_topics)
        return np.asarray(self.topic_probs, dtype=np.float64)

    @property
    def n_topic_words(self) -> int:
        return self.n_topics * self.topic_words_per_topic

    @property
    def vocab_size(self) -> int:
        return self.n_topic_words + self.n_nontopic


def split_counts(n: int, fractions: Sequence[float]) -> np.ndarray:
    """Sentences per split: ``floor(f_j n)``, the remainder going one each to the
    largest fractional parts (ties to the earlier split) — sums to ``n`` exactly."""
    exact = np.asarray(fractions, dtype=np.float64) * n
    counts = np.floor(exact).astype(np.int64)
    remainder = n - int(counts.sum())
    order = np.argsort(-(exact - counts), kind="stable")
    counts[order[:remainder]] += 1
    return counts


def synthetic(cfg: SyntheticConfig) -> Corpus:
    r"""Draw the synthetic corpus of ``cfg`` (fully vectorised, ``np.random.default_rng(cfg.seed)``).

    With K = ``n_topics``, T = ``topic_words_per_topic``, N = ``n_nontopic``:

    * label :math:`y_i = c` with probability :math:`p_c`;
    * topic word(s): id :math:`cT + j`, :math:`j \sim U\{0..T-1\}`, independently for
      each of the ``topic_words_per_sentence`` slots (so with more than one slot a
      topic word may repeat); topic word ``cT + j`` has label ``c``;
    * non-topic words: ids :math:`KT + u`, :math:`u \sim U\{0..N-1\}`, ``m_i`` of them
      with replacement (``m_i = m`` unless ``m_spread`` > 0);
    * split: a seeded permutation of the sentences, the first ``split_counts``
      entries train, then valid, then test.

    Layout: each sentence stores its topic word(s) first, then its non-topic
    words.  That is a convenience for inspection only: kernels must not rely on
    it (real text has no such order).  Same config (seed included) gives
    identical arrays.

    Speed (2-core machine, under load from other jobs; best/worst of 3 after a warm-up,
    ``time.perf_counter`` around ``synthetic(SyntheticConfig(n_sentences=n))``):
    10^6 sentences with m = 20 in 0.18-0.26 s (0.18-0.24 s with ``m_spread=5``);
    10^5 in 0.02-0.03 s.  Memory: 8 bytes per word id (168 MB at 10^6, m = 20).
    """
    rng = np.random.default_rng(cfg.seed)
    n, K, T, S = cfg.n_sentences, cfg.n_topics, cfg.topic_words_per_topic, cfg.topic_words_per_sentence
    # the draws always happen in this order, so a change to one field leaves the
    # earlier draws of the same seed unchanged (labels first)
    labels = rng.choice(K, size=n, p=cfg.probs).astype(np.int64)
    topic_ids = labels[:, None] * T + rng.integers(0, T, size=(n, S), dtype=np.int64)
    if cfg.m_spread:
        m_i = rng.integers(cfg.m - cfg.m_spread, cfg.m + cfg.m_spread + 1, size=n, dtype=np.int64)
    else:
        m_i = np.full(n, cfg.m, dtype=np.int64)
    lengths = S + m_i
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    total = int(offsets[-1])
    nontopic = rng.integers(0, cfg.n_nontopic, size=total - n * S, dtype=np.int64)
    nontopic += cfg.n_topic_words

    if cfg.m_spread:
        word_ids = np.empty(total, dtype=np.int64)
        topic_pos = offsets[:-1, None] + np.arange(S)
        is_topic = np.zeros(total, dtype=bool)
        is_topic[topic_pos] = True
        word_ids[topic_pos] = topic_ids
        word_ids[~is_topic] = nontopic  # remaining slots in sentence order
    else:  # equal lengths: a dense (n, S + m) view of the same flat layout
        dense = np.empty((n, S + cfg.m), dtype=np.int64)
        dense[:, :S] = topic_ids
        dense[:, S:] = nontopic.reshape(n, cfg.m)
        word_ids = dense.reshape(-1)

    counts = split_counts(n, cfg.split)
    split = np.empty(n, dtype=np.int8)
    split[rng.permutation(n)] = np.repeat(np.arange(3, dtype=np.int8), counts)

    topic_words = np.arange(cfg.n_topic_words, dtype=np.int64)
    topic_labels = np.repeat(np.arange(K, dtype=np.int64), T)
    return Corpus(word_ids, offsets, labels, split, K, cfg.vocab_size, topic_words, topic_labels,
                  None, f"synthetic(seed={cfg.seed})")


# --------------------------------------------------------------------------- per-word statistics

def _sentence_word_pairs(corpus: Corpus, words: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (sentence, word) incidences, restricted to ``words`` when given:
    a word occurring twice in a sentence counts once."""
    sent = np.repeat(np.arange(corpus.n_sentences, dtype=np.int64), corpus.lengths)
    wid = corpus.word_ids
    if words is not None:
        keep = np.isin(wid, words)
        sent, wid = sent[keep], wid[keep]
    key = np.unique(sent * np.int64(corpus.vocab_size) + wid)
    return key // corpus.vocab_size, key % corpus.vocab_size


def _word_request(corpus: Corpus, word_id) -> tuple[np.ndarray | None, bool]:
    """Validated word ids (None = all words) and whether the caller passed a scalar."""
    if word_id is None:
        return None, False
    arr = np.asarray(word_id)
    if arr.dtype == bool or not np.issubdtype(arr.dtype, np.integer):
        raise UsageError(f"word_id: expected an integer word id (or an array of them), got {word_id!r}")
    arr = arr.astype(np.int64)
    bad = arr[(arr < 0) | (arr >= corpus.vocab_size)]
    if bad.size:
        raise UsageError(f"word_id: expected ids in 0..{corpus.vocab_size - 1}, got {bad[:5].tolist()}")
    return arr, arr.ndim == 0


def _finish(corpus: Corpus, values: np.ndarray, counts: np.ndarray, words: np.ndarray | None,
            scalar: bool, what: str):
    """All-words mode: NaN where a word occurs in no sentence.  Requested words
    that occur in no sentence are an error (the statistic is undefined)."""
    if words is None:
        out = np.full(len(counts), np.nan)
        np.divide(values, counts, out=out, where=counts > 0)
        return out
    flat = words.reshape(-1)
    missing = flat[counts[flat] == 0]
    if missing.size:
        raise UsageError(f"word_id: {what} is undefined for word ids {np.unique(missing)[:5].tolist()}: "
                         f"they occur in no sentence of {corpus.name!r}")
    out = values[flat] / counts[flat]
    return float(out[0]) if scalar else out.reshape(words.shape)


def sentence_counts(corpus: Corpus) -> np.ndarray:
    """For every word id, the number of sentences containing it (int64, length ``vocab_size``)."""
    _, w = _sentence_word_pairs(corpus, None)
    return np.bincount(w, minlength=corpus.vocab_size).astype(np.int64)


def mean_length_minus_one(corpus: Corpus, word_id=None):
    r"""The paper's ``m`` for real text: :math:`\bar m_w = \frac{1}{|S_w|}\sum_{i\in S_w}(L_i - 1)`,
    :math:`S_w` the sentences containing word ``w`` (each counted once), :math:`L_i` their lengths.

    ``word_id``: an int (returns a float), an integer array (returns an array of
    the same shape) or None (returns one value per word id, NaN for words that
    occur in no sentence).  A requested word occurring in no sentence is a
    UsageError.  Pass ``corpus.subset("train")`` for training sentences only.
    """
    words, scalar = _word_request(corpus, word_id)
    s, w = _sentence_word_pairs(corpus, words)
    V = corpus.vocab_size
    counts = np.bincount(w, minlength=V)
    total = np.bincount(w, weights=(corpus.lengths[s] - 1).astype(np.float64), minlength=V)
    return _finish(corpus, total, counts, words, scalar, "mean_length_minus_one")


def topic_purity(corpus: Corpus, word_id=None):
    r"""Fraction of the sentences containing word ``w`` that carry its majority label:
    :math:`\max_c |\{i\in S_w: y_i = c\}| / |S_w|` (1 for a perfect topic word, about
    the largest class share for a word unrelated to the label).

    ``word_id`` as in :func:`mean_length_minus_one` (int, array, or None for all words).
    """
    words, scalar = _word_request(corpus, word_id)
    s, w = _sentence_word_pairs(corpus, words)
    V, K = corpus.vocab_size, corpus.n_classes
    by_label = np.bincount(w * K + corpus.labels[s], minlength=V * K).reshape(V, K)
    counts = by_label.sum(axis=1)
    return _finish(corpus, by_label.max(axis=1).astype(np.float64), counts, words, scalar, "topic_purity")
