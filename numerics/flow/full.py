"""The full-model gradient flow: every word's embedding and score (non-topic words included)
on a concrete corpus, with its vector field and its reduction to the topic words
(:meth:`FullSystem.reduced`)."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from attndyn.numerics.data.corpus import Corpus
from attndyn.numerics.flow.systems import (classifier_params, frozen_array, learning_rate,
                                           pack_theta, ReducedSystem, unpack_theta)
from attndyn.numerics.model import classifiers as clf, reference
from attndyn.proofs.errors import UsageError

# --------------------------------------------------------------------------- full model

@dataclass(frozen=True, eq=False)
class FullSystem:
    r"""The full model on a small corpus (training split): every word's embedding
    (V, d_e) and key (V, d_k), the query (d_k,), the classifier.

    With the query fixed only the scores :math:`s_w = q\cdot k_w` enter and
    :math:`\dot s_w = -\eta_k|q|^2\partial L/\partial s_w`, so the state holds scores;
    with ``train_query`` the state holds keys and query:
    :math:`\dot k_w = -\eta_k q\,\partial L/\partial s_w`,
    :math:`\dot q = -\eta_q\sum_w k_w\,\partial L/\partial s_w`.
    :math:`L` is the mean cross-entropy over the training sentences.
    """

    corpus: Corpus
    q: np.ndarray
    embeddings0: np.ndarray
    keys0: np.ndarray
    classifier: str
    theta0: dict
    lr_v: float = 1.0
    lr_k: float = 1.0
    lr_c: float = 1.0
    lr_q: float = 1.0
    train_embeddings: bool = True
    train_keys: bool = True
    train_query: bool = False
    # training sentences, flattened
    ids: np.ndarray = field(init=False, repr=False)
    sent: np.ndarray = field(init=False, repr=False)
    starts: np.ndarray = field(init=False, repr=False)
    offsets: np.ndarray = field(init=False, repr=False)
    labels: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731
        c = self.corpus
        if not isinstance(c, Corpus):
            raise UsageError(f"corpus: expected a attndyn.numerics.data.corpus.Corpus, got {type(c).__name__}")
        train = c.subset("train")
        if train.n_sentences < 1:
            raise UsageError("corpus: has no training sentences (split == 0)")
        if np.any(train.lengths < 1):
            raise UsageError("corpus: every training sentence needs at least one word")
        V = c.vocab_size
        if train.word_ids.size and (train.word_ids.min() < 0 or train.word_ids.max() >= V):
            raise UsageError(f"corpus.word_ids: expected ids in 0..{V - 1}")
        q = np.asarray(self.q)
        if q.ndim != 1 or q.size < 1:
            raise UsageError(f"q: expected a vector of shape (d_k,), got {q.shape}")
        set_("q", frozen_array(q, "q"))
        E = np.asarray(self.embeddings0)
        if E.ndim != 2 or E.shape[0] != V or E.shape[1] < 1:
            raise UsageError(f"embeddings0: expected shape (vocab_size, d_e) = ({V}, d_e), got {E.shape}")
        set_("embeddings0", frozen_array(E, "embeddings0"))
        set_("keys0", frozen_array(self.keys0, "keys0", shape=(V, q.size)))
        theta, K = classifier_params(self.classifier, self.theta0, E.shape[1])
        if K != c.n_classes:
            raise UsageError(f"theta0: classifier has K = {K} classes but corpus.n_classes = {c.n_classes}")
        set_("theta0", theta)
        for name in ("lr_v", "lr_k", "lr_c", "lr_q"):
            set_(name, learning_rate(getattr(self, name), name))
        n = train.n_sentences
        set_("ids", frozen_array(train.word_ids, "ids", dtype=np.int64))
        set_("sent", frozen_array(np.repeat(np.arange(n), train.lengths), "sent", dtype=np.int64))
        set_("starts", frozen_array(train.offsets[:-1], "starts", dtype=np.int64))
        set_("offsets", frozen_array(train.offsets, "offsets", dtype=np.int64))
        set_("labels", frozen_array(train.labels, "labels", dtype=np.int64))

    @property
    def V(self) -> int:
        return self.corpus.vocab_size

    @property
    def d_e(self) -> int:
        return self.embeddings0.shape[1]

    @property
    def q_norm(self) -> float:
        return float(np.linalg.norm(self.q))

    def initial_state(self) -> np.ndarray:
        parts = [self.embeddings0.ravel()]
        if self.train_query:
            parts += [self.keys0.ravel(), self.q]
        else:
            parts += [self.keys0 @ self.q]
        return np.concatenate(parts + [pack_theta(self.classifier, self.theta0)])

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray, dict]:
        """``(embeddings, scores, keys or None, q, theta)`` from a state vector."""
        V, d = self.V, self.d_e
        E = x[:V * d].reshape(V, d)
        i = V * d
        if self.train_query:
            dk = self.q.size
            keys = x[i:i + V * dk].reshape(V, dk)
            q = x[i + V * dk:i + V * dk + dk]
            i += V * dk + dk
            s = keys @ q
        else:
            keys, q = None, self.q
            s = x[i:i + V]
            i += V
        return E, s, keys, q, unpack_theta(self.classifier, self.theta0, x[i:])

    def reduced(self) -> ReducedSystem:
        """The reduced system of this corpus: topic words' initial v and s, pi_t and m from the
        training sentences (one length group per distinct length), same classifier and rates."""
        c = self.corpus
        tw = np.asarray(c.topic_words, dtype=np.int64)
        if tw.size == 0:
            raise UsageError("corpus.topic_words: empty, the reduced system needs topic words")
        is_topic = np.zeros(self.V, dtype=bool)
        is_topic[tw] = True
        n = len(self.labels)
        per_sent = np.bincount(self.sent, weights=is_topic[self.ids], minlength=n)
        if np.any(per_sent != 1):
            raise UsageError("corpus: the reduced system needs exactly one topic word per training sentence")
        pos = np.flatnonzero(is_topic[self.ids])
        t_of_sent = np.searchsorted(tw, self.ids[pos]) if np.all(np.diff(tw) > 0) else \
            np.array([int(np.flatnonzero(tw == w)[0]) for w in self.ids[pos]])
        m_of_sent = np.diff(np.append(self.starts, len(self.ids))) - 1
        if np.any(m_of_sent < 1):
            raise UsageError("corpus: every training sentence needs m >= 1 non-topic words")
        lengths = np.unique(m_of_sent)
        g = np.searchsorted(lengths, m_of_sent)
        pi = np.zeros((tw.size, lengths.size))
        np.add.at(pi, (t_of_sent, g), 1.0 / n)
        m = np.broadcast_to(lengths.astype(np.float64), pi.shape)
        if lengths.size == 1:
            m, pi = m[:, 0], pi[:, 0]
        s0 = self.keys0[tw] @ self.q
        return ReducedSystem(q_norm=self.q_norm, m=m, y=np.asarray(c.topic_labels, dtype=np.int64),
                             pi=pi, v0=self.embeddings0[tw], s0=s0, classifier=self.classifier,
                             theta0=self.theta0, lr_v=self.lr_v, lr_k=self.lr_k, lr_c=self.lr_c,
                             train_embeddings=self.train_embeddings, train_keys=self.train_keys)


def full_loss_and_grads(system: FullSystem, E: np.ndarray, s: np.ndarray, theta: dict
                        ) -> tuple[float, np.ndarray, np.ndarray, dict]:
    r"""Mean cross-entropy over the training sentences and its gradients w.r.t. every
    embedding (V, d_e), every score (V,) and the classifier parameters.

    Per occurrence j of word :math:`w_j` in sentence i: :math:`a_{ij}=\mathrm{softmax}_j(s_{w_j})`,
    :math:`c_i=\sum_j a_{ij}v_{w_j}`; with :math:`g_i=\partial L/\partial c_i`:
    :math:`\partial L/\partial v_w=\sum_{(i,j):w_j=w} a_{ij}g_i` and
    :math:`\partial L/\partial s_w=\sum_{(i,j):w_j=w} a_{ij}\,g_i\cdot(v_w-c_i)`
    (:func:`attndyn.numerics.model.reference.loss_and_grads`).
    """
    return reference.loss_and_grads(system.classifier, theta, E, s, system.ids, system.offsets,
                                    system.labels)


def full_loss(system: FullSystem, x: np.ndarray) -> float:
    E, s, _, _, theta = system.unpack(x)
    return full_loss_and_grads(system, E, s, theta)[0]


def full_vector_field(system: FullSystem, x: np.ndarray) -> np.ndarray:
    r"""Right-hand side of the full model's flow (see :class:`FullSystem`)."""
    E, s, keys, q, theta = system.unpack(x)
    _, dE, ds, gth = full_loss_and_grads(system, E, s, theta)
    parts = [(-system.lr_v * dE if system.train_embeddings else np.zeros_like(dE)).ravel()]
    if system.train_query:
        dk = -system.lr_k * np.outer(ds, q) if system.train_keys else np.zeros_like(keys)
        parts += [dk.ravel(), -system.lr_q * (keys.T @ ds)]
    else:
        parts += [-system.lr_k * float(q @ q) * ds if system.train_keys else np.zeros_like(ds)]
    parts.append(-system.lr_c * pack_theta(system.classifier, gth))
    return np.concatenate(parts)


def full_system(corpus: Corpus, q: np.ndarray, *, classifier: str = "fc", theta0: dict | None = None,
                d_e: int | None = None, embeddings0: np.ndarray | None = None,
                keys0: np.ndarray | None = None, emb_std: float = 0.1, seed: int = 0,
                **rates) -> FullSystem:
    """Convenience constructor: keys 0 and embeddings ~ N(0, emb_std^2) unless given, classifier
    from :func:`attndyn.numerics.model.classifiers.init_classifier` unless ``theta0`` given.  ``rates`` are
    the :class:`FullSystem` learning rates and train flags."""
    rng = np.random.default_rng(seed)
    q = np.asarray(q, dtype=np.float64)
    if embeddings0 is None:
        if d_e is None:
            raise UsageError("d_e: give d_e or embeddings0")
        embeddings0 = rng.normal(0.0, emb_std, (corpus.vocab_size, int(d_e)))
    embeddings0 = np.asarray(embeddings0, dtype=np.float64)
    if keys0 is None:
        keys0 = np.zeros((corpus.vocab_size, q.size))
    if theta0 is None:
        theta0 = clf.init_classifier(classifier, embeddings0.shape[1], corpus.n_classes, rng)
    return FullSystem(corpus, q, embeddings0, keys0, classifier, theta0, **rates)
