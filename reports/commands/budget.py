"""``attndyn budget RUN_DIR``: the residual budget of the SEN quantity for a ``simulate --budget`` run.

Prints, per topic word, each derived source's predicted drift of
:math:`H_t = |q|^2|v_t|^2 - 2(s_t + e^{s_t}/m_t)`, their sum, the measured drift and the gap, and
writes ``RUN_DIR/budget.json`` and the stacked plot ``RUN_DIR/budget.{png,pdf}``
(:mod:`attndyn.reports.sections.budget`). Exit 0 when the budget closes for every topic word,
1 when it does not, 2 for bad input.
"""
from __future__ import annotations

import argparse
from pathlib import Path

from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.exits import ExitCode

NAME = "budget"
HELP = ("the residual budget of the SEN quantity for a run written by `simulate --budget --out DIR`: "
        "each derived source's predicted drift vs the measured drift, per topic word")

OUT_FILES = ("budget.json", "budget.png", "budget.pdf")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dirs", metavar="RUN_DIR", nargs="+",
                   help="a directory written by `attndyn simulate --budget --out DIR`; with several (runs "
                        "at different lr), also the fitted log-log slope of each source's drift against lr")
    p.add_argument("--omit", action="append", metavar="SOURCE", default=[],
                   help="leave a source out of the predicted total (repeatable), e.g. finite-step")
    p.add_argument("--overwrite", action="store_true", help="replace budget.json/png/pdf already in RUN_DIR")
    p.add_argument("--no-plot", action="store_true", help="write budget.json only")


def run(args: argparse.Namespace) -> int:
    from attndyn.numerics.training.budget_table import budget_table  # deferred: keeps `attndyn --help` fast
    from attndyn.reports.sections.budget import load_run  # deferred: as above

    runs = []
    for d in map(Path, args.run_dirs):  # every run is read and checked before anything is written
        _, traj, terms = load_run(d)
        found = [n for n in OUT_FILES if (d / n).exists()]
        if found and not args.overwrite:
            raise UsageError(f"RUN_DIR {d}: already holds {', '.join(found)}; pass --overwrite to replace")
        runs.append((d, traj, terms, budget_table(traj, terms, omit=tuple(args.omit))))
    closes = True
    for d, traj, terms, b in runs:
        if len(runs) > 1:
            print(f"== {d} (lr {b['lr']:g}, epochs {b['epochs'][0]}..{b['epochs'][1]})")
        closes &= _one(d, traj, terms, b, args)
    if len(runs) > 1:
        print(scaling_text([b for *_, b in runs]))
    return ExitCode.OK if closes else ExitCode.NOT_AS_EXPECTED


def scaling_text(tables: list[dict]) -> str:
    """Per source: the fitted slope of log(mean |drift| over the topic words) against log(lr)."""
    import numpy as np  # deferred: keeps `attndyn --help` fast

    lrs = np.array([b["lr"] for b in tables])
    if len(set(lrs.tolist())) < 2:
        return "scaling: the runs share one lr; no slope"
    lines = ["scaling with lr (fitted slope of log mean|drift| vs log lr; at a fixed horizon eta*epochs a "
             "finite-step source has slope 1, a flow source 0):"]
    for name in ["measured", *tables[0]["sources"]]:
        vals = np.array([np.mean([abs(r["measured"] if name == "measured" else r["sources"][name])
                                  for r in b["words"]]) for b in tables])
        if np.all(vals > 0) and np.all(np.isfinite(vals)):
            slope = np.polyfit(np.log(lrs), np.log(vals), 1)[0]
            lines.append(f"  {name:<20} slope {slope:7.3f}   " + "  ".join(f"{v:.4g}" for v in vals))
        else:
            lines.append(f"  {name:<20} (zero in some run)")
    return "\n".join(lines)


def _one(d: Path, traj, terms, b: dict, args) -> bool:
    from attndyn.numerics.outputs import write_json  # deferred: keeps `attndyn --help` fast
    from attndyn.numerics.training.budget_table import format_table  # deferred: as above
    from attndyn.reports.sections.budget import plot_budget  # deferred: as above

    print(format_table(b))
    worst = b["max_relative_gap"]
    print(f"budget {'closes' if b['closes'] else 'does NOT close'}: largest |total - measured| / |measured| "
          f"= {'not finite' if worst is None else f'{worst:.4g}'} (bound {b['closure_rtol']:g}); dominant source: "
          f"{', '.join(sorted({r['dominant'] for r in b['words'] if r['dominant']}))}; "
          f"derived step vs kernel gradients: relative gap {b['kernel_gap']:.2g} ({b['kernel_checks']} checks)")
    res = [(r["word"], r["sen_residual_measured"], r["sen_residual_predicted"]) for r in b["words"]]
    print("SEN residual at the end, |q||v_t| - curve(s_t) (measured / predicted from the total): "
          + ", ".join(f"{w}: {m if m is None else f'{m:.4g}'} / {p if p is None else f'{p:.4g}'}" for w, m, p in res))
    js = write_json(d / "budget.json", b, "RUN_DIR")
    print(f"wrote {js}")
    if not args.no_plot:
        paths = plot_budget(traj, terms, d / "budget", omit=tuple(args.omit))
        print("wrote " + " and ".join(str(p) for p in paths))
    return b["closes"]
