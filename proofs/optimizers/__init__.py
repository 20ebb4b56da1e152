r"""Beyond gradient flow (issue 12 §3): what finite steps and other optimizers do to the SEN quantity

.. math:: H = |q|^2|v_t|^2 - 2\frac{\eta_v}{\eta_k}\Big(s_t + \frac{e^{s_t}}{m}\Big).

Every result is derived from the one model (:mod:`attndyn.proofs.model`) through the reduced
topic-word field of :func:`attndyn.proofs.dynamics.topic_field` (query fixed, non-topic words
frozen at score 0 and embedding 0, an arbitrary classifier entering through
:math:`g = \nabla_c\ell`):

* :mod:`.phase` — time derivatives of inner-product expressions on a phase space with velocities;
* :mod:`.momentum` — heavy-ball / Nesterov limit ODEs :math:`\ddot x + \gamma(t)\dot x = -\kappa\Lambda\nabla L`:
  :math:`\ddot H + \gamma\dot H = R = \dot x^\top\nabla^2 H\,\dot x`;
* :mod:`.sgd` — the expected per-epoch change of H under mini-batch SGD, to :math:`O(\eta^2)`;
* :mod:`.adam` — diagonal preconditioning and Adam's sign-like limit flow;
* :mod:`.modified` — whether a modified invariant :math:`H + \eta H_1` exists for gradient descent;
* :mod:`.reduced` — the reduced model with concrete fixed linear classifiers, lambdified from
  SymPy's derivatives of the model, and a NumPy RK4, for the numeric confirmations.

The claims are in :mod:`.claims`.
"""
