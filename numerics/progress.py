"""The one progress mechanism for long work (training, search, reproduction, bench), on tqdm.

On a terminal: a tqdm bar on stderr, redrawn at most every ``interval`` seconds.  Anywhere
else (a pipe, a log file): no bar — a plain line ``DESC: n/total UNIT  POSTFIX  ELAPSED`` at
most every :data:`LOG_INTERVAL` seconds, so a long run shows it is alive in a log while a
short one stays quiet, and a closing line when any was written.  Disabled: nothing at all.
The driver owns the loop and calls :meth:`Progress.update`; kernels never report progress.
"""
from __future__ import annotations

from contextlib import contextmanager
import sys
import threading
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
        self._lock = threading.Lock()
        if self.tty:
            self.bar = tqdm(total=self.total, desc=desc, unit=unit, file=self.stream, mininterval=interval,
                            leave=True, ascii=True,
                            bar_format="{desc}: [{bar:30}] {n_fmt}/{total_fmt} " + unit
                            + "{postfix}  {elapsed}<{remaining} ETA")

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
        elapsed = now - self.t0
        eta = ""
        if 0 < self.done < self.total:  # a linear extrapolation of the rate so far
            eta = f", ETA {elapsed * (self.total - self.done) / self.done:.0f}s"
        with self._lock:
            self.stream.write(f"{self.desc}: {self.done}/{self.total} {self.unit}  {self.postfix}  "
                              f"{elapsed:.1f}s{eta}\n")
            self.stream.flush()
        self.last_line = now
        self.lines += 1

    def write(self, text: str, file=None) -> None:
        """Print a line of output (``file``, default stdout) without tearing the bar."""
        out = file or sys.stdout
        if self.bar is not None:
            self.bar.write(text, file=out)
        else:
            print(text, file=out, flush=True)

    @contextmanager
    def heartbeat(self, postfix: str):
        """While a long piece of work that cannot call :meth:`update` runs (one claim of
        ``attndyn verify``), show ``postfix`` as what is being done: on a terminal in the bar,
        in a log as a line every :data:`LOG_INTERVAL` seconds (``verify: 3/40 claims  on N3 …``)."""
        if not self.enabled:
            yield
            return
        self.postfix = postfix
        if self.bar is not None:
            self.bar.set_postfix_str(postfix, refresh=True)
        stop = threading.Event()

        def beat() -> None:
            start = time.monotonic()
            while not stop.wait(min(1.0, LOG_INTERVAL)):
                if self.bar is not None:
                    self.bar.set_postfix_str(f"{postfix} ({time.monotonic() - start:.0f}s)", refresh=True)
                elif time.monotonic() - start >= LOG_INTERVAL and \
                        time.perf_counter() - self.last_line >= LOG_INTERVAL:
                    self._line(time.perf_counter())

        thread = threading.Thread(target=beat, name="attndyn-heartbeat", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        elif self.enabled and self.lines:
            self._line(time.perf_counter())  # a log that showed progress also shows the end
