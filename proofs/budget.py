r"""The residual budget of the SEN quantity under discrete training, derived from the one model.

One gradient-descent step of size :math:`\eta` moves :math:`\theta \to \theta + \eta F(\theta)`,
:math:`F = -\Lambda\nabla L` the flow's field (:math:`\Lambda` the per-group rates). Along it
:math:`H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}(s_t + e^{s_t}/m)` changes by

.. math:: \Delta H = \eta\,\nabla H\cdot F + \eta^2 c_2(\theta, F) + R_3,

an exact expansion (:math:`R_3 = O(\eta^3)` the remainder). The first-order term is the Lie
derivative :math:`\dot H` of the *actual* multi-sentence field; it vanishes in the paper's reduced
regime (S2) and is split here, sentence by sentence, into the named violations of that regime:

* ``lengths`` (S7b) — :math:`\dot H_i` with the sentence's non-topic words frozen at its own
  length :math:`m_i` (:math:`Z_{0,i} = m_i`, :math:`N_i = 0`): zero iff :math:`m_i = m`;
* ``nontopic-scores`` (S7c) — :math:`\dot H_i(Z_{0,i}, N_i = 0) - \dot H_i(m_i, 0)`: the
  non-topic scores have left 0;
* ``nontopic-embeddings`` (S7c) — :math:`\dot H_i(Z_{0,i}, N_i) - \dot H_i(Z_{0,i}, 0)`: the
  non-topic embeddings have left 0;
* ``query`` (S7a) — :math:`\nabla_q H|_{s}\cdot\dot q + \partial_s H\,k_t\cdot\dot q` with the
  query's total rate :math:`\dot q`;

the three per-sentence pieces telescope to :math:`\dot H_i` exactly (checked symbolically). The
second-order term is the finite step (S6's :math:`\eta^2` coefficient for the whole step):
``finite-step``, and ``higher-order`` is :math:`R_3` itself, computed exactly from the same step.

Each source is a SymPy expression in inner products and scalars (:func:`scalarize`) derived with
:func:`attndyn.proofs.dynamics.topic_field` / :func:`~attndyn.proofs.dynamics.lie_derivative`
(never a typed-in gradient); :data:`SOURCES` is a registry (name, title, the claim it comes from,
the expression, its inputs) that the numeric evaluator (:mod:`attndyn.numerics.training.budget`)
walks, so a source for another optimizer is one more :func:`register_source`.
"""
from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp
from sympy import MatrixSymbol, ZeroMatrix

from attndyn.proofs.algebra import inner, is_exactly_zero, scalarize
from attndyn.proofs.dynamics import lie_derivative, sen_H, topic_field
from attndyn.proofs.model import BASE, ETA_K, ETA_V, LR_RATIO, STEP, W_TEST

S = BASE
M_I = sp.Symbol("m_i", positive=True)  # the sentence's own number of non-topic words
# the total rates of one step (the sum over sentences of the field, numerically)
VDOT = MatrixSymbol(r"\dot v_t", S.d, 1)
KDOT = MatrixSymbol(r"\dot k_t", S.d, 1)
QDOT = MatrixSymbol(r"\dot q", S.d, 1)

# the inputs of the per-occurrence rates (one topic-word occurrence in sentence i)
X_GV, X_GN, X_Q = inner(S.g, S.v), inner(S.g, S.N), inner(S.q, S.q)
OCCURRENCE_INPUTS = {"s": S.s, "Z0": S.Z0, "m": S.m, "m_i": M_I, "q2": X_Q, "gv": X_GV, "gN": X_GN,
                     "eta_v": ETA_V, "eta_k": ETA_K}
# the other optimizers' steps, as rates (step / eta), query fixed: the plain gradient step on the
# step's own batch (B) -- for a full batch the reference step itself
VDOT_B = MatrixSymbol(r"\dot v_t^{B}", S.d, 1)
KDOT_B = MatrixSymbol(r"\dot k_t^{B}", S.d, 1)
# the inputs of the step terms (totals over the sentences)
STEP_INPUTS = {"s": S.s, "m": S.m, "q2": X_Q, "v2": inner(S.v, S.v), "vV": inner(S.v, VDOT),
               "V2": inner(VDOT, VDOT), "qK": inner(S.q, KDOT), "qQ": inner(S.q, QDOT),
               "Q2": inner(QDOT, QDOT), "kQ": inner(S.k, QDOT), "KQ": inner(KDOT, QDOT),
               "vV_B": inner(S.v, VDOT_B), "V2_B": inner(VDOT_B, VDOT_B), "qK_B": inner(S.q, KDOT_B),
               "eta_v": ETA_V, "eta_k": ETA_K, "eta": STEP}


@dataclass(frozen=True)
class BudgetSource:
    """One derived source of :math:`\\Delta H`.

    ``per`` is ``"occurrence"`` (a rate per topic-word occurrence, summed over the step's
    sentences and multiplied by :math:`\\eta`) or ``"step"`` (a per-step change from the step's
    totals); ``inputs`` names the numeric inputs (keys of :data:`OCCURRENCE_INPUTS` /
    :data:`STEP_INPUTS`).  ``step`` says which step's totals fill the :math:`\\dot v_t, \\dot k_t,
    \\dot q` slots of a step source: ``"reference"`` (full-batch gradient descent from the current
    point) or ``"actual"`` (the optimizer's step divided by :math:`\\eta`); the batch's plain
    gradient step has its own symbols (:data:`VDOT_B`, :data:`KDOT_B`).  For full-batch gradient
    descent the three steps are one.  ``applies`` is the optimizers whose runs include the source
    (``None``: every run)."""

    name: str
    title: str
    claim: str  # the claim whose derivation this source extends
    per: str
    expr: sp.Expr
    inputs: tuple[str, ...]
    step: str = "reference"
    applies: tuple[str, ...] | None = None

    def function(self):
        """The expression lambdified (NumPy) over ``inputs``, in that order."""
        table = OCCURRENCE_INPUTS if self.per == "occurrence" else STEP_INPUTS
        return sp.lambdify([table[k] for k in self.inputs], self.expr, modules="numpy")

    def latex(self) -> str:
        return sp.latex(self.expr)


SOURCES: dict[str, BudgetSource] = {}  # filled on first use by sources() (deriving takes seconds)


def register_source(src: BudgetSource) -> BudgetSource:
    """Add a source to :data:`SOURCES` (a name may be registered once)."""
    if src.name in SOURCES:
        raise ValueError(f"budget source {src.name!r} registered twice")
    table = OCCURRENCE_INPUTS if src.per == "occurrence" else STEP_INPUTS
    unknown = src.expr.free_symbols - {table[k] for k in src.inputs}
    if unknown:
        raise ValueError(f"budget source {src.name!r}: inputs miss {sorted(map(str, unknown))}")
    SOURCES[src.name] = src
    return src


def _inputs(expr: sp.Expr, table: dict) -> tuple[str, ...]:
    return tuple(k for k, sym in table.items() if sym in expr.free_symbols)


# ------------------------------------------------------------ first order: the Lie derivative

def _hdot(freeze: dict) -> sp.Expr:
    r""":math:`\dot H_i` of one sentence's field (non-topic aggregates replaced by ``freeze``)."""
    vdot, kdot = topic_field(S, freeze=False)
    vdot, kdot = vdot.xreplace(freeze), kdot.xreplace(freeze)
    return sp.Add(*lie_derivative(sen_H(), vdot, kdot).values())


@lru_cache(maxsize=None)
def rate_pieces() -> dict[str, sp.Expr]:
    r"""The per-sentence :math:`\dot H_i` and its telescoping split (see the module doc)."""
    full = _hdot({})
    no_emb = _hdot({S.N: ZeroMatrix(S.d, 1)})
    own_m = _hdot({S.N: ZeroMatrix(S.d, 1), S.Z0: M_I})
    return {"full": full, "lengths": own_m, "nontopic-scores": no_emb - own_m,
            "nontopic-embeddings": full - no_emb}


@lru_cache(maxsize=None)
def occurrence_field() -> dict[str, sp.Expr]:
    r"""One occurrence's field in scalars: ``v_coeff`` (:math:`\dot v_{t,i} = \alpha_i g_i`, the
    coefficient of :math:`g` in :math:`w\cdot\dot v_t` for a free :math:`w`), ``sdot``
    (:math:`q\cdot\dot k_{t,i}`) and ``k_coeff`` (:math:`\dot k_{t,i} = \kappa_i q`)."""
    vdot, kdot = topic_field(S, freeze=False)
    wv, wk = scalarize(W_TEST.T * vdot), scalarize(W_TEST.T * kdot)
    wg, wq = inner(W_TEST, S.g), inner(W_TEST, S.q)
    # the field has no other direction: w.vdot = alpha (w.g), w.kdot = kappa (w.q)
    if not (is_exactly_zero(wv - wv.diff(wg) * wg) and is_exactly_zero(wk - wk.diff(wq) * wq)):
        raise ArithmeticError("the topic field is not along g (embedding) and q (key)")
    return {"v_coeff": wv.diff(wg), "sdot": scalarize(S.q.T * kdot), "k_coeff": wk.diff(wq)}


def query_rate() -> sp.Expr:
    r"""S7a's two query terms of :math:`\dot H` for the query's total rate :math:`\dot q`."""
    terms = lie_derivative(sen_H(), ZeroMatrix(S.d, 1), ZeroMatrix(S.d, 1), QDOT)
    return sp.expand(terms["query norm"] + terms["score via query"]).xreplace({inner(S.k, S.q): S.s})


# ------------------------------------------------------------ the step: finite-step terms

@lru_cache(maxsize=None)
def step_change() -> dict[str, sp.Expr]:
    r""":math:`\Delta H(\eta) = H(q + \eta\dot q, k_t + \eta\dot k_t, v_t + \eta\dot v_t) - H`
    exactly, with :math:`s_t = q\cdot k_t` (so the step's score change
    :math:`\eta(q\cdot\dot k_t + k_t\cdot\dot q) + \eta^2\dot k_t\cdot\dot q` is exact), and its
    Taylor coefficients ``c1`` (:math:`\nabla H\cdot F`), ``c2`` and the remainder
    ``r3`` :math:`= \Delta H - \eta c_1 - \eta^2 c_2`."""
    H = sen_H()
    s_expr = scalarize(S.q.T * S.k)

    def at(q, k, v):
        moved = H.xreplace({S.s: sp.Symbol("_s")}).xreplace({S.q: q, S.k: k, S.v: v})
        return scalarize(moved).xreplace({sp.Symbol("_s"): scalarize(q.T * k)})

    h0 = scalarize(H).xreplace({S.s: s_expr})
    h1 = at(S.q + STEP * QDOT, S.k + STEP * KDOT, S.v + STEP * VDOT)
    dH = h1 - h0
    c = [sp.expand(dH.diff(STEP, k).xreplace({STEP: 0}) / sp.factorial(k)) for k in (1, 2)]
    back = {s_expr: S.s}
    exact, c1, c2 = (e.xreplace(back) for e in (dH, *c))
    # expanded, the polynomial parts of the remainder cancel exactly: only e^{s'} - (its Taylor
    # polynomial) and the eta^3, eta^4 products are left to evaluate in floating point
    return {"exact": exact, "c1": c1, "c2": c2, "r3": sp.expand(exact - STEP * c1 - STEP ** 2 * c2)}


def fixed_query(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` with :math:`\dot q = 0` (the query fixed)."""
    return expr.xreplace({STEP_INPUTS[k]: 0 for k in ("qQ", "Q2", "kQ", "KQ")})


# ------------------------------------------------------------ the registry

def _register_defaults() -> None:
    pieces = rate_pieces()
    titles = {"lengths": ("unequal sentence lengths", "S7b-unequal-lengths"),
              "nontopic-scores": ("non-topic scores moved", "S7c-moving-nontopic"),
              "nontopic-embeddings": ("non-topic embeddings moved", "S7c-moving-nontopic")}
    for name, (title, cl) in titles.items():
        e = pieces[name]
        register_source(BudgetSource(name, title, cl, "occurrence", e, _inputs(e, OCCURRENCE_INPUTS)))
    q = query_rate()
    register_source(BudgetSource("query", "query trained", "S7a-trainable-query", "step", STEP * q,
                                 _inputs(STEP * q, STEP_INPUTS)))
    st = step_change()
    fs = STEP ** 2 * st["c2"]
    register_source(BudgetSource("finite-step", "finite step, second order", "S6-discrete-drift", "step", fs,
                                 _inputs(fs, STEP_INPUTS)))
    register_source(BudgetSource("higher-order", "finite step, remainder of third order and above", "S6-discrete-drift",
                                 "step", st["r3"], _inputs(st["r3"], STEP_INPUTS), step="actual"))
    for src in optimizer_sources():
        register_source(src)


# ------------------------------------------------------------ other optimizers (issue 12)

def at_batch_step(expr: sp.Expr) -> sp.Expr:
    r"""``expr`` (a step term with the query fixed) at the batch's plain gradient step
    :math:`\dot v_t^B, \dot k_t^B` instead of :math:`\dot v_t, \dot k_t`."""
    swap = {STEP_INPUTS[k]: STEP_INPUTS[k + "_B"] for k in ("vV", "V2", "qK")}
    return fixed_query(expr).xreplace(swap)


@lru_cache(maxsize=None)
def optimizer_pieces() -> dict[str, sp.Expr]:
    r"""The exact split of one step of any optimizer (query fixed).  With :math:`\bar F` the
    full-batch field, :math:`F_B` the field of the step's batch and :math:`\Delta` the step taken,

    .. math:: \Delta H = \underbrace{\eta\nabla H\cdot F_B}_{\text{occurrence pieces}}
        + \underbrace{\eta^2c_2(\bar F)}_{\text{finite-step}}
        + \underbrace{\eta^2c_2(F_B) - \eta^2c_2(\bar F)}_{\text{mini-batch-noise}}
        + \underbrace{\nabla H\cdot(\Delta - \eta F_B) + c_2(\Delta) - \eta^2 c_2(F_B)}_{\text{momentum / adam}}
        + R_3(\Delta),

    which telescopes (``c_1`` is linear in the step, ``c_2`` homogeneous of degree 2)."""
    st = step_change()
    c1, c2 = fixed_query(st["c1"]), fixed_query(st["c2"])
    noise = STEP ** 2 * (at_batch_step(c2) - c2)  # evaluated with the reference step in the slots
    deviation = STEP * (c1 - at_batch_step(c1)) + STEP ** 2 * (c2 - at_batch_step(c2))  # actual step in the slots
    return {"mini-batch-noise": sp.expand(noise), "optimizer": sp.expand(deviation)}


def optimizer_sources() -> list[BudgetSource]:
    """``mini-batch-noise`` (runs with ``train.batch_size``), ``momentum`` (momentum, nesterov)
    and ``adam-scaling`` (adam), from :func:`optimizer_pieces`."""
    p = optimizer_pieces()
    noise, dev = p["mini-batch-noise"], p["optimizer"]
    return [
        BudgetSource("mini-batch-noise", "mini-batch noise, second order", "O2-sgd-epoch-drift", "step", noise,
                     _inputs(noise, STEP_INPUTS), step="reference", applies=("sgd", "momentum", "nesterov", "adam")),
        BudgetSource("momentum", "momentum: the step minus the batch's gradient step", "O1b-heavy-ball-drift", "step",
                     dev, _inputs(dev, STEP_INPUTS), step="actual", applies=("momentum", "nesterov")),
        BudgetSource("adam-scaling", "Adam: the step minus the batch's gradient step", "O3-adam-sign-flow", "step",
                     dev, _inputs(dev, STEP_INPUTS), step="actual", applies=("adam",)),
    ]


@lru_cache(maxsize=None)
def _defaults_registered() -> bool:
    _register_defaults()
    return True


def sources() -> dict[str, BudgetSource]:
    """Every registered source (the defaults derived on first call), by name."""
    _defaults_registered()
    return SOURCES


@lru_cache(maxsize=None)
def display(name: str) -> str:
    """A short LaTeX form of source ``name`` (simplified for reading; the finite step shown with the
    query fixed, its query-trained terms being in the ``query`` and full expressions)."""
    if name == "higher-order":
        return r"R_3 = \Delta H - \eta c_1 - \eta^2 c_2\ \text{(the exact step change minus its first two orders)}"
    e = sources()[name].expr
    e = fixed_query(e) if name == "finite-step" else e
    return sp.latex(sp.factor(sp.simplify(e)))


def derivation(D) -> None:
    """The budget's derivation steps (for the claims' report): the split of the Lie derivative and
    the step's second-order term, each shown in its simplified form."""
    from attndyn.proofs.algebra import tidy  # deferred: display only

    D.note(r"One step $\theta \to \theta + \eta F$ with $F = -\Lambda\nabla L$ changes $H$ by "
           r"$\Delta H = \eta\,\nabla H\cdot F + \eta^2 c_2 + R_3$ exactly (Taylor in $\eta$ of "
           r"$H(q + \eta\dot q, k_t + \eta\dot k_t, v_t + \eta\dot v_t)$, $s_t = q\cdot k_t$).")
    D.eq(r"Per occurrence of $t$ in sentence $i$ ($Z_0, N$ its non-topic aggregates), S7c's field",
         r"\dot H_i", tidy(rate_pieces()["full"], z=S.Z0))
    for name in ("lengths", "nontopic-scores", "nontopic-embeddings"):
        D.eq(f"its piece {name} (telescoping: the three sum to the line above)",
             r"\dot H_i^{\text{" + name + "}}", display(name))
    D.eq(r"The step's second-order term with $\dot q = 0$ ($\dot v_t$, $\dot k_t$ the step's totals)",
         r"\eta^2 c_2", display("finite-step"))
    D.eq(r"The query's terms when it trains (S7a)", r"\eta\,\dot H_q", display("query"))
    D.note(r"Other optimizers: the step taken is $\Delta$, the plain gradient step on the step's batch "
           r"$\eta\dot v_t^B, \eta\dot k_t^B$, the full-batch one $\eta\dot v_t, \eta\dot k_t$ (query fixed). "
           r"The occurrence pieces are summed over the batch's sentences; the rest of $\Delta H$ splits "
           r"exactly (checked symbolically: $c_1$ is linear in the step, $c_2$ quadratic) into")
    D.eq(r"mini-batch noise (the batch's step against the full batch's, second order)",
         r"\Delta H^{\text{noise}}", sp.latex(sp.factor(optimizer_pieces()["mini-batch-noise"])))
    D.eq(r"momentum / Adam ($\dot v_t, \dot k_t$ here the step taken divided by $\eta$)",
         r"\Delta H^{\text{opt}}", sp.latex(sp.factor(optimizer_pieces()["optimizer"])))


# the names of the sources in table order; "higher-order" is reported beside, not hidden in, the sum
ORDER = ("finite-step", "mini-batch-noise", "momentum", "adam-scaling", "nontopic-scores", "nontopic-embeddings",
         "lengths", "query", "higher-order")
# the sources only runs of other optimizers (or mini-batches) have (optimizer_sources)
OPTIMIZER_ONLY = ("mini-batch-noise", "momentum", "adam-scaling")
