"""Where numba keeps compiled kernels: a folder named by a hash of every kernel's source.

numba's on-disk cache checks only the source file of the function it compiled.  A kernel that
inlines a function from another file (``kernels/scores.py`` calls the classifier of
``kernels/classifier.py``) would otherwise keep running its old machine code after that other
file changed — a silently stale result.  :func:`configure` points ``numba.config.CACHE_DIR`` at
``numerics/__pycache__/numba-<hash>``, where the hash covers the numerics package's kernel
sources and ``proofs/settings.py`` (the numba flags and kernel constants), so any edit to them
compiles afresh.  A ``NUMBA_CACHE_DIR`` chosen by the user is left alone.

Several processes may share that folder at once (``pytest -n 2``, the search's dask workers, two
``attndyn verify`` runs).  numba's :meth:`IndexDataCacheFile.save` is a read-modify-write of the
function's index file: it loads the index (signature → data file), picks the first free data-file
name, rewrites the index and writes the data.  Two processes saving *different* signatures of one
kernel (float64 and float32) at the same moment both pick ``….1.nbc``: the index keeps one entry
and the data file may hold the *other* signature's machine code, which numba's ``load`` does not
check against the key.  :func:`lock_index_writes` (run by :func:`configure`) therefore holds an
exclusive ``flock`` on ``<index>.lock`` around ``save`` and a shared one around ``load``, so an
index and the data files it names change together.  It also serialises *compiling* one kernel
across processes (an exclusive ``flock`` on ``<index>.compile`` around ``Dispatcher.compile``):
a process that needs a kernel another one is compiling waits and then loads the other's result
from the cache instead of compiling it a second time (two test workers starting on a cold cache).
The locks follow the call graph (a kernel's compile holds its own lock while it compiles the
kernels it calls), which has no cycles, so they cannot deadlock; numba's in-process compiler lock
is taken first, so threads of one process never wait on each other's file lock.
"""
from __future__ import annotations

import contextlib
import functools
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


@contextlib.contextmanager
def _flocked(path: str, exclusive: bool):
    """Hold ``flock`` on ``path`` (created if missing) for the block; without a writable folder
    or ``fcntl`` (not POSIX) the block runs unlocked, as numba itself would."""
    try:
        import fcntl  # deferred: POSIX only
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    except (ImportError, OSError):
        yield
        return
    try:
        fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        yield
    finally:
        os.close(fd)  # closing the descriptor releases the lock


def _locked(method, exclusive: bool):
    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with _flocked(self._index_path + ".lock", exclusive):
            return method(self, *args, **kwargs)
    wrapper.attndyn_locked = True
    return wrapper


def lock_index_writes() -> None:
    """Make numba's cache index safe for several processes: ``save`` (read index, add the key,
    write index and data) under an exclusive lock, ``load`` (read index, read data) under a
    shared one.  Idempotent."""
    from numba.core import caching  # deferred: imported only to patch its cache file class

    cls = caching.IndexDataCacheFile
    if not getattr(cls.save, "attndyn_locked", False):
        cls.save = _locked(cls.save, exclusive=True)
        cls.load = _locked(cls.load, exclusive=False)
    from numba.core.dispatcher import Dispatcher  # deferred: as above

    if not getattr(Dispatcher.compile, "attndyn_locked", False):
        Dispatcher.compile = _compile_once(Dispatcher.compile)


_COMPILING: set[str] = set()  # index files whose compile lock this process holds (recursion)


def _compile_once(compile_):
    """``Dispatcher.compile`` under an exclusive lock per cached kernel (see the module docstring)."""
    @functools.wraps(compile_)
    def compile(self, sig):
        from numba.core import sigutils  # deferred: as above
        from numba.core.compiler_lock import global_compiler_lock  # deferred: as above

        index = getattr(getattr(getattr(self, "_cache", None), "_cache_file", None), "_index_path", None)
        if index is None:  # a kernel without cache=True: nothing to share
            return compile_(self, sig)
        try:
            args, _ = sigutils.normalize_signature(sig)
            if tuple(args) in self.overloads:  # compiled here already: no one to wait for
                return compile_(self, sig)
        except Exception:  # numba's own compile reports a bad signature
            return compile_(self, sig)
        with global_compiler_lock:  # first: one thread of this process at a time past here
            if index in _COMPILING:
                return compile_(self, sig)
            with _flocked(index + ".compile", exclusive=True):
                _COMPILING.add(index)
                try:
                    return compile_(self, sig)
                finally:
                    _COMPILING.discard(index)
    compile.attndyn_locked = True
    return compile


def configure() -> str | None:
    """Point numba's cache at the folder for this source hash (before any kernel is decorated);
    return it, or None when the user set ``NUMBA_CACHE_DIR`` or no folder is writable.  In every
    case the cache's index is locked for concurrent processes (:func:`lock_index_writes`)."""
    import numba  # deferred: imported only to set its cache folder

    lock_index_writes()
    if os.environ.get("NUMBA_CACHE_DIR"):
        return None

    target = _HERE / "__pycache__" / f"numba-{source_hash()}"
    try:
        target.mkdir(parents=True, exist_ok=True)
    except OSError:  # a read-only install: numba's own choice (a user cache folder)
        return None
    if not os.access(target, os.W_OK):
        return None
    numba.config.CACHE_DIR = str(target)
    return str(target)
