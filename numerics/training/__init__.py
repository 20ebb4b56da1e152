"""Training the full model by gradient descent with the numba kernels (:mod:`.train`).
"""
