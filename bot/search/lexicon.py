"""The French word knowledge of the search, read from the text files of this package.

``stopwords.txt``, ``spelling.txt``, ``synonyms.txt``, ``media_words.txt`` and
``english.txt`` are data:
librarians can extend them without touching code. Every entry goes through the same
folding and stemming as the texts it is compared with, so accents and plurals in the
files do not matter.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from functools import cache
from importlib import resources

WORD_RE = re.compile(r"[^\W_]+")

RELATED_QUALITY = 0.6
"""How much a related word (``magazine ~ presse``) counts against the word itself."""


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        char = chr(code)
        stripped = "".join(
            c for c in unicodedata.normalize("NFKD", char) if not unicodedata.combining(c)
        )
        if stripped != char and stripped.isascii():
            table[code] = stripped.lower()
    table.update({ord("œ"): "oe", ord("æ"): "ae", ord("ß"): "ss", ord("ø"): "o"})
    return table


FOLD_TABLE = _fold_table()


def fold(text: str) -> str:
    """Lower case without accents or ligatures: ``"Écouter l'Œuvre"`` → ``"ecouter l'oeuvre"``."""
    return text.lower().translate(FOLD_TABLE)


def stem(word: str) -> str:
    """A light French stemmer: folds plurals and the commonest verb, noun and feminine endings.

    It only has to give the same stem to the forms a patron and a catalogue use for one
    word (``films``/``film``, ``télécharger``/``téléchargé``, ``payante``/``payant``).
    """
    if len(word) <= 3 or not word.isalpha():
        return word
    if word.endswith("eaux"):
        word = word[:-1]
    elif word.endswith("aux") and len(word) > 4:
        word = word[:-3] + "al"
    elif word[-1] in "sx" and word[-2] != "s":
        word = word[:-1]
    size = len(word)
    if word.endswith(("elle", "enne", "onne")):  # quelle, italienne, bonne: feminine
        return word[:-2]
    if size >= 8 and word.endswith("ement"):
        return word[:-5]
    if size >= 10 and word.endswith("ation"):  # réservation, installation: the verb's stem
        return word[:-5]
    if size >= 6 and word.endswith(("er", "ez", "ee")):
        return word[:-2]
    if size == 5 and word.endswith(("er", "ez", "ee")):  # jouer, jouez, durée: like "joue"
        return word[:-2]
    if size >= 4 and word[-1] == "e":
        return word[:-1]
    return word


@dataclass(frozen=True, slots=True)
class Lexicon:
    """Stop words, spelling fixes, synonyms and media words, ready for the analyzer."""

    stop: frozenset[str]
    soft: frozenset[str]
    spelling: dict[str, tuple[str, ...]]
    equivalent: dict[str, str]  # stem -> canonical term
    phrases: dict[tuple[str, ...], str]  # stems of a multi-word form -> canonical term
    phrase_starts: frozenset[str]
    max_phrase: int
    related: dict[str, tuple[tuple[str, float], ...]] = field(default_factory=dict)
    media_terms: dict[str, str] = field(default_factory=dict)  # term -> media type
    translations: dict[str, tuple[str, ...]] = field(default_factory=dict)  # English term

    def words(self, text: str) -> list[str]:
        """Folded words of a text, with the spelling fixes applied."""
        raw = WORD_RE.findall(fold(text))
        if self.spelling.keys().isdisjoint(raw):
            return raw
        words: list[str] = []
        for word in raw:
            fixed = self.spelling.get(word)
            if fixed is None:
                words.append(word)
            else:
                words.extend(fixed)
        return words

    def canonical(self, text: str) -> list[str]:
        """Terms of a short text (a data-file entry), stop words kept out."""
        stems = [stem(w) for w in self.words(text)]
        key = tuple(stems)
        if key in self.phrases:
            return [self.phrases[key]]
        return [
            self.equivalent.get(s, s)
            for w, s in zip(self.words(text), stems, strict=True)
            if w not in self.stop and (len(w) > 1 or w.isdigit())
        ]


def _data_lines(name: str) -> list[str]:
    text = resources.files(__package__).joinpath(name).read_text(encoding="utf-8")
    lines = []
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            lines.append(line)
    return lines


def _read_stop_words() -> tuple[frozenset[str], frozenset[str]]:
    sections: dict[str, set[str]] = {"stop": set(), "soft": set()}
    current = "stop"
    for line in _data_lines("stopwords.txt"):
        if line.startswith("[") and line.endswith("]"):
            current = line[1:-1]
            continue
        for word in line.split():
            sections[current].update(WORD_RE.findall(fold(word)))
    return frozenset(sections["stop"]), frozenset(sections["soft"] - sections["stop"])


def _read_spelling() -> dict[str, tuple[str, ...]]:
    spelling: dict[str, tuple[str, ...]] = {}
    for line in _data_lines("spelling.txt"):
        written, _, replacement = line.partition(":")
        spelling[fold(written.strip())] = tuple(WORD_RE.findall(fold(replacement)))
    return spelling


@cache
def default_lexicon() -> Lexicon:
    """The lexicon built from the package's data files (read once)."""
    stop, soft = _read_stop_words()
    base = Lexicon(
        stop=stop,
        soft=soft,
        spelling=_read_spelling(),
        equivalent={},
        phrases={},
        phrase_starts=frozenset(),
        max_phrase=1,
    )
    equivalent: dict[str, str] = {}
    phrases: dict[tuple[str, ...], str] = {}
    related_lines: list[list[str]] = []
    for line in _data_lines("synonyms.txt"):
        if "=" in line:
            forms = [f.strip() for f in line.split("=") if f.strip()]
            stems_of = [tuple(stem(w) for w in base.words(f)) for f in forms]
            head = stems_of[0]
            canonical = head[0] if len(head) == 1 else "_".join(base.words(forms[0]))
            for stems in stems_of:
                if len(stems) == 1:
                    if stems[0] != canonical:
                        equivalent[stems[0]] = canonical
                elif stems:
                    phrases[stems] = canonical
        elif "~" in line:
            related_lines.append([f.strip() for f in line.split("~") if f.strip()])
    lexicon = Lexicon(
        stop=stop,
        soft=soft,
        spelling=base.spelling,
        equivalent=equivalent,
        phrases=phrases,
        phrase_starts=frozenset(p[0] for p in phrases),
        max_phrase=max((len(p) for p in phrases), default=1),
    )
    related: dict[str, dict[str, float]] = {}
    for forms in related_lines:
        terms = [t[0] for t in (lexicon.canonical(f) for f in forms) if len(t) == 1]
        for term in terms:
            for other in terms:
                if other != term:
                    related.setdefault(term, {})[other] = RELATED_QUALITY
    media_terms: dict[str, str] = {}
    for line in _data_lines("media_words.txt"):
        media, _, words = line.partition(":")
        for phrase in words.split(","):
            terms = lexicon.canonical(phrase)
            if len(terms) == 1:
                media_terms.setdefault(terms[0], media.strip())
    translations: dict[str, list[str]] = {}
    for line in _data_lines("english.txt"):
        written, _, meaning = line.partition(":")
        english, french = lexicon.canonical(written), lexicon.canonical(meaning)
        if len(english) == 1 and len(french) == 1 and english != french:
            known = translations.setdefault(english[0], [])
            if french[0] not in known:
                known.append(french[0])
    return Lexicon(
        stop=lexicon.stop,
        soft=lexicon.soft,
        spelling=lexicon.spelling,
        equivalent=lexicon.equivalent,
        phrases=lexicon.phrases,
        phrase_starts=lexicon.phrase_starts,
        max_phrase=lexicon.max_phrase,
        related={t: tuple(sorted(o.items())) for t, o in related.items()},
        media_terms=media_terms,
        translations={t: tuple(f) for t, f in translations.items()},
    )
