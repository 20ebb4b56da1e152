"""Where numba keeps compiled kernels: a folder named by a hash of every kernel's source.

numba's on-disk cache checks only the source file of the function it compiled.  A kernel that
inlines a function from another file (``kernels/scores.py`` calls the classifier of
``kernels/classifier.py``) would otherwise keep running its old machine code after that other
file changed — a silently stale result.  :func:`configure` points ``numba.config.CACHE_DIR`` at
``numerics/__pycache__/numba-<hash>``, where the hash covers the numerics package's kernel
sources and ``proofs/settings.py`` (the numba flags and kernel constants), so any edit to them
compiles afresh.  A ``NUMBA_CACHE_DIR`` chosen by the user is left alone.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

_HERE = Path(__file__).resolve().parent
# every file holding an @njit function or something one inlines (a new kernel folder goes here)
SOURCES = ("kernels", "experiments/floor.py", "../proofs/settings.py")


def source_hash() -> str:
    """SHA-256 (first 12 hex digits) over the kernel sources, in a fixed order."""
    h = hashlib.sha256()
    for item in SOURCES:
        p = (_HERE / item).resolve()
        files = sorted(p.glob("*.py")) if p.is_dir() else [p]
        for f in files:
            h.update(f.name.encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:12]


def configure() -> str | None:
    """Point numba's cache at the folder for this source hash (before any kernel is decorated);
    return it, or None when the user set ``NUMBA_CACHE_DIR`` or no folder is writable."""
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None
    import numba  # deferred: imported only to set its cache folder

    target = _HERE / "__pycache__" / f"numba-{source_hash()}"
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only install: numba's own choice (a user cache folder)
        return None
    if not os.access(target, os.W_OK):
        return None
    numba.config.CACHE_DIR = str(target)
    return str(target)
