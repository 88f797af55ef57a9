"""Library information as an answer: opening hours, address, phone and e-mail.

"horaires", "c'est ouvert samedi ?", "adresse de la médiathèque de Lumbres", "téléphone de
la bibliothèque": a question about a library itself, not about the digital offer. It is
answered with the card of the library it names (typos allowed), or else of the patron's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from rapidfuzz import process
from rapidfuzz.distance import OSA

from bot.answering.judge import everyday_word
from bot.search.analysis import detect_media_type
from bot.search.lexicon import WORD_RE, fold, stem
from bot.search.vocabulary import max_typos

# Folded stems that ask about a library's practical information.
INFO_WORDS = frozenset(
    stem(w)
    for w in (
        "horaire horaires heure heures ouvert ouverte ouverts ouvre ouvrent ouverture "
        "fermé ferme fermee fermeture ferment adresse adresses telephone tel tél numero "
        "joindre appeler email mail courriel contact coordonnees situee situe trouve "
        "trouver hours opening open opens closed close address phone number located where"
    ).split()
)
# Of those, the words that ask for the hours, address or phone of a place: beside another
# place ("horaires de la piscine", "adresse de la mairie") they say the question is about
# that place, which Plume knows nothing of (unless that place is one of the digital offer:
# "les horaires du cinéma"). Not "téléphone", mostly the patron's device; and an "adresse
# mail" is no place.
MAIL_WORDS = frozenset(stem(w) for w in "mail email mails emails courriel electronique".split())
PLACE_INFO_WORDS = frozenset(
    stem(w) for w in ("horaire horaires ouverture fermeture adresse hours opening address").split()
)
# Words that ask for practical information only beside a library ("Setques, c'est où la
# bibliothèque ?", "bibliothèque de Seninghem, quels jours ?"), not alone ("on est quel
# jour", "livre ou film": "ou" is also "or").
WHERE_WORDS = frozenset(stem(w) for w in "ou where quand when jours time".split())
# Words that say the question is about a library (not the digital offer).
LIBRARY_WORDS = frozenset(
    stem(w)
    for w in "bibliotheque bibliotheques biblio bibli bib mediatheque mediatheques library".split()
)
# Words that may come with such a question without changing what it asks.
PLACE_WORDS = (
    frozenset(
        stem(w)
        for w in (
            "bibliotheque bibliotheques biblio bib mediatheque mediatheques mediath point "
            "lecture library libraries branch ma mon votre vos la le les de du des d l a au aux "
            "en est c ce cet cette quel quels quelle quelles quand ou se sont il elle vous on "
            "the of is are what when your my which s aujourd hui demain ce soir matin "
            "apres midi aprem semaine week end weekend lundi mardi mercredi jeudi vendredi samedi "
            "dimanche today tomorrow monday tuesday wednesday thursday friday saturday sunday "
            "et ou pour connaitre savoir voudrais veux aimerais donner donne me moi svp stp "
            "merci bonjour please jours jour ferie feries vacances noel ete "
            "num tel telephone mail e bibli quoi koi je j suis t tu bien y sur "
            "sera encore toujours plus proche proches pres nearest closest near "
            "que qu etes time times "
            "i to at on in for does do hi hello can tell there it its weekday weekdays "
            "weekends evening evenings morning mornings afternoon afternoons reading still"
        ).split()
    )
    | INFO_WORDS
)


@dataclass(frozen=True, slots=True)
class LibraryRef:
    """What the answering needs of a library: its id and the words that name it."""

    id: str
    name: str
    commune: str


@dataclass(frozen=True, slots=True)
class PlaceQuestion:
    library_id: str | None  # the library the question names, if any
    about_library: bool  # asks for hours, address, phone... of a library
    elsewhere: bool = False  # asks for the hours, address or phone of another place


def _stems(text: str) -> list[str]:
    return [stem(w) for w in WORD_RE.findall(fold(text))]


class LibraryNames:
    """Finds the library a question names, by its commune or its name, typos allowed."""

    def __init__(self, libraries: Iterable[LibraryRef]) -> None:
        self._by_word: dict[str, set[str]] = {}
        self._words_of: dict[str, list[str]] = {}
        for library in libraries:
            words = [
                w
                for w in WORD_RE.findall(fold(f"{library.commune} {library.name}"))
                if len(w) >= 4 and stem(w) not in PLACE_WORDS
            ]
            self._words_of[library.id] = words
            for word in words:
                self._by_word.setdefault(word, set()).add(library.id)
        self._known = sorted(self._by_word)

    def __bool__(self) -> bool:
        return bool(self._known)

    def find(self, words: Sequence[str]) -> tuple[str | None, set[int]]:
        """The library named by these folded words, and the positions of the words naming it."""
        votes: dict[str, float] = {}
        used: set[int] = set()
        for position, word in enumerate(words):
            if len(word) < 4:
                continue
            allowed = max_typos(len(word))
            for known in self._known:
                if known == word:
                    quality = 1.0
                elif (
                    allowed
                    and abs(len(known) - len(word)) <= allowed
                    and (OSA.distance(word, known, score_cutoff=allowed) <= allowed)
                    and not everyday_word(word)  # "la plus proche" is not "Roche-Plumet"
                ):
                    quality = 0.8
                else:
                    continue
                used.add(position)
                for library_id in self._by_word[known]:
                    # a word shared by several libraries ("saint") says less
                    share = quality / len(self._by_word[known])
                    votes[library_id] = votes.get(library_id, 0.0) + share
        if not votes:
            return None, set()
        best = max(votes.items(), key=lambda kv: (kv[1], kv[0]))
        return best[0], used


#: stems shorter than this are too short to be told from another by a typo ("atel", "tel")
TYPO_STEM_LENGTH = 6


def _typo_targets(known: frozenset[str]) -> list[str]:
    return sorted(w for w in known if len(w) >= TYPO_STEM_LENGTH)


_PLACE_TYPO_TARGETS = _typo_targets(PLACE_WORDS)


def _known_stem(word: str) -> str:
    """The word's stem, or the place word it is a typo of ("horraires", "médiatèque")."""
    stemmed = stem(word)
    allowed = max_typos(len(stemmed))
    if stemmed in PLACE_WORDS or not allowed or len(stemmed) < TYPO_STEM_LENGTH:
        return stemmed
    found = process.extractOne(
        stemmed, _PLACE_TYPO_TARGETS, scorer=OSA.distance, score_cutoff=allowed
    )
    return found[0] if found is not None else stemmed


#: words besides a library's name and its practical words that a question about it may have
#: when it says "bibliothèque" ("Hi, I just moved to Elnes. When is the library open?"), if
#: short: a longer word says what else the question is about ("horaires de la piscine de la
#: bibliothèque de Lumbres"); without "bibliothèque", none ("les horaires du bus pour Lumbres")
MAX_OTHER_WORDS = 3
MAX_OTHER_LENGTH = 5


def place_question(text: str, names: LibraryNames) -> PlaceQuestion:
    """Whether ``text`` asks about a library, and which one it names."""
    words = WORD_RE.findall(fold(text))
    stems = [_known_stem(w) for w in words]
    library_id, naming = names.find(words) if names else (None, set())
    asks_info = any(s in INFO_WORDS for s in stems)
    names_library = any(s in LIBRARY_WORDS for s in stems)
    if library_id is not None or names_library:
        asks_info = asks_info or any(s in WHERE_WORDS for s in stems)
    others = [
        w
        for position, (w, s) in enumerate(zip(words, stems, strict=True))
        if position not in naming and s not in PLACE_WORDS and not w.isdigit() and len(w) > 2
    ]
    # "horaires de la piscine" asks about something else: only the words of a library's
    # practical information may stand beside the library's name.
    about = asks_info and not others
    if not about and library_id is not None:
        if asks_info and (
            not others
            or (
                names_library
                and len(others) <= MAX_OTHER_WORDS
                and all(len(w) <= MAX_OTHER_LENGTH for w in others)
            )
        ):
            about = True  # "c koi les horaires d elnes", "phone number for the Hallines library"
        elif not others and len(words) <= 4:
            about = True  # "bibliothèque de Lumbres", "Esquerdes ?"
    elsewhere = (
        not about
        and library_id is None
        and not names_library
        and any(s in PLACE_INFO_WORDS for s in stems)
        and not any(s in MAIL_WORDS for s in stems)
        and any(detect_media_type(w) is None for w in others)
    )
    return PlaceQuestion(library_id, about, elsewhere)


_CLAUSE_RE = re.compile(r"[,;:]\s*|\s+(?:et|mais|and|but)\s+")


def place_of_message(text: str, sentences: Sequence[str], names: LibraryNames) -> PlaceQuestion:
    """``place_question`` for a whole message, which may ask about a library in one of its
    sentences or clauses only: "Je viens d'emménager à Acquin. Elle est ouverte le
    samedi ?", "Je dois rendre des livres à Lumbres vendredi, ce sera encore ouvert ?".

    A part counts when it asks for practical information in so many words ("ouvert",
    "horaires", "adresse"...) and holds nothing else; the library is the one it names, or
    else the one the rest of the message names."""
    whole = place_question(text, names)
    if whole.about_library:
        return whole
    named = whole.library_id  # the library the message names, wherever it does
    if named is None and not any(stem(w) in LIBRARY_WORDS for w in WORD_RE.findall(fold(text))):
        return whole  # a clause alone ("c'est ouvert ?") says no more than the message
    parts = [c for part in (sentences or (text,)) for c in _CLAUSE_RE.split(part) if c]
    if len(parts) < 2:
        return whole
    for part in parts:
        asked = place_question(part, names)
        stems = {_known_stem(w) for w in WORD_RE.findall(fold(part))}
        if asked.about_library and stems & INFO_WORDS:
            return PlaceQuestion(asked.library_id or named, True)
    return whole
