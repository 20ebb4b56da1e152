"""``attndyn simulate``: train one configuration, write ``summary.json`` and ``trajectory.npz``."""
from __future__ import annotations

import argparse
from pathlib import Path
import sys

from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.exits import ExitCode
from attndyn.reports.cli.options import add_config_arguments, config_from_args

NAME = "simulate"
HELP = ("train the attention model of a config file or preset (numba kernels) and write "
        "DIR/summary.json and DIR/trajectory.npz")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if needed)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in DIR (by default simulate refuses to write over one)")
    p.add_argument("--resume", action="store_true",
                   help="continue the run killed in DIR from its snapshot (to the bitwise-same result as an "
                        "uninterrupted run); the config comes from DIR/config.json")
    p.add_argument("--snapshot-seconds", type=float, default=None, metavar="S",
                   help="wall time between snapshots of the full training state (0: every epoch; "
                        "default TRAINING.snapshot_seconds)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


# a directory holding any of these holds a run
RUN_FILES = ("summary.json", "trajectory.npz", "config.json", "snapshot.npz")


def check_no_run(out, overwrite: bool) -> None:
    """Refuse (UsageError) to write into a directory that already holds a run, unless ``overwrite``:
    a new run would otherwise mix its files with the old one's."""
    found = [name for name in RUN_FILES if (out / name).exists()]
    if found and not overwrite:
        raise UsageError(f"--out {out}: already holds a run ({', '.join(found)}); choose another --out "
                         "or pass --overwrite to replace it")


def run(args: argparse.Namespace) -> int:
    from attndyn.numerics.training.train import (train)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.numerics.outputs import (writable_dir)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    from attndyn.numerics.config.schema import RunConfig  # deferred: keeps `attndyn --help` fast
    from attndyn.numerics.training import snapshot  # deferred: keeps `attndyn --help` fast

    if args.snapshot_seconds is not None and not args.snapshot_seconds >= 0:
        raise UsageError(f"--snapshot-seconds: expected a number >= 0, got {args.snapshot_seconds}")
    if args.resume and args.overwrite:
        raise UsageError("--resume continues the run in --out, --overwrite replaces it: give one of them")
    if args.resume:
        stored = RunConfig.from_dict(snapshot.read_config(Path(args.out)))
        out = writable_dir(args.out, "--out")
        # a config given again must be the run's own (train() compares it with the snapshot's)
        cfg = config_from_args(args) if (args.config or args.preset or args.overrides) else stored
    else:
        cfg = config_from_args(args)
        out = writable_dir(args.out, "--out")  # before spending minutes on training
        check_no_run(out, args.overwrite)
    if args.overwrite:  # the old run's files go first, so no file of it is left beside the new one
        for name in RUN_FILES:
            (out / name).unlink(missing_ok=True)
    result = train(cfg, progress=not args.no_progress, out_dir=out, resume=args.resume,
                   snapshot_seconds=args.snapshot_seconds)
    files = result.save(out)
    summary = result.summary()
    sen = summary["sen_residual_max"]
    acc = summary["test_accuracy"]
    print(f"{result.status}: {result.epochs} epochs in {result.seconds:.2f}s "
          f"({1e3 * result.seconds / max(result.epochs, 1):.3f} ms/epoch), "
          f"final loss {summary['final_loss']}, test accuracy "
          f"{'n/a' if acc is None else f'{acc:.4f}'}, |q| {summary['q_norm']:.4g}"
          + (f", SEN residual max {sen if isinstance(sen, str) else format(sen, '.3g')}"
             if sen is not None else ""))
    print(f"wrote {files['summary']} and {files['trajectory']}")
    if result.status != "ok":
        print(f"attndyn simulate: {result.message}", file=sys.stderr)
        return ExitCode.INTERRUPTED if result.status == "interrupted" else ExitCode.NOT_AS_EXPECTED
    return ExitCode.OK
