"""What a flow run returns: the saved states with the derived series (scores, norms, attention,
loss, the SEN quantity H) and a status with a readable message."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.special import expit

from attndyn.numerics.flow.full import FullSystem
from attndyn.numerics.flow.systems import ReducedSystem
from attndyn.proofs.status import FlowStatus

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
    status: FlowStatus  # a plain string is accepted and converted
    message: str
    n_steps: int = 0
    n_evals: int = 0
    n_events: int = 0  # switches of the TL ReLUs (Filippov events)

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", FlowStatus.coerce(self.status))

    @property
    def ok(self) -> bool:
        return self.status == FlowStatus.OK

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
            from attndyn.proofs.sen import sen_H as H  # deferred: only this branch needs it
        mm = self.system.m_eff if m is None else np.asarray(m, dtype=np.float64)
        return np.asarray(H(np.sum(self.v ** 2, axis=-1), self.s, self.system.q_norm ** 2, mm,
                            lr_ratio=self.system.lr_ratio), dtype=np.float64)

    def sen_drift(self, H: Callable | None = None, m: np.ndarray | None = None) -> np.ndarray:
        r"""Normalised drift per topic word (T,):
        :math:`\max_\tau |H(\tau)-H(0)| / \max(1, |H(0)|)`."""
        h = self.H(H, m)
        return np.max(np.abs(h - h[0]), axis=0) / np.maximum(1.0, np.abs(h[0]))


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
    status: FlowStatus  # a plain string is accepted and converted
    message: str
    n_steps: int = 0
    n_evals: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", FlowStatus.coerce(self.status))

    @property
    def ok(self) -> bool:
        return self.status == FlowStatus.OK

    def topic(self) -> tuple[np.ndarray, np.ndarray]:
        """The topic words' embeddings (n, T, d_e) and scores (n, T), in ``corpus.topic_words`` order."""
        tw = np.asarray(self.system.corpus.topic_words, dtype=np.int64)
        return self.embeddings[:, tw], self.scores[:, tw]

    def H(self, m: np.ndarray, lr_ratio: float | None = None, H: Callable | None = None) -> np.ndarray:
        """SEN quantity of the topic words (n, T) with the current :math:`|q(\\tau)|^2`."""
        if H is None:
            from attndyn.proofs.sen import sen_H as H  # deferred: only this branch needs it
        v, s = self.topic()
        r = self.system.lr_v / self.system.lr_k if lr_ratio is None else lr_ratio
        q_sq = np.sum(self.q ** 2, axis=-1)[:, None]
        return np.asarray(H(np.sum(v ** 2, axis=-1), s, q_sq, np.asarray(m, dtype=np.float64),
                            lr_ratio=r), dtype=np.float64)

    def sen_drift(self, m: np.ndarray, lr_ratio: float | None = None, H: Callable | None = None
                  ) -> np.ndarray:
        h = self.H(m, lr_ratio, H)
        return np.max(np.abs(h - h[0]), axis=0) / np.maximum(1.0, np.abs(h[0]))
