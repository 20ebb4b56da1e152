"""attndyn: symbolic and numeric verification of the training dynamics of attention
(Lu, Mao & Nayak, "On the Dynamics of Training Attention Models", ICLR 2021).

The package has three layers, imported in one direction only
(``attndyn.reports`` → ``attndyn.numerics`` → ``attndyn.proofs``):

* :mod:`attndyn.proofs` — SymPy derivations and the claim registry;
* :mod:`attndyn.numerics` — numba kernels, gradient flows, the convergence checker, the search;
* :mod:`attndyn.reports` — the command line, printing and the LaTeX report.

``import attndyn`` is cheap (no NumPy, numba or SymPy): the public API below is loaded
lazily on first use (PEP 562).

* :func:`load_config` — a validated run configuration from a TOML file or preset plus overrides;
* :func:`preset` — a named run configuration (``paper-fc``, ``sst2-tc``, …);
* :func:`simulate` (alias :func:`train`) — train the full model with the numba kernels;
* :func:`check_convergence` — hypotheses first, then a verdict per topic word;
* :func:`setting` — a :class:`Setting` (a config the numeric claims are measured on), with
  ``.simulate()``, ``.check_convergence()``;
* :func:`verify` — run the registered claims and return their results (``setting=``: the
  numeric claims on your own setting);
* :func:`write_report` — the LaTeX/PDF derivation report of such results.
"""
from __future__ import annotations

import importlib

try:
    from importlib.metadata import PackageNotFoundError, version as _version

    try:
        __version__ = _version("attndyn")
    except PackageNotFoundError:  # running from a source tree that is not installed
        __version__ = "0+unknown"
except ImportError:  # pragma: no cover
    __version__ = "0+unknown"

# public name -> (module, attribute); each is imported on first access only
_API = {
    "load_config": ("attndyn.numerics.config.load", "load_config"),
    "preset": ("attndyn.numerics.config.presets", "preset_config"),
    "simulate": ("attndyn.numerics.training.train", "train"),
    "train": ("attndyn.numerics.training.train", "train"),
    "check_convergence": ("attndyn.numerics.convergence.checker", "check_convergence"),
    "verify": ("attndyn.reports.cli.assembly", "verify"),
    "setting": ("attndyn.numerics.setting", "setting"),
    "Setting": ("attndyn.numerics.setting", "Setting"),
    "write_report": ("attndyn.reports.latex.compile", "write_report"),
}

__all__ = ["__version__", *_API]


def __getattr__(name: str):
    try:
        module, attr = _API[name]
    except KeyError:
        raise AttributeError(f"module 'attndyn' has no attribute {name!r}") from None
    value = getattr(importlib.import_module(module), attr)
    globals()[name] = value  # cache: the next access is a plain attribute
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
