"""The report a theory reader wants (issue 10 §5): figures beside their claims with captions,
details as tables of named quantities, `report --from verify.json`, build files kept out.

The claims' own figures (N3, N2, C1) are built from their data by functions tested here on
small inputs; the full claims run in `attndyn verify`.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

import attndyn.reports.commands.report as report_cmd
import attndyn.reports.latex.details as details
from attndyn.numerics.claims.flow import order_figure
from attndyn.proofs.claims.figures import FigureSpec, Panel, Series
from attndyn.proofs.claims.registry import Claim, ClaimResult, Outcome, Step
from attndyn.reports.cli import main
from attndyn.reports.latex.compile import write_report
from attndyn.reports.latex.document import render
from attndyn.reports.latex.figures import draw
from attndyn.reports.latex.quantities import quantity

HAVE_TEX = shutil.which("latexmk") is not None and shutil.which("pdflatex") is not None


def spec() -> FigureSpec:
    x = np.linspace(0, 1, 1000)
    return FigureSpec(r"What it shows: $y = x^2$ against its curve.",
                      (Panel("(a)", "$x$", "$y$", (Series.of("data", x, x ** 2, "markers", color=0),
                                                   Series.of("curve", x, x ** 2, color=-1),
                                                   Series.of("band", x[[0, -1]], [-1, -1], "band", y2=[1, 1]))),
                       Panel("(b)", "$x$", "$y$", (Series.of("", x[1:], x[1:], "dashed"),), "log", "log")))


def result(figures=(), details_=None, cid="fig-claim") -> ClaimResult:
    c = Claim(cid, "A claim with a figure", "numeric", "verified", r"$y = x^2$", (r"$x \ge 0$",),
              lambda: None)
    d = {"tolerance": 0.05, "headroom": 5.6, "max_score_change": 0.25} if details_ is None else details_
    return ClaimResult(c, Outcome("verified", "fine", [Step("Square", "y = x^{2}")], d, list(figures)), 0.5)


def test_series_are_thinned_and_spec_round_trips_through_json():
    s = spec()
    assert len(s.panels[0].series[0].x) <= 400 and s.panels[0].series[0].x[-1] == 1.0
    again = FigureSpec.from_json(json.loads(json.dumps(s.to_json())))
    assert again == s
    assert FigureSpec.from_json("plain/path.png") == "plain/path.png"
    with pytest.raises(ValueError, match="caption"):
        FigureSpec("  ", s.panels)
    with pytest.raises(ValueError, match="style"):
        Series.of("x", [1], [1], "wiggly")


def test_figure_is_drawn_with_its_caption_not_a_file_name(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    out = tmp_path / "out"
    tex = write_report([result([spec()])], out, require_pdf=False).tex.read_text()
    assert (out / "figures" / "claim1-1.pdf").read_bytes().startswith(b"%PDF")
    assert r"\textbf{Figure~\thefigure.} What it shows:" in tex
    # beside the verdict: after the reason, before the table of details
    assert tex.index("Reason:") < tex.index("claim1-1.pdf") < tex.index(r"\textbf{quantity}")


def test_order_figure_shows_each_fit_and_the_accepted_slopes(tmp_path):
    etas = [0.2, 0.1, 0.05]
    res = {"fc": [2e-3, 1e-3, 5e-4], "tl": [4e-5, 2e-5, 1e-5]}
    f = order_figure(etas, res, {"fc": 1.0, "tl": 1.0}, (0.8, 1.2))
    labels = [s.label for s in f.panels[0].series]
    assert "FC: slope 1.000" in labels and any("0.8 and 1.2" in x for x in labels)
    dashed = [s for s in f.panels[0].series if s.style == "dashed"]
    np.testing.assert_allclose(dashed[0].y, res["fc"], rtol=1e-6)  # an exact power law is its own fit
    assert f.panels[0].xscale == f.panels[0].yscale == "log"
    assert draw(f, tmp_path / "n2.pdf").stat().st_size > 0


def test_details_are_named_quantities_with_units():
    tex = details.details_tex({
        "reason": "skipped", "tolerance": 1e-8, "headroom": 13.96, "slopes": {"fc": 0.9996, "tl": 0.9155},
        "mu_dot_latex": r"\frac{a}{b}", "unknown_key_here": True, "etas": [0.2, 0.1],
        "runs": {"fc": {"max_drift": 1e-10, "steps": 40}, "tc": {"max_drift": 2e-10, "steps": 41}},
        "words": [{"word": "w0", "verdict": "converged"}, {"word": "w1", "verdict": "converged"}]})
    assert r"tolerance (threshold of the verdict) & $10^{-8}$" in tex
    assert r"headroom (threshold /\attnbr{} measured) & $13.96$ & ratio" in tex
    assert r"unknown key here & yes" in tex  # fallback: the key's own words
    assert r"\attninline{" in tex and r"\frac{a}{b}" in tex  # a _latex key is a formula
    assert "$0.2$, $0.1$" in tex and "skipped" not in tex
    # a dict of records and a list of named records become tables with one row per record
    cells = tex.replace(r"\hspace{0pt}", "")
    assert tex.count(r"\begin{longtable}") >= 3 and "w0 & converged" in cells and "fc & $10^{-10}$ & $40$" in cells
    assert quantity("x_latex") == ("x", "", True)


def test_changing_a_detail_changes_the_report(tmp_path):
    a = render([result(details_={"tolerance": 0.05})], tmp_path)
    b = render([result(details_={"tolerance": 0.07})], tmp_path)
    assert "$0.05$" in a and "$0.07$" in b


def _fake_verify_json(tmp_path: Path) -> Path:
    rep = tmp_path / "rep"
    rep.mkdir()
    rs = [result([spec()]), result(cid="fig-two")]
    (rep / "verify.json").write_text(json.dumps({"version": 1, "claims": [r.to_json() for r in rs]}))
    return rep / "verify.json"


def test_report_from_json_rebuilds_without_running_claims(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    monkeypatch.setattr(report_cmd, "run_selected", lambda *a, **k: pytest.fail("a claim was run"))
    monkeypatch.setattr(report_cmd, "selected", lambda *a, **k: pytest.fail("a claim was selected"))
    vj = _fake_verify_json(tmp_path)
    assert main(["report", "--from", str(vj), "--cases", str(tmp_path / "none")]) == 2  # bad --cases: one line
    capsys.readouterr()
    empty = tmp_path / "nocases"
    empty.mkdir()
    monkeypatch.setattr("attndyn.reports.sections.counterexamples.KEPT_CASES", empty)
    assert main(["report", "--from", str(vj)]) == 0
    out = capsys.readouterr().out
    assert "none re-run" in out and "2 of 2 claims as expected" in out
    tex = (vj.parent / "derivations.tex").read_text()
    assert "What it shows:" in tex and "Square" in tex and r"\ge 0" in tex and "= x^{2}" in tex
    assert (vj.parent / "figures" / "claim1-1.pdf").is_file()
    # pick one claim, into another folder
    assert main(["report", "--from", str(vj), "--claim", "fig-two", "--out", str(tmp_path / "one")]) == 0
    assert [c["id"] for c in json.loads((tmp_path / "one" / "verify.json").read_text())["claims"]] == ["fig-two"]


@pytest.mark.parametrize("content, message", [
    (None, "no such file"), ("{not json", "not a readable JSON file"), ('{"claims": 3}', "not a verify.json"),
    ('{"claims": [{"id": "x", "status": "verified"}]}', "older attndyn"),
])
def test_report_from_bad_json_is_one_line(tmp_path, capsys, content, message):
    f = tmp_path / "verify.json"
    if content is not None:
        f.write_text(content)
    assert main(["report", "--from", str(f)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0] and "Traceback" not in err[0]


def test_report_needs_out_or_from(capsys):
    assert main(["report"]) == 2
    assert "--out DIR" in capsys.readouterr().err


@pytest.mark.skipif(not HAVE_TEX, reason="latexmk/pdflatex not on PATH")
def test_build_files_stay_out_of_the_output_folder(tmp_path):
    out = tmp_path / "out"
    files = write_report([result([spec()])], out, require_pdf=True)
    names = {p.name for p in out.iterdir()}
    assert names == {"derivations.tex", "derivations.pdf", "figures"}, names
    assert files.log is not None and files.log.is_file() and out not in files.log.parents


def test_c0_and_c1_render_math_from_the_objects_not_ascii():
    """C0-certificate's rate is a formula (a `_latex` detail); C1's derivation is the certificate
    and growth laws from SymPy plus per-word tables, with the attention/loss/norm figure."""
    from attndyn.numerics.claims.convergence import c1_convergence_paper
    from attndyn.proofs.claims.asymptotics import c0_certificate
    c0 = c0_certificate()
    assert "mu_dot" not in c0.details and r"\frac" in c0.details["mu_dot_latex"]
    assert "exp(" not in json.dumps(c0.details)
    c1 = c1_convergence_paper()
    assert c1.status == "verified"
    maths = " ".join(st.latex for st in c1.steps)
    assert r"\dot\mu" in maths and r"\frac{1}{\gamma}" in maths and r"\begin{array}" in maths
    assert not any("->" in st.text or "mu = u*" in st.text for st in c1.steps)
    (fig,) = c1.figures
    assert [p.title for p in fig.panels] == ["(a) attention", "(b) loss", "(c) embedding norm"]
    assert any(s.style == "dashed" for s in fig.panels[1].series)  # the derived law beside the flow
    assert "growth laws" in fig.caption


def test_sympy_printed_details_are_typeset_as_math_and_prose_is_not():
    tex = details.value_tex("-exp(s_t) - 2*s_t + v_t_1**2")
    assert r"\attninline" in tex and "e^{s_{t}}" in tex and "v_{t 1}^{2}" in tex
    for text in ("paper-fc", "DOP853", "score term = -4*(log(2)**2 + 1)/3 at the point", "().__class__",
                 "x.real*2"):
        assert r"\attninline" not in details.value_tex(text), text
