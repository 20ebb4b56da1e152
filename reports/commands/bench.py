"""``attndyn bench``: kernel epoch time vs a NumPy twin and PyTorch, memory at 10^6, reproduce time."""
from __future__ import annotations

import argparse

from attndyn.proofs.errors import UsageError
from attndyn.reports.cli.exits import ExitCode

NAME = "bench"
HELP = ("benchmark (not a test): kernel epoch time vs a NumPy twin and PyTorch at the paper's size "
        "and at N = V = 10^6, peak memory, `reproduce synthetic` training time; targets PASS/MISS")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--json", metavar="FILE", help="also write every measurement as JSON to FILE")
    p.add_argument("--quick", action="store_true",
                   help="fewer timed epochs, and no `reproduce synthetic` timing")
    p.add_argument("--sizes", default="paper,1e6", metavar="LIST",
                   help="comma-separated sizes: 'paper' (5000 sentences, V = 5008) or a number N "
                        "(N training sentences, V = N); default paper,1e6")
    p.add_argument("--impls", default=",".join(("kernel", "kernel-full", "numpy", "torch", "torch-bag")),
                   metavar="LIST",
                   help="implementations to time: kernel (train.kernel auto: low-rank for FC), kernel-full "
                        "(the d-wide kernel forced), numpy, torch, torch-bag (PyTorch ones only "
                        "when `import torch` works); default all")
    p.add_argument("--threads", type=int, metavar="N",
                   help="threads for numba and PyTorch (default: at the paper's size each implementation "
                        "at the faster of 1 thread and all cores, timed in the same round; all cores at 10^6)")
    p.add_argument("--scale", action="store_true",
                   help="also time the kernel at N = V = 1e4, 1e5, 1e6, 4e6 and fit the exponent of epoch "
                        "time in N (about 1 expected)")
    p.add_argument("--no-reproduce", action="store_true",
                   help="skip timing the training of `attndyn reproduce synthetic`")
    p.add_argument("--commands", metavar="LIST", nargs="?", const="default",
                   help="instead: wall time of whole commands against their budgets (warm numba cache): "
                        "reproduce-synthetic, reproduce-synthetic-loaded (beside two CPU-bound processes), "
                        "reproduce-sst, verify (default), and tests (only when listed)")
    p.add_argument("--optimizers", action="store_true",
                   help="only the optimizer rows: momentum and adam epoch vs gd epoch, timed alternately at "
                        "each size, target adam <= 1.5x gd (issue 12); a full run includes them")
    p.add_argument("--all", action="store_true",
                   help="every measurement in one run and one JSON: kernel sizes, floors, scale curve, "
                        "reproduce synthetic, optimizers, stall under load, and the commands (tests "
                        "included); ends with one list of targets (numerics/experiments/fullbench.py)")
    p.add_argument("--load", choices=("idle", "hogs"), default="idle",
                   help="with --all: 'hogs' runs the kernel and optimizer parts beside two CPU-bound "
                        "processes the bench starts itself (stall and commands, which start their own "
                        "loads, are then left out); default idle")
    p.add_argument("--table", metavar="FILE",
                   help="instead of measuring: print the markdown table of a saved `bench --all --json` "
                        "run (what the README's performance section shows)")
    p.add_argument("--stall", action="store_true",
                   help="instead: ms/epoch with threads=1 vs the default under background load it starts "
                        "itself (idle, two paper-fc trainings, two CPU hogs; sizes other than paper idle "
                        "only), targets PASS/MISS (issue 13)")


def run(args: argparse.Namespace) -> int:
    from attndyn.numerics.experiments.bench import (parse_sizes, run_bench)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)
    from attndyn.numerics.outputs import (check_json_target, write_json)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    if args.threads is not None and args.threads < 1:
        raise UsageError(f"--threads: expected an integer >= 1, got {args.threads}")
    if args.json is not None:
        check_json_target(args.json, "--json")
    if args.table is not None:
        import json  # deferred: only --table reads a file

        from attndyn.numerics.experiments.fullbench import markdown  # deferred: keeps `attndyn --help` fast

        try:
            with open(args.table) as f:
                saved = json.load(f)
        except (OSError, ValueError) as exc:
            raise UsageError(f"--table: cannot read {args.table!r} as JSON ({exc})")
        print(markdown(saved), end="")
        return ExitCode.OK
    if args.load != "idle" and not args.all:
        raise UsageError("--load: only with --all (the other modes start their own loads)")
    sizes = parse_sizes(args.sizes)
    if args.all:
        from attndyn.numerics.experiments.fullbench import run_all  # deferred: keeps `attndyn --help` fast

        from attndyn.numerics.experiments.commandbench import COMMANDS, parse_commands  # deferred: keeps `attndyn --help` fast

        names = (COMMANDS if args.commands in (None, "default") else parse_commands(args.commands))
        out = run_all(sizes, load=args.load, threads=args.threads, quick=args.quick, commands=names,
                      log=lambda line: print(line, flush=True))
        if args.json is not None:
            write_json(args.json, out)
            print(f"wrote {args.json}")
        return ExitCode.OK
    if args.commands is not None and not args.all:
        from attndyn.numerics.experiments.commandbench import (command_bench, DEFAULT_COMMANDS,
                                                               parse_commands)  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

        names = DEFAULT_COMMANDS if args.commands == "default" else parse_commands(args.commands)
        print("attndyn bench --commands: wall time of each command against its budget")
        rows = command_bench(names, log=lambda line: print(line, flush=True))
        if args.json:
            write_json(args.json, {"commands": rows})
            print(f"wrote {args.json}")
        return ExitCode.NOT_AS_EXPECTED if any(r["exit_status"] != 0 for r in rows) else ExitCode.OK
    if args.stall:
        from attndyn.numerics.experiments.stallbench import stall_bench  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

        rows = stall_bench([s.name for s in sizes], log=lambda line: print(line, flush=True))
        if args.json:
            write_json(args.json, {"stall": rows})
            print(f"wrote {args.json}")
        return ExitCode.NOT_AS_EXPECTED if any("error" in r for r in rows) else ExitCode.OK
    if args.optimizers:
        from attndyn.numerics.experiments.optbench import optimizer_bench  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

        out = optimizer_bench(sizes, args.threads, quick=args.quick,
                              log=lambda line: print(line, flush=True))
        if args.json is not None:
            write_json(args.json, {"optimizers": out})
            print(f"wrote {args.json}")
        return ExitCode.NOT_AS_EXPECTED if any("error" in r for r in out["sizes"].values()) else ExitCode.OK
    impls = [i.strip() for i in args.impls.split(",") if i.strip()]
    out = run_bench(sizes, impls=impls, quick=args.quick, threads=args.threads,
                    reproduce=not (args.quick or args.no_reproduce), scale=args.scale,
                    log=lambda line: print(line, flush=True))
    from attndyn.numerics.experiments.optbench import optimizer_bench  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    out["optimizers"] = optimizer_bench(sizes, args.threads, quick=args.quick,
                                        log=lambda line: print(line, flush=True))
    if args.json is not None:
        write_json(args.json, out)
        print(f"wrote {args.json}")
    failed = [f"optimizers/{s}" for s, r in out["optimizers"]["sizes"].items() if "error" in r]
    failed += [f"{s}/{i}" for s, d in out["sizes"].items() for i, r in d["results"].items() if "error" in r]
    if out["reproduce"] and "error" in out["reproduce"]:
        failed.append("reproduce")
    return ExitCode.NOT_AS_EXPECTED if failed else ExitCode.OK
