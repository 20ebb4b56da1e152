r"""Per-epoch residual budget of the SEN quantity along the actual training run.

:class:`BudgetRecorder` is the observer :func:`attndyn.numerics.training.train.train` calls
before every full-batch step. At the current point :math:`\theta_n` it evaluates, for every
topic word :math:`t`, each registered source of :mod:`attndyn.proofs.budget` (lambdified
SymPy, derived from the model) and stores that step's contribution to

.. math:: H_t(\theta_{n+1}) - H_t(\theta_n) = \eta\sum_i\dot H_{t,i}(\theta_n)
          + \eta^2 c_2 + R_3, \qquad
          H_t = |q|^2|v_t|^2 - 2\tfrac{\eta_v}{\eta_k}(s_t + e^{s_t}/m_t),

:math:`\dot H_{t,i}` split into the ``lengths`` / ``nontopic-scores`` / ``nontopic-embeddings``
pieces per occurrence of t in sentence i (inputs: :math:`s_t`, :math:`Z_{0,i} = \sum_{j\ne t}e^{s_j}`,
:math:`N_i = \sum_{j\ne t}e^{s_j}v_j`, :math:`g_i = \partial L/\partial c_i`, :math:`m_i`),
and the step terms (``finite-step``, ``higher-order``, ``query``) from the step's totals
:math:`\dot v_t = \sum_i\alpha_i g_i`, :math:`\dot s_t = \sum_i \dot s_{t,i}` (the derived field,
summed), :math:`\dot q` (the reference gradient, when the query trains).

The sum over epochs is a left Riemann sum on purpose: gradient descent *is* the Euler step from
:math:`\theta_n`, so the per-step expansion at :math:`\theta_n` is exact up to :math:`R_3`, which is
itself recorded; no quadrature error enters. Every ``check_every`` epochs the derived totals are
compared with the kernel's gradients (:meth:`AttentionModel.gradients`); the largest relative
gap is recorded as ``kernel_gap``.

Scope: full-batch gradient descent with keys and embeddings trained at one rate (the SEN
quantity's :math:`\eta_v/\eta_k = 1`, as ``train.sen_residuals``); a topic word repeated in a
sentence is handled occurrence by occurrence (the other occurrence counts as a moving word).
Mini-batches, momentum and Adam need their own sources (register them in
:mod:`attndyn.proofs.budget`; this recorder refuses them with a one-line error).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from attndyn.numerics.data.corpus import Corpus, mean_length_minus_one
from attndyn.numerics.model import classifiers as cl
from attndyn.numerics.model import reference
from attndyn.proofs.budget import OCCURRENCE_INPUTS, occurrence_field, ORDER, sources
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import BUDGET


def check_budget_config(cfg) -> None:
    """One line naming the field when the budget does not apply to the run ``cfg``."""
    t = cfg.train
    if not {"keys", "embeddings"} <= t.trainable:
        raise UsageError("train.trainable: the budget of H needs keys and embeddings trained "
                         f"(H has eta_v/eta_k), got {sorted(t.trainable)}")
    if t.batch_size is not None:
        raise UsageError("train.batch_size: the budget's sources are derived for full-batch gradient "
                         "descent; mini-batch noise has no registered source yet")
    opt = getattr(t, "optimizer", "gd")  # issue 12 section 1 adds optimizers
    if opt not in ("gd", None):
        raise UsageError(f"train.optimizer: no budget sources are registered for {opt!r} (only 'gd')")


class BudgetRecorder:
    """Observer for :func:`train`: ``recorder(epoch, model, batch)`` before each step."""

    def __init__(self, cfg, corpus: Corpus, check_every: int = BUDGET.kernel_check_every):
        check_budget_config(cfg)
        self.lr = float(cfg.train.lr)
        self.query_trained = cfg.query_trainable
        self.check_every = max(1, int(check_every))
        train_c = corpus.subset("train")
        self.topic_words = np.asarray(corpus.topic_words, dtype=np.int64)
        T = len(self.topic_words)
        self.m = np.full(T, np.nan)
        hits = np.flatnonzero(np.isin(train_c.word_ids, self.topic_words))
        present = np.isin(self.topic_words, train_c.word_ids[hits])
        if present.any():
            self.m[present] = mean_length_minus_one(train_c, self.topic_words[present])
        # every occurrence of a topic word: its sentence, its topic index
        self.occ_sent = np.searchsorted(train_c.offsets, hits, side="right") - 1
        where = {int(w): t for t, w in enumerate(self.topic_words)}
        self.occ_topic = np.array([where[int(w)] for w in train_c.word_ids[hits]], dtype=np.int64)
        self.occ_mi = (train_c.lengths[self.occ_sent] - 1).astype(np.float64)
        self.word_ids, self.offsets, self.labels = train_c.word_ids, train_c.offsets, train_c.labels
        self.sources = {n: s for n, s in sources().items()}
        self.fns = {n: s.function() for n, s in self.sources.items()}
        field = occurrence_field()
        import sympy as sp  # deferred: only to lambdify the field once

        syms = list(OCCURRENCE_INPUTS.values())
        self.field = {k: sp.lambdify(syms, e, modules="numpy") for k, e in field.items()}
        self.rows: dict[str, list] = {n: [] for n in self.sources}
        self.epochs: list[int] = []
        self.kernel_gap = 0.0
        self._buf = None
        self.kernel_checks = 0

    # ------------------------------------------------------------------ one epoch
    def __call__(self, epoch: int, model, batch) -> None:
        if batch is None:
            raise UsageError("train.batch_size: the budget needs full-batch steps")
        T = len(self.topic_words)
        s_all = np.asarray(model.scores, dtype=np.float64)
        E = np.asarray(model.embeddings, dtype=np.float64)
        q = np.asarray(model.query, dtype=np.float64)
        q2 = float(q @ q)
        e = np.exp(s_all[self.word_ids])  # unshifted: the derived formulas are in e^s, Z_0
        starts = self.offsets[:-1]  # every sentence is non-empty (Batch.build checks it)
        P = np.add.reduceat(e, starts)
        if self._buf is None or self._buf.shape[1] != E.shape[1]:  # reused: no 1e5 x d allocation per epoch
            self._buf = np.empty((len(self.word_ids), E.shape[1]))
        np.take(E, self.word_ids, axis=0, out=self._buf)
        np.multiply(self._buf, e[:, None], out=self._buf)
        NV = np.add.reduceat(self._buf, starts, axis=0)
        C = NV / P[:, None]
        params = {k: np.asarray(v, dtype=np.float64) for k, v in model.classifier.items()}
        _, G, _ = cl.loss_and_grads(model.kind, params, C, self.labels)
        # one occurrence of t in sentence i: everything else in the sentence is "non-topic"
        i = self.occ_sent
        w = self.topic_words[self.occ_topic]
        st = s_all[w]
        et = np.exp(st)
        Z0 = P[i] - et
        N = NV[i] - et[:, None] * E[w]
        g = G[i]
        v = E[w]
        args = {"s": st, "Z0": Z0, "m": self.m[self.occ_topic], "m_i": self.occ_mi, "q2": q2,
                "gv": np.einsum("ij,ij->i", g, v), "gN": np.einsum("ij,ij->i", g, N),
                "eta_v": 1.0, "eta_k": 1.0}
        ordered = [args[k] for k in OCCURRENCE_INPUTS]  # the field was lambdified over these, in order
        rates = {}
        for name, src in self.sources.items():
            if src.per == "occurrence":
                val = np.broadcast_to(self.fns[name](*[args[k] for k in src.inputs]), st.shape)
                rates[name] = self.lr * np.bincount(self.occ_topic, weights=val, minlength=T)
        # the step's totals from the derived field, summed over the occurrences
        alpha = np.broadcast_to(self.field["v_coeff"](*ordered), st.shape)
        Vd = np.stack([np.bincount(self.occ_topic, weights=alpha * g[:, k], minlength=T)
                       for k in range(g.shape[1])], axis=1)
        sdot = np.bincount(self.occ_topic, weights=np.broadcast_to(self.field["sdot"](*ordered), st.shape),
                           minlength=T)
        kap = np.bincount(self.occ_topic, weights=np.broadcast_to(self.field["k_coeff"](*ordered), st.shape),
                          minlength=T)
        vt = E[self.topic_words]
        Qd = np.zeros_like(q)
        kt = np.zeros((T, len(q)))
        if self.query_trained:  # the query's rate: -sum_w (dL/ds_w) k_w (reference gradients)
            _, _, ds, _ = reference.loss_and_grads(model.kind, params, E, s_all, self.word_ids,
                                                   self.offsets, self.labels)
            keys = np.asarray(model.keys, dtype=np.float64)
            Qd = -(ds @ keys)
            kt = keys[self.topic_words]
        sa = {"s": s_all[self.topic_words], "m": self.m, "q2": q2, "v2": np.einsum("ij,ij->i", vt, vt),
              "vV": np.einsum("ij,ij->i", vt, Vd), "V2": np.einsum("ij,ij->i", Vd, Vd), "qK": sdot,
              "qQ": float(q @ Qd), "Q2": float(Qd @ Qd), "kQ": kt @ Qd, "KQ": kap * float(q @ Qd),
              "eta_v": 1.0, "eta_k": 1.0, "eta": self.lr}
        for name, src in self.sources.items():
            if src.per == "step":
                rates[name] = np.broadcast_to(self.fns[name](*[sa[k] for k in src.inputs]), (T,)).astype(float)
        for name in self.sources:
            self.rows[name].append(np.asarray(rates[name], dtype=np.float64))
        self.epochs.append(int(epoch))
        if epoch % self.check_every == 0:
            self._check_kernel(model, batch, Vd, sdot, q2)

    def _check_kernel(self, model, batch, Vd, sdot, q2) -> None:
        """The derived totals against the kernel's gradients at this point (relative gap)."""
        _, gr = model.gradients(batch)
        kv = -np.asarray(gr["embeddings"], dtype=np.float64)[self.topic_words]
        ks = -q2 * np.asarray(gr["scores"], dtype=np.float64)[self.topic_words]
        scale = max(np.max(np.abs(kv)), np.max(np.abs(ks)), 1e-300)
        gap = max(np.max(np.abs(kv - Vd)), np.max(np.abs(ks - sdot))) / scale
        self.kernel_gap = max(self.kernel_gap, float(gap))
        self.kernel_checks += 1

    # ------------------------------------------------------------------ results
    def save(self, out_dir) -> "Path":
        """Write :meth:`arrays` to ``out_dir/budget_terms.npz`` atomically; return the path."""
        import io  # deferred: only when saving
        from attndyn.numerics.outputs import atomic_replace  # deferred: only when saving

        buf = io.BytesIO()
        np.savez(buf, **self.arrays())
        return atomic_replace(Path(out_dir) / "budget_terms.npz", buf.getvalue())

    def arrays(self) -> dict[str, np.ndarray]:
        """Per-epoch increments ``term_<source>`` (epochs x topic words) and the epochs."""
        T = len(self.topic_words)
        out = {"epoch": np.asarray(self.epochs, dtype=np.int64), "topic_words": self.topic_words,
               "m": self.m, "lr": np.float64(self.lr),
               "kernel_gap": np.float64(self.kernel_gap), "kernel_checks": np.int64(self.kernel_checks)}
        for name in self.sources:
            rows = self.rows[name]
            out[f"term_{name}"] = np.array(rows, dtype=np.float64) if rows else np.zeros((0, T))
        out["source_names"] = np.array([n for n in ORDER if n in self.sources]
                                       + [n for n in self.sources if n not in ORDER])
        return out
