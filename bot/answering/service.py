"""Answering a patron: the search, the cards it leads to, browsing, and the question log."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Executable, bindparam, func, select

from bot.answering.chat import ChatKind
from bot.answering.judge import Pick
from bot.answering.responder import MAX_QUESTION_CHARS, Responder
from bot.answering.semantic import Encoder
from bot.privacy.masking import mask
from bot.search import SearchService, normalize
from bot.usage import Event, UsageRecorder, question_event
from bot.users import Person
from storage.db import SessionFactory, engine_of, outside_transaction
from storage.models import MEDIA_TYPES, FaqEntry, Item, Library, Resource

NEWEST_PAGE = 8
#: FAQ entries and resources kept as cards, per catalogue version (a département has some
#: tens of each, all asked about every day; catalogue items are read each time)
KEPT_CARDS = 4096

# The reads of a card (a document and its resource), built once: SQLAlchemy then finds their
# compiled form without working out the statement's cache key again for each answer.
_FAQ_CARD = (
    select(
        FaqEntry.id,
        FaqEntry.question,
        FaqEntry.answer,
        Resource.media_type,
        Resource.url,
        Resource.name,
    )
    .outerjoin(Resource, Resource.id == FaqEntry.resource_id)
    .where(FaqEntry.id == bindparam("doc_id"))
)
_RESOURCE_CARD = select(
    Resource.id,
    Resource.name,
    Resource.description,
    Resource.media_type,
    Resource.url,
    Resource.access,
).where(Resource.id == bindparam("doc_id"))
_ITEM_CARD = (
    select(
        Item.id,
        Item.title,
        Item.media_type,
        Item.creator,
        Item.year,
        Item.genres,
        Resource.url,
        Resource.access,
        Resource.name,
    )
    .outerjoin(Resource, Resource.id == Item.resource_id)
    .where(Item.id == bindparam("doc_id"))
)


@dataclass(frozen=True, slots=True)
class Card:
    """Something Plume can show: an FAQ answer, a resource, or a catalogue item."""

    type: str  # faq / resource / item
    id: str
    title: str
    body: str = ""
    media_type: str | None = None
    url: str = ""
    # items: who made it, when, and which resource offers it
    creator: str = ""
    year: int | None = None
    genres: tuple[str, ...] = ()
    access: str = ""
    resource_name: str = ""


@dataclass(frozen=True, slots=True)
class QuestionLog:
    """What the statistics record of a question (``UsageRecorder.question``)."""

    query: str
    raw_text: str
    answered: bool
    score: float | None
    subject_id: str | None
    media_type: str | None


@dataclass(frozen=True, slots=True)
class Answer:
    """What Plume replies to a text message."""

    question: str
    best: Card | None
    score: float
    see_also: list[Pick] = field(default_factory=list)  # after the answer, or as leads
    chat: ChatKind | None = None  # a conversational reply, nothing searched
    library: Library | None = None  # a library's card is the answer
    about_library: bool = False  # asked about a library: offer the list of libraries
    log: QuestionLog | None = None  # None: not a question (a conversational reply)

    @property
    def answered(self) -> bool:
        return self.best is not None or self.library is not None


@dataclass(frozen=True, slots=True)
class MediaShelf:
    media_type: str
    resources: list[Resource]


@dataclass(frozen=True, slots=True)
class NewestPage:
    resource: Resource
    items: list[Item]
    page: int
    pages: int


class AnswerService:
    def __init__(
        self,
        sessions: SessionFactory,
        search: SearchService,
        usage: UsageRecorder,
        encoder: Encoder | None = None,
    ) -> None:
        self._sessions = sessions
        self._engine = engine_of(sessions)
        self._search = search
        self._usage = usage
        self.responder = Responder(sessions, search, encoder)
        # the cards of FAQ entries and resources, as of ``_cards_version`` of the catalogue
        self._cards: dict[tuple[str, str], Card] = {}
        self._cards_version: str | None = None
        self._unlogged = 0  # answers given with log=False whose log is not written yet
        self._settled = asyncio.Event()
        self._settled.set()

    async def answer(self, person: Person, text: str, *, log: bool = True) -> Answer:
        """Plume's reply to a patron's message (``bot.answering``), the question logged.

        A conversational message ("merci", "bonjour") is not a question: it is not logged.
        With ``log=False`` the caller logs it with ``log_question`` once the patron has the
        reply: the log's writes (event and actor) then add nothing to the wait, and are made
        for many questions at once.
        """
        question = " ".join(text.split())[:MAX_QUESTION_CHARS]
        decision = await self.responder.decide(question, person.library_id)
        if decision.kind == "chat":
            return Answer(question, None, 0.0, chat=decision.chat)
        answer = decision.answer
        library = card = None
        if answer is not None and answer.type == "library":
            library = await self.responder.library(answer.id)
        elif answer is not None:
            card = await self.card(answer.type, answer.id)
        best = decision.results[0] if decision.results else None
        record = QuestionLog(
            # personal details typed in (phone, e-mail, address, card) never reach the log
            query=" ".join(normalize(mask(decision.searched or question)))[:MAX_QUESTION_CHARS],
            raw_text=mask(question),
            answered=card is not None or library is not None,
            score=best.score if best else None,
            subject_id=best.id if best else None,
            media_type=best.media_type if best else None,
        )
        if log:
            await self._write_log(person, record)
        else:
            self._unlogged += 1
            self._settled.clear()
        return Answer(
            question,
            card,
            decision.best_score,
            decision.others,
            library=library,
            about_library=decision.about_library,
            log=record,
        )

    async def log_question(self, person: Person, answer: Answer) -> None:
        """Records a question answered with ``log=False`` (never raises): with the next batch
        of the usage recorder's write-behind, not in a transaction of its own."""
        if answer.log is None:
            return
        try:
            self._usage.later(_question_event(person, answer.log))
        finally:
            self._unlogged -= 1
            if self._unlogged <= 0:
                self._unlogged = 0
                self._settled.set()

    async def settled(self) -> None:
        """Returns once every question answered so far is logged (written) in the database."""
        await self.queued()
        await self._usage.settled()

    async def queued(self) -> None:
        """Returns once every question answered so far has its log in the usage recorder's
        batch (on stop: then the recorder writes what it holds at once)."""
        await self._settled.wait()

    async def _write_log(self, person: Person, record: QuestionLog) -> None:
        await self._usage.write(_question_event(person, record))

    async def view(self, person: Person, kind: str, doc_id: str) -> Card | None:
        """A card the patron asked to see (a "see also" button, browsing), logged."""
        card = await self.card(kind, doc_id)
        if card is not None:
            await self._usage.card_view(
                user_id=person.id,
                subject_id=card.id,
                media_type=card.media_type,
                library_id=person.library_id,
            )
        return card

    async def card(self, kind: str, doc_id: str) -> Card | None:
        """The card of a document. Every answer shows one, so it is one read (the document's
        columns and its resource's, joined), outside a transaction.

        FAQ entries and resources change only with the catalogue (an import, an entry taught
        by staff: ``catalogue_version``), and the same few are asked about all day: their
        cards are kept until the catalogue the search follows moves on.
        """
        if kind not in ("faq", "resource"):
            return await self._read_card(kind, doc_id)
        version = self._search.catalogue_version
        if version != self._cards_version:
            self._cards.clear()
            self._cards_version = version
        key = (kind, doc_id)
        card = self._cards.get(key)
        if card is None:
            card = await self._read_card(kind, doc_id)
            if card is not None and version is not None and len(self._cards) < KEPT_CARDS:
                self._cards[key] = card
        return card

    async def _read_card(self, kind: str, doc_id: str) -> Card | None:
        if kind == "faq":
            faq = await self._first(_FAQ_CARD, doc_id)
            if faq is None:
                return None
            faq_id, question, text, media_type, url, resource_name = faq
            return Card(
                "faq",
                faq_id,
                question,
                text,
                media_type=media_type,
                url=url or "",
                resource_name=resource_name or "",
            )
        if kind == "resource":
            resource = await self._first(_RESOURCE_CARD, doc_id)
            if resource is None:
                return None
            resource_id, name, description, media_type, url, access = resource
            return Card(
                "resource",
                resource_id,
                name,
                description,
                media_type=media_type,
                url=url,
                access=access,
                resource_name=name,
            )
        if kind == "item":
            item = await self._first(_ITEM_CARD, doc_id)
            if item is None:
                return None
            item_id, title, media_type, creator, year, genres, url, access, resource_name = item
            return Card(
                "item",
                item_id,
                title,
                media_type=media_type,
                url=url or "",
                creator=creator,
                year=year,
                genres=tuple(g for g in genres.split(";") if g),
                access=access or "",
                resource_name=resource_name or "",
            )
        return None

    async def _first(self, statement: Executable, doc_id: str) -> tuple[Any, ...] | None:
        async with outside_transaction(self._engine) as connection:
            row = (await connection.execute(statement, {"doc_id": doc_id})).first()
        return None if row is None else tuple(row)

    async def shelves(self) -> list[tuple[str, int]]:
        """Media types that have resources, with how many, in the usual order."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Resource.media_type, func.count()).group_by(Resource.media_type)
            )
            counts: dict[str, int] = dict(rows.all())
        return [(m, counts[m]) for m in MEDIA_TYPES if counts.get(m)]

    async def shelf(self, media_type: str) -> MediaShelf | None:
        if media_type not in MEDIA_TYPES:
            return None
        async with self._sessions() as session:
            resources = await session.scalars(
                select(Resource).where(Resource.media_type == media_type).order_by(Resource.name)
            )
            return MediaShelf(media_type, list(resources))

    async def newest(self, resource_id: str, page: int) -> NewestPage | None:
        """A resource's newest items, a page at a time."""
        async with self._sessions() as session:
            resource = await session.get(Resource, resource_id)
            if resource is None:
                return None
            total = (
                await session.scalar(
                    select(func.count()).select_from(Item).where(Item.resource_id == resource_id)
                )
                or 0
            )
            pages = max(1, -(-total // NEWEST_PAGE))
            page = min(max(page, 0), pages - 1)
            items = await session.scalars(
                select(Item)
                .where(Item.resource_id == resource_id)
                .order_by(Item.added_on.desc().nulls_last(), Item.title)
                .offset(page * NEWEST_PAGE)
                .limit(NEWEST_PAGE)
            )
            return NewestPage(resource, list(items), page, pages)


def _question_event(person: Person, record: QuestionLog) -> Event:
    return question_event(
        user_id=person.id,
        query=record.query,
        raw_text=record.raw_text,
        answered=record.answered,
        score=record.score,
        subject_id=record.subject_id,
        media_type=record.media_type,
        library_id=person.library_id,
    )
