r"""The residual budget's table: predicted drift of each source vs the measured drift of H.

For topic word t, with the run's records (``trajectory.npz``) and the per-epoch increments of
:class:`attndyn.numerics.training.budget.BudgetRecorder` (``budget_terms.npz``):

* measured: :math:`\Delta H_t = H_t(E) - H_t(0)`,
  :math:`H_t = |q|^2|v_t|^2 - 2(s_t + e^{s_t}/m_t)` from the records (η_v/η_k = 1);
* predicted, per source: the sum of its increments over the epochs :math:`0..E-1`;
  ``total`` = the derived sources to :math:`O(\eta^2)` (every source but ``higher-order``),
  ``total_with_remainder`` adds the exact :math:`R_3`;
* the SEN residual :math:`|q||v_t| - \mathrm{curve}(s_t)` at the end, measured and predicted,
  through the exact map :math:`|q||v_t| = \sqrt{H_t + X}`, :math:`\mathrm{curve} = \sqrt{H_t(0) + X}`,
  :math:`X = 2(s_t + e^{s_t}/m_t)`.

The budget *closes* for a word when :math:`|\text{total} - \Delta H_t| \le`
``BUDGET.closure_rtol`` :math:`|\Delta H_t|`.
"""
from __future__ import annotations

import numpy as np

from attndyn.proofs.budget import ORDER
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import BUDGET

REMAINDER = "higher-order"


def sen_H(q_norm, scores, norms, m) -> np.ndarray:
    r""":math:`H = |q|^2|v_t|^2 - 2(s_t + e^{s_t}/m)` per record and topic word."""
    q = np.asarray(q_norm, dtype=np.float64)[:, None]
    s = np.asarray(scores, dtype=np.float64)
    return q ** 2 * np.asarray(norms, dtype=np.float64) ** 2 - 2.0 * (s + np.exp(s) / np.asarray(m))


def source_names(terms: dict) -> list[str]:
    names = [str(x) for x in terms.get("source_names", [])]
    return names or [n for n in ORDER if f"term_{n}" in terms]


def cumulative(terms: dict, name: str, epochs: np.ndarray) -> np.ndarray:
    r"""Predicted drift of source ``name`` from epoch ``epochs[0]`` to each of ``epochs``
    (records x words): the sum of the increments of the epochs in between."""
    inc = np.asarray(terms[f"term_{name}"], dtype=np.float64)
    ep = np.asarray(terms["epoch"], dtype=np.int64)
    c = np.vstack([np.zeros((1, inc.shape[1])), np.cumsum(inc, axis=0)])  # c[k] = sum of the first k
    idx = np.searchsorted(ep, np.asarray(epochs, dtype=np.int64))
    return c[idx] - c[idx[0]]


def budget_table(trajectory: dict, terms: dict, rtol: float = BUDGET.closure_rtol,
                 omit: tuple[str, ...] = ()) -> dict:
    """The budget (a JSON-ready dict); ``omit`` leaves sources out of the total (the control)."""
    ep = np.asarray(trajectory["epoch"], dtype=np.int64)
    tep = np.asarray(terms["epoch"], dtype=np.int64)
    if len(ep) < 2:
        raise UsageError("trajectory.npz: the budget needs at least two records")
    if len(tep) == 0 or tep[0] > ep[0] or tep[-1] + 1 < ep[-1] or np.any(np.diff(tep) != 1):
        raise UsageError("budget_terms.npz: its epochs do not cover the trajectory's every epoch "
                         f"{ep[0]}..{ep[-1]} (run simulate --budget)")
    words = np.asarray(terms["topic_words"])
    if not np.array_equal(words, np.asarray(trajectory["topic_words"])):
        raise UsageError("budget_terms.npz: its topic words differ from trajectory.npz's (another run?)")
    m = np.asarray(terms["m"], dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        H = sen_H(trajectory["q_norm"], trajectory["topic_scores"], trajectory["topic_norms"], m)
        measured = H[-1] - H[0]
    names = source_names(terms)
    unknown = [n for n in omit if n not in names]
    if unknown:
        raise UsageError(f"--omit: unknown source(s) {unknown}; known: {', '.join(names)}")
    per = {n: cumulative(terms, n, ep) for n in names}
    final = {n: per[n][-1] for n in names}
    in_total = [n for n in names if n != REMAINDER and n not in omit]
    total = sum((final[n] for n in in_total), np.zeros_like(measured))
    with_rem = total + (final[REMAINDER] if REMAINDER in final and REMAINDER not in omit else 0.0)
    s_end = np.asarray(trajectory["topic_scores"], dtype=np.float64)[-1]
    with np.errstate(over="ignore", invalid="ignore"):  # an overflowed run gives NaN -> None below
        X = 2.0 * (s_end + np.exp(s_end) / m)
        res_meas = np.sqrt(np.maximum(H[-1] + X, 0)) - np.sqrt(np.maximum(H[0] + X, 0))
        res_pred = np.sqrt(np.maximum(H[0] + total + X, 0)) - np.sqrt(np.maximum(H[0] + X, 0))
    with np.errstate(invalid="ignore"):
        gap = np.abs(total - measured)
    bound = rtol * np.abs(measured)
    finite = np.isfinite(measured) & np.isfinite(total)  # an overflowed run never "closes"
    rows = []
    for t, w in enumerate(words):
        contrib = {n: _num(final[n][t]) for n in names}
        dominant = max(in_total, key=lambda n: abs(contrib[n] or 0.0)) if in_total else None
        ok = bool(finite[t] and measured[t] != 0)
        rows.append({
            "word": int(w), "m": float(m[t]), "H0": _num(H[0, t]), "measured": _num(measured[t]),
            "sources": contrib, "total": _num(total[t]), "total_with_remainder": _num(with_rem[t]),
            "relative_gap": float(gap[t] / abs(measured[t])) if ok else None,
            "closes": bool(finite[t] and gap[t] <= bound[t]), "dominant": dominant,
            "dominant_share": _num(contrib[dominant] / total[t]) if ok and dominant and total[t] else None,
            "sen_residual_measured": _num(res_meas[t]), "sen_residual_predicted": _num(res_pred[t]),
        })
    rel = [r["relative_gap"] if r["relative_gap"] is not None else float("inf") for r in rows]
    return {
        "format": "attndyn-budget/1",
        "epochs": [int(ep[0]), int(ep[-1])],
        "lr": float(terms["lr"]),
        "sources": names,
        "in_total": in_total,
        "omitted": list(omit),
        "closure_rtol": rtol,
        "closes": bool(all(r["closes"] for r in rows)),
        "max_relative_gap": _num(max(rel)) if rel else None,  # None: some word's drift is not finite
        "headroom": (rtol / max(rel)) if rel and 0 < max(rel) < float("inf") else None,
        "kernel_gap": float(terms.get("kernel_gap", np.nan)),
        "kernel_checks": int(terms.get("kernel_checks", 0)),
        "words": rows,
        "route": ("numeric: each derived source (proofs/budget.py, lambdified) evaluated at every epoch "
                  "of the run and summed; measured H from the records; closes iff |total - measured| <= "
                  f"{rtol:g} |measured| for every topic word"),
    }


def _num(x):
    """A JSON-safe float: None for NaN or Inf."""
    x = float(x)
    return x if np.isfinite(x) else None


def _fmt(x, spec: str) -> str:
    return "n/a" if x is None else format(x, spec)


def format_table(b: dict) -> str:
    """The budget as a plain-text table, one row per topic word."""
    names = [n for n in b["sources"]]
    head = ["word", "measured"] + names + ["total", "gap %", "closes", "dominant"]
    rows = []
    for r in b["words"]:
        gap = r["relative_gap"]
        rows.append([str(r["word"]), _fmt(r["measured"], ".5g")] + [_fmt(r["sources"][n], ".4g") for n in names]
                    + [_fmt(r["total"], ".5g"), "n/a" if gap is None else f"{100 * gap:.3f}",
                       "yes" if r["closes"] else "NO", r["dominant"] or "-"])
    widths = [max(len(h), *(len(row[k]) for row in rows)) for k, h in enumerate(head)]
    return "\n".join("  ".join(c.rjust(w) for c, w in zip(row, widths)) for row in [head, *rows])
