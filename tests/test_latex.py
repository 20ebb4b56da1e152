"""The LaTeX derivation report (reports/latex/), built from fake claims.

The PDF tests compile with the real TeX toolchain and read the result back with
pdftotext; they are skipped (with the reason) only where latexmk/pdftotext are
absent — CI installs both, so there they run.
"""
from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
import unicodedata
import zlib
from pathlib import Path

import pytest
import sympy as sp

import attndyn.reports.latex.compile as tex_compile
import attndyn.reports.latex.document as latex
import attndyn.reports.latex.mathlayout as tex_math
import attndyn.reports.latex.prose as tex_prose
from attndyn.proofs.claims.registry import Claim, ClaimResult, Outcome, Step
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import REPORT
from attndyn.reports.latex.document import Section
from attndyn.reports.latex.mathlayout import display_math
from attndyn.reports.latex.escape import escape_text
from attndyn.reports.latex.compile import overfull_hboxes, write_report

HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
HAVE_PDFTOTEXT = shutil.which("pdftotext") is not None
needs_pdf = pytest.mark.skipif(not (HAVE_TEX and HAVE_PDFTOTEXT),
                               reason="latexmk/pdflatex or pdftotext not on PATH "
                                      "(apt-get install texlive-latex-base texlive-latex-recommended "
                                      "latexmk poppler-utils)")
LONG_TITLE = ("A very long title with under_scores_in_it: the score_embedding_norm identity "
              "|q|^2 (|v|^2 - |v0|^2) = 2 (eta_v/eta_k) ((s - s0) + (e^s - e^s0)/m) holds & wraps")


def tiny_png(path: Path) -> Path:
    """A 4x4 grey PNG written by hand (no imaging library needed)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    raw = b"".join(b"\x00" + bytes([128] * 4) for _ in range(4))
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 8, 0, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def fake_results(fig: Path) -> list[ClaimResult]:
    x = sp.symbols("x1:7")
    s, m, eta_v, eta_k = sp.symbols("s m eta_v eta_k", positive=True)
    poly = sp.expand(sum(x) ** 4)  # 126 terms: must break over many lines
    num, den = sp.expand(sum(x) ** 3), sum(xi ** 2 for xi in x) + 1
    steps = [
        Step("Start from the model; nothing typed in."),
        Step("Expanded polynomial (a long sum)", f"P = {sp.latex(poly)}"),
        Step("A fraction with a long numerator", "F = " + sp.latex(num / den, long_frac_ratio=sp.oo)),
        Step("A long parenthesised factor",
             sp.latex(sp.sqrt(num) * sp.exp(s / m) * (eta_v / eta_k))),
        Step(r"Short: $H$ with $\eta_v, \eta_k > 0$",
             sp.latex(sp.Eq(sp.Symbol("H"), s * 2 - 2 * eta_v / eta_k * (s + sp.exp(s) / m)))),
        Step("Broken LaTeX is shown as text, not fatal", r"\frac{a}{b"),
    ]
    c1 = Claim("S1-fake_claim_with_underscores", LONG_TITLE, "symbolic", "verified",
               r"For every topic word $t$: $|q|^2(|v_t|^2 - |v_0|^2) = 2\frac{\eta_v}{\eta_k}"
               r"\left((s - s_0) + \frac{e^{s}-e^{s_0}}{m}\right)$ along the flow.",
               ("q fixed", r"\eta_v > 0", "non-topic words frozen: score $0$, embedding_zero"),
               lambda: None)
    o1 = Outcome("verified", "exact: simplifies to 0; max |err| = 3.1e-15 at 20 points", steps,
                 {"max_abs_error": 3.1e-15, "points": 20, "errors": [1e-16 * i for i in range(80)],
                  "file": "/a/very/long/path/to/some/file_name_with_underscores_and_more.npz"},
                 figures=[str(fig)])
    c2 = Claim("neg-one-over-m-plus-1", "Negative control: 1/(m+1) instead of 1/m", "symbolic",
               "refuted", r"\frac{d}{d\tau}\left(|q|^2 |v|^2 - 2\frac{\eta_v}{\eta_k}"
               r"\left(s + \frac{e^s}{m+1}\right)\right) = 0", (), lambda: None)
    o2 = Outcome("refuted", "does not simplify to 0", [
        Step("Specials in prose: 100% & # ~ ^ < > | \\ {} and inline $x_1$")], {})
    c3 = Claim("N1-numeric", "Numeric: SEN drift ≤ 1e-8 (η_v = η_k)", "numeric", "verified",
               "Max drift of H below tolerance", ("DOP853",), lambda: None)
    o3 = Outcome("error", "ZeroDivisionError: division by zero", [],
                 {"traceback": "Traceback (most recent call last):\n  File \"x.py\", line 1\n"
                               "ZeroDivisionError: division by zero"})
    return [ClaimResult(c1, o1, 1.234), ClaimResult(c2, o2, 0.05), ClaimResult(c3, o3, 12.5)]


def pdf_text(pdf: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                         text=True, check=True, timeout=60).stdout
    return squash(out)


def squash(text: str) -> str:
    """Compare text modulo line breaks, hyphenation, ligatures and typographic quotes."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}))
    return re.sub(r"[\s\-\u2010\u2212]+", "", text)


@pytest.fixture
def fig(tmp_path: Path) -> Path:
    return tiny_png(tmp_path / "a figure with spaces.png")


@needs_pdf
@pytest.mark.parametrize("font", ["lmodern", "attndyn-no-such-font"])  # CI may lack lmodern: OT1 fallback
def test_fake_report_compiles_fits_and_has_every_title(tmp_path, fig, monkeypatch, font):
    monkeypatch.setattr(latex, "FONT_PACKAGE", font)
    results = fake_results(fig)
    extra = Section("Extra section: paper_figure 3", r"Body with \emph{LaTeX}.", [fig])
    out = tmp_path / "out"
    files = write_report(results, out, require_pdf=True, extra_sections=[extra])
    assert files.tex == out / "derivations.tex" and files.pdf == out / "derivations.pdf"
    assert files.pdf.stat().st_size > 0 and files.pdf_reason == ""
    text = pdf_text(files.pdf)
    for r in results:
        assert squash(r.claim.title) in text, r.claim.title
        assert squash(r.claim.id) in text
    assert squash("attndyn: derivation report") in text
    assert squash(extra.title) in text
    # nothing runs into the margin: the log of the final pass has no wide overfull box
    log = files.log.read_text(errors="replace")
    wide = [w for w in overfull_hboxes(log) if w > REPORT.overfull_max_pt]
    assert wide == [], f"Overfull \\hbox beyond {REPORT.overfull_max_pt}pt: {wide}"
    assert "line(s) run into the margin" not in files.summary()
    # the figure (outside DIR, a name with spaces) was copied in and embedded, twice
    assert len(list((out / "figures").glob("*.png"))) == 2
    assert files.pdf.read_bytes().count(b"/Subtype /Image") >= 1
    # the long sum was broken into many lines, not squeezed onto one
    assert files.tex.read_text().count(r"\attnbrk") > 100


@needs_pdf
def test_overflow_detector_fires_on_a_line_that_does_not_fit(tmp_path):
    """Negative control for the margin check above: a wide unbreakable box must be reported."""
    wide = Section("Too wide", r"\mbox{" + "W" * 200 + "}", [])
    files = write_report([], tmp_path, require_pdf=True, extra_sections=[wide])
    assert files.pdf is not None
    assert max(files.overfull) > REPORT.overfull_max_pt
    assert "run into the margin" in files.summary()


@needs_pdf
def test_tex_error_gives_reason_and_no_stale_pdf(tmp_path):
    first = write_report([], tmp_path, require_pdf=True)
    assert first.pdf is not None and first.pdf.exists()
    bad = Section("Broken", r"\thisisnotacommand", [])
    files = write_report([], tmp_path, require_pdf=False, extra_sections=[bad])
    assert files.pdf is None and not (tmp_path / "derivations.pdf").exists()
    assert "Undefined control sequence" in files.pdf_reason
    assert "NO PDF was made" in files.summary() and "Undefined control sequence" in files.summary()
    with pytest.raises(UsageError, match="--require-pdf: no PDF was made: .*Undefined control"):
        write_report([], tmp_path, require_pdf=True, extra_sections=[bad])


def _processes_in(directory: Path) -> list[int]:
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            if Path(os.readlink(proc / "cwd")) == directory:
                found.append(int(proc.name))
        except OSError:
            pass
    return found


@needs_pdf
def test_tex_that_never_ends_is_killed_at_the_time_limit(tmp_path, monkeypatch):
    monkeypatch.setattr(tex_compile, "REPORT", tex_compile.REPORT.__class__(compile_timeout=3.0))
    loop = Section("Loop", r"\def\attnloop{\attnloop}\attnloop", [])
    files = write_report([], tmp_path, require_pdf=False, extra_sections=[loop])
    assert files.pdf is None and "timed out after 3s" in files.pdf_reason
    assert _processes_in(tmp_path.resolve()) == []  # latexmk and pdflatex both gone


def test_without_tex_engine_the_tex_is_written_and_the_reason_given(tmp_path, fig, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no latexmk, no pdflatex
    files = write_report(fake_results(fig), tmp_path, require_pdf=False)
    assert files.pdf is None and not (tmp_path / "derivations.pdf").exists()
    tex = files.tex.read_text()
    assert r"\begin{document}" in tex and r"\end{document}" in tex
    assert "latexmk" in files.pdf_reason and "pdflatex" in files.pdf_reason
    assert "NO PDF was made" in files.summary() and files.pdf_reason in files.summary()
    with pytest.raises(UsageError, match="--require-pdf: no PDF was made: no TeX engine"):
        write_report(fake_results(fig), tmp_path, require_pdf=True)


def test_document_structure(tmp_path, fig, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # only the .tex is looked at here
    results = fake_results(fig)
    tex = write_report(results, tmp_path, require_pdf=False).tex.read_text()
    assert r"\title{attndyn: derivation report}" in tex and r"\date{" in tex
    assert "Machine-generated" in tex
    sections = [m.start() for m in re.finditer(r"^\\section\{", tex, re.M)]
    assert len(sections) == len(results)
    assert tex.index(r"\begin{longtable}") < sections[0]  # the claims table comes first
    for label in ("Statement", "Assumptions", "Derivation", "Verdict"):
        assert tex.count(r"\subsection*{" + label + "}") == len(results)
    assert r"\begin{itemize}" in tex and r"\begin{enumerate}" in tex and r"\includegraphics" in tex
    # details keys as named quantities (quantities.py), an unknown key in its own words, no dump
    assert "max absolute error & $3.1\\times 10^{-15}$ & abs." in tex
    assert "file & " in tex and "\\textbf{quantity}" in tex and "max\\attnus{}abs" not in tex
    assert tex.count(r"\item ") >= len(results[0].outcome.steps) + 3
    # bad step LaTeX is shown as text and does not leak into math
    assert r"\texttt{\textbackslash{}frac\{a\}\{b}" in tex


def test_unwritable_out_dir_is_a_usage_error(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(UsageError, match="cannot write there"):
        write_report([], blocker / "sub", require_pdf=False)


def test_escape_text_leaves_no_special_character_active():
    s = escape_text("a_b & c % d # e $ f ^ g ~ h { i } j \\ k < l > m | n -- o")
    for raw in ("&", "%", "#", "$", "^", "~"):
        assert re.search(r"(?<!\\)" + re.escape(raw), s) is None, raw
    assert r"\attnus{}" in s and r"-{}-" in s
    assert escape_text("x" * 45).count(r"\attnbr{}") == 4  # long unbroken runs may break


def _bare(tex: str) -> str:
    return re.sub(r"\s+|\{\}", "", tex)


def test_chunks_cut_only_at_top_level_and_lose_nothing():
    tex = r"a = - b + \frac{c + d}{e} - \left(f - g\right)^{2} \cdot h_{i + j} + \sqrt{k - l}"
    chunks = tex_math._chunks(tex)
    assert [c for _, c in chunks] == [
        "a", "= - b", r"+ \frac{c + d}{e}", r"- \left(f - g\right)^{2}", r"\cdot h_{i + j}",
        r"+ \sqrt{k - l}"]
    assert [p for p, _ in chunks][4] > [p for p, _ in chunks][2]  # products break less readily
    assert _bare("".join(c for _, c in chunks)) == _bare(tex)
    aligned = tex_math._chunks(r"a &= b \\ c &= d")
    assert len(aligned) == 1 and aligned[0][1].startswith(r"\begin{aligned}")


def test_a_too_wide_group_is_opened_without_changing_the_mathematics():
    x = sp.symbols("x1:7")
    num, den = sp.expand(sum(x) ** 3), sp.Symbol("D")
    tex = sp.latex(sp.Mul(num, sp.Pow(den, -1), evaluate=False), long_frac_ratio=sp.oo)
    assert tex_math._split_top(tex_math._tokens(tex)) is not None
    chunks = [c for _, c in tex_math._chunks(tex)]
    assert len(chunks) == len(num.args)  # one chunk per term of the numerator
    assert chunks[0].startswith(r"\frac{1}{D}") and r"\biggl(" in chunks[0]
    assert chunks[-1].rstrip().endswith(r"\biggr)")
    # the opened form is the same value: 1/D times the numerator's terms
    joined = _bare("".join(chunks)).replace(r"\frac{1}{D}", "").replace(r"\biggl(", "").replace(r"\biggr)", "")
    assert joined == _bare(sp.latex(num))


def test_display_math_falls_back_to_text_and_truncates():
    assert r"\attndisplay" not in display_math(r"\frac{a}{b")  # unbalanced: shown as text
    assert r"\attndisplay" not in display_math(r"a \right) b")
    long = " + ".join(f"x_{{{i}}}" for i in range(50))
    shown = display_math(long, max_terms=10)
    assert shown.count(r"\attnchunk") == 11 and "first 10 of 50 terms" in shown


def test_prose_keeps_the_latex_an_author_types_and_escapes_the_rest():
    out = tex_prose.prose(r"see \texttt{attndyn.proofs.sen.sen\_curve} and \emph{any} 5% of a_b, with $x + y$")
    assert r"\texttt{attndyn.proofs.sen.sen\attnus{}curve}" in out and r"\emph{any}" in out
    assert r"5\%" in out and r"a\attnus{}b" in out
    assert r"\attninline{\attnchunk{x}\attnbrk{0}" in out
    assert tex_prose.prose(r"\unknown{x} costs $5") == r"\textbackslash{}unknown\{x\} costs \$5"


def test_inline_math_breaks_at_top_level_only():
    out = tex_math.inline_math(r"a = \left(b + c\right) - d")
    assert out.count(r"\attnchunk") == 3 and r"\biggl" not in out


@needs_pdf
def test_pdflatex_alone_is_used_when_latexmk_is_missing(tmp_path, monkeypatch):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "pdflatex").symlink_to(shutil.which("pdflatex"))
    monkeypatch.setenv("PATH", str(bin_dir))
    assert tex_compile.tex_engine()[0] == "pdflatex"
    files = write_report([], tmp_path / "out", require_pdf=True,
                         extra_sections=[Section("Only section", "Text.", [])])
    assert files.pdf is not None and files.pdf.stat().st_size > 0
    log = files.log.read_text(errors="replace")
    assert not re.search(r"Rerun to get|Rerun LaTeX", log)  # two passes settled references and tables
