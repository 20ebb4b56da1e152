r"""The attention model's parameters and the Python side of its numba kernels.

:class:`AttentionModel` holds embeddings :math:`v_w` (V x d_e), keys :math:`k_w`
(V x d_k), the query :math:`q` and the classifier, and offers three operations
on a :class:`Batch` of sentences — :meth:`~AttentionModel.step` (one
gradient-descent step, the kernel), :meth:`~AttentionModel.gradients` (all
gradients at the current point, no update) and :meth:`~AttentionModel.evaluate`
(loss and predictions).  Each validates, calls the kernels of
:mod:`attndyn.numerics.kernels.scores` / :mod:`attndyn.numerics.kernels.keys` and returns plain
arrays; the loop, records and snapshots belong to :mod:`attndyn.numerics.training.train`.

Two storage modes, same model:

* ``explicit_keys=False`` (fixed query): only the scores :math:`s_w = q\cdot k_w`
  are stored and updated, :math:`s_w \leftarrow s_w - \eta|q|^2\,\partial L/\partial s_w`;
  :attr:`~AttentionModel.keys` reconstructs :math:`k_w = k_w^0 + (s_w - s_w^0)\,q/|q|^2`
  (exact: a key only ever moves along the fixed :math:`q`).
* ``explicit_keys=True`` (needed when the query is trained): the keys are stored
  and :math:`s_w` recomputed each step.

**State between steps.**  With the classifier fixed, a low-rank step leaves :math:`u_w = W^\top v_w`
of the new embeddings behind and the next step on the same batch skips the projection
(:func:`attndyn.numerics.kernels.lowrank.epoch_lowrank`); :attr:`~AttentionModel.embeddings` hands the
table out and drops that carry (a caller may write into it), and a changed :math:`W` is caught by a
comparison.  Code in this module reads the table as ``_emb``.

Size: over 500 lines because the one model class dispatches every operation to three kernel families
(d_e-wide, low-rank, fused) and owns their work buffers; :class:`Batch` is the index they share.
"""
from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

from attndyn.numerics.kernels.args import (Chunks, Classifier, rates, Sentences, SharedExp,
                                           WordIndex, Work)
from attndyn.numerics.kernels.fused import aligned_zeros, epoch_fused, fused_pass, query_gradient, ROW
from attndyn.numerics.kernels.index import word_index
from attndyn.numerics.kernels.keys import epoch_keys, key_scores, word_pass_keys
from attndyn.numerics.kernels.optim import gd_key_rows
from attndyn.numerics.kernels.lowrank import epoch_lowrank, forward_backward_lr, forward_eval_lr, word_pass_lr
from attndyn.numerics.kernels.scores import epoch_scores, forward_backward, forward_eval, word_pass
from attndyn.numerics.config.schema import KERNEL_PATHS  # train.kernel: auto, fused, lowrank, full
from attndyn.numerics.model import classifiers as cl
from attndyn.numerics.model.kernel_choice import auto_fused, auto_lowrank  # noqa: F401 - the rules, re-exported
from attndyn.numerics.model.spec import is_linear, KIND_CODES, layout, OUTPUT_WEIGHT, PARAMETERS
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import KERNEL

DTYPES = {"float64": np.float64, "float32": np.float32}


CHUNKS = Chunks(KERNEL.sentence_chunk, KERNEL.word_chunk)  # the kernels' fixed reduction chunks


@dataclass
class Batch:
    """Sentences in CSR layout plus the word index and work buffers the kernels need.

    ``weight`` is :math:`\\omega` in :math:`L = \\omega\\sum_i\\ell_i` (default 1/n: the mean).
    """

    word_ids: np.ndarray
    offsets: np.ndarray
    labels: np.ndarray
    weight: float
    uw: np.ndarray  # distinct words, ascending
    uptr: np.ndarray  # uw[u]'s occurrences are occ_sent[uptr[u]:uptr[u+1]]
    occ_sent: np.ndarray  # sentence of each occurrence, grouped by word
    G: np.ndarray  # n x d_e: g_i = dL/dc_i
    lse: np.ndarray  # n: log-partition of each sentence
    cg: np.ndarray  # n: c_i . g_i
    _D: np.ndarray | None = None  # the low-rank path's n x (K + 1) [d_i, r_i] when G cannot hold it

    @property
    def n(self) -> int:
        return len(self.labels)

    def lowrank_work(self, K: int) -> Work:
        """The low-rank path's per-sentence arrays: ``D`` (n x (K + 1), :math:`d_i` then :math:`r_i`;
        a contiguous view into ``G``'s memory when it fits, as the two paths never run on one batch
        at once), ``lse`` and ``cg`` (unused there)."""
        n, width = self.n, K + 1
        if n * width <= self.G.size:
            D = self.G.reshape(-1)[:n * width].reshape(n, width)
        else:
            if self._D is None or self._D.shape != (n, width):
                self._D = np.empty((n, width), self.G.dtype)
            D = self._D
        return Work(D, self.lse, self.cg)

    @classmethod
    def build(cls, word_ids, offsets, labels, vocab_size: int, n_classes: int, d_e: int,
              dtype="float64", weight: float | None = None, name: str = "batch") -> "Batch":
        """Validate the CSR arrays (ids in range, every sentence non-empty) and index them."""
        word_ids = np.ascontiguousarray(word_ids, dtype=np.int64)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        n = len(labels)
        if n < 1:
            raise UsageError(f"{name}: no sentences to train on")
        if offsets.shape != (n + 1,) or offsets[0] != 0 or offsets[-1] != len(word_ids):
            raise UsageError(f"{name}: offsets must have n + 1 = {n + 1} entries from 0 to "
                             f"len(word_ids) = {len(word_ids)}")
        lengths = np.diff(offsets)
        if np.any(lengths < 1):
            bad = np.flatnonzero(lengths < 1)[:5].tolist()
            raise UsageError(f"{name}: every sentence needs at least one word; empty sentences {bad}")
        if len(word_ids) and (word_ids.min() < 0 or word_ids.max() >= vocab_size):
            raise UsageError(f"{name}: word ids must be in 0..{vocab_size - 1}")
        if labels.min() < 0 or labels.max() >= n_classes:
            raise UsageError(f"{name}: labels must be in 0..{n_classes - 1}")
        uw, uptr, occ_sent = word_index(word_ids, offsets, vocab_size)
        dt = DTYPES[dtype]
        return cls(word_ids, offsets, labels, 1.0 / n if weight is None else float(weight),
                   uw, uptr, occ_sent, np.empty((n, d_e), dt), np.empty(n, dt), np.empty(n, dt))

    def sentences(self) -> Sentences:
        return Sentences(self.word_ids, self.offsets, self.labels, self.weight)

    def words(self) -> WordIndex:
        return WordIndex(self.uw, self.uptr, self.occ_sent)

    def work(self) -> Work:
        return Work(self.G, self.lse, self.cg)

    @classmethod
    def from_corpus(cls, corpus, d_e: int, dtype="float64") -> "Batch":
        return cls.build(corpus.word_ids, corpus.offsets, corpus.labels, corpus.vocab_size,
                         corpus.n_classes, d_e, dtype, name=f"corpus {corpus.name!r}")


class AttentionModel:
    """Parameters of the attention classifier (see the module docstring).

    ``classifier`` is the dict of :mod:`attndyn.numerics.model.classifiers` (``W`` for fc/tc;
    ``W1, b1, W2, b2`` for tl).  Arrays are copied into ``dtype``.
    """

    def __init__(self, kind: str, embeddings, keys, query, classifier: dict, *,
                 explicit_keys: bool = False, dtype: str = "float64"):
        if kind not in KIND_CODES:
            raise UsageError(f"classifier: expected one of {tuple(KIND_CODES)}, got {kind!r}")
        if dtype not in DTYPES:
            raise UsageError(f"dtype: expected one of {tuple(DTYPES)}, got {dtype!r}")
        dt = DTYPES[dtype]
        self.kind, self.dtype, self.explicit_keys = kind, dtype, bool(explicit_keys)
        self._emb = np.array(embeddings, dtype=dt, order="C")
        keys = np.array(keys, dtype=dt, order="C")
        self.query = np.array(query, dtype=dt)
        if self._emb.ndim != 2 or keys.ndim != 2 or self.query.ndim != 1:
            raise UsageError("embeddings and keys must be (V, d) arrays and the query a vector")
        if keys.shape != (self._emb.shape[0], self.query.shape[0]):
            raise UsageError(f"keys: expected shape (V, d_k) = ({self._emb.shape[0]}, "
                             f"{self.query.shape[0]}), got {keys.shape}")
        d_e = self._emb.shape[1]
        names = PARAMETERS[kind]
        missing = [n for n in names if n not in classifier]
        if missing:
            raise UsageError(f"classifier {kind}: missing parameter(s) {missing}")
        last = np.shape(classifier[OUTPUT_WEIGHT[kind]])
        self.n_classes = last[1] if len(last) == 2 else 0
        self.hidden = np.shape(classifier["W1"])[1] if kind == "tl" else 0
        bias = kind in ("fc", "tc") and "b" in classifier  # optional linear bias (nn.Linear's)
        self._layout = layout(kind, d_e, self.n_classes, self.hidden, bias=bias)
        size = sum(int(np.prod(shape)) for _, shape in self._layout.values())
        # the classifier lives in one flat vector (the kernels' layout); the dict holds views
        self._theta = np.zeros(size, dt)
        self._dtheta = np.zeros(size, dt)
        self.classifier = {}
        for name, (off, shape) in self._layout.items():
            given = np.asarray(classifier[name])
            if given.shape != shape:
                raise UsageError(f"classifier {kind}: {name} must have shape {shape}, got {given.shape}")
            view = self._theta[off: off + int(np.prod(shape))].reshape(shape)
            with np.errstate(over="ignore"):  # out of float32's range -> inf: training reports "overflow"
                view[...] = given
            self.classifier[name] = view
        if self.explicit_keys:
            self._keys = keys
            self._scores = np.zeros(keys.shape[0], dt)  # scratch, refreshed from the keys
            self._keys0 = self._scores0 = None
        else:
            self._keys = None
            self._scores = (keys.astype(np.float64) @ self.query.astype(np.float64)).astype(dt)
            self._keys0 = keys if np.any(keys) else None
            self._scores0 = self._scores.copy()
        self._dq = np.zeros_like(self.query)
        self._ew = np.zeros(self._emb.shape[0])  # e_w = exp(s_w - max s), work buffer
        # one exp per word per step (see numerics/kernels/scores.py); False forces the
        # per-sentence-shift path (the same math; the tests compare the two)
        self.shared_exp = True
        self.last_shared_exp = None
        self._checked = None
        self.kernel_path = "auto"  # train.kernel: see KERNEL_PATHS
        self.last_lowrank = None
        self._u = None  # the low-rank path's u_w = W^T v_w (V x K, float64), allocated on first use
        # the batch whose words' rows of _u hold W^T v_w of the current v, with the W they were
        # computed from (lowrank.epoch_lowrank's carried projection); None: project again
        self._carried = None
        self._u_eval = self._seen = None  # evaluate's K-wide scratch (low-rank path), allocated on first use
        self._acc = self._rows = None  # the fused path's G x V x 8 accumulators and V x 8 rows (first use)
        self._gv = self._gs = None  # explicit keys on the fused path: a step's gradient rows (first use)
        self.last_fused = None  # whether the last step ran the fused kernel (for tests and claims)

    def kernel_options(self) -> dict:
        """The options that decide the kernels' last bits, as recorded in ``summary.json``: the
        chunk sizes of the fixed-order reductions and the shared-exponential path (with the
        floor below which a step is redone with per-sentence shifts; not a stabiliser: the
        same math)."""
        return {"sentence_chunk": KERNEL.sentence_chunk, "word_chunk": KERNEL.word_chunk,
                "shared_exp": bool(self.shared_exp), "shared_exp_floor": KERNEL.shared_exp_floor,
                "kernel": self.kernel_path,
                "path": "fused" if self.fused() else "lowrank" if self.lowrank() else "full"}

    @property
    def embeddings(self) -> np.ndarray:
        r"""The embedding table :math:`v_w` (V x d_e), the model's own array (writable in place).
        Handing it out marks the low-rank path's carried projection stale: whoever holds it may write
        into it, so the next :meth:`step` projects :math:`u_w = W^\top v_w` afresh."""
        self._carried = None
        return self._emb

    def _carried_for(self, batch: Batch) -> bool:
        r"""Whether ``_u`` holds :math:`W^\top v_w` for ``batch``'s words: the last step was a low-rank
        step on this very batch with :math:`W` fixed, nobody took :attr:`embeddings` since, and
        :math:`W` is bit for bit the one the rows came from (the classifier dict's views are public)."""
        c, self._carried = self._carried, None
        return c is not None and c[0] is batch and np.array_equal(c[1], self._theta)

    def lowrank(self) -> bool:
        """Whether the steps run the K-wide low-rank kernels (numerics/kernels/lowrank.py): only
        for a linear classifier; ``auto`` as :func:`auto_lowrank` says."""
        if self.kernel_path not in KERNEL_PATHS:
            raise UsageError(f"train.kernel: expected one of {', '.join(KERNEL_PATHS)}, "
                             f"got {self.kernel_path!r}")
        if not is_linear(self.kind) or self.kernel_path == "full":
            return False
        return (self.kernel_path in ("lowrank", "fused")  # fused: gradients and fallback steps are lowrank's
                or auto_lowrank(self.vocab_size, self._emb.shape[1], self.n_classes))

    def fused(self) -> bool:
        r"""Whether :meth:`step` and :meth:`row_gradients` (an optimizer's gradients) try the fused kernel
        (numerics/kernels/fused.py): a linear classifier, shared exponentials, K < ROW = 8, and ``fused``
        forced or ``auto`` as :func:`auto_fused` says.  With explicit keys their scores are refreshed
        before the passes and :math:`\partial L/\partial q` is summed after (the step: :meth:`_fused_keys_step`).
        :meth:`gradients` uses lowrank.py on this path."""
        self.lowrank()  # validates train.kernel
        if not is_linear(self.kind) or not self.shared_exp or self.n_classes >= ROW:
            return False
        return self.kernel_path == "fused" or (self.kernel_path == "auto"
                                               and auto_fused(self.vocab_size, self._emb.shape[1],
                                                              self.n_classes))

    @staticmethod
    def _fused_parallel() -> bool:
        """The fused kernel's parallel driver whenever numba has 2+ threads (same bits either way).  How
        many threads a run uses is ``train.threads`` / the auto rule's (numerics/training/train.py:
        one below 10^6 occurrences per step, so the paper's size trains serially by default).  With the
        blocked sentence pass 2 threads do not pay at the paper's size on a 2-core VM: 0.65-0.98 vs
        0.53-0.64 ms per step (`attndyn bench --all`, 2026-12-02 17:18 UTC), each parallel region
        waiting ~90 us for the sleeping worker."""
        return numba.get_num_threads() > 1

    def _fused_buffers(self) -> None:
        """The fused path's G x V x ROW accumulators and V x ROW rows (allocated on first use)."""
        shape = (KERNEL.fused_groups, self.vocab_size, ROW)
        if self._acc is None or self._acc.shape != shape:
            self._acc = aligned_zeros(shape)
            self._rows = aligned_zeros(shape[1:])

    def _table(self) -> np.ndarray:
        """The low-rank path's per-word rows [u_w = W^T v_w, e_w] (V x (K + 1), float64)."""
        if self._u is None or self._u.shape != (self.vocab_size, self.n_classes + 1):
            self._u = np.zeros((self.vocab_size, self.n_classes + 1))
            self._carried = None
        return self._u

    def _keys_or_none(self) -> np.ndarray:
        """The keys for the low-rank kernels: no rows means a fixed query (scores kept)."""
        return self._keys if self.explicit_keys else self._emb[:0]

    # ----------------------------------------------------------------- construction
    @classmethod
    def initial(cls, cfg, vocab_size: int, n_classes: int) -> "AttentionModel":
        """The paper's initialisation for a :class:`~attndyn.numerics.config.schema.RunConfig`: keys
        :math:`N(0,\\sigma_k^2)` (0 by default), embeddings :math:`N(0,\\sigma_v^2)`,
        query :math:`N(0,\\sigma_q^2)`, classifier from
        :func:`attndyn.numerics.model.classifiers.init_classifier`.  Each group draws from its
        own stream of ``train.seed``, so changing one std leaves the others alone."""
        m, t = cfg.model, cfg.train
        streams = [np.random.default_rng(s) for s in np.random.SeedSequence(t.seed).spawn(4)]
        matrix = None
        if m.classifier_matrix is not None:
            matrix = _load_matrix(m.classifier_matrix)
        classifier = cl.init_classifier(m.classifier, m.d_e, n_classes, streams[0], matrix=matrix,
                                        init=getattr(m, "classifier_init", "paper"),
                                        bias=getattr(m, "classifier_bias", False))
        query = streams[1].normal(0.0, m.query_std, m.d_k)
        keys = streams[2].normal(0.0, m.key_init_std, (vocab_size, m.d_k))
        emb = streams[3].normal(0.0, m.emb_init_std, (vocab_size, m.d_e))
        # Adam scales each key coordinate on its own, so a key leaves the line k0 + R q and
        # the scores alone no longer determine it: Adam keeps the keys (numerics/training/optimizers.py)
        out = cls(m.classifier, emb, keys, query, classifier,
                  explicit_keys="query" in t.trainable or getattr(t, "optimizer", "gd") == "adam",
                  dtype=t.dtype)
        out.kernel_path = getattr(t, "kernel", "auto")
        return out

    # ----------------------------------------------------------------- views
    @property
    def vocab_size(self) -> int:
        return self._emb.shape[0]

    @property
    def scores(self) -> np.ndarray:
        r"""Current :math:`s_w = q\cdot k_w` for every word (a fresh array in explicit-keys mode)."""
        if self.explicit_keys:
            return self._keys @ self.query
        return self._scores

    @property
    def keys(self) -> np.ndarray:
        r"""Current keys (reconstructed as :math:`k^0 + (s - s^0)\,q/|q|^2` in fixed-query mode)."""
        if self.explicit_keys:
            return self._keys
        q = self.query.astype(np.float64)
        q2 = float(q @ q)
        k0 = self._keys0 if self._keys0 is not None else np.zeros((self.vocab_size, len(q)))
        if q2 == 0.0:
            return np.array(k0, dtype=self._emb.dtype)
        ds = (self._scores.astype(np.float64) - self._scores0) / q2
        return (k0 + ds[:, None] * q[None, :]).astype(self._emb.dtype)

    def state(self) -> dict[str, np.ndarray]:
        """Every array that changes in training (copies): what a snapshot must hold to continue
        bitwise.  The initial scores/keys behind :attr:`keys` are not here: they follow from the
        config's seed (:meth:`initial`)."""
        out = {"embeddings": self._emb.copy(), "query": self.query.copy(),
               "classifier": self._theta.copy()}
        out["keys" if self.explicit_keys else "scores"] = (self._keys if self.explicit_keys
                                                            else self._scores).copy()
        return out

    def load_state(self, state: dict) -> None:
        """Overwrite the trained arrays with :meth:`state`'s (same shapes and dtype, else UsageError)."""
        targets = {"embeddings": self._emb, "query": self.query, "classifier": self._theta,
                   ("keys" if self.explicit_keys else "scores"): (self._keys if self.explicit_keys
                                                                  else self._scores)}
        for name, arr in targets.items():
            given = state.get(name)
            if given is None or given.shape != arr.shape or given.dtype != arr.dtype:
                raise UsageError(f"snapshot: parameter {name!r} does not match this config's model "
                                 f"(expected {arr.dtype} {arr.shape}, got "
                                 f"{None if given is None else f'{given.dtype} {given.shape}'})")
        self._carried = None
        for name, arr in targets.items():
            arr[...] = state[name]

    def copy(self) -> "AttentionModel":
        out = AttentionModel(self.kind, self._emb, self.keys, self.query, self.classifier,
                             explicit_keys=self.explicit_keys, dtype=self.dtype)
        out.kernel_path = self.kernel_path
        return out

    def _check(self, batch: Batch) -> None:
        if self._checked is batch:  # a batch is checked against the model once, not every step
            return
        if batch.G.shape[1] != self._emb.shape[1] or batch.G.dtype != self._emb.dtype:
            raise UsageError("batch: work buffers built for another d_e or dtype")
        if len(batch.uw) and batch.uw[-1] >= self.vocab_size:
            raise UsageError(f"batch: word ids beyond the model's vocabulary ({self.vocab_size})")
        if batch.labels.max() >= self.n_classes:
            raise UsageError(f"batch: labels beyond the classifier's {self.n_classes} classes")
        self._checked = batch

    # ----------------------------------------------------------------- kernels
    def step(self, batch: Batch, lr_embeddings: float, lr_keys: float, lr_query: float = 0.0,
             lr_classifier: float = 0.0) -> float:
        r"""One gradient-descent step (0 freezes a group); returns the loss *before* it.

        Fixed-query mode passes :math:`\eta_s = \eta_k|q|^2` to the score update and
        rejects a nonzero ``lr_query``."""
        self._check(batch)
        carried = self._carried_for(batch)  # (and forgets it: only a low-rank step below renews it)
        code = KIND_CODES[self.kind]
        K, H = self.n_classes, self.hidden
        if self.kind == "fc" and lr_classifier:
            raise UsageError("the fc classifier is fixed: lr_classifier must be 0")
        clf = Classifier(code, self._theta, K, H)
        if lr_query and not self.explicit_keys:
            raise UsageError("lr_query: the query is fixed in this model (explicit_keys=False)")
        if self.explicit_keys:  # the keys move by eta_k (dL/ds_w) q
            lr_s = float(lr_keys)
        else:  # the scores move by eta_k |q|^2 dL/ds_w
            q = self.query.astype(np.float64)
            lr_s = float(lr_keys) * float(q @ q)
        self.last_fused = self.fused()
        if self.last_fused and self.explicit_keys:
            loss = self._fused_keys_step(batch, clf, lr_embeddings, lr_s, lr_query, lr_classifier)
            if loss is not None:
                return loss
            self.last_fused = False  # a partition underflowed: nothing moved, redo with per-sentence shifts
        elif self.last_fused:
            self._fused_buffers()
            loss, ok = epoch_fused(batch.sentences(), batch.uw, self._scores, self._emb, clf,
                                   rates(v=lr_embeddings, s=lr_s, c=lr_classifier), KERNEL.shared_exp_floor,
                                   KERNEL.word_chunk, self._fused_parallel(), self._rows, self._acc,
                                   self._dtheta)
            if ok:
                return float(loss)
            self.last_fused = False  # a partition underflowed: nothing moved, redo with per-sentence shifts
        if self.lowrank():
            loss = epoch_lowrank(batch.sentences(), batch.words(), self._scores, self._emb,
                                 self._keys_or_none(), self.query, self._shared_exp(), clf,
                                 rates(v=lr_embeddings, s=lr_s, q=lr_query, c=lr_classifier), CHUNKS,
                                 self._table(), batch.lowrank_work(K), self._dtheta, self._dq, carried)
            if not lr_classifier:  # W fixed: the word pass left u_w = W^T v_w of the new v behind
                self._carried = (batch, self._theta.copy())
            return float(loss)
        if self.explicit_keys:
            return float(epoch_keys(batch.sentences(), batch.words(), self._scores, self._emb,
                                    self._keys, self.query, self._shared_exp(), clf,
                                    rates(v=lr_embeddings, s=lr_s, q=lr_query, c=lr_classifier),
                                    CHUNKS, batch.work(), self._dtheta, self._dq))
        return float(epoch_scores(batch.sentences(), batch.words(), self._scores, self._emb,
                                  self._shared_exp(), clf, rates(v=lr_embeddings, s=lr_s, c=lr_classifier),
                                  CHUNKS, batch.work(), self._dtheta))

    def _fused_keys_step(self, batch: Batch, clf, lr_v: float, lr_k: float, lr_q: float,
                         lr_c: float) -> float | None:
        r"""A gradient-descent step of a model with explicit keys on the fused path: the fused passes in
        store mode (:meth:`_fused_gradients`, as :meth:`row_gradients`) give :math:`\partial L/\partial v_w`, :math:`\partial L/\partial s_w`
        and :math:`\partial L/\partial W` at the old point, :math:`\partial L/\partial q = \sum_w
        (\partial L/\partial s_w) k_w` is summed from the old keys, then :math:`v_w`, :math:`k_w` move
        (:func:`attndyn.numerics.kernels.optim.gd_key_rows`, old :math:`q`), then :math:`q` and :math:`W`.
        The keys' kernel does the same step in one call, d_e wide (about twice the time at the paper's
        size).  Returns None, with nothing moved, when a partition underflows."""
        U = len(batch.uw)
        if self._gv is None:  # V rows: every batch's U distinct words fit
            self._gv = np.zeros(self._emb.shape, self._emb.dtype)
            self._gs = np.zeros(self._emb.shape[0], self._emb.dtype)
        gv, gs = self._gv[:U], self._gs[:U]
        key_scores(batch.uw, self._keys, self.query, self._scores)
        loss = self._fused_gradients(batch, clf, bool(lr_c), gv, gs)
        if loss is None:
            return None
        gd_key_rows(self._emb, self._keys, self.query, batch.uw, gv, gs, float(lr_v), float(lr_k))
        if lr_q:
            self.query -= lr_q * self._dq
        if lr_c:
            self._theta -= lr_c * self._dtheta
        return loss

    def _fused_gradients(self, batch: Batch, clf, classifier: bool, gv: np.ndarray, gs: np.ndarray) -> float | None:
        r"""The fused passes in store mode (the scores already current): :math:`\partial L/\partial v_w`,
        :math:`\partial L/\partial s_w` into ``gv``, ``gs`` (U rows), :math:`\partial L/\partial W` into
        ``_dtheta`` when ``classifier`` (``rates.c`` only switches it on), and with explicit keys
        :math:`\partial L/\partial q` into ``_dq``.  Returns the loss, or None when a partition
        underflows (nothing stored)."""
        self._fused_buffers()
        loss, ok = fused_pass(batch.sentences(), batch.uw, self._scores, self._emb, clf,
                              rates(c=1.0 if classifier else 0.0), KERNEL.shared_exp_floor, KERNEL.word_chunk,
                              self._fused_parallel(), self._rows, self._acc, self._dtheta, gv, gs)
        if not ok:
            return None
        if self.explicit_keys:
            query_gradient(batch.uw, gs, self._keys, self._dq)
        return float(loss)

    def row_gradients(self, batch: Batch, gv: np.ndarray, gs: np.ndarray, classifier: bool) -> tuple:
        r"""The gradients at the current point, no update, for an optimizer
        (numerics/training/optimizers.py): writes :math:`\partial L/\partial v_w` into ``gv[u]``
        and :math:`\partial L/\partial s_w` into ``gs[u]`` for the batch's distinct words
        :math:`w` = ``batch.uw[u]`` (arrays of at least U rows) and returns
        ``(L, dθ, dq)``: the loss, the flat classifier gradient (when ``classifier``) and
        :math:`\partial L/\partial q = \sum_w (\partial L/\partial s_w) k_w` (explicit keys).
        The same kernels as :meth:`step`, in their store mode."""
        self._check(batch)
        self._carried = None  # the optimizer moves the parameters itself
        clf = Classifier(KIND_CODES[self.kind], self._theta, self.n_classes, self.hidden)
        U = len(batch.uw)
        if self.explicit_keys:
            key_scores(batch.uw, self._keys, self.query, self._scores)
        self.last_fused = self.fused()
        if self.last_fused:
            loss = self._fused_gradients(batch, clf, bool(classifier), gv[:U], gs[:U])
            if loss is not None:
                return loss, self._dtheta, self._dq
            self.last_fused = False  # a partition underflowed: nothing stored, redo with per-sentence shifts
        if self.lowrank():
            work, u = batch.lowrank_work(self.n_classes), self._table()
            loss, shared = forward_backward_lr(batch.sentences(), batch.uw, self._scores, self._emb,
                                               self._shared_exp(), clf, bool(classifier), CHUNKS, u, work,
                                               self._dtheta, False)
            word_pass_lr(batch.words(), self._scores, shared, self._emb, u, self._theta, work,
                         rates(), KERNEL.word_chunk, bool(classifier), gv[:U], gs[:U], self._dtheta,
                         self._keys_or_none(), self.query, self._dq, False)
            return float(loss), self._dtheta, self._dq
        loss, shared = forward_backward(batch.sentences(), batch.uw, self._scores, self._emb,
                                        self._shared_exp(), clf, bool(classifier), KERNEL.sentence_chunk,
                                        batch.work(), self._dtheta)
        if self.explicit_keys:
            word_pass_keys(batch.words(), self._scores, self._ew, shared, self._emb, self._keys,
                           self.query, batch.work(), rates(), KERNEL.word_chunk, gv[:U], gs[:U], self._dq)
        else:
            word_pass(batch.words(), self._scores, self._ew, shared, self._emb, batch.work(), rates(),
                      KERNEL.word_chunk, gv[:U], gs[:U])
        return float(loss), self._dtheta, self._dq

    def _shared_exp(self) -> SharedExp:
        return SharedExp(self._ew, bool(self.shared_exp), KERNEL.shared_exp_floor)

    def gradients(self, batch: Batch) -> tuple[float, dict]:
        r"""Loss :math:`L` and every gradient at the current point (no update):
        ``embeddings`` (V x d_e), ``keys`` (V x d_k, :math:`(\partial L/\partial s_w)\,q`),
        ``query`` (:math:`\sum_w (\partial L/\partial s_w)\,k_w`), ``scores`` (V) and the
        classifier's arrays by name.  Words absent from the batch get 0."""
        self._check(batch)
        self._carried = None  # _u is overwritten below
        dtheta = np.zeros_like(self._theta)
        code = KIND_CODES[self.kind]
        keys = self.keys
        scores = self._scores
        if self.explicit_keys:
            key_scores(batch.uw, keys, self.query, scores)
        clf = Classifier(code, self._theta, self.n_classes, self.hidden)
        U = len(batch.uw)
        gv = np.zeros((U, self._emb.shape[1]), self._emb.dtype)
        gs = np.zeros(U, self._emb.dtype)
        dq = np.zeros_like(self.query)
        lowrank = self.lowrank()
        if lowrank:
            work, u = batch.lowrank_work(self.n_classes), self._table()
            loss, shared = forward_backward_lr(batch.sentences(), batch.uw, scores, self._emb,
                                               self._shared_exp(), clf, True, CHUNKS, u, work, dtheta, False)
        else:
            loss, shared = forward_backward(batch.sentences(), batch.uw, scores, self._emb,
                                            self._shared_exp(), clf, True, KERNEL.sentence_chunk, batch.work(),
                                            dtheta)
        self.last_shared_exp = bool(shared)  # which path the sentence pass took (for tests)
        self.last_lowrank = lowrank
        if lowrank:
            word_pass_lr(batch.words(), scores, shared, self._emb, u, self._theta, work, rates(),
                         KERNEL.word_chunk, True, gv, gs, dtheta, self._keys_or_none(), self.query, dq, False)
            if not self.explicit_keys:
                dq = gs @ keys[batch.uw] if U else dq
        elif self.explicit_keys:
            word_pass_keys(batch.words(), scores, self._ew, shared, self._emb, keys, self.query,
                           batch.work(), rates(), KERNEL.word_chunk, gv, gs, dq)
        else:
            word_pass(batch.words(), scores, self._ew, shared, self._emb, batch.work(), rates(),
                      KERNEL.word_chunk, gv, gs)
            dq = gs @ keys[batch.uw] if U else dq
        V = self.vocab_size
        out = {"embeddings": np.zeros_like(self._emb), "scores": np.zeros(V, gs.dtype)}
        out["embeddings"][batch.uw] = gv
        out["scores"][batch.uw] = gs
        out["keys"] = out["scores"][:, None] * self.query[None, :]
        out["query"] = dq
        for name, (off, shape) in self._layout.items():
            out[name] = dtheta[off: off + int(np.prod(shape))].reshape(shape)
        return float(loss), out

    def evaluate(self, word_ids, offsets, labels) -> tuple[float, np.ndarray, np.ndarray]:
        r"""Mean loss, per-sentence :math:`\Lambda_i = \log\sum_{w\in S_i} e^{s_w}` and predicted classes."""
        word_ids = np.ascontiguousarray(word_ids, dtype=np.int64)
        offsets = np.ascontiguousarray(offsets, dtype=np.int64)
        labels = np.ascontiguousarray(labels, dtype=np.int64)
        n = len(labels)
        lse = np.empty(n, self._emb.dtype)
        pred = np.empty(n, np.int64)
        if n == 0:
            return float("nan"), lse, pred
        sents = Sentences(word_ids, offsets, labels, 1.0)
        if word_ids.size and (word_ids.min() < 0 or word_ids.max() >= self.vocab_size):
            raise UsageError(f"evaluate: word ids outside 0..{self.vocab_size - 1}")
        if self.lowrank():  # K wide, as the steps (dev and test evaluations during SST training)
            if self._u_eval is None:
                self._u_eval = np.zeros((self.vocab_size, self.n_classes))
                self._seen = np.zeros(self.vocab_size, np.uint8)
            total = forward_eval_lr(sents, np.ascontiguousarray(self.scores), self._emb, self._theta,
                                    self.n_classes, KERNEL.sentence_chunk, self._u_eval, self._seen, lse, pred)
        else:
            total = forward_eval(sents, np.ascontiguousarray(self.scores), self._emb,
                                 Classifier(KIND_CODES[self.kind], self._theta, self.n_classes, self.hidden),
                                 KERNEL.sentence_chunk, lse, pred)
        return float(total) / n, lse, pred


def _load_matrix(path: str) -> np.ndarray:
    return cl.load_matrix_file(path, f"model.classifier_matrix {path}")
