"""Tables of privacy by design (issue 13): the staff's audit log, contact through Plume.

``audit_log``: every access by staff to a person's data (handed-over questions read or
answered, remarks with contact read, a message written to a patron, an erasure on request,
a retention run). ``actor_id`` is the staff member (cleared if they are erased), ``subject``
the pseudonym staff saw (``U17``): once that person is erased it names nobody.

``contact_threads``: a coordinator writing to the author of a remark who agreed to be
contacted, through Plume. Neither side sees the other's Telegram id or name; the messages
themselves are not kept (they are delivered, not archived).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from storage.models import Base, UtcDateTime, utcnow


class AuditEntry(Base):
    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_at", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    #: who acted as staff saw them (``U3``), or ``cli`` / ``retention``
    actor: Mapped[str] = mapped_column(String(40), default="")
    action: Mapped[str] = mapped_column(String(40))
    #: the person concerned, by pseudonym (``U17``), or a count for bulk runs
    subject: Mapped[str] = mapped_column(String(40), default="")
    detail: Mapped[str] = mapped_column(String(200), default="")


class ContactThread(Base):
    __tablename__ = "contact_threads"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids never reused (migration ids_1)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    feedback_id: Mapped[int | None] = mapped_column(
        ForeignKey("feedback.id", ondelete="SET NULL"), default=None, index=True
    )
    staff_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    patron_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_message_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
