"""attndyn.numerics.flow.systems (reduced and full gradient flow) and attndyn.numerics.claims.flow (N1, N2)."""
import numpy as np
import pytest

from attndyn.numerics.model import classifiers as clf
from attndyn.numerics.flow import full as flow_full, solvers as flow_solvers, systems as F
from attndyn.numerics.claims import flow as FC
from attndyn.numerics.data.corpus import Corpus
from attndyn.proofs.errors import UsageError
from attndyn.proofs.sen import sen_H
from attndyn.proofs.settings import FLOW, NUMERIC

KINDS = ("fc", "tc", "tl")


def small_system(kind, seed=0, lr_v=1.0, lr_k=1.0, lr_c=1.0, m=6.0, **kw):
    """4 topic words, 2 classes, d_e = 3, random nonzero initial scores, unequal sentence fractions."""
    rng = np.random.default_rng(seed)
    T, d, K = 4, 3, 2
    pi = rng.uniform(0.5, 1.5, T)
    return F.ReducedSystem(q_norm=0.9, m=m, y=np.arange(T) % K, pi=pi / pi.sum(),
                           v0=rng.normal(0, 0.5, (T, d)), s0=rng.normal(0, 0.5, T), classifier=kind,
                           theta0=clf.init_classifier(kind, d, K, rng), lr_v=lr_v, lr_k=lr_k,
                           lr_c=lr_c, **kw)


def fd_gradient(f, x, h=FLOW.fd_step):
    g = np.empty_like(x)
    for i in range(x.size):
        e = np.zeros_like(x)
        e[i] = h
        g[i] = (f(x + e) - f(x - e)) / (2 * h)
    return g


def assert_close_scaled(a, b, rtol):
    scale = max(np.abs(a).max(), np.abs(b).max(), 1e-300)
    assert np.abs(a - b).max() <= rtol * scale, (np.abs(a - b).max(), scale)


def make_corpus(n, T, K, V_nt, m, seed=0, lengths=None):
    """n training sentences: topic word uniform among T (label t mod K) + m (or a random length
    from ``lengths``) non-topic words uniform among V_nt (ids T..T+V_nt-1)."""
    rng = np.random.default_rng(seed)
    t = rng.integers(0, T, n)
    L = np.full(n, m) if lengths is None else rng.choice(lengths, n)
    off = np.zeros(n + 1, np.int64)
    np.cumsum(L + 1, out=off[1:])
    ids = T + rng.integers(0, V_nt, off[-1])
    ids[off[:-1]] = t
    tl = np.arange(T) % K
    return Corpus(ids.astype(np.int64), off, tl[t], np.zeros(n, np.int8), K, T + V_nt,
                  np.arange(T), tl)


# --------------------------------------------------------------------------- vector fields

@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("grouped", [False, True])
def test_reduced_field_is_minus_scaled_gradient_of_the_loss(kind, grouped):
    """F = -(eta_v dL/dv, eta_k |q|^2 dL/ds, eta_c dL/dtheta), checked by central differences."""
    kw = {}
    if grouped:  # two length groups per topic word
        rng = np.random.default_rng(5)
        kw = {"m": rng.integers(1, 12, (4, 2)).astype(float), "pi": rng.uniform(0, 1, (4, 2)) / 4}
    base = small_system(kind, seed=3, lr_v=0.7, lr_k=1.3, lr_c=0.4)
    sysm = base.replace(**kw) if kw else base
    x = sysm.initial_state() + np.random.default_rng(4).normal(0, 0.1, sysm.state_size)
    Fx = F.reduced_vector_field(sysm, x)
    g = fd_gradient(lambda z: F.reduced_loss(sysm, z), x)
    T, d = sysm.T, sysm.d_e
    D = np.concatenate([np.full(T * d, sysm.lr_v), np.full(T, sysm.lr_k * sysm.q_norm ** 2),
                        np.full(sysm.state_size - T * d - T, sysm.lr_c)])
    assert_close_scaled(Fx, -D * g, FLOW.fd_rtol)
    if kind == "fc":  # the fixed classifier has no parameters in the state
        assert sysm.state_size == T * d + T


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("train_query", [False, True])
def test_full_field_is_minus_scaled_gradient_of_the_loss(kind, train_query):
    """Full model on a tiny corpus with unequal lengths and repeated words, central differences."""
    c = make_corpus(9, 3, 2, 5, 3, seed=1, lengths=[1, 2, 4])
    rng = np.random.default_rng(2)
    fs = flow_full.full_system(c, rng.normal(0, 0.7, 2), classifier=kind, d_e=3, emb_std=0.5,
                       keys0=rng.normal(0, 0.5, (c.vocab_size, 2)), seed=3, lr_v=0.6, lr_k=1.7,
                       lr_c=0.3, lr_q=0.9, train_query=train_query)
    x = fs.initial_state()
    Fx = flow_full.full_vector_field(fs, x)
    g = fd_gradient(lambda z: flow_full.full_loss(fs, z), x)
    V, d, dk = fs.V, fs.d_e, fs.q.size
    blocks = [np.full(V * d, fs.lr_v)]
    if train_query:
        blocks += [np.full(V * dk, fs.lr_k), np.full(dk, fs.lr_q)]
    else:
        blocks += [np.full(V, fs.lr_k * fs.q_norm ** 2)]
    blocks.append(np.full(x.size - sum(b.size for b in blocks), fs.lr_c))
    assert_close_scaled(Fx, -np.concatenate(blocks) * g, FLOW.fd_rtol)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("lengths", [None, [2, 5, 9]])
def test_full_model_with_frozen_nontopic_words_at_zero_is_the_reduced_system(kind, lengths):
    """With non-topic embeddings and scores at 0 the full loss *is* the reduced loss (pi_t and
    m, or its length groups, read off the corpus) and the topic words' fields coincide."""
    c = make_corpus(60, 4, 2, 30, 5, seed=2, lengths=lengths)
    rng = np.random.default_rng(0)
    E = np.zeros((c.vocab_size, 3))
    E[:4] = rng.normal(0, 0.5, (4, 3))
    keys = np.zeros((c.vocab_size, 2))
    keys[:4] = rng.normal(0, 1, (4, 2))
    fs = flow_full.full_system(c, rng.normal(0, 1, 2), classifier=kind, embeddings0=E, keys0=keys, seed=1,
                       lr_v=0.8, lr_k=1.2)
    red = fs.reduced()
    assert (red.m.ndim == 2) == (lengths is not None)
    assert red.pi.sum() == pytest.approx(1.0, rel=1e-14)
    xf, xr = fs.initial_state(), red.initial_state()
    assert flow_full.full_loss(fs, xf) == pytest.approx(F.reduced_loss(red, xr), rel=1e-13)
    Ff, Fr = flow_full.full_vector_field(fs, xf), F.reduced_vector_field(red, xr)
    V, d, T = fs.V, fs.d_e, red.T
    np.testing.assert_allclose(Ff[:V * d].reshape(V, d)[:T], Fr[:T * d].reshape(T, d), rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(Ff[V * d:V * d + V][:T], Fr[T * d:T * d + T], rtol=1e-12, atol=1e-16)
    np.testing.assert_allclose(Ff[V * d + V:], Fr[T * d + T:], rtol=1e-12, atol=1e-16)


# --------------------------------------------------------------------------- conservation

@pytest.fixture(scope="module")
def small_runs():
    """Reduced flow, unequal learning rates and nonzero s0 (the general SEN form)."""
    return {k: flow_solvers.reduced_flow(small_system(k, seed=7, lr_v=0.5, lr_k=2.0, lr_c=0.8), horizon=300.0,
                              n_save=60) for k in KINDS}


@pytest.mark.parametrize("kind", KINDS)
def test_reduced_flow_conserves_H(small_runs, kind):
    r = small_runs[kind]
    assert r.ok, r.message
    moved = np.abs(r.s[-1] - r.s[0]).max()
    assert moved > 1.0  # the identity is tested on a trajectory that moves
    assert r.loss[-1] < 0.5 * r.loss[0]
    assert r.sen_drift().max() <= NUMERIC.sen_flow_max
    # the same numbers from the saved arrays directly
    H = sen_H(np.sum(r.v ** 2, -1), r.s, r.system.q_norm ** 2, r.system.m, lr_ratio=0.25)
    assert np.abs(H - H[0]).max() <= NUMERIC.sen_flow_max * np.maximum(1, np.abs(H[0])).min()


def test_n1_verdict_rejects_a_wrong_H_on_the_same_trajectories(small_runs):
    status, reason, _ = FC.sen_flow_verdict(small_runs)
    assert status == "verified", reason
    wrong = lambda v_sq, s, q_sq, m, lr_ratio: sen_H(v_sq, s, q_sq, m + 1, lr_ratio)  # noqa: E731
    status, reason, details = FC.sen_flow_verdict(small_runs, H=wrong)
    assert status == "refuted", reason
    assert details["max_drift"] > 1e3 * NUMERIC.sen_flow_max
    inverted = lambda v_sq, s, q_sq, m, lr_ratio: sen_H(v_sq, s, q_sq, m, 1 / lr_ratio)  # noqa: E731
    assert FC.sen_flow_verdict(small_runs, H=inverted)[0] == "refuted"


def test_n1_verdict_errors_on_a_failed_or_motionless_run(small_runs):
    short = flow_solvers.reduced_flow(small_system("fc", seed=7), horizon=1e-3, n_save=3)
    assert FC.sen_flow_verdict({"fc": short})[0] == "error"
    failed = flow_solvers.reduced_flow(small_system("fc", seed=7, lr_v=1e9), horizon=10.0, max_steps=50)
    status, reason, _ = FC.sen_flow_verdict({"fc": failed})
    assert status == "error" and "failed" in reason


def test_frozen_keys_break_the_identity():
    """KF ablation: scores frozen, embeddings move, so H drifts (the flow still conserves nothing)."""
    r = flow_solvers.reduced_flow(small_system("fc", seed=7, train_keys=False), horizon=100.0, n_save=20)
    assert r.ok and np.all(r.s == r.s[0])
    assert r.sen_drift().max() > 1e-3


def test_unequal_lengths_break_the_identity():
    """Two length groups per topic word: no single m makes H conserved (m_eff = weighted mean)."""
    base = small_system("fc", seed=7)
    pi = np.repeat(base.pi[:, None] / 2, 2, axis=1)
    grouped = base.replace(m=np.tile([1.0, 20.0], (base.T, 1)), pi=pi)
    r = flow_solvers.reduced_flow(grouped, horizon=300.0, n_save=40)
    assert r.ok
    np.testing.assert_allclose(grouped.m_eff, 10.5)
    assert r.sen_drift().max() > 1e3 * NUMERIC.sen_flow_max
    # equal groups are the ungrouped system
    same = base.replace(m=np.full((base.T, 2), 6.0), pi=pi)
    r1 = flow_solvers.reduced_flow(same, t_eval=[0, 50.0])
    r0 = flow_solvers.reduced_flow(base, t_eval=[0, 50.0])
    np.testing.assert_allclose(r1.v[-1], r0.v[-1], rtol=1e-8)


def test_tl_kinks_follow_the_gd_limit():
    """TL's Filippov flow (sliding along ReLU kinks) is the eta -> 0 limit of GD; the raw
    piecewise field chatters at the first sliding mode and exhausts its step budget."""
    sysm = F.paper_reduced_system("tl", seed=0)
    T = 20.0
    fl = flow_solvers.reduced_flow(sysm, t_eval=[0.0, T])
    assert fl.ok and fl.n_events > 0
    raw = flow_solvers.reduced_flow(sysm, t_eval=[0.0, T], relu_switching=False, max_steps=400)
    assert raw.status == "budget" and "undecided: budget exhausted" in raw.message

    def err(eta):
        g = flow_solvers.reduced_gd(sysm, eta, int(round(T / eta)))
        return max([np.abs(g.v[-1] - fl.v[-1]).max(), np.abs(g.s[-1] - fl.s[-1]).max()]
                   + [np.abs(g.theta[k][-1] - fl.theta[k][-1]).max() for k in g.theta])

    e1, e4 = err(0.04), err(0.01)
    assert e4 < e1 / 4 and e4 < 1e-4, (e1, e4)


# --------------------------------------------------------------------------- discrete GD (N2)

def test_gd_drift_shrinks_linearly_with_the_step():
    sysm = small_system("tc", seed=2, lr_v=0.5, lr_k=2.0)
    etas = (0.2, 0.1, 0.05)
    res = FC.gd_residuals(sysm, etas, horizon=20.0)
    slope = FC.fit_order(etas, res)
    assert NUMERIC.gd_slope_range[0] <= slope <= NUMERIC.gd_slope_range[1], (res, slope)
    assert FC.order_verdict({"tc": slope})[0] == "verified"


def test_gd_with_a_tiny_step_matches_the_flow():
    sysm = small_system("fc", seed=2)
    fl = flow_solvers.reduced_flow(sysm, t_eval=[0, 5.0])
    gd = flow_solvers.reduced_gd(sysm, 1e-3, 5000, save_every=1000)
    assert len(gd.t) == 6 and gd.t[-1] == pytest.approx(5.0)
    assert np.abs(gd.v[-1] - fl.v[-1]).max() < 1e-3


def test_order_verdict_rejects_a_second_order_residual():
    etas = np.array(FLOW.gd_etas)
    slope = FC.fit_order(etas, 3.0 * etas ** 2)
    assert slope == pytest.approx(2.0, rel=1e-12)
    assert FC.order_verdict({"control": slope})[0] == "refuted"
    assert FC.order_verdict({"control": FC.fit_order(etas, 0.5 * etas)})[0] == "verified"


# --------------------------------------------------------------------------- full vs reduced

def _full_vs_reduced_error(n, V_nt):
    c = make_corpus(n, 4, 2, V_nt, 5, seed=0)
    rng = np.random.default_rng(1)
    E = np.zeros((c.vocab_size, 4))
    E[:4] = rng.normal(0, 0.5, (4, 4))
    fs = flow_full.full_system(c, rng.normal(0, 1, 3), classifier="fc", embeddings0=E, seed=2)
    tt = np.linspace(0, 30.0, 4)
    fr, rr = flow_solvers.full_flow(fs, tt), flow_solvers.reduced_flow(fs.reduced(), tt)
    assert fr.ok and rr.ok
    v, s = fr.topic()
    moved = np.abs(rr.s[-1] - rr.s[0]).max()
    return max(np.abs(s - rr.s).max(), np.abs(v - rr.v).max()) / moved, fr


def test_full_flow_approaches_the_reduced_flow_with_many_rare_words():
    """Large vocabulary, non-topic words starting at 0: the full model's topic words follow the
    reduced system; what is left comes from each rare word fitting its few sentences, so it
    shrinks like 1/(number of sentences)."""
    e_small, _ = _full_vs_reduced_error(200, 5000)
    e_large, fr = _full_vs_reduced_error(2000, 5000)
    assert e_large < 0.01, e_large
    assert e_large < 0.2 * e_small, (e_small, e_large)
    # the non-topic words did move (the approximation is measured, not imposed) ...
    assert np.abs(fr.scores[-1, 4:]).max() > 0
    # ... and H is nearly conserved on the full model too
    assert fr.sen_drift(m=5.0).max() < 0.05


# --------------------------------------------------------------------------- failures and input

def test_failures_come_back_as_a_status():
    stiff = flow_solvers.reduced_flow(small_system("tc", lr_v=1e9, lr_k=1e9, lr_c=1e9), horizon=10.0, max_steps=200)
    assert stiff.status == "budget" and "undecided: budget exhausted" in stiff.message
    assert len(stiff.t) >= 1 and stiff.t[-1] < 10.0  # the samples reached are kept
    gd = flow_solvers.reduced_gd(small_system("tc", lr_v=1e200, lr_c=1e200), 1.0, 50)
    assert gd.status == "failed" and "non-finite" in gd.message and np.all(np.isfinite(gd.v))
    far = flow_solvers.reduced_flow(small_system("fc"), horizon=1e300, max_steps=20)
    assert far.status == "budget" and "1e+300" in far.message
    # a blow-up (x' = x^2 from 1 explodes at tau = 1): collapse or non-finite, never an exception
    tr = flow_solvers.integrate(lambda x: x ** 2, np.ones(1), np.linspace(0, 2, 9))
    assert tr.status == "failed" and "tau = 1" in tr.message and tr.t[-1] <= 1.0
    ok = tr.t < 0.9
    assert ok.sum() == 4
    np.testing.assert_allclose(tr.X[ok, 0], 1 / (1 - tr.t[ok]), rtol=1e-8)


def test_log_grid_and_long_horizon():
    t = flow_solvers.time_grid(1e6, 50)
    assert t[0] == 0 and t[-1] == 1e6 and np.all(np.diff(t) > 0)
    np.testing.assert_allclose(np.diff(np.log(t[1:])), np.log(t[2] / t[1]))
    r = flow_solvers.reduced_flow(F.paper_reduced_system("fc", seed=0), t_eval=t)
    assert r.ok and r.n_steps < 1000
    assert np.all(np.diff(r.loss) < 0)  # gradient flow decreases the loss
    assert r.sen_drift().max() <= NUMERIC.sen_flow_max


def test_same_system_same_result():
    a = flow_solvers.reduced_flow(F.paper_reduced_system("tl", seed=3), horizon=5.0, n_save=5)
    b = flow_solvers.reduced_flow(F.paper_reduced_system("tl", seed=3), horizon=5.0, n_save=5)
    assert np.array_equal(a.v, b.v) and np.array_equal(a.theta["W1"], b.theta["W1"])


@pytest.mark.parametrize("change, field", [
    ({"m": 0.5}, "m"),
    ({"m": np.ones(3)}, "m"),
    ({"lr_v": 0.0}, "lr_v"),
    ({"lr_k": -1.0}, "lr_k"),
    ({"lr_c": float("nan")}, "lr_c"),
    ({"q_norm": 0.0}, "q_norm"),
    ({"v0": np.zeros((4, 2))}, "theta0"),
    ({"s0": np.zeros(5)}, "s0"),
    ({"y": np.array([0, 1, 2, 0])}, "y"),
    ({"y": np.zeros(3, dtype=int)}, "y"),
    ({"pi": np.full(4, -0.25)}, "pi"),
    ({"pi": np.ones((4, 2))}, "pi"),
    ({"classifier": "xx"}, "classifier"),
    ({"theta0": {"W1": np.zeros((3, 2))}}, "theta0"),
])
def test_bad_reduced_system_names_the_field(change, field):
    with pytest.raises(UsageError, match=field):
        small_system("fc").replace(**change)


def test_bad_solver_and_full_input_names_the_field():
    s = small_system("fc")
    for kw, field in (({"horizon": -1.0}, "horizon"), ({"horizon": float("inf")}, "horizon"),
                      ({"t_eval": [0, 2, 1]}, "t_eval"), ({"horizon": 1.0, "rtol": 0}, "rtol"),
                      ({"horizon": 1.0, "max_steps": 0}, "max_steps"), ({}, "horizon")):
        with pytest.raises(UsageError, match=field):
            flow_solvers.reduced_flow(s, **kw)
    with pytest.raises(UsageError, match="eta"):
        flow_solvers.reduced_gd(s, 0.0, 10)
    with pytest.raises(UsageError, match="n_steps"):
        flow_solvers.reduced_gd(s, 0.1, -1)
    c = make_corpus(5, 2, 2, 3, 2)
    with pytest.raises(UsageError, match="embeddings0"):
        flow_full.full_system(c, np.ones(2), embeddings0=np.zeros((3, 2)))
    with pytest.raises(UsageError, match="keys0"):
        flow_full.full_system(c, np.ones(2), d_e=2, keys0=np.zeros((c.vocab_size, 3)))
    with pytest.raises(UsageError, match="n_classes"):
        flow_full.full_system(c, np.ones(2), d_e=2, theta0={"W": np.zeros((2, 3))})
    with pytest.raises(UsageError, match="lr_q"):
        flow_full.full_system(c, np.ones(2), d_e=2, lr_q=0)
