r"""Exact claims about the conservation laws of attention models (issue 9).

Each claim is a :class:`~attndyn.proofs.laws.verify.LawClaim` (see that module for the
routes: exact Lie-derivative zero for a law, exact nonzero Lie derivative for a non-law,
exact rank over :math:`\mathbb Q` at a random rational point with a Schwartz–Zippel
failure bound and the two-sided completeness certificate for a count).  The statement
printed for each is rendered from the very expressions and numbers it checks.
All are fast (well under 5 s each); the larger models (moving words at :math:`d\ge2`,
six-word vocabularies) are left to ``attndyn laws``.
"""
from __future__ import annotations

from attndyn.proofs.claims.registry import claim, Outcome, Step
from attndyn.proofs.laws.verify import law_checks, LawClaim

REPORT_ORDER = 45  # after the paper's symbolic claims and controls, before the numeric ones


def _register(c: LawClaim) -> None:
    check = c.check

    def verifier() -> Outcome:
        status, reason, steps, details = check()
        return Outcome(status, reason, steps=[Step(t, l) for t, l in steps], details=details)

    verifier.__name__ = c.id.replace("-", "_")
    claim(c.id, c.title, kind="symbolic", statement=c.statement(), assumptions=c.full_assumptions(),
          expected=c.expected)(verifier)


for _c in law_checks():
    _register(_c)
