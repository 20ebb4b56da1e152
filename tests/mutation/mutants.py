"""The mutants: each one exact text replacement in one tracked file (it must match exactly once).

``kind`` says what sort of bug it is: ``kernel`` (numba kernels), ``driver`` (the Python
around them), ``math`` (a formula of attndyn.proofs), ``statement`` (what a claim prints),
``residual`` (how a claim measures), ``lp`` (a hypothesis decided by linear programming),
``search`` (the counterexample search's bookkeeping), ``tolerance`` (a loosened threshold).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Mutant:
    id: str
    path: str  # relative to the repository root (= the attndyn package)
    old: str  # the exact text replaced; must occur exactly once in ``path``
    new: str
    why: str  # the realistic bug it stands for
    kind: str
    # claims run by name instead of the default `attndyn verify` (a bug only a slow claim reaches;
    # the runner passes `--claim ID` for each, which runs slow claims too)
    claims: tuple[str, ...] = ()


SCORES = "numerics/kernels/scores.py"
LOWRANK = "numerics/kernels/lowrank.py"
FUSED = "numerics/kernels/fused.py"

MUTANTS: list[Mutant] = [
    Mutant("shared-score-sign", SCORES,
           "        return e_w * (vH - R)\n",
           "        return e_w * (R - vH)\n",
           "score gradient with the wrong sign (shared-exponent path)", "kernel"),
    Mutant("fallback-score-sign", SCORES,
           "        ds += a * (vg - cg[i])\n",
           "        ds += a * (cg[i] - vg)\n",
           "score gradient with the wrong sign (per-sentence fallback path)", "kernel"),
    Mutant("shared-emb-factor", SCORES,
           "            vH += emb[w, j] * dv[j]\n            dv[j] *= e_w\n",
           "            vH += emb[w, j] * dv[j]\n",
           "embedding gradient missing the factor e_w (shared-exponent path)", "kernel"),
    Mutant("fallback-emb-factor", SCORES,
           "            dv[j] += a * gij\n",
           "            dv[j] += gij\n",
           "embedding gradient missing the attention weight a_iw (fallback path)", "kernel"),
    Mutant("fallback-softmax-shift", SCORES,
           "    return mx + np.log(tot)\n",
           "    return np.log(tot)\n",
           "log-partition without its shift max s (fallback path's softmax)", "kernel"),
    Mutant("sentence-last-occurrence", SCORES,
           "                if o < o1:\n                    w0 = word_ids[o]\n",
           "                if o < o1 - 1:\n                    w0 = word_ids[o]\n",
           "off by one: an odd-length sentence loses its last occurrence (shared path)", "kernel"),
    # the K-wide low-rank kernels (numerics/kernels/lowrank.py): what the paper's linear runs execute
    Mutant("lowrank-score-sign", LOWRANK,
           "            ds = uD - Dw[K]  # (e_w) (u_w . D_w - R_w)\n",
           "            ds = Dw[K] - uD  # (e_w) (u_w . D_w - R_w)\n",
           "score gradient with the wrong sign (low-rank path)", "kernel"),
    Mutant("lowrank-shared-r-factor", LOWRANK,
           "                for k in range(K + 1):\n                    Dw[k] *= e_w\n",
           "                for k in range(K):\n                    Dw[k] *= e_w\n",
           "score gradient's R_w missing the factor e_w (low-rank shared-exponent path)", "kernel"),
    Mutant("lowrank-shared-partition", LOWRANK,
           "                    zs[K, b] = Z\n",
           "                    zs[K, b] = 1.0\n",
           "the partition Z~_i not handed to the block softmax: logits and d_i without the 1/Z~_i of the "
           "attention (low-rank shared-exponent path)", "kernel"),
    Mutant("lowrank-fallback-emb-factor", LOWRANK,
           "                        Dw[k] += a * Dn[i, k]\n",
           "                        Dw[k] += Dn[i, k]\n",
           "D_w missing the attention weight a_iw (low-rank fallback path)", "kernel"),
    Mutant("lowrank-fallback-softmax-shift", LOWRANK,
           "                lse[i] = mx + np.log(tot)\n",
           "                lse[i] = np.log(tot)\n",
           "log-partition without its shift max s (low-rank fallback path)", "kernel"),
    Mutant("lowrank-sentence-last-occurrence", LOWRANK,
           "                    if o < o1:\n                        w0 = word_ids[o]\n",
           "                    if o < o1 - 1:\n                        w0 = word_ids[o]\n",
           "off by one: an odd-length sentence loses its last occurrence (low-rank shared path)", "kernel"),
    Mutant("lowrank-block-remainder", LOWRANK,
           "                nb = min(BLOCK, i1 - i0)\n",
           "                nb = BLOCK if i1 - i0 >= BLOCK else 0\n",
           "the last, partial softmax block of each sentence chunk skipped: its sentences add no loss and "
           "no gradient (low-rank blocked sentence pass)", "kernel"),
    Mutant("lowrank-carry-stale", LOWRANK,
           "                    if carry:  # u_w (read above, for ds) is now the next step's W^T v_w\n",
           "                    if False:  # u_w (read above, for ds) is now the next step's W^T v_w\n",
           "the carried projection u_w = W^T v_w not refreshed after v_w moved: the next FC step computes "
           "its logits from the old embeddings (low-rank path)", "kernel"),
    # the fused step (numerics/kernels/fused.py): what `train.kernel = auto` runs at the paper's size
    Mutant("fused-store-score-sign", FUSED,
           "            grad_s[x] = ds\n",
           "            grad_s[x] = -ds\n",
           "the score gradient handed to an optimizer (Adam, momentum) with the wrong sign (fused store mode)",
           "kernel", claims=("N9-budget-optimizers",)),
    Mutant("fused-score-sign", FUSED,
           "        ds = uS - e_w * S[K]  # e_w (u_w . S_w - R'_w) = u_w . D_w - R_w\n",
           "        ds = e_w * S[K] - uS  # e_w (u_w . S_w - R'_w) = u_w . D_w - R_w\n",
           "score gradient with the wrong sign (fused step)", "kernel"),
    Mutant("fused-partition", FUSED,
           "            dd[k, b] *= iz[b]\n",
           "            dd[k, b] *= 1.0\n",
           "per-sentence d_i without the 1/Z~_i of the attention (fused step)", "kernel"),
    Mutant("fused-last-occurrence", FUSED,
           "            while o < o1:  # scatter",
           "            while o < o1 - 1:  # scatter",
           "off by one: each sentence's last word gets no gradient (fused scatter)", "kernel"),
    Mutant("fused-group-merge", FUSED,
           "        for g in range(1, G):  # groups in order",
           "        for g in range(1, G - 1):  # groups in order",
           "the last sentence group's accumulators left out of D_w (fused word pass)", "kernel"),
    Mutant("fused-block-remainder", FUSED,
           "        nb = min(B, last - i0)\n",
           "        nb = B if last - i0 >= B else 0\n",
           "the last, partial block of each sentence group skipped: its sentences add no loss and no "
           "gradient (fused blocked softmax)", "kernel"),
    # a step with explicit keys (the query trained) on the fused path: store mode, then optim.gd_key_rows
    Mutant("gd-key-rows-sign", "numerics/kernels/optim.py",
           "                keys[w, j] -= lr_k * ds * q[j]\n",
           "                keys[w, j] += lr_k * ds * q[j]\n",
           "the keys step up the gradient (explicit keys on the fused path)", "kernel"),
    Mutant("fused-keys-query-first", "numerics/model/attention.py",
           "        gd_key_rows(self._emb, self._keys, self.query, batch.uw, gv, gs, float(lr_v), float(lr_k))\n"
           "        if lr_q:\n"
           "            self.query -= lr_q * self._dq\n",
           "        if lr_q:\n"
           "            self.query -= lr_q * self._dq\n"
           "        gd_key_rows(self._emb, self._keys, self.query, batch.uw, gv, gs, float(lr_v), float(lr_k))\n",
           "the query moved before the keys, which then step along the new q: not every group moves by its "
           "gradient at the old point (explicit keys on the fused path)", "driver"),
    Mutant("vexp-reduction-low-part", "numerics/kernels/vexp.py",
           "    r = (xc - n * LN2_HI) - n * LN2_LO\n",
           "    r = xc - n * LN2_HI\n",
           "the exponential's range reduction without ln 2's low part: e^x off by ~2e-10 n relative (the "
           "fused softmax's and prepare's exponentials)", "kernel"),
    Mutant("classifier-relu-mask", "numerics/kernels/classifier.py",
           "                dH[h, b] = acc[b] if dH[h, b] != 0.0 else 0.0\n",
           "                dH[h, b] = acc[b]\n",
           "two-layer classifier backward ignores the ReLU mask", "kernel"),
    Mutant("score-step-no-qsq", "numerics/model/attention.py",
           "        lr_s = float(lr_keys) * float(q @ q)\n",
           "        lr_s = float(lr_keys)\n",
           "score step eta_k instead of eta_k |q|^2 (keys move along q)", "driver"),
    Mutant("sen-curve-m-plus-1", "proofs/sen.py",
           "(2.0 * rho / m) * exp_diff",
           "(2.0 * rho / (m + 1)) * exp_diff",
           "SEN curve with 1/(m+1) instead of 1/m", "math"),
    Mutant("flow-lr-ratio-inverted", "numerics/flow/systems.py",
           "        return self.lr_v / self.lr_k\n",
           "        return self.lr_k / self.lr_v\n",
           "learning-rate ratio eta_k/eta_v instead of eta_v/eta_k in the flow's SEN coefficient", "math"),
    Mutant("s6-statement-coefficient", "proofs/claims/symbolic_limits.py",
           "ETA_K * Q * a * (1 - a) * x ** 2",
           "ETA_K * Q * a ** 2 * (1 - a) * x ** 2",
           "S6's stated coefficient a_t^2(1-a_t) instead of a_t(1-a_t) (the statement is rendered "
           "from this expression, so the wrong formula would be printed)", "statement"),
    Mutant("n3-residual-no-abs", "numerics/training/train.py",
           "        r = np.abs(self.sen_residuals()[0])\n",
           "        r = self.sen_residuals()[0]\n",
           "SEN residual maximum over signed values (a trajectory under the curve hides)", "residual"),
    Mutant("achievability-lp-flipped", "numerics/convergence/hypotheses.py",
           "np.c_[-A, np.ones(n)]",
           "np.c_[A, -np.ones(n)]",
           "achievability LP with the inequality flipped ((w_y-w_j).u <= t): always 'holds'", "lp"),
    Mutant("search-resume-dedup", "numerics/search/driver.py",
           "        if i in st.records:\n",
           "        if i < 0:\n",
           "search --resume keeps duplicate point records", "search"),
    Mutant("tolerance-1e6-looser", "proofs/settings.py",
           "    rtol: float = 1e-9\n",
           "    rtol: float = 1e-3\n",
           "the symbolic checks' numeric tolerance loosened 10^6 x", "tolerance"),
    Mutant("budget-finite-step-order", "proofs/budget.py",
           "    fs = STEP ** 2 * st[\"c2\"]\n",
           "    fs = STEP ** 3 * st[\"c2\"]\n",
           "budget's finite-step source eta^3 c2 instead of eta^2 c2 (it would scale like eta^2)", "budget"),
    Mutant("suppression-s4-no-step-square", "numerics/claims/suppression.py",
           "    gap = np.abs(dv2 - Rn * ds - step2)\n",
           "    gap = np.abs(dv2 - Rn * ds)\n",
           "S4 on a discrete trajectory checked without the step's own square |dv|^2", "residual"),
    Mutant("capacity-order-direction", "numerics/claims/paper.py",
           "                gap = values[seed][hi][metric] - values[seed][lo][metric]\n",
           "                gap = values[seed][lo][metric] - values[seed][hi][metric]\n",
           "capacity ordering compared in the wrong direction (TL > TC > FC)", "statement",
           claims=("P1-capacity-ordering",)),
]
