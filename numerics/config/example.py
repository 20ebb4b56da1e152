"""The commented example config (``attndyn config --example``), generated from the config
dataclasses so it cannot drift from them.

Every key of :class:`~attndyn.numerics.config.schema.RunConfig` is printed with its type, its
default and its meaning (:data:`MEANINGS`, one line per dotted key).  A key whose default is
``None`` (TOML has no null) is printed commented out; every other key is printed set to its
default, so the printed text loads back (:func:`attndyn.numerics.config.load.load_toml`)
to the default config.  A field without a meaning here is an error at generation time (and
so in the test suite), never a silently undocumented key.
"""
from __future__ import annotations

from dataclasses import fields, MISSING
import json

from attndyn.numerics.config.schema import CORPUS_KINDS, DTYPES, CLASSIFIERS, ModelConfig, \
    PARAMETER_GROUPS, TrainConfig
from attndyn.numerics.data.corpus import SyntheticConfig

MEANINGS = {
    "corpus.kind": f"which corpus: {', '.join(CORPUS_KINDS)} (synthetic = the paper's generator)",
    "corpus.sst_dir": "sst2/sst5 only: folder of the Stanford Sentiment Treebank "
                      "(unset: ../shared/data/sst)",
    "corpus.pad_to": "any kind: pad every sentence to this many tokens with one trainable $PAD$ word, "
                     "no mask (>= the longest sentence; the authors' SST code: 52; unset: no padding)",
    "corpus.n_topics": "number of topics = classes K (>= 2)",
    "corpus.topic_probs": "probability of each class, K numbers summing to 1 (unset: uniform 1/K)",
    "corpus.topic_words_per_topic": "topic words owned by each topic, T (>= 1)",
    "corpus.n_nontopic": "number of non-topic words N (>= 1)",
    "corpus.m": "non-topic words per sentence (>= 1)",
    "corpus.n_sentences": "number of sentences generated (>= 1)",
    "corpus.split": "fractions (train, valid, test), non-negative, summing to 1",
    "corpus.seed": "seed of the corpus generator (>= 0)",
    "corpus.m_spread": "r >= 0: each sentence's length m_i is uniform on m-r..m+r (m - r >= 1)",
    "corpus.topic_words_per_sentence": "topic words in each sentence, all of its class (>= 1; paper: 1)",
    "model.classifier": f"classifier on the attended embedding: {', '.join(CLASSIFIERS)} "
                        "(fc fixed linear, tc trainable linear, tl trainable non-linear)",
    "model.d_e": "embedding dimension (>= 1)",
    "model.d_k": "key dimension (>= 1)",
    "model.emb_init_std": "std of the initial embeddings (>= 0; ablation: 0.1)",
    "model.key_init_std": "std of the initial keys (>= 0; 0: keys start at 0)",
    "model.query_std": "std of the query's entries (>= 0)",
    "model.classifier_matrix": "fc/tc only: a .npy file of shape (d_e, K) used as the classifier "
                               "matrix, relative to this file's folder (unset: the paper's random "
                               "matrix with unit diagonal)",
    "train.lr": "learning rate of gradient descent (> 0)",
    "train.epochs": "number of epochs (>= 0)",
    "train.batch_size": "mini-batch size (>= 1; unset: full batch, as in the paper)",
    "train.trainable": f"parameter groups updated, some of {', '.join(PARAMETER_GROUPS)} "
                       "(unset: embeddings and keys, plus the classifier for tc/tl)",
    "train.dtype": f"floating-point type: {', '.join(DTYPES)}",
    "train.seed": "seed of the initialisation and the batch order (>= 0)",
    "train.record_every": "epochs between trajectory records (>= 1)",
    "train.threads": "numba threads (>= 1; unset: numba's default); results do not depend on it",
    "train.optimizer": "update rule: gd (plain step), sgd (plain step on mini-batches, needs batch_size), "
                       "momentum, nesterov (PyTorch SGD, dampening 0), adam (PyTorch Adam)",
    "train.momentum": "momentum and nesterov only: the momentum mu (>= 0; nesterov > 0)",
    "train.betas": "adam only: (beta1, beta2), each in [0, 1)",
    "train.eps": "adam only: epsilon added outside the square root (>= 0)",
    "model.classifier_init": "fc/tc only: paper (the paper's random matrix) or torch (PyTorch nn.Linear's "
                             "default, uniform in +-1/sqrt(d_e): the authors' TC)",
    "model.classifier_bias": "fc/tc only: a bias b in the logits W^T c + b (nn.Linear's; trains with W)",
    "train.early_stopping_patience": "epochs without a new dev-loss minimum before training stops "
                                     "(>= 1; unset: no early stopping; the authors' SST: 2000)",
    "train.restore_best": "with early stopping: restore the best-dev parameters at the end (the "
                          "authors' rule; test accuracy is reported there)",
    "train.word_record_every": "record every word's score and norm every this many epochs (0: off)",
    "train.kernel": "linear classifiers: auto (the K-wide low-rank kernel when K < d_e), lowrank or full "
                    "(the d_e-wide kernel); results agree to rounding, not bit for bit",
}

HEADER = """\
# attndyn run configuration: every key, its type, default and meaning.
# Generated from the config dataclasses by `attndyn config --example`.
# Use it with `attndyn simulate my.toml --out DIR` (or check-convergence, ...);
# override a key on the command line with --set section.key=value.
# Keys left out keep their defaults; a key commented out here defaults to "unset".
# Relative paths in this file are resolved against the file's own folder.
"""


def _default(f):
    if f.default is not MISSING:
        return f.default
    if f.default_factory is not MISSING:  # pragma: no cover - no such field today
        return f.default_factory()
    raise ValueError(f"{f.name}: no default")


def _toml_value(value) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (tuple, list, frozenset, set)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, str):
        return json.dumps(value)
    return repr(value)


_PLACEHOLDER = {"corpus.sst_dir": '"../shared/data/sst"', "corpus.pad_to": "52", "corpus.topic_probs": "[0.25, 0.25, 0.25, 0.25]",
                "model.classifier_matrix": '"classifier.npy"', "train.batch_size": "100",
                "train.trainable": '["embeddings", "keys"]', "train.threads": "2"}


def _lines(key: str, type_name: str, default) -> list[str]:
    if key not in MEANINGS:
        raise KeyError(f"{key}: no meaning in attndyn.numerics.config.example.MEANINGS")
    shown = "unset" if default is None else _toml_value(default)
    out = [f"# {MEANINGS[key]}", f"# type: {type_name}; default: {shown}"]
    name = key.partition(".")[2]
    if default is None:
        out.append(f"# {name} = {_PLACEHOLDER.get(key, '...')}")
    else:
        out.append(f"{name} = {_toml_value(default)}")
    return out


def example_toml() -> str:
    """The commented example config (see the module docstring)."""
    parts = [HEADER, "[corpus]"]
    parts += _lines("corpus.kind", "str", "synthetic")
    parts += [""] + _lines("corpus.sst_dir", "str | None", None)
    parts += [""] + _lines("corpus.pad_to", "int | None", None)
    for f in fields(SyntheticConfig):
        parts += [""] + _lines(f"corpus.{f.name}", str(f.type), _default(f))
    for section, cls in (("model", ModelConfig), ("train", TrainConfig)):
        parts += ["", "", f"[{section}]"]
        for i, f in enumerate(fields(cls)):
            parts += ([""] if i else []) + _lines(f"{section}.{f.name}", str(f.type), _default(f))
    return "\n".join(parts) + "\n"
