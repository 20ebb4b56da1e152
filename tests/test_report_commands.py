"""Every command the report prints works exactly as printed from the repository root (issue 10 §5).

The report's LaTeX is written (no TeX needed: the .tex is what is read), the commands are taken
out of it (``attndyn …`` in typewriter type), un-escaped, and each is parsed by the real CLI
parser; the cheap ones are also run in-process: a counterexample's ``Replay`` and the title
page's ``attndyn report --from …/verify.json``.
"""
from __future__ import annotations

import json
import re
import shlex
from pathlib import Path

import pytest

from attndyn.proofs.claims.registry import Claim, ClaimResult, Outcome, Step
from attndyn.reports.cli import build_parser, main
from attndyn.reports.latex.compile import write_report
import attndyn.reports.sections.counterexamples as cx
from attndyn.reports.sections.counterexamples import counterexample_section, KEPT_CASES
from tests.test_latex import tiny_png

ROOT = Path(__file__).resolve().parents[1]

_UNESCAPE = ((r"\attnbr{}", ""), (r"\attnus{}", "_"), (r"-{}", "-"), (r"\textbackslash{}", "\\"),
             (r"\{", "{"), (r"\}", "}"), (r"\textasciitilde{}", "~"), (r"\attntilde{}", "~"))


def printed_commands(tex: str) -> list[str]:
    """The ``attndyn …`` commands set in typewriter type in ``tex``, as a reader would type them."""
    found = re.findall(r"(?:\{\\ttfamily |\\texttt\{)(attndyn [^{}]*(?:\{\}[^{}]*)*)\}", tex)
    out = []
    for cmd in found:
        for a, b in _UNESCAPE:
            cmd = cmd.replace(a, b)
        out.append(cmd.strip())
    return out


def _result() -> ClaimResult:
    c = Claim("fake-cmd", "A claim", "numeric", "verified", r"$x = 1$", ("none",), lambda: None)
    return ClaimResult(c, Outcome("verified", "fine", [Step("step", "x = 1")], {"tolerance": 1e-8}), 0.1)


def test_unescape_reads_back_what_escape_wrote():
    from attndyn.reports.latex.escape import breakable_tt, escape_id
    cmd = "attndyn search --replay tests/data/counterexamples/sen_M-query.json"
    for tex in (r"{\ttfamily " + escape_id(cmd) + "}", breakable_tt(cmd) + " ", r"\texttt{" + escape_id(cmd) + "}"):
        assert printed_commands(tex) == [cmd]


@pytest.mark.skipif(not KEPT_CASES.is_dir(), reason="no kept counterexamples")
def test_printed_commands_parse_and_the_cheap_ones_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)  # "from the repository root"
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # the .tex is enough; no TeX run
    # the case figures are tested with the section; here only the printed commands matter
    monkeypatch.setattr(cx, "plot_case", lambda case, base: [tiny_png(Path(f"{base}.png"))])
    out = tmp_path / "report"
    out.mkdir()
    results = [_result()]
    (out / "verify.json").write_text(json.dumps({"version": 1, "claims": [r.to_json() for r in results]}))
    cases = counterexample_section(KEPT_CASES, fig_dir=out / "figures")
    tex = write_report(results, out, require_pdf=False, extra_sections=[cases]).tex.read_text()
    commands = printed_commands(tex)
    replays = [c for c in commands if c.startswith("attndyn search --replay ")]
    rebuild = [c for c in commands if c.startswith("attndyn report --from ")]
    assert len(replays) == len(list(KEPT_CASES.glob("*.json"))) and len(rebuild) == 1, commands
    parser = build_parser()
    for cmd in commands:
        argv = shlex.split(cmd)[1:]
        try:
            parser.parse_args(argv)
        except SystemExit:
            pytest.fail(f"printed command does not parse: {cmd}")
    # each replayed file exists where the printed (repository-relative) path says
    for cmd in replays:
        path = Path(shlex.split(cmd)[-1])
        assert not path.is_absolute() and path.is_file(), cmd
    # run the cheapest replay and the rebuild exactly as printed
    smallest = min(replays, key=lambda c: Path(shlex.split(c)[-1]).stat().st_size)
    capsys.readouterr()
    assert main(shlex.split(smallest)[1:]) == 0, capsys.readouterr()
    assert main(shlex.split(rebuild[0])[1:]) == 0
    assert "none re-run" in capsys.readouterr().out
