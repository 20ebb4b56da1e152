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
(``proofs.settings.REPORT.compile_timeout``) after which the whole process group
is killed: a TeX error never hangs the caller.  Without a TeX engine the .tex is
still written and :attr:`ReportFiles.pdf_reason` says why there is no PDF.
"""
from __future__ import annotations

import dataclasses
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

from proofs.claims import ClaimResult
from proofs.errors import UsageError
from proofs.settings import REPORT

TEX_NAME = "derivations.tex"
TITLE = "attndyn: derivation report"
# Latin Modern + T1 gives real underscore glyphs (searchable PDF text); it is only
# a Recommends of texlive-base, so the document falls back to OT1 without it.
# Tests set this to a missing name to exercise the fallback.
FONT_PACKAGE = "lmodern"
FIGURE_TYPES = (".pdf", ".png", ".jpg", ".jpeg")  # what pdflatex's \includegraphics reads
_AUX_SUFFIXES = (".aux", ".out", ".toc", ".fls", ".fdb_latexmk", ".pdf", ".log")


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


# --------------------------------------------------------------------------- escaping
_TEXT_ESCAPES = {
    "\\": r"\textbackslash{}",
    "{": r"\{",
    "}": r"\}",
    "$": r"\$",
    "&": r"\&",
    "#": r"\#",
    "%": r"\%",
    "_": r"\attnus{}",
    "^": r"\attncaret{}",
    "~": r"\attntilde{}",
    "<": r"\textless{}",
    ">": r"\textgreater{}",
    "|": r"\textbar{}",
    "`": r"\textasciigrave{}",
    "/": r"/\attnbr{}",
}
# Unicode a title or a message may contain, rendered without extra packages.
_UNICODE_MATH = {
    "≤": r"\leq", "≥": r"\geq", "≠": r"\neq", "≈": r"\approx", "→": r"\to", "←": r"\leftarrow",
    "⇒": r"\Rightarrow", "∞": r"\infty", "∑": r"\sum", "∂": r"\partial", "∇": r"\nabla",
    "·": r"\cdot", "×": r"\times", "±": r"\pm", "√": r"\surd", "‖": r"\|", "∈": r"\in",
    "²": r"^{2}", "³": r"^{3}", "⁻": r"^{-}", "≡": r"\equiv", "∝": r"\propto", "∘": r"\circ",
    "ℓ": r"\ell", "∀": r"\forall", "∃": r"\exists", "−": "-",
}
_UNICODE_TEXT = {"–": "--", "—": "---", "‘": "`", "’": "'", "“": "``", "”": "''", "…": r"\dots{}",
                 "\u00a0": "~"}
_LONG_RUN = re.compile(r"[A-Za-z0-9]{20,}")


def _unicode_char(ch: str, in_math: bool) -> str:
    """A non-ASCII character as LaTeX that pdflatex accepts in any font encoding."""
    if ch in _UNICODE_MATH:
        tex = _UNICODE_MATH[ch]
        return tex if in_math else f"${tex}$"
    if not in_math and ch in _UNICODE_TEXT:
        return _UNICODE_TEXT[ch]
    name = unicodedata.name(ch, "")
    if name.startswith("GREEK ") and " LETTER " in name:
        base = name.split(" LETTER ")[1].split()[0].lower()
        if base == "lamda":
            base = "lambda"
        cap = "CAPITAL" in name and base not in ("alpha", "beta", "epsilon", "zeta", "eta", "iota",
                                                   "kappa", "mu", "nu", "omicron", "rho", "tau", "chi")
        tex = "\\" + (base.capitalize() if cap else base)
        if "CAPITAL" in name and not cap:
            tex = {"alpha": "A", "beta": "B", "epsilon": "E", "zeta": "Z", "eta": "H", "iota": "I",
                   "kappa": "K", "mu": "M", "nu": "N", "omicron": "O", "rho": "P", "tau": "T",
                   "chi": "X"}[base]
        elif base == "omicron":
            tex = "o"
        return tex if in_math else f"${tex}$"
    if 0xA0 <= ord(ch) <= 0xFF and ch.isalpha() and not in_math:
        return ch  # Latin-1 letters: LaTeX's utf8 input handles them in OT1 and T1
    decomposed = unicodedata.normalize("NFKD", ch).encode("ascii", "ignore").decode()
    if decomposed and decomposed.isprintable():
        return decomposed if in_math else escape_text(decomposed)
    return r"\mbox{?}" if in_math else "?"


def escape_text(text: object) -> str:
    """Plain text -> LaTeX text: specials escaped, breaks allowed after ``_`` and ``/`` and in long runs."""
    s = str(text)
    s = _LONG_RUN.sub(lambda m: r"\attnbr{}".join(m.group(0)[i:i + 10]
                                                   for i in range(0, len(m.group(0)), 10)), s)
    out = []
    i = 0
    while i < len(s):
        if s.startswith(r"\attnbr{}", i):  # inserted just above: keep
            out.append(r"\attnbr{}")
            i += len(r"\attnbr{}")
            continue
        ch = s[i]
        if ch in _TEXT_ESCAPES:
            out.append(_TEXT_ESCAPES[ch])
        elif ch == "-" and s.startswith("-", i + 1):
            out.append("-{}")  # no en/em-dash ligature inside ids like neg--x
        elif ch in "\n\t\r":
            out.append(" ")
        elif ord(ch) > 127:
            out.append(_unicode_char(ch, in_math=False))
        elif ch.isprintable():
            out.append(ch)
        i += 1
    return "".join(out)


def escape_id(text: object) -> str:
    """An identifier for typewriter type, which does not break at hyphens by itself."""
    return escape_text(text).replace("-", r"-\attnbr{}")


def _pdf_string(text: str) -> str:
    """A bookmark-safe rendering of a title (PDF outline entries take no markup)."""
    return re.sub(r"[^A-Za-z0-9 .,:;()+=/'!?-]", " ", text)


def _math_ok(tex: str) -> bool:
    """True if ``tex`` can go into a macro argument in math mode without derailing the document."""
    if any(bad in tex for bad in ("#", "$", r"\[", r"\]", r"\(", r"\)", "\\end{document}")):
        return False
    if re.search(r"(?<!\\)%", tex):
        return False
    depth = 0
    lr = 0
    envs: list[str] = []
    for tok in _tokens(tex):
        if tok == "{":
            depth += 1
        elif tok == "}":
            depth -= 1
            if depth < 0:
                return False
        elif tok == r"\left":
            lr += 1
        elif tok == r"\right":
            lr -= 1
            if lr < 0:
                return False
    for m in re.finditer(r"\\(begin|end)\s*\{([^}]*)\}", tex):
        if m.group(1) == "begin":
            envs.append(m.group(2))
        elif not envs or envs.pop() != m.group(2):
            return False
    return depth == 0 and lr == 0 and not envs


def _math_unicode(tex: str) -> str:
    return "".join(_unicode_char(c, in_math=True) if ord(c) > 127 else c for c in tex)


_TOKEN = re.compile(r"\\[A-Za-z]+\*?|\\.|\s+|.", re.S)


def _tokens(tex: str) -> list[str]:
    return _TOKEN.findall(tex)


_RELATIONS = {"=", "<", ">", r"\leq", r"\geq", r"\le", r"\ge", r"\neq", r"\ne", r"\approx",
              r"\equiv", r"\sim", r"\simeq", r"\to", r"\rightarrow", r"\Rightarrow",
              r"\implies", r"\iff", r"\propto", r"\mapsto", r"\ll", r"\gg", r"\leqslant",
              r"\geqslant", r"\longrightarrow", r"\Longrightarrow", r"\coloneqq"}
_ADDITIVE = {"+", "-", r"\pm", r"\mp"}
_PRODUCT = {r"\cdot", r"\times"}
_OPERATORS = _RELATIONS | _ADDITIVE | _PRODUCT
# penalties of a line break before a chunk: + and - and relations alike (so the
# fewest lines win), products less welcome, and each level inside an opened
# group (see _open_group) a little less welcome than the level outside it
_PENALTY = {"rel": 0, "add": 0, "mul": 300, "comma": 0}
_PAREN_PENALTY = 200
_COMMA = "\x00comma"  # first token of a piece cut after a comma (never in real LaTeX)
_INNER_PENALTY = 50
_FIXED_DELIMS = {r"\bigl", r"\Bigl", r"\biggl", r"\Biggl", r"\bigr", r"\Bigr", r"\biggr", r"\Biggr"}
_OPENINGS = ("{", r"\begin", r"\left")
_CLOSINGS = ("}", r"\end", r"\right")
# a chunk wider than about a display line (in symbols) is worth breaking inside
# its biggest group; narrower ones are shrunk by \attnchunk if they still overflow
_OPEN_SYMBOLS = 70
_OPEN_LEVELS = 4
_STRUCTURAL = {r"\left", r"\right", r"\frac", r"\dfrac", r"\tfrac", r"\mathrm", r"\mathbf",
               r"\operatorname", r"\text", r"\mathit", r"\begin", r"\end", r"\displaystyle"}

Piece = tuple[int, list[str]]  # (penalty of a break before it, its tokens)


def _symbols(toks: Sequence[str]) -> int:
    """Rough printed width of a token list, in symbols (what a display line holds ~70 of)."""
    return sum(1 for t in toks if not t.isspace() and t not in ("{", "}", "^", "_")
               and t not in _STRUCTURAL)


def _group_end(toks: Sequence[str], i: int) -> int:
    r"""Index just past the group opened at ``toks[i]`` (a ``{``, ``\left`` or ``\begin``)."""
    depth = 0
    j = i
    while j < len(toks):
        t = toks[j]
        if t in _OPENINGS:
            depth += 1
        elif t in _CLOSINGS:
            depth -= 1
            if depth == 0:
                if t == r"\right":  # its delimiter belongs to the group
                    j += 1
                    while j < len(toks) and toks[j].isspace():
                        j += 1
                elif t == r"\end":  # and the environment name
                    j = _group_end(toks, j + 1) - 1 if j + 1 < len(toks) and toks[j + 1] == "{" else j
                return j + 1
        j += 1
    return len(toks)


def _split_top(toks: Sequence[str]) -> list[Piece] | None:
    r"""Cut a token list at its top-level relations, ``+``/``-``, products and commas.

    Depth counts braces, ``\left``/``\right`` pairs and environments, so nothing
    is cut inside a group; a sign right after an operator, a relation or an
    opening is unary and stays with its operand.  A cut after a comma starts a
    piece with :data:`_COMMA` (the comma's space becomes discardable glue).  Cuts
    inside plain ``( )``/``[ ]`` are allowed but cost :data:`_PAREN_PENALTY` per
    level.  ``None`` when the list has a top-level ``&`` or ``\\`` (the author
    laid out lines already).
    """
    depth = 0
    parens = 0  # plain ( and [ nesting, for penalties only
    pieces: list[Piece] = [(0, [])]
    last = None  # last significant token at depth 0 (a closed group counts as an operand)
    expect_delim = False  # the delimiter after \left, \right, \middle, \biggl, ...
    opening = False
    for tok in toks:
        if expect_delim:
            pieces[-1][1].append(tok)
            if not tok.isspace():
                expect_delim = False
                if depth == 0:
                    last = "(" if opening else "group"  # a sign after an opening is unary
            continue
        if depth == 0 and not tok.isspace():
            if tok in ("&", "\\\\"):
                return None
            kind = None
            if tok in _RELATIONS and last is not None and last not in _RELATIONS and last != ":":
                kind = "rel"
            elif tok in _ADDITIVE and last is not None and last not in _OPERATORS \
                    and last not in ("^", "_", "(", "[", ","):
                kind = "add"
            elif tok in _PRODUCT and last is not None and last not in _OPERATORS:
                kind = "mul"
            elif last == "," and tok not in (")", "]"):
                kind = "comma"
            if kind is not None and pieces[-1][1]:
                pieces.append((_PENALTY[kind] + _PAREN_PENALTY * parens, [_COMMA] if kind == "comma" else []))
            if tok in ("(", "["):
                parens += 1
            elif tok in (")", "]"):
                parens = max(0, parens - 1)
        pieces[-1][1].append(tok)
        if tok in _OPENINGS:
            depth += 1
        elif tok in _CLOSINGS:
            depth -= 1
        if tok in (r"\left", r"\right", r"\middle") or tok in _FIXED_DELIMS:
            expect_delim = True
            opening = tok in (r"\left",) or tok.endswith("l")
        elif depth == 0 and not tok.isspace():
            last = tok
    return [(p, t) for p, t in pieces if "".join(t).replace(_COMMA, "").strip()]


def _strip(toks: list[str]) -> list[str]:
    while toks and toks[0].isspace():
        toks = toks[1:]
    while toks and toks[-1].isspace():
        toks = toks[:-1]
    return toks


def _widest_group(toks: Sequence[str]) -> tuple[int, int, int, str] | None:
    r"""The widest top-level ``\left..\right``, ``\frac`` or ``\sqrt`` of a chunk: (width, start, end, kind)."""
    best = None
    depth = 0
    i = 0
    while i < len(toks):
        t = toks[i]
        found = None
        if depth == 0 and t == r"\left":
            end = _group_end(toks, i)
            found = (_symbols(toks[i:end]), i, end, "left")
        elif depth == 0 and t in (r"\frac", r"\dfrac") and toks[i + 1:i + 2] == ["{"]:
            num_end = _group_end(toks, i + 1)
            if toks[num_end:num_end + 1] == ["{"]:
                end = _group_end(toks, num_end)
                num, den = _symbols(toks[i + 2:num_end - 1]), _symbols(toks[num_end + 1:end - 1])
                found = (max(num, den), i, end, "frac" if num >= den else "den")
        elif depth == 0 and t == r"\sqrt" and toks[i + 1:i + 2] == ["{"]:
            end = _group_end(toks, i + 1)
            found = (_symbols(toks[i:end]), i, end, "sqrt")
        if found is not None:
            if best is None or found[0] > best[0]:
                best = found
            i = found[2]
            continue
        if t in _OPENINGS:
            depth += 1
        elif t in _CLOSINGS:
            depth -= 1
        i += 1
    return best


def _opened(toks: list[str], start: int, end: int, kind: str) -> list[str]:
    r"""The group ``toks[start:end]`` rewritten, same value, so its inside is at top level.

    ``\left( A \right)`` -> ``\biggl( A \biggr)``; ``\frac{A}{D}`` -> ``\frac{1}{D} \biggl( A \biggr)``
    (or ``\frac{1}{D} A`` when A is a product); ``\frac{N}{B}`` with a wide B ->
    ``{N} \biggl( B \biggr)^{-1}``; ``\sqrt{A}`` -> ``\biggl( A \biggr)^{1/2}``.
    Fixed-size delimiters replace ``\left``/``\right``, which cannot span lines.
    """
    g = toks[start:end]
    if kind == "left":
        close = max(j for j in range(len(g)) if g[j] == r"\right")
        ldelim = next((t for t in g[1:] if not t.isspace()), ".")
        rdelim = next((t for t in g[close + 1:] if not t.isspace()), ".")
        body = [r"\biggl", ldelim, " "] + g[g.index(ldelim, 1) + 1:close] + [" ", r"\biggr", rdelim]
    elif kind in ("frac", "den"):
        num_end = _group_end(g, 1)
        num, den = g[2:num_end - 1], g[num_end + 1:-1]
        if kind == "frac":
            sums = len(_split_top(_strip(num)) or []) > 1
            body = [r"\frac{1}{" + "".join(den) + "}", " "] + (
                [r"\biggl", "(", " "] + num + [" ", r"\biggr", ")"] if sums else num)
        else:
            body = ["{" + "".join(num) + "}", " ", r"\biggl", "(", " "] + den + [" ", r"\biggr", ")", "^", "{-1}"]
    else:  # sqrt
        body = [r"\biggl", "(", " "] + g[2:-1] + [" ", r"\biggr", ")", "^", "{1/2}"]
    return toks[:start] + body + toks[end:]


def _open_group(pen: int, toks: list[str], levels: int) -> list[Piece]:
    """Break a chunk wider than a line inside its widest group (see :func:`_opened`), recursively."""
    if levels <= 0 or _symbols(toks) <= _OPEN_SYMBOLS:
        return [(pen, toks)]
    best = _widest_group(toks)
    if best is None or best[0] < _OPEN_SYMBOLS // 2:
        return [(pen, toks)]
    parts = _split_top(_opened(toks, best[1], best[2], best[3]))
    if not parts:
        return [(pen, toks)]
    out: list[Piece] = []
    for k, (p, sub) in enumerate(parts):
        out.extend(_open_group(pen if k == 0 else p + _INNER_PENALTY, _strip(sub), levels - 1))
    return out


def _chunks(tex: str) -> list[tuple[int, str]]:
    """The chunks of a displayed formula: ``[(penalty of a break before it, LaTeX), ...]``."""
    toks = _tokens(tex)
    pieces = _split_top(toks)
    if pieces is None:
        return [(0, r"\begin{aligned}" + tex + r"\end{aligned}")]
    out: list[tuple[int, str]] = []
    for pen, piece in pieces:
        for p, sub in _open_group(pen, _strip(piece), _OPEN_LEVELS):
            out.append((p, "".join(sub).strip()))
    return [(p, c) for p, c in out if c]


def display_math(tex: str, *, max_terms: int | None = None) -> str:
    r"""A displayed formula that never runs off the line (``\attndisplay`` of its chunks).

    Invalid LaTeX (unbalanced braces or ``\left``/``\right``, stray ``$``/``#``/``%``)
    is shown verbatim as text instead, so one bad step cannot break the document.
    """
    tex = _math_unicode(tex.strip())
    if not tex:
        return ""
    if not _math_ok(tex):
        return (r"\par\noindent{\small\emph{(not valid LaTeX math, shown as text:)} "
                r"\texttt{" + escape_text(tex) + r"}}\par")
    chunks = _chunks(tex)
    limit = REPORT.max_terms if max_terms is None else max_terms
    note = ""
    if len(chunks) > limit:
        note = (r"\par\noindent{\small\emph{(display shortened: the first "
                f"{limit} of {len(chunks)} terms are shown)}}}}\\par")
        chunks = chunks[:limit] + [(0, r"+ \cdots")]
    return "\\attndisplay{%\n" + _chunk_body(chunks) + "}" + note


def _chunk_body(chunks: Sequence[tuple[int, str]]) -> str:
    r"""``\attnchunk``\ s joined by ``\attnbrk`` break points.

    ``{}`` before a chunk's leading operator keeps its binary/relation spacing; after a
    comma the thin space is put between the boxes, where a line break discards it.
    """
    body = [f"\\attnchunk{{{chunks[0][1]}}}"]
    for pen, chunk in chunks[1:]:
        if chunk.startswith(_COMMA):
            body.append(f"\\attnbrk{{{pen}}}\\,%\n\\attnchunk{{{chunk[len(_COMMA):].strip()}}}")
        else:
            body.append(f"\\attnbrk{{{pen}}}%\n\\attnchunk{{{{}}{chunk}}}")
    return "".join(body)


def inline_math(tex: str) -> str:
    r"""Inline math (``\attninline``) that breaks like TeX's own, at top-level relations and signs.

    Its unbreakable pieces shrink to the line if one is wider than the line;
    groups are not opened (``\biggl`` delimiters have no place in running text).
    """
    tex = _math_unicode(tex.strip())
    if not tex:
        return ""
    if not _math_ok(tex):
        return r"\texttt{" + escape_text(tex) + "}"
    pieces = _split_top(_tokens(tex))
    chunks = [(0, r"\begin{aligned}" + tex + r"\end{aligned}")] if pieces is None else \
        [(p, "".join(_strip(t))) for p, t in pieces]
    return r"\attninline{" + _chunk_body(chunks) + "}"


_MATH_WORDS = {"sin", "cos", "tan", "exp", "log", "max", "min", "sup", "inf", "det", "lim", "arg",
               "sgn", "sign", "tanh", "sinh", "cosh", "diag", "rank", "softmax", "relu", "abs", "const"}


def _reads_as_formula(s: str) -> bool:
    """No ``$`` and no word of 3+ letters once commands and \\text-like arguments are removed."""
    if "$" in s or not s.strip():
        return False
    bare = re.sub(r"\\(text|mathrm|operatorname|mathit|mathbf|textrm|textit)\s*\{[^{}]*\}", " x ", s)
    bare = re.sub(r"\\[A-Za-z]+", " ", bare)
    words = re.findall(r"[A-Za-z]{3,}", bare)
    return not [w for w in words if w.lower() not in _MATH_WORDS]


_TEXT_COMMANDS = ("texttt", "emph", "textbf", "textit", "textsf", "textrm", "textsc", "mbox", "underline")
_TEXT_COMMAND = re.compile(r"\\(" + "|".join(_TEXT_COMMANDS) + r")\s*\{")


def _prose_text(s: str) -> str:
    r"""The text of :func:`prose`: plain text, plus the LaTeX an author may have typed in it.

    Kept: ``\texttt{..}``, ``\emph{..}``, ``\textbf{..}`` and kin (contents treated
    the same way), escaped specials ``\_ \% \& \# \$ \{ \}`` and thin spaces ``\, \;``.
    Every other backslash, brace or special character is printed as itself.
    """
    out = []
    i = 0
    plain = ""
    while i < len(s):
        m = _TEXT_COMMAND.match(s, i)
        if m:
            depth, j = 1, m.end()
            while j < len(s) and depth:
                depth += {"{": 1, "}": -1}.get(s[j], 0) if s[j - 1] != "\\" else 0
                j += 1
            if depth == 0:
                out.append(escape_text(plain))
                plain = ""
                out.append("\\" + m.group(1) + "{" + _prose_text(s[m.end():j - 1]) + "}")
                i = j
                continue
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in "_%&#${}":
            plain += s[i + 1]
            i += 2
            continue
        if s[i] == "\\" and i + 1 < len(s) and s[i + 1] in ",;: ":
            out.append(escape_text(plain) + "\\" + s[i + 1])
            plain = ""
            i += 2
            continue
        plain += s[i]
        i += 1
    out.append(escape_text(plain))
    return "".join(out)


def prose(s: str) -> str:
    """Text with inline ``$math$``: text as :func:`_prose_text`, math as :func:`inline_math`."""
    parts = re.split(r"(?<!\\)\$", s)
    if len(parts) % 2 == 0:  # unbalanced dollars: all of it is text
        return _prose_text(s.replace("$", r"\$"))
    out = []
    for i, part in enumerate(parts):
        if i % 2 == 0:
            out.append(_prose_text(part))
        elif part.strip():
            out.append(inline_math(part))
    return "".join(out)


def _statement(s: str) -> str:
    return display_math(s) if _reads_as_formula(s) else prose(s)


def _assumption(s: str) -> str:
    return inline_math(s) if _reads_as_formula(s) else prose(s)


def breakable_tt(text: str) -> str:
    """Typewriter text that may break after punctuation (paths, reprs, tracebacks)."""
    esc = escape_text(text)
    esc = re.sub(r"([,;:=()\[\]])", r"\1\\attnbr{}", esc)
    return r"{\ttfamily " + esc + "}"


# --------------------------------------------------------------------------- the document
_PREAMBLE = r"""\documentclass[11pt]{article}
\usepackage[a4paper,margin=2.3cm]{geometry}
\IfFileExists{@FONT@.sty}{%
  \usepackage{@FONT@}\usepackage[T1]{fontenc}%
  \DeclareRobustCommand\attnus{\textunderscore\allowbreak}%
  \DeclareRobustCommand\attncaret{\textasciicircum}%
  \DeclareRobustCommand\attntilde{\textasciitilde}}{%
  % OT1 text fonts lack these ASCII glyphs (accents or rules stand in, which
  % pdftotext cannot read back): borrow them from the typewriter font
  \DeclareRobustCommand\attnus{{\ttfamily\char95}\allowbreak}%
  \DeclareRobustCommand\attncaret{{\ttfamily\char94}}%
  \DeclareRobustCommand\attntilde{{\ttfamily\char126}}}
\usepackage{amsmath,amssymb}
\usepackage{graphicx}
\usepackage{array,longtable,booktabs}
\usepackage{xcolor}
\ifdefined\pdfgentounicode \input{glyphtounicode}\pdfgentounicode=1 \fi
\usepackage[hidelinks,pdftitle={attndyn: derivation report}]{hyperref}
\setlength{\parindent}{0pt}
\setlength{\parskip}{0.5\baselineskip plus 2pt}
\setlength{\LTpre}{0.5\baselineskip}
\setlength{\LTpost}{0.5\baselineskip}
\definecolor{attnbad}{rgb}{0.75,0,0}
\definecolor{attngood}{rgb}{0,0.45,0}
\DeclareRobustCommand\attnbr{\allowbreak}
\setlength{\emergencystretch}{3em}% looser lines rather than lines into the margin
\tolerance=1000
\makeatletter
% ragged headings: a long claim title wraps instead of overflowing
\renewcommand\section{\@startsection{section}{1}{\z@}{-3.5ex \@plus -1ex \@minus -.2ex}%
  {2.3ex \@plus.2ex}{\normalfont\Large\bfseries\raggedright}}
% ---- formulas that never run off the line (see reports/latex.py) ----
\newsavebox\attn@box
\newsavebox\attn@all
\newlength\attn@avail
\setlength\attn@avail{\linewidth}
% one unbreakable piece of a displayed formula, shrunk to \attn@avail if wider
\newcommand\attnstyle{\displaystyle}
\newcommand\attnchunk[1]{%
  \sbox\attn@box{$\attnstyle #1$}%
  \ifdim\wd\attn@box>\attn@avail
    \resizebox{\attn@avail}{!}{\usebox\attn@box}%
  \else\usebox\attn@box\fi}
% a possible line break between chunks; its penalty
\newcommand\attnbrk[1]{}
% a displayed formula: centred when it fits the line, else broken between its
% chunks (ragged right, continuation lines indented by 2em)
\newcommand\attndisplay[1]{%
  \begingroup
  \setlength\attn@avail{\linewidth}%
  \sbox\attn@all{\let\attnbrk\@gobble #1}%
  \ifdim\wd\attn@all>\linewidth
    \par\addvspace{0.4\baselineskip}%
    \setlength\attn@avail{\dimexpr\linewidth-2em\relax}%
    \noindent\rightskip\z@ plus 1fil\relax\parfillskip\z@ plus 1fil\relax
    \lineskip 4pt\lineskiplimit 2pt\relax
    \parshape 2 \@totalleftmargin \linewidth
      \dimexpr\@totalleftmargin+2em\relax \dimexpr\linewidth-2em\relax
    \def\attnbrk##1{\penalty##1\relax}%
    #1\par\addvspace{0.4\baselineskip}%
  \else
    \[\usebox\attn@all\]%
  \fi
  \endgroup}
% inline math in running text: chunks in text style, breakable like TeX's own
% inline formulas (penalty 500 more than in a display)
\newcommand\attninline[1]{\begingroup
  \setlength\attn@avail{\linewidth}\let\attnstyle\textstyle
  \def\attnbrk##1{\penalty\numexpr##1+500\relax}#1\endgroup}
% one inline formula, shrunk to the line if wider
\newcommand\attnfit[1]{%
  \sbox\attn@box{$#1$}%
  \ifdim\wd\attn@box>\linewidth
    \resizebox{\linewidth}{!}{\usebox\attn@box}%
  \else\usebox\attn@box\fi}
\makeatother
"""


def _now() -> datetime.datetime:
    """The report's date; ``SOURCE_DATE_EPOCH`` (reproducible builds) overrides the clock."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.datetime.fromtimestamp(int(epoch), datetime.timezone.utc)
    return datetime.datetime.now().astimezone()


def _version() -> str:
    try:
        from importlib.metadata import version

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


def _detail_rows(details: dict) -> list[tuple[str, str]]:
    """(key, text) rows; a list of records (e.g. one per sub-check) gets one row per record."""
    rows = []
    for k, v in details.items():
        if k in ("reason", "traceback"):
            continue
        v = _plain(v)
        if isinstance(v, list) and v and all(isinstance(x, dict) for x in v):
            rows += [(f"{k}[{i}]", _format_value(x)) for i, x in enumerate(v)]
        else:
            rows.append((str(k), _format_value(v)))
    return rows


def _details_table(details: dict) -> str:
    rows = _detail_rows(details)
    if not rows:
        return ""
    spec = (r"@{}>{\raggedright\arraybackslash}" + _colw(0.22, 2)
            + r">{\raggedright\arraybackslash}" + _colw(0.78, 2) + "@{}")
    body = [rf"{breakable_tt(k)} & {escape_text(v)} \\" for k, v in rows]
    return "\n".join([r"\begingroup\small", r"\begin{longtable}{" + spec + "}",
                      r"\toprule \textbf{detail} & \textbf{value} \\ \midrule \endhead",
                      r"\bottomrule \endlastfoot", *body, r"\end{longtable}", r"\endgroup"])


def _figures(paths: Iterable[object], out_dir: Path, tag: str) -> str:
    """Figures as full-width images; missing or unreadable ones become a note, not a TeX error.

    A relative path is taken relative to the current directory, then to ``out_dir``.
    Figures outside ``out_dir`` (or with names TeX dislikes) are copied into
    ``out_dir/figures`` so the report directory is self-contained.
    """
    out = []
    for n, raw in enumerate(paths, 1):
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
        out.append("\n".join([
            r"\begin{center}",
            rf"\includegraphics[width=\linewidth,height=0.42\textheight,keepaspectratio]{{{rel.as_posix()}}}",
            r"\\[2pt] {\footnotesize " + breakable_tt(Path(str(raw)).name) + "}",
            r"\end{center}",
        ]))
    return "\n".join(out)


def _claim_section(i: int, r: ClaimResult, out_dir: Path) -> str:
    c, o = r.claim, r.outcome
    verdict_colour = "attngood" if r.ok else "attnbad"
    agree = "as expected" if r.ok else r"\textbf{NOT as expected}"
    parts = [
        rf"\section{{\texorpdfstring{{\texttt{{{escape_id(c.id)}}}: {escape_text(c.title)}}}"
        rf"{{{_pdf_string(c.id + ': ' + c.title)}}}}}\label{{claim:{i}}}",
        rf"\textbf{{Kind:}} {escape_text(c.kind)}. \textbf{{Expected:}} {escape_text(c.expected)}.",
        "",
        r"\subsection*{Statement}",
        _statement(c.statement) if c.statement.strip() else r"\emph{No statement recorded.}",
        "",
        r"\subsection*{Assumptions}",
    ]
    if c.assumptions:
        parts += [r"\begin{itemize}"] + [r"\item " + _assumption(a) for a in c.assumptions] + [r"\end{itemize}"]
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
        _details_table(o.details),
    ]
    tb = o.details.get("traceback")
    if tb:
        lines = str(tb).rstrip().splitlines()[-REPORT.traceback_lines:]
        parts += [r"\textbf{Traceback (last lines):}", "",
                  r"{\footnotesize\raggedright " + r"\\ ".join(breakable_tt(ln) for ln in lines) + r"\par}"]
    if o.figures:
        parts += ["", _figures(o.figures, out_dir, f"claim{i}")]
    return "\n".join(parts) + "\n"


def _settings_section() -> str:
    """The tolerances the verdicts used, read from proofs/settings.py (the one place they live)."""
    import proofs.settings as settings

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


def render(results: Sequence[ClaimResult], out_dir: Path, extra_sections: Sequence[Section] = ()) -> str:
    """The complete LaTeX source of the report (copies figures into ``out_dir/figures``)."""
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
        _PREAMBLE.replace("@FONT@", FONT_PACKAGE),
        r"\title{" + escape_text(TITLE) + "}",
        r"\author{}",
        r"\date{" + escape_text(now.strftime("%Y-%m-%d %H:%M %Z").strip()) + "}",
        r"\begin{document}",
        r"\maketitle",
        r"\vspace{-2\baselineskip}",
        r"\begin{center}\small\emph{Machine-generated by \texttt{attndyn} "
        + escape_text(_version()) + r" from its claim registry; do not edit by hand, "
        r"re-run \texttt{attndyn report} instead.}\end{center}",
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
        doc.append(_claim_section(i, r, out_dir))
    for k, sec in enumerate(extra_sections, 1):
        doc += [rf"\section{{\texorpdfstring{{{escape_text(sec.title)}}}{{{_pdf_string(sec.title)}}}}}",
                sec.body_latex, _figures(sec.figures, out_dir, f"section{k}"), ""]
    doc += [_settings_section(), r"\end{document}", ""]
    return "\n".join(doc)


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


def compile_pdf(tex: Path, timeout: float | None = None) -> tuple[Path | None, str, Path | None]:
    """Compile ``tex`` in its directory: ``(pdf or None, reason if None, log or None)``."""
    timeout = REPORT.compile_timeout if timeout is None else timeout
    engine = tex_engine()
    if engine is None:
        return None, no_engine_reason(), None
    base = tex.with_suffix("")
    for suffix in _AUX_SUFFIXES:  # a stale PDF must not pass for a fresh one, nor a broken .aux break this run
        base.with_suffix(suffix).unlink(missing_ok=True)
    tex_opts = ["-interaction=nonstopmode", "-halt-on-error"]
    name, exe = engine
    if name == "latexmk":
        runs = [[exe, "-pdf", "-g", *tex_opts, tex.name]]
    else:
        runs = [[exe, *tex_opts, tex.name]] * 2  # twice: hyperlinks and longtable widths settle
    log = base.with_suffix(".log")
    for cmd in runs:
        code, output = _run(cmd, tex.parent, timeout)
        if code is None:
            return None, f"{name} timed out after {timeout:g}s (see {log})", log if log.exists() else None
        if code != 0:
            log_text = log.read_text(errors="replace") if log.exists() else ""
            errors = tex_errors(log_text) or " | ".join(output.strip().splitlines()[-3:])
            return None, f"{name} failed: {errors} (see {log})", log if log.exists() else None
    pdf = base.with_suffix(".pdf")
    if not pdf.exists():
        return None, f"{name} finished but {pdf} was not written (see {log})", log if log.exists() else None
    return pdf, "", log if log.exists() else None


def write_report(results: list[ClaimResult], out_dir: Path, *, require_pdf: bool,
                 extra_sections: Sequence[Section] = ()) -> ReportFiles:
    """Write ``out_dir/derivations.tex`` and compile it to ``derivations.pdf`` when TeX is available.

    With ``require_pdf`` a missing PDF (no TeX engine, a TeX error, a timeout) raises
    :class:`UsageError` carrying the reason; otherwise the reason is in the result.
    """
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        source = render(results, out_dir, extra_sections)
        tex = out_dir / TEX_NAME
        fd, tmp = tempfile.mkstemp(dir=out_dir, prefix=f".{TEX_NAME}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(source)
        os.replace(tmp, tex)
    except OSError as exc:
        raise UsageError(f"report directory {out_dir}: cannot write there "
                         f"({exc.strerror or exc})") from None
    pdf, reason, log = compile_pdf(tex)
    overfull = tuple(overfull_hboxes(log.read_text(errors="replace"))) if (pdf and log) else ()
    files = ReportFiles(tex, pdf, reason, log, overfull)
    if require_pdf and pdf is None:
        raise UsageError(f"--require-pdf: no PDF was made: {reason} (the LaTeX source is {tex})")
    return files
