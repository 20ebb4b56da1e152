"""Run the mutation suite: does ``attndyn verify`` catch each realistic bug?

``python -m tests.mutation [--only ID ...] [--jobs N] [--tests] [--json FILE]``, from the
repository root.  For every mutant in :mod:`tests.mutation.mutants` this

1. copies the tracked files of the working tree into a fresh temporary folder named
   ``attndyn`` (so ``PYTHONPATH=<tmp>`` imports the copy as the package, ahead of the
   editable install),
2. applies the mutant (one exact text replacement; it must match exactly once),
3. runs ``attndyn verify --no-report --json …`` on the copy with its own, empty numba
   cache (``NUMBA_CACHE_DIR``), so a stale compiled kernel cannot hide the bug,
4. calls the mutant *killed* when some claim's status differs from its expectation
   (or verify exits non-zero for any other reason, e.g. an exception in a claim).

The unmutated tree is run first the same way: it must come out all-as-expected, or
the suite stops (a control for the runner itself).  ``--tests`` also runs the unit
tests on each mutant, to show which bugs only the tests (or only ``verify``) catch.
The table printed at the end is the kill rate quoted in the README.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .mutants import MUTANTS, Mutant

ROOT = Path(__file__).resolve().parents[2]
VERIFY_TIMEOUT = 900  # s; a mutant that makes verify hang this long counts as killed (timeout)


def tracked_files(root: Path) -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=root, check=True, capture_output=True)
    return [p for p in out.stdout.decode().split("\0") if p]


def make_copy(dest_parent: Path) -> Path:
    """A copy of the working tree's tracked files at ``dest_parent/attndyn``."""
    pkg = dest_parent / "attndyn"
    for rel in tracked_files(ROOT):
        src = ROOT / rel
        if not src.is_file():  # deleted in the working tree but still tracked
            continue
        dst = pkg / rel
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(src, dst)
    return pkg


def apply(mutant: Mutant, pkg: Path) -> None:
    path = pkg / mutant.path
    text = path.read_text()
    count = text.count(mutant.old)
    if count != 1:
        raise SystemExit(f"mutant {mutant.id}: the text to replace occurs {count} times in "
                         f"{mutant.path} (expected exactly once); update tests/mutation/mutants.py")
    path.write_text(text.replace(mutant.old, mutant.new))


def environment(tmp: Path) -> dict:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(tmp)
    env["NUMBA_CACHE_DIR"] = str(tmp / "numba-cache")
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env


def run_verify(tmp: Path, pkg: Path, claims: tuple[str, ...] = ()) -> dict:
    """Run verify on the copy (the named ``claims`` only, when given); return {status, statuses,
    changed, seconds, stderr tail}."""
    out_json = tmp / "verify.json"
    cmd = [sys.executable, "-m", "attndyn.reports.cli", "verify", "--no-report", "--json", str(out_json)]
    for c in claims:
        cmd += ["--claim", c]
    t0 = time.perf_counter()
    try:
        proc = subprocess.run(cmd, cwd=tmp, env=environment(tmp), capture_output=True, text=True,
                              timeout=VERIFY_TIMEOUT)
        code, err = proc.returncode, proc.stderr
    except subprocess.TimeoutExpired:
        code, err = None, "timeout"
    seconds = time.perf_counter() - t0
    changed, statuses = [], {}
    if out_json.exists():
        for c in json.loads(out_json.read_text())["claims"]:
            statuses[c["id"]] = c["status"]
            if c["status"] != c["expected"]:
                changed.append(f"{c['id']}:{c['status']}")
    return {"exit": code, "changed": changed, "statuses": statuses, "seconds": round(seconds, 1),
            "stderr": err.strip().splitlines()[-3:] if err else []}


def run_tests(tmp: Path, pkg: Path) -> dict:
    cmd = [sys.executable, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", "tests"]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=pkg, env=environment(tmp), capture_output=True, text=True)
    last = proc.stdout.strip().splitlines()[-1:] if proc.stdout.strip() else []
    return {"exit": proc.returncode, "summary": last, "seconds": round(time.perf_counter() - t0, 1)}


def check_import(tmp: Path) -> None:
    """The copy, not the editable install, must be what the subprocess imports."""
    proc = subprocess.run([sys.executable, "-c", "import attndyn; print(attndyn.__file__)"],
                          cwd=tmp, env=environment(tmp), capture_output=True, text=True, check=True)
    where = Path(proc.stdout.strip()).resolve()
    if tmp.resolve() not in where.parents:
        raise SystemExit(f"mutation runner: the copy is not imported (attndyn from {where})")


def evaluate(mutant: Mutant | None, with_tests: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="attndyn-mut-") as d:
        tmp = Path(d)
        pkg = make_copy(tmp)
        check_import(tmp)
        if mutant is not None:
            apply(mutant, pkg)
        claims = mutant.claims if mutant else ()
        row = {"id": mutant.id if mutant else "(unmutated)", "verify": run_verify(tmp, pkg, claims)}
        if claims:
            row["claims_run"] = list(claims)
        if with_tests and mutant is not None:
            row["tests"] = run_tests(tmp, pkg)
        return row


def killed(row: dict) -> bool:
    v = row["verify"]
    return bool(v["changed"]) or v["exit"] != 0


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m tests.mutation", description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", metavar="ID", help="run only these mutants")
    p.add_argument("--list", action="store_true", help="list the mutants and exit")
    p.add_argument("--jobs", type=int, default=1, help="mutants run at once (default 1; 2 cores here)")
    p.add_argument("--tests", action="store_true", help="also run the unit tests on each mutant")
    p.add_argument("--json", metavar="FILE", help="write the table as JSON")
    p.add_argument("--skip-control", action="store_true", help="do not run the unmutated tree first")
    args = p.parse_args(argv)
    if args.jobs < 1:
        p.error("--jobs must be >= 1")
    todo = [m for m in MUTANTS if not args.only or m.id in args.only]
    unknown = set(args.only or ()) - {m.id for m in MUTANTS}
    if unknown:
        p.error(f"unknown mutant id(s): {', '.join(sorted(unknown))}")
    if args.list:
        for m in todo:
            print(f"{m.id:<28} {m.path}  — {m.why}")
        return 0
    base_row = None
    if not args.skip_control:
        base = base_row = evaluate(None, False)
        print(f"control (unmutated): exit {base['verify']['exit']}, "
              f"{len(base['verify']['statuses'])} claims, {base['verify']['seconds']} s", flush=True)
        if killed(base):
            print(f"the unmutated tree does not verify: {base['verify']}", file=sys.stderr)
            return 1
    rows = []
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for m, row in zip(todo, pool.map(lambda m: evaluate(m, args.tests), todo)):
            row["why"], row["kind"], row["killed"] = m.why, m.kind, killed(row)
            rows.append(row)
            t = row.get("tests")
            tests = "" if t is None else f"  tests: {'killed' if t['exit'] else 'SURVIVED'}"
            what = ", ".join(row["verify"]["changed"]) or (f"exit {row['verify']['exit']}" if row["killed"] else "-")
            print(f"{'KILLED  ' if row['killed'] else 'SURVIVED'} {m.id:<28} {row['verify']['seconds']:6.1f}s  "
                  f"{what}{tests}", flush=True)
    n = sum(r["killed"] for r in rows)
    print(f"{n} of {len(rows)} mutants killed by attndyn verify")
    if args.json:
        Path(args.json).write_text(json.dumps({"killed": n, "total": len(rows), "control": base_row,
                                               "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
                                               "mutants": rows}, indent=2) + "\n")
    return 0 if n == len(rows) else 1


if __name__ == "__main__":
    sys.exit(main())
