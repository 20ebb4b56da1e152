"""Gradient flows: systems and vector fields (:mod:`.systems` reduced, :mod:`.full` full model),
ReLU switching (:mod:`.switching`), solvers and the time grid (:mod:`.solvers`), results (:mod:`.results`).
"""
