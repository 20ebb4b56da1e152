r"""The training step of a run config on every kernel path, side by side (issues 11 and 13).

``python -m attndyn.numerics.experiments.kernelpaths PRESET [--set KEY=VALUE ...] [--rounds R]
[--steps S] [--threads T]`` builds the preset's training split and two models from the same
initialisation, one with ``train.kernel`` = ``full`` (the d_e-wide kernels,
:mod:`attndyn.numerics.kernels.scores`) one with ``lowrank`` (:mod:`attndyn.numerics.kernels.lowrank`) and
one with ``fused`` (:mod:`attndyn.numerics.kernels.fused`; where it does not apply its step is lowrank's), and times one full-batch gradient-descent step of each (the preset's trainable groups and rate),
alternating: ``R`` rounds of ``S`` steps per path, so a burst of load from other jobs hits both.
It prints the median (and fastest) seconds per step of each path, the full/lowrank ratio and the largest relative difference
of the embeddings after the same steps (the paths agree to rounding).  Only the step is timed:
``attndyn simulate`` adds records and evaluations on top.  A benchmark, not a test.
"""
from __future__ import annotations

import statistics
import sys
import time
from typing import Sequence

import numba
import numpy as np

from attndyn.proofs.errors import UsageError


def _split(cfg):
    """The training split of the config's corpus, as ``attndyn simulate`` reads it."""
    from attndyn.numerics.data.corpus import synthetic  # deferred: heavy imports on use only
    from attndyn.numerics.data.sst import read_sst  # deferred: heavy imports on use only

    c = cfg.corpus
    corpus = read_sst(c.kind, c.sst_dir) if c.kind in ("sst2", "sst5") else synthetic(c.synthetic)
    return corpus, corpus.subset("train")


def compare(cfg, rounds: int = 10, steps: int = 5, threads: int = 1) -> dict:
    """Median seconds per step of the ``full``, ``lowrank`` and ``fused`` paths (alternating rounds)."""
    from attndyn.numerics.model.attention import AttentionModel, Batch  # deferred: numba kernels

    if cfg.model.classifier not in ("fc", "tc"):
        raise UsageError(f"model.classifier: the low-rank path is for fc and tc, got {cfg.model.classifier!r}")
    if cfg.train.batch_size is not None or cfg.train.optimizer not in ("gd", "sgd"):
        raise UsageError("train: the comparison times a full-batch gradient-descent step (unset "
                         "train.batch_size, train.optimizer gd)")
    numba.set_num_threads(threads)
    corpus, train_c = _split(cfg)
    batch = Batch.from_corpus(train_c, cfg.model.d_e, cfg.train.dtype)
    groups, lr = cfg.train.trainable, cfg.train.lr
    rates = dict(lr_embeddings=lr if "embeddings" in groups else 0.0, lr_keys=lr if "keys" in groups else 0.0,
                 lr_query=lr if "query" in groups else 0.0,
                 lr_classifier=lr if "classifier" in groups else 0.0)
    models = {}
    for path in ("full", "lowrank", "fused"):
        m = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)
        m.kernel_path = path
        m.step(batch, **rates)  # compilation and first touch, not timed
        models[path] = m
    times: dict[str, list[float]] = {p: [] for p in models}
    for _ in range(rounds):
        for path, m in models.items():
            t0 = time.perf_counter()
            for _ in range(steps):
                m.step(batch, **rates)
            times[path].append((time.perf_counter() - t0) / steps)
    med = {p: statistics.median(v) for p, v in times.items()}
    a, b, c = (models[p].embeddings.astype(np.float64) for p in ("full", "lowrank", "fused"))
    scale = max(float(np.max(np.abs(a))), 1e-300)
    return {"n_train": int(train_c.n_sentences), "nnz": int(len(train_c.word_ids)), "vocab": int(corpus.vocab_size),
            "d_e": int(cfg.model.d_e), "classes": int(corpus.n_classes), "threads": threads,
            "rounds": rounds, "steps": steps, "seconds": med, "round_seconds": times,
            "min_seconds": {p: min(v) for p, v in times.items()}, "fused_ran": bool(models["fused"].last_fused),
            "ratio_full_over_lowrank": med["full"] / med["lowrank"],
            "embeddings_rel_diff": float(np.max(np.abs(a - b)) / scale),
            "fused_rel_diff": float(np.max(np.abs(a - c)) / scale)}


def main(argv: Sequence[str]) -> int:
    import argparse  # deferred: only the stand-alone command line needs it
    import os  # deferred: only the stand-alone command line prints the load average

    from attndyn.numerics.config.load import load_config  # deferred: keeps the import light

    p = argparse.ArgumentParser(prog="python -m attndyn.numerics.experiments.kernelpaths",
                                description=__doc__.split("\n")[0])
    p.add_argument("preset")
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE", dest="overrides")
    p.add_argument("--rounds", type=int, default=10)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args(argv)
    try:
        for name, value in (("--rounds", a.rounds), ("--steps", a.steps), ("--threads", a.threads)):
            if value < 1:
                raise UsageError(f"{name}: expected an integer >= 1, got {value}")
        if a.threads > numba.config.NUMBA_NUM_THREADS:
            raise UsageError(f"--threads: at most {numba.config.NUMBA_NUM_THREADS} here, got {a.threads}")
        r = compare(load_config(None, preset=a.preset, overrides=a.overrides), a.rounds, a.steps, a.threads)
    except UsageError as exc:
        print(f"kernelpaths: {exc}", file=sys.stderr)
        return 2
    s, lo = r["seconds"], r["min_seconds"]
    print(f"{a.preset}: {r['n_train']} training sentences, {r['nnz']} occurrences, V = {r['vocab']}, "
          f"d_e = {r['d_e']}, K = {r['classes']}, {r['threads']} thread(s), load average "
          f"{os.getloadavg()[0]:.2f}: step full {s['full'] * 1e3:.3f} ms, lowrank {s['lowrank'] * 1e3:.3f} ms, "
          f"fused{'' if r['fused_ran'] else ' (not applicable: lowrank)'} {s['fused'] * 1e3:.3f} ms "
          f"(median of {r['rounds']} alternating rounds of {r['steps']} steps; fastest rounds "
          f"{lo['full'] * 1e3:.3f}, {lo['lowrank'] * 1e3:.3f}, {lo['fused'] * 1e3:.3f} ms); full/lowrank "
          f"{r['ratio_full_over_lowrank']:.2f}x; embeddings after the same steps agree to "
          f"{r['embeddings_rel_diff']:.1e} (lowrank), {r['fused_rel_diff']:.1e} (fused)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
