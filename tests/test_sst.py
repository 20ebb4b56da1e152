"""SST loader (numerics/sst.py): small temp files (good, missing, malformed), root resolution,
and the real files in ../shared/data/sst when present."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from attndyn.numerics.data import sst
from attndyn.numerics.data.sst import (read_sst, read_sst_with_stats, repository_root, sst_root,
                                       tokenize)
from attndyn.proofs.errors import UsageError

SMALL = {
    "train": "1 A stirring , funny re-imagining of Beauty and the Beast .\n"
             "0 they wo n't sit still -- it 's 1\\/2 bad !\n"
             "\n"  # a blank line: skipped, counted
             "1 ... ?\n",  # punctuation only: skipped, counted
    "dev": "0 Bad , bad film\n",
    "test": "1 élan\xa0and  Funny\n",
}


def write(root: Path, which: str = "sst2", files: dict[str, str] = SMALL) -> Path:
    subdir, stem, _ = sst.DATASETS[which]
    (root / subdir).mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (root / subdir / f"{stem}.{name}").write_text(text, encoding="utf-8")
    return root


def decode(c, i: int) -> list[str]:
    return [c.vocab[w] for w in c.word_ids[c.offsets[i]:c.offsets[i + 1]]]


def test_tokenize_rule():
    assert tokenize("They wo n't -- it 's 1\\/2 RE-imagining , .") == ["they", "wo", "nt", "it", "s", "12",
                                                                      "reimagining"]
    assert tokenize("élan\xa0Naïve_x") == ["élan", "naïvex"]
    assert tokenize(" ... ; ") == []


def test_small_files(tmp_path):
    c, stats = read_sst_with_stats("sst2", write(tmp_path))
    assert c.n_sentences == 4 and c.n_classes == 2 and c.name == "sst2"
    assert stats.sentences == (2, 1, 1) and stats.blank == (1, 0, 0) and stats.empty == (1, 0, 0)
    assert stats.root == tmp_path and stats.files[1].name == "stsa.binary.dev"
    np.testing.assert_array_equal(c.labels, [1, 0, 0, 1])
    np.testing.assert_array_equal(c.split, [0, 0, 1, 2])
    assert c.split.dtype == np.int8 and c.word_ids.dtype == c.offsets.dtype == np.int64
    assert list(c.vocab) == sorted(set(c.vocab)) and c.vocab_size == len(c.vocab)
    assert decode(c, 0) == "a stirring funny reimagining of beauty and the beast".split()
    assert decode(c, 1) == "they wo nt sit still it s 12 bad".split()
    assert decode(c, 2) == ["bad", "bad", "film"]
    assert decode(c, 3) == ["élan", "and", "funny"]
    assert set(c.vocab) == {t for i in range(4) for t in decode(c, i)}  # vocabulary over all splits
    assert len(c.topic_words) == len(c.topic_labels) == 0
    assert c.subset("valid").n_sentences == 1 and decode(c.subset("valid"), 0) == ["bad", "bad", "film"]


def test_sst5_labels_and_read_sst_equals_with_stats(tmp_path):
    write(tmp_path, "sst5", {"train": "4 great\n0 awful\n", "dev": "2 so so\n", "test": "3 fine .\n"})
    c = read_sst("sst5", tmp_path)
    assert c.n_classes == 5 and c.labels.tolist() == [4, 0, 2, 3]
    np.testing.assert_array_equal(c.word_ids, read_sst_with_stats("sst5", str(tmp_path))[0].word_ids)


def test_missing_file_names_it(tmp_path):
    write(tmp_path, files={"train": SMALL["train"], "dev": SMALL["dev"]})
    with pytest.raises(UsageError, match=r"missing file .*stsa\.binary\.test.*ATTNDYN_SST_DIR"):
        read_sst("sst2", tmp_path)
    with pytest.raises(UsageError, match=r"missing file .*sst5.stsa\.fine\.train"):
        read_sst("sst5", tmp_path)


@pytest.mark.parametrize("line, which, message", [
    ("positive great film", "sst2", "expected an integer label first, got 'positive'"),
    ("1.0 great film", "sst2", "expected an integer label"),
    ("-1 great film", "sst2", "expected an integer label"),
    ("1_0 great film", "sst2", "expected an integer label"),
    ("2 great film", "sst2", r"label 2 outside 0\.\.1"),
    ("5 great film", "sst5", r"label 5 outside 0\.\.4"),
    ("1", "sst2", "no sentence after the label"),
])
def test_malformed_line_names_file_and_line(tmp_path, line, which, message):
    files = {"train": "1 fine\n0 not fine\n\n" + line + "\n1 fine\n", "dev": "0 x\n", "test": "1 y\n"}
    write(tmp_path, which, files)
    stem = sst.DATASETS[which][1]
    with pytest.raises(UsageError, match=rf"{stem}\.train, line 4: {message}"):
        read_sst(which, tmp_path)


def test_not_utf8_and_unknown_dataset(tmp_path):
    write(tmp_path)
    (tmp_path / "sst2" / "stsa.binary.dev").write_bytes(b"1 caf\xe9\n")
    with pytest.raises(UsageError, match=r"stsa\.binary\.dev is not UTF-8"):
        read_sst("sst2", tmp_path)
    with pytest.raises(UsageError, match=r"SST dataset: expected one of \['sst2', 'sst5'\], got 'sst3'"):
        read_sst("sst3", tmp_path)
    with pytest.raises(UsageError, match="SST root: expected a directory path"):
        read_sst("sst2", 5)


def test_root_resolution_order(tmp_path, monkeypatch):
    good = write(tmp_path / "good")
    monkeypatch.setenv(sst.ENV_VAR, str(tmp_path / "nowhere"))
    assert read_sst("sst2", good).n_sentences == 4  # explicit root beats the env var
    with pytest.raises(UsageError, match="nowhere"):
        read_sst("sst2")  # the env var beats the default
    monkeypatch.setenv(sst.ENV_VAR, str(good))
    assert read_sst("sst2").n_sentences == 4
    monkeypatch.delenv(sst.ENV_VAR)
    repo = repository_root()
    assert (repo / "pyproject.toml").is_file() and (repo / "numerics" / "data" / "sst.py").is_file()
    assert sst_root() == (repo.parent / "shared" / "data" / "sst").resolve()
    nested = tmp_path / "proj" / "a" / "b"
    nested.mkdir(parents=True)
    (tmp_path / "proj" / "pyproject.toml").write_text("")
    assert repository_root(nested) == (tmp_path / "proj").resolve()


def real_root() -> Path | None:
    """Where read_sst looks by default ($ATTNDYN_SST_DIR, else ../shared/data/sst), None if undecidable."""
    try:
        return sst_root()
    except UsageError:
        return None


REAL_COUNTS = {"sst2": (6920, 872, 1821), "sst5": (8544, 1101, 2210)}


@pytest.mark.parametrize("which", ["sst2", "sst5"])
def test_real_files(which):
    subdir, stem, n_classes = sst.DATASETS[which]
    real = real_root()
    if real is None or not (real / subdir).is_dir():
        pytest.skip(f"SST data not found at {real} (set ATTNDYN_SST_DIR)")
    c, stats = read_sst_with_stats(which)
    assert stats.sentences == REAL_COUNTS[which] and stats.blank == stats.empty == (0, 0, 0)
    np.testing.assert_array_equal(np.bincount(c.split), REAL_COUNTS[which])
    assert c.n_classes == n_classes and c.labels.min() >= 0 and c.labels.max() == n_classes - 1
    # every line round-trips: its label and its tokens, read independently of the loader
    raw = [line for name, _ in sst.SPLIT_FILES
           for line in (real / subdir / f"{stem}.{name}").read_text(encoding="utf-8").splitlines()]
    assert len(raw) == c.n_sentences
    for i in range(0, len(raw), 97):
        label, text = raw[i].split(" ", 1)
        assert int(label) == c.labels[i] and decode(c, i) == tokenize(text)
    assert c.vocab_size == len({t for line in raw for t in tokenize(line.split(" ", 1)[1])})
    assert np.bincount(c.word_ids, minlength=c.vocab_size).min() >= 1  # no unused vocabulary entry
