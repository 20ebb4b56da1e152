"""Slow, obviously correct twins: loops over sentences and words, no vectorisation.

Every fast path is checked against these: the numba kernels (``test_kernels.py``), the
vectorised NumPy reference of the full model (``test_reference.py``) and, through it, the
full-model gradient flow and the benchmark's NumPy twin.  ``random_problem`` draws the small
problems they are compared on.
"""
import numpy as np

from attndyn.numerics.model import classifiers as cl


def twin_loss_grads(kind, E, K, q, params, word_ids, offsets, labels, weight=None):
    """Loss L = w * sum_i l_i and its gradients, one sentence at a time in plain NumPy."""
    n = len(labels)
    w = 1.0 / n if weight is None else weight
    C = np.zeros((n, E.shape[1]))
    A = []
    for i in range(n):
        ws = word_ids[offsets[i]:offsets[i + 1]]
        s = K[ws] @ q
        a = np.exp(s - s.max())
        a /= a.sum()
        A.append(a)
        C[i] = a @ E[ws]
    loss, dC, cls_grads = cl.loss_and_grads(kind, params, C, labels, np.full(n, w))
    dE, dK, dq = np.zeros_like(E), np.zeros_like(K), np.zeros_like(q)
    for i in range(n):
        ws = word_ids[offsets[i]:offsets[i + 1]]
        a, g = A[i], dC[i]
        np.add.at(dE, ws, a[:, None] * g[None, :])
        ds = a * ((E[ws] - C[i]) @ g)  # dL/ds_p = a_p (v_p - c) . g
        np.add.at(dK, ws, ds[:, None] * q[None, :])
        dq += ds @ K[ws]
    return loss, {"embeddings": dE, "keys": dK, "query": dq, **cls_grads}


def random_problem(seed, kind="fc", V=12, n=9, d_e=3, d_k=4, K=3, max_len=6, key_std=0.5):
    """Variable-length sentences (1..max_len words, repeats allowed) and random parameters."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(1, max_len + 1, n)
    offsets = np.zeros(n + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    word_ids = rng.integers(0, V, offsets[-1]).astype(np.int64)
    labels = rng.integers(0, K, n).astype(np.int64)
    E = rng.standard_normal((V, d_e))
    Kx = key_std * rng.standard_normal((V, d_k))
    q = rng.standard_normal(d_k)
    params = cl.init_classifier(kind, d_e, K, rng)
    if kind == "tl":  # larger weights so that some ReLUs are on and some off
        params = {k: 3 * v for k, v in params.items()}
    return dict(word_ids=word_ids, offsets=offsets, labels=labels, E=E, K=Kx, q=q, params=params,
                V=V, K_classes=K, d_e=d_e)


def twin_optimizer_step(name, params, grads, state, lr, t, momentum=0.9, betas=(0.9, 0.999), eps=1e-8):
    """One step of PyTorch's SGD (momentum, dampening 0, nesterov) or Adam, written out in plain
    NumPy from the formulas in torch.optim's documentation, on dicts of arrays (updated in place).
    ``t`` is the step number (1, 2, ...); ``state`` a dict the caller keeps between steps."""
    for k, p in params.items():
        g = grads[k]
        if name in ("momentum", "nesterov"):
            b = state[k] = momentum * state[k] + g if k in state else g.copy()
            p -= lr * (g + momentum * b if name == "nesterov" else b)
        elif name == "adam":
            b1, b2 = betas
            m, v = state.get(k, (np.zeros_like(p), np.zeros_like(p)))
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g * g
            state[k] = (m, v)
            m_hat = m / (1 - b1 ** t)
            v_hat = v / (1 - b2 ** t)
            p -= lr * m_hat / (np.sqrt(v_hat) + eps)
        else:
            p -= lr * g
