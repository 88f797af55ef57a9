"""Questions a patron passes on to the librarians, and the threads that follow.

A question is a ``draft`` until the patron passes it on; then ``pending``, shown to the
staff of the patron's library, or to the whole network's staff when that library has none
on Plume (``network_wide``); a librarian takes it (``taken``: theirs alone, gone from the
others' lists) and the patron and they write to each other until the librarian closes the
thread (``closed``). Each step is one conditional UPDATE: two librarians taking the same
question at once, or an old button pressed again, change nothing.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy import ColumnElement, and_, exists, insert, or_, select, update
from sqlalchemy.orm import aliased

from bot.i18n import translator
from bot.outbox import UNREACHABLE, URGENT, Settled, enqueue
from bot.privacy.masking import mask
from bot.privacy.service import pseudonym
from bot.users import Person, UserService
from storage.db import AsyncSession, SessionFactory, affected, engine_of, execute_alone
from storage.models import HandoverMessage, HandoverQuestion, Library, User, utcnow

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
    network_wide: bool
    patron_id: int
    patron_telegram_id: int
    patron_language: str
    patron_first_name: str
    created_at: dt.datetime
    #: the librarian who took it (a user id), their chat and language, their library's name
    taken_by: int | None = None
    taker_telegram_id: int | None = None
    taker_language: str | None = None
    taker_library: str | None = None
    #: what staff see of the patron (never their name or Telegram id)
    patron_pseudonym: str = ""


@dataclass(frozen=True, slots=True)
class Submitted:
    handover: Handover
    #: the staff to notify: the library's, or the whole network's (``network_wide``)
    staff: list[Person]


class Taking(enum.Enum):
    TAKEN = "taken"  #: it is the librarian's now
    ALREADY_YOURS = "already_yours"
    TAKEN_BY_ANOTHER = "taken_by_another"
    CLOSED = "closed"
    UNKNOWN = "unknown"  #: no such question, or not one this librarian may see


@dataclass(frozen=True, slots=True)
class Took:
    outcome: Taking
    handover: Handover | None = None


def _thread_of(staff: Person, question_id: int) -> ColumnElement[bool]:
    """The question, while it is this librarian's open thread (taken by them, not closed)."""
    return and_(
        HandoverQuestion.id == question_id,
        HandoverQuestion.state == "taken",
        HandoverQuestion.taken_by == staff.id,
    )


class HandoverService:
    def __init__(self, sessions: SessionFactory, users: UserService) -> None:
        self._sessions = sessions
        self._users = users

    async def draft(self, person: Person, text: str) -> int:
        """Keeps an unanswered question so the patron can choose to pass it on."""
        # every question without an answer makes one: a single statement, no ORM object
        (row,) = await execute_alone(
            engine_of(self._sessions),
            insert(HandoverQuestion)
            .values(
                user_id=person.id,
                library_id=person.library_id,
                text=mask(text)[:MAX_TEXT],  # librarians need the question, not the details
                state="draft",
            )
            .returning(HandoverQuestion.id),
        )
        return int(row.id)

    async def submit(self, person: Person, question_id: int) -> Submitted | None:
        """The patron's draft becomes pending, for the staff it names; None if it is not
        theirs or already sent."""
        staff = await self._users.staff_for(person.library_id)
        # no staff of the patron's library on Plume (maybe nobody yet): the whole network's
        network_wide = person.library_id is None or not any(
            member.library_id == person.library_id for member in staff
        )
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoverQuestion)
                .where(
                    HandoverQuestion.id == question_id,
                    HandoverQuestion.user_id == person.id,
                    HandoverQuestion.state == "draft",
                )
                .values(
                    state="pending",
                    created_at=utcnow(),
                    library_id=person.library_id,
                    network_wide=network_wide,
                )
            )
            if affected(result) != 1:
                return None
        handover = await self.get(question_id)
        assert handover is not None
        return Submitted(handover, staff)

    async def get(self, question_id: int) -> Handover | None:
        found = await self._select(HandoverQuestion.id == question_id)
        return found[0] if found else None

    async def _select(
        self, *where: ColumnElement[bool], limit: int | None = None
    ) -> list[Handover]:
        taker = aliased(User)
        async with self._sessions() as session:
            query = (
                select(HandoverQuestion, User, taker, Library.name)
                .join(User, User.id == HandoverQuestion.user_id)
                .outerjoin(taker, taker.id == HandoverQuestion.taken_by)
                .outerjoin(Library, Library.id == taker.library_id)
                .where(*where)
                .order_by(HandoverQuestion.created_at, HandoverQuestion.id)
                .limit(limit)
            )
            return [_handover(*row) for row in (await session.execute(query)).all()]

    @staticmethod
    def _visible(staff: Person) -> ColumnElement[bool]:
        """The questions a staff member was notified of: their library's and the
        network-wide ones; coordinators and administrators see all."""
        if staff.has_role("coordinator"):
            return HandoverQuestion.id.is_not(None)
        if staff.library_id is None:
            return HandoverQuestion.network_wide.is_(True)
        return or_(
            HandoverQuestion.library_id == staff.library_id,
            HandoverQuestion.network_wide.is_(True),
        )

    async def pending_for(self, staff: Person, limit: int = 10) -> list[Handover]:
        """Pending questions a staff member may take (oldest first)."""
        if not staff.has_role("staff"):
            return []
        return await self._select(
            HandoverQuestion.state == "pending", self._visible(staff), limit=limit
        )

    async def threads_of(self, staff: Person, limit: int = 10) -> list[Handover]:
        """The open threads a librarian took."""
        return await self._select(
            HandoverQuestion.state == "taken", HandoverQuestion.taken_by == staff.id, limit=limit
        )

    async def take(self, staff: Person, question_id: int) -> Took:
        """The librarian takes the question (one conditional UPDATE: the first wins)."""
        if not staff.has_role("staff"):
            return Took(Taking.UNKNOWN)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoverQuestion)
                .where(
                    HandoverQuestion.id == question_id,
                    HandoverQuestion.state == "pending",
                    self._visible(staff),
                )
                .values(state="taken", taken_by=staff.id, taken_at=utcnow())
            )
            taken = affected(result) == 1
        handover = await self.get(question_id)
        if handover is None or handover.state == "draft":
            return Took(Taking.UNKNOWN)
        if taken:
            return Took(Taking.TAKEN, handover)
        if handover.state == "closed":
            return Took(Taking.CLOSED, handover)
        if handover.state == "taken":
            if handover.taken_by == staff.id:
                return Took(Taking.ALREADY_YOURS, handover)
            return Took(Taking.TAKEN_BY_ANOTHER, handover)
        return Took(Taking.UNKNOWN, handover)  # pending, but not this librarian's to take

    async def give_back(self, staff: Person, question_id: int) -> bool:
        """The question taken by this librarian, who has written nothing in it yet, pending
        again for their colleagues (pressed "Answer", then /cancel)."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoverQuestion)
                .where(
                    HandoverQuestion.id == question_id,
                    HandoverQuestion.state == "taken",
                    HandoverQuestion.taken_by == staff.id,
                    ~exists().where(
                        HandoverMessage.question_id == question_id, HandoverMessage.from_staff
                    ),
                )
                .values(state="pending", taken_by=None, taken_at=None)
            )
            return affected(result) == 1

    async def reply(self, staff: Person, question_id: int, answer: str) -> Handover | None:
        """The librarian's message in their thread; None when the thread is not theirs or is
        closed, or they no longer have a staff role."""
        if not staff.has_role("staff"):
            return None
        now = utcnow()
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoverQuestion)
                .where(_thread_of(staff, question_id))
                .values(answered_at=now)  # the last answer's time; the first one's below
            )
            if affected(result) != 1:
                return None
            await session.execute(
                update(HandoverQuestion)
                .where(HandoverQuestion.id == question_id, HandoverQuestion.answer.is_(None))
                .values(answer=answer[:MAX_TEXT], answered_by=staff.id)
            )
            session.add(
                HandoverMessage(
                    question_id=question_id,
                    author_id=staff.id,
                    from_staff=True,
                    text=answer[:MAX_TEXT],
                    created_at=now,
                )
            )
        return await self.get(question_id)

    async def patron_reply(self, patron: Person, question_id: int, text: str) -> Handover | None:
        """The patron's message in their open thread; None when it is closed or not theirs."""
        async with self._sessions.begin() as session:
            open_thread = await session.scalar(
                select(HandoverQuestion.id)
                .where(
                    HandoverQuestion.id == question_id,
                    HandoverQuestion.user_id == patron.id,
                    HandoverQuestion.state == "taken",
                )
                .with_for_update()
            )
            if open_thread is None:
                return None
            session.add(
                HandoverMessage(
                    question_id=question_id,
                    author_id=patron.id,
                    from_staff=False,
                    text=text[:MAX_TEXT],
                    created_at=utcnow(),
                )
            )
        return await self.get(question_id)

    async def is_open_for(self, patron: Person, question_id: int) -> bool:
        found = await self._select(
            and_(
                HandoverQuestion.id == question_id,
                HandoverQuestion.user_id == patron.id,
                HandoverQuestion.state == "taken",
            )
        )
        return bool(found)

    async def close(self, staff: Person, question_id: int) -> Handover | None:
        """The librarian closes their thread; None when it is not theirs or already closed."""
        if not staff.has_role("staff"):
            return None
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(HandoverQuestion)
                .where(_thread_of(staff, question_id))
                .values(state="closed", closed_at=utcnow())
            )
            if affected(result) != 1:
                return None
        return await self.get(question_id)


def _handover(
    question: HandoverQuestion, patron: User, taker: User | None, library: str | None
) -> Handover:
    return Handover(
        id=question.id,
        text=question.text,
        state=question.state,
        library_id=question.library_id,
        network_wide=question.network_wide,
        patron_id=patron.id,
        patron_telegram_id=patron.telegram_id,
        patron_language=patron.language,
        patron_first_name=patron.first_name,
        created_at=question.created_at,
        taken_by=question.taken_by,
        taker_telegram_id=taker.telegram_id if taker else None,
        taker_language=taker.language if taker else None,
        taker_library=library,
        patron_pseudonym=pseudonym(patron.id),
    )
