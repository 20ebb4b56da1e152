"""The claim registry: every statement attndyn verifies, symbolic or numeric.

A *claim* is a statement with an expectation: ``verified`` for the paper's
results, ``refuted`` for negative controls (a deliberately wrong coefficient, a
violated hypothesis) that a sound verifier must reject.  Running a claim gives
an :class:`Outcome`: a status, a one-line reason, the derivation steps (LaTeX)
and JSON-serialisable details.  ``attndyn verify`` runs them all and succeeds
only when every status equals its expectation.

Claims are declared with the :func:`claim` decorator in the modules of *claim
packages* (``attndyn.proofs.claims``, ``attndyn.numerics.claims``, …).  This module
names none of them: the caller says which packages exist (:func:`load`; the command
line assembles the list in :mod:`attndyn.reports.cli.assembly`), and :func:`registry`
orders the claims by their module's ``REPORT_ORDER`` (then module name, then
declaration order), whatever order the modules happened to be imported in.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import importlib
import pkgutil
import sys
import time
import traceback
from typing import Any, Callable, Iterable

from attndyn.proofs.status import ClaimStatus

STATUSES = tuple(s.value for s in ClaimStatus)
KINDS = ("symbolic", "numeric")

DEFAULT_ORDER = 1000  # REPORT_ORDER of a claim module that declares none: after the others


@dataclass(frozen=True)
class Step:
    """One numbered step of a derivation: a sentence saying what is done, and the math."""

    text: str
    latex: str = ""


class Derivation:
    """Collects the steps of a derivation as it is carried out.

    ``eq("Context vector", c, expr)`` records ``c = expr`` rendered by
    :func:`sympy.latex`; ``note("...")`` records prose only.  Strings are taken
    as ready LaTeX.
    """

    def __init__(self) -> None:
        self.steps: list[Step] = []

    @staticmethod
    def tex(obj: Any) -> str:
        if isinstance(obj, str):
            return obj
        import sympy  # deferred: SymPy is slow to import

        return sympy.latex(obj)

    def show(self, text: str, expr: Any) -> Any:
        self.steps.append(Step(text, self.tex(expr)))
        return expr

    def eq(self, text: str, lhs: Any, rhs: Any) -> Any:
        self.steps.append(Step(text, f"{self.tex(lhs)} = {self.tex(rhs)}"))
        return rhs

    def note(self, text: str) -> None:
        self.steps.append(Step(text))


@dataclass
class Outcome:
    """What running a claim found."""

    status: ClaimStatus  # a plain string is accepted and converted
    reason: str
    steps: list[Step] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    figures: list[str] = field(default_factory=list)  # paths of images for the report

    def __post_init__(self) -> None:
        try:
            self.status = ClaimStatus.coerce(self.status)
        except ValueError:
            raise ValueError(f"Outcome.status must be one of {STATUSES}, got {self.status!r}") from None


@dataclass(frozen=True)
class Claim:
    id: str
    title: str
    kind: str
    expected: str
    statement: str  # LaTeX
    assumptions: tuple[str, ...]
    run: Callable[[], Outcome]
    slow: bool = False  # left out of a default ``attndyn verify``; run with ``--all`` or ``--claim``


@dataclass
class ClaimResult:
    claim: Claim
    outcome: Outcome
    seconds: float

    @property
    def ok(self) -> bool:
        return self.outcome.status == self.claim.expected

    def to_json(self) -> dict:
        return {
            "id": self.claim.id,
            "title": self.claim.title,
            "kind": self.claim.kind,
            "expected": self.claim.expected,
            "status": self.outcome.status,
            "seconds": round(self.seconds, 4),
            "details": {"reason": self.outcome.reason, **self.outcome.details},
        }


_REGISTRY: dict[str, Claim] = {}


def claim(
    id: str,
    title: str,
    *,
    kind: str,
    statement: str,
    assumptions: tuple[str, ...] = (),
    expected: str = "verified",
    slow: bool = False,
) -> Callable[[Callable[[], Outcome]], Callable[[], Outcome]]:
    """Register the decorated zero-argument function as the verifier of a claim.

    ``slow``: the claim takes long enough (tens of seconds) that a default ``attndyn verify``
    leaves it out; ``--all`` runs it, and so does naming it with ``--claim``."""
    if kind not in KINDS:
        raise ValueError(f"claim {id}: kind must be one of {KINDS}, got {kind!r}")
    if expected not in ("verified", "refuted"):
        raise ValueError(f"claim {id}: expected must be 'verified' or 'refuted', got {expected!r}")

    def register(fn: Callable[[], Outcome]) -> Callable[[], Outcome]:
        if id in _REGISTRY and _REGISTRY[id].run is not fn:
            raise ValueError(f"claim id {id!r} registered twice")
        _REGISTRY[id] = Claim(id, title, kind, expected, statement, tuple(assumptions), fn, bool(slow))
        return fn

    return register


def load(packages: Iterable[str]) -> None:
    """Import every module of each claim package (a package walk, no list of modules), so that
    their :func:`claim` declarations register.  Importing twice is a no-op."""
    for name in packages:
        pkg = importlib.import_module(name)
        for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda i: i.name):
            importlib.import_module(f"{name}.{info.name}")


def report_rank(module: str) -> tuple[int, str]:
    """Where a claim module's claims stand in the report: its ``REPORT_ORDER``, then its name."""
    return getattr(sys.modules.get(module), "REPORT_ORDER", DEFAULT_ORDER), module


def registry(packages: Iterable[str] = ()) -> dict[str, Claim]:
    """All registered claims (after loading ``packages``, see :func:`load`), in report order."""
    load(packages)
    order = sorted(enumerate(_REGISTRY.values()), key=lambda ic: (report_rank(ic[1].run.__module__), ic[0]))
    return {c.id: c for _, c in order}


def select(only: str = "all", ids: list[str] | None = None, packages: Iterable[str] = (),
           include_slow: bool = True) -> list[Claim]:
    """Claims of one kind (``symbolic``, ``numeric`` or ``all``), optionally by id, among those
    registered after loading ``packages``.  ``include_slow=False`` leaves out the claims
    marked ``slow`` unless they are named in ``ids``.

    Raises ``KeyError`` naming the unknown ids, so the CLI can print them.
    """
    claims = registry(packages)
    if ids:
        unknown = [i for i in ids if i not in claims]
        if unknown:
            raise KeyError(
                f"unknown claim id(s): {', '.join(unknown)}; known: {', '.join(claims)}"
            )
        chosen = [claims[i] for i in ids]
    else:
        chosen = [c for c in claims.values() if include_slow or not c.slow]
    if only != "all":
        chosen = [c for c in chosen if c.kind == only]
    return chosen


def run_claim(c: Claim) -> ClaimResult:
    """Run one claim; an exception becomes status ``error`` with its message, never a crash."""
    t0 = time.perf_counter()
    try:
        outcome = c.run()
    except Exception as exc:  # a verifier bug must be reported, not abort the whole suite
        outcome = Outcome(
            "error",
            f"{type(exc).__name__}: {exc}",
            details={"traceback": traceback.format_exc(limit=8)},
        )
    return ClaimResult(c, outcome, time.perf_counter() - t0)


def decide(exact_zero: bool, numeric_zero: bool, what: str) -> tuple[str, str]:
    """Combine an exact and a numeric test of ``expr == 0`` into a status and reason.

    Both must agree: a disagreement means a bug in the verifier (or a numerical
    problem) and is reported as ``error`` rather than silently trusted.
    """
    if exact_zero and numeric_zero:
        return "verified", (f"{what}: route exact simplification to 0, confirmed numerically at the "
                            f"random points within the tolerance")
    if not exact_zero and not numeric_zero:
        return "refuted", f"{what}: does not simplify to 0 and is nonzero at a random point"
    return "error", (
        f"{what}: exact simplification says {'0' if exact_zero else 'nonzero'} but the "
        f"numeric check says {'0' if numeric_zero else 'nonzero'}"
    )
