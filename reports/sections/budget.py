r"""The report section on the residual budget of the SEN quantity (``attndyn report --budget-run DIR``).

For a run written by ``attndyn simulate --budget --out DIR``: the decomposition
:math:`\Delta H = \eta\sum_i \dot H_i + \eta^2 c_2 + R_3` with each source's derived expression,
the table (per topic word: each source's predicted drift, their sum, the measured drift, the gap)
and a stacked plot over epochs of the sources' cumulative predicted drift against the measured
:math:`H_t(\text{epoch}) - H_t(0)` (:func:`plot_budget`, also written by ``attndyn budget``).
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

from attndyn.proofs.errors import UsageError
from attndyn.reports.latex.document import Section
from attndyn.reports.latex.escape import escape_text
from attndyn.reports.latex.mathlayout import display_math

TITLE = "Residual budget of the SEN quantity"

COLORS = {"finite-step": "tab:blue", "nontopic-scores": "tab:orange", "nontopic-embeddings": "tab:green",
          "lengths": "tab:red", "query": "tab:purple", "higher-order": "tab:gray", "mini-batch-noise": "tab:olive",
          "momentum": "tab:brown", "adam-scaling": "tab:pink"}
OTHER_COLOR = "tab:cyan"  # a source registered later without a colour here


def load_run(run_dir) -> tuple[dict, dict, dict]:
    """``(summary, trajectory, terms)`` of a ``simulate --budget`` run; one line if it is not one."""
    import json  # deferred: only when a run is read

    d = Path(run_dir)
    need = {"summary.json": "run attndyn simulate --out DIR first",
            "trajectory.npz": "run attndyn simulate --out DIR first",
            "budget_terms.npz": "the run was made without --budget: rerun `attndyn simulate ... --budget --out DIR`"}
    for name, hint in need.items():
        if not (d / name).is_file():
            raise UsageError(f"RUN_DIR {d}: no {name} ({hint})")
    try:
        summary = json.loads((d / "summary.json").read_text())
        with np.load(d / "trajectory.npz") as z:
            traj = {k: z[k] for k in z.files}
        with np.load(d / "budget_terms.npz") as z:
            terms = {k: z[k] for k in z.files}
    except (OSError, ValueError) as e:
        raise UsageError(f"RUN_DIR {d}: unreadable run files ({e})") from None
    return summary, traj, terms


def plot_budget(traj: dict, terms: dict, out_base: Path, omit=()) -> list[Path]:
    """Per topic word: the sources' cumulative predicted drift stacked over epochs and the measured
    :math:`H_t - H_t(0)` (black); written to ``out_base.png`` and ``out_base.pdf``."""
    import matplotlib  # deferred: matplotlib is slow to import; only figures need it

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # deferred: matplotlib is slow to import; only figures need it

    from attndyn.numerics.training.budget_table import cumulative, sen_H, source_names  # deferred: with the figure

    ep = np.asarray(traj["epoch"], dtype=np.int64)
    H = sen_H(traj["q_norm"], traj["topic_scores"], traj["topic_norms"], terms["m"])
    names = [n for n in source_names(terms) if n not in omit]
    cum = {n: cumulative(terms, n, ep) for n in names}
    T = H.shape[1]
    cols = min(4, T) or 1
    rows = max(1, -(-T // cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.0 * cols, 2.4 * rows), squeeze=False, sharex=True)
    for t in range(T):
        ax = axes[t // cols][t % cols]
        # a source at round-off level (e.g. lengths ~1e-17 when every m_i = m) is left out of the stack
        scale = max(np.max(np.abs(H[:, t] - H[0, t])), 1e-300)
        shown = [n for n in names if np.max(np.abs(cum[n][:, t])) > 1e-9 * scale]
        if shown:
            ax.stackplot(ep, *[cum[n][:, t] for n in shown], colors=[COLORS.get(n, OTHER_COLOR) for n in shown],
                         labels=shown, alpha=0.75)
        ax.plot(ep, H[:, t] - H[0, t], color="black", lw=1.0, ls="--", label="measured")
        ax.set_title(f"word {int(terms['topic_words'][t])}", fontsize=8)
        ax.tick_params(labelsize=7)
    for k in range(T, rows * cols):
        axes[k // cols][k % cols].axis("off")
    legend = {}
    for ax in axes.ravel():
        for h, lab in zip(*ax.get_legend_handles_labels()):
            legend.setdefault(lab, h)
    fig.legend(list(legend.values()), list(legend), loc="lower center", ncol=min(len(legend), 6),
               fontsize=7, frameon=False)
    fig.supxlabel("epoch", fontsize=8, y=0.07)
    fig.supylabel(r"$H_t - H_t(0)$: predicted by source (stacked), measured (dashed)", fontsize=8)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    paths = []
    for ext in ("png", "pdf"):
        p = Path(f"{out_base}.{ext}")
        fig.savefig(p, dpi=130)
        paths.append(p)
    plt.close(fig)
    return paths


def budget_latex(b: dict) -> str:
    """The section's body: the decomposition, each source's derived expression, the table."""
    from attndyn.proofs.budget import display, sources  # deferred: deriving the sources takes seconds

    src = sources()
    lines = [
        r"One gradient-descent step $\theta\to\theta+\eta F(\theta)$ changes "
        r"$H_t=|q|^2|v_t|^2-2\frac{\eta_v}{\eta_k}(s_t+e^{s_t}/m_t)$ by exactly "
        r"$\Delta H=\eta\sum_i\dot H_{t,i}+\eta^2c_2+R_3$. The first-order term, the Lie derivative of the "
        r"actual multi-sentence field, vanishes in the paper's reduced regime (S2); per sentence it splits "
        r"telescopically into the violations of that regime. Each source below is derived from the model "
        r"(SymPy), lambdified and evaluated at every epoch of the run, then summed over the epochs "
        r"(a left Riemann sum: the step is the Euler step from $\theta_n$, so no quadrature error enters).",
    ]
    for name in b["sources"]:
        if name in src:
            s = src[name]
            what = {"occurrence": r"rate of one occurrence of $t$ in sentence $i$, summed over $i$, times $\eta$",
                    "step": "change over one step, from the step's totals"}[s.per]
            lines.append(rf"\paragraph{{\texttt{{{escape_text(name)}}}}} {escape_text(s.title)} "
                         rf"(extends {escape_text(s.claim)}); {what}:")
            lines.append(display_math(display(name)))

    lines.append(
        escape_text(f"Run: epochs {b['epochs'][0]}..{b['epochs'][1]}, lr {b['lr']:g}. The budget closes when "
                    f"|total - measured| <= {b['closure_rtol']:g} |measured| for every topic word: "
                    f"{'it closes' if b['closes'] else 'it does NOT close'} (largest relative gap "
                    f"{'not finite' if b['max_relative_gap'] is None else format(b['max_relative_gap'], '.3g')})."
                    " Derived step totals vs kernel gradients: largest relative "
                    f"gap {b['kernel_gap']:.2g} over {b['kernel_checks']} checks."))
    names = b["sources"]
    # scaled to the line: ten columns of numbers do not fit it at any readable fixed size
    lines.append(r"\begin{center}\resizebox{\linewidth}{!}{\begin{tabular}{r" + "r" * (len(names) + 3) + "}")
    head = ["word", "measured"] + [escape_text(n) for n in names] + ["total", r"gap \%"]
    lines.append(" & ".join(head) + r"\\\hline")
    for r in b["words"]:
        fmt = lambda x, spec: "--" if x is None else format(x, spec)  # noqa: E731
        cells = [str(r["word"]), fmt(r["measured"], ".4g")] + [fmt(r["sources"][n], ".3g") for n in names]
        cells += [fmt(r["total"], ".4g"), fmt(None if r["relative_gap"] is None else 100 * r["relative_gap"], ".3f")]
        lines.append(" & ".join(cells) + r"\\")
    lines.append(r"\end{tabular}}\end{center}")
    dom = sorted({r["dominant"] for r in b["words"] if r["dominant"]})
    lines.append(escape_text("Dominant source: " + ", ".join(dom) + "."))
    return "\n".join(lines)


def add_report_arguments(p) -> None:
    """``--budget-run DIR`` for the commands that write the LaTeX report."""
    p.add_argument("--budget-run", metavar="DIR", default=None,
                   help="add the residual-budget section for a run written by `attndyn simulate --budget --out DIR`")


def report_sections(args, report_dir) -> list:
    run_dir = getattr(args, "budget_run", None)
    if not run_dir:
        return []
    from attndyn.numerics.training.budget_table import budget_table  # deferred: numerics load only when asked

    _, traj, terms = load_run(run_dir)
    b = budget_table(traj, terms)
    fig_dir = Path(report_dir) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    figs = plot_budget(traj, terms, fig_dir / "budget")
    return [Section(TITLE, budget_latex(b), [p for p in figs if p.suffix == ".pdf"])]
