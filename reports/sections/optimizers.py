"""The report's section for ``attndyn reproduce optimizers`` (numerics/experiments/optreproduce.py):
the matched-loss rule, the table (final loss, SEN residual, topic attention, time per optimizer)
and the SEN figure."""
from __future__ import annotations

from pathlib import Path

from attndyn.numerics.experiments.optreproduce import budget_cell
from attndyn.numerics.experiments.reproduce import fmt_number
from attndyn.reports.latex.document import Section
from attndyn.reports.latex.escape import escape_text


def optimizers_section(out_dir, data: dict) -> Section:
    """A :class:`Section` from the ``summary.json`` ``data`` of ``reproduce optimizers`` in ``out_dir``."""
    rows = []
    for r in data["runs"]:
        match = "reference" if r.get("optimizer") == "gd" else ("yes" if r.get("matched") else "no")
        rows.append(" & ".join(escape_text(x) for x in [
            str(r.get("classifier", "?")), str(r.get("optimizer", "?")), f"{r.get('lr', float('nan')):g}",
            str(r.get("epochs", "?")), match, fmt_number(r.get("final_loss"), 4),
            fmt_number(r.get("sen_residual_final"), 3), fmt_number(r.get("sen_residual_max"), 3),
            fmt_number(r.get("topic_attention_mean"), 3), f"{r.get('training_seconds', float('nan')):.1f}",
            budget_cell(r.get("budget"))]) + r" \\")
    body = [
        escape_text("The paper's synthetic FC and TC runs under each optimizer of train.optimizer "
                    "(PyTorch's SGD, momentum, Nesterov and Adam semantics), compared at matched training "
                    "loss. Rule: " + str(data.get("rule", ""))),
        escape_text(" The SEN residual is "),
        r"$\max_t\bigl|\,|q|\,|v_t| - \mathrm{curve}(s_t)\bigr|$"
        + escape_text(" over topic words at the last epoch (final) and over the run (max); attention is the "
                      "mean over topic words of their mean attention weight. Budget: whether the derived "
                      "sources of the drift of H (finite step, mini-batch noise, momentum or Adam's "
                      "deviation, moving non-topic words, unequal lengths) add up to the measured drift "
                      "within 10 % for every topic word (largest gap), and the dominant source with its "
                      "share of the summed |contributions|."),
        "",
        r"\begin{center}\footnotesize\setlength{\tabcolsep}{3pt}",  # 11 columns fit the text width
        r"\begin{tabular}{lllllllllll}",
        r"\toprule",
        r"clf & optimizer & lr & epochs & matched & final loss & SEN final & SEN max & attention & train s & budget \\",
        r"\midrule",
        *rows,
        r"\bottomrule",
        r"\end{tabular}",
        r"\end{center}",
    ]
    figures = [Path(out_dir) / f for f in data.get("figures", []) if str(f).endswith(".pdf")]
    return Section("Reproduction: optimizers at matched loss", "\n".join(body), [f for f in figures if f.is_file()])
