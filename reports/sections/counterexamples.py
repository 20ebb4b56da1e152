r"""The report section listing confirmed counterexamples (``attndyn report``).

:func:`counterexample_section` reads the shrunk cases written by the search
(``DIR/cases/*.json``, or a directory of case files such as ``tests/data``) and builds a
:class:`attndyn.reports.latex.document.Section`: per case the claim, the broken hypotheses, the violation
size against the threshold, the minimal configuration (a table of the point's dimensions)
and the replay command, plus one figure per case from the trajectory stored in the case:

* sen-identity: :math:`H(\tau) - H(0)` per topic word (the SEN first integral at the
  minimising m) and the scores :math:`s_t(\tau)`;
* convergence: the scores, the topic attention :math:`a_t(\tau)` and the per-word loss
  with its floor :math:`\inf_x \mathrm{CE}(W^\top x, y)` where the checker gives one.
"""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from attndyn.proofs.claims.figures import FigureSpec
from attndyn.proofs.errors import UsageError
from attndyn.reports.latex.document import shell_path, Section
from attndyn.reports.latex.escape import breakable_tt, escape_id, escape_text
from attndyn.reports.latex.prose import prose


def find_cases(cases_dir) -> list[Path]:
    """The case files of ``cases_dir`` (or of ``cases_dir/cases``), sorted by name."""
    d = Path(cases_dir)
    if not d.is_dir():
        raise UsageError(f"cases directory {d}: not a directory")
    if (d / "cases").is_dir():
        d = d / "cases"
    out = []
    for f in sorted(d.glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except (OSError, ValueError):
            continue
        if isinstance(data, dict) and str(data.get("format", "")).startswith("attndyn-counterexample/"):
            out.append(f)
    return out


CASE_FIELDS = {"claim": str, "violation": (int, float), "point": dict}  # what a section needs of a case


def check_case(path: Path, case: dict, flag: str) -> None:
    """A UsageError naming the first field the report needs that ``case`` lacks or has wrong."""
    need = dict(CASE_FIELDS, **({"threshold": (int, float)} if case.get("claim") == "sen-identity" else {}))
    for key, kind in need.items():
        value = case.get(key)
        if value is None or isinstance(value, bool) or not isinstance(value, kind):
            what = {str: "a claim name", dict: "a table of dimension values"}.get(kind, "a number")
            raise UsageError(f"{flag} {path}: case field {key!r}: expected {what}, got "
                             f"{'nothing' if key not in case else repr(value)}")


def plot_case(case: dict, out_base: Path) -> list[Path]:
    """Draw the case's stored trace to ``out_base.pdf`` and ``out_base.png`` (Agg backend)."""
    import matplotlib  # deferred: matplotlib is slow to import; only figures need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import; only figures need it
    import matplotlib.ticker  # deferred: matplotlib is slow to import; only figures need it

    tr = case.get("trace") or {}
    t = np.asarray(tr.get("t", []), dtype=float)
    # log time axis: the last six decades (the convergence checker samples from 1e-12 x horizon,
    # where nothing happens yet); fewer tick labels also keep drawing fast
    keep = (t > 0) & (t >= (t[-1] if t.size else 0) * 1e-6)
    series = ["dH", "s"] if case["claim"] == "sen-identity" else ["s", "attention", "loss"]
    series = [s for s in series if s in tr]
    labels = {"dH": r"$H(\tau) - H(0)$", "s": r"score $s_t$", "attention": r"attention $a_t$",
              "loss": r"loss $\mathrm{CE}(W^\top a_t v_t, y_t)$"}
    fig, axes = plt.subplots(1, max(1, len(series)), figsize=(3.4 * max(1, len(series)), 2.8), squeeze=False)
    for ax, name in zip(axes[0], series):
        y = np.array([[np.nan if x is None else x for x in row] for row in tr[name]], dtype=float)
        for w in range(y.shape[1]):
            ax.plot(t[keep], y[keep, w], lw=1.2, label=f"word {w}")
        ax.set_xscale("log")
        ax.xaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=4))
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set_xlabel(r"$\tau$")
        ax.set_title(labels[name], fontsize=9)
        if name == "loss":
            for e in case.get("confirm", {}).get("words", []) or []:
                if e.get("loss_floor") is not None:
                    ax.axhline(e["loss_floor"], color="k", ls="--", lw=0.8)
        ax.tick_params(labelsize=7)
    if series:
        axes[0][0].legend(fontsize=6)
    broken = ", ".join(case.get("broken") or []) or "no hypothesis broken"
    fig.suptitle(f"{case['claim']}: {broken} (violation {float(case['violation']):.3g})", fontsize=9)
    # fixed margins, not tight_layout: its extra draw was a third of the time of the report's nine
    # case figures (4.9 s of 6.7 s idle, 2026-12-03), drawn while the claims run
    inch = 1.0 / fig.get_figwidth()
    fig.subplots_adjust(left=0.62 * inch, right=1 - 0.12 * inch, bottom=0.19, top=0.80, wspace=0.36)
    paths = [out_base.with_suffix(".pdf"), out_base.with_suffix(".png")]
    for p in paths:
        fig.savefig(p, dpi=120)
    plt.close(fig)
    return paths


def _config_table(point: dict) -> str:
    items = [(k, v) for k, v in point.items() if v is not None]
    half = (len(items) + 1) // 2
    left, right = items[:half], items[half:]
    rows = []
    for i in range(half):
        cells = []
        for side in (left, right):
            if i < len(side):
                k, v = side[i]
                cells += [breakable_tt(k), escape_text(v if not isinstance(v, float) else f"{v:.6g}")]
            else:
                cells += ["", ""]
        rows.append(" & ".join(cells) + r" \\")
    return "\n".join([r"\begin{center}\small", r"\begin{tabular}{@{}ll@{\qquad}ll@{}}", r"\toprule",
                      r"\textbf{dimension} & \textbf{value} & \textbf{dimension} & \textbf{value} \\",
                      r"\midrule", *rows, r"\bottomrule", r"\end{tabular}", r"\end{center}"])


def counterexample_section(cases_dir, fig_dir=None):
    """A :class:`attndyn.reports.latex.document.Section` with every confirmed counterexample of ``cases_dir``.

    ``fig_dir``: where the figures are written (default ``cases_dir/figures``); give the
    report's output directory (e.g. ``OUT/figures``) to keep a read-only case directory clean.
    """
    files = find_cases(cases_dir)
    fig_dir = Path(fig_dir) if fig_dir is not None else Path(cases_dir) / "figures"
    title = "Counterexamples found by the search"
    intro = (r"Each case below is a point of the search space (\texttt{attndyn search}) at which a claim "
             r"fails, confirmed at higher precision (1000$\times$ tighter integration tolerances, or for "
             r"discrete gradient descent steps $\eta/2$, $\eta/4$ extrapolated to $\eta\to 0$), then shrunk "
             r"greedily while the violation persists. \emph{Broken} lists the paper's hypotheses the point "
             r"violates: the case shows that they cannot be dropped.")
    if not files:
        return Section(title, intro + "\n\n" + r"\emph{No confirmed counterexample in }"
                       + breakable_tt(str(cases_dir)) + ".", [])
    fig_dir.mkdir(parents=True, exist_ok=True)
    body, figures = [intro, ""], []
    for n, f in enumerate(files, 1):
        case = json.loads(f.read_text())
        broken = case.get("broken") or []
        statements = case.get("broken_statements") or {}
        hyp = "; ".join(f"{h}: {statements.get(h, '')}" for h in broken) or "none (a counterexample to the claim itself)"
        words = case.get("confirm", {}).get("words") or []
        failed = sorted({h for w in words if w.get("verdict") == "not-converged" for h in w.get("failed_hypotheses", [])})
        body += [
            rf"\subsection*{{Case {n}: {escape_text(case['claim'])} --- {escape_text(', '.join(broken) or 'no hypothesis broken')}}}",
            r"\noindent\textbf{Broken:} " + escape_text(hyp) + r".\\",
            r"\textbf{Violation:} " + escape_text(f"{float(case['violation']):.4g}")
            + (r" (normalised drift of $H$; threshold " + escape_text(f"{case['threshold']:g}") + ")"
               if case["claim"] == "sen-identity" else
               r" (gap left at the horizon: the loss, or $1 - a_t$, of the words the checker proves not converged"
               + (r"; failed hypotheses named by the checker: " + escape_text(", ".join(failed)) if failed else "")
               + ")") + r".\\",
            r"\textbf{Confirmation:} " + prose(str(case.get("confirm", {}).get("message", ""))) + r".\\",
            # the path as the command needs it from the current directory (the repository root)
            r"\textbf{Replay:} {\ttfamily " + escape_id(f"attndyn search --replay {shell_path(f)}") + "}",
            _config_table(case["point"]), "",
        ]
        shown = (r"the drift $H(\tau) - H(0)$ of the SEN quantity and the topic scores $s_t$"
                 if case["claim"] == "sen-identity" else
                 r"the topic scores $s_t$, attention $a_t$ and loss (the loss floor dashed)")
        figures.append(FigureSpec(
            f"Case {n} ({case['claim']}, " + (", ".join(broken) or "no hypothesis") + " broken): " + shown
            + r" over $\tau$ (log scale, the last six decades), one line per topic word.",
            path=str(plot_case(case, fig_dir / f"cx-{n}-{case['claim']}-{'+'.join(broken) or 'none'}")[0])))
    return Section(title, "\n".join(body), figures)


# --------------------------------------------------------------------------- report hook

# the confirmed, shrunk cases kept with the project (each has a regression test)
KEPT_CASES = Path(__file__).resolve().parents[2] / "tests" / "data" / "counterexamples"


def add_report_arguments(p) -> None:
    """``--cases DIR`` for the commands that write the LaTeX report."""
    p.add_argument("--cases", action="append", metavar="DIR", default=None,
                   help="list the confirmed counterexamples of this `attndyn search --out` directory "
                        "(or folder of case files) in the report (repeatable; default: the cases "
                        "kept in tests/data/counterexamples, when present)")


def report_sections(args, report_dir) -> list:
    """One counterexample section per ``--cases`` directory (default: the kept cases)."""
    given = getattr(args, "cases", None)
    dirs = [Path(d) for d in given] if given else ([KEPT_CASES] if KEPT_CASES.is_dir() else [])
    fig_dir = Path(report_dir) / "figures"
    out = []
    for d in dirs:
        files = find_cases(d)  # validates the directory too
        if not files:
            if given:
                raise UsageError(f"--cases {d}: no counterexample case files there")
            continue
        for f in files:
            check_case(f, json.loads(f.read_text()), "--cases")
        out.append(counterexample_section(d, fig_dir=fig_dir))
    return out
