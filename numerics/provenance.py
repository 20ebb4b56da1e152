"""What makes a result file readable alone: the full resolved config with the classifier's
initial matrix written out (values and a sha256), the package and library versions, the
thread count and the kernels' chunk sizes (which decide the last bits of every sum).

:func:`provenance` is added to ``summary.json`` (``attndyn simulate``) and to
``check-convergence --json``, so a result never depends on a ``.npy`` file that may have
changed or gone, nor on the machine it was made on, to be understood.
"""
from __future__ import annotations

import hashlib
import platform
import sys

import numba
import numpy as np

from attndyn.numerics.model import classifiers as clf
from attndyn.numerics.model.spec import is_linear, OUTPUT_WEIGHT
from attndyn.proofs.settings import KERNEL


def array_sha256(a: np.ndarray) -> str:
    """sha256 of the array's float64 values in C order (dtype and layout independent)."""
    return hashlib.sha256(np.ascontiguousarray(a, dtype=np.float64).tobytes()).hexdigest()


def initial_classifier(cfg, n_classes: int) -> dict[str, np.ndarray]:
    """The classifier parameters :meth:`AttentionModel.initial` starts from (same seed stream,
    same matrix file), without building the whole model."""
    stream = np.random.default_rng(np.random.SeedSequence(cfg.train.seed).spawn(4)[0])
    matrix = None
    if cfg.model.classifier_matrix is not None:
        matrix = clf.load_matrix_file(cfg.model.classifier_matrix, "model.classifier_matrix")
    return clf.init_classifier(cfg.model.classifier, cfg.model.d_e, n_classes, stream, matrix=matrix)


def classifier_record(cfg, n_classes: int | None) -> dict:
    """The initial classifier written out: its source, shape, values and sha256 (the fixed
    matrix W of ``fc`` is the one every epoch uses)."""
    source = (f"file {cfg.model.classifier_matrix}" if cfg.model.classifier_matrix is not None
              else f"random, drawn from train.seed = {cfg.train.seed}")
    out: dict = {"kind": cfg.model.classifier, "source": source}
    if n_classes is None:
        out["values"] = None
        return out
    params = initial_classifier(cfg, int(n_classes))
    for name, a in params.items():
        a = np.asarray(a, dtype=np.float64)
        out[name] = {"shape": list(a.shape), "values": a.tolist(), "sha256": array_sha256(a)}
    if is_linear(cfg.model.classifier):
        out["matrix_sha256"] = array_sha256(np.asarray(params["W"], dtype=np.float64))
    return out


def versions() -> dict:
    import attndyn  # deferred: the package's own version is looked up lazily by attndyn/__init__

    return {"attndyn": attndyn.__version__, "python": platform.python_version(),
            "numpy": np.__version__, "numba": numba.__version__,
            "platform": f"{sys.platform}-{platform.machine()}"}


def n_classes_of(classifier: str, params: dict) -> int:
    """K, the number of classes, from a classifier's parameters (its output weight's columns)."""
    return int(np.shape(params[OUTPUT_WEIGHT[classifier]])[1])


def provenance(cfg, n_classes: int | None, threads: int | None = None) -> dict:
    """Everything besides the config's keys that a reader needs to know what a result is."""
    return {
        "config": cfg.to_dict(),
        "classifier_initial": classifier_record(cfg, n_classes),
        "versions": versions(),
        "threads": threads if threads is not None else numba.get_num_threads(),
        "kernel_chunks": {"sentence_chunk": KERNEL.sentence_chunk, "word_chunk": KERNEL.word_chunk,
                          "shared_exp_floor": KERNEL.shared_exp_floor},
    }
