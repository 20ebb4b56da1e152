"""``attndyn config``: print a commented example config (``--example``) or the resolved config
of a file or preset (``--show``), as TOML-ready text / JSON."""
from __future__ import annotations

import argparse
import json

from attndyn.numerics.config.example import example_toml
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.exits import ExitCode
from attndyn.reports.cli.options import add_config_arguments, config_from_args

NAME = "config"
HELP = ("print a commented example config with every key, its type, default and meaning "
        "(--example > my.toml), or the resolved config of a file/preset (--show)")


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--example", action="store_true",
                   help="print the commented example config (every key at its default)")
    p.add_argument("--show", action="store_true",
                   help="print the resolved config (file or preset plus --set) as JSON")


def run(args: argparse.Namespace) -> int:
    if args.example == args.show:
        raise UsageError("give exactly one of --example or --show")
    if args.example:
        if args.config is not None or args.preset is not None or args.overrides:
            raise UsageError("--example: takes no config, --preset or --set (it prints the defaults)")
        print(example_toml(), end="")
        return ExitCode.OK
    print(json.dumps(config_from_args(args).to_dict(), indent=2))
    return ExitCode.OK
