r"""Gradient flow of the attention model: the reduced topic-word system and the full model.

**Reduced system** (the paper's regime).  Every topic word :math:`t` has an
embedding :math:`v_t\in\mathbb R^{d_e}` and a score :math:`s_t = q\cdot k_t`; the
non-topic words stay frozen at score 0 and embedding 0, so in every sentence that
contains :math:`t` together with :math:`m` non-topic words

.. math::  a_t = \frac{e^{s_t}}{e^{s_t} + m}, \qquad c_t = a_t v_t ,

and the mean training loss over sentences is

.. math::  L = \sum_t \pi_t\, \mathrm{CE}\big(f_\theta(a_t v_t), y_t\big),

:math:`\pi_t` the fraction of training sentences containing :math:`t`.  The flow is

.. math::
   \dot v_t = -\eta_v \partial L/\partial v_t,\quad
   \dot s_t = -\eta_k |q|^2 \partial L/\partial s_t,\quad
   \dot\theta = -\eta_c \partial L/\partial\theta

(a key update :math:`\dot k_t = -\eta_k q\,\partial L/\partial s_t` moves the score by
:math:`q\cdot\dot k_t`; the fixed classifier ``fc`` has no :math:`\dot\theta`).
With :math:`g_t = \partial L/\partial c_t`:
:math:`\partial L/\partial v_t = a_t g_t` and
:math:`\partial L/\partial s_t = a_t(1-a_t)\, g_t\cdot v_t`.  Along it the SEN
quantity :math:`H = |q|^2|v_t|^2 - 2(\eta_v/\eta_k)(s_t + e^{s_t}/m)` is constant
(:func:`attndyn.proofs.sen.sen_H`).

Unequal sentence lengths: ``m`` may be given per topic word, shape (T,), or as
groups, shape (T, G) together with ``pi`` of shape (T, G) — :math:`\pi_{t,g}` the
fraction of training sentences containing :math:`t` with :math:`m_{t,g}` non-topic
words; then :math:`L=\sum_{t,g}\pi_{t,g}\mathrm{CE}(f(a_{t,g}v_t),y_t)` (the SEN identity
no longer holds exactly).

**Full model** (:class:`FullSystem`, :func:`full_flow`): every word's embedding and
score (or key, when the query trains), on a small CSR :class:`~attndyn.numerics.data.corpus.Corpus`,
so that "non-topic words frozen" can be measured.

Kept apart, as in diffrax: configuration (:class:`ReducedSystem`, :class:`FullSystem`,
frozen and validated once), vector fields (:func:`reduced_vector_field`,
:func:`full_vector_field`), the solver with its step control (:func:`integrate`,
SciPy's DOP853 stepper — the one behind ``solve_ivp(method="DOP853")`` — driven step by
step so a step budget, non-finite states and progress are handled here), and the saved
output (:class:`FlowResult`, :class:`FullFlowResult`).  Failures come back as
``status == "failed"`` with a readable ``message`` and the trajectory up to the failure;
only bad input raises (:class:`~attndyn.proofs.errors.UsageError`).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit

from attndyn.numerics.config.presets import ABLATION_EMB_STD
from attndyn.numerics.config.schema import ModelConfig
from attndyn.numerics.data.corpus import SyntheticConfig
from attndyn.numerics.model import classifiers as clf
from attndyn.numerics.model.spec import is_linear, KINDS, OUTPUT_WEIGHT, PARAMETERS, TRAINABLE
from attndyn.proofs.errors import UsageError

# classifier parameters that train, in state-vector order (fc: none, W stays fixed)


# --------------------------------------------------------------------------- validation helpers

def positive_finite(value, name: str, expected: str) -> float:
    """``value`` as a float > 0 and finite, or a UsageError naming ``name`` (``expected`` says
    what was expected, e.g. ``a finite time > 0``)."""
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: expected a positive number, got {value!r}") from None
    if not np.isfinite(x) or x <= 0:
        raise UsageError(f"{name}: expected {expected}, got {value!r}")
    return x


def learning_rate(value, name: str) -> float:
    return positive_finite(value, name, "a positive finite learning rate")


def frozen_array(a, name: str, dtype=np.float64, shape: tuple | None = None) -> np.ndarray:
    try:
        arr = np.array(a, dtype=dtype)  # a copy: the caller's array may change later
    except (TypeError, ValueError):
        raise UsageError(f"{name}: expected a numeric array, got {type(a).__name__}") from None
    if shape is not None and arr.shape != shape:
        raise UsageError(f"{name}: expected shape {shape}, got {arr.shape}")
    if arr.dtype.kind == "f" and not np.all(np.isfinite(arr)):
        raise UsageError(f"{name}: contains NaN or Inf")
    arr.setflags(write=False)
    return arr


def classifier_params(kind: str, theta, d_e: int, name: str = "theta0") -> tuple[dict, int]:
    """Validated classifier parameters (read-only copies) and the number of classes K."""
    if kind not in KINDS:
        raise UsageError(f"classifier: expected one of {KINDS}, got {kind!r}")
    if not isinstance(theta, dict):
        raise UsageError(f"{name}: expected a dict of classifier parameters, got {type(theta).__name__}")
    need = PARAMETERS[kind]
    missing = [k for k in need if k not in theta]
    extra = [k for k in theta if k not in need]
    if missing or extra:
        raise UsageError(f"{name}: classifier {kind!r} needs parameters {need}, "
                         f"missing {missing}, unexpected {extra}")
    if is_linear(kind):
        W = np.asarray(theta["W"])
        if W.ndim != 2 or W.shape[0] != d_e:
            raise UsageError(f"{name}['W']: expected shape (d_e, K) with d_e = {d_e}, got {W.shape}")
        K = W.shape[1]
        out = {"W": frozen_array(W, f"{name}['W']")}
    else:
        W1 = np.asarray(theta["W1"])
        if W1.ndim != 2 or W1.shape[0] != d_e:
            raise UsageError(f"{name}['W1']: expected shape (d_e, hidden) with d_e = {d_e}, got {W1.shape}")
        h = W1.shape[1]
        W2 = np.asarray(theta["W2"])
        if W2.ndim != 2 or W2.shape[0] != h:
            raise UsageError(f"{name}['W2']: expected shape (hidden, K) with hidden = {h}, got {W2.shape}")
        K = W2.shape[1]
        out = {"W1": frozen_array(W1, f"{name}['W1']"),
               "b1": frozen_array(theta["b1"], f"{name}['b1']", shape=(h,)),
               "W2": frozen_array(W2, f"{name}['W2']"),
               "b2": frozen_array(theta["b2"], f"{name}['b2']", shape=(K,))}
    if K < 2:
        raise UsageError(f"{name}: expected K >= 2 classes, got K = {K}")
    return out, K


def pack_theta(kind: str, theta: dict) -> np.ndarray:
    names = TRAINABLE[kind]
    return np.concatenate([np.ravel(theta[k]) for k in names]) if names else np.zeros(0)


def unpack_theta(kind: str, theta0: dict, flat: np.ndarray) -> dict:
    """Classifier parameters with the trainable ones read from ``flat`` (views, no copies)."""
    out = dict(theta0)
    i = 0
    for k in TRAINABLE[kind]:
        n = theta0[k].size
        out[k] = flat[i:i + n].reshape(theta0[k].shape)
        i += n
    return out


# --------------------------------------------------------------------------- reduced system

@dataclass(frozen=True, eq=False)
class ReducedSystem:
    r"""Configuration of the reduced topic-word flow (validated once, read-only arrays).

    ``q_norm`` :math:`|q|`; ``m`` the number of non-topic words per sentence (scalar,
    per topic word (T,), or length groups (T, G)); ``y`` labels (T,); ``pi`` sentence
    fractions (T,) — or (T, G) with grouped ``m``; ``v0`` (T, d_e); ``s0`` (T,);
    ``classifier`` ``fc``/``tc``/``tl`` with initial parameters ``theta0``
    (:mod:`attndyn.numerics.model.classifiers` layout); learning rates :math:`\eta_v, \eta_k, \eta_c`.
    ``train_embeddings`` / ``train_keys`` False freeze :math:`v` / :math:`s` (the
    paper's EF / KF ablations; the SEN identity then fails).
    """

    q_norm: float
    m: np.ndarray
    y: np.ndarray
    pi: np.ndarray
    v0: np.ndarray
    s0: np.ndarray
    classifier: str
    theta0: dict
    lr_v: float = 1.0
    lr_k: float = 1.0
    lr_c: float = 1.0
    train_embeddings: bool = True
    train_keys: bool = True
    # derived row layout: one row per (topic word, length group)
    rows_t: np.ndarray = field(init=False, repr=False)
    rows_m: np.ndarray = field(init=False, repr=False)
    rows_w: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        set_ = lambda k, v: object.__setattr__(self, k, v)  # noqa: E731 (frozen dataclass)
        try:
            qn = float(self.q_norm)
        except (TypeError, ValueError):
            raise UsageError(f"q_norm: expected a number |q| > 0, got {self.q_norm!r}") from None
        if not np.isfinite(qn) or qn <= 0:
            raise UsageError(f"q_norm: expected a finite |q| > 0, got {self.q_norm!r}")
        set_("q_norm", qn)
        v0 = np.asarray(self.v0)
        if v0.ndim != 2 or v0.shape[0] < 1 or v0.shape[1] < 1:
            raise UsageError(f"v0: expected shape (T, d_e) with T, d_e >= 1, got {v0.shape}")
        T, d_e = v0.shape
        set_("v0", frozen_array(v0, "v0"))
        set_("s0", frozen_array(self.s0, "s0", shape=(T,)))
        theta, K = classifier_params(self.classifier, self.theta0, d_e)
        set_("theta0", theta)
        y = np.asarray(self.y)
        if y.shape != (T,) or y.dtype.kind not in "iu":
            raise UsageError(f"y: expected {T} integer labels (shape ({T},)), got shape {y.shape} dtype {y.dtype}")
        if y.min() < 0 or y.max() >= K:
            raise UsageError(f"y: labels must lie in 0..{K - 1} (K = {K} classes), got {y.min()}..{y.max()}")
        set_("y", frozen_array(y, "y", dtype=np.int64))
        m = np.asarray(self.m, dtype=np.float64)
        if m.ndim == 0:
            m = np.full(T, float(m))
        if m.ndim == 1 and m.shape != (T,) or m.ndim == 2 and m.shape[0] != T or m.ndim > 2:
            raise UsageError(f"m: expected a scalar, shape ({T},) or ({T}, G), got shape {m.shape}")
        if not np.all(np.isfinite(m)) or np.any(m < 1):
            raise UsageError(f"m: expected non-topic word counts m >= 1, got min {np.min(m)!r}")
        pi = np.asarray(self.pi, dtype=np.float64)
        if pi.shape != m.shape:
            raise UsageError(f"pi: expected shape {m.shape} (the shape of m), got {pi.shape}")
        if not np.all(np.isfinite(pi)) or np.any(pi < 0) or pi.sum() <= 0:
            raise UsageError("pi: expected finite sentence fractions >= 0 with a positive sum")
        set_("m", frozen_array(m, "m"))
        set_("pi", frozen_array(pi, "pi"))
        for name in ("lr_v", "lr_k", "lr_c"):
            set_(name, learning_rate(getattr(self, name), name))
        G = 1 if m.ndim == 1 else m.shape[1]
        set_("rows_t", frozen_array(np.repeat(np.arange(T), G), "rows_t", dtype=np.int64))
        set_("rows_m", frozen_array(m.ravel(), "rows_m"))
        set_("rows_w", frozen_array(pi.ravel(), "rows_w"))

    # -- shapes and derived constants
    @property
    def T(self) -> int:
        return self.v0.shape[0]

    @property
    def d_e(self) -> int:
        return self.v0.shape[1]

    @property
    def K(self) -> int:
        return self.theta0[OUTPUT_WEIGHT[self.classifier]].shape[1]

    @property
    def lr_ratio(self) -> float:
        r""":math:`\eta_v/\eta_k`, the coefficient of the SEN identity."""
        return self.lr_v / self.lr_k

    @property
    def m_eff(self) -> np.ndarray:
        """Per topic word m for the SEN curve: m itself, or the pi-weighted mean over length groups."""
        if self.m.ndim == 1:
            return self.m
        w = self.pi.sum(axis=1)
        safe = np.where(w > 0, w, 1.0)
        return np.where(w > 0, (self.pi * self.m).sum(axis=1) / safe, self.m.mean(axis=1))

    def replace(self, **changes) -> "ReducedSystem":
        """A copy with some fields changed (re-validated)."""
        kw = {k: getattr(self, k) for k in ("q_norm", "m", "y", "pi", "v0", "s0", "classifier",
                                            "theta0", "lr_v", "lr_k", "lr_c", "train_embeddings",
                                            "train_keys")}
        kw.update(changes)
        return ReducedSystem(**kw)

    # -- state vector: [v (T*d_e), s (T), trainable classifier parameters]
    def pack(self, v: np.ndarray, s: np.ndarray, theta: dict | None = None) -> np.ndarray:
        th = pack_theta(self.classifier, self.theta0 if theta is None else theta)
        return np.concatenate([np.ravel(v), np.ravel(s), th])

    def initial_state(self) -> np.ndarray:
        return self.pack(self.v0, self.s0)

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        T, d = self.T, self.d_e
        v = x[:T * d].reshape(T, d)
        s = x[T * d:T * d + T]
        return v, s, unpack_theta(self.classifier, self.theta0, x[T * d + T:])

    @property
    def state_size(self) -> int:
        return self.T * self.d_e + self.T + pack_theta(self.classifier, self.theta0).size


def reduced_loss_and_grads(system: ReducedSystem, v: np.ndarray, s: np.ndarray, theta: dict,
                           relu: tuple[np.ndarray, np.ndarray] | None = None
                           ) -> tuple[float, np.ndarray, np.ndarray, dict]:
    r""":math:`L=\sum_{t}\pi_t\,\mathrm{CE}(f_\theta(a_t v_t), y_t)` and its gradients.

    Returns ``(L, dL/dv (T, d_e), dL/ds (T,), dL/dtheta)`` with
    :math:`\partial L/\partial v_t = \sum_g a_{t,g} g_{t,g}`,
    :math:`\partial L/\partial s_t = \sum_g a_{t,g}(1-a_{t,g})\, g_{t,g}\cdot v_t`, where
    :math:`g = \partial L/\partial c` comes from :func:`attndyn.numerics.model.classifiers.loss_and_grads`
    (weights :math:`\pi`).  :math:`a = \sigma(s - \log m)` is evaluated stably.
    ``relu = (fwd, bwd)`` (TL only, shape rows x hidden) fixes the ReLU sides (see :func:`attndyn.numerics.model.classifiers.loss_and_grads`).
    """
    tw = system.rows_t
    z = s[tw] - np.log(system.rows_m)
    a, one_minus_a = expit(z), expit(-z)
    vr = v[tw]
    C = a[:, None] * vr
    L, G, gtheta = clf.loss_and_grads(system.classifier, theta, C, system.y[tw],
                                      weights=system.rows_w, relu=relu)
    T, d = system.T, system.d_e
    if len(tw) == T:  # one length group: rows are the topic words themselves
        dv = a[:, None] * G
        ds = a * one_minus_a * np.einsum("ij,ij->i", G, vr)
    else:
        dv = np.zeros((T, d))
        np.add.at(dv, tw, a[:, None] * G)
        ds = np.bincount(tw, weights=a * one_minus_a * np.einsum("ij,ij->i", G, vr), minlength=T)
    return L, dv, ds, gtheta


def reduced_loss(system: ReducedSystem, x: np.ndarray) -> float:
    v, s, theta = system.unpack(x)
    return reduced_loss_and_grads(system, v, s, theta)[0]


def reduced_vector_field(system: ReducedSystem, x: np.ndarray,
                         relu: tuple[np.ndarray, np.ndarray] | None = None) -> np.ndarray:
    r"""The flow's right-hand side :math:`\dot x` at state ``x``:
    :math:`(-\eta_v\partial_v L,\; -\eta_k|q|^2\partial_s L,\; -\eta_c\partial_\theta L)`."""
    v, s, theta = system.unpack(x)
    with np.errstate(over="ignore", invalid="ignore"):
        _, dv, ds, gth = reduced_loss_and_grads(system, v, s, theta, relu)
    fv = -system.lr_v * dv if system.train_embeddings else np.zeros_like(dv)
    fs = -system.lr_k * system.q_norm ** 2 * ds if system.train_keys else np.zeros_like(ds)
    fth = -system.lr_c * pack_theta(system.classifier, gth)
    return np.concatenate([fv.ravel(), fs, fth])


OFF, ON, SLIDING = 0, 1, 2


def paper_reduced_system(classifier: str = "fc", *, seed: int = 0,
                         n_topics: int = SyntheticConfig.n_topics,
                         words_per_topic: int = SyntheticConfig.topic_words_per_topic,
                         d_e: int = ModelConfig.d_e, d_k: int = ModelConfig.d_k,
                         m: float = SyntheticConfig.m, q_std: float = ModelConfig.query_std,
                         emb_std: float = ABLATION_EMB_STD, s0: float = 0.0,
                         matrix: np.ndarray | None = None, lr_v: float = 1.0, lr_k: float = 1.0,
                         lr_c: float = 1.0) -> ReducedSystem:
    """The paper's synthetic setting (the defaults of :class:`~attndyn.numerics.data.corpus.SyntheticConfig`
    and :class:`~attndyn.numerics.config.schema.ModelConfig`; embeddings at the ablation's std,
    large enough to move) reduced to its topic words: ``n_topics`` equiprobable
    topics, ``words_per_topic`` topic words each (so pi_t = 1/T), query q ~ N(0, q_std^2 I_{d_k})
    (only |q| enters), embeddings ~ N(0, emb_std^2), scores ``s0``, classifier as in
    :func:`attndyn.numerics.model.classifiers.init_classifier`.  Seeded: the same seed, the same system."""
    rng = np.random.default_rng(seed)
    T = n_topics * words_per_topic
    if T < 1 or d_e < 1 or d_k < 1:
        raise UsageError(f"n_topics, words_per_topic, d_e, d_k: expected >= 1, got "
                         f"{n_topics}, {words_per_topic}, {d_e}, {d_k}")
    q = rng.normal(0.0, q_std, d_k)
    v0 = rng.normal(0.0, emb_std, (T, d_e))
    theta = clf.init_classifier(classifier, d_e, n_topics, rng, matrix)
    return ReducedSystem(q_norm=float(np.linalg.norm(q)), m=m, y=np.arange(T) // words_per_topic,
                         pi=np.full(T, 1.0 / T), v0=v0, s0=np.full(T, float(s0)),
                         classifier=classifier, theta0=theta, lr_v=lr_v, lr_k=lr_k, lr_c=lr_c)
