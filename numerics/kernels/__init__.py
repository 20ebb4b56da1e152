"""numba kernels, one family per module, only array-and-scalar ``@njit`` functions (``cache=True``).
"""
