"""Command-line options shared by several subcommands, each defined once.

* :func:`add_config_arguments` / :func:`config_from_args` — ``CONFIG.toml | --preset NAME [--set KEY=VALUE …]``;
* :func:`add_selection_arguments` — ``--only`` and ``--claim`` (which claims run);
* :func:`add_report_section_arguments` — the options of every report section;
* :func:`add_workers_argument` / :func:`workers_from_args` — ``--workers N`` (processes).
"""
from __future__ import annotations

import argparse

from attndyn.numerics.config.load import load_config
from attndyn.numerics.config.presets import preset_names
from attndyn.numerics.config.schema import RunConfig
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.assembly import report_section_modules

# --------------------------------------------------------------------------- command-line plumbing

def add_config_arguments(p) -> None:
    """The ``CONFIG.toml | --preset NAME [--set KEY=VALUE …]`` arguments shared by the subcommands."""
    p.add_argument("config", nargs="?", metavar="CONFIG.toml",
                   help="run configuration with sections [corpus], [model], [train]")
    p.add_argument("--preset", metavar="NAME",
                   help=f"a named configuration instead of a file: {', '.join(preset_names())}")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides",
                   help="override one config key, dotted (e.g. train.lr=0.2, corpus.m=10, "
                        "train.trainable=embeddings,keys,query); repeatable")


def config_from_args(args) -> RunConfig:
    """The RunConfig named by :func:`add_config_arguments`' arguments (exactly one source)."""
    if args.config is not None and args.preset is not None:
        raise UsageError("give either CONFIG.toml or --preset NAME, not both")
    if args.config is None and args.preset is None:
        raise UsageError("give a CONFIG.toml file or --preset NAME")
    return load_config(args.config, args.preset, args.overrides)


def add_selection_arguments(p: argparse.ArgumentParser) -> None:
    """``--only`` and ``--claim``: which claims to run (``attndyn verify`` and ``attndyn report``)."""
    p.add_argument("--only", choices=("symbolic", "numeric", "all"), default="all",
                   help="which kind of claims to run (default: all)")
    p.add_argument("--claim", action="append", metavar="ID", dest="ids",
                   help="run only this claim id (repeatable; a claim marked slow runs when named)")
    p.add_argument("--all", action="store_true", dest="include_slow",
                   help="also run the claims marked slow (left out by default; see `attndyn claims`)")


def add_report_section_arguments(p: argparse.ArgumentParser) -> None:
    """The options of every report-section module (``attndyn verify`` and ``attndyn report``)."""
    for mod in report_section_modules():
        mod.add_report_arguments(p)


def add_workers_argument(p: argparse.ArgumentParser, default_help: str) -> None:
    """``--workers N``: how many processes share the work (read back with :func:`workers_from_args`)."""
    p.add_argument("--workers", metavar="N", default=None,
                   help=f"worker processes (1: one after another in this process; default: {default_help})")


def workers_from_args(args) -> int | None:
    """The ``--workers`` value: None when not given, else an integer >= 1 (UsageError otherwise)."""
    text = args.workers
    if text is None:
        return None
    try:
        n = int(text)
    except (TypeError, ValueError):
        raise UsageError(f"--workers: expected an integer >= 1, got {text!r}") from None
    if n < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {n}")
    return n
