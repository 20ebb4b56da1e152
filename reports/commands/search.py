"""``attndyn search``: the counterexample search (:mod:`attndyn.numerics.search.driver`) and case replay."""
from __future__ import annotations

import argparse
import sys

from attndyn.numerics.search.space import CLAIMS, describe, HYPOTHESES
from attndyn.proofs.errors import UsageError
from attndyn.proofs.settings import SEARCH
from attndyn.reports.cli.exits import ExitCode

NAME = "search"
HELP = ("search for counterexamples to a claim (sen-identity, convergence) over a declared space; "
        "confirm, shrink and save them; --replay a saved case")

EPILOG = f"""\
the search space (a point = one value per dimension; "inside" = the values that keep
the paper's hypotheses; an ordinary search keeps each restricted dimension inside with
probability {SEARCH.p_inside:g}, --inside-hypotheses keeps all of them inside):
{describe()}

hypotheses:
""" + "\n".join(f"  {h:<12} {text}" + ("" if claims == CLAIMS else f" ({', '.join(claims)} only)")
                for h, (text, claims) in HYPOTHESES.items()) + f"""

metrics: sen-identity = max over topic words of min over m (in the word's range of
sentence lengths) of max_tau |H(tau) - H(0)| / max(1, |H(0)|), H = |q|^2 |v|^2 -
2 (eta_v/eta_k)(s + e^s / m); a candidate exceeds {SEARCH.sen_threshold:g}.  convergence = the
checker's verdict per topic word (not-converged is a violation).  Candidates are
confirmed at rtol {SEARCH.confirm_rtol:g} (flow) or with steps eta/2, eta/4 extrapolated to 0
(GD), then shrunk and written to DIR/cases/*.json.

files: DIR/points.jsonl (one line per evaluated point, appended atomically; --resume
skips them), DIR/shrinks.jsonl, DIR/cases/*.json, DIR/summary.json.
exit status: 0 done (counterexamples or not), 2 bad input, 130 interrupted;
--replay: 0 when the case still violates the claim, 1 when it does not.
"""


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.formatter_class = argparse.RawDescriptionHelpFormatter
    p.epilog = EPILOG
    p.add_argument("--claim", help=f"the claim to attack: {' | '.join(CLAIMS)}")
    p.add_argument("--budget", type=_int("--budget"), help="number of points to evaluate (> 0)")
    p.add_argument("--workers", type=_int("--workers"), default=2,
                   help="worker processes (default 2; 1 runs in-process)")
    p.add_argument("--scheduler", metavar="ADDR",
                   help="address of an existing dask.distributed scheduler (tcp://host:port) instead "
                        "of a local cluster")
    p.add_argument("--seed", type=_int("--seed"), default=0, help="search seed (default 0)")
    p.add_argument("--out", metavar="DIR", help="output directory (points.jsonl, cases/, summary.json)")
    p.add_argument("--resume", action="store_true", help="continue the search in DIR (same claim and seed)")
    p.add_argument("--inside-hypotheses", action="store_true",
                   help="sample only inside the paper's hypotheses (expected: no counterexample)")
    p.add_argument("--replay", metavar="CASE.json",
                   help="recompute a saved counterexample; exit 0 if it still violates the claim")
    p.add_argument("--no-progress", action="store_true", help="no progress line on stderr")


def _int(flag: str):
    def parse(text: str) -> int:
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{flag}: expected an integer, got {text!r}") from None
    return parse


def run(args: argparse.Namespace) -> int:
    if args.replay is not None:
        others = [f for f, v in (("--claim", args.claim), ("--budget", args.budget), ("--out", args.out),
                                 ("--scheduler", args.scheduler)) if v is not None]
        if others or args.resume or args.inside_hypotheses:
            raise UsageError(f"--replay: takes only the case file, not {', '.join(others) or '--resume'}")
        from attndyn.numerics.search.cases import replay  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

        rep = replay(args.replay)
        verdict = "REPRODUCES" if rep["reproduces"] else "DOES NOT REPRODUCE"
        print(f"{verdict}: {rep['claim']} with {', '.join(rep['broken']) or 'no hypothesis'} broken: "
              f"violation {rep['violation']!r} (recorded {rep['recorded_violation']!r}, threshold "
              f"{rep['threshold']:g}); {rep['message']}")
        return ExitCode.OK if rep["reproduces"] else ExitCode.NOT_AS_EXPECTED
    if args.claim is None:
        raise UsageError(f"--claim: required (one of {', '.join(CLAIMS)}), or --replay CASE.json")
    if args.claim not in CLAIMS:
        raise UsageError(f"--claim: expected one of {', '.join(CLAIMS)}, got {args.claim!r}")
    if args.budget is None:
        raise UsageError("--budget: required (the number of points to evaluate, > 0)")
    if args.budget <= 0:
        raise UsageError(f"--budget: expected an integer > 0, got {args.budget}")
    if args.workers < 1:
        raise UsageError(f"--workers: expected an integer >= 1, got {args.workers}")
    if args.out is None:
        raise UsageError("--out: required (the directory for points.jsonl and cases/)")
    from attndyn.numerics.search.driver import run_search, SearchInterrupted  # deferred: keeps `attndyn --help` fast (numba, SymPy load on use)

    try:
        s = run_search(args.claim, args.budget, args.workers, args.out, seed=args.seed, scheduler=args.scheduler,
                       resume=args.resume, inside_hypotheses=args.inside_hypotheses,
                       progress=not args.no_progress)
    except SearchInterrupted as exc:
        print(f"attndyn search: interrupted; {exc}", file=sys.stderr, flush=True)
        raise  # the command line maps it to exit status 130
    print(f"search {s['claim']} ({'inside' if s['inside_hypotheses'] else 'outside'} the hypotheses, seed "
          f"{s['seed']}, {s['executor']}): {s['evaluated']} points evaluated ({s['evaluated_this_run']} this run), "
          f"{s['candidates']} candidates, {s['confirmed']} confirmed, {s['failed']} failed runs, "
          f"{s['errors']} errors, {len(s['cases'])} shrunk cases in {s['seconds']:.1f} s")
    for c in s["cases"]:
        print(f"  {c['file']}: {', '.join(c['broken']) or 'no hypothesis broken'}; violation {c['violation']!r}")
    print(f"summary: {args.out}/summary.json")
    sys.stdout.flush()
    return ExitCode.OK
