"""``attndyn check-convergence``: decide, for every topic word, whether training converges.

Prints the theorem's hypotheses first (decided exactly: linear programs for achievability
and escapability), then one row per topic word with its verdict for the two conclusions
(attention -> 1, loss -> 0) and the reasons.  The exit status is 0 whenever the check ran:
``not-converged`` is a result, not an error.
"""
from __future__ import annotations

import argparse
from dataclasses import replace

import numpy as np

from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CONVERGENCE
from attndyn.reports.cli.exits import ExitCode
from attndyn.reports.cli.options import add_config_arguments, config_from_args

NAME = "check-convergence"
HELP = ("decide whether each topic word converges (attention -> 1, loss -> 0): hypotheses first, "
        "then the reduced gradient flow to a long horizon and the theory's certificate")

MARK = {True: "yes", False: "NO"}


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_config_arguments(p)
    p.add_argument("--classifier-matrix", metavar="FILE.npy",
                   help="the fixed classifier's (d_e x K) matrix instead of the config's")
    p.add_argument("--json", metavar="FILE", help="also write the full report (hypotheses, evidence) as JSON")
    p.add_argument("--confirm-gd", action="store_true",
                   help=f"also train the full model with discrete GD ({CONVERGENCE.gd_epochs} epochs, "
                        "numba kernels) and compare with the flow")
    p.add_argument("--gd-epochs", type=int, default=None, metavar="N",
                   help=f"epochs of --confirm-gd (default {CONVERGENCE.gd_epochs})")
    p.add_argument("--horizon", type=float, default=CONVERGENCE.horizon, metavar="T",
                   help=f"flow time of the reduced flow, tau = lr x epochs (default {CONVERGENCE.horizon:g})")
    p.add_argument("--no-progress", action="store_true", help="no progress of the flow on stderr")


def run(args: argparse.Namespace) -> int:
    from attndyn.numerics.convergence.checker import (check_convergence, load_classifier_matrix,
                                                      setting_from_config)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.numerics.convergence.runs import (save_times)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.numerics.training.memory import check_fits  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.numerics.training.train import (load_corpus)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.numerics.outputs import (check_json_target, write_json)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    save_times(args.horizon, CONVERGENCE.n_save)  # a bad --horizon fails before any work
    if args.gd_epochs is not None and args.gd_epochs < 2:
        raise UsageError(f"--gd-epochs: expected an integer >= 2, got {args.gd_epochs}")
    if args.json is not None:
        check_json_target(args.json, "--json")
    cfg = config_from_args(args)
    if args.classifier_matrix is not None and cfg.model.classifier == "tl":
        raise UsageError("--classifier-matrix: only the linear classifiers (fc, tc) take a matrix")
    if cfg.corpus.kind == "synthetic":
        check_fits(cfg, trajectory=False)  # before the corpus and the model are allocated
    corpus = load_corpus(cfg.corpus)
    if args.classifier_matrix is not None:
        load_classifier_matrix(args.classifier_matrix, cfg.model.d_e, corpus.n_classes)
        cfg = replace(cfg, model=replace(cfg.model, classifier_matrix=str(args.classifier_matrix)))
    name = args.preset or str(args.config)
    setting = setting_from_config(cfg, name=name, corpus=corpus)
    report = check_convergence(setting, horizon=args.horizon, confirm_gd=args.confirm_gd,
                               gd_epochs=args.gd_epochs, progress=None, flow_progress=not args.no_progress)
    print_report(setting, report)
    if args.json is not None:
        from attndyn.numerics.provenance import provenance  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

        write_json(args.json, {**report.to_json(), "provenance": provenance(cfg, corpus.n_classes)})
        print(f"wrote {args.json}")
    return ExitCode.OK


def print_report(setting, report) -> None:
    S = setting.system
    print(f"setting {report.setting}: {S.T} topic word(s), classifier {S.classifier}, |q| = "
          f"{setting.query_norm:.4g}, m = {', '.join(f'{x:g}' for x in np.unique(S.m))}, "
          f"eta_v/eta_k = {S.lr_ratio:g}")
    # --- hypotheses first
    words = report.words
    names = [h.name for h in words[0].hypotheses]
    width = max(len(w.name) for w in words)
    print("\nHypotheses (decided before any integration):")
    for h in words[0].hypotheses:
        implied = f", implied by {h.implied_by}" if h.implied_by else ""
        print(f"  {h.name:<10} [{h.kind}, needed for {h.needed_for}{implied}] {h.statement}")
    print("  " + " " * width + "  label  " + "  ".join(f"{n:>9}" for n in names))
    for w in words:
        print(f"  {w.name:<{width}}  {w.label:>5}  " + "  ".join(f"{MARK[h.holds]:>9}" for h in w.hypotheses))
    failed = [(w, h) for w in words for h in w.hypotheses if not h.holds]
    for w, h in failed:
        print(f"  {w.name}: {h.name} fails: {h.detail} (counterexample: {h.counterexample})")
    # --- the flow and the verdicts
    f = report.flow
    print(f"\nReduced flow ({f['solver']}): {f['message']} in {f['seconds']:.2f}s; {f['time_unit']}")
    print(f"\n  {'word':<{width}}  label  {'verdict':<13}  {'attention->1':<13}  {'loss->0':<13}  "
          f"{'a_end':>7}  {'s_end':>7}  {'|v|_end':>8}  {'tau0':>9}  suppression turn")
    for w in words:
        ev = w.evidence
        a = ev.get("attention", {}).get("a_end")
        s = ev.get("score", {}).get("s_end")
        n = ev.get("norm", {}).get("norm_end")
        tau0 = ev.get("monotone", {}).get("tau0")
        sup = ev.get("suppression", {})
        turn = f"{sup['turning_time']:.3g}" if sup.get("detected") else "-"
        fmt = lambda x, p=4: "n/a" if x is None else f"{x:.{p}g}"  # noqa: E731
        print(f"  {w.name:<{width}}  {w.label:>5}  {w.verdict:<13}  {w.attention.verdict:<13}  "
              f"{w.loss.verdict:<13}  {fmt(a):>7}  {fmt(s):>7}  {fmt(n):>8}  {fmt(tau0, 3):>9}  {turn}")
    print("\nReasons:")
    for w in words:
        print(f"  {w.name} ({w.verdict}):")
        for r in w.reasons:
            print(f"    - {r}")
        g = w.evidence.get("growth", {})
        if "norm_vs_log_tau" in g:
            nv, tl, sv = g["norm_vs_log_tau"], g["tau_loss"], g["s_vs_2log_v"]
            print(f"    - growth laws on tau in [{g['window'][0]:.3g}, {g['window'][1]:.3g}]: d|v|/dlog tau = "
                  f"{nv['fitted_slope']:.4g} (derived 1/gamma = {nv['derived_leading']:.4g}, first-order "
                  f"{nv['derived_corrected']:.4g}); tau*loss = {tl['fitted']:.4g} (derived 1/(eta_v pi gamma^2) = "
                  f"{tl['derived_leading']:.4g}); s - 2 log|v| = {sv['fitted_intercept']:.4g} (leading "
                  f"{sv['derived_leading']:.4g}, exact correction {sv['derived_corrected']:.4g})")
    if report.gd is not None:
        gd = report.gd
        print(f"\nFull-model GD ({gd['epochs']} epochs, lr {gd['lr']}, tau = {gd['tau_end']:g}, "
              f"{gd['seconds']:.1f}s): " + ", ".join(
                  f"{e['word']} {'confirmed' if e['confirmed'] else 'NOT confirmed'}" for e in gd["words"]))
    counts = {v: sum(w.verdict == v for w in words) for v in ("converged", "not-converged", "undecided")}
    print("\n" + ", ".join(f"{k}: {v}" for k, v in counts.items()))
