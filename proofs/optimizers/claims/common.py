"""Checks shared by the optimizer claims: a measured number against a theory-derived range."""
from __future__ import annotations

from dataclasses import dataclass, field
import math

import numpy as np

from attndyn.proofs.claims.registry import Outcome
from attndyn.proofs.confirm import Check, checks_details, combine


@dataclass(frozen=True)
class Measured:
    """``value`` must lie in ``[lo, hi]`` (a drift below a resolution threshold, a drift above it,
    a fitted slope in a range).  ``route`` says how it was measured; ``signed`` records signed
    extremes or the raw series."""

    what: str
    value: float
    lo: float = -math.inf
    hi: float = math.inf
    route: str = ""
    signed: dict = field(default_factory=dict)

    def holds(self) -> bool:
        return bool(np.isfinite(self.value) and self.lo <= self.value <= self.hi)

    def headroom(self) -> float:
        """How far inside (> 0) or outside (< 0) the range, relative to the nearest finite bound."""
        gaps = [(self.value - self.lo) / max(abs(self.lo), 1e-300)] if math.isfinite(self.lo) else []
        gaps += [(self.hi - self.value) / max(abs(self.hi), 1e-300)] if math.isfinite(self.hi) else []
        return float(min(gaps)) if gaps else math.inf

    def range_text(self) -> str:
        if math.isfinite(self.lo) and math.isfinite(self.hi):
            return f"in [{self.lo:.3g}, {self.hi:.3g}]"
        return f"<= {self.hi:.3g}" if math.isfinite(self.hi) else f"> {self.lo:.3g}"

    def verdict(self) -> tuple[str, str]:
        text = f"{self.what}: {self.value:.3g} ({'' if self.holds() else 'not '}{self.range_text()})"
        return ("verified" if self.holds() else "refuted"), text

    def details(self) -> dict:
        return {"what": self.what, "route": self.route, "measured": self.value,
                "lo": self.lo if math.isfinite(self.lo) else None,
                "hi": self.hi if math.isfinite(self.hi) else None,
                "headroom": self.headroom(), **self.signed}


def fitted_slope(x, y) -> float:
    """Least-squares slope of log|y| against log x."""
    return float(np.polyfit(np.log(np.asarray(x, float)), np.log(np.abs(np.asarray(y, float))), 1)[0])


def outcome(checks: list, steps, extra: dict | None = None) -> Outcome:
    status, reason = combine(checks)
    if status == "verified" and not any(isinstance(c, Check) for c in checks):
        reason = "; ".join(c.verdict()[1] for c in checks)
    details = checks_details(checks)
    details["measured"] = [c.details() for c in checks if isinstance(c, Measured)]
    details.update(extra or {})
    return Outcome(status, reason, steps, details)
