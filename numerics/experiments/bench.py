r"""``attndyn bench``: how fast the training kernels are, measured side by side.  A benchmark, not a test.

One epoch = one full-batch gradient-descent step of the FC model with the query
fixed (the paper's setting): forward pass, backward pass, update of the
embeddings and of the keys (the kernel keeps the scores :math:`s_w = q\cdot k_w` and
moves them by :math:`\eta|q|^2\,\partial L/\partial s_w`, which is the same update).
It is timed for

* ``kernel`` — :meth:`attndyn.numerics.model.attention.AttentionModel.step` (numba), the code
  ``attndyn simulate`` runs (``train.kernel`` "auto": for FC with K = 4 < d = 10 the K-wide
  low-rank kernels of :mod:`attndyn.numerics.kernels.lowrank`);
* ``kernel-full`` — the same step forced onto the d-wide kernels (``train.kernel`` "full",
  :mod:`attndyn.numerics.kernels.scores`), the path before the low-rank one, side by side;
* ``numpy`` — :func:`numpy_epoch_fc`, a plain vectorised NumPy twin of the same epoch
  (``reduceat`` over sentences, ``bincount`` over words), in blocks of
  ``BENCH.numpy_block`` sentences so that its memory stays bounded;
* ``torch`` — the same model written the way a PyTorch user would
  (:func:`torch_epoch_fn`: embedding look-ups of a padded (n, L) index, softmax,
  weighted sum, linear layer, ``cross_entropy``, ``backward``, SGD update), float64;
* ``torch-bag`` — a leaner PyTorch formulation (scores :math:`Kq` once per word,
  a segment softmax with ``index_add``, ``embedding_bag`` with per-sample weights),
  float64.  Both PyTorch variants run only when ``import torch`` works; PyTorch is
  imported lazily here and is never a dependency of attndyn.

Sizes: ``paper`` is the paper's configuration (5000 sentences of which 80 % =
4000 train, V = 5008, m = 20, d = 10, FC); a number N is a synthetic corpus with
N training sentences (split 1/0/0) and V = N words (N - 8 non-topic words), m = 20,
d = 10.  Every (size, implementation) is measured in its own subprocess, so the
peak resident memory (``VmHWM`` of ``/proc/self/status``) of one never contaminates
another, and two threading runtimes (numba's and PyTorch's OpenMP) never compete
in one process; the epoch time is the median over timed epochs after warm-up
epochs.  Sizes up to 10^5 are measured in ``BENCH.rounds`` rounds, each running
every implementation once in turn; the speed-up is the median over the rounds of
the same-round ratio, so a burst of load from other jobs hits one round rather
than one implementation.
The NumPy twin and PyTorch are also checked against the kernel (one epoch from the
same point, relative difference of the updates) at sizes up to 10^5, so the
comparison is between equal computations.

``reproduce`` times the training of ``attndyn reproduce synthetic`` (paper-fc, -tc,
-tl, 5000 epochs each, one fresh process, warm numba cache).

The kernel's process also times the *floors* of the same epoch
(:mod:`attndyn.numerics.experiments.floor`): a bare gather-and-scatter pass over the same
index and table (memory) and the kernel's flops at the measured multiply-add rate
(arithmetic); per word occurrence, the kernel's cost is printed beside both.  The memory floor
is measured twice: over a d-wide table (the embeddings, what the d-wide kernels gather) and over
a K-wide one (K + 1 floats a row: the rows [u_w, e_w] and [d_i, r_i] the low-rank kernels gather);
both ratios are printed.  With three
or more sizes N = V (``--scale``: 1e4, 1e5, 1e6, 4e6) the exponent of epoch time in N is fitted.

Targets (issue 13, this 2-core machine): kernel >= 25x PyTorch per epoch at the
paper's size; <= 0.45 s per epoch (float64), <= 1.3x the memory floor and <= 1 GB peak
RSS at N = V = 10^6; a scale exponent <= 1.1;
``reproduce synthetic`` training <= 15 s.  Each is printed with the measured value
and PASS/MISS; missing a target is reported, not an error.

Size: over 500 lines because the three implementations compared (numba kernel, NumPy twin,
PyTorch) must be built and timed identically, side by side, in one place.
"""
from __future__ import annotations

from dataclasses import dataclass
import json
import math
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from typing import Callable, Sequence

import numba
import numpy as np

from attndyn.numerics.config.schema import CorpusSpec, ModelConfig, RunConfig, TrainConfig
from attndyn.numerics.data.corpus import synthetic, SyntheticConfig
from attndyn.numerics.experiments.reproduce import train_runs
from attndyn.numerics.model import reference
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import BENCH, REPRODUCE

IMPLS = ("kernel", "kernel-full", "numpy", "torch", "torch-bag")
KERNELS = {"kernel": "auto", "kernel-full": "full"}  # implementation -> train.kernel
SCALE_SIZES = ("1e4", "1e5", "1e6", "4e6")  # --scale: N = V for the fitted exponent (issue 13)
VERSION = 1
M_WORDS = 20  # non-topic words per sentence in every size
D = 10  # d_e = d_k
CHECK_MAX_SENTENCES = 100_000  # twin/PyTorch agreement is checked up to this size


# --------------------------------------------------------------------------- sizes

@dataclass(frozen=True)
class Size:
    name: str
    n_sentences: int  # all sentences of the corpus
    vocab: int
    split: tuple[float, float, float]

    def synthetic_config(self):
        if self.name == "paper":
            return SyntheticConfig()
        return SyntheticConfig(n_sentences=self.n_sentences, n_nontopic=self.vocab - 8, m=M_WORDS,
                               split=self.split)

    @property
    def is_million(self) -> bool:
        """The issue's large size: N = V = 10^6."""
        return self.name != "paper" and self.n_sentences == 10**6


def parse_sizes(text: str) -> list[Size]:
    """``paper,1e6`` -> sizes; a number N means N = V = N (at least 16)."""
    out = []
    for item in [t.strip() for t in str(text).split(",") if t.strip()]:
        if item == "paper":
            out.append(Size("paper", 5000, 5008, (0.8, 0.01, 0.19)))
            continue
        try:
            value = float(item)
        except ValueError:
            value = float("nan")
        if not (value == value and value >= 16 and value == int(value) and value <= 1e8):
            raise UsageError(f"--sizes {item!r}: expected 'paper' or a whole number N >= 16 "
                             f"(N = V = N, e.g. 1e6)")
        out.append(Size(item, int(value), int(value), (1.0, 0.0, 0.0)))
    if not out:
        raise UsageError("--sizes: expected a comma-separated list such as paper,1e6")
    return out


# --------------------------------------------------------------------------- problem

def problem(size: Size, dtype: str = "float64"):
    """The training split, its :class:`Batch` and the initial :class:`AttentionModel` (FC, fixed
    query), built exactly as :func:`attndyn.numerics.training.train.train` builds them."""
    cfg = RunConfig(CorpusSpec("synthetic", size.synthetic_config()), ModelConfig(classifier="fc", d_e=D, d_k=D),
                    TrainConfig(lr=0.1, dtype=dtype))
    corpus = synthetic(cfg.corpus.synthetic)
    train_c = corpus.subset("train")
    del corpus
    batch = Batch.from_corpus(train_c, D, dtype)
    model = AttentionModel.initial(cfg, train_c.vocab_size, train_c.n_classes)
    return cfg, train_c, batch, model


# --------------------------------------------------------------------------- the NumPy twin

def numpy_epoch_fc(word_ids, offsets, labels, scores, emb, W, lr_v: float, lr_s: float,
                   block: int | None = None) -> float:
    r"""One full-batch step of the FC model in plain NumPy; updates ``scores`` and ``emb`` in
    place and returns the loss before the step.

    :math:`a_{iw} = e^{s_w}/\sum_{u\in S_i}e^{s_u}`, :math:`c_i = \sum_w a_{iw}v_w`,
    :math:`z_i = W^\top c_i`, :math:`L = \frac1n\sum_i(\log\sum_k e^{z_{ik}} - z_{iy_i})`,
    :math:`g_i = \frac1n W(\mathrm{softmax}(z_i) - e_{y_i})`,
    :math:`\partial L/\partial v_w = \sum_{(i,w)} a_{iw}g_i`,
    :math:`\partial L/\partial s_w = \sum_{(i,w)} a_{iw}(v_w - c_i)\cdot g_i`; then
    :math:`v \leftarrow v - \eta_v\,\partial L/\partial v`, :math:`s \leftarrow s - \eta_s\,\partial L/\partial s`
    (:math:`\eta_s = \eta_k|q|^2`).  Sentences are processed ``block`` at a time (all of them
    by default), every gradient taken at the old point
    (:func:`attndyn.numerics.model.reference.loss_and_grads`, the package's one NumPy reference).
    """
    loss, gv, gs, _ = reference.loss_and_grads("fc", {"W": W}, emb.astype(np.float64, copy=False),
                                               scores.astype(np.float64, copy=False), word_ids, offsets,
                                               labels, block=block)
    emb -= lr_v * gv
    scores -= lr_s * gs
    return loss


# --------------------------------------------------------------------------- PyTorch

def torch_epoch_fn(variant: str, word_ids, offsets, labels, emb0, keys0, query, W, lr: float, threads: int):
    """A closure running one PyTorch epoch (forward, ``backward``, SGD update; float64) and
    returning the loss before it; also returns a function giving ``(scores, embeddings)``.

    ``torch``: padded (n, L) index, ``F.embedding`` for keys and embeddings, masked softmax,
    weighted sum.  ``torch-bag``: scores :math:`Kq` per word, segment softmax, ``embedding_bag``.
    """
    import torch  # deferred: optional (benchmarks only), never a dependency
    import torch.nn.functional as F  # deferred: optional (benchmarks only), never a dependency

    torch.set_num_threads(threads)
    dt = torch.float64
    n = len(labels)
    lengths = np.diff(offsets)
    E = torch.nn.Parameter(torch.tensor(np.asarray(emb0, np.float64), dtype=dt))
    K = torch.nn.Parameter(torch.tensor(np.asarray(keys0, np.float64), dtype=dt))
    q = torch.tensor(np.asarray(query, np.float64), dtype=dt)
    Wt = torch.tensor(np.asarray(W, np.float64), dtype=dt)
    y = torch.from_numpy(np.asarray(labels, np.int64))
    if variant == "torch":
        L = int(lengths.max())
        pos = np.arange(len(word_ids)) - np.repeat(offsets[:-1], lengths)
        rows = np.repeat(np.arange(n), lengths)
        idx_np = np.zeros((n, L), np.int64)
        idx_np[rows, pos] = word_ids
        idx = torch.from_numpy(idx_np)
        ragged = bool(np.any(lengths != L))
        mask = None
        if ragged:
            m = np.zeros((n, L), bool)
            m[rows, pos] = True
            mask = torch.from_numpy(~m)

        def forward():
            s = F.embedding(idx, K) @ q  # (n, L)
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))
            a = torch.softmax(s, dim=1)
            c = (a.unsqueeze(-1) * F.embedding(idx, E)).sum(dim=1)
            return F.cross_entropy(c @ Wt, y)
    elif variant == "torch-bag":
        flat = torch.from_numpy(np.asarray(word_ids, np.int64))
        offs = torch.from_numpy(np.asarray(offsets[:-1], np.int64))
        sent = torch.from_numpy(np.repeat(np.arange(n), lengths))

        def forward():
            s = (K @ q)[flat]
            mx = torch.full((n,), float("-inf"), dtype=dt).scatter_reduce(0, sent, s.detach(), "amax")
            e = torch.exp(s - mx[sent])
            Z = torch.zeros(n, dtype=dt).index_add(0, sent, e)
            a = e / Z[sent]
            c = F.embedding_bag(flat, E, offs, mode="sum", per_sample_weights=a)
            return F.cross_entropy(c @ Wt, y)
    else:  # pragma: no cover - guarded by the caller
        raise UsageError(f"PyTorch variant {variant!r}: expected torch or torch-bag")

    def epoch() -> float:
        E.grad = None
        K.grad = None
        loss = forward()
        loss.backward()
        with torch.no_grad():
            E.sub_(lr * E.grad)
            K.sub_(lr * K.grad)
        return float(loss.detach())

    def state():
        with torch.no_grad():
            return (K @ q).numpy().copy(), E.detach().numpy().copy()

    return epoch, state


# --------------------------------------------------------------------------- measurements

def peak_rss_bytes() -> int | None:
    """This process's peak resident set size (``VmHWM``), or ``ru_maxrss`` where /proc is missing."""
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024
    except (ImportError, OSError):  # pragma: no cover
        return None


def _timed(step: Callable[[], float], warmup: int, epochs: int,
           min_seconds: float = 0.0) -> tuple[list[float], float]:
    """``epochs`` timed epochs after ``warmup`` untimed ones; more (up to ``BENCH.max_timed_epochs``)
    when the last warm-up epoch says ``epochs`` would take less than ``min_seconds``."""
    loss = float("nan")
    last = 0.0
    for _ in range(warmup):
        t = time.perf_counter()
        loss = step()
        last = time.perf_counter() - t
    if min_seconds > 0 and last > 0:
        epochs = max(epochs, min(BENCH.max_timed_epochs, math.ceil(min_seconds / last)))
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        loss = step()
        times.append(time.perf_counter() - t)
    return times, loss


def _rel(a, b) -> float:
    """max |a - b| / max(max |b|, tiny): a difference relative to the array's scale."""
    a = np.asarray(a, np.float64)
    b = np.asarray(b, np.float64)
    scale = float(np.max(np.abs(b))) if b.size else 0.0
    return float(np.max(np.abs(a - b)) / scale) if scale > 0 else float(np.max(np.abs(a - b), initial=0.0))


def _twin_runner(impl: str, train_c, model, lr: float, threads: int):
    """One-epoch closure of ``impl`` started at ``model``'s current point, and its state getter."""
    q = model.query.astype(np.float64)
    W = model.classifier["W"].astype(np.float64)
    if impl == "numpy":
        scores = np.asarray(model.scores, np.float64).copy()
        emb = model.embeddings.astype(np.float64).copy()
        lr_s = lr * float(q @ q)

        def epoch():
            return numpy_epoch_fc(train_c.word_ids, train_c.offsets, train_c.labels, scores, emb, W,
                                  lr, lr_s, BENCH.numpy_block)
        return epoch, lambda: (scores.copy(), emb.copy())
    return torch_epoch_fn(impl, train_c.word_ids, train_c.offsets, train_c.labels, model.embeddings,
                          model.keys, q, W, lr, threads)


def agreement(impl: str, size: Size, threads: int) -> dict:
    """One epoch of ``impl`` and of the kernel from the same initial point: the loss and the
    relative difference of the score and embedding updates."""
    _, train_c, batch, model = problem(size)
    s0 = np.asarray(model.scores, np.float64).copy()
    v0 = model.embeddings.astype(np.float64).copy()
    if impl in KERNELS:  # the other kernel path, on its own copy of the model
        other = model.copy()
        other.kernel_path = KERNELS[impl]
        loss_t = other.step(batch, 0.1, 0.1)
        s_t, v_t = np.asarray(other.scores, np.float64), other.embeddings.astype(np.float64)
    else:
        epoch, state = _twin_runner(impl, train_c, model, 0.1, threads)
        loss_t = epoch()
        s_t, v_t = state()
    loss_k = model.step(batch, 0.1, 0.1)
    s_k, v_k = np.asarray(model.scores, np.float64), model.embeddings.astype(np.float64)
    return {"loss_rel": abs(loss_t - loss_k) / abs(loss_k),
            "score_update_rel": _rel(s_t - s0, s_k - s0),
            "embedding_update_rel": _rel(v_t - v0, v_k - v0)}


def measure(impl: str, size: Size, warmup: int, epochs: int, threads: int, check: bool,
            min_seconds: float = 0.0) -> dict:
    """Time ``impl`` at ``size`` in this process (the worker's job): ``epochs`` epochs, more when they
    would take less than ``min_seconds`` (:func:`_timed`)."""
    if impl not in IMPLS:
        raise UsageError(f"implementation {impl!r}: expected one of {', '.join(IMPLS)}")
    numba.set_num_threads(threads)
    t0 = time.perf_counter()
    cfg, train_c, batch, model = problem(size)
    lr = cfg.train.lr
    if impl in KERNELS:
        model.kernel_path = KERNELS[impl]

        def epoch():
            return model.step(batch, lr, lr)
    else:
        epoch, _ = _twin_runner(impl, train_c, model, lr, threads)
        del batch, model  # the twins hold their own copies of the parameters
    setup = time.perf_counter() - t0
    times, loss = _timed(epoch, warmup, epochs, min_seconds)
    floors = measure_floors(batch, model, warmup, epochs, threads) if impl == "kernel" else None
    out = {"impl": impl, "size": size.name, "n_train": int(train_c.n_sentences), "vocab": int(train_c.vocab_size),
           "nnz": int(len(train_c.word_ids)), "threads": threads, "setup_seconds": round(setup, 4),
           "warmup_epochs": warmup, "epoch_seconds": times,
           "median_seconds": statistics.median(times) if times else None,
           "min_seconds": min(times) if times else None,
           "last_loss": loss, "peak_rss_bytes": peak_rss_bytes()}
    if impl in KERNELS:
        out["kernel_path"] = model.kernel_options()["path"]
        out["classes"] = int(model.n_classes)
    if floors is not None:
        out["floors"] = floors
    if check and impl != "kernel":  # (kernel-full: against the kernel's default path)
        out["agreement"] = agreement(impl, size, threads)
    return out


def measure_floors(batch, model, warmup: int, epochs: int, threads: int) -> dict:
    """The memory and arithmetic floors of one epoch on the kernel's own batch and table
    (:mod:`attndyn.numerics.experiments.floor`), measured in the kernel's process after it."""
    from attndyn.numerics.experiments.floor import (flops_per_occurrence, gather_scatter,
                                                    peak_flops)  # deferred: kernel measurements only
    from attndyn.proofs.settings import KERNEL  # deferred: kernel measurements only

    emb = model.embeddings
    K = int(model.n_classes)
    # the d-wide floor gathers the embedding table; the K-wide one the rows [u_w, e_w] (V x (K + 1)) and
    # [d_i, r_i] (n x (K + 1)) that the low-rank kernels gather per occurrence
    tables = {"": (emb, np.empty_like(batch.G)),
              "_k": (np.zeros((emb.shape[0], K + 1)), np.empty((batch.n, K + 1)))}
    out = {}
    for tag, (table, ctx) in tables.items():
        def floor_epoch():
            return gather_scatter(batch.word_ids, batch.offsets, batch.uw, batch.uptr, batch.occ_sent, table,
                                  ctx, KERNEL.sentence_chunk, KERNEL.word_chunk)
        times, _ = _timed(floor_epoch, warmup, epochs)
        out[f"memory_floor{tag}_seconds"] = statistics.median(times)
        out[f"memory_floor{tag}_epoch_seconds"] = times
    nnz = int(len(batch.word_ids))
    width = K if model.lowrank() or model.fused() else int(emb.shape[1])  # what the kernel that ran moves per occurrence
    fpo = flops_per_occurrence(width)
    peak = peak_flops()
    out.update({"flops_per_occurrence": fpo, "peak_flops_per_thread": peak, "table_width": width,
                "arithmetic_floor_seconds": nnz * fpo / (peak * threads), "nnz": nnz})
    return out


def measure_reproduce(overrides: Sequence[str] = ()) -> dict:
    """Training seconds of ``attndyn reproduce synthetic`` (no figures) in this process."""
    t0 = time.perf_counter()
    runs = train_runs("synthetic", overrides, progress=False, log=lambda _line: None)
    return {"runs": {r.preset: {"training_seconds": r.seconds, "epochs": r.result.epochs,
                                "threads": r.result.threads, "final_loss": r.result.final_loss}
                     for r in runs},
            "training_seconds": sum(r.seconds for r in runs),
            "wall_seconds": time.perf_counter() - t0,
            "peak_rss_bytes": peak_rss_bytes()}


def _worker_main(argv: Sequence[str]) -> int:
    """``python -m attndyn.numerics.experiments.bench --worker JSON``: one measurement, its JSON on the last stdout line."""
    print(json.dumps(_measure_spec(json.loads(argv[1]))))
    return 0


def _measure_spec(spec: dict) -> dict:
    """Run the measurement a worker spec describes (in this process)."""
    if spec["impl"] == "reproduce":
        if spec.get("threads"):
            numba.set_num_threads(spec["threads"])
        return measure_reproduce(spec.get("overrides", ()))
    s = spec["size"]
    size = Size(s["name"], s["n_sentences"], s["vocab"], tuple(s["split"]))
    return measure(spec["impl"], size, spec["warmup"], spec["epochs"], spec["threads"], spec["check"],
                   spec.get("min_seconds", 0.0))


def _in_subprocess(spec: dict, module: str = "attndyn.numerics.experiments.bench") -> dict:
    """``python -m module --worker SPEC`` in a fresh process (its peak memory its own): the JSON on
    its last stdout line, or ``{"error": ...}`` on a timeout, a failed exit or no result."""
    cmd = [sys.executable, "-m", module, "--worker", json.dumps(spec)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=BENCH.worker_timeout,
                              stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {BENCH.worker_timeout:.0f} s"}
    if proc.returncode != 0:
        tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-6:])
        return {"error": f"exit status {proc.returncode}" + (f" (killed by signal {-proc.returncode}: "
                                                            "out of memory?)" if proc.returncode < 0 else "")
                + (f": {tail}" if tail else "")}
    try:
        return json.loads(proc.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {"error": f"no result from the worker: {proc.stdout[-300:]!r}"}


# --------------------------------------------------------------------------- the benchmark

def torch_version() -> str | None:
    """PyTorch's version when ``import torch`` works (in a subprocess: the parent stays light)."""
    try:
        proc = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                              capture_output=True, text=True, timeout=120, stdin=subprocess.DEVNULL)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return proc.stdout.strip() if proc.returncode == 0 else None


def _mb(x) -> str:
    return "n/a" if x is None else f"{x / 1e6:,.0f} MB"


def _t(x) -> str:
    if x is None:
        return "n/a"
    return f"{x * 1e3:.3g} ms" if x < 1 else f"{x:.3g} s"


def run_bench(sizes: Sequence[Size], *, impls: Sequence[str] = IMPLS, quick: bool = False,
              threads: int | None = None, reproduce: bool = True, reproduce_overrides: Sequence[str] = (),
              epochs: tuple[int, int] | None = None, isolate: bool = True, scale: bool = False,
              log: Callable[[str], None] = print) -> dict:
    """Measure every implementation at every size (one subprocess each when ``isolate``) and the
    ``reproduce synthetic`` training; print as it goes and return the JSON-ready results.

    ``epochs`` = (warm-up, timed) overrides the defaults of :data:`attndyn.proofs.settings.BENCH`.
    ``scale`` adds the sizes of :data:`SCALE_SIZES` not already asked for, kernel only, and fits
    the exponent of epoch time in N (:func:`scale_fit`).
    """
    kernel_only = set()
    if scale:
        names = {sz.name for sz in sizes}
        extra = [sz for sz in parse_sizes(",".join(SCALE_SIZES)) if sz.name not in names
                 and not any(o.name != "paper" and o.n_sentences == sz.n_sentences for o in sizes)]
        kernel_only = {sz.name for sz in extra}
        sizes = sorted(list(sizes) + extra, key=lambda sz: (sz.name != "paper", sz.n_sentences))
    bad = [i for i in impls if i not in IMPLS]
    if bad:
        raise UsageError(f"--impls: unknown implementation(s) {bad}; expected some of {', '.join(IMPLS)}")
    chosen = threads is not None
    threads = threads or numba.config.NUMBA_NUM_THREADS
    if threads < 1 or threads > numba.config.NUMBA_NUM_THREADS:
        raise UsageError(f"--threads: expected 1..{numba.config.NUMBA_NUM_THREADS}, got {threads}")
    tv = torch_version() if any(i.startswith("torch") for i in impls) else None
    wanted_torch = any(i.startswith("torch") for i in impls)
    impls = [i for i in IMPLS if i in impls and (not i.startswith("torch") or tv)]  # kernel first
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out = {"version": VERSION,
           "machine": {"cores": os.cpu_count(), "load_average_1min": load, "threads": threads,
                       "python": platform.python_version(), "numpy": np.__version__,
                       "numba": numba.__version__, "torch": tv, "platform": platform.platform()},
           "sizes": {}, "reproduce": None, "targets": []}
    log(f"attndyn bench: {threads} thread(s), {os.cpu_count()} cores, load average "
        f"{'n/a' if load is None else f'{load:.2f}'}, numba {numba.__version__}"
        + (f", torch {tv or 'not importable (PyTorch rows skipped)'}" if wanted_torch else ""))
    run = _in_subprocess if isolate else _in_process
    for size in sizes:
        big = size.n_sentences >= 500_000
        if epochs is not None:
            warm, timed = epochs
        elif big:
            warm, timed = 1, BENCH.quick_large_epochs if quick else BENCH.large_epochs
        else:
            warm, timed = BENCH.warmup_epochs, BENCH.quick_paper_epochs if quick else BENCH.paper_epochs
        check = size.n_sentences <= CHECK_MAX_SENTENCES
        min_seconds = 0.0 if (big or epochs is not None) else BENCH.min_timed_seconds
        # small sizes: several rounds, each running every implementation once in turn, so that
        # a burst of load from other jobs hits one round, not one implementation
        rounds = 1 if (big or quick) else BENCH.rounds
        size_spec = {"name": size.name, "n_sentences": size.n_sentences, "vocab": size.vocab,
                     "split": list(size.split)}
        size_impls = ["kernel"] if size.name in kernel_only else impls
        # issue 13: each implementation at its best thread count.  Below 10^6 (the paper's size) every
        # round times each one at 1 thread and at all of them and keeps its faster median; at 10^6 and
        # with --threads, one count
        counts = [threads] if (chosen or big or threads == 1) else [1, threads]
        per_round: dict[str, list[dict]] = {impl: [] for impl in size_impls}
        for rnd in range(rounds):
            for impl in size_impls:
                n_timed = timed if (impl in KERNELS or not big or epochs is not None) else min(
                    timed, BENCH.large_slow_epochs)
                tried = [run({"impl": impl, "size": size_spec, "warmup": warm, "epochs": n_timed,
                              "min_seconds": min_seconds, "threads": t,
                              "check": check and rnd == 0 and t == counts[-1]}) for t in counts]
                r = _best_thread_count(tried)
                per_round[impl].append(r)
                if "error" in r:
                    log(f"  {size.name:>6} {impl:<9} failed: {r['error']}")
                    continue
                if impl == "kernel" and rnd == 0:
                    log(f"size {size.name}: {r['n_train']} training sentences, V = {r['vocab']}, "
                        f"m = {M_WORDS}, d = {D}, K = {r['classes']}, FC, float64, {r['nnz']} word occurrences; "
                        f"kernel path {r['kernel_path']} (kernel-full: the d-wide path)")
                line = (f"  {size.name:>6} {impl:<9} {_t(r['median_seconds']):>10}/epoch (median of "
                        f"{len(r['epoch_seconds'])}, min {_t(r['min_seconds'])}, {r['threads']} thread(s)"
                        + (" best of " + ", ".join(f"{t}: {_t(m)}" for t, m in r["thread_medians"].items())
                           if len(r.get("thread_medians", {})) > 1 else "")
                        + f")  peak RSS {_mb(r['peak_rss_bytes'])}"
                        + (f"  [round {rnd + 1}/{rounds}]" if rounds > 1 else ""))
                if "floors" in r:
                    f = r["floors"]
                    per = 1e9 / f["nnz"]
                    line += (f"\n  {'':>6} {'':<9} per occurrence: kernel {r['median_seconds'] * per:.2f} ns, "
                             f"memory floor d-wide {f['memory_floor_seconds'] * per:.2f} ns (kernel/floor "
                             f"{r['median_seconds'] / f['memory_floor_seconds']:.2f}), K-wide "
                             f"{f['memory_floor_k_seconds'] * per:.2f} ns (kernel/floor "
                             f"{r['median_seconds'] / f['memory_floor_k_seconds']:.2f}), arithmetic floor "
                             f"{f['arithmetic_floor_seconds'] * per:.2f} ns ({f['flops_per_occurrence']} flops "
                             f"at {f['peak_flops_per_thread'] / 1e9:.1f} GFLOP/s per thread)")
                k = per_round["kernel"][rnd] if len(per_round.get("kernel", ())) > rnd else None
                if impl != "kernel" and k and "error" not in k:
                    line += f"  kernel {r['median_seconds'] / k['median_seconds']:.1f}x faster"
                if "agreement" in r:
                    line += f"  (agrees with the kernel to {max(r['agreement'].values()):.1e})"
                log(line)
        res = {impl: _merge_rounds(rs) for impl, rs in per_round.items()}
        ratios = {}
        for impl, rs in per_round.items():
            if impl == "kernel" or "kernel" not in per_round:
                continue
            pairs = [r["median_seconds"] / k["median_seconds"] for r, k in zip(rs, per_round["kernel"])
                     if "error" not in r and "error" not in k]
            if pairs:
                ratios[impl] = statistics.median(pairs)
        if rounds > 1 and ratios:
            log(f"  {size.name:>6} kernel faster than "
                + ", ".join(f"{i} {x:.1f}x" for i, x in ratios.items())
                + f" (median over {rounds} rounds of the same-round ratio)")
        out["sizes"][size.name] = {"million": size.is_million, "n_sentences": size.n_sentences,
                                   "vocab": size.vocab, "split": list(size.split), "rounds": rounds,
                                   "results": res, "kernel_speedup": ratios}
    if reproduce:
        log("reproduce synthetic: training paper-fc, paper-tc, paper-tl (no figures) ...")
        r = run({"impl": "reproduce", "threads": threads, "overrides": list(reproduce_overrides)})
        out["reproduce"] = r
        if "error" in r:
            log(f"  reproduce failed: {r['error']}")
        else:
            log(f"  training {r['training_seconds']:.2f} s ("
                + ", ".join(f"{k} {v['training_seconds']:.2f} s" for k, v in r["runs"].items())
                + (f"; with --set {' '.join(reproduce_overrides)}" if reproduce_overrides else "") + ")")
    out["scale"] = scale_fit(out)
    if out["scale"]:
        sc = out["scale"]
        log(f"scale: kernel epoch time ~ N^{sc['exponent']:.3f} over N = V = "
            + ", ".join(f"{p['n']:.0e} ({_t(p['seconds'])}, {_mb(p['peak_rss_bytes'])})" for p in sc["points"]))
    out["machine"]["load_average_1min_end"] = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    out["targets"] = targets(out, reproduce_overrides)
    end = out["machine"]["load_average_1min_end"]
    log(f"targets (issue 13; load average now {'n/a' if end is None else f'{end:.2f}'}: other jobs on "
        "the machine slow the measurements down):")
    for t in out["targets"]:
        log(f"  {t['name']:<52} measured {t['measured_text']:<14} {t['verdict']}")
    return out


def scale_fit(out: dict) -> dict | None:
    """Least-squares slope of log(kernel epoch time) against log N over the sizes N = V measured
    (paper size left out), when there are at least three: the scaling exponent (about 1)."""
    pts = [{"n": d["n_sentences"], "seconds": d["results"]["kernel"]["median_seconds"],
            "peak_rss_bytes": d["results"]["kernel"].get("peak_rss_bytes")}
           for name, d in out["sizes"].items()
           if name != "paper" and "kernel" in d["results"] and "error" not in d["results"]["kernel"]]
    if len(pts) < 3:
        return None
    pts.sort(key=lambda p: p["n"])
    x = np.log([p["n"] for p in pts])
    y = np.log([p["seconds"] for p in pts])
    slope = float(np.polyfit(x, y, 1)[0])
    return {"exponent": slope, "points": pts}


def _best_thread_count(tried: list[dict]) -> dict:
    """Of one implementation's runs at several thread counts (same round), the one with the lowest
    median epoch, with every count's median in ``thread_medians`` and the agreement check (run at the
    last count) carried over."""
    ok = [r for r in tried if "error" not in r]
    if not ok:
        return tried[-1]
    best = dict(min(ok, key=lambda r: r["median_seconds"]))
    best["thread_medians"] = {str(r["threads"]): r["median_seconds"] for r in ok}
    for r in ok:
        if "agreement" in r:
            best["agreement"] = r["agreement"]
    return best


def _merge_rounds(rs: list[dict]) -> dict:
    """One implementation's rounds as one result: all timed epochs, the largest peak RSS."""
    ok = [r for r in rs if "error" not in r]
    if not ok:
        return rs[0]
    times = [t for r in ok for t in r["epoch_seconds"]]
    out = dict(ok[0])
    out.update({"epoch_seconds": times, "median_seconds": statistics.median(times), "min_seconds": min(times),
                "round_medians": [r["median_seconds"] for r in ok],
                "round_threads": [r["threads"] for r in ok],
                "peak_rss_bytes": max((r["peak_rss_bytes"] or 0) for r in ok) or None})
    if len(ok) < len(rs):
        out["failed_rounds"] = [r["error"] for r in rs if "error" in r]
    return out


def _in_process(spec: dict) -> dict:
    """The worker's measurement in this process (tests; RSS is then this process's)."""
    try:
        return _measure_spec(spec)
    except UsageError:
        raise
    except Exception as exc:  # a failed measurement is reported like a failed worker
        return {"error": f"{type(exc).__name__}: {exc}"}


def targets(out: dict, reproduce_overrides: Sequence[str] = ()) -> list[dict]:
    """The issue's targets, each with the measured value and PASS / MISS (n/a when not measured)."""
    rows = []

    def add(name, target, measured, text, ok):
        rows.append({"name": name, "target": target, "measured": measured, "measured_text": text,
                     "verdict": "n/a" if measured is None else ("PASS" if ok else "MISS")})

    paper = out["sizes"].get("paper", {}).get("kernel_speedup", {})
    for impl in ("torch", "torch-bag"):
        x = paper.get(impl)
        add(f"kernel >= {BENCH.torch_ratio_target:g}x {impl} per epoch (paper size)",
            BENCH.torch_ratio_target, x, "n/a" if x is None else f"{x:.1f}x",
            x is not None and x >= BENCH.torch_ratio_target)
    big = next((s["results"].get("kernel", {}) for s in out["sizes"].values() if s.get("million")), {})
    t = big.get("median_seconds")
    add(f"<= {BENCH.large_epoch_target:g} s/epoch float64 at N = V = 1e6", BENCH.large_epoch_target, t,
        _t(t), t is not None and t <= BENCH.large_epoch_target)
    rss = big.get("peak_rss_bytes")
    add(f"<= {BENCH.large_rss_target / 1e9:g} GB peak RSS at N = V = 1e6", BENCH.large_rss_target, rss,
        "n/a" if rss is None else f"{rss / 1e9:.2f} GB", rss is not None and rss <= BENCH.large_rss_target)
    fl = big.get("floors") or {}
    for tag, what in (("", "d-wide"), ("_k", "K-wide")):  # the old layout's floor and the low-rank one's
        f = fl.get(f"memory_floor{tag}_seconds")
        ratio = t / f if t and f else None
        add(f"<= {BENCH.floor_ratio_target:g}x the {what} memory floor at N = V = 1e6", BENCH.floor_ratio_target,
            ratio, "n/a" if ratio is None else f"{ratio:.2f}x",
            ratio is not None and ratio <= BENCH.floor_ratio_target)
    sc = out.get("scale")
    ex = sc["exponent"] if sc else None
    add(f"scale exponent of epoch time in N (1e4..4e6) <= {BENCH.scale_exponent_target:g}",
        BENCH.scale_exponent_target, ex, "n/a" if ex is None else f"{ex:.3f}",
        ex is not None and ex <= BENCH.scale_exponent_target)
    rep = out.get("reproduce") or {}
    sec = rep.get("training_seconds") if not reproduce_overrides else None
    add(f"reproduce synthetic training <= {REPRODUCE.synthetic_seconds_target:g} s",
        REPRODUCE.synthetic_seconds_target, sec, "n/a" if sec is None else f"{sec:.2f} s",
        sec is not None and sec <= REPRODUCE.synthetic_seconds_target)
    return rows


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        sys.exit(_worker_main(sys.argv[1:]))
    print("usage: python -m attndyn.numerics.experiments.bench --worker JSON (internal); use `attndyn bench`", file=sys.stderr)
    sys.exit(2)
