"""SQLAlchemy models of Plume. Portable column types only (SQLite and PostgreSQL).

Import ids (``lib-lumbres``, ``res-press``, ``faq-mdp``...) are the primary keys of the
imported tables, so an import upserts by id. Times are stored as timezone-aware UTC.
"""

from __future__ import annotations

import datetime as dt
from typing import Final

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.sql.expression import false
from sqlalchemy.types import TypeDecorator

MEDIA_TYPES: Final = ("ebook", "press", "video", "music", "training", "game")
ROLES: Final = ("patron", "staff", "coordinator", "admin")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class UtcDateTime(TypeDecorator[dt.datetime]):
    """A moment, stored in UTC and always read back timezone-aware.

    PostgreSQL keeps the offset; SQLite keeps text without it, so what it hands back is
    marked as UTC here, once, rather than wherever a time is read.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r}: give a timezone-aware moment")
        return value.astimezone(dt.UTC)

    def process_result_value(
        self, value: dt.datetime | None, dialect: Dialect
    ) -> dt.datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


class Library(Base):
    __tablename__ = "libraries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    commune: Mapped[str] = mapped_column(String(120), default="")
    address: Mapped[str] = mapped_column(String(300), default="")
    phone: Mapped[str] = mapped_column(String(40), default="")
    email: Mapped[str] = mapped_column(String(200), default="")
    opening_hours: Mapped[str] = mapped_column(Text, default="")


class User(Base):
    __tablename__ = "users"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids never reused (migration ids_1)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    telegram_id: Mapped[int] = mapped_column(BigInteger, unique=True)
    first_name: Mapped[str] = mapped_column(String(200), default="")
    language: Mapped[str] = mapped_column(String(8), default="fr")
    library_id: Mapped[str | None] = mapped_column(
        ForeignKey("libraries.id", ondelete="SET NULL"), default=None
    )
    role: Mapped[str] = mapped_column(String(16), default="patron")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    last_seen_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    reachable: Mapped[bool] = mapped_column(Boolean, default=True)
    onboarded: Mapped[bool] = mapped_column(Boolean, default=False)


class Resource(Base):
    __tablename__ = "resources"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    media_type: Mapped[str] = mapped_column(String(16), index=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    access: Mapped[str] = mapped_column(Text, default="")
    url: Mapped[str] = mapped_column(String(500), default="")
    keywords: Mapped[str] = mapped_column(Text, default="")  # ';'-separated
    #: the platform's name in its provider's COUNTER reports (else ``name`` is matched)
    counter_platform: Mapped[str] = mapped_column(String(200), default="")
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    # the catalogue version that last wrote the row: the search index catches up from it
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)


class Item(Base):
    """A catalogue item (a book, a film, a magazine...) offered by a resource."""

    __tablename__ = "items"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(ForeignKey("resources.id"), index=True)
    media_type: Mapped[str] = mapped_column(String(16), index=True)
    title: Mapped[str] = mapped_column(String(500))
    creator: Mapped[str] = mapped_column(String(300), default="")
    year: Mapped[int | None] = mapped_column(Integer, default=None)
    genres: Mapped[str] = mapped_column(String(300), default="")  # ';'-separated
    language: Mapped[str] = mapped_column(String(16), default="")
    added_on: Mapped[dt.date | None] = mapped_column(Date, default=None, index=True)
    imported_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # see Resource

    __table_args__ = (Index("ix_items_revision_id", "revision", "id"),)


class FaqEntry(Base):
    __tablename__ = "faq_entries"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    question: Mapped[str] = mapped_column(Text)
    answer: Mapped[str] = mapped_column(Text)
    alternatives: Mapped[str] = mapped_column(Text, default="")  # '|'-separated
    resource_id: Mapped[str | None] = mapped_column(ForeignKey("resources.id"), default=None)
    revision: Mapped[int] = mapped_column(Integer, default=0, server_default="0", index=True)


class Workshop(Base):
    __tablename__ = "workshops"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    library_id: Mapped[str] = mapped_column(ForeignKey("libraries.id"), index=True)
    title: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    starts_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    duration_min: Mapped[int] = mapped_column(Integer, default=60)
    capacity: Mapped[int] = mapped_column(Integer, default=10)
    media_type: Mapped[str | None] = mapped_column(String(16), default=None)
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Registration(Base):
    __tablename__ = "registrations"
    __table_args__ = (UniqueConstraint("workshop_id", "user_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    workshop_id: Mapped[str] = mapped_column(ForeignKey("workshops.id"), index=True)
    #: cleared when the person is erased or PLUME_REGISTRATION_DAYS after the workshop: the
    #: registration (and its attendance) still counts, but names nobody
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="registered")  # /waiting/cancelled
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    attended: Mapped[bool | None] = mapped_column(Boolean, default=None)


class Reminder(Base):
    """One message planned for one registration; the database is the truth of what was sent.

    ``kind`` ``reminder``: ``offset_s`` seconds before the start; ``feedback``: the rating
    request, ``offset_s`` seconds after the end. ``state``: pending → sending (claimed at
    ``claimed_at``, just before the Bot API call) → sent / failed; or dropped (cancelled,
    superseded, too late); a claim a crash interrupted becomes ``unconfirmed`` (never resent).
    """

    __tablename__ = "reminders"
    __table_args__ = (
        UniqueConstraint("registration_id", "kind", "offset_s"),
        Index("ix_reminders_state_due", "state", "due_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    registration_id: Mapped[int] = mapped_column(ForeignKey("registrations.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16), default="reminder")  # / feedback
    offset_s: Mapped[int] = mapped_column(Integer)
    due_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, index=True)
    state: Mapped[str] = mapped_column(String(16), default="pending")
    claimed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    sent_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class Subscription(Base):
    """A patron's opt-in to a kind of announcement: ``media:<type>``, ``events``, ``news``."""

    __tablename__ = "subscriptions"
    __table_args__ = (UniqueConstraint("user_id", "topic"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    topic: Mapped[str] = mapped_column(String(40), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Announcement(Base):
    __tablename__ = "announcements"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), default="broadcast")  # / new_items
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    text: Mapped[str] = mapped_column(Text, default="")
    topic: Mapped[str] = mapped_column(String(40), default="news")
    audience: Mapped[str] = mapped_column(String(120), default="all")
    attachment_kind: Mapped[str | None] = mapped_column(String(16), default=None)
    attachment_file_id: Mapped[str | None] = mapped_column(String(300), default=None)
    state: Mapped[str] = mapped_column(String(16), default="draft")
    scheduled_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    finished_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    status_chat_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    status_message_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    #: sent with ``allow_paid_broadcast`` (up to 1,000 messages/s, billed in Stars)
    paid: Mapped[bool] = mapped_column(Boolean, default=False)
    #: when the running bot showed this draft (new titles) to the staff
    staff_notified_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class HandoverQuestion(Base):
    """A patron's question passed to the librarians."""

    __tablename__ = "handover_questions"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids never reused (migration ids_1)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    library_id: Mapped[str | None] = mapped_column(ForeignKey("libraries.id"), default=None)
    text: Mapped[str] = mapped_column(Text)
    #: draft (not passed on yet) → pending → taken (a librarian's thread) → closed
    state: Mapped[str] = mapped_column(String(16), default="pending", index=True)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    #: shown to the whole network's staff (the patron's library has no staff on Plume)
    network_wide: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    taken_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    taken_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    closed_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)
    #: the first answer (the whole exchange is in handover_messages)
    answered_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)
    answer: Mapped[str | None] = mapped_column(Text, default=None)
    answered_at: Mapped[dt.datetime | None] = mapped_column(UtcDateTime, default=None)


class HandoverMessage(Base):
    """One message of a handover thread, from the librarian or from the patron."""

    __tablename__ = "handover_messages"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids never reused (migration ids_1)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    question_id: Mapped[int] = mapped_column(ForeignKey("handover_questions.id"), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    from_staff: Mapped[bool] = mapped_column(Boolean)
    text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)


class Feedback(Base):
    __tablename__ = "feedback"
    __table_args__ = ({"sqlite_autoincrement": True},)  # ids never reused (migration ids_1)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None, index=True)
    kind: Mapped[str] = mapped_column(String(16))  # vote / workshop / free / survey
    rating: Mapped[int | None] = mapped_column(Integer, default=None)
    comment: Mapped[str] = mapped_column(Text, default="")
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    library_id: Mapped[str | None] = mapped_column(String(64), default=None, index=True)
    media_type: Mapped[str | None] = mapped_column(String(16), default=None)
    contact_ok: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow, index=True)


#: the rows of the partial index ix_usage_events_unanswered (a query must say it as is)
UNANSWERED_QUESTION: Final = "kind = 'question' AND NOT answered"
#: the rows of the partial index ix_usage_events_cards
CARD_VIEW: Final = "kind = 'card_view'"


class UsageEvent(Base):
    """One thing a patron did, for statistics (questions, card views, registrations...).

    No user id: ``actor`` is a random number per person (``usage_actors`` holds the only
    link, which erasure deletes), so every past figure stays the same and nothing links an
    event to a person any more. ``day``/``week``/``month`` are the local calendar day (in the
    network's time zone), its Monday and its first day, fixed when the event is recorded:
    the figures group by them through the indexes below, without roll-up tables.
    """

    __tablename__ = "usage_events"
    __table_args__ = (
        Index("ix_usage_events_day_kind", "day", "kind", "library_id", "media_type", "answered"),
        Index("ix_usage_events_counts", "kind", "library_id", "media_type", "day", "answered"),
        Index(
            "ix_usage_events_kind_day",
            "kind",
            "day",
            "answered",
            "library_id",
            "subject_id",
            "media_type",
        ),
        Index("ix_usage_events_day_actor", "day", "actor"),
        Index("ix_usage_events_week_actor", "week", "actor", "day"),
        Index("ix_usage_events_month_actor", "month", "actor", "day"),
        Index(
            "ix_usage_events_library_actor",
            "library_id",
            "actor",
            "day",
            "week",
            "month",
            "media_type",
        ),
        Index("ix_usage_events_media_actor", "media_type", "actor", "day"),
        Index(
            "ix_usage_events_cards",
            "subject_id",
            "media_type",
            "day",
            "library_id",
            "kind",
            sqlite_where=sql_text(CARD_VIEW),
            postgresql_where=sql_text(CARD_VIEW),
        ),
        Index(
            "ix_usage_events_unanswered",
            "day",
            "library_id",
            "query",
            "raw_text",
            "kind",
            "answered",
            sqlite_where=sql_text(UNANSWERED_QUESTION),
            postgresql_where=sql_text(UNANSWERED_QUESTION),
        ),
        # erasure finds a person's events (to clear their text) through their actor
        Index("ix_usage_events_actor", "actor"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    occurred_at: Mapped[dt.datetime] = mapped_column(UtcDateTime, default=utcnow)
    day: Mapped[dt.date] = mapped_column(Date)
    week: Mapped[dt.date] = mapped_column(Date)
    month: Mapped[dt.date] = mapped_column(Date)
    actor: Mapped[int | None] = mapped_column(BigInteger, default=None)
    kind: Mapped[str] = mapped_column(String(24))
    library_id: Mapped[str | None] = mapped_column(String(64), default=None)
    media_type: Mapped[str | None] = mapped_column(String(16), default=None)
    subject_id: Mapped[str | None] = mapped_column(String(64), default=None)
    query: Mapped[str | None] = mapped_column(Text, default=None)
    raw_text: Mapped[str | None] = mapped_column(Text, default=None)
    score: Mapped[float | None] = mapped_column(Float, default=None)
    answered: Mapped[bool | None] = mapped_column(Boolean, default=None)


class Meta(Base):
    """Small key/value facts shared between processes (e.g. ``catalogue_version``)."""

    __tablename__ = "meta"

    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text, default="")


from storage import answering as _answering  # noqa: E402,F401  (registers its tables)
from storage import outbox as _outbox  # noqa: E402,F401  (registers its tables)
from storage import privacy as _privacy  # noqa: E402,F401  (registers its tables)
from storage import report as _report  # noqa: E402,F401  (registers its tables)
from storage import webhook as _webhook  # noqa: E402,F401  (registers its tables)
