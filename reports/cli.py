"""The ``attndyn`` command line.

Each subcommand lives in its own module exposing ``NAME``, ``HELP``,
``add_arguments(parser)`` and ``run(args) -> int`` (the exit status); this file
only wires them together and turns a :class:`~proofs.errors.UsageError` into
one readable line and exit status 2.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from proofs.errors import UsageError

COMMAND_MODULES = (
    "reports.cmd_verify",
    "reports.cmd_report",
    "numerics.cmd_simulate",
    "numerics.cmd_reproduce",
    "numerics.cmd_bench",
    "numerics.cmd_convergence",
    "numerics.cmd_search",
)


def _commands():
    for name in COMMAND_MODULES:
        yield importlib.import_module(name)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attndyn",
        description="Verify the training dynamics of attention (Lu, Mao & Nayak, ICLR 2021): "
        "exact SymPy proofs, numba simulations, convergence checks and counterexample search.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in _commands():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except UsageError as exc:
        print(f"attndyn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"attndyn {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
