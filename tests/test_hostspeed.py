"""numerics/experiments/hostspeed.py: the host-speed probe of `attndyn bench --all` and its spread."""
import pytest

from attndyn.numerics.experiments import hostspeed


def test_probe_times_both_workloads():
    p = hostspeed.probe("here")
    assert p["when"] == "here" and p["utc"]
    assert 0.0 < p["python_loop_s"] < 60.0 and 0.0 < p["numpy_gather_s"] < 60.0


def _p(py, ga):
    return {"when": "x", "utc": "t", "python_loop_s": py, "numpy_gather_s": ga}


def test_spread_is_slowest_over_fastest_and_needs_two_probes():
    assert hostspeed.spread([_p(1.0, 1.0)]) is None
    s = hostspeed.spread([_p(0.15, 0.2), _p(0.3, 0.2), _p(0.2, 0.2)])
    assert s["python_loop_s"] == {"min": 0.15, "max": 0.3, "ratio": pytest.approx(2.0)}
    assert s["numpy_gather_s"]["ratio"] == 1.0  # a steady host: no spread
    text = hostspeed.line([_p(0.15, 0.2), _p(0.3, 0.2)])
    assert "0.150–0.300 s (2.00× spread)" in text and "(1.00×)" in text
    assert hostspeed.line([]) == "host speed probe: not recorded"
