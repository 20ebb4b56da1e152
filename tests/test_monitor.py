"""Early stopping on the dev loss (the authors' SST rule) and every word's records
(numerics/training/monitor.py), alone with a scripted model and inside train()."""
import json

import numpy as np
import pytest
from dataclasses import replace

from attndyn.numerics.config.presets import preset_config
from attndyn.numerics.config.schema import CorpusSpec, ModelConfig, RunConfig, TrainConfig
from attndyn.numerics.data.corpus import Corpus, SyntheticConfig
from attndyn.numerics.training.monitor import EarlyStopping
from attndyn.numerics.training.train import load_corpus, train
from attndyn.proofs.errors import UsageError


def small(epochs=60, **kw):
    corpus = SyntheticConfig(n_topics=3, topic_words_per_topic=2, n_nontopic=40, m=6, n_sentences=240,
                             split=(0.75, 0.05, 0.2), seed=3)
    kw.setdefault("record_every", 5)
    return RunConfig(CorpusSpec("synthetic", corpus),
                     ModelConfig(classifier="tc", d_e=4, d_k=5, classifier_init="torch", classifier_bias=True),
                     TrainConfig(epochs=epochs, lr=0.5, **kw))


class Scripted:
    """A stand-in model whose dev loss follows a script (one value per evaluation)."""

    def __init__(self, losses):
        self.losses = list(losses)
        self.i = -1
        self.explicit_keys = False
        self.embeddings = np.zeros((2, 2))
        self._theta = np.zeros(3)
        self.query = np.zeros(2)
        self._scores = np.zeros(2)

    def evaluate(self, word_ids, offsets, labels):
        return self.losses[self.i], None, np.zeros(len(labels), np.int64)


def test_patience_counts_epochs_since_the_best_dev_loss():
    corpus = load_corpus(small().corpus)
    stop = EarlyStopping(corpus, patience=20, restore=True)
    m = Scripted([1.0, 0.8, 0.7, 0.75, 0.71, 0.9, 0.72, 0.7, 0.69])
    said = []
    for k, epoch in enumerate(range(0, 90, 10)):
        m.i = k
        m._scores[:] = epoch  # the parameters "after epoch epochs"
        said.append(stop.observe(epoch, m))
        if said[-1]:
            break
    # best 0.7 at epoch 20; epoch 30 (10 later) goes on, epoch 40 (20 later) stops
    assert said == [False, False, False, False, True]
    assert stop.best_epoch == 20 and stop.best_loss == 0.7
    stop.finish(40, m)
    assert np.all(m._scores == 20)  # the best-dev parameters are back
    s = stop.summary()
    assert s["reason"] == "patience exhausted" and s["best_epoch"] == 20 and s["stopped_at_epoch"] == 40


def contradicting_corpus():
    """Words 0, 1 carry the labels 0, 1 in training; the dev sentences say the opposite, so the
    dev loss rises once training has learnt them (and falls first while the bias settles)."""
    train_s = [[0, 2, 3], [1, 4], [0, 5, 5, 2], [1, 3, 4, 6, 2], [0, 6], [1, 2, 2]]
    dev_s = [[0, 2], [1, 3], [0, 4, 5]]
    test_s = [[0, 3], [1, 5]]
    sentences = train_s + dev_s + test_s
    offsets = np.concatenate([[0], np.cumsum([len(x) for x in sentences])]).astype(np.int64)
    labels = np.array([0, 1, 0, 1, 0, 1, 1, 0, 0, 0, 1], dtype=np.int64)
    split = np.array([0] * 6 + [1] * 3 + [2] * 2, dtype=np.int8)
    return Corpus(np.concatenate(sentences).astype(np.int64), offsets, labels, split, 2, 7,
                  np.array([0, 1]), np.array([0, 1]), None, "contradicting")


def test_train_stops_restores_and_reports_the_checkpoint(tmp_path):
    cfg = small(epochs=400, early_stopping_patience=15, word_record_every=10)
    corpus = contradicting_corpus()
    r = train(cfg, corpus, progress=False, out_dir=tmp_path)
    es = r.summary()["early_stopping"]
    tr = r.trajectory
    best = es["best_epoch"]
    assert es["reason"] == "patience exhausted" and r.epochs < 400
    assert es["stopped_at_epoch"] == r.epochs and r.epochs - best >= 15
    # the dev loss of the restored model is the recorded minimum, bitwise
    dev = corpus.subset("valid")
    assert r.model.evaluate(dev.word_ids, dev.offsets, dev.labels)[0] == es["best_dev_loss"] == tr["dev_loss"].min()
    assert r.accuracy["test"] == es["test_accuracy_at_best"]
    i = list(tr["dev_epoch"]).index(best)
    assert tr["test_accuracy"][i] == r.accuracy["test"]
    # every word's score and norm every 10 epochs, and at the last epoch
    assert tr["word_scores"].shape == (len(tr["word_epoch"]), corpus.vocab_size)
    assert tr["word_epoch"][-1] == r.epochs and tr["word_epoch"][1] == 10
    z = np.load(tmp_path / "trajectory.npz")
    assert "dev_loss" in z and "word_norms" in z
    json.dumps(r.summary())


def test_without_patience_nothing_changes():
    a = train(small(epochs=30), progress=False)
    b = train(small(epochs=30, early_stopping_patience=10_000, restore_best=False), progress=False)
    assert a.final_loss == b.final_loss and np.array_equal(a.model.embeddings, b.model.embeddings)
    assert "early_stopping" not in a.summary()
    assert b.summary()["early_stopping"]["reason"].startswith("epoch cap")


def test_bad_fields_are_one_line_errors():
    with pytest.raises(UsageError, match="train.early_stopping_patience"):
        TrainConfig(early_stopping_patience=0)
    with pytest.raises(UsageError, match="train.restore_best"):
        TrainConfig(restore_best="yes")
    with pytest.raises(UsageError, match="train.word_record_every"):
        TrainConfig(word_record_every=-1)


def test_sst_and_ablation_presets_are_the_authors():
    fc, tc = preset_config("sst2-fc"), preset_config("sst5-tc")
    assert (fc.model.d_e, fc.model.d_k, fc.model.query_std, fc.model.emb_init_std) == (200, 10, 0.3, 1e-6)
    assert (tc.model.d_e, tc.model.classifier_init, tc.model.classifier_bias) == (100, "torch", True)
    assert fc.train.early_stopping_patience == 2000 and fc.train.restore_best
    small_fc = preset_config("sst2-fc-small")
    assert small_fc.model.d_e == 10 and small_fc.train.early_stopping_patience is None
    ab = preset_config("ablation-tc-kf")
    assert ab.train.epochs == 6000 and ab.model.classifier_bias
    from attndyn.numerics.data.corpus import split_counts

    syn = ab.corpus.synthetic
    assert split_counts(syn.n_sentences, syn.split).tolist() == [3999, 50, 950]
    pad = preset_config("sst2-fc-pad")
    assert pad.corpus.pad_to == 52 and pad.model == fc.model
    # the authors' rule ends the SST runs (epochs only a safety limit); the padded run keeps its named cap
    from attndyn.numerics.config.presets import SST_EPOCH_LIMIT, SST_PAD_EPOCHS

    assert fc.train.epochs == SST_EPOCH_LIMIT >= 10 * fc.train.early_stopping_patience
    assert pad.train.epochs == SST_PAD_EPOCHS and replace(pad.train, epochs=fc.train.epochs,
                                                          word_record_every=fc.train.word_record_every) == fc.train
    from attndyn.numerics.experiments.reproduce import EXPERIMENTS

    assert EXPERIMENTS["sst-pad"] == (("SST2 FC, padded to 52", "sst2-fc-pad"),)
