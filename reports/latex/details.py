r"""A claim's details (``Outcome.details``) as tables of named quantities, not ``key: value`` dumps.

Every key is looked up in the declared mapping :data:`attndyn.reports.latex.quantities.QUANTITIES`
(readable name and unit; unknown keys fall back to their own words).  The layout is decided by
the shape of the value, so any claim's details typeset:

* a scalar: one row *quantity | value | unit* (numbers to 4 significant digits, powers of ten as
  :math:`1.3\times10^{-10}`, booleans as yes/no);
* a ``*_latex`` key: its value shown as a formula;
* a list of numbers: the numbers, comma-separated (long lists shortened, saying how many);
* a dict of scalars or lists: indented sub-rows under the dict's name;
* a list of records (dicts) or a dict of records with common keys (``runs: {fc: {...}, ...}``):
  a table of its own, one row per record, one column per key (split into several tables of at
  most :data:`MAX_COLUMNS` columns when wider).
"""
from __future__ import annotations

import math
import re
from typing import Iterable

from attndyn.proofs.settings import REPORT
from attndyn.reports.latex.escape import escape_text
from attndyn.reports.latex.mathlayout import inline_math
from attndyn.reports.latex.prose import prose
from attndyn.reports.latex.quantities import quantity

SKIP = ("reason", "traceback")
MAX_COLUMNS = 6  # record-table columns besides the first (the record's name): ~2.1 cm each at page width
MAX_LIST = 12  # numbers of a list shown before "… (n values)"
MAX_DEPTH = 3  # nesting shown as indented rows; deeper values are written compactly


def _plain(v: object) -> object:
    if hasattr(v, "tolist"):
        v = v.tolist()  # numpy scalar or array
    return v


def number(v: float | int) -> str:
    """A number as LaTeX: integers as they are, floats to 4 significant digits, ×10^k outside
    [1e-3, 1e5)."""
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, int):
        return f"${v}$" if abs(v) < 10 ** 9 else _sci(float(v))
    if not math.isfinite(v):
        return {math.inf: r"$\infty$", -math.inf: r"$-\infty$"}.get(v, "NaN")
    if v == 0 or 1e-3 <= abs(v) < 1e5:
        return f"${float(f'{v:.4g}'):g}$"
    return _sci(v)


def _sci(v: float) -> str:
    mant, exp = f"{v:.3e}".split("e")
    mant = mant.rstrip("0").rstrip(".")
    if mant in ("1", "-1"):
        return f"${'-' if mant == '-1' else ''}10^{{{int(exp)}}}$"
    return rf"${mant}\times 10^{{{int(exp)}}}$"


def _is_scalar(v: object) -> bool:
    return v is None or isinstance(v, (bool, int, float, str))


def _is_number_list(v: object) -> bool:
    return isinstance(v, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) or x is None
                                       for x in v)


def _records(v: object) -> tuple[str, list[tuple[str, dict]]] | None:
    """(what names a record, [(name, record), ...]) when ``v`` is a table of records, else None."""
    if isinstance(v, list) and len(v) >= 2 and all(isinstance(x, dict) for x in v):
        # records named by their first field when it is a short text (a word, an id)
        first = next(iter(v[0]), None)
        if first is not None and all(isinstance(x.get(first), (str, int)) and not isinstance(x.get(first), bool)
                                     and len(str(x[first])) <= 30 for x in v):
            return first, [(str(x[first]), {k: y for k, y in x.items() if k != first}) for x in v]
        return "", [(str(i + 1), x) for i, x in enumerate(v)]
    if isinstance(v, dict) and len(v) >= 2 and all(isinstance(x, dict) and x for x in v.values()):
        keys = [set(x) for x in v.values()]
        if all(k == keys[0] for k in keys) or len(set.intersection(*keys)) >= max(1, len(keys[0]) // 2):
            return "", [(str(k), x) for k, x in v.items()]
    return None


_FORMULA = re.compile(r"[A-Za-z0-9_ .*+\-/()]+")


def formula_tex(s: str) -> str | None:
    """A SymPy-printed expression (``-exp(s_t) - 2*s_t + v_t_1**2``, as some claims record laws)
    as LaTeX math, or None when ``s`` is not one (prose, a name, a number)."""
    if not _FORMULA.fullmatch(s) or not ("*" in s or "exp(" in s or "log(" in s):
        return None
    if "__" in s or re.search(r"\.[A-Za-z_]", s):  # no dunder names, no attribute access: parse_expr evaluates
        return None
    if re.search(r"\b[A-Za-z]{3,}\b(?!\()", s):  # a word of 3+ letters that is not a function: prose
        return None
    import sympy  # deferred: SymPy is slow to import; only a formula-like detail needs it
    from sympy.parsing.sympy_parser import parse_expr  # deferred: SymPy is slow to import

    try:
        expr = parse_expr(s, evaluate=False)
    except Exception:  # anything SymPy cannot read stays text
        return None
    return inline_math(sympy.latex(expr))


def value_tex(v: object, latex: bool = False) -> str:
    """One value as LaTeX text (compact: nested structures as ``name: value`` pairs)."""
    v = _plain(v)
    if latex and isinstance(v, str):
        return inline_math(v)
    if v is None:
        return "---"
    if isinstance(v, (bool, int, float)):
        return number(v)
    if isinstance(v, str):
        s = v if len(v) <= REPORT.detail_chars else v[: REPORT.detail_chars - 3] + "..."
        if s.count("$") >= 2 and s.count("$") % 2 == 0 and s is v:  # prose with $math$ (a check's name)
            return prose(s)
        f = formula_tex(s) if s is v else None
        if f is not None:
            return f
        # a narrow table cell may need to break inside a formula-like text: after ( and before =
        return escape_text(s).replace("(", r"(\attnbr{}").replace(" =", r"\attnbr{} =")
    if isinstance(v, (list, tuple)) and not v:
        return "none"
    if _is_number_list(v):
        shown = ", ".join("---" if x is None else number(x) for x in v[:MAX_LIST])
        more = len(v) - MAX_LIST
        return shown + (rf", \dots{{}} ({len(v)} values)" if more > 0 else "")
    if isinstance(v, list):
        items = [value_tex(x) for x in v[:MAX_LIST]]
        more = len(v) - MAX_LIST
        return "; ".join(items) + (rf"; \dots{{}} ({len(v)} items)" if more > 0 else "") if items else "none"
    if isinstance(v, dict):
        parts = []
        for k, x in v.items():
            name, unit, is_latex = quantity(str(k))
            parts.append(prose(name) + ": " + value_tex(x, is_latex))
        return "; ".join(parts) if parts else "none"
    return escape_text(repr(v))


def _unit(unit: str) -> str:
    return escape_text(unit) if unit else ""


def _rows(details: dict, depth: int) -> Iterable[tuple[str, object]]:
    """Blocks in order: ``("row", (depth, name, value, unit))`` and ``("table", (title, records))``."""
    for k, v in details.items():
        if depth == 0 and k in SKIP:
            continue
        v = _plain(v)
        name, unit, is_latex = quantity(str(k))
        recs = None if is_latex else _records(v)
        if recs is not None and depth < MAX_DEPTH:
            yield "table", (name, *recs)
        elif isinstance(v, list) and len(v) == 1 and isinstance(v[0], dict) and depth < MAX_DEPTH:
            yield "row", (depth, name, "", _unit(unit))  # one record: its fields as sub-rows
            yield from _rows(v[0], depth + 1)
        elif isinstance(v, dict) and v and depth < MAX_DEPTH:
            yield "row", (depth, name, "", _unit(unit))
            yield from _rows(v, depth + 1)
        else:
            yield "row", (depth, name, value_tex(v, is_latex), _unit(unit))


def _colw(frac: float, ncols: int) -> str:
    share = 2 * (ncols - 1) / ncols
    return rf"p{{\dimexpr {frac:.4f}\linewidth-{share:.4f}\tabcolsep\relax}}"


def _scalar_table(rows: list[tuple[int, str, str, str]]) -> str:
    spec = "@{}" + "".join(r">{\raggedright\arraybackslash}" + _colw(w, 3) for w in (0.42, 0.44, 0.14)) + "@{}"
    body = []
    for depth, name, value, unit in rows:
        indent = rf"\hspace*{{{1.2 * depth:.1f}em}}" if depth else ""
        body.append(rf"{indent}{prose(name)} & {value} & {unit} \\")
    return "\n".join([r"\begingroup\small", r"\begin{longtable}{" + spec + "}",
                      r"\toprule \textbf{quantity} & \textbf{value} & \textbf{unit} \\ \midrule \endhead",
                      r"\bottomrule \endlastfoot", *body, r"\end{longtable}", r"\endgroup"])


def _record_table(title: str, key: str, recs: list[tuple[str, dict]]) -> str:
    keys: list[str] = []
    for _, r in recs:
        keys += [k for k in r if k not in keys]
    parts = [r"\par\noindent\textbf{" + prose(title) + r"}\par"]
    first_head = r"\textbf{" + prose(quantity(key)[0]) + "}" if key else ""
    chunks = [keys[i:i + MAX_COLUMNS] for i in range(0, len(keys), MAX_COLUMNS)] or [[]]
    for cols in chunks:
        n = len(cols) + 1
        first = 0.22 if n > 2 else 0.3
        rest = (1 - first) / max(1, n - 1)
        spec = "@{}" + r">{\raggedright\arraybackslash}" + _colw(first, n) + "".join(
            r">{\raggedright\arraybackslash}" + _colw(rest, n) for _ in cols) + "@{}"
        head = []
        for k in cols:
            name, unit, _ = quantity(str(k))
            head.append(r"\textbf{" + prose(name) + "}" + (rf" ({escape_text(unit)})" if unit else ""))
        body = []
        for rname, r in recs:
            cells = []
            for k in cols:
                _, _, is_latex = quantity(str(k))
                # \hspace{0pt}: TeX never hyphenates a paragraph's first word; a narrow cell may need to
                cells.append(r"\hspace{0pt}" + value_tex(_plain(r[k]), is_latex) if k in r else "")
            body.append(" & ".join([escape_text(rname), *cells]) + r" \\")
        parts += [r"\begingroup\footnotesize", r"\begin{longtable}{" + spec + "}",
                  r"\toprule " + " & ".join([first_head, *head]) + r" \\ \midrule \endhead",
                  r"\bottomrule \endlastfoot", *body, r"\end{longtable}", r"\endgroup"]
    return "\n".join(parts)


def details_tex(details: dict) -> str:
    """The details of one claim as LaTeX tables (empty when there is nothing to show)."""
    out: list[str] = []
    rows: list = []
    for kind, item in _rows(dict(details), 0):
        if kind == "row":
            rows.append(item)
        else:
            if rows:
                out.append(_scalar_table(rows))
                rows = []
            out.append(_record_table(*item))
    if rows:
        out.append(_scalar_table(rows))
    return "\n".join(out)
