r"""Numeric claims: the proved conservation laws along the real gradient flow (issue 9).

The model is the paper's reduced one at :math:`d=3` with :math:`\eta_v/\eta_k=3/2`.  The
engine (:func:`attndyn.proofs.laws.run_laws`) finds and proves its laws exactly; here the
real flow :math:`\dot\theta=-\Lambda\nabla L`, :math:`L=F(\varphi(\theta))` with a fixed
random two-layer tanh classifier (:func:`attndyn.numerics.laws.confirm_laws`), is
integrated with DOP853 (rtol :math:`10^{-11}`) and every law is followed:

* ``laws-flow-paper-reduced-d3`` — the SEN quantity (rendered below from the expression
  followed) and every law the engine proves stay within their derived drift thresholds,
  the trajectory moves and the loss decreases;
* ``neg-laws-flow-m-plus-one`` — on the *same* trajectory the SEN quantity with
  :math:`1/(m+1)` drifts above its own derived threshold (expected: refuted).

One trajectory serves both (cached), about 2–4 s in all.
"""
from __future__ import annotations

from functools import lru_cache

import sympy as sp

from attndyn.numerics.laws.confirm import Confirmation, confirm_laws, LawDrift, threshold_rule
from attndyn.proofs.claims.registry import claim, Outcome, Step
from attndyn.proofs.laws.run import run_laws, tex_sci
from attndyn.proofs.laws.spec import named_model
from attndyn.proofs.laws.verify import sen, tex, to_problem

REPORT_ORDER = 75  # after the other numeric claims

D, M, RHO, SEED = 3, 2, sp.Rational(3, 2), 0
SEN = sen(D, M, RHO)  # the quantity claimed conserved
WRONG = sen(D, M + 1, RHO)  # the negative control: 1/(m+1)
_MODEL = (rf"the paper's reduced model ($d={D}$, fixed $q=(1,2,3)$, $m={M}$ frozen non-topic words, "
          rf"$\eta_v/\eta_k={sp.latex(RHO)}$)")
_ASSUMPTIONS = (
    r"classifier: one fixed random two-layer tanh network (8 hidden units, 3 classes, seeded), softmax "
    r"cross-entropy with a random label: a generic instance of ``any classifier''",
    rf"$\theta_0\sim N(0,0.5^2)$ (seed {SEED}), horizon $T=30$, DOP853 with rtol $10^{{-11}}$, "
    r"atol $10^{-13}$, every accepted step kept",
    r"threshold per quantity derived from the integrator's tolerances and that quantity's own gradient "
    r"(no amplification: the exact flow conserves a law from every point)",
)


@lru_cache(maxsize=1)
def trajectory() -> Confirmation:
    spec = named_model("paper-reduced", d=D, m=M, rate_v=RHO)
    return confirm_laws(run_laws(spec), spec=spec, seed=SEED)


def _drift_step(x: LawDrift, what: str) -> tuple[str, str]:
    rel = r"\le" if x.conserved else ">"
    return (f"{what}: maximal relative drift against its derived threshold (drift/threshold "
            f"{x.headroom:.1e})", rf"{tex_sci(x.drift)} \;{rel}\; {tex_sci(x.threshold)}")


def _run_facts(c: Confirmation) -> str:
    return (f"{c.n_steps} DOP853 steps, |dtheta| = {c.displacement:.3g}, loss {c.loss0:.3g} -> {c.lossT:.3g}, "
            f"grad check {c.grad_check:.1e}, {c.seconds.get('total', 0):.1f}s")


def _details(c: Confirmation, x: LawDrift) -> dict:
    # the quantity as a formula (the report typesets `_latex` keys as math)
    return {"quantity_latex": x.latex, "drift": x.drift, "threshold": x.threshold, "drift_over_threshold": x.headroom,
            "steps": c.n_steps, "displacement": c.displacement, "loss0": c.loss0, "lossT": c.lossT,
            "moved": c.moved, "loss_monotone": c.loss_monotone, "threshold_rule": threshold_rule()}


@claim(
    "laws-flow-paper-reduced-d3",
    "The proved laws stay conserved along the real flow (reduced model, d = 3, eta_v/eta_k = 3/2)",
    kind="numeric",
    statement=(f"Along an integrated trajectory of the training flow of {_MODEL}, the SEN quantity "
               f"${tex(SEN)}$ and every law the engine proves for this model stay at their initial values "
               r"within the integrator's tolerance (drift $\le$ the derived threshold)."),
    assumptions=_ASSUMPTIONS,
)
def laws_flow_paper_reduced_d3() -> Outcome:
    c = trajectory()
    h = c.drift_of(to_problem(c.problem, SEN), label="SEN", role="law")
    steps = [(f"Trajectory: {_run_facts(c)}", rf"\theta(0)\to\theta({c.horizon:g})"),
             _drift_step(h, f"SEN ${tex(SEN)}$")]
    steps += [_drift_step(x, f"engine law {x.label} = ${x.latex}$") for x in c.laws]
    worst = max([h] + c.laws, key=lambda x: x.headroom)
    ok = (c.integrator_status == 0 and c.moved and c.loss_monotone and c.grad_check <= c.grad_check_max
          and h.conserved and c.laws_conserved)
    if not (c.moved and c.integrator_status == 0 and c.grad_check <= c.grad_check_max):
        return Outcome("error", f"no valid trajectory: {c.status()}", steps=[Step(*s) for s in steps],
                       details=_details(c, h))
    reason = (f"drift <= derived threshold for SEN and all {len(c.laws)} proved laws; worst drift/threshold "
              f"{worst.headroom:.1e} ({worst.label}; headroom {1 / worst.headroom:.1e}x); {_run_facts(c)}"
              if ok else f"{c.status()}; SEN drift/threshold {h.headroom:.1e}")
    return Outcome("verified" if ok else "refuted", reason, steps=[Step(*s) for s in steps],
                   details=_details(c, h) | {"laws": [x.expr for x in c.laws],
                                             "law_drift_over_threshold": [x.headroom for x in c.laws]})


@claim(
    "neg-laws-flow-m-plus-one",
    "Negative control: the 1/(m+1) quantity along the same trajectory",
    kind="numeric",
    expected="refuted",
    statement=(f"Along the same trajectory of {_MODEL}, ${tex(WRONG)}$ (the SEN quantity with $1/(m+1)$) "
               r"stays at its initial value within its derived threshold."),
    assumptions=_ASSUMPTIONS,
)
def neg_laws_flow_m_plus_one() -> Outcome:
    c = trajectory()
    x = c.drift_of(to_problem(c.problem, WRONG), label="1/(m+1)", role="control")
    steps = [(f"Trajectory: {_run_facts(c)}", rf"\theta(0)\to\theta({c.horizon:g})"),
             _drift_step(x, f"wrong quantity ${tex(WRONG)}$")]
    if not (c.moved and c.integrator_status == 0):
        return Outcome("error", f"no valid trajectory: {c.status()}", steps=[Step(*s) for s in steps],
                       details=_details(c, x))
    reason = (f"drift {x.drift:.1e} {'>' if not x.conserved else '<='} its derived threshold {x.threshold:.1e} "
              f"(drift/threshold {x.headroom:.1e}); {_run_facts(c)}")
    return Outcome("verified" if x.conserved else "refuted", reason, steps=[Step(*s) for s in steps],
                   details=_details(c, x))
