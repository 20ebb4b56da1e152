"""The numeric claims: N1–N2 on the flow (:mod:`.flow`), N3–N4 on training (:mod:`.training`),
C1–C2 on convergence (:mod:`.convergence`).
"""
