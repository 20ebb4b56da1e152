"""``attndyn verify``: run every registered claim, print a table, write JSON and the report.

``attndyn verify (CONFIG.toml | --preset NAME) [--set key=value …]`` measures the claims that
have a numeric side (those whose verifier takes ``setting=``) on that setting instead of the
paper's (:class:`attndyn.numerics.setting.Setting`), and records the setting (full resolved
config, versions) and the tolerances it derived in ``verify.json``."""
from __future__ import annotations

import argparse
import sys
import time
from typing import Callable

from attndyn.numerics.outputs import check_json_target, DEFAULT_REPORT_DIR, writable_dir, write_json
from attndyn.proofs.claims.registry import ClaimResult, run_claim
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.assembly import report_sections, select
from attndyn.reports.cli.exits import ExitCode
from attndyn.reports.cli.options import (add_config_arguments, add_report_section_arguments,
                                         add_selection_arguments, add_workers_argument, config_from_args,
                                         workers_from_args)
from attndyn.reports.latex.compile import write_report

NAME = "verify"
HELP = ("run the registered claims (symbolic proofs, numeric measurements) and report each verdict; "
        "with CONFIG.toml or --preset, the numeric claims on that setting")
VERSION = 1


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    add_selection_arguments(p)
    p.add_argument("--json", metavar="FILE", help="also write the results as JSON to FILE")
    p.add_argument("--report", metavar="DIR", default=str(DEFAULT_REPORT_DIR),
                   help=f"directory for the LaTeX/PDF report and verify.json (default: {DEFAULT_REPORT_DIR})")
    p.add_argument("--no-report", action="store_true", help="do not write the report")
    add_claim_workers_argument(p)
    add_report_section_arguments(p)


def add_claim_workers_argument(p: argparse.ArgumentParser) -> None:
    """``--workers N`` for the commands that run claims (verify, report)."""
    add_workers_argument(p, "one per core, at most one per claim; each claim's result is the same, rows are "
                            "printed as claims finish; with CONFIG.toml or --preset the claims run in this process, "
                            "sharing the setting's training run")


def results_json(results: list[ClaimResult]) -> dict:
    return {"version": VERSION, "claims": [r.to_json() for r in results]}


def row_text(r: ClaimResult, width: int, full: bool = False) -> str:
    """One table row; the reason is cut at 90 characters unless ``full`` (a setting's verdicts
    say why, and that must not be cut)."""
    mark = "ok " if r.ok else "BAD"
    reason = r.outcome.reason
    if len(reason) > 90 and not full and r.setting is None:
        reason = reason[:87] + "..."
    return (f"{mark} {r.claim.id:<{width}} {r.claim.kind:<9} {r.claim.expected:<9} "
            f"{r.outcome.status:<9} {r.seconds:7.2f}s  {reason}")


def print_row(r: ClaimResult, width: int) -> None:
    print(row_text(r, width), flush=True)


def selected(only: str, ids: list[str] | None, include_slow: bool = False) -> list:
    """The chosen claims, or a UsageError naming an unknown id (called before anything runs)."""
    try:
        claims = select(only, ids, include_slow)
    except KeyError as exc:
        raise UsageError(exc.args[0]) from None
    if not claims:
        raise UsageError(f"no claims of kind {only!r} among the chosen ids")
    return claims


def setting_claims(only: str, ids: list[str] | None) -> list:
    """The claims measured on a setting (their verifier takes ``setting=``), optionally by id."""
    claims = [c for c in selected(only, ids, include_slow=True) if c.takes_setting]
    if not claims:
        named = ", ".join(c.id for c in select("all", None, True) if c.takes_setting)
        what = f"--only {only}" if only != "all" and not ids else "--claim"
        raise UsageError(f"{what}: none of the chosen claims is measured on a setting; those that are: {named}")
    return claims


def run_selected(only: str, ids: list[str] | None, include_slow: bool = False,
                 setting=None, workers: int | None = 1, *, figures_to=None,
                 meanwhile: Callable[[], None] = lambda: None):
    """Run the chosen claims (on ``setting`` when given), printing each row as it finishes; while a
    claim runs, progress on stderr says which (a bar on a terminal, a line every ~10 s in a log).
    Returns a :class:`~attndyn.reports.cli.claimpool.PoolRun`: the results in the registry's order
    and the report figures already drawn.

    ``workers``: processes running claims side by side (None: one per core; see
    :mod:`attndyn.reports.cli.claimpool`), drawing each claim's figures into ``figures_to`` (the
    report directory) when given; 1, or a ``setting`` (whose claims share its one training run),
    runs them one after another in this process.  ``meanwhile`` runs once, in this process: while
    the workers run the claims, or before the first claim."""
    from attndyn.numerics.progress import Progress  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.proofs.claims.registry import NotApplicable  # deferred: only the setting branch needs it
    from attndyn.reports.cli.claimpool import PoolRun, claim_groups, resolve_workers, run_claims  # deferred: like Progress

    claims = setting_claims(only, ids) if setting is not None else selected(only, ids, include_slow)
    workers = 1 if setting is not None else resolve_workers(workers, len(claim_groups(claims)))
    width = max(len(c.id) for c in claims)
    print(f"    {'claim':<{width}} {'kind':<9} {'expected':<9} {'status':<9} {'time':>8}  reason", flush=True)
    results = []
    bar = Progress(len(claims), "verify", unit="claims")
    try:
        if workers > 1:
            def finished(r: ClaimResult) -> None:
                results.append(r)
                bar.write(row_text(r, width))
                bar.update(len(results), bar.postfix)

            def running(ids: list[str]) -> None:
                bar.update(len(results), f"{workers} workers on " + ", ".join(ids), force=True)

            return run_claims(claims, workers, on_result=finished, on_tick=running, figures_to=figures_to,
                              meanwhile=meanwhile)
        meanwhile()
        for i, c in enumerate(claims):
            with bar.heartbeat(f"on {c.id}"):
                try:
                    r = run_claim(c, setting)
                except NotApplicable as exc:
                    bar.write(f"n/a {c.id:<{width}} {c.kind:<9} {c.expected:<9} {'-':<9} {'':>8}  "
                              f"does not apply to this setting: {exc}")
                    bar.update(i + 1, f"done {c.id}")
                    continue
            bar.write(row_text(r, width))
            bar.update(i + 1, f"done {c.id}")
            results.append(r)
    finally:
        bar.close()
    return PoolRun(results, frozenset())


def setting_tolerances(setting) -> dict:
    """The tolerances the numeric claims used on ``setting``, with how each was derived."""
    from attndyn.proofs.settings import NUMERIC  # deferred: keeps `attndyn --help` fast

    return {"N1-sen-flow": {"tolerance": NUMERIC.sen_flow_max, "rtol": NUMERIC.flow_rtol, "atol": NUMERIC.flow_atol,
                            "derivation": "the integrator's tolerances (DOP853), over tau = lr x epochs = "
                                          f"{setting.horizon:g}"},
            "N2-sen-gd-order": {"slope_range": list(NUMERIC.gd_slope_range),
                                "derivation": f"step sizes lr = {setting.lr:g} halved three times: the residual "
                                              "must be O(eta)"},
            "N3-sen-paper": setting.sen_tolerance()}


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


def setting_from_args(args):
    """The :class:`~attndyn.numerics.setting.Setting` named by CONFIG.toml / --preset / --set, or
    None for the paper's claims (no config given)."""
    if args.config is None and args.preset is None:
        if args.overrides:
            raise UsageError("--set: give CONFIG.toml or --preset NAME to override")
        return None
    from attndyn.numerics.setting import Setting  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    return Setting(config_from_args(args), args.preset or str(args.config), progress=True)


def run(args: argparse.Namespace) -> int:
    setting = setting_from_args(args)  # a bad config fails at once, before any claim runs
    workers = workers_from_args(args)
    if setting is not None:
        setting_claims(args.only, args.ids)
    else:
        selected(args.only, args.ids, args.include_slow)  # an unknown claim id fails at once
    # validate every output location before spending minutes on the claims
    if args.json is not None:
        check_json_target(args.json, "--json")
    report_dir = None if args.no_report else writable_dir(args.report, "--report")
    sections: list = []  # the report's extra sections, built (their figures drawn) while the claims run

    def build_sections() -> None:
        if report_dir is not None:
            sections.extend(report_sections(args, report_dir))

    t0 = time.perf_counter()
    if setting is not None:
        print(f"setting: {setting!r}", flush=True)
    done = run_selected(args.only, args.ids, args.include_slow, setting, workers, figures_to=report_dir,
                        meanwhile=build_sections)
    results = done.results
    data = results_json(results)
    if setting is not None:
        data["setting"] = {**setting.to_json(), "tolerances": setting_tolerances(setting)}
    if args.json is not None:
        write_json(args.json, data)
    if report_dir is not None:
        write_json(report_dir / "verify.json", data, "--report")
        files = write_report(results, report_dir, require_pdf=False, extra_sections=sections, predrawn=done.drawn)
        print(files.summary())
    return summarize(results, time.perf_counter() - t0)
