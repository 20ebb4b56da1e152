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

Other optimizers (issue 12).  ``sgd`` (mini-batches), ``momentum``, ``nesterov`` and ``adam`` are
observed before every *step* with the step's batch.  The recorder mirrors the optimizer on the
topic words' rows (its own velocity / moment buffers, fed with the *derived* gradients) to
predict the step :math:`\Delta` it takes, and splits the step's change exactly
(:func:`attndyn.proofs.budget.optimizer_pieces`): the occurrence pieces over the batch's sentences,
``finite-step`` at the full-batch step, ``mini-batch-noise`` (the batch's step against the full
batch's, second order), ``momentum`` / ``adam-scaling`` (the step taken against the batch's
gradient step) and ``higher-order`` (:math:`R_3` of the step taken).  Every step the predicted
:math:`\Delta` is compared with the step the kernels took (``step_gap``).  The query must be fixed
there (its rate is only derived for gradient descent); a trained query is refused in one line.

Scope: keys and embeddings trained at one rate (the SEN quantity's :math:`\eta_v/\eta_k = 1`, as
``train.sen_residuals``); a topic word repeated in a sentence is handled occurrence by occurrence
(the other occurrence counts as a moving word).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from attndyn.numerics.data.corpus import Corpus, mean_length_minus_one
from attndyn.numerics.kernels.stats import sentence_sums
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
    opt = getattr(t, "optimizer", "gd") or "gd"
    if opt not in OPTIMIZERS:
        raise UsageError(f"train.optimizer: no budget sources are registered for {opt!r} "
                         f"(known: {', '.join(OPTIMIZERS)})")
    if "query" in t.trainable and (opt != "gd" or t.batch_size is not None):
        raise UsageError("train.trainable: a trained query's budget source is derived for full-batch "
                         f"gradient descent only (train.optimizer = {opt!r}, train.batch_size = {t.batch_size})")


OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")


class _Mirror:
    r"""The optimizer's update on the topic words' rows, from their derived gradients
    (:math:`\partial L/\partial v_t` rows ``gv``, :math:`\partial L/\partial s_t` ``gs``): the step
    :math:`\Delta v_t` and :math:`\Delta s_t = q\cdot\Delta k_t` (PyTorch's rules, as
    numerics/training/optimizers.py).  With a fixed query the key's gradient is
    :math:`(\partial L/\partial s_t)\,q`: momentum keeps one velocity per word along q, Adam one
    moment per key coordinate."""

    def __init__(self, t_cfg, T: int, d_e: int, q: np.ndarray):
        self.name = getattr(t_cfg, "optimizer", "gd") or "gd"
        self.lr, self.q = float(t_cfg.lr), np.asarray(q, dtype=np.float64)
        self.mu = float(getattr(t_cfg, "momentum", 0.0) or 0.0)
        self.b1, self.b2 = (float(b) for b in getattr(t_cfg, "betas", (0.9, 0.999)))
        self.eps = float(getattr(t_cfg, "eps", 1e-8))
        self.t = 0
        d_k = len(self.q)
        if self.name in ("momentum", "nesterov"):
            self.bv, self.bs = np.zeros((T, d_e)), np.zeros(T)
        elif self.name == "adam":
            self.mv, self.uv = np.zeros((T, d_e)), np.zeros((T, d_e))
            self.mk, self.uk = np.zeros((T, d_k)), np.zeros((T, d_k))

    def step(self, gv: np.ndarray, gs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        lr, q = self.lr, self.q
        q2 = float(q @ q)
        self.t += 1
        if self.name in ("gd", "sgd"):
            return -lr * gv, -lr * q2 * gs
        if self.name in ("momentum", "nesterov"):
            self.bv = self.mu * self.bv + gv  # PyTorch: b <- mu b + g (b = g at the first step: b starts at 0)
            self.bs = self.mu * self.bs + gs
            if self.name == "nesterov":
                return -lr * (gv + self.mu * self.bv), -lr * q2 * (gs + self.mu * self.bs)
            return -lr * self.bv, -lr * q2 * self.bs
        gk = gs[:, None] * q[None, :]
        bc1, bc2 = 1.0 - self.b1 ** self.t, np.sqrt(1.0 - self.b2 ** self.t)
        out = []
        for g, m, u in ((gv, self.mv, self.uv), (gk, self.mk, self.uk)):
            m *= self.b1
            m += (1.0 - self.b1) * g
            u *= self.b2
            u += (1.0 - self.b2) * g * g
            out.append(-(lr / bc1) * m / (np.sqrt(u) / bc2 + self.eps))
        return out[0], out[1] @ q


class BudgetRecorder:
    """Observer for :func:`train`: ``recorder(epoch, model, batch)`` before each step (``batch``
    the step's :class:`Batch`: the whole split, or one mini-batch)."""

    def __init__(self, cfg, corpus: Corpus, check_every: int = BUDGET.kernel_check_every):
        check_budget_config(cfg)
        t_cfg = self.t_cfg = cfg.train
        self.lr = float(t_cfg.lr)
        self.optimizer = getattr(t_cfg, "optimizer", "gd") or "gd"
        self.minibatch = t_cfg.batch_size is not None and t_cfg.batch_size < corpus.subset("train").n_sentences
        self.plain = self.optimizer in ("gd", "sgd") and not self.minibatch  # one step = the reference step
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
        self.slot = np.full(corpus.vocab_size, -1, dtype=np.int64)  # word -> its topic index (-1: not a topic word)
        self.slot[self.topic_words] = np.arange(T)
        self.train = (train_c.word_ids, train_c.offsets, train_c.labels)
        self.sources = {n: s for n, s in sources().items()
                        if s.applies is None or (self.optimizer in s.applies
                                                 and (n != "mini-batch-noise" or self.minibatch))}
        self.fns = {n: s.function() for n, s in self.sources.items()}
        field = occurrence_field()
        import sympy as sp  # deferred: only to lambdify the field once

        syms = list(OCCURRENCE_INPUTS.values())
        self.field = {k: sp.lambdify(syms, e, modules="numpy") for k, e in field.items()}
        self.rows: dict[str, list] = {n: [] for n in self.sources}
        self.epochs: list[int] = []
        self.kernel_gap = 0.0
        self.kernel_checks = 0
        self.step_gap = 0.0  # the predicted step against the kernels' (every step)
        self.steps = 0
        self._mirror = None
        self._pending = None  # (v_t, s_t, predicted dv, ds) of the last step, checked at the next call
        self._checked_epoch = -1

    # ------------------------------------------------------------------ the derived field
    def _field(self, model, word_ids, offsets, labels) -> dict:
        r"""The derived topic-word field of the sentences ``(word_ids, offsets, labels)`` (the mean
        loss over them) at the model's point: the occurrence pieces' rates (per topic word, not
        yet times eta), the totals ``Vd`` (:math:`\dot v_t`), ``sdot``, ``kap`` and the inputs."""
        T = len(self.topic_words)
        s_all = np.asarray(model.scores, dtype=np.float64)
        E = np.asarray(model.embeddings, dtype=np.float64)
        q = np.asarray(model.query, dtype=np.float64)
        q2 = float(q @ q)
        n = len(offsets) - 1
        P, NV = np.empty(n), np.empty((n, E.shape[1]))
        sentence_sums(word_ids, offsets, s_all, E, P, NV)  # P_i = sum e^{s_w}, N_i = sum e^{s_w} v_w (unshifted)
        C = NV / P[:, None]
        params = {k: np.asarray(v, dtype=np.float64) for k, v in model.classifier.items()}
        _, G, _ = cl.loss_and_grads(model.kind, params, C, labels)
        # every occurrence of a topic word: its sentence and topic index; the rest of the sentence is "non-topic"
        slot = self.slot[word_ids]  # the topic index of each occurrence, -1 for a non-topic word
        hits = np.flatnonzero(slot >= 0)
        i = np.searchsorted(offsets, hits, side="right") - 1
        occ_topic = slot[hits]
        w = self.topic_words[occ_topic]
        st = s_all[w]
        et = np.exp(st)
        Z0 = P[i] - et
        N = NV[i] - et[:, None] * E[w]
        g = G[i]
        v = E[w]
        args = {"s": st, "Z0": Z0, "m": self.m[occ_topic], "m_i": (offsets[i + 1] - offsets[i] - 1).astype(np.float64),
                "q2": q2, "gv": np.einsum("ij,ij->i", g, v), "gN": np.einsum("ij,ij->i", g, N),
                "eta_v": 1.0, "eta_k": 1.0}
        ordered = [args[k] for k in OCCURRENCE_INPUTS]  # the field was lambdified over these, in order
        rates = {}
        for name, src in self.sources.items():
            if src.per == "occurrence":
                val = np.broadcast_to(self.fns[name](*[args[k] for k in src.inputs]), st.shape)
                rates[name] = np.bincount(occ_topic, weights=val, minlength=T)
        alpha = np.broadcast_to(self.field["v_coeff"](*ordered), st.shape)
        Vd = np.stack([np.bincount(occ_topic, weights=alpha * g[:, k], minlength=T)
                       for k in range(g.shape[1])], axis=1)
        sdot = np.bincount(occ_topic, weights=np.broadcast_to(self.field["sdot"](*ordered), st.shape), minlength=T)
        kap = np.bincount(occ_topic, weights=np.broadcast_to(self.field["k_coeff"](*ordered), st.shape), minlength=T)
        return {"rates": rates, "Vd": Vd, "sdot": sdot, "kap": kap, "q": q, "q2": q2, "s": s_all, "E": E,
                "params": params}

    # ------------------------------------------------------------------ one step
    def __call__(self, epoch: int, model, batch) -> None:
        if batch is None:
            raise UsageError("budget: the recorder needs each step's batch (train calls it before every step)")
        # a diverging run overflows here first: its terms are inf/NaN (the table reports them), not warnings
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            self._record(epoch, model, batch)

    def _record(self, epoch: int, model, batch) -> None:
        self._check_step(model)
        T = len(self.topic_words)
        ref = self._field(model, *self.train)
        own = ref if not self.minibatch else self._field(model, batch.word_ids, batch.offsets, batch.labels)
        q, q2, s_all, E = ref["q"], ref["q2"], ref["s"], ref["E"]
        incs = {name: self.lr * r for name, r in own["rates"].items()}  # the occurrence pieces: eta grad H . F_B
        vt = E[self.topic_words]
        st_ = s_all[self.topic_words]
        if self._mirror is None:
            self._mirror = _Mirror(self.t_cfg, T, E.shape[1], q)
        # the predicted step: the optimizer's rule on the derived gradients (dL/dv_t = -Vd, dL/ds_t = -sdot/|q|^2)
        dv, ds = self._mirror.step(-own["Vd"], -own["sdot"] / q2)
        Qd = np.zeros_like(q)
        kt = np.zeros((T, len(q)))
        if self.query_trained:  # gd only: the query's rate -sum_w (dL/ds_w) k_w (reference gradients)
            word_ids, offsets, labels = self.train
            _, _, dsr, _ = reference.loss_and_grads(model.kind, ref["params"], E, s_all, word_ids, offsets, labels)
            keys = np.asarray(model.keys, dtype=np.float64)
            Qd = -(dsr @ keys)
            kt = keys[self.topic_words]
        Vr, Vb = ref["Vd"], own["Vd"]
        Va, sa_ = dv / self.lr, ds / self.lr  # the step taken, as a rate
        base = {"s": st_, "m": self.m, "q2": q2, "v2": np.einsum("ij,ij->i", vt, vt),
                "qQ": float(q @ Qd), "Q2": float(Qd @ Qd), "kQ": kt @ Qd,
                "vV_B": np.einsum("ij,ij->i", vt, Vb), "V2_B": np.einsum("ij,ij->i", Vb, Vb), "qK_B": own["sdot"],
                "eta_v": 1.0, "eta_k": 1.0, "eta": self.lr}
        slots = {"reference": {"vV": np.einsum("ij,ij->i", vt, Vr), "V2": np.einsum("ij,ij->i", Vr, Vr),
                               "qK": ref["sdot"], "KQ": ref["kap"] * float(q @ Qd)},
                 "actual": {"vV": np.einsum("ij,ij->i", vt, Va), "V2": np.einsum("ij,ij->i", Va, Va),
                            "qK": sa_, "KQ": (sa_ / q2 if q2 else 0.0) * float(q @ Qd)}}
        for name, src in self.sources.items():
            if src.per == "step":
                sa = {**base, **slots[src.step]}
                incs[name] = np.broadcast_to(self.fns[name](*[sa[k] for k in src.inputs]), (T,)).astype(float)
        self._add(epoch, incs)
        # the score s_t = q.k_t the kernels will show: with a trained query (gd only; the key steps
        # along q) q.dk + dq.k + dq.dk, dq = eta qdot; with a fixed query just q.dk
        ds_seen = ds + self.lr * (kt @ Qd) + self.lr * float(q @ Qd) * ds / q2 if self.query_trained else ds
        self._pending = (vt.copy(), st_.copy(), dv, ds_seen)
        if epoch % self.check_every == 0 and epoch != self._checked_epoch:
            self._checked_epoch = epoch
            self._check_kernel(model, batch, own["Vd"], own["sdot"], q2)

    def _add(self, epoch: int, incs: dict) -> None:
        """Add one step's increments to its epoch's row (a mini-batch epoch has several steps)."""
        if not self.epochs or self.epochs[-1] != epoch:
            self.epochs.append(int(epoch))
            for name in self.sources:
                self.rows[name].append(np.asarray(incs[name], dtype=np.float64).copy())
        else:
            for name in self.sources:
                self.rows[name][-1] += incs[name]
        self.steps += 1

    def _check_step(self, model) -> None:
        """The last predicted step against the one the kernels took (relative to its size)."""
        if self._pending is None:
            return
        v0, s0, dv, ds = self._pending
        self._pending = None
        v1 = np.asarray(model.embeddings, dtype=np.float64)[self.topic_words]
        s1 = np.asarray(model.scores, dtype=np.float64)[self.topic_words]
        if not (np.all(np.isfinite(v1)) and np.all(np.isfinite(s1))):
            return  # a diverged step: nothing to compare
        scale = max(np.max(np.abs(dv)), np.max(np.abs(ds)), 1e-300)
        gap = max(np.max(np.abs((v1 - v0) - dv)), np.max(np.abs((s1 - s0) - ds))) / scale
        self.step_gap = max(self.step_gap, float(gap))

    def finish(self, model) -> None:
        """Check the last step (call after training)."""
        self._check_step(model)

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
               "m": self.m, "lr": np.float64(self.lr), "optimizer": np.array(self.optimizer),
               "kernel_gap": np.float64(self.kernel_gap), "kernel_checks": np.int64(self.kernel_checks),
               "step_gap": np.float64(self.step_gap), "steps": np.int64(self.steps)}
        for name in self.sources:
            rows = self.rows[name]
            out[f"term_{name}"] = np.array(rows, dtype=np.float64) if rows else np.zeros((0, T))
        out["source_names"] = np.array([n for n in ORDER if n in self.sources]
                                       + [n for n in self.sources if n not in ORDER])
        return out
