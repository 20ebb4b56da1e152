"""Where results go, and the checks that an output location is usable."""
from __future__ import annotations

import json
import os
from pathlib import Path
import tempfile

from attndyn.proofs.errors import UsageError

DEFAULT_REPORT_DIR = Path("reports") / "out"  # relative to the current directory (gitignored)


def writable_dir(path: str | os.PathLike, flag: str) -> Path:
    """Create ``path`` if needed and prove it is writable, or raise a UsageError naming ``flag``."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=p, prefix=".attndyn-probe-"):
            pass
    except OSError as exc:
        raise UsageError(f"{flag} {p}: cannot write there ({exc.strerror or exc})") from None
    return p


def check_json_target(path: str | os.PathLike, flag: str) -> Path:
    """Check that ``path`` can become a JSON file (a file name in a writable directory)."""
    p = Path(path)
    if not str(path).strip() or p.name in ("", ".", ".."):
        raise UsageError(f"{flag} {str(path)!r}: expected a file name, e.g. results.json")
    if p.is_dir():
        raise UsageError(f"{flag} {p}: is a directory; expected a file name, e.g. {p / 'results.json'}")
    writable_dir(p.parent, flag)
    return p


def current_umask() -> int:
    """The process's umask, read without changing it (``/proc/self/status``), or by the
    set-and-restore of :func:`os.umask` where there is no ``/proc``."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("Umask:"):
                    return int(line.split()[1], 8)
    except (OSError, ValueError, IndexError):
        pass
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def atomic_replace(path: str | os.PathLike, data: bytes) -> Path:
    """Replace ``path`` by ``data`` atomically (temp file, fsync, rename): a reader, or a run
    killed at any moment, sees the old file or the new one, never half of either.

    The file gets the permissions of a plainly created one, ``0o666 & ~umask`` (``mkstemp``
    alone would leave it 0600, unlike the figures written beside it)."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    try:
        os.fchmod(fd, 0o666 & ~current_umask())
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, p)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return p


def write_json(path: str | os.PathLike, data: object, flag: str = "--json") -> Path:
    """Write JSON atomically (see :func:`atomic_replace`), so a reader never sees half a file."""
    p = check_json_target(path, flag)
    text = json.dumps(data, indent=2, sort_keys=False, default=_jsonable) + "\n"
    try:
        return atomic_replace(p, text.encode())
    except OSError as exc:
        raise UsageError(f"{flag} {p}: cannot write there ({exc.strerror or exc})") from None


def _jsonable(obj: object) -> object:
    """NumPy scalars and arrays in details dicts become plain JSON values."""
    if hasattr(obj, "tolist"):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON-serialisable: {type(obj).__name__}")
