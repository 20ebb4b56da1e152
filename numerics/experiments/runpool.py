r"""The runs of ``attndyn reproduce``: one after another in this process (:func:`train_serial`) or on
worker processes (``--workers N``, :class:`RunPool`; issue 13).

The runs of an experiment are independent trainings (each its own config and seed), so they
can train side by side.  :func:`train_parallel` keeps at most ``N`` runs in flight on a
:class:`concurrent.futures.ProcessPoolExecutor` started with the *spawn* context: numba's
OpenMP pool and ``fork`` do not mix (a forked child inherits a thread pool whose threads
did not come along).  Each worker loads its run's config and corpus itself and calls the
same :func:`attndyn.numerics.experiments.reproduce.train_one` as the serial path, with the
run's own thread count (the auto rule of :func:`attndyn.numerics.training.train.auto_threads`:
1 thread at the paper's and SST's sizes, so N workers use N cores).  The kernels reduce in a
fixed order (``attndyn.proofs.settings.KERNEL``), so a run's result does not depend on the
process that trained it: bitwise the serial result (``tests/test_reproduce_workers.py``).

The finished :class:`~attndyn.numerics.experiments.reproduce.Run` comes back pickled (the
SST word records, V x 2 floats per record, are the largest part: tens of MB, well under a
second) and is saved by ``on_run`` in this process as soon as it arrives, so a later failure
or Ctrl-C never loses a finished run.

Order: longest expected run first (:func:`expected_seconds`), so that the workers finish
together instead of one of them starting the longest run last.  A worker left with nothing to train while
the last runs finish warms up for the figures (:func:`warm_figures`: pyplot, fonts, both backends).  Ctrl-C: the workers ignore
SIGINT; this process terminates them and re-raises :class:`KeyboardInterrupt` (the CLI prints
one line, exit 130).  A run that fails in its worker is reported in one line; the runs in
flight finish and are saved, no further run starts, then :class:`RunFailed` (or the worker's
own :class:`~attndyn.proofs.errors.UsageError`, e.g. missing SST files) is raised.
"""
from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
import io
import multiprocessing
import os
import signal
import time
from typing import Callable, Sequence

from attndyn.numerics.experiments.runrecord import Run, converged, fmt_number
from attndyn.numerics.experiments.run_labels import run_label
from attndyn.proofs.errors import UsageError

# Measured training seconds per epoch (1 thread, idle 2-core machine) and epochs each preset
# ran before its early stop, from the issue-13 brief's `attndyn reproduce` runs.  Used ONLY
# to order the runs longest first; a wrong estimate costs wall time, never a result.
MEASURED = {
    "paper-fc": (1.56e-3, None), "paper-tc": (1.46e-3, None), "paper-tl": (1.90e-3, None),
    "sst2-fc": (11.9e-3, 7750), "sst2-tc": (7.0e-3, 14040),
    "sst5-fc": (19.5e-3, 6310), "sst5-tc": (11.4e-3, 20580),
}


class RunFailed(RuntimeError):
    """A run's training raised on its worker (the message is one line naming the preset)."""


def resolve_workers(workers: int | None, runs: int) -> int:
    """``workers`` checked (an integer >= 1), or None -> one per core, at most one per run."""
    if workers is None:
        return max(1, min(os.cpu_count() or 1, runs))
    if isinstance(workers, bool) or not isinstance(workers, int) or workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {workers!r}")
    return min(workers, max(1, runs))


def expected_seconds(preset: str, cfg) -> float:
    """A preset's expected training seconds: measured seconds/epoch x the epochs it will run
    (its early-stopping epochs when it stops early), else a relative cost epochs x d_e x 1e-6."""
    per_epoch, stops_at = MEASURED.get(preset, (None, None))
    epochs = cfg.train.epochs if stops_at is None else min(cfg.train.epochs, stops_at)
    if per_epoch is None:
        return cfg.train.epochs * cfg.model.d_e * 1e-6
    return per_epoch * epochs


# --------------------------------------------------------------------------- one run (both paths)

def train_serial(planned, *, progress: bool, log: Callable[[str], None],
                  on_run: Callable[[Run], None] | None) -> list:
    """The runs one after another in this process (``--workers 1``)."""
    from attndyn.numerics.training.train import (load_corpus)  # deferred: numba loads on use

    t_start = time.perf_counter()
    corpora: dict = {}
    runs = []
    for i, (label, preset, cfg) in enumerate(planned, 1):
        if cfg.corpus not in corpora:
            log(f"[{i}/{len(planned)}] {preset}: loading corpus {cfg.corpus.kind}")
            corpora[cfg.corpus] = load_corpus(cfg.corpus)
        eta = (f", ETA of all runs {(time.perf_counter() - t_start) / (i - 1) * (len(planned) - i + 1):.0f}s"
               if i > 1 else "")  # issue 10 §4: the whole experiment's ETA, from the runs so far
        log(start_line(i, len(planned), preset, cfg) + eta)
        run = train_one(label, preset, cfg, corpora[cfg.corpus], progress)
        runs.append(run)
        if on_run is not None:
            on_run(run)
        for line in finish_lines(i, len(planned), run):
            log(line)
    return runs


def start_line(i: int, n: int, preset: str, cfg) -> str:
    return (f"[{i}/{n}] {preset}: training {cfg.train.epochs} epochs "
            f"({cfg.model.classifier}, trainable {', '.join(sorted(cfg.train.trainable))})")


def train_one(label: str, preset: str, cfg, corpus, progress: bool) -> Run:
    """Train one planned run on ``corpus`` (the same call in this process and on a worker)."""
    from attndyn.numerics.training.train import (train)  # deferred: numba loads on use

    result = train(cfg, corpus, progress=progress)
    extra = {}
    train_c = corpus.subset("train")
    if len(corpus.topic_words) == 0 and result.status == "ok":
        # real text: the figures' words are read from the run's own records (trained once)
        from attndyn.numerics.experiments.sst_figures import top_word_records  # deferred: SST only

        extra = top_word_records(result, train_c)
    return Run(label, preset, cfg, result, result.seconds, train_c, extra)


def finish_lines(i: int, n: int, run: Run) -> list[str]:
    """The log lines of a finished run: status, time, loss, accuracy, SEN residual, verdict."""
    result = run.result
    s = result.summary()
    verdict = converged(result)
    lab = run_label(result, verdict)
    lines = [f"[{i}/{n}] {run.preset}: {result.status} in {run.seconds:.2f} s: final loss "
             f"{fmt_number(s['final_loss'])}, test accuracy {fmt_number(s['test_accuracy'])}, SEN residual max "
             f"{fmt_number(s['sen_residual_max'])}; {lab['label']}"
             + ("" if verdict["verdict"] else f" ({lab['explanation']})")]
    if result.status != "ok":
        lines.append(f"warning: {run.preset}: {result.message}")
    return lines


# --------------------------------------------------------------------------- worker side

_CORPORA: dict = {}  # per worker process: a corpus loaded once serves every run that names it


def ignore_sigint() -> None:
    """A worker's initializer: Ctrl-C reaches the whole process group; the parent alone handles it
    (terminates the workers), so a worker prints no traceback of its own."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _work(label: str, preset: str, overrides: tuple[str, ...]):
    from attndyn.numerics.config.load import load_config  # deferred: imported in the worker
    from attndyn.numerics.training.train import load_corpus  # deferred: numba loads in the worker, on use

    cfg = load_config(preset=preset, overrides=list(overrides))  # as plan() built it: deterministic
    if cfg.corpus not in _CORPORA:
        _CORPORA[cfg.corpus] = load_corpus(cfg.corpus)
    return train_one(label, preset, cfg, _CORPORA[cfg.corpus], progress=False)


def warm_figures() -> None:
    """What a worker with no run left does while the others train: import pyplot and save one small
    figure as PNG and PDF (about 0.8 s in a fresh process: the import, the fonts, both backends), so that
    its share of the figures, which need every run, starts at once."""
    from attndyn.numerics.experiments.runfigures import _pyplot  # deferred: only workers that draw need it

    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(2, 2))
    ax.plot([0, 1], [0, 1])
    ax.set_title("warm-up")
    for ext in ("png", "pdf"):
        fig.savefig(io.BytesIO(), format=ext)
    plt.close(fig)


# --------------------------------------------------------------------------- parent side

def terminate(pool: ProcessPoolExecutor) -> None:
    """Stop every worker now (Ctrl-C or a failure while runs are in flight)."""
    procs = list((getattr(pool, "_processes", None) or {}).values())  # the executor keeps no public handle
    for p in procs:
        if p.is_alive():
            p.terminate()
    pool.shutdown(wait=False, cancel_futures=True)
    for p in procs:
        p.join(timeout=5)


def train_parallel(planned: Sequence[tuple[str, str, object]], overrides: Sequence[str], workers: int, *,
                   log: Callable[[str], None], on_run: Callable | None) -> list:
    """Train ``planned`` (``(label, preset, cfg)`` per run) on ``workers`` processes; the runs in
    ``planned``'s order (:meth:`RunPool.train`)."""
    with RunPool(workers) as pool:
        return pool.train(planned, overrides, log=log, on_run=on_run)


class RunPool:
    """``workers`` spawned processes: :meth:`train` the runs, then :meth:`draw` the figures on the
    same processes (already started, attndyn imported).  Leaving the ``with`` block by an exception
    (Ctrl-C included) terminates the workers at once."""

    def __init__(self, workers: int):
        self.workers = workers
        self.pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=ignore_sigint)

    def __enter__(self) -> "RunPool":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is not None:  # Ctrl-C (or anything else): no worker may outlive us
            terminate(self.pool)
        else:
            self.pool.shutdown(wait=True)

    def draw(self, parts: Sequence[Callable], runs: list, out) -> list[str]:
        """Every figure part ``part(runs, out) -> file names`` on the workers, side by side; the
        names in ``parts``' order.  Submitted last part first: PARTS lists the heaviest last."""
        futures = {k: self.pool.submit(part, runs, out) for k, part in reversed(list(enumerate(parts)))}
        return [name for k in range(len(parts)) for name in futures[k].result()]

    def train(self, planned: Sequence[tuple[str, str, object]], overrides: Sequence[str], *,
              log: Callable[[str], None], on_run: Callable | None, warm: Callable | None = None) -> list:
        """Train ``planned`` (``(label, preset, cfg)`` per run); the runs in ``planned``'s order.
        Progress: one line per start and finish, with the experiment's ETA.  ``warm`` (e.g.
        :func:`warm_figures`): run once on each worker left idle while the last runs train."""
        workers, pool = self.workers, self.pool
        n = len(planned)
        est = [expected_seconds(preset, cfg) for _, preset, cfg in planned]
        queue = sorted(range(n), key=lambda k: -est[k])  # longest first (stable: ties keep the plan order)
        runs: list = [None] * n
        actual: dict[int, float] = {}
        started: dict[int, float] = {}
        failures: list[BaseException] = []
        t0 = time.perf_counter()

        def eta() -> str:
            """Remaining wall time: the estimates scaled by what the finished runs took, over the workers."""
            if not actual:
                return ""
            scale = sum(actual.values()) / sum(est[k] for k in actual)
            now = time.perf_counter()
            left = sum(est[k] * scale for k in queue)
            left += sum(max(0.0, est[k] * scale - (now - s)) for k, s in started.items())
            return f", ETA of all runs {left / workers:.0f}s"

        log(f"training {n} runs on {workers} worker processes (longest expected first: "
            f"{', '.join(planned[k][1] for k in queue)})")
        inflight: dict = {}
        warmed = 0
        while queue or inflight:
            while queue and len(inflight) < workers and not failures:
                k = queue.pop(0)
                label, preset, cfg = planned[k]
                inflight[pool.submit(_work, label, preset, tuple(overrides))] = k
                started[k] = time.perf_counter()
                log(start_line(k + 1, n, preset, cfg) + f" on a worker{eta()}")
            if failures:
                queue.clear()
            if not inflight:
                break
            while warm is not None and not queue and not failures and warmed < workers - len(inflight):
                pool.submit(warm)  # an idle worker's slot; not waited for (draw() queues behind it)
                warmed += 1
            done, _ = wait(list(inflight), return_when=FIRST_COMPLETED)
            for fut in done:
                k = inflight.pop(fut)
                started.pop(k)
                preset = planned[k][1]
                exc = fut.exception()
                if exc is not None:
                    log(f"[{k + 1}/{n}] {preset}: failed on its worker: {type(exc).__name__}: "
                        f"{str(exc).splitlines()[0] if str(exc) else ''}")
                    failures.append(exc if isinstance(exc, UsageError) else
                                    RunFailed(f"{preset}: {type(exc).__name__}: {exc}".splitlines()[0]))
                    continue
                run = fut.result()
                runs[k] = run
                actual[k] = run.seconds
                if on_run is not None:
                    on_run(run)  # saved as soon as it is back: a later failure keeps it
                for line in finish_lines(k + 1, n, run):
                    log(line + (f" ({time.perf_counter() - t0:.1f} s wall so far{eta()})"
                                if line.startswith("[") else ""))
        if failures:
            raise failures[0]
        return runs
