"""Result files: atomic writes that still get the user's umask (not mkstemp's 0600)."""
from __future__ import annotations

import os
import stat

import pytest

from attndyn.numerics.outputs import atomic_replace, current_umask, write_json


@pytest.fixture
def umask():
    old = os.umask(0o022)
    os.umask(old)
    yield lambda mask: os.umask(mask)
    os.umask(old)


@pytest.mark.parametrize("mask, mode", [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664), (0o000, 0o666)])
def test_atomic_files_follow_the_umask(tmp_path, umask, mask, mode):
    umask(mask)
    assert current_umask() == mask
    f = atomic_replace(tmp_path / "a.bin", b"data")
    assert stat.S_IMODE(f.stat().st_mode) == mode
    j = write_json(tmp_path / "summary.json", {"x": 1})
    assert stat.S_IMODE(j.stat().st_mode) == mode
    # like a plainly created file beside them (a figure)
    plain = tmp_path / "figure.png"
    plain.write_bytes(b"png")
    assert stat.S_IMODE(plain.stat().st_mode) == mode
    assert f.read_bytes() == b"data"
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_replacing_a_file_gets_the_umask_mode_too(tmp_path, umask):
    umask(0o022)
    target = tmp_path / "verify.json"
    target.write_text("old")
    target.chmod(0o600)
    atomic_replace(target, b"new")
    assert stat.S_IMODE(target.stat().st_mode) == 0o644 and target.read_bytes() == b"new"
