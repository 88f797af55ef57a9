"""The written words of an index, for typo tolerance and completion of an unfinished word."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Mapping

import numpy as np
from rapidfuzz import process
from rapidfuzz.distance import OSA

MIN_TYPO_LENGTH = 4
MAX_COMPLETIONS_SCANNED = 300


def max_typos(length: int) -> int:
    """Edits allowed in a word of that length: 1 from 4 letters, 2 from 8."""
    if length < MIN_TYPO_LENGTH:
        return 0
    return 1 if length < 8 else 2


class Vocabulary:
    """Maps the folded written words of the index to their term ids.

    Typo lookup compares a word with the words that start with the same letter and whose
    length differs by at most the edits allowed (rapidfuzz OSA distance, where swapping
    two neighbour letters is one edit): a few thousand comparisons in C, not the whole
    vocabulary.
    """

    def __init__(self, term_of_word: Mapping[str, int], document_frequency: np.ndarray) -> None:
        self._term_of_word = dict(term_of_word)
        self._df = document_frequency
        self._sorted = sorted(self._term_of_word)
        buckets: dict[tuple[str, int], list[str]] = {}
        for word in self._sorted:
            buckets.setdefault((word[0], len(word)), []).append(word)
        self._buckets = buckets

    def __len__(self) -> int:
        return len(self._sorted)

    def __contains__(self, word: object) -> bool:
        return word in self._term_of_word

    def typos(self, word: str, limit: int = 6) -> list[tuple[int, float]]:
        """(term id, quality) of the known words within a few edits of ``word``."""
        allowed = max_typos(len(word))
        if not allowed:
            return []
        found: list[tuple[int, int, str]] = []
        for length in range(len(word) - allowed, len(word) + allowed + 1):
            bucket = self._buckets.get((word[0], length))
            if not bucket:
                continue
            for candidate, distance, _ in process.extract(
                word, bucket, scorer=OSA.distance, score_cutoff=allowed, limit=limit
            ):
                if candidate != word:
                    term = self._term_of_word[candidate]
                    found.append((int(distance), -int(self._df[term]), candidate))
        found.sort()
        best: dict[int, float] = {}
        for distance, _, candidate in found[:limit]:
            quality = max(0.5, 0.9 - 1.2 * distance / max(len(word), len(candidate)))
            term = self._term_of_word[candidate]
            best[term] = max(best.get(term, 0.0), quality)
        return list(best.items())

    def completions(self, prefix: str, limit: int = 8) -> list[tuple[int, float]]:
        """(term id, quality) of the commonest known words that start with ``prefix``."""
        start = bisect_left(self._sorted, prefix)
        words: list[str] = []
        for word in self._sorted[start : start + MAX_COMPLETIONS_SCANNED]:
            if not word.startswith(prefix):
                break
            if word != prefix:
                words.append(word)
        words.sort(key=lambda w: -int(self._df[self._term_of_word[w]]))
        best: dict[int, float] = {}
        for word in words[:limit]:
            term = self._term_of_word[word]
            best[term] = max(best.get(term, 0.0), 0.6 + 0.3 * len(prefix) / len(word))
        return list(best.items())
