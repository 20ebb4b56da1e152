"""The claim registry (:mod:`.registry`) and the symbolic claims: S1–S4 (:mod:`.symbolic`), S5–S7
(:mod:`.symbolic_limits`), the negative controls (:mod:`.controls`), C0 (:mod:`.asymptotics`).
"""
