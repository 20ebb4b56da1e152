r"""The optimizers of ``train.optimizer``: one step of each on a :class:`Batch`, with its state.

Notation: a parameter group :math:`\theta` (embeddings :math:`v_w`, keys :math:`k_w`, the query
:math:`q`, the classifier), its rate :math:`\eta` (``train.lr`` for a trained group, 0 for a
frozen one), its gradient :math:`g = \nabla_\theta L` on the batch, all gradients taken at the
same point before any group moves.  The semantics are PyTorch's, so runs can be compared with
``torch.optim`` (tests/test_optimizers.py):

* ``gd``, ``sgd`` — :math:`\theta \leftarrow \theta - \eta g`: the gradient kernels' own in-place
  update (:meth:`AttentionModel.step`), untouched; ``sgd`` only insists on mini-batches.
* ``momentum``, ``nesterov`` — ``torch.optim.SGD(lr, momentum=μ, dampening=0, nesterov=...)``:
  :math:`b \leftarrow \mu b + g`; :math:`\theta \leftarrow \theta - \eta b` or
  :math:`\theta \leftarrow \theta - \eta(g + \mu b)`.
* ``adam`` — ``torch.optim.Adam(lr, betas=(β₁, β₂), eps=ε)``, step :math:`t = 1, 2, \dots`:
  :math:`m \leftarrow \beta_1 m + (1-\beta_1) g`, :math:`u \leftarrow \beta_2 u + (1-\beta_2) g^2`,
  :math:`\theta \leftarrow \theta - \frac{\eta}{1-\beta_1^t}\, m/(\sqrt{u}/\sqrt{1-\beta_2^t} + \varepsilon)`.

Dense, like PyTorch: every row of every trained group steps each time, a word absent from a
mini-batch with gradient 0 and its decayed state (numerics/kernels/optim.py).

Keys with a fixed query.  The model then keeps the scores :math:`s_w = q\cdot k_w`
(numerics/kernels/scores.py).  Momentum stays exact there: :math:`g_{k_w} = (\partial L/\partial s_w)\,q`,
so the key's velocity is :math:`B_w q` with :math:`B_w \leftarrow \mu B_w + \partial L/\partial s_w`
and the score moves by :math:`-\eta|q|^2 B_w` (or :math:`-\eta|q|^2(\partial L/\partial s_w + \mu B_w)`): one
velocity per word, the keys still on :math:`k^0_w + \mathbb{R}q`.  Adam divides each key coordinate
by its own :math:`\sqrt{u}`, which moves keys off that line, so an Adam model keeps the keys
explicitly (``AttentionModel.initial``) and the keys' state is V x d_k.

Determinism: the gradient kernels reduce in fixed chunks and the update kernels are row-wise,
so a step is bitwise identical for any thread count.
"""
from __future__ import annotations

import math

import numpy as np

from attndyn.numerics.kernels.optim import adam_rows, momentum_rows
from attndyn.numerics.model.attention import AttentionModel, Batch
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import KERNEL

STATEFUL = ("momentum", "nesterov", "adam")


class _Group:
    """One parameter group: the array it updates (R x d view), its rate, its optimizer state."""

    def __init__(self, name: str, param: np.ndarray, lr: float, n_state: int, lr_given: float | None = None):
        self.name, self.param, self.lr = name, param, float(lr)
        self.lr_given = self.lr if lr_given is None else float(lr_given)  # the group's train.lr
        self.state = [np.zeros_like(param) for _ in range(n_state)]


class Optimizer:
    """A stateful optimizer (``momentum``, ``nesterov`` or ``adam``) bound to one model.

    ``lrs`` are the per-group rates of :meth:`AttentionModel.step` (``lr_embeddings``,
    ``lr_keys``, ``lr_query``, ``lr_classifier``; 0 freezes a group).  :meth:`step` takes
    one step on a batch and returns the loss before it."""

    def __init__(self, model: AttentionModel, name: str, lrs: dict, momentum: float = 0.9,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8):
        if name not in STATEFUL:
            raise UsageError(f"train.optimizer: expected one of {', '.join(STATEFUL)} here, got {name!r}")
        if name == "adam" and lrs.get("lr_keys") and not model.explicit_keys:
            raise UsageError("train.optimizer: adam needs a model that keeps its keys "
                             "(AttentionModel.initial with optimizer adam)")
        self.model, self.name = model, name
        self.mu, self.nesterov = float(momentum), name == "nesterov"
        self.beta1, self.beta2 = (float(b) for b in betas)
        self.eps = float(eps)
        self.t = 0  # steps taken (Adam's bias correction)
        n_state = 2 if name == "adam" else 1
        V, d_e = model.embeddings.shape
        dt = model.embeddings.dtype
        self.gv = np.zeros((V, d_e), dt)  # gradient rows of a batch's distinct words (first U used)
        self.gs = np.zeros(V, dt)
        # explicit keys: the keys' gradient rows (∂L/∂s_w) q, written each step (the first U rows)
        self.gk = np.zeros((V, len(model.query)), dt) if (lrs.get("lr_keys") and model.explicit_keys) else None
        self.all_rows = np.zeros(1, np.int64)  # the query and the classifier: one dense row
        self.groups: dict[str, _Group] = {}
        lv, lk = float(lrs.get("lr_embeddings", 0.0)), float(lrs.get("lr_keys", 0.0))
        lq, lc = float(lrs.get("lr_query", 0.0)), float(lrs.get("lr_classifier", 0.0))
        if lq and not model.explicit_keys:
            raise UsageError("lr_query: the query is fixed in this model (explicit_keys=False)")
        if lc and model.kind == "fc":
            raise UsageError("the fc classifier is fixed: lr_classifier must be 0")
        if lv:
            self.groups["embeddings"] = _Group("embeddings", model.embeddings, lv, n_state)
        if lk:
            if model.explicit_keys:
                self.groups["keys"] = _Group("keys", model._keys, lk, n_state)
            else:  # scores, one velocity per word, rate η|q|² (see the module docstring)
                q = model.query.astype(np.float64)
                self.groups["keys"] = _Group("scores", model._scores.reshape(-1, 1), lk * float(q @ q), n_state, lk)
        if lq:
            self.groups["query"] = _Group("query", model.query.reshape(1, -1), lq, n_state)
        if lc:
            self.groups["classifier"] = _Group("classifier", model._theta.reshape(1, -1), lc, n_state)

    def describe(self) -> dict:
        """What summary.json records beside the config: the resolved rule and state layout."""
        out = {"name": self.name, "steps": self.t,
               "groups": {k: {"rows": int(g.param.shape[0]), "cols": int(g.param.shape[1]), "lr": g.lr_given,
                              "stored_as": g.name, "rate_on_stored": g.lr} for k, g in self.groups.items()},
               "dense": True}
        if self.name == "adam":
            out.update(betas=[self.beta1, self.beta2], eps=self.eps, bias_correction=True,
                       eps_outside_sqrt=True)
        else:
            out.update(momentum=self.mu, dampening=0.0, nesterov=self.nesterov)
        return out

    def step(self, batch: Batch) -> float:
        """One step on ``batch``: every gradient at the current point, then every group's update."""
        model = self.model
        loss, dtheta, dq = model.row_gradients(batch, self.gv, self.gs, "classifier" in self.groups)
        if not math.isfinite(loss):
            return loss  # a diverged step changes nothing (the driver stops on it)
        uw = batch.uw
        U = len(uw)
        if self.gk is not None:  # (∂L/∂s_w) q with the old q ("keys" steps before "query")
            np.multiply(self.gs[:U, None], model.query[None, :], out=self.gk[:U])
        grads = {"embeddings": (uw, self.gv[:U]),
                 "keys": (uw, self.gk[:U] if self.gk is not None else self.gs[:U].reshape(-1, 1)),
                 "query": (self.all_rows, dq.reshape(1, -1)),
                 "classifier": (self.all_rows, dtheta.reshape(1, -1))}
        self.t += 1
        chunk = KERNEL.word_chunk
        if self.name == "adam":
            bc1 = 1.0 - self.beta1 ** self.t  # as PyTorch: step_size = lr / bc1
            bc2_sqrt = math.sqrt(1.0 - self.beta2 ** self.t)
        for key, g in self.groups.items():
            rows, G = grads[key]
            if self.name == "adam":
                m, v = g.state
                adam_rows(g.param, rows, G, m, v, g.lr / bc1, bc2_sqrt, self.beta1,
                          self.beta2, self.eps, chunk)
            else:
                momentum_rows(g.param, rows, G, g.state[0], g.lr, self.mu, self.nesterov, chunk)
        return loss


class PlainStep:
    """``gd``/``sgd``: the gradient kernels' own update (:meth:`AttentionModel.step`), untouched."""

    def __init__(self, model: AttentionModel, name: str, lrs: dict):
        self.model, self.name, self.lrs, self.t = model, name, dict(lrs), 0

    def step(self, batch: Batch) -> float:
        self.t += 1
        return self.model.step(batch, **self.lrs)

    def describe(self) -> dict:
        return {"name": self.name, "steps": self.t, "rule": "theta -= lr * grad (the kernels' in-place update)"}


def make_stepper(model: AttentionModel, t_cfg, lrs: dict, train_corpus=None):
    """``(step, optimizer)`` for ``t_cfg.optimizer``: ``step(batch) -> loss`` and the object that
    holds the state and ``describe()`` (recorded in summary.json).  With ``train_corpus``, a
    ``batch_size`` above its sentence count is refused for every optimizer but ``gd`` (which
    keeps treating it as the full batch, as it always has)."""
    name = getattr(t_cfg, "optimizer", "gd")
    n = getattr(train_corpus, "n_sentences", None)
    if name != "gd" and n is not None and (t_cfg.batch_size or 0) > n:
        raise UsageError(f"train.batch_size: at most the {n} training sentences of corpus "
                         f"{train_corpus.name!r}, got {t_cfg.batch_size}")
    if name in ("gd", "sgd"):
        plain = PlainStep(model, name, lrs)
        return plain.step, plain
    opt = Optimizer(model, name, lrs, momentum=t_cfg.momentum, betas=t_cfg.betas, eps=t_cfg.eps)
    return opt.step, opt
