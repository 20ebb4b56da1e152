r"""An independent PyTorch implementation of the authors' ablation training (issue 11), run side by
side with attndyn from attndyn's own initial parameters.

The authors' repository is not available here.  This is the training *as issue 11 describes it*,
written the way a PyTorch user writes it, and nothing of attndyn's numerics is used to train:

* ``nn.Embedding`` for the embeddings :math:`v_w` and the keys :math:`k_w`, a fixed query
  :math:`q` (a buffer, never a parameter);
* softmax attention over the bag of words of sentence :math:`i`:
  :math:`s_w = q\cdot k_w`, :math:`a_{iw} = e^{s_w}/\sum_{u\in S_i} e^{s_u}`,
  context :math:`c_i = \sum_{w\in S_i} a_{iw} v_w`;
* an ``nn.Linear`` classifier, logits :math:`z_i = W^\top c_i + b` (FC: fixed, no bias; TC:
  trained, with bias, as attndyn's ablation presets configure it);
* ``nn.CrossEntropyLoss()`` (the mean :math:`L = \frac1n\sum_i -\log \mathrm{softmax}(z_i)_{y_i}`),
  ``torch.optim.SGD(lr=0.1)`` on the full training split, one step per epoch;
* freezing by ``requires_grad_(False)`` (kf: the keys, ef: the embeddings, FC: the classifier).

float64 throughout, ``torch.set_num_threads(1)``.  The initial point is attndyn's, read from
:meth:`AttentionModel.initial` — the same call :func:`attndyn.numerics.training.train.train`
makes — so both sides start from the same bits and any gap is the training's.  (The benchmark's
``numerics/experiments/bench.py:torch_epoch_fn`` is not reused: it is FC only and steps by hand,
where this twin must use ``nn.Linear``, ``CrossEntropyLoss`` and ``optim.SGD`` as described.)

PyTorch is never imported by attndyn; this module lives in ``tests/`` and is used by
``tests/test_ablation_torch.py`` (short runs) and, as a script, for the full six presets::

    python -m tests.torch_ablation --out DIR [--epochs 6000] [--presets ablation-fc-kf,...]
                                   [--sentences N] [--threads 1]

(from the repository root, with ``attndyn`` importable).  It writes ``DIR/ablation_torch.json``
and ``DIR/ablation_torch.md``: per preset the training loss of both sides at the checkpoints,
the largest relative gap :math:`\max_e |L^{\rm attndyn}_e - L^{\rm torch}_e| / |L^{\rm torch}_e|`
over the whole curve, and the gaps of the final topic-word scores and norms.
"""
from __future__ import annotations

import argparse
import datetime
import os
from pathlib import Path
import sys
import time

import numpy as np

try:
    import torch
    from torch import nn
except ImportError:  # the tests skip; the script says so in one line
    torch = nn = None

PRESETS = tuple(f"ablation-{c}-{v}" for c in ("fc", "tc") for v in ("both", "kf", "ef"))
CHECKPOINTS = (0, 500, 1000, 2000, 4000, 6000)  # the README's table and issue 11's reading points


# --------------------------------------------------------------------------- the twin

if nn is not None:
    class BagOfWordsAttention(nn.Module):
        """The authors' model as issue 11 describes it (see the module docstring)."""

        def __init__(self, embeddings, keys, query, W, b=None):
            super().__init__()
            V, d_e = embeddings.shape
            dt = torch.float64
            self.embedding = nn.Embedding(V, d_e, dtype=dt)
            self.keys = nn.Embedding(V, keys.shape[1], dtype=dt)
            self.register_buffer("query", torch.tensor(np.asarray(query, np.float64), dtype=dt))
            self.classifier = nn.Linear(d_e, W.shape[1], bias=b is not None, dtype=dt)
            with torch.no_grad():  # attndyn's initial point, bit for bit
                self.embedding.weight.copy_(torch.from_numpy(np.asarray(embeddings, np.float64)))
                self.keys.weight.copy_(torch.from_numpy(np.asarray(keys, np.float64)))
                self.classifier.weight.copy_(torch.from_numpy(np.asarray(W, np.float64).T))  # nn.Linear: (K, d_e)
                if b is not None:
                    self.classifier.bias.copy_(torch.from_numpy(np.asarray(b, np.float64)))

        def forward(self, idx, mask=None):
            """Logits of the sentences ``idx`` (n, L) of word ids; ``mask`` (n, L) True at padding."""
            s = self.keys(idx) @ self.query  # s_w = q . k_w
            if mask is not None:
                s = s.masked_fill(mask, float("-inf"))  # padding takes no attention
            a = torch.softmax(s, dim=1)
            c = (a.unsqueeze(-1) * self.embedding(idx)).sum(dim=1)  # c_i = sum_w a_iw v_w
            return self.classifier(c)


def require_torch():
    if torch is None:
        raise ImportError("PyTorch is not installed: the PyTorch twin needs `import torch`")
    torch.set_num_threads(1)  # one thread: the twin's own bits do not depend on the machine's cores


def padded(word_ids, offsets):
    """Sentences in CSR layout as an (n, L) index and a padding mask (None if all lengths equal)."""
    lengths = np.diff(offsets)
    n, L = len(lengths), int(lengths.max())
    rows = np.repeat(np.arange(n), lengths)
    pos = np.arange(len(word_ids)) - np.repeat(offsets[:-1], lengths)
    idx = np.zeros((n, L), np.int64)
    idx[rows, pos] = word_ids
    if np.all(lengths == L):
        return torch.from_numpy(idx), None
    pad = np.ones((n, L), bool)
    pad[rows, pos] = False
    return torch.from_numpy(idx), torch.from_numpy(pad)


def twin_from(model) -> "BagOfWordsAttention":
    """The PyTorch model at attndyn ``model``'s current parameters (its keys, reconstructed)."""
    clf = model.classifier
    return BagOfWordsAttention(model.embeddings, model.keys, model.query, clf["W"], clf.get("b"))


def freeze(net, trainable) -> list:
    """``requires_grad_(False)`` on every group not in ``trainable``; the parameters left to SGD."""
    net.keys.weight.requires_grad_("keys" in trainable)
    net.embedding.weight.requires_grad_("embeddings" in trainable)
    net.classifier.requires_grad_("classifier" in trainable)
    return [p for p in net.parameters() if p.requires_grad]


def torch_curve(model, train_c, trainable, epochs: int, lr: float) -> tuple[np.ndarray, dict]:
    """Train the PyTorch twin of attndyn ``model`` (its initial point) on the corpus ``train_c``
    (full batch, ``epochs`` SGD steps).  Returns the training loss after 0..``epochs`` epochs
    (entry e: the loss at the point after e steps, as attndyn's trajectory records it) and the
    final parameters (``embeddings``, ``keys``, ``scores`` = :math:`Kq`, ``W``, ``b``)."""
    require_torch()
    net = twin_from(model)
    opt = torch.optim.SGD(freeze(net, trainable), lr=lr)
    loss_fn = nn.CrossEntropyLoss()
    idx, mask = padded(train_c.word_ids, train_c.offsets)
    y = torch.from_numpy(np.asarray(train_c.labels, np.int64))
    losses = np.empty(epochs + 1)
    for e in range(epochs):
        opt.zero_grad()
        loss = loss_fn(net(idx, mask), y)
        loss.backward()
        opt.step()
        losses[e] = loss.item()  # the loss before step e + 1 = after e epochs
    with torch.no_grad():
        losses[epochs] = loss_fn(net(idx, mask), y).item()
        final = {"embeddings": net.embedding.weight.numpy().copy(), "keys": net.keys.weight.numpy().copy(),
                 "scores": (net.keys.weight @ net.query).numpy().copy(),
                 "W": net.classifier.weight.numpy().T.copy(),
                 "b": None if net.classifier.bias is None else net.classifier.bias.numpy().copy()}
    return losses, final


# --------------------------------------------------------------------------- side by side

def rel_gap(a, b) -> float:
    """max_e |a_e - b_e| / |b_e| (b the PyTorch side); where b_e = 0 the absolute gap."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    d = np.abs(a - b)
    scale = np.abs(b)
    return float(np.max(np.where(scale > 0, d / np.where(scale > 0, scale, 1.0), d), initial=0.0))


def scaled_gap(a, b) -> float:
    """max |a - b| / max |b| (an array's scale; absolute where b is all 0)."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    scale = float(np.max(np.abs(b), initial=0.0))
    d = float(np.max(np.abs(a - b), initial=0.0))
    return d / scale if scale > 0 else d


def side_by_side(preset: str, overrides=(), corpus=None) -> dict:
    """Train ``preset`` (with ``--set`` style ``overrides``) with attndyn and with the PyTorch twin
    from attndyn's initial parameters; both curves, final topic-word scores/norms and timings."""
    from attndyn.numerics.config.load import load_config
    from attndyn.numerics.model.attention import AttentionModel
    from attndyn.numerics.training.train import load_corpus, train

    cfg = load_config(preset=preset, overrides=list(overrides))
    if cfg.train.record_every != 1 or cfg.train.dtype != "float64":
        raise ValueError(f"{preset}: the comparison needs train.record_every = 1 and float64")
    corpus = load_corpus(cfg.corpus) if corpus is None else corpus
    train_c = corpus.subset("train")
    init = AttentionModel.initial(cfg, corpus.vocab_size, corpus.n_classes)  # what train() starts from
    t0 = time.perf_counter()
    res = train(cfg, corpus, progress=False)
    t_attndyn = time.perf_counter() - t0
    topic = np.asarray(res.topic_words)
    # train() started where `init` is: its recorded initial topic scores and |q||v_t| are init's
    if not (np.array_equal(res.initial_scores, init.scores[topic]) and np.array_equal(
            res.initial_qv, np.linalg.norm(init.query) * np.linalg.norm(init.embeddings[topic], axis=1))):
        raise RuntimeError(f"{preset}: attndyn's run did not start from AttentionModel.initial's parameters")
    t0 = time.perf_counter()
    losses, final = torch_curve(init, train_c, cfg.train.trainable, cfg.train.epochs, cfg.train.lr)
    t_torch = time.perf_counter() - t0
    traj = res.trajectory
    if res.status != "ok" or not np.array_equal(traj["epoch"], np.arange(cfg.train.epochs + 1)):
        raise RuntimeError(f"{preset}: attndyn run {res.status}: {res.message}")
    a_loss = np.asarray(traj["loss"], np.float64)
    a_scores = np.asarray(res.model.scores, np.float64)[topic]
    a_norms = np.linalg.norm(np.asarray(res.model.embeddings, np.float64)[topic], axis=1)
    t_norms = np.linalg.norm(final["embeddings"][topic], axis=1)
    return {
        "preset": preset, "overrides": list(overrides), "epochs": cfg.train.epochs,
        "trainable": sorted(cfg.train.trainable), "train_sentences": int(train_c.n_sentences),
        "attndyn_loss": a_loss, "torch_loss": losses,
        "loss_max_rel_gap": rel_gap(a_loss, losses),
        "loss_max_rel_gap_epoch": int(np.argmax(np.abs(a_loss - losses) / np.abs(losses))),
        "attndyn_topic_scores": a_scores, "torch_topic_scores": final["scores"][topic],
        "attndyn_topic_norms": a_norms, "torch_topic_norms": t_norms,
        "topic_score_gap": scaled_gap(a_scores, final["scores"][topic]),
        "topic_norm_gap": scaled_gap(a_norms, t_norms),
        "attndyn_final": {"embeddings": np.asarray(res.model.embeddings, np.float64),
                          "scores": np.asarray(res.model.scores, np.float64),
                          **{k: np.asarray(v, np.float64) for k, v in res.model.classifier.items()}},
        "torch_final": final,
        "initial": {"embeddings": init.embeddings.copy(), "keys": init.keys.copy(),
                    "scores": np.asarray(init.scores, np.float64).copy(),
                    **{k: np.asarray(v, np.float64).copy() for k, v in init.classifier.items()}},
        "attndyn_seconds": t_attndyn, "torch_seconds": t_torch,
    }


# --------------------------------------------------------------------------- the script

def _row(r: dict, checkpoints) -> dict:
    return {"preset": r["preset"], "epochs": r["epochs"], "trainable": r["trainable"],
            "train_sentences": r["train_sentences"],
            "checkpoints": [int(c) for c in checkpoints],
            "attndyn_loss": [float(r["attndyn_loss"][c]) for c in checkpoints],
            "torch_loss": [float(r["torch_loss"][c]) for c in checkpoints],
            "loss_rel_gap_at_checkpoints": [rel_gap(r["attndyn_loss"][c], r["torch_loss"][c]) for c in checkpoints],
            "loss_max_rel_gap": r["loss_max_rel_gap"], "loss_max_rel_gap_epoch": r["loss_max_rel_gap_epoch"],
            "topic_scores": {"attndyn": r["attndyn_topic_scores"].tolist(),
                             "torch": r["torch_topic_scores"].tolist(), "gap": r["topic_score_gap"]},
            "topic_norms": {"attndyn": r["attndyn_topic_norms"].tolist(),
                            "torch": r["torch_topic_norms"].tolist(), "gap": r["topic_norm_gap"]},
            "attndyn_seconds": round(r["attndyn_seconds"], 2), "torch_seconds": round(r["torch_seconds"], 2)}


def markdown(summary: dict) -> str:
    rows = summary["runs"]
    cps = rows[0]["checkpoints"] if rows else []
    out = [f"PyTorch twin vs attndyn, `{summary['command']}` (commit {summary['commit']}), "
           f"{summary['started']} – {summary['finished']} UTC, "
           f"load average {summary['load_start']} → {summary['load_end']}, torch {summary['torch']}.", "",
           f"| run | side | loss at {' / '.join(map(str, cps))} | max rel. gap over the curve (epoch) "
           f"| topic score / norm gap at the end | s |",
           "|---|---|---|---|---|---|"]
    for r in rows:
        g = f"{r['loss_max_rel_gap']:.2e} ({r['loss_max_rel_gap_epoch']})"
        sn = f"{r['topic_scores']['gap']:.1e} / {r['topic_norms']['gap']:.1e}"
        for side in ("attndyn", "torch"):
            losses = " / ".join(f"{x:.10g}" for x in r[f"{side}_loss"])
            out.append(f"| {r['preset']} | {side} | {losses} | {g if side == 'attndyn' else ''} "
                       f"| {sn if side == 'attndyn' else ''} | {r[f'{side}_seconds']} |")
    return "\n".join(out) + "\n"


def _commit() -> str | None:
    import subprocess

    try:
        return subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                              cwd=Path(__file__).resolve().parents[1], timeout=10).stdout.strip() or None
    except (OSError, subprocess.SubprocessError):
        return None


def main(argv=None) -> int:
    from attndyn.numerics.outputs import writable_dir, write_json
    from attndyn.proofs.errors import UsageError

    p = argparse.ArgumentParser(prog="python -m tests.torch_ablation", description=__doc__.split("\n\n")[0])
    p.add_argument("--out", required=True, help="directory for ablation_torch.json and ablation_torch.md")
    p.add_argument("--presets", default=",".join(PRESETS), help="comma list (default: all six)")
    p.add_argument("--epochs", type=int, default=None, help="override train.epochs (default: the preset's)")
    p.add_argument("--sentences", type=int, default=None, help="override corpus.n_sentences")
    p.add_argument("--threads", type=int, default=1, help="numba threads for attndyn (default 1)")
    args = p.parse_args(argv)
    try:
        require_torch()
        presets = [s.strip() for s in args.presets.split(",") if s.strip()]
        bad = [s for s in presets if s not in PRESETS]
        if bad or not presets:
            raise UsageError(f"--presets {args.presets!r}: expected names among {', '.join(PRESETS)}")
        if args.epochs is not None and args.epochs < 1:
            raise UsageError(f"--epochs {args.epochs}: expected an integer >= 1")
        if args.threads < 1:
            raise UsageError(f"--threads {args.threads}: expected an integer >= 1")
        out = writable_dir(args.out, "--out")
        overrides = [f"train.threads={args.threads}"]
        overrides += [] if args.epochs is None else [f"train.epochs={args.epochs}"]
        overrides += [] if args.sentences is None else [f"corpus.n_sentences={args.sentences}"]
        from attndyn.numerics.config.load import load_config
        from attndyn.numerics.training.train import load_corpus

        cfgs = [load_config(preset=s, overrides=overrides) for s in presets]  # every error before training
        epochs = cfgs[0].train.epochs
        cps = sorted({c for c in CHECKPOINTS if c <= epochs} | {epochs})
        started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S")
        load_start = "%.1f" % os.getloadavg()[0]
        corpora, runs, curves = {}, [], {}
        summary = {"command": " ".join(["python -m tests.torch_ablation", *(argv if argv is not None else sys.argv[1:])]),
                   "commit": _commit(), "started": started, "finished": None,
                   "load_start": load_start, "load_end": None,
                   "torch": torch.__version__, "overrides": overrides, "runs": runs}
        for s, cfg in zip(presets, cfgs):
            if cfg.corpus not in corpora:  # the six presets share one corpus: built once
                corpora[cfg.corpus] = load_corpus(cfg.corpus)
            print(f"{s}: {epochs} epochs, attndyn then PyTorch", flush=True)
            r = side_by_side(s, overrides, corpora[cfg.corpus])
            runs.append(_row(r, cps))
            curves[f"{s}/attndyn"], curves[f"{s}/torch"] = r["attndyn_loss"], r["torch_loss"]
            # after every preset: a run stopped part-way keeps the presets done so far
            summary.update(finished=datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S"),
                           load_end="%.1f" % os.getloadavg()[0])
            write_json(out / "ablation_torch.json", summary, "--out")
            (out / "ablation_torch.md").write_text(markdown(summary))
            np.savez(out / "ablation_torch_curves.npz", **curves)
            print(f"{s}: max relative loss gap {r['loss_max_rel_gap']:.3g} (epoch {r['loss_max_rel_gap_epoch']}); "
                  f"attndyn {r['attndyn_seconds']:.1f} s, torch {r['torch_seconds']:.1f} s", flush=True)
    except (UsageError, ImportError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {out / 'ablation_torch.json'} and {out / 'ablation_torch.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
