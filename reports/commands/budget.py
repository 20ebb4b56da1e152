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
    p.add_argument("run_dir", metavar="RUN_DIR", help="a directory written by `attndyn simulate --budget --out DIR`")
    p.add_argument("--omit", action="append", metavar="SOURCE", default=[],
                   help="leave a source out of the predicted total (repeatable), e.g. finite-step")
    p.add_argument("--overwrite", action="store_true", help="replace budget.json/png/pdf already in RUN_DIR")
    p.add_argument("--no-plot", action="store_true", help="write budget.json only")


def run(args: argparse.Namespace) -> int:
    from attndyn.numerics.outputs import write_json  # deferred: keeps `attndyn --help` fast
    from attndyn.numerics.training.budget_table import budget_table, format_table  # deferred: as above
    from attndyn.reports.sections.budget import load_run, plot_budget  # deferred: as above

    d = Path(args.run_dir)
    _, traj, terms = load_run(d)
    found = [n for n in OUT_FILES if (d / n).exists()]
    if found and not args.overwrite:
        raise UsageError(f"RUN_DIR {d}: already holds {', '.join(found)}; pass --overwrite to replace")
    b = budget_table(traj, terms, omit=tuple(args.omit))
    print(format_table(b))
    print(f"budget {'closes' if b['closes'] else 'does NOT close'}: largest |total - measured| / |measured| "
          f"= {b['max_relative_gap']:.4g} (bound {b['closure_rtol']:g}); dominant source: "
          f"{', '.join(sorted({r['dominant'] for r in b['words'] if r['dominant']}))}; "
          f"derived step vs kernel gradients: relative gap {b['kernel_gap']:.2g} ({b['kernel_checks']} checks)")
    js = write_json(d / "budget.json", b, "RUN_DIR")
    print(f"wrote {js}")
    if not args.no_plot:
        paths = plot_budget(traj, terms, d / "budget", omit=tuple(args.omit))
        print("wrote " + " and ".join(str(p) for p in paths))
    return ExitCode.OK if b["closes"] else ExitCode.NOT_AS_EXPECTED
