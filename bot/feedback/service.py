"""Patrons' feedback: votes on answers, workshop ratings, free remarks, the survey.

Kinds (``feedback.kind``):

``vote``      👍/👎 on an answer: ``rating`` 1 = 👍, 0 = 👎; ``subject_id`` = the answered
              document's id; ``comment`` = what was missing (after a 👎), added later.
``workshop``  a rating 1–5 and a comment after a workshop; ``subject_id`` = workshop id.
``free``      /avis: a free remark at any time, optional rating 1–5.
``survey``    the satisfaction survey: would you recommend the digital library, 0–10.

``user_id`` is our internal ``users.id`` (the pseudonym). Coordinators only learn who wrote
a remark when the patron said they may be contacted (``contact_ok``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final

from sqlalchemy import func, select, update

from bot.privacy.coverage import ERASED_TEXT
from bot.privacy.masking import mask
from bot.privacy.service import pseudonym
from storage.db import SessionFactory, affected
from storage.models import FaqEntry, Feedback, Item, Resource, User, utcnow

VOTE: Final = "vote"
WORKSHOP: Final = "workshop"
FREE: Final = "free"
SURVEY: Final = "survey"
KINDS: Final = (VOTE, WORKSHOP, FREE, SURVEY)

RATING_RANGE: Final = {VOTE: (0, 1), WORKSHOP: (1, 5), FREE: (1, 5), SURVEY: (0, 10)}
COMMENT_LIMIT: Final = 4000


class FeedbackError(ValueError):
    """Feedback that cannot be stored as given (unknown kind, rating out of range)."""


@dataclass(frozen=True, slots=True)
class FeedbackEntry:
    """One remark as coordinators see it: no name, no id, unless ``contact`` is set."""

    id: int
    kind: str
    rating: int | None
    comment: str
    subject_id: str | None
    library_id: str | None
    media_type: str | None
    created_at: dt.datetime
    #: the author's pseudonym (``U17``), only when they agreed to be contacted: staff write
    #: to them through Plume, never by their Telegram id or name
    contact: str | None = None


@dataclass(frozen=True, slots=True)
class FeedbackPage:
    entries: list[FeedbackEntry]
    page: int
    pages: int
    total: int


class FeedbackService:
    """Stores feedback (before the patron is thanked) and lists it for coordinators."""

    PAGE_SIZE = 5

    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def add(
        self,
        user_id: int | None,
        kind: str,
        *,
        rating: int | None = None,
        comment: str = "",
        subject_id: str | None = None,
        library_id: str | None = None,
        media_type: str | None = None,
        contact_ok: bool = False,
    ) -> int:
        """Writes one feedback row and returns its id (raises FeedbackError on bad input)."""
        if kind not in KINDS:
            raise FeedbackError(f"unknown feedback kind {kind!r}")
        if rating is not None:
            low, high = RATING_RANGE[kind]
            if not low <= rating <= high:
                raise FeedbackError(f"rating {rating} out of {low}..{high} for {kind}")
        row = Feedback(
            user_id=user_id,
            kind=kind,
            rating=rating,
            comment=mask((comment or "").strip())[:COMMENT_LIMIT],
            subject_id=str(subject_id)[:64] if subject_id is not None else None,
            library_id=library_id,
            media_type=media_type,
            contact_ok=contact_ok,
            created_at=utcnow(),
        )
        async with self._sessions.begin() as session:
            session.add(row)
            await session.flush()
            return row.id

    async def vote(
        self,
        user_id: int,
        subject_id: str,
        rating: int,
        *,
        library_id: str | None = None,
        media_type: str | None = None,
    ) -> int:
        """A 👍 (1) or 👎 (0) on an answer; voting again on it changes the vote."""
        if rating not in (0, 1):
            raise FeedbackError(f"a vote is 0 or 1, not {rating}")
        return await self.rate_subject(
            user_id, VOTE, subject_id, rating, library_id=library_id, media_type=media_type
        )

    async def rate_subject(
        self,
        user_id: int,
        kind: str,
        subject_id: str,
        rating: int,
        *,
        library_id: str | None = None,
        media_type: str | None = None,
    ) -> int:
        """One rating per patron and subject (an answer, a workshop): rating again changes it."""
        async with self._sessions.begin() as session:
            row = await session.scalar(
                select(Feedback).where(
                    Feedback.user_id == user_id,
                    Feedback.kind == kind,
                    Feedback.subject_id == subject_id[:64],
                )
            )
            if row is not None:
                row.rating = rating
                return row.id
        return await self.add(
            user_id,
            kind,
            rating=rating,
            subject_id=subject_id,
            library_id=library_id,
            media_type=media_type,
        )

    async def rate(self, feedback_id: int, user_id: int, kind: str, rating: int | None) -> bool:
        """Sets the rating of the patron's own feedback row of that kind (survey, /avis)."""
        if rating is not None:
            low, high = RATING_RANGE[kind]
            if not low <= rating <= high:
                raise FeedbackError(f"rating {rating} out of {low}..{high} for {kind}")
        async with self._sessions.begin() as session:
            row = await session.get(Feedback, feedback_id)
            if row is None or row.user_id != user_id or row.kind != kind:
                return False
            row.rating = rating
            return True

    async def due_for_survey(
        self, period: dt.timedelta, limit: int = 200, now: dt.datetime | None = None
    ) -> list[int]:
        """Patrons active during the last period and not surveyed during it (users.id)."""
        now = now or utcnow()
        since = now - period
        recent = select(Feedback.user_id).where(
            Feedback.kind == SURVEY, Feedback.created_at >= since, Feedback.user_id.is_not(None)
        )
        async with self._sessions() as session:
            ids = await session.scalars(
                select(User.id)
                .where(
                    User.role == "patron",
                    User.reachable.is_(True),
                    User.last_seen_at >= since,
                    User.id.not_in(recent),
                )
                .order_by(User.id)
                .limit(limit)
            )
            return list(ids)

    async def discard(self, feedback_id: int) -> None:
        """Forgets a row that turned out not to be given (a survey that could not be sent)."""
        async with self._sessions.begin() as session:
            row = await session.get(Feedback, feedback_id)
            if row is not None:
                await session.delete(row)

    async def owns(self, feedback_id: int, user_id: int) -> bool:
        """Whether the feedback row is this patron's own (a button may be stale or forged)."""
        async with self._sessions() as session:
            owner = await session.scalar(
                select(Feedback.user_id).where(Feedback.id == feedback_id)
            )
            return owner is not None and owner == user_id

    async def add_comment(self, feedback_id: int, user_id: int, comment: str) -> bool:
        """Adds what was missing to the patron's own 👎 (or any of their feedback rows)."""
        comment = mask((comment or "").strip())[:COMMENT_LIMIT]
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Feedback)
                .where(Feedback.id == feedback_id, Feedback.user_id == user_id)
                .values(comment=comment)
            )
            return bool(affected(result))

    async def set_contact(self, feedback_id: int, user_id: int, contact_ok: bool) -> bool:
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Feedback)
                .where(Feedback.id == feedback_id, Feedback.user_id == user_id)
                .values(contact_ok=contact_ok)
            )
            return bool(affected(result))

    async def last_survey_at(self, user_id: int) -> dt.datetime | None:
        async with self._sessions() as session:
            return await session.scalar(
                select(func.max(Feedback.created_at)).where(
                    Feedback.user_id == user_id, Feedback.kind == SURVEY
                )
            )

    async def comments(
        self,
        *,
        page: int = 0,
        rating: int | None = None,
        media_type: str | None = None,
        library_id: str | None = None,
        kind: str | None = None,
        page_size: int | None = None,
    ) -> FeedbackPage:
        """Latest feedback with a comment, newest first, filtered, one page at a time."""
        size = page_size or self.PAGE_SIZE
        conditions = [Feedback.comment != "", Feedback.comment != ERASED_TEXT]
        if rating is not None:
            conditions.append(Feedback.rating == rating)
        if media_type:
            conditions.append(Feedback.media_type == media_type)
        if library_id:
            conditions.append(Feedback.library_id == library_id)
        if kind:
            conditions.append(Feedback.kind == kind)
        async with self._sessions() as session:
            total = await session.scalar(select(func.count(Feedback.id)).where(*conditions)) or 0
            pages = max(1, -(-total // size))
            page = min(max(page, 0), pages - 1)
            rows = await session.execute(
                select(Feedback, User.id)
                .outerjoin(User, User.id == Feedback.user_id)
                .where(*conditions)
                .order_by(Feedback.created_at.desc(), Feedback.id.desc())
                .offset(page * size)
                .limit(size)
            )
            entries = [_entry(row, user_id) for row, user_id in rows.all()]
        return FeedbackPage(entries, page, pages, total)


def _entry(row: Feedback, user_id: int | None) -> FeedbackEntry:
    contact = bool(row.contact_ok and user_id is not None)
    return FeedbackEntry(
        id=row.id,
        kind=row.kind,
        rating=row.rating,
        comment=row.comment,
        subject_id=row.subject_id,
        library_id=row.library_id,
        media_type=row.media_type,
        created_at=row.created_at,
        contact=pseudonym(user_id) if contact and user_id is not None else None,
    )


async def subject_media_type(sessions: SessionFactory, subject_id: str) -> str | None:
    """The media type of an answered document (item, resource or FAQ entry), if any."""
    async with sessions() as session:
        item = await session.get(Item, subject_id)
        if item is not None:
            return item.media_type
        resource = await session.get(Resource, subject_id)
        if resource is not None:
            return resource.media_type
        faq = await session.get(FaqEntry, subject_id)
        if faq is not None and faq.resource_id:
            resource = await session.get(Resource, faq.resource_id)
            return resource.media_type if resource else None
    return None
