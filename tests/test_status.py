"""Result statuses: one vocabulary per result type, each member with a message, JSON unchanged."""
import json

import pytest

from attndyn.proofs.status import ClaimStatus, FlowStatus, PointStatus, Status, TrainStatus, Verdict

KINDS = (ClaimStatus, FlowStatus, PointStatus, TrainStatus, Verdict)


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_every_status_has_a_message_and_serialises_as_its_string(kind):
    for member in kind:
        assert isinstance(member, Status) and member.message
        assert member == member.value and f"{member:<3}" == f"{member.value:<3}" and str(member) == member.value
        assert json.loads(json.dumps({"status": member})) == {"status": member.value}
        assert kind.coerce(member.value) is member


@pytest.mark.parametrize("kind", KINDS, ids=lambda k: k.__name__)
def test_an_unknown_status_is_rejected_naming_the_vocabulary(kind):
    with pytest.raises(ValueError, match=kind.__name__):
        kind.coerce("maybe")


def test_vocabularies_are_the_strings_the_result_files_already_hold():
    assert [s.value for s in ClaimStatus] == ["verified", "refuted", "error"]
    assert [s.value for s in Verdict] == ["converged", "not-converged", "undecided"]
    assert [s.value for s in FlowStatus] == ["ok", "failed", "budget"]
    assert [s.value for s in TrainStatus] == ["ok", "diverged", "unstable", "precision-lost", "overflow",
                                              "interrupted"]
    # a search point's status is a flow status or an error of the evaluation itself (a run that
    # exhausted its budget is a "failed" point; its message says "budget exhausted")
    assert ({s.value for s in FlowStatus} - {"budget"}) | {"error"} == {s.value for s in PointStatus}
