r"""Training driver: the loop around the one-epoch kernels, records, progress, snapshots.

:func:`train` runs gradient descent on the mean cross-entropy
:math:`L = \frac1n\sum_i \ell_i` of the training split (full batch, or shuffled
mini-batches), every parameter group in ``train.trainable`` stepping with
``train.lr`` from gradients at the same point (or with ``train.optimizer``'s rule:
numerics/training/optimizers.py).  Every ``record_every`` epochs
(and at the end) it records the state *after* that many epochs: the training
loss, each topic word's score :math:`s_t` and norm :math:`|v_t|`, :math:`|q|`, and the
non-topic words' mean score, largest :math:`|s_w|`, mean norm and largest norm.

A NaN/Inf loss stops training at that epoch: the result has status
``"diverged"``, a message naming the epoch, and the finite part of the
trajectory (no exception).  A finite loss that rose above ``TRAINING.unstable_factor``
times its start (at least 1) stops it likewise, with status ``"unstable"`` and a hint
(a step size too large: lr 1e3 used to end "ok" with a loss of 3e4).  Logits so large that the
loss lost its precision end it as ``"precision-lost"``, a parameter that became inf as
``"overflow"`` (:mod:`attndyn.numerics.training.health`).  With ``out_dir`` the config is
written first (``config.json``), then the full training state (``snapshot.npz``) and the
trajectory every ``snapshot_seconds`` (default ``TRAINING.snapshot_seconds``) and at the end;
Ctrl-C stops at the next epoch boundary with status ``"interrupted"`` (after the last epoch it lets
the finished run's evaluations and files complete), and ``resume=True`` continues from the snapshot to the bitwise-same result (:mod:`attndyn.numerics.training.snapshot`).

Determinism: the same config (seed included) gives bitwise-identical results,
and so does any thread count — the kernels reduce over fixed chunks in a fixed
order (``attndyn.proofs.settings.KERNEL``), never per thread.

Size: past 500 lines because the loop, its records, snapshots, stop statuses (ok, diverged,
unstable, precision-lost, overflow, interrupted), the per-epoch ``observer`` hook of the residual
budget and the result (with the summary it writes) form one driver; the update rules live in
numerics/training/optimizers.py, the monitors (early stopping, every word's records) in
:mod:`attndyn.numerics.training.monitor`, the snapshot format and resume in
:mod:`attndyn.numerics.training.snapshot`, the precision and overflow checks in
:mod:`attndyn.numerics.training.health`.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import io
import json
import math
import os
from pathlib import Path
import sys
import time

import numba
import numpy as np

from attndyn.numerics.config.schema import RunConfig
from attndyn.numerics.data.corpus import Corpus, mean_length_minus_one
from attndyn.numerics.data.sst import read_sst
from attndyn.numerics.kernels.stats import record_stats
from attndyn.numerics.training import health, snapshot
from attndyn.numerics.training.memory import check_fits
from attndyn.numerics.training.monitor import EarlyStopping, WordRecorder
from attndyn.numerics.training.optimizers import make_stepper
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.numerics.outputs import atomic_replace, writable_dir, write_json
from attndyn.numerics.parallel import threading_info
from attndyn.numerics.progress import Progress
from attndyn.numerics.provenance import provenance
from attndyn.proofs.errors import UsageError
from attndyn.proofs.sen import sen_curve
from attndyn.proofs.settings import TRAINING
from attndyn.proofs.status import TrainStatus

TRAJECTORY_FIELDS = ("epoch", "loss", "q_norm", "topic_scores", "topic_norms", "nontopic_score_mean",
                     "nontopic_score_maxabs", "nontopic_norm_mean", "nontopic_norm_max")


# --------------------------------------------------------------------------- corpus

def load_corpus(spec) -> Corpus:
    """The corpus a :class:`~attndyn.numerics.config.schema.CorpusSpec` names."""
    if spec.kind == "synthetic":
        from attndyn.numerics.data.corpus import synthetic  # deferred: only this branch needs it

        corpus = synthetic(spec.synthetic)
    else:
        corpus = read_sst(spec.kind, spec.sst_dir)
    if getattr(spec, "pad_to", None) is not None:
        from attndyn.numerics.data.padding import pad_corpus  # deferred: only padded corpora need it

        corpus = pad_corpus(corpus, spec.pad_to)
    return corpus


# --------------------------------------------------------------------------- records

class Trajectory:
    """Preallocated per-record arrays (see :data:`TRAJECTORY_FIELDS`)."""

    def __init__(self, capacity: int, topic_words: np.ndarray, topic_labels: np.ndarray, vocab_size: int):
        T = len(topic_words)
        self.topic_words = np.asarray(topic_words, dtype=np.int64)
        self.topic_labels = np.asarray(topic_labels, dtype=np.int64)
        self.is_topic = np.zeros(vocab_size, dtype=np.bool_)
        self.is_topic[self.topic_words] = True
        self._all_topic = bool(self.is_topic.all())
        self.n = 0
        self.a = {
            "epoch": np.zeros(capacity, np.int64),
            "loss": np.full(capacity, np.nan),
            "q_norm": np.zeros(capacity),
            "topic_scores": np.zeros((capacity, T)),
            "topic_norms": np.zeros((capacity, T)),
            "nontopic_score_mean": np.zeros(capacity),
            "nontopic_score_maxabs": np.zeros(capacity),
            "nontopic_norm_mean": np.zeros(capacity),
            "nontopic_norm_max": np.zeros(capacity),
        }
        self._s = np.zeros(T)
        self._v = np.zeros(T)

    def add(self, epoch: int, model: AttentionModel, loss: float) -> None:
        r = self.n
        a = self.a
        stats = record_stats(model.scores, model.embeddings, self.topic_words, self.is_topic,
                             self._s, self._v)
        a["epoch"][r] = epoch
        a["loss"][r] = loss
        q = np.asarray(model.query, dtype=np.float64)  # no copy in float64 (this runs every record)
        with np.errstate(over="ignore", invalid="ignore"):
            a["q_norm"][r] = math.sqrt(float(q.dot(q)))  # np.linalg.norm's own formula for a real vector: same bits
        a["topic_scores"][r] = self._s
        a["topic_norms"][r] = self._v
        (a["nontopic_score_mean"][r], a["nontopic_score_maxabs"][r],
         a["nontopic_norm_mean"][r], a["nontopic_norm_max"][r]) = stats
        self.n += 1

    def max_norm(self, r: int) -> float:
        r""":math:`\max_w|v_w|` over the whole vocabulary from record ``r`` (topic words' norms and the
        non-topic words' largest norm; NaN if any norm is NaN), for the precision check
        (:func:`attndyn.numerics.training.health.logit_bound`): the record's pass over the table
        already computed every row norm, so the check needs no second one."""
        top = self.a["topic_norms"][r]
        m = float(top.max()) if top.size else 0.0  # ndarray.max propagates NaN
        if self._all_topic:  # the non-topic statistics are NaN by definition (no such word)
            return m
        other = float(self.a["nontopic_norm_max"][r])
        if not top.size:
            return other
        # the max of both with NaN propagated, in floats: np.append + np.max cost ~10 us per record
        return math.nan if m != m or other != other else max(m, other)

    def restore(self, arrays: dict[str, np.ndarray]) -> None:
        """Continue from the records of a snapshot (:meth:`arrays`)."""
        n = len(arrays["epoch"])
        for k, a in self.a.items():
            a[:n] = arrays[k]
        self.n = n

    def arrays(self) -> dict[str, np.ndarray]:
        out = {k: v[: self.n].copy() for k, v in self.a.items()}
        out["topic_words"] = self.topic_words
        out["topic_labels"] = self.topic_labels
        return out


def _atomic_savez(path: Path, arrays: dict) -> None:
    """``np.savez`` written atomically (:func:`attndyn.numerics.outputs.atomic_replace`)."""
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    atomic_replace(path, buf.getvalue())


# --------------------------------------------------------------------------- result

@dataclass
class TrainResult:
    """What :func:`train` produced; :meth:`summary` is the JSON written by ``attndyn simulate``."""

    config: RunConfig
    status: TrainStatus  # a plain string is accepted and converted
    message: str
    epochs: int  # epochs completed (parameters are after this many steps)
    seconds: float  # wall time of the training loop
    final_loss: float
    accuracy: dict  # split -> accuracy (None for an empty split)
    model: AttentionModel
    trajectory: dict[str, np.ndarray]
    corpus_name: str
    topic_words: np.ndarray
    topic_labels: np.ndarray
    topic_m: np.ndarray  # mean length - 1 of the training sentences containing each topic word
    topic_attention_mean: np.ndarray
    topic_attention_min: np.ndarray
    initial_scores: np.ndarray  # s_t at epoch 0
    initial_qv: np.ndarray  # |q0||v_t0|
    threads: int
    vocab: tuple[str, ...] | None = None  # the words, for real text
    extra: dict = field(default_factory=dict)  # JSON-ready additions to the summary

    def __post_init__(self) -> None:
        self.status = TrainStatus.coerce(self.status)

    @property
    def test_accuracy(self):
        return self.accuracy.get("test")

    def __repr__(self) -> str:  # the dataclass's would print every array
        res, acc = self.sen_residual_max(), self.test_accuracy
        return (f"TrainResult({self.status}: {self.corpus_name}, {self.config.model.classifier}, {self.epochs} epochs "
                f"in {self.seconds:.2f}s, final loss {self.final_loss:.4g}, test accuracy "
                f"{'n/a' if acc is None else f'{acc:.4f}'}, SEN residual max "
                f"{'n/a' if res is None else f'{res:.3g}'}{'; ' + self.message if self.message else ''})")

    def sen_residuals(self) -> tuple[np.ndarray, np.ndarray]:
        r"""Per record and topic word, :math:`|q||v_t| - \mathrm{curve}(s_t)` with the SEN curve
        :math:`\sqrt{|q_0|^2|v_{t,0}|^2 + 2\frac{\eta_v}{\eta_k}((s_t - s_{t,0}) + (e^{s_t} - e^{s_{t,0}})/m_t)}`
        (``attndyn.proofs.sen.sen_curve``), :math:`m_t` the mean length - 1 of the word's training
        sentences, :math:`\eta_v/\eta_k = 1`.  Also returns a mask of the *unreachable*
        records: a score below the curve's domain (negative radicand; the flow cannot get
        there, a gradient step can by O(lr), e.g. the first step from :math:`s_0 = 0`).  There
        the residual is measured to the curve's end value 0, i.e. it is :math:`|q||v_t|`."""
        tr = self.trajectory
        R, T = len(tr["epoch"]), len(self.topic_words)
        if T == 0 or R == 0:
            return np.zeros((R, T)), np.zeros((R, T), dtype=bool)
        scaled = tr["q_norm"][:, None] * tr["topic_norms"]
        curve = np.full_like(scaled, np.nan)
        for t in range(T):
            ok = np.isfinite(tr["topic_scores"][:, t])  # non-finite records stay NaN (-> inf max)
            if not np.isfinite(self.topic_m[t]):
                continue  # the word occurs in no training sentence: no curve
            curve[ok, t] = sen_curve(tr["topic_scores"][ok, t], float(self.topic_m[t]),
                                     s0=float(self.initial_scores[t]),
                                     qv0_sq=float(self.initial_qv[t]) ** 2, lr_ratio=1.0)
        has_curve = np.isfinite(np.asarray(self.topic_m, dtype=np.float64))[None, :]
        unreachable = np.isnan(curve) & np.isfinite(tr["topic_scores"]) & has_curve
        return np.where(unreachable, scaled, scaled - curve), unreachable

    def sen_residual_max(self) -> float | None:
        """max over records and topic words of the absolute SEN residual (None without topic words)."""
        if len(self.topic_words) == 0 or len(self.trajectory["epoch"]) == 0:
            return None
        r = np.abs(self.sen_residuals()[0])
        return float(np.max(r)) if np.all(np.isfinite(r)) else float("inf")

    def summary(self) -> dict:
        with np.errstate(over="ignore", invalid="ignore"):  # a diverged model holds inf/NaN
            return self._summary()

    def _summary(self) -> dict:
        tr = self.trajectory
        q_norm = float(np.linalg.norm(self.model.query.astype(np.float64)))
        scores = self.model.scores
        words = []
        res, unreachable = self.sen_residuals()
        res = np.abs(res)
        for t, w in enumerate(self.topic_words):
            v = float(np.linalg.norm(self.model.embeddings[w].astype(np.float64)))
            words.append({
                "word": int(w),
                "text": self.vocab[w] if self.vocab else None,
                "label": int(self.topic_labels[t]),
                "score": _num(scores[w]),
                "norm": _num(v),
                "scaled_norm": _num(q_norm * v),
                "m": _num(self.topic_m[t]),
                "attention_mean": _num(self.topic_attention_mean[t]),
                "attention_min": _num(self.topic_attention_min[t]),
                "sen_residual_max": _residual(np.max(res[:, t])) if len(res) else None,
            })
        sen = self.sen_residual_max()
        tr_train = self.config.train
        return {
            "config": self.config.to_dict(),
            "corpus": self.corpus_name,
            "status": self.status,
            "message": self.message,
            "epochs": self.epochs,
            "seconds": round(self.seconds, 4),
            "seconds_per_epoch": round(self.seconds / self.epochs, 7) if self.epochs else None,
            "threads": self.threads,
            "kernel": self.model.kernel_options(),
            "final_loss": _num(self.final_loss),
            "test_accuracy": _num(self.test_accuracy),
            "accuracy": {k: _num(v) for k, v in self.accuracy.items()},
            "q_norm": _num(q_norm),
            "sen_residual_max": _residual(sen),
            **({"sen_residual_note": NONFINITE_NOTE} if sen is not None and not math.isfinite(sen) else {}),
            "sen_unreachable_records": int(np.sum(unreachable)),
            "sen_hypotheses": {
                "query_fixed": "query" not in tr_train.trainable,
                "keys_and_embeddings_trained": {"keys", "embeddings"} <= tr_train.trainable,
            },
            "records": int(len(tr["epoch"])),
            "topic_words": words,
            **self.extra,
        }

    def save(self, out_dir: str | os.PathLike) -> dict[str, Path]:
        """Write ``summary.json`` and ``trajectory.npz`` into ``out_dir``; return their paths."""
        d = writable_dir(out_dir, "--out")
        summary = self.summary()
        npz = d / "trajectory.npz"
        _atomic_savez(npz, self.trajectory)
        js = write_json(d / "summary.json", summary, "--out")
        return {"summary": js, "trajectory": npz}


NONFINITE_NOTE = ('a SEN residual that is not a finite number is written as the string "inf" or "nan" '
                  "(JSON has no infinity): a parameter or score overflowed, or the word has no SEN curve")


def _residual(x):
    """A residual for JSON: a float, or the string ``"inf"``/``"nan"`` (never ``null``, which would
    read as "not measured"); None only when nothing was measured."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else ("nan" if math.isnan(x) else "inf")


def _num(x):
    """A JSON-safe float: None for None, NaN or Inf."""
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


# --------------------------------------------------------------------------- the loop

def auto_threads(occurrences: int) -> tuple[int, str]:
    """``(threads, why)`` for ``train.threads`` unset: 1 below ``TRAINING.auto_parallel_min_occurrences``
    word occurrences per epoch (too short for a parallel region to pay off; issue 13), else numba's."""
    if occurrences < TRAINING.auto_parallel_min_occurrences and numba.get_num_threads() > 1:
        return 1, (f"auto: {occurrences} occurrences per epoch < "
                   f"{TRAINING.auto_parallel_min_occurrences} (train.threads unset)")
    return numba.get_num_threads(), "auto: numba's default (train.threads unset)"


def _threads(n: int | None, occurrences: int):
    """Set numba's thread count for this run; return ``(threads, previous or None, why)``."""
    if n is None:
        n, why = auto_threads(occurrences)
        if n == numba.get_num_threads():
            return n, None, why
    else:
        limit = numba.config.NUMBA_NUM_THREADS
        if n > limit:
            raise UsageError(f"train.threads: at most {limit} on this machine (NUMBA_NUM_THREADS), got {n}")
        why = "train.threads"
    old = numba.get_num_threads()
    numba.set_num_threads(n)
    return n, old, why


def _check_corpus(corpus: Corpus, cfg: RunConfig) -> None:
    if not isinstance(corpus, Corpus):
        raise UsageError(f"corpus: expected a attndyn.numerics.data.corpus.Corpus, got {type(corpus).__name__}")
    if corpus.n_classes < 2:
        raise UsageError(f"corpus {corpus.name!r}: needs at least 2 classes, has {corpus.n_classes}")
    # a user classifier matrix is checked against (d_e, K) when the classifier is initialised


def _topic_m(train_c: Corpus, topic_words: np.ndarray) -> np.ndarray:
    """The paper's m for each topic word: mean length - 1 of its training sentences (NaN if none)."""
    out = np.full(len(topic_words), np.nan)
    if len(topic_words):
        present = np.bincount(train_c.word_ids, minlength=train_c.vocab_size)[topic_words] > 0
        if present.any():
            out[present] = mean_length_minus_one(train_c, topic_words[present])
    return out


def _topic_attention(model: AttentionModel, train_c: Corpus, topic_words: np.ndarray):
    r"""Mean and min attention weight :math:`a_{it} = e^{s_t - \Lambda_i}` of each topic word over
    its training sentences (NaN when it occurs in none)."""
    T = len(topic_words)
    mean, mn = np.full(T, np.nan), np.full(T, np.nan)
    if T == 0:
        return mean, mn
    _, lse, _ = model.evaluate(train_c.word_ids, train_c.offsets, train_c.labels)
    scores = model.scores.astype(np.float64)
    hits = np.flatnonzero(np.isin(train_c.word_ids, topic_words))  # no nnz-sized index arrays
    sent = np.searchsorted(train_c.offsets, hits, side="right") - 1
    words = train_c.word_ids[hits]
    for t, w in enumerate(topic_words):
        mine = words == w
        if mine.any():
            a = np.exp(scores[w] - lse[sent[mine]].astype(np.float64))
            mean[t], mn[t] = a.mean(), a.min()
    return mean, mn


def train(cfg: RunConfig, corpus: Corpus | None = None, progress: bool = True,
          out_dir: str | os.PathLike | None = None, stop_below: float | None = None,
          observer=None, *, resume: bool = False, snapshot_seconds: float | None = None) -> TrainResult:
    """Train the attention model of ``cfg`` on ``corpus`` (default: the corpus ``cfg.corpus``
    names) and return a :class:`TrainResult` (a :class:`TrainStatus`).  ``stop_below``: stop
    after the first epoch whose loss (the step's: at the epoch's start for a full batch, the mean
    of the batch losses for mini-batches) is at most this value.  ``observer(epoch, model, batch)``,
    if given, sees the point before each step (``batch`` the step's own: the split, or a mini-batch).  ``resume``
    continues the run in ``out_dir`` from its snapshot; ``snapshot_seconds`` is the wall time
    between snapshots (0: every epoch; default ``TRAINING.snapshot_seconds``)."""
    if not isinstance(cfg, RunConfig):
        raise UsageError(f"config: expected a RunConfig, got {type(cfg).__name__}")
    if corpus is None and cfg.corpus.kind == "synthetic":
        check_fits(cfg)  # before the corpus exists: its size follows from the config
    if corpus is None:
        corpus = load_corpus(cfg.corpus)
        if cfg.corpus.kind != "synthetic":
            check_fits(cfg, vocab_size=corpus.vocab_size, tokens=len(corpus.word_ids))
    else:
        check_fits(cfg, vocab_size=corpus.vocab_size, tokens=0)
    _check_corpus(corpus, cfg)
    t_cfg = cfg.train
    out = None
    if out_dir is not None:
        from attndyn.numerics.outputs import writable_dir  # deferred: only this branch needs it

        out = writable_dir(out_dir, "--out")
    train_c = corpus.subset("train")
    if train_c.n_sentences == 0:
        raise UsageError(f"corpus {corpus.name!r}: the training split is empty")
    model = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)
    d_e = cfg.model.d_e
    full = t_cfg.batch_size is None or t_cfg.batch_size >= train_c.n_sentences
    batch = Batch.from_corpus(train_c, d_e, t_cfg.dtype) if full else None
    if not full:  # validate the whole split once; the batches reuse these checks
        Batch.build(train_c.word_ids, train_c.offsets, train_c.labels, corpus.vocab_size,
                    corpus.n_classes, d_e, t_cfg.dtype, name=f"corpus {corpus.name!r}")
    batch_rng = np.random.default_rng(np.random.SeedSequence(t_cfg.seed).spawn(5)[4])

    groups = t_cfg.trainable
    lr = t_cfg.lr
    lrs = dict(lr_embeddings=lr if "embeddings" in groups else 0.0,
               lr_keys=lr if "keys" in groups else 0.0,
               lr_query=lr if "query" in groups else 0.0,
               lr_classifier=lr if "classifier" in groups else 0.0)

    step, optimizer = make_stepper(model, t_cfg, lrs, train_c)  # train.optimizer (gd: model.step itself)
    topic_words = np.asarray(corpus.topic_words, dtype=np.int64)
    topic_labels = np.asarray(corpus.topic_labels, dtype=np.int64)
    E, every = t_cfg.epochs, t_cfg.record_every
    traj = Trajectory(E // every + 2, topic_words, topic_labels, corpus.vocab_size)
    initial_scores = model.scores[topic_words].astype(np.float64)
    q0 = float(np.linalg.norm(model.query.astype(np.float64)))
    initial_qv = q0 * np.linalg.norm(model.embeddings[topic_words].astype(np.float64), axis=1)

    n_threads, old_threads, why_threads = _threads(t_cfg.threads, len(train_c.word_ids))
    pool = threading_info()  # summary.json: layer, threads, OpenMP wait policy (issue 13)
    pool["threads_chosen_by"] = why_threads
    stopper = EarlyStopping.maybe(cfg, corpus)  # dev-loss early stopping (train.early_stopping_patience)
    word_rec = WordRecorder.maybe(cfg, corpus.vocab_size)  # every word's s_w, |v_w| (train.word_record_every)
    bar = Progress(E, "train", unit="epochs", enabled=progress, interval=TRAINING.progress_interval)
    status, message = "ok", ""
    done = 0
    loss0, ceiling = None, math.inf  # the first loss, and the rise above it that means instability
    loss = float("nan")
    seconds_before = 0.0  # wall time of the run before a resume
    cfg_dict = json.loads(json.dumps(cfg.to_dict()))  # as config.json and the snapshot store it
    if resume and out is None:
        raise UsageError("resume: needs the run's output directory (out_dir)")
    # with an output dir (simulate) Ctrl-C ends the run at an epoch boundary with a snapshot and status
    # "interrupted"; without one (claims, reproduce, notebooks) it raises KeyboardInterrupt as usual.
    # Installed before config.json is written: from the first file on, a Ctrl-C is taken at a boundary.
    if resume and observer is not None:
        raise UsageError("--resume: --budget keeps per-epoch sums that snapshots do not hold yet; run again "
                         "with --overwrite")
    interrupt = snapshot.DeferredInterrupt(enabled=out is not None).__enter__()
    try:
        state = snapshot.load(out, cfg_dict) if resume else None
        if resume:  # accepted: an "interrupted" summary would go stale beside the resumed run
            (out / "summary.json").unlink(missing_ok=True)
        if state is not None:  # continue exactly where the snapshot left off
            model.load_state(state.params)
            traj.restore(state.trajectory)
            batch_rng.bit_generator.state = state.rng_state
            snapshot.load_optimizer_state(optimizer, state.optimizer or {})
            for monitor in (stopper, word_rec):
                if monitor is not None:
                    monitor.load_state(state.monitors or {})
            done, loss0, seconds_before, loss = state.epoch, state.loss0, state.seconds, state.last_loss
            if loss0 is not None:
                ceiling = TRAINING.unstable_factor * max(loss0, 1.0)
        elif out is not None and not resume:
            snapshot.write_config(out, cfg_dict)  # first: whatever follows belongs to this config
    except BaseException:  # a refused resume: Ctrl-C is ordinary again
        interrupt.__exit__()
        raise
    snap_every = TRAINING.snapshot_seconds if snapshot_seconds is None else float(snapshot_seconds)
    start = done

    def save_state(finished: bool = False) -> None:
        if out is None:
            return
        snapshot.save(out, snapshot.TrainState(done, model.state(), traj.arrays(), batch_rng.bit_generator.state,
                                               loss0, seconds_before + time.perf_counter() - t0, loss,
                                               finished, snapshot.optimizer_state(optimizer),
                                               {k: v for m in (stopper, word_rec) if m is not None
                                                for k, v in m.state().items()}), cfg_dict)
        _atomic_savez(out / "trajectory.npz", traj.arrays())

    if health.overflowed(model):  # e.g. a classifier matrix of 1e308 cast to float32
        status, message = TrainStatus.OVERFLOW, health.overflow_message(model, "at the start", lr)
        E = start  # no epoch runs
    last_snapshot = time.perf_counter()
    t0 = time.perf_counter()
    try:
        if out is not None and start == 0 and E > 0:
            save_state()  # epoch 0: a run killed from here on can always be resumed
        for epoch in range(start, E):
            if interrupt.requested:  # Ctrl-C, taken at this epoch boundary (consistent state)
                status = TrainStatus.INTERRUPTED
                break
            record = epoch % every == 0
            if word_rec is not None:
                word_rec.add(epoch, model)
            if record and stopper is not None and stopper.observe(epoch, model):
                break  # patience exhausted: the parameters after `epoch` (= done) epochs are the last
            if record:
                # stage the record first: its pass over the embedding table gives max_w |v_w| for the
                # precision check (same parameters; the staged record only counts once committed)
                snap = _Snap(traj, epoch, model)
                problem = health.precision_problem(model, train_c, vmax=traj.max_norm(traj.n))
                if problem:
                    status = TrainStatus.PRECISION_LOST
                    message = _stopped_message(f"the loss lost its precision after {epoch} epochs: {problem}",
                                               traj, "Hint: the classifier's scale (model.classifier_matrix) or "
                                               f"train.lr = {lr:g} is far too large; losses past this point "
                                               "would be rounding noise (e.g. 0.0 where the true loss is log K)")
                    break
                rec_loss = None
                if not full:  # the loss at this point needs its own forward pass
                    rec_loss, _, _ = model.evaluate(train_c.word_ids, train_c.offsets, train_c.labels)
            stepper = step
            if observer is not None:  # e.g. the residual budget (numerics/training/budget.py): sees every step's point
                def stepper(b, _epoch=epoch):
                    observer(_epoch, model, b)
                    return step(b)
            if full:
                loss = stepper(batch)
            else:
                loss = _minibatch_epoch(stepper, train_c, t_cfg, batch_rng, d_e)
            if record:
                snap.commit(loss if full else rec_loss)
            if loss0 is None and math.isfinite(loss):
                loss0 = loss
                ceiling = TRAINING.unstable_factor * max(loss0, 1.0)
            if math.isfinite(loss) and loss > ceiling:
                status = TrainStatus.UNSTABLE
                message = _unstable_message(epoch, loss, loss0, lr, traj)
                break
            if not math.isfinite(loss) and health.overflowed(model):
                status = TrainStatus.OVERFLOW
                message = _stopped_message(health.overflow_message(model, f"in epoch {epoch}", lr), traj, "")
                break
            if not math.isfinite(loss):
                status = "diverged"
                last = int(traj.a["epoch"][traj.n - 1]) if traj.n else None
                message = (f"training diverged: the loss after {epoch} epochs is {loss} "
                           f"(train.lr = {lr} is probably too large); stopped there, "
                           + (f"{traj.n} finite trajectory records kept (epochs 0..{last})"
                              if traj.n else "no finite trajectory record"))
                break
            done = epoch + 1
            bar.update(done, f"loss {loss:.6g}")
            if stop_below is not None and loss <= stop_below:  # reached a target loss (reproduce optimizers)
                break
            if out is not None and time.perf_counter() - last_snapshot >= snap_every:
                save_state()
                last_snapshot = time.perf_counter()
        # the deferral stays on to the end: a Ctrl-C after the last epoch lets the finished run's final
        # evaluations and files complete (a second one still stops at once)
        seconds = seconds_before + time.perf_counter() - t0
        if status == TrainStatus.INTERRUPTED:
            save_state()
            last = int(traj.a["epoch"][traj.n - 1]) if traj.n else None
            message = (f"interrupted at epoch {done} of {E}; kept: config.json, snapshot.npz (the full training "
                       f"state after epoch {done}), trajectory.npz ({traj.n} records"
                       + (f", epochs 0..{last})" if traj.n else ")")
                       + (f"; continue with: attndyn simulate --resume --out {out}" if out is not None else ""))
        final_loss, _, _ = model.evaluate(train_c.word_ids, train_c.offsets, train_c.labels)
        if status == TrainStatus.PRECISION_LOST:
            final_loss = float("nan")  # rounding noise (e.g. 0.0 for log K): not reported as a loss
        if status == "ok" and math.isfinite(final_loss) and final_loss > ceiling:
            status = TrainStatus.UNSTABLE
            message = _unstable_message(done, final_loss, loss0, lr, traj)
        if status == "ok":
            if math.isfinite(final_loss):
                if traj.n == 0 or traj.a["epoch"][traj.n - 1] != done:
                    traj.add(done, model, final_loss)
                if word_rec is not None:
                    word_rec.add(done, model, force=True)
                if stopper is not None:  # the last point, then (restore_best) the best-dev parameters
                    stopper.finish(done, model)
                    final_loss, _, _ = model.evaluate(train_c.word_ids, train_c.offsets, train_c.labels)
            else:
                status = "diverged"
                message = (f"training diverged at epoch {done}: the final loss is {final_loss} "
                           f"(train.lr = {lr} is probably too large)")
    except KeyboardInterrupt:  # a second Ctrl-C inside an epoch: the last snapshot stays as it is
        raise
    finally:
        interrupt.__exit__()
        bar.update(done, f"loss {loss:.6g}", force=True)
        bar.close()
        if old_threads is not None:
            numba.set_num_threads(old_threads)

    with interrupt:  # (see above) the finished run's evaluations and files
        accuracy = {}
        for split in ("train", "valid", "test"):
            sub = train_c if split == "train" else corpus.subset(split)
            if sub.n_sentences == 0 or status != "ok":
                accuracy[split] = None
                continue
            _, _, pred = model.evaluate(sub.word_ids, sub.offsets, sub.labels)
            accuracy[split] = float(np.mean(pred == sub.labels))
        topic_m = _topic_m(train_c, topic_words)
        att_mean, att_min = _topic_attention(model, train_c, topic_words) if status == "ok" else (
            np.full(len(topic_words), np.nan), np.full(len(topic_words), np.nan))
        result = TrainResult(cfg, status, message, done, seconds, final_loss, accuracy, model,
                             traj.arrays(), corpus.name, topic_words, topic_labels,
                             topic_m, att_mean, att_min,
                             initial_scores, initial_qv, n_threads, corpus.vocab,
                             extra={"threading": pool, "optimizer": optimizer.describe(),
                                    # and what makes summary.json readable alone:
                                    "provenance": provenance(cfg, model.n_classes, n_threads)})
        if stopper is not None:
            result.trajectory.update(stopper.arrays())
            result.extra["early_stopping"] = stopper.summary()
        if word_rec is not None:
            result.trajectory.update(word_rec.arrays())
        if out is not None and status != TrainStatus.INTERRUPTED:
            save_state(finished=True)  # the final state: a finished run's parameters, bitwise
        if out is not None:
            _atomic_savez(out / "trajectory.npz", result.trajectory)
    return result


def _stopped_message(what: str, traj: Trajectory, hint: str) -> str:
    last = int(traj.a["epoch"][traj.n - 1]) if traj.n else None
    return (f"{what}; stopped there, "
            + (f"{traj.n} trajectory records kept (epochs 0..{last})" if traj.n else "no trajectory record kept")
            + (f". {hint}" if hint else ""))


def _unstable_message(epoch: int, loss: float, loss0: float, lr: float, traj: Trajectory) -> str:
    last = int(traj.a["epoch"][traj.n - 1]) if traj.n else None
    return (f"training is unstable: the loss after {epoch} epochs is {loss:.4g}, more than "
            f"{TRAINING.unstable_factor:g} x its start {loss0:.4g}; stopped there, "
            + (f"{traj.n} trajectory records kept (epochs 0..{last})" if traj.n else "no trajectory record kept")
            + f". Hint: train.lr = {lr:g} is too large for this setting; try train.lr = {lr / 10:g} or smaller")


class _Snap:
    """A record's parameter statistics taken before a step, committed once its loss is known."""

    def __init__(self, traj: Trajectory, epoch: int, model: AttentionModel):
        self.traj = traj
        traj.add(epoch, model, float("nan"))
        traj.n -= 1  # staged: not part of the trajectory (nor of a snapshot) until its loss is known

    def commit(self, loss: float) -> None:
        if math.isfinite(loss):  # keep only the finite part of the trajectory
            self.traj.a["loss"][self.traj.n] = loss
            self.traj.n += 1


def _minibatch_epoch(step, train_c: Corpus, t_cfg, rng, d_e: int) -> float:
    """One pass over shuffled mini-batches; returns the size-weighted mean of the batch losses."""
    n = train_c.n_sentences
    B = t_cfg.batch_size
    order = rng.permutation(n)
    lengths = train_c.lengths
    total = 0.0
    for b0 in range(0, n, B):
        idx = order[b0:b0 + B]
        ln = lengths[idx]
        offsets = np.zeros(len(idx) + 1, dtype=np.int64)
        np.cumsum(ln, out=offsets[1:])
        gather = np.repeat(train_c.offsets[idx] - offsets[:-1], ln) + np.arange(offsets[-1])
        batch = Batch.build(train_c.word_ids[gather], offsets, train_c.labels[idx], train_c.vocab_size,
                            train_c.n_classes, d_e, t_cfg.dtype)
        loss = step(batch)
        if not math.isfinite(loss):
            return loss
        total += loss * len(idx)
    return total / n
