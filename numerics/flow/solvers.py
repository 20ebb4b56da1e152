"""Solvers for the gradient flows: the one save-time grid (:func:`time_grid`), the integrator
(:func:`integrate`, DOP853 within a step budget; LSODA for stiff flows), discrete gradient descent
(:func:`reduced_gd`), and the drivers that run a system and return its result."""
from __future__ import annotations

from dataclasses import dataclass
import time
from typing import Callable

import numpy as np
from scipy.integrate import DOP853, LSODA
from scipy.optimize import brentq

from attndyn.numerics.flow.full import full_loss_and_grads, full_vector_field, FullSystem
from attndyn.numerics.flow.results import FlowResult, FullFlowResult
from attndyn.numerics.flow.switching import ReluSwitching
from attndyn.numerics.flow.systems import (learning_rate, positive_finite, reduced_loss,
                                           reduced_vector_field, ReducedSystem)
from attndyn.numerics.model.spec import TRAINABLE
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import FLOW, NUMERIC
from attndyn.proofs.status import FlowStatus

# --------------------------------------------------------------------------- solver

@dataclass(frozen=True)
class Trajectory:
    """Raw solver output: states ``X`` (n, state) at times ``t`` (n,), how it ended."""

    t: np.ndarray
    X: np.ndarray
    status: FlowStatus  # a plain string is accepted and converted
    message: str
    n_steps: int
    n_evals: int
    n_events: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "status", FlowStatus.coerce(self.status))


def time_grid(horizon: float, n: int = FLOW.n_save, spacing: str = "log",
              first: float | None = None, *, first_fraction: float | None = None,
              name: str = "horizon", min_n: int = 2) -> np.ndarray:
    """Save times on [0, horizon]: ``n`` points, log-spaced (0, then ``first`` .. horizon) or linear.
    The one time grid of the package (flows, the convergence checker, the search).

    Log spacing suits long horizons, where the flow slows down (scores grow like log τ).
    ``first`` defaults to ``horizon * first_fraction`` when that is given, else to
    ``horizon * FLOW.log_first_fraction`` capped at ``FLOW.log_first``.  ``name`` is how an
    error calls the horizon (``--horizon`` for a command-line option); ``min_n`` the fewest points.
    """
    horizon = positive_finite(horizon, name, "a finite time > 0")
    if int(n) != n or n < min_n:
        raise UsageError(f"n_save: expected an integer >= {min_n}, got {n!r}")
    n = int(n)
    if spacing == "linear":
        return np.linspace(0.0, horizon, n)
    if spacing != "log":
        raise UsageError(f"spacing: expected 'log' or 'linear', got {spacing!r}")
    if first is None:
        first = (horizon * first_fraction if first_fraction is not None
                 else min(FLOW.log_first, horizon * FLOW.log_first_fraction))
    if not 0 < first < horizon:
        raise UsageError(f"first: expected 0 < first < horizon = {horizon}, got {first!r}")
    return np.concatenate([[0.0], np.geomspace(first, horizon, n - 1)])


def _check_t_eval(t_eval) -> np.ndarray:
    t = np.asarray(t_eval, dtype=np.float64)
    if t.ndim != 1 or t.size < 1:
        raise UsageError(f"t_eval: expected a 1-D array of save times, got shape {t.shape}")
    if not np.all(np.isfinite(t)):
        raise UsageError("t_eval: contains NaN or Inf (give a finite horizon)")
    if t[0] < 0 or np.any(np.diff(t) < 0):
        raise UsageError("t_eval: expected non-decreasing times starting at >= 0")
    return t


def integrate(fun: Callable[[np.ndarray], np.ndarray], x0: np.ndarray, t_eval: np.ndarray, *,
              rtol: float = NUMERIC.flow_rtol, atol: float = NUMERIC.flow_atol,
              max_steps: int = FLOW.max_steps,
              progress: Callable[[float, float], None] | None = None,
              events: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]] | None = None,
              on_event: Callable[[int, float, np.ndarray], str | None] | None = None,
              max_events: int = FLOW.max_events, method: str = "DOP853",
              max_seconds: float | None = FLOW.max_seconds, budget_name: str | None = None) -> Trajectory:
    r"""Integrate the autonomous ODE :math:`\dot x = \mathrm{fun}(x)` from τ = 0 with DOP853
    (or ``method="LSODA"`` for stiff flows).

    The stepper is SciPy's DOP853 or LSODA (what ``solve_ivp(method=...)`` uses), driven
    step by step: states at ``t_eval`` come from its dense output as in ``solve_ivp``;
    the run stops with status ``failed`` when the step size collapses or the state stops
    being finite, and with status ``budget`` ("undecided: budget exhausted") when more than
    ``max_steps`` steps or more than ``max_seconds`` of wall time would be needed.  Trial
    steps that overflow are rejected by the step control (a NaN error norm shrinks the
    step) rather than aborting.  ``progress(tau, tau_end)`` is called after each step.
    ``budget_name`` is how a budget message names the wall-time budget (default: its seconds).

    Switching (a piecewise-smooth field, e.g. a ReLU changing side): ``events(x)`` returns
    event-function values ``g`` and directions (+1: fires when ``g`` rises through 0, -1:
    falls).  The earliest firing event is located on the dense output (Brent), the
    state is stopped there, ``on_event(index, tau, x)`` updates the caller's mode (it may
    return a failure message) and integration restarts from that point.
    """
    t_eval = _check_t_eval(t_eval)
    steppers = {"DOP853": DOP853, "LSODA": LSODA}
    if method not in steppers:
        raise UsageError(f"method: expected one of {tuple(steppers)}, got {method!r}")
    if events is not None and method != "DOP853":
        raise UsageError("events: only with method='DOP853'")
    wall_end = None if max_seconds is None else time.monotonic() + float(max_seconds)
    x0 = np.asarray(x0, dtype=np.float64)
    X = np.empty((len(t_eval), x0.size))
    n_evals = 0

    def f(_t, x):
        nonlocal n_evals
        n_evals += 1
        with np.errstate(over="ignore", invalid="ignore"):
            return fun(x)

    done = int(np.searchsorted(t_eval, 0.0, side="right"))
    X[:done] = x0
    steps = 0
    n_events = 0

    def result(status, message):
        return Trajectory(t_eval[:done].copy(), X[:done].copy(), status, message, steps, n_evals,
                          n_events)

    if not np.all(np.isfinite(x0)):
        return result("failed", "initial state is not finite")
    if not np.all(np.isfinite(f(0.0, x0))):
        return result("failed", "vector field is not finite at the initial state")
    t_end = float(t_eval[-1])
    if done == len(t_eval):
        return result("ok", "nothing to integrate (all save times are 0)")
    t, x = 0.0, x0
    while t < t_end:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):  # non-finite is checked below
            solver = steppers[method](f, t, x, t_end, rtol=rtol, atol=atol)
        g_old, dirs = events(x) if events is not None else (None, None)
        restart = False
        while solver.status == "running":
            if steps >= max_steps:
                return result(FlowStatus.BUDGET, f"undecided: budget exhausted: the step budget of "
                              f"{max_steps} {method} steps reached only tau = "
                              f"{solver.t:.6g} of {t_end:.6g} (a very stiff or non-smooth flow, e.g. a "
                              "learning rate too large, a ReLU pinned at its kink, or a horizon too "
                              "long for the budget)")
            if wall_end is not None and time.monotonic() > wall_end:
                return result(FlowStatus.BUDGET, f"undecided: budget exhausted: the wall-time budget "
                              f"{budget_name or f'of {max_seconds:g} s'} ran out at tau = {solver.t:.6g} of {t_end:.6g} after "
                              f"{steps} {method} steps (a very stiff flow, a classifier scaled far up, or "
                              "a horizon too long)")
            with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
                msg = solver.step()
            if solver.status == "failed":
                return result("failed", f"{method} failed at tau = {solver.t:.6g}: {msg}")
            steps += 1
            if not np.all(np.isfinite(solver.y)):
                return result("failed", f"state became non-finite at tau = {solver.t:.6g}")
            t_hi = solver.t
            if events is not None:
                g_new, _ = events(solver.y)
                fired = np.flatnonzero(np.where(dirs > 0, (g_old < 0) & (g_new >= 0),
                                                (g_old > 0) & (g_new <= 0)))
                if fired.size:
                    dense = solver.dense_output()
                    roots = [brentq(lambda tt, j=j: events(dense(tt))[0][j], solver.t_old, solver.t,
                                    xtol=4e-16 * max(1.0, abs(solver.t)), rtol=4 * np.finfo(float).eps)
                             if g_new[j] != 0 else solver.t for j in fired]
                    k = int(np.argmin(roots))
                    t_hi = roots[k]
                    x_hi = solver.y if t_hi == solver.t else dense(t_hi)
                    restart = True
                g_old = g_new
            j = int(np.searchsorted(t_eval, t_hi, side="right"))
            if j > done:
                if t_hi == solver.t and t_eval[j - 1] == t_hi and j - done == 1:
                    X[done] = solver.y
                else:
                    X[done:j] = solver.dense_output()(t_eval[done:j]).T
                done = j
            if progress is not None:
                progress(t_hi, t_end)
            if restart:
                n_events += 1
                if n_events > max_events:
                    return result("failed", f"event budget exhausted: {max_events} switches by tau = "
                                  f"{t_hi:.6g} (chattering between modes)")
                err = on_event(int(fired[k]), t_hi, x_hi)
                if err:
                    return result("failed", f"at tau = {t_hi:.6g}: {err}")
                t, x = t_hi, x_hi
                break
        if not restart:
            t = t_end
    return result("ok", f"reached tau = {t_end:.6g} in {steps} steps"
                  + (f" and {n_events} switches" if n_events else ""))


def _reduced_result(system: ReducedSystem, traj: Trajectory) -> FlowResult:
    n = len(traj.t)
    T, d = system.T, system.d_e
    X = traj.X
    v = X[:, :T * d].reshape(n, T, d).copy()
    s = X[:, T * d:T * d + T].copy()
    theta = {}
    i = T * d + T
    for k in TRAINABLE[system.classifier]:
        shape = system.theta0[k].shape
        size = system.theta0[k].size
        theta[k] = X[:, i:i + size].reshape((n,) + shape).copy()
        i += size
    with np.errstate(over="ignore", invalid="ignore"):
        loss = np.array([reduced_loss(system, x) for x in X])
    return FlowResult(system, traj.t, v, s, theta, loss, traj.status, traj.message,
                      traj.n_steps, traj.n_evals, traj.n_events)


def reduced_flow(system: ReducedSystem, t_eval=None, *, horizon: float | None = None,
                 n_save: int = FLOW.n_save, spacing: str = "log",
                 rtol: float = NUMERIC.flow_rtol, atol: float = NUMERIC.flow_atol,
                 max_steps: int = FLOW.max_steps,
                 progress: Callable[[float, float], None] | None = None,
                 relu_switching: bool = True, max_seconds: float | None = FLOW.max_seconds,
                 budget_name: str | None = None) -> FlowResult:
    """Integrate the reduced flow from ``system``'s initial state.

    Save times: ``t_eval`` if given, else :func:`time_grid` (``horizon``, ``n_save``,
    ``spacing`` — log-spaced by default, for long horizons like τ = 1e6).
    TL: the ReLU kinks are handled by :class:`ReluSwitching` (Filippov sliding modes);
    ``relu_switching=False`` integrates the raw piecewise field instead, which generically
    exhausts the step budget at the first sliding mode.
    Never raises on a numerical failure: see :attr:`FlowResult.status`.
    """
    if not isinstance(system, ReducedSystem):
        raise UsageError(f"system: expected a ReducedSystem, got {type(system).__name__}")
    if t_eval is None:
        if horizon is None:
            raise UsageError("reduced_flow: give t_eval or horizon")
        t_eval = time_grid(horizon, n_save, spacing)
    _check_solver_args(rtol, atol, max_steps)
    x0 = system.initial_state()
    if system.classifier == "tl" and relu_switching:
        sw = ReluSwitching(system, x0)
        traj = integrate(sw.field, x0, t_eval, rtol=rtol, atol=atol, max_steps=max_steps,
                         progress=progress, events=sw.events, on_event=sw.on_event, max_seconds=max_seconds,
                         budget_name=budget_name)
    else:
        traj = integrate(lambda x: reduced_vector_field(system, x), x0, t_eval,
                         rtol=rtol, atol=atol, max_steps=max_steps, progress=progress, max_seconds=max_seconds,
                         budget_name=budget_name)
    return _reduced_result(system, traj)


def stiff_reduced_flow(system: ReducedSystem, t_eval, *, rtol: float, atol: float,
                       max_steps: int = FLOW.max_steps, max_seconds: float | None = FLOW.max_seconds,
                       progress: Callable[[float, float], None] | None = None,
                       budget_name: str | None = None) -> FlowResult:
    """The reduced flow with SciPy's LSODA (switches to BDF when stiff) instead of DOP853, within
    the same step and wall-time budgets (status ``budget`` when one runs out).

    For flows whose loss stays bounded away from 0 (a label that is not achievable): the
    directions across the loss valley relax at a fixed rate while the flow itself slows down
    like 1/tau, which exhausts an explicit solver's step budget.  Never raises on a numerical
    failure: see :attr:`FlowResult.status`.
    """
    if not isinstance(system, ReducedSystem):
        raise UsageError(f"system: expected a ReducedSystem, got {type(system).__name__}")
    _check_solver_args(rtol, atol, max_steps)
    traj = integrate(lambda x: reduced_vector_field(system, x), system.initial_state(), t_eval,
                     rtol=rtol, atol=atol, max_steps=max_steps, progress=progress, method="LSODA",
                     max_seconds=max_seconds, budget_name=budget_name)
    if traj.status == FlowStatus.OK:
        traj = Trajectory(traj.t, traj.X, traj.status, f"LSODA reached tau = {traj.t[-1]:.6g} "
                          f"({traj.n_steps} steps, {traj.n_evals} evaluations)", traj.n_steps, traj.n_evals)
    return _reduced_result(system, traj)


def _check_solver_args(rtol, atol, max_steps) -> None:
    for name, val in (("rtol", rtol), ("atol", atol)):
        if not (isinstance(val, (int, float)) and np.isfinite(val) and val > 0):
            raise UsageError(f"{name}: expected a positive tolerance, got {val!r}")
    if int(max_steps) != max_steps or max_steps < 1:
        raise UsageError(f"max_steps: expected an integer >= 1, got {max_steps!r}")


def reduced_gd(system: ReducedSystem, eta: float, n_steps: int, save_every: int = 1) -> FlowResult:
    r"""Discrete gradient descent on the reduced system: :math:`x_{n+1} = x_n + \eta F(x_n)`,
    F the :func:`reduced_vector_field` (so the learning rates :math:`\eta_v,\eta_k,\eta_c`
    still scale each block, and τ = n η).  Saves every ``save_every`` steps (and the last);
    a non-finite state stops it with status ``failed``.
    """
    eta = learning_rate(eta, "eta")
    if int(n_steps) != n_steps or n_steps < 0:
        raise UsageError(f"n_steps: expected an integer >= 0, got {n_steps!r}")
    if int(save_every) != save_every or save_every < 1:
        raise UsageError(f"save_every: expected an integer >= 1, got {save_every!r}")
    x = system.initial_state()
    ts, xs = [0.0], [x.copy()]
    status, message = "ok", f"{n_steps} steps of eta = {eta:g}"
    done = 0
    with np.errstate(over="ignore", invalid="ignore"):
        for k in range(1, int(n_steps) + 1):
            x = x + eta * reduced_vector_field(system, x)
            if not np.all(np.isfinite(x)):
                status, message = "failed", f"state became non-finite at step {k} (tau = {k * eta:.6g})"
                break
            done = k
            if k % save_every == 0 or k == n_steps:
                ts.append(k * eta)
                xs.append(x.copy())
    traj = Trajectory(np.array(ts), np.array(xs), status, message, done, done)
    return _reduced_result(system, traj)


def full_flow(system: FullSystem, t_eval=None, *, horizon: float | None = None,
              n_save: int = FLOW.n_save, spacing: str = "log",
              rtol: float = NUMERIC.flow_rtol, atol: float = NUMERIC.flow_atol,
              max_steps: int = FLOW.max_steps,
              progress: Callable[[float, float], None] | None = None) -> FullFlowResult:
    """Integrate the full model's gradient flow (all parameters) on ``system``'s corpus.

    Same solver and failure handling as :func:`reduced_flow`; meant for small corpora
    (the vector field is plain NumPy).
    """
    if not isinstance(system, FullSystem):
        raise UsageError(f"system: expected a FullSystem, got {type(system).__name__}")
    if t_eval is None:
        if horizon is None:
            raise UsageError("full_flow: give t_eval or horizon")
        t_eval = time_grid(horizon, n_save, spacing)
    _check_solver_args(rtol, atol, max_steps)
    traj = integrate(lambda x: full_vector_field(system, x), system.initial_state(), t_eval,
                     rtol=rtol, atol=atol, max_steps=max_steps, progress=progress)
    n = len(traj.t)
    V, d = system.V, system.d_e
    Es, ss, ks, qs, thetas, losses = [], [], [], [], [], []
    for x in traj.X:
        E, s, keys, q, theta = system.unpack(x)
        Es.append(E)
        ss.append(s)
        ks.append(keys)
        qs.append(q)
        thetas.append(theta)
        with np.errstate(over="ignore", invalid="ignore"):
            losses.append(full_loss_and_grads(system, E, s, theta)[0])
    theta_traj = {k: np.array([th[k] for th in thetas]).reshape((n,) + system.theta0[k].shape)
                  for k in TRAINABLE[system.classifier]}
    return FullFlowResult(
        system, traj.t,
        np.array(Es).reshape(n, V, d), np.array(ss).reshape(n, V),
        np.array(ks) if system.train_query and n else None,
        np.array(qs).reshape(n, system.q.size), theta_traj, np.array(losses),
        traj.status, traj.message, traj.n_steps, traj.n_evals)
