"""The command line: `attndyn verify` / `attndyn report`, their output files and their errors.

Most tests swap the claim registry for fake claims (monkeypatching
``attndyn.proofs.claims.registry.registry``), so they neither wait for nor depend on the real
proofs; one test runs the real console entry point in a subprocess, and one
integration test builds the real symbolic report when ``proofs/claims/symbolic.py`` exists.
"""
from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

import attndyn.proofs.claims.registry as claims
import attndyn.reports.cli.assembly as claims_assembly
import attndyn.reports.cli.claimpool as claimpool
from attndyn.proofs.claims.registry import Claim, Outcome, Step
from attndyn.reports.cli import main

ROOT = Path(__file__).resolve().parents[1]
HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None
HAVE_PDFTOTEXT = shutil.which("pdftotext") is not None
RAN: list[str] = []


def _claim(id: str, kind: str, expected: str, status: str) -> Claim:
    def run() -> Outcome:
        RAN.append(id)
        return Outcome(status, f"fake {status}", [Step("a step", "x + y = z")], {"max_error": 1e-15})
    return Claim(id, f"Fake claim {id}", kind, expected, "x = y", ("none",), run)


FAKES = {c.id: c for c in (
    _claim("fake-ok", "symbolic", "verified", "verified"),
    _claim("fake-neg", "symbolic", "refuted", "refuted"),
    _claim("fake-num", "numeric", "verified", "verified"),
    _claim("fake-bad", "numeric", "verified", "refuted"),  # status differs from its expectation
)}


@pytest.fixture(autouse=True)
def in_process(monkeypatch):
    """The fake claims exist only in this process, so verify must not hand them to worker
    processes (tests/test_claimpool.py covers ``--workers`` with real claims)."""
    monkeypatch.setattr(claimpool, "resolve_workers", lambda workers, n: 1)


@pytest.fixture
def fake_registry(monkeypatch):
    monkeypatch.setattr(claims, "registry", lambda packages=(): dict(FAKES))
    RAN.clear()
    yield FAKES


def _blocked_dir(tmp_path: Path) -> Path:
    """A directory path that cannot be created, even by root: its parent is a regular file."""
    f = tmp_path / "plain-file"
    f.write_text("x")
    return f / "sub"


def _one_error_line(err: str, *needles: str) -> str:
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    for n in needles:
        assert n in lines[0], (n, lines[0])
    return lines[0]


def test_verify_json_structure_and_exit_0(fake_registry, tmp_path, capsys):
    out = tmp_path / "v.json"
    rc = main(["verify", "--claim", "fake-ok", "--claim", "fake-neg", "--claim", "fake-num",
               "--json", str(out), "--no-report"])
    assert rc == 0
    data = json.loads(out.read_text())
    assert set(data) == {"version", "claims"}
    assert [c["id"] for c in data["claims"]] == ["fake-ok", "fake-neg", "fake-num"]
    for c in data["claims"]:
        assert set(c) == {"id", "title", "kind", "expected", "status", "seconds", "details",
                          "slow", "statement", "assumptions", "steps", "figures"}  # report --from needs them
        assert c["kind"] in ("symbolic", "numeric") and c["status"] in ("verified", "refuted", "error")
        assert isinstance(c["seconds"], float) and c["details"]["reason"].startswith("fake")
    assert data["claims"][1]["expected"] == data["claims"][1]["status"] == "refuted"
    table = capsys.readouterr().out
    assert "fake-neg" in table and "3 of 3 claims as expected" in table


def test_verify_exits_1_when_a_status_differs_from_its_expectation(fake_registry, capsys):
    rc = main(["verify", "--claim", "fake-ok", "--claim", "fake-bad", "--no-report"])
    assert rc == 1
    captured = capsys.readouterr()
    assert "1 of 2 claims as expected" in captured.out
    assert "fake-bad: expected verified, got refuted" in captured.err


def test_verify_only_selects_by_kind(fake_registry, capsys):
    assert main(["verify", "--only", "symbolic", "--no-report"]) == 0
    assert RAN == ["fake-ok", "fake-neg"]


def test_unknown_claim_id_is_one_line_naming_it(fake_registry, capsys):
    rc = main(["verify", "--claim", "nope", "--no-report"])
    assert rc == 2
    _one_error_line(capsys.readouterr().err, "nope", "unknown claim id")
    assert RAN == []


def test_unknown_claim_id_through_the_real_entry_point():
    proc = subprocess.run([sys.executable, "-m", "attndyn.reports.cli", "verify", "--claim", "nope", "--no-report"],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert proc.returncode != 0
    _one_error_line(proc.stderr, "nope")


@pytest.mark.parametrize("flag", ["--report", "--json"])
def test_unwritable_output_is_a_clear_error_before_any_claim_runs(fake_registry, tmp_path, capsys, flag):
    target = _blocked_dir(tmp_path)
    if flag == "--json":
        target = target / "v.json"
    rc = main(["verify", "--claim", "fake-ok", flag, str(target)])
    assert rc == 2
    _one_error_line(capsys.readouterr().err, flag, "cannot write there")
    assert RAN == []


def test_json_into_proc_or_onto_a_directory_is_a_clear_error(fake_registry, tmp_path, capsys):
    assert main(["verify", "--claim", "fake-ok", "--no-report", "--json", "/proc/attndyn/x.json"]) == 2
    _one_error_line(capsys.readouterr().err, "--json", "/proc/attndyn")
    assert main(["verify", "--claim", "fake-ok", "--no-report", "--json", str(tmp_path)]) == 2
    _one_error_line(capsys.readouterr().err, "--json", "is a directory")
    assert RAN == []


def test_report_unwritable_out_is_a_clear_error(fake_registry, tmp_path, capsys):
    rc = main(["report", "--out", str(_blocked_dir(tmp_path)), "--claim", "fake-ok"])
    assert rc == 2
    _one_error_line(capsys.readouterr().err, "--out", "cannot write there")


@pytest.mark.parametrize("argv, message", [
    (["verify", "--only", "foo"], "invalid choice: 'foo'"),
    (["report", "--only", "foo", "--out", "x"], "invalid choice: 'foo'"),
    (["verify", "--no-such-flag"], "unrecognized arguments: --no-such-flag"),
])
def test_bad_flags_get_argparse_messages(argv, message, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    assert exc.value.code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err and err.startswith("usage: attndyn")


def test_report_without_tex_writes_tex_says_why_and_exits_0(fake_registry, one_kept_case, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    out = tmp_path / "r"
    rc = main(["report", "--out", str(out), "--claim", "fake-ok", "--claim", "fake-neg"])
    assert rc == 0
    stdout = capsys.readouterr().out
    assert "NO PDF was made" in stdout and "no TeX engine" in stdout
    assert (out / "derivations.tex").exists() and not (out / "derivations.pdf").exists()
    assert [c["id"] for c in json.loads((out / "verify.json").read_text())["claims"]] == ["fake-ok", "fake-neg"]


def test_report_require_pdf_without_tex_fails_at_once(fake_registry, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    rc = main(["report", "--out", str(tmp_path / "r"), "--require-pdf", "--claim", "fake-ok"])
    assert rc == 2
    _one_error_line(capsys.readouterr().err, "--require-pdf", "no TeX engine")
    assert RAN == []  # failed before spending time on the claims


def test_report_exit_status_follows_the_claims(fake_registry, one_kept_case, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    assert main(["report", "--out", str(tmp_path / "r"), "--claim", "fake-bad"]) == 1


@pytest.mark.skipif(not (HAVE_TEX and HAVE_PDFTOTEXT), reason="latexmk/pdflatex or pdftotext not on PATH")
def test_verify_writes_json_and_pdf_report(fake_registry, one_kept_case, tmp_path, capsys):
    rc = main(["verify", "--claim", "fake-ok", "--report", str(tmp_path / "rep")])
    assert rc == 0
    assert "derivations.pdf" in capsys.readouterr().out
    assert (tmp_path / "rep" / "derivations.pdf").stat().st_size > 0
    assert json.loads((tmp_path / "rep" / "verify.json").read_text())["claims"][0]["id"] == "fake-ok"


def _squash(text: str) -> str:
    """PDF text compared modulo line breaks, hyphenation, ligatures and typographic quotes."""
    text = unicodedata.normalize("NFKC", text)
    text = text.translate(str.maketrans({"\u2019": "'", "\u2018": "'", "\u201c": '"', "\u201d": '"'}))
    return re.sub(r"[\s\-\u2010\u2212]+", "", text)


@pytest.mark.slow
@pytest.mark.skipif(not (ROOT / "proofs" / "claims" / "symbolic.py").exists(), reason="proofs/claims/symbolic.py not written yet")
@pytest.mark.skipif(not (HAVE_TEX and HAVE_PDFTOTEXT), reason="latexmk/pdflatex or pdftotext not on PATH")
def test_real_symbolic_report_has_every_title(tmp_path):
    out = tmp_path / "r"
    # one kept counterexample through --cases: its section is in the PDF, without drawing all nine
    # kept cases again (tests/test_search_runs.py draws the default section)
    cases = tmp_path / "cases"
    cases.mkdir()
    (cases / "sen_M-query.json").write_text((ROOT / "tests" / "data" / "counterexamples" / "sen_M-query.json").read_text())
    proc = subprocess.run([sys.executable, "-m", "attndyn.reports.cli", "report", "--out", str(out), "--only",
                           "symbolic", "--require-pdf", "--cases", str(cases)],
                          capture_output=True, text=True, cwd=ROOT, timeout=600)
    assert proc.returncode in (0, 1), proc.stderr  # 1: a claim not as expected (its own tests say which)
    assert "Traceback" not in proc.stderr
    pdf = out / "derivations.pdf"
    assert pdf.stat().st_size > 0
    text = _squash(subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                                  text=True, check=True, timeout=60).stdout)
    symbolic = [c for c in claims_assembly.claims().values() if c.kind == "symbolic" and not c.slow]  # a default run
    assert symbolic, "proofs/claims/ registers no symbolic claim"
    missing = [c.title for c in symbolic if _squash(c.title) not in text]
    assert missing == []
    assert _squash("Counterexamples found by the search") in text
    ids = [c["id"] for c in json.loads((out / "verify.json").read_text())["claims"]]
    assert ids == [c.id for c in symbolic]


# --------------------------------------------------------------------------- discoverability

def test_version_prints_the_package_version(capsys):
    import attndyn
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out.strip() == f"attndyn {attndyn.__version__}"


def test_claims_lists_every_registered_claim_without_running_it(fake_registry, capsys):
    assert main(["claims"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["id", "kind", "expected", "run", "title"]
    for c in FAKES.values():
        row = next(ln for ln in out if ln.startswith(c.id + " "))
        assert row.split()[:4] == [c.id, c.kind, c.expected, "default"] and row.endswith(c.title)
    assert RAN == []
    assert main(["claims", "--only", "numeric"]) == 0
    listed = {ln.split()[0] for ln in capsys.readouterr().out.splitlines()[1:]}
    assert listed == {"fake-num", "fake-bad"}


def test_slow_claims_run_only_with_all_or_by_name(monkeypatch, capsys):
    from dataclasses import replace
    slow = replace(_claim("fake-slow", "numeric", "verified", "verified"), slow=True)
    monkeypatch.setattr(claims, "registry", lambda packages=(): {**FAKES, slow.id: slow})
    RAN.clear()
    main(["verify", "--no-report"])
    assert "fake-slow" not in RAN and "fake-ok" in RAN
    RAN.clear()
    main(["verify", "--no-report", "--all"])
    assert "fake-slow" in RAN and "fake-ok" in RAN
    RAN.clear()
    main(["verify", "--no-report", "--claim", "fake-slow"])
    assert RAN == ["fake-slow"]
    capsys.readouterr()
    assert main(["claims"]) == 0
    row = next(ln for ln in capsys.readouterr().out.splitlines() if ln.startswith("fake-slow "))
    assert row.split()[3] == "--all"


def test_presets_lists_every_preset_with_one_line(capsys):
    from attndyn.numerics.config.presets import preset_names
    assert main(["presets"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [ln.split()[0] for ln in lines] == preset_names()
    assert all(len(ln.split(None, 1)) == 2 for ln in lines)


def test_config_example_loads_back_to_the_defaults(tmp_path, capsys):
    from attndyn.numerics.config.load import load_config
    from attndyn.numerics.config.schema import RunConfig
    assert main(["config", "--example"]) == 0
    text = capsys.readouterr().out
    path = tmp_path / "my.toml"
    path.write_text(text)
    assert load_config(path) == RunConfig()
    assert "# type: float; default: 0.1" in text  # train.lr, with its type and default


@pytest.mark.parametrize("argv, needle", [
    (["config"], "exactly one of --example or --show"),
    (["config", "--example", "--preset", "paper-fc"], "--example: takes no config"),
])
def test_config_bad_use_is_one_line(argv, needle, capsys):
    assert main(argv) == 2
    _one_error_line(capsys.readouterr().err, needle)
