"""Patrons, staff and their roles."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

from sqlalchemy import Row, bindparam, insert, select, update

from storage.db import SessionFactory, engine_of, execute_alone, outside_transaction
from storage.models import ROLES, Library, User, utcnow

PRIVILEGED_ROLES = ("staff", "coordinator", "admin")
ROLE_RANK = {role: rank for rank, role in enumerate(ROLES)}
LAST_SEEN_GRANULARITY = dt.timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class Person:
    """What a handler needs to know of the person it talks to."""

    id: int
    telegram_id: int
    first_name: str
    language: str
    library_id: str | None
    role: str
    onboarded: bool
    reachable: bool

    def has_role(self, minimum: str) -> bool:
        """Roles are ordered patron < staff < coordinator < admin."""
        return ROLE_RANK[self.role] >= ROLE_RANK[minimum]

    @property
    def privileged(self) -> bool:
        return self.role in PRIVILEGED_ROLES


def _person(user: User) -> Person:
    return Person(
        id=user.id,
        telegram_id=user.telegram_id,
        first_name=user.first_name,
        language=user.language,
        library_id=user.library_id,
        role=user.role,
        onboarded=user.onboarded,
        reachable=user.reachable,
    )


#: what ``touch`` reads of the person behind every update: the columns, and the statement
#: (built once: SQLAlchemy finds its compiled form without working out its cache key again).
#: ``bot.persistence`` reads the same columns with the conversation states (``read_ahead``).
TOUCHED_COLUMNS = (
    User.id,
    User.first_name,
    User.language,
    User.library_id,
    User.role,
    User.onboarded,
    User.reachable,
    User.last_seen_at,
)
_TOUCHED = select(*TOUCHED_COLUMNS).where(User.telegram_id == bindparam("telegram_id"))
#: a row holding those columns (alone, or with others after them)
PersonRow: TypeAlias = Row[*tuple[Any, ...]]


class RoleError(ValueError):
    """A role change that is not allowed (unknown role, unknown user, last admin...)."""


def unreachable(telegram_ids: Iterable[int]) -> Any:
    """The one statement that records people Telegram says we cannot reach (blocked Plume,
    deactivated): run by the outbox for its sends and by the replies' error handler."""
    return (
        update(User)
        .where(User.telegram_id.in_(sorted(set(telegram_ids))), User.reachable.is_(True))
        .values(reachable=False)
    )


class UserService:
    def __init__(self, sessions: SessionFactory, admins: tuple[int, ...] = ()) -> None:
        self._sessions = sessions
        self._engine = engine_of(sessions)
        self._admins = frozenset(admins)
        #: a person's ``TOUCHED_COLUMNS`` read for the update being handled (None: nobody)
        self._read_ahead: dict[int, PersonRow | None] = {}

    def read_ahead(self, telegram_id: int, row: PersonRow | None) -> None:
        """The person's row (``TOUCHED_COLUMNS``) as another statement of this update just
        read it, before the handlers run: their ``touch`` uses it instead of reading again.
        The update's end forgets it (:meth:`forget_read_ahead`) if nothing used it."""
        self._read_ahead[telegram_id] = row

    def forget_read_ahead(self, telegram_id: int) -> None:
        self._read_ahead.pop(telegram_id, None)

    async def touch(self, telegram_id: int, first_name: str, language: str) -> tuple[Person, bool]:
        """The person behind an update, created on first contact; last seen is refreshed.

        ``language`` is only used for a new person: afterwards their choice in /settings wins.
        The flag tells when they just became an administrator through ``PLUME_ADMINS``.

        Every update starts here, so the usual case is one read outside a transaction (the
        columns, no ORM object); a write follows only when something changed (last seen at
        most once a minute, a new first name, reachable again, a promotion), as one UPDATE
        of those columns alone.
        """
        row: PersonRow | None
        if telegram_id in self._read_ahead:  # read with the conversation states
            row = self._read_ahead.pop(telegram_id)
        else:
            async with outside_transaction(self._engine) as connection:
                row = (await connection.execute(_TOUCHED, {"telegram_id": telegram_id})).first()
        if row is None:
            return await self._create(telegram_id, first_name, language)
        now = utcnow()
        changes: dict[str, object] = {}
        if telegram_id in self._admins and row.role != "admin":
            changes["role"] = "admin"
        if row.last_seen_at + LAST_SEEN_GRANULARITY < now:
            changes["last_seen_at"] = now
        if not row.reachable:
            changes["reachable"] = True  # they wrote to us, so they unblocked the bot
        if first_name and row.first_name != first_name[:200]:
            changes["first_name"] = first_name[:200]
        if changes:
            await execute_alone(
                self._engine, update(User).where(User.id == row.id).values(changes)
            )
        person = Person(
            id=row.id,
            telegram_id=telegram_id,
            first_name=first_name[:200] if "first_name" in changes else row.first_name,
            language=row.language,
            library_id=row.library_id,
            role="admin" if "role" in changes else row.role,
            onboarded=row.onboarded,
            reachable=True,  # reachable again if it was not (above)
        )
        return person, "role" in changes

    async def _create(
        self, telegram_id: int, first_name: str, language: str
    ) -> tuple[Person, bool]:
        now = utcnow()
        role = "admin" if telegram_id in self._admins else "patron"
        values = {"first_name": first_name[:200], "language": language, "role": role}
        (created,) = await execute_alone(
            self._engine,
            insert(User)
            .values(telegram_id=telegram_id, created_at=now, last_seen_at=now, **values)
            .returning(User.id, User.library_id, User.onboarded, User.reachable),
        )
        person = Person(
            id=created.id,
            telegram_id=telegram_id,
            first_name=values["first_name"],
            language=language,
            library_id=created.library_id,
            role=role,
            onboarded=created.onboarded,
            reachable=created.reachable,
        )
        return person, role == "admin"

    async def get(self, telegram_id: int) -> Person | None:
        async with self._sessions() as session:
            user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
            return _person(user) if user else None

    async def get_by_id(self, user_id: int) -> Person | None:
        async with self._sessions() as session:
            user = await session.get(User, user_id)
            return _person(user) if user else None

    async def set_language(self, telegram_id: int, language: str) -> None:
        await self._update(telegram_id, language=language)

    async def set_library(self, telegram_id: int, library_id: str) -> Library | None:
        """Remembers the home library; None when that library does not exist."""
        async with self._sessions.begin() as session:
            library = await session.get(Library, library_id)
            if library is None:
                return None
            await session.execute(
                update(User)
                .where(User.telegram_id == telegram_id)
                .values(library_id=library_id, onboarded=True)
            )
            return library

    async def seed(
        self,
        telegram_id: int,
        first_name: str,
        language: str,
        role: str,
        library_id: str | None,
    ) -> Person:
        """Creates or resets a person with a role (sandbox and demo accounts)."""
        await self.touch(telegram_id, first_name, language)
        await self._update(
            telegram_id,
            role=role,
            language=language,
            library_id=library_id,
            onboarded=library_id is not None,
        )
        updated = await self.get(telegram_id)
        assert updated is not None
        return updated

    async def mark_unreachable(self, telegram_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(unreachable([telegram_id]))

    async def set_role(self, actor: Person, telegram_id: int, role: str) -> Person:
        """An administrator grants or revokes (``patron``) a role."""
        if not actor.has_role("admin"):
            raise RoleError("only administrators change roles")
        if role not in ROLES:
            raise RoleError(f"unknown role {role!r}")
        if telegram_id in self._admins and role != "admin":
            raise RoleError("this administrator is set by PLUME_ADMINS")
        async with self._sessions.begin() as session:
            user = await session.scalar(select(User).where(User.telegram_id == telegram_id))
            if user is None:
                raise RoleError("unknown user")
            if user.role == "admin" and role != "admin":
                admins = await session.scalars(select(User.id).where(User.role == "admin"))
                if len(admins.all()) <= 1:
                    raise RoleError("the last administrator cannot be removed")
            user.role = role
            return _person(user)

    async def privileged(self) -> list[Person]:
        """Everyone with a role above patron (for their command menus)."""
        async with self._sessions() as session:
            users = await session.scalars(
                select(User).where(User.role.in_(PRIVILEGED_ROLES)).order_by(User.id)
            )
            return [_person(u) for u in users]

    async def staff_for(self, library_id: str | None) -> list[Person]:
        """Staff of a library, or the network's staff when it has none (or no library)."""
        async with self._sessions() as session:
            query = select(User).where(User.role.in_(PRIVILEGED_ROLES), User.reachable.is_(True))
            if library_id:
                local = (await session.scalars(query.where(User.library_id == library_id))).all()
                if local:
                    return [_person(u) for u in local]
            return [_person(u) for u in (await session.scalars(query)).all()]

    async def _update(self, telegram_id: int, **values: object) -> None:
        async with self._sessions.begin() as session:
            await session.execute(
                update(User).where(User.telegram_id == telegram_id).values(**values)
            )
