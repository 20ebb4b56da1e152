"""Synthetic corpus (numerics/corpus.py): the paper's semantics, determinism, speed, bad input,
and the per-word statistics of the SST experiments against plain-Python twins."""
from __future__ import annotations

import time

import numpy as np
import pytest

from attndyn.numerics.data.corpus import (Corpus, SyntheticConfig, mean_length_minus_one,
                                          sentence_counts, split_counts, synthetic, topic_purity)
from attndyn.proofs.errors import UsageError

N_SIGMA = 5.0  # binomial tolerance: a deviation beyond 5 std has probability < 6e-7 per count


def sentences(c: Corpus) -> list[np.ndarray]:
    return [c.word_ids[c.offsets[i]:c.offsets[i + 1]] for i in range(c.n_sentences)]


def binomial_ok(count: np.ndarray, n: np.ndarray | int, p: np.ndarray | float) -> bool:
    count, n, p = np.asarray(count, float), np.asarray(n, float), np.asarray(p, float)
    return bool(np.all(np.abs(count - n * p) <= N_SIGMA * np.sqrt(n * p * (1 - p))))


def test_defaults_are_the_papers_configuration():
    cfg = SyntheticConfig()
    assert (cfg.n_topics, cfg.topic_probs, cfg.topic_words_per_topic) == (4, None, 2)
    assert (cfg.n_nontopic, cfg.m, cfg.n_sentences) == (5000, 20, 5000)
    assert cfg.split == (0.8, 0.01, 0.19)
    assert (cfg.m_spread, cfg.topic_words_per_sentence) == (0, 1)
    np.testing.assert_array_equal(cfg.probs, np.full(4, 0.25))


def test_layout_and_one_topic_word_per_sentence():
    cfg = SyntheticConfig(n_topics=3, topic_words_per_topic=4, n_nontopic=300, m=7, n_sentences=2000, seed=3)
    c = synthetic(cfg)
    KT = cfg.n_topics * cfg.topic_words_per_topic
    assert c.word_ids.dtype == c.offsets.dtype == c.labels.dtype == np.int64 and c.split.dtype == np.int8
    assert c.offsets[0] == 0 and c.offsets[-1] == len(c.word_ids) and np.all(c.lengths == 1 + cfg.m)
    assert c.n_classes == 3 and c.vocab_size == KT + 300 and c.vocab is None
    np.testing.assert_array_equal(c.topic_words, np.arange(KT))
    np.testing.assert_array_equal(c.topic_labels, np.arange(KT) // cfg.topic_words_per_topic)
    assert c.word_ids.min() >= 0 and c.word_ids.max() < c.vocab_size
    for i, s in enumerate(sentences(c)):
        topic = s[s < KT]
        assert len(topic) == 1 and s[0] == topic[0]  # exactly one topic word, stored first
        assert c.topic_labels[topic[0]] == c.labels[i]  # and it fixes the label
        assert np.sum(s >= KT) == cfg.m


def test_class_topic_word_and_nontopic_frequencies():
    probs = (0.1, 0.2, 0.3, 0.4)
    cfg = SyntheticConfig(topic_probs=probs, topic_words_per_topic=3, n_nontopic=40, m=5,
                          n_sentences=20000, seed=11)
    c = synthetic(cfg)
    n_c = np.bincount(c.labels, minlength=4)
    assert binomial_ok(n_c, cfg.n_sentences, np.array(probs))
    topic = c.word_ids[c.offsets[:-1]]
    for k in range(4):  # topic word uniform among its topic's 3, given the class
        counts = np.bincount(topic[c.labels == k] - 3 * k, minlength=3)
        assert len(counts) == 3 and binomial_ok(counts, n_c[k], 1 / 3)
    nontopic = c.word_ids[c.word_ids >= 12] - 12  # uniform with replacement over 40 words
    counts = np.bincount(nontopic, minlength=40)
    assert len(counts) == 40 and binomial_ok(counts, len(nontopic), 1 / 40)


def test_zero_probability_class_never_drawn():
    c = synthetic(SyntheticConfig(n_topics=3, topic_probs=(0.5, 0.0, 0.5), n_sentences=3000, seed=1))
    assert not np.any(c.labels == 1) and set(np.unique(c.labels)) == {0, 2}


def test_split_counts_and_assignment():
    cfg = SyntheticConfig(n_sentences=5000, seed=5)
    c = synthetic(cfg)
    counts = np.bincount(c.split, minlength=3)
    np.testing.assert_array_equal(counts, split_counts(5000, cfg.split))
    assert np.all(np.abs(counts - 5000 * np.array(cfg.split)) < 1)
    # assigned by a permutation, not in blocks: the first 4000 sentences are not all train
    assert 0 < np.sum(c.split[:4000] != 0) < 4000
    # the split is independent of the class: class shares in train match the drawn ones
    train = c.split == 0
    assert binomial_ok(np.bincount(c.labels[train], minlength=4), train.sum(), 0.25)
    sub = c.subset("test")
    assert sub.n_sentences == counts[2] and np.all(sub.lengths == 21)
    np.testing.assert_array_equal(sub.word_ids.reshape(-1, 21),
                                  c.word_ids.reshape(-1, 21)[c.split == 2])


@pytest.mark.parametrize("n, fractions", [(3, (0.5, 0.5, 0.0)), (7, (1 / 3, 1 / 3, 1 / 3)),
                                          (1, (0.8, 0.01, 0.19)), (101, (0.0, 0.0, 1.0))])
def test_split_counts_sum_exactly(n, fractions):
    counts = split_counts(n, fractions)
    assert counts.sum() == n and np.all(counts >= 0)
    assert np.all(np.abs(counts - n * np.asarray(fractions)) < 1)


def test_variable_lengths():
    cfg = SyntheticConfig(m=6, m_spread=4, n_nontopic=50, n_sentences=8000, seed=2)
    c = synthetic(cfg)
    m_i = c.lengths - 1
    assert m_i.min() == 2 and m_i.max() == 10  # every value of {m-r..m+r} reached with 8000 draws
    assert binomial_ok(np.bincount(m_i - 2, minlength=9), 8000, 1 / 9)
    for i, s in enumerate(sentences(c)[:500]):
        assert s[0] < 8 and np.all(s[1:] >= 8) and c.topic_labels[s[0]] == c.labels[i]
    assert np.sum(c.word_ids < 8) == cfg.n_sentences


def test_several_topic_words_per_sentence():
    cfg = SyntheticConfig(topic_words_per_sentence=3, m=4, n_sentences=1000, seed=4)
    c = synthetic(cfg)
    assert np.all(c.lengths == 7)
    dense = c.word_ids.reshape(-1, 7)
    assert np.all(dense[:, :3] < 8) and np.all(dense[:, 3:] >= 8)
    np.testing.assert_array_equal(c.topic_labels[dense[:, :3]], np.repeat(c.labels[:, None], 3, axis=1))


def test_determinism_and_seed_dependence():
    cfg = SyntheticConfig(n_sentences=3000, m_spread=3, seed=9)
    a, b = synthetic(cfg), synthetic(SyntheticConfig(n_sentences=3000, m_spread=3, seed=9))
    for field in ("word_ids", "offsets", "labels", "split", "topic_words", "topic_labels"):
        np.testing.assert_array_equal(getattr(a, field), getattr(b, field))
    d = synthetic(SyntheticConfig(n_sentences=3000, m_spread=3, seed=10))
    assert not np.array_equal(a.word_ids[:len(d.word_ids)], d.word_ids[:len(a.word_ids)])
    # uniform given explicitly is the same distribution, drawn the same way
    u = synthetic(SyntheticConfig(n_sentences=3000, m_spread=3, seed=9, topic_probs=[0.25] * 4))
    np.testing.assert_array_equal(a.word_ids, u.word_ids)


def test_vectorised_speed():
    cfg = SyntheticConfig(n_sentences=10 ** 5, seed=0)
    t = time.perf_counter()
    c = synthetic(cfg)
    elapsed = time.perf_counter() - t
    assert c.n_sentences == 10 ** 5 and elapsed < 2.0, f"10^5 sentences took {elapsed:.2f} s"


def test_config_normalised_and_hashable():
    cfg = SyntheticConfig(n_topics=np.int64(2), topic_probs=np.array([0.5, 0.5]), split=[0.5, 0.25, 0.25])
    assert type(cfg.n_topics) is int and cfg.topic_probs == (0.5, 0.5) and cfg.split == (0.5, 0.25, 0.25)
    assert hash(cfg) == hash(SyntheticConfig(n_topics=2, topic_probs=(0.5, 0.5), split=(0.5, 0.25, 0.25)))
    assert SyntheticConfig.from_mapping({"m": 3, "seed": 1}) == SyntheticConfig(m=3, seed=1)


BAD = [
    ("n_topics", {"n_topics": 1}), ("n_topics", {"n_topics": 2.0}), ("n_topics", {"n_topics": True}),
    ("topic_probs", {"topic_probs": (0.5, 0.5)}),  # wrong length for 4 topics
    ("topic_probs", {"topic_probs": (0.5, 0.5, 0.5, -0.5)}),
    ("topic_probs", {"topic_probs": (0.3, 0.3, 0.3, 0.3)}),
    ("topic_probs", {"topic_probs": (0.25, 0.25, 0.25, float("nan"))}),
    ("topic_probs", {"topic_probs": "0.25"}), ("topic_probs", {"topic_probs": (0.25, 0.25, 0.25, "x")}),
    ("topic_probs", {"topic_probs": (0.25, 0.25, 0.25, 0.25 + 1e-8)}),
    ("topic_words_per_topic", {"topic_words_per_topic": 0}),
    ("n_nontopic", {"n_nontopic": 0}), ("n_nontopic", {"n_nontopic": "5000"}),
    ("m", {"m": 0}), ("m", {"m": -3}),
    ("n_sentences", {"n_sentences": 0}), ("n_sentences", {"n_sentences": 10.5}),
    ("split", {"split": (0.8, 0.2)}), ("split", {"split": (0.9, 0.2, -0.1)}),
    ("split", {"split": (0.8, 0.1, 0.19)}), ("split", {"split": 1.0}),
    ("seed", {"seed": -1}), ("seed", {"seed": 1.5}), ("seed", {"seed": None}),
    ("m_spread", {"m_spread": -1}), ("m_spread", {"m": 3, "m_spread": 3}),
    ("topic_words_per_sentence", {"topic_words_per_sentence": 0}),
]


@pytest.mark.parametrize("field, kwargs", BAD, ids=[f"{f}-{i}" for i, (f, _) in enumerate(BAD)])
def test_bad_config_names_the_field(field, kwargs):
    with pytest.raises(UsageError, match=rf"SyntheticConfig\.{field}\b"):
        SyntheticConfig(**kwargs)


def test_boundary_values_accepted():
    cfg = SyntheticConfig(n_topics=2, topic_words_per_topic=1, n_nontopic=1, m=1, n_sentences=1,
                          split=(0.0, 0.0, 1.0), seed=0, m_spread=0, topic_probs=(1.0, 0.0))
    c = synthetic(cfg)
    np.testing.assert_array_equal(c.word_ids, [0, 2])
    assert c.labels.tolist() == [0] and c.split.tolist() == [2]
    assert SyntheticConfig(m=3, m_spread=2).m_spread == 2


def test_from_mapping_rejects_unknown_keys():
    with pytest.raises(UsageError, match="unknown field.*'n_topic'"):
        SyntheticConfig.from_mapping({"n_topic": 4})


# --------------------------------------------------------------------------- per-word statistics

def random_text(seed: int, n: int = 60, V: int = 15, K: int = 3) -> Corpus:
    """Unequal lengths and repeated words within a sentence: the cases the twins must agree on."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, 9, size=n)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    words = rng.integers(0, V - 2, size=offsets[-1]).astype(np.int64)  # the last 2 ids never occur
    empty = np.zeros(0, dtype=np.int64)
    return Corpus(words, offsets, rng.integers(0, K, size=n).astype(np.int64),
                  np.zeros(n, dtype=np.int8), K, V, empty, empty, None, "random")


def twins(c: Corpus, w: int) -> tuple[float, float]:
    """Plain-Python mean(L-1) and majority-label share over the sentences containing w."""
    hits = [i for i, s in enumerate(sentences(c)) if w in s.tolist()]
    mean = sum(len(sentences(c)[i]) - 1 for i in hits) / len(hits)
    labels = [int(c.labels[i]) for i in hits]
    purity = max(labels.count(k) for k in set(labels)) / len(labels)
    return mean, purity


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_word_statistics_match_twins(seed):
    c = random_text(seed)
    all_mean, all_purity = mean_length_minus_one(c), topic_purity(c)
    counts = sentence_counts(c)
    for w in range(c.vocab_size):
        n_w = sum(w in s.tolist() for s in sentences(c))
        assert counts[w] == n_w
        if n_w == 0:
            assert np.isnan(all_mean[w]) and np.isnan(all_purity[w])
            continue
        mean, purity = twins(c, w)
        assert mean_length_minus_one(c, w) == pytest.approx(mean, rel=1e-14)
        assert topic_purity(c, w) == pytest.approx(purity, rel=1e-14)
        assert all_mean[w] == pytest.approx(mean, rel=1e-14) and all_purity[w] == pytest.approx(purity, rel=1e-14)
    picked = np.array([[0, 3], [5, 1]])
    np.testing.assert_allclose(mean_length_minus_one(c, picked), all_mean[picked], rtol=1e-14)
    np.testing.assert_allclose(topic_purity(c, picked), all_purity[picked], rtol=1e-14)


def test_word_statistics_count_a_sentence_once():
    # sentence 0 = [2, 2, 2] (label 0), sentence 1 = [2, 1] (label 1), sentence 2 = [1] (label 1)
    empty = np.zeros(0, dtype=np.int64)
    c = Corpus(np.array([2, 2, 2, 2, 1, 1]), np.array([0, 3, 5, 6]), np.array([0, 1, 1]),
               np.zeros(3, dtype=np.int8), 2, 3, empty, empty)
    assert mean_length_minus_one(c, 2) == pytest.approx((2 + 1) / 2)  # not (2+2+2+1)/4
    assert topic_purity(c, 2) == pytest.approx(1 / 2) and topic_purity(c, 1) == 1.0
    np.testing.assert_array_equal(sentence_counts(c), [0, 2, 2])


def test_synthetic_topic_words_are_pure_and_see_m():
    cfg = SyntheticConfig(n_sentences=4000, n_nontopic=100, seed=8)
    c = synthetic(cfg)
    tw = c.topic_words
    np.testing.assert_array_equal(topic_purity(c, tw), np.ones(len(tw)))
    np.testing.assert_array_equal(mean_length_minus_one(c, tw), np.full(len(tw), float(cfg.m)))
    # a non-topic word is spread over the 4 classes: far from pure
    assert np.all(topic_purity(c, np.arange(8, 108)) < 0.6)


@pytest.mark.parametrize("word_id, message", [(15, r"0\.\.14"), (-1, r"0\.\.14"), (1.0, "integer"),
                                              (True, "integer"), ([3, 14], "no sentence"), (13, "no sentence")])
def test_word_statistics_bad_word(word_id, message):
    c = random_text(0)
    for f in (mean_length_minus_one, topic_purity):
        with pytest.raises(UsageError, match=rf"word_id.*{message}"):
            f(c, word_id)
