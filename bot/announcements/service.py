"""Announcements: drafts, audiences, their messages in the outbox and their states.

An announcement goes ``draft`` → ``scheduled`` (a date is set) → ``sending`` → ``done``, or
``cancelled`` from any of the first three. Starting to send puts one outbox row per recipient
(campaign ``announcement:<id>``, see :mod:`bot.outbox`) in the same transaction, in one
``INSERT ... SELECT`` per language from the audience query (recipients are never loaded in
Python). The outbox engine sends them, retries transient failures for hours and records
``sent``, ``unreachable`` (``users.reachable`` cleared, once, by the engine) or ``failed``
(refused for a permanent reason). The announcement is ``done`` only once no row of its
campaign is waiting; staff may then queue the failed ones again (:meth:`resend_failed`).

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
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from bot.i18n import Translator, translator
from bot.outbox import BULK, enqueue_audience, message_payload
from bot.outbox.store import CANCELLED as OUTBOX_CANCELLED
from bot.outbox.store import FAILED as OUTBOX_FAILED
from bot.outbox.store import PENDING as OUTBOX_PENDING
from bot.outbox.store import SENDING as OUTBOX_SENDING
from bot.search.loader import CATALOGUE_VERSION_KEY
from bot.shared.labels import NEW_TITLES_HEADINGS
from bot.subscriptions.service import EVENTS, MEDIA_PREFIX, NEWS, media_topic
from bot.usage import BROADCAST_REACHED, BROADCAST_SENT, Event, add_events
from storage.db import SessionFactory, affected, session_factory
from storage.models import (
    MEDIA_TYPES,
    Announcement,
    Library,
    Meta,
    Registration,
    Subscription,
    UsageEvent,
    User,
    Workshop,
    utcnow,
)
from storage.outbox import OutboxMessage

DRAFT: Final = "draft"
SCHEDULED: Final = "scheduled"
SENDING: Final = "sending"
DONE: Final = "done"
CANCELLED: Final = "cancelled"

BROADCAST: Final = "broadcast"
NEW_ITEMS: Final = "new_items"

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


#: (language, topic) → the reply markup of a recipient's copy (a dict), or None
MarkupFor = Callable[[str, str], Mapping[str, Any] | None]


def campaign_of(announcement_id: int) -> str:
    """The outbox campaign of an announcement's messages."""
    return f"announcement:{announcement_id}"


@dataclass(frozen=True, slots=True)
class Progress:
    """Where a broadcast stands, read from its outbox rows."""

    sent: int = 0
    failed: int = 0
    unreachable: int = 0
    waiting: int = 0  # pending or being sent
    cancelled: int = 0

    @classmethod
    def of(cls, counts: Mapping[str, int]) -> Progress:
        return cls(
            sent=counts.get(SENT, 0),
            failed=counts.get(OUTBOX_FAILED, 0),
            unreachable=counts.get(UNREACHABLE, 0),
            waiting=counts.get(OUTBOX_PENDING, 0) + counts.get(OUTBOX_SENDING, 0),
            cancelled=counts.get(OUTBOX_CANCELLED, 0),
        )

    @property
    def total(self) -> int:
        return self.sent + self.failed + self.unreachable + self.waiting + self.cancelled

    @property
    def settled(self) -> int:
        return self.sent + self.failed + self.unreachable

    @property
    def finished(self) -> bool:
        return self.waiting == 0


def recipient_payload(
    view: AnnouncementView, reply_markup: Mapping[str, Any] | None
) -> tuple[str, dict[str, Any]]:
    """The Bot API method and parameters of one recipient's copy (HTML built by Telegram
    from the staff member's own message, so always well formed)."""
    extra: dict[str, Any] = {"allow_paid_broadcast": True} if view.paid else {}
    file_id = view.attachment_file_id
    if view.attachment_kind in ("photo", "document") and file_id:
        payload: dict[str, Any] = {view.attachment_kind: file_id, **extra}
        if view.text:
            payload |= {"caption": view.text, "parse_mode": "HTML"}
        if reply_markup is not None:
            payload["reply_markup"] = dict(reply_markup)
        method = "sendPhoto" if view.attachment_kind == "photo" else "sendDocument"
        return method, payload
    return "sendMessage", message_payload(view.text, reply_markup=reply_markup, **extra)


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
    heading = NEW_TITLES_HEADINGS.get(media_type)
    lines = [f"<b>{t(heading) if heading else media_type}</b>", ""]
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
        return (await self.count_many([audience]))[audience]

    async def count_many(self, audiences: Iterable[str]) -> dict[str, int]:
        """The size of each audience, in one statement (a screen shows several at once)."""
        wanted = list(dict.fromkeys(audiences))
        if not wanted:
            return {}
        columns = [
            select(func.count())
            .select_from(audience_query(audience).subquery())
            .scalar_subquery()
            .label(f"a{n}")
            for n, audience in enumerate(wanted)
        ]
        async with self._sessions() as session:
            row = (await session.execute(select(*columns))).one()
        return {audience: int(row[n] or 0) for n, audience in enumerate(wanted)}

    async def for_listing(self, staff_id: int, recent: int = 5) -> list[AnnouncementView]:
        """What /annonces shows a staff member: the drafts they may send (their own, and
        every new-title draft until someone sends or discards it), the scheduled and the
        running announcements, and the last ``recent`` sent ones."""
        async with self._sessions() as session:
            active = await session.scalars(
                select(Announcement)
                .where(
                    (Announcement.state.in_(ACTIVE_STATES))
                    | (
                        (Announcement.state == DRAFT)
                        & ((Announcement.kind == NEW_ITEMS) | (Announcement.author_id == staff_id))
                    )
                )
                .order_by(Announcement.id)
            )
            done = await session.scalars(
                select(Announcement)
                .where(Announcement.state == DONE)
                .order_by(Announcement.finished_at.desc(), Announcement.id.desc())
                .limit(recent)
            )
            return [_view(r) for r in active] + [_view(r) for r in done]

    async def delivery_counts(self, ids: Iterable[int]) -> dict[int, dict[str, int]]:
        """Outbox messages by state, for several announcements in one query."""
        wanted = {campaign_of(i): i for i in ids}
        found: dict[int, dict[str, int]] = {i: {} for i in wanted.values()}
        if not wanted:
            return found
        async with self._sessions() as session:
            rows = await session.execute(
                select(OutboxMessage.campaign, OutboxMessage.state, func.count())
                .where(OutboxMessage.campaign.in_(list(wanted)))
                .group_by(OutboxMessage.campaign, OutboxMessage.state)
            )
            for campaign, state, n in rows:
                if campaign is not None:  # IN (...) above: never None
                    found[wanted[campaign]][state] = int(n)
        return found

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
        markup_for: MarkupFor,
        *,
        paid: bool | None = None,
        status_chat_id: int | None = None,
        from_states: Sequence[str] = (DRAFT, SCHEDULED),
    ) -> AnnouncementView | None:
        """Turns a draft or a due scheduled announcement into outbox rows, in one
        transaction (one per recipient; ``markup_for`` renders their copy's buttons).

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
            view = _view(row)
            await self._enqueue_recipients(session, view, markup_for)
            return view

    async def _enqueue_recipients(
        self, session: AsyncSession, view: AnnouncementView, markup_for: MarkupFor
    ) -> int:
        audience = audience_query(view.audience)
        languages = await session.scalars(
            audience.with_only_columns(User.language).distinct().order_by(User.language)
        )
        queued = 0
        for language in list(languages):
            method, payload = recipient_payload(view, markup_for(language, view.topic))
            queued += await enqueue_audience(
                session,
                audience.where(User.language == language),
                kind="announcement",
                campaign=campaign_of(view.id),
                method=method,
                payload=payload,
                priority=BULK,
                paid=view.paid,
            )
        return queued

    async def set_status_message(
        self, announcement_id: int, chat_id: int, message_id: int
    ) -> None:
        await self._set(announcement_id, status_chat_id=chat_id, status_message_id=message_id)

    async def discard(self, announcement_id: int) -> AnnouncementView | None:
        """A draft nobody wants (staff pressed Discard)."""
        return await self._change(announcement_id, (DRAFT,), state=CANCELLED, finished_at=utcnow())

    async def cancel(self, announcement_id: int) -> AnnouncementView | None:
        """Cancels a draft, a scheduled or a running announcement (its messages not yet sent
        are cancelled in the same transaction); None when already over."""
        async with self._sessions.begin() as session:
            row = await self._transition(
                session,
                announcement_id,
                (DRAFT, SCHEDULED, SENDING),
                {"state": CANCELLED, "finished_at": utcnow()},
            )
            if row is None:
                return None
            await session.execute(
                update(OutboxMessage)
                .where(
                    OutboxMessage.campaign == campaign_of(announcement_id),
                    OutboxMessage.state == OUTBOX_PENDING,
                )
                .values(state=OUTBOX_CANCELLED)
            )
            return _view(row)

    async def resend_failed(self, announcement_id: int) -> int:
        """A sent announcement's failed messages are queued again (staff pressed "Resend");
        it is ``sending`` until they are settled. 0 when there was nothing to resend."""
        campaign = campaign_of(announcement_id)
        async with self._sessions.begin() as session:
            row = await self._transition(session, announcement_id, (DONE,), {"state": SENDING})
            if row is None:
                return 0
            result = await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.campaign == campaign, OutboxMessage.state == OUTBOX_FAILED)
                .values(
                    state=OUTBOX_PENDING,
                    attempts=0,
                    last_error=None,
                    not_before=utcnow(),
                    created_at=utcnow(),
                )
            )
            resent = affected(result)
            if not resent:  # nothing failed after all: it stays done
                await self._transition(session, announcement_id, (SENDING,), {"state": DONE})
            return resent

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
        """Marks a fully settled announcement done (or closes a cancelled one) and records
        its statistics (the first time only). None while messages are waiting."""
        campaign = campaign_of(announcement_id)
        left = (
            select(OutboxMessage.id)
            .where(
                OutboxMessage.campaign == campaign,
                OutboxMessage.state.in_((OUTBOX_PENDING, OUTBOX_SENDING)),
            )
            .exists()
        )
        async with self._sessions.begin() as session:
            first = await session.scalar(
                select(Announcement.finished_at.is_(None)).where(
                    Announcement.id == announcement_id
                )
            )
            done = await session.execute(
                update(Announcement)
                .where(
                    Announcement.id == announcement_id,
                    Announcement.state == SENDING,
                    ~left,
                )
                .values(state=DONE, finished_at=func.coalesce(Announcement.finished_at, utcnow()))
                .execution_options(synchronize_session=False)
            )
            row = await session.get(Announcement, announcement_id, populate_existing=True)
            if row is None or row.state == SENDING:
                return None
            if (affected(done) and first) or (
                row.state == CANCELLED and not await self._usage_recorded(session, row.id)
            ):
                await self._record_usage(session, row)
            return _view(row)

    async def _usage_recorded(self, session: AsyncSession, announcement_id: int) -> bool:
        found = await session.scalar(
            select(func.count())
            .select_from(UsageEvent)
            .where(
                UsageEvent.kind == BROADCAST_SENT,
                UsageEvent.subject_id == str(announcement_id),
            )
        )
        return bool(found)

    async def _record_usage(self, session: AsyncSession, row: Announcement) -> None:
        """One ``broadcast_sent`` event, and one ``broadcast_reached`` per patron reached,
        through the one path of usage events (``bot.usage.add_events``)."""
        media = (
            row.topic.removeprefix(MEDIA_PREFIX) if row.topic.startswith(MEDIA_PREFIX) else None
        )
        reached = await session.execute(
            select(User.id, User.library_id)
            .join(OutboxMessage, OutboxMessage.chat_id == User.telegram_id)
            .where(OutboxMessage.campaign == campaign_of(row.id), OutboxMessage.state == SENT)
            .order_by(User.id)
        )
        now = utcnow()
        events = [Event(BROADCAST_SENT, subject_id=row.id, media_type=media, occurred_at=now)]
        events += [
            Event(
                BROADCAST_REACHED,
                user_id=user_id,
                library_id=library_id,
                media_type=media,
                subject_id=row.id,
                occurred_at=now,
            )
            for user_id, library_id in reached
        ]
        await add_events(session, self._tz, events)

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
        if not affected(result):
            return None
        return await session.get(Announcement, announcement_id, populate_existing=True)


async def catalogue_version(engine: AsyncEngine) -> str | None:
    """The catalogue's version before an import (None: nothing was ever imported)."""
    async with engine.connect() as conn:
        return await conn.scalar(select(Meta.value).where(Meta.key == CATALOGUE_VERSION_KEY))


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
