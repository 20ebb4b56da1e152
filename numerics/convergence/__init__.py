"""The convergence checker: hypotheses (:mod:`.hypotheses`), the flow runs (:mod:`.runs`) and the
verdicts with reasons (:mod:`.checker`).
"""
