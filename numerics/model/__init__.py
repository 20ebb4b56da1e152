"""The model in NumPy: the classifiers FC/TC/TL (:mod:`.classifiers`, the reference twin of the
kernels) and the attention model that drives the numba kernels (:mod:`.attention`).
"""
