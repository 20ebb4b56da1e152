"""The one progress mechanism for long work (training, search, reproduction, bench), on tqdm.

On a terminal: a tqdm bar on stderr, redrawn at most every ``interval`` seconds.  Anywhere
else (a pipe, a log file): no bar — a plain line ``DESC: n/total UNIT  POSTFIX  ELAPSED`` at
most every :data:`LOG_INTERVAL` seconds, so a long run shows it is alive in a log while a
short one stays quiet, and a closing line when any was written.  Disabled: nothing at all.
The driver owns the loop and calls :meth:`Progress.update`; kernels never report progress.
"""
from __future__ import annotations

import sys
import time

from tqdm import tqdm

LOG_INTERVAL = 10.0  # seconds between plain progress lines when stderr is not a terminal


class Progress:
    """Progress of ``total`` units of work called ``unit`` (e.g. ``epochs``), titled ``desc``."""

    def __init__(self, total: int, desc: str, *, unit: str = "it", enabled: bool = True,
                 stream=None, interval: float = 0.1):
        self.stream = stream or sys.stderr
        self.enabled = bool(enabled)
        self.tty = self.enabled and hasattr(self.stream, "isatty") and self.stream.isatty()
        self.total = max(1, int(total))
        self.desc, self.unit = desc, unit
        self.t0 = self.last_line = time.perf_counter()
        self.done, self.postfix, self.lines = 0, "", 0
        self.bar = None
        if self.tty:
            self.bar = tqdm(total=self.total, desc=desc, unit=unit, file=self.stream, mininterval=interval,
                            leave=True, ascii=True,
                            bar_format="{desc}: [{bar:30}] {n_fmt}/{total_fmt} " + unit + "{postfix}  {elapsed}")

    def update(self, done: int, postfix: str = "", force: bool = False) -> None:
        """``done`` units finished so far; ``postfix`` a short status (``loss 0.12``)."""
        if not self.enabled:
            return
        self.done, self.postfix = int(done), postfix
        if self.bar is not None:
            self.bar.set_postfix_str(postfix, refresh=False)
            step = self.done - self.bar.n
            if step:
                self.bar.update(step)
            if force:
                self.bar.refresh()
            return
        now = time.perf_counter()
        if now - self.last_line >= LOG_INTERVAL:
            self._line(now)

    def _line(self, now: float) -> None:
        self.stream.write(f"{self.desc}: {self.done}/{self.total} {self.unit}  {self.postfix}  "
                          f"{now - self.t0:.1f}s\n")
        self.stream.flush()
        self.last_line = now
        self.lines += 1

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.lines:
            self._line(time.perf_counter())  # a log that showed progress also shows the end
