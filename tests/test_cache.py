"""numerics/cache.py: numba's cache folder follows the kernel sources, so no stale kernel runs."""
from __future__ import annotations

import os
import subprocess
import sys

from attndyn.numerics import cache


def test_the_hash_covers_every_kernel_file_and_changes_with_any_of_them(tmp_path, monkeypatch):
    (tmp_path / "kernels").mkdir()
    (tmp_path / "kernels" / "a.py").write_text("x = 1\n")
    (tmp_path / "kernels" / "b.py").write_text("y = 2\n")
    (tmp_path / "settings.py").write_text("FLAGS = {}\n")
    monkeypatch.setattr(cache, "_HERE", tmp_path)
    monkeypatch.setattr(cache, "SOURCES", ("kernels", "settings.py"))
    h0 = cache.source_hash()
    (tmp_path / "kernels" / "b.py").write_text("y = 3\n")  # a file a kernel inlines from
    h1 = cache.source_hash()
    (tmp_path / "settings.py").write_text("FLAGS = {'fastmath': True}\n")
    h2 = cache.source_hash()
    assert len({h0, h1, h2}) == 3


def test_the_real_sources_exist_and_numba_uses_the_hashed_folder():
    for item in cache.SOURCES:
        assert (cache._HERE / item).exists(), item
    code = ("import attndyn.numerics, numba; from attndyn.numerics.kernels import scores; "
            "print(numba.config.CACHE_DIR); print(scores.epoch_scores._cache._cache_path)")
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out[0].endswith(f"numba-{cache.source_hash()}") and out[1].startswith(out[0])
    # a folder the user chose is kept
    env["NUMBA_CACHE_DIR"] = "/tmp/attndyn-user-cache"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                         check=True).stdout.split()
    assert out[0] == "/tmp/attndyn-user-cache"
