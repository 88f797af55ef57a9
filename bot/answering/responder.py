"""The one decision Plume makes for a patron's text message (the bot and ``ask`` share it).

In order:

1. a conversational message ("bonjour", "merci", "ok", "😀", "au revoir", "aide") gets a
   chat reply: no search, no librarian, nothing logged as unanswered;
2. a question about a library ("horaires", "adresse de la médiathèque de Lumbres") gets
   that library's card, or the patron's own library's;
3. anything else is searched: a long message reduced to its question first (its
   sentences searched apart too), then the best candidate judged by ``bot.answering.judge``:
   an answer, suggestions, or an honest "I don't know".
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from sqlalchemy import select

from bot.answering.chat import ChatKind, classify
from bot.answering.judge import Pick, Verdict, judge
from bot.answering.places import LibraryNames, LibraryRef, place_question
from bot.answering.reduce import reduce_message
from bot.search import SearchService
from storage.db import SessionFactory
from storage.models import Library

MAX_QUESTION_CHARS = 1000
SEE_ALSO = 3
CANDIDATES = 8

Kind = Literal["answer", "suggest", "none", "chat"]


@dataclass(frozen=True, slots=True)
class Decision:
    query: str  # the message as given
    kind: Kind
    searched: str = ""  # what was searched (the message reduced to its question)
    chat: ChatKind | None = None
    answer: Pick | None = None
    others: list[Pick] = field(default_factory=list)  # "see also", or the suggestions
    results: list[Pick] = field(default_factory=list)  # ranked candidates, with scores
    about_library: bool = False  # asked about a library: the card offers the others

    @property
    def shown(self) -> list[Pick]:
        """Every card the patron sees, in display order."""
        return ([self.answer] if self.answer else []) + self.others

    @property
    def best_score(self) -> float:
        return self.results[0].score if self.results else 0.0


class Responder:
    def __init__(self, sessions: SessionFactory, search: SearchService) -> None:
        self._sessions = sessions
        self._search = search
        self._names: LibraryNames | None = None
        self._names_version: object = object()

    async def _library_names(self) -> LibraryNames:
        # the libraries change with an import, as the catalogue does: follow its version
        version = self._search.catalogue_version
        if self._names is None or version != self._names_version:
            async with self._sessions() as session:
                rows = (
                    await session.execute(select(Library.id, Library.name, Library.commune))
                ).all()
            self._names = LibraryNames(LibraryRef(r.id, r.name, r.commune) for r in rows)
            self._names_version = version
        return self._names

    async def library(self, library_id: str | None) -> Library | None:
        if not library_id:
            return None
        async with self._sessions() as session:
            return await session.get(Library, library_id)

    async def decide(self, text: str, library_id: str | None = None) -> Decision:
        """What Plume answers to ``text`` from a patron whose library is ``library_id``."""
        query = text
        text = " ".join(text.split())[:MAX_QUESTION_CHARS]
        chat = classify(text)
        if chat is not None:
            return Decision(query, "chat", searched=text, chat=chat)
        reduced = reduce_message(text)
        names = await self._library_names()
        place = place_question(reduced.text, names)
        if place.about_library:
            library = await self.library(place.library_id or library_id)
            if library is not None:
                pick = Pick("library", library.id, library.name, 1.0)
                return Decision(
                    query, "answer", reduced.text, answer=pick, results=[pick], about_library=True
                )
        verdict = await self._best_verdict(reduced.text, reduced.sentences)
        return Decision(
            query,
            verdict.kind,
            verdict.searched,
            answer=verdict.answer,
            others=verdict.others,
            results=verdict.results,
            about_library=place.about_library,
        )

    async def _best_verdict(self, text: str, sentences: tuple[str, ...]) -> Verdict:
        best: Verdict | None = None
        for candidate in (text, *sentences):
            hits = await self._search.search(candidate, limit=CANDIDATES)
            verdict = judge(candidate, hits, self._search.index, see_also=SEE_ALSO)
            if best is None or verdict.confidence > best.confidence:
                best = verdict
        assert best is not None
        return best
