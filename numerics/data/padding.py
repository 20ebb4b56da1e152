r"""The authors' padding: every sentence filled up to ``L`` tokens with one shared word ``$PAD$``.

The authors' SST code pads each sentence to 52 tokens with a trainable ``$PAD$`` embedding and
key and **no mask**, so PAD takes attention like any word: a sentence with :math:`n_i` real words
attends over :math:`L` tokens, :math:`L - n_i` of them the same word.  :func:`pad_corpus` builds
that corpus: the vocabulary gains ``$PAD$`` (the last id, ``vocab_size``), which trains like
every other word (``corpus.pad_to``; the SEN relation it bends is derived in
:mod:`attndyn.proofs.padding`).
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np

from attndyn.numerics.data.corpus import Corpus
from attndyn.proofs.errors import UsageError

PAD = "$PAD$"


def pad_corpus(corpus: Corpus, length: int) -> Corpus:
    """``corpus`` with every sentence (all splits) padded to ``length`` tokens by a new word
    :data:`PAD`; a sentence longer than ``length`` is a UsageError naming the longest."""
    lengths = corpus.lengths
    longest = int(lengths.max()) if len(lengths) else 0
    if length < longest:
        i = int(np.argmax(lengths))
        split = {0: "train", 1: "valid", 2: "test"}.get(int(corpus.split[i]), "?")
        raise UsageError(f"corpus.pad_to: {length} is shorter than the longest sentence of corpus "
                         f"{corpus.name!r} ({longest} tokens, sentence {i}, {split} split); "
                         f"expected an integer >= {longest}")
    pad_id = corpus.vocab_size
    n = corpus.n_sentences
    offsets = np.arange(n + 1, dtype=np.int64) * length
    word_ids = np.full(n * length, pad_id, dtype=np.int64)
    # real words first, then the padding (the authors' order; attention does not see positions)
    dest = np.repeat(offsets[:-1] - corpus.offsets[:-1], lengths) + np.arange(len(corpus.word_ids))
    word_ids[dest] = corpus.word_ids
    vocab = None if corpus.vocab is None else tuple(corpus.vocab) + (PAD,)
    return replace(corpus, word_ids=word_ids, offsets=offsets, vocab_size=pad_id + 1, vocab=vocab,
                   name=f"{corpus.name}, padded to {length}")
