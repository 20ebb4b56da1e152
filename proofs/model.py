r"""The one model definition: the attention classifier of Lu, Mao & Nayak (2021).

A sentence is a bag of words: one topic word :math:`t` plus :math:`m` non-topic
words :math:`j = 1..m`.  Every word :math:`w` has an embedding :math:`v_w` and a
key :math:`k_w`; a shared query :math:`q` gives the score and the attention weight

.. math::  s_w = q\cdot k_w, \qquad a_w = e^{s_w} / \textstyle\sum_u e^{s_u},

the context vector is :math:`c = \sum_w a_w v_w`, a classifier maps it to logits
:math:`f(c)` and the loss is the cross-entropy
:math:`\ell = -\log\operatorname{softmax}(f(c))_y`.

Two symbolic views of the *same* model live here:

* :class:`SentenceSymbols` — a symbolic dimension ``d`` (SymPy ``MatrixSymbol``),
  used by the proofs so that nothing depends on a concrete dimension.  The m
  non-topic words enter only through the aggregates
  :math:`Z_0=\sum_j e^{s_j}` and :math:`N=\sum_j e^{s_j} v_j`, which do not
  depend on the topic word's parameters; ``g`` stands for the classifier's loss
  gradient at the context vector, :math:`g = \nabla_c \ell(c)` (an arbitrary
  classifier: ``g`` is a free symbol).
* :func:`explicit_sentence` — explicit components for a concrete ``d`` and ``m``,
  used to confirm the symbolic-dimension results and (via lambdify) to
  cross-check the numeric kernels of ``numerics/``.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import sympy as sp
from sympy import MatrixSymbol


@dataclass(frozen=True)
class SentenceSymbols:
    """One sentence with a symbolic dimension ``d`` and ``m`` non-topic words.

    Attributes are SymPy objects: column ``MatrixSymbol``\\ s of shape (d, 1) for
    vectors, scalar symbols otherwise.
    """

    d: sp.Symbol
    m: sp.Symbol
    q: sp.MatrixSymbol
    k: sp.MatrixSymbol  # topic word's key
    v: sp.MatrixSymbol  # topic word's embedding
    g: sp.MatrixSymbol  # nabla_c loss at the context vector (arbitrary classifier)
    N: sp.MatrixSymbol  # sum_j exp(s_j) v_j over the non-topic words
    Z0: sp.Symbol  # sum_j exp(s_j) over the non-topic words
    s: sp.Symbol  # the topic word's score, s = q.k (a scalar symbol; ds/dk is derived from q.T*k)

    def score_expr(self) -> sp.MatrixExpr:
        """``q^T k`` as a 1x1 matrix expression: the score before it is named ``s``."""
        return self.q.T * self.k

    def partition(self) -> sp.Expr:
        return sp.exp(self.s) + self.Z0

    def weight(self) -> sp.Expr:
        """Topic attention weight a = e^s / (e^s + Z0)."""
        return sp.exp(self.s) / self.partition()

    def context(self) -> sp.MatrixExpr:
        """c = (e^s v + N) / (e^s + Z0)."""
        return (sp.exp(self.s) * self.v + self.N) / self.partition()


def sentence_symbols(name: str = "") -> SentenceSymbols:
    """Fresh symbols for :class:`SentenceSymbols` (``name`` suffixes them, e.g. per sentence)."""
    d = sp.Symbol("d", integer=True, positive=True)
    m = sp.Symbol("m", integer=True, positive=True)
    sub = f"_{{{name}}}" if name else ""
    return SentenceSymbols(
        d=d,
        m=m,
        q=sp.MatrixSymbol("q", d, 1),
        k=sp.MatrixSymbol("k_t", d, 1),
        v=sp.MatrixSymbol("v_t", d, 1),
        g=sp.MatrixSymbol("g" + sub, d, 1),
        N=sp.MatrixSymbol("N" + sub, d, 1),
        Z0=sp.Symbol("Z_0" + sub, positive=True),
        s=sp.Symbol("s_t", real=True),
    )


@dataclass(frozen=True)
class ExplicitSentence:
    """One sentence with explicit components: ``d`` dimensions, topic word + ``m`` others.

    Index 0 of ``keys``/``embeddings`` is the topic word.  ``loss(L)`` builds
    the sentence loss for a classifier loss ``L`` mapping the context vector
    (a d x 1 ``Matrix``) to a scalar.
    """

    d: int
    m: int
    q: sp.Matrix
    keys: tuple[sp.Matrix, ...]
    embeddings: tuple[sp.Matrix, ...]

    @property
    def scores(self) -> list[sp.Expr]:
        return [(self.q.T * k)[0, 0] for k in self.keys]

    @property
    def weights(self) -> list[sp.Expr]:
        e = [sp.exp(s) for s in self.scores]
        z = sp.Add(*e)
        return [x / z for x in e]

    @property
    def context(self) -> sp.Matrix:
        return sum((a * v for a, v in zip(self.weights, self.embeddings)), sp.zeros(self.d, 1))

    def loss(self, L: Callable[[sp.Matrix], sp.Expr]) -> sp.Expr:
        return L(self.context)

    def parameters(self) -> list[sp.Symbol]:
        """Every scalar parameter: q, then keys, then embeddings (topic word first)."""
        out = list(self.q)
        for k in self.keys:
            out += list(k)
        for v in self.embeddings:
            out += list(v)
        return out


def explicit_sentence(d: int, m: int) -> ExplicitSentence:
    """Explicit real symbols ``q_i``, ``k_{w,i}``, ``v_{w,i}`` (w = t, 1..m)."""
    if d < 1 or m < 0:
        raise ValueError(f"explicit_sentence needs d >= 1 and m >= 0, got d={d}, m={m}")
    names = ["t"] + [str(j) for j in range(1, m + 1)]
    q = sp.Matrix(d, 1, lambda i, _: sp.Symbol(f"q_{i + 1}", real=True))
    keys = tuple(
        sp.Matrix(d, 1, lambda i, _, w=w: sp.Symbol(f"k_{{{w},{i + 1}}}", real=True)) for w in names
    )
    embs = tuple(
        sp.Matrix(d, 1, lambda i, _, w=w: sp.Symbol(f"v_{{{w},{i + 1}}}", real=True)) for w in names
    )
    return ExplicitSentence(d, m, q, keys, embs)


def undefined_loss(d: int) -> tuple[Callable[[sp.Matrix], sp.Expr], sp.Function]:
    """An arbitrary classifier loss ``L(c_1, ..., c_d)`` (an undefined SymPy function)."""
    L = sp.Function("L")
    return (lambda c: L(*list(c))), L


def linear_cross_entropy(W: sp.Matrix, y: int, b: sp.Matrix | None = None) -> Callable[[sp.Matrix], sp.Expr]:
    """Cross-entropy of the linear classifier ``logits = W c (+ b)`` for label ``y``.

    ``W`` has shape (K, d).  This is the paper's fixed (FC) / trainable (TC) classifier.
    """
    K = W.shape[0]
    if not 0 <= y < K:
        raise ValueError(f"label y must be in [0, {K}), got {y}")

    def L(c: sp.Matrix) -> sp.Expr:
        z = W * c + (b if b is not None else sp.zeros(K, 1))
        return sp.log(sum(sp.exp(z[i]) for i in range(K))) - z[y]

    return L


# --------------------------------------------------------------------------- symbols

ETA_V = sp.Symbol("eta_v", positive=True)  # learning rate of the embeddings
ETA_K = sp.Symbol("eta_k", positive=True)  # learning rate of the keys
ETA_Q = sp.Symbol("eta_q", positive=True)  # learning rate of the query (S7a only)
STEP = sp.Symbol("eta", positive=True)  # one discrete step size (S6)
LR_RATIO = ETA_V / ETA_K

BASE = sentence_symbols()  # q, k_t, v_t, s_t, m, d: shared by every sentence
A_T = sp.Symbol("a_t", positive=True)  # display only: the topic attention weight
W_TEST = MatrixSymbol("w", BASE.d, 1)  # a free test vector: X = Y  <=>  w^T (X - Y) = 0
H_SYM = sp.Symbol("H")
# |q|^2 of BASE.q as one positive scalar, for results stated in |q|^2 alone (the asymptotics
# substitute it for scalarize's inner(q, q))
Q_SQ = sp.Symbol(r"|q|^{2}", positive=True)

# vectors assumed nonzero: a zero query makes every score 0 and nothing trains
NONZERO_VECTORS = ("q",)

