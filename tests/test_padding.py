"""corpus.pad_to: every sentence padded with one trainable $PAD$ word (the authors' SST code)."""
import numpy as np
import pytest

from attndyn.numerics.config.load import load_config
from attndyn.numerics.config.schema import CorpusSpec, RunConfig
from attndyn.numerics.data.corpus import Corpus
from attndyn.numerics.data.padding import PAD, pad_corpus
from attndyn.numerics.training.train import load_corpus, train
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli import main


def small_corpus():
    sentences = [[0, 2, 3], [1, 4], [0, 5, 5, 2], [1, 3]]
    offsets = np.concatenate([[0], np.cumsum([len(s) for s in sentences])]).astype(np.int64)
    return Corpus(np.concatenate(sentences).astype(np.int64), offsets, np.array([0, 1, 0, 1]),
                  np.array([0, 0, 1, 2], dtype=np.int8), 2, 6, np.array([0, 1]), np.array([0, 1]),
                  tuple("abcdef"), "small")


def test_every_sentence_gets_the_pad_word_up_to_L():
    c = pad_corpus(small_corpus(), 5)
    assert c.vocab_size == 7 and c.vocab[-1] == PAD
    assert np.all(c.lengths == 5)
    assert c.word_ids.reshape(4, 5).tolist() == [[0, 2, 3, 6, 6], [1, 4, 6, 6, 6], [0, 5, 5, 2, 6],
                                                 [1, 3, 6, 6, 6]]
    assert c.subset("train").n_sentences == 2 and np.all(c.subset("test").lengths == 5)


def test_pad_to_shorter_than_the_longest_sentence_is_one_line():
    with pytest.raises(UsageError, match=r"corpus.pad_to: 3 is shorter than the longest sentence .*4 tokens"):
        pad_corpus(small_corpus(), 3)
    with pytest.raises(UsageError, match="corpus.pad_to"):
        CorpusSpec("synthetic", pad_to=0)


def test_pad_to_in_configs_round_trips_and_trains():
    cfg = load_config(preset="paper-fc", overrides=["corpus.n_sentences=60", "corpus.n_nontopic=20",
                                                    "corpus.m=4", "corpus.pad_to=8", "train.epochs=5",
                                                    "model.d_e=3", "model.d_k=3"])
    assert cfg.corpus.pad_to == 8 and RunConfig.from_dict(cfg.to_dict()) == cfg
    c = load_corpus(cfg.corpus)
    assert np.all(c.lengths == 8) and c.vocab_size == 4 * 2 + 20 + 1
    r = train(cfg, progress=False)
    pad = c.vocab_size - 1
    assert r.model.scores[pad] != 0.0  # PAD trains like any word
    assert r.summary()["config"]["corpus"]["pad_to"] == 8


def test_cli_rejects_a_too_short_pad(tmp_path, capsys):
    code = main(["simulate", "--preset", "paper-fc", "--set", "corpus.n_sentences=30", "--set",
                 "corpus.pad_to=5", "--set", "train.epochs=1", "--out", str(tmp_path / "o"), "--no-progress"])
    assert code == 2
    assert "corpus.pad_to: 5 is shorter than the longest sentence" in capsys.readouterr().err
