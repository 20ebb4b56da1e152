r"""The LaTeX derivation report: ``DIR/derivations.tex``, compiled to ``DIR/derivations.pdf``.

The document has a title page note, a table of every claim (id, title, kind,
expected, status, seconds, ok), then one ``\section`` per claim: the statement,
the assumptions, the numbered derivation steps (``Step.text`` as prose,
``Step.latex`` displayed), the verdict with its reason and details, and the
claim's figures.  Later issues append :class:`Section`\ s (reproduced figures,
counterexamples) through ``extra_sections``.

What each field of a claim is taken to be
-----------------------------------------
* ``Claim.id``, ``Claim.title``, ``Outcome.reason``, details: plain text; every
  LaTeX special character is escaped.
* ``Step.text``, ``Claim.assumptions``, ``Claim.statement``: prose with inline
  math between ``$...$``.  Outside the dollars the text is printed as typed,
  except for a little LaTeX an author may use: ``\texttt{}``, ``\emph{}``,
  ``\textbf{}`` and kin, escaped specials (``\_``, ``\%``...) and thin spaces
  (see :func:`prose`).  A statement or assumption with no ``$`` that reads as a
  formula (no word of three letters or more) is typeset as math.  Unbalanced
  dollars make the whole field text; unbalanced math is shown as code.
* ``Step.latex``: math (as :func:`sympy.latex` renders it).

Nothing runs off the page
-------------------------
A displayed formula is cut (in Python) at its top-level ``+``/``-``, relations
and ``\cdot`` into *chunks*; the TeX macro ``\attndisplay`` centres the formula
when it fits the line, and otherwise lets TeX's paragraph builder break it
between chunks, continuation lines indented.  A chunk still wider than a line is
opened at its widest group, rewritten to the same value in breakable form
(``\left(A+B\right)`` as ``\biggl(A+B\biggr)``, ``\frac{A+B}{D}`` as
``\frac{1}{D}\biggl(A+B\biggr)``, ``\sqrt{A+B}`` as ``\biggl(A+B\biggr)^{1/2}``);
what is left unbreakable is scaled down to the line width.  Inline math in prose
breaks the same way inside the paragraph (``\attninline``).
``Section.body_latex`` authors can use ``\attndisplay`` via :func:`display_math`,
or ``\attnfit{...}`` (one shrink-to-fit formula).  ``\hfuzz`` is left at LaTeX's
default so that any remaining overflow shows in the log (:attr:`ReportFiles.overfull`).

Compilation
-----------
``latexmk -pdf -interaction=nonstopmode -halt-on-error`` in ``DIR`` (or two
``pdflatex`` passes when latexmk is missing), stdin closed, a time limit
(``attndyn.proofs.settings.REPORT.compile_timeout``) after which the whole process group
is killed: a TeX error never hangs the caller.  Without a TeX engine the .tex is
still written and :attr:`ReportFiles.pdf_reason` says why there is no PDF.
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
import datetime
import json
import os
from pathlib import Path
import re
import shlex
import shutil
from typing import Iterable, Sequence

import attndyn.proofs.settings as settings
from attndyn.proofs.claims.registry import ClaimResult
from attndyn.proofs.settings import REPORT
from attndyn.proofs.claims.figures import FigureSpec
from attndyn.reports.latex.details import details_tex
from attndyn.reports.latex.figures import draw, width_fraction
from attndyn.reports.latex.escape import breakable_tt, escape_id, escape_text, pdf_string
from attndyn.reports.latex.mathlayout import display_math
from attndyn.reports.latex.prose import assumption_tex, prose, statement_tex

TEX_NAME = "derivations.tex"
TITLE = "attndyn: derivation report"
# Latin Modern + T1 gives real underscore glyphs (searchable PDF text); it is only
# a Recommends of texlive-base, so the document falls back to OT1 without it.
# Tests set this to a missing name to exercise the fallback.
FONT_PACKAGE = "lmodern"
FIGURE_TYPES = (".pdf", ".png", ".jpg", ".jpeg")  # what pdflatex's \includegraphics reads


# --------------------------------------------------------------------------- public types
@dataclass(frozen=True)
class Section:
    """An extra section appended after the claims (later issues: reproductions, counterexamples).

    ``body_latex`` is ready LaTeX (use :func:`escape_text`, :func:`prose` and
    :func:`display_math` to build it); ``figures`` are image files (PDF/PNG/JPEG)
    placed after the body, full line width.
    """

    title: str  # plain text, escaped by the report
    body_latex: str
    figures: Sequence[Path] = field(default_factory=list)


# --------------------------------------------------------------------------- the document
PREAMBLE_FILE = Path(__file__).with_name("preamble.tex")  # package data (pyproject.toml)


def preamble() -> str:
    """The report's LaTeX preamble, from the template shipped beside this module."""
    return PREAMBLE_FILE.read_text(encoding="utf-8").replace("@FONT@", FONT_PACKAGE)



def shell_path(path: Path) -> str:
    """``path`` as a command line should print it: relative to the current directory (the
    repository root, for the README's commands) when inside it, else absolute; shell-quoted."""
    p = Path(path).resolve()
    try:
        p = p.relative_to(Path.cwd().resolve())
    except ValueError:
        pass
    return shlex.quote(p.as_posix())


def rebuild_command(out_dir: Path) -> str:
    """The command that rebuilds this report as printed on its title page: from the
    ``verify.json`` beside it when there is one (no claim re-run), else by re-running the claims."""
    if (Path(out_dir) / "verify.json").is_file():
        return f"attndyn report --from {shell_path(Path(out_dir) / 'verify.json')}"
    return f"attndyn report --out {shell_path(Path(out_dir))}"


def _now() -> datetime.datetime:
    """The report's date; ``SOURCE_DATE_EPOCH`` (reproducible builds) overrides the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    return datetime.datetime.now().astimezone()


def _version() -> str:
    try:
        from importlib.metadata import version  # deferred: only this branch needs it

        return version("attndyn")
    except Exception:  # not installed (running from a source tree): the report still builds
        return "unknown"


def _colw(frac: float, ncols: int) -> str:
    """A p-column width so that ``ncols`` columns with fractions summing to 1 fill the line.

    With ``@{}`` at both edges there are ``2 (ncols - 1)`` tabcolseps to share.
    """
    share = 2 * (ncols - 1) / ncols
    return rf"p{{\dimexpr {frac:.4f}\linewidth-{share:.4f}\tabcolsep\relax}}"


_CLAIM_COLS = (("claim", 0.21), ("title", 0.30), ("kind", 0.11), ("expected", 0.12),
               ("status", 0.11), ("time (s)", 0.09), ("ok", 0.06))


def _claims_table(results: Sequence[ClaimResult]) -> str:
    n = len(_CLAIM_COLS)
    spec = "@{}" + "".join(r">{\raggedright\arraybackslash}" + _colw(w, n) for _, w in _CLAIM_COLS) + "@{}"
    head = " & ".join(rf"\textbf{{{name}}}" for name, _ in _CLAIM_COLS) + r" \\"
    rows = []
    for i, r in enumerate(results, 1):
        ok = r"yes" if r.ok else r"\textcolor{attnbad}{\textbf{NO}}"
        status = escape_text(r.outcome.status)
        if not r.ok:
            status = rf"\textcolor{{attnbad}}{{{status}}}"
        rows.append(" & ".join([
            rf"\hyperref[claim:{i}]{{\texttt{{{escape_id(r.claim.id)}}}}}",
            escape_text(r.claim.title), escape_text(r.claim.kind), escape_text(r.claim.expected),
            status, f"{r.seconds:.2f}", ok]) + r" \\")
    return "\n".join([
        r"\begingroup\small",
        r"\begin{longtable}{" + spec + "}",
        r"\toprule", head, r"\midrule", r"\endfirsthead",
        r"\toprule", head, r"\midrule", r"\endhead",
        r"\bottomrule", r"\endlastfoot",
        *rows,
        r"\end{longtable}",
        r"\endgroup",
    ])


def _plain(v: object) -> object:
    """NumPy values to Python ones, floats rounded to 4 significant digits for display."""
    if hasattr(v, "tolist"):
        v = v.tolist()  # numpy scalar or array
    if isinstance(v, float):
        return float(f"{v:.4g}")
    if isinstance(v, dict):
        return {str(k): _plain(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_plain(x) for x in v]
    return v


def _format_value(v: object) -> str:
    """A details value as one short line of text (a dict as ``key: value; ...``)."""
    v = _plain(v)
    if v is None or isinstance(v, bool):
        s = "none" if v is None else str(v).lower()
    elif isinstance(v, float):
        s = f"{v:.4g}"
    elif isinstance(v, (int, str)):
        s = str(v)
    elif isinstance(v, dict):
        s = "; ".join(f"{k}: {_format_value(x)}" for k, x in v.items())
    else:
        try:
            s = json.dumps(v, default=str, separators=(", ", ": "))
        except (TypeError, ValueError):
            s = repr(v)
    if len(s) > REPORT.detail_chars:
        s = s[: REPORT.detail_chars - 3] + "..."
    return s


def _details_table(details: dict) -> str:
    """The details as tables of named quantities (:mod:`attndyn.reports.latex.details`)."""
    return details_tex(details)


def _figure_block(rel: Path, caption_tex: str, width: float = 1.0) -> str:
    r"""An image at ``width`` of the line with a numbered caption, kept beside its text (no float)."""
    return "\n".join([
        r"\par\noindent\begin{minipage}{\linewidth}\centering",
        rf"\includegraphics[width={width:.2f}\linewidth,height=0.42\textheight,keepaspectratio]{{{rel.as_posix()}}}",
        r"\refstepcounter{figure}\par\vspace{2pt}{\small\raggedright\textbf{Figure~\thefigure.} "
        + caption_tex + r"\par}",
        r"\end{minipage}\par\medskip",
    ])


def claim_tag(i: int) -> str:
    """The file-name tag of the ``i``-th claim's figures (1-based, the report's order)."""
    return f"claim{i}"


def figure_file(tag: str, n: int) -> Path:
    """Where the ``n``-th drawn figure of ``tag`` goes, relative to the report directory."""
    return Path("figures") / f"{tag}-{n}.pdf"


def draw_figures(specs: Iterable[object], out_dir: Path, tag: str) -> frozenset[Path]:
    """Draw the :class:`FigureSpec` entries with panels of ``specs`` where :func:`_figures` would
    (a claim's figures, drawn by the worker process that ran it); the resolved paths drawn.  A
    figure that fails to draw is left out: :func:`_figures` then tries again and notes the error."""
    drawn = set()
    for n, spec in enumerate(specs, 1):
        if isinstance(spec, FigureSpec) and spec.panels:
            path = Path(out_dir) / figure_file(tag, n)
            try:
                draw(spec, path)
            except Exception:  # reported by _figures' own attempt, in the report
                continue
            drawn.add(path.resolve())
    return frozenset(drawn)


def _figures(paths: Iterable[object], out_dir: Path, tag: str, predrawn: frozenset[Path] = frozenset()) -> str:
    """Figures as full-width images with captions; missing or unreadable ones become a note,
    not a TeX error.

    An entry is a :class:`~attndyn.proofs.claims.figures.FigureSpec` (drawn into
    ``out_dir/figures/TAG-N.pdf``, or its ``path`` included, under its caption) or a path.
    ``predrawn``: figure files already drawn for this report (:func:`draw_figures` on the workers
    of ``verify --workers``), included without drawing them again.
    A relative path is taken relative to the current directory, then to ``out_dir``.
    Figures outside ``out_dir`` (or with names TeX dislikes) are copied into
    ``out_dir/figures`` so the report directory is self-contained.  A bare path has no
    caption of its own: the file name stands in.
    """
    out = []
    for n, raw in enumerate(paths, 1):
        caption = None
        if isinstance(raw, FigureSpec):
            caption = prose(raw.caption)
            if raw.panels:
                rel = figure_file(tag, n)
                try:
                    if (out_dir / rel).resolve() not in predrawn:
                        draw(raw, out_dir / rel)
                except Exception as exc:  # a drawing bug must not lose the report
                    out.append(r"\par\noindent\emph{Figure not drawn (" + escape_text(f"{type(exc).__name__}: {exc}")
                               + "):} " + caption + r"\par")
                    continue
                out.append(_figure_block(rel, caption, width_fraction(len(raw.panels))))
                continue
            raw = raw.path
        p = Path(raw)
        cand = [p] if p.is_absolute() else [Path.cwd() / p, out_dir / p]
        found = next((c for c in cand if c.is_file()), None)
        if found is None:
            out.append(r"\par\noindent\emph{Figure missing:} " + breakable_tt(str(raw)) + r"\par")
            continue
        if found.suffix.lower() not in FIGURE_TYPES:
            out.append(r"\par\noindent\emph{Figure not included (pdflatex reads "
                       + escape_text(", ".join(FIGURE_TYPES)) + "):} " + breakable_tt(str(raw)) + r"\par")
            continue
        found = found.resolve()
        try:
            rel = found.relative_to(out_dir.resolve())
        except ValueError:
            rel = None
        if rel is None or not re.fullmatch(r"[A-Za-z0-9_./-]+", rel.as_posix()) or rel.stem.count(".") > 0:
            safe = re.sub(r"[^A-Za-z0-9-]+", "-", found.stem).strip("-") or "figure"
            rel = Path("figures") / f"{tag}-{n}-{safe}{found.suffix.lower()}"
            (out_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(found, out_dir / rel)
        out.append(_figure_block(rel, caption if caption is not None else breakable_tt(Path(str(raw)).name)))
    return "\n".join(out)


def _claim_section(i: int, r: ClaimResult, out_dir: Path, predrawn: frozenset[Path] = frozenset()) -> str:
    c, o = r.claim, r.outcome
    verdict_colour = "attngood" if r.ok else "attnbad"
    agree = "as expected" if r.ok else r"\textbf{NOT as expected}"
    parts = [
        rf"\section{{\texorpdfstring{{\texttt{{{escape_id(c.id)}}}: {escape_text(c.title)}}}"
        rf"{{{pdf_string(c.id + ': ' + c.title)}}}}}\label{{claim:{i}}}",
        rf"\textbf{{Kind:}} {escape_text(c.kind)}. \textbf{{Expected:}} {escape_text(c.expected)}.",
        "",
        r"\subsection*{Statement}",
        statement_tex(c.statement) if c.statement.strip() else r"\emph{No statement recorded.}",
        "",
    ]
    if r.setting is not None:  # issue 10: measured on a user's setting, not under the paper's assumptions
        on = o.details.get("statement_on_setting")
        parts += [r"\textbf{Measured on the setting} \texttt{" + escape_id(r.setting) + r"}"
                  + (r": " + statement_tex(on) if on else r" (its config is in \texttt{verify.json});")
                  + r" the paper's statement and assumptions are shown for reference.", ""]
    parts += [
        r"\subsection*{Assumptions}",
    ]
    if c.assumptions:
        parts += [r"\begin{itemize}"] + [r"\item " + assumption_tex(a) for a in c.assumptions] + [r"\end{itemize}"]
    else:
        parts.append(r"\emph{None stated.}")
    parts += ["", r"\subsection*{Derivation}"]
    if o.steps:
        parts.append(r"\begin{enumerate}")
        for step in o.steps:
            item = r"\item " + (prose(step.text) if step.text.strip() else "")
            if step.latex.strip():
                item += "\n" + display_math(step.latex)
            parts.append(item)
        parts.append(r"\end{enumerate}")
    else:
        parts.append(r"\emph{No derivation steps recorded.}")
    parts += [
        "",
        r"\subsection*{Verdict}",
        rf"\textcolor{{{verdict_colour}}}{{\textbf{{{escape_text(o.status)}}}}} "
        rf"(expected {escape_text(c.expected)}: {agree}), in {r.seconds:.2f}\,s.",
        "",
        r"\textbf{Reason:} " + escape_text(o.reason or "(none given)"),
        "",
    ]
    if o.figures:  # the evidence first, beside the verdict it supports; then the numbers
        parts += [_figures(o.figures, out_dir, claim_tag(i), predrawn), ""]
    parts += [_details_table({k: v for k, v in o.details.items() if k != "statement_on_setting"})]
    tb = o.details.get("traceback")
    if tb:
        lines = str(tb).rstrip().splitlines()[-REPORT.traceback_lines:]
        parts += [r"\textbf{Traceback (last lines):}", "",
                  r"{\footnotesize\raggedright " + r"\\ ".join(breakable_tt(ln) for ln in lines) + r"\par}"]
    return "\n".join(parts) + "\n"


def _settings_section() -> str:
    """The tolerances the verdicts used, read from proofs/settings.py (the one place they live)."""
    rows = []
    for name in dir(settings):
        obj = getattr(settings, name)
        if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
            for f in dataclasses.fields(obj):
                rows.append((f"{name}.{f.name}", _format_value(getattr(obj, f.name))))
    if not rows:
        return ""
    spec = (r"@{}>{\raggedright\arraybackslash}" + _colw(0.45, 2)
            + r">{\raggedright\arraybackslash}" + _colw(0.55, 2) + "@{}")
    body = [rf"{breakable_tt(k)} & {breakable_tt(v)} \\" for k, v in rows]
    return "\n".join([r"\section*{Settings used}",
                      r"The tolerances and sample counts of \texttt{proofs/settings.py} for this run.",
                      "", r"\begingroup\small", r"\begin{longtable}{" + spec + "}",
                      r"\toprule \textbf{setting} & \textbf{value} \\ \midrule \endhead",
                      r"\bottomrule \endlastfoot", *body, r"\end{longtable}", r"\endgroup"])


def render(results: Sequence[ClaimResult], out_dir: Path, extra_sections: Sequence[Section] = (),
           predrawn: frozenset[Path] = frozenset()) -> str:
    """The complete LaTeX source of the report (copies figures into ``out_dir/figures``; draws the
    claims' figures not in ``predrawn``)."""
    now = _now()
    n_ok = sum(r.ok for r in results)
    kinds = {}
    for r in results:
        kinds[r.claim.kind] = kinds.get(r.claim.kind, 0) + 1
    kinds_txt = ", ".join(f"{n} {escape_text(k)}" for k, n in kinds.items()) or "none"
    bad = len(results) - n_ok
    summary = (rf"{len(results)} claim(s) ({kinds_txt}): {n_ok} as expected"
               + (rf", \textcolor{{attnbad}}{{\textbf{{{bad} not as expected}}}}" if bad else "") + ".")
    doc = [
        preamble(),
        r"\title{" + escape_text(TITLE) + "}",
        r"\author{}",
        r"\date{" + escape_text(now.strftime("%Y-%m-%d %H:%M %Z").strip()) + "}",
        r"\begin{document}",
        r"\maketitle",
        r"\vspace{-2\baselineskip}",
        r"\begin{center}\small\emph{Machine-generated by \texttt{attndyn} "
        + escape_text(_version()) + r" from its claim registry; do not edit by hand, rebuild it with} "
        + breakable_tt(rebuild_command(out_dir)) + r"\emph{.}\end{center}",
        "",
        r"Each claim below is derived from the one model definition, and its verdict is "
        r"checked exactly (SymPy) or numerically as stated. A negative control is expected "
        r"to be \emph{refuted}. " + summary,
        "",
        r"\section*{Claims}",
        _claims_table(results) if results else r"\emph{No claims were run.}",
        "",
    ]
    for i, r in enumerate(results, 1):
        doc.append(_claim_section(i, r, out_dir, predrawn))
    for k, sec in enumerate(extra_sections, 1):
        doc += [rf"\section{{\texorpdfstring{{{escape_text(sec.title)}}}{{{pdf_string(sec.title)}}}}}",
                sec.body_latex, _figures(sec.figures, out_dir, f"section{k}"), ""]
    doc += [_settings_section(), r"\end{document}", ""]
    return "\n".join(doc)
