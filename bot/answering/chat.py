"""Conversation before search: greetings, thanks, "ok", emoji, farewells and "aide".

Such a message is not a question: Plume answers it in one friendly line (help: the /help
text) and neither searches, nor offers a librarian, nor logs an unanswered question. The
words are data (``chat.txt``).
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache
from importlib import resources

from bot.search.lexicon import WORD_RE, fold

MAX_CHAT_WORDS = 12


class ChatKind(StrEnum):
    GREETING = "greeting"
    THANKS = "thanks"
    ACK = "ack"
    FAREWELL = "farewell"
    HELP = "help"
    EMOJI = "emoji"


# When a message mixes kinds ("merci, au revoir"), the one that wants a reply most wins.
_PRIORITY = (ChatKind.HELP, ChatKind.FAREWELL, ChatKind.THANKS, ChatKind.GREETING, ChatKind.ACK)
_THANKS_EMOJI = frozenset("❤♥💕💖💗💙💚💛🧡💜🙏😍🥰😘")
_ACK_EMOJI = frozenset("👍👌🆗✅✔👏🤙💪")


@dataclass(frozen=True, slots=True)
class ChatWords:
    phrases: dict[tuple[str, ...], ChatKind]
    filler: frozenset[str]
    longest: int


def _words(text: str) -> list[str]:
    return WORD_RE.findall(fold(text))


@cache
def chat_words() -> ChatWords:
    text = resources.files(__package__).joinpath("chat.txt").read_text(encoding="utf-8")
    phrases: dict[tuple[str, ...], ChatKind] = {}
    filler: set[str] = set()
    section = ""
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        for entry in line.split(","):
            words = tuple(_words(entry))
            if not words:
                continue
            if section == "filler":
                filler.update(words)
            else:
                phrases.setdefault(words, ChatKind(section))
    return ChatWords(phrases, frozenset(filler), max(map(len, phrases), default=1))


def _is_symbol(char: str) -> bool:
    return unicodedata.category(char)[0] == "S" or char in "\u200d\ufe0f"


def classify(text: str) -> ChatKind | None:
    """The kind of a conversational message, or None when it says something to search."""
    stripped = text.strip()
    if not stripped:
        return None
    words = _words(stripped)
    if not words:
        symbols = [c for c in stripped if _is_symbol(c)]
        if not symbols:
            # "?", "...": nothing to search nor to pass to a librarian; asked for the question
            return ChatKind.EMOJI
        if any(c in _THANKS_EMOJI for c in symbols):
            return ChatKind.THANKS
        if any(c in _ACK_EMOJI for c in symbols):
            return ChatKind.ACK
        return ChatKind.EMOJI
    if len(words) > MAX_CHAT_WORDS:
        return None
    known = chat_words()
    found: set[ChatKind] = set()
    position = 0
    while position < len(words):
        for size in range(min(known.longest, len(words) - position), 0, -1):
            kind = known.phrases.get(tuple(words[position : position + size]))
            if kind is not None:
                found.add(kind)
                position += size
                break
        else:
            if words[position] not in known.filler:
                return None
            position += 1
    return next((kind for kind in _PRIORITY if kind in found), None)
