r"""``attndyn reproduce optimizers``: the paper's synthetic FC and TC runs under each optimizer.

The question (issue 12): the SEN identity :math:`|q||v_t| = \sqrt{|q|^2|v_{t,0}|^2 + 2((s_t - s_{t,0}) +
(e^{s_t} - e^{s_{t,0}})/m_t)}` is a first integral of the *gradient flow*; how far from it do
practical optimizers end, at the same training loss?

**Runs.**  ``paper-fc`` and ``paper-tc`` (the paper's corpus and model, query fixed), each with
``train.optimizer`` = ``gd``, ``sgd``, ``momentum``, ``nesterov``, ``adam``
(numerics/training/optimizers.py; PyTorch's semantics).

**Matched loss (the rule).**  ``gd`` at the paper's lr 0.1 for :data:`EPOCHS` epochs is the
reference; its final training loss :math:`L^*` is the target.  Every other optimizer runs with
the rate of :data:`RATES` and stops after the first epoch whose training loss is
:math:`\le L^*` (``train(stop_below=L*)``: full batch, the loss at the epoch's start, so the run
ends one step past it; mini-batches, the mean of the epoch's batch losses) — at most
:data:`EPOCHS` epochs; if it never gets there, the table says *not matched* and shows its loss
at the cap.  The rates: ``sgd`` the same 0.1 on mini-batches of
a tenth (1/:data:`STEPS_PER_EPOCH`) of the training sentences (400 of the paper's 4000: 10 steps per epoch); ``momentum`` and ``nesterov`` μ = 0.9 and lr
0.1·(1 − μ) = 0.01, so that the heavy ball's steady step :math:`\eta g/(1-\mu)` equals GD's;
``adam`` lr 0.01 with PyTorch's default betas and eps (Adam's step is about lr per coordinate
whatever the gradient's size, so no rate makes it "the same" as GD; 0.01 reaches :math:`L^*`
well inside the cap).  Every number in the table — loss, residual, attention, wall time —
belongs to the run where it stopped.

**Reduced epochs.**  :data:`EPOCHS` = 2000 instead of the paper's 5000 keeps the whole command
within a few minutes on a shared 2-core machine (10 runs); ``--set
train.epochs=5000`` restores the paper's horizon for every run (the cap follows it).

Output (``DIR``): ``summary.json`` (the rule, and per run: optimizer, rate, batch, epochs to
matched loss, final loss, final and maximum SEN residual, mean attention on the topic words,
training seconds, ``budget`` — see :func:`residual_budget`), ``sen_optimizers.{png,pdf}``
(:math:`|q||v_t|` against :math:`s_t` with the closed form, one panel per classifier and
optimizer) and ``runs/CLASSIFIER-OPTIMIZER/`` (each run's summary.json and trajectory.npz).
"""
from __future__ import annotations

import math
from pathlib import Path
import time
from typing import Callable, Sequence

import numpy as np

from attndyn.numerics.outputs import DEFAULT_REPORT_DIR
from attndyn.proofs.errors import UsageError

DEFAULT_DIR = DEFAULT_REPORT_DIR / "reproduce" / "optimizers"
OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")
CLASSIFIERS = ("fc", "tc")
EPOCHS = 2000  # reference gd epochs and the cap of every run (paper: 5000; see the docstring)
STEPS_PER_EPOCH = 10  # sgd: mini-batches of a tenth of the training sentences (paper corpus: 400)
MOMENTUM = 0.9
RATES = {"gd": 0.1, "sgd": 0.1, "momentum": 0.1 * (1 - MOMENTUM), "nesterov": 0.1 * (1 - MOMENTUM),
         "adam": 0.01}
RULE = (f"gd at lr 0.1 (the paper's) for the epoch budget sets the target loss L*; every other optimizer "
        f"stops after the first epoch with training loss <= L* (cap: the same epochs). Rates: sgd 0.1 with "
        f"batches of 1/{STEPS_PER_EPOCH} of the training sentences; momentum/nesterov mu = {MOMENTUM}, lr 0.1*(1 - mu) = "
        f"{RATES['momentum']:g} (heavy ball's steady step = gd's); adam {RATES['adam']:g}, "
        f"betas (0.9, 0.999), eps 1e-8.")
VERSION = 1


def residual_budget(run_dir: Path) -> dict | None:
    """The run's residual budget (issue 12 §2; ``attndyn budget RUN_DIR`` prints the full table):
    from ``run_dir/trajectory.npz`` and the per-epoch terms ``budget_terms.npz`` recorded during
    the run, whether the derived sources' total closes on the measured drift of H for every topic
    word, the largest relative gap, and each source's share of the summed |contribution| over the
    topic words (the dominant one first).  None when the run has no recorded terms."""
    from attndyn.numerics.training.budget_table import budget_table  # deferred: the CLI parser reads this module

    run_dir = Path(run_dir)
    if not (run_dir / "budget_terms.npz").is_file() or not (run_dir / "trajectory.npz").is_file():
        return None
    with np.load(run_dir / "trajectory.npz") as tz, np.load(run_dir / "budget_terms.npz") as bz:
        traj, terms = dict(tz), dict(bz)
    try:
        b = budget_table(traj, terms)
    except UsageError:  # e.g. fewer than two records
        return None
    weight = {n: sum(abs(r["sources"][n] or 0.0) for r in b["words"]) for n in b["in_total"]}
    whole = sum(weight.values()) or 1.0
    shares = dict(sorted(((n, w / whole) for n, w in weight.items()), key=lambda kv: -kv[1]))
    return {"closes": b["closes"], "max_relative_gap": b["max_relative_gap"], "closure_rtol": b["closure_rtol"],
            "dominant": next(iter(shares)), "shares": shares,
            "measured_max_abs": max((abs(r["measured"]) for r in b["words"] if r["measured"] is not None),
                                    default=None),
            "step_gap": float(terms.get("step_gap", np.nan)), "file": "budget_terms.npz"}


def _config(classifier: str, optimizer: str, overrides: Sequence[str], batch: int, epochs: int | None = None):
    from attndyn.numerics.config.load import load_config  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    sets = [f"train.optimizer={optimizer}", f"train.lr={RATES[optimizer]!r}", "train.record_every=1",
            f"train.epochs={EPOCHS}"]
    if optimizer == "sgd":
        sets.append(f"train.batch_size={batch}")
    if optimizer in ("momentum", "nesterov"):
        sets.append(f"train.momentum={MOMENTUM}")
    sets += list(overrides)
    if epochs is not None:
        sets.append(f"train.epochs={epochs}")
    return load_config(preset=f"paper-{classifier}", overrides=sets)


def _final_residual(result) -> float | None:
    """max over topic words of |residual| at the last record (None without records)."""
    res, _ = result.sen_residuals()
    if res.shape[0] == 0 or res.shape[1] == 0:
        return None
    return float(np.max(np.abs(res[-1])))


def _row(classifier, optimizer, result, cfg, matched, seconds, run_dir: Path) -> dict:
    s = result.summary()
    att = np.asarray(result.topic_attention_mean, dtype=np.float64)
    return {"classifier": classifier.upper(), "optimizer": optimizer, "lr": cfg.train.lr,
            "batch_size": cfg.train.batch_size, "momentum": cfg.train.momentum if optimizer in (
                "momentum", "nesterov") else None,
            "status": s["status"], "epochs": result.epochs, "matched": matched,
            "final_loss": s["final_loss"], "sen_residual_final": _final_residual(result),
            "sen_residual_max": s["sen_residual_max"],
            "topic_attention_mean": float(np.nanmean(att)) if np.any(np.isfinite(att)) else None,
            "topic_attention_min": float(np.nanmin(result.topic_attention_min))
            if np.any(np.isfinite(result.topic_attention_min)) else None,
            "training_seconds": round(seconds, 3), "optimizer_state": s.get("optimizer"),
            "run_dir": str(run_dir), "budget": residual_budget(run_dir)}


def reproduce_optimizers(out_dir=None, overrides: Sequence[str] = (), *, progress: bool = True,
                         log: Callable[[str], None] = print) -> dict:
    """Train every (classifier, optimizer) run at matched loss, draw the figure, write and return the summary."""
    from attndyn.numerics.outputs import writable_dir, write_json  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast
    from attndyn.numerics.training.budget import BudgetRecorder  # deferred: as above
    from attndyn.numerics.training.train import load_corpus, train  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    bad = [o for o in overrides if o.split("=", 1)[0].strip() in ("train.optimizer", "train.lr")]
    if bad:
        raise UsageError(f"--set {bad[0]}: reproduce optimizers sets train.optimizer and train.lr itself (the rule)")
    out = writable_dir(DEFAULT_DIR if out_dir is None else out_dir, "--out")
    corpus = load_corpus(_config(CLASSIFIERS[0], "gd", overrides, 1).corpus)
    batch = max(1, corpus.subset("train").n_sentences // STEPS_PER_EPOCH)
    plans = {(c, o): _config(c, o, overrides, batch) for c in CLASSIFIERS for o in OPTIMIZERS}  # validate all first
    rows, results = [], {}
    t_all = time.perf_counter()
    for c in CLASSIFIERS:
        cap = plans[(c, "gd")].train.epochs
        target = None
        for o in OPTIMIZERS:
            cfg = plans[(c, o)]
            log(f"{c.upper()} {o}: lr {cfg.train.lr:g}" + (f", batches of {cfg.train.batch_size}"
                                                          if cfg.train.batch_size else "")
                + (f", target loss {target:.6g}" if target is not None else f", {cap} epochs (reference)"))
            recorder = BudgetRecorder(cfg, corpus)  # the residual budget, recorded during the run (issue 12 §2)
            t0 = time.perf_counter()
            result = train(cfg, corpus, progress=progress, stop_below=None if o == "gd" else target, observer=recorder)
            seconds = time.perf_counter() - t0
            recorder.finish(result.model)
            matched = None
            if o == "gd":
                target = result.final_loss if result.status == "ok" else None
            elif target is not None and result.status == "ok":
                matched = bool(result.epochs < cap or result.final_loss <= target)
            run_dir = out / "runs" / f"{c}-{o}"
            result.save(run_dir)
            recorder.save(run_dir)
            row = _row(c, o, result, cfg, matched if o != "gd" else True, seconds, run_dir)
            rows.append(row)
            results[(c, o)] = result
            log("  " + _line(row))
    figures = draw(results, out)
    summary = {"version": VERSION, "experiment": "optimizers", "out_dir": str(out), "rule": RULE,
               "overrides": list(overrides), "epochs_cap": {c: plans[(c, "gd")].train.epochs for c in CLASSIFIERS},
               "budget_note": ("per run: the residual budget of H (issue 12 §2) recorded during the run "
                               "(runs/*/budget_terms.npz; `attndyn budget runs/NAME` prints the full table); "
                               "closes = |total - measured| <= rtol |measured| for every topic word"),
               "wall_seconds": round(time.perf_counter() - t_all, 2), "runs": rows, "figures": figures}
    write_json(out / "summary.json", summary, "--out")
    return summary


def _fmt(x, digits=3):
    return "n/a" if x is None or (isinstance(x, float) and not math.isfinite(x)) else f"{x:.{digits}g}"


def _line(r: dict) -> str:
    match = "reference" if r["optimizer"] == "gd" else ("matched" if r["matched"] else "NOT matched")
    return (f"{r['classifier']:<3} {r['optimizer']:<9} lr {r['lr']:<5g} epochs {r['epochs']:>5} ({match}) "
            f"loss {_fmt(r['final_loss'], 4)}  SEN residual final {_fmt(r['sen_residual_final'])} "
            f"max {_fmt(r['sen_residual_max'])}  topic attention {_fmt(r['topic_attention_mean'])}  "
            f"{r['training_seconds']:.1f} s")


def budget_cell(b: dict | None) -> str:
    """The budget in a few words: closes (largest gap) and the dominant source with its share."""
    if b is None:
        return "n/a"
    gap = b["max_relative_gap"]
    return (f"{'closes' if b['closes'] else 'OPEN'} ({'n/a' if gap is None else f'{100 * gap:.2g} %'}), "
            f"{b['dominant']} {100 * b['shares'][b['dominant']]:.0f} %")


def table(summary: dict) -> list[str]:
    """The printed table: one line per run."""
    head = (f"{'clf':<3} {'optimizer':<9} {'lr':>6} {'epochs':>6} {'matched':>9} {'final loss':>11} "
            f"{'SEN res final':>13} {'SEN res max':>11} {'attention':>9} {'train s':>8} budget")
    lines = [head]
    for r in summary["runs"]:
        m = "ref" if r["optimizer"] == "gd" else ("yes" if r["matched"] else "NO")
        lines.append(f"{r['classifier']:<3} {r['optimizer']:<9} {r['lr']:>6g} {r['epochs']:>6} {m:>9} "
                     f"{_fmt(r['final_loss'], 4):>11} {_fmt(r['sen_residual_final']):>13} "
                     f"{_fmt(r['sen_residual_max']):>11} {_fmt(r['topic_attention_mean']):>9} "
                     f"{r['training_seconds']:>8.2f} {budget_cell(r['budget'])}")
    return lines


def draw(results: dict, out: Path) -> list[str]:
    """``sen_optimizers``: one panel per (classifier, optimizer), |q||v_t| against s_t for every
    topic word with its closed-form curve (dashed)."""
    from attndyn.numerics.experiments.reproduce import _pyplot, _save, _sen_panel, _theory_handle  # deferred: matplotlib loads on use

    plt = _pyplot()
    fig, axes = plt.subplots(len(CLASSIFIERS), len(OPTIMIZERS), figsize=(4.2 * len(OPTIMIZERS),
                                                                          3.8 * len(CLASSIFIERS)),
                             squeeze=False)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    handles = []
    for i, c in enumerate(CLASSIFIERS):
        for j, o in enumerate(OPTIMIZERS):
            r = results.get((c, o))
            if r is None:
                axes[i, j].set_visible(False)
                continue
            h = _sen_panel(axes[i, j], r, f"{c.upper()} {o} ({r.epochs} ep.)", colours)
            handles = handles or h
    fig.legend(handles=[*handles, _theory_handle()], loc="lower center", ncol=min(5, len(handles) + 1),
               fontsize=8, bbox_to_anchor=(0.5, -0.06))
    fig.suptitle("SEN identity under each optimizer, at matched training loss", fontsize=12)
    fig.tight_layout()
    return _save(fig, out, "sen_optimizers")
