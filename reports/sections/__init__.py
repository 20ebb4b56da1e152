"""Extra report sections: the reproduced figures (:mod:`.reproduction`) and the counterexamples
(:mod:`.counterexamples`).
"""
