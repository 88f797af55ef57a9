"""Staff teach Plume a question: a new phrasing of a FAQ entry, or a new entry; faq.csv out.

Every change is one transaction that writes the FAQ row with the next catalogue version
(``revision``) and bumps ``catalogue_version``: running bots index that row at their next
refresh (``PLUME_SEARCH_REFRESH_SECONDS``), the bot the staff member talks to at once.
``export_faq`` writes ``faq.csv`` in the import format, so that the département's file
stays the source of truth: exported, edited, imported again, nothing is lost.
"""

from __future__ import annotations

import asyncio
import csv
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from bot.search import Hit, SearchService
from bot.search.loader import bump_catalogue_version, next_catalogue_revision
from storage.db import SessionFactory
from storage.models import FaqEntry

FAQ_COLUMNS = ("id", "question", "answer", "alternatives", "resource_id")
MAX_GUESSES = 3
MAX_QUESTION = 500
MAX_TITLE = 200  # a title staff give a new entry
MAX_ANSWER = 4000
MAX_ID = 56  # the importer's limit


@dataclass(frozen=True, slots=True)
class Taught:
    """What a teaching step changed."""

    faq_id: str
    question: str  # the entry's main question
    added: bool  # False: the phrasing was already there
    #: a new entry under a title of its own: the patron's wording, kept as its other phrasing
    also: str = ""


def _phrasing(text: str) -> str:
    # "|" separates the alternatives in faq.csv: it cannot be part of one.
    return " ".join(text.replace("|", " ").split())[:MAX_QUESTION]


def _slug(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().lower()
    words = re.findall(r"[a-z0-9]+", folded)
    return "-".join(words)[: MAX_ID - 12].strip("-") or "question"


class TeachingService:
    def __init__(self, sessions: SessionFactory, search: SearchService) -> None:
        self._sessions = sessions
        self._search = search

    async def guesses(self, question: str, limit: int = MAX_GUESSES) -> list[Hit]:
        """The FAQ entries Plume finds closest to the question, best first."""
        hits = await self._search.search(question, limit=40)
        return [hit for hit in hits if hit.type == "faq"][:limit]

    async def add_phrasing(self, faq_id: str, question: str) -> Taught | None:
        """Adds ``question`` to the entry's other phrasings; None if the entry is gone."""
        wording = _phrasing(question)
        async with self._sessions.begin() as session:
            entry = await session.get(FaqEntry, faq_id, with_for_update=True)
            if entry is None:
                return None
            known = [alt for alt in entry.alternatives.split("|") if alt]
            folded = {alt.casefold() for alt in known} | {entry.question.casefold()}
            if not wording or wording.casefold() in folded:
                return Taught(entry.id, entry.question, added=False)
            connection = await session.connection()
            entry.alternatives = "|".join([*known, wording])
            entry.revision = await next_catalogue_revision(connection)
            await session.flush()
            await bump_catalogue_version(connection, at_least=entry.revision)
            return Taught(entry.id, entry.question, added=True)

    async def create_entry(
        self, question: str, answer: str, *, title: str | None = None
    ) -> Taught:
        """A new FAQ entry answering ``question``, under ``title`` if staff gave one (the
        patron's ``question`` is then its other phrasing); its id is made from the title."""
        wording = _phrasing(question)
        question = _phrasing(title or "") or wording
        question = question[:1].upper() + question[1:]  # patrons type "les enfants..."
        alternatives = wording if wording.casefold() != question.casefold() else ""
        answer = answer.strip()[:MAX_ANSWER]
        base = f"faq-{_slug(question)}"
        async with self._sessions.begin() as session:
            taken = set(
                await session.scalars(select(FaqEntry.id).where(FaqEntry.id.like(f"{base}%")))
            )
            faq_id, number = base, 2
            while faq_id in taken:
                faq_id, number = f"{base}-{number}", number + 1
            connection = await session.connection()
            revision = await next_catalogue_revision(connection)
            session.add(
                FaqEntry(
                    id=faq_id,
                    question=question,
                    answer=answer,
                    alternatives=alternatives,
                    revision=revision,
                )
            )
            await session.flush()
            await bump_catalogue_version(connection, at_least=revision)
        return Taught(faq_id, question, added=True, also=alternatives)

    async def export_faq(self, directory: Path) -> Path:
        """Writes ``directory/faq.csv`` in the import format; returns its path."""
        async with self._sessions() as session:
            entries = (await session.scalars(select(FaqEntry).order_by(FaqEntry.id))).all()
        return await asyncio.to_thread(_write_faq, directory, entries)


def _write_faq(directory: Path, entries: Sequence[FaqEntry]) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "faq.csv"
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(FAQ_COLUMNS)
        for entry in entries:
            writer.writerow(
                [
                    entry.id,
                    entry.question,
                    entry.answer,
                    entry.alternatives,
                    entry.resource_id or "",
                ]
            )
    return path
