r"""The counterexample search space, declared in one place.

A *point* is a plain JSON dict, one entry per :class:`Dimension` of :data:`DIMENSIONS`
(``None`` where a dimension does not apply, e.g. ``gd_lr`` under gradient flow).  It
fixes one setting of the attention model completely: the reduced topic-word system
(non-topic words frozen) or a small synthetic corpus for the full model, the
classifier and its matrix, the initial scales, the learning rates, which parameters
train, the dynamics (gradient flow or discrete GD) and the horizon, plus an instance
``seed`` from which every random draw (matrix, query, initial values, corpus) comes.

Every dimension that one of the paper's hypotheses restricts names that hypothesis and
says which values keep it (``inside``).  :func:`paper_hypotheses` gives the
restriction for a claim; a search with ``inside_hypotheses=True`` samples only
there, an ordinary search samples everywhere (each restricted dimension inside
with probability ``SEARCH.p_inside``, so points that break one hypothesis at a time
are common).  The hypotheses (names as in :mod:`attndyn.numerics.convergence.hypotheses`):

=============  ==============================================================  ============
name           statement                                                       claims
=============  ==============================================================  ============
M-query        the query q is fixed                                            both
M-lengths      every sentence has the same number m of non-topic words         both
M-frozen       non-topic words stay at score 0 / embedding 0 (reduced model)   both
M-one-topic    exactly one topic word per sentence                             both
M-flow         gradient flow (not discrete gradient descent)                   both
H-keys         the keys train (eta_k > 0)                                      both
H-emb          the embeddings train (eta_v > 0)                                both
M-fc           the classifier is fixed and linear (FC)                         convergence
H-ach          every label is achievable by the fixed classifier (LP)          convergence
=============  ==============================================================  ============

The SEN identity holds for *any* classifier (the paper's statement), so inside the
hypotheses the SEN search still samples FC, TC and TL and every matrix family.
H-ach is a property of the sampled matrix (decided by the linear program of
:func:`attndyn.numerics.convergence.hypotheses.achievability_lp` for every label), not of one dimension:
an inside convergence search rejects points that fail it.

Points are hashable by a canonical key (:func:`point_key`: SHA-256 of the sorted JSON),
used for deduplication and resume.  Point ``i`` of a search with seed ``S`` is drawn
from ``numpy.random.default_rng([S, i, attempt])``, so the same seed gives the same
sequence and any point can be recomputed on its own.

Size: over 500 lines because the space is declared in one place on purpose: every dimension,
its sampler, its shrink order and its hypothesis check together.
"""
from __future__ import annotations

from dataclasses import dataclass, field
import hashlib
import json
import math
from typing import Any, Callable

import numpy as np

from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import SEARCH

SPACE_VERSION = 1
CLAIMS = ("sen-identity", "convergence")
MATRIX_FAMILIES = ("paper-random", "generic", "average-column", "duplicate-column")
FROZEN = "frozen"  # n_nontopic value of the reduced model

HYPOTHESES: dict[str, tuple[str, tuple[str, ...]]] = {
    "M-query": ("the query q is fixed", CLAIMS),
    "M-lengths": ("every sentence has the same number m of non-topic words", CLAIMS),
    "M-frozen": ("non-topic words stay at score 0 and embedding 0 (the reduced model)", CLAIMS),
    "M-one-topic": ("exactly one topic word per sentence", CLAIMS),
    "M-flow": ("gradient flow, not discrete gradient descent", CLAIMS),
    "H-keys": ("the keys train (eta_k > 0)", CLAIMS),
    "H-emb": ("the embeddings train (eta_v > 0)", CLAIMS),
    "M-fc": ("the classifier is fixed and linear (FC)", ("convergence",)),
    "H-ach": ("every label is achievable by the fixed classifier: some u makes (W^T u)_y "
              "strictly the largest logit (linear program)", ("convergence",)),
}


def _always(_point: dict) -> bool:
    return True


@dataclass(frozen=True)
class Dimension:
    """One axis of the search space.

    ``kind``: ``int`` (uniform on ``low..high``), ``log`` (log-uniform on [low, high]),
    ``zero-or-log`` (0 with probability 1/2, else log-uniform), ``choice`` (uniform over
    ``choices``), ``bool``, ``frozen-or-int`` (the string ``"frozen"`` or an int in
    ``low..high``).  ``low``/``high`` may be callables of the point drawn so far
    (dimensions are drawn in declaration order), ``choices`` likewise.  ``applies``
    says whether the dimension exists for that point (else its value is ``None``).

    ``hypothesis``: the paper's hypothesis this dimension can break, with ``inside``
    the values that keep it and ``claims`` the claims it restricts; ``restore`` the
    canonical inside value used when isolating a cause.  ``default`` is used when the
    dimension starts to apply after another one changed; ``simple`` a round value the
    shrinker tries; ``shrink`` True for the sizes reduced greedily (d, K, m, vocabulary,
    horizon ...).  ``by_claim`` overrides ``low``/``high`` per claim.
    """

    name: str
    kind: str
    help: str
    low: Any = None
    high: Any = None
    choices: Any = None
    applies: Callable[[dict], bool] = _always
    hypothesis: str | Callable[[Any], str] | None = None
    inside: tuple = ()
    claims: tuple[str, ...] = CLAIMS
    restore: Any = None
    default: Any = None
    simple: Any = None
    shrink: bool = False
    by_claim: dict = field(default_factory=dict)
    range_text: str = ""  # how --help shows a range with callable bounds

    # -- ranges, resolved against the point drawn so far
    def bounds(self, point: dict, claim: str) -> tuple[Any, Any]:
        low, high = self.by_claim.get(claim, (self.low, self.high))
        low = low(point) if callable(low) else low
        high = high(point) if callable(high) else high
        return low, high

    def options(self, point: dict) -> tuple:
        if self.kind == "bool":
            return (False, True)
        return tuple(self.choices(point) if callable(self.choices) else self.choices)

    def restricts(self, claim: str) -> bool:
        return self.hypothesis is not None and claim in self.claims

    def inside_values(self, point: dict, claim: str) -> tuple:
        """The values keeping this dimension's hypothesis (all values if it restricts nothing)."""
        if not self.restricts(claim):
            return ()
        return tuple(v for v in self.inside if self.valid(v, point, claim))

    def hypothesis_of(self, value) -> str:
        h = self.hypothesis
        return h(value) if callable(h) else h

    # -- sampling and validation
    def draw(self, rng: np.random.Generator, point: dict, claim: str):
        k = self.kind
        if k == "choice" or k == "bool":
            opts = self.options(point)
            return opts[int(rng.integers(len(opts)))]
        low, high = self.bounds(point, claim)
        if k == "int":
            return int(rng.integers(low, high + 1))
        if k == "frozen-or-int":
            return FROZEN if rng.random() < 0.5 else int(rng.integers(low, high + 1))
        if k == "log":
            return _round(math.exp(rng.uniform(math.log(low), math.log(high))))
        if k == "zero-or-log":
            return 0.0 if rng.random() < 0.5 else _round(math.exp(rng.uniform(math.log(low), math.log(high))))
        raise ValueError(f"unknown dimension kind {k!r}")  # a programming error in DIMENSIONS

    def valid(self, value, point: dict, claim: str) -> bool:
        k = self.kind
        if k in ("choice", "bool"):
            return any(value == o and type(value) is type(o) for o in self.options(point))
        low, high = self.bounds(point, claim)
        if k in ("int", "frozen-or-int"):
            if k == "frozen-or-int" and value == FROZEN:
                return True
            return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            return False
        if k == "zero-or-log" and value == 0:
            return True
        return low * (1 - 1e-12) <= value <= high * (1 + 1e-12)

    def describe_range(self, claim: str | None = None) -> str:
        if self.range_text:
            return self.range_text
        k = self.kind
        if k == "bool":
            return "false | true"
        if k == "choice":
            ch = self.choices if not callable(self.choices) else self.choices({})
            return " | ".join(str(c) for c in ch)
        low, high = self.by_claim.get(claim, (self.low, self.high)) if claim else (self.low, self.high)
        lo, hi = (f"{x}" if isinstance(x, int) else f"{x:g}" for x in (low, high))
        if k == "int":
            return f"{lo}..{hi}"
        if k == "frozen-or-int":
            return f"frozen | {lo}..{hi}"
        if k == "log":
            return f"[{lo}, {hi}] log-uniform"
        return f"0 | [{lo}, {hi}] log-uniform"


def _round(x: float) -> float:
    """Six significant digits: readable points that survive JSON exactly."""
    return float(f"{x:.6g}")


def _finite_vocab(p: dict) -> bool:
    return p.get("n_nontopic") not in (None, FROZEN)


def _classifier_choices(p: dict) -> tuple:
    # TL's ReLU kinks need the Filippov treatment of the reduced flow (attndyn.numerics.flow.switching.ReluSwitching);
    # the full model's and the trained-query flows integrate the raw field, which chatters at a
    # sliding kink until the step budget is gone, so TL is sampled in the reduced model only
    if _finite_vocab(p) or p.get("train_query"):
        return ("fc", "tc")
    return ("fc", "tc", "tl")


def _matrix_choices(p: dict) -> tuple:
    # average-column needs two other columns to average, duplicate-column one other
    return MATRIX_FAMILIES if p.get("K", 3) >= 3 else ("paper-random", "generic", "duplicate-column")


def _frozen_hypothesis(value) -> str:
    return {"keys": "H-keys", "embeddings": "H-emb"}.get(value, "H-keys")


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("K", "int", "number of classes (topics)", low=2, high=4, shrink=True, default=3),
    Dimension("m", "int", "non-topic words per sentence (the mean, with m_spread)", low=1, high=30,
              shrink=True, default=10),
    Dimension("m_spread", "int", "sentence i has m_i uniform on m - m_spread .. m + m_spread",
              low=0, high=lambda p: min(10, p["m"] - 1), range_text="0..min(10, m - 1)",
              hypothesis="M-lengths", inside=(0,),
              restore=0, default=0, shrink=True),
    Dimension("n_nontopic", "frozen-or-int",
              "non-topic vocabulary: 'frozen' = the reduced model (non-topic words at score 0, embedding "
              "0); an integer = a finite vocabulary of the full model on a small synthetic corpus, where "
              "non-topic words move", low=1, high=40, hypothesis="M-frozen", inside=(FROZEN,),
              restore=FROZEN, default=FROZEN, shrink=True),
    Dimension("topic_words_per_topic", "int", "topic words per topic (T); pi_t = 1/(K T)",
              low=1, high=2, shrink=True, default=1),
    Dimension("topic_words_per_sentence", "int", "topic words per sentence (full model only)",
              low=1, high=3, applies=_finite_vocab, hypothesis="M-one-topic", inside=(1,), restore=1,
              default=1, shrink=True),
    Dimension("n_sentences", "int", "training sentences of the small corpus (full model only)",
              low=4, high=30, applies=_finite_vocab, default=12, shrink=True),
    Dimension("train_query", "bool", "the query trains too", hypothesis="M-query", inside=(False,),
              restore=False, default=False),
    Dimension("classifier", "choice", "classifier: fc fixed linear, tc trainable linear, tl two-layer ReLU",
              choices=_classifier_choices, hypothesis="M-fc", inside=("fc",), claims=("convergence",),
              restore="fc", default="fc", simple="fc"),
    Dimension("matrix", "choice",
              "classifier matrix family (fc/tc): paper-random (standard normal, unit diagonal), generic "
              "(standard normal), average-column (w_0 = (w_1 + w_2)/2: label 0 not achievable), "
              "duplicate-column (w_0 = w_1: labels 0 and 1 not achievable)",
              choices=_matrix_choices, range_text="paper-random | generic | average-column (K >= 3) | "
              "duplicate-column", applies=lambda p: p["classifier"] in ("fc", "tc"),
              hypothesis="H-ach", inside=("paper-random", "generic"), claims=("convergence",),
              restore="paper-random", default="paper-random", simple="paper-random"),
    Dimension("d_e", "int", "embedding dimension", low=1, high=5, shrink=True, default=3),
    Dimension("d_k", "int", "key / query dimension", low=1, high=5, shrink=True, default=3),
    Dimension("q_norm", "log", "|q|, the query's norm (its direction is drawn from the seed)",
              low=0.1, high=3.0, simple=1.0),
    Dimension("emb_scale", "log", "std of the initial embeddings", low=1e-6, high=1.0, simple=0.1),
    Dimension("key_scale", "zero-or-log", "std of the initial keys (0: keys start at 0, s0 = 0)",
              low=1e-3, high=1.0, simple=0.0),
    Dimension("eta_v", "log", "embedding learning rate eta_v", low=0.2, high=5.0, simple=1.0),
    Dimension("eta_k", "log", "key learning rate eta_k (also the query's when it trains)",
              low=0.2, high=5.0, simple=1.0),
    Dimension("eta_c", "log", "classifier learning rate (tc, tl)", low=0.2, high=5.0,
              applies=lambda p: p["classifier"] in ("tc", "tl"), default=1.0, simple=1.0),
    Dimension("frozen", "choice", "a parameter group held fixed: none, keys (KF) or embeddings (EF)",
              choices=("none", "keys", "embeddings"), hypothesis=_frozen_hypothesis, inside=("none",),
              restore="none", default="none"),
    Dimension("dynamics", "choice", "gradient flow (DOP853) or discrete gradient descent",
              choices=("flow", "gd"), hypothesis="M-flow", inside=("flow",), restore="flow", default="flow"),
    Dimension("gd_lr", "log", "step size of discrete GD (tau = steps x gd_lr)", low=0.02, high=0.5,
              applies=lambda p: p["dynamics"] == "gd", default=0.1),
    Dimension("horizon", "log", "flow time tau of the run (learning-rate scaled)", low=2.0, high=40.0,
              shrink=True, by_claim={"convergence": (20.0, 2000.0)}),
    Dimension("seed", "int", "instance seed: matrix, query, initial values, corpus", low=0,
              high=2 ** 31 - 1),
)
DIMS = {d.name: d for d in DIMENSIONS}
RESTRICTED = tuple(d.name for d in DIMENSIONS if d.hypothesis is not None)
# the dimension carrying each hypothesis (H-ach also depends on d_e and K, which no hypothesis restricts)
DIMENSION_OF = {"M-query": "train_query", "M-lengths": "m_spread", "M-frozen": "n_nontopic",
                "M-one-topic": "topic_words_per_sentence", "M-flow": "dynamics", "H-keys": "frozen",
                "H-emb": "frozen", "M-fc": "classifier", "H-ach": "matrix"}


# --------------------------------------------------------------------------- keys

def canonical_json(point: dict) -> str:
    """The canonical text of a point: sorted keys, no spaces (its identity)."""
    return json.dumps(point, sort_keys=True, separators=(",", ":"), allow_nan=False)


def point_key(point: dict) -> str:
    """A short stable hash of :func:`canonical_json` (16 hex digits)."""
    return hashlib.sha256(canonical_json(point).encode()).hexdigest()[:16]


# --------------------------------------------------------------------------- instances

def classifier_matrix(point: dict) -> np.ndarray | None:
    r"""The (d_e x K) matrix of a linear classifier (fc/tc), from the point's ``matrix`` family
    and ``seed`` (``None`` for tl, whose weights are drawn by
    :func:`attndyn.numerics.model.classifiers.init_classifier`).

    * paper-random: :func:`attndyn.numerics.model.classifiers.paper_matrix` (standard normal, unit diagonal);
    * generic: standard normal;
    * average-column: :math:`w_0 = (w_1 + w_2)/2`, other columns standard normal;
    * duplicate-column: :math:`w_0 = w_1`, other columns standard normal.
    """
    if point["classifier"] == "tl":
        return None
    from attndyn.numerics.model.classifiers import (paper_matrix)  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    rng = instance_rng(point, "matrix")
    d_e, K = point["d_e"], point["K"]
    fam = point["matrix"]
    if fam == "paper-random":
        return paper_matrix(d_e, K, rng)
    W = rng.standard_normal((d_e, K))
    if fam == "average-column":
        W[:, 0] = (W[:, 1] + W[:, 2]) / 2
    elif fam == "duplicate-column":
        W[:, 0] = W[:, 1]
    return W


STREAMS = ("matrix", "query", "embeddings", "keys", "corpus", "classifier")


def instance_rng(point: dict, stream: str) -> np.random.Generator:
    """An independent generator per random ingredient of the instance (``STREAMS``), so that
    changing one dimension (say d_e) leaves the other draws of the same seed alone."""
    return np.random.default_rng([int(point["seed"]), STREAMS.index(stream)])


def achievable_labels(point: dict) -> list[bool] | None:
    """H-ach for every label (LP, :func:`attndyn.numerics.convergence.hypotheses.achievability_lp`); None for tl."""
    W = classifier_matrix(point)
    if W is None:
        return None
    from attndyn.numerics.convergence.hypotheses import (achievability_lp)  # deferred: the CLI parser reads this module; keeps `attndyn --help` fast

    return [bool(achievability_lp(W, y)["holds"]) for y in range(W.shape[1])]


# --------------------------------------------------------------------------- the space

def paper_hypotheses(claim: str) -> dict[str, tuple]:
    """The restriction "inside the paper's hypotheses" for ``claim``: dimension -> allowed values
    (plus, for convergence, the constraint H-ach on the sampled matrix)."""
    check_claim(claim)
    return {d.name: d.inside for d in DIMENSIONS if d.restricts(claim)}


def check_claim(claim: str) -> str:
    if claim not in CLAIMS:
        raise UsageError(f"--claim: expected one of {', '.join(CLAIMS)}, got {claim!r}")
    return claim


class SearchSpace:
    """The space of :data:`DIMENSIONS` for one claim, optionally restricted to the paper's
    hypotheses.  Sampling is deterministic: point ``i`` of seed ``S`` depends on (S, i) only
    (and on the earlier points through deduplication)."""

    def __init__(self, claim: str, inside: bool = False):
        self.claim = check_claim(claim)
        self.inside = bool(inside)

    # -- sampling
    def _draw(self, rng: np.random.Generator, inside: bool) -> dict:
        p: dict = {}
        for d in DIMENSIONS:
            if not d.applies(p):
                p[d.name] = None
                continue
            ins = d.inside_values(p, self.claim)
            if ins and (inside or rng.random() < SEARCH.p_inside):
                p[d.name] = ins[int(rng.integers(len(ins)))]
            else:
                p[d.name] = d.draw(rng, p, self.claim)
        return p

    def sample(self, seed: int, index: int, taken: set | frozenset = frozenset()) -> dict:
        """Point ``index`` of the search with ``seed``: the first draw of
        ``default_rng([seed, index, attempt])`` that is new (key not in ``taken``) and, inside
        the hypotheses, satisfies the constraints (H-ach for convergence)."""
        for attempt in range(SEARCH.sample_attempts):
            rng = np.random.default_rng([int(seed), int(index), attempt])
            p = self._draw(rng, self.inside)
            if point_key(p) in taken:
                continue
            if self.inside and self.broken(p):
                continue
            return p
        raise UsageError(f"search space: no new admissible point after {SEARCH.sample_attempts} draws "
                         f"(index {index}); the space is exhausted for this budget")

    def points(self, seed: int, budget: int) -> list[dict]:
        """The first ``budget`` points of the sequence of ``seed`` (distinct keys)."""
        taken: set[str] = set()
        out = []
        for i in range(budget):
            p = self.sample(seed, i, taken)
            taken.add(point_key(p))
            out.append(p)
        return out

    # -- hypotheses
    def broken(self, point: dict) -> list[str]:
        """The paper's hypotheses (for this claim) that ``point`` breaks, in :data:`HYPOTHESES` order."""
        names = set()
        for d in DIMENSIONS:
            v = point.get(d.name)
            if v is None or not d.restricts(self.claim):
                continue
            if v not in d.inside:
                names.add(d.hypothesis_of(v))
        if self.claim == "convergence" and point.get("classifier") in ("fc", "tc"):
            ach = achievable_labels(point)
            if ach is not None and not all(ach):
                names.add("H-ach")
        return [h for h in HYPOTHESES if h in names]

    def families(self, point: dict) -> list[str]:
        """The causes to isolate: the broken hypotheses (same as :meth:`broken`)."""
        return self.broken(point)

    # -- editing points
    def normalise(self, point: dict) -> dict:
        """Make applicability consistent after an edit: dimensions that no longer apply become
        ``None``, those that start to apply get their ``default``; out-of-range values are clipped
        to the nearest admissible one (m_spread <= m - 1, K >= 3 for average-column)."""
        p: dict = {}
        for d in DIMENSIONS:
            v = point.get(d.name)
            if not d.applies(p):
                p[d.name] = None
                continue
            if v is None:
                v = d.default
            if not d.valid(v, p, self.claim):
                v = self._nearest(d, v, p)
            p[d.name] = v
        return p

    def _nearest(self, d: Dimension, v, p: dict):
        if d.kind in ("int", "frozen-or-int") and isinstance(v, int):
            low, high = d.bounds(p, self.claim)
            return int(min(max(v, low), high))
        if d.kind in ("log", "zero-or-log") and isinstance(v, (int, float)):
            low, high = d.bounds(p, self.claim)
            return _round(min(max(float(v), low), high))
        if d.default is not None and d.valid(d.default, p, self.claim):
            return d.default
        return d.options(p)[0]

    def with_values(self, point: dict, **changes) -> dict:
        p = dict(point)
        p.update(changes)
        return self.normalise(p)

    def isolate(self, point: dict, hypothesis: str) -> dict:
        """``point`` with every restricted dimension except the one carrying ``hypothesis``
        (:data:`DIMENSION_OF`) restored to its canonical inside value; a restore that would make
        that dimension stop applying is skipped (e.g. M-one-topic needs a finite vocabulary)."""
        keep = DIMENSION_OF.get(hypothesis)
        p = dict(point)
        for name in RESTRICTED:
            d = DIMS[name]
            if name == keep or not d.restricts(self.claim) or p.get(name) is None or p[name] in d.inside:
                continue
            trial = self.with_values(p, **{name: d.restore})
            if keep is not None and point.get(keep) is not None and trial.get(keep) != point.get(keep):
                continue
            p = trial
        return p

    # -- validation of points read from files
    def validate(self, point, where: str = "point") -> dict:
        """Check a point read from a file: every dimension present, values admissible, applicability
        consistent.  Returns the point (a new dict); a UsageError names the bad field."""
        if not isinstance(point, dict):
            raise UsageError(f"{where}: expected a JSON object with the search dimensions, got "
                             f"{type(point).__name__}")
        unknown = sorted(set(point) - set(DIMS))
        missing = [d.name for d in DIMENSIONS if d.name not in point]
        if unknown or missing:
            raise UsageError(f"{where}: unknown field(s) {unknown}, missing field(s) {missing}; "
                             f"expected exactly {', '.join(DIMS)}")
        p: dict = {}
        for d in DIMENSIONS:
            v = point[d.name]
            if not d.applies(p):
                if v is not None:
                    raise UsageError(f"{where}.{d.name}: does not apply to this point (expected null), got {v!r}")
                p[d.name] = None
                continue
            if isinstance(v, float) and d.kind in ("int", "frozen-or-int") and v.is_integer():
                v = int(v)
            if not d.valid(v, p, self.claim):
                low, high = d.bounds(p, self.claim) if d.kind not in ("choice", "bool") else (None, None)
                expected = (" | ".join(map(str, d.options(p))) if d.kind in ("choice", "bool")
                            else f"{'frozen or ' if d.kind == 'frozen-or-int' else ''}"
                                 f"{'0 or ' if d.kind == 'zero-or-log' else ''}a value in [{low}, {high}]")
                raise UsageError(f"{where}.{d.name}: expected {expected}, got {v!r}")
            p[d.name] = v
        return p

    def describe(self) -> str:
        return describe(self.claim)


def describe(claim: str | None = None) -> str:
    """The space as text, one line per dimension (used by ``attndyn search --help`` and the README)."""
    lines = []
    for d in DIMENSIONS:
        rng = d.describe_range(claim)
        if d.by_claim and claim is None:
            rng += "; " + "; ".join(f"{c}: [{lo:g}, {hi:g}]" for c, (lo, hi) in d.by_claim.items())
        hyp = ""
        if d.hypothesis is not None:
            names = sorted({d.hypothesis_of(v) for v in d.options({"K": 3}) if v not in d.inside}) \
                if d.kind in ("choice", "bool") else [d.hypothesis_of(None)]
            claims = "" if d.claims == CLAIMS else f" ({', '.join(d.claims)})"
            hyp = f"  [inside: {', '.join(map(str, d.inside))}; outside breaks {', '.join(names)}{claims}]"
        lines.append(f"  {d.name:<25} {rng}  - {d.help}{hyp}")
    lines.append("  constraint (convergence, inside): H-ach holds for every label (LP on the sampled matrix)")
    return "\n".join(lines)
