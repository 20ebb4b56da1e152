"""Result statuses as enums with a message each (in the manner of diffrax's ``RESULTS``).

Each result type has one vocabulary, a subclass of :class:`Status`.  Members are ``str``
values, so a status compares equal to its plain string (``ClaimStatus.VERIFIED ==
"verified"``), prints as it, and is written to JSON unchanged — result files stay readable
and keep their format.  ``Kind.coerce(x)`` turns a string (or a member) into the member and
raises ``ValueError`` naming the vocabulary otherwise.
"""
from __future__ import annotations

from enum import Enum


class Status(str, Enum):
    """A str-valued status with a one-line ``message`` saying what it means."""

    def __new__(cls, value: str, message: str = ""):
        obj = str.__new__(cls, value)
        obj._value_ = value
        obj.message = message
        return obj

    def __str__(self) -> str:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec)

    @classmethod
    def coerce(cls, value) -> "Status":
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"{cls.__name__} must be one of {tuple(m.value for m in cls)}, "
                             f"got {value!r}") from None


class ClaimStatus(Status):
    """What running a claim found."""

    VERIFIED = "verified", "the statement holds: the exact and the numeric checks agree it does"
    REFUTED = "refuted", "the statement fails: the exact and the numeric checks agree it does not"
    ERROR = "error", "undecided: the verifier raised, or the exact and numeric checks disagree"


class FlowStatus(Status):
    """How an integration (or a discrete-GD run) of a gradient flow ended."""

    OK = "ok", "reached the last save time"
    FAILED = "failed", "stopped early (non-finite state, step or event budget, solver failure); samples reached are kept"
    BUDGET = "budget", ("undecided: budget exhausted (the step or wall-time budget ran out before the last save "
                        "time); samples reached are kept")


class TrainStatus(Status):
    """How a training run ended."""

    OK = "ok", "every epoch ran with a finite loss"
    DIVERGED = "diverged", "the loss or the parameters became non-finite; the finite part is kept"
    UNSTABLE = "unstable", ("the loss rose far above its starting value (gradient descent is unstable at this "
                            "step size); training stopped there and the trajectory up to then is kept")
    PRECISION_LOST = "precision-lost", ("the logits grew so large that the loss lost all precision (its rounding "
                                        "error exceeds the tolerance); training stopped there, the trajectory kept")
    OVERFLOW = "overflow", ("a parameter overflowed the float type (inf; float32 ends at 3.4e38); training "
                            "stopped there and the finite part of the trajectory is kept")
    INTERRUPTED = "interrupted", ("stopped by Ctrl-C (SIGINT) at an epoch boundary; the full training state "
                                  "is in snapshot.npz and `simulate --resume` continues it")


class PointStatus(Status):
    """How the evaluation of one point of a counterexample search ended (``points.jsonl``)."""

    OK = "ok", "the point's run finished and its violation was measured"
    FAILED = "failed", "the point's run stopped early (its flow or training failed); no violation measured"
    ERROR = "error", "evaluating the point raised (or its worker died); the message and traceback are recorded"


class Verdict(Status):
    """The convergence checker's verdict on one conclusion for one topic word."""

    CONVERGED = "converged", "the hypotheses hold and the certificate is observed on the flow"
    NOT_CONVERGED = "not-converged", "a needed hypothesis fails, with a counterexample showing why"
    UNDECIDED = "undecided", "neither could be established within the horizon"
