r"""Numeric confirmation of the exact conservation laws (issue 9).

:func:`confirm_laws` takes the laws that :func:`attndyn.proofs.laws.run_laws` found
and proved exactly and follows them along an integrated trajectory of the *real*
training flow :math:`\dot\theta=-\Lambda\nabla L(\theta)` of the same model, with
a concrete, deliberately generic classifier; each law's drift is compared with a
threshold derived from the integrator's tolerances, and a wrong law (negative
control) must drift far above its own threshold on the same trajectory.  See
:mod:`.confirm` for the loss, the threshold derivation and the movement test.
"""
from .confirm import (CLASSIFIERS, Confirmation, LawDrift, confirm_laws, law_drift, perturbed_controls, table,
                      threshold_rule)

__all__ = ["CLASSIFIERS", "Confirmation", "LawDrift", "confirm_laws", "law_drift", "perturbed_controls", "table",
           "threshold_rule"]
