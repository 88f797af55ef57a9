"""Export, erasure, retention and the audit log: the patron's rights, in one service.

Export and erasure walk the models' metadata with the policies of
:mod:`bot.privacy.coverage` (every table, in order, dependents first), in one transaction.
Erasing a person deletes their user row and whatever only they are, detaches what counts in
the statistics (votes, ratings, registrations keep their counts and name nobody) and clears
their free text everywhere; their statistics events keep a random actor number that nothing
links to anyone any more, so every past figure stays the same.

Nothing here imports telegram: what python-telegram-bot holds in memory for the person
(user_data, chat_data, conversation states) is dropped by the handlers that call this.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import delete, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bot.privacy.coverage import People, ordered
from storage.db import SessionFactory, affected
from storage.models import (
    Base,
    HandoverQuestion,
    Library,
    Registration,
    Reminder,
    UsageEvent,
    User,
    Workshop,
    utcnow,
)
from storage.privacy import AuditEntry
from storage.report import UsageActor

log = logging.getLogger(__name__)

_PSEUDONYM = re.compile(r"^\s*[Uu]-?(\d{1,10})\s*$")
#: people erased per transaction by the retention run
RETENTION_BATCH: Final = 500
EXPORT_VERSION: Final = 1


def pseudonym(user_id: int) -> str:
    """What staff see of a patron: ``U17`` (the internal id, never the Telegram id)."""
    return f"U{user_id}"


def parse_pseudonym(text: str) -> int | None:
    match = _PSEUDONYM.match(text)
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class RetentionPolicy:
    """The retention periods (settings ``PLUME_*_DAYS``)."""

    inactive_days: int = 365
    question_text_days: int = 120
    registration_days: int = 120


@dataclass
class Erasure:
    people: int = 0
    rows: dict[str, int] = field(default_factory=dict)


@dataclass
class RetentionRun:
    erased: int = 0
    question_texts: int = 0
    handover_drafts: int = 0
    registrations: int = 0


@dataclass(frozen=True)
class AuditLine:
    at: dt.datetime
    actor: str
    action: str
    subject: str
    detail: str


@dataclass(frozen=True)
class ExportSummary:
    """The short readable summary sent with the file (counts only)."""

    subscriptions: int
    questions: int
    votes: int
    remarks: int
    registrations: int
    messages: int
    handovers: int


def _json_value(value: object) -> object:
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, bytes):
        return f"<{len(value)} bytes>"
    return str(value)


class PrivacyService:
    def __init__(
        self,
        sessions: SessionFactory,
        retention: RetentionPolicy | None = None,
        tz: ZoneInfo | None = None,
    ) -> None:
        self._sessions = sessions
        self.retention = retention or RetentionPolicy()
        #: the network's time zone: a usage event's ``day`` is its local calendar day
        self.tz = tz or ZoneInfo("Europe/Paris")

    # -- finding people ---------------------------------------------------------------------

    async def find(self, reference: str) -> tuple[int, int] | None:
        """``(users.id, telegram id)`` of a pseudonym (``U17``) or a Telegram id."""
        user_id = parse_pseudonym(reference)
        async with self._sessions() as session:
            if user_id is not None:
                row = (
                    await session.execute(
                        select(User.id, User.telegram_id).where(User.id == user_id)
                    )
                ).first()
            elif reference.strip().lstrip("-").isdigit():
                row = (
                    await session.execute(
                        select(User.id, User.telegram_id).where(
                            User.telegram_id == int(reference.strip())
                        )
                    )
                ).first()
            else:
                return None
        return (row.id, row.telegram_id) if row else None

    @staticmethod
    async def _people(session: AsyncSession, user_ids: Sequence[int], now: dt.datetime) -> People:
        ids: list[int] = []
        telegram_ids: list[int] = []
        actors: list[int] = []
        for start in range(0, len(user_ids), RETENTION_BATCH):
            chunk = list(user_ids[start : start + RETENTION_BATCH])
            rows = await session.execute(
                select(User.id, User.telegram_id).where(User.id.in_(chunk)).order_by(User.id)
            )
            for row in rows:
                ids.append(row.id)
                telegram_ids.append(row.telegram_id)
            actors += list(
                await session.scalars(
                    select(UsageActor.actor).where(UsageActor.user_id.in_(chunk))
                )
            )
        return People(tuple(ids), tuple(telegram_ids), tuple(actors), now)

    # -- export ---------------------------------------------------------------------------

    async def export(self, user_id: int) -> dict[str, Any] | None:
        """Everything Plume holds about the person, table by table (None: no such person)."""
        now = utcnow()
        async with self._sessions() as session:
            people = await self._people(session, [user_id], now)
            if not people.ids:
                return None
            user = await session.get(User, user_id)
            assert user is not None
            library = await session.get(Library, user.library_id) if user.library_id else None
            tables: dict[str, Any] = {}
            for table, policy in ordered(Base.metadata):
                rows = await policy.export(session, table, people)
                if rows:
                    tables[table.name] = {"purpose": policy.purpose, "rows": rows}
        return {
            "format": f"plume-personal-data/{EXPORT_VERSION}",
            "generated_at": now,
            "pseudonym": pseudonym(user_id),
            "profile": {
                "telegram_id": user.telegram_id,
                "first_name": user.first_name,
                "language": user.language,
                "library": {"id": library.id, "name": library.name} if library else None,
                "role": user.role,
                "created_at": user.created_at,
                "last_seen_at": user.last_seen_at,
            },
            "tables": dict(sorted(tables.items())),
        }

    @staticmethod
    def export_json(document: dict[str, Any]) -> bytes:
        """Readable JSON: the document indented, each table row on one line (Python's
        indenting encoder is pure Python, 5× slower on a patron's 10,000 events)."""

        def dump(value: object) -> str:
            return json.dumps(value, ensure_ascii=False, default=_json_value)

        head = {key: value for key, value in document.items() if key != "tables"}
        lines = ["{"] + [f" {dump(key)}: {dump(value)}," for key, value in head.items()]
        lines.append(' "tables": {')
        tables = list(document.get("tables", {}).items())
        for t_index, (name, table) in enumerate(tables):
            lines.append(f"  {dump(name)}: {{")
            lines.append(f'   "purpose": {dump(table["purpose"])},')
            lines.append('   "rows": [')
            rows = table["rows"]
            lines += [
                f"    {dump(row)}{',' if i < len(rows) - 1 else ''}" for i, row in enumerate(rows)
            ]
            lines.append("   ]")
            lines.append("  }" + ("," if t_index < len(tables) - 1 else ""))
        lines += [" }", "}"]
        return "\n".join(lines).encode()

    @staticmethod
    def summary(document: dict[str, Any]) -> ExportSummary:
        tables = document["tables"]

        def rows(name: str) -> list[dict[str, Any]]:
            return list(tables.get(name, {}).get("rows", []))

        feedback = rows("feedback")
        return ExportSummary(
            subscriptions=len(rows("subscriptions")),
            questions=sum(1 for r in rows("usage_events") if r.get("kind") == "question"),
            votes=sum(1 for r in feedback if r.get("kind") == "vote"),
            remarks=sum(1 for r in feedback if r.get("kind") != "vote"),
            registrations=len(rows("registrations")),
            messages=len(rows("outbox")),
            handovers=sum(1 for r in rows("handover_questions") if r.get("state") != "draft"),
        )

    # -- erasure ---------------------------------------------------------------------------

    async def erase(
        self,
        user_ids: Sequence[int],
        *,
        actor: str,
        actor_id: int | None = None,
        action: str = "erase",
        now: dt.datetime | None = None,
    ) -> Erasure:
        """Erases the people in one transaction and writes it in the audit log."""
        now = now or utcnow()
        async with self._sessions.begin() as session:
            result = await self._erase(session, user_ids, now)
            if result.people:
                subject = (
                    pseudonym(user_ids[0]) if len(user_ids) == 1 else f"{result.people} people"
                )
                session.add(
                    AuditEntry(
                        at=now, actor_id=actor_id, actor=actor, action=action, subject=subject
                    )
                )
        return result

    async def _erase(
        self, session: AsyncSession, user_ids: Sequence[int], now: dt.datetime
    ) -> Erasure:
        people = await self._people(session, user_ids, now)
        result = Erasure(people=len(people.ids))
        if not people.ids:
            return result
        for table, policy in ordered(Base.metadata):
            changed = await policy.erase(session, table, people)
            if changed:
                result.rows[table.name] = changed
        return result

    # -- retention -------------------------------------------------------------------------

    async def run_retention(self, now: dt.datetime | None = None) -> RetentionRun:
        """Erases patrons inactive for longer than the retention period, clears the text of
        old unanswered questions and the person of old workshop registrations."""
        now = now or utcnow()
        policy = self.retention
        run = RetentionRun()
        inactive_since = now - dt.timedelta(days=policy.inactive_days)
        while True:
            async with self._sessions.begin() as session:
                due = list(
                    await session.scalars(
                        select(User.id)
                        .where(User.role == "patron", User.last_seen_at < inactive_since)
                        .order_by(User.id)
                        .limit(RETENTION_BATCH)
                    )
                )
                erased = (await self._erase(session, due, now)).people if due else 0
            if not erased:
                break
            run.erased += erased
        text_before = now - dt.timedelta(days=policy.question_text_days)
        async with self._sessions.begin() as session:
            result = await session.execute(
                update(UsageEvent)
                .where(
                    UsageEvent.kind == "question",
                    # compared in the zone ``day`` is in: the UTC date is the next day's
                    # from 00:00 to 01:00 or 02:00 in Paris, and kept texts a day too long
                    UsageEvent.day < text_before.astimezone(self.tz).date(),
                    UsageEvent.raw_text.is_not(None),
                )
                .values(raw_text=None)
            )
            run.question_texts = affected(result)
            result = await session.execute(
                delete(HandoverQuestion).where(
                    HandoverQuestion.state == "draft", HandoverQuestion.created_at < text_before
                )
            )
            run.handover_drafts = affected(result)
            run.registrations = await self._detach_old_registrations(session, now)
            if run.erased or run.question_texts or run.registrations or run.handover_drafts:
                session.add(
                    AuditEntry(
                        at=now,
                        actor="retention",
                        action="retention",
                        subject=f"{run.erased} people",
                        detail=(
                            f"question texts {run.question_texts}, drafts "
                            f"{run.handover_drafts}, registrations {run.registrations}"
                        ),
                    )
                )
        log.info(
            "retention: %d people erased, %d question texts, %d drafts, %d registrations",
            run.erased,
            run.question_texts,
            run.handover_drafts,
            run.registrations,
        )
        return run

    async def _detach_old_registrations(self, session: AsyncSession, now: dt.datetime) -> int:
        """Registrations (and attendance) of workshops over for PLUME_REGISTRATION_DAYS keep
        their counts and lose the person; their reminders, long done, go."""
        before = now - dt.timedelta(days=self.retention.registration_days)
        # a workshop is over at its start plus its duration; durations are at most a day
        # here, so the start a day earlier than the limit is the portable condition
        old = select(Workshop.id).where(Workshop.starts_at < before - dt.timedelta(days=1))
        theirs = select(Registration.id).where(
            Registration.workshop_id.in_(old), Registration.user_id.is_not(None)
        )
        await session.execute(delete(Reminder).where(Reminder.registration_id.in_(theirs)))
        result = await session.execute(
            update(Registration)
            .where(Registration.workshop_id.in_(old), Registration.user_id.is_not(None))
            .values(user_id=None)
        )
        return affected(result)

    # -- audit -----------------------------------------------------------------------------

    async def audit(
        self,
        action: str,
        *,
        actor: str,
        actor_id: int | None = None,
        subjects: Sequence[str] = ("",),
        detail: str = "",
    ) -> None:
        """One line per person concerned (``subjects``, pseudonyms) for a staff access."""
        now = utcnow()
        async with self._sessions.begin() as session:
            for subject in subjects:
                session.add(
                    AuditEntry(
                        at=now,
                        actor_id=actor_id,
                        actor=actor[:40],
                        action=action[:40],
                        subject=subject[:40],
                        detail=detail[:200],
                    )
                )

    async def audit_lines(self, limit: int = 200) -> list[AuditLine]:
        async with self._sessions() as session:
            rows = await session.scalars(
                select(AuditEntry)
                .order_by(AuditEntry.at.desc(), AuditEntry.id.desc())
                .limit(limit)
            )
            return [AuditLine(r.at, r.actor, r.action, r.subject, r.detail) for r in rows]

    async def audit_count(self) -> int:
        async with self._sessions() as session:
            return await session.scalar(select(func.count(AuditEntry.id))) or 0
