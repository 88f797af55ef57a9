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

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import Literal

import numpy as np
from sqlalchemy import select

from bot.answering.chat import ChatKind, classify
from bot.answering.judge import (
    DEFAULT,
    Params,
    Pick,
    Similar,
    Verdict,
    judge,
    message_results,
    question_shaped,
    verdict_of,
    warm_word_frequencies,
)
from bot.answering.places import LibraryNames, LibraryRef, place_of_message
from bot.answering.reduce import reduce_message
from bot.answering.semantic import Encoder, SemanticIndex
from bot.search import Hit, SearchService
from bot.search.lexicon import WORD_RE
from storage.db import SessionFactory
from storage.models import Library

log = logging.getLogger(__name__)

MAX_QUESTION_CHARS = 1000
SEE_ALSO = 3
CANDIDATES = 8
SIMILAR = 8  # semantic candidates considered (FAQ entries and resources)

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


@dataclass(frozen=True, slots=True)
class Found:
    """One reading of a message (whole, a sentence, its known words) and its candidates."""

    candidate: str
    hits: list[Hit]
    similar: list[Similar]


class Responder:
    def __init__(
        self, sessions: SessionFactory, search: SearchService, encoder: Encoder | None = None
    ) -> None:
        self._sessions = sessions
        self._search = search
        self._encoder = encoder
        self._names: LibraryNames | None = None
        self._names_version: object = object()
        self._semantic: SemanticIndex | None = None
        self._semantic_version: object = object()
        self._loading: asyncio.Task[None] | None = None
        #: the decision's thresholds (``bench/tune_judge.py`` tries others)
        self.params: Params = DEFAULT

    @property
    def semantic(self) -> bool:
        """Whether the semantic signal is on (the model is installed)."""
        return self._encoder is not None

    async def _semantic_index(self, wait: bool = False) -> SemanticIndex | None:
        """The semantic index of the current catalogue, loaded in the background.

        A question never waits for it (unless ``wait``): until it is loaded, or while a new
        catalogue's is, the question is answered with the previous one, or on words alone.
        """
        if self._encoder is None:
            return None
        version = self._search.catalogue_version
        if self._semantic is not None and version == self._semantic_version:
            return self._semantic
        if self._loading is None or self._loading.done():
            self._loading = asyncio.create_task(self._load_semantic(self._encoder, version))
        if wait:
            await asyncio.shield(self._loading)
        return self._semantic

    async def close(self) -> None:
        """Stops a semantic index still loading: its connection must be back before the
        engine is disposed (one checked out then is never closed)."""
        loading, self._loading = self._loading, None
        if loading is not None and not loading.done():
            loading.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await loading

    async def _load_semantic(self, encoder: Encoder, version: object) -> None:
        try:
            self._semantic = await SemanticIndex.load(self._sessions, encoder)
            self._semantic_version = version
        except Exception:  # the words still answer; the next question tries again
            log.exception("semantic index not loaded")

    async def warm_up(self) -> None:
        """Load the semantic index (and the model's weights) before the first question, and
        the word frequencies that tell a distinctive title (``judge.distinct_title``):
        importing ``wordfreq`` and reading its lists cost the first question about a title
        some 0.3 s of CPU otherwise."""
        await asyncio.to_thread(warm_word_frequencies)
        if await self._semantic_index(wait=True) is not None:
            await self._similar(["bonjour"])

    async def _similar(self, questions: list[str]) -> list[list[Similar]]:
        semantic = await self._semantic_index()
        if semantic is None or not len(semantic):
            return [[] for _ in questions]
        asked = [q for q in questions if WORD_RE.search(q)]  # nothing to mean in "", "?"
        cosines = iter(await semantic.batched_similarities(asked) if asked else [])
        found: list[list[Similar]] = []
        for question in questions:
            if not WORD_RE.search(question):
                found.append([])
                continue
            row = next(cosines)
            best = np.argsort(-row)[:SIMILAR]
            found.append(
                [
                    Similar(d.type, d.id, d.title, d.media_type, float(row[i]))
                    for i in best
                    for d in (semantic.docs[i],)
                ]
            )
        return found

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
        place = place_of_message(reduced.text, reduced.sentences, names)
        if place.about_library:
            library = await self.library(place.library_id or library_id)
            if library is not None:
                pick = Pick("library", library.id, library.name, 1.0)
                return Decision(
                    query, "answer", reduced.text, answer=pick, results=[pick], about_library=True
                )
        # "Au revoir là-haut" is a title before it is a farewell: a short message that lost
        # its politeness is also read as typed, and the surer reading wins
        typed = text if reduced.text != text and not reduced.sentences else None
        verdict = await self._best_verdict(reduced.text, reduced.sentences, typed)
        if place.elsewhere and verdict.kind == "answer":
            # "horaires de la piscine": neither the FAQ on the libraries' hours nor the
            # album "La piscine" answers it; they stay as leads
            leads = [p for p in verdict.results[:SEE_ALSO] if p.score >= self.params.suggest]
            verdict = Verdict(
                "suggest", verdict.searched, verdict.confidence, None, leads, verdict.results
            )
        return Decision(
            query,
            verdict.kind,
            verdict.searched,
            answer=verdict.answer,
            others=verdict.others,
            results=verdict.results,
            about_library=place.about_library,
        )

    async def _found(
        self, text: str, sentences: tuple[str, ...], typed: str | None = None
    ) -> list[Found]:
        """What the search and the semantic signal find for each reading of the message
        (``typed``: the message as typed, when its politeness was stripped)."""
        candidates = [text, *sentences]
        if typed is not None and typed not in candidates:
            candidates.append(typed)
        index = self._search.index
        if sentences and index is not None:  # a long message: its known words alone too
            known = " ".join(index.known_words(text))
            if known and known not in candidates:
                candidates.append(known)
        similar = await self._similar(candidates)
        return [
            Found(candidate, await self._search.search(candidate, limit=CANDIDATES), near)
            for candidate, near in zip(candidates, similar, strict=True)
        ]

    async def _best_verdict(
        self, text: str, sentences: tuple[str, ...], typed: str | None = None
    ) -> Verdict:
        best: Verdict | None = None
        best_key = (0.0, 0)
        # the readings of a long message (its sentences, its known words) are parts of a
        # question: each is judged as one, whatever its own shape
        shaped = bool(sentences) or question_shaped(text)
        readings = [
            judge(
                found.candidate,
                found.hits,
                found.similar,
                see_also=SEE_ALSO,
                params=self.params,
                shaped=shaped,
            )
            for found in await self._found(text, sentences, typed)
        ]
        if sentences:  # a long message: what its readings point at together
            results = message_results(readings)
            return verdict_of(text, results, see_also=SEE_ALSO, params=self.params)
        for verdict in readings:
            # of two readings as sure, the one that explains more of the message ("Au
            # revoir là-haut" finds "Là-haut" as surely as "Au revoir là-haut")
            key = (verdict.confidence, len(WORD_RE.findall(verdict.searched)))
            if best is None or key > best_key:
                best, best_key = verdict, key
        assert best is not None
        return best
