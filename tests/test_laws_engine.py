"""The conservation-law engine (issue 9): exact ranks, laws, certificates, models and calibrations."""
from __future__ import annotations

import json
from fractions import Fraction

import flint
import mpmath
import pytest
import sympy as sp

from attndyn.proofs.errors import UsageError
from attndyn.proofs.laws.calibration import expected_count, linear_net, relu_net
from attndyn.proofs.laws.lie import bracket, fields, lie_rank
from attndyn.proofs.laws.problem import FlowProblem, Ring
from attndyn.proofs.laws.prove import is_law, lie_derivatives
from attndyn.proofs.laws.run import check_count, in_law_space, run_laws, sen_law
from attndyn.proofs.laws.spec import NAMED, ModelSpec, named_model


# ---- the rank engine against a naive twin ----------------------------------------------------

def _twin_depth2(problem: FlowProblem, point):
    """Fields and all depth-2 brackets by plain SymPy differentiation of the TRUE exponentials
    (with the score offsets that make e^{s_w} equal E_w at the point), evaluated there, as mpmath rows."""
    D = problem.D
    th0 = dict(zip(problem.params, [sp.Rational(int(x.p), int(x.q)) for x in point[:D]]))
    E0 = [sp.Rational(int(x.p), int(x.q)) for x in point[D:]]
    to_exp = {E: e0 * sp.exp(s - s.subs(th0)) for (E, s), e0 in zip(problem.exps, E0)}
    phis = [sp.sympify(f).subs(to_exp) for f in problem.phi]
    X = [[r * sp.diff(f, t) for t, r in zip(problem.params, problem.rates)] for f in phis]
    B = []
    for a in range(len(X)):
        for b in range(a + 1, len(X)):
            B.append([sum(X[a][i] * sp.diff(X[b][k], t) - X[b][i] * sp.diff(X[a][k], t)
                          for i, t in enumerate(problem.params)) for k in range(D)])
    return [[sp.Rational(sp.simplify(c.subs(th0))) for c in row] for row in X + B], len(X)


def _svd_rank(rows, dps=150):
    """Float twin: mpmath SVD at high precision of the row-equilibrated matrix (rank is row-scale
    invariant; without equilibration the huge dynamic range of exact values fools any tolerance)."""
    with mpmath.workdps(dps):
        M = [[mpmath.mpf(sp.Rational(c).p) / sp.Rational(c).q for c in r] for r in rows]
        M = [[x / max(abs(y) for y in r) for x in r] for r in M if any(r)]
        sv = mpmath.svd_r(mpmath.matrix(M), compute_uv=False)
        return sum(1 for x in sv if abs(x) > mpmath.mpf(10) ** (-dps // 3))


@pytest.mark.parametrize("name,d", [("paper-reduced", 2), ("unequal-lengths", 2), ("moving-words", 1),
                                    ("key-projection", 2)])
def test_rank_matches_mpmath_svd_twin(name, d):
    P = named_model(name, d=d).problem()
    res, ring, basis = lie_rank(P, seed=3)
    rows, nf = _twin_depth2(P, res.point)
    # the engine's own fields at the point agree exactly with the twin's
    eng = [[ring.value(c, res.point) for c in X] for X in fields(ring)]
    for er, tr in zip(eng, rows[:nf]):
        assert [sp.Rational(int(x.p), int(x.q)) for x in er] == list(tr)
    assert _svd_rank(rows[:nf]) == res.field_rank
    assert _svd_rank(rows) == res.rank_by_depth[1]
    exact = flint.fmpq_mat([[flint.fmpq(int(sp.Rational(c).p), int(sp.Rational(c).q)) for c in r] for r in rows])
    assert exact.rank() == res.rank_by_depth[1]


def test_rank_twin_sees_a_planted_dependency():
    P = named_model("moving-words", d=1).problem()
    res, ring, basis = lie_rank(P, seed=5)
    rows = [[ring.value(c, res.point) for c in v] for v in basis]
    planted = rows + [[a * 3 - b * flint.fmpq(2, 7) for a, b in zip(rows[0], rows[-1])]]
    as_sp = [[sp.Rational(int(x.p), int(x.q)) for x in r] for r in planted]
    assert flint.fmpq_mat(planted).rank() == res.rank == _svd_rank(as_sp)


def test_bracket_is_antisymmetric_and_failure_bound_small():
    P = named_model("moving-words", d=1).problem()
    ring = Ring(P)
    X, Y = fields(ring)[:2]
    a, b = bracket(ring, X, Y), bracket(ring, Y, X)
    for u, w in zip(a, b):
        assert ring.add(u, w).num.is_zero()  # [X, Y] = -[Y, X]
    res, _, _ = lie_rank(P)
    assert 0 < res.failure_bound <= 1e-12 and res.degree_bound >= 1


# ---- the models --------------------------------------------------------------------------

# (name, d): (D, rank, laws found, complete) — the exact results (see the README table)
EXPECTED = {
    ("paper-reduced", 1): (2, 1, 1, True),
    ("paper-reduced", 2): (4, 2, 2, True),
    ("paper-reduced", 3): (6, 3, 3, True),
    ("paper-reduced", 4): (8, 4, 4, True),
    ("query-trained", 2): (6, 2, 3, False),
    ("unequal-lengths", 1): (2, 2, 0, True),
    ("unequal-lengths", 2): (4, 3, 1, True),
    ("moving-words", 1): (8, 7, 1, True),
    ("key-projection", 1): (2, 1, 0, False),
    ("key-projection", 2): (6, 4, 2, True),
    ("linear-classifier", 3): (6, 2, 4, True),
    ("fixed-loss", 1): (2, 1, 1, True),
    ("fixed-loss", 2): (4, 1, 2, False),
}


@pytest.mark.parametrize("key", sorted(EXPECTED))
def test_named_models(key):
    name, d = key
    r = run_laws(named_model(name, d=d))
    assert (r.D, r.rank, r.n_independent, r.complete) == EXPECTED[key]
    assert all(r.proved)
    assert r.stop in ("closed", "full") and r.failure_bound <= 1e-12
    assert r.missing == r.D - r.rank - r.n_independent


def test_every_named_model_runs():
    assert set(NAMED) == {k[0] for k in EXPECTED}


def test_paper_reduced_laws_are_sen_and_q_orthogonal_key_components():
    r = run_laws(named_model("paper-reduced", d=3, m=2))
    P = r.problem
    sen = sen_law(P, 2, 1)
    k = [p for p in P.params if str(p).startswith("k_t")]
    q = [1, 2, 3]  # the default fixed query
    assert in_law_space(r, sen)
    # the trivial laws: the components of k_t orthogonal to q (not v_t!)
    for perp in ([2, -1, 0], [3, 0, -1]):
        assert in_law_space(r, sum(a * x for a, x in zip(perp, k)))
    assert not in_law_space(r, sum(a * x for a, x in zip(q, k)))
    assert r.n_independent == 3 and r.complete


def test_sen_coefficient_follows_the_rate_ratio():
    r = run_laws(named_model("paper-reduced", d=2, m=3, rate_v=Fraction(3, 2), rate_k=1))
    P = r.problem
    right = sen_law(P, 3, Fraction(3, 2))
    assert in_law_space(r, right) and is_law(P, right)
    assert not in_law_space(r, sen_law(P, 3, 1))
    # the reported law IS the SEN quantity (up to a constant factor)
    with_E = [h for h in r.laws if h.free_symbols & {E for E, _ in P.exps}]
    assert len(with_E) == 1
    ratio = sp.cancel(with_E[0] / right)
    assert ratio.is_number and ratio != 0
    assert "s_t" in r.law_strings()[1] and "exp(s_t)" in r.law_strings()[1]


def test_negative_controls():
    r = run_laws(named_model("paper-reduced", d=2, m=2))
    P = r.problem
    wrong = sen_law(P, 3, 1)  # 1/(m+1) instead of 1/m
    assert not is_law(P, wrong)
    assert any(x != 0 for x in lie_derivatives(P, wrong))
    assert not in_law_space(r, wrong)
    assert check_count(r, 2) is None
    assert "at most 2" in check_count(r, 3)
    assert "proved" in check_count(r, 1)


def test_fixed_loss_is_one_field():
    r = run_laws(named_model("fixed-loss", d=2))
    assert r.single_field and r.n_fields == 1 and r.rank == 1


def test_score_scale_one_over_sqrt_d_is_exact_for_square_d():
    spec = ModelSpec(d=4, sentences=(("t", "n1", "n2"),), frozen=("n1", "n2"), score_scale="1/sqrt(d)")
    r = run_laws(spec)
    assert r.complete and in_law_space(r, sen_law(r.problem, 2, 1))


def test_identical_scores_collapse_and_dependent_scores_are_refused():
    # two words with the same fixed embedding and a trained projection: identical scores, one E
    spec = ModelSpec(d=2, sentences=(("a", "b", "n"),), frozen=("n",), train=("k",), keys="projection",
                     embeddings=(("a", (Fraction(1), Fraction(2))), ("b", (Fraction(1), Fraction(2)))))
    assert len(spec.problem().exps) == 1
    bad = ModelSpec(d=2, sentences=(("a", "b", "n"),), frozen=("n",), train=("k",), keys="projection",
                    embeddings=(("a", (Fraction(1), Fraction(2))), ("b", (Fraction(2), Fraction(4)))))
    with pytest.raises(UsageError, match="linearly dependent"):
        bad.problem()


def test_repeated_word_in_a_sentence():
    spec = ModelSpec(d=1, sentences=(("t", "t", "n"),), frozen=("n",))
    r = run_laws(spec)
    assert len(r.problem.exps) == 1 and r.complete


# ---- calibrations (Marcotte, Gribonval & Peyré 2023) ------------------------------------------

@pytest.mark.parametrize("n,m,r", [(1, 1, 1), (2, 2, 1), (1, 1, 2), (2, 3, 2), (3, 3, 3)])
@pytest.mark.parametrize("kind", ["linear", "relu"])
def test_calibration_counts(kind, n, m, r):
    P = (linear_net if kind == "linear" else relu_net)(n, m, r)
    res = run_laws(P)
    assert res.n_independent == expected_count(kind, n, m, r)
    assert res.complete


def test_linear_net_laws_are_gram_differences():
    res = run_laws(linear_net(2, 2, 2))
    U = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"U_{i + 1}{j + 1}", real=True))
    V = sp.Matrix(2, 2, lambda i, j: sp.Symbol(f"V_{i + 1}{j + 1}", real=True))
    G = U.T * U - V.T * V
    for e in (G[0, 0], G[0, 1], G[1, 1]):
        assert in_law_space(res, e)


# ---- input handling and output ----------------------------------------------------------------

def test_from_dict_and_outputs():
    spec = ModelSpec.from_dict({"name": "toml", "d": 2, "sentences": [["t", "n1", "n2", "n3"]],
                                "frozen": ["n1", "n2", "n3"], "train": ["v", "k"], "rates": {"v": "3/2"}})
    r = run_laws(spec)
    assert in_law_space(r, sen_law(r.problem, 3, Fraction(3, 2)))
    data = json.loads(r.to_json())
    assert data["complete"] and data["lie"]["rank_lower_bound"] == 2 and data["laws"]
    assert r"\begin{align*}" in r.latex() and "complete" in r.latex()


@pytest.mark.parametrize("data,field", [
    ({"dd": 2}, "dd"),
    ({"train": []}, "train"),
    ({"train": ["x"]}, "train"),
    ({"d": 0}, "d"),
    ({"frozen": ["zz"]}, "frozen"),
    ({"rates": {"v": "-1"}}, "rates.v"),
    ({"rates": {"v": "abc"}}, "rates.v"),
    ({"d": 2, "score_scale": "1/sqrt(d)"}, "score_scale"),
    ({"keys": "nope"}, "keys"),
    ({"classifier": "mlp"}, "classifier"),
    ({"sentences": [["n1", "n2"]], "frozen": ["n1", "n2"]}, "train"),
])
def test_bad_specs_raise_usage_errors_naming_the_field(data, field):
    with pytest.raises(UsageError, match=field.replace(".", r"\.")):
        ModelSpec.from_dict(data)


def test_bad_run_arguments():
    with pytest.raises(UsageError, match="degree"):
        run_laws("paper-reduced", 0)
    with pytest.raises(UsageError, match="model"):
        run_laws("no-such-model")
    with pytest.raises(UsageError, match="score"):  # q fixed, keys fixed: a nonzero constant score
        ModelSpec(d=1, sentences=(("a", "n"),), frozen=("n",), train=("v",)).problem()
    with pytest.raises(UsageError, match="n"):
        linear_net(0, 1, 1)


def test_query_trained_missing_law_is_the_non_elementary_sen_analogue():
    """d = 1, q trained: the engine reports 1 law outside the class.  It is
    h = v^2/2 - G(s, C) with C = q^2 - k^2 (a law) and dG/ds = (1 + e^s/m)/(q^2 + k^2),
    where q^2 + k^2 = sqrt(C^2 + 4 s^2): an integral of e^s/sqrt(C^2+4s^2), not elementary.
    Check grad h . X = 0 for the single field X, whatever dG/dC is."""
    r = run_laws(named_model("query-trained", d=1, m=2))
    assert (r.D, r.rank, r.n_independent, r.missing) == (3, 1, 1, 1)
    P = r.problem
    v, k, q = P.params
    s = q * k
    m = 2
    E = sp.exp(s)
    phi = E * v / (E + m)
    X = [rate * sp.diff(phi, x) for x, rate in zip(P.params, P.rates)]
    Gs = (1 + E / m) / (q ** 2 + k ** 2)
    GC = sp.Symbol("G_C")
    C = q ** 2 - k ** 2
    grad_h = [sp.diff(v ** 2 / 2, x) - Gs * sp.diff(s, x) - GC * sp.diff(C, x) for x in P.params]
    assert sp.simplify(sum(g * x for g, x in zip(grad_h, X))) == 0
    assert sp.simplify((q ** 2 + k ** 2) ** 2 - (C ** 2 + 4 * s ** 2)) == 0


def test_toml_spec():
    import tomllib
    text = '''
name = "toml-reduced"
d = 2
sentences = [["t", "n1", "n2"], ["t", "n1", "n2"]]
frozen = ["n1", "n2"]
train = ["v", "k"]
q = [1, "1/2"]
[rates]
v = 1.5
k = 1
'''
    r = run_laws(ModelSpec.from_dict(tomllib.loads(text)))
    assert r.complete and r.n_independent == 2
    assert in_law_space(r, sen_law(r.problem, 2, Fraction(3, 2)))


def test_verify_claim_statements_are_rendered_from_what_they_check():
    """The statement shows the LaTeX of the very expressions checked and the very count compared
    (the claims themselves run through the registry in tests/test_laws_cli.py)."""
    from attndyn.proofs.laws.verify import law_checks, sen

    checks = {c.id: c for c in law_checks()}
    c = checks["laws-paper-reduced-d2"]
    assert sp.latex(sen(2, 2, 1)) in c.statement() and c.laws[0] == sen(2, 2, 1)
    assert f"exactly ${c.count}$" in c.statement() and c.count == 2
    wrong = checks["neg-laws-count"]
    assert wrong.expected == "refuted" and f"exactly ${wrong.count}$" in wrong.statement()
    assert {"verified", "refuted"} == {c.expected for c in law_checks()}


def test_depth_limit_gives_an_upper_bound_not_a_count():
    r = run_laws(named_model("moving-words", d=1), max_depth=2)
    assert r.stop == "max_depth" and r.rank == 6 and r.n_independent == 1 and not r.complete
    assert r.verdict().startswith("at most 1")
    assert check_count(r, 2) is None  # 2 laws cannot be excluded at depth 2 ...
    assert check_count(run_laws(named_model("moving-words", d=1)), 2) is not None  # ... but can at full depth
