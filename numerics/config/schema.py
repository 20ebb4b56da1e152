"""Run configuration: what to train on, which model, how to train it.

A :class:`RunConfig` holds three frozen, validated parts — :class:`CorpusSpec`
(``[corpus]``), :class:`ModelConfig` (``[model]``) and :class:`TrainConfig`
(``[train]``).  Every field is checked once, in ``__post_init__``; a bad value is
a :class:`~attndyn.proofs.errors.UsageError` naming the field (``train.lr``) and what was
expected.  Configs come from a TOML file (:func:`load_toml`), a preset
(:mod:`attndyn.numerics.config.presets`) and ``--set key=value`` overrides with dotted keys
(:func:`apply_overrides`); :meth:`RunConfig.to_dict` gives the full config back
(JSON-ready, and accepted again by :meth:`RunConfig.from_dict`).
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, fields, replace
import math
from numbers import Integral, Real
from pathlib import Path

from attndyn.numerics.data.corpus import SyntheticConfig
from attndyn.numerics.model.spec import is_linear, KINDS, trains_classifier
from attndyn.proofs.errors import UsageError

CLASSIFIERS = KINDS
PARAMETER_GROUPS = ("embeddings", "keys", "query", "classifier")
DTYPES = ("float64", "float32")
CORPUS_KINDS = ("synthetic", "sst2", "sst5")
# the update rules of numerics/training/optimizers.py (PyTorch's SGD and Adam semantics)
OPTIMIZERS = ("gd", "sgd", "momentum", "nesterov", "adam")
SECTIONS = ("corpus", "model", "train")
# the kernel of a linear classifier's step (numerics/model/attention.py): auto = the K-wide low-rank
# kernels (numerics/kernels/lowrank.py) when K < d_e, or the fused one (numerics/kernels/fused.py) where
# it applies (GD step, shared exponentials, K <= 7); fused / lowrank / full force one (last bits differ)
KERNEL_PATHS = ("auto", "fused", "lowrank", "full")


# --------------------------------------------------------------------------- field checks

def _int(name: str, value, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, Integral) or value < minimum:
        raise UsageError(f"{name}: expected an integer >= {minimum}, got {value!r}")
    return int(value)


def _float(name: str, value, *, positive: bool = False, nonneg: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, Real) or not math.isfinite(value):
        raise UsageError(f"{name}: expected a finite number, got {value!r}")
    if positive and value <= 0:
        raise UsageError(f"{name}: expected a number > 0, got {value!r}")
    if nonneg and value < 0:
        raise UsageError(f"{name}: expected a number >= 0, got {value!r}")
    return float(value)


def _choice(name: str, value, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise UsageError(f"{name}: expected one of {', '.join(choices)}, got {value!r}")
    return value


def _optional_str(name: str, value) -> str | None:
    if value is None:
        return None
    if isinstance(value, Path):
        return str(value)
    if not isinstance(value, str) or not value:
        raise UsageError(f"{name}: expected a path (a non-empty string), got {value!r}")
    return value


# --------------------------------------------------------------------------- parts

@dataclass(frozen=True)
class CorpusSpec:
    """Which corpus: ``synthetic`` (the paper's generator, :class:`SyntheticConfig`)
    or the Stanford Sentiment Treebank, ``sst2``/``sst5`` (``sst_dir`` overrides
    the default ``../shared/data/sst``).  ``pad_to`` (any kind): every sentence padded to that
    many tokens with one trainable ``$PAD$`` word, no mask (the authors' SST code: 52;
    :mod:`attndyn.numerics.data.padding`)."""

    kind: str = "synthetic"
    synthetic: SyntheticConfig | None = None
    sst_dir: str | None = None
    pad_to: int | None = None  # pad every sentence to this many tokens with one trainable $PAD$ word

    def __post_init__(self) -> None:
        _choice("corpus.kind", self.kind, CORPUS_KINDS)
        if self.pad_to is not None:  # >= the longest sentence: checked when the corpus is read
            object.__setattr__(self, "pad_to", _int("corpus.pad_to", self.pad_to, 1))
        object.__setattr__(self, "sst_dir", _optional_str("corpus.sst_dir", self.sst_dir))
        if self.kind == "synthetic":
            if self.sst_dir is not None:
                raise UsageError("corpus.sst_dir: only for corpus.kind sst2/sst5, not synthetic")
            if self.synthetic is None:
                object.__setattr__(self, "synthetic", SyntheticConfig())
            elif not isinstance(self.synthetic, SyntheticConfig):
                raise UsageError(f"corpus.synthetic: expected a SyntheticConfig, got {self.synthetic!r}")
        elif self.synthetic is not None:
            raise UsageError(f"corpus: the synthetic generator's fields do not apply to corpus.kind "
                             f"{self.kind!r}")

    def to_dict(self) -> dict:
        pad = {} if self.pad_to is None else {"pad_to": self.pad_to}
        if self.kind == "synthetic":
            return {"kind": "synthetic", **asdict(self.synthetic), **pad}
        return {"kind": self.kind, "sst_dir": self.sst_dir, **pad}

    @classmethod
    def from_dict(cls, values: Mapping) -> "CorpusSpec":
        values = dict(values)
        kind = values.pop("kind", "synthetic")
        pad_to = values.pop("pad_to", None)
        if pad_to is not None:
            return replace(cls.from_dict({"kind": kind, **values}), pad_to=pad_to)
        _choice("corpus.kind", kind, CORPUS_KINDS)
        if kind == "synthetic":
            if values.get("sst_dir", None) is not None:
                raise UsageError("corpus.sst_dir: only for corpus.kind sst2/sst5, not synthetic")
            values.pop("sst_dir", None)
            unknown = sorted(set(values) - _SYNTHETIC_FIELDS)
            if unknown:
                raise UsageError(f"corpus: unknown key(s) {', '.join(unknown)} for kind 'synthetic'; "
                                 f"valid: kind, {', '.join(sorted(_SYNTHETIC_FIELDS))}")
            if isinstance(values.get("split"), list):
                values["split"] = tuple(values["split"])
            if isinstance(values.get("topic_probs"), list):
                values["topic_probs"] = tuple(values["topic_probs"])
            return cls("synthetic", _synthetic(values))
        unknown = sorted(set(values) - {"sst_dir"})
        if unknown:
            raise UsageError(f"corpus: unknown key(s) {', '.join(unknown)} for kind {kind!r}; "
                             f"valid: kind, sst_dir")
        return cls(kind, None, values.get("sst_dir"))


_SYNTHETIC_FIELDS = frozenset(f.name for f in fields(SyntheticConfig))


def _synthetic(values: dict) -> SyntheticConfig:
    try:
        return SyntheticConfig.from_mapping(values)
    except UsageError as exc:  # say where the field lives in a run config
        raise UsageError(f"corpus: {exc}") from None
    except TypeError as exc:
        raise UsageError(f"corpus: {exc}") from None


@dataclass(frozen=True)
class ModelConfig:
    """The attention model: embedding and key dimensions, classifier, initialisation.

    Initialisation as in the paper's experiments: keys :math:`N(0, \\sigma_k^2)` with
    :math:`\\sigma_k` = ``key_init_std`` (0: keys start at 0), embeddings with
    ``emb_init_std`` (1e-6; 0.1 in the ablation), the query with ``query_std`` (0.3).
    ``classifier_matrix``: a ``.npy`` file of shape (d_e, K) for ``fc``/``tc``
    instead of the paper's random matrix with unit diagonal.
    ``classifier_init`` (fc/tc): ``paper`` (that matrix) or ``torch`` (PyTorch ``nn.Linear``'s
    default, uniform in ±1/√d_e: the authors' TC); ``classifier_bias`` (fc/tc): logits
    :math:`W^\top c + b` with a bias b (K) that trains with W (``nn.Linear`` has one).
    """

    classifier: str = "fc"
    d_e: int = 10
    d_k: int = 10
    emb_init_std: float = 1e-6
    key_init_std: float = 0.0
    query_std: float = 0.3
    classifier_matrix: str | None = None
    classifier_init: str = "paper"
    classifier_bias: bool = False

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        _choice("model.classifier", self.classifier, CLASSIFIERS)
        put("d_e", _int("model.d_e", self.d_e, 1))
        put("d_k", _int("model.d_k", self.d_k, 1))
        put("emb_init_std", _float("model.emb_init_std", self.emb_init_std, nonneg=True))
        put("key_init_std", _float("model.key_init_std", self.key_init_std, nonneg=True))
        put("query_std", _float("model.query_std", self.query_std, nonneg=True))
        put("classifier_matrix", _optional_str("model.classifier_matrix", self.classifier_matrix))
        if self.classifier_matrix is not None and not is_linear(self.classifier):
            raise UsageError("model.classifier_matrix: only the linear classifiers (fc, tc) take a matrix")
        _choice("model.classifier_init", self.classifier_init, ("paper", "torch"))
        if not isinstance(self.classifier_bias, bool):
            raise UsageError(f"model.classifier_bias: expected true or false, got {self.classifier_bias!r}")
        if not is_linear(self.classifier) and (self.classifier_init != "paper" or self.classifier_bias):
            raise UsageError("model.classifier_init / model.classifier_bias: only for the linear "
                             "classifiers (fc, tc); tl has its own biases")


def default_trainable(classifier: str) -> frozenset[str]:
    """The paper's choice: embeddings and keys; the classifier too when it is trainable (tc, tl)."""
    base = {"embeddings", "keys"}
    return frozenset(base | {"classifier"} if trains_classifier(classifier) else base)


def _trainable(value) -> frozenset[str] | None:
    if value is None:
        return None
    if isinstance(value, str):  # --set train.trainable=embeddings,keys
        value = [v.strip() for v in value.split(",") if v.strip()]
    if not isinstance(value, Iterable):
        raise UsageError(f"train.trainable: expected a list drawn from {', '.join(PARAMETER_GROUPS)}, "
                         f"got {value!r}")
    items = list(value)
    bad = [v for v in items if v not in PARAMETER_GROUPS]
    if bad:
        raise UsageError(f"train.trainable: unknown parameter group(s) {bad}; "
                         f"expected some of {', '.join(PARAMETER_GROUPS)}")
    return frozenset(items)


@dataclass(frozen=True)
class TrainConfig:
    r"""Gradient descent on the mean cross-entropy.

    ``batch_size`` None: full batch (the paper); otherwise shuffled mini-batches
    each epoch.  ``trainable``: the parameter groups updated (None: the paper's
    choice for the classifier, :func:`default_trainable`; resolved by
    :class:`RunConfig`).  ``record_every``: epochs between trajectory records.
    ``threads``: numba threads (None: numba's default); results do not depend on it.

    ``optimizer`` (:data:`OPTIMIZERS`, numerics/training/optimizers.py): ``gd`` the plain step
    :math:`\theta \leftarrow \theta - \eta\nabla L` (full batch, or mini-batches when
    ``batch_size`` is set); ``sgd`` the same step on mini-batches (``batch_size`` required);
    ``momentum``/``nesterov`` PyTorch's ``SGD(momentum=μ, nesterov=...)`` with dampening 0,
    :math:`b \leftarrow \mu b + g`, step :math:`b` (or :math:`g + \mu b`); ``adam``
    PyTorch's ``Adam(betas=(β₁, β₂), eps=ε)`` with bias correction and ε outside the square
    root.  ``momentum`` is μ, ``betas`` (β₁, β₂), ``eps`` ε; each is recorded whatever the
    optimizer and used only by the one that names it.
    ``early_stopping_patience`` (epochs, None: off): every ``record_every`` epochs the dev loss is
    evaluated; training stops once this many epochs pass without a new minimum and, with
    ``restore_best``, the best-dev parameters are restored (the authors' SST rule, patience 2000;
    :mod:`attndyn.numerics.training.monitor`).  ``word_record_every`` (0: off): every word's score
    and norm are recorded every this many epochs (the SST figures).
    ``kernel`` (:data:`KERNEL_PATHS`): which numba kernel steps a linear classifier — ``auto`` the
    low-rank one (K floats per word occurrence instead of d_e) when K < d_e, or the fused K-wide
    step where it applies (numerics/kernels/fused.py), ``fused``, ``lowrank`` or ``full``
    forced (``fused`` where it does not apply steps with ``lowrank``); they agree to rounding, and each is bitwise reproducible for any thread count.
    """

    lr: float = 0.1
    epochs: int = 5000
    batch_size: int | None = None
    trainable: frozenset[str] | None = None
    dtype: str = "float64"
    seed: int = 0
    record_every: int = 1
    threads: int | None = None
    optimizer: str = "gd"
    momentum: float = 0.9
    betas: tuple[float, float] = (0.9, 0.999)
    eps: float = 1e-8
    early_stopping_patience: int | None = None
    restore_best: bool = True
    word_record_every: int = 0
    kernel: str = "auto"

    def __post_init__(self) -> None:
        put = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        put("lr", _float("train.lr", self.lr, positive=True))
        put("epochs", _int("train.epochs", self.epochs, 0))
        if self.batch_size is not None:
            put("batch_size", _int("train.batch_size", self.batch_size, 1))
        put("trainable", _trainable(self.trainable))
        _choice("train.dtype", self.dtype, DTYPES)
        put("seed", _int("train.seed", self.seed, 0))
        put("record_every", _int("train.record_every", self.record_every, 1))
        if self.threads is not None:
            put("threads", _int("train.threads", self.threads, 1))
        _choice("train.optimizer", self.optimizer, OPTIMIZERS)
        put("momentum", _float("train.momentum", self.momentum, nonneg=True))
        put("betas", _betas(self.betas))
        put("eps", _float("train.eps", self.eps, nonneg=True))
        if self.optimizer == "nesterov" and self.momentum == 0:
            raise UsageError("train.momentum: optimizer 'nesterov' needs a momentum > 0, got 0")
        if self.optimizer == "sgd" and self.batch_size is None:
            raise UsageError("train.batch_size: optimizer 'sgd' steps on mini-batches; set a batch size "
                             "(or use optimizer 'gd' for the full batch)")
        if self.early_stopping_patience is not None:
            put("early_stopping_patience", _int("train.early_stopping_patience",
                                                self.early_stopping_patience, 1))
        if not isinstance(self.restore_best, bool):
            raise UsageError(f"train.restore_best: expected true or false, got {self.restore_best!r}")
        put("word_record_every", _int("train.word_record_every", self.word_record_every, 0))
        _choice("train.kernel", self.kernel, KERNEL_PATHS)


def _betas(value) -> tuple[float, float]:
    """``train.betas``: two numbers in [0, 1) (Adam's β₁, β₂)."""
    if isinstance(value, str):  # --set train.betas=0.9,0.999
        value = [v.strip() for v in value.split(",")]
        try:
            value = [float(v) for v in value]
        except ValueError:
            raise UsageError(f"train.betas: expected two numbers in [0, 1), got {value!r}") from None
    if isinstance(value, (str, bytes)) or not isinstance(value, Iterable):
        raise UsageError(f"train.betas: expected two numbers in [0, 1), got {value!r}")
    items = list(value)
    if len(items) != 2:
        raise UsageError(f"train.betas: expected two numbers in [0, 1), got {value!r}")
    out = []
    for b in items:
        if isinstance(b, bool) or not isinstance(b, Real) or not math.isfinite(b) or not 0 <= b < 1:
            raise UsageError(f"train.betas: expected two numbers in [0, 1), got {value!r}")
        out.append(float(b))
    return (out[0], out[1])


@dataclass(frozen=True)
class RunConfig:
    """A whole run; ``train.trainable`` is resolved here against ``model.classifier``."""

    corpus: CorpusSpec = field(default_factory=CorpusSpec)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        for name, cls in (("corpus", CorpusSpec), ("model", ModelConfig), ("train", TrainConfig)):
            if not isinstance(getattr(self, name), cls):
                raise UsageError(f"{name}: expected a {cls.__name__}, got {getattr(self, name)!r}")
        if self.train.trainable is None:
            object.__setattr__(self, "train", replace(self.train,
                                                      trainable=default_trainable(self.model.classifier)))
        if self.model.classifier == "fc" and "classifier" in self.train.trainable:
            raise UsageError("train.trainable: 'classifier' cannot be trained with model.classifier 'fc' "
                             "(the fixed classifier); use 'tc' for a trainable linear classifier")

    @property
    def query_trainable(self) -> bool:
        return "query" in self.train.trainable

    def to_dict(self) -> dict:
        model = asdict(self.model)
        train = asdict(self.train)
        train["trainable"] = sorted(self.train.trainable, key=PARAMETER_GROUPS.index)
        return {"corpus": self.corpus.to_dict(), "model": model, "train": train}

    @classmethod
    def from_dict(cls, data: Mapping) -> "RunConfig":
        """From ``{"corpus": {...}, "model": {...}, "train": {...}}`` (a TOML document,
        a preset's :meth:`to_dict`, a summary.json's ``config``); missing keys keep defaults."""
        if not isinstance(data, Mapping):
            raise UsageError(f"config: expected a table with sections {', '.join(SECTIONS)}")
        unknown = sorted(set(data) - set(SECTIONS))
        if unknown:
            raise UsageError(f"config: unknown section(s) {', '.join(unknown)}; valid: {', '.join(SECTIONS)}")
        for sec in SECTIONS:
            if sec in data and not isinstance(data[sec], Mapping):
                raise UsageError(f"[{sec}]: expected a table of keys, got {data[sec]!r}")
        corpus = CorpusSpec.from_dict(data.get("corpus", {}))
        model = _build(ModelConfig, "model", data.get("model", {}))
        train = _build(TrainConfig, "train", data.get("train", {}))
        return cls(corpus, model, train)


def _build(cls, section: str, values: Mapping):
    known = [f.name for f in fields(cls)]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise UsageError(f"{section}: unknown key(s) {', '.join(f'{section}.{k}' for k in unknown)}; "
                         f"valid: {', '.join(f'{section}.{k}' for k in known)}")
    return cls(**dict(values))
