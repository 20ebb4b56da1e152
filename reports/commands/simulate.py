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
    p.add_argument("--no-verdict", action="store_true",
                   help="skip the closing verdict (the numeric claims N1, N3, C1 on this setting)")
    p.add_argument("--no-figures", action="store_true",
                   help="do not write DIR/{loss,attention,sen}.{png,pdf}")
    p.add_argument("--budget", action="store_true",
                   help="also record, every epoch, each derived source of the drift of the SEN quantity "
                        "(DIR/budget_terms.npz; read by `attndyn budget DIR`)")


# a directory holding any of these holds a run
RUN_FILES = ("summary.json", "trajectory.npz", "budget_terms.npz", "config.json", "snapshot.npz")
FIGURE_FILES = tuple(f"{stem}.{ext}" for stem in ("loss", "attention", "sen") for ext in ("png", "pdf"))


def check_no_run(out, overwrite: bool) -> None:
    """Refuse (UsageError) to write into a directory that already holds a run, unless ``overwrite``:
    a new run would otherwise mix its files with the old one's."""
    found = [name for name in RUN_FILES if (out / name).exists()]
    if found and not overwrite:
        raise UsageError(f"--out {out}: already holds a run ({', '.join(found)}); choose another --out "
                         "or pass --overwrite to replace it")


VERDICT_CLAIMS = ("N1-sen-flow", "N3-sen-paper", "C1-convergence-paper")  # need no run besides this one


def closing_verdict(result, name: str) -> dict | None:
    """The numeric claims that need no other training run, measured on this run's setting and
    printed as rows (:mod:`attndyn.reports.commands.verify`); None (and a line why) when the
    setting has no topic words to measure."""
    from attndyn.numerics.setting import Setting  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.proofs.claims.registry import run_claim  # deferred: only the verdict needs the claims
    from attndyn.reports.cli.assembly import claims  # deferred: only the verdict needs the claims
    from attndyn.reports.commands.verify import row_text  # deferred: only the verdict prints rows

    try:
        setting = Setting(result.config, name)
    except UsageError as exc:
        print(f"verdict: none ({exc})")
        return None
    setting.__dict__["run"] = result  # the setting's run is this one (cached_property slot)
    registry = claims()
    print(f"verdict on this setting (attndyn verify {name} runs every claim, with the controls):")
    width = max(map(len, VERDICT_CLAIMS))
    rows = []
    for cid in VERDICT_CLAIMS:
        r = run_claim(registry[cid], setting)
        print("  " + row_text(r, width), flush=True)
        rows.append(r.to_json())
    return {"claims": rows, "all_as_expected": all(r["status"] == r["expected"] for r in rows)}


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
        for name in RUN_FILES + FIGURE_FILES:
            (out / name).unlink(missing_ok=True)
    corpus = recorder = None
    if args.budget:  # the recorder needs the corpus: load it once here and train on it
        from attndyn.numerics.training.budget import BudgetRecorder, check_budget_config  # deferred: only with --budget
        from attndyn.numerics.training.train import load_corpus  # deferred: only with --budget

        if args.resume:
            raise UsageError("--resume: a run with --budget records every epoch from the start; "
                             "it cannot be resumed (run it again with --overwrite)")
        check_budget_config(cfg)
        corpus = load_corpus(cfg.corpus)
        recorder = BudgetRecorder(cfg, corpus)
    result = train(cfg, corpus, progress=not args.no_progress, out_dir=out, observer=recorder,
                   resume=args.resume, snapshot_seconds=args.snapshot_seconds)
    with snapshot.DeferredInterrupt():  # as train() ends: a Ctrl-C now lets summary.json be written first
        files = result.save(out)
    if recorder is not None:
        recorder.finish(result.model)  # the last step against the kernels' too
        files["budget"] = recorder.save(out)
    summary = result.summary()
    sen = summary["sen_residual_max"]
    acc = summary["test_accuracy"]
    print(f"{result.status}: {result.epochs} epochs in {result.seconds:.2f}s "
          f"({1e3 * result.seconds / max(result.epochs, 1):.3f} ms/epoch), "
          f"final loss {summary['final_loss']}, test accuracy "
          f"{'n/a' if acc is None else f'{acc:.4f}'}, |q| {summary['q_norm']:.4g}"
          + (f", SEN residual max {sen if isinstance(sen, str) else format(sen, '.3g')}"
             if sen is not None else ""))
    print(f"wrote {files['summary']} and {files['trajectory']}"
          + (f" and {files['budget']}" if "budget" in files else ""))
    if not args.no_figures:
        from attndyn.numerics.experiments.runfigures import write_run_figures  # deferred: matplotlib loads on use

        figures = write_run_figures(result, out)
        if figures:
            print(f"wrote {', '.join(p.name for p in figures)} in {out}")
    if not args.no_verdict and result.status == "ok":
        verdict = closing_verdict(result, args.preset or str(args.config))
        if verdict is not None:
            result.extra["verdict"] = verdict  # summary.json carries it too
            files = result.save(out)
    if result.status != "ok":
        print(f"attndyn simulate: {result.message}", file=sys.stderr)
        return ExitCode.INTERRUPTED if result.status == "interrupted" else ExitCode.NOT_AS_EXPECTED
    return ExitCode.OK
