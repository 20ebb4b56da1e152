"""Where a search's points are evaluated: in this process (:class:`SerialPool`), on a local
dask.distributed cluster or on an existing scheduler (:class:`DaskPool`, :func:`connect`)."""
from __future__ import annotations

from collections import deque
import logging
import warnings

from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import SEARCH

# --------------------------------------------------------------------------- executors

class SerialPool:
    """In-process execution, one task at a time, in submission order."""

    workers = 1
    description = "in-process (1 worker)"

    def __init__(self):
        self.queue: deque = deque()

    def submit(self, tag, fn, *args) -> None:
        self.queue.append((tag, fn, args))

    def pending(self) -> int:
        return len(self.queue)

    def next(self):
        tag, fn, args = self.queue.popleft()
        return tag, fn(*args)

    def close(self, interrupted: bool = False) -> None:
        self.queue.clear()


def quiet_dask_logs() -> None:
    """After Ctrl-C (which may reach the worker processes too) the connection errors dask logs
    while the cluster goes down are expected, and would bury our one-line message."""
    # dask's logging config gives tornado.application and distributed.client their own levels,
    # so every distributed.* logger that exists is named too
    names = {"distributed", "distributed.client", "tornado", "tornado.application", "asyncio"}
    names |= {n for n in logging.root.manager.loggerDict if n.startswith("distributed.")}
    for name in sorted(names):
        logging.getLogger(name).setLevel(logging.CRITICAL)


class DaskPool:
    """Tasks on a dask.distributed cluster, results as they complete."""

    def __init__(self, client, cluster=None, description: str = ""):
        from distributed import (as_completed)  # deferred: dask is slow to import; only a search needs it

        self.client, self.cluster = client, cluster
        self.description = description
        self.workers = max(1, len(client.scheduler_info().get("workers", {})))
        self.tags: dict = {}
        self.ac = as_completed([], with_results=True, raise_errors=False)

    def submit(self, tag, fn, *args) -> None:
        fut = self.client.submit(fn, *args, pure=False)
        self.tags[fut.key] = tag
        self.ac.add(fut)

    def pending(self) -> int:
        return self.ac.count()

    def next(self):
        fut, res = next(self.ac)
        tag = self.tags.pop(fut.key)
        if fut.status != "finished":  # the task itself died (a worker killed, ...)
            res = {"infrastructure_error": f"{type(res).__name__}: {res}"}
        return tag, res

    def close(self, interrupted: bool = False) -> None:
        """Shut down in a fixed order, so nothing depends on teardown timing: (1) silence dask's
        loggers here and, while the scheduler is still up, in every worker of our own cluster
        (synchronous RPCs to live workers); (2) close the client; (3) close the cluster (workers,
        then scheduler).  A worker still alive when the scheduler goes — e.g. its close timed out
        on a loaded machine and this process exits first — would otherwise log
        "Failed to communicate with scheduler during heartbeat" with a CommClosedError traceback."""
        if interrupted:
            quiet_dask_logs()
        if self.cluster is not None:  # our LocalCluster: its workers print to our stderr
            try:
                self.client.run(quiet_dask_logs, on_error="ignore")
            except Exception:  # noqa: BLE001 - a worker already gone prints nothing either
                pass
            quiet_dask_logs()  # the nannies live in this process
        try:
            self.client.close(timeout=5)
        except Exception:  # noqa: BLE001 - closing after an interrupt: best effort
            pass
        if self.cluster is not None:
            try:
                self.cluster.close(timeout=10)
            except Exception:  # noqa: BLE001
                pass


def connect(workers: int, scheduler: str | None):
    """The executor: in-process (1 worker, no scheduler), a LocalCluster of ``workers``
    processes, or the dask scheduler at ``scheduler`` (UsageError within
    ``SEARCH.connect_timeout`` seconds when it cannot be reached or has no worker)."""
    if scheduler is None and workers == 1:
        return SerialPool()

    from distributed import (Client, LocalCluster)  # deferred: dask is slow to import; only a search needs it

    if scheduler is not None:
        if not isinstance(scheduler, str) or not scheduler.strip():
            raise UsageError("--scheduler: expected an address like tcp://host:8786")
        try:
            client = Client(scheduler, timeout=SEARCH.connect_timeout)
        except (OSError, TimeoutError) as exc:
            raise UsageError(f"--scheduler {scheduler}: cannot reach a dask scheduler within "
                             f"{SEARCH.connect_timeout:g} s ({type(exc).__name__}: {exc})") from None
        except ValueError as exc:
            raise UsageError(f"--scheduler {scheduler}: not a scheduler address ({exc})") from None
        try:
            client.wait_for_workers(1, timeout=SEARCH.connect_timeout)
        except (TimeoutError, OSError):
            client.close()
            raise UsageError(f"--scheduler {scheduler}: the scheduler has no worker (waited "
                             f"{SEARCH.connect_timeout:g} s); start one with `dask worker {scheduler}`") from None
        n = len(client.scheduler_info().get("workers", {}))
        return DaskPool(client, None, f"dask scheduler {scheduler} ({n} worker(s))")

    with warnings.catch_warnings():
        # the dashboard is off; the scheduler's small HTTP endpoint (health checks) only says
        # so when its default port is taken, e.g. by another cluster: not the user's concern
        warnings.filterwarnings("ignore", message="Port .* is already in use", category=UserWarning)
        cluster = LocalCluster(n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None,
                               host="127.0.0.1", silence_logs=logging.ERROR)
    client = Client(cluster)
    return DaskPool(client, cluster, f"dask LocalCluster ({workers} processes)")
