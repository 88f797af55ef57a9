"""Long messages reduced to their question.

A patron often writes a small letter: a greeting, a story, the question, thanks and a
signature ("Bonjour madame, ma petite fille m'a offert une liseuse Kobo pour Noël. Je ne
sais pas comment mettre des livres dessus. Pouvez-vous m'aider ? Merci"). Scored whole,
the question drowns in the story. Here the sentences that are only politeness go, the
greetings and thanks that open or close a sentence go, and the search is given what is
left: the remaining text, and each of its sentences on its own when there are several.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.answering.chat import ChatKind, chat_words, classify
from bot.search.lexicon import WORD_RE, fold

_SENTENCE_END_RE = re.compile(r"(?<=[.!?…;])\s+|\n+")
_STRIPPABLE = frozenset({ChatKind.GREETING, ChatKind.THANKS, ChatKind.FAREWELL})
LONG_MESSAGE_WORDS = 14
MAX_SENTENCES = 6


@dataclass(frozen=True, slots=True)
class Reduced:
    text: str  # the message without its politeness
    sentences: tuple[str, ...]  # its sentences, when it has more than one; else empty


def _edge_chat_spans(sentence: str) -> tuple[int, int]:
    """Character offsets of the sentence without its opening and closing chat phrases."""
    matches = list(WORD_RE.finditer(sentence))
    words = [fold(m.group()) for m in matches]
    known = chat_words()

    def phrase_at(position: int, backwards: bool) -> int:
        room = position if backwards else len(words) - position
        for size in range(min(known.longest, room), 0, -1):
            if backwards:
                key = tuple(words[position - size : position])
            else:
                key = tuple(words[position : position + size])
            if known.phrases.get(key) in _STRIPPABLE:
                return size
        return 0

    start = 0
    stripped_any = False
    while start < len(words):
        size = phrase_at(start, backwards=False)
        if size:
            start += size
            stripped_any = True
        elif stripped_any and words[start] in known.filler and start + 1 < len(words):
            start += 1
        else:
            break
    end = len(words)
    while end > start:
        size = phrase_at(end, backwards=True)
        if not size:
            break
        end -= size
    if start >= end:
        return 0, 0
    return matches[start].start() if start else 0, matches[end - 1].end()


def reduce_message(text: str) -> Reduced:
    """The question of a message: politeness and greetings out, sentences apart."""
    text = " ".join(text.split("\n")) if "\n" not in text.strip() else text
    sentences = []
    for sentence in _SENTENCE_END_RE.split(text.strip()):
        sentence = sentence.strip(" ,;:-")
        if not sentence or not WORD_RE.search(sentence):
            continue
        if classify(sentence) is not None:
            continue  # "Merci d'avance.", "Pouvez-vous m'aider ?", "Cordialement"
        start, end = _edge_chat_spans(sentence)
        kept = sentence[start:end].strip(" ,;:-") if end else ""
        if kept:
            # the question mark of a stripped "..., merci ?" still tells a question
            if sentence.rstrip().endswith("?") and not kept.endswith("?"):
                kept += " ?"
            sentences.append(kept)
    if not sentences:
        return Reduced(text.strip(), ())
    if len(sentences) == 1:
        return Reduced(sentences[0], ())
    reduced = " ".join(s if s[-1] in ".!?…" else s + "." for s in sentences)
    if len(WORD_RE.findall(reduced)) < LONG_MESSAGE_WORDS:
        return Reduced(reduced, ())
    return Reduced(reduced, tuple(sentences[:MAX_SENTENCES]))
