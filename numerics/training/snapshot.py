r"""Snapshots of a training run: everything :func:`~attndyn.numerics.training.train.train` needs
to continue a killed run to the bitwise-same final state as an uninterrupted one.

A run directory holds, in the order they are written:

1. ``config.json`` — the full resolved config (:meth:`RunConfig.to_dict`), written before the
   first epoch, so any file found beside it belongs to the run it describes;
2. ``snapshot.npz`` — the training state after ``epoch`` completed epochs: the trained arrays
   (:meth:`AttentionModel.state`: embeddings :math:`v_w`, scores :math:`s_w` or keys
   :math:`k_w`, query :math:`q`, classifier :math:`\theta`), the mini-batch generator's state,
   the trajectory records so far, the first loss :math:`L_0` (the instability ceiling is derived
   from it) and the wall time spent; written atomically (temp file + rename) at epoch boundaries
   every ``snapshot_seconds`` and at the end;
3. ``trajectory.npz`` — the records alone (the same records as the snapshot's, or those of
   the previous snapshot if a kill fell between the two atomic writes);
4. ``summary.json`` — at the end, or after Ctrl-C (status ``interrupted``, the epoch and what
   was kept).

A SIGKILL at any moment therefore leaves ``config.json`` plus the last complete snapshot;
nothing half-written and no placeholder record (a record enters the trajectory only with its
loss).  :func:`load` refuses a snapshot written for another config.
"""
from __future__ import annotations

from dataclasses import dataclass
import io
import json
from pathlib import Path
import signal
import sys
import threading
import zipfile

import numpy as np

from attndyn.numerics.outputs import atomic_replace
from attndyn.proofs.errors import UsageError

FORMAT = "attndyn-snapshot/1"
CONFIG_FILE = "config.json"
SNAPSHOT_FILE = "snapshot.npz"


@dataclass
class TrainState:
    """The loop's state after ``epoch`` completed epochs (see the module docstring)."""

    epoch: int
    params: dict[str, np.ndarray]
    trajectory: dict[str, np.ndarray]  # Trajectory.arrays() (records so far)
    rng_state: dict  # numpy bit generator state of the mini-batch shuffles
    loss0: float | None  # first finite loss (None before one is known)
    seconds: float  # wall time of the training loop so far
    last_loss: float  # loss of the last epoch (progress display)
    finished: bool = False  # True for the snapshot written after the last epoch
    optimizer: dict = None  # optimizer_state(): steps taken and every group's state arrays (momentum, Adam)
    monitors: dict = None  # the monitors' state arrays (early stopping, word records), keys prefixed es./wr.


def write_config(out: Path, config: dict) -> Path:
    """``out/config.json``: the resolved config, written (atomically) before training starts."""
    text = json.dumps({"format": FORMAT, "config": config}, indent=2) + "\n"
    return atomic_replace(out / CONFIG_FILE, text.encode())


def read_config(out: Path) -> dict:
    """The config dict stored by :func:`write_config` (UsageError when missing or unreadable)."""
    p = out / CONFIG_FILE
    try:
        data = json.loads(p.read_text(encoding="utf-8"))
        return data["config"]
    except FileNotFoundError:
        raise UsageError(f"--resume {out}: holds no run to resume (no {CONFIG_FILE})") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise UsageError(f"--resume {out}: {CONFIG_FILE} is unreadable ({exc})") from None


def save(out: Path, state: TrainState, config: dict) -> Path:
    """Write ``out/snapshot.npz`` atomically."""
    meta = {"format": FORMAT, "epoch": int(state.epoch), "rng_state": state.rng_state,
            "loss0": state.loss0, "seconds": float(state.seconds), "last_loss": float(state.last_loss),
            "finished": bool(state.finished), "config": config}
    arrays = {f"param.{k}": v for k, v in state.params.items()}
    arrays.update({f"traj.{k}": v for k, v in state.trajectory.items()})
    arrays.update({f"opt.{k}": v for k, v in (state.optimizer or {}).items()})
    arrays.update({f"mon.{k}": v for k, v in (state.monitors or {}).items()})
    arrays["meta"] = np.array(json.dumps(meta, allow_nan=True))
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return atomic_replace(out / SNAPSHOT_FILE, buf.getvalue())


def clean_partial(out: Path) -> list[Path]:
    """Remove the temp files of atomic writes cut short by a kill (``.snapshot.npz.*.tmp`` …);
    they never replaced a file, so nothing of the run is lost."""
    gone = []
    for name in (CONFIG_FILE, SNAPSHOT_FILE, "trajectory.npz", "summary.json"):
        for tmp in out.glob(f".{name}.*.tmp"):
            tmp.unlink(missing_ok=True)
            gone.append(tmp)
    return gone


def load(out: Path, config: dict) -> TrainState | None:
    """The snapshot in ``out``; None when the run was killed between writing ``config.json``
    and its epoch-0 snapshot (it starts again from epoch 0, the same deterministic start).
    UsageError when ``out`` holds no run, the snapshot is unreadable, or it was written for
    another config than ``config``."""
    p = out / SNAPSHOT_FILE
    clean_partial(out)
    if not p.exists():
        if (out / CONFIG_FILE).exists():
            if json.loads(json.dumps(config)) != read_config(out):
                raise UsageError(f"--resume {out}: {CONFIG_FILE} describes another config; resume with the "
                                 f"run's own config (drop CONFIG.toml/--preset/--set to use {CONFIG_FILE})")
            return None
        raise UsageError(f"--resume {out}: holds no run to resume (no {CONFIG_FILE})")
    try:
        with np.load(p, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            params = {k[6:]: z[k] for k in z.files if k.startswith("param.")}
            traj = {k[5:]: z[k] for k in z.files if k.startswith("traj.")}
            opt = {k[4:]: z[k] for k in z.files if k.startswith("opt.")}
            mon = {k[4:]: z[k] for k in z.files if k.startswith("mon.")}
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as exc:
        raise UsageError(f"--resume {p}: not a readable snapshot ({exc})") from None
    if meta.get("format") != FORMAT:
        raise UsageError(f"--resume {p}: format {meta.get('format')!r}, expected {FORMAT!r}")
    config = json.loads(json.dumps(config))
    if meta.get("config") != config:
        diff = _config_diff(meta.get("config") or {}, config)
        raise UsageError(f"--resume {out}: the snapshot was written for another config "
                         f"(differs in {', '.join(diff[:5]) or 'its sections'}); resume with the run's own "
                         f"config (drop CONFIG.toml/--preset/--set to use {CONFIG_FILE})")
    if meta.get("finished"):
        raise UsageError(f"--resume {out}: the run already finished ({meta['epoch']} epochs); nothing to resume")
    return TrainState(int(meta["epoch"]), params, traj, meta["rng_state"], meta["loss0"],
                      float(meta["seconds"]), float(meta["last_loss"]), False, opt, mon)


def optimizer_state(opt) -> dict[str, np.ndarray]:
    """The training optimizer's state (:mod:`attndyn.numerics.training.optimizers`): its step count
    ``t`` (Adam's bias correction) and each group's state arrays (velocity; Adam's m and v)."""
    out = {"t": np.array(int(getattr(opt, "t", 0)))}
    for name, g in getattr(opt, "groups", {}).items():
        for i, a in enumerate(g.state):
            out[f"{name}.{i}"] = a.copy()
    return out


def load_optimizer_state(opt, arrays: dict) -> None:
    """Write :func:`optimizer_state`'s arrays back into ``opt`` (in place: the steps hold views)."""
    if "t" in arrays:
        opt.t = int(arrays["t"])
    for name, g in getattr(opt, "groups", {}).items():
        for i, a in enumerate(g.state):
            given = arrays.get(f"{name}.{i}")
            if given is None or given.shape != a.shape or given.dtype != a.dtype:
                raise UsageError(f"snapshot: optimizer state {name}.{i} does not match this config's optimizer")
            a[...] = given


def _config_diff(a: dict, b: dict, prefix: str = "") -> list[str]:
    keys = sorted(set(a) | set(b))
    out = []
    for k in keys:
        x, y = a.get(k), b.get(k)
        if isinstance(x, dict) and isinstance(y, dict):
            out += _config_diff(x, y, f"{prefix}{k}.")
        elif x != y:
            out.append(f"{prefix}{k}")
    return out


class DeferredInterrupt:
    """Ctrl-C (SIGINT) during training takes effect at the next epoch boundary, where the state
    is consistent and can be snapshotted (a KeyboardInterrupt raised inside an epoch could fall
    between the step and its record).  A second Ctrl-C raises KeyboardInterrupt at once; the
    files on disk are then those of the last snapshot.  Outside the main thread, or not
    ``enabled``, it does nothing (Ctrl-C raises KeyboardInterrupt as usual)."""

    def __init__(self, stream=None, enabled: bool = True):
        self.enabled = enabled
        self.requested = False
        self._old = None
        self._installed = False
        self.stream = stream

    def __enter__(self) -> "DeferredInterrupt":
        if self.enabled and threading.current_thread() is threading.main_thread() and not self._installed:
            self._old = signal.signal(signal.SIGINT, self._handle)
            self._installed = True
        return self

    def _handle(self, signum, frame) -> None:
        if self.requested:  # the second Ctrl-C: stop now
            self.__exit__()
            raise KeyboardInterrupt
        self.requested = True
        print("\nattndyn: interrupt: stopping after this epoch (Ctrl-C again to stop at once)",
              file=self.stream or sys.stderr, flush=True)

    def __exit__(self, *exc) -> None:
        if self._installed:
            signal.signal(signal.SIGINT, self._old if self._old is not None else signal.default_int_handler)
            self._installed = False
