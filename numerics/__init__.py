"""numba kernels, gradient-flow integrators, corpora, the convergence checker and the search."""
