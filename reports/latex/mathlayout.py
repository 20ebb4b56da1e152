"""Math layout: a formula cut into unbreakable chunks with penalties between them, so that a
displayed (:func:`display_math`) or inline (:func:`inline_math`) formula never runs off the line
(the TeX side is ``\\attndisplay``/``\\attninline`` in ``preamble.tex``)."""
from __future__ import annotations

import re
from typing import Sequence

from attndyn.proofs.settings import REPORT
from attndyn.reports.latex.escape import escape_text, unicode_char


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
    return "".join(unicode_char(c, in_math=True) if ord(c) > 127 else c for c in tex)


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
