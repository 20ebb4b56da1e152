"""The PAD derivation (proofs/padding.py, claims S8 and N5) and its controls."""
import numpy as np
import pytest
import sympy as sp

from attndyn.proofs.claims import padding as pad_claims
from attndyn.proofs.padding import effective_m, K_PAD, P_SCORE, pad_sen_prediction, R_REAL
from attndyn.proofs.sen import sen_curve


def test_s8_is_verified_and_its_control_refuted():
    assert pad_claims.s8_pad_sen().status == "verified"
    assert pad_claims.neg_pad_sen_padded_length().status == "refuted"


def test_a_wrong_coefficient_in_the_stated_drift_is_refuted_and_printed(monkeypatch):
    right = pad_claims.pad_drift_stated
    monkeypatch.setattr(pad_claims, "pad_drift_stated", lambda S=None: sp.Rational(3, 2) * right())
    assert pad_claims.s8_pad_sen().status == "refuted"
    monkeypatch.setattr(pad_claims, "pad_drift_stated", right)
    # the printed statement is rendered from the expression the check compares
    assert sp.latex(pad_claims.readable(right())) in pad_claims._stated_relation()


def test_the_control_passes_only_at_p_zero():
    """H with m = r + k_P is exactly the padded H when p = 0: the control is refuted because p moves."""
    assert sp.simplify(effective_m().subs(P_SCORE, 0) - (R_REAL + K_PAD)) == 0


def test_prediction_reduces_to_the_closed_forms():
    s = np.linspace(0.0, 4.0, 400)
    # no PAD tokens: the paper's curve with m = r
    assert np.allclose(pad_sen_prediction(s, np.zeros_like(s), 16, 0), sen_curve(s, 16.0), rtol=1e-12)
    # PAD at a constant score p: the closed form with m = r + k e^p (exact, any spacing)
    p = np.full_like(s, -1.3)
    assert np.allclose(pad_sen_prediction(s, p, 16, 35), sen_curve(s, 16 + 35 * np.exp(-1.3)), rtol=1e-12)
    # a falling PAD score: between the two closed forms m = r + k and m = r
    p = np.linspace(0.0, -3.0, len(s))
    y = pad_sen_prediction(s, p, 20, 10)
    assert np.all(y[1:] <= sen_curve(s, 20.0)[1:] + 1e-12) and np.all(y[1:] >= sen_curve(s, 30.0)[1:] - 1e-12)


def test_prediction_rejects_bad_paths():
    from attndyn.proofs.errors import UsageError

    with pytest.raises(UsageError, match="same length"):
        pad_sen_prediction([0, 1], [0], 1, 1)
    with pytest.raises(UsageError, match="r, k"):
        pad_sen_prediction([0, 1], [0, 0], 0, 0)


def test_numeric_claims_decide_on_their_own_residuals():
    from attndyn.numerics.claims import padding as npad

    s = np.linspace(0, 3, 200)[:, None] * np.ones((1, 2))
    p = np.linspace(0, -2, 200)
    y = np.stack([pad_sen_prediction(s[:, t], p, 20, 10) for t in range(2)], axis=1)
    run = {"s": s, "y": y, "p": p, "u": np.zeros(200), "r": 20, "k": 10}
    assert np.max(np.abs(npad.residuals(run, "pad"))) < 1e-12
    assert np.max(np.abs(npad.residuals(run, "padded-length"))) > 0.05
