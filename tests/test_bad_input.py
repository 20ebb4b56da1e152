"""Bad input, as a table: each row is one command line that must fail with exactly one line on
stderr naming the field (or flag) and what was expected, exit status 2, and no traceback.

Rows run in-process through :func:`attndyn.reports.cli.main`; ``setup`` writes whatever files
the row needs into a fresh folder (the working directory of the row).  The broken-pipe case runs
the real entry point in a subprocess, since it needs a real pipe.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from attndyn.reports.cli import main
from attndyn.reports.cli.exits import ExitCode

ROOT = Path(__file__).resolve().parents[1]


def _not_utf8(d: Path) -> None:
    (d / "bad.toml").write_bytes(b"[train]\nlr = 0.1 # caf\xe9\n")


def _string_matrix(d: Path) -> None:
    np.save(d / "W.npy", np.array([["a"] * 4] * 10))


def _object_matrix(d: Path) -> None:
    np.save(d / "W.npy", np.array([None] * 40, dtype=object).reshape(10, 4), allow_pickle=True)


def _text_npy(d: Path) -> None:
    (d / "W.npy").write_text("1 2 3 4\n")


def _case_without_violation(d: Path) -> None:
    (d / "cx").mkdir()
    (d / "cx" / "a.json").write_text(json.dumps({"format": "attndyn-counterexample/1",
                                                 "claim": "sen-identity", "point": {}, "threshold": 1e-6}))


def _config(text: str):
    def setup(d: Path) -> None:
        (d / "c.toml").write_text(text)
    return setup


def _nothing(d: Path) -> None:
    pass


SMALL = ["--set", "corpus.n_sentences=50", "--set", "corpus.n_nontopic=20", "--set", "train.epochs=2"]

# (id, argv, setup, what the one line must contain)
CASES = [
    # the inputs named in the usability issue
    ("config-not-utf8", ["simulate", "bad.toml", "--out", "o"], _not_utf8, ["bad.toml", "not UTF-8"]),
    ("string-dtype-matrix", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "model.classifier_matrix=W.npy",
                             "--out", "o"], _string_matrix, ["model.classifier_matrix", "numeric", "<U1"]),
    ("object-dtype-matrix", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "model.classifier_matrix=W.npy",
                             "--out", "o"], _object_matrix, ["model.classifier_matrix", "object dtype"]),
    ("text-as-npy-simulate", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "model.classifier_matrix=W.npy",
                              "--out", "o"], _text_npy, ["model.classifier_matrix", "not a .npy file"]),
    ("text-as-npy-convergence", ["check-convergence", "--preset", "paper-fc", "--classifier-matrix", "W.npy"],
     _text_npy, ["--classifier-matrix", "not a .npy file"]),
    ("case-without-violation", ["report", "--claim", "S1-gradients", "--out", "o", "--cases", "cx"],
     _case_without_violation, ["--cases", "a.json", "'violation'", "expected a number"]),
    ("bench-threads-0", ["bench", "--threads", "0"], _nothing, ["--threads", ">= 1"]),
    ("verify-json-empty", ["verify", "--json", "", "--no-report"], _nothing, ["--json", "expected a file name"]),
    ("bench-json-empty", ["bench", "--json", ""], _nothing, ["--json", "expected a file name"]),
    ("convergence-json-empty", ["check-convergence", "--preset", "paper-fc", "--json", ""], _nothing,
     ["--json", "expected a file name"]),
    ("set-empty-key", ["simulate", "--preset", "paper-fc", "--set", "=5", "--out", "o"], _nothing,
     ["--set", "key is empty"]),
    ("report-unknown-claim", ["report", "--claim", "NOPE", "--out", "o"], _nothing, ["unknown claim id", "NOPE"]),
    ("verify-unknown-claim", ["verify", "--claim", "NOPE", "--no-report"], _nothing, ["unknown claim id", "NOPE"]),
    ("search-resume-nothing", ["search", "--claim", "sen-identity", "--budget", "2", "--workers", "1", "--out", "s",
                               "--resume", "--no-progress"], _nothing, ["--resume", "holds no search"]),
    # resume (issue 10 §3)
    ("resume-nothing", ["simulate", "--resume", "--out", "o"], _nothing, ["--resume o", "holds no run to resume"]),
    ("resume-and-overwrite", ["simulate", "--resume", "--overwrite", "--out", "o"], _nothing,
     ["--resume", "--overwrite", "give one of them"]),
    ("snapshot-seconds-negative", ["simulate", "--preset", "paper-fc", "--snapshot-seconds", "-1", "--out", "o"],
     _nothing, ["--snapshot-seconds", ">= 0"]),
    # the existing ones
    ("unknown-preset", ["simulate", "--preset", "nope", "--out", "o"], _nothing, ["--preset", "unknown preset"]),
    ("no-config", ["simulate", "--out", "o"], _nothing, ["CONFIG.toml", "--preset"]),
    ("config-and-preset", ["simulate", "c.toml", "--preset", "paper-fc", "--out", "o"], _config(""),
     ["not both"]),
    ("missing-config", ["simulate", "missing.toml", "--out", "o"], _nothing, ["missing.toml", "not found"]),
    ("config-not-toml", ["simulate", "c.toml", "--out", "o"], _config("[train\n"), ["c.toml", "not valid TOML"]),
    ("config-unknown-section", ["simulate", "c.toml", "--out", "o"], _config("[nope]\nx = 1\n"),
     ["unknown section", "nope"]),
    ("config-bad-lr", ["simulate", "c.toml", "--out", "o"], _config("[train]\nlr = -1\n"), ["train.lr", "> 0"]),
    ("set-unknown-key", ["simulate", "--preset", "paper-fc", "--set", "train.nope=1", "--out", "o"], _nothing,
     ["train.nope", "unknown key"]),
    ("set-no-equals", ["simulate", "--preset", "paper-fc", "--set", "train.lr", "--out", "o"], _nothing,
     ["--set", "key=value"]),
    ("set-bad-epochs", ["simulate", "--preset", "paper-fc", "--set", "train.epochs=-3", "--out", "o"], _nothing,
     ["train.epochs", ">= 0"]),
    ("missing-matrix", ["check-convergence", "--preset", "paper-fc", "--classifier-matrix", "none.npy"], _nothing,
     ["--classifier-matrix", "not found"]),
    ("search-no-claim", ["search", "--budget", "2", "--out", "s"], _nothing, ["--claim", "required"]),
    ("search-budget-0", ["search", "--claim", "sen-identity", "--budget", "0", "--out", "s"], _nothing,
     ["--budget", "> 0"]),
    ("horizon-negative", ["check-convergence", "--preset", "paper-fc", "--horizon", "-1"], _nothing, ["horizon"]),
    ("config-example-and-show", ["config", "--example", "--show"], _nothing, ["exactly one of"]),
    # train.kernel (the low-rank path, issues 11 and 13)
    ("unknown-kernel", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.kernel=fast", "--out", "o"],
     _nothing, ["train.kernel", "expected one of", "fast"]),
    # train.optimizer (issue 12)
    ("unknown-optimizer", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.optimizer=rmsprop",
                           "--out", "o"], _nothing, ["train.optimizer", "expected one of", "rmsprop"]),
    ("batch-size-0", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.optimizer=sgd",
                      "--set", "train.batch_size=0", "--out", "o"], _nothing, ["train.batch_size", ">= 1"]),
    ("batch-size-above-corpus", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.optimizer=adam",
                                 "--set", "train.batch_size=1000", "--out", "o"], _nothing,
     ["train.batch_size", "at most the 40 training sentences"]),
    ("sgd-without-batch-size", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.optimizer=sgd",
                                "--out", "o"], _nothing, ["train.batch_size", "mini-batches"]),
    ("beta-is-1", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.optimizer=adam",
                   "--set", "train.betas=[0.9, 1.0]", "--out", "o"], _nothing, ["train.betas", "[0, 1)"]),
    ("beta-negative", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.betas=-0.1,0.999",
                       "--out", "o"], _nothing, ["train.betas", "[0, 1)"]),
    ("momentum-negative", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.optimizer=momentum",
                           "--set", "train.momentum=-0.5", "--out", "o"], _nothing, ["train.momentum", ">= 0"]),
    ("eps-negative", ["simulate", "--preset", "paper-fc", *SMALL, "--set", "train.optimizer=adam",
                      "--set", "train.eps=-1e-8", "--out", "o"], _nothing, ["train.eps", ">= 0"]),
    # attndyn budget / simulate --budget (issue 12)
    ("budget-no-run", ["budget", "nowhere"], _nothing, ["RUN_DIR", "summary.json"]),
    ("simulate-budget-query-minibatch", ["simulate", "--preset", "paper-fc", "--set", "train.batch_size=10",
                                         "--set", "train.optimizer=sgd", "--set",
                                         'train.trainable=["embeddings", "keys", "query"]', "--budget", "--out", "r"],
     _nothing, ["train.trainable", "trained query", "full-batch"]),
    ("simulate-budget-keys-frozen", ["simulate", "--preset", "ablation-fc-kf", "--budget", "--out", "r"], _nothing,
     ["train.trainable", "keys and embeddings"]),
]


@pytest.mark.parametrize("argv, setup, needles", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_one_line_and_exit_2(argv, setup, needles, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    setup(tmp_path)
    rc = main(list(argv))
    err = capsys.readouterr().err
    assert rc == ExitCode.USAGE, err
    lines = [ln for ln in err.strip().splitlines() if ln.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err and "pickled" not in err
    assert lines[0].startswith(f"attndyn {argv[0]}: error: "), lines[0]
    for n in needles:
        assert n in lines[0], (n, lines[0])


@pytest.mark.slow
@pytest.mark.parametrize("reader, first_line", [("head -1", "id kind expected run title"), ("true", "")])
def test_a_closed_pipe_ends_quietly(reader, first_line):
    """``attndyn claims | head -1``: the reader leaves early; no BrokenPipeError traceback, and
    exit status 141 (128 + SIGPIPE) when the write failed (0 when the pipe took everything)."""
    cmd = f"{sys.executable} -m attndyn.reports.cli claims | {reader}; echo \"rc=${{PIPESTATUS[0]}}\" >&2"
    proc = subprocess.run(["bash", "-c", cmd], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert " ".join(proc.stdout.split()) == first_line
    assert proc.stderr.strip() in (f"rc={int(ExitCode.BROKEN_PIPE)}", "rc=0"), proc.stderr
    if reader == "true":  # gone before the first write: the write fails
        assert proc.stderr.strip() == f"rc={int(ExitCode.BROKEN_PIPE)}", proc.stderr


class _ClosedPipe:
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_broken_pipe_in_process_is_exit_141(monkeypatch, capsys):
    monkeypatch.setattr(sys, "stdout", _ClosedPipe())
    assert main(["presets"]) == ExitCode.BROKEN_PIPE


def test_search_resume_on_an_empty_folder_leaves_no_search_behind(tmp_path, capsys):
    assert main(["search", "--claim", "sen-identity", "--budget", "2", "--workers", "1",
                 "--out", str(tmp_path / "s"), "--resume", "--no-progress"]) == 2
    assert "holds no search" in capsys.readouterr().err
    assert list((tmp_path / "s").iterdir()) == []
