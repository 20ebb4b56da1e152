"""numba kernels, gradient-flow integrators, corpora, the convergence checker and the search."""
from attndyn.numerics.parallel import configure as _configure_threads

_configure_threads()  # before anything starts numba's thread pool (issue 13: OpenMP spin-wait)
