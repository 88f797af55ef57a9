"""Turning French text into search terms: folding, spelling fixes, phrases, stop words, stems."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from bot.search.lexicon import Lexicon, default_lexicon, stem

QUESTION_WORDS = frozenset(
    "comment combien pourquoi quand quel quelle quels quelles ou est ce puis peut peux "
    "faut avez as je j mon ma mes moi possible".split()
)
"""Folded words that make a query look like a question to the FAQ rather than a title."""

INTERROGATIVE_WORDS = frozenset(
    "comment combien pourquoi quand quel quelle quels quelles how what why when which".split()
)
"""Folded words that ask about something ("combien de films...") rather than for it."""


@dataclass(frozen=True, slots=True)
class _Word:
    term: str | None  # None for a stop word
    stem: str
    soft: bool
    starts_phrase: bool


@dataclass(frozen=True, slots=True)
class QueryToken:
    """One meaningful unit of a question."""

    term: str
    surface: str | None  # the folded word as written, None for a phrase or synonym rewrite
    soft: bool


@dataclass(frozen=True, slots=True)
class QueryAnalysis:
    tokens: tuple[QueryToken, ...]
    question_like: bool
    interrogative: bool  # asks how, how many, why... ("combien de films ?")
    media_type: str | None
    open_end: bool  # the last word may be unfinished (no space or punctuation after it)


class Analyzer:
    """Analyses texts with one lexicon, remembering what it learnt about each word.

    The memory of words seen while indexing doubles as the vocabulary for typo lookup.
    ``cache_limit`` bounds that memory for analysers of untrusted queries.
    """

    def __init__(self, lexicon: Lexicon | None = None, cache_limit: int | None = None) -> None:
        self.lexicon = lexicon or default_lexicon()
        self.known: dict[str, _Word] = {}
        self._cache_limit = cache_limit

    def _learn(self, word: str) -> _Word:
        lex = self.lexicon
        word_stem = stem(word)
        dropped = word in lex.stop or (len(word) == 1 and not word.isdigit())
        info = _Word(
            term=None if dropped else lex.equivalent.get(word_stem, word_stem),
            stem=word_stem,
            soft=word in lex.soft,
            starts_phrase=word_stem in lex.phrase_starts,
        )
        if self._cache_limit is not None and len(self.known) >= self._cache_limit:
            self.known.clear()
        self.known[word] = info
        return info

    def _infos(self, words: list[str]) -> list[_Word]:
        known = self.known
        return [known.get(w) or self._learn(w) for w in words]

    def _walk(self, words: list[str], infos: list[_Word]) -> list[tuple[str, str | None, bool]]:
        """(term, surface word or None, soft) for each meaningful unit of ``words``."""
        lex = self.lexicon
        out: list[tuple[str, str | None, bool]] = []
        i = 0
        count = len(words)
        while i < count:
            info = infos[i]
            if info.starts_phrase:
                for size in range(min(lex.max_phrase, count - i), 1, -1):
                    key = tuple(x.stem for x in infos[i : i + size])
                    canonical = lex.phrases.get(key)
                    if canonical is not None:
                        out.append((canonical, None, False))
                        i += size
                        break
                else:
                    if info.term is not None:
                        out.append((info.term, words[i], info.soft))
                    i += 1
                continue
            if info.term is not None:
                surface = words[i] if info.term == info.stem else None
                out.append((info.term, surface, info.soft))
            i += 1
        return out

    def terms_and_parts(self, text: str) -> tuple[list[str], list[str]]:
        """The terms of a text, and the words inside its synonym phrases.

        "Livres numériques" gives ``["ebook"]`` and the parts ``["livr", "numeriqu"]``: an
        index keeps the parts too, weighing less, so that "livre" still finds it.
        """
        if not text:
            return [], []
        words = self.lexicon.words(text)
        infos = self._infos(words)
        if not any(info.starts_phrase for info in infos):
            return [info.term for info in infos if info.term is not None], []
        terms = [term for term, _, _ in self._walk(words, infos)]
        parts = [info.term for info in infos if info.term is not None and info.term not in terms]
        return terms, parts

    def terms(self, text: str) -> list[str]:
        """The search terms of a text, in order (duplicates kept)."""
        if not text:
            return []
        words = self.lexicon.words(text)
        infos = self._infos(words)
        if not any(info.starts_phrase for info in infos):
            return [info.term for info in infos if info.term is not None]
        return [term for term, _, _ in self._walk(words, infos)]

    def analyze_query(self, text: str) -> QueryAnalysis:
        words = self.lexicon.words(text)
        units = self._walk(words, self._infos(words))
        media_terms = self.lexicon.media_terms
        media_type = next((media_terms[t] for t, _, _ in units if t in media_terms), None)
        seen: set[str] = set()
        tokens: list[QueryToken] = []
        for term, surface, soft in units:
            if term not in seen:
                seen.add(term)
                tokens.append(QueryToken(term, surface, soft))
        stripped = text.rstrip()
        return QueryAnalysis(
            tokens=tuple(tokens),
            question_like="?" in text or any(w in QUESTION_WORDS for w in words),
            interrogative=any(w in INTERROGATIVE_WORDS for w in words),
            media_type=media_type,
            open_end=bool(stripped) and stripped == text and stripped[-1].isalnum(),
        )


@cache
def _shared_analyzer() -> Analyzer:
    return Analyzer(cache_limit=50_000)


def normalize(text: str) -> list[str]:
    """Search terms of ``text``: ``"J'ai oublié mon MDP"`` → ``["oubli", "mot_de_passe"]``."""
    return _shared_analyzer().terms(text)


def detect_media_type(query: str) -> str | None:
    """The media type a question asks for (``"des films de Kurosawa"`` → ``"video"``)."""
    return _shared_analyzer().analyze_query(query).media_type
