"""``attndyn reproduce``: train the paper's §5 experiments and draw their figures (PNG and PDF)."""
from __future__ import annotations

import argparse
import sys

from attndyn.reports.cli.exits import ExitCode

NAME = "reproduce"
HELP = ("reproduce the paper's experiments (synthetic: FC/TC/TL; ablation: KF/EF; sst: SST-2/5) as "
        "figures and DIR/summary.json")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from attndyn.numerics.experiments.reproduce import (DEFAULT_DIR, EXPERIMENTS)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    p.add_argument("experiment", choices=(*EXPERIMENTS, "optimizers"),
                   help="synthetic: paper-fc/tc/tl; ablation: ablation-{fc,tc}-{both,kf,ef}; "
                        "sst: sst2-{fc,tc}, sst5-{fc,tc}; optimizers: paper-fc/tc under gd, sgd, "
                        "momentum, nesterov, adam at matched loss (issue 12)")
    p.add_argument("--out", metavar="DIR",
                   help=f"output directory (default: {DEFAULT_DIR}/EXPERIMENT, where `attndyn verify` "
                        f"and `attndyn report --out {DEFAULT_DIR.parent}` include it in the report; "
                        "otherwise pass --reproduced DIR to them)")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override a config key in every run, as in `attndyn simulate` (e.g. "
                        "train.epochs=1000, train.threads=1, corpus.sst_dir=PATH); repeatable")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    from attndyn.reports.cli.options import add_workers_argument  # deferred like the imports above

    add_workers_argument(p, "one per core, at most one per run; the runs' results are the same bits "
                            "for any N (optimizers: always 1)")


def run(args: argparse.Namespace) -> int:
    if args.experiment == "optimizers":
        return _optimizers(args)
    from attndyn.numerics.experiments.reproduce import (reproduce)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.numerics.experiments.runpool import RunFailed  # deferred: keeps `attndyn --help` fast
    from attndyn.reports.cli.options import workers_from_args  # deferred: like the imports above

    try:
        summary = reproduce(args.experiment, args.out, args.overrides, progress=not args.no_progress,
                            log=lambda line: print(line, flush=True), workers=workers_from_args(args))
    except RunFailed as exc:  # already logged; the finished runs are saved under DIR/runs
        print(f"attndyn reproduce: a run failed: {exc}", file=sys.stderr)
        return ExitCode.NOT_AS_EXPECTED
    runs = summary["runs"]
    bad = [r for r in runs if r["status"] != "ok"]
    print(f"{summary['experiment']}: {len(runs)} runs, training {summary['training_seconds']:.2f} s, "
          f"figures {summary['figure_seconds']:.1f} s; verdicts: "
          + "; ".join(f"{r['preset']} {r['converged'].get('label', 'converged' if r['converged']['verdict'] else 'not converged')}"
                      for r in runs))
    print(f"wrote {len(summary['figures'])} figures and summary.json to {summary['out_dir']}")
    for r in bad:
        print(f"attndyn reproduce: {r['preset']}: {r['message']}", file=sys.stderr)
    return ExitCode.NOT_AS_EXPECTED if bad else ExitCode.OK


def _optimizers(args: argparse.Namespace) -> int:
    from attndyn.numerics.experiments.optreproduce import reproduce_optimizers, table  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    summary = reproduce_optimizers(args.out, args.overrides, progress=not args.no_progress,
                                   log=lambda line: print(line, flush=True))
    print(summary["rule"])
    for line in table(summary):
        print(line)
    print(f"wrote {len(summary['figures'])} figures and summary.json to {summary['out_dir']} "
          f"({summary['wall_seconds']:.0f} s)")
    bad = [r for r in summary["runs"] if r["status"] != "ok"]
    for r in bad:
        print(f"attndyn reproduce: {r['classifier']} {r['optimizer']}: {r['status']}", file=sys.stderr)
    return ExitCode.NOT_AS_EXPECTED if bad else ExitCode.OK
