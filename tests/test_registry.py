"""The claim registry: selection, error capture, and the exact/numeric agreement rule."""
import pytest

from attndyn.proofs.claims import registry as C
from attndyn.reports.cli.assembly import claims as all_claims, select


def test_decide_combines_exact_and_numeric():
    assert C.decide(True, True, "x")[0] == "verified"
    assert C.decide(False, False, "x")[0] == "refuted"
    # disagreement is a verifier problem, never silently a pass
    assert C.decide(True, False, "x")[0] == "error"
    assert C.decide(False, True, "x")[0] == "error"


def test_run_claim_turns_exceptions_into_error_status():
    def boom():
        raise RuntimeError("kaput")

    c = C.Claim("t-boom", "boom", "symbolic", "verified", "", (), boom)
    r = C.run_claim(c)
    assert r.outcome.status == "error" and "kaput" in r.outcome.reason
    assert not r.ok
    assert r.to_json()["status"] == "error"


def test_refuted_expectation_counts_as_ok():
    c = C.Claim("t-neg", "neg", "symbolic", "refuted", "", (), lambda: C.Outcome("refuted", "wrong"))
    r = C.run_claim(c)
    assert r.ok and r.to_json()["expected"] == "refuted"


def test_select_rejects_unknown_ids_naming_them():
    with pytest.raises(KeyError, match="no-such-claim"):
        select("all", ["no-such-claim"])


def test_outcome_rejects_unknown_status():
    with pytest.raises(ValueError, match="status"):
        C.Outcome("maybe", "")


def test_claim_decorator_validates_kind_and_expected():
    with pytest.raises(ValueError, match="kind"):
        C.claim("x", "x", kind="numerical", statement="")
    with pytest.raises(ValueError, match="expected"):
        C.claim("x", "x", kind="numeric", statement="", expected="maybe")


def test_registered_ids_are_unique_and_well_formed():
    reg = all_claims()
    for cid, c in reg.items():
        assert cid == c.id
        assert c.kind in C.KINDS
        # every negative control is expected to be refuted, and only those
        assert (c.expected == "refuted") == cid.startswith("neg-"), cid


def test_registry_order_follows_claim_modules_not_import_order():
    reg = list(all_claims().values())
    rank = [C.report_rank(c.run.__module__) for c in reg]
    assert rank == sorted(rank)
