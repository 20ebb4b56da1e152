r"""Declarative model specifications and the named models.

A :class:`ModelSpec` describes one attention model of Lu, Mao & Nayak (2021):

* ``d`` — the dimension;
* ``sentences`` — the corpus, each sentence a tuple of word names (a repeated
  name is the same word twice; sentences may have different lengths);
* ``frozen`` — words whose embedding and key are frozen at 0, so their score is
  0 whatever the query (the paper's non-topic words);
* ``train`` — the trained parameter groups among ``v`` (embeddings of the
  non-frozen words), ``k`` (their keys; with ``keys="projection"`` the matrix
  :math:`W_K`), ``q`` (the query);
* ``rates`` — learning rate per group, rationals (default 1); laws carry the
  given ratios exactly;
* ``keys`` — ``"free"`` (each word has its own key) or ``"projection"``
  (:math:`k_w=W_Kv_w`);
* ``score_scale`` — rational factor of :math:`s_w=\text{scale}\cdot q\cdot k_w`;
  the string ``"1/sqrt(d)"`` is accepted when :math:`d` is a perfect square (an
  irrational scale would leave exact rational arithmetic);
* ``q`` — the fixed query when ``q`` is not trained (default :math:`(1,2,\dots,d)`);
  ``embeddings`` / ``WK`` — fixed values of untrained groups (defaults below);
* ``classifier`` — ``"any"`` (the classifier sees the context vectors
  :math:`c_i`; the :math:`\ell_i` are arbitrary) or ``"linear"`` (fixed
  :math:`W`, the :math:`\ell_i` arbitrary functions of the logits :math:`Wc_i`);
* ``loss`` — ``"any"`` or ``"squared"``: one fixed loss
  :math:`L=\sum_i\tfrac12|Wc_i-y_i|^2` (``W`` identity for ``classifier="any"``)
  with targets ``targets``; the flow is then the single field
  :math:`-\Lambda\nabla L` and the count is that of the local first integrals of
  this one ODE (:math:`D-1` wherever :math:`\nabla L\ne0`), mostly outside any
  finite class.

:meth:`ModelSpec.from_dict` loads a TOML-like dict; an unknown field, a model
that trains nothing, or a malformed value raise
:class:`~proofs.errors.UsageError` naming the field.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, fields as dc_fields
from fractions import Fraction

import sympy as sp

from ..errors import UsageError
from .names import NAMED  # noqa: F401  (re-exported: the named models are listed there)
from .problem import FlowProblem, frac

GROUPS = ("v", "k", "q")


@dataclass(frozen=True)
class ModelSpec:
    name: str = "custom"
    d: int = 2
    sentences: tuple = (("t", "n1", "n2"),)
    frozen: tuple = ("n1", "n2")
    train: tuple = ("v", "k")
    rates: tuple = ()  # ((group, Fraction), ...); missing groups have rate 1
    keys: str = "free"
    score_scale: object = Fraction(1)
    q: tuple = ()
    embeddings: tuple = ()  # ((word, (components...)), ...) for untrained embeddings
    WK: tuple = ()  # fixed W_K rows when keys="projection" and k untrained
    classifier: str = "any"
    W: tuple = ()  # fixed linear classifier rows (C x d)
    loss: str = "any"
    targets: tuple = ()  # per sentence, target logits (squared loss)

    def __post_init__(self):
        self.validate()

    # ---- validation -----------------------------------------------------------
    def validate(self):
        if not isinstance(self.d, int) or isinstance(self.d, bool) or self.d < 1:
            raise UsageError(f"d: expected an integer >= 1, got {self.d!r}")
        if not self.sentences or not all(isinstance(s, tuple) and s for s in self.sentences):
            raise UsageError("sentences: expected a non-empty list of non-empty word lists")
        words = self.words()
        for w in self.frozen:
            if w not in words:
                raise UsageError(f"frozen: word {w!r} is in no sentence")
        if not self.train:
            raise UsageError("train: the model trains nothing (expected some of 'v', 'k', 'q')")
        for g in self.train:
            if g not in GROUPS:
                raise UsageError(f"train: unknown group {g!r} (expected 'v', 'k' or 'q')")
        if not self.trainable_words() and set(self.train) <= {"v", "k"}:
            raise UsageError("train: every word is frozen, so the model trains nothing")
        for g, r in self.rates:
            if g not in GROUPS:
                raise UsageError(f"rates: unknown group {g!r}")
            if not isinstance(r, Fraction) or r <= 0:
                raise UsageError(f"rates.{g}: expected a positive rational, got {r!r}")
        if self.keys not in ("free", "projection"):
            raise UsageError(f"keys: expected 'free' or 'projection', got {self.keys!r}")
        self.scale()
        if self.q and len(self.q) != self.d:
            raise UsageError(f"q: expected {self.d} components, got {len(self.q)}")
        if self.classifier not in ("any", "linear"):
            raise UsageError(f"classifier: expected 'any' or 'linear', got {self.classifier!r}")
        if self.classifier == "linear" and self.W and any(len(r) != self.d for r in self.W):
            raise UsageError(f"W: every row needs {self.d} entries")
        if self.loss not in ("any", "squared"):
            raise UsageError(f"loss: expected 'any' or 'squared', got {self.loss!r}")
        if self.loss == "squared" and self.targets and len(self.targets) != len(self.sentences):
            raise UsageError("targets: expected one target vector per sentence")
        for w, e in self.embeddings:
            if len(e) != self.d:
                raise UsageError(f"embeddings.{w}: expected {self.d} components")

    def words(self) -> tuple:
        seen = []
        for s in self.sentences:
            for w in s:
                if w not in seen:
                    seen.append(w)
        return tuple(seen)

    def trainable_words(self) -> tuple:
        return tuple(w for w in self.words() if w not in self.frozen)

    def rate(self, g) -> Fraction:
        return dict(self.rates).get(g, Fraction(1))

    def scale(self) -> Fraction:
        s = self.score_scale
        if isinstance(s, str) and s.replace(" ", "") in ("1/sqrt(d)", "1/√d"):
            r = math.isqrt(self.d)
            if r * r != self.d:
                raise UsageError(f"score_scale: 1/sqrt(d) is irrational for d = {self.d}; exact arithmetic "
                                 "needs a rational scale (use a perfect-square d or give the scale)")
            return Fraction(1, r)
        try:
            s = frac(s)
        except (TypeError, ValueError, ZeroDivisionError):
            raise UsageError(f"score_scale: expected a rational or '1/sqrt(d)', got {s!r}") from None
        if s == 0:
            raise UsageError("score_scale: expected a nonzero rational")
        return s

    # ---- loading --------------------------------------------------------------
    @classmethod
    def from_dict(cls, data: dict) -> "ModelSpec":
        """Load from a TOML-like dict (lists for tuples, tables for ``rates``/``embeddings``)."""
        if not isinstance(data, dict):
            raise UsageError("model spec: expected a table of fields")
        names = {f.name for f in dc_fields(cls)}
        kw = {}
        for key, val in data.items():
            if key not in names:
                raise UsageError(f"unknown field {key!r} in model spec (expected one of {', '.join(sorted(names))})")
            kw[key] = _convert(key, val)
        return cls(**kw)

    # ---- compilation ----------------------------------------------------------
    def problem(self) -> FlowProblem:
        return compile_spec(self)


def _rat(field, x) -> Fraction:
    try:
        return frac(x)
    except (TypeError, ValueError, ZeroDivisionError):
        raise UsageError(f"{field}: expected a rational number (int, 'a/b' or decimal), got {x!r}") from None


def _convert(key, val):
    if key in ("name", "keys", "classifier", "loss"):
        if not isinstance(val, str):
            raise UsageError(f"{key}: expected a string, got {val!r}")
        return val
    if key == "d":
        return val
    if key == "score_scale":
        return val if isinstance(val, str) else _rat(key, val)
    if key == "sentences":
        if not isinstance(val, (list, tuple)) or not all(isinstance(s, (list, tuple)) for s in val):
            raise UsageError("sentences: expected a list of lists of word names")
        return tuple(tuple(str(w) for w in s) for s in val)
    if key in ("frozen", "train"):
        if isinstance(val, str) or not isinstance(val, (list, tuple)):
            raise UsageError(f"{key}: expected a list of names, got {val!r}")
        return tuple(str(w) for w in val)
    if key == "rates":
        if not isinstance(val, dict):
            raise UsageError("rates: expected a table group -> rate")
        return tuple((str(g), _rat(f"rates.{g}", r)) for g, r in val.items())
    if key == "q":
        return tuple(_rat("q", x) for x in val)
    if key in ("W", "WK", "targets"):
        return tuple(tuple(_rat(key, x) for x in row) for row in val)
    if key == "embeddings":
        if not isinstance(val, dict):
            raise UsageError("embeddings: expected a table word -> vector")
        return tuple((str(w), tuple(_rat(f"embeddings.{w}", x) for x in e)) for w, e in val.items())
    return val


def _default_embedding(i: int, d: int) -> tuple:
    """Distinct, generic-looking fixed embeddings: (1, i+2, (i+2)^2, ...)/(i+1)."""
    return tuple(Fraction((i + 2) ** j, i + 1) for j in range(d))


def compile_spec(spec: ModelSpec) -> FlowProblem:
    """The :class:`~.problem.FlowProblem` of a spec (symbols, rates, scores, features)."""
    d = spec.d
    words = spec.words()
    trainable = spec.trainable_words()
    params, rates, groups = [], [], []
    R = lambda x: sp.Rational(x.numerator, x.denominator)

    def add_group(gname, syms, g):
        params.extend(syms)
        rates.extend([R(spec.rate(g))] * len(syms))
        if syms:
            groups.append((gname, tuple(syms)))

    zero = [sp.Integer(0)] * d
    fixed_emb = dict(spec.embeddings)
    v = {}
    for i, w in enumerate(words):
        if w in spec.frozen:
            v[w] = zero
        elif "v" in spec.train:
            v[w] = list(sp.symbols(f"v_{w}_1:{d + 1}", real=True))
            add_group(f"v_{w}", v[w], "v")
        else:
            v[w] = [R(x) for x in fixed_emb.get(w, _default_embedding(i, d))]
    if "q" in spec.train:
        q = list(sp.symbols(f"q_1:{d + 1}", real=True))
        add_group("q", q, "q")
    else:
        q = [R(x) for x in (spec.q or tuple(Fraction(i + 1) for i in range(d)))]
    k = {}
    if spec.keys == "free":
        for i, w in enumerate(words):
            if w in spec.frozen:
                k[w] = zero
            elif "k" in spec.train:
                k[w] = list(sp.symbols(f"k_{w}_1:{d + 1}", real=True))
                add_group(f"k_{w}", k[w], "k")
            else:
                k[w] = [R(x) for x in _default_embedding(i + 7, d)]
    else:
        if "k" in spec.train:
            WK = sp.Matrix(d, d, lambda a, b: sp.Symbol(f"K_{a + 1}{b + 1}", real=True))
            add_group("W_K", list(WK), "k")
        else:
            WK = sp.Matrix(spec.WK) if spec.WK else sp.eye(d)
            WK = WK.applyfunc(lambda x: R(frac(x)) if not isinstance(x, sp.Basic) else x)
        for w in words:
            k[w] = list(WK * sp.Matrix(v[w]))
    scale = R(spec.scale())
    scores = {w: sp.expand(scale * sum(qi * ki for qi, ki in zip(q, k[w]))) for w in words}
    if spec.classifier == "linear":
        W = sp.Matrix(spec.W) if spec.W else sp.Matrix(_default_W(d))
        W = W.applyfunc(lambda x: R(frac(x)) if not isinstance(x, sp.Basic) else x)
    else:
        W = None

    def build(E):
        Zs, phi, contexts = [], [], []
        for sent in spec.sentences:
            Z = sp.Add(*[E[w] for w in sent])
            Zs.append(Z)
            num = [sp.Add(*[E[w] * v[w][a] for w in sent]) for a in range(d)]
            contexts.append([x * Z ** -1 for x in num])
        # distinct partitions only (identical sentences share Z)
        uniq = []
        for Z in Zs:
            if not any(sp.expand(Z - U) == 0 for U in uniq) and Z.free_symbols:
                uniq.append(Z)
        if spec.loss == "squared":
            Wm = W if W is not None else sp.eye(d)
            tg = spec.targets or tuple((Fraction(i + 1),) * Wm.rows for i in range(len(spec.sentences)))
            L = sp.Integer(0)
            for c, y in zip(contexts, tg):
                logits = Wm * sp.Matrix(c)
                L += sum((logits[r] - R(frac(y[r]))) ** 2 for r in range(Wm.rows)) / 2
            return uniq, [L]
        for c in contexts:
            if W is None:
                phi.extend(c)
            else:
                phi.extend(list(W * sp.Matrix(c)))
        # drop duplicate / constant features (identical sentences)
        out = []
        for f in phi:
            if f.free_symbols and not any(sp.simplify(f - g) == 0 for g in out):
                out.append(f)
        return uniq, out

    notes = []
    if spec.loss == "squared":
        notes.append("fixed loss: the flow is ONE field; laws are first integrals of that ODE")
    return FlowProblem.make(spec.name, params, rates, scores, build, single_field=spec.loss == "squared",
                            groups=groups, notes=notes)


def _default_W(d):
    """A fixed 2 x d classifier (1 x d when d = 1)."""
    rows = [[Fraction(1 + (i + j) % 3) for j in range(d)] for i in range(min(2, d))]
    if d >= 2:
        rows[1][0] = Fraction(-1)
    return rows


# ---- the named models --------------------------------------------------------

def _m_words(m, prefix="n"):
    return tuple(f"{prefix}{j}" for j in range(1, m + 1))


def named_model(name: str, d: int = 2, m: int = 2, rate_v=1, rate_k=1, rate_q=1) -> ModelSpec:
    """The named models (see :data:`NAMED`)."""
    rates = (("v", frac(rate_v)), ("k", frac(rate_k)), ("q", frac(rate_q)))
    nt = _m_words(m)
    base = dict(d=d, sentences=(("t",) + nt,), frozen=nt, train=("v", "k"), rates=rates)
    if name == "paper-reduced":
        return ModelSpec(name=name, **base)
    if name == "query-trained":
        return ModelSpec(name=name, **{**base, "train": ("v", "k", "q")})
    if name == "unequal-lengths":
        nt2 = _m_words(m + 1)
        return ModelSpec(name=name, **{**base, "sentences": (("t",) + nt, ("t",) + nt2), "frozen": nt2})
    if name == "moving-words":
        # topic t, three non-topic words that train; vocabulary {t, a, b, c}
        return ModelSpec(name=name, d=d, sentences=(("t", "a", "b"), ("t", "b", "c"), ("t", "a", "c")),
                         frozen=(), train=("v", "k"), rates=rates)
    if name == "key-projection":
        return ModelSpec(name=name, **{**base, "keys": "projection"})
    if name == "linear-classifier":
        return ModelSpec(name=name, **{**base, "classifier": "linear"})
    if name == "fixed-loss":
        return ModelSpec(name=name, **{**base, "classifier": "linear", "loss": "squared"})
    raise UsageError(f"model: unknown named model {name!r} (expected one of {', '.join(NAMED)})")


