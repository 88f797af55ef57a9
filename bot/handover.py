"""Questions a patron passes on to the librarians, and the librarians' replies."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import or_, select, update

from bot.i18n import translator
from bot.outbox import UNREACHABLE, URGENT, Settled, enqueue
from bot.privacy.masking import mask
from bot.privacy.service import pseudonym
from bot.users import Person
from storage.db import AsyncSession, SessionFactory
from storage.models import HandoverQuestion, User, utcnow

MAX_TEXT = 3500
#: the outbox kind of a librarian's answer; its ``ref`` is ``<staff telegram id>:<language>``
ANSWER_KIND: Final = "handover_answer"


def answer_ref(staff: Person) -> str:
    return f"{staff.telegram_id}:{staff.language}"


async def tell_staff_undelivered(session: AsyncSession, rows: Sequence[Settled]) -> None:
    """Outbox settler of answers: the librarian learns the patron blocked Plume."""
    for row in rows:
        staff_id, _, language = (row.ref or "").partition(":")
        if row.state != UNREACHABLE or not staff_id.lstrip("-").isdigit():
            continue
        t = translator(language or "fr")
        await enqueue(
            session,
            kind="handover_undelivered",
            chat_id=int(staff_id),
            text=t("The patron has blocked Plume: the answer could not be delivered."),
            dedupe_key=f"undelivered:{row.id}",
            priority=URGENT,
        )


@dataclass(frozen=True, slots=True)
class Handover:
    id: int
    text: str
    state: str
    library_id: str | None
    patron_telegram_id: int
    patron_language: str
    patron_first_name: str
    created_at: dt.datetime
    #: what staff see of the patron (never their name or Telegram id)
    patron_pseudonym: str = ""
    #: users.id of the patron (outbox rows about them carry it, for erasure)
    patron_id: int = 0


class HandoverService:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def draft(self, person: Person, text: str) -> int:
        """Keeps an unanswered question so the patron can choose to pass it on."""
        async with self._sessions.begin() as session:
            question = HandoverQuestion(
                user_id=person.id,
                library_id=person.library_id,
                text=mask(text)[:MAX_TEXT],  # librarians need the question, not the details
                state="draft",
            )
            session.add(question)
            await session.flush()
            return question.id

    async def submit(self, person: Person, question_id: int) -> Handover | None:
        """The patron's draft becomes pending; None if it is not theirs or already sent."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoverQuestion)
                .where(
                    HandoverQuestion.id == question_id,
                    HandoverQuestion.user_id == person.id,
                    HandoverQuestion.state == "draft",
                )
                .values(state="pending", created_at=utcnow(), library_id=person.library_id)
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return await self.get(question_id)

    async def get(self, question_id: int) -> Handover | None:
        async with self._sessions() as session:
            row = (
                await session.execute(
                    select(HandoverQuestion, User)
                    .join(User, User.id == HandoverQuestion.user_id)
                    .where(HandoverQuestion.id == question_id)
                )
            ).first()
            return _handover(*row) if row else None

    async def pending_for(self, staff: Person, limit: int = 10) -> list[Handover]:
        """Pending questions a staff member should see: their library's, and those of
        patrons without a library; coordinators and administrators see all."""
        async with self._sessions() as session:
            query = (
                select(HandoverQuestion, User)
                .join(User, User.id == HandoverQuestion.user_id)
                .where(HandoverQuestion.state == "pending")
                .order_by(HandoverQuestion.created_at)
                .limit(limit)
            )
            if not staff.has_role("coordinator") and staff.library_id:
                query = query.where(
                    or_(
                        HandoverQuestion.library_id == staff.library_id,
                        HandoverQuestion.library_id.is_(None),
                    )
                )
            rows = await session.execute(query)
            return [_handover(q, u) for q, u in rows]

    async def reply(self, staff: Person, question_id: int, answer: str) -> Handover | None:
        """Records the reply; None when the question is unknown or already answered."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoverQuestion)
                .where(HandoverQuestion.id == question_id, HandoverQuestion.state == "pending")
                .values(
                    state="answered",
                    answer=answer[:MAX_TEXT],
                    answered_by=staff.id,
                    answered_at=utcnow(),
                )
            )
            if result.rowcount != 1:  # type: ignore[attr-defined]
                return None
        return await self.get(question_id)


def _handover(question: HandoverQuestion, patron: User) -> Handover:
    return Handover(
        id=question.id,
        text=question.text,
        state=question.state,
        library_id=question.library_id,
        patron_telegram_id=patron.telegram_id,
        patron_language=patron.language,
        patron_first_name=patron.first_name,
        created_at=question.created_at,
        patron_pseudonym=pseudonym(patron.id),
        patron_id=patron.id,
    )
