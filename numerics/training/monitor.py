r"""What a run watches besides its training loss: the dev split (early stopping, as the authors'
SST code) and every word's score and norm (what the SST figures need, recorded once, during
the run — never a second training pass).

:class:`EarlyStopping` evaluates, every ``train.record_every`` epochs, the mean cross-entropy
on the dev split :math:`L_{\mathrm{dev}} = \frac{1}{n_{\mathrm{dev}}}\sum_{i\in\mathrm{dev}}\ell_i`
and the test accuracy; it keeps a copy of the parameters with the smallest :math:`L_{\mathrm{dev}}`
seen so far, and says *stop* once ``train.early_stopping_patience`` epochs have passed
without a new minimum (the authors: patience 2000 epochs).  At the end the best-dev
parameters are restored (``train.restore_best``), so the reported test accuracy is the one
at that checkpoint.  A run that reaches ``train.epochs`` first ends there ("epoch cap") and
still restores the best-dev checkpoint; the summary says which of the two happened.

:class:`WordRecorder` stores, every ``train.word_record_every`` epochs and at the end, the score
:math:`s_w` and embedding norm :math:`|v_w|` of every word (float32: a record of the 16k-word
SST vocabulary is 128 kB), so the figures can pick the top-k words of the final model and draw
their whole trajectories from the one run.
"""
from __future__ import annotations

import math

import numpy as np

from attndyn.proofs.errors import UsageError

MAX_WORD_RECORD_GB = 2.0  # the word records' memory ceiling (they are held until the run ends)


class EarlyStopping:
    """Dev-loss monitor with patience and best-checkpoint restore (see the module docstring)."""

    def __init__(self, corpus, patience: int | None, restore: bool):
        self.dev = corpus.subset("valid")
        self.test = corpus.subset("test")
        if self.dev.n_sentences == 0:
            raise UsageError(f"train.early_stopping_patience: corpus {corpus.name!r} has an empty dev "
                             f"(valid) split; early stopping needs one")
        self.patience = patience
        self.restore_best = restore
        self.epochs: list[int] = []
        self.dev_loss: list[float] = []
        self.dev_acc: list[float] = []
        self.test_acc: list[float] = []
        self.best_epoch: int | None = None
        self.best_loss = math.inf
        self._best: dict | None = None
        self.stopped_by_patience = False

    @classmethod
    def maybe(cls, cfg, corpus) -> "EarlyStopping | None":
        """The monitor ``cfg.train`` asks for (patience set), else None."""
        t = cfg.train
        patience = getattr(t, "early_stopping_patience", None)
        if patience is None:
            return None
        return cls(corpus, patience, bool(getattr(t, "restore_best", True)))

    def _evaluate(self, model, split) -> tuple[float, float]:
        loss, _, pred = model.evaluate(split.word_ids, split.offsets, split.labels)
        return loss, float(np.mean(pred == split.labels))

    def observe(self, epoch: int, model) -> bool:
        """Evaluate the parameters after ``epoch`` epochs; True when the patience is exhausted."""
        if self.epochs and self.epochs[-1] == epoch:
            return False
        dev_loss, dev_acc = self._evaluate(model, self.dev)
        test_acc = self._evaluate(model, self.test)[1] if self.test.n_sentences else float("nan")
        self.epochs.append(epoch)
        self.dev_loss.append(dev_loss)
        self.dev_acc.append(dev_acc)
        self.test_acc.append(test_acc)
        if math.isfinite(dev_loss) and dev_loss < self.best_loss:  # strict: the earliest minimum wins
            self.best_loss, self.best_epoch = dev_loss, epoch
            self._best = snapshot(model)
        elif self.best_epoch is not None and epoch - self.best_epoch >= self.patience:
            self.stopped_by_patience = True
            return True
        return False

    def finish(self, epoch: int, model) -> None:
        """Observe the last parameters and, if asked, put the best-dev ones back into ``model``."""
        self.observe(epoch, model)
        self.last_epoch = epoch
        if self.restore_best and self._best is not None:
            restore(model, self._best)

    def arrays(self) -> dict[str, np.ndarray]:
        return {"dev_epoch": np.asarray(self.epochs, np.int64), "dev_loss": np.asarray(self.dev_loss),
                "dev_accuracy": np.asarray(self.dev_acc), "test_accuracy": np.asarray(self.test_acc)}

    def state(self) -> dict[str, np.ndarray]:
        """Everything :meth:`load_state` needs to continue after a resume (snapshot arrays)."""
        out = {f"es.{k}": v for k, v in self.arrays().items()}
        out["es.best"] = np.array([np.nan if self.best_epoch is None else self.best_epoch, self.best_loss,
                                   float(self.stopped_by_patience)])
        out.update({f"es.best.{k}": v for k, v in (self._best or {}).items()})
        return out

    def load_state(self, arrays: dict) -> None:
        """Continue from :meth:`state` (bitwise: the same lists, best loss and best parameters)."""
        self.epochs = [int(e) for e in arrays["es.dev_epoch"]]
        self.dev_loss = [float(x) for x in arrays["es.dev_loss"]]
        self.dev_acc = [float(x) for x in arrays["es.dev_accuracy"]]
        self.test_acc = [float(x) for x in arrays["es.test_accuracy"]]
        best_epoch, self.best_loss, stopped = (float(x) for x in arrays["es.best"])
        self.best_epoch = None if math.isnan(best_epoch) else int(best_epoch)
        self.stopped_by_patience = bool(stopped)
        best = {k[len("es.best."):]: v.copy() for k, v in arrays.items() if k.startswith("es.best.")}
        self._best = best or None

    def summary(self) -> dict:
        """The record for summary.json (``early_stopping``)."""
        reason = ("patience exhausted" if self.stopped_by_patience
                  else "epoch cap (train.epochs) reached before the patience ran out")
        i = self.epochs.index(self.best_epoch) if self.best_epoch is not None else None
        return {"patience": self.patience, "restore_best": self.restore_best,
                "evaluated_every": None if len(self.epochs) < 2 else int(self.epochs[1] - self.epochs[0]),
                "stopped_at_epoch": getattr(self, "last_epoch", None), "reason": reason,
                "best_epoch": self.best_epoch, "best_dev_loss": _num(self.best_loss),
                "dev_accuracy_at_best": _num(self.dev_acc[i]) if i is not None else None,
                "test_accuracy_at_best": _num(self.test_acc[i]) if i is not None else None,
                "reported_parameters": ("best-dev checkpoint (epoch %s)" % self.best_epoch
                                        if self.restore_best else "last epoch")}


def snapshot(model) -> dict:
    """Copies of every trained array of an :class:`~attndyn.numerics.model.attention.AttentionModel`
    (bitwise: the stored scores, not keys recomputed from them)."""
    out = {"embeddings": model.embeddings.copy(), "theta": model._theta.copy(), "query": model.query.copy()}
    if model.explicit_keys:
        out["keys"] = model._keys.copy()
    else:
        out["scores"] = model._scores.copy()
    return out


def restore(model, snap: dict) -> None:
    """Write a :func:`snapshot` back in place (the classifier dict holds views of ``_theta``)."""
    np.copyto(model.embeddings, snap["embeddings"])
    np.copyto(model._theta, snap["theta"])
    np.copyto(model.query, snap["query"])
    if model.explicit_keys:
        np.copyto(model._keys, snap["keys"])
    else:
        np.copyto(model._scores, snap["scores"])


class WordRecorder:
    """Every word's score and embedding norm every ``every`` epochs (float32)."""

    def __init__(self, every: int, vocab_size: int, epochs: int):
        self.every = every
        cap = epochs // every + 2
        self.epoch = np.zeros(cap, np.int64)
        self.scores = np.zeros((cap, vocab_size), np.float32)
        self.norms = np.zeros((cap, vocab_size), np.float32)
        self.n = 0

    @classmethod
    def maybe(cls, cfg, vocab_size: int) -> "WordRecorder | None":
        every = getattr(cfg.train, "word_record_every", 0)
        if not every:
            return None
        gb = 8.0 * (cfg.train.epochs // every + 2) * vocab_size / 1e9  # two float32 per word and record
        if gb > MAX_WORD_RECORD_GB:
            raise UsageError(f"train.word_record_every: {every} would record {gb:.1f} GB of word scores and "
                             f"norms (> {MAX_WORD_RECORD_GB:g} GB); record less often")
        return cls(every, vocab_size, cfg.train.epochs)

    def add(self, epoch: int, model, force: bool = False) -> None:
        if not force and epoch % self.every:
            return
        if self.n and self.epoch[self.n - 1] == epoch:
            return
        r = self.n
        self.epoch[r] = epoch
        self.scores[r] = model.scores
        self.norms[r] = np.linalg.norm(model.embeddings.astype(np.float64), axis=1)
        self.n += 1

    def arrays(self) -> dict[str, np.ndarray]:
        return {"word_epoch": self.epoch[: self.n].copy(), "word_scores": self.scores[: self.n].copy(),
                "word_norms": self.norms[: self.n].copy()}

    def state(self) -> dict[str, np.ndarray]:
        """The records so far (snapshot arrays), for :meth:`load_state` after a resume."""
        return {f"wr.{k}": v for k, v in self.arrays().items()}

    def load_state(self, arrays: dict) -> None:
        n = len(arrays["wr.word_epoch"])
        self.epoch[:n] = arrays["wr.word_epoch"]
        self.scores[:n] = arrays["wr.word_scores"]
        self.norms[:n] = arrays["wr.word_norms"]
        self.n = n


def _num(x):
    return float(x) if x is not None and math.isfinite(x) else None
