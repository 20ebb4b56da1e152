r"""``attndyn reproduce``: the paper's §5 experiments, trained and drawn as figures.

Three experiments, each a list of presets (:mod:`attndyn.numerics.config.presets`) trained with
:func:`attndyn.numerics.training.train.train`:

* ``synthetic`` — ``paper-fc``, ``paper-tc``, ``paper-tl`` on one shared synthetic
  corpus.  Figures: the SEN curves (empirical :math:`|q||v_t|` against :math:`s_t`, with
  the closed form :math:`|q||v_t| = \sqrt{|q|^2|v_{t,0}|^2 + 2((s_t - s_{t,0}) + (e^{s_t} -
  e^{s_{t,0}})/m_t)}` of :func:`attndyn.proofs.sen.sen_curve`) per topic word and classifier,
  the loss curves, and the final score and norm distributions of topic vs non-topic words.
* ``ablation`` — ``ablation-{fc,tc}-{both,kf,ef}`` (embeddings initialised with std 0.1;
  KF freezes the keys, EF the embeddings).  Figure: loss, topic-word score and
  topic-word norm against the epoch.
* ``sst`` — ``sst2-{fc,tc}``, ``sst5-{fc,tc}`` (the authors' settings, early stopping on the dev
  loss).  Real text has no designated topic words: each run is trained **once**, recording every
  word's score and norm every few epochs, and the figures read the top-k words of the
  reported (best-dev) model from those records (:mod:`attndyn.numerics.experiments.sst_figures`):
  |q||v| against s with the closed form at m = mean length - 1, the named words' score
  trajectories, dev loss and test accuracy with the stopping point, the top-20 table, and
  final score against topic purity (:func:`attndyn.numerics.data.corpus.topic_purity`).

Output (``DIR``, default ``reports/out/reproduce/EXPERIMENT``): every figure as PNG
and PDF, ``summary.json`` (per run: the command and config, final loss, test
accuracy, per topic word final score/norm, ``sen_residual_max``, a convergence
verdict, training seconds) and ``runs/PRESET/`` with each run's own
``summary.json``, ``trajectory.npz`` and ``final_words.npz`` (every word's final
score and norm).

``workers`` (CLI ``--workers N``, default one per core): the runs train on worker processes, longest
expected first, and the same processes then draw the figures (:data:`PARTS`) side by side
(:mod:`attndyn.numerics.experiments.runpool`); every run's result is the same bits for any N.

A run *converged* (to attending to its topic words) when its final training loss
is at most ``REPRODUCE.converged_loss`` and every topic word's mean attention
weight over its training sentences is at least ``REPRODUCE.converged_attention``;
without designated topic words (SST) only the loss is judged.

:func:`reproduction_section` turns a reproduction directory into a section of the
LaTeX report; :func:`report_sections` collects those of ``--reproduced DIR`` or,
by default, every ``REPORT_DIR/reproduce/EXPERIMENT/summary.json`` beside the report
being written (``attndyn verify`` writes to ``reports/out``, where ``attndyn
reproduce`` writes by default; ``attndyn report --out R`` looks in ``R/reproduce``).

Size: over 500 lines because training the runs and drawing the paper's figures from them share
the run records; the report section is :mod:`attndyn.reports.sections.reproduction`.
"""
from __future__ import annotations

import datetime
import math
from pathlib import Path
import shlex
import time
from typing import Callable, Sequence

import numpy as np

from attndyn.numerics.experiments.runrecord import Run, converged, fmt_number  # noqa: F401 - this module's API too
from attndyn.numerics.experiments import runfigures
from attndyn.numerics.experiments.runfigures import _pyplot  # one Agg pyplot loader and one writer for every figure
from attndyn.numerics.outputs import DEFAULT_REPORT_DIR
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import REPRODUCE

DEFAULT_DIR = DEFAULT_REPORT_DIR / "reproduce"  # beside the default report (relative to the current directory)
SUMMARY = "summary.json"
VERSION = 1

# experiment -> ((label, preset), ...); the label names the run in figures and tables
EXPERIMENTS: dict[str, tuple[tuple[str, str], ...]] = {
    "synthetic": (("FC", "paper-fc"), ("TC", "paper-tc"), ("TL", "paper-tl")),
    "ablation": tuple((f"{c.upper()} {v if v == 'both' else v.upper()}", f"ablation-{c}-{v}")
                      for c in ("fc", "tc") for v in ("both", "kf", "ef")),
    "sst": tuple((f"{w.upper()} {c.upper()}", f"{w}-{c}") for w in ("sst2", "sst5") for c in ("fc", "tc")),
    "sst-pad": (("SST2 FC, padded to 52", "sst2-fc-pad"),),  # the authors' padding (issue 11)
}
TITLES = {
    "synthetic": "synthetic corpus, classifiers FC / TC / TL",
    "ablation": "ablation: keys and embeddings both trained / keys frozen (KF) / embeddings frozen (EF)",
    "sst": "SST-2 and SST-5, classifiers FC / TC",
    "sst-pad": "SST-2 FC with the authors' padding: every sentence padded to 52 tokens with a trainable PAD word",
}


def default_out(experiment: str) -> Path:
    return DEFAULT_DIR / experiment


# --------------------------------------------------------------------------- training

def plan(experiment: str, overrides: Sequence[str] = ()) -> list[tuple[str, str, object]]:
    """``(label, preset, RunConfig)`` of every run, all validated before anything trains."""
    from attndyn.numerics.config.load import (load_config)  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    if experiment not in EXPERIMENTS:
        raise UsageError(f"experiment {experiment!r}: expected one of {', '.join(EXPERIMENTS)}")
    return [(label, preset, load_config(preset=preset, overrides=list(overrides)))
            for label, preset in EXPERIMENTS[experiment]]


def train_runs(experiment: str, overrides: Sequence[str] = (), *, progress: bool = True,
               log: Callable[[str], None] = print, on_run: Callable[[Run], None] | None = None,
               workers: int | None = 1) -> list[Run]:
    """Train every run of ``experiment`` (``overrides`` are ``--set`` items applied to each);
    ``on_run`` is called with each run as soon as it is trained (to save it).  ``workers``: 1
    trains the runs one after another in this process; more (None: one per core, at most one per
    run) trains them on worker processes (:mod:`attndyn.numerics.experiments.runpool`), with
    bitwise the same results.  The runs are returned in the experiment's order either way."""
    planned = plan(experiment, overrides)
    from attndyn.numerics.experiments import runpool  # deferred: the CLI parser reads this module

    n_workers = runpool.resolve_workers(workers, len(planned))
    if n_workers > 1:
        return runpool.train_parallel(planned, overrides, n_workers, log=log, on_run=on_run)
    return runpool.train_serial(planned, progress=progress, log=log, on_run=on_run)


# --------------------------------------------------------------------------- summary

def _command(experiment: str, out: Path, overrides: Sequence[str]) -> str:
    parts = ["attndyn", "reproduce", experiment, "--out", str(out)]
    for o in overrides:
        parts += ["--set", o]
    return shlex.join(parts)


def run_summary(run: Run, out: Path, overrides: Sequence[str]) -> dict:
    s = run.result.summary()
    cmd = ["attndyn", "simulate", "--preset", run.preset, "--out", str(out / "runs" / run.preset)]
    for o in overrides:
        cmd += ["--set", o]
    return {
        "label": run.label,
        "preset": run.preset,
        "command": shlex.join(cmd),
        "config": s["config"],
        "status": s["status"],
        "message": s["message"],
        "epochs": s["epochs"],
        "training_seconds": round(run.seconds, 4),
        "threads": s["threads"],
        "final_loss": s["final_loss"],
        "test_accuracy": s["test_accuracy"],
        "q_norm": s["q_norm"],
        "sen_residual_max": s["sen_residual_max"],
        "converged": converged(run.result),
        **({"early_stopping": s["early_stopping"]} if "early_stopping" in s else {}),
        "topic_words": [{k: w[k] for k in ("word", "text", "label", "score", "norm", "scaled_norm", "m",
                                           "attention_mean", "sen_residual_max")}
                        for w in s["topic_words"]],
        **run.extra,
    }


def _save_run(run: Run, out: Path) -> None:
    """``out/runs/PRESET/``: the run's summary.json and trajectory.npz, and final_words.npz
    (every word's final score and embedding norm)."""
    run_dir = out / "runs" / run.preset
    run.result.save(run_dir)
    np.savez(run_dir / "final_words.npz", scores=np.asarray(run.result.model.scores, np.float64),
             norms=np.linalg.norm(run.result.model.embeddings.astype(np.float64), axis=1))


def reproduce(experiment: str, out_dir=None, overrides: Sequence[str] = (), *, progress: bool = True,
              log: Callable[[str], None] = print, workers: int | None = 1) -> dict:
    """Train ``experiment``, draw its figures into ``out_dir`` and write ``out_dir/summary.json``;
    returns that summary.  ``workers``: processes training the runs (see :func:`train_runs`)."""
    from attndyn.numerics.outputs import (writable_dir, write_json)  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    if experiment not in EXPERIMENTS:
        raise UsageError(f"experiment {experiment!r}: expected one of {', '.join(EXPERIMENTS)}")
    out = writable_dir(default_out(experiment) if out_dir is None else out_dir, "--out")
    planned = plan(experiment, overrides)  # every config error before any training
    from attndyn.numerics.experiments.runpool import resolve_workers  # deferred: the CLI parser reads this module

    n_workers = resolve_workers(workers, len(planned))
    t0 = time.perf_counter()
    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    save = lambda run: _save_run(run, out)  # noqa: E731 - each run saved as soon as it is trained
    if n_workers == 1:
        from attndyn.numerics.experiments.runpool import train_serial  # deferred: the CLI parser reads this module

        runs = train_serial(planned, progress=progress, log=log, on_run=save)
        log(f"drawing the figures into {out}")
        t_fig = time.perf_counter()
        figures = draw(experiment, runs, out)
    else:  # the same worker processes train the runs, then draw the figures side by side
        from attndyn.numerics.experiments.runpool import RunPool, warm_figures  # deferred: the CLI parser reads this module

        with RunPool(n_workers) as pool:
            runs = pool.train(planned, overrides, log=log, on_run=save, warm=warm_figures)
            log(f"drawing the figures into {out} on {n_workers} worker processes")
            t_fig = time.perf_counter()
            figures = pool.draw(PARTS[experiment], runs, out)
    fig_seconds = time.perf_counter() - t_fig
    training = sum(r.seconds for r in runs)
    summary = {
        "version": VERSION,
        "experiment": experiment,
        "title": TITLES[experiment],
        "command": _command(experiment, out, overrides),
        "out_dir": str(out),
        "overrides": list(overrides),
        "started": started,
        "workers": n_workers,  # processes that trained the runs (1: one after another, in-process)
        "training_seconds": round(training, 4),  # the runs' own training seconds, summed
        "figure_seconds": round(fig_seconds, 4),
        "total_seconds": round(time.perf_counter() - t0, 4),
        "converged_criteria": {"final_loss_max": REPRODUCE.converged_loss,
                               "topic_attention_min": REPRODUCE.converged_attention},
        "figures": figures,
        "runs": [run_summary(r, out, overrides) for r in runs],
    }
    write_json(out / SUMMARY, summary, "--out")
    return summary


# --------------------------------------------------------------------------- figures

def _save(fig, out: Path, stem: str) -> list[str]:
    """``stem.png`` and ``stem.pdf`` in ``out`` (runfigures' writer: atomic, one layout); their names."""
    return [p.name for p in runfigures._save(fig, out, stem)]


def _spread_records(x: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    """About ``k`` record indices evenly spaced along the path (x, y) (each axis scaled to its
    range), first and last included: a plotted trajectory shows its whole course, not only
    the many late records where it barely moves."""
    n = len(x)
    if n <= k:
        return np.arange(n)
    def unit(a):
        span = float(np.ptp(a))
        return a / span if span > 0 else np.zeros_like(a)
    step = np.hypot(np.diff(unit(x)), np.diff(unit(y)))
    arc = np.concatenate([[0.0], np.cumsum(step)])
    if arc[-1] == 0:
        return np.array([0, n - 1])
    idx = np.searchsorted(arc, np.linspace(0.0, arc[-1], k))
    return np.unique(np.clip(np.concatenate([[0], idx, [n - 1]]), 0, n - 1))


def _word_name(result, t: int) -> str:
    w = int(result.topic_words[t])
    text = result.vocab[w] if result.vocab else f"word {w}"
    return f"{text} (class {int(result.topic_labels[t])})"


def _sen_panel(ax, result, title: str, colours, show_m: bool = False) -> list:
    """Empirical (s_t, |q||v_t|) points per topic word and each word's closed-form curve."""
    from attndyn.proofs.sen import (sen_curve)  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    tr = result.trajectory
    R, T = len(tr["epoch"]), len(result.topic_words)
    handles = []
    for t in range(T):
        s = tr["topic_scores"][:, t]
        y = tr["q_norm"] * tr["topic_norms"][:, t]
        col = colours[t % len(colours)]
        name = _word_name(result, t) + (f", m = {result.topic_m[t]:.1f}" if show_m else "")
        idx = _spread_records(s, y, REPRODUCE.sen_points) if R else np.arange(0)
        h = ax.scatter(s[idx], y[idx], s=22, facecolors="none", edgecolors=[col], linewidths=0.9,
                       label=name, zorder=2)
        handles.append(h)
        m = float(result.topic_m[t])
        if math.isfinite(m) and np.all(np.isfinite(s)):
            grid = np.linspace(min(s.min(), result.initial_scores[t]), s.max(), REPRODUCE.curve_points)
            curve = sen_curve(grid, m, s0=float(result.initial_scores[t]),
                              qv0_sq=float(result.initial_qv[t]) ** 2, lr_ratio=1.0)
            ax.plot(grid, curve, color="black" if not show_m else col, lw=1.0,
                    ls="--" if not show_m else "-", zorder=3)
    res = result.sen_residual_max()
    ax.set_title(f"{title}: max |residual| {fmt_number(res, 2)}", fontsize=10)
    ax.set_xlabel(r"score $s_t = q\cdot k_t$")
    ax.set_ylabel(r"scaled norm $|q|\,|v_t|$")
    ax.grid(alpha=0.3)
    return handles


def _theory_handle(colour="black", ls="--"):
    from matplotlib.lines import (Line2D)  # deferred: matplotlib is slow to import; only figures need it

    return Line2D([], [], color=colour, ls=ls, lw=1.0,
                  label=r"closed form $\sqrt{|q|^2|v_0|^2 + 2((s-s_0) + (e^{s}-e^{s_0})/m)}$")


def _synthetic_sen(runs: list[Run], out: Path) -> list[str]:
    """SEN curves, one panel per classifier."""
    plt = _pyplot()
    colours = plt.get_cmap("tab10").colors
    fig, axes = plt.subplots(1, len(runs), figsize=(4.6 * len(runs), 4.2), squeeze=False)
    handles = []
    for ax, run in zip(axes[0], runs):
        handles = _sen_panel(ax, run.result, run.label, colours)
    fig.suptitle("SEN identity, synthetic corpus: empirical points (every topic word) on the closed form")
    fig.legend(handles + [_theory_handle()], [h.get_label() for h in handles] + [_theory_handle().get_label()],
               loc="lower center", ncol=min(5, len(handles) + 1), fontsize=8, bbox_to_anchor=(0.5, -0.1))
    fig.tight_layout()
    return _save(fig, out, "synthetic_sen")


def _synthetic_loss(runs: list[Run], out: Path) -> list[str]:
    """The loss curves of every classifier."""
    plt = _pyplot()
    colours = plt.get_cmap("tab10").colors
    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    for k, run in enumerate(runs):
        tr = run.result.trajectory
        ax.plot(tr["epoch"], tr["loss"], color=colours[k], label=run.label)
    losses = np.concatenate([r.result.trajectory["loss"] for r in runs])
    losses = losses[np.isfinite(losses) & (losses > 0)]
    if len(losses) and losses.max() > 10 * losses.min():
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel("training loss (mean cross-entropy)")
    ax.set_title("Training loss, synthetic corpus")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    fig.tight_layout()
    return _save(fig, out, "synthetic_loss")


def _synthetic_distributions(runs: list[Run], out: Path) -> list[str]:
    return _distributions(runs, out, "synthetic_distributions")


def _distributions(runs: list[Run], out: Path, stem: str) -> list[str]:
    """Final score and norm histograms of topic vs non-topic words (log counts)."""
    plt = _pyplot()
    fig, axes = plt.subplots(2, len(runs), figsize=(4.4 * len(runs), 6.6), squeeze=False)
    for col, run in enumerate(runs):
        res = run.result
        is_topic = np.zeros(res.model.vocab_size, dtype=bool)
        is_topic[res.topic_words] = True
        seen = np.bincount(run.train_corpus.word_ids, minlength=res.model.vocab_size) > 0
        values = {"final score $s_w$": np.asarray(res.model.scores, np.float64),
                  "final norm $|v_w|$": np.linalg.norm(res.model.embeddings.astype(np.float64), axis=1)}
        for row, (what, v) in enumerate(values.items()):
            ax = axes[row, col]
            lo, hi = float(np.min(v[seen])), float(np.max(v[seen]))
            bins = np.linspace(lo, hi if hi > lo else lo + 1.0, 60)
            other, topic = v[seen & ~is_topic], v[is_topic]
            # one filled outline per histogram, not 59 bar patches: the same picture; a 2 x 3 grid of them
            # built and saved (PNG + PDF) in 1.5 s instead of 2.2 s CPU (measured 2026-12-02)
            ax.hist(other, bins=bins, color="0.55", label="non-topic words", log=True, histtype="stepfilled")
            ax.hist(topic, bins=bins, color="tab:red", label="topic words", log=True, alpha=0.9,
                    histtype="stepfilled")
            ax.set_ylim(bottom=0.5)  # a single word (count 1) stays visible on the log axis
            stats = []
            if len(other):
                stats.append(f"non-topic: {other.min():.3g} to {other.max():.3g}")
            if len(topic):
                stats.append(f"topic: {topic.min():.3g} to {topic.max():.3g}")
            ax.text(0.97, 0.97, "\n".join(stats), transform=ax.transAxes, ha="right", va="top", fontsize=8,
                    bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "0.8"})
            ax.set_xlabel(what)
            ax.set_ylabel("number of words (log)")
            ax.set_title(f"{run.label}: {what.split(' $')[0]}", fontsize=10)
            ax.grid(alpha=0.3)
            if row == 0 and col == 0:
                ax.legend(fontsize=8, loc="center right")
    fig.suptitle("Final scores and embedding norms: topic words vs non-topic words")
    fig.tight_layout()
    return _save(fig, out, stem)


def draw_ablation(runs: list[Run], out: Path) -> list[str]:
    plt = _pyplot()
    colours = {"both": "tab:blue", "kf": "tab:orange", "ef": "tab:green"}
    groups: dict[str, list[Run]] = {}
    for run in runs:
        groups.setdefault(run.preset.split("-")[1], []).append(run)
    fig, axes = plt.subplots(len(groups), 3, figsize=(13.5, 3.9 * len(groups)), squeeze=False)
    for row, (clf, group) in enumerate(groups.items()):
        for run in group:
            variant = run.preset.split("-")[2]
            tr = run.result.trajectory
            ep = tr["epoch"]
            name = {"both": "keys + embeddings", "kf": "KF (keys frozen)", "ef": "EF (embeddings frozen)"}[variant]
            col = colours[variant]
            axes[row, 0].plot(ep, tr["loss"], color=col, label=name)
            for k, key in ((1, "topic_scores"), (2, "topic_norms")):
                vals = tr[key]
                axes[row, k].plot(ep, vals.mean(axis=1), color=col, label=name)
                axes[row, k].fill_between(ep, vals.min(axis=1), vals.max(axis=1), color=col, alpha=0.2, lw=0)
                nt = "nontopic_score_mean" if key == "topic_scores" else "nontopic_norm_mean"
                axes[row, k].plot(ep, tr[nt], color=col, ls=":", lw=1.0)
        axes[row, 0].set_yscale("log")
        for k, (ylabel, title) in enumerate((("training loss", "loss"),
                                             (r"score $s_t$", "topic-word score"),
                                             (r"norm $|v_t|$", "topic-word embedding norm"))):
            ax = axes[row, k]
            ax.set_xlabel("epoch")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{clf.upper()}: {title}", fontsize=10)
            ax.grid(alpha=0.3, which="both")
        axes[row, 0].legend(fontsize=8)
    from matplotlib.lines import (Line2D)  # deferred: matplotlib is slow to import; only figures need it

    fig.legend([Line2D([], [], color="0.3"), Line2D([], [], color="0.3", ls=":")],
               ["topic words: mean (band: min to max)", "non-topic words: mean"],
               loc="lower center", ncol=2, fontsize=9, bbox_to_anchor=(0.5, -0.03))
    fig.suptitle("Ablation (embeddings initialised with std 0.1)")
    fig.tight_layout()
    return _save(fig, out, "ablation_curves")


def _sst_records(runs: list[Run], out: Path) -> list[str]:
    """The figures read from every word's records (numerics/experiments/sst_figures.py)."""
    from attndyn.numerics.experiments import sst_figures  # deferred: matplotlib figures, SST only

    return sst_figures.draw(runs, out, _save, _pyplot())


def _sst_purity(runs: list[Run], out: Path) -> list[str]:
    """Final score against topic purity, one panel per run."""
    from attndyn.numerics.data.corpus import (sentence_counts, topic_purity)  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    plt = _pyplot()
    n = len(runs)
    ncol = 2 if n > 1 else 1
    nrow = (n + ncol - 1) // ncol
    fig, axes = plt.subplots(nrow, ncol, figsize=(6.2 * ncol, 4.6 * nrow), squeeze=False)
    for k, run in enumerate(runs):
        ax = axes.flat[k]
        tc = run.train_corpus
        counts = sentence_counts(tc)
        keep = counts >= REPRODUCE.sst_min_sentences
        purity = topic_purity(tc)
        scores = np.asarray(run.result.model.scores, np.float64)
        sc = ax.scatter(purity[keep], scores[keep], c=np.log10(counts[keep]), s=8, cmap="viridis",
                        alpha=0.8, edgecolors="none")
        for w in run.extra.get("top_word_ids", run.result.topic_words)[:10]:
            ax.annotate(tc.vocab[w] if tc.vocab else str(w), (purity[w], scores[w]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
        cb = fig.colorbar(sc, ax=ax)
        cb.set_label("log10 (sentences containing the word)")
        ax.set_xlabel("topic purity (share of the majority label)")
        ax.set_ylabel(r"final score $s_w$")
        ax.set_title(f"{run.label}: {int(keep.sum())} words in >= {REPRODUCE.sst_min_sentences} sentences",
                     fontsize=10)
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[n:]:
        ax.axis("off")
    fig.suptitle("Score against topic purity")
    fig.tight_layout()
    return _save(fig, out, "sst_purity")


# each experiment's figures as independent parts (runs, out) -> file names: drawn in this order in
# this process (:func:`draw`), or side by side on the worker processes with --workers N
# (numerics/experiments/runpool.py)
PARTS = {"synthetic": (_synthetic_sen, _synthetic_loss, _synthetic_distributions), "ablation": (draw_ablation,),
         "sst": (_sst_records, _sst_purity), "sst-pad": (_sst_records, _sst_purity)}


def draw(experiment: str, runs: list[Run], out: Path) -> list[str]:
    """Every figure of ``experiment`` into ``out``, one part after another; the file names."""
    return [name for part in PARTS[experiment] for name in part(runs, out)]
