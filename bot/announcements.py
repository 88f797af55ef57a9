"""Announcements: drafts, audiences, the delivery queue in the database and its states.

An announcement goes ``draft`` → ``scheduled`` (a date is set) → ``sending`` → ``done``, or
``cancelled`` from any of the first three. Starting to send creates one ``deliveries`` row per
recipient in a single ``INSERT ... SELECT`` from the audience query (recipients are never
loaded in Python); the sender (:mod:`bot.broadcaster`) then streams them by id, claims them
(``pending`` → ``sending``) just before sending and records ``sent``, ``failed`` (with the
reason) or ``unreachable`` (the person blocked the bot or left Telegram: ``users.reachable``
is cleared and they are skipped from then on).

A delivery still ``sending`` when the bot starts was claimed by a bot that stopped without
recording the result: the message may or may not have left. It is put back to ``pending``
and sent again — a recipient is never lost, at the price of at most one duplicate per send
that was in flight when the bot died.

Audiences (``announcements.audience``):

``all``
    patrons subscribed to the network's general news (topic ``news``);
``media:<type>``
    patrons subscribed to that media type (topic ``media:<type>``);
``library:<id>``
    patrons of that library subscribed to its events (topic ``events``);
``workshop:<id>``
    the people registered (or waiting) for that workshop: a service message about something
    they signed up for, so no subscription is needed (and no "Stop" button is shown).
"""

from __future__ import annotations

import datetime as dt
import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, literal, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.i18n import Translator, translator
from bot.importer import CATALOGUE_VERSION
from bot.subscriptions import EVENTS, MEDIA_PREFIX, NEWS, media_topic
from bot.usage import BROADCAST_REACHED, BROADCAST_SENT, Event, add_events
from storage.db import SessionFactory, session_factory
from storage.models import (
    MEDIA_TYPES,
    Announcement,
    Delivery,
    Library,
    Meta,
    Registration,
    Subscription,
    User,
    Workshop,
    utcnow,
)

DRAFT: Final = "draft"
SCHEDULED: Final = "scheduled"
SENDING: Final = "sending"
DONE: Final = "done"
CANCELLED: Final = "cancelled"

BROADCAST: Final = "broadcast"
NEW_ITEMS: Final = "new_items"

PENDING: Final = "pending"
SENT: Final = "sent"
FAILED: Final = "failed"
UNREACHABLE: Final = "unreachable"

TEXT_LIMIT: Final = 4096
CAPTION_LIMIT: Final = 1024
NEW_TITLES_SHOWN: Final = 15
ACTIVE_STATES: Final = (SCHEDULED, SENDING)


class AnnouncementError(ValueError):
    """An audience or a change that is not possible."""


@dataclass(frozen=True, slots=True)
class AnnouncementView:
    id: int
    kind: str
    author_id: int | None
    text: str
    topic: str
    audience: str
    attachment_kind: str | None
    attachment_file_id: str | None
    state: str
    scheduled_at: dt.datetime | None
    status_chat_id: int | None
    status_message_id: int | None
    paid: bool

    @property
    def unsubscribable(self) -> bool:
        """Whether recipients get a "Stop" button (they came through a subscription)."""
        return bool(self.topic)


@dataclass(frozen=True, slots=True)
class Recipient:
    delivery_id: int
    user_id: int
    chat_id: int
    language: str


@dataclass(frozen=True, slots=True)
class Claim:
    """Recipients to send to now; ``last_id`` is where the next claim starts (None: no more)."""

    recipients: list[Recipient]
    last_id: int | None
    #: deliveries settled as unreachable without sending (the person blocked us meanwhile)
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class Result:
    delivery_id: int
    user_id: int
    state: str  # sent / failed / unreachable
    attempts: int
    error: str | None
    at: dt.datetime


def _view(row: Announcement) -> AnnouncementView:
    return AnnouncementView(
        id=row.id,
        kind=row.kind,
        author_id=row.author_id,
        text=row.text,
        topic=row.topic,
        audience=row.audience,
        attachment_kind=row.attachment_kind,
        attachment_file_id=row.attachment_file_id,
        state=row.state,
        scheduled_at=row.scheduled_at,
        status_chat_id=row.status_chat_id,
        status_message_id=row.status_message_id,
        paid=row.paid,
    )


def topic_for(audience: str) -> str:
    """The subscription behind an audience ("" for workshop registrants)."""
    if audience == "all":
        return NEWS
    if audience.startswith(MEDIA_PREFIX):
        return audience
    if audience.startswith("library:"):
        return EVENTS
    return ""


def audience_query(audience: str) -> Select[Any]:
    """``users.id`` of the recipients of ``audience`` (reachable people only)."""
    users = select(User.id).where(User.reachable.is_(True))
    if audience == "all" or audience.startswith(MEDIA_PREFIX):
        topic = NEWS if audience == "all" else audience
        if topic != NEWS and topic.removeprefix(MEDIA_PREFIX) not in MEDIA_TYPES:
            raise AnnouncementError(f"unknown media type in {audience!r}")
        return users.join(
            Subscription, and_(Subscription.user_id == User.id, Subscription.topic == topic)
        )
    if audience.startswith("library:"):
        library_id = audience.removeprefix("library:")
        return users.join(
            Subscription, and_(Subscription.user_id == User.id, Subscription.topic == EVENTS)
        ).where(User.library_id == library_id)
    if audience.startswith("workshop:"):
        workshop_id = audience.removeprefix("workshop:")
        registered = select(Registration.user_id).where(
            Registration.workshop_id == workshop_id,
            Registration.status.in_(("registered", "waiting")),
        )
        return users.where(User.id.in_(registered))
    raise AnnouncementError(f"unknown audience {audience!r}")


def new_titles_text(t: Translator, media_type: str, titles: Sequence[str]) -> str:
    """The draft announcing new titles of one media type (staff edit it before approval)."""
    headings = {
        "ebook": t("📚 New e-books and audiobooks in the digital library"),
        "press": t("📰 New press titles in the digital library"),
        "video": t("🎬 New films in the digital library"),
        "music": t("🎵 New music in the digital library"),
        "training": t("🎓 New courses in the digital library"),
        "game": t("🎮 New video games in the digital library"),
    }
    lines = [f"<b>{headings.get(media_type, media_type)}</b>", ""]
    lines += [f"• {html.escape(title)}" for title in titles[:NEW_TITLES_SHOWN]]
    if len(titles) > NEW_TITLES_SHOWN:
        more = len(titles) - NEW_TITLES_SHOWN
        lines.append(t.tn("… and {n} more title", "… and {n} more titles", more, n=more))
    lines += ["", t("Ask me about them: just write a title or an author.")]
    return "\n".join(lines)


class AnnouncementService:
    def __init__(self, sessions: SessionFactory, tz: ZoneInfo | None = None) -> None:
        self._sessions = sessions
        self._tz = tz or ZoneInfo("Europe/Paris")

    # -- drafts --------------------------------------------------------------------------

    async def create_draft(
        self,
        *,
        author_id: int | None,
        text: str,
        attachment_kind: str | None = None,
        attachment_file_id: str | None = None,
        kind: str = BROADCAST,
        audience: str = "all",
    ) -> AnnouncementView:
        async with self._sessions.begin() as session:
            row = Announcement(
                kind=kind,
                author_id=author_id,
                text=text,
                attachment_kind=attachment_kind,
                attachment_file_id=attachment_file_id,
                audience=audience,
                topic=topic_for(audience),
                state=DRAFT,
            )
            session.add(row)
            await session.flush()
            return _view(row)

    async def create_new_item_drafts(
        self, added_titles: dict[str, list[str]], t: Translator
    ) -> list[int]:
        """One draft per media type with new titles (an import's ``added_titles``)."""
        ids = []
        async with self._sessions.begin() as session:
            for media_type, titles in added_titles.items():
                if media_type not in MEDIA_TYPES or not titles:
                    continue
                audience = media_topic(media_type)
                row = Announcement(
                    kind=NEW_ITEMS,
                    text=new_titles_text(t, media_type, titles),
                    audience=audience,
                    topic=audience,
                    state=DRAFT,
                )
                session.add(row)
                await session.flush()
                ids.append(row.id)
        return ids

    async def drafts_to_notify(self) -> list[AnnouncementView]:
        """New-title drafts the staff have not been shown yet."""
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Announcement)
                .where(
                    Announcement.kind == NEW_ITEMS,
                    Announcement.state == DRAFT,
                    Announcement.staff_notified_at.is_(None),
                )
                .order_by(Announcement.id)
            )
            return [_view(r) for r in rows]

    async def mark_notified(self, announcement_id: int) -> None:
        await self._set(announcement_id, staff_notified_at=utcnow())

    async def get(self, announcement_id: int) -> AnnouncementView | None:
        async with self._sessions() as session:
            row = await session.get(Announcement, announcement_id)
            return _view(row) if row else None

    async def set_text(
        self,
        announcement_id: int,
        text: str,
        attachment_kind: str | None = None,
        attachment_file_id: str | None = None,
        *,
        keep_attachment: bool = False,
    ) -> AnnouncementView | None:
        """New text (and attachment) of a draft; None when it is no longer a draft."""
        values: dict[str, Any] = {"text": text}
        if not keep_attachment:
            values.update(attachment_kind=attachment_kind, attachment_file_id=attachment_file_id)
        return await self._change(announcement_id, (DRAFT,), **values)

    async def set_audience(self, announcement_id: int, audience: str) -> AnnouncementView | None:
        audience_query(audience)  # validates
        return await self._change(
            announcement_id, (DRAFT,), audience=audience, topic=topic_for(audience)
        )

    async def count(self, audience: str) -> int:
        inner = audience_query(audience).subquery()
        async with self._sessions() as session:
            return int(await session.scalar(select(func.count()).select_from(inner)) or 0)

    # -- states --------------------------------------------------------------------------

    async def schedule(
        self, announcement_id: int, when: dt.datetime, status_chat_id: int
    ) -> AnnouncementView | None:
        """Sends at ``when`` (aware datetime); None when it is not a draft or a scheduled one."""
        return await self._change(
            announcement_id,
            (DRAFT, SCHEDULED),
            state=SCHEDULED,
            scheduled_at=when.astimezone(dt.UTC),
            status_chat_id=status_chat_id,
        )

    async def start_sending(
        self,
        announcement_id: int,
        *,
        paid: bool | None = None,
        status_chat_id: int | None = None,
        from_states: Sequence[str] = (DRAFT, SCHEDULED),
    ) -> AnnouncementView | None:
        """Turns a draft or a due scheduled announcement into deliveries, in one transaction.

        None when it is in another state (already sent, cancelled: a second press does
        nothing)."""
        values: dict[str, Any] = {"state": SENDING}
        if paid is not None:
            values["paid"] = paid
        if status_chat_id is not None:
            values["status_chat_id"] = status_chat_id
        async with self._sessions.begin() as session:
            row = await self._transition(session, announcement_id, from_states, values)
            if row is None:
                return None
            await self._insert_deliveries(session, row.id, row.audience)
            return _view(row)

    async def _insert_deliveries(
        self, session: AsyncSession, announcement_id: int, audience: str
    ) -> None:
        recipients = audience_query(audience).with_only_columns(
            literal(announcement_id), User.id, literal(PENDING), literal(0)
        )
        dialect = session.bind.dialect.name
        make = pg_insert if dialect == "postgresql" else sqlite_insert
        statement = (
            make(Delivery)
            .from_select(["announcement_id", "user_id", "state", "attempts"], recipients)
            .on_conflict_do_nothing()
        )
        await session.execute(statement)

    async def set_status_message(
        self, announcement_id: int, chat_id: int, message_id: int
    ) -> None:
        await self._set(announcement_id, status_chat_id=chat_id, status_message_id=message_id)

    async def discard(self, announcement_id: int) -> AnnouncementView | None:
        """A draft nobody wants (staff pressed Discard)."""
        return await self._change(announcement_id, (DRAFT,), state=CANCELLED, finished_at=utcnow())

    async def cancel(self, announcement_id: int) -> AnnouncementView | None:
        """Cancels a draft, a scheduled or a running announcement; None when already over."""
        return await self._change(
            announcement_id,
            (DRAFT, SCHEDULED, SENDING),
            state=CANCELLED,
            finished_at=utcnow(),
        )

    async def in_states(self, states: Iterable[str]) -> list[AnnouncementView]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Announcement)
                .where(Announcement.state.in_(list(states)))
                .order_by(Announcement.id)
            )
            return [_view(r) for r in rows]

    async def due(self, now: dt.datetime) -> list[AnnouncementView]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(Announcement)
                .where(Announcement.state == SCHEDULED, Announcement.scheduled_at <= now)
                .order_by(Announcement.id)
            )
            return [_view(r) for r in rows]

    async def finish(self, announcement_id: int) -> AnnouncementView | None:
        """Marks a fully sent announcement done (or closes a cancelled one) and records its
        statistics. Returns None while deliveries are left (the sender stopped early)."""
        left = (
            select(Delivery.id)
            .where(
                Delivery.announcement_id == announcement_id,
                Delivery.state.in_((PENDING, SENDING)),
            )
            .exists()
        )
        async with self._sessions.begin() as session:
            done = await session.execute(  # writes first (see claim)
                update(Announcement)
                .where(
                    Announcement.id == announcement_id,
                    Announcement.state == SENDING,
                    ~left,
                )
                .values(state=DONE, finished_at=utcnow())
                .execution_options(synchronize_session=False)
            )
            row = await session.get(Announcement, announcement_id, populate_existing=True)
            if row is None or row.state == SENDING:
                return None
            if done.rowcount or row.state == CANCELLED:  # type: ignore[attr-defined]
                await self._record_usage(session, row)
            return _view(row)

    async def _record_usage(self, session: AsyncSession, row: Announcement) -> None:
        """One ``broadcast_sent`` event, and one ``broadcast_reached`` per patron reached,
        through the one path of usage events (``bot.usage.add_events``)."""
        media = (
            row.topic.removeprefix(MEDIA_PREFIX) if row.topic.startswith(MEDIA_PREFIX) else None
        )
        reached = await session.execute(
            select(Delivery.user_id, User.library_id)
            .join(User, User.id == Delivery.user_id)
            .where(Delivery.announcement_id == row.id, Delivery.state == SENT)
            .order_by(Delivery.user_id)
        )
        now = utcnow()
        events = [Event(BROADCAST_SENT, subject_id=row.id, media_type=media, occurred_at=now)]
        events += [
            Event(
                BROADCAST_REACHED,
                user_id=r.user_id,
                library_id=r.library_id,
                media_type=media,
                subject_id=row.id,
                occurred_at=now,
            )
            for r in reached
        ]
        await add_events(session, self._tz, events)

    # -- the delivery queue --------------------------------------------------------------

    async def requeue_in_flight(self, announcement_id: int) -> int:
        """Deliveries left ``sending`` by a bot that stopped: back to ``pending``."""
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(Delivery)
                .where(Delivery.announcement_id == announcement_id, Delivery.state == SENDING)
                .values(state=PENDING)
            )
            return int(result.rowcount or 0)  # type: ignore[attr-defined]

    async def counts(self, announcement_id: int) -> dict[str, int]:
        async with self._sessions() as session:
            rows = await session.execute(
                select(Delivery.state, func.count())
                .where(Delivery.announcement_id == announcement_id)
                .group_by(Delivery.state)
            )
            return {state: int(n) for state, n in rows}

    async def claim(self, announcement_id: int, after_id: int, limit: int) -> Claim:
        """The next ``limit`` pending deliveries after ``after_id``, now ``sending``.

        The claim writes first (so, on SQLite, the transaction holds the write lock from its
        first statement and never has to upgrade a read). Recipients found unreachable
        since the queue was built are settled at once."""
        async with self._sessions.begin() as session:
            batch = (
                select(Delivery.id)
                .where(
                    Delivery.announcement_id == announcement_id,
                    Delivery.state == PENDING,
                    Delivery.id > after_id,
                )
                .order_by(Delivery.id)
                .limit(limit)
                .scalar_subquery()
            )
            await session.execute(
                update(Delivery)
                .where(Delivery.id.in_(batch))
                .values(state=SENDING)
                .execution_options(synchronize_session=False)
            )
            rows = (
                await session.execute(
                    select(Delivery.id, User.id, User.telegram_id, User.language, User.reachable)
                    .join(User, User.id == Delivery.user_id)
                    .where(
                        Delivery.announcement_id == announcement_id,
                        Delivery.state == SENDING,
                        Delivery.id > after_id,
                    )
                    .order_by(Delivery.id)
                )
            ).all()
            if not rows:
                return Claim([], None)
            skipped = [r[0] for r in rows if not r[4]]
            if skipped:
                await session.execute(
                    update(Delivery)
                    .where(Delivery.id.in_(skipped))
                    .values(state=UNREACHABLE, last_error="unreachable since an earlier send")
                    .execution_options(synchronize_session=False)
                )
            recipients = [Recipient(r[0], r[1], r[2], r[3]) for r in rows if r[4]]
            return Claim(recipients, rows[-1][0], len(skipped))

    async def record_results(self, results: Sequence[Result]) -> None:
        if not results:
            return
        async with self._sessions.begin() as session:
            await session.execute(
                update(Delivery),
                [
                    {
                        "id": r.delivery_id,
                        "state": r.state,
                        "attempts": r.attempts,
                        "last_error": (r.error or None) and r.error[:300],
                        "sent_at": r.at if r.state == SENT else None,
                    }
                    for r in results
                ],
            )
            gone = sorted({r.user_id for r in results if r.state == UNREACHABLE})
            if gone:
                await session.execute(
                    update(User).where(User.id.in_(gone)).values(reachable=False)
                )

    async def release(self, announcement_id: int) -> int:
        """After the sender stopped (every result recorded): unsent claims back to pending."""
        return await self.requeue_in_flight(announcement_id)

    # -- names for the staff -------------------------------------------------------------

    async def library_name(self, library_id: str) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(select(Library.name).where(Library.id == library_id))

    async def upcoming_workshops(
        self, now: dt.datetime, limit: int = 20
    ) -> list[tuple[str, str, dt.datetime]]:
        """(id, title, starts_at) of the workshops still to come, soonest first."""
        async with self._sessions() as session:
            rows = await session.execute(
                select(Workshop.id, Workshop.title, Workshop.starts_at)
                .where(Workshop.starts_at >= now - dt.timedelta(days=1))
                .order_by(Workshop.starts_at)
                .limit(limit)
            )
            return [(r[0], r[1], r[2]) for r in rows]

    async def workshop_title(self, workshop_id: str) -> str | None:
        async with self._sessions() as session:
            return await session.scalar(select(Workshop.title).where(Workshop.id == workshop_id))

    # -- helpers -------------------------------------------------------------------------

    async def _set(self, announcement_id: int, **values: Any) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(Announcement).where(Announcement.id == announcement_id).values(**values)
            )

    async def _change(
        self, announcement_id: int, states: Sequence[str], **values: Any
    ) -> AnnouncementView | None:
        async with self._sessions.begin() as session:
            row = await self._transition(session, announcement_id, states, values)
            return _view(row) if row else None

    async def _transition(
        self,
        session: AsyncSession,
        announcement_id: int,
        states: Sequence[str],
        values: dict[str, Any],
    ) -> Announcement | None:
        """One conditional UPDATE (it takes the write lock first: two bots or two taps
        cannot both move the same announcement), then the row as it is now."""
        result = await session.execute(
            update(Announcement)
            .where(Announcement.id == announcement_id, Announcement.state.in_(list(states)))
            .values(**values)
            .execution_options(synchronize_session=False)
        )
        if not result.rowcount:  # type: ignore[attr-defined]
            return None
        return await session.get(Announcement, announcement_id, populate_existing=True)


async def catalogue_version(engine: AsyncEngine) -> str | None:
    """The catalogue's version before an import (None: nothing was ever imported)."""
    async with engine.connect() as conn:
        return await conn.scalar(select(Meta.value).where(Meta.key == CATALOGUE_VERSION))


async def draft_new_titles(
    engine: AsyncEngine,
    added_titles: dict[str, list[str]],
    locale: str,
    timezone: str,
    *,
    first_import: bool,
) -> list[int]:
    """After an import (another process than the bot): one draft per media type with new
    titles, for the staff to approve. The very first import adds the whole catalogue:
    nothing is "new" then."""
    if first_import or not added_titles:
        return []
    service = AnnouncementService(session_factory(engine))
    return await service.create_new_item_drafts(added_titles, translator(locale, timezone))
