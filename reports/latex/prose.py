"""Prose with inline math (claim statements, assumptions, reasons) as LaTeX: text escaped, the
``$…$`` parts laid out by :mod:`attndyn.reports.latex.mathlayout`."""
from __future__ import annotations

import re

from attndyn.reports.latex.escape import escape_text
from attndyn.reports.latex.mathlayout import display_math, inline_math

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


def statement_tex(s: str) -> str:
    return display_math(s) if _reads_as_formula(s) else prose(s)


def assumption_tex(s: str) -> str:
    return inline_math(s) if _reads_as_formula(s) else prose(s)
