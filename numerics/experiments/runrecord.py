"""One trained run of ``attndyn reproduce`` (:class:`Run`), its convergence verdict and number format.

Shared by :mod:`attndyn.numerics.experiments.reproduce` (summaries, figures) and
:mod:`attndyn.numerics.experiments.runpool` (training, serial or on workers), so that neither
imports the other's module back.
"""
from __future__ import annotations

from dataclasses import dataclass
import math

import numpy as np

from attndyn.numerics.experiments.run_labels import run_label
from attndyn.proofs.settings import REPRODUCE


@dataclass
class Run:
    """One trained preset of an experiment."""

    label: str
    preset: str
    config: object  # RunConfig
    result: object  # TrainResult
    seconds: float  # training seconds (one pass: SST records what its figures need)
    train_corpus: object  # the training split (Corpus) the run saw
    extra: dict


def converged(result) -> dict:
    """The verdict "training converged to attending to the topic words", judged simply:
    final loss <= ``REPRODUCE.converged_loss`` and (with topic words) every topic word's mean
    attention weight >= ``REPRODUCE.converged_attention``; with reasons."""
    loss = result.final_loss
    loss_ok = result.status == "ok" and math.isfinite(loss) and loss <= REPRODUCE.converged_loss
    att = np.asarray(result.topic_attention_mean, dtype=np.float64)
    designated = len(result.topic_words) > 0 and result.config.corpus.kind == "synthetic"
    if designated:
        att_min = float(np.nanmin(att)) if np.any(np.isfinite(att)) else float("nan")
        att_ok = bool(math.isfinite(att_min) and att_min >= REPRODUCE.converged_attention)
        reason = (f"final loss {loss:.4g} {'<=' if loss_ok else 'not <='} {REPRODUCE.converged_loss}; "
                  f"smallest mean topic-word attention {att_min:.3g} "
                  f"{'>=' if att_ok else 'not >='} {REPRODUCE.converged_attention}")
    else:
        att_min, att_ok = None, None
        reason = (f"final loss {loss:.4g} {'<=' if loss_ok else 'not <='} {REPRODUCE.converged_loss}; "
                  f"attention not judged: no designated topic words")
    if result.status != "ok":
        reason = f"{result.status}: {result.message}"
    # real text: convergence to topic words is not judged (None), the fit is (final_loss_ok)
    verdict = bool(loss_ok and att_ok is not False) if designated or result.status != "ok" else None
    out = {"verdict": verdict, "final_loss_ok": bool(loss_ok),
           "attention_ok": att_ok, "min_topic_attention": att_min, "reason": reason}
    out.update(run_label(result, out))  # "label" and "explanation" (numerics/experiments/run_labels.py)
    return out


def fmt_number(x, digits: int = 4) -> str:
    if isinstance(x, str):  # a non-finite residual is written "inf"/"nan" (train.NONFINITE_NOTE)
        return x
    return "n/a" if x is None else f"{x:.{digits}g}"
