r"""``attndyn bench``: what an optimizer costs per epoch, side by side with gradient descent.

At each size (``paper``: the paper's FC setting, 4000 training sentences, V = 5008; a number N:
N = V = N, m = 20, d = 10, numerics/experiments/bench.py) one subprocess builds the problem the
bench's kernel rows use (FC, fixed query, full batch) and three models from the same
initialisation — ``gd`` (the kernels' in-place step, :meth:`AttentionModel.step`),
``momentum`` and ``adam`` (numerics/training/optimizers.py: the same gradient kernels in their
store mode, then the row-wise update kernels of numerics/kernels/optim.py over every word; Adam
keeps the keys explicitly, so its epoch also recomputes :math:`s_w = q\cdot k_w` and
:math:`\partial L/\partial q`).  After warm-up it times them **alternately**, one epoch each per
round, so a burst of load from other jobs hits all three alike; the ratio reported is the
median over rounds of the same-round ratio (epoch / GD epoch), and the ratio of the fastest
epochs (the ones least hit by other jobs) beside it.  Threads: as ``attndyn simulate`` chooses
them (``train.auto_threads``: 1 at the paper's size, numba's default at 10^6) unless
``--threads``.  Target (issue 12): Adam
<= ``BENCH.optimizer_ratio_target`` (1.5) x GD at the paper's size and at 10^6.
"""
from __future__ import annotations

import json
import statistics
import sys
import time
from typing import Callable, Sequence

import numba

from attndyn.numerics.config.schema import CorpusSpec, ModelConfig, RunConfig, TrainConfig
from attndyn.numerics.data.corpus import synthetic
from attndyn.numerics.experiments.bench import _in_subprocess, D, peak_rss_bytes, Size
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.numerics.training.optimizers import make_stepper
from attndyn.numerics.training.train import auto_threads
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import BENCH

OPTIMIZERS = ("gd", "momentum", "adam")
LR = 0.1


def measure(size: Size, rounds: int, warmup: int, threads: int | None) -> dict:
    """Alternating epoch times of each optimizer at ``size`` (in this process: the worker's job).
    ``threads`` None: the count ``attndyn simulate`` would choose (``train.auto_threads``)."""
    t0 = time.perf_counter()
    corpus = synthetic(size.synthetic_config())
    train_c = corpus.subset("train")
    del corpus
    why = "--threads"
    if threads is None:
        threads, why = auto_threads(len(train_c.word_ids))
    numba.set_num_threads(threads)
    batch = Batch.from_corpus(train_c, D, "float64")
    steps = {}
    for name in OPTIMIZERS:
        cfg = RunConfig(CorpusSpec("synthetic", size.synthetic_config()),
                        ModelConfig(classifier="fc", d_e=D, d_k=D), TrainConfig(lr=LR, optimizer=name))
        model = AttentionModel.initial(cfg, train_c.vocab_size, train_c.n_classes)
        lrs = dict(lr_embeddings=LR, lr_keys=LR, lr_query=0.0, lr_classifier=0.0)
        steps[name] = make_stepper(model, cfg.train, lrs)[0]
    setup = time.perf_counter() - t0
    times = {name: [] for name in OPTIMIZERS}
    losses = {}
    for r in range(warmup + rounds):
        for name in OPTIMIZERS:
            t = time.perf_counter()
            losses[name] = steps[name](batch)
            dt = time.perf_counter() - t
            if r >= warmup:
                times[name].append(dt)
    ratios = {name: statistics.median(a / g for a, g in zip(times[name], times["gd"]))
              for name in OPTIMIZERS if name != "gd"}
    # the fastest epochs are the ones least hit by other jobs: their ratio is a second estimate
    min_ratios = {name: min(times[name]) / min(times["gd"]) for name in OPTIMIZERS if name != "gd"}
    return {"size": size.name, "n_train": int(train_c.n_sentences), "vocab": int(train_c.vocab_size),
            "nnz": int(len(train_c.word_ids)), "threads": threads, "threads_chosen_by": why, "rounds": rounds, "warmup": warmup,
            "setup_seconds": round(setup, 3), "epoch_seconds": times,
            "median_seconds": {k: statistics.median(v) for k, v in times.items()},
            "ratio_to_gd": ratios, "min_ratio_to_gd": min_ratios, "last_loss": losses, "peak_rss_bytes": peak_rss_bytes()}


def optimizer_bench(sizes: Sequence[Size], threads: int | None, quick: bool = False, isolate: bool = True,
                    log: Callable[[str], None] = print) -> dict:
    """Run :func:`measure` for each size (one subprocess each when ``isolate``), print, add targets."""
    if threads is not None and not 1 <= threads <= numba.config.NUMBA_NUM_THREADS:
        raise UsageError(f"--threads: expected 1..{numba.config.NUMBA_NUM_THREADS}, got {threads}")
    out = {"sizes": {}, "targets": []}
    log("optimizers: epoch time of momentum and adam vs gd, timed alternately (FC, full batch, float64; threads as "
        "`attndyn simulate` chooses them unless --threads)")
    for size in sizes:
        big = size.n_sentences >= 500_000
        rounds = BENCH.optimizer_rounds_large if big else BENCH.optimizer_rounds_paper
        if quick:
            rounds = max(2, rounds // 3)
        spec = {"size": {"name": size.name, "n_sentences": size.n_sentences, "vocab": size.vocab,
                         "split": list(size.split)}, "rounds": rounds, "warmup": 1 if big else 3,
                "threads": threads}
        r = (_worker(spec) if isolate else _measure_spec(spec))
        out["sizes"][size.name] = r
        if "error" in r:
            log(f"  {size.name:>6} failed: {r['error']}")
            continue
        med = r["median_seconds"]
        log(f"  {size.name:>6} gd {med['gd'] * 1e3:.3g} ms, momentum {med['momentum'] * 1e3:.3g} ms, "
            f"adam {med['adam'] * 1e3:.3g} ms per epoch (median of {rounds}); adam/gd "
            f"{r['ratio_to_gd']['adam']:.2f}x, momentum/gd {r['ratio_to_gd']['momentum']:.2f}x "
            f"(median same-round ratio, {r['threads']} thread(s); fastest epochs: adam/gd {r['min_ratio_to_gd']['adam']:.2f}x)")
        if size.name == "paper" or size.is_million:
            x = r["ratio_to_gd"]["adam"]
            ok = x <= BENCH.optimizer_ratio_target
            out["targets"].append({"name": f"adam epoch <= {BENCH.optimizer_ratio_target:g}x gd epoch "
                                           f"({'paper size' if size.name == 'paper' else 'N = V = 1e6'})",
                                   "target": BENCH.optimizer_ratio_target, "measured": x,
                                   "measured_text": f"{x:.2f}x", "verdict": "PASS" if ok else "MISS"})
    for t in out["targets"]:
        log(f"  {t['name']:<52} measured {t['measured_text']:<14} {t['verdict']}")
    return out


def _measure_spec(spec: dict) -> dict:
    s = spec["size"]
    size = Size(s["name"], s["n_sentences"], s["vocab"], tuple(s["split"]))
    return measure(size, spec["rounds"], spec["warmup"], spec["threads"])


def _worker(spec: dict) -> dict:
    """:func:`measure` in a fresh subprocess (its peak memory its own); ``{"error": ...}`` on failure."""
    return _in_subprocess(spec, "attndyn.numerics.experiments.optbench")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--worker":
        print(json.dumps(_measure_spec(json.loads(sys.argv[2]))))
        sys.exit(0)
    print("usage: python -m attndyn.numerics.experiments.optbench --worker JSON (internal); use `attndyn bench`",
          file=sys.stderr)
    sys.exit(2)
