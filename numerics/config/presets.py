"""Named run configurations: the paper's experiments (§5) and its ablation.

* ``paper-fc``, ``paper-tc``, ``paper-tl`` — the synthetic corpus (4 topics, 2 topic
  words each, 5000 non-topic words, m = 20, 5000 sentences), d = 10, full-batch
  gradient descent, lr 0.1, 5000 epochs, query fixed; classifier FC / TC / TL.
* ``ablation-{fc,tc}-{both,kf,ef}`` — the same with embeddings initialised with
  std 0.1; ``both`` trains keys and embeddings, ``kf`` freezes the keys, ``ef``
  freezes the embeddings.
* ``sst2-{fc,tc}``, ``sst5-{fc,tc}`` — SST-2 / SST-5 with the same model and lr;
  the epoch count (2000) and recording interval (10) are our choice, not the
  paper's.
"""
from __future__ import annotations

from dataclasses import replace

from attndyn.numerics.config.schema import (CorpusSpec, default_trainable, ModelConfig, RunConfig,
                                            TrainConfig)
from attndyn.proofs.errors import UsageError

ABLATION_EMB_STD = 0.1  # the paper's ablation initialises embeddings with std 0.1


def _paper(classifier: str) -> RunConfig:
    """The paper's synthetic setting: the dataclasses' defaults are that setting (§5: 5000
    sentences, m = 20, d = 10, lr 0.1, 5000 full-batch epochs), so it is stated once, there."""
    return RunConfig(CorpusSpec("synthetic"), ModelConfig(classifier=classifier), TrainConfig())


def _ablation(classifier: str, variant: str) -> RunConfig:
    base = _paper(classifier)
    trainable = set(default_trainable(classifier))
    if variant == "kf":
        trainable.discard("keys")
    elif variant == "ef":
        trainable.discard("embeddings")
    return replace(base, model=replace(base.model, emb_init_std=ABLATION_EMB_STD),
                   train=replace(base.train, trainable=frozenset(trainable)))


def _sst(which: str, classifier: str) -> RunConfig:
    return RunConfig(CorpusSpec(which), ModelConfig(classifier=classifier),
                     TrainConfig(lr=0.1, epochs=2000, record_every=10))


PRESETS = {
    **{f"paper-{c}": (lambda c=c: _paper(c)) for c in ("fc", "tc", "tl")},
    **{f"ablation-{c}-{v}": (lambda c=c, v=v: _ablation(c, v))
       for c in ("fc", "tc") for v in ("both", "kf", "ef")},
    **{f"{w}-{c}": (lambda w=w, c=c: _sst(w, c)) for w in ("sst2", "sst5") for c in ("fc", "tc")},
}


_CLASSIFIER = {"fc": "fixed linear classifier", "tc": "trainable linear classifier",
               "tl": "trainable non-linear classifier"}
_VARIANT = {"both": "keys and embeddings trained", "kf": "keys frozen", "ef": "embeddings frozen"}
DESCRIPTIONS = {
    **{f"paper-{c}": f"the paper's synthetic experiment (§5), {_CLASSIFIER[c]} ({c.upper()})"
       for c in ("fc", "tc", "tl")},
    **{f"ablation-{c}-{v}": f"the paper's ablation, {_CLASSIFIER[c]} ({c.upper()}), embeddings "
                            f"initialised with std {ABLATION_EMB_STD:g}, {_VARIANT[v]}"
       for c in ("fc", "tc") for v in ("both", "kf", "ef")},
    **{f"{w}-{c}": f"{w.upper()} (Stanford Sentiment Treebank), {_CLASSIFIER[c]} ({c.upper()}), "
                   f"2000 epochs (our choice)" for w in ("sst2", "sst5") for c in ("fc", "tc")},
}


def preset_names() -> list[str]:
    return list(PRESETS)


def preset_description(name: str) -> str:
    """One line saying what the preset ``name`` is."""
    return DESCRIPTIONS[name]


def preset_config(name: str) -> RunConfig:
    """The preset ``name``; an unknown name is a UsageError listing the presets."""
    if name not in PRESETS:
        raise UsageError(f"--preset {name!r}: unknown preset; known: {', '.join(PRESETS)}")
    return PRESETS[name]()
