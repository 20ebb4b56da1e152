"""numerics/training/tracked.py: with equal rates it is train() (bitwise, every step recorded); with
non-topic words held, they stay at score 0 and embedding 0."""
from dataclasses import replace

import numpy as np

from attndyn.numerics.config.presets import preset_config
from attndyn.numerics.training.tracked import tracked_run
from attndyn.numerics.training.train import train


def _cfg(epochs):
    cfg = preset_config("paper-tc")
    return replace(cfg, train=replace(cfg.train, epochs=epochs, threads=1, record_every=1))


def test_equal_rates_is_train():
    cfg = _cfg(4)
    r = train(cfg, progress=False)
    t = tracked_run(cfg, 4, lr_v=cfg.train.lr, lr_k=cfg.train.lr)
    assert np.array_equal(t.s, r.trajectory["topic_scores"])
    # the norms: the same embeddings, |v| summed in another order (record_stats vs np.linalg.norm)
    assert np.allclose(t.norms, r.trajectory["topic_norms"], rtol=1e-14, atol=0)
    assert np.array_equal(t.loss[:-1], r.trajectory["loss"][:-1])


def test_freeze_nontopic_and_rates():
    t = tracked_run(_cfg(3), 3, lr_v=0.2, lr_k=0.05, freeze_nontopic=True)
    frozen = np.ones(t.model.vocab_size, bool)
    frozen[t.topic_words] = False
    assert not np.any(t.model.embeddings[frozen]) and not np.any(t.model.scores[frozen])
    assert t.rates == {"lr_embeddings": 0.2, "lr_keys": 0.05, "lr_classifier": 0.2}
    assert t.finite and np.all(np.isfinite(t.loss))
