r"""The hypotheses of the convergence theorem, each decided for a given setting.

The theorem (fixed linear classifier, reduced model): for a topic word :math:`t` with
label :math:`y` the flow

.. math::
   \dot v_t = \eta_v\pi_t a_t\sum_j p_j (w_y - w_j), \qquad
   \dot s_t = -\eta_k|q|^2\pi_t a_t(1-a_t)\, g_t\cdot v_t ,

(:math:`a_t = e^{s_t}/(e^{s_t}+m)`, :math:`p = \mathrm{softmax}(W^\top a_t v_t)`,
:math:`g_t = W(p-e_y)`, :math:`w_j` the columns of the :math:`d_e\times K` matrix ``W``)
has two conclusions, kept apart because they need different hypotheses:

* **attention** :math:`a_t\to 1` (equivalently :math:`s_t\to\infty`, :math:`|v_t|\to\infty`);
* **loss** :math:`\mathrm{CE}(W^\top a_t v_t, y)\to 0`.

Conditions checked here (:class:`Hypothesis`, ``kind="condition"``):

* ``H-ach`` *achievability* (loss): some :math:`u` with :math:`(w_y-w_j)\cdot u > 0` for all
  :math:`j\ne y`, i.e. :math:`w_y\notin\mathrm{conv}\{w_j\}_{j\ne y}`.  LP
  :math:`\max t` s.t. :math:`(w_y-w_j)\cdot u\ge t`, :math:`|u|_\infty\le 1`, :math:`t\le 1`;
  holds iff :math:`t^* >` tol.  When it fails, Gordan's alternative gives
  :math:`\lambda\ge 0`, :math:`\sum\lambda_j = 1`, :math:`\sum_j\lambda_j(w_y-w_j) = 0`, and then
  for every :math:`x`: :math:`\mathrm{CE}(W^\top x, y)\ge\log(1+e^{\mathcal H(\lambda)})\ge\log 2`
  (:math:`\mathcal H` the entropy): the loss can never tend to 0 (:func:`loss_floor`).
* ``H-esc`` *escapability* (attention; implied by H-ach): some :math:`u` with
  :math:`(w_y-w_j)\cdot u\ge 0` for all :math:`j` and :math:`>0` for some, i.e.
  :math:`F(x)=\mathrm{CE}(W^\top x,y)` does not attain its infimum.  LP
  :math:`\max\sum_j(w_y-w_j)\cdot u` s.t. :math:`(w_y-w_j)\cdot u\ge 0`, :math:`|u|_\infty\le1`.
  When it fails, :math:`F` is coercive off the subspace where it is constant, the loss
  decreases along the flow, so :math:`|v_t|` stays bounded and by the SEN identity so
  does :math:`s_t`: the attention stays below some :math:`a_{\max} < 1`.
* ``H-q`` :math:`|q|>0`, ``H-keys`` :math:`\eta_k>0` (attention only: otherwise
  :math:`\dot s_t\equiv 0`, while the loss still tends to 0 under H-ach);
  ``H-emb`` :math:`\eta_v>0` (both: with :math:`v_t` frozen the loss stays
  :math:`\ge\min_{a\in[0,1]}\mathrm{CE}(aW^\top v_0)>0`, and a :math:`v_0` against the label
  drives :math:`s_t\to-\infty`); ``H-occ`` :math:`\pi_t>0` (both: a word that never occurs
  never moves).

Modelling assumptions of the reduced model (``kind="modelling"``): the classifier is
fixed and linear (FC), the query is fixed, every sentence has the same number ``m`` of
non-topic words, and the non-topic words stay at score 0 / embedding 0.  When one fails the
theorem does not apply (the checker says *undecided*).

Every hypothesis names a :class:`Counterexample` in :data:`COUNTEREXAMPLES` (a setting in
which it fails and the conclusion it guards fails with it, checked on the reduced flow by
:func:`observe` — see ``tests/test_hypotheses.py``), or the hypothesis that implies it.

Size: over 500 lines because every hypothesis sits beside the counterexample that shows it
cannot be dropped.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
import pickle
from typing import Callable

import numpy as np
from scipy.linalg import null_space
from scipy.optimize import linprog, minimize, minimize_scalar

from attndyn.numerics.convergence.runs import run_flow, save_times
from attndyn.numerics.flow.systems import ReducedSystem
from attndyn.numerics.model.classifiers import cross_entropy
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import CONVERGENCE, NUMERIC

NEEDED_FOR = ("attention", "loss", "both")
CONCLUSIONS = ("attention", "loss")
KINDS = ("condition", "modelling")


@dataclass(frozen=True)
class Hypothesis:
    """One hypothesis of the theorem, decided for one topic word.

    ``holds`` the decision; ``needed_for`` the conclusion(s) it guards (``attention``,
    ``loss`` or ``both``); ``detail`` what was measured; ``counterexample`` the id of the
    entry of :data:`COUNTEREXAMPLES` showing it cannot be dropped (or a reference to
    where that is shown); ``implied_by`` another hypothesis implying it, if any;
    ``evidence`` JSON-ready numbers (LP optima, witness directions, multipliers).
    """

    name: str
    statement: str
    holds: bool
    needed_for: str
    detail: str
    counterexample: str
    kind: str = "condition"
    implied_by: str = ""
    evidence: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.needed_for not in NEEDED_FOR:
            raise ValueError(f"needed_for must be one of {NEEDED_FOR}, got {self.needed_for!r}")
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {KINDS}, got {self.kind!r}")

    def guards(self, conclusion: str) -> bool:
        """Is this hypothesis needed for ``conclusion`` (``attention`` or ``loss``)?"""
        return self.needed_for in (conclusion, "both")

    def to_json(self) -> dict:
        return {"name": self.name, "statement": self.statement, "holds": bool(self.holds),
                "needed_for": self.needed_for, "kind": self.kind, "detail": self.detail,
                "counterexample": self.counterexample, "implied_by": self.implied_by,
                "evidence": self.evidence}


# --------------------------------------------------------------------------- the linear programs

def _differences(W, y) -> tuple[np.ndarray, np.ndarray, int]:
    """Validated ``W`` (d_e x K) and the rows :math:`(w_y - w_j)^\\top`, j != y (shape (K-1, d_e))."""
    W = np.asarray(W, dtype=np.float64)
    if W.ndim != 2 or W.shape[0] < 1 or W.shape[1] < 2:
        raise UsageError(f"classifier matrix: expected shape (d_e, K) with d_e >= 1 and K >= 2, got {W.shape}")
    if not np.all(np.isfinite(W)):
        raise UsageError("classifier matrix: contains NaN or Inf")
    if isinstance(y, bool) or int(y) != y or not 0 <= int(y) < W.shape[1]:
        raise UsageError(f"label y: expected an integer in 0..{W.shape[1] - 1}, got {y!r}")
    y = int(y)
    big = float(np.max(np.abs(W)))
    if big > CONVERGENCE.lp_rescale_above:
        # w_y - w_j and the LP's sums would overflow (a matrix of 1e308); every hypothesis is
        # invariant under W -> cW, c > 0, so scale by a power of two (exact) to max |W| in [1/2, 1)
        W = W * 2.0 ** -int(np.ceil(np.log2(big)))
    A = np.delete((W[:, [y]] - W).T, y, axis=0)
    return W, A, y


def _tol(A: np.ndarray) -> float:
    """lp_tol relative to the largest value (w_y - w_j).u can take on the box |u|_inf <= 1."""
    scale = float(np.abs(A).sum(axis=1).max(initial=0.0))
    return CONVERGENCE.lp_tol * max(1.0, scale)


# The same LP recurs: the checker decides H-ach and H-esc of one W at every horizon it extends to,
# the search asks them again of each point it screens and then confirms.  Solved once per process
# (the key is the LP's exact bytes, so a hit is the very LP); HiGHS is deterministic, so a hit
# gives what a second solve would.
@lru_cache(maxsize=4096)
def _solved(key: bytes) -> tuple[float, np.ndarray]:
    c, A_ub, b_ub, bounds, A_eq, b_eq, what = pickle.loads(key)
    res = linprog(c, A_ub=A_ub, b_ub=b_ub, A_eq=A_eq, b_eq=b_eq, bounds=bounds, method="highs")
    if res.status != 0:  # every LP here is feasible and bounded by construction
        raise RuntimeError(f"{what}: linprog failed ({res.message})")
    return float(res.fun), res.x


def _solve(c, A_ub, b_ub, bounds, A_eq=None, b_eq=None, what: str = "LP") -> tuple[float, np.ndarray]:
    """``(fun, x)`` of ``min c.x`` s.t. ``A_ub x <= b_ub``, ``A_eq x = b_eq``, ``bounds`` (HiGHS);
    ``x`` is the caller's own copy."""
    fun, x = _solved(pickle.dumps((c, A_ub, b_ub, bounds, A_eq, b_eq, what)))
    return fun, x.copy()


def achievability_lp(W, y) -> dict:
    r"""Solve :math:`\max t` s.t. :math:`(w_y-w_j)\cdot u\ge t\ (j\ne y)`, :math:`|u|_\infty\le 1`,
    :math:`t\le 1`.  Returns ``t`` (the optimum), ``u`` (a witness), ``tol``, ``holds``."""
    _, A, _ = _differences(W, y)
    n, d = A.shape
    # variables (u, t): minimise -t subject to t - A u <= 0
    fun, x = _solve(np.r_[np.zeros(d), -1.0], np.c_[-A, np.ones(n)], np.zeros(n),
                    [(-1.0, 1.0)] * d + [(None, 1.0)], what="achievability LP")
    t, tol = -fun, _tol(A)
    return {"t": t, "u": x[:d], "tol": tol, "holds": t > tol}


def gordan_multipliers(W, y) -> dict:
    r"""Gordan's alternative to achievability: :math:`\lambda\ge 0`, :math:`\sum_j\lambda_j = 1`
    minimising :math:`\|\sum_j\lambda_j (w_y-w_j)\|_1`.  ``residual`` 0 (within tol) iff
    :math:`w_y\in\mathrm{conv}\{w_j\}_{j\ne y}`, i.e. iff H-ach fails."""
    _, A, y = _differences(W, y)
    n, d = A.shape
    # variables (lambda (n), e (d)): minimise sum e s.t. -e <= A^T lambda <= e, sum lambda = 1
    c = np.r_[np.zeros(n), np.ones(d)]
    A_ub = np.block([[A.T, -np.eye(d)], [-A.T, -np.eye(d)]])
    fun, x = _solve(c, A_ub, np.zeros(2 * d), [(0.0, None)] * (n + d),
                    A_eq=np.r_[np.ones(n), np.zeros(d)][None, :], b_eq=[1.0], what="Gordan LP")
    lam = np.insert(x[:n], y, 0.0)  # indexed by class, lambda_y = 0
    return {"lambda": lam, "residual": fun, "tol": _tol(A)}


def loss_floor(W, y) -> dict:
    r"""The infimum over all context vectors of the loss, :math:`\inf_x\mathrm{CE}(W^\top x, y)`.

    Convex duality (the conjugate of log-sum-exp is the entropy on the simplex) gives

    .. math:: \inf_x \mathrm{CE}(W^\top x, y) = \log\bigl(1 + e^{\mathcal H^*}\bigr),\qquad
              \mathcal H^* = \max\{\mathcal H(\lambda):\lambda\ge0,\ \textstyle\sum_j\lambda_j=1,\
              \sum_j\lambda_j(w_y-w_j)=0\},

    and 0 when no such :math:`\lambda` exists (H-ach holds).  Any feasible :math:`\lambda`
    gives the lower bound :math:`\log(1+e^{\mathcal H(\lambda)})\ge\log 2`; the entropy is
    maximised over the polytope (parametrised by its null space) with SLSQP, starting from
    the Gordan LP's vertex.  Returns ``floor``, ``lambda`` and ``feasibility`` (the residual
    :math:`\|\sum_j\lambda_j(w_y-w_j)\|`).
    """
    W, A, y = _differences(W, y)
    g = gordan_multipliers(W, y)
    if g["residual"] > g["tol"]:
        return {"floor": 0.0, "lambda": None, "feasibility": None}
    lam0 = np.delete(g["lambda"], y)
    N = null_space(np.vstack([A.T, np.ones((1, A.shape[0]))]))
    best = lam0
    if N.shape[1]:
        def neg_entropy(z):
            lam = np.clip(lam0 + N @ z, 1e-300, None)
            return float(np.sum(lam * np.log(lam)))

        res = minimize(neg_entropy, np.zeros(N.shape[1]), method="SLSQP",
                       constraints=[{"type": "ineq", "fun": lambda z: lam0 + N @ z, "jac": lambda z: N}],
                       options={"ftol": 1e-14, "maxiter": 500})
        cand = np.clip(lam0 + N @ res.x, 0.0, None)
        cand /= cand.sum()
        if _entropy(cand) > _entropy(best):
            best = cand
    feas = float(np.linalg.norm(A.T @ best))
    return {"floor": float(np.log1p(np.exp(_entropy(best)))), "lambda": np.insert(best, y, 0.0),
            "feasibility": feas}


def frozen_embedding_floor(W, y: int, v0) -> float:
    r"""With :math:`v_t` frozen at :math:`v_0` the loss is :math:`f(a)=\mathrm{CE}(aW^\top v_0, y)`
    for the current attention :math:`a\in[0,1]`; :math:`f` is convex, and its minimum over
    :math:`[0, 1]` bounds the loss from below for all time."""
    z = np.asarray(v0, dtype=np.float64) @ np.asarray(W, dtype=np.float64)
    f = lambda a: float(cross_entropy((a * z)[None, :], np.array([y]))[0][0])  # noqa: E731
    res = minimize_scalar(f, bounds=(0.0, 1.0), method="bounded", options={"xatol": 1e-12})
    return min(f(0.0), f(1.0), float(res.fun))


def _entropy(lam: np.ndarray) -> float:
    lam = lam[lam > 0]
    return float(-np.sum(lam * np.log(lam)))


def escapability_lp(W, y) -> dict:
    r"""Solve :math:`\max\sum_j (w_y-w_j)\cdot u` s.t. :math:`(w_y-w_j)\cdot u\ge 0`,
    :math:`|u|_\infty\le 1`.  Returns the optimum ``value``, a witness ``u``, ``strict`` (the
    classes j with :math:`(w_y-w_j)\cdot u >` tol), ``tol`` and ``holds``."""
    _, A, y = _differences(W, y)
    n, d = A.shape
    fun, x = _solve(-A.sum(axis=0), -A, np.zeros(n), [(-1.0, 1.0)] * d, what="escapability LP")
    value, tol = -fun, _tol(A)
    others = [j for j in range(n + 1) if j != y]
    strict = [others[i] for i in np.flatnonzero(A @ x > tol)]
    return {"value": value, "u": x, "strict": strict, "tol": tol, "holds": value > tol}


# --------------------------------------------------------------------------- the hypotheses

def achievability(W, y) -> Hypothesis:
    """H-ach, decided by :func:`achievability_lp`; when it fails the Gordan multipliers and
    the loss floor (:func:`loss_floor`) are the evidence that the loss cannot tend to 0."""
    lp = achievability_lp(W, y)
    ev = {"lp_optimum": lp["t"], "tol": lp["tol"], "direction": lp["u"]}
    if lp["holds"]:
        detail = (f"LP max t = {lp['t']:.6g} > tol {lp['tol']:.2g}: a direction u makes logit y "
                  f"strictly the largest (margin {lp['t']:.4g} on the box |u|_inf <= 1)")
    else:
        fl = loss_floor(W, y)
        ev.update(loss_floor=fl["floor"], gordan_lambda=fl["lambda"], gordan_residual=fl["feasibility"])
        lam = fl["lambda"]
        support = [] if lam is None else [int(j) for j in np.flatnonzero(lam > 1e-9)]
        detail = (f"LP max t = {lp['t']:.3g} <= tol {lp['tol']:.2g}: column w_{y} lies in the convex hull "
                  f"of columns {support} (Gordan multipliers), so the loss stays >= "
                  f"{fl['floor']:.6g} = inf_x CE(W^T x, y) for all time")
    return Hypothesis("H-ach", "label y achievable: some u has (w_y - w_j).u > 0 for all j != y",
                      lp["holds"], "loss", detail, "cx-not-achievable", evidence=ev)


def escapability(W, y) -> Hypothesis:
    """H-esc, decided by :func:`escapability_lp` (implied by H-ach)."""
    lp = escapability_lp(W, y)
    ev = {"lp_optimum": lp["value"], "tol": lp["tol"], "direction": lp["u"], "strict_classes": lp["strict"]}
    if lp["holds"]:
        detail = (f"LP optimum {lp['value']:.6g} > tol {lp['tol']:.2g}: along u the logit y never "
                  f"falls behind and strictly gains on classes {lp['strict']}, so inf CE is not attained")
    else:
        detail = (f"LP optimum {lp['value']:.3g} <= tol {lp['tol']:.2g}: w_{y} is in the relative interior "
                  "of the columns' convex hull; CE(W^T x, y) attains its infimum at a finite x, so "
                  "|v| and s stay bounded and the attention stays below 1")
    return Hypothesis("H-esc", "label y escapable: some u has (w_y - w_j).u >= 0 for all j, > 0 for some",
                      lp["holds"], "attention", detail, "cx-not-escapable", implied_by="H-ach", evidence=ev)


def query_nonzero(q_norm: float) -> Hypothesis:
    q = float(q_norm)
    return Hypothesis("H-q", "the query is nonzero, |q| > 0", q > 0.0, "attention",
                      f"|q| = {q:.6g}" + ("" if q > 0 else ": ds/dtau = -eta_k |q|^2 (...) = 0, the score is frozen"),
                      "cx-query-zero", evidence={"q_norm": q})


def keys_trained(lr_k: float, trained: bool = True) -> Hypothesis:
    ok = bool(trained) and float(lr_k) > 0
    return Hypothesis("H-keys", "the keys train, eta_k > 0", ok, "attention",
                      f"eta_k = {float(lr_k) if trained else 0.0:.6g}"
                      + ("" if ok else ": ds/dtau = 0, the score is frozen at s0"),
                      "cx-keys-frozen", evidence={"lr_k": float(lr_k) if trained else 0.0})


def embeddings_trained(lr_v: float, trained: bool = True) -> Hypothesis:
    ok = bool(trained) and float(lr_v) > 0
    return Hypothesis("H-emb", "the embeddings train, eta_v > 0", ok, "both",
                      f"eta_v = {float(lr_v) if trained else 0.0:.6g}"
                      + ("" if ok else ": v_t is frozen at v0, so the loss stays >= min_a CE(a W^T v0, y) > 0"),
                      "cx-embeddings-frozen", evidence={"lr_v": float(lr_v) if trained else 0.0})


def occurs(pi_t: float) -> Hypothesis:
    p = float(pi_t)
    return Hypothesis("H-occ", "the topic word occurs in training, pi_t > 0", p > 0.0, "both",
                      f"pi_t = {p:.6g}" + ("" if p > 0 else ": no gradient reaches it, nothing moves"),
                      "cx-absent", evidence={"pi_t": p})


def fixed_linear_classifier(kind: str) -> Hypothesis:
    ok = kind == "fc"
    return Hypothesis("M-fc", "the classifier is fixed and linear (FC)", ok, "both",
                      f"classifier {kind!r}" + ("" if ok else ": the theorem covers the fixed linear "
                                                "classifier only"),
                      "outside the theorem: trainable classifiers move W (the LP decides nothing)",
                      kind="modelling")


def query_fixed(trained: bool) -> Hypothesis:
    return Hypothesis("M-query", "the query is fixed", not trained, "both",
                      "query fixed" if not trained else "the query trains: s_t = q.k_t moves with q, the "
                      "SEN identity (the certificate's link |v| -> inf <=> s -> inf) fails",
                      "claim neg-trainable-query (numerics/training_claims.py); search family trained-query",
                      kind="modelling")


def equal_lengths(m) -> Hypothesis:
    m = np.asarray(m, dtype=np.float64)
    ok = bool(m.size and np.all(m == m.ravel()[0]))
    values = sorted(set(np.ravel(m).tolist()))
    return Hypothesis("M-lengths", "every sentence has the same number m of non-topic words", ok, "both",
                      f"m = {values[0]:g}" if ok else f"sentence lengths differ (m in {values[:6]}): the "
                      "SEN identity fails, so the certificate does not apply",
                      "cx-unequal-lengths", kind="modelling", evidence={"m_values": values[:20]})


def nontopic_frozen(n_nontopic: int | None = None, occurrences: float | None = None) -> Hypothesis:
    """An approximation, not decided here: reported with the numbers that make it plausible
    (vocabulary size, mean occurrences of a non-topic word); ``--confirm-gd`` measures it."""
    if n_nontopic is None:
        detail = "the reduced model: non-topic words at score 0 and embedding 0 (exact by construction)"
    else:
        detail = (f"assumed (the paper's regime): {n_nontopic} non-topic words, each in "
                  f"{occurrences:.3g} training sentences on average, so their gradients nearly cancel; "
                  "--confirm-gd measures the full model")
    return Hypothesis("M-frozen", "non-topic words stay at score 0 and embedding 0", True, "both", detail,
                      "search family finite-vocabulary (attndyn.numerics.flow.solvers.full_flow on a small corpus)",
                      kind="modelling", evidence={"n_nontopic": n_nontopic, "occurrences": occurrences})


def check_word(*, W, y: int, q_norm: float, lr_v: float, lr_k: float, pi_t: float, m,
               train_embeddings: bool = True, train_keys: bool = True, classifier: str = "fc",
               query_trained: bool = False, n_nontopic: int | None = None,
               occurrences: float | None = None) -> tuple[Hypothesis, ...]:
    """Every hypothesis for one topic word, conditions first (H-ach, H-esc, H-q, H-keys,
    H-emb, H-occ), then the modelling assumptions.  The LPs need a linear classifier: for
    ``tc``/``tl`` they are not run (M-fc fails and the theorem does not apply)."""
    out = []
    if classifier in ("fc", "tc"):
        out += [achievability(W, y), escapability(W, y)]
    out += [query_nonzero(q_norm), keys_trained(lr_k, train_keys), embeddings_trained(lr_v, train_embeddings),
            occurs(pi_t), fixed_linear_classifier(classifier), query_fixed(query_trained), equal_lengths(m),
            nontopic_frozen(n_nontopic, occurrences)]
    return tuple(out)


# --------------------------------------------------------------------------- counterexamples

@dataclass(frozen=True)
class Counterexample:
    r"""A reduced-flow setting in which hypothesis ``hypothesis`` fails and the conclusion
    it guards fails with it.  ``build()`` gives the :class:`~attndyn.numerics.flow.systems.ReducedSystem`
    (topic word ``word`` is the one that matters); ``expect`` lists behaviours from
    :data:`BEHAVIOURS` that :func:`observe` must find on the flow up to ``horizon``."""

    id: str
    hypothesis: str
    description: str
    build: Callable
    expect: tuple[str, ...]
    horizon: float = CONVERGENCE.horizon
    word: int = 0


def _columns(seed: int, d_e: int, n: int) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((d_e, n))


def generic_matrix(d_e: int = 3, K: int = 4, seed: int = 0) -> np.ndarray:
    """A generic (standard normal) classifier matrix: every label achievable (checked by the tests)."""
    return _columns(seed, d_e, K)


def average_column_matrix(K: int = 3, d_e: int = 3, seed: int = 0) -> np.ndarray:
    r"""Column 0 is the average of columns 1 and 2 (generic); further columns generic.
    Label 0 is not achievable; it is escapable iff K > 3 (a generic :math:`w_3` can be beaten)."""
    cols = _columns(seed, d_e, K - 1)
    return np.c_[(cols[:, 0] + cols[:, 1]) / 2, cols]


def toy_system(W: np.ndarray, *, v0=None, s0: float = 0.0, q_norm: float = 1.0, m: float = 20, pi=None,
               y=None, **flags):
    """A small FC reduced system for counterexamples and tests: topic words with labels ``y``
    (default 0), embeddings ``v0`` (default 1e-6 in every component), scores ``s0``, equal
    sentence fractions unless ``pi`` is given; ``flags`` go to :class:`~attndyn.numerics.flow.systems.ReducedSystem`."""
    d_e = W.shape[0]
    v0 = np.full((1, d_e), 1e-6) if v0 is None else np.atleast_2d(np.asarray(v0, dtype=np.float64))
    T = v0.shape[0]
    return ReducedSystem(q_norm=q_norm, m=m, y=np.zeros(T, dtype=np.int64) if y is None else np.asarray(y),
                         pi=np.full(T, 1.0 / T) if pi is None else np.asarray(pi, dtype=np.float64),
                         v0=v0, s0=np.full(T, s0), classifier="fc", theta0={"W": W}, **flags)


def against_label(W: np.ndarray, y: int = 0, scale: float = 1.0) -> np.ndarray:
    r"""An initial embedding pointing against the label: :math:`v_0 = \text{scale}\cdot g_0/|g_0|`
    with :math:`g_0 = W(\mathrm{softmax}(0) - e_y)` the classifier gradient at :math:`c=0`,
    so :math:`g\cdot v > 0` at first and both :math:`s_t` and :math:`|v_t|` decrease."""
    K = W.shape[1]
    g0 = W @ (np.full(K, 1.0 / K) - np.eye(K)[y])
    return scale * g0 / np.linalg.norm(g0)


COUNTEREXAMPLES: dict[str, Counterexample] = {c.id: c for c in (
    Counterexample(
        "cx-query-zero", "H-q",
        "|q| -> 0 with a generic W (label achievable): ds/dtau carries the factor |q|^2, so the score "
        "is frozen and the attention stays at a0 = 1/(1+m); the loss still tends to 0 (H-q guards the "
        "attention only). |q| = 1e-200 makes |q|^2 underflow to exactly 0 in float64.",
        lambda: toy_system(generic_matrix(), q_norm=1e-200), ("score-frozen", "loss-to-zero")),
    Counterexample(
        "cx-keys-frozen", "H-keys",
        "keys frozen (eta_k = 0) with a generic W: the score stays at s0, attention at a0; the loss "
        "still tends to 0 (H-keys guards the attention only).",
        lambda: toy_system(generic_matrix(), train_keys=False), ("score-frozen", "loss-to-zero")),
    Counterexample(
        "cx-embeddings-frozen", "H-emb",
        "embeddings frozen (eta_v = 0) at a v0 against the label: the score falls (attention -> 0) "
        "and the loss stays above min_a CE(a W^T v0) > 0.",
        lambda: toy_system(generic_matrix(), v0=against_label(generic_matrix()), train_embeddings=False),
        ("score-decreases", "loss-floor")),
    Counterexample(
        "cx-absent", "H-occ",
        "topic word 1 occurs in no training sentence (pi = 0): it never moves, attention a0, loss "
        "CE(a0 W^T v0) > 0 forever, while word 0 converges.",
        lambda: toy_system(generic_matrix(), v0=np.vstack([np.full(3, 1e-6), against_label(generic_matrix())]),
                        pi=[1.0, 0.0]),
        ("frozen", "loss-floor"), word=1),
    Counterexample(
        "cx-not-escapable", "H-esc",
        "K = 3, w_0 = (w_1 + w_2)/2: CE(W^T x, 0) attains its infimum log 3 at every x with "
        "z_1 = z_2; the flow stalls (s bounded, attention stays near 1/(m+1)), loss -> log 3.",
        lambda: toy_system(average_column_matrix(3)), ("attention-bounded", "loss-floor")),
    Counterexample(
        "cx-not-achievable", "H-ach",
        "K = 4, w_0 = (w_1 + w_2)/2, generic w_3: escapable but not achievable. The attention "
        "creeps to 1 (certificate: mu = u.v increasing) but the loss stays >= log 3.",
        lambda: toy_system(average_column_matrix(4)), ("attention-to-one", "loss-floor")),
    Counterexample(
        "cx-unequal-lengths", "M-lengths",
        "half the sentences with m = 10, half with m = 30 (generic W): the SEN quantity with the "
        "mean m drifts, so the certificate's link |v| -> inf <=> s -> inf is not available.",
        lambda: toy_system(generic_matrix(), v0=np.full((1, 3), 0.1), m=np.array([[10.0, 30.0]]),
                        pi=np.array([[0.5, 0.5]])),
        ("sen-drift",), horizon=1e3),
)}


# --------------------------------------------------------------------------- observing a flow

@dataclass(frozen=True)
class Observation:
    """What :func:`observe` measured for one behaviour: did it hold, and the numbers."""

    behaviour: str
    holds: bool
    detail: str


def word_loss(result, word: int) -> np.ndarray:
    r"""Per-sample loss of one topic word's sentences, :math:`\mathrm{CE}(W^\top a_t v_t, y_t)`
    (FC; computed stably from the logits)."""
    W = result.system.theta0["W"]
    a = result.attention()[:, word]
    Z = (a[:, None] * result.v[:, word, :]) @ W
    y = np.full(len(Z), int(result.system.y[word]))
    return cross_entropy(Z, y)[0]


def _behaviour(name: str, result, word: int) -> Observation:
    sys_ = result.system
    s, norms, a = result.s[:, word], result.norms[:, word], result.attention()[:, word]
    loss = word_loss(result, word)
    t = result.t
    W, y = sys_.theta0["W"], int(sys_.y[word])
    late = t >= t[-1] / 100  # the last two decades
    if name == "score-frozen":
        ok = bool(np.all(s == s[0]))
        return Observation(name, ok, f"max |s - s0| = {np.max(np.abs(s - s[0])):.3g}; attention {a[-1]:.6g}")
    if name == "frozen":
        ok = bool(np.all(s == s[0]) and np.all(result.v[:, word] == result.v[0, word]))
        return Observation(name, ok, f"s and v_t unchanged: {ok}; attention {a[-1]:.6g}")
    if name == "score-decreases":
        ok = bool(s[-1] < s[0] and a[-1] < a[0] and np.all(np.diff(s) <= 0))
        return Observation(name, ok, f"s: {s[0]:.4g} -> {s[-1]:.4g} (monotone down: {np.all(np.diff(s) <= 0)}); "
                                     f"attention {a[0]:.4g} -> {a[-1]:.4g}")
    if name == "attention-bounded":
        # s has converged to a finite value: it moves by less than 1e-6 over the last two decades
        span = float(np.ptp(s[late]))
        ok = bool(span < 1e-6 and a[-1] < 0.5)
        return Observation(name, ok, f"s varies by {span:.3g} over tau in [{t[-1] / 100:.3g}, {t[-1]:.3g}]; "
                                     f"attention {a[-1]:.6g}")
    if name == "attention-to-one":
        lp = escapability_lp(W, y)
        mu = result.v[:, word] @ lp["u"]
        inc = bool(np.all(np.diff(mu) >= -CONVERGENCE.certificate_rtol * np.maximum(1.0, np.abs(mu[1:]))))
        grows = bool(np.all(np.diff(s[late]) > 0))
        ok = bool(inc and grows and a[-1] > a[0])
        return Observation(name, ok, f"mu = u.v increasing: {inc}; s increasing over the last two decades: "
                                     f"{grows}; attention {a[0]:.4g} -> {a[-1]:.4g}")
    if name == "loss-to-zero":
        ok = bool(loss[-1] < 1e-2 * loss[0] and np.all(np.diff(loss) <= 1e-15))
        return Observation(name, ok, f"loss {loss[0]:.4g} -> {loss[-1]:.3g} (decreasing)")
    if name == "loss-floor":
        if sys_.train_embeddings and sys_.pi[word] > 0:
            floor = loss_floor(W, y)["floor"]
            how = "inf_x CE(W^T x, y)"
        else:  # v frozen at v0: the loss is CE(a W^T v0) for some a in [0, 1], convex in a
            floor = frozen_embedding_floor(W, y, sys_.v0[word])
            how = "min over a in [0,1] of CE(a W^T v0, y) (v frozen)"
        ok = bool(floor > 0 and loss.min() >= floor * (1 - CONVERGENCE.floor_rtol))
        return Observation(name, ok, f"loss >= floor {floor:.6g} = {how}: min loss {loss.min():.6g}, "
                                     f"final {loss[-1]:.6g}")
    if name == "sen-drift":
        drift = float(result.sen_drift()[word])
        ok = drift > 1e3 * NUMERIC.sen_flow_max
        return Observation(name, ok, f"SEN drift (m = pi-weighted mean) {drift:.3g} vs the flow tolerance "
                                     f"{NUMERIC.sen_flow_max:.1g}")
    raise KeyError(f"unknown behaviour {name!r}")


BEHAVIOURS = ("score-frozen", "frozen", "score-decreases", "attention-bounded", "attention-to-one",
              "loss-to-zero", "loss-floor", "sen-drift")


def observe(cx: Counterexample, n_save: int = 121) -> tuple[list[Observation], object]:
    """Run the counterexample's reduced flow (log-spaced samples to ``cx.horizon``; LSODA when a
    label is not achievable, where the flow is stiff) and measure each expected behaviour.
    Returns the observations and the :class:`~attndyn.numerics.flow.results.FlowResult`."""
    system = cx.build()
    stiff = any(not achievability_lp(system.theta0["W"], int(y))["holds"] for y in np.unique(system.y))
    result, _ = run_flow(system, save_times(cx.horizon, n_save), stiff=stiff)
    if not result.ok:
        return [Observation(b, False, f"flow failed: {result.message}") for b in cx.expect], result
    return [_behaviour(b, result, cx.word) for b in cx.expect], result
