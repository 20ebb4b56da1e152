r"""Confirm exactly proved conservation laws along an integrated trajectory of the real flow.

**The flow.**  The engine (:mod:`attndyn.proofs.laws`) compiles a model to a
:class:`~attndyn.proofs.laws.FlowProblem`: trained coordinates :math:`\theta`,
per-coordinate rates :math:`\Lambda`, scores :math:`s_w(\theta)` and the features
:math:`\varphi(\theta)` the classifier sees (context vectors, or logits
:math:`Wc_i` for a fixed linear classifier, or the fixed loss itself), written
with indeterminates :math:`E_w` standing for :math:`e^{s_w}`.  Here the
:math:`E_w` are replaced by the true exponentials, SymPy differentiates
:math:`\varphi` (the Jacobian :math:`J=\partial\varphi/\partial\theta`, never
typed by hand) and the loss is

.. math:: L(\theta)=F(\varphi(\theta)),\qquad
          F(x)=\sum_i \mathrm{CE}\big(\mathrm{softmax}(A_2\tanh(A_1x_i+b_1)+b_2),\,y_i\big)

for ``classifier="random-mlp"`` (the default): one fixed random two-layer tanh
network (8 hidden units, 3 classes, seeded Gaussian weights) shared by the
sentences, :math:`x_i` the block of features of sentence :math:`i`, random labels
:math:`y_i`.  ``"softmax-ce"`` applies cross-entropy directly to the feature
blocks (meant for the fixed-linear-classifier models, whose features are the
logits :math:`Wc_i` of that model's own :math:`W`; a one-logit block gets the
logistic loss).  A ``single_field`` problem (fixed loss) has :math:`F(x)=x`: its
flow is the model's own loss.  :math:`\nabla_xF` is SymPy's derivative of
:math:`F`, so :math:`\nabla L=J^\top\nabla_xF` is derived end to end.  The engine
proves laws for *every* smooth function of the features, of which
:math:`\sum_i\ell_i(\varphi_i)` is a special case, so any such :math:`F` is a
legitimate test; a generic one (random weights, nonlinear, no symmetry) is a
stringent one.  :math:`\dot\theta=-\Lambda\nabla L` is integrated from a seeded
random :math:`\theta_0\sim\mathcal N(0,\sigma^2)` with ``solve_ivp(method="DOP853")``
and the state is kept at every accepted step.

**The law threshold (derived).**  Let :math:`\theta_n` be the accepted steps and
:math:`\Phi_\tau` the exact flow.  A law satisfies :math:`h(\Phi_\tau(x))=h(x)`
from *every* starting point, so

.. math:: h(\theta_{n+1})-h(\theta_n)=h(\theta_{n+1})-h(\Phi_{\tau_n}(\theta_n))
          =\nabla h\cdot e_n+O(|e_n|^2),

with :math:`e_n` the local error of step :math:`n` — there is no Lipschitz
amplification of earlier errors, the drift is the plain sum of the local errors
projected on :math:`\nabla h`.  DOP853 accepts a step only when the RMS norm of
its error estimate scaled by :math:`\mathrm{atol}+\mathrm{rtol}\,|\theta_k|` is
:math:`\le1`, so every component obeys
:math:`|e_{n,k}|\le\sqrt D\,(\mathrm{atol}+\mathrm{rtol}\max(|\theta_{n,k}|,|\theta_{n+1,k}|))`;
rounding of the update adds :math:`4\varepsilon|\theta_k|`.  Hence

.. math:: |h(\theta_n)-h(\theta_0)|\le C_{\rm est}\sum_{n}\sum_k
          \max_{\rm step}|\partial_kh|\;\sqrt D\,\big(\mathrm{atol}+(\mathrm{rtol}+4\varepsilon)
          \max_{\rm step}|\theta_k|\big)
          \;+\;2(n_h+8)\,\varepsilon\max_n\sum_j|\text{term}_j(\theta_n)|,

the second part bounding the rounding of evaluating :math:`h` (its :math:`n_h`
terms, true exponentials) at :math:`t` and at 0.  :math:`C_{\rm est}=10` covers
that the estimator is an estimate, not a bound (it is the error of the embedded
lower-order solution, which in practice over-estimates the 8th-order step's), and
the second-order remainder.  Drift and threshold are both reported relative to
:math:`\max(1,|h(0)|)`; ``headroom`` = drift / threshold (conserved iff
:math:`\le1`).  A negative control gets the same threshold from *its own*
gradient and is refuted iff its drift exceeds it.

**What the drift measures.**  Runge–Kutta methods conserve *linear* invariants
exactly, so a linear law (e.g. the key components orthogonal to :math:`q`) drifts
only by rounding: its confirmation checks that the real flow direction is
orthogonal to :math:`\nabla h` (its per-coefficient negative control drifts by
:math:`O(1)`), not the integrator.  Non-linear laws (SEN, the Gram laws of the
query-trained model) drift in proportion to ``rtol`` (measured: about
:math:`1.4\,\mathrm{rtol}` for SEN at :math:`d=3`), i.e. at the integrator's
tolerance.

**Movement.**  A confirmation on a trajectory that does not move proves
nothing, so :math:`|\theta(T)-\theta_0|/\max(1,|\theta_0|)\ge` ``min_displacement``
and :math:`(L(\theta_0)-L(\theta(T)))/|L(\theta_0)|\ge` ``min_loss_drop`` are
required; otherwise the status is ``stationary`` and nothing is confirmed.
The loss must also be non-increasing along the saved steps (a gradient flow), and
:math:`\nabla L(\theta_0)` is checked against central differences.
"""
from __future__ import annotations

import dataclasses
import json
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import sympy as sp
from scipy.integrate import solve_ivp

from ...proofs.laws import FlowProblem, LawsResult, ModelSpec, named_model, run_laws
from ...proofs.laws.run import tex_sci

CLASSIFIERS = {
    "random-mlp": "fixed random two-layer tanh network (8 hidden, 3 classes) shared by the sentences, "
                  "softmax cross-entropy, random labels",
    "softmax-ce": "softmax cross-entropy directly on each feature block (the logits W c_i of a fixed linear "
                  "classifier), random labels; logistic loss for a one-logit block",
}
C_EST = 10.0
EPS = float(np.finfo(float).eps)
HIDDEN, CLASSES = 8, 3
GRAD_CHECK_MAX = 1e-5


def threshold_rule() -> str:
    """The threshold derivation in one line (recorded in every :class:`Confirmation`)."""
    return (f"tol = [{C_EST:g} * sum_steps sum_k max|d_k h| * sqrt(D) * (atol + (rtol + 4 eps) max|theta_k|)"
            " + 2 (n_terms + 8) eps max sum|terms of h|] / max(1, |h(0)|); exact flow conserves h from every "
            "point, so the drift is the sum of local errors projected on grad h (no amplification)")


@dataclass
class LawDrift:
    """One quantity followed along the trajectory."""

    label: str
    expr: str  # with exp(s_w) for e^{s_w}
    latex: str
    role: str  # "law" or "control"
    h0: float
    drift: float  # max_t |h(t) - h(0)| / max(1, |h(0)|)
    delta_min: float  # signed extremes of h(t) - h(0) (absolute)
    delta_max: float
    threshold: float  # relative, see threshold_rule()
    integration_part: float  # absolute, before C_EST
    rounding_part: float  # absolute
    grad_max: float  # max_t |grad h|
    headroom: float  # drift / threshold

    @property
    def conserved(self) -> bool:
        return self.drift <= self.threshold

    def verdict(self) -> str:
        if self.role == "law":
            return "conserved" if self.conserved else "DRIFTS"
        return "refuted" if not self.conserved else "NOT refuted"


@dataclass
class Confirmation:
    model: str
    D: int
    classifier: str
    classifier_detail: str
    blocks: int  # feature blocks (sentences) the classifier is applied to
    seed: int
    theta_scale: float
    horizon: float
    rtol: float
    atol: float
    method: str
    n_steps: int
    nfev: int
    integrator_status: int
    theta0_norm: float
    displacement: float  # |theta(T) - theta0|
    displacement_rel: float
    path_length: float
    loss0: float
    lossT: float
    loss_drop_rel: float
    loss_monotone: bool
    grad_check: float  # relative error of grad L(theta0) against central differences
    grad_check_max: float  # allowed (central differences with step 1e-6: O(h^2) + O(eps/h), far below 1e-5)
    min_displacement: float
    min_loss_drop: float
    moved: bool
    laws: list
    controls: list
    threshold_rule: str
    rates: dict
    theta0: list = field(default_factory=list)
    seconds: dict = field(default_factory=dict)
    t: object = field(default=None, repr=False)  # accepted step times (not serialised)
    Y: object = field(default=None, repr=False)  # states at the accepted steps, D x (n_steps + 1)
    problem: object = field(default=None, repr=False)

    def drift_of(self, h, label: str = "h", role: str = "control") -> "LawDrift":
        """Follow one more quantity ``h`` (SymPy in θ and E) along the same trajectory."""
        return law_drift(self.problem, h, self.Y, rtol=self.rtol, atol=self.atol, label=label, role=role)

    @property
    def laws_conserved(self) -> bool:
        return bool(self.laws) and all(l.conserved for l in self.laws)

    @property
    def controls_refuted(self) -> bool:
        return all(not c.conserved for c in self.controls)

    @property
    def confirmed(self) -> bool:
        return (self.integrator_status == 0 and self.moved and self.loss_monotone and self.grad_check <= self.grad_check_max
                and self.laws_conserved and self.controls_refuted)

    def status(self) -> str:
        if not self.laws:
            return "nothing to confirm (no law)"
        if self.integrator_status != 0:
            return f"integrator failed (solve_ivp status {self.integrator_status})"
        if self.grad_check > self.grad_check_max:
            return f"derived gradient disagrees with central differences ({self.grad_check:.1e})"
        if not self.moved:
            return (f"stationary: |dtheta|/max(1,|theta0|) = {self.displacement_rel:.2e} (need >= "
                    f"{self.min_displacement:g}), loss drop {self.loss_drop_rel:.2e} (need >= {self.min_loss_drop:g})")
        if not self.loss_monotone:
            return "the loss increased along the trajectory: not a gradient flow"
        bad = [l.label for l in self.laws if not l.conserved]
        if bad:
            return "drift above threshold: " + ", ".join(bad)
        alive = [c.label for c in self.controls if c.conserved]
        if alive:
            return "negative control not refuted: " + ", ".join(alive)
        return "confirmed"

    def max_law_headroom(self) -> float:
        return max((l.headroom for l in self.laws), default=float("nan"))

    def min_control_ratio(self) -> float:
        return min((c.headroom for c in self.controls), default=float("nan"))

    def to_dict(self) -> dict:
        d = asdict(dataclasses.replace(self, t=None, Y=None, problem=None))
        for k in ("t", "Y", "problem"):
            d.pop(k)
        for group in ("laws", "controls"):
            for x, src in zip(d[group], getattr(self, group)):
                x["conserved"] = src.conserved
                x["verdict"] = src.verdict()
        d["seconds"] = {k: round(v, 3) for k, v in self.seconds.items()}
        d.update(confirmed=self.confirmed, status=self.status(), laws_conserved=self.laws_conserved,
                 controls_refuted=self.controls_refuted)
        return d

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), **({"indent": 2} | kw))

    def rows(self) -> list:
        """Markdown rows (see :func:`table`), one per law and control."""
        return [f"| {self.model} | {x.role} | `{x.expr}` | {x.drift:.1e} | {x.threshold:.1e} | {x.headroom:.1e} "
                f"| {x.verdict()} |" for x in self.laws + self.controls]

    def summary(self) -> str:
        return (f"{self.model}: {self.status()} — {self.classifier}, seed {self.seed}, T = {self.horizon:g}, "
                f"{self.n_steps} DOP853 steps (rtol {self.rtol:g}, atol {self.atol:g}), |Δθ| = {self.displacement:.3g}"
                f" ({self.displacement_rel:.2g} rel.), loss {self.loss0:.4g} → {self.lossT:.4g}; max law headroom "
                f"{self.max_law_headroom():.1e}, min control drift/threshold {self.min_control_ratio():.1e}")

    def latex_row(self) -> str:
        """One summary row: model & steps & |Δθ| & ΔL/L & max law drift & its threshold & worst control ratio & status."""
        worst = max(self.laws, key=lambda l: l.headroom) if self.laws else None
        ctrl = self.min_control_ratio()
        cells = [rf"\texttt{{{self.model}}}", str(self.n_steps), f"{self.displacement:.3g}", f"{self.loss_drop_rel:.2g}",
                 _tex(worst.drift) if worst else "--", _tex(worst.threshold) if worst else "--",
                 _tex(ctrl) if self.controls else "--", "confirmed" if self.confirmed else self.status().split(":")[0]]
        return " & ".join(cells) + r" \\"

    def latex(self) -> str:
        """A tabular, one row per law and control, with a caption-like first line."""
        lines = [rf"% {self.summary()}", r"\begin{tabular}{llrrr}", r"\hline",
                 r"quantity & role & drift & threshold & drift/threshold \\", r"\hline"]
        for x in self.laws + self.controls:
            lines.append(rf"${x.latex}$ & {x.role} & {_tex(x.drift)} & {_tex(x.threshold)} & {_tex(x.headroom)} \\")
        lines += [r"\hline", r"\end{tabular}"]
        return "\n".join(lines)


def _tex(x: float) -> str:
    return f"${tex_sci(x)}$"


def table(confirmations) -> str:
    head = ("| model | role | quantity | drift | threshold | drift/threshold | verdict |\n"
            "|---|---|---|---|---|---|---|")
    return "\n".join([head] + [r for c in confirmations for r in c.rows()])


# ---- building the flow -------------------------------------------------------------------------

def _to_exp(problem: FlowProblem) -> dict:
    return {E: sp.exp(s) for E, s in problem.exps}


def _display(problem: FlowProblem, h, latex=False):
    names = {E: sp.Symbol(f"e^{{s_{{{str(E)[2:]}}}}}" if latex else f"exp(s_{str(E)[2:]})") for E, _ in problem.exps}
    h = sp.sympify(h).subs(names)
    return sp.latex(h) if latex else sp.sstr(h)


def _features(problem: FlowProblem):
    """lambdified theta -> (phi, J) with true exponentials (math module, common subexpressions)."""
    phi = [sp.sympify(f).subs(_to_exp(problem)) for f in problem.phi]
    J = [[sp.diff(f, t) for t in problem.params] for f in phi]
    return sp.lambdify(problem.params, [phi, J], modules="math", cse=True), len(phi)


def _classifier(kind: str, n_phi: int, blocks: int, single_field: bool, rng):
    """F(x) and its SymPy gradient, lambdified; and a description."""
    x = sp.symbols(f"x0:{n_phi}", real=True)
    if single_field:
        F, detail = x[0], "fixed-loss: F(x) = x, the model's own loss (one field)"
    else:
        if kind not in CLASSIFIERS:
            raise ValueError(f"classifier: expected one of {', '.join(CLASSIFIERS)}, got {kind!r}")
        b = n_phi // blocks
        F = sp.Integer(0)
        flt = lambda a: sp.Float(float(a), 17)
        if kind == "random-mlp":
            A1, b1 = rng.normal(0, 1, (HIDDEN, b)), rng.normal(0, 0.5, HIDDEN)
            A2, b2 = rng.normal(0, 1, (CLASSES, HIDDEN)), rng.normal(0, 0.5, CLASSES)
            labels = rng.integers(0, CLASSES, blocks)
            for i in range(blocks):
                xi = x[i * b:(i + 1) * b]
                hid = [sp.tanh(sum(flt(A1[r, c]) * xi[c] for c in range(b)) + flt(b1[r])) for r in range(HIDDEN)]
                z = [sum(flt(A2[c, r]) * hid[r] for r in range(HIDDEN)) + flt(b2[c]) for c in range(CLASSES)]
                F += sp.log(sum(sp.exp(zc) for zc in z)) - z[int(labels[i])]
            detail = f"{CLASSIFIERS[kind]}; labels {labels.tolist()}"
        else:
            labels = rng.integers(0, max(b, 2), blocks)
            for i in range(blocks):
                z = x[i * b:(i + 1) * b]
                if b == 1:
                    y = 1 if labels[i] else -1
                    F += sp.log(1 + sp.exp(-y * z[0]))
                else:
                    F += sp.log(sum(sp.exp(zc) for zc in z)) - z[int(labels[i])]
            detail = f"{CLASSIFIERS[kind]}; labels {labels.tolist()}"
    grad = [sp.diff(F, xi) for xi in x]
    return sp.lambdify(x, [F, grad], modules="math", cse=True), detail


def _law_functions(problem: FlowProblem, h):
    """numpy-vectorised (h, grad h, sum |terms|) with true exponentials."""
    te = _to_exp(problem)
    terms = sp.Add.make_args(sp.expand(sp.sympify(h)))
    h_t = sp.sympify(h).subs(te)
    grad = [sp.diff(h_t, t) for t in problem.params]
    absterms = sum((sp.Abs(t.subs(te)) for t in terms), sp.Integer(0))
    f = sp.lambdify(problem.params, [h_t, absterms] + grad, modules="numpy", cse=True)
    return f, len(terms)


def law_drift(problem: FlowProblem, h, Y, *, rtol: float, atol: float, label: str = "h",
              role: str = "law") -> LawDrift:
    """Drift of ``h`` (SymPy in θ and E) along the accepted steps ``Y`` (D x n) and its derived threshold."""
    f, n_terms = _law_functions(problem, h)
    n = Y.shape[1]
    out = [np.broadcast_to(np.asarray(v, dtype=float), (n,)) for v in f(*Y)]
    hv, absterms, G = out[0], out[1], np.abs(np.array(out[2:]))  # G: D x n
    D = Y.shape[0]
    A = np.abs(Y)
    Gs = np.maximum(G[:, :-1], G[:, 1:])  # per step: max over its two ends
    As = np.maximum(A[:, :-1], A[:, 1:])
    integ = float(np.sum(Gs * math.sqrt(D) * (atol + (rtol + 4 * EPS) * As)))
    rounding = 2 * (n_terms + 8) * EPS * float(np.max(absterms))
    h0 = float(hv[0])
    scale = max(1.0, abs(h0))
    delta = hv - h0
    drift = float(np.max(np.abs(delta))) / scale
    thr = (C_EST * integ + rounding) / scale
    return LawDrift(label=label, expr=_display(problem, h), latex=_display(problem, h, latex=True), role=role,
                    h0=h0, drift=drift, delta_min=float(np.min(delta)), delta_max=float(np.max(delta)),
                    threshold=thr, integration_part=integ, rounding_part=rounding,
                    grad_max=float(np.max(np.sqrt(np.sum(G ** 2, axis=0)))),
                    headroom=drift / thr if thr > 0 else float("inf"))


def perturbed_controls(result: LawsResult) -> list:
    """Default negative controls: each law with one coefficient multiplied by 3/2 — the coefficient of
    its exponential if it has one (the 1/m of SEN), else of its first monomial in the order of the
    trained coordinates.  Each is ``law + c/2 * monomial``: conserved only if that monomial is."""
    problem = result.problem
    Es = [E for E, _ in problem.exps]
    gens = list(problem.params) + Es
    out = []
    for i, h in enumerate(result.laws):
        P = sp.Poly(sp.expand(h), *gens)
        terms = P.terms()
        pick = None
        for E in Es:
            mono = tuple(1 if g == E else 0 for g in gens)
            if P.coeff_monomial(mono) != 0:
                pick = mono
                break
        if pick is None:
            pick = max((m for m, _ in terms), key=lambda m: (sum(m) > 0, m))
        c = P.coeff_monomial(pick)
        mono = sp.Mul(*[g ** e for g, e in zip(gens, pick)])
        out.append((f"h{i + 1} with coeff of {_display(problem, mono)} x3/2",
                    sp.expand(h + sp.Rational(1, 2) * c * mono)))
    return out


def _spec_of(x):
    if isinstance(x, ModelSpec):
        return x
    if isinstance(x, str):
        return named_model(x)
    if isinstance(x, dict):
        return ModelSpec.from_dict(x)
    return None


def confirm_laws(result_or_spec, *, classifier: str = "random-mlp", seed: int = 0, horizon: float = 30.0,
                 rtol: float = 1e-11, atol: float = 1e-13, controls=None, spec: ModelSpec | None = None,
                 theta_scale: float = 0.5, theta0=None, min_displacement: float = 0.05, min_loss_drop: float = 1e-3,
                 degree: int = 2) -> Confirmation:
    r"""Integrate the real gradient flow of the model and follow every law found (and the controls).

    ``result_or_spec``: a :class:`LawsResult`, or anything :func:`run_laws` accepts (then it is run
    with ``degree``).  ``spec`` (optional with a LawsResult) tells how the features split into
    sentences; without it the classifier sees all features as one block.  ``controls``: ``None`` for
    :func:`perturbed_controls`, else a list of SymPy expressions or ``(label, expr)`` pairs (in θ and
    the E symbols of the problem).  ``theta0``: the start (default: seeded
    :math:`\mathcal N(0,\text{theta\_scale}^2)`).  Returns a :class:`Confirmation`.
    """
    t_start = time.perf_counter()
    if isinstance(result_or_spec, LawsResult):
        result = result_or_spec
    else:
        spec = spec or _spec_of(result_or_spec)
        result = run_laws(result_or_spec, degree)
    problem = result.problem
    if problem is None:
        raise ValueError("the LawsResult carries no FlowProblem")
    if not horizon > 0:
        raise ValueError(f"horizon: expected > 0, got {horizon!r}")
    t_engine = time.perf_counter()

    fj, n_phi = _features(problem)
    blocks = 1
    if spec is not None and not problem.single_field and n_phi % len(spec.sentences) == 0:
        blocks = len(spec.sentences)
    rng = np.random.default_rng([seed, 1])
    Fg, detail = _classifier(classifier, n_phi, blocks, problem.single_field, rng)
    rates = np.array([float(r) for r in problem.rates])

    def grad_L(y):
        ph, J = fj(*y)
        _, g = Fg(*ph)
        return np.asarray(g, dtype=float) @ np.asarray(J, dtype=float).reshape(n_phi, -1)

    def loss(y):
        ph, _ = fj(*y)
        return float(Fg(*ph)[0])

    if theta0 is None:
        theta0 = np.random.default_rng([seed, 0]).normal(0.0, theta_scale, problem.D)
    theta0 = np.array(theta0, dtype=float).reshape(problem.D)
    # central-difference check of the derived gradient at theta0
    g0 = grad_L(theta0)
    hstep = 1e-6
    fd = np.array([(loss(theta0 + hstep * e) - loss(theta0 - hstep * e)) / (2 * hstep) for e in np.eye(problem.D)])
    grad_check = float(np.linalg.norm(fd - g0) / max(np.linalg.norm(g0), 1e-300))
    t_build = time.perf_counter()

    sol = solve_ivp(lambda t, y: -rates * grad_L(y), (0.0, float(horizon)), theta0, method="DOP853",
                    rtol=rtol, atol=atol)
    Y = sol.y
    t_int = time.perf_counter()

    losses = np.array([loss(Y[:, j]) for j in range(Y.shape[1])])
    loss0, lossT = float(losses[0]), float(losses[-1])
    monotone = bool(np.all(np.diff(losses) <= 1e-9 * max(1.0, abs(loss0))))
    disp = float(np.linalg.norm(Y[:, -1] - theta0))
    disp_rel = disp / max(1.0, float(np.linalg.norm(theta0)))
    drop = (loss0 - lossT) / max(abs(loss0), 1e-300)
    moved = disp_rel >= min_displacement and drop >= min_loss_drop

    laws = [law_drift(problem, h, Y, rtol=rtol, atol=atol, label=f"h{i + 1}", role="law")
            for i, h in enumerate(result.laws)]
    if controls is None:
        controls = perturbed_controls(result)
    ctrl = []
    for i, c in enumerate(controls):
        label, expr = c if isinstance(c, tuple) else (f"control {i + 1}", c)
        ctrl.append(law_drift(problem, expr, Y, rtol=rtol, atol=atol, label=label, role="control"))
    t_end = time.perf_counter()

    rate_of = {}
    for g, syms in problem.groups:
        rate_of[g] = str(problem.rates[problem.params.index(syms[0])])
    return Confirmation(
        model=result.model, D=problem.D, classifier="fixed-loss" if problem.single_field else classifier,
        classifier_detail=detail, blocks=blocks, seed=seed, theta_scale=theta_scale, horizon=float(horizon),
        rtol=rtol, atol=atol, method="DOP853", n_steps=Y.shape[1] - 1, nfev=int(sol.nfev),
        integrator_status=int(sol.status), theta0_norm=float(np.linalg.norm(theta0)), displacement=disp,
        displacement_rel=disp_rel, path_length=float(np.sum(np.linalg.norm(np.diff(Y, axis=1), axis=0))),
        loss0=loss0, lossT=lossT, loss_drop_rel=drop, loss_monotone=monotone, grad_check=grad_check,
        min_displacement=min_displacement, min_loss_drop=min_loss_drop, moved=moved, laws=laws, controls=ctrl,
        threshold_rule=threshold_rule(), rates=rate_of, theta0=theta0.tolist(), grad_check_max=GRAD_CHECK_MAX,
        seconds={"engine": t_engine - t_start, "build": t_build - t_engine, "integrate": t_int - t_build,
                 "laws": t_end - t_int, "total": t_end - t_start},
        t=sol.t, Y=Y, problem=problem)
