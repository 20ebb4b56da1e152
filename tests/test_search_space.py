"""The counterexample search space: sampling, keys, hypotheses, isolation, validation."""
from __future__ import annotations

import json

import numpy as np
import pytest

from attndyn.numerics.convergence.hypotheses import achievability_lp
from attndyn.numerics.search.space import (CLAIMS, DIMENSIONS, DIMS, HYPOTHESES, SearchSpace,
                                           achievable_labels, classifier_matrix, describe,
                                           paper_hypotheses, point_key)
from attndyn.proofs.errors import UsageError


@pytest.mark.parametrize("claim", CLAIMS)
def test_sampling_is_deterministic_and_prefix_stable(claim):
    sp = SearchSpace(claim)
    a, b = sp.points(7, 30), sp.points(7, 30)
    assert a == b
    assert sp.points(7, 12) == a[:12]  # point i does not depend on the budget
    assert sp.points(8, 30) != a
    keys = [point_key(p) for p in a]
    assert len(set(keys)) == len(keys)
    for p in a:  # plain JSON, same key after a round trip, valid
        q = json.loads(json.dumps(p))
        assert point_key(q) == point_key(p)
        assert sp.validate(q) == p


@pytest.mark.parametrize("claim", CLAIMS)
def test_inside_points_keep_every_hypothesis(claim):
    sp = SearchSpace(claim, inside=True)
    pts = sp.points(3, 60)
    assert all(sp.broken(p) == [] for p in pts)
    restriction = paper_hypotheses(claim)
    for p in pts:
        for name, allowed in restriction.items():
            assert p[name] is None or p[name] in allowed
    if claim == "convergence":
        assert all(p["classifier"] == "fc" and all(achievable_labels(p)) for p in pts)
    else:  # the SEN identity holds for any classifier: the inside SEN space keeps all three
        assert {p["classifier"] for p in pts} == {"fc", "tc", "tl"}


@pytest.mark.parametrize("claim", CLAIMS)
def test_outside_search_reaches_every_hypothesis(claim):
    sp = SearchSpace(claim)
    seen = set()
    singles = set()
    for p in sp.points(0, 300):
        b = sp.broken(p)
        seen.update(b)
        if len(b) == 1:
            singles.add(b[0])
        # TL only in the reduced model with a fixed query (its kinks need the Filippov flow)
        if p["classifier"] == "tl":
            assert p["n_nontopic"] == "frozen" and not p["train_query"]
    expected = {h for h, (_, claims) in HYPOTHESES.items() if claim in claims}
    assert seen == expected
    assert len(singles) >= 4  # one broken hypothesis at a time is common


def test_sen_restriction_is_the_papers():
    r = paper_hypotheses("sen-identity")
    assert r["train_query"] == (False,) and r["m_spread"] == (0,) and r["n_nontopic"] == ("frozen",)
    assert r["dynamics"] == ("flow",) and r["frozen"] == ("none",)
    assert "classifier" not in r and "matrix" not in r
    rc = paper_hypotheses("convergence")
    assert rc["classifier"] == ("fc",) and set(rc["matrix"]) == {"paper-random", "generic"}
    with pytest.raises(UsageError, match="--claim"):
        paper_hypotheses("nonsense")


def test_matrix_families_and_achievability():
    sp = SearchSpace("convergence")
    base = sp.points(1, 1)[0]
    avg = sp.with_values(base, classifier="fc", K=3, d_e=3, matrix="average-column")
    W = classifier_matrix(avg)
    assert np.allclose(W[:, 0], (W[:, 1] + W[:, 2]) / 2)
    assert achievable_labels(avg) == [False, True, True]
    assert "H-ach" in sp.broken(avg)
    dup = sp.with_values(avg, K=4, matrix="duplicate-column")
    assert achievable_labels(dup)[:2] == [False, False]
    # generic columns in R^{d_e} with K <= d_e + 1 are affinely independent: all achievable
    gen = sp.with_values(avg, K=4, matrix="paper-random")
    assert all(achievable_labels(gen)) and sp.broken(gen) == []
    # ... but with d_e = 1 and K = 3 the middle column lies between the others
    W1 = classifier_matrix(sp.with_values(gen, d_e=1, K=3))
    middle = int(np.argsort(W1[0])[1])
    assert not achievability_lp(W1, middle)["holds"]
    # average-column needs K >= 3: normalise moves an impossible choice to an admissible one
    assert sp.with_values(avg, K=2)["matrix"] != "average-column"


def test_isolate_keeps_one_hypothesis():
    sp = SearchSpace("sen-identity")
    for p in sp.points(5, 200):
        for h in sp.broken(p):
            iso = sp.isolate(p, h)
            expected = {h, "M-frozen"} if h == "M-one-topic" else {h}
            assert set(sp.broken(iso)) == expected
            # sizes and scales are untouched
            assert all(iso[k] == p[k] for k in ("K", "d_e", "q_norm", "eta_v", "seed"))


def test_applicability_follows_edits():
    sp = SearchSpace("sen-identity")
    p = sp.with_values(sp.points(0, 1)[0], n_nontopic=10, dynamics="gd")
    assert p["n_sentences"] is not None and p["topic_words_per_sentence"] is not None
    assert p["gd_lr"] is not None
    q = sp.with_values(p, n_nontopic="frozen", dynamics="flow")
    assert q["n_sentences"] is None and q["topic_words_per_sentence"] is None and q["gd_lr"] is None
    r = sp.with_values(q, m=3, m_spread=9)  # m_spread <= m - 1
    assert r["m_spread"] == 2


def test_validate_names_the_bad_field():
    sp = SearchSpace("sen-identity")
    p = sp.points(2, 1)[0]
    with pytest.raises(UsageError, match=r"missing field\(s\) \['seed'\]"):
        sp.validate({k: v for k, v in p.items() if k != "seed"})
    with pytest.raises(UsageError, match=r"unknown field\(s\) \['colour'\]"):
        sp.validate({**p, "colour": 1})
    with pytest.raises(UsageError, match=r"point\.K: expected a value in \[2, 4\], got 9"):
        sp.validate({**p, "K": 9})
    with pytest.raises(UsageError, match=r"point\.classifier: expected fc \| tc"):
        sp.validate({**p, "classifier": "svm"})
    frozen = sp.with_values(p, n_nontopic="frozen")
    with pytest.raises(UsageError, match="n_sentences: does not apply"):
        sp.validate({**frozen, "n_sentences": 10})
    with pytest.raises(UsageError, match="expected a JSON object"):
        sp.validate([1, 2])


def test_description_lists_every_dimension():
    text = describe()
    for d in DIMENSIONS:
        assert d.name in text
    for h in ("M-query", "M-lengths", "M-frozen", "M-flow", "H-keys", "H-emb", "M-fc", "H-ach"):
        assert h in text
    assert DIMS["m_spread"].describe_range() == "0..min(10, m - 1)"
