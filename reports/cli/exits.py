"""The exit statuses of ``attndyn``, by name.

Every subcommand returns one of these; :func:`attndyn.reports.cli.main` is the one place
that turns an error into one (a :class:`~attndyn.proofs.errors.UsageError` into
:attr:`ExitCode.USAGE`, Ctrl-C into :attr:`ExitCode.INTERRUPTED`,
a closed stdout pipe into :attr:`ExitCode.BROKEN_PIPE`).
"""
from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    OK = 0  # done; for verify/report: every claim's status equals its expectation
    NOT_AS_EXPECTED = 1  # ran, but a claim, a run, a replayed case or a benchmark check is not as expected
    USAGE = 2  # bad input: one line on stderr names what is wrong
    INTERRUPTED = 130  # Ctrl-C (128 + SIGINT)
    BROKEN_PIPE = 141  # the reader of stdout went away (`| head -1`); quiet (128 + SIGPIPE, as a shell reports it)
