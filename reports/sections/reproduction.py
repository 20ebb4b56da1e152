"""The report's reproduction sections: the summary table and PDF figures of each
``attndyn reproduce`` output directory (:mod:`attndyn.numerics.experiments.reproduce`).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path
import sys
from typing import Sequence

from attndyn.numerics.experiments.reproduce import EXPERIMENTS, fmt_number, SUMMARY
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import REPRODUCE
from attndyn.reports.latex.document import Section
from attndyn.reports.latex.escape import breakable_tt, escape_text
from attndyn.reports.sections.optimizers import optimizers_section

# --------------------------------------------------------------------------- the report

def reproduction_section(out_dir):
    """A :class:`attndyn.reports.latex.document.Section` for the reproduction in ``out_dir`` (its summary
    table and PDF figures), or None when ``out_dir`` holds no reproduction summary."""
    path = Path(out_dir) / SUMMARY
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if isinstance(data, dict) and data.get("experiment") == "optimizers" and "runs" in data:
        return optimizers_section(out_dir, data)  # reproduce optimizers (issue 12)
    if not isinstance(data, dict) or data.get("experiment") not in EXPERIMENTS or "runs" not in data:
        return None
    exp = data["experiment"]
    rows = []
    for r in data["runs"]:
        conv = r.get("converged") or {}
        rows.append(" & ".join([
            escape_text(r.get("preset", "?")), escape_text(r.get("status", "?")),
            escape_text(fmt_number(r.get("final_loss"), 3)), escape_text(fmt_number(r.get("test_accuracy"), 3)),
            escape_text(fmt_number(r.get("sen_residual_max"), 2)),
            escape_text("yes" if conv.get("verdict") else "no"),
            escape_text(f"{r.get('training_seconds', float('nan')):.1f}"),
        ]) + r" \\")
    not_conv = [f"\\emph{{{escape_text(r.get('preset', '?'))}}}: {escape_text((r.get('converged') or {}).get('reason', ''))}"
                for r in data["runs"] if not (r.get("converged") or {}).get("verdict")]
    body = [
        escape_text(f"The paper's experiment ({data.get('title', exp)}), trained by "),
        breakable_tt(data.get("command", "")) + escape_text(f" on {data.get('started', '?')}; "
                                                             f"training {data.get('training_seconds', 0):.1f} s."),
        escape_text(f" A run counts as converged when its final training loss is at most "
                    f"{REPRODUCE.converged_loss} and every topic word's mean attention weight is at "
                    f"least {REPRODUCE.converged_attention} (SST: the loss alone). The SEN residual is "),
        r"$\max\bigl|\,|q|\,|v_t| - \mathrm{curve}(s_t)\bigr|$"
        + escape_text(" over the recorded epochs and words (closed form of the SEN identity, "
                      "m = mean sentence length - 1)."),
        *([r"\par Not converged: " + "; ".join(not_conv) + "."] if not_conv else []),
        "",
        r"\begin{center}\small",
        r"\begin{tabular}{lllllll}",
        r"\toprule",
        r"run & status & final loss & test acc. & SEN resid. & converged & train s \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{center}",
    ]
    figures = [Path(out_dir) / f for f in data.get("figures", []) if str(f).endswith(".pdf")]
    return Section(f"Reproduction: {exp}", "\n".join(body), [f for f in figures if f.is_file()])


def add_report_arguments(p: argparse.ArgumentParser) -> None:
    """``--reproduced DIR`` for the commands that write the LaTeX report."""
    p.add_argument("--reproduced", action="append", metavar="DIR", default=None,
                   help="include the figures of this `attndyn reproduce` output directory in the "
                        "report (repeatable; default: every REPORT_DIR/reproduce/EXPERIMENT holding a "
                        f"{SUMMARY}, which is where `attndyn reproduce` writes by default)")


def reproduction_dirs(given: Sequence[str] | None, report_dir) -> list[Path]:
    """The ``--reproduced`` directories (each must hold a summary), else the experiments found
    in ``report_dir/reproduce/`` (synthetic, ablation, sst order)."""
    if given:
        dirs = [Path(d) for d in given]
        for d in dirs:
            if not (d / SUMMARY).is_file():
                raise UsageError(f"--reproduced {d}: no {SUMMARY} there (run `attndyn reproduce "
                                 f"EXPERIMENT --out {d}` first)")
        return dirs
    base = Path(report_dir) / "reproduce"
    return [base / e for e in (*EXPERIMENTS, "optimizers") if (base / e / SUMMARY).is_file()]


def report_sections(args: argparse.Namespace, report_dir) -> list:
    """The report's reproduction sections (see :func:`reproduction_dirs`); ``report_dir`` is the
    directory the report is written to."""
    given = getattr(args, "reproduced", None)
    out = []
    for d in reproduction_dirs(given, report_dir):
        sec = reproduction_section(d)
        if sec is None:
            if given:
                raise UsageError(f"--reproduced {d}: {SUMMARY} is not an `attndyn reproduce` summary")
            print(f"note: {d / SUMMARY} is not a reproduction summary; left out of the report",
                  file=sys.stderr)
            continue
        out.append(sec)
    return out
