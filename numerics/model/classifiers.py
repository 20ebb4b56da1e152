r"""The three classifiers of the paper's experiments, in plain NumPy (the reference).

The context vectors of a batch are the rows of ``C`` (shape n x d_e); every
classifier maps them to logits ``Z`` (n x K) and the loss is the mean
cross-entropy :math:`\frac1n\sum_i -\log\operatorname{softmax}(Z_i)_{y_i}`.

* ``fc`` — fixed linear: :math:`Z = C W`, ``W`` of shape (d_e, K) (the paper's
  d_e x K matrix; its experiments draw it standard normal and set the diagonal to 1).
* ``tc`` — trainable linear, no bias: the same map, ``W`` trained.
* ``tl`` — two-layer ReLU: :math:`Z = \max(0, C W_1 + b_1) W_2 + b_2`, hidden width 10.

These functions are the slow, obviously correct twins that the numba kernels
(and the gradient-flow vector fields) are checked against.
"""
from __future__ import annotations

import numpy as np

from attndyn.numerics.model.spec import is_linear, KINDS
from attndyn.proofs.errors import UsageError

TL_HIDDEN = 10


def paper_matrix(d_e: int, K: int, rng: np.random.Generator) -> np.ndarray:
    """The paper's fixed classifier: standard normal (d_e x K) with its diagonal set to 1."""
    W = rng.standard_normal((d_e, K))
    idx = np.arange(min(d_e, K))
    W[idx, idx] = 1.0
    return W


def load_matrix_file(path, name: str) -> np.ndarray:
    """A ``.npy`` file as a numeric array, or a UsageError starting with ``name`` that says what
    the file is instead (missing, unreadable, not ``.npy`` at all, not numeric)."""
    try:
        with open(path, "rb") as fh:
            magic = fh.read(6)
    except FileNotFoundError:
        raise UsageError(f"{name}: file not found") from None
    except OSError as exc:
        raise UsageError(f"{name}: cannot read ({exc.strerror or exc})") from None
    if magic != b"\x93NUMPY":
        raise UsageError(f"{name}: not a .npy file (no NumPy header); save the matrix with numpy.save")
    try:
        W = np.load(path, allow_pickle=False)
    except FileNotFoundError:
        raise UsageError(f"{name}: file not found") from None
    except ValueError as exc:
        if "pickle" in str(exc):  # a .npy of Python objects (object dtype)
            raise UsageError(f"{name}: holds Python objects (object dtype); expected a numeric array") from None
        raise UsageError(f"{name}: not a readable .npy array ({exc})") from None
    except OSError as exc:
        raise UsageError(f"{name}: not a readable .npy array ({exc})") from None
    return check_numeric(W, name)


def check_numeric(W, name: str) -> np.ndarray:
    """``W`` as an array of real numbers (integer or float dtype), else a UsageError naming its dtype."""
    W = np.asarray(W)
    if W.dtype.kind not in "iuf":
        raise UsageError(f"{name}: expected a numeric array (integers or floats), got dtype {W.dtype}")
    return W


def check_matrix(W: np.ndarray, d_e: int, K: int, name: str = "classifier matrix") -> np.ndarray:
    """A user-supplied (d_e x K) matrix, validated: numeric, right shape, finite values."""
    W = np.asarray(check_numeric(W, name), dtype=np.float64)
    if W.shape != (d_e, K):
        raise UsageError(f"{name}: expected shape (d_e, K) = ({d_e}, {K}), got {W.shape}")
    if not np.all(np.isfinite(W)):
        raise UsageError(f"{name}: contains NaN or Inf")
    return W


LINEAR_INITS = ("paper", "torch")  # model.classifier_init: the paper's matrix, or nn.Linear's default


def init_classifier(kind: str, d_e: int, K: int, rng: np.random.Generator,
                    matrix: np.ndarray | None = None, hidden: int = TL_HIDDEN, *,
                    init: str = "paper", bias: bool = False) -> dict[str, np.ndarray]:
    r"""Initial classifier parameters.

    ``fc``/``tc``: ``matrix`` if given, else with ``init="paper"`` :func:`paper_matrix`, with
    ``init="torch"`` PyTorch's ``nn.Linear`` default, :math:`W` uniform in :math:`\pm 1/\sqrt{d_e}`
    (squared column norms about 1/3, against about d_e for the paper's matrix: the authors'
    TC).  ``bias``: a bias ``b`` (K), uniform in :math:`\pm 1/\sqrt{d_e}` with ``init="torch"``,
    else 0 (drawn after ``W``, so ``W`` does not depend on it).  ``tl``: weights
    uniform in :math:`\pm 1/\sqrt{\text{fan-in}}` (PyTorch's ``nn.Linear`` default),
    biases likewise.
    """
    if kind not in KINDS:
        raise UsageError(f"classifier: expected one of {KINDS}, got {kind!r}")
    if init not in LINEAR_INITS:
        raise UsageError(f"model.classifier_init: expected one of {', '.join(LINEAR_INITS)}, got {init!r}")
    if is_linear(kind):
        bound = 1.0 / np.sqrt(d_e)
        if matrix is not None:
            W = check_matrix(matrix, d_e, K)
        elif init == "torch":
            W = rng.uniform(-bound, bound, (d_e, K))
        else:
            W = paper_matrix(d_e, K, rng)
        if not bias:
            return {"W": W}
        b = rng.uniform(-bound, bound, K) if init == "torch" else np.zeros(K)
        return {"W": W, "b": b}
    if matrix is not None:
        raise UsageError("classifier matrix: only the linear classifiers (fc, tc) take a matrix")
    b1, b2 = 1.0 / np.sqrt(d_e), 1.0 / np.sqrt(hidden)
    return {
        "W1": rng.uniform(-b1, b1, (d_e, hidden)),
        "b1": rng.uniform(-b1, b1, hidden),
        "W2": rng.uniform(-b2, b2, (hidden, K)),
        "b2": rng.uniform(-b2, b2, K),
    }


def logits(kind: str, params: dict[str, np.ndarray], C: np.ndarray) -> np.ndarray:
    if is_linear(kind):  # an optional bias "b" (K): nn.Linear's, the authors' TC
        return C @ params["W"] + params["b"] if "b" in params else C @ params["W"]
    H = np.maximum(0.0, C @ params["W1"] + params["b1"])
    return H @ params["W2"] + params["b2"]


def cross_entropy(Z: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    r"""Per-row loss :math:`-\log\operatorname{softmax}(Z)_y` and its gradient :math:`p - e_y` (stable)."""
    Zs = Z - Z.max(axis=1, keepdims=True)
    logp = Zs - np.log(np.exp(Zs).sum(axis=1, keepdims=True))
    rows = np.arange(len(y))
    dZ = np.exp(logp)
    dZ[rows, y] -= 1.0
    return -logp[rows, y], dZ


def loss_and_grads(kind: str, params: dict[str, np.ndarray], C: np.ndarray, y: np.ndarray,
                   weights: np.ndarray | None = None,
                   relu: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> tuple[float, np.ndarray, dict[str, np.ndarray]]:
    r"""Loss :math:`L=\sum_i w_i \ell_i` (``weights`` default 1/n: the mean), :math:`\partial L/\partial C`
    (rows ``g_i``, the paper's classifier gradient at each context vector) and the
    gradients of the classifier's parameters.

    ``relu = (fwd, bwd)`` (``tl`` only, arrays of shape n x hidden) chooses the ReLU's side
    per row and unit instead of reading it off the sign of the pre-activation
    :math:`p = C W_1 + b_1`: the hidden layer is ``fwd * p`` and the backward factor ``bwd``
    (a fraction in [0, 1] is a Filippov convex combination of the two sides, used by the
    gradient flow at a kink).  ``fwd = bwd = (p > 0)`` is the ordinary ReLU."""
    n = C.shape[0]
    w = np.full(n, 1.0 / n) if weights is None else np.asarray(weights, dtype=np.float64)
    if is_linear(kind):
        per_row, dZ = cross_entropy(logits(kind, params, C), y)
        dZ = dZ * w[:, None]
        grads = {"W": C.T @ dZ, **({"b": dZ.sum(axis=0)} if "b" in params else {})}
        return float(w @ per_row), dZ @ params["W"].T, grads
    pre = C @ params["W1"] + params["b1"]
    fwd, bwd = (pre > 0, pre > 0) if relu is None else relu
    H = fwd * pre
    per_row, dZ = cross_entropy(H @ params["W2"] + params["b2"], y)
    dZ = dZ * w[:, None]
    dH = (dZ @ params["W2"].T) * bwd
    grads = {"W1": C.T @ dH, "b1": dH.sum(axis=0), "W2": H.T @ dZ, "b2": dZ.sum(axis=0)}
    return float(w @ per_row), dH @ params["W1"].T, grads
