"""Compiling the report: find a TeX engine, run it (latexmk, else pdflatex twice), read its
log (errors, overfull boxes), and :func:`write_report` — render, write, compile."""
from __future__ import annotations

from dataclasses import dataclass
import hashlib
import os
from pathlib import Path
import re
import shutil
import signal
import subprocess
import tempfile
from typing import Sequence

from attndyn.numerics.outputs import atomic_replace
from attndyn.proofs.claims.registry import ClaimResult
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import REPORT
from attndyn.reports.latex.document import render, Section, TEX_NAME

_AUX_SUFFIXES = (".aux", ".out", ".toc", ".fls", ".fdb_latexmk", ".pdf", ".log")


@dataclass(frozen=True)
class ReportFiles:
    """What :func:`write_report` produced."""

    tex: Path
    pdf: Path | None
    pdf_reason: str = ""  # why there is no PDF (empty when there is one)
    log: Path | None = None  # the TeX log of the final pass, when TeX ran
    overfull: tuple[float, ...] = ()  # widths (pt) of "Overfull \hbox" warnings in that log

    def summary(self) -> str:
        """One or two lines for a person: where the files are, or that no PDF was made and why."""
        if self.pdf is None:
            return (f"report: wrote {self.tex}\n"
                    f"report: NO PDF was made: {self.pdf_reason}")
        line = f"report: wrote {self.tex} and {self.pdf}"
        wide = [w for w in self.overfull if w > REPORT.overfull_max_pt]
        if wide:
            line += (f"\nreport: warning: {len(wide)} line(s) run into the margin "
                     f"(widest {max(wide):.1f}pt; see {self.log})")
        return line


# --------------------------------------------------------------------------- compiling
def tex_engine() -> tuple[str, str] | None:
    """``("latexmk", path)`` or ``("pdflatex", path)`` — what will compile the report — or None."""
    pdflatex = shutil.which("pdflatex")
    latexmk = shutil.which("latexmk")
    if latexmk and pdflatex:
        return "latexmk", latexmk
    if pdflatex:
        return "pdflatex", pdflatex
    return None


def no_engine_reason() -> str:
    if shutil.which("latexmk"):
        return "latexmk is on PATH but pdflatex is not (install texlive-latex-base)"
    return ("no TeX engine: neither latexmk nor pdflatex was found on PATH "
            "(install texlive-latex-base texlive-latex-recommended latexmk)")


_OVERFULL = re.compile(r"^Overfull \\hbox \((\d+(?:\.\d+)?)pt too wide\)", re.M)


def overfull_hboxes(log_text: str) -> list[float]:
    r"""Widths in pt of every ``Overfull \hbox`` warning in a TeX log."""
    return [float(w) for w in _OVERFULL.findall(log_text)]


def tex_errors(log_text: str, limit: int = 6) -> str:
    """The error lines of a TeX log (``! ...`` and the line number after it), joined."""
    lines = log_text.splitlines()
    found: list[str] = []
    for i, line in enumerate(lines):
        if line.startswith("!"):
            found.append(line.strip())
            for nxt in lines[i + 1:i + 4]:
                if nxt.startswith("l.") or nxt.strip().startswith("<"):
                    found.append(nxt.strip())
                    break
        if len(found) >= limit:
            break
    return " | ".join(found)


def _run(cmd: list[str], cwd: Path, timeout: float) -> tuple[int | None, str]:
    """Run ``cmd`` with stdin closed; on timeout kill its whole process group (TeX children too)."""
    proc = subprocess.Popen(cmd, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, _ = proc.communicate()
        return None, out.decode(errors="replace")
    return proc.returncode, out.decode(errors="replace")


def build_dir(out_dir: Path) -> Path:
    """Where TeX writes its build files (aux, log, fls, fdb_latexmk, out) for a report in
    ``out_dir``: a folder of the system's temporary directory named after ``out_dir``, reused and
    emptied on each build, so the report folder holds only the .tex, the PDF and the figures while
    the log of the last build stays readable (:attr:`ReportFiles.log`)."""
    key = hashlib.sha256(str(Path(out_dir).resolve()).encode()).hexdigest()[:16]
    d = Path(tempfile.gettempdir()) / f"attndyn-tex-{os.getuid() if hasattr(os, 'getuid') else 0}-{key}"
    shutil.rmtree(d, ignore_errors=True)
    d.mkdir(parents=True, exist_ok=True)
    return d


def compile_pdf(tex: Path, timeout: float | None = None) -> tuple[Path | None, str, Path | None]:
    """Compile ``tex`` (run in its directory, so relative figure paths resolve) with every build
    file in :func:`build_dir`; copy the PDF next to ``tex``.  Returns
    ``(pdf or None, reason if None, log or None)``."""
    timeout = REPORT.compile_timeout if timeout is None else timeout
    engine = tex_engine()
    if engine is None:
        return None, no_engine_reason(), None
    base = tex.with_suffix("")
    for suffix in _AUX_SUFFIXES:  # a stale PDF must not pass for a fresh one; old build files go
        base.with_suffix(suffix).unlink(missing_ok=True)
    build = build_dir(tex.parent)
    tex_opts = ["-interaction=nonstopmode", "-halt-on-error"]
    name, exe = engine
    if name == "latexmk":
        runs = [[exe, "-pdf", "-g", f"-outdir={build}", *tex_opts, tex.name]]
    else:  # twice: hyperlinks and longtable widths settle
        runs = [[exe, f"-output-directory={build}", *tex_opts, tex.name]] * 2
    log = build / base.with_suffix(".log").name
    for cmd in runs:
        code, output = _run(cmd, tex.parent, timeout)
        if code is None:
            return None, f"{name} timed out after {timeout:g}s (see {log})", log if log.exists() else None
        if code != 0:
            log_text = log.read_text(errors="replace") if log.exists() else ""
            errors = tex_errors(log_text) or " | ".join(output.strip().splitlines()[-3:])
            return None, f"{name} failed: {errors} (see {log})", log if log.exists() else None
    built = build / base.with_suffix(".pdf").name
    if not built.exists():
        return None, f"{name} finished but {built} was not written (see {log})", log if log.exists() else None
    pdf = base.with_suffix(".pdf")
    atomic_replace(pdf, built.read_bytes())
    return pdf, "", log if log.exists() else None


def write_report(results: list[ClaimResult], out_dir: Path, *, require_pdf: bool,
                 extra_sections: Sequence[Section] = (), predrawn: frozenset[Path] = frozenset()) -> ReportFiles:
    """Write ``out_dir/derivations.tex`` and compile it to ``derivations.pdf`` when TeX is available.

    ``predrawn``: the claims' figure files already drawn for this report (by the worker processes
    of ``verify --workers``); :func:`~attndyn.reports.latex.document.render` draws the others.

    With ``require_pdf`` a missing PDF (no TeX engine, a TeX error, a timeout) raises
    :class:`UsageError` carrying the reason; otherwise the reason is in the result.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        source = render(results, out_dir, extra_sections, predrawn)
        tex = out_dir / TEX_NAME
        atomic_replace(tex, source.encode("utf-8"))
    except OSError as exc:
        raise UsageError(f"report directory {out_dir}: cannot write there "
                         f"({exc.strerror or exc})") from None
    pdf, reason, log = compile_pdf(tex)
    overfull = tuple(overfull_hboxes(log.read_text(errors="replace"))) if (pdf and log) else ()
    files = ReportFiles(tex, pdf, reason, log, overfull)
    if require_pdf and pdf is None:
        raise UsageError(f"--require-pdf: no PDF was made: {reason} (the LaTeX source is {tex})")
    return files
