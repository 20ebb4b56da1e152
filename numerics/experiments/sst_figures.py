r"""The SST figures of the paper, drawn from one training run per preset (issue 11).

Every SST preset records each word's score :math:`s_w` and norm :math:`|v_w|` every few epochs
(``train.word_record_every``) and the dev loss / test accuracy every ``train.record_every``
epochs (early stopping, :mod:`attndyn.numerics.training.monitor`), so nothing is trained twice:

* :func:`top_word_records` — the words of the figures: the ``REPRODUCE.sst_sen_top_k`` words with the
  largest score in the reported model (the best-dev checkpoint) among the words in at least
  ``REPRODUCE.sst_min_sentences`` training sentences (``$PAD$`` left out and shown on its own);
  the top-20 table; the named words' final scores; how far the top words sit from the SEN
  closed form (:math:`|q||v_w|` / curve − 1 at the checkpoint).
* ``sst_sen`` — :math:`|q||v_w|` against :math:`s_w` for the top-k words (their recorded paths, faint,
  and their checkpoint, dots) with the closed form :math:`\sqrt{2(s + (e^s - 1)/m)}` at
  m = mean training sentence length − 1 (the paper's rule); on a padded run also the PAD
  prediction of :mod:`attndyn.proofs.padding` for each word (crosses).
* ``sst_named_scores`` — the score trajectories of the authors' example words.
* ``sst_dev`` — dev loss and test accuracy over the epochs with the best-dev (stopping) point.
* ``sst_top20.md`` — the top-20 words of each run, a Markdown table.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from attndyn.numerics.data.padding import PAD
from attndyn.proofs.padding import pad_sen_prediction
from attndyn.proofs.sen import sen_curve
from attndyn.proofs.settings import REPRODUCE


def _sentences_and_lengths(train_c):
    """Per word: training sentences containing it, and the mean real length − 1 of those."""
    V = train_c.vocab_size
    sent = np.repeat(np.arange(train_c.n_sentences), train_c.lengths)
    pairs = np.unique(np.stack([train_c.word_ids, sent]), axis=1)
    counts = np.bincount(pairs[0], minlength=V)
    return counts, sent, pairs


def _real_lengths(train_c, pad_id):
    """Each training sentence's number of real (non-PAD) tokens."""
    sent = np.repeat(np.arange(train_c.n_sentences), train_c.lengths)
    is_real = train_c.word_ids != pad_id if pad_id is not None else np.ones(len(train_c.word_ids), bool)
    return np.bincount(sent, weights=is_real, minlength=train_c.n_sentences)


def top_word_records(result, train_c) -> dict:
    """The JSON-ready record of the figures' words (see the module docstring)."""
    vocab = result.vocab
    pad_id = (len(vocab) - 1) if vocab and vocab[-1] == PAD else None
    counts, _, pairs = _sentences_and_lengths(train_c)
    scores = np.asarray(result.model.scores, np.float64)
    norms = np.linalg.norm(result.model.embeddings.astype(np.float64), axis=1)
    q_norm = float(np.linalg.norm(result.model.query.astype(np.float64)))
    cand = np.flatnonzero(counts >= REPRODUCE.sst_min_sentences)
    if pad_id is not None:
        cand = cand[cand != pad_id]
    order = cand[np.lexsort((cand, -scores[cand]))]
    top = order[:REPRODUCE.sst_sen_top_k]
    real = _real_lengths(train_c, pad_id)
    m = float(np.mean(train_c.lengths) - 1)  # the paper's rule: mean (as trained) length - 1
    m_real = float(np.mean(real) - 1)
    curve = np.asarray(sen_curve(scores[top], m))
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = q_norm * norms[top] / curve - 1.0
    labels = train_c.labels[np.repeat(np.arange(train_c.n_sentences), train_c.lengths)]

    def row(rank, w):
        lab = np.bincount(labels[train_c.word_ids == w], minlength=train_c.n_classes)
        return {"rank": rank, "word": int(w), "text": vocab[w] if vocab else str(w),
                "score": float(scores[w]), "norm": float(norms[w]), "scaled_norm": q_norm * float(norms[w]),
                "sentences": int(counts[w]), "majority_label": int(np.argmax(lab)),
                "purity": float(lab.max() / max(lab.sum(), 1))}

    index = {t: i for i, t in enumerate(vocab)} if vocab else {}
    named = {}
    for text in REPRODUCE.sst_named_words:
        w = index.get(text)
        named[text] = None if w is None else {"word": int(w), "score": float(scores[w]),
                                               "rank": int(np.sum(scores[cand] > scores[w])) + 1}
    fin = ratio[np.isfinite(ratio)]
    out = {
        "trained_once": True,
        "top_words_rule": (f"the {len(top)} words with the largest score in the reported model, among "
                           f"words in >= {REPRODUCE.sst_min_sentences} training sentences"
                           + (f" ({PAD} left out)" if pad_id is not None else "")),
        "top_word_ids": [int(w) for w in top],
        "top_words": [row(i + 1, w) for i, w in enumerate(top[:REPRODUCE.sst_table_words])],
        "m_mean_length_minus_one": m,
        "m_real_mean_length_minus_one": m_real,
        "sen_relative_gap_top_k": {"rule": "|q||v_w| / sqrt(2(s + (e^s - 1)/m)) - 1 at the reported "
                                           "model, m = mean length - 1",
                                   "median": float(np.median(fin)) if len(fin) else None,
                                   "min": float(fin.min()) if len(fin) else None,
                                   "max": float(fin.max()) if len(fin) else None},
        "named_words": named,
    }
    if pad_id is not None:
        out["pad"] = {"word": pad_id, "score": float(scores[pad_id]), "norm": float(norms[pad_id]),
                      "pad_to": int(train_c.lengths.max())}
        tr = result.trajectory
        if "word_scores" in tr:
            out["pad"]["score_path"] = {"epoch": [int(e) for e in tr["word_epoch"]],
                                        "score": [float(x) for x in tr["word_scores"][:, pad_id]]}
            pred = np.array([pad_prediction(tr, train_c, pad_id, out["pad"]["pad_to"], int(w))[-1] for w in top])
            y = q_norm * norms[top]
            real_curve = np.asarray(sen_curve(scores[top], m_real))
            with np.errstate(invalid="ignore", divide="ignore"):
                gaps = {"run_over_pad_prediction": y / pred - 1, "run_over_curve_real_m": y / real_curve - 1,
                        "pad_prediction_over_curve_real_m": pred / real_curve - 1}
            out["pad"]["relative_gaps_top_k"] = {
                k: {"median": float(np.nanmedian(v)), "min": float(np.nanmin(v)), "max": float(np.nanmax(v))}
                for k, v in gaps.items()}
    return out


# --------------------------------------------------------------------------- figures

def _panels(plt, n):
    ncol = 2 if n > 1 else 1
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.4 * ncol, 4.7 * nrow), squeeze=False)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    return fig, axes


def pad_prediction(tr, tc, pad_id: int, L: int, w: int) -> np.ndarray:
    """The PAD prediction of word ``w``'s |q||v| along its recorded path (``proofs/padding``):
    r = mean real length − 1 of its training sentences, k_P = L − 1 − r, p(τ) = PAD's recorded score."""
    has = np.zeros(tc.n_sentences, bool)
    sent = np.repeat(np.arange(tc.n_sentences), tc.lengths)
    has[sent[tc.word_ids == w]] = True
    r = float(np.mean(_real_lengths(tc, pad_id)[has]) - 1)
    s = tr["word_scores"][:, w].astype(np.float64)
    p = tr["word_scores"][:, pad_id].astype(np.float64)
    y0 = float(tr["q_norm"][0]) * float(tr["word_norms"][0, w])
    return pad_sen_prediction(s, p, r, float(L - 1 - r), qv0_sq=y0 ** 2)


def _pad_prediction(run, w, tr):
    """:func:`pad_prediction` for a run (None unpadded)."""
    pad = run.extra.get("pad")
    if pad is None:
        return None
    return pad_prediction(tr, run.train_corpus, pad["word"], pad["pad_to"], w)


def draw_sen(runs, out: Path, save, plt) -> list[str]:
    fig, axes = _panels(plt, len(runs))
    for ax, run in zip(axes.flat, runs):
        res, tr = run.result, run.result.trajectory
        if res.status != "ok" or "word_scores" not in tr or "top_word_ids" not in run.extra:
            ax.set_title(f"{run.label}: no word records ({res.status})", fontsize=10)
            continue
        top = np.asarray(run.extra["top_word_ids"], dtype=np.int64)
        q = float(tr["q_norm"][-1])
        S, Y = tr["word_scores"][:, top].astype(np.float64), q * tr["word_norms"][:, top].astype(np.float64)
        scores = np.asarray(res.model.scores, np.float64)[top]
        ys = q * np.linalg.norm(res.model.embeddings[top].astype(np.float64), axis=1)
        for j in range(len(top)):
            ax.plot(S[:, j], Y[:, j], color="tab:blue", alpha=0.12, lw=0.7)
        ax.scatter(scores, ys, s=12, color="tab:blue", zorder=3,
                   label=f"top {len(top)} words at the reported model")
        m = run.extra["m_mean_length_minus_one"]
        lo, hi = min(0.0, float(S.min())), max(float(S.max()), float(scores.max()))
        grid = np.linspace(lo, hi, REPRODUCE.curve_points)
        ax.plot(grid, sen_curve(grid, m), color="black", lw=1.2, label=rf"$\sqrt{{2(s + (e^s-1)/m)}}$, m = {m:.2f}")
        if "pad" in run.extra:
            m_real = run.extra["m_real_mean_length_minus_one"]
            ax.plot(grid, sen_curve(grid, m_real), color="0.4", ls="--", lw=1.0,
                    label=f"same, m = {m_real:.2f} (real words only)")
            pred = [(_pad_prediction(run, int(w), tr)) for w in top]
            ax.scatter(scores, [p[-1] for p in pred], marker="x", s=14, color="tab:red", zorder=4,
                       label=r"PAD prediction ($m \to r + k_P e^{p(\tau)}$)")
        gap = run.extra["sen_relative_gap_top_k"]
        ax.set_title(f"{run.label}: median |q||v|/curve - 1 = {gap['median']:+.2f} "
                     f"(range {gap['min']:+.2f} to {gap['max']:+.2f})", fontsize=9)
        ax.set_xlabel(r"score $s_w$")
        ax.set_ylabel(r"$|q|\,|v_w|$")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="upper left")
    fig.suptitle(f"SEN on SST: the {REPRODUCE.sst_sen_top_k} words with the largest score at the reported "
                 f"(best-dev) model,\nwords in >= {REPRODUCE.sst_min_sentences} training sentences; "
                 "curve at m = mean length - 1", fontsize=10)
    fig.tight_layout()
    return save(fig, out, "sst_sen")


def draw_named(runs, out: Path, save, plt) -> list[str]:
    fig, axes = _panels(plt, len(runs))
    colours = plt.get_cmap("tab10").colors
    for ax, run in zip(axes.flat, runs):
        tr = run.result.trajectory
        if "word_scores" not in tr:
            continue
        vocab = run.result.vocab or ()
        index = {t: i for i, t in enumerate(vocab)}
        for c, text in enumerate(REPRODUCE.sst_named_words):
            if text in index:
                ax.plot(tr["word_epoch"], tr["word_scores"][:, index[text]], color=colours[c], label=text)
        best = run.result.extra.get("early_stopping", {}).get("best_epoch")
        if best is not None:
            ax.axvline(best, color="0.3", ls=":", lw=1.0, label=f"best dev (epoch {best})")
        ax.set_xlabel("epoch")
        ax.set_ylabel(r"score $s_w$")
        ax.set_title(run.label, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.suptitle("Scores of the authors' example words over training", fontsize=10)
    fig.tight_layout()
    return save(fig, out, "sst_named_scores")


def draw_dev(runs, out: Path, save, plt) -> list[str]:
    fig, axes = _panels(plt, len(runs))
    for ax, run in zip(axes.flat, runs):
        tr = run.result.trajectory
        if "dev_loss" not in tr:
            continue
        es = run.result.extra.get("early_stopping", {})
        ax.plot(tr["dev_epoch"], tr["dev_loss"], color="tab:red", label="dev loss")
        ax.plot(tr["epoch"], tr["loss"], color="tab:red", ls="--", lw=0.8, label="training loss")
        ax.set_xlabel("epoch")
        ax.set_ylabel("loss", color="tab:red")
        ax2 = ax.twinx()
        ax2.plot(tr["dev_epoch"], tr["test_accuracy"], color="tab:blue", label="test accuracy")
        ax2.set_ylabel("test accuracy", color="tab:blue")
        best = es.get("best_epoch")
        if best is not None:
            ax.axvline(best, color="0.2", ls=":", lw=1.2)
            ax2.scatter([best], [es.get("test_accuracy_at_best")], color="tab:blue", zorder=4)
        acc = es.get("test_accuracy_at_best")
        ax.set_title(f"{run.label}: best dev loss at epoch {best}, test acc. "
                     + ("n/a" if acc is None else f"{acc:.3f}") + f"\n({es.get('reason', '')})", fontsize=8)
        ax.grid(alpha=0.3)
        h1, l1 = ax.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax.legend(h1 + h2, l1 + l2, fontsize=7, loc="center right")
    fig.suptitle("Early stopping on the dev loss: the dotted line is the reported (best-dev) checkpoint",
                 fontsize=10)
    fig.tight_layout()
    return save(fig, out, "sst_dev")


def write_table(runs, out: Path) -> list[str]:
    lines = [f"# Top {REPRODUCE.sst_table_words} words by score at the reported model", ""]
    for run in runs:
        rows = run.extra.get("top_words", [])
        lines += [f"## {run.label} (`{run.preset}`)", "",
                  "| rank | word | score | \\|q\\|\\|v\\| | sentences | majority label | purity |",
                  "|---|---|---|---|---|---|---|"]
        lines += [f"| {r['rank']} | {r['text']} | {r['score']:.3f} | {r['scaled_norm']:.3f} | {r['sentences']} | "
                  f"{r['majority_label']} | {r['purity']:.2f} |" for r in rows]
        lines.append("")
    path = out / "sst_top20.md"
    from attndyn.numerics.outputs import atomic_replace  # deferred: only the table writes text

    atomic_replace(path, "\n".join(lines).encode())
    return [path.name]


def draw(runs, out: Path, save, plt) -> list[str]:
    """Every SST figure and the table; returns the file names."""
    return (draw_sen(runs, out, save, plt) + draw_named(runs, out, save, plt) + draw_dev(runs, out, save, plt)
            + write_table(runs, out))
