"""Text and characters made safe for LaTeX: escaping (:func:`escape_text`, :func:`escape_id`),
Unicode to LaTeX, and breakable typewriter text (:func:`breakable_tt`)."""
from __future__ import annotations

import re
import unicodedata

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


def unicode_char(ch: str, in_math: bool) -> str:
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
            out.append(unicode_char(ch, in_math=False))
        elif ch.isprintable():
            out.append(ch)
        i += 1
    return "".join(out)


def escape_id(text: object) -> str:
    """An identifier for typewriter type, which does not break at hyphens by itself."""
    return escape_text(text).replace("-", r"-\attnbr{}")


def pdf_string(text: str) -> str:
    """A bookmark-safe rendering of a title (PDF outline entries take no markup)."""
    return re.sub(r"[^A-Za-z0-9 .,:;()+=/'!?-]", " ", text)


def breakable_tt(text: str) -> str:
    """Typewriter text that may break after punctuation (paths, reprs, tracebacks)."""
    esc = escape_text(text)
    esc = re.sub(r"([,;:=()\[\]])", r"\1\\attnbr{}", esc)
    return r"{\ttfamily " + esc + "}"
