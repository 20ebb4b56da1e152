"""``attndyn verify``: run every registered claim, print a table, write JSON and the report."""
from __future__ import annotations

import argparse
import sys
import time

from attndyn.numerics.outputs import check_json_target, DEFAULT_REPORT_DIR, writable_dir, write_json
from attndyn.proofs.claims.registry import ClaimResult, run_claim
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.assembly import report_sections, select
from attndyn.reports.cli.exits import ExitCode
from attndyn.reports.cli.options import add_report_section_arguments, add_selection_arguments
from attndyn.reports.latex.compile import write_report

NAME = "verify"
HELP = "run the registered claims (symbolic proofs, numeric measurements) and report each verdict"
VERSION = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_selection_arguments(p)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--report", metavar="DIR", default=str(DEFAULT_REPORT_DIR),
                   help=f"directory for the LaTeX/PDF report and verify.json (default: {DEFAULT_REPORT_DIR})")
    p.add_argument("--no-report", action="store_true", help="do not write the report")
    add_report_section_arguments(p)


def results_json(results: list[ClaimResult]) -> dict:
    return {"version": VERSION, "claims": [r.to_json() for r in results]}


def print_row(r: ClaimResult, width: int) -> None:
    mark = "ok " if r.ok else "BAD"
    reason = r.outcome.reason
    if len(reason) > 90:
        reason = reason[:87] + "..."
    print(f"{mark} {r.claim.id:<{width}} {r.claim.kind:<9} {r.claim.expected:<9} "
          f"{r.outcome.status:<9} {r.seconds:7.2f}s  {reason}", flush=True)


def selected(only: str, ids: list[str] | None, include_slow: bool = False) -> list:
    """The chosen claims, or a UsageError naming an unknown id (called before anything runs)."""
    try:
        claims = select(only, ids, include_slow)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if not claims:
        raise UsageError(f"no claims of kind {only!r} among the chosen ids")
    return claims


def run_selected(only: str, ids: list[str] | None, include_slow: bool = False) -> list[ClaimResult]:
    """Run the chosen claims, printing each row as it finishes (the progress display)."""
    claims = selected(only, ids, include_slow)
    width = max(len(c.id) for c in claims)
    print(f"    {'claim':<{width}} {'kind':<9} {'expected':<9} {'status':<9} {'time':>8}  reason")
    results = []
    for c in claims:
        r = run_claim(c)
        print_row(r, width)
        results.append(r)
    return results


def summarize(results: list[ClaimResult], seconds: float) -> int:
    """Print the closing line (and each claim not as expected, on stderr); return the exit status.

    0 only if every claim's status equals its expectation, else 1.
    """
    bad = [r for r in results if not r.ok]
    print(f"{len(results) - len(bad)} of {len(results)} claims as expected in {seconds:.1f}s")
    for r in bad:
        print(f"  {r.claim.id}: expected {r.claim.expected}, got {r.outcome.status} "
              f"({r.outcome.reason})", file=sys.stderr)
    return ExitCode.OK if not bad else ExitCode.NOT_AS_EXPECTED


def run(args: argparse.Namespace) -> int:
    selected(args.only, args.ids, args.include_slow)  # an unknown claim id fails at once
    # validate every output location before spending minutes on the claims
    if args.json is not None:
        check_json_target(args.json, "--json")
    report_dir = None if args.no_report else writable_dir(args.report, "--report")
    sections = report_sections(args, report_dir) if report_dir is not None else []

    t0 = time.perf_counter()
    results = run_selected(args.only, args.ids, args.include_slow)
    data = results_json(results)
    if args.json is not None:
        write_json(args.json, data)
    if report_dir is not None:
        write_json(report_dir / "verify.json", data, "--report")
        files = write_report(results, report_dir, require_pdf=False, extra_sections=sections)
        print(files.summary())
    return summarize(results, time.perf_counter() - t0)
