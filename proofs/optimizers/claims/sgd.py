r"""Claims O2: mini-batch SGD's per-epoch change of the SEN quantity, to :math:`O(\eta^2)`.

See :mod:`attndyn.proofs.optimizers.sgd` for the mathematics.
"""
from __future__ import annotations

from functools import lru_cache

import numpy as np
import sympy as sp

from attndyn.proofs.algebra import readable, tidy
from attndyn.proofs.claims.registry import claim, Derivation, Outcome
from attndyn.proofs.claims.symbolic_limits import drift_coefficient_stated
from attndyn.proofs.confirm import identity
from attndyn.proofs.model import BASE
from attndyn.proofs.optimizers import sgd as G
from attndyn.proofs.optimizers.claims.common import fitted_slope, Measured, outcome
from attndyn.proofs.optimizers.reduced import lambdify_inner, paper_like
from attndyn.proofs.settings import OPTIMIZERS

REPORT_ORDER = 41

N_SENT, BATCH = 4, 2  # the concrete mini-batch setting of the exact and numeric checks
V0, S0 = np.array([0.3, -0.2]), 0.1

_ASSUMPTIONS = (
    r"an epoch = B gradient steps of size $\eta$ on the batches' summed losses; batch $b$'s classifier "
    r"gradient $g_b = \sum_{i\in B_b} g_i$; as for S2: $q$ fixed, non-topic words frozen, every "
    r"sentence with $m$ non-topic words, an arbitrary classifier",
    r"$Q(g) = g^\top M g$ is S6's $\eta^2$ coefficient with $g$ the step's classifier gradient, "
    r"$M = \eta_v|q|^2a_t^2(\eta_v I - \eta_k|q|^2a_t(1-a_t)v_tv_t^\top)$, at the epoch's starting state",
    rf"expectation over uniformly random partitions (sampling without replacement) of n sentences into "
    rf"batches of b; exact for $(n, b) = ({N_SENT}, {BATCH})$ and at full batch",
    rf"numeric: $d = 2$, $K = 3$, {N_SENT} sentences with different fixed linear classifiers, $m = 4$, "
    r"$\eta_v = 1$, $\eta_k = 1/2$",
)


def q_numeric():
    return lambdify_inner(drift_coefficient_stated())


def sgd_measurements(with_noise: bool = True) -> dict:
    """:func:`sgd_runs` with the predictions with or without the covariance term."""
    runs = sgd_runs()
    key = "noise" if with_noise else "noise-free"
    return {**runs, "predict_fixed": runs["predict_fixed"][key], "predict_expected": runs["predict_expected"][key]}


@lru_cache(maxsize=None)
def sgd_runs() -> dict:
    r"""For each step size: the measured epoch change over the fixed partition
    :math:`\{0,1\},\{2,3\}` and averaged over all partitions, and the predictions."""
    model = paper_like(sentences=N_SENT)
    Q = q_numeric()
    kw = {"s": S0, "m": model.m, "eta_v": model.eta_v, "eta_k": model.eta_k}

    def Qn(g):
        return Q({"q": model.q, "v_t": V0, "g": g}, **kw)

    parts = G.partitions(N_SENT, BATCH)
    grads = {p: [model.classifier_gradient(V0, S0, which=b) for b in p] for p in parts}
    per = [model.classifier_gradient(V0, S0, which=[i]) for i in range(N_SENT)]
    Gsum = np.sum(per, axis=0)

    def predict(p):
        gs = grads[p]
        mean = np.mean(gs, axis=0)
        return {"noise-free": len(gs) * Qn(mean), "noise": len(gs) * Qn(mean) + sum(Qn(g - mean) for g in gs)}

    w_mean, w_noise = (float(w.subs({G.N_SYM: N_SENT, G.B_SYM: BATCH})) for w in G.epoch_weights())
    mean_part = w_mean * Qn(Gsum)
    expected = {"noise-free": mean_part,
                "noise": mean_part + w_noise * np.mean([Qn(g - Gsum / N_SENT) for g in per])}
    H0 = model.H(V0, S0)
    rows = []
    for eta in OPTIMIZERS.step_sizes:
        changes = {}
        for p in parts:
            v, s = V0.copy(), S0
            for batch in p:
                v, s = model.gd_step(v, s, eta, which=batch)
            changes[p] = (model.H(v, s) - H0) / eta ** 2
        rows.append({"eta": eta, "fixed": changes[parts[0]], "mean": float(np.mean(list(changes.values())))})
    return {"parts": parts, "predict_fixed": predict(parts[0]), "predict_expected": expected,
            "full_batch": Qn(Gsum), "rows": rows}


def order_checks(meas: dict, label: str) -> list[Measured]:
    out = []
    etas = [r["eta"] for r in meas["rows"]]
    for key, pred, what in (("fixed", meas["predict_fixed"], f"one epoch over the partition {meas['parts'][0]}"),
                            ("mean", meas["predict_expected"], "the mean over all partitions")):
        gaps = [r[key] - pred for r in meas["rows"]]
        out.append(Measured(f"{what}: slope of |Delta H/eta^2 - prediction ({label})| against eta",
                            fitted_slope(etas, gaps), *OPTIMIZERS.first_order_slope,
                            route=f"numeric: {len(etas)} step sizes, log-log least squares; a correct "
                                  r"O(eta^2) prediction leaves an O(eta^3) remainder: slope 1",
                            signed={"eta": etas, "gap": gaps, "prediction": pred,
                                    "series": [r[key] for r in meas["rows"]]}))
    return out


def verify_sgd(with_noise: bool, stream: int) -> Outcome:
    D = Derivation()
    n, b = N_SENT, BATCH
    c = drift_coefficient_stated()
    D.eq(r"S6: one step with classifier gradient $g$ changes H by $\eta^2 Q(g) + O(\eta^3)$", r"Q(g)", readable(c))
    g1, g2 = G.batch_gradients(2)
    hh = G.Q_at(g1 + g2) + G.Q_at(g1 - g2) - 2 * G.Q_at(g1) - 2 * G.Q_at(g2)
    checks: list = [identity("Q is a quadratic form (parallelogram law)", [hh], stream)]
    D.note(r"$Q(g_1+g_2) + Q(g_1-g_2) = 2Q(g_1) + 2Q(g_2)$ exactly: $Q(g) = g^\top Mg$, "
           r"$M = \eta_v|q|^2a_t^2(\eta_v I - \eta_k|q|^2a_t(1-a_t)v_tv_t^\top)$.")
    D.note(r"Over an epoch the $O(\eta)$ term of every step vanishes at every state for every $g$ (S2), so "
           r"$\Delta H_{\rm epoch} = \eta^2\sum_b Q(g_b) + O(\eta^3)$: no cross term between steps.")
    D.note(r"(Derived for two steps, by the chain rule and by brute-force expansion, in the slow claim "
           r"O2-sgd-epoch-expansion.)")
    B = n // b
    lhs, rhs = G.covariance_split(B, G.generic_quadratic(), with_noise=with_noise)
    checks.append(identity(f"sum_b Q(g_b) = B Q(mean) + sum_b Q(g_b - mean), B = {B}"
                           + ("" if with_noise else " (noise term dropped)"), [lhs, -rhs], stream + 1))
    D.eq(rf"Mean and covariance of the batch gradients ($B = {B}$): "
         r"$\sum_b Q(g_b) = B\,Q(\bar g) + B\,\mathrm{tr}(M\Sigma_B)$" + ("" if with_noise else " (noise term dropped)"),
         r"\sum_b Q(g_b)", r"B\,Q(\bar g)" + (r" + \sum_b Q(g_b - \bar g)" if with_noise else ""))
    shape = G.generic_quadratic()
    factors = G.quadratic_factors()
    checks.append(identity("Q = alpha |g|^2 + beta (g.v)^2 with S6's factors", [c, -shape.xreplace(factors)], stream + 8))
    D.eq(r"S6's coefficient has the shape $\alpha|g|^2 + \beta(g\cdot v_t)^2$ with", r"(\alpha, \beta)",
         sp.latex(tuple(readable(f) for f in factors.values())))
    for nn, bb in (((n, b),) if with_noise else ()):
        avg, stated = G.expected_epoch(nn, bb, shape)
        checks.append(identity(f"E over the {len(G.partitions(nn, bb))} partitions of n={nn} into batches of "
                               f"{bb} = (b/n) Q(G) + n(n-b)/(n-1) tr(M S)", [avg, -stated], stream + 2 + bb))
    if with_noise:
        D.note(r"Random partitions of $n$ sentences into batches of $b$ (without replacement), $G = \sum_i g_i$, "
               r"per-sentence covariance $S$: $\mathbb E\sum_b Q(g_b) = \frac bn Q(G) + \frac{n(n-b)}{n-1}\mathrm{tr}(MS)$ "
               rf"— checked exactly by enumerating every partition for $(n,b) = ({n},{b})$.")
    avg2, stated2 = G.expected_epoch(2, 2, shape) if with_noise else (0, 0)
    G2 = sp.MatAdd(*G.sentence_gradients(2))
    if with_noise:
        checks.append(identity("full batch (b = n = 2): the expectation = Q(G)", [avg2, -G.Q_at(G2, shape)], stream + 5))
        checks.append(identity("full batch: the stated formula = Q(G)", [stated2, -G.Q_at(G2, shape)], stream + 6))
        checks.append(identity("Q at the full gradient g is S6's coefficient", [G.Q_at(BASE.g), -c], stream + 7))
        D.note(r"At full batch ($b = n$) the noise term vanishes ($n - b = 0$) and the epoch change is "
               r"$\eta^2 Q(G)$: S6's coefficient with the full classifier gradient.")
    meas = sgd_measurements(with_noise)
    checks += order_checks(meas, "with noise" if with_noise else "noise dropped")
    rows = meas["rows"]
    D.note(rf"Numerically ({n} sentences, batches of {b}): $\Delta H_{{\rm epoch}}/\eta^2$ at $\eta = "
           + ", ".join(f"{r['eta']:g}" for r in rows) + "$: " + ", ".join(f"{r['fixed']:.5g}" for r in rows)
           + rf" against the prediction {meas['predict_fixed']:.5g}; averaged over the partitions "
           + ", ".join(f"{r['mean']:.5g}" for r in rows) + rf" against {meas['predict_expected']:.5g} "
           rf"(full batch would give {meas['full_batch']:.5g}).")
    return outcome(checks, D.steps, {"route": "exact simplification + enumeration + numeric order fit"})


@claim(
    "O2-sgd-epoch-drift",
    "Mini-batch SGD: the per-epoch change of H is eta^2 (mean part + batch-gradient covariance)",
    kind="symbolic",
    statement=(r"$\Delta H_{\rm epoch} = \eta^2\big(B\,Q(\bar g) + B\,\mathrm{tr}(M\Sigma_B)\big) + O(\eta^3)$, "
               r"$\mathbb E\,\Delta H_{\rm epoch} = \eta^2\big(" + sp.latex(G.epoch_weights()[0]) + r"\,Q(G) + "
               + sp.latex(G.epoch_weights()[1]) + r"\,\mathrm{tr}(MS)\big) + O(\eta^3)$, "
               r"$Q(g) = g^\top Mg = " + sp.latex(readable(drift_coefficient_stated())) + r"$ (S6's coefficient, "
               r"to which it reduces at full batch)."),
    assumptions=_ASSUMPTIONS,
)
def o2_sgd_epoch_drift() -> Outcome:
    return verify_sgd(True, stream=500)


@claim(
    "neg-sgd-noise-free",
    "Negative control: mini-batch noise does not change H's per-epoch drift",
    kind="symbolic",
    expected="refuted",
    statement=r"$\Delta H_{\rm epoch} = \eta^2 B\,Q(\bar g) + O(\eta^3)$ (the covariance term omitted).",
    assumptions=_ASSUMPTIONS + (r"expected: refuted (exactly, and the numeric remainder does not shrink like $\eta$)",),
)
def neg_sgd_noise_free() -> Outcome:
    return verify_sgd(False, stream=520)


@claim(
    "O2-sgd-epoch-expansion",
    "Two consecutive gradient steps change H by eta^2 (Q(g_1) + Q(g_2)) + O(eta^3)",
    kind="symbolic",
    statement=(r"$H(\theta_2) - H(\theta_0) = \eta^2\big(Q(g_1) + Q(g_2)\big) + O(\eta^3)$ for two steps with "
               r"classifier gradients $g_1$ (at $\theta_0$), $g_2$ (at $\theta_1$), the field re-evaluated at "
               r"$\theta_1$: no cross term between the steps."),
    assumptions=_ASSUMPTIONS[:2] + (r"symbolic dimension $d$; $Q$ at $\theta_1$ differs from $Q$ at $\theta_0$ "
                                    r"by $O(\eta)$, so $\theta_0$ may be used",),
    slow=True,
)
def o2_sgd_epoch_expansion() -> Outcome:
    D = Derivation()
    c0, c1, c2 = G.epoch_coefficients(2)
    g1, g2 = G.batch_gradients(2)
    checks: list = [identity("order eta^0 of the two-step change", [c0], 530),
                    identity("order eta^1 of the two-step change (S2 at both states)", [c1], 531),
                    identity("order eta^2 = Q(g_1) + Q(g_2)", [c2, -G.Q_at(g1), -G.Q_at(g2)], 532)]
    c1c, c2c = G.epoch_coefficients_chain()
    checks += [identity("two steps: order eta vanishes (chain rule)", [c1c], 533),
               identity("two steps: order eta^2 = Q(g_1) + Q(g_2) (chain rule)", [c2c, -G.Q_at(g1), -G.Q_at(g2)], 534)]
    D.note(r"By the chain rule along $\theta_2(\eta) = \theta_0 + \eta F(\theta_0, g_1) + \eta F(\theta_1(\eta), g_2)$: "
           r"$\theta_2' = F(g_1) + F(g_2)$, $\theta_2'' = 2DF_{g_2}[F(g_1)]$, $\frac{d^2H}{d\eta^2} = "
           r"\theta'^\top\nabla^2H\theta' + \nabla H\cdot\theta''$: order $\eta$ "
           + ("vanishes" if checks[-2].exact_zero else "MISMATCH") + r", order $\eta^2$ "
           + (r"$= Q(g_1) + Q(g_2)$ exactly." if checks[-1].exact_zero else "MISMATCH."))
    D.note(r"Two steps of the model's field, $v_t \to v_t + \eta\dot v_t(g_1)$, $s_t \to s_t + \eta\,q\cdot\dot k_t(g_1)$, "
           r"then the same at the moved state with $g_2$; H at the end, expanded in $\eta$.")
    D.eq(r"Order $\eta^2$ (brute force)", r"\frac12\frac{d^2}{d\eta^2}\Delta H\Big|_0", r"Q(g_1) + Q(g_2)"
         if checks[2].exact_zero else tidy(c2))
    return outcome(checks, D.steps)
