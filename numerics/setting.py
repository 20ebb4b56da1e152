r"""A *setting*: the run configuration the numeric claims are measured on (default: the paper's).

``attndyn verify CONFIG.toml`` builds a :class:`Setting` from the user's
:class:`~attndyn.numerics.config.schema.RunConfig` and hands it to every claim that has a
numeric side (N1 SEN flow, N2 discrete order, N3 SEN residual of a real training run, the
convergence checker C1 and their controls), instead of copying the claims.  The setting owns
what those claims share, computed once:

* ``convergence`` — the config's corpus and initial parameters reduced to the topic words
  (:func:`~attndyn.numerics.convergence.checker.setting_from_config`): :math:`|q|`,
  :math:`m` per length group, :math:`\pi_t`, :math:`v_{t,0}`, :math:`s_{t,0}`, the classifier;
  all groups share ``train.lr``, so the flow time is :math:`\tau = \eta\,n` (lr × epochs);
* ``run`` — the real training run of the config (numba kernels);
* ``reduced_gd`` — discrete GD on the reduced system with the config's step :math:`\eta` and
  :math:`n` epochs: the drift of :math:`|q||v_t|` from the SEN curve that the step size alone
  causes when every hypothesis of the identity holds, which sets N3's tolerance;
* :meth:`sen_hypotheses` — the hypotheses of the SEN identity, each with the number that shows
  whether it holds in this run.
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from functools import cached_property
from pathlib import Path

import numpy as np

from attndyn.numerics.config.load import load_config
from attndyn.numerics.config.presets import preset_config, preset_names
from attndyn.numerics.config.schema import RunConfig
from attndyn.numerics.convergence.checker import check_convergence, ConvergenceSetting, setting_from_config
from attndyn.numerics.flow.results import FlowResult
from attndyn.numerics.flow.solvers import reduced_gd
from attndyn.numerics.training.train import train, TrainResult
from attndyn.proofs.errors import UsageError
from attndyn.proofs.sen import sen_curve
from attndyn.proofs.settings import NUMERIC

PAPER = "paper-fc"
GD_MAX_SAVES = 2000  # saved states of the reduced GD run (the residual is a max over them)


@dataclass(frozen=True, eq=False)
class Setting:
    """The setting of the numeric claims: a validated run config and a name to print."""

    config: RunConfig
    name: str = "config"
    progress: bool = False  # show the training run's progress bar (``attndyn verify`` does)

    def __post_init__(self) -> None:
        if not isinstance(self.config, RunConfig):
            raise UsageError(f"setting: expected a RunConfig, got {type(self.config).__name__}")
        if self.config.corpus.kind != "synthetic":
            raise UsageError(f"setting {self.name}: corpus.kind {self.config.corpus.kind!r}: the numeric "
                             "claims need topic words with labels (corpus.kind = 'synthetic')")
        syn = self.config.corpus.synthetic
        if syn.topic_words_per_sentence != 1:
            raise UsageError(f"setting {self.name}: corpus.topic_words_per_sentence = "
                             f"{syn.topic_words_per_sentence}: the reduced system (and the SEN identity) "
                             "needs exactly one topic word per sentence")
        if self.config.train.epochs < 1:
            raise UsageError(f"setting {self.name}: train.epochs = 0 trains nothing to verify")

    # -- construction
    @classmethod
    def paper(cls) -> "Setting":
        return cls(preset_config(PAPER), PAPER)

    @classmethod
    def of(cls, obj=None, overrides=(), progress: bool = False) -> "Setting":
        """A setting from a Setting, a RunConfig, a preset name or a TOML path (None: the paper's)."""
        if isinstance(obj, Setting):
            return obj
        if obj is None:
            return cls(load_config(None, PAPER, list(overrides)), PAPER, progress)
        if isinstance(obj, RunConfig):
            if overrides:
                raise UsageError("setting: --set overrides need a config file or a preset, not a RunConfig")
            return cls(obj, "config", progress)
        if isinstance(obj, str) and obj in preset_names():
            return cls(load_config(None, obj, list(overrides)), obj, progress)
        if isinstance(obj, (str, Path)):
            return cls(load_config(obj, None, list(overrides)), str(obj), progress)
        raise UsageError(f"setting: expected a RunConfig, a preset name or a config path, got {obj!r}")

    def __repr__(self) -> str:
        c = self.config
        syn = c.corpus.synthetic
        return (f"Setting({self.name!r}: {c.model.classifier}, lr {c.train.lr:g} x {c.train.epochs} epochs "
                f"(tau = {self.horizon:g}), m = {syn.m}{f'±{syn.m_spread}' if syn.m_spread else ''}, "
                f"{syn.n_nontopic} non-topic words, trains {', '.join(sorted(c.train.trainable))})")

    # -- what the claims share
    @property
    def lr(self) -> float:
        return self.config.train.lr

    @property
    def epochs(self) -> int:
        return self.config.train.epochs

    @property
    def horizon(self) -> float:
        r"""Flow time of the whole run, :math:`\tau = \eta n`."""
        return self.lr * self.epochs

    @cached_property
    def convergence(self) -> ConvergenceSetting:
        return setting_from_config(self.config, name=self.name)

    @property
    def system(self):
        """The reduced topic-word system (:class:`~attndyn.numerics.flow.systems.ReducedSystem`)."""
        return self.convergence.system

    @cached_property
    def run(self) -> TrainResult:
        """The config's training run (its thread count: results are bitwise the same for any)."""
        return train(self.config, progress=self.progress)

    @cached_property
    def query_trained_run(self) -> TrainResult:
        """The same run with the query trained too (the SEN identity's control)."""
        t = self.config.train
        return train(replace(self.config, train=replace(t, trainable=t.trainable | {"query"})), progress=self.progress)

    @cached_property
    def reduced_gd(self) -> FlowResult:
        """Discrete GD with step ``train.lr`` for ``train.epochs`` steps on the reduced system with
        every hypothesis of the SEN identity made to hold (one length m_eff per topic word, keys
        and embeddings trained): what remains of the drift is the step size's alone."""
        S = self.system
        if S.m.ndim == 2:  # unequal lengths: their pi-weighted mean, one group
            S = S.replace(m=S.m_eff, pi=S.pi.sum(axis=1))
        S = S.replace(train_keys=True, train_embeddings=True)
        every = max(1, self.epochs // GD_MAX_SAVES)
        return reduced_gd(S, self.lr, self.epochs, save_every=every)

    def check_convergence(self, **kw):
        """The convergence checker on this setting (:func:`attndyn.check_convergence`)."""
        return check_convergence(self.convergence, **kw)

    def simulate(self, progress: bool = False) -> TrainResult:
        """Train this setting's config (:func:`attndyn.simulate`); the run is kept as the setting's
        :attr:`run` (results do not depend on the thread count), so N3 measures this run."""
        result = train(self.config, progress=progress)
        if result.status == "ok":
            self.__dict__.setdefault("run", result)
        return result

    # -- the SEN identity: tolerance and hypotheses
    def discrete_residual(self) -> float:
        r""":math:`\max_{k,t}\big||q||v_t^{(k)}| - \mathrm{curve}(s_t^{(k)})\big|` along the reduced GD
        run (frozen non-topic words, fixed query, the config's lengths): the step size's share."""
        r = self.reduced_gd
        return float(np.max(np.abs(flow_sen_residuals(r))))

    def sen_tolerance(self) -> dict:
        """N3's tolerance on this setting: the discrete-step drift measured on the reduced GD run
        (same step, same horizon) plus the stated allowance for the approximate hypotheses."""
        gd = self.discrete_residual()
        allowance = NUMERIC.sen_paper_max
        return {"tolerance": gd + allowance, "discrete_step_drift": gd, "allowance": allowance,
                "lr": self.lr, "epochs": self.epochs, "horizon": self.horizon,
                "derivation": (f"discrete-step drift {gd:.3g} (reduced GD, step {self.lr:g}, {self.epochs} steps, "
                               f"tau = {self.horizon:g}) + allowance {allowance:g} for non-topic words that "
                               "move a little")}

    def sen_hypotheses(self, run: TrainResult, allowance: float) -> list[dict]:
        """The SEN identity's hypotheses in ``run``, each ``{"name", "holds", "evidence", "remedy"}``."""
        tr, cfg = run.trajectory, run.config
        groups = cfg.train.trainable
        out = []
        q = np.asarray(tr["q_norm"], dtype=np.float64)
        q_fixed = "query" not in groups
        q_text = f"|q| went from {q[0]:.4g} to {q[-1]:.4g}" if q.size else "no record"
        out.append({"name": "query fixed", "holds": q_fixed,
                    "evidence": (f"query fixed ({q_text})" if q_fixed else
                                 f"query trained: {q_text}; the identity assumes a fixed query"),
                    "remedy": "leave 'query' out of train.trainable"})
        both = {"keys", "embeddings"} <= groups
        out.append({"name": "keys and embeddings trained", "holds": both,
                    "evidence": (f"train.trainable = {sorted(groups)}" + ("" if both else
                                 ": the identity needs both keys and embeddings trained")),
                    "remedy": "train both keys and embeddings"})
        m = np.unique(np.asarray(self.system.m, dtype=np.float64))
        out.append({"name": "equal sentence lengths", "holds": m.size == 1,
                    "evidence": (f"every sentence has m = {m[0]:g} non-topic words" if m.size == 1 else
                                 f"unequal lengths: the topic words' sentences have m = {m.min():g}..{m.max():g} "
                                 f"non-topic words ({m.size} lengths, corpus.m_spread = "
                                 f"{cfg.corpus.synthetic.m_spread}); the identity holds for one m"),
                    "remedy": "corpus.m_spread = 0"})
        moved = float(np.max(tr["nontopic_score_maxabs"])) if len(tr["epoch"]) else 0.0
        norm = float(np.max(tr["nontopic_norm_max"])) if len(tr["epoch"]) else 0.0
        limit = self.nontopic_score_limit(run, allowance)
        frozen = moved <= limit
        out.append({"name": "non-topic words frozen", "holds": frozen,
                    "evidence": (f"non-topic words moved: max |s_w| = {moved:.3g} (max |v_w| = {norm:.3g}) "
                                 f"{'<=' if frozen else '>'} {limit:.3g}, the score shift whose change of m alone "
                                 f"would move the curve by the allowance {allowance:g}"
                                 + ("" if frozen else "; the frozen-non-topic assumption does not hold")),
                    "measured": moved, "limit": limit,
                    "remedy": ("with more non-topic words (corpus.n_nontopic, now "
                               f"{cfg.corpus.synthetic.n_nontopic}) each moves less and it shrinks")})
        return out

    def nontopic_score_limit(self, run: TrainResult, allowance: float) -> float:
        r"""The largest non-topic score shift :math:`\delta` the allowance tolerates: scores
        :math:`|s_w|\le\delta` change the attention's :math:`m` by a factor up to
        :math:`e^{\pm\delta}`, which moves the SEN curve by about
        :math:`\delta\,|e^{s_t}-e^{s_{t,0}}|/(m_t\,\mathrm{curve}_t)` (its derivative in
        :math:`\log m`); the limit is the :math:`\delta` where that reaches the allowance."""
        tr = run.trajectory
        if len(tr["epoch"]) == 0:
            return float("inf")
        s = np.asarray(tr["topic_scores"][-1], dtype=np.float64)
        m = np.asarray(run.topic_m, dtype=np.float64)
        s0 = np.asarray(run.initial_scores, dtype=np.float64)
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            curve = np.asarray(sen_curve(s, m, s0=s0, qv0_sq=np.asarray(run.initial_qv) ** 2), dtype=np.float64)
            sens = np.abs(np.exp(s) - np.exp(s0)) / (m * curve)
        sens = sens[np.isfinite(sens)]
        top = float(np.max(sens)) if sens.size else 0.0
        return allowance / top if top > 0 else float("inf")

    def to_json(self) -> dict:
        from attndyn.numerics.provenance import provenance  # deferred: needs numba's version only when written

        return {"name": self.name, "horizon": self.horizon,
                **provenance(self.config, self.config.corpus.synthetic.n_topics)}


def setting(source=None, overrides=(), *, progress: bool = False) -> Setting:
    """The :class:`Setting` of a RunConfig, a preset name or a config path, with ``--set``-style
    ``overrides`` (``["train.lr=0.2"]``); None: the paper's (``paper-fc``).  ``attndyn.setting``."""
    return Setting.of(source, overrides, progress)


def flow_sen_residuals(r: FlowResult) -> np.ndarray:
    r"""Per sample and topic word, :math:`|q||v_t| - \mathrm{curve}(s_t)` along a reduced run
    (fixed :math:`|q|`, :math:`m` = :attr:`ReducedSystem.m_eff`); a score below the curve's
    domain is measured to the curve's end value 0, as in
    :meth:`~attndyn.numerics.training.train.TrainResult.sen_residuals`."""
    S = r.system
    scaled = S.q_norm * r.norms
    with np.errstate(over="ignore", invalid="ignore"):
        curve = np.asarray(sen_curve(r.s, S.m_eff[None, :], s0=S.s0[None, :],
                                     qv0_sq=(S.q_norm * np.linalg.norm(S.v0, axis=1)[None, :]) ** 2,
                                     lr_ratio=S.lr_ratio), dtype=np.float64)
    return np.where(np.isnan(curve), scaled, scaled - curve)
