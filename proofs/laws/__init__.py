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
from .calibration import expected_count, linear_net, relu_net
from .lie import lie_rank
from .problem import FlowProblem
from .prove import is_law, lie_derivatives
from .run import LawsResult, check_count, in_law_space, named_table, run_laws, sen_law, table
from .search import find_laws
from .spec import NAMED, ModelSpec, named_model

__all__ = ["FlowProblem", "LawsResult", "ModelSpec", "NAMED", "check_count", "expected_count", "find_laws",
           "in_law_space", "is_law", "lie_derivatives", "lie_rank", "linear_net", "named_model", "named_table",
           "relu_net", "run_laws", "sen_law", "table"]
