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

import itertools
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from scipy.integrate import DOP853
from scipy.optimize import brentq
from scipy.special import expit

from attndyn.numerics.model import classifiers as clf
from attndyn.numerics.data.corpus import Corpus
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import FLOW, NUMERIC

# classifier parameters that train, in state-vector order (fc: none, W stays fixed)
TRAINABLE = {"fc": (), "tc": ("W",), "tl": ("W1", "b1", "W2", "b2")}


# --------------------------------------------------------------------------- validation helpers

def _lr(value, name: str) -> float:
    try:
        x = float(value)
    except (TypeError, ValueError):
        raise UsageError(f"{name}: expected a positive number, got {value!r}") from None
    if not np.isfinite(x) or x <= 0:
        raise UsageError(f"{name}: expected a positive finite learning rate, got {value!r}")
    return x


def _frozen_array(a, name: str, dtype=np.float64, shape: tuple | None = None) -> np.ndarray:
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


def _classifier_params(kind: str, theta, d_e: int, name: str = "theta0") -> tuple[dict, int]:
    """Validated classifier parameters (read-only copies) and the number of classes K."""
    if kind not in clf.KINDS:
        raise UsageError(f"classifier: expected one of {clf.KINDS}, got {kind!r}")
    if not isinstance(theta, dict):
        raise UsageError(f"{name}: expected a dict of classifier parameters, got {type(theta).__name__}")
    need = ("W",) if kind in ("fc", "tc") else ("W1", "b1", "W2", "b2")
    missing = [k for k in need if k not in theta]
    extra = [k for k in theta if k not in need]
    if missing or extra:
        raise UsageError(f"{name}: classifier {kind!r} needs parameters {need}, "
                         f"missing {missing}, unexpected {extra}")
    if kind in ("fc", "tc"):
        W = np.asarray(theta["W"])
        if W.ndim != 2 or W.shape[0] != d_e:
            raise UsageError(f"{name}['W']: expected shape (d_e, K) with d_e = {d_e}, got {W.shape}")
        K = W.shape[1]
        out = {"W": _frozen_array(W, f"{name}['W']")}
    else:
        W1 = np.asarray(theta["W1"])
        if W1.ndim != 2 or W1.shape[0] != d_e:
            raise UsageError(f"{name}['W1']: expected shape (d_e, hidden) with d_e = {d_e}, got {W1.shape}")
        h = W1.shape[1]
        W2 = np.asarray(theta["W2"])
        if W2.ndim != 2 or W2.shape[0] != h:
            raise UsageError(f"{name}['W2']: expected shape (hidden, K) with hidden = {h}, got {W2.shape}")
        K = W2.shape[1]
        out = {"W1": _frozen_array(W1, f"{name}['W1']"),
               "b1": _frozen_array(theta["b1"], f"{name}['b1']", shape=(h,)),
               "W2": _frozen_array(W2, f"{name}['W2']"),
               "b2": _frozen_array(theta["b2"], f"{name}['b2']", shape=(K,))}
    if K < 2:
        raise UsageError(f"{name}: expected K >= 2 classes, got K = {K}")
    return out, K


def _pack_theta(kind: str, theta: dict) -> np.ndarray:
    names = TRAINABLE[kind]
    return np.concatenate([np.ravel(theta[k]) for k in names]) if names else np.zeros(0)


def _unpack_theta(kind: str, theta0: dict, flat: np.ndarray) -> dict:
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
        set_("v0", _frozen_array(v0, "v0"))
        set_("s0", _frozen_array(self.s0, "s0", shape=(T,)))
        theta, K = _classifier_params(self.classifier, self.theta0, d_e)
        set_("theta0", theta)
        y = np.asarray(self.y)
        if y.shape != (T,) or y.dtype.kind not in "iu":
            raise UsageError(f"y: expected {T} integer labels (shape ({T},)), got shape {y.shape} dtype {y.dtype}")
        if y.min() < 0 or y.max() >= K:
            raise UsageError(f"y: labels must lie in 0..{K - 1} (K = {K} classes), got {y.min()}..{y.max()}")
        set_("y", _frozen_array(y, "y", dtype=np.int64))
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
        set_("m", _frozen_array(m, "m"))
        set_("pi", _frozen_array(pi, "pi"))
        for name in ("lr_v", "lr_k", "lr_c"):
            set_(name, _lr(getattr(self, name), name))
        G = 1 if m.ndim == 1 else m.shape[1]
        set_("rows_t", _frozen_array(np.repeat(np.arange(T), G), "rows_t", dtype=np.int64))
        set_("rows_m", _frozen_array(m.ravel(), "rows_m"))
        set_("rows_w", _frozen_array(pi.ravel(), "rows_w"))

    # -- shapes and derived constants
    @property
    def T(self) -> int:
        return self.v0.shape[0]

    @property
    def d_e(self) -> int:
        return self.v0.shape[1]

    @property
    def K(self) -> int:
        return (self.theta0["W"] if self.classifier in ("fc", "tc") else self.theta0["W2"]).shape[1]

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
        th = _pack_theta(self.classifier, self.theta0 if theta is None else theta)
        return np.concatenate([np.ravel(v), np.ravel(s), th])

    def initial_state(self) -> np.ndarray:
        return self.pack(self.v0, self.s0)

    def unpack(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
        T, d = self.T, self.d_e
        v = x[:T * d].reshape(T, d)
        s = x[T * d:T * d + T]
        return v, s, _unpack_theta(self.classifier, self.theta0, x[T * d + T:])

    @property
    def state_size(self) -> int:
        return self.T * self.d_e + self.T + _pack_theta(self.classifier, self.theta0).size


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
    fth = -system.lr_c * _pack_theta(system.classifier, gth)
    return np.concatenate([fv.ravel(), fs, fth])


OFF, ON, SLIDING = 0, 1, 2


class ReluSwitching:
    r"""Filippov treatment of the TL classifier's ReLU kinks in the reduced flow.

    The TL flow is only piecewise smooth: each pre-activation
    :math:`p_{r,h} = a_r v_r\cdot W_1[:,h] + b_{1,h}` (row r = topic word / length group,
    unit h) switches the field when it changes sign, and often the field pushes
    :math:`p_{r,h}` onto 0 from both sides (a *sliding mode*; in the paper-like runs within
    τ ≈ 1) — an explicit integrator then chatters with vanishing steps.  Here each live entry has a mode: ``ON``
    (ReLU' = 1), ``OFF`` (0) or ``SLIDING``, where the ReLU' factor is the
    :math:`\alpha\in[0,1]` solving :math:`\dot p_S = 0` (the field is affine in it):
    Filippov's convex combination, which keeps :math:`p = 0`.  Sign changes of ``p``
    (ON/OFF) and :math:`\alpha` reaching 0 or 1 (SLIDING) are events located by
    :func:`integrate`; :meth:`on_event` picks the new modes of the entries at their kink
    (:meth:`_modes_at_kink`).  Any Filippov field is a convex combination of fields that conserve
    the SEN quantity, so the identity holds along it too.
    """

    def __init__(self, system: ReducedSystem, x0: np.ndarray) -> None:
        if system.classifier != "tl":
            raise UsageError("ReluSwitching: only the tl classifier has ReLU kinks")
        self.system = system
        pre = self.preactivation(x0)
        self.live = np.broadcast_to((system.rows_w > 0)[:, None], pre.shape).ravel().copy()
        self.mode = np.where(pre.ravel() > 0, ON, OFF).astype(np.int8)
        self.alpha = np.zeros(0)
        self._last = (np.zeros(0), self.alpha)
        self.switches = 0
        at_kink = np.flatnonzero(self.live & (pre.ravel() == 0))
        if at_kink.size:
            modes = self._modes_at_kink(x0, at_kink, {})
            if modes is None:
                raise UsageError("initial state: no consistent mode for the TL ReLUs at their kink")
            self.mode[at_kink] = modes

    def preactivation(self, x: np.ndarray) -> np.ndarray:
        sys_ = self.system
        v, s, th = sys_.unpack(x)
        a = expit(s[sys_.rows_t] - np.log(sys_.rows_m))
        return (a[:, None] * v[sys_.rows_t]) @ th["W1"] + th["b1"]

    def preactivation_rate(self, x: np.ndarray, F: np.ndarray) -> np.ndarray:
        r""":math:`\dot p = \nabla p\cdot F` (rows x hidden), by the chain rule."""
        sys_ = self.system
        tw = sys_.rows_t
        v, s, th = sys_.unpack(x)
        dv, ds, dth = sys_.unpack(F)
        a = expit(s[tw] - np.log(sys_.rows_m))
        vW = v[tw] @ th["W1"]
        return ((a * (1 - a) * ds[tw])[:, None] * vW
                + a[:, None] * (dv[tw] @ th["W1"] + v[tw] @ dth["W1"]) + dth["b1"][None, :])

    def _field(self, x: np.ndarray, mode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = (len(self.system.rows_t), self.system.theta0["W1"].shape[1])
        on = (mode == ON).astype(np.float64)
        fwd = on.reshape(shape)
        S = np.flatnonzero(mode == SLIDING)
        F0 = reduced_vector_field(self.system, x, (fwd, on.reshape(shape)))
        if S.size == 0:
            return F0, np.zeros(0)
        b = self.preactivation_rate(x, F0).ravel()[S]
        Fk, A = [], np.empty((S.size, S.size))
        for k, j in enumerate(S):
            bwd = on.copy()
            bwd[j] = 1.0
            Fk.append(reduced_vector_field(self.system, x, (fwd, bwd.reshape(shape))))
            A[:, k] = self.preactivation_rate(x, Fk[-1]).ravel()[S] - b
        try:
            alpha = np.linalg.solve(A, -b)
        except np.linalg.LinAlgError:
            return np.full_like(F0, np.nan), np.full(S.size, np.nan)
        return F0 + sum(al * (F - F0) for al, F in zip(alpha, Fk)), alpha

    def field(self, x: np.ndarray) -> np.ndarray:
        F, self.alpha = self._field(x, self.mode)
        self._last = (x.copy(), self.alpha)  # DOP853's last stage is the accepted state: events reuse it
        return F

    def events(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two event functions per entry: ON/OFF — (p, const 1); SLIDING — (alpha, alpha - 1)."""
        n = self.mode.size
        g = np.ones((n, 2))
        dirs = np.ones((n, 2))
        pre = self.preactivation(x).ravel()
        live = self.live
        on, off, sl = live & (self.mode == ON), live & (self.mode == OFF), self.mode == SLIDING
        g[on, 0], dirs[on, 0] = pre[on], -1.0
        g[off, 0] = pre[off]
        if sl.any():
            last_x, alpha = self._last
            if alpha.size != int(sl.sum()) or not np.array_equal(last_x, x):
                _, alpha = self._field(x, self.mode)
            g[sl, 0], dirs[sl, 0] = alpha, -1.0
            g[sl, 1] = alpha - 1.0
        return g.ravel(), dirs.ravel()

    def _modes_at_kink(self, x: np.ndarray, cand: np.ndarray, fixed: dict[int, int]) -> np.ndarray | None:
        r"""Modes of the entries ``cand`` (all at :math:`p = 0`) after an event: the Filippov
        box-complementarity problem — with :math:`\dot p = b + A\alpha` affine in the ReLU'
        factors, find :math:`\alpha\in[0,1]^n` with :math:`\alpha_j = 0 \Rightarrow \dot p_j\le 0`
        (OFF), :math:`\alpha_j = 1 \Rightarrow \dot p_j \ge 0` (ON) and
        :math:`0<\alpha_j<1 \Rightarrow \dot p_j = 0` (SLIDING).  Assignments are tried by increasing number of changes from the current modes, so the
        consistent one with the fewest changes wins (ties: a fixed enumeration order);
        ``None`` when none is found within ``FLOW.kink_max_trials`` trials.  Deterministic."""
        n = cand.size
        mode = self.mode.copy()
        mode[cand] = OFF
        shape = (len(self.system.rows_t), self.system.theta0["W1"].shape[1])
        on = (mode == ON).astype(np.float64)
        F0 = reduced_vector_field(self.system, x, (on.reshape(shape), on.reshape(shape)))
        b = self.preactivation_rate(x, F0).ravel()[cand]
        A = np.empty((n, n))
        for k, j in enumerate(cand):
            bwd = on.copy()
            bwd[j] = 1.0
            Fk = reduced_vector_field(self.system, x, (on.reshape(shape), bwd.reshape(shape)))
            A[:, k] = self.preactivation_rate(x, Fk).ravel()[cand] - b
        tol = FLOW.kink_rtol * (np.abs(b).max() + np.abs(A).max() + np.finfo(float).tiny)
        fix = np.array([fixed.get(int(j), -1) for j in cand])

        def consistent(assign) -> bool:
            alpha = (assign == ON).astype(np.float64)
            S = assign == SLIDING
            if S.any():
                try:
                    alpha[S] = np.linalg.solve(A[np.ix_(S, S)], -(b[S] + A[np.ix_(S, ~S)] @ alpha[~S]))
                except np.linalg.LinAlgError:
                    return False
                if np.any(alpha[S] < -FLOW.kink_rtol) or np.any(alpha[S] > 1 + FLOW.kink_rtol):
                    return False
            rate = b + A @ alpha
            return not (np.any(rate[assign == OFF] > tol) or np.any(rate[assign == ON] < -tol))

        # search by number of changes from the current modes: the first consistent assignment
        # with the fewest changes wins (deterministic order); usually 1-3 changes suffice
        cur = np.where(fix >= 0, fix, self.mode[cand])
        free = np.flatnonzero(fix < 0)
        trials = 0
        for c in range(free.size + 1):
            for subset in itertools.combinations(free, c):
                for alts in itertools.product(*[[o for o in (SLIDING, OFF, ON) if o != cur[i]]
                                                for i in subset]):
                    trial = cur.copy()
                    trial[list(subset)] = alts
                    if consistent(trial):
                        return trial
                    trials += 1
                    if trials > FLOW.kink_max_trials:
                        return None
        return None

    def on_event(self, k: int, t: float, x: np.ndarray) -> str | None:
        j, which = divmod(k, 2)
        fixed = {}
        if self.mode[j] == SLIDING:  # alpha reached 0 (leaves to OFF) or 1 (to ON)
            fixed[j] = OFF if which == 0 else ON
        cand = np.union1d(np.flatnonzero(self.mode == SLIDING), [j]).astype(np.int64)
        modes = self._modes_at_kink(x, cand, fixed)
        if modes is None:
            return (f"no consistent Filippov mode for the TL ReLUs at their kink (entries "
                    f"{cand.tolist()}; none within {FLOW.kink_max_trials} trials, or a degenerate kink)")
        self.mode[cand] = modes
        self.switches += 1
        return None


# --------------------------------------------------------------------------- solver

@dataclass(frozen=True)
class Trajectory:
    """Raw solver output: states ``X`` (n, state) at times ``t`` (n,), how it ended."""

    t: np.ndarray
    X: np.ndarray
    status: str  # "ok" or "failed"
    message: str
    n_steps: int
    n_evals: int
    n_events: int = 0


def time_grid(horizon: float, n: int = FLOW.n_save, spacing: str = "log",
              first: float | None = None) -> np.ndarray:
    """Save times on [0, horizon]: ``n`` points, log-spaced (0, then ``first`` .. horizon) or linear.

    Log spacing suits long horizons, where the flow slows down (scores grow like log τ).
    ``first`` defaults to ``horizon * FLOW.log_first_fraction`` capped at ``FLOW.log_first``.
    """
    try:
        horizon = float(horizon)
    except (TypeError, ValueError):
        raise UsageError(f"horizon: expected a positive number, got {horizon!r}") from None
    if not np.isfinite(horizon) or horizon <= 0:
        raise UsageError(f"horizon: expected a finite time > 0, got {horizon!r}")
    if int(n) != n or n < 2:
        raise UsageError(f"n_save: expected an integer >= 2, got {n!r}")
    n = int(n)
    if spacing == "linear":
        return np.linspace(0.0, horizon, n)
    if spacing != "log":
        raise UsageError(f"spacing: expected 'log' or 'linear', got {spacing!r}")
    if first is None:
        first = min(FLOW.log_first, horizon * FLOW.log_first_fraction)
    if not 0 < first < horizon:
        raise UsageError(f"first: expected 0 < first < horizon = {horizon}, got {first!r}")
    return np.concatenate([[0.0], np.geomspace(first, horizon, n - 1)])


def _check_t_eval(t_eval) -> np.ndarray:
    t = np.asarray(t_eval, dtype=np.float64)
    if t.ndim != 1 or t.size < 1:
        raise UsageError(f"t_eval: expected a 1-D array of save times, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise UsageError("t_eval: contains NaN or Inf (give a finite horizon)")
    if t[0] < 0 or np.any(np.diff(t) < 0):
        raise UsageError("t_eval: expected non-decreasing times starting at >= 0")
    return t


def integrate(fun: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, t_eval: np.ndarray, *,
              rtol: float = NUMERIC.flow_rtol, atol: float = NUMERIC.flow_atol,
              max_steps: int = FLOW.max_steps,
              progress: Callable[[float, float], None] | None = None,
              events: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
              on_event: Callable[[int, float, np.ndarray], str | None] | None = None,
              max_events: int = FLOW.max_events) -> Trajectory:
    r"""Integrate the autonomous ODE :math:`\dot x = \mathrm{fun}(x)` from τ = 0 with DOP853.

    The stepper is SciPy's DOP853 (what ``solve_ivp(method="DOP853")`` uses), driven
    step by step: states at ``t_eval`` come from its dense output as in ``solve_ivp``;
    the run stops with status ``failed`` when the step size collapses, when more than
    ``max_steps`` steps would be needed, or when the state stops being finite.  Trial
    steps that overflow are rejected by the step control (a NaN error norm shrinks the
    step) rather than aborting.  ``progress(tau, tau_end)`` is called after each step.

    Switching (a piecewise-smooth field, e.g. a ReLU changing side): ``events(x)`` returns
    event-function values ``g`` and directions (+1: fires when ``g`` rises through 0, -1:
    falls).  The earliest firing event is located on the dense output (Brent), the
    state is stopped there, ``on_event(index, tau, x)`` updates the caller's mode (it may
    return a failure message) and integration restarts from that point.
    """
    t_eval = _check_t_eval(t_eval)
    x0 = np.asarray(x0, dtype=np.float64)
    X = np.empty((len(t_eval), x0.size))
    n_evals = 0

    def f(_t, x):
        nonlocal n_evals
        n_evals += 1
        with np.errstate(over="ignore", invalid="ignore"):
            return fun(x)

    done = int(np.searchsorted(t_eval, 0.0, side="right"))
    X[:done] = x0
    steps = 0
    n_events = 0

    def result(status, message):
        return Trajectory(t_eval[:done].copy(), X[:done].copy(), status, message, steps, n_evals,
                          n_events)

    if not np.all(np.isfinite(x0)):
        return result("failed", "initial state is not finite")
    if not np.all(np.isfinite(f(0.0, x0))):
        return result("failed", "vector field is not finite at the initial state")
    t_end = float(t_eval[-1])
    if done == len(t_eval):
        return result("ok", "nothing to integrate (all save times are 0)")
    t, x = 0.0, x0
    while t < t_end:
        solver = DOP853(f, t, x, t_end, rtol=rtol, atol=atol)
        g_old, dirs = events(x) if events is not None else (None, None)
        restart = False
        while solver.status == "running":
            if steps >= max_steps:
                return result("failed", f"step budget exhausted: {max_steps} steps reached only tau = "
                              f"{solver.t:.6g} of {t_end:.6g} (a very stiff or non-smooth flow, e.g. a "
                              "learning rate too large, a ReLU pinned at its kink, or a horizon too "
                              "long for the budget)")
            msg = solver.step()
            if solver.status == "failed":
                return result("failed", f"DOP853 failed at tau = {solver.t:.6g}: {msg}")
            steps += 1
            if not np.all(np.isfinite(solver.y)):
                return result("failed", f"state became non-finite at tau = {solver.t:.6g}")
            t_hi = solver.t
            if events is not None:
                g_new, _ = events(solver.y)
                fired = np.flatnonzero(np.where(dirs > 0, (g_old < 0) & (g_new >= 0),
                                                (g_old > 0) & (g_new <= 0)))
                if fired.size:
                    dense = solver.dense_output()
                    roots = [brentq(lambda tt, j=j: events(dense(tt))[0][j], solver.t_old, solver.t,
                                    xtol=4e-16 * max(1.0, abs(solver.t)), rtol=4 * np.finfo(float).eps)
                             if g_new[j] != 0 else solver.t for j in fired]
                    k = int(np.argmin(roots))
                    t_hi = roots[k]
                    x_hi = solver.y if t_hi == solver.t else dense(t_hi)
                    restart = True
                g_old = g_new
            j = int(np.searchsorted(t_eval, t_hi, side="right"))
            if j > done:
                if t_hi == solver.t and t_eval[j - 1] == t_hi and j - done == 1:
                    X[done] = solver.y
                else:
                    X[done:j] = solver.dense_output()(t_eval[done:j]).T
                done = j
            if progress is not None:
                progress(t_hi, t_end)
            if restart:
                n_events += 1
                if n_events > max_events:
                    return result("failed", f"event budget exhausted: {max_events} switches by tau = "
                                  f"{t_hi:.6g} (chattering between modes)")
                err = on_event(int(fired[k]), t_hi, x_hi)
                if err:
                    return result("failed", f"at tau = {t_hi:.6g}: {err}")
                t, x = t_hi, x_hi
                break
        if not restart:
            t = t_end
    return result("ok", f"reached tau = {t_end:.6g} in {steps} steps"
                  + (f" and {n_events} switches" if n_events else ""))


# --------------------------------------------------------------------------- saved output

@dataclass(frozen=True, eq=False)
class FlowResult:
    """The reduced flow (or discrete GD) sampled at times ``t``.

    ``v`` (n, T, d_e), ``s`` (n, T), ``theta`` trajectories of the trainable classifier
    parameters (name -> (n, ...); empty for ``fc``), ``loss`` (n,).  ``status`` is
    ``"ok"`` or ``"failed"`` with ``message``; a failed run keeps the samples reached.
    """

    system: ReducedSystem
    t: np.ndarray
    v: np.ndarray
    s: np.ndarray
    theta: dict
    loss: np.ndarray
    status: str
    message: str
    n_steps: int = 0
    n_evals: int = 0
    n_events: int = 0  # switches of the TL ReLUs (Filippov events)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def classifier_params(self, i: int) -> dict:
        """All classifier parameters (fixed and trained) at sample ``i``."""
        out = dict(self.system.theta0)
        out.update({k: a[i] for k, a in self.theta.items()})
        return out

    @property
    def norms(self) -> np.ndarray:
        """:math:`|v_t|` (n, T)."""
        return np.linalg.norm(self.v, axis=-1)

    def attention(self) -> np.ndarray:
        """Topic attention :math:`a_t = e^{s_t}/(e^{s_t}+m)` (n, T), with m = :attr:`ReducedSystem.m_eff`."""
        return expit(self.s - np.log(self.system.m_eff))

    def H(self, H: Callable | None = None, m: np.ndarray | None = None) -> np.ndarray:
        r"""The SEN quantity per sample and topic word (n, T):
        ``H(|v|^2, s, |q|^2, m, eta_v/eta_k)``, default :func:`attndyn.proofs.sen.sen_H`
        :math:`= |q|^2|v|^2 - 2(\eta_v/\eta_k)(s + e^s/m)`."""
        if H is None:
            from attndyn.proofs.sen import sen_H as H
        mm = self.system.m_eff if m is None else np.asarray(m, dtype=np.float64)
        return np.asarray(H(np.sum(self.v ** 2, axis=-1), self.s, self.system.q_norm ** 2, mm,
                            lr_ratio=self.system.lr_ratio), dtype=np.float64)

    def sen_drift(self, H: Callable | None = None, m: np.ndarray | None = None) -> np.ndarray:
        r"""Normalised drift per topic word (T,):
        :math:`\max_\tau |H(\tau)-H(0)| / \max(1, |H(0)|)`."""
        h = self.H(H, m)
        return np.max(np.abs(h - h[0]), axis=0) / np.maximum(1.0, np.abs(h[0]))


def _reduced_result(system: ReducedSystem, traj: Trajectory) -> FlowResult:
    n = len(traj.t)
    T, d = system.T, system.d_e
    X = traj.X
    v = X[:, :T * d].reshape(n, T, d).copy()
    s = X[:, T * d:T * d + T].copy()
    theta = {}
    i = T * d + T
    for k in TRAINABLE[system.classifier]:
        shape = system.theta0[k].shape
        size = system.theta0[k].size
        theta[k] = X[:, i:i + size].reshape((n,) + shape).copy()
        i += size
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.array([reduced_loss(system, x) for x in X])
    return FlowResult(system, traj.t, v, s, theta, loss, traj.status, traj.message,
                      traj.n_steps, traj.n_evals, traj.n_events)


def reduced_flow(system: ReducedSystem, t_eval=None, *, horizon: float | None = None,
                 n_save: int = FLOW.n_save, spacing: str = "log",
                 rtol: float = NUMERIC.flow_rtol, atol: float = NUMERIC.flow_atol,
                 max_steps: int = FLOW.max_steps,
                 progress: Callable[[float, float], None] | None = None,
                 relu_switching: bool = True) -> FlowResult:
    """Integrate the reduced flow from ``system``'s initial state.

    Save times: ``t_eval`` if given, else :func:`time_grid` (``horizon``, ``n_save``,
    ``spacing`` — log-spaced by default, for long horizons like τ = 1e6).
    TL: the ReLU kinks are handled by :class:`ReluSwitching` (Filippov sliding modes);
    ``relu_switching=False`` integrates the raw piecewise field instead, which generically
    exhausts the step budget at the first sliding mode.
    Never raises on a numerical failure: see :attr:`FlowResult.status`.
    """
    if not isinstance(system, ReducedSystem):
        raise UsageError(f"system: expected a ReducedSystem, got {type(system).__name__}")
    if t_eval is None:
        if horizon is None:
            raise UsageError("reduced_flow: give t_eval or horizon")
        t_eval = time_grid(horizon, n_save, spacing)
    _check_solver_args(rtol, atol, max_steps)
    x0 = system.initial_state()
    if system.classifier == "tl" and relu_switching:
        sw = ReluSwitching(system, x0)
        traj = integrate(sw.field, x0, t_eval, rtol=rtol, atol=atol, max_steps=max_steps,
                         progress=progress, events=sw.events, on_event=sw.on_event)
    else:
        traj = integrate(lambda x: reduced_vector_field(system, x), x0, t_eval,
                         rtol=rtol, atol=atol, max_steps=max_steps, progress=progress)
    return _reduced_result(system, traj)


def stiff_reduced_flow(system: ReducedSystem, t_eval, *, rtol: float, atol: float) -> FlowResult:
    """The reduced flow with SciPy's LSODA (switches to BDF when stiff) instead of DOP853.

    For flows whose loss stays bounded away from 0 (a label that is not achievable): the
    directions across the loss valley relax at a fixed rate while the flow itself slows down
    like 1/tau, which exhausts an explicit solver's step budget.  Never raises on a numerical
    failure: see :attr:`FlowResult.status`.
    """
    from scipy.integrate import solve_ivp

    if not isinstance(system, ReducedSystem):
        raise UsageError(f"system: expected a ReducedSystem, got {type(system).__name__}")
    _check_solver_args(rtol, atol, 1)
    t_eval = np.asarray(t_eval, dtype=np.float64)
    sol = solve_ivp(lambda _t, x: reduced_vector_field(system, x), (0.0, float(t_eval[-1])),
                    system.initial_state(), method="LSODA", t_eval=t_eval, rtol=rtol, atol=atol)
    ok = sol.status == 0 and bool(np.all(np.isfinite(sol.y)))
    msg = (f"LSODA reached tau = {sol.t[-1]:.6g} ({sol.nfev} evaluations)" if ok
           else f"LSODA failed: {sol.message}")
    traj = Trajectory(sol.t, sol.y.T, "ok" if ok else "failed", msg, int(sol.nfev), int(sol.nfev))
    return _reduced_result(system, traj)


def _check_solver_args(rtol, atol, max_steps) -> None:
    for name, val in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(val, (int, float)) and np.isfinite(val) and val > 0):
            raise UsageError(f"{name}: expected a positive tolerance, got {val!r}")
    if int(max_steps) != max_steps or max_steps < 1:
        raise UsageError(f"max_steps: expected an integer >= 1, got {max_steps!r}")


def reduced_gd(system: ReducedSystem, eta: float, n_steps: int, save_every: int = 1) -> FlowResult:
    r"""Discrete gradient descent on the reduced system: :math:`x_{n+1} = x_n + \eta F(x_n)`,
    F the :func:`reduced_vector_field` (so the learning rates :math:`\eta_v,\eta_k,\eta_c`
    still scale each block, and τ = n η).  Saves every ``save_every`` steps (and the last);
    a non-finite state stops it with status ``failed``.
    """
    eta = _lr(eta, "eta")
    if int(n_steps) != n_steps or n_steps < 0:
        raise UsageError(f"n_steps: expected an integer >= 0, got {n_steps!r}")
    if int(save_every) != save_every or save_every < 1:
        raise UsageError(f"save_every: expected an integer >= 1, got {save_every!r}")
    x = system.initial_state()
    ts, xs = [0.0], [x.copy()]
    status, message = "ok", f"{n_steps} steps of eta = {eta:g}"
    done = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(n_steps) + 1):
            x = x + eta * reduced_vector_field(system, x)
            if not np.all(np.isfinite(x)):
                status, message = "failed", f"state became non-finite at step {k} (tau = {k * eta:.6g})"
                break
            done = k
            if k % save_every == 0 or k == n_steps:
                ts.append(k * eta)
                xs.append(x.copy())
    traj = Trajectory(np.array(ts), np.array(xs), status, message, done, done)
    return _reduced_result(system, traj)


def paper_reduced_system(classifier: str = "fc", *, seed: int = 0, n_topics: int = 4,
                         words_per_topic: int = 2, d_e: int = 10, d_k: int = 10, m: float = 20,
                         q_std: float = 0.3, emb_std: float = 0.1, s0: float = 0.0,
                         matrix: np.ndarray | None = None, lr_v: float = 1.0, lr_k: float = 1.0,
                         lr_c: float = 1.0) -> ReducedSystem:
    """The paper's synthetic setting reduced to its topic words: ``n_topics`` equiprobable
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
        set_("q", _frozen_array(q, "q"))
        E = np.asarray(self.embeddings0)
        if E.ndim != 2 or E.shape[0] != V or E.shape[1] < 1:
            raise UsageError(f"embeddings0: expected shape (vocab_size, d_e) = ({V}, d_e), got {E.shape}")
        set_("embeddings0", _frozen_array(E, "embeddings0"))
        set_("keys0", _frozen_array(self.keys0, "keys0", shape=(V, q.size)))
        theta, K = _classifier_params(self.classifier, self.theta0, E.shape[1])
        if K != c.n_classes:
            raise UsageError(f"theta0: classifier has K = {K} classes but corpus.n_classes = {c.n_classes}")
        set_("theta0", theta)
        for name in ("lr_v", "lr_k", "lr_c", "lr_q"):
            set_(name, _lr(getattr(self, name), name))
        n = train.n_sentences
        set_("ids", _frozen_array(train.word_ids, "ids", dtype=np.int64))
        set_("sent", _frozen_array(np.repeat(np.arange(n), train.lengths), "sent", dtype=np.int64))
        set_("starts", _frozen_array(train.offsets[:-1], "starts", dtype=np.int64))
        set_("labels", _frozen_array(train.labels, "labels", dtype=np.int64))

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
        return np.concatenate(parts + [_pack_theta(self.classifier, self.theta0)])

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
        return E, s, keys, q, _unpack_theta(self.classifier, self.theta0, x[i:])

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
    :math:`\partial L/\partial s_w=\sum_{(i,j):w_j=w} a_{ij}\,g_i\cdot(v_w-c_i)`.
    """
    ids, sent, starts = system.ids, system.sent, system.starts
    n, V, d = len(starts), system.V, E.shape[1]
    sc = s[ids]
    e = np.exp(sc - np.maximum.reduceat(sc, starts)[sent])  # per-sentence max: stable softmax
    a = e / np.bincount(sent, weights=e, minlength=n)[sent]
    Ew = E[ids]
    aE = a[:, None] * Ew
    C = np.stack([np.bincount(sent, weights=aE[:, k], minlength=n) for k in range(d)], axis=1)
    L, G, gth = clf.loss_and_grads(system.classifier, theta, C, system.labels)
    Gs = G[sent]
    aG = a[:, None] * Gs
    dE = np.stack([np.bincount(ids, weights=aG[:, k], minlength=V) for k in range(d)], axis=1)
    occ = a * np.einsum("ij,ij->i", Gs, Ew - C[sent])
    ds = np.bincount(ids, weights=occ, minlength=V)
    return L, dE, ds, gth


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
    parts.append(-system.lr_c * _pack_theta(system.classifier, gth))
    return np.concatenate(parts)


@dataclass(frozen=True, eq=False)
class FullFlowResult:
    """The full model's flow sampled at ``t``: ``embeddings`` (n, V, d_e), ``scores`` (n, V),
    ``keys`` (n, V, d_k) and ``q`` (n, d_k) when the query trains (else ``keys`` None and
    ``q`` the fixed query repeated), ``theta`` trajectories, ``loss`` (n,), status/message."""

    system: FullSystem
    t: np.ndarray
    embeddings: np.ndarray
    scores: np.ndarray
    keys: np.ndarray | None
    q: np.ndarray
    theta: dict
    loss: np.ndarray
    status: str
    message: str
    n_steps: int = 0
    n_evals: int = 0

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    def topic(self) -> tuple[np.ndarray, np.ndarray]:
        """The topic words' embeddings (n, T, d_e) and scores (n, T), in ``corpus.topic_words`` order."""
        tw = np.asarray(self.system.corpus.topic_words, dtype=np.int64)
        return self.embeddings[:, tw], self.scores[:, tw]

    def H(self, m: np.ndarray, lr_ratio: float | None = None, H: Callable | None = None) -> np.ndarray:
        """SEN quantity of the topic words (n, T) with the current :math:`|q(\\tau)|^2`."""
        if H is None:
            from attndyn.proofs.sen import sen_H as H
        v, s = self.topic()
        r = self.system.lr_v / self.system.lr_k if lr_ratio is None else lr_ratio
        q_sq = np.sum(self.q ** 2, axis=-1)[:, None]
        return np.asarray(H(np.sum(v ** 2, axis=-1), s, q_sq, np.asarray(m, dtype=np.float64),
                            lr_ratio=r), dtype=np.float64)

    def sen_drift(self, m: np.ndarray, lr_ratio: float | None = None, H: Callable | None = None
                  ) -> np.ndarray:
        h = self.H(m, lr_ratio, H)
        return np.max(np.abs(h - h[0]), axis=0) / np.maximum(1.0, np.abs(h[0]))


def full_flow(system: FullSystem, t_eval=None, *, horizon: float | None = None,
              n_save: int = FLOW.n_save, spacing: str = "log",
              rtol: float = NUMERIC.flow_rtol, atol: float = NUMERIC.flow_atol,
              max_steps: int = FLOW.max_steps,
              progress: Callable[[float, float], None] | None = None) -> FullFlowResult:
    """Integrate the full model's gradient flow (all parameters) on ``system``'s corpus.

    Same solver and failure handling as :func:`reduced_flow`; meant for small corpora
    (the vector field is plain NumPy).
    """
    if not isinstance(system, FullSystem):
        raise UsageError(f"system: expected a FullSystem, got {type(system).__name__}")
    if t_eval is None:
        if horizon is None:
            raise UsageError("full_flow: give t_eval or horizon")
        t_eval = time_grid(horizon, n_save, spacing)
    _check_solver_args(rtol, atol, max_steps)
    traj = integrate(lambda x: full_vector_field(system, x), system.initial_state(), t_eval,
                     rtol=rtol, atol=atol, max_steps=max_steps, progress=progress)
    n = len(traj.t)
    V, d = system.V, system.d_e
    Es, ss, ks, qs, thetas, losses = [], [], [], [], [], []
    for x in traj.X:
        E, s, keys, q, theta = system.unpack(x)
        Es.append(E)
        ss.append(s)
        ks.append(keys)
        qs.append(q)
        thetas.append(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            losses.append(full_loss_and_grads(system, E, s, theta)[0])
    theta_traj = {k: np.array([th[k] for th in thetas]).reshape((n,) + system.theta0[k].shape)
                  for k in TRAINABLE[system.classifier]}
    return FullFlowResult(
        system, traj.t,
        np.array(Es).reshape(n, V, d), np.array(ss).reshape(n, V),
        np.array(ks) if system.train_query and n else None,
        np.array(qs).reshape(n, system.q.size), theta_traj, np.array(losses),
        traj.status, traj.message, traj.n_steps, traj.n_evals)


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
