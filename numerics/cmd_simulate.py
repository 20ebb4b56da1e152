"""``attndyn simulate``: train one configuration, write ``summary.json`` and ``trajectory.npz``."""
from __future__ import annotations

import argparse
import sys

from numerics.config import load_config
from proofs.errors import UsageError

NAME = "simulate"
HELP = ("train the attention model of a config file or preset (numba kernels) and write "
        "DIR/summary.json and DIR/trajectory.npz")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from numerics.presets import preset_names

    p.add_argument("config", nargs="?", metavar="CONFIG.toml",
                   help="run configuration with sections [corpus], [model], [train]")
    p.add_argument("--preset", metavar="NAME",
                   help=f"a named configuration instead of a file: {', '.join(preset_names())}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one config key, dotted (e.g. train.lr=0.2, corpus.m=10, "
                        "train.trainable=embeddings,keys,query); repeatable")
    p.add_argument("--out", required=True, metavar="DIR", help="output directory (created if needed)")
    p.add_argument("--no-progress", action="store_true", help="no progress bar on stderr")


def run(args: argparse.Namespace) -> int:
    from numerics.train import train
    from reports.outputs import writable_dir

    if args.config is not None and args.preset is not None:
        raise UsageError("give either CONFIG.toml or --preset NAME, not both")
    if args.config is None and args.preset is None:
        raise UsageError("give a CONFIG.toml file or --preset NAME")
    cfg = load_config(args.config, args.preset, args.overrides)
    out = writable_dir(args.out, "--out")  # before spending minutes on training
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
    if result.status != "ok":
        print(f"attndyn simulate: {result.message}", file=sys.stderr)
        return 1
    return 0
