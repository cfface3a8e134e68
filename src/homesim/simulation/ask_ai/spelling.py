"""Snapping a misspelt word to the closest word of a vocabulary: `difflib.get_close_matches(word, vocabulary,
n=1, cutoff)`'s answer, found through an index instead of one `SequenceMatcher` per vocabulary word.

difflib keeps a word only if three bounds reach the cutoff, each an upper bound of the next: the length
ratio, the ratio of shared letters (a multiset intersection) and the Ratcliff/Obershelp ratio. The first two
depend on lengths and letter counts alone, so `Speller` computes them for the whole vocabulary at once
(numpy, one row of letter counts per word, the same `2.0 * matches / total` arithmetic) and runs
`SequenceMatcher` only on the few words that pass both. The winner is then the same: the highest
(ratio, word) pair, as `heapq.nlargest(1, …)` picks it.
"""

from __future__ import annotations

import difflib
import string
from functools import lru_cache

import numpy as np

_LETTERS = string.ascii_lowercase


class Speller:
    """The closest vocabulary word to a word, as difflib would choose it (see the module docstring)."""

    def __init__(self, vocabulary: tuple[str, ...]) -> None:
        self.vocabulary = vocabulary
        self.known = frozenset(vocabulary)
        self._lengths = np.array([len(w) for w in vocabulary], dtype=np.int64)
        # Letter counts per vocabulary word; other characters never meet a word of lower-case letters.
        self._counts = np.array(
            [[w.count(letter) for letter in _LETTERS] for w in vocabulary], dtype=np.int64
        ).reshape(len(vocabulary), len(_LETTERS))

    def closest(self, word: str, cutoff: float) -> str | None:
        """The vocabulary word difflib's `get_close_matches(word, vocabulary, n=1, cutoff)` returns."""
        if not word or any(c not in _LETTERS for c in word):  # the index counts a–z only
            close = difflib.get_close_matches(word, self.vocabulary, n=1, cutoff=cutoff)
            return close[0] if close else None
        counts = np.array([word.count(letter) for letter in _LETTERS], dtype=np.int64)
        total = self._lengths + len(word)
        real_quick = 2.0 * np.minimum(self._lengths, len(word)) / total
        quick = 2.0 * np.minimum(self._counts, counts).sum(axis=1) / total
        best: tuple[float, str] | None = None
        for index in np.flatnonzero((real_quick >= cutoff) & (quick >= cutoff)):
            candidate = self.vocabulary[index]
            # difflib's roles: the vocabulary word is sequence a, the word looked up sequence b.
            score = difflib.SequenceMatcher(None, candidate, word).ratio()
            if score >= cutoff and (best is None or (score, candidate) > best):
                best = (score, candidate)
        return best[1] if best is not None else None


@lru_cache(maxsize=16)
def speller(vocabulary: tuple[str, ...]) -> Speller:
    """The speller of a vocabulary, built once (a home's requests all share its vocabulary)."""
    return Speller(vocabulary)
