"""``attndyn laws``: every conservation law of an attention model's training flow, exactly, with a
completeness certificate (:mod:`attndyn.proofs.laws`), optionally confirmed along the real flow
(:mod:`attndyn.numerics.laws`).

The model is a TOML file (the fields of :class:`attndyn.proofs.laws.ModelSpec`, at the top level
or under ``[model]``; see the README) or ``--model NAME`` (:data:`attndyn.proofs.laws.NAMED`).
Prints D, the exact rank of Lie(W) with its failure bound, the laws found (plain and pretty), the
completeness verdict and the timings; ``--json FILE`` writes all of it, ``--report DIR`` a LaTeX
section (and PDF when TeX is available).  Bad input is one line naming the field, exit 2.
Exit 0 when the run finished (and, with ``--confirm``, every law was confirmed), 1 otherwise.
"""
from __future__ import annotations

import argparse
import re
import time
import tomllib
from dataclasses import asdict
from pathlib import Path

from attndyn.numerics.outputs import check_json_target, writable_dir, write_json
from attndyn.proofs.errors import UsageError
from attndyn.proofs.laws.names import NAMED
from attndyn.reports.cli.exits import ExitCode

NAME = "laws"
HELP = ("find every conservation law of an attention model's training flow, exactly, and say whether "
        "the list is complete (exact rank of Lie(W), proved laws, two-sided certificate)")

EPILOG = "named models (--model):\n" + "\n".join(f"  {n:<18} {t}" for n, t in NAMED.items())


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("spec", nargs="?", metavar="MODEL.toml",
                   help="model specification (fields of ModelSpec at the top level or under [model])")
    p.add_argument("--model", metavar="NAME", help=f"a named model instead of a file: {', '.join(NAMED)}")
    p.add_argument("--d", type=int, metavar="D", default=None,
                   help="dimension (named models: default 2; with a file: overrides its d)")
    p.add_argument("--degree", type=int, metavar="K", default=2,
                   help="search laws among polynomials of degree <= K (with s_w, e^{s_w}); default 2")
    p.add_argument("--confirm", action="store_true",
                   help="also follow every law along an integrated trajectory of the real flow "
                        "(random MLP classifier, DOP853) against its derived drift threshold")
    p.add_argument("--seed", type=int, default=0, metavar="N", help="seed of the rational points and of --confirm")
    p.add_argument("--json", metavar="FILE", help="write everything as JSON to FILE")
    p.add_argument("--report", metavar="DIR", help="write a LaTeX section (laws.tex, and laws.pdf with TeX) to DIR")
    g = p.add_argument_group("many models at once (instead of MODEL.toml / --model)")
    g.add_argument("--sweep", metavar="MODELS",
                   help="'all' or a comma list of named models: run each for every d of --dims and print "
                        "the table (on dask with --workers/--scheduler, like `attndyn search`)")
    g.add_argument("--dims", default="1,2,3", metavar="D,D,...", help="dimensions of the sweep (default 1,2,3)")
    g.add_argument("--workers", type=int, default=1, metavar="K",
                   help="sweep on a local dask cluster of K processes (default 1: in this process)")
    g.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="sweep on an existing dask scheduler")


def load_spec(path: str | None, name: str | None, d: int | None):
    """The :class:`~attndyn.proofs.laws.spec.ModelSpec` named by the arguments (exactly one source);
    UsageError otherwise."""
    from attndyn.proofs.laws.spec import ModelSpec, named_model  # deferred: keeps `attndyn --help` fast (SymPy, flint)

    if path is not None and name is not None:
        raise UsageError("give either MODEL.toml or --model NAME, not both")
    if path is None and name is None:
        raise UsageError(f"give a MODEL.toml file or --model NAME ({', '.join(NAMED)})")
    if d is not None and d < 1:
        raise UsageError(f"--d: expected an integer >= 1, got {d}")
    if name is not None:
        if name not in NAMED:
            raise UsageError(f"--model: unknown model {name!r} (expected one of {', '.join(NAMED)})")
        return named_model(name, **({"d": d} if d is not None else {}))
    f = Path(path)
    try:
        data = tomllib.loads(f.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"MODEL.toml {f}: no such file") from None
    except OSError as exc:
        raise UsageError(f"MODEL.toml {f}: cannot read it ({exc.strerror or exc})") from None
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"MODEL.toml {f}: not valid TOML ({exc})") from None
    if set(data) == {"model"} and isinstance(data["model"], dict):
        data = data["model"]
    if d is not None:
        data = {**data, "d": d}
    data.setdefault("name", f.stem)
    return ModelSpec.from_dict(data)


def _plain_lines(r) -> list[str]:
    out = [f"  h{i + 1} = {s}" for i, s in enumerate(r.law_strings())]
    return out or ["  (none in the class)"]


def _pretty_lines(r) -> list[str]:
    import sympy as sp  # deferred: SymPy is slow to import; only printing needs it here

    out = []
    for i, s in enumerate(r.law_strings()):
        text = sp.pretty(sp.sympify(s, locals={n: sp.Symbol(n) for n in _names(s)}), use_unicode=True)
        lines = text.splitlines()
        label = f"  h{i + 1} = "
        pad = " " * len(label)
        base = max(range(len(lines)), key=lambda j: len(lines[j].strip()))  # the baseline carries the most
        out += [(label if j == base else pad) + line for j, line in enumerate(lines)]
    return out


def _names(s: str) -> set[str]:
    return set(re.findall(r"[A-Za-z]\w*", s)) - {"exp"}


def describe(r, spec) -> list[str]:
    groups = ", ".join(f"{g}: {n}" for g, n in r.groups)
    rates = ", ".join(f"eta_{g} = {v}" for g, v in r.rates.items())
    lie = (f"exact rank of Lie(W) >= {r.rank} (rank over Q at a random rational point, E_w = e^(s_w) as "
           f"indeterminates; by bracket depth {r.rank_by_depth}, {r.stop} at depth {r.depth})")
    bound = ("failure bound 0 (the span is the whole tangent space)" if r.failure_bound == 0 else
             f"failure bound <= {r.failure_bound:.1e} (Schwartz-Zippel: {r.n_points} point(s) from "
             f"{{1..2^{r.sample_bits}}}, minor degree <= {r.degree_bound})")
    lines = [f"model: {r.model}" + (f" ({NAMED[spec.name]})" if spec is not None and spec.name in NAMED else ""),
             f"D = {r.D} trained coordinates ({groups}); {rates}; {r.n_fields} generating field(s)"
             + (" [one fixed loss: a single field]" if r.single_field else ""),
             lie, bound,
             f"at most D - rank = {r.D - r.rank} functionally independent law(s)",
             f"class: polynomials of degree <= {r.degree} in the trained coordinates with s_w and e^(s_w) "
             f"({r.class_size} functions); law space of dimension {r.space_dim}",
             f"laws: {r.n_independent} functionally independent, each proved exactly (zero numerator "
             f"polynomial; SymPy twin with true exponentials)"]
    lines += _plain_lines(r)
    if r.laws:
        lines.append("pretty:")
        lines += _pretty_lines(r)
        lines.append("LaTeX:")
        lines += [f"  h_{{{i + 1}}} = {s}" for i, s in enumerate(r.law_latex())]
    if r.scores:
        lines.append("where " + ", ".join(f"s_{E[2:]} = {s}" for E, s in r.scores.items()))
    rel = "=" if r.complete else "<"
    lines.append(f"verdict: {r.verdict()} (rank {r.rank} + {r.n_independent} laws {rel} D = {r.D})")
    sec = r.seconds
    lines.append(f"time: Lie rank {sec['lie']:.2f}s, law search {sec['laws']:.2f}s, SymPy proofs "
                 f"{sec['sympy_proofs']:.2f}s, total {sec['total']:.2f}s")
    return lines


def run(args: argparse.Namespace) -> int:
    from attndyn.proofs.laws.run import run_laws  # deferred: keeps `attndyn --help` fast (flint, SymPy load on use)

    if args.degree < 1:
        raise UsageError(f"--degree: expected an integer >= 1, got {args.degree}")
    if args.sweep is not None:
        return run_sweep(args)
    spec = load_spec(args.spec, args.model, args.d)
    if args.json is not None:
        check_json_target(args.json, "--json")
    report_dir = writable_dir(args.report, "--report") if args.report else None

    from attndyn.numerics.progress import Progress  # deferred: keeps `attndyn --help` fast (numba loads on use)

    t0 = time.perf_counter()
    bar = Progress(2 if args.confirm else 1, "laws", unit="stages")  # what runs, with an ETA (issue 10 §4)
    try:
        with bar.heartbeat(f"on the exact rank and laws of {args.model or spec.name} (d = {spec.d})"):
            r = run_laws(spec, args.degree, seed=args.seed)
        bar.update(1, "laws found")
        if args.model:
            r.model = f"{args.model} d={spec.d}"
        for line in describe(r, spec):
            bar.write(line)
        conf = None
        ok = True
        if args.confirm:
            from attndyn.numerics.laws.confirm import confirm_laws, table  # deferred: SciPy/integration only with --confirm

            if not r.laws:
                bar.write("confirm: nothing to confirm (no law in the class)")
            else:
                with bar.heartbeat("on the confirmation along the real flow"):
                    conf = confirm_laws(r, spec=spec, seed=args.seed)
                bar.write(f"confirm: {conf.summary()}")
                bar.write(table([conf]))
                ok = conf.confirmed
            bar.update(2, "confirmed")
    finally:
        bar.close()
    data = {"format": "attndyn-laws/1", "spec": _spec_dict(spec), **r.to_dict(),
            "confirmation": conf.to_dict() if conf is not None else None,
            "wall_seconds": round(time.perf_counter() - t0, 3)}
    if args.json is not None:
        write_json(args.json, data)
        print(f"wrote {args.json}")
    if report_dir is not None:
        from attndyn.reports.latex.compile import write_report  # deferred: only --report writes LaTeX
        from attndyn.reports.sections.laws import laws_section  # deferred: only --report writes LaTeX

        files = write_report([], report_dir, require_pdf=False,
                             extra_sections=[laws_section([r], {r.model: conf} if conf else None)])
        print(files.summary())
    return ExitCode.OK if ok else ExitCode.NOT_AS_EXPECTED


def run_sweep(args: argparse.Namespace) -> int:
    """``--sweep``: every (named model, d) of the grid, one table row each; exit 1 if a task failed."""
    from attndyn.numerics.laws.sweep import parse_grid, sweep, sweep_table  # deferred: dask loads only for a sweep

    clash = [o for o, v in (("MODEL.toml", args.spec), ("--model", args.model), ("--d", args.d),
                            ("--confirm", args.confirm or None), ("--report", args.report)) if v is not None]
    if clash:
        raise UsageError(f"--sweep runs named models over --dims; it does not take {', '.join(clash)}")
    grid = parse_grid(args.sweep, args.dims)
    if args.json is not None:
        check_json_target(args.json, "--json")
    t0 = time.perf_counter()
    rows = sweep(grid, args.degree, workers=args.workers, scheduler=args.scheduler, seed=args.seed)
    print(sweep_table(rows))
    failed = [r["model"] for r in rows if "error" in r]
    print(f"{len(rows)} model(s), {sum(r['complete'] for r in rows)} complete, {len(failed)} failed, "
          f"{time.perf_counter() - t0:.1f} s wall")
    if args.json is not None:
        write_json(args.json, {"format": "attndyn-laws-sweep/1", "degree": args.degree, "seed": args.seed,
                               "grid": [list(g) for g in grid], "rows": rows,
                               "wall_seconds": round(time.perf_counter() - t0, 3)})
        print(f"wrote {args.json}")
    return ExitCode.NOT_AS_EXPECTED if failed else ExitCode.OK


def _spec_dict(spec) -> dict:
    def plain(x):
        if isinstance(x, (list, tuple)):
            return [plain(y) for y in x]
        if isinstance(x, dict):
            return {k: plain(v) for k, v in x.items()}
        if isinstance(x, (str, int, float, bool)) or x is None:
            return x
        return str(x)

    return plain(asdict(spec))
