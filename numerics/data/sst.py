"""SST-2 / SST-5 as a :class:`~attndyn.numerics.data.corpus.Corpus` (the paper's real-text experiments).

Files (one sentence per line, ``LABEL SENTENCE``, tokens separated by spaces)::

    ROOT/sst2/stsa.binary.{train,dev,test}   labels 0..1
    ROOT/sst5/stsa.fine.{train,dev,test}     labels 0..4

ROOT is chosen in this order (the first that is given wins):

1. the ``root`` argument of :func:`read_sst`;
2. the environment variable ``ATTNDYN_SST_DIR``;
3. ``../shared/data/sst/`` relative to the repository root (the directory holding
   ``pyproject.toml``, found by walking up from this file).

Tokenisation rule (deterministic, documented so results can be reproduced):

* a line is split at its first run of whitespace into the label and the text;
  the label must be an integer in ``0..n_classes-1``;
* the text is split on whitespace (``str.split()``, so a non-breaking space
  also separates tokens), each token lower-cased and stripped of every
  character that is not a Unicode letter or digit (regex ``[\\W_]``): ``","``
  and ``"--"`` vanish, ``"n't"`` becomes ``"nt"``, ``"'s"`` becomes ``"s"``,
  ``"re-imagining"`` becomes ``"reimagining"``, ``"1\\/2"`` becomes ``"12"``;
  tokens left empty are dropped;
* a whitespace-only line is skipped (counted in :attr:`SSTStats.blank`);
  a line with a label but no text is malformed; a line whose text is all
  punctuation is skipped (counted in :attr:`SSTStats.empty`) — none of the
  real files has either.

Vocabulary: every token of all three splits, in sorted order (so word ids do not
depend on file order).  Split ids: train 0, dev 1 (``valid``), test 2.
``topic_words``/``topic_labels`` are empty: real text has no designated topic words.
"""
from __future__ import annotations

from dataclasses import dataclass
import os
from pathlib import Path
import re

import numpy as np

from attndyn.numerics.data.corpus import Corpus
from attndyn.proofs.errors import UsageError

ENV_VAR = "ATTNDYN_SST_DIR"
DATASETS = {
    # which: (subdirectory, file stem, number of classes)
    "sst2": ("sst2", "stsa.binary", 2),
    "sst5": ("sst5", "stsa.fine", 5),
}
SPLIT_FILES = (("train", 0), ("dev", 1), ("test", 2))
_NOT_WORD = re.compile(r"[\W_]+")
_LABEL = re.compile(r"[0-9]+")  # plain digits: no sign, no underscores (int() would accept "1_0")


@dataclass(frozen=True)
class SSTStats:
    """What :func:`read_sst_with_stats` read: per split (train, dev, test) line counts."""

    root: Path
    files: tuple[Path, Path, Path]
    sentences: tuple[int, int, int]  # kept sentences
    blank: tuple[int, int, int]  # whitespace-only lines skipped
    empty: tuple[int, int, int]  # labelled lines whose text is all punctuation, skipped


def repository_root(start: Path | None = None) -> Path | None:
    """The nearest directory at or above ``start`` (default: this file) holding ``pyproject.toml``."""
    here = (start or Path(__file__)).resolve()
    for directory in (here, *here.parents):
        if (directory / "pyproject.toml").is_file():
            return directory
    return None


def sst_root(root: str | os.PathLike | None = None) -> Path:
    """The SST directory: ``root`` if given, else ``$ATTNDYN_SST_DIR``, else
    ``<repository root>/../shared/data/sst``."""
    if root is not None:
        if not isinstance(root, (str, os.PathLike)):
            raise UsageError(f"SST root: expected a directory path, got {root!r}")
        return Path(root).expanduser()
    env = os.environ.get(ENV_VAR)
    if env:
        return Path(env).expanduser()
    repo = repository_root()
    if repo is None:
        raise UsageError(f"SST data: no repository root (pyproject.toml) above {Path(__file__).parent}; "
                         f"pass root=... or set {ENV_VAR} to the directory holding sst2/ and sst5/")
    return (repo.parent / "shared" / "data" / "sst").resolve()


def tokenize(text: str) -> list[str]:
    """Lower-cased tokens of ``text`` with every non-letter/digit character removed; empty tokens dropped."""
    out = []
    for token in text.split():
        token = _NOT_WORD.sub("", token.lower())
        if token:
            out.append(token)
    return out


def _read_file(path: Path, n_classes: int) -> tuple[list[int], list[list[str]], int, int]:
    """Labels and token lists of one split file, plus (blank, empty) skip counts."""
    labels: list[int] = []
    sentences: list[list[str]] = []
    blank = empty = 0
    try:
        with open(path, encoding="utf-8") as fh:
            # iterating the file: universal newlines, so line numbers match an editor's
            for lineno, line in enumerate(fh, start=1):
                parts = line.split(maxsplit=1)
                if not parts:
                    blank += 1
                    continue
                where = f"SST data: {path}, line {lineno}"
                if not _LABEL.fullmatch(parts[0]):
                    raise UsageError(f"{where}: expected an integer label first, got {parts[0][:40]!r}")
                label = int(parts[0])
                if label >= n_classes:
                    raise UsageError(f"{where}: label {label} outside 0..{n_classes - 1}")
                if len(parts) < 2:
                    raise UsageError(f"{where}: no sentence after the label")
                tokens = tokenize(parts[1])
                if not tokens:
                    empty += 1
                    continue
                labels.append(label)
                sentences.append(tokens)
    except FileNotFoundError:
        raise UsageError(f"SST data: missing file {path} (set the root with root=... or the "
                         f"environment variable {ENV_VAR}; it must hold sst2/ and sst5/)") from None
    except UnicodeDecodeError as exc:
        raise UsageError(f"SST data: {path} is not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise UsageError(f"SST data: cannot read {path}: {exc.strerror or exc}") from None
    return labels, sentences, blank, empty


def read_sst_with_stats(which: str, root: str | os.PathLike | None = None) -> tuple[Corpus, SSTStats]:
    """:func:`read_sst` plus what was read and skipped (:class:`SSTStats`)."""
    if which not in DATASETS:
        raise UsageError(f"SST dataset: expected one of {sorted(DATASETS)}, got {which!r}")
    subdir, stem, n_classes = DATASETS[which]
    base = sst_root(root)
    files = tuple(base / subdir / f"{stem}.{name}" for name, _ in SPLIT_FILES)
    per_split = [_read_file(path, n_classes) for path in files]

    split_labels, split_sentences, split_blank, split_empty = zip(*per_split)
    labels = [y for lab in split_labels for y in lab]
    sentences = [tokens for sent in split_sentences for tokens in sent]
    split = np.repeat(np.array([sid for _, sid in SPLIT_FILES], dtype=np.int8),
                      [len(lab) for lab in split_labels])
    vocab = tuple(sorted({tok for s in sentences for tok in s}))
    index = {tok: i for i, tok in enumerate(vocab)}
    lengths = np.fromiter((len(s) for s in sentences), dtype=np.int64, count=len(sentences))
    offsets = np.zeros(len(sentences) + 1, dtype=np.int64)
    np.cumsum(lengths, out=offsets[1:])
    word_ids = np.fromiter((index[tok] for s in sentences for tok in s), dtype=np.int64,
                           count=int(offsets[-1]))
    empty_ids = np.zeros(0, dtype=np.int64)
    corpus = Corpus(word_ids, offsets, np.asarray(labels, dtype=np.int64), split, n_classes,
                    len(vocab), empty_ids, empty_ids.copy(), vocab, which)
    stats = SSTStats(root=base, files=files, sentences=tuple(len(lab) for lab in split_labels),
                     blank=tuple(split_blank), empty=tuple(split_empty))
    return corpus, stats


def read_sst(which: str, root: str | os.PathLike | None = None) -> Corpus:
    """SST-2 (``which="sst2"``, 2 classes) or SST-5 (``"sst5"``, 5 classes) as one corpus,
    all three splits (train 0 / dev 1 / test 2), vocabulary over all splits (sorted).

    ``root`` overrides ``$ATTNDYN_SST_DIR``, which overrides ``../shared/data/sst``
    beside the repository (see the module docstring for the tokenisation rule).
    A missing file or a malformed line raises :class:`UsageError` naming the file
    (and the line number).
    """
    return read_sst_with_stats(which, root)[0]
