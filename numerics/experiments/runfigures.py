r"""Figures of one training run, written next to its arrays by ``attndyn simulate`` (issue 10 §1).

* ``loss.{png,pdf}`` — the mean training loss :math:`L` over epochs (log scale);
* ``attention.{png,pdf}`` — each topic word's attention over epochs,
  :math:`a_t = e^{s_t}/(e^{s_t} + m_t e^{\bar s_w})` (the reduced model's weight, with the
  non-topic words' mean score :math:`\bar s_w` recorded in the run);
* ``sen.{png,pdf}`` — the scaled norm :math:`|q||v_t|` of every topic word against its score
  :math:`s_t`, with the closed-form SEN curve
  :math:`\sqrt{|q_0|^2|v_{t,0}|^2 + 2((s_t - s_{t,0}) + (e^{s_t} - e^{s_{t,0}})/m_t)}`.

Every file is written atomically (:func:`attndyn.numerics.outputs.atomic_replace`).
"""
from __future__ import annotations

import io
from pathlib import Path

import numpy as np

from attndyn.numerics.outputs import atomic_replace
from attndyn.proofs.sen import sen_curve
from attndyn.proofs.settings import REPRODUCE

STEMS = ("loss", "attention", "sen")
MARKERS = 40  # records drawn per topic word on the SEN figure (evenly spaced in epochs)


def _pyplot():
    import matplotlib  # deferred: matplotlib is slow to import; only figures need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import; only figures need it

    return plt


def _save(fig, out: Path, stem: str) -> list[Path]:
    """``out/stem.png`` and ``out/stem.pdf``, each written atomically; closes ``fig``."""
    paths = []
    # the tight box once for both files: bbox_inches="tight" lays the whole figure out again for each format
    # (~20% of a save); the PDF's text extents agree with Agg's to well within the pad
    plt = _pyplot()
    box = fig.get_tightbbox(fig.canvas.get_renderer()).padded(plt.rcParams["savefig.pad_inches"])
    for ext in ("png", "pdf"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=REPRODUCE.png_dpi, bbox_inches=box)
        paths.append(atomic_replace(out / f"{stem}.{ext}", buf.getvalue()))
    plt.close(fig)
    return paths


def topic_attention(result) -> np.ndarray:
    """(records, T) attention of each topic word in the reduced model's form (see module doc)."""
    tr = result.trajectory
    s = np.asarray(tr["topic_scores"], dtype=np.float64)
    m = np.asarray(result.topic_m, dtype=np.float64)[None, :]
    sbar = np.asarray(tr["nontopic_score_mean"], dtype=np.float64)[:, None]
    with np.errstate(over="ignore", invalid="ignore"):
        return 1.0 / (1.0 + m * np.exp(sbar - s))


def write_run_figures(result, out: str | Path) -> list[Path]:
    """Write the three figures of ``result`` (a :class:`~attndyn.numerics.training.train.TrainResult`)
    into ``out``; return the paths (none when the run has no record or no topic word)."""
    out = Path(out)
    tr = result.trajectory
    if len(tr["epoch"]) == 0:
        return []
    plt = _pyplot()
    epochs = np.asarray(tr["epoch"])
    paths = []
    fig, ax = plt.subplots(figsize=(5, 3.2))
    loss = np.asarray(tr["loss"], dtype=np.float64)
    ax.plot(epochs, loss, color="k", lw=1.2)
    if np.all(loss[np.isfinite(loss)] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss L")
    ax.set_title(f"{result.corpus_name}: loss ({result.config.model.classifier}, lr {result.config.train.lr:g})")
    paths += _save(fig, out, "loss")
    T = len(result.topic_words)
    if T == 0:
        return paths
    names = [result.vocab[w] if result.vocab else f"w{int(w)}" for w in result.topic_words]
    fig, ax = plt.subplots(figsize=(5, 3.2))
    att = topic_attention(result)
    for t in range(T):
        ax.plot(epochs, att[:, t], lw=1, label=f"{names[t]} (y={int(result.topic_labels[t])})")
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("epoch")
    ax.set_ylabel(r"$a_t = e^{s_t}/(e^{s_t} + m_t e^{\bar s_w})$")
    ax.set_title("topic attention over epochs")
    if T <= 10:
        ax.legend(fontsize=6, ncol=2)
    paths += _save(fig, out, "attention")
    fig, ax = plt.subplots(figsize=(5, 3.2))
    s = np.asarray(tr["topic_scores"], dtype=np.float64)
    scaled = np.asarray(tr["q_norm"], dtype=np.float64)[:, None] * np.asarray(tr["topic_norms"], dtype=np.float64)
    for t in range(T):
        if not np.isfinite(result.topic_m[t]):
            continue
        pick = np.unique(np.linspace(0, len(epochs) - 1, MARKERS).astype(int))  # readable dots
        line, = ax.plot(s[pick, t], scaled[pick, t], "o", ms=2.5, mfc="none", mew=0.6)
        grid = np.linspace(np.nanmin(s[:, t]), np.nanmax(s[:, t]), 200)
        curve = sen_curve(grid, float(result.topic_m[t]), s0=float(result.initial_scores[t]),
                          qv0_sq=float(result.initial_qv[t]) ** 2)
        ax.plot(grid, curve, "-", color=line.get_color(), lw=1.0, zorder=3)
    ax.set_xlabel(r"score $s_t$")
    ax.set_ylabel(r"$|q||v_t|$")
    res = result.sen_residual_max()
    ax.set_title(r"$|q||v_t|$ (circles: records) vs the closed-form SEN curve (lines)"
                 + (f"; max residual {res:.3g}" if res is not None else ""), fontsize=8)
    paths += _save(fig, out, "sen")
    return paths
