"""The residual budget of H (issue 12 §2): the derived sources (proofs/budget.py), the per-epoch
recorder (numerics/training/budget.py), the table, the claims' verdicts and `attndyn budget`."""
from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest
import sympy as sp

from attndyn.numerics.claims.budget import closure_verdict, fitted_slope, run_with_budget, slope_verdict
from attndyn.numerics.config.presets import preset_config
from attndyn.numerics.config.schema import CorpusSpec
from attndyn.numerics.data.corpus import SyntheticConfig
from attndyn.numerics.training.budget import BudgetRecorder, check_budget_config
from attndyn.numerics.training.budget_table import budget_table, cumulative, sen_H, source_names
from attndyn.numerics.training.train import load_corpus, train
from attndyn.proofs import budget as B
from attndyn.proofs.algebra import inner, is_exactly_zero
from attndyn.proofs.claims.symbolic_limits import drift_coefficient_stated
from attndyn.proofs.errors import UsageError
from attndyn.proofs.model import BASE as S, ETA_K, ETA_V
from attndyn.reports.cli import main


def small_cfg(lr=0.1, epochs=60, spread=0, **train_kw):
    base = preset_config("paper-fc")
    spec = CorpusSpec("synthetic", SyntheticConfig(n_topics=2, topic_words_per_topic=2, n_nontopic=20, m=4,
                                                   n_sentences=60, m_spread=spread))
    return replace(base, corpus=spec, train=replace(base.train, lr=lr, epochs=epochs, threads=1, **train_kw))


# ------------------------------------------------------------------ the derivation

def test_rate_pieces_telescope_to_the_lie_derivative_and_match_s7b_s7c():
    p = B.rate_pieces()
    assert is_exactly_zero(p["lengths"] + p["nontopic-scores"] + p["nontopic-embeddings"] - p["full"])
    a_i = sp.exp(S.s) / (sp.exp(S.s) + B.M_I)
    x, gN, Q = inner(S.g, S.v), inner(S.g, S.N), inner(S.q, S.q)
    s7b = -2 * ETA_V * Q * a_i * x * sp.exp(S.s) * (S.m - B.M_I) / (S.m * (sp.exp(S.s) + B.M_I))
    assert is_exactly_zero(p["lengths"] - s7b)
    a = sp.exp(S.s) / (sp.exp(S.s) + S.Z0)
    common = -2 * ETA_V * Q * a / (S.m * (sp.exp(S.s) + S.Z0))
    s7c = common * sp.exp(S.s) * (S.m - S.Z0) * x + common * (S.m + sp.exp(S.s)) * gN
    assert is_exactly_zero(p["full"] - s7c)
    # equal lengths: the lengths source vanishes identically
    assert is_exactly_zero(p["lengths"].xreplace({B.M_I: S.m}))


def test_finite_step_coefficient_reduces_to_s6_for_one_frozen_sentence():
    c2 = B.fixed_query(B.step_change()["c2"])
    a = S.weight().xreplace({S.Z0: S.m})
    x, g2, Q = inner(S.g, S.v), inner(S.g, S.g), inner(S.q, S.q)
    one = {B.STEP_INPUTS["V2"]: ETA_V ** 2 * a ** 2 * g2,  # vdot = -eta_v a g
           B.STEP_INPUTS["qK"]: -ETA_K * Q * a * (1 - a) * x}  # sdot in the frozen regime
    assert is_exactly_zero(c2.xreplace(one) - drift_coefficient_stated())


def test_registry_rejects_duplicates_and_missing_inputs():
    src = B.sources()["finite-step"]
    with pytest.raises(ValueError, match="twice"):
        B.register_source(src)
    with pytest.raises(ValueError, match="inputs miss"):
        B.register_source(B.BudgetSource("x", "x", "S6", "step", src.expr, ("eta",)))


def test_optimizer_pieces_telescope_to_the_exact_step_change():
    """finite-step + noise + deviation + eta c1(batch step) + R3 = the exact change of H for the
    step taken, and the noise / deviation vanish when the three steps coincide."""
    st, p = B.step_change(), B.optimizer_pieces()
    same = {B.STEP_INPUTS[k + "_B"]: B.STEP_INPUTS[k] for k in ("vV", "V2", "qK")}
    assert is_exactly_zero(p["mini-batch-noise"].xreplace(same)) and is_exactly_zero(p["optimizer"].xreplace(same))
    STEP = B.STEP
    whole = (p["optimizer"] + STEP * B.at_batch_step(st["c1"]) + STEP ** 2 * B.at_batch_step(st["c2"])
             + B.fixed_query(st["r3"]) - B.fixed_query(st["exact"]))
    assert is_exactly_zero(whole)
    # control: the deviation with the batch's first-order term left in does not telescope
    assert not is_exactly_zero(whole + STEP * B.at_batch_step(st["c1"]))


def test_sentence_sums_kernel_matches_numpy():
    from attndyn.numerics.kernels.stats import sentence_sums

    rng = np.random.default_rng(3)
    V, d = 40, 3
    lengths = rng.integers(1, 7, size=25)
    offsets = np.concatenate([[0], np.cumsum(lengths)]).astype(np.int64)
    ids = rng.integers(0, V, size=offsets[-1]).astype(np.int64)
    s, E = rng.normal(size=V), rng.normal(size=(V, d))
    P, NV = np.empty(25), np.empty((25, d))
    sentence_sums(ids, offsets, s, E, P, NV)
    e = np.exp(s[ids])
    assert np.allclose(P, np.add.reduceat(e, offsets[:-1]), rtol=1e-14)
    assert np.allclose(NV, np.add.reduceat(E[ids] * e[:, None], offsets[:-1], axis=0), rtol=1e-13, atol=1e-15)


# ------------------------------------------------------------------ along a real run

@pytest.fixture(scope="module")
def tiny_run():
    cfg = small_cfg(spread=2)  # unequal lengths: every first-order source is nonzero
    corpus = load_corpus(cfg.corpus)
    rec = BudgetRecorder(cfg, corpus, check_every=7)
    res = train(cfg, corpus, progress=False, observer=rec)
    return cfg, corpus, res, rec.arrays()


def test_every_step_closes_to_round_off(tiny_run):
    """Brute force: the measured per-epoch change of H equals the sum of every source's increment
    at that epoch (the remainder included), epoch by epoch."""
    _, _, res, terms = tiny_run
    tr = res.trajectory
    assert np.array_equal(tr["epoch"], np.arange(len(tr["epoch"])))
    H = sen_H(tr["q_norm"], tr["topic_scores"], tr["topic_norms"], terms["m"])
    assert source_names(terms) == ["finite-step", "nontopic-scores", "nontopic-embeddings", "lengths", "query", "higher-order"]
    total = sum(terms[f"term_{n}"] for n in source_names(terms))
    assert np.max(np.abs(np.diff(H, axis=0) - total)) <= 1e-12 * max(1.0, np.max(np.abs(H)))
    for n in ("lengths", "nontopic-scores", "nontopic-embeddings", "finite-step"):
        assert np.max(np.abs(terms[f"term_{n}"])) > 1e-10, n
    assert terms["kernel_gap"] < 1e-12 and terms["kernel_checks"] >= 8


OPTIMIZER_RUNS = {  # (train overrides, the optimizer's own source)
    "sgd": (dict(optimizer="sgd", batch_size=16), "mini-batch-noise"),
    "momentum": (dict(optimizer="momentum", momentum=0.9, lr=0.01), "momentum"),
    "nesterov": (dict(optimizer="nesterov", momentum=0.9, lr=0.01, batch_size=25), "momentum"),
    "adam": (dict(optimizer="adam", lr=0.01), "adam-scaling"),
}


def optimizer_run(name, recorder_as=None):
    """A short run of optimizer ``name`` recorded by a recorder built for ``recorder_as`` (default:
    the run's own config; another one is the control: its mirror predicts the wrong steps)."""
    kw, _ = OPTIMIZER_RUNS[name]
    cfg = small_cfg(spread=2, epochs=30, **kw)
    corpus = load_corpus(cfg.corpus)
    rec_cfg = cfg if recorder_as is None else small_cfg(spread=2, epochs=30, **OPTIMIZER_RUNS[recorder_as][0])
    rec = BudgetRecorder(rec_cfg, corpus, check_every=7)
    res = train(cfg, corpus, progress=False, observer=rec)
    rec.finish(res.model)
    return res, rec.arrays()


def epoch_gap(res, terms) -> float:
    """Largest |measured per-epoch change of H - sum of the sources' increments| over the run."""
    tr = res.trajectory
    H = sen_H(tr["q_norm"], tr["topic_scores"], tr["topic_norms"], terms["m"])
    total = sum(terms[f"term_{n}"] for n in source_names(terms))
    return float(np.max(np.abs(np.diff(H, axis=0) - total)) / max(1.0, np.max(np.abs(H))))


@pytest.mark.parametrize("name", sorted(OPTIMIZER_RUNS))
def test_other_optimizers_close_step_by_step(name):
    """Every epoch of an sgd / momentum / nesterov / adam run: the measured change of H equals the
    sum of the sources, which include the optimizer's own; the mirrored step is the kernels' step."""
    res, terms = optimizer_run(name)
    own = OPTIMIZER_RUNS[name][1]
    names = source_names(terms)
    assert own in names and "higher-order" in names
    assert ("mini-batch-noise" in names) == (OPTIMIZER_RUNS[name][0].get("batch_size") is not None)
    assert epoch_gap(res, terms) <= 1e-12
    assert float(terms["step_gap"]) < 1e-9 and float(terms["kernel_gap"]) < 1e-12
    assert np.max(np.abs(terms[f"term_{own}"])) > 1e-8
    batches = -(-60 * 8 // 10 // 16) if name == "sgd" else (-(-48 // 25) if name == "nesterov" else 1)
    assert int(terms["steps"]) == 30 * batches


@pytest.mark.parametrize("name,wrong", [("momentum", "gd"), ("adam", "momentum"), ("nesterov", "momentum")])
def test_a_recorder_that_mirrors_the_wrong_optimizer_does_not_close(name, wrong):
    """Control: the sources are only right with the run's own update rule (the closure decides)."""
    cfg = small_cfg(spread=2, epochs=30, **OPTIMIZER_RUNS[name][0])
    corpus = load_corpus(cfg.corpus)
    rec = BudgetRecorder(replace(cfg, train=replace(cfg.train, optimizer=wrong)), corpus)
    res = train(cfg, corpus, progress=False, observer=rec)
    rec.finish(res.model)
    terms = rec.arrays()
    assert epoch_gap(res, terms) > 1e-6 and float(terms["step_gap"]) > 1e-3


def test_a_diverging_run_keeps_its_budget_to_the_last_finite_epoch(tmp_path, capsys):
    """issue 12: a run that diverges keeps its partial trajectory and budget (simulate --budget);
    lr 1e3 with a trained classifier makes the loss explode within a few epochs."""
    out = tmp_path / "run"
    main(["simulate", "--preset", "ablation-tc-both", "--set", "corpus.n_sentences=100", "--set",
          "corpus.n_nontopic=30", "--set", "train.lr=1e3", "--set", "train.epochs=200", "--set", "train.threads=1",
          "--budget", "--no-progress", "--no-verdict", "--out", str(out)])
    assert "RuntimeWarning" not in capsys.readouterr().err
    assert json.loads((out / "summary.json").read_text())["status"] == "unstable"
    terms = dict(np.load(out / "budget_terms.npz"))
    traj = dict(np.load(out / "trajectory.npz"))
    n = len(traj["epoch"])
    assert 2 <= n < 200 and np.array_equal(terms["epoch"][:n], traj["epoch"])
    for name in source_names(terms):  # every step between finite records has finite terms
        assert np.all(np.isfinite(terms[f"term_{name}"][:n - 1])), name
    assert main(["budget", str(out), "--no-plot"]) in (0, 1)  # the table is written either way
    assert json.loads((out / "budget.json").read_text())["epochs"] == [0, int(traj["epoch"][-1])]


def test_the_step_check_follows_a_trained_query():
    """gd with the query trained: the scores the kernels show move with q too (q.dk + dq.k + dq.dk);
    the predicted step includes that, so the step check stays at rounding (it reported ~2e-4
    before, a false alarm)."""
    cfg = small_cfg(spread=2, epochs=20)
    cfg = replace(cfg, train=replace(cfg.train, trainable=cfg.train.trainable | {"query"}))
    corpus = load_corpus(cfg.corpus)
    rec = BudgetRecorder(cfg, corpus)
    res = train(cfg, corpus, progress=False, observer=rec)
    rec.finish(res.model)
    assert rec.steps == 20 and rec.step_gap < 1e-9 and rec.kernel_gap < 1e-12


def test_cumulative_is_the_plain_sum_of_increments(tiny_run):
    _, _, _, terms = tiny_run
    inc = terms["term_finite-step"]
    epochs = np.array([3, 10, 25, 60])
    got = cumulative(terms, "finite-step", epochs)
    for k, e in enumerate(epochs):
        want = np.zeros(inc.shape[1])
        for n in range(3, e):  # a loop, on purpose
            want += inc[n]
        assert np.allclose(got[k], want, rtol=1e-13, atol=1e-16)


def test_table_closes_and_a_missing_source_does_not(tiny_run):
    _, _, res, terms = tiny_run
    b = budget_table(res.trajectory, terms)
    assert b["closes"] and b["max_relative_gap"] < 1e-3
    status, _, details = closure_verdict(b)
    assert status == "verified" and details["headroom"] > 100
    dom = b["words"][0]["dominant"]
    status, reason, _ = closure_verdict(budget_table(res.trajectory, terms, omit=(dom,)))
    assert status == "refuted", reason
    with pytest.raises(UsageError, match="--omit"):
        budget_table(res.trajectory, terms, omit=("nope",))


def test_the_observer_leaves_training_bitwise_unchanged(tiny_run):
    cfg, corpus, res, _ = tiny_run
    plain = train(cfg, corpus, progress=False)
    for k in res.trajectory:
        assert np.array_equal(res.trajectory[k], plain.trajectory[k], equal_nan=True), k


def test_finite_step_scales_like_eta_at_a_fixed_horizon():
    lrs, fs, scores = (0.025, 0.05, 0.1, 0.2), [], []
    for lr in lrs:
        traj, terms = run_with_budget(small_cfg(lr=lr, epochs=int(round(2.0 / lr))))
        b = budget_table(traj, terms)
        fs.append(np.mean([abs(r["sources"]["finite-step"]) for r in b["words"]]))
        scores.append(np.mean([abs(r["sources"]["nontopic-scores"]) for r in b["words"]]))
    assert abs(fitted_slope(lrs, fs) - 1) <= 0.1
    assert slope_verdict(lrs, fs, "fs")[0] == "verified"
    assert slope_verdict(lrs, scores, "scores")[0] == "refuted"  # a flow effect: slope ~ 0


def test_verdicts_on_made_up_inputs():
    rows = [{"total": 1.0, "measured": 1.25, "dominant": "finite-step"}]
    table = {"words": rows, "closure_rtol": 0.1, "omitted": [], "kernel_gap": 0.0, "route": "r"}
    status, _, d = closure_verdict(table)
    assert status == "refuted" and d["signed_min"] == pytest.approx(-0.2)
    assert closure_verdict({**table, "kernel_gap": 1.0})[0] == "error"
    assert slope_verdict([1, 2], [1.0, 0.0], "x")[0] == "error"


def test_bad_configs_are_one_line_usage_errors():
    with pytest.raises(UsageError, match="train.trainable: a trained query"):
        cfg = small_cfg(batch_size=10, optimizer="sgd")
        check_budget_config(replace(cfg, train=replace(cfg.train, trainable=cfg.train.trainable | {"query"})))
    cfg = small_cfg()
    with pytest.raises(UsageError, match="train.trainable"):
        check_budget_config(replace(cfg, train=replace(cfg.train, trainable=frozenset({"embeddings"}))))


# ------------------------------------------------------------------ the command

def test_cli_simulate_budget_then_budget(tmp_path, capsys):
    run = tmp_path / "run"
    sets = ["--set", "corpus.n_sentences=60", "--set", "corpus.n_nontopic=20", "--set", "corpus.m=4",
            "--set", "train.epochs=30", "--set", "train.threads=1"]
    assert main(["simulate", "--preset", "paper-fc", *sets, "--budget", "--out", str(run), "--no-progress"]) == 0
    assert (run / "budget_terms.npz").is_file()
    assert main(["budget", str(run), "--no-plot"]) == 0
    out = capsys.readouterr().out
    assert "budget closes" in out and "finite-step" in out
    b = json.loads((run / "budget.json").read_text())
    assert b["closes"] and len(b["words"]) == 8
    assert main(["budget", str(run), "--no-plot"]) == 2  # no silent overwrite
    assert main(["budget", str(run), "--no-plot", "--overwrite", "--omit", "nope"]) == 2
    plain = tmp_path / "plain"
    # a run without --budget, only to be refused: no figures, no closing verdict (the run above has both)
    assert main(["simulate", "--preset", "paper-fc", *sets, "--out", str(plain), "--no-progress", "--no-figures",
                 "--no-verdict"]) == 0
    assert main(["budget", str(plain)]) == 2
    assert "--budget" in capsys.readouterr().err


@pytest.mark.slow
def test_report_section_and_sweep_slopes(tmp_path, capsys):
    import argparse

    from attndyn.reports.sections.budget import report_sections

    sets = ["--set", "corpus.n_sentences=60", "--set", "corpus.n_nontopic=20", "--set", "corpus.m=4",
            "--set", "train.threads=1"]
    dirs = []
    for lr, epochs in ((0.05, 40), (0.1, 20), (0.2, 10)):  # a fixed horizon eta * epochs = 2
        d = tmp_path / f"r{lr}"
        # the budget terms are what this test reads: no figures, no closing verdict (both are
        # tested on simulate's own output in test_simulate_outputs.py)
        assert main(["simulate", "--preset", "paper-fc", *sets, "--set", f"train.lr={lr}", "--set",
                     f"train.epochs={epochs}", "--budget", "--out", str(d), "--no-progress",
                     "--no-figures", "--no-verdict"]) == 0
        dirs.append(str(d))
    capsys.readouterr()
    assert main(["budget", *dirs, "--no-plot"]) == 0
    out = capsys.readouterr().out
    slope = float(out.split("finite-step")[-1].split("slope")[1].split()[0])
    assert abs(slope - 1) < 0.1, out
    sec, = report_sections(argparse.Namespace(budget_run=dirs[0]), tmp_path / "rep")
    assert "finite-step" in sec.body_latex and "closes" in sec.body_latex
    assert [p.suffix for p in sec.figures] == [".pdf"] and sec.figures[0].is_file()
    assert report_sections(argparse.Namespace(budget_run=None), tmp_path) == []


def _patched(name: str, factor) -> B.BudgetSource:
    src = B.sources()[name]
    return B.BudgetSource(src.name, src.title, src.claim, src.per, factor * src.expr, src.inputs)


def test_a_wrong_coefficient_in_a_source_is_refuted(monkeypatch):
    """The claims compare the very expressions the registry holds: a changed coefficient shows."""
    cfg = small_cfg(epochs=40)
    traj, terms = run_with_budget(cfg)
    assert closure_verdict(budget_table(traj, terms))[0] == "verified"
    monkeypatch.setitem(B.SOURCES, "nontopic-embeddings", _patched("nontopic-embeddings", 2))
    traj, terms = run_with_budget(cfg)
    assert closure_verdict(budget_table(traj, terms))[0] == "refuted"
    # an eta^3 'finite step' scales like eta^2 at a fixed horizon: N6's test refutes it
    monkeypatch.setitem(B.SOURCES, "finite-step", _patched("finite-step", B.STEP))
    lrs, fs = (0.05, 0.1, 0.2), []
    for lr in lrs:
        traj, terms = run_with_budget(small_cfg(lr=lr, epochs=int(round(2.0 / lr))))
        fs.append(np.mean([abs(r["sources"]["finite-step"]) for r in budget_table(traj, terms)["words"]]))
    assert slope_verdict(lrs, fs, "fs")[0] == "refuted"


def test_claim_statements_render_the_checked_bounds():
    from attndyn.reports.cli.assembly import claims
    from attndyn.proofs.settings import BUDGET

    c = claims()
    assert f"{BUDGET.closure_rtol:g}" in c["N6-budget-paper"].statement
    for name in ("finite-step", "nontopic-scores", "nontopic-embeddings", "lengths", "query"):
        assert name in c["N6-budget-paper"].statement
    assert "nontopic-scores" in c["neg-budget-no-nontopic-scores"].statement
    assert f"{BUDGET.slope_tol:g}" in c["N7-budget-eta-scaling"].statement
    assert c["N6-budget-paper"].slow and not c["N7-budget-eta-scaling"].slow


def test_an_overflowed_drift_never_closes(tiny_run):
    _, _, res, terms = tiny_run
    traj = {k: np.array(v, copy=True) for k, v in res.trajectory.items()}
    with np.errstate(over="ignore"):
        traj["topic_scores"][-1, 0] = 1e6  # e^{s} overflows: H is -inf
        b = budget_table(traj, terms)
    assert not b["closes"] and b["max_relative_gap"] is None and b["words"][0]["measured"] is None
    assert closure_verdict(b)[0] == "error"
    json.dumps(b, allow_nan=False)  # JSON-safe


def test_query_trained_run_closes_step_by_step_with_the_query_source():
    cfg = small_cfg(spread=1, epochs=40)
    cfg = replace(cfg, train=replace(cfg.train, trainable=cfg.train.trainable | {"query"}))
    traj, terms = run_with_budget(cfg)
    H = sen_H(traj["q_norm"], traj["topic_scores"], traj["topic_norms"], terms["m"])
    assert source_names(terms) == ["finite-step", "nontopic-scores", "nontopic-embeddings", "lengths", "query", "higher-order"]
    total = sum(terms[f"term_{n}"] for n in source_names(terms))
    assert np.max(np.abs(np.diff(H, axis=0) - total)) <= 1e-12 * max(1.0, np.max(np.abs(H)))
    assert np.max(np.abs(terms["term_query"])) > 1e-8 and terms["kernel_gap"] < 1e-12


def test_optimizers_verdict_needs_closure_and_the_own_source_on_top():
    """N9's verdict on hand-made tables: closes and dominant -> verified; the own source not on
    top for one word -> refuted; a gap above the bound -> refuted."""
    from attndyn.numerics.claims.budget import optimizers_verdict

    def table(gap, dominant):
        words = [{"word": w, "measured": 1.0, "total": 1.0 + gap, "dominant": dominant} for w in range(3)]
        return {"words": words, "closure_rtol": 0.1, "omitted": [], "kernel_gap": 0.0, "route": "r"}

    good = {"momentum": table(0.01, "momentum"), "adam": table(-0.02, "adam-scaling")}
    assert optimizers_verdict(good)[0] == "verified"
    assert optimizers_verdict({**good, "adam": table(-0.02, "nontopic-scores")})[0] == "refuted"
    status, reason, details = optimizers_verdict({**good, "momentum": table(0.2, "momentum")})
    assert status == "refuted" and details["runs"]["momentum"]["signed_max"] == pytest.approx(0.2)
