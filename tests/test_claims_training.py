"""Verdicts of the training claims (N3, N4, neg-trainable-query), with failing inputs too."""
from attndyn.numerics.claims import training as tc
from attndyn.proofs.settings import NUMERIC, TRAINING


def test_sen_verdict_accepts_small_and_rejects_large_residuals():
    assert tc.sen_verdict(0.01)[0] == "verified"
    assert tc.sen_verdict(NUMERIC.sen_paper_max * 1.01)[0] == "refuted"
    assert tc.sen_verdict(float("inf"))[0] == "refuted"


def test_negative_verdict():
    assert tc.negative_verdict(0.5, 0.01)[0] == "refuted"  # 0.5 > 10 x 0.01
    assert tc.negative_verdict(0.05, 0.01)[0] == "verified"
    assert tc.negative_verdict(float("nan"), 0.01)[0] == "refuted"


def test_kernel_gradients_equal_the_lambdified_symbolic_ones():
    errors = tc.kernel_vs_symbolic(points=2)
    assert set(errors) == {"loss", "embeddings", "keys", "query", "W"}
    assert tc.symbolic_verdict(errors)[0] == "verified"


def test_symbolic_comparison_catches_a_wrong_gradient(monkeypatch):
    """A verifier that cannot fail is a defect: double one symbolic derivative and it must refute."""
    original = tc.symbolic_gradients

    def corrupted(d, m, K, y):
        syms, f, X = original(d, m, K, y)
        # outputs: loss, dq (d entries), then the keys' derivatives: index d + 1 is dL/dk_{t,1}
        return syms, (lambda *a: [v if i != d + 1 else 2 * v for i, v in enumerate(f(*a))]), X

    monkeypatch.setattr(tc, "symbolic_gradients", corrupted)
    bad = tc.kernel_vs_symbolic(points=1)
    assert tc.symbolic_verdict(bad)[0] == "refuted"
    assert bad["keys"] > TRAINING.symbolic_rtol and bad["query"] <= TRAINING.symbolic_rtol


def test_claims_are_registered():
    from attndyn.reports.cli.assembly import claims as registry

    claims = registry()
    assert claims["N3-sen-paper"].expected == "verified"
    assert claims["N4-kernel-vs-symbolic"].kind == "numeric"
    assert claims["neg-trainable-query"].expected == "refuted"
