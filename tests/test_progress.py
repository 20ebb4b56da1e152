"""The one progress mechanism: a tqdm bar on a terminal, periodic plain lines in a log, else quiet."""
import io

import attndyn.numerics.progress as progress
from attndyn.numerics.progress import Progress


class _Tty(io.StringIO):
    def isatty(self):
        return True


def test_a_bar_on_a_terminal_with_the_status():
    tty = _Tty()
    bar = Progress(10, "search", unit="evaluated", stream=tty)
    bar.update(5, "2 candidates", force=True)
    bar.close()
    assert "5/10 evaluated" in tty.getvalue() and "2 candidates" in tty.getvalue()


def test_a_log_gets_periodic_lines_and_a_closing_line(monkeypatch):
    clock = iter([0.0, 1.0, 11.0, 12.0, 25.0, 26.0])
    monkeypatch.setattr(progress.time, "perf_counter", lambda: next(clock))
    log = io.StringIO()
    bar = Progress(100, "train", unit="epochs", stream=log)  # t = 0
    bar.update(10, "loss 1")  # t = 1: too soon
    bar.update(50, "loss 0.5")  # t = 11: a line
    bar.update(60, "loss 0.4")  # t = 12: too soon
    bar.update(100, "loss 0.1")  # t = 25: a line
    bar.close()  # t = 26: the closing line
    lines = log.getvalue().splitlines()
    assert lines == ["train: 50/100 epochs  loss 0.5  11.0s, ETA 11s", "train: 100/100 epochs  loss 0.1  25.0s",
                     "train: 100/100 epochs  loss 0.1  26.0s"]


def test_a_short_run_in_a_log_and_a_disabled_one_stay_quiet():
    log, off = io.StringIO(), _Tty()
    for stream, enabled in ((log, True), (off, False)):
        bar = Progress(10, "train", unit="epochs", enabled=enabled, stream=stream)
        bar.update(10, "loss 0", force=True)
        bar.close()
    assert log.getvalue() == "" and off.getvalue() == ""


def test_a_heartbeat_says_what_is_running_in_a_log_while_nothing_updates(monkeypatch):
    import time

    monkeypatch.setattr(progress, "LOG_INTERVAL", 0.05)
    log = io.StringIO()
    bar = Progress(4, "verify", unit="claims", stream=log)
    bar.update(1, "done A")
    with bar.heartbeat("on N3-sen-paper"):
        time.sleep(0.4)  # a slow claim: no update() call while it runs
    bar.close()
    lines = log.getvalue().splitlines()
    assert any(line.startswith("verify: 1/4 claims  on N3-sen-paper") and "ETA" in line for line in lines), lines


def test_a_heartbeat_on_a_terminal_shows_the_claim_in_the_bar_with_an_eta():
    tty = _Tty()
    bar = Progress(4, "verify", unit="claims", stream=tty)
    bar.update(2, "x", force=True)
    with bar.heartbeat("on C1-convergence-paper"):
        pass
    bar.close()
    assert "on C1-convergence-paper" in tty.getvalue() and "ETA" in tty.getvalue()
