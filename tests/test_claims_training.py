"""Verdicts of the training claims (N3, N4, neg-trainable-query), with failing inputs too."""
from attndyn.numerics.claims import kernels as kn
from attndyn.numerics.claims import training as tc
from attndyn.proofs.settings import NUMERIC, TRAINING


def test_sen_verdict_accepts_small_and_rejects_large_residuals():
    assert tc.sen_verdict(0.01)[0] == "verified"
    assert tc.sen_verdict(NUMERIC.sen_paper_max * 1.01)[0] == "refuted"
    assert tc.sen_verdict(float("inf"))[0] == "refuted"


def test_negative_verdict():
    assert tc.negative_verdict(0.5)[0] == "refuted"  # 0.5 > N3's bound
    assert tc.negative_verdict(NUMERIC.sen_paper_max / 2)[0] == "verified"
    assert tc.negative_verdict(float("nan"))[0] == "refuted"


def test_kernel_gradients_equal_the_lambdified_symbolic_ones():
    cases = kn.kernel_vs_symbolic(points=1)
    # d, classifier x kernel x path, key mode; plus the fused step (FC, TC: shared path, both key modes)
    assert len(cases) == 2 * (2 * 2 + 2 * 2 + 2) * 2 + 2 * 2 * 2
    assert {"step keys", "step query", "second step keys"} <= set(cases["d=3/tc/fused-shared/query-trained"])
    assert {"step scores", "step W", "grad W"} <= set(cases["d=3/tc/fused-shared/fixed-query"])
    assert {"step scores", "step embeddings"} <= set(cases["d=1/fc/fused-shared/fixed-query"])
    assert {"step scores", "step W", "grad W"} <= set(cases["d=3/tc/lowrank-shared/fixed-query"])
    assert {"step query", "grad W"} <= set(cases["d=1/fc/lowrank-fallback/query-trained"])
    assert {"step scores", "grad W"} <= set(cases["d=1/tc/fallback/fixed-query"])
    assert {"step query", "step W1", "grad b2"} <= set(cases["d=3/tl/shared/query-trained"])
    assert kn.symbolic_verdict(cases)[0] == "verified"


def test_symbolic_comparison_catches_a_wrong_gradient(monkeypatch):
    """A verifier that cannot fail is a defect: double one symbolic derivative and it must refute."""
    original = kn.symbolic_context

    def corrupted(d, length):
        f = original(d, length)
        # outputs: c (d entries), then dc_1/dx over x = q (d), keys...: index d + d is dc_1/dk_{1,1}
        return lambda *a: [v if i != 2 * d else 2 * v for i, v in enumerate(f(*a))]

    monkeypatch.setattr(kn, "symbolic_context", corrupted)
    bad = kn.kernel_vs_symbolic(points=1, dims=(1,), kinds=("tc",))
    assert kn.symbolic_verdict(bad)[0] == "refuted"
    case = bad["d=1/tc/shared/fixed-query"]
    assert case["grad keys"] > TRAINING.symbolic_rtol and case["grad embeddings"] <= TRAINING.symbolic_rtol


def test_n4_sees_a_score_step_without_the_query_norm(monkeypatch):
    """The step comparison, not only the gradients: a score step of eta_k instead of eta_k|q|^2."""
    from attndyn.numerics.model import attention

    real = attention.epoch_scores

    def no_qsq(sents, words, scores, emb, exps, clf, rates, *rest):
        model_q2 = no_qsq.q2
        return real(sents, words, scores, emb, exps, clf, rates._replace(s=rates.s / model_q2), *rest)

    original_step = attention.AttentionModel.step

    def step(self, *a, **k):
        no_qsq.q2 = float(self.query @ self.query)
        return original_step(self, *a, **k)

    monkeypatch.setattr(attention, "epoch_scores", no_qsq)
    monkeypatch.setattr(attention.AttentionModel, "step", step)
    bad = kn.kernel_vs_symbolic(points=1, dims=(3,), kinds=("fc",))
    assert kn.symbolic_verdict(bad)[0] == "refuted"
    assert bad["d=3/fc/shared/fixed-query"]["step scores"] > 1e-3


def test_claims_are_registered():
    from attndyn.reports.cli.assembly import claims as registry

    claims = registry()
    assert claims["N3-sen-paper"].expected == "verified"
    assert claims["N4-kernel-vs-symbolic"].kind == "numeric"
    assert claims["neg-trainable-query"].expected == "refuted"
