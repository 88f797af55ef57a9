"""What a question asks for beyond its answer card: the workshop list, a person.

"Y a-t-il des ateliers ?" is answered by its FAQ entry, whose text says "ask me for the next
workshops"; "je voudrais parler à quelqu'un" by the entry saying a librarian answers here.
The card then carries the button that does it: the list of the coming workshops, or passing
the question to a librarian.
"""

from __future__ import annotations

from bot.search.lexicon import WORD_RE, fold

_WORKSHOP_WORDS = frozenset("atelier ateliers workshop workshops".split())
_TALK_WORDS = frozenset(
    "parler discuter contacter joindre ecrire appeler talk speak chat contact reach".split()
)
_PERSON_WORDS = frozenset(
    "quelqu quelquun personne humain humaine bibliothecaire bibliothecaires conseiller "
    "conseillere someone somebody person human librarian librarians staff".split()
)


def _words(text: str) -> set[str]:
    return set(WORD_RE.findall(fold(text)))


def asks_for_workshops(text: str) -> bool:
    """Whether the question is about the workshops ("prochains ateliers", "workshops?")."""
    return bool(_words(text) & _WORKSHOP_WORDS)


def asks_for_a_person(text: str) -> bool:
    """Whether the patron asks to talk to a person ("je voudrais parler à quelqu'un")."""
    words = _words(text)
    return bool(words & _TALK_WORDS) and bool(words & _PERSON_WORDS)
