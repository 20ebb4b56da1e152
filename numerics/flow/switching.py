"""ReLU switching for the two-layer classifier (TL): the flow is integrated piecewise, with the
ReLU sides fixed between switching events located by the solver."""
from __future__ import annotations

import itertools

import numpy as np
from scipy.special import expit

from attndyn.numerics.flow.systems import OFF, ON, reduced_vector_field, ReducedSystem, SLIDING
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import FLOW


class ReluSwitching:
    r"""Filippov treatment of the TL classifier's ReLU kinks in the reduced flow.

    The TL flow is only piecewise smooth: each pre-activation
    :math:`p_{r,h} = a_r v_r\cdot W_1[:,h] + b_{1,h}` (row r = topic word / length group,
    unit h) switches the field when it changes sign, and often the field pushes
    :math:`p_{r,h}` onto 0 from both sides (a *sliding mode*; in the paper-like runs within
    τ ≈ 1) — an explicit integrator then chatters with vanishing steps.  Here each live entry has a mode: ``ON``
    (ReLU' = 1), ``OFF`` (0) or ``SLIDING``, where the ReLU' factor is the
    :math:`\alpha\in[0,1]` solving :math:`\dot p_S = 0` (the field is affine in it):
    Filippov's convex combination, which keeps :math:`p = 0`.  Sign changes of ``p``
    (ON/OFF) and :math:`\alpha` reaching 0 or 1 (SLIDING) are events located by
    :func:`integrate`; :meth:`on_event` picks the new modes of the entries at their kink
    (:meth:`_modes_at_kink`).  Any Filippov field is a convex combination of fields that conserve
    the SEN quantity, so the identity holds along it too.
    """

    def __init__(self, system: ReducedSystem, x0: np.ndarray) -> None:
        if system.classifier != "tl":
            raise UsageError("ReluSwitching: only the tl classifier has ReLU kinks")
        self.system = system
        pre = self.preactivation(x0)
        self.live = np.broadcast_to((system.rows_w > 0)[:, None], pre.shape).ravel().copy()
        self.mode = np.where(pre.ravel() > 0, ON, OFF).astype(np.int8)
        self.alpha = np.zeros(0)
        self._last = (np.zeros(0), self.alpha)
        self.switches = 0
        at_kink = np.flatnonzero(self.live & (pre.ravel() == 0))
        if at_kink.size:
            modes = self._modes_at_kink(x0, at_kink, {})
            if modes is None:
                raise UsageError("initial state: no consistent mode for the TL ReLUs at their kink")
            self.mode[at_kink] = modes

    def preactivation(self, x: np.ndarray) -> np.ndarray:
        sys_ = self.system
        v, s, th = sys_.unpack(x)
        a = expit(s[sys_.rows_t] - np.log(sys_.rows_m))
        return (a[:, None] * v[sys_.rows_t]) @ th["W1"] + th["b1"]

    def preactivation_rate(self, x: np.ndarray, F: np.ndarray) -> np.ndarray:
        r""":math:`\dot p = \nabla p\cdot F` (rows x hidden), by the chain rule."""
        sys_ = self.system
        tw = sys_.rows_t
        v, s, th = sys_.unpack(x)
        dv, ds, dth = sys_.unpack(F)
        a = expit(s[tw] - np.log(sys_.rows_m))
        vW = v[tw] @ th["W1"]
        return ((a * (1 - a) * ds[tw])[:, None] * vW
                + a[:, None] * (dv[tw] @ th["W1"] + v[tw] @ dth["W1"]) + dth["b1"][None, :])

    def _field(self, x: np.ndarray, mode: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        shape = (len(self.system.rows_t), self.system.theta0["W1"].shape[1])
        on = (mode == ON).astype(np.float64)
        fwd = on.reshape(shape)
        S = np.flatnonzero(mode == SLIDING)
        F0 = reduced_vector_field(self.system, x, (fwd, on.reshape(shape)))
        if S.size == 0:
            return F0, np.zeros(0)
        b = self.preactivation_rate(x, F0).ravel()[S]
        Fk, A = [], np.empty((S.size, S.size))
        for k, j in enumerate(S):
            bwd = on.copy()
            bwd[j] = 1.0
            Fk.append(reduced_vector_field(self.system, x, (fwd, bwd.reshape(shape))))
            A[:, k] = self.preactivation_rate(x, Fk[-1]).ravel()[S] - b
        try:
            alpha = np.linalg.solve(A, -b)
        except np.linalg.LinAlgError:
            return np.full_like(F0, np.nan), np.full(S.size, np.nan)
        return F0 + sum(al * (F - F0) for al, F in zip(alpha, Fk)), alpha

    def field(self, x: np.ndarray) -> np.ndarray:
        F, self.alpha = self._field(x, self.mode)
        self._last = (x.copy(), self.alpha)  # DOP853's last stage is the accepted state: events reuse it
        return F

    def events(self, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Two event functions per entry: ON/OFF — (p, const 1); SLIDING — (alpha, alpha - 1)."""
        n = self.mode.size
        g = np.ones((n, 2))
        dirs = np.ones((n, 2))
        pre = self.preactivation(x).ravel()
        live = self.live
        on, off, sl = live & (self.mode == ON), live & (self.mode == OFF), self.mode == SLIDING
        g[on, 0], dirs[on, 0] = pre[on], -1.0
        g[off, 0] = pre[off]
        if sl.any():
            last_x, alpha = self._last
            if alpha.size != int(sl.sum()) or not np.array_equal(last_x, x):
                _, alpha = self._field(x, self.mode)
            g[sl, 0], dirs[sl, 0] = alpha, -1.0
            g[sl, 1] = alpha - 1.0
        return g.ravel(), dirs.ravel()

    def _modes_at_kink(self, x: np.ndarray, cand: np.ndarray, fixed: dict[int, int]) -> np.ndarray | None:
        r"""Modes of the entries ``cand`` (all at :math:`p = 0`) after an event: the Filippov
        box-complementarity problem — with :math:`\dot p = b + A\alpha` affine in the ReLU'
        factors, find :math:`\alpha\in[0,1]^n` with :math:`\alpha_j = 0 \Rightarrow \dot p_j\le 0`
        (OFF), :math:`\alpha_j = 1 \Rightarrow \dot p_j \ge 0` (ON) and
        :math:`0<\alpha_j<1 \Rightarrow \dot p_j = 0` (SLIDING).  Assignments are tried by increasing number of changes from the current modes, so the
        consistent one with the fewest changes wins (ties: a fixed enumeration order);
        ``None`` when none is found within ``FLOW.kink_max_trials`` trials.  Deterministic."""
        n = cand.size
        mode = self.mode.copy()
        mode[cand] = OFF
        shape = (len(self.system.rows_t), self.system.theta0["W1"].shape[1])
        on = (mode == ON).astype(np.float64)
        F0 = reduced_vector_field(self.system, x, (on.reshape(shape), on.reshape(shape)))
        b = self.preactivation_rate(x, F0).ravel()[cand]
        A = np.empty((n, n))
        for k, j in enumerate(cand):
            bwd = on.copy()
            bwd[j] = 1.0
            Fk = reduced_vector_field(self.system, x, (on.reshape(shape), bwd.reshape(shape)))
            A[:, k] = self.preactivation_rate(x, Fk).ravel()[cand] - b
        tol = FLOW.kink_rtol * (np.abs(b).max() + np.abs(A).max() + np.finfo(float).tiny)
        fix = np.array([fixed.get(int(j), -1) for j in cand])

        def consistent(assign) -> bool:
            alpha = (assign == ON).astype(np.float64)
            S = assign == SLIDING
            if S.any():
                try:
                    alpha[S] = np.linalg.solve(A[np.ix_(S, S)], -(b[S] + A[np.ix_(S, ~S)] @ alpha[~S]))
                except np.linalg.LinAlgError:
                    return False
                if np.any(alpha[S] < -FLOW.kink_rtol) or np.any(alpha[S] > 1 + FLOW.kink_rtol):
                    return False
            rate = b + A @ alpha
            return not (np.any(rate[assign == OFF] > tol) or np.any(rate[assign == ON] < -tol))

        # search by number of changes from the current modes: the first consistent assignment
        # with the fewest changes wins (deterministic order); usually 1-3 changes suffice
        cur = np.where(fix >= 0, fix, self.mode[cand])
        free = np.flatnonzero(fix < 0)
        trials = 0
        for c in range(free.size + 1):
            for subset in itertools.combinations(free, c):
                for alts in itertools.product(*[[o for o in (SLIDING, OFF, ON) if o != cur[i]]
                                                for i in subset]):
                    trial = cur.copy()
                    trial[list(subset)] = alts
                    if consistent(trial):
                        return trial
                    trials += 1
                    if trials > FLOW.kink_max_trials:
                        return None
        return None

    def on_event(self, k: int, t: float, x: np.ndarray) -> str | None:
        j, which = divmod(k, 2)
        fixed = {}
        if self.mode[j] == SLIDING:  # alpha reached 0 (leaves to OFF) or 1 (to ON)
            fixed[j] = OFF if which == 0 else ON
        cand = np.union1d(np.flatnonzero(self.mode == SLIDING), [j]).astype(np.int64)
        modes = self._modes_at_kink(x, cand, fixed)
        if modes is None:
            return (f"no consistent Filippov mode for the TL ReLUs at their kink (entries "
                    f"{cand.tolist()}; none within {FLOW.kink_max_trials} trials, or a degenerate kink)")
        self.mode[cand] = modes
        self.switches += 1
        return None
