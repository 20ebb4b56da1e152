"""Sizes checked before allocation: refuse a run whose arrays would not fit in memory.

:func:`estimate` adds up what a run allocates, part by part (the corpus's token arrays, the
model's per-word parameters and work buffers, the trajectory's records), each part with the
config fields that drive it; :func:`check_fits` compares the total with the memory available
now (:func:`available_bytes`: ``MemAvailable`` of ``/proc/meminfo``, bounded by the cgroup's
limit, else ``os.sysconf``) and raises a :class:`~attndyn.proofs.errors.UsageError` naming the
largest part's fields and the estimate in GB — in microseconds, before a single large array
exists (a corpus of 10^10 words or 10^11 epochs otherwise ends in a MemoryError after minutes).

The estimate is an upper-side approximation (generation temporaries and kernel buffers are
counted with a factor), so a run near the limit may be refused though it would just fit.
"""
from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path

from attndyn.numerics.config.schema import RunConfig
from attndyn.proofs.errors import UsageError

GB = 1024 ** 3
TOKEN_BYTES = 8 * 5  # per corpus token: word ids, generation temporaries, the kernels' occurrence index
SENTENCE_BYTES = 8 * 8  # per sentence: offsets, labels, split, per-sentence work buffers
MODEL_COPIES = 3  # per vocabulary word: parameters, gradients/work buffers, initial copies
RECORD_FLOATS = 9  # per trajectory record, besides 2 floats per topic word (TRAJECTORY_FIELDS)


@dataclass(frozen=True)
class Part:
    what: str
    fields: str  # the config fields that make this part large
    nbytes: float
    hint: str = ""  # what to change (default: make the fields smaller)


def estimate(cfg: RunConfig, vocab_size: int | None = None, tokens: int | None = None,
             trajectory: bool = True) -> list[Part]:
    """The parts a training run of ``cfg`` allocates, in bytes.  For a synthetic corpus the
    sizes follow from the config; for a loaded corpus (SST, or one given to ``train``) give its
    ``vocab_size`` and ``tokens`` instead."""
    m, t = cfg.model, cfg.train
    parts = []
    n_topic_words = 0
    if cfg.corpus.kind == "synthetic":
        s = cfg.corpus.synthetic
        n_topic_words = s.n_topics * s.topic_words_per_topic
    if cfg.corpus.kind == "synthetic" and vocab_size is None:
        vocab_size = n_topic_words + s.n_nontopic
        per_sentence = s.m + s.m_spread + s.topic_words_per_sentence
        parts.append(Part("corpus", "corpus.n_sentences, corpus.m",
                          float(s.n_sentences) * (per_sentence * TOKEN_BYTES + SENTENCE_BYTES)
                          + float(s.n_sentences) * 8.0 * m.d_e))
    elif tokens is not None:
        parts.append(Part("corpus", "corpus", float(tokens) * TOKEN_BYTES))
    if vocab_size is not None:
        dims = {"corpus.n_nontopic": (vocab_size, 5000), "model.d_e": (m.d_e, 10), "model.d_k": (m.d_k, 10)}
        big = max(dims, key=lambda k: dims[k][0] / dims[k][1])  # the field furthest above its default
        parts.append(Part("model", big if cfg.corpus.kind == "synthetic" or big != "corpus.n_nontopic"
                          else "corpus", float(vocab_size) * (m.d_e + m.d_k + 2) * 8.0 * MODEL_COPIES))
    states = {"momentum": 1, "nesterov": 1, "adam": 2}.get(getattr(t, "optimizer", "gd"), 0)
    if vocab_size is not None and states:  # optimizer state per word (+ its gradient rows)
        parts.append(Part("optimizer state", "train.optimizer",
                          float(vocab_size) * ((m.d_e + m.d_k) * (states + 1) + 1) * 8.0))
    if trajectory:
        records = t.epochs // t.record_every + 2
        parts.append(Part("trajectory", "train.epochs", float(records) * 8.0 * (RECORD_FLOATS + 2 * n_topic_words),
                          "lower train.epochs or raise train.record_every"))
    return parts


def _read_int(path: str) -> int | None:
    try:
        text = Path(path).read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def available_bytes() -> int | None:
    """Memory available to this process now, in bytes (None when it cannot be told)."""
    avail = None
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    avail = int(line.split()[1]) * 1024
                    break
    except (OSError, ValueError, IndexError):
        pass
    if avail is None:
        try:
            avail = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
        except (ValueError, OSError, AttributeError):
            avail = None
    limit = _read_int("/sys/fs/cgroup/memory.max")  # cgroup v2 ("max" when unlimited)
    used = _read_int("/sys/fs/cgroup/memory.current")
    if limit is not None and used is not None:
        room = max(limit - used, 0)
        avail = room if avail is None else min(avail, room)
    return avail


def check_fits(cfg: RunConfig, vocab_size: int | None = None, tokens: int | None = None,
               trajectory: bool = True, available: int | None = None) -> float:
    """Raise a UsageError when the run of ``cfg`` would not fit in memory; return the estimate
    (bytes).  ``available``: bytes to compare with (default :func:`available_bytes`)."""
    parts = estimate(cfg, vocab_size, tokens, trajectory)
    total = sum(p.nbytes for p in parts)
    avail = available_bytes() if available is None else available
    if avail is not None and total > avail:
        worst = max(parts, key=lambda p: p.nbytes)
        detail = ", ".join(f"{p.what} {p.nbytes / GB:.3g} GB" for p in parts)
        raise UsageError(f"{worst.fields}: the run needs about {total / GB:.3g} GB ({detail}) but "
                         f"{avail / GB:.3g} GB of memory is available; {worst.hint or f'make {worst.fields} smaller'}")
    return total
