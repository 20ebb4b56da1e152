r"""Violation metrics of the counterexample search: one point of :mod:`attndyn.numerics.search.space`
in, one number (how far the paper's claim fails there) out.

**Instances.**  A point with ``n_nontopic == "frozen"`` is the *reduced* model
(:class:`attndyn.numerics.flow.systems.ReducedSystem`: topic words only, non-topic words at score 0 and
embedding 0; ``m_spread > 0`` gives length groups :math:`m_i\in\{m-r..m+r\}` with equal
weights).  A finite ``n_nontopic`` is the *full* model (:class:`attndyn.numerics.flow.full.FullSystem`)
on a small synthetic corpus (:func:`attndyn.numerics.data.corpus.synthetic`, all sentences in the
training split).  A trained query in the reduced model (non-topic keys stay 0, so their
scores stay 0) is the flow

.. math::
   \dot v_t = -\eta_v\partial_{v_t}L,\quad \dot k_t = -\eta_k\,\partial_{s_t}L\; q,\quad
   \dot q = -\eta_k\textstyle\sum_t \partial_{s_t}L\; k_t,\quad s_t = q\cdot k_t

(:func:`query_vector_field`; :math:`\partial L/\partial s_t` from
:func:`attndyn.numerics.flow.systems.reduced_loss_and_grads`).  ``dynamics == "gd"`` replaces the flow by
:math:`x_{n+1} = x_n + \eta F(x_n)` with the same vector field (so :math:`\tau = n\eta`).

**SEN metric** (:func:`sen_metric`).  With :math:`\rho = \eta_v/\eta_k` and
:math:`H_c = |q|^2|v_t|^2 - 2\rho(s_t + c\,e^{s_t})` (:math:`c = 1/m`; the paper's
:math:`H`, :func:`attndyn.proofs.sen.sen_H`, at :math:`c = 1/m`),

.. math::
   \delta_t = \frac{\min_{c\in[1/m_{t,\max},\,1/m_{t,\min}]}\max_\tau |H_c(\tau) - H_c(0)|}
                   {\max_c \max(1, |H_c(0)|)},

:math:`m_{t,\min}..m_{t,\max}` the numbers of other words in the sentences containing
:math:`t`.  With equal lengths this is exactly the normalised drift
:math:`\max_\tau|H(\tau)-H(0)|/\max(1,|H(0)|)` of claim N1; with unequal lengths it is a
lower bound of that drift for *every* constant m in the range (the minimum over c is an LP),
so a violation says "no single m restores the identity".  The point's violation is
:math:`\max_t\delta_t`; above ``SEARCH.sen_threshold`` the point is a candidate.

**Convergence metric** (:func:`convergence_metric`): see its docstring.

**Confirmation** (:func:`confirm`): a flow is re-integrated with 1000x tighter tolerances
and the violation must persist (within ``SEARCH.confirm_stable``); discrete GD is re-run
with steps :math:`\eta/2`, :math:`\eta/4` and the violation extrapolated to :math:`\eta\to 0`
(drift caused by the step alone shrinks like :math:`\eta` and extrapolates to about 0).

Size: over 500 lines because each claim's violation metric and its higher-precision confirmation
must use exactly the same construction of the system, kept in one module.
"""
from __future__ import annotations

from dataclasses import dataclass
import math
import time

import numpy as np

import attndyn.numerics.flow.full as flf
import attndyn.numerics.flow.solvers as fls
import attndyn.numerics.flow.switching as flw
import attndyn.numerics.flow.systems as fl
from attndyn.numerics.convergence.checker import check_convergence, ConvergenceSetting
from attndyn.numerics.data.corpus import synthetic, SyntheticConfig
from attndyn.numerics.model.classifiers import init_classifier
from attndyn.numerics.search.space import classifier_matrix, FROZEN, instance_rng, SearchSpace
from attndyn.proofs.settings import SEARCH

# --------------------------------------------------------------------------- instances

def _query(point: dict) -> np.ndarray:
    """The query: a direction drawn from the seed, scaled to ``q_norm``."""
    q = instance_rng(point, "query").standard_normal(point["d_k"])
    return point["q_norm"] * q / np.linalg.norm(q)


def _theta0(point: dict) -> dict:
    W = classifier_matrix(point)
    if W is not None:
        return {"W": W}

    return init_classifier("tl", point["d_e"], point["K"], instance_rng(point, "classifier"))


def _rates(point: dict) -> dict:
    return {"lr_v": point["eta_v"], "lr_k": point["eta_k"],
            "lr_c": point["eta_c"] if point["eta_c"] is not None else 1.0,
            "train_embeddings": point["frozen"] != "embeddings", "train_keys": point["frozen"] != "keys"}


def reduced_system(point: dict) -> tuple[fl.ReducedSystem, np.ndarray, np.ndarray]:
    """The reduced system of a ``frozen`` point, with the query and the topic words' initial keys
    (needed when the query trains): ``(system, q, keys0)``."""
    K, Tw, d_e, d_k = point["K"], point["topic_words_per_topic"], point["d_e"], point["d_k"]
    T = K * Tw
    q = _query(point)
    v0 = point["emb_scale"] * instance_rng(point, "embeddings").standard_normal((T, d_e))
    k0 = point["key_scale"] * instance_rng(point, "keys").standard_normal((T, d_k))
    m, r = point["m"], point["m_spread"]
    if r:
        groups = np.arange(m - r, m + r + 1, dtype=np.float64)
        m_arr = np.broadcast_to(groups, (T, groups.size)).copy()
        pi = np.full(m_arr.shape, 1.0 / (T * groups.size))
    else:
        m_arr, pi = float(m), np.full(T, 1.0 / T)
    system = fl.ReducedSystem(q_norm=float(np.linalg.norm(q)), m=m_arr, y=np.arange(T) // Tw, pi=pi,
                              v0=v0, s0=k0 @ q, classifier=point["classifier"], theta0=_theta0(point),
                              **_rates(point))
    return system, q, k0


def corpus(point: dict):
    """The small synthetic corpus of a full-model point (every sentence in the training split)."""
    seed = int(instance_rng(point, "corpus").integers(2 ** 31))
    return synthetic(SyntheticConfig(
        n_topics=point["K"], topic_words_per_topic=point["topic_words_per_topic"],
        n_nontopic=point["n_nontopic"], m=point["m"], n_sentences=point["n_sentences"],
        split=(1.0, 0.0, 0.0), seed=seed, m_spread=point["m_spread"],
        topic_words_per_sentence=point["topic_words_per_sentence"]))


def full_system(point: dict) -> flf.FullSystem:
    """The full model of a finite-vocabulary point: every word's embedding and key (the
    scales of the point), the query, the classifier; the query's rate is eta_k."""
    c = corpus(point)
    V = c.vocab_size
    q = _query(point)
    E0 = point["emb_scale"] * instance_rng(point, "embeddings").standard_normal((V, point["d_e"]))
    K0 = point["key_scale"] * instance_rng(point, "keys").standard_normal((V, point["d_k"]))
    return flf.FullSystem(c, q, E0, K0, point["classifier"], _theta0(point), lr_q=point["eta_k"],
                         train_query=bool(point["train_query"]), **_rates(point))


def query_vector_field(system: fl.ReducedSystem, q0: np.ndarray, keys0: np.ndarray):
    r"""The reduced flow with a trained query (see the module docstring), as ``(F, x0, views)``:
    state ``[v (T d_e), k (T d_k), q (d_k), theta]``; ``views(x) -> (v, s, q, theta)``.

    The gradients come from :func:`attndyn.numerics.flow.systems.reduced_vector_field` of a copy of the system
    with |q| = 1 and every group trainable, so that its score block is exactly
    :math:`-\eta_k\,\partial L/\partial s_t`; the freezing of the point is applied here."""
    T, d_e, d_k = system.T, system.d_e, q0.size
    n_v, n_k = T * d_e, T * d_k
    field_sys = system.replace(q_norm=1.0, train_embeddings=True, train_keys=True)
    th0 = system.initial_state()[n_v + T:]

    def split(x):
        v = x[:n_v].reshape(T, d_e)
        k = x[n_v:n_v + n_k].reshape(T, d_k)
        q = x[n_v + n_k:n_v + n_k + d_k]
        return v, k, q, x[n_v + n_k + d_k:]

    def F(x):
        v, k, q, th = split(x)
        Fr = fl.reduced_vector_field(field_sys, np.concatenate([v.ravel(), k @ q, th]))
        fv = Fr[:n_v] if system.train_embeddings else np.zeros(n_v)
        ds = -Fr[n_v:n_v + T] / system.lr_k  # dL/ds_t
        fk = -system.lr_k * np.outer(ds, q) if system.train_keys else np.zeros_like(k)
        fq = -system.lr_k * (k.T @ ds)
        return np.concatenate([fv, fk.ravel(), fq, Fr[n_v + T:]])

    x0 = np.concatenate([system.v0.ravel(), keys0.ravel(), q0, th0])

    def views(x):
        v, k, q, th = split(x)
        s = k @ q
        _, _, theta = system.unpack(np.concatenate([v.ravel(), s, th]))
        return v, s, q, theta

    return F, x0, views


# --------------------------------------------------------------------------- runs

@dataclass
class Run:
    """A simulated trajectory in the one format the metrics read: topic embeddings ``v``
    (n, T, d_e), scores ``s`` (n, T), ``q_sq`` = |q(tau)|^2 (n,), per-word ranges of m,
    the loss per sample (n,), and how the run ended."""

    t: np.ndarray
    v: np.ndarray
    s: np.ndarray
    q_sq: np.ndarray
    m_lo: np.ndarray
    m_hi: np.ndarray
    occurs: np.ndarray  # topic words present in some training sentence
    loss: np.ndarray
    status: str
    message: str
    model: str
    steps: int


class _TimeUp(Exception):
    pass


def _deadline(seconds: float):
    """A progress callback that stops an integration after ``seconds`` of wall time."""
    end = time.monotonic() + seconds

    def progress(_t, _t_end):
        if time.monotonic() > end:
            raise _TimeUp
    return progress


def _gd(F, x0: np.ndarray, eta: float, t_save: np.ndarray) -> tuple[np.ndarray, np.ndarray, str, str, int]:
    """Discrete GD x <- x + eta F(x), states saved at the steps nearest to ``t_save``."""
    n = int(math.ceil(t_save[-1] / eta - 1e-9))
    if n > SEARCH.gd_max_steps:
        return t_save[:1], x0[None, :], "failed", (f"discrete GD needs {n} steps (horizon / step) "
                                                    f"> SEARCH.gd_max_steps = {SEARCH.gd_max_steps}"), 0
    save = np.unique(np.clip(np.rint(t_save / eta).astype(np.int64), 0, n))
    xs, ts = [], []
    x = np.array(x0, dtype=np.float64)
    j = 0
    if save[0] == 0:
        xs.append(x.copy())
        ts.append(0.0)
        j = 1
    end = time.monotonic() + SEARCH.eval_seconds
    for k in range(1, n + 1):
        with np.errstate(over="ignore", invalid="ignore"):
            x = x + eta * F(x)
        if not np.all(np.isfinite(x)):
            return np.array(ts), np.array(xs), "failed", f"GD state became non-finite at step {k}", k
        if j < save.size and save[j] == k:
            xs.append(x.copy())
            ts.append(k * eta)
            j += 1
        if k % 256 == 0 and time.monotonic() > end:
            return np.array(ts), np.array(xs), "failed", (f"time limit: GD step {k} of {n} after "
                                                          f"SEARCH.eval_seconds = {SEARCH.eval_seconds:g} s"), k
    return np.array(ts), np.array(xs), "ok", f"{n} GD steps of {eta:g}", n


def _flow(F, x0: np.ndarray, t_eval: np.ndarray, rtol: float, atol: float, **kw):
    """DOP853 with the search's step budget and wall-time limit; (t, X, status, message, steps)."""
    try:
        traj = fls.integrate(F, x0, t_eval, rtol=rtol, atol=atol, max_steps=SEARCH.max_steps,
                            progress=_deadline(SEARCH.eval_seconds), **kw)
    except _TimeUp:
        return t_eval[:1], x0[None, :], "failed", (f"time limit: the flow needed more than "
                                                   f"SEARCH.eval_seconds = {SEARCH.eval_seconds:g} s"), 0
    # a point whose run ran out of budget "failed" (PointStatus); the message says "budget exhausted"
    return traj.t, traj.X, "failed" if traj.status == "budget" else traj.status, traj.message, traj.n_steps


def simulate(point: dict, *, rtol: float | None = None, atol: float | None = None,
             gd_lr: float | None = None, horizon: float | None = None,
             n_save: int | None = None) -> Run:
    """Run the point's dynamics (flow with tolerances ``rtol``/``atol``, or GD with step
    ``gd_lr``; defaults: the screening tolerances and the point's own step) to its horizon."""
    rtol = SEARCH.screen_rtol if rtol is None else rtol
    atol = SEARCH.screen_atol if atol is None else atol
    horizon = point["horizon"] if horizon is None else horizon
    t_eval = fls.time_grid(horizon, n_save or SEARCH.n_save, "log")
    gd = point["dynamics"] == "gd"
    eta = (gd_lr or point["gd_lr"]) if gd else None

    def run(F, x0, **kw):
        return _gd(F, x0, eta, t_eval) if gd else _flow(F, x0, t_eval, rtol, atol, **kw)

    if point["n_nontopic"] == FROZEN:
        system, q0, k0 = reduced_system(point)
        T, d_e = system.T, system.d_e
        m_lo = np.min(system.m.reshape(T, -1), axis=1)
        m_hi = np.max(system.m.reshape(T, -1), axis=1)
        occurs = np.ones(T, dtype=bool)
        if point["train_query"]:
            F, x0, views = query_vector_field(system, q0, k0)
            t, X, status, message, steps = run(F, x0)
            parts = [views(x) for x in X]
            q_sq = np.array([float(p[2] @ p[2]) for p in parts])
            model = "reduced+query"
        else:
            x0 = system.initial_state()
            if system.classifier == "tl" and not gd:  # Filippov treatment of the ReLU kinks
                sw = flw.ReluSwitching(system, x0)
                t, X, status, message, steps = run(sw.field, x0, events=sw.events, on_event=sw.on_event)
            else:
                t, X, status, message, steps = run(lambda x: fl.reduced_vector_field(system, x), x0)
            parts = [system.unpack(x) for x in X]
            parts = [(p[0], p[1], None, p[2]) for p in parts]
            q_sq = np.full(len(t), system.q_norm ** 2)
            model = "reduced"
        v = np.array([p[0] for p in parts]).reshape(len(t), T, d_e)
        s = np.array([p[1] for p in parts]).reshape(len(t), T)
        with np.errstate(over="ignore", invalid="ignore"):
            loss = np.array([fl.reduced_loss_and_grads(system, p[0], p[1], p[3])[0] for p in parts])
        return Run(t, v, s, q_sq, m_lo, m_hi, occurs, loss, status, message, model, steps)
    system = full_system(point)
    t, X, status, message, steps = run(lambda x: flf.full_vector_field(system, x), system.initial_state())
    parts = [system.unpack(x) for x in X]
    tw = np.asarray(system.corpus.topic_words, dtype=np.int64)
    v = np.array([p[0][tw] for p in parts]).reshape(len(t), tw.size, system.d_e)
    s = np.array([p[1][tw] for p in parts]).reshape(len(t), tw.size)
    q_sq = np.array([float(p[3] @ p[3]) for p in parts])
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.array([flf.full_loss(system, x) for x in X])
    m_lo, m_hi, occurs = _word_lengths(system)
    return Run(t, v, s, q_sq, m_lo, m_hi, occurs, loss, status, message, "full", steps)


def _word_lengths(system: flf.FullSystem) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per topic word, the smallest and largest number of other words in its training sentences."""
    tw = np.asarray(system.corpus.topic_words, dtype=np.int64)
    lengths = np.diff(np.append(system.starts, len(system.ids)))
    m_lo, m_hi = np.ones(tw.size), np.ones(tw.size)
    occurs = np.zeros(tw.size, dtype=bool)
    for j, w in enumerate(tw):
        sents = np.unique(system.sent[system.ids == w])
        if sents.size:
            other = lengths[sents] - 1
            m_lo[j], m_hi[j], occurs[j] = max(other.min(), 1), max(other.max(), 1), True
    return m_lo, m_hi, occurs


# --------------------------------------------------------------------------- SEN

def _min_chebyshev(dA: np.ndarray, dB: np.ndarray, c_lo: float, c_hi: float) -> tuple[float, float]:
    r""":math:`\min_{c\in[c_lo,c_hi]}\max_k|dA_k - c\,dB_k|` (an LP in (c, z)) and the minimiser."""
    if c_hi - c_lo <= 1e-15 * max(1.0, c_hi):
        return float(np.max(np.abs(dA - c_lo * dB))), c_lo
    from scipy.optimize import linprog  # deferred: SciPy is slow to import

    n = dA.size
    A_ub = np.block([[-dB[:, None], -np.ones((n, 1))], [dB[:, None], -np.ones((n, 1))]])
    b_ub = np.r_[-dA, dA]
    res = linprog([0.0, 1.0], A_ub=A_ub, b_ub=b_ub, bounds=[(c_lo, c_hi), (0.0, None)], method="highs")
    if res.status != 0:  # fall back to the endpoints (an upper bound of the minimum)
        vals = [float(np.max(np.abs(dA - c * dB))) for c in (c_lo, c_hi)]
        return min(vals), (c_lo, c_hi)[int(np.argmin(vals))]
    c = float(res.x[0])
    return float(np.max(np.abs(dA - c * dB))), c


def sen_drift(run: Run, rho: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    r"""Per topic word :math:`\delta_t` (module docstring), the minimising :math:`m = 1/c`, and
    :math:`H(\tau) - H(0)` at that m (n, T) for the plots."""
    qv = run.q_sq[:, None] * np.sum(run.v ** 2, axis=-1)
    with np.errstate(over="ignore", invalid="ignore"):
        es = np.exp(run.s)
    dA = (qv - qv[0]) - 2 * rho * (run.s - run.s[0])
    dB = 2 * rho * (es - es[0])
    T = run.s.shape[1]
    delta, m_best, dH = np.zeros(T), np.zeros(T), np.zeros_like(run.s)
    for t in range(T):
        c_lo, c_hi = 1.0 / run.m_hi[t], 1.0 / run.m_lo[t]
        m_best[t] = run.m_lo[t]
        if not run.occurs[t]:
            continue
        if not (np.all(np.isfinite(dA[:, t])) and np.all(np.isfinite(dB[:, t]))):
            delta[t] = np.inf
            continue
        num, c = _min_chebyshev(dA[:, t], dB[:, t], c_lo, c_hi)
        H0 = [qv[0, t] - 2 * rho * (run.s[0, t] + cc * es[0, t]) for cc in (c_lo, c_hi)]
        delta[t] = num / max(1.0, *map(abs, H0))
        m_best[t] = 1.0 / c
        dH[:, t] = dA[:, t] - c * dB[:, t]
    return delta, m_best, dH


def _trace(t: np.ndarray, **series) -> dict:
    """At most ``SEARCH.trace_samples`` samples of each series (JSON lists) for a case's plot."""
    n = len(t)
    idx = np.unique(np.linspace(0, n - 1, min(n, SEARCH.trace_samples)).round().astype(int)) if n else []
    out = {"t": [float(t[i]) for i in idx]}
    for name, a in series.items():
        a = np.asarray(a, dtype=np.float64)
        out[name] = [[_num(x) for x in np.atleast_1d(a[i])] for i in idx]
    return out


def _num(x) -> float | None:
    x = float(x)
    return x if math.isfinite(x) else None


def sen_metric(point: dict, **precision) -> dict:
    """The SEN violation of ``point`` (module docstring): ``violation`` = max over topic words of
    the normalised drift, with the run's status, the per-word values and a trace of
    H(tau) - H(0) and s(tau) for plots.  ``precision``: ``rtol``/``atol`` (flow) or ``gd_lr``."""
    run = simulate(point, **precision)
    out = {"model": run.model, "dynamics": point["dynamics"], "status": run.status, "message": run.message,
           "steps": int(run.steps), "precision": {k: v for k, v in precision.items() if v is not None}}
    if run.status != "ok":
        out.update(violation=None, per_word=[])
        return out
    rho = point["eta_v"] / point["eta_k"]
    delta, m_best, dH = sen_drift(run, rho)
    out.update(violation=_num(np.max(delta)) if delta.size else 0.0,
               per_word=[{"word": t, "drift": _num(delta[t]), "m": float(m_best[t]),
                          "m_range": [float(run.m_lo[t]), float(run.m_hi[t])]} for t in range(delta.size)],
               lr_ratio=rho,
               trace=_trace(run.t, dH=dH, s=run.s))
    if out["violation"] is None:  # an infinite drift (exp overflow): a violation, not a number
        out["violation"] = float("inf")
    return out


# --------------------------------------------------------------------------- convergence

# modelling assumptions the checker cannot represent at all (it decides the reduced flow):
# for them every word is undecided without running anything
_NOT_REDUCED = {"M-frozen": "a finite non-topic vocabulary (the full model) is not the reduced flow the "
                            "checker decides", "M-one-topic": "several topic words per sentence",
                "M-flow": "discrete gradient descent, not the gradient flow the theorem is about"}


def convergence_metric(point: dict, *, n_save: int | None = None, horizon: float | None = None,
                       **_ignored) -> dict:
    r"""The convergence claim at ``point``: the checker's verdict per topic word
    (:func:`attndyn.numerics.convergence.checker.check_convergence` on the point's reduced system, to the point's
    horizon).  Semantics:

    * a word ``not-converged`` is a **violation** of "every topic word converges": the checker
      proves a conclusion fails and names the failed hypothesis (H-ach: the loss stays above
      :math:`\inf_x\mathrm{CE}(W^\top x, y) > 0`; H-esc: the attention stays bounded away from 1;
      H-keys: the score is frozen; H-emb: a frozen embedding).  Its size is the gap left at
      the horizon: the word's loss when the loss conclusion fails, else :math:`1 - a_t`;
    * ``undecided`` because a modelling assumption fails (trained query, unequal lengths,
      trainable classifier, finite vocabulary, several topic words, discrete GD) is *outside
      the theorem*: counted, not a violation;
    * ``undecided`` with every hypothesis holding means the flow contradicts the theory's
      certificate: an **anomaly** (counted; the inside search expects none).
    """
    broken = SearchSpace("convergence").broken(point)
    words: list[dict] = []
    outside = [h for h in broken if h in _NOT_REDUCED]
    K, Tw = point["K"], point["topic_words_per_topic"]
    if outside:
        why = "; ".join(f"{h}: {_NOT_REDUCED[h]}" for h in outside)
        words = [{"word": t, "verdict": "undecided", "failed_hypotheses": outside, "reasons": [why]}
                 for t in range(K * Tw)]
        return {"status": "ok", "message": f"outside the checker's model: {why}", "violation": 0.0,
                "words": words, "not_converged": 0, "undecided": len(words), "anomalies": 0,
                "failed_hypotheses": []}
    system, _, _ = reduced_system(point)
    setting = ConvergenceSetting(system, name="search point", query_trained=bool(point["train_query"]))
    hz = float(point["horizon"] if horizon is None else horizon)
    rep = check_convergence(setting, horizon=hz, n_save=int(n_save or SEARCH.convergence_n_save))
    res = rep.result
    a_end = res.attention()[-1] if res is not None and len(res.t) else np.full(system.T, np.nan)
    loss_w = None
    if res is not None and len(res.t) and system.classifier == "fc":
        from attndyn.numerics.convergence.hypotheses import (word_loss)  # deferred: only this branch needs it

        loss_w = np.stack([word_loss(res, t) for t in range(system.T)], axis=1)
    gaps, failed, anomalies = [], set(), 0
    for w in rep.words:
        e = {"word": w.word, "label": w.label, "verdict": w.verdict, "failed_hypotheses": w.failed_hypotheses,
             "attention": w.attention.verdict, "loss": w.loss.verdict,
             "a_end": _num(a_end[w.word]), "reasons": list(w.reasons)}
        if loss_w is not None:
            e["loss_end"] = _num(loss_w[-1, w.word])
            floor = w.evidence.get("loss", {}).get("floor")
            if floor is not None:
                e["loss_floor"] = float(floor)
        if w.verdict == "not-converged":
            gap = e.get("loss_end") if w.loss.verdict == "not-converged" and e.get("loss_end") is not None \
                else 1.0 - (e["a_end"] if e["a_end"] is not None else 0.0)
            e["gap"] = gap
            gaps.append(gap)
            failed.update(w.failed_hypotheses)
        elif w.verdict == "undecided" and not w.failed_hypotheses:
            anomalies += 1
        words.append(e)
    out = {"status": "failed" if rep.flow["status"] == "budget" else rep.flow["status"],  # PointStatus
           "message": rep.flow["message"], "solver": rep.flow["solver"],
           "violation": float(max(gaps)) if gaps else 0.0, "words": words,
           "not_converged": len(gaps), "undecided": sum(w.verdict == "undecided" for w in rep.words),
           "anomalies": anomalies, "failed_hypotheses": sorted(failed),
           "precision": {"horizon": hz, "n_save": int(n_save or SEARCH.convergence_n_save)}}
    if gaps:  # a not-converged verdict rests on a certificate, not on the flow having run
        out["status"] = "ok"
    if res is not None and len(res.t):
        series = {"s": res.s, "attention": res.attention()}
        if loss_w is not None:
            series["loss"] = loss_w
        out["trace"] = _trace(res.t, **series)
    return out


def confirm_convergence(point: dict, screen: dict) -> dict:
    """A not-converged verdict is confirmed when the checker repeats it — same words, same
    failed hypotheses — on a 10x longer horizon sampled twice as densely, and the flow stays
    consistent with the certificate (a word whose loss fails keeps its loss above the floor)."""
    n_save = 2 * SEARCH.convergence_n_save
    hz = SEARCH.convergence_confirm_horizon * float(point["horizon"])
    again = convergence_metric(point, n_save=n_save, horizon=hz)
    before = {w["word"]: (w["verdict"], tuple(w["failed_hypotheses"])) for w in screen.get("words", [])}
    after = {w["word"]: (w["verdict"], tuple(w["failed_hypotheses"])) for w in again.get("words", [])}
    bad = [w for w, v in before.items() if v[0] == "not-converged" and after.get(w) != v]
    floors = [w for w in again.get("words", []) if w["verdict"] == "not-converged" and "loss_floor" in w
              and w["loss"] == "not-converged" and w.get("loss_end") is not None
              and w["loss_end"] < w["loss_floor"] * (1 - 1e-6)]
    ok = bool(again["not_converged"] > 0 and not bad and not floors)
    msg = (f"{again['not_converged']} word(s) not converged again at tau = {hz:.3g} ({n_save} samples), failed "
           f"hypotheses {again['failed_hypotheses']}")
    if bad:
        msg += f"; verdict changed for word(s) {bad}"
    if floors:
        msg += f"; loss fell below the floor for word(s) {[w['word'] for w in floors]}"
    return {"confirmed": ok, "method": "horizon", "violation": again["violation"], "horizon": hz,
            "n_save": n_save, "failed_hypotheses": again["failed_hypotheses"], "words": again["words"],
            "trace": again.get("trace"), "message": msg}


# --------------------------------------------------------------------------- dispatch

METRICS = {"sen-identity": sen_metric, "convergence": convergence_metric}


def threshold(claim: str) -> float:
    """sen-identity: the normalised drift above which a point is a candidate; convergence: 0
    (any not-converged word, whose gap is positive, is a candidate)."""
    return SEARCH.sen_threshold if claim == "sen-identity" else 0.0


def violates(claim: str, result: dict, margin: float = 1.0) -> bool:
    """Is this evaluation a violation of the claim (a candidate before confirmation)?
    ``margin`` > 1 asks for a violation that many times above the threshold."""
    v = result.get("violation")
    return result.get("status") == "ok" and v is not None and v > margin * threshold(claim)


def evaluate(claim: str, point: dict, **precision) -> dict:
    return METRICS[claim](point, **precision)


def confirm(claim: str, point: dict, screen: dict) -> dict:
    """Re-evaluate a candidate at higher precision.  Returns ``confirmed`` (bool), the
    confirmed ``violation`` and the runs behind it (``method``: tolerance / step)."""
    if claim == "convergence":
        return confirm_convergence(point, screen)
    thr = threshold(claim)
    v1 = screen.get("violation")
    if point["dynamics"] == "gd":
        eta = point["gd_lr"]
        runs = [evaluate(claim, point, gd_lr=eta / f) for f in SEARCH.gd_refine]
        if any(r["status"] != "ok" for r in runs):
            bad = next(r for r in runs if r["status"] != "ok")
            return {"confirmed": False, "method": "step", "violation": None,
                    "message": f"refined GD run failed: {bad['message']}"}
        d = [v1] + [r["violation"] for r in runs]
        f = [1] + list(SEARCH.gd_refine)
        # fit d(eta) = D + c1 eta + c2 eta^2 through the three steps: D is the eta -> 0 limit
        etas = np.array([eta / k for k in f])
        coef = np.linalg.solve(np.vander(etas, 3, increasing=True), np.array(d, dtype=np.float64))
        D = float(coef[0])
        finest = float(d[-1])
        ok = bool(D > thr and D >= 0.5 * finest)
        return {"confirmed": ok, "method": "step", "violation": D if ok else max(D, 0.0),
                "steps": [float(e) for e in etas], "values": [float(x) for x in d],
                "extrapolated": D, "trace": runs[-1].get("trace"),
                "message": (f"persists as the step shrinks: d = {', '.join(f'{x:.3g}' for x in d)} at "
                            f"eta = {', '.join(f'{e:.3g}' for e in etas)}; extrapolated to eta -> 0: {D:.3g}")}
    tight = evaluate(claim, point, rtol=SEARCH.confirm_rtol, atol=SEARCH.confirm_atol)
    if tight["status"] != "ok":
        return {"confirmed": False, "method": "tolerance", "violation": None,
                "message": f"tight run failed: {tight['message']}"}
    v2 = tight["violation"]
    stable = math.isinf(v2) and math.isinf(v1) or abs(v2 - v1) <= SEARCH.confirm_stable * max(abs(v1), abs(v2))
    ok = bool(v2 > thr and stable)
    return {"confirmed": ok, "method": "tolerance", "violation": v2, "screen": v1,
            "rtol": SEARCH.confirm_rtol, "atol": SEARCH.confirm_atol, "trace": tight.get("trace"),
            "per_word": tight.get("per_word"),
            "message": (f"violation {v2:.4g} at rtol {SEARCH.confirm_rtol:g} vs {v1:.4g} at rtol "
                        f"{(screen.get('precision') or {}).get('rtol', SEARCH.screen_rtol):g}"
                        + ("" if stable else ": not stable under tightening (numerical drift)"))}
