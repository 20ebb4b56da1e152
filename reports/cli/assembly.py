"""What exists: the one place that lists the subcommands and the report sections, and
finds the claim packages.

* :data:`COMMANDS` — the subcommand modules of :mod:`attndyn.reports.commands`, in help order;
  each exposes ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
* :data:`REPORT_SECTIONS` — the modules of :mod:`attndyn.reports.sections`, in report order;
  each exposes ``add_report_arguments(parser)`` and ``report_sections(args, report_dir)``.
* :func:`claim_packages` — every ``claims`` subpackage of ``attndyn.proofs`` and
  ``attndyn.numerics`` (at any depth, e.g. ``attndyn.proofs.laws.claims``), found by a walk
  of the package folders, lower layer first; the registry imports every module in them.
"""
from __future__ import annotations

import importlib
from pathlib import Path
from types import ModuleType

import attndyn
from attndyn.proofs.claims import registry as claim_registry

COMMANDS = ("verify", "report", "simulate", "reproduce", "bench", "check_convergence", "search", "laws",
            "claims", "presets", "config", "budget")
REPORT_SECTIONS = ("reproduction", "counterexamples", "laws", "budget")
LAYERS = ("proofs", "numerics")  # packages that may hold claims, lower layer first


def command_modules() -> list[ModuleType]:
    return [importlib.import_module(f"attndyn.reports.commands.{name}") for name in COMMANDS]


def report_section_modules() -> list[ModuleType]:
    return [importlib.import_module(f"attndyn.reports.sections.{name}") for name in REPORT_SECTIONS]


def claim_packages() -> list[str]:
    """Dotted names of every ``claims`` package under :data:`LAYERS` (a folder walk: nothing
    is imported to find them)."""
    root = Path(attndyn.__file__).parent
    found = []
    for layer in LAYERS:
        for init in sorted((root / layer).rglob("claims/__init__.py")):
            rel = init.parent.relative_to(root)
            found.append(".".join(("attndyn", *rel.parts)))
    return found


def claims() -> dict[str, claim_registry.Claim]:
    """Every claim of every claim package, in report order."""
    return claim_registry.registry(claim_packages())


def select(only: str = "all", ids: list[str] | None = None,
           include_slow: bool = True) -> list[claim_registry.Claim]:
    """:func:`attndyn.proofs.claims.registry.select` over every claim package."""
    return claim_registry.select(only, ids, claim_packages(), include_slow)


def report_sections(args, report_dir) -> list:
    """The extra sections of the report written to ``report_dir`` (validated before any claim runs)."""
    return [sec for mod in report_section_modules() for sec in mod.report_sections(args, report_dir)]


def verify(only: str = "all", ids: list[str] | None = None,
           include_slow: bool = False, setting=None) -> claim_registry.Verification:
    """Run the chosen claims (all by default) and return their results, printing nothing.

    ``only`` is ``symbolic``, ``numeric`` or ``all``; ``ids`` picks claims by id (an unknown
    id is a ``KeyError`` naming it).  A result's ``ok`` says whether the status equals the
    claim's expectation; ``to_json()`` gives the record written to ``verify.json``.
    ``setting``: a :class:`~attndyn.numerics.setting.Setting`, RunConfig, preset name or config
    path — then only the claims measured on a setting run, on that one (as
    ``attndyn verify CONFIG.toml``); a claim that does not apply to it is left out.
    The result is a list with a readable ``repr`` (and ``_repr_latex_`` in a notebook).
    """
    if setting is None:
        return claim_registry.Verification(claim_registry.run_claim(c) for c in select(only, ids, include_slow))
    from attndyn.numerics.setting import Setting  # deferred: numba and the corpus load only for a setting

    chosen = [c for c in select(only, ids, True) if c.takes_setting]
    s = Setting.of(setting)
    out = claim_registry.Verification()
    for c in chosen:
        try:
            out.append(claim_registry.run_claim(c, s))
        except claim_registry.NotApplicable:
            continue
    return out
