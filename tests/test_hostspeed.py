"""numerics/experiments/hostspeed.py: the host-speed probe of `attndyn bench --all`, its spread, and the host's description."""
import subprocess
from pathlib import Path

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


ROOT = Path(__file__).resolve().parents[1]


def test_describe_names_this_cpu_its_caches_and_the_commit():
    d = hostspeed.describe()
    assert set(d) == {"cpu", "caches", "isa", "commit"}
    if Path("/proc/cpuinfo").exists():
        assert d["cpu"] and set(d["isa"]) <= set(hostspeed.ISA_FLAGS)
    if hostspeed.CACHES.exists():
        assert "L2" in d["caches"] and all(k in ("L1d", "L2", "L3", "L4") for k in d["caches"])
    head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:  # a checkout (CI's clone is one): the commit being timed, marked when edited
        assert d["commit"].split("+")[0] == head.stdout.strip()


def test_host_line_names_each_field_and_is_empty_for_an_old_run():
    host = {"cpu": "Some CPU", "caches": {"L1d": "48K", "L2": "2048K", "L3": "107520K"}, "isa": ["avx2"],
            "commit": "abc1234"}
    assert hostspeed.host_line(host) == "host Some CPU; L1d 48K, L2 2048K, L3 107520K; avx2; commit abc1234"
    assert hostspeed.host_line({**host, "commit": None}).endswith("commit not recorded")
    assert hostspeed.host_line(None) == ""
