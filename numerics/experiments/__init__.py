"""The paper's experiments (:mod:`.reproduce`: §5 figures) and the benchmarks (:mod:`.bench`).
"""
