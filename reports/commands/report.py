"""``attndyn report``: run the claims and write the LaTeX derivation report.

``DIR/derivations.tex`` is always written; ``DIR/derivations.pdf`` when a TeX
engine (latexmk or pdflatex) is on PATH.  Without one the command says so and
why, and still exits 0, unless ``--require-pdf`` makes a missing PDF an error
(checked before any claim runs, so a missing engine fails in a second).
``DIR/verify.json`` holds the same results as ``attndyn verify --json``.
The exit status is that of ``attndyn verify``: 0 only if every claim's status
equals its expectation, 1 otherwise, 2 for bad input or a required PDF not made.
"""
from __future__ import annotations

import argparse
import time

from attndyn.numerics.outputs import writable_dir, write_json
from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.assembly import report_sections
from attndyn.reports.cli.options import add_report_section_arguments, add_selection_arguments
from attndyn.reports.commands.verify import results_json, run_selected, selected, summarize
from attndyn.reports.latex.compile import no_engine_reason, tex_engine, write_report

NAME = "report"
HELP = "run the claims and write the LaTeX derivation report DIR/derivations.tex (and .pdf with TeX)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", metavar="DIR", required=True,
                   help="directory for derivations.tex, derivations.pdf and verify.json (created if needed)")
    p.add_argument("--require-pdf", action="store_true",
                   help="fail (exit 2) unless the PDF is made; by default a missing TeX engine "
                        "only prints why there is no PDF")
    add_selection_arguments(p)
    add_report_section_arguments(p)


def run(args: argparse.Namespace) -> int:
    selected(args.only, args.ids, args.include_slow)  # an unknown claim id fails at once, before any section is built
    out = writable_dir(args.out, "--out")
    if args.require_pdf and tex_engine() is None:
        raise UsageError(f"--require-pdf: no PDF can be made: {no_engine_reason()}")
    sections = report_sections(args, out)
    t0 = time.perf_counter()
    results = run_selected(args.only, args.ids, args.include_slow)
    write_json(out / "verify.json", results_json(results), "--out")
    files = write_report(results, out, require_pdf=args.require_pdf, extra_sections=sections)
    print(files.summary())
    return summarize(results, time.perf_counter() - t0)
