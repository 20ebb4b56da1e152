r"""Drawing a claim's :class:`~attndyn.proofs.claims.figures.FigureSpec` for the report.

Panels are laid out side by side at the report's text width (16.4 cm on A4 with 2.3 cm
margins), so the PDF is included at 1:1 scale and its 8–9 pt labels read like the text's
footnotes: a three-panel figure stays readable at page width.  Axis labels are LaTeX math
(matplotlib's mathtext).  Files are written atomically (:func:`attndyn.numerics.outputs.atomic_replace`).
"""
from __future__ import annotations

import io
from pathlib import Path

from attndyn.numerics.outputs import atomic_replace
from attndyn.proofs.claims.figures import FigureSpec

TEXT_WIDTH_IN = 16.4 / 2.54  # the report's \linewidth (preamble.tex: a4paper, margin 2.3 cm)
PANEL_HEIGHT_IN = 2.45
_STYLE = {"line": {"linestyle": "-", "linewidth": 1.2},
          "dashed": {"linestyle": "--", "linewidth": 1.2},
          "dotted": {"linestyle": ":", "linewidth": 1.4},
          "markers": {"linestyle": "none", "marker": "o", "markersize": 2.2}}


def width_fraction(n_panels: int) -> float:
    """The fraction of the line a figure of ``n_panels`` panels takes (drawn at that size, so
    its labels keep their 8–9 pt): one panel does not need the whole width."""
    return {1: 0.6, 2: 0.85}.get(n_panels, 1.0)


def draw(spec: FigureSpec, path: Path) -> Path:
    """Draw ``spec``'s panels into the PDF ``path`` (one row, :func:`width_fraction` of the text
    width); return ``path``."""
    import matplotlib  # deferred: matplotlib is slow to import; only figures need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import; only figures need it
    from matplotlib.ticker import NullFormatter  # deferred: matplotlib is slow to import; only figures need it

    n = len(spec.panels)
    height = PANEL_HEIGHT_IN
    with plt.rc_context({"font.size": 8, "axes.titlesize": 8.5, "axes.labelsize": 8.5,
                         "legend.fontsize": 7, "xtick.labelsize": 7.5, "ytick.labelsize": 7.5,
                         "pdf.fonttype": 42}):
        fig, axes = plt.subplots(1, n, figsize=(TEXT_WIDTH_IN * width_fraction(n), height), squeeze=False)
        for ax, panel in zip(axes[0], spec.panels):
            for s in panel.series:
                x = [float("nan") if v is None else v for v in s.x]
                y = [float("nan") if v is None else v for v in s.y]
                if s.style == "band":
                    y2 = [float("nan") if v is None else v for v in (s.y2 or ())]
                    ax.fill_between(x, y, y2, color="0.85", label=s.label or None, linewidth=0)
                else:
                    kw = dict(_STYLE.get(s.style, _STYLE["line"]))
                    if s.color is not None:
                        kw["color"] = "black" if s.color < 0 else f"C{s.color % 10}"
                    ax.plot(x, y, label=s.label or None, **kw)
            ax.set_xscale(panel.xscale)
            ax.set_yscale(panel.yscale)
            for axis, scale in ((ax.xaxis, panel.xscale), (ax.yaxis, panel.yscale)):
                if scale == "log":  # minor labels (3x10^-2, 4x10^-2, ...) collide on short ranges
                    axis.set_minor_formatter(NullFormatter())
            ax.set_title(panel.title)
            ax.set_xlabel(panel.xlabel)
            ax.set_ylabel(panel.ylabel)
            ax.grid(True, linewidth=0.3, alpha=0.5)
            labelled = sum(1 for s in panel.series if s.label)
            if labelled:
                ax.legend(frameon=True, framealpha=0.8, edgecolor="none", handlelength=1.6,
                          borderaxespad=0.3, loc="best", ncol=2 if labelled > 4 else 1)
        fig.tight_layout(pad=0.4, w_pad=1.0)
        buf = io.BytesIO()
        fig.savefig(buf, format="pdf")
        plt.close(fig)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_replace(path, buf.getvalue())
    return path
