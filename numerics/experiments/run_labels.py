r"""What ``attndyn reproduce`` says about a run: a label that means what it says.

The *converged* criterion of :func:`attndyn.numerics.experiments.reproduce.converged` (final
loss :math:`\le` ``REPRODUCE.converged_loss`` and every topic word's mean attention
:math:`\ge` ``REPRODUCE.converged_attention``) is a synthetic-data criterion:

* on real text (SST) there are no designated topic words, so there is no "converged to the
  topic words" to judge: the label reports the fit (final loss, test accuracy) and says so;
* the paper's convergence result (attention :math:`a_t\to 1`) is proved for a *fixed linear*
  classifier; a two-layer ReLU classifier (TL) is outside it, and nothing forces the topic
  words of every class to be attended.  When a TL run fits the data but one class's topic words
  keep low attention, the label names the class with its measured attention and training
  accuracy and says that this is outside the theorem, instead of a bare "no".
"""
from __future__ import annotations

import math

import numpy as np

from attndyn.proofs.settings import REPRODUCE


def _fmt(x) -> str:
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.3g}"


def low_attention_classes(result, threshold: float = REPRODUCE.converged_attention) -> dict[int, float]:
    """Class -> mean attention of its topic words, for classes whose topic words' smallest mean
    attention is below ``threshold``."""
    att = np.asarray(result.topic_attention_mean, dtype=np.float64)
    labels = np.asarray(getattr(result, "topic_labels", np.zeros(len(att))), dtype=np.int64)
    out = {}
    for y in sorted(set(labels.tolist())):
        a = att[labels == y]
        if a.size and np.any(np.isfinite(a)) and float(np.nanmin(a)) < threshold:
            out[int(y)] = float(np.nanmean(a))
    return out


def run_label(result, verdict: dict) -> dict:
    """``{"label": short text for a table or a log line, "explanation": one sentence}`` for a
    trained run and its :func:`~attndyn.numerics.experiments.reproduce.converged` verdict."""
    loss = result.final_loss
    acc = getattr(result, "accuracy", {}) or {}
    if result.status != "ok":
        return {"label": str(result.status), "explanation": f"{result.status}: {result.message}"}
    if verdict.get("attention_ok") is None:  # real text: no designated topic words
        return {"label": f"fit: loss {_fmt(loss)}, test acc. {_fmt(acc.get('test'))}",
                "explanation": ("real text has no designated topic words, so convergence to attending "
                                "to them is not judged; the fit is reported instead (final training loss "
                                f"{_fmt(loss)}, test accuracy {_fmt(acc.get('test'))})")}
    if verdict.get("verdict"):
        return {"label": "converged", "explanation": verdict.get("reason", "")}
    low = low_attention_classes(result)
    classifier = getattr(getattr(result.config, "model", None), "classifier", "")
    if verdict.get("final_loss_ok") and low and classifier == "tl":
        m = np.asarray(getattr(result, "topic_m", []), dtype=np.float64)
        labels = np.asarray(getattr(result, "topic_labels", []))
        def uniform(y):  # the weight of every word of a sentence of m + 1 words under uniform attention
            mm = m[labels == y] if m.size == labels.size and m.size else np.array([])
            return f", uniform attention 1/(m+1) = {1 / (np.nanmean(mm) + 1):.3g}" if mm.size else ""
        classes = ", ".join(f"{y} (mean topic attention {a:.3g}{uniform(y)})" for y, a in low.items())
        return {"label": f"fits; low attention on class {', '.join(str(y) for y in low)} (TL)",
                "explanation": (f"the loss reached {_fmt(loss)} (train accuracy {_fmt(acc.get('train'))}) "
                                f"while the topic words of class {classes} stay below "
                                f"{REPRODUCE.converged_attention}: the convergence theorem (attention → 1) "
                                "assumes a fixed linear classifier; the two-layer ReLU classifier (TL) is "
                                "outside it and separates this class without attending to its topic words")}
    return {"label": "not converged", "explanation": verdict.get("reason", "")}
