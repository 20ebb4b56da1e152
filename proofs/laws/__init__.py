r"""``attndyn laws``: every conservation law of an attention model's training flow, exactly (issue 9).

Setting.  The loss is :math:`L(\theta)=\sum_i\ell_i(\varphi_i(\theta))` where
:math:`\varphi_i(\theta)` is what the classifier sees of sentence :math:`i` (its
context vector :math:`c_i=\sum_w a_wv_w`, softmax attention :math:`a` over the
scores :math:`s_w`), and "any classifier" means the :math:`\ell_i` are arbitrary.
The flow :math:`\dot\theta=-\Lambda\nabla L` with per-group rates
:math:`\Lambda=\operatorname{diag}(\eta_v,\eta_k,\eta_q)` is at every point a
combination of the fields :math:`W=\{\Lambda\nabla\varphi_{i,j}\}`.  A function
:math:`h` is conserved for every classifier and all labels iff
:math:`\nabla h\perp\operatorname{Lie}(W)` everywhere; near a generic point the
number of functionally independent laws is :math:`D-\dim\operatorname{Lie}(W)(\theta)`
(Frobenius; Marcotte, Gribonval & Peyré, "Abide by the law and follow the flow",
NeurIPS 2023, Thm 3.3).

Modules:

* :mod:`.problem` — :class:`FlowProblem` and exact arithmetic: :math:`E_w=e^{s_w}`
  as free indeterminates (justified by Ax's theorem), flint polynomials, the
  derivation :math:`D_k`;
* :mod:`.lie` — exact lower bound on :math:`\dim\operatorname{Lie}(W)` at a random
  rational point, with a Schwartz–Zippel failure bound;
* :mod:`.search` — the laws of a declared function class, solved exactly, each
  proved, and the functionally independent selection;
* :mod:`.prove` — the independent SymPy proof (true exponentials) of a law;
* :mod:`.spec` — :class:`ModelSpec` and the named attention models;
* :mod:`.calibration` — two-layer linear and ReLU networks (published counts);
* :mod:`.verify` — ready-to-register claims for ``attndyn verify``;
* :mod:`.run` — :func:`run_laws`, the two-sided completeness certificate,
  :class:`LawsResult` (``to_json``, ``latex``), :func:`check_count`.
"""
from importlib import import_module

# the public names, and the module each lives in; loaded on first use (PEP 562), so that
# ``attndyn --help`` and the light :mod:`.names` do not pay for SymPy and flint
_EXPORTS = {
    "expected_count": "calibration", "linear_net": "calibration", "relu_net": "calibration",
    "lie_rank": "lie", "FlowProblem": "problem", "is_law": "prove", "lie_derivatives": "prove",
    "LawsResult": "run", "check_count": "run", "in_law_space": "run", "named_table": "run", "run_laws": "run",
    "sen_law": "run", "table": "run", "find_laws": "search", "ModelSpec": "spec", "named_model": "spec",
    "NAMED": "names",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
