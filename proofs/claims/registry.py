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
import inspect
import pkgutil
import sys
import time
import traceback
from typing import Any, Callable, Iterable

from attndyn.proofs.claims.figures import figure_json, FigureSpec
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
    # for the report: FigureSpec (data drawn by the report, with a caption) or an image path
    figures: list = field(default_factory=list)

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
    # the verifier takes ``setting=`` (a numeric claim measured on a user's setting, issue 10;
    # called without it, it measures the paper's)
    takes_setting: bool = False


class NotApplicable(Exception):
    """Raised by a verifier given a ``setting`` that its claim does not apply to (e.g. a control
    that needs a linear classifier); the message says why.  :func:`run_claim` lets it through."""


@dataclass
class ClaimResult:
    claim: Claim
    outcome: Outcome
    seconds: float
    setting: str | None = None  # the name of the setting it was measured on (None: the paper's)

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
            **({"setting": self.setting} if self.setting is not None else {}),
            "details": {"reason": self.outcome.reason, **self.outcome.details},
            # what the report needs, so that `attndyn report --from verify.json` rebuilds it
            # without running the claim (from_json)
            "slow": self.claim.slow,
            "statement": self.claim.statement,
            "assumptions": list(self.claim.assumptions),
            "steps": [{"text": st.text, "latex": st.latex} for st in self.outcome.steps],
            "figures": [figure_json(f) for f in self.outcome.figures],
        }

    @classmethod
    def from_json(cls, d: dict) -> "ClaimResult":
        """A result read back from :meth:`to_json` (``verify.json``); its claim cannot be re-run."""
        details = dict(d.get("details") or {})
        reason = str(details.pop("reason", ""))
        cid = str(d["id"])

        def not_runnable() -> Outcome:
            raise RuntimeError(f"claim {cid} was read from JSON; run it from the registry instead")

        c = Claim(cid, str(d.get("title", "")), str(d.get("kind", "")), str(d.get("expected", "verified")),
                  str(d.get("statement", "")), tuple(str(a) for a in d.get("assumptions", ())), not_runnable,
                  bool(d.get("slow", False)))
        steps = [Step(str(st.get("text", "")), str(st.get("latex", ""))) for st in d.get("steps", ())]
        figures = [FigureSpec.from_json(f) for f in d.get("figures", ())]
        setting = d.get("setting")
        return cls(c, Outcome(d.get("status", "error"), reason, steps, details, figures),
                   float(d.get("seconds", 0.0)), None if setting is None else str(setting))

    def __repr__(self) -> str:
        mark = "as expected" if self.ok else f"NOT as expected ({self.claim.expected})"
        return f"<{self.claim.id}: {self.outcome.status}, {mark}, {self.seconds:.2f}s: {self.outcome.reason}>"

    def _repr_latex_(self) -> str:
        """The claim's statement (LaTeX, as in the report) with its status."""
        return f"\\textbf{{{self.claim.id}}} ({self.outcome.status}): {self.claim.statement}"


class Verification(list):
    """The results of a verify run (a list of :class:`ClaimResult`), readable in a notebook:
    its ``repr`` is the table of ``attndyn verify``, ``_repr_latex_`` a LaTeX table."""

    @property
    def ok(self) -> bool:
        """Every claim's status equals its expectation."""
        return all(r.ok for r in self)

    def __repr__(self) -> str:
        if not self:
            return "Verification(no claims)"
        width = max(len(r.claim.id) for r in self)
        rows = [f"{'ok ' if r.ok else 'BAD'} {r.claim.id:<{width}} {r.outcome.status:<9} {r.seconds:6.2f}s  "
                f"{r.outcome.reason}" for r in self]
        where = {r.setting for r in self} - {None}
        head = (f"Verification: {sum(r.ok for r in self)} of {len(self)} claims as expected"
                + (f" on setting {', '.join(sorted(where))}" if where else ""))
        return "\n".join([head, *rows])

    def _repr_latex_(self) -> str:
        rows = "".join(rf" \\ \text{{{r.claim.id}}} & \text{{{r.outcome.status}}} & "
                       rf"\text{{{'yes' if r.ok else 'NO'}}} & {r.seconds:.2f}" for r in self)
        return (r"$\begin{array}{llll}\text{claim} & \text{status} & \text{as expected} & \text{seconds} \\ \hline"
                + rows.removeprefix(r" \\") + r"\end{array}$")


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
        takes = "setting" in inspect.signature(fn).parameters
        _REGISTRY[id] = Claim(id, title, kind, expected, statement, tuple(assumptions), fn, bool(slow), takes)
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


def run_claim(c: Claim, setting: Any = None) -> ClaimResult:
    """Run one claim; an exception becomes status ``error`` with its message, never a crash.

    ``setting``: measure a numeric claim on this setting (``c.takes_setting`` must hold) instead
    of the paper's; :class:`NotApplicable` is raised through to the caller."""
    t0 = time.perf_counter()
    if setting is not None and not c.takes_setting:
        raise ValueError(f"claim {c.id} is not measured on a setting")
    try:
        outcome = c.run() if setting is None else c.run(setting=setting)
    except NotApplicable:
        raise
    except Exception as exc:  # a verifier bug must be reported, not abort the whole suite
        outcome = Outcome(
            "error",
            f"{type(exc).__name__}: {exc}",
            details={"traceback": traceback.format_exc(limit=8)},
        )
    return ClaimResult(c, outcome, time.perf_counter() - t0,
                       None if setting is None else getattr(setting, "name", str(setting)))


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
