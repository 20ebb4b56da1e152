r"""Figures a claim attaches to its :class:`~attndyn.proofs.claims.registry.Outcome`, as data.

A claim does not draw: it records *what* to plot — panels of named series, axis labels in
LaTeX math, log scales, reference curves and tolerance bands — in a :class:`FigureSpec`
with a caption that says what the figure shows.  The report layer
(:mod:`attndyn.reports.latex.figures`) draws it with matplotlib next to the claim; the spec
is also written into ``verify.json`` (:meth:`FigureSpec.to_json`) so that
``attndyn report --from verify.json`` redraws the same figure without re-running the claim.
A ready image file can be attached with ``FigureSpec(caption, path=...)``; a bare path
string in ``Outcome.figures`` is still accepted (its caption then falls back to the file name).

Series are thinned to at most ``max_points`` samples (evenly in index, always keeping the
last) and rounded to 7 significant digits, so the JSON stays small.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

MAX_POINTS = 400  # samples kept per series: enough for a smooth curve at page width
STYLES = ("line", "dashed", "dotted", "markers", "band")


def _thin(x: Sequence[float], y: Sequence[float], y2: Sequence[float] | None,
          max_points: int) -> tuple[list, list, list | None]:
    x, y = np.asarray(x, dtype=np.float64).ravel(), np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise ValueError(f"series: x has {x.size} samples, y has {y.size}")
    y2a = None if y2 is None else np.asarray(y2, dtype=np.float64).ravel()
    if x.size > max_points:
        idx = np.unique(np.linspace(0, x.size - 1, max_points).round().astype(int))
        x, y = x[idx], y[idx]
        y2a = None if y2a is None else y2a[idx]

    def r(a):
        return [float(f"{v:.7g}") if np.isfinite(v) else None for v in a]
    return r(x), r(y), (None if y2a is None else r(y2a))


@dataclass(frozen=True)
class Series:
    """One curve: ``label`` (LaTeX math allowed between ``$``), samples ``x``, ``y``; ``style``
    one of :data:`STYLES` (``band`` fills between ``y`` and ``y2``)."""

    label: str
    x: tuple
    y: tuple
    style: str = "line"
    y2: tuple | None = None
    color: int | None = None  # index into the colour cycle (a word's data and its law share one); -1 black

    @classmethod
    def of(cls, label: str, x, y, style: str = "line", y2=None, max_points: int = MAX_POINTS,
           color: int | None = None) -> "Series":
        if style not in STYLES:
            raise ValueError(f"series {label!r}: style must be one of {STYLES}, got {style!r}")
        if style == "band" and y2 is None:
            raise ValueError(f"series {label!r}: a band needs y2")
        xs, ys, y2s = _thin(x, y, y2, max_points)
        return cls(label, tuple(xs), tuple(ys), style, None if y2s is None else tuple(y2s),
                   None if color is None else int(color))

    def to_json(self) -> dict:
        out = {"label": self.label, "style": self.style, "x": list(self.x), "y": list(self.y)}
        if self.y2 is not None:
            out["y2"] = list(self.y2)
        if self.color is not None:
            out["color"] = self.color
        return out

    @classmethod
    def from_json(cls, d: dict) -> "Series":
        y2 = d.get("y2")
        return cls(str(d.get("label", "")), tuple(d.get("x", ())), tuple(d.get("y", ())),
                   str(d.get("style", "line")), None if y2 is None else tuple(y2),
                   None if d.get("color") is None else int(d["color"]))


@dataclass(frozen=True)
class Panel:
    """One set of axes: a title, axis labels (LaTeX math between ``$``), scales, series."""

    title: str
    xlabel: str
    ylabel: str
    series: tuple[Series, ...]
    xscale: str = "linear"  # "linear" or "log"
    yscale: str = "linear"

    def __post_init__(self) -> None:
        for s in (self.xscale, self.yscale):
            if s not in ("linear", "log", "symlog"):
                raise ValueError(f"panel {self.title!r}: scale must be linear, log or symlog, got {s!r}")

    def to_json(self) -> dict:
        return {"title": self.title, "xlabel": self.xlabel, "ylabel": self.ylabel,
                "xscale": self.xscale, "yscale": self.yscale,
                "series": [s.to_json() for s in self.series]}

    @classmethod
    def from_json(cls, d: dict) -> "Panel":
        return cls(str(d.get("title", "")), str(d.get("xlabel", "")), str(d.get("ylabel", "")),
                   tuple(Series.from_json(s) for s in d.get("series", ())),
                   str(d.get("xscale", "linear")), str(d.get("yscale", "linear")))


@dataclass(frozen=True)
class FigureSpec:
    """A figure for the report: a caption (prose with ``$…$`` math: what the figure shows) and
    either panels to draw side by side or the ``path`` of a ready image."""

    caption: str
    panels: tuple[Panel, ...] = ()
    path: str = ""

    def __post_init__(self) -> None:
        if not self.caption.strip():
            raise ValueError("a figure needs a caption saying what it shows")
        if bool(self.panels) == bool(self.path):
            raise ValueError(f"figure {self.caption[:40]!r}: give panels or a path, exactly one")

    def to_json(self) -> dict:
        out: dict = {"caption": self.caption}
        if self.path:
            out["path"] = self.path
        else:
            out["panels"] = [p.to_json() for p in self.panels]
        return out

    @classmethod
    def from_json(cls, d) -> "FigureSpec | str":
        """The inverse of :meth:`to_json`; a bare string (an image path) stays a string."""
        if isinstance(d, str):
            return d
        return cls(str(d.get("caption", "")), tuple(Panel.from_json(p) for p in d.get("panels", ())),
                   str(d.get("path", "")))


def figure_json(fig) -> dict | str:
    """``Outcome.figures`` entry as JSON: a spec's dict, a path as its string."""
    return fig.to_json() if isinstance(fig, FigureSpec) else str(fig)
