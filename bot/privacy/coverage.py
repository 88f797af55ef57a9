"""What every table holds of a person, and how export and erasure treat it: one table.

Export (``/mes_donnees``) and erasure (``/oublier``, retention, an administrator's erasure)
are both derived from the models' metadata: they walk ``Base.metadata.sorted_tables`` and
apply the policy :data:`POLICIES` gives each table. :func:`uncovered` lists what the
metadata holds that the table does not cover — a table without a policy, a column referring
to ``users`` that its policy does not name, a table whose rows hang on erased rows — and a
test fails while it is not empty: a table that refers to a person cannot be added silently.

How a table may refer to a person (:class:`Key`): the internal id (``users.id``, through a
foreign key), the Telegram id (``person_state.user_id``, ``outbox.chat_id``), the
conversation key (``[chat_id, user_id]``), the statistics actor (``usage_events.actor``,
linked only through ``usage_actors``).

What erasure does to a row (:class:`Action`): delete it; detach it (the column referring to
the person becomes NULL and their free text is replaced, so counts stay: a vote, a rating, a
registration still counts and names nobody); scrub it (only the free text goes: the
statistics events keep their actor number, which nothing links to anyone once
``usage_actors`` has lost the person's row).
"""

from __future__ import annotations

import datetime as dt
import enum
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Column, ColumnElement, MetaData, Table, delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from storage.db import affected

#: what replaces a comment of an erased person (kept so the count of comments stays);
#: listings of comments leave it out
ERASED_TEXT: Final = "[effacé]"
#: outbox rows *about* a person sent to someone else carry ``ref = "person:<users.id>"``
PERSON_REF: Final = "person:"
_CHUNK = 500
Row = dict[str, Any]


class Key(enum.Enum):
    USER = "users.id"
    TELEGRAM = "Telegram id"
    ACTOR = "statistics actor"


class Action(enum.Enum):
    DELETE = "delete the row"
    DETACH = "clear the link, replace the free text, keep the row for the counts"
    SCRUB = "clear the free text, keep the row (unlinkable once the actor link is gone)"


@dataclass(frozen=True)
class People:
    """The persons being exported or erased, in every form a table may refer to them."""

    ids: tuple[int, ...]
    telegram_ids: tuple[int, ...]
    actors: tuple[int, ...]
    now: dt.datetime

    def values(self, key: Key) -> tuple[int, ...]:
        if key is Key.USER:
            return self.ids
        if key is Key.TELEGRAM:
            return self.telegram_ids
        return self.actors


@dataclass(frozen=True)
class Link:
    """One column of a table that refers to a person."""

    column: str
    key: Key
    action: Action
    #: columns set on erasure (DETACH, SCRUB): a value, or ERASED_TEXT for non-empty text
    scrub: Mapping[str, Any] = field(default_factory=dict)


class Policy:
    """How one table is exported and erased; the base class holds no personal data."""

    #: why the table holds what it holds (README, register, export)
    purpose: str = ""
    #: run before the tables erased by the default phase (they read links others delete)
    phase: int = 1

    def columns(self) -> set[str]:
        """The columns that refer to a person (checked against the foreign keys)."""
        return set()

    def parents(self) -> set[str]:
        """Tables whose erased rows this table's rows hang on (checked against the FKs)."""
        return set()

    async def export(self, session: AsyncSession, table: Table, people: People) -> list[Row]:
        return []

    async def erase(self, session: AsyncSession, table: Table, people: People) -> int:
        return 0


class NoPerson(Policy):
    def __init__(self, purpose: str) -> None:
        self.purpose = purpose


def _chunks(values: Sequence[int]) -> list[Sequence[int]]:
    return [values[i : i + _CHUNK] for i in range(0, len(values), _CHUNK)]


def _scrub_values(table: Table, scrub: Mapping[str, Any]) -> dict[str, Any]:
    from sqlalchemy import case

    values: dict[str, Any] = {}
    for name, value in scrub.items():
        column = table.c[name]
        if value is ERASED_TEXT:
            values[name] = case((column != "", ERASED_TEXT), else_=column)
        else:
            values[name] = value
    return values


class ByColumns(Policy):
    """Rows found by one or more columns naming the person (see :class:`Link`)."""

    def __init__(self, purpose: str, *links: Link, phase: int = 1) -> None:
        self.purpose = purpose
        self.links = links
        self.phase = phase

    def columns(self) -> set[str]:
        return {link.column for link in self.links}

    def _match(self, table: Table, people: People) -> ColumnElement[bool] | None:
        from sqlalchemy import or_

        conditions = [
            table.c[link.column].in_(people.values(link.key))
            for link in self.links
            if people.values(link.key)
        ]
        return or_(*conditions) if conditions else None

    async def export(self, session: AsyncSession, table: Table, people: People) -> list[Row]:
        match = self._match(table, people)
        if match is None:
            return []
        rows = await session.execute(select(table).where(match).order_by(*table.primary_key))
        return [dict(row._mapping) for row in rows]

    async def erase(self, session: AsyncSession, table: Table, people: People) -> int:
        changed = 0
        for link in self.links:
            column = table.c[link.column]
            for chunk in _chunks(people.values(link.key)):
                if link.action is Action.DELETE:
                    statement: Any = delete(table).where(column.in_(chunk))
                else:
                    values = _scrub_values(table, link.scrub)
                    if link.action is Action.DETACH:
                        values[link.column] = None
                    statement = update(table).where(column.in_(chunk)).values(**values)
                    if link.action is Action.SCRUB:
                        statement = statement.where(_any_not_null(table, link.scrub))
                result = await session.execute(statement)
                changed += affected(result)
        return changed


def _any_not_null(table: Table, scrub: Mapping[str, Any]) -> ColumnElement[bool]:
    from sqlalchemy import or_

    return or_(*(table.c[name].is_not(None) for name in scrub))


class Reminders(Policy):
    """Reminders hang on registrations: a person's go with them (nothing else names them)."""

    purpose = "workshop reminders and rating requests planned for a registration"

    def parents(self) -> set[str]:
        return {"registrations"}

    def _theirs(self, table: Table, people: People, chunk: Sequence[int]) -> Any:
        registrations = table.metadata.tables["registrations"]
        return table.c.registration_id.in_(
            select(registrations.c.id).where(registrations.c.user_id.in_(chunk))
        )

    async def export(self, session: AsyncSession, table: Table, people: People) -> list[Row]:
        rows = await session.execute(
            select(table).where(self._theirs(table, people, people.ids)).order_by(table.c.id)
        )
        return [dict(row._mapping) for row in rows]

    async def erase(self, session: AsyncSession, table: Table, people: People) -> int:
        changed = 0
        for chunk in _chunks(people.ids):
            result = await session.execute(delete(table).where(self._theirs(table, people, chunk)))
            changed += affected(result)
        return changed


class HandoverMessages(Policy):
    """The messages of a handover thread hang on its question: a patron's go with their
    questions; a person's own messages in other threads go too (a message names its
    author)."""

    purpose = "the messages of a thread between a patron and a librarian"

    def columns(self) -> set[str]:
        return {"author_id"}

    def parents(self) -> set[str]:
        return {"handover_questions"}

    def _theirs(self, table: Table, chunk: Sequence[int]) -> Any:
        from sqlalchemy import or_

        questions = table.metadata.tables["handover_questions"]
        return or_(
            table.c.author_id.in_(chunk),
            table.c.question_id.in_(select(questions.c.id).where(questions.c.user_id.in_(chunk))),
        )

    async def export(self, session: AsyncSession, table: Table, people: People) -> list[Row]:
        rows = await session.execute(
            select(table).where(self._theirs(table, people.ids)).order_by(table.c.id)
        )
        return [dict(row._mapping) for row in rows]

    async def erase(self, session: AsyncSession, table: Table, people: People) -> int:
        changed = 0
        for chunk in _chunks(people.ids):
            result = await session.execute(delete(table).where(self._theirs(table, chunk)))
            changed += affected(result)
        return changed


class Registrations(ByColumns):
    """A registration to a workshop still to come is deleted (the seat is freed); one to a
    workshop that has begun loses the person and keeps its status and attendance."""

    def __init__(self, purpose: str) -> None:
        super().__init__(purpose, Link("user_id", Key.USER, Action.DETACH))

    async def erase(self, session: AsyncSession, table: Table, people: People) -> int:
        workshops = table.metadata.tables["workshops"]
        changed = 0
        for chunk in _chunks(people.ids):
            upcoming = select(workshops.c.id).where(workshops.c.starts_at > people.now)
            result = await session.execute(
                delete(table).where(table.c.user_id.in_(chunk), table.c.workshop_id.in_(upcoming))
            )
            changed += affected(result)
        return changed + await super().erase(session, table, people)


class Outbox(Policy):
    """Messages to the person (by chat id) and about them (``ref`` ``person:<id>``): not yet
    sent ones are deleted, sent ones keep their state for the campaign counts but lose the
    chat, the text and anything that could name the person."""

    phase = 0

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose

    def _match(self, table: Table, people: People) -> ColumnElement[bool]:
        from sqlalchemy import or_

        refs = [f"{PERSON_REF}{i}" for i in people.ids]
        return or_(table.c.chat_id.in_(people.telegram_ids), table.c.ref.in_(refs))

    async def export(self, session: AsyncSession, table: Table, people: People) -> list[Row]:
        rows = await session.execute(
            select(table.c.created_at, table.c.kind, table.c.state, table.c.sent_at)
            .add_columns(table.c.payload)
            .where(table.c.chat_id.in_(people.telegram_ids))
            .order_by(table.c.id)
        )
        found = []
        for row in rows:
            record = dict(row._mapping)
            try:
                payload = json.loads(record.pop("payload") or "{}")
            except ValueError:
                payload = {}
            record["text"] = payload.get("text") or payload.get("caption") or ""
            found.append(record)
        return found

    async def erase(self, session: AsyncSession, table: Table, people: People) -> int:
        changed = 0
        for ids, tids in _paired_chunks(people):
            chunk = People(tuple(ids), tuple(tids), (), people.now)
            match = self._match(table, chunk)
            result = await session.execute(
                delete(table).where(match, table.c.state.in_(("pending", "sending")))
            )
            changed += affected(result)
            result = await session.execute(
                update(table)
                .where(match)
                .values(
                    chat_id=0,
                    payload="{}",
                    dedupe_key=None,
                    ref=None,
                    last_error=None,
                    message_id=None,
                )
            )
            changed += affected(result)
        return changed


def _paired_chunks(people: People) -> list[tuple[Sequence[int], Sequence[int]]]:
    return [
        (people.ids[i : i + _CHUNK], people.telegram_ids[i : i + _CHUNK])
        for i in range(0, max(len(people.ids), len(people.telegram_ids)), _CHUNK)
    ]


def conversation_key(telegram_id: int) -> str:
    """The stored key of a private chat's conversations (``[chat_id, user_id]``)."""
    return json.dumps([telegram_id, telegram_id])


class Conversations(Policy):
    """Where the person is in a form (python-telegram-bot's ConversationHandler states)."""

    phase = 0

    def __init__(self, purpose: str) -> None:
        self.purpose = purpose

    async def export(self, session: AsyncSession, table: Table, people: People) -> list[Row]:
        keys = [conversation_key(t) for t in people.telegram_ids]
        rows = await session.execute(select(table).where(table.c.key.in_(keys)))
        return [dict(row._mapping) for row in rows]

    async def erase(self, session: AsyncSession, table: Table, people: People) -> int:
        changed = 0
        for chunk in _chunks(people.telegram_ids):
            keys = [conversation_key(t) for t in chunk]
            result = await session.execute(delete(table).where(table.c.key.in_(keys)))
            changed += affected(result)
        return changed


_TEXT = ERASED_TEXT

POLICIES: Final[dict[str, Policy]] = {
    # -- the catalogue and the network: nobody in them ------------------------------------
    "libraries": NoPerson("the network's libraries (imported)"),
    "resources": NoPerson("the digital resources (imported)"),
    "items": NoPerson("the catalogue (imported)"),
    "faq_entries": NoPerson("the FAQ (imported, or taught by staff without their name)"),
    "embeddings": NoPerson("vectors of FAQ entries and resources"),
    "workshops": NoPerson("workshops (created by staff; no author kept)"),
    "platform_usage": NoPerson("the providers' usage figures, per resource and month"),
    "meta": NoPerson("small shared facts (catalogue version...)"),
    "outbox_leases": NoPerson("which instance drains the outbox"),
    "handled_updates": NoPerson("update ids already handled (no chat, no user, no text)"),
    # -- the person ------------------------------------------------------------------------
    "users": ByColumns(
        "the person: Telegram id, language, library, role, first and last contact; a first "
        "name only for staff (shown to other staff)",
        Link("id", Key.USER, Action.DELETE),
        phase=2,
    ),
    "person_state": ByColumns(
        "drafts and prompts the person is in the middle of (python-telegram-bot user_data)",
        Link("user_id", Key.TELEGRAM, Action.DELETE),
        phase=0,
    ),
    "conversation_states": Conversations("where the person is in a form"),
    "subscriptions": ByColumns(
        "the announcements the person chose", Link("user_id", Key.USER, Action.DELETE)
    ),
    "announcements": ByColumns(
        "announcements written by staff (the author is cleared, the text is the library's)",
        Link("author_id", Key.USER, Action.DETACH),
    ),
    "handover_questions": ByColumns(
        "questions passed to the librarians, and their answers",
        Link("user_id", Key.USER, Action.DELETE),
        Link("answered_by", Key.USER, Action.DETACH),
        Link("taken_by", Key.USER, Action.DETACH),
    ),
    "handover_messages": HandoverMessages(),
    "feedback": ByColumns(
        "votes, ratings, remarks and survey answers (counted in the statistics)",
        Link("user_id", Key.USER, Action.DETACH, {"comment": _TEXT, "contact_ok": False}),
    ),
    "registrations": Registrations("workshop registrations and attendance (counted)"),
    "reminders": Reminders(),
    "usage_actors": ByColumns(
        "the only link between a person and their statistics events",
        Link("user_id", Key.USER, Action.DELETE),
    ),
    "usage_events": ByColumns(
        "statistics events (no user id: a random actor number); questions' text",
        Link("actor", Key.ACTOR, Action.SCRUB, {"query": None, "raw_text": None}),
        phase=0,
    ),
    "outbox": Outbox("messages Plume sends on its own initiative, before and after sending"),
    "audit_log": ByColumns(
        "who among staff accessed whose data, when (the staff member is cleared on erasure)",
        Link("actor_id", Key.USER, Action.DETACH),
    ),
    "contact_threads": ByColumns(
        "a coordinator writing to a patron who agreed to be contacted (no message kept)",
        Link("staff_id", Key.USER, Action.DELETE),
        Link("patron_id", Key.USER, Action.DELETE),
    ),
}

#: names of columns that suggest a person in a table said to hold nobody
_SUSPECT_NAMES: Final = (
    "user_id",
    "telegram_id",
    "chat_id",
    "first_name",
    "last_name",
    "username",
    "author_id",
    "actor",
    "phone",
    "email",
)
#: tables said to hold nobody although a column name looks like a person (why not)
_NOT_A_PERSON: Final = {
    ("libraries", "phone"): "the library's phone number",
    ("libraries", "email"): "the library's address",
}


def _refers_to(column: Column[Any], table: str) -> bool:
    return any(fk.column.table.name == table for fk in column.foreign_keys)


def _deletes_rows(policy: Policy | None) -> bool:
    if isinstance(policy, Registrations):
        return True
    return isinstance(policy, ByColumns) and any(
        link.action is Action.DELETE for link in policy.links
    )


def uncovered(metadata: MetaData, policies: Mapping[str, Policy] = POLICIES) -> list[str]:
    """What export and erasure would miss in ``metadata`` (empty when everything is covered)."""
    problems = []
    for table in metadata.sorted_tables:
        policy = policies.get(table.name)
        if policy is None:
            problems.append(f"{table.name}: no privacy policy (bot/privacy/coverage.py)")
            continue
        named = policy.columns()
        for column in table.columns:
            if column.name in named:
                continue
            if _refers_to(column, "users"):
                problems.append(f"{table.name}.{column.name} refers to users, not covered")
            elif isinstance(policy, NoPerson) and (
                column.name in _SUSPECT_NAMES and (table.name, column.name) not in _NOT_A_PERSON
            ):
                problems.append(f"{table.name}.{column.name} looks personal in a NoPerson table")
        for column in table.columns:
            for fk in column.foreign_keys:
                parent = fk.column.table.name
                if parent == "users" or not _deletes_rows(policies.get(parent)):
                    continue
                if parent not in policy.parents() and fk.ondelete not in ("CASCADE", "SET NULL"):
                    problems.append(
                        f"{table.name}.{column.name}: rows of {parent} are deleted on erasure, "
                        "this table's rows that hang on them are not"
                    )
        problems += [
            f"{table.name}.{name}: named by its policy, not in the table"
            for name in named
            if name not in table.columns
        ]
    problems += [
        f"{name}: a policy for a table that does not exist"
        for name in policies
        if name not in metadata.tables
    ]
    return problems


def ordered(metadata: MetaData) -> list[tuple[Table, Policy]]:
    """Tables with their policies in erasure order: by phase, dependents first."""
    tables = list(reversed(metadata.sorted_tables))
    pairs = [(table, POLICIES[table.name]) for table in tables]
    return sorted(pairs, key=lambda pair: pair[1].phase)
