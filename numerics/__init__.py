"""numba kernels, gradient-flow integrators, corpora, the convergence checker and the search."""
from attndyn.numerics.cache import configure as _configure_cache
from attndyn.numerics.parallel import configure as _configure_threads

_configure_threads()  # before anything starts numba's thread pool (issue 13: OpenMP spin-wait)
_configure_cache()  # before any kernel is decorated: a changed kernel source never runs stale code
