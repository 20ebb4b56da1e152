"""``attndyn claims``: list every registered claim (id, kind, title, expectation) without running any."""
from __future__ import annotations

import argparse

from attndyn.reports.cli.assembly import claims
from attndyn.reports.cli.exits import ExitCode

NAME = "claims"
HELP = "list every registered claim: id, kind (symbolic/numeric), expectation and title; runs nothing"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--only", choices=("symbolic", "numeric", "all"), default="all",
                   help="which kind of claims to list (default: all)")


def run(args: argparse.Namespace) -> int:
    chosen = [c for c in claims().values() if args.only in ("all", c.kind)]
    width = max((len(c.id) for c in chosen), default=2)
    print(f"{'id':<{width}}  {'kind':<9} {'expected':<9} {'run':<7} title")
    for c in chosen:
        when = "--all" if c.slow else "default"
        print(f"{c.id:<{width}}  {c.kind:<9} {c.expected:<9} {when:<7} {c.title}")
    return ExitCode.OK
