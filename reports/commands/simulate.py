"""``attndyn simulate``: train one configuration, write ``summary.json`` and ``trajectory.npz``."""
from __future__ import annotations

import argparse
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
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")
    p.add_argument("--no-verdict", action="store_true",
                   help="skip the closing verdict (the numeric claims N1, N3, C1 on this setting)")
    p.add_argument("--no-figures", action="store_true",
                   help="do not write DIR/{loss,attention,sen}.{png,pdf}")


RUN_FILES = ("summary.json", "trajectory.npz")  # a directory holding any of these holds a run
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

    cfg = config_from_args(args)
    out = writable_dir(args.out, "--out")  # before spending minutes on training
    check_no_run(out, args.overwrite)
    if args.overwrite:  # the old run's files go first, so no file of it is left beside the new one
        for name in RUN_FILES + FIGURE_FILES:
            (out / name).unlink(missing_ok=True)
    result = train(cfg, progress=not args.no_progress, out_dir=out)
    files = result.save(out)
    summary = result.summary()
    sen = summary["sen_residual_max"]
    acc = summary["test_accuracy"]
    print(f"{result.status}: {result.epochs} epochs in {result.seconds:.2f}s "
          f"({1e3 * result.seconds / max(result.epochs, 1):.3f} ms/epoch), "
          f"final loss {summary['final_loss']}, test accuracy "
          f"{'n/a' if acc is None else f'{acc:.4f}'}, |q| {summary['q_norm']:.4g}"
          + (f", SEN residual max {sen:.3g}" if sen is not None else ""))
    print(f"wrote {files['summary']} and {files['trajectory']}")
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
        return ExitCode.NOT_AS_EXPECTED
    return ExitCode.OK
