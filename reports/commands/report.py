"""``attndyn report``: run the claims and write the LaTeX derivation report.

``DIR/derivations.tex`` is always written; ``DIR/derivations.pdf`` when a TeX
engine (latexmk or pdflatex) is on PATH.  Without one the command says so and
why, and still exits 0, unless ``--require-pdf`` makes a missing PDF an error
(checked before any claim runs, so a missing engine fails in a second).
``DIR/verify.json`` holds the same results as ``attndyn verify --json``.
The exit status is that of ``attndyn verify``: 0 only if every claim's status
equals its expectation, 1 otherwise, 2 for bad input or a required PDF not made.

``--from FILE`` rebuilds the report from a ``verify.json`` (written by ``attndyn verify`` or
``attndyn report``) without running any claim: the file holds each claim's statement,
assumptions, derivation steps, details and figure data.  The report goes to ``--out`` (default:
the folder of FILE); ``--claim``/``--only`` pick among the claims in the file.
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import time

from attndyn.numerics.outputs import writable_dir, write_json
from attndyn.proofs.claims.registry import ClaimResult
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.assembly import report_sections
from attndyn.reports.cli.options import add_report_section_arguments, add_selection_arguments, workers_from_args
from attndyn.reports.commands.verify import (add_claim_workers_argument, results_json, run_selected, selected,
                                             summarize)
from attndyn.reports.latex.compile import no_engine_reason, tex_engine, write_report

NAME = "report"
HELP = "run the claims and write the LaTeX derivation report DIR/derivations.tex (and .pdf with TeX)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR",
                   help="directory for derivations.tex, derivations.pdf and verify.json (created if "
                        "needed; required unless --from is given, which defaults to FILE's folder)")
    p.add_argument("--from", metavar="FILE", dest="from_json",
                   help="rebuild the report from this verify.json without running the claims")
    p.add_argument("--require-pdf", action="store_true",
                   help="fail (exit 2) unless the PDF is made; by default a missing TeX engine "
                        "only prints why there is no PDF")
    add_selection_arguments(p)
    add_claim_workers_argument(p)
    add_report_section_arguments(p)


def results_from_json(path, only: str = "all", ids: list[str] | None = None) -> list[ClaimResult]:
    """The claim results recorded in a ``verify.json`` (one line of error for anything else)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--from {path}: no such file") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise UsageError(f"--from {path}: not a readable JSON file ({exc})") from None
    claims = data.get("claims") if isinstance(data, dict) else None
    if not isinstance(claims, list) or not all(isinstance(c, dict) and "id" in c for c in claims):
        raise UsageError(f"--from {path}: not a verify.json (expected an object with a list of claims)")
    missing = sorted({k for c in claims for k in ("statement", "steps") if k not in c})
    if missing:
        raise UsageError(f"--from {path}: written by an older attndyn (no {', '.join(missing)} per claim); "
                         f"run `attndyn verify` again")
    try:
        results = [ClaimResult.from_json(c) for c in claims]
    except (KeyError, TypeError, ValueError) as exc:
        raise UsageError(f"--from {path}: a claim record is malformed ({exc})") from None
    if ids:
        known = {r.claim.id for r in results}
        unknown = [i for i in ids if i not in known]
        if unknown:
            raise UsageError(f"--from {path}: no claim {', '.join(unknown)} in the file")
        results = [r for r in results if r.claim.id in ids]
    if only != "all":
        results = [r for r in results if r.claim.kind == only]
    if not results:
        raise UsageError(f"--from {path}: no claims of kind {only!r} among the chosen ones")
    return results


def rebuild(args: argparse.Namespace) -> int:
    """``--from FILE``: write the report from the recorded results, running no claim."""
    t0 = time.perf_counter()
    results = results_from_json(args.from_json, args.only, args.ids)
    out = writable_dir(args.out if args.out is not None else Path(args.from_json).resolve().parent, "--out")
    if args.require_pdf and tex_engine() is None:
        raise UsageError(f"--require-pdf: no PDF can be made: {no_engine_reason()}")
    sections = report_sections(args, out)
    if out.resolve() != Path(args.from_json).resolve().parent:
        write_json(out / "verify.json", results_json(results), "--out")
    files = write_report(results, out, require_pdf=args.require_pdf, extra_sections=sections)
    print(f"report: rebuilt from {args.from_json} ({len(results)} claims, none re-run)")
    print(files.summary())
    return summarize(results, time.perf_counter() - t0)


def run(args: argparse.Namespace) -> int:
    if args.from_json is not None:
        return rebuild(args)
    if args.out is None:
        raise UsageError("give --out DIR (where to write the report), or --from verify.json to rebuild one")
    selected(args.only, args.ids, args.include_slow)  # an unknown claim id fails at once, before any section is built
    workers = workers_from_args(args)
    out = writable_dir(args.out, "--out")
    if args.require_pdf and tex_engine() is None:
        raise UsageError(f"--require-pdf: no PDF can be made: {no_engine_reason()}")
    sections: list = []  # built (their figures drawn) while the claims run
    t0 = time.perf_counter()
    done = run_selected(args.only, args.ids, args.include_slow, workers=workers, figures_to=out,
                        meanwhile=lambda: sections.extend(report_sections(args, out)))
    results = done.results
    write_json(out / "verify.json", results_json(results), "--out")
    files = write_report(results, out, require_pdf=args.require_pdf, extra_sections=sections,
                         predrawn=done.drawn)
    print(files.summary())
    return summarize(results, time.perf_counter() - t0)
