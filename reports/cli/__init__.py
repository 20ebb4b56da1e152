"""The ``attndyn`` command line.

Each subcommand lives in its own module of :mod:`attndyn.reports.commands` exposing
``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int`` (the exit status);
which exist is said once, in :mod:`attndyn.reports.cli.assembly`.  This module only wires
them together and is the one place that maps errors to exit statuses
(:class:`~attndyn.reports.cli.exits.ExitCode`): a :class:`~attndyn.proofs.errors.UsageError`
becomes one readable line and ``USAGE`` (2), Ctrl-C ``INTERRUPTED`` (130),
a closed stdout pipe (``| head -1``) a quiet ``BROKEN_PIPE`` (141).
"""
from __future__ import annotations

import argparse
import os
import sys

import attndyn

from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.assembly import command_modules
from attndyn.reports.cli.exits import ExitCode


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="attndyn",
        description="Verify the training dynamics of attention (Lu, Mao & Nayak, ICLR 2021): "
        "exact SymPy proofs, numba simulations, convergence checks and counterexample search.",
    )
    parser.add_argument("--version", action="version", version=f"attndyn {attndyn.__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for mod in command_modules():
        p = sub.add_parser(mod.NAME, help=mod.HELP, description=mod.HELP)
        mod.add_arguments(p)
        p.set_defaults(_run=mod.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    try:
        status = _main(argv)
        sys.stdout.flush()  # a closed pipe shows here, not in the interpreter's final flush
        return status
    except BrokenPipeError:
        # the reader went away (`attndyn claims | head -1`): stop quietly; stdout goes to
        # /dev/null so that the interpreter's final flush does not complain either
        try:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        except (OSError, ValueError, AttributeError):  # stdout has no file descriptor (captured)
            pass
        return ExitCode.BROKEN_PIPE


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args))
    except UsageError as exc:
        print(f"attndyn {args.command}: error: {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        print(f"attndyn {args.command}: interrupted", file=sys.stderr)
        return ExitCode.INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
