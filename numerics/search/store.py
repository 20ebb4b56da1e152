"""What a search keeps on disk and how: the file names of a search directory, strict-JSON records
(non-finite floats as strings), the append-only ``points.jsonl`` log (one ``os.write`` + ``fsync``
per record) and atomic rewrites (:func:`attndyn.numerics.outputs.atomic_replace`)."""
from __future__ import annotations

import json
import math
import os
from pathlib import Path

import numpy as np

from attndyn.numerics.outputs import atomic_replace

FORMAT = "attndyn-search/1"
CASE_FORMAT = "attndyn-counterexample/1"
POINTS, META, SHRINKS, CORRUPT, SUMMARY, CASES = ("points.jsonl", "search.json", "shrinks.jsonl",
                                                  "points.corrupt.jsonl", "summary.json", "cases")


# --------------------------------------------------------------------------- JSON helpers

def _clean(obj):
    """JSON-safe copy: NumPy scalars/arrays to Python, non-finite floats to the strings
    "inf" / "-inf" / "nan" (strict JSON has no such numbers)."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.bool_,)):
        return bool(obj)
    if isinstance(obj, np.integer):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        x = float(obj)
        return x if math.isfinite(x) else ("nan" if math.isnan(x) else ("inf" if x > 0 else "-inf"))
    if isinstance(obj, Path):
        return str(obj)
    return obj


def as_float(x) -> float | None:
    """A violation read back from JSON ("inf" strings included)."""
    if x is None:
        return None
    return float(x)


def dump_line(obj) -> bytes:
    return (json.dumps(_clean(obj), allow_nan=False, separators=(",", ":")) + "\n").encode()


class AppendLog:
    """A JSON-lines file appended atomically: each record is one ``os.write`` of a complete
    line on an ``O_APPEND`` descriptor, then ``fsync`` — after a crash the file holds whole
    lines plus at most one cut-off last line, which :func:`read_jsonl` detects."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def append(self, obj) -> None:
        data = dump_line(obj)
        n = os.write(self.fd, data)
        if n != len(data):  # a regular file takes the whole buffer unless the disk is full
            raise OSError(f"{self.path}: short write ({n} of {len(data)} bytes)")
        os.fsync(self.fd)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def read_jsonl(path: Path, warn) -> tuple[list[tuple[int, dict]], list[tuple[int, str]]]:
    """The complete JSON-object lines of ``path`` as ``(line number, record)``, and the bad
    ones as ``(line number, text)`` — each bad line is reported through ``warn``."""
    good, bad = [], []
    if not path.exists():
        return good, bad
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    for no, line in enumerate(lines, 1):
        last = no == len(lines)
        if last and line == b"":
            break
        text = line.decode("utf-8", errors="replace")
        if last:  # no newline: a write cut short
            warn(f"{path} line {no}: incomplete last line (a write cut short, e.g. by SIGKILL); skipped")
            bad.append((no, text))
            continue
        try:
            rec = json.loads(text)
            if not isinstance(rec, dict):
                raise ValueError("not a JSON object")
        except ValueError as exc:
            warn(f"{path} line {no}: not a JSON record ({exc}); skipped")
            bad.append((no, text))
            continue
        good.append((no, rec))
    return good, bad


def write_json_atomic(path: Path, data) -> None:
    atomic_replace(path, (json.dumps(_clean(data), indent=1, allow_nan=False) + "\n").encode())


def rewrite_lines(path: Path, lines: list[bytes]) -> None:
    atomic_replace(path, b"".join(lines))
