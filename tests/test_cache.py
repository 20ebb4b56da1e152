"""numerics/cache.py: numba's cache folder follows the kernel sources, so no stale kernel runs."""
from __future__ import annotations

import os
import subprocess
import sys

import pytest

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


# ------------------------------------------------------------------ processes sharing the folder

N_SAVES = 60  # per process: enough overlapping read-modify-writes that an unlocked index loses entries


def _save_signatures(folder: str, first: int, start) -> None:
    from numba.core.caching import IndexDataCacheFile

    f = IndexDataCacheFile(folder, "kernel", ("stamp", 1))
    start.wait()
    for i in range(first, first + N_SAVES):
        f.save(("signature", i), ("machine code", i))


def test_two_processes_saving_signatures_of_one_kernel_keep_every_entry(tmp_path):
    """numba's save reads the index, picks the first free data file and rewrites the index: two
    processes (two pytest-xdist workers compiling the float64 and float32 kernel) must not drop
    each other's entries, nor point a signature at the other's data (numba's load does not check)."""
    import multiprocessing

    from numba.core.caching import IndexDataCacheFile

    assert getattr(IndexDataCacheFile.save, "attndyn_locked", False)  # done by `import attndyn.numerics`
    ctx = multiprocessing.get_context("fork")  # the children inherit the patched class
    start = ctx.Event()
    procs = [ctx.Process(target=_save_signatures, args=(str(tmp_path), j * N_SAVES, start)) for j in range(2)]
    for p in procs:
        p.start()
    start.set()
    for p in procs:
        p.join(60)
        assert p.exitcode == 0
    f = IndexDataCacheFile(str(tmp_path), "kernel", ("stamp", 1))
    assert len(f._load_index()) == 2 * N_SAVES
    for i in range(2 * N_SAVES):
        assert f.load(("signature", i)) == ("machine code", i), i


KERNEL = '''
import numba


@numba.njit(cache=True, parallel=True)  # parallel: a compile long enough (~1 s) for the two to overlap
def norm2(x):
    s = 0.0
    for i in numba.prange(x.shape[0]):
        s += x[i] * x[i]
    return s
'''

COMPILE_TOGETHER = '''
import os, pathlib, sys, time
import attndyn.numerics  # patches numba's dispatcher and cache
import numpy as np
sys.path.insert(0, sys.argv[1])
import kernel_mod
ready = pathlib.Path(sys.argv[1], "ready")
(ready / str(os.getpid())).touch()
end = time.monotonic() + 60
while len(list(ready.iterdir())) < 2 and time.monotonic() < end:  # both imported: compile together
    time.sleep(0.005)
kernel_mod.norm2(np.ones(3))
print(sum(kernel_mod.norm2.stats.cache_misses.values()), sum(kernel_mod.norm2.stats.cache_hits.values()))
'''


@pytest.mark.slow
def test_two_processes_needing_one_kernel_on_a_cold_cache_compile_it_once(tmp_path):
    """Two test workers starting together: the second waits for the first's compile and loads it."""
    (tmp_path / "kernel_mod.py").write_text(KERNEL)
    (tmp_path / "ready").mkdir()
    env = {**os.environ, "NUMBA_CACHE_DIR": str(tmp_path / "cache")}
    procs = [subprocess.Popen([sys.executable, "-c", COMPILE_TOGETHER, str(tmp_path)], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), [err for _, err in outs]
    misses, hits = zip(*(map(int, out.split()) for out, _ in outs))
    assert sorted(misses) == [0, 1] and sorted(hits) == [0, 1], outs
