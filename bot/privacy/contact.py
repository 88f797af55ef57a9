"""A coordinator and a patron who agreed to be contacted, talking through Plume.

The patron's remark said "you may contact me" (``feedback.contact_ok``). The coordinator
writes to them from ``/avis_recus``: Plume delivers the message (outbox) with a reply button;
the patron's answer comes back the same way. Neither side learns the other's Telegram id or
name: staff see the pseudonym, the patron sees "the library". Messages are delivered, not
kept (``contact_threads`` holds who talks to whom, for the reply button); what the patron
writes is masked (phone, e-mail, address) and the row carrying it to staff is marked
``person:<id>`` so that erasing the patron anonymises it too. Each message is audited.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from bot.outbox import NOTICE, enqueue
from bot.privacy.coverage import PERSON_REF
from bot.privacy.masking import mask
from bot.privacy.service import pseudonym
from storage.db import SessionFactory
from storage.models import Feedback, User, utcnow
from storage.privacy import AuditEntry, ContactThread

MAX_MESSAGE = 3500


@dataclass(frozen=True, slots=True)
class Thread:
    id: int
    feedback_id: int | None
    remark: str
    patron_pseudonym: str


class ContactService:
    def __init__(self, sessions: SessionFactory) -> None:
        self._sessions = sessions

    async def open(self, staff_id: int, feedback_id: int) -> Thread | None:
        """The thread of a coordinator with the author of a remark who agreed to be
        contacted (created the first time); None when they did not agree, or are gone."""
        async with self._sessions.begin() as session:
            feedback = await session.get(Feedback, feedback_id)
            if feedback is None or not feedback.contact_ok or feedback.user_id is None:
                return None
            thread = await session.scalar(
                select(ContactThread).where(
                    ContactThread.feedback_id == feedback_id, ContactThread.staff_id == staff_id
                )
            )
            if thread is None:
                thread = ContactThread(
                    feedback_id=feedback_id, staff_id=staff_id, patron_id=feedback.user_id
                )
                session.add(thread)
                await session.flush()
            return Thread(thread.id, feedback_id, feedback.comment, pseudonym(feedback.user_id))

    async def to_patron(
        self, thread_id: int, staff_id: int, text_html: str, render: Any
    ) -> str | None:
        """Enqueues the coordinator's message to the patron; the patron's pseudonym, or None
        when the thread is not this coordinator's (or the patron is gone).

        ``render(language, remark, text_html, thread_id)`` → (text, reply_markup dict)."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(ContactThread, User, Feedback.comment)
                    .join(User, User.id == ContactThread.patron_id)
                    .outerjoin(Feedback, Feedback.id == ContactThread.feedback_id)
                    .where(ContactThread.id == thread_id, ContactThread.staff_id == staff_id)
                )
            ).first()
            if row is None:
                return None
            thread, patron, remark = row
            text, markup = render(
                patron.language, remark or "", text_html[:MAX_MESSAGE], thread.id
            )
            await enqueue(
                session,
                kind="contact",
                chat_id=patron.telegram_id,
                text=text,
                reply_markup=markup,
                priority=NOTICE,
            )
            thread.last_message_at = utcnow()
            who = pseudonym(patron.id)
            session.add(
                AuditEntry(
                    actor_id=staff_id,
                    actor=pseudonym(staff_id),
                    action="contact write",
                    subject=who,
                    detail=f"remark {thread.feedback_id}",
                )
            )
            return who

    async def to_staff(self, thread_id: int, patron_id: int, text: str, render: Any) -> bool:
        """Enqueues the patron's answer (masked) to the coordinator of the thread.

        ``render(language, patron_pseudonym, masked_text, feedback_id)`` → (text, markup)."""
        async with self._sessions.begin() as session:
            row = (
                await session.execute(
                    select(ContactThread, User)
                    .join(User, User.id == ContactThread.staff_id)
                    .where(ContactThread.id == thread_id, ContactThread.patron_id == patron_id)
                )
            ).first()
            if row is None:
                return False
            thread, staff = row
            body, markup = render(
                staff.language, pseudonym(patron_id), mask(text)[:MAX_MESSAGE], thread.feedback_id
            )
            await enqueue(
                session,
                kind="contact",
                chat_id=staff.telegram_id,
                text=body,
                reply_markup=markup,
                ref=f"{PERSON_REF}{patron_id}",  # about the patron: erased with them
                priority=NOTICE,
            )
            thread.last_message_at = utcnow()
            return True
