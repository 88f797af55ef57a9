"""Conversation state in the database: python-telegram-bot's persistence, backed by SQLAlchemy.

PTB keeps ConversationHandler states and ``user_data`` in memory and, with a persistence,
loads them once at start and writes them back every minute. That is enough for one process
that restarts; with several instances behind a load balancer each keeps its own stale copy.
So here every update is bracketed, inside the gate's per-chat lock (:mod:`bot.webhook.gate`):

* before: the person's conversation states are read from ``conversation_states`` into the
  handlers' dicts (:func:`load_conversations_for`), and ``user_data`` is re-read by PTB's own
  hook :meth:`DatabasePersistence.refresh_user_data`;
* after: :meth:`Application.update_persistence` writes what the handlers changed, at once.

Only what changed is written (the last JSON read or written is remembered). Values are JSON
with tagged tuples, datetimes and the registered dataclasses (:data:`STATE_TYPES`): nothing
is pickled, and a value of an unknown type is logged and left out rather than failing the
update. ``chat_data``, ``bot_data`` and callback data are not stored (``bot_data`` holds
engines, which are rebuilt at start).

Known limit: a conversation timeout is a job of the instance that handled the last update;
it fires there only (after a restart it does not fire at all; the form then waits).
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
from typing import Any

from sqlalchemy import String, Text, bindparam, cast, delete, null, select, union_all
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from telegram import Update
from telegram.ext import BasePersistence, PersistenceInput
from telegram.ext._utils.types import ConversationDict, ConversationKey

from bot.context import AnyApplication
from bot.users import TOUCHED_COLUMNS, UserService
from bot.workshops.service import Draft
from storage.db import SessionFactory, outside_transaction
from storage.models import User, utcnow
from storage.webhook import ConversationState, PersonState

log = logging.getLogger(__name__)

#: dataclasses that may be kept in user_data, by a stable name (renaming a class keeps it)
STATE_TYPES: dict[str, type] = {"workshop.Draft": Draft}
_NAME_OF = {cls: name for name, cls in STATE_TYPES.items()}


class UnstorableValue(TypeError):
    pass


def _encode(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, list):
        return [_encode(item) for item in value]
    if isinstance(value, tuple):
        return {"__tuple__": [_encode(item) for item in value]}
    if isinstance(value, dict):
        if not all(isinstance(key, str) for key in value):
            raise UnstorableValue("dict keys must be strings")
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, dt.datetime):
        return {"__datetime__": value.isoformat()}
    if isinstance(value, dt.date):
        return {"__date__": value.isoformat()}
    name = _NAME_OF.get(type(value))
    if name is not None and dataclasses.is_dataclass(value):
        fields = {f.name: _encode(getattr(value, f.name)) for f in dataclasses.fields(value)}
        return {"__dataclass__": name, "fields": fields}
    raise UnstorableValue(f"{type(value).__qualname__} is not registered in STATE_TYPES")


def _decode(value: Any) -> Any:
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if not isinstance(value, dict):
        return value
    if "__tuple__" in value:
        return tuple(_decode(item) for item in value["__tuple__"])
    if "__datetime__" in value:
        return dt.datetime.fromisoformat(value["__datetime__"])
    if "__date__" in value:
        return dt.date.fromisoformat(value["__date__"])
    if "__dataclass__" in value:
        cls = STATE_TYPES[value["__dataclass__"]]
        known = {f.name for f in dataclasses.fields(cls)}
        fields = {k: _decode(v) for k, v in value["fields"].items() if k in known}
        return cls(**fields)
    return {key: _decode(item) for key, item in value.items()}


def dump_user_data(user_id: int, data: dict[str, Any]) -> str:
    """JSON of ``data``; a value that cannot be stored is left out (and logged)."""
    kept: dict[str, Any] = {}
    for key, value in data.items():
        try:
            kept[str(key)] = _encode(value)
        except UnstorableValue as error:
            log.error("user_data[%r] of %s not stored: %s", key, user_id, error)
    return json.dumps(kept, sort_keys=True, ensure_ascii=False)


def load_user_data(text: str) -> dict[str, Any]:
    loaded = _decode(json.loads(text))
    return loaded if isinstance(loaded, dict) else {}


#: what every update reads of its person, in one statement (built once: SQLAlchemy then finds
#: its compiled form without working out the statement's cache key again each update): the
#: person's row (``bot.users.TOUCHED_COLUMNS``, for ``UserService.touch``), their
#: conversation states and their user_data. One row shape for the three: the person's
#: columns, then a conversation's name and state (NULL where a row has none). The person's
#: branch comes first: its columns give the result its types (booleans and aware datetimes
#: on SQLite too), and every NULL is cast, as PostgreSQL types a UNION's columns branch by
#: branch.
_PERSON_NULLS = [cast(null(), column.type) for column in TOUCHED_COLUMNS]
_STATES = union_all(
    select(
        *TOUCHED_COLUMNS,
        cast(null(), String(64)).label("name"),
        cast(null(), Text).label("state"),
    ).where(User.telegram_id == bindparam("user_id")),
    select(*_PERSON_NULLS, ConversationState.name, ConversationState.state).where(
        ConversationState.key == bindparam("key")
    ),
    select(*_PERSON_NULLS, cast(null(), String(64)), PersonState.data).where(
        PersonState.user_id == bindparam("user_id")
    ),
)


def _key_text(key: ConversationKey) -> str:
    return json.dumps(list(key))


class DatabasePersistence(BasePersistence[dict[str, Any], dict[str, Any], dict[str, Any]]):
    def __init__(
        self,
        sessions: SessionFactory,
        engine: AsyncEngine,
        users: UserService | None = None,
        update_interval: float = 60,
    ) -> None:
        super().__init__(
            store_data=PersistenceInput(
                bot_data=False, chat_data=False, user_data=True, callback_data=False
            ),
            update_interval=update_interval,
        )
        self._sessions = sessions
        self._engine = engine
        self._users = users  # given the person's row read with the states
        self._postgres = engine.dialect.name == "postgresql"
        self._insert = postgresql.insert if self._postgres else sqlite.insert
        self._stored_user: dict[int, str] = {}
        self._stored_state: dict[tuple[str, str], str | None] = {}
        self._prefetched: dict[int, str | None] = {}

    # -- user_data --------------------------------------------------------------------------

    async def get_user_data(self) -> dict[int, dict[str, Any]]:
        return {}  # read per update (refresh_user_data), never all at once

    async def refresh_user_data(self, user_id: int, user_data: dict[str, Any]) -> None:
        if user_id in self._prefetched:  # read with the conversation states, just before
            text = self._prefetched.pop(user_id)
        else:
            async with self._sessions() as session:
                text = await session.scalar(
                    select(PersonState.data).where(PersonState.user_id == user_id)
                )
        self._stored_user[user_id] = text if text is not None else "{}"
        user_data.clear()
        if text is not None:
            user_data.update(load_user_data(text))

    async def update_user_data(self, user_id: int, data: dict[str, Any]) -> None:
        text = dump_user_data(user_id, data)
        if self._stored_user.get(user_id) == text:
            return
        now = utcnow()
        async with self._sessions.begin() as session:
            if text == "{}":
                await session.execute(delete(PersonState).where(PersonState.user_id == user_id))
            else:
                statement = self._insert(PersonState).values(
                    user_id=user_id, data=text, updated_at=now
                )
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["user_id"], set_={"data": text, "updated_at": now}
                    )
                )
        self._stored_user[user_id] = text

    async def drop_user_data(self, user_id: int) -> None:
        async with self._sessions.begin() as session:
            await session.execute(delete(PersonState).where(PersonState.user_id == user_id))
        self._stored_user.pop(user_id, None)

    # -- conversations ----------------------------------------------------------------------

    async def get_conversations(self, name: str) -> ConversationDict:
        async with self._sessions() as session:
            rows = (
                await session.execute(
                    select(ConversationState.key, ConversationState.state).where(
                        ConversationState.name == name
                    )
                )
            ).all()
        conversations: ConversationDict = {}
        for key, state in rows:
            conversations[tuple(json.loads(key))] = json.loads(state)
            self._stored_state[(name, key)] = state
        return conversations

    async def states_for(self, key: ConversationKey, user_id: int) -> dict[str, object]:
        """The state of ``key`` in every conversation that has one (name → state); the
        person's user_data (for refresh_user_data) and row (for ``UserService.touch``) are
        read in the same statement.

        Every update reads these: one statement, outside any transaction (on PostgreSQL an
        autocommit connection, no BEGIN and ROLLBACK around it), instead of a statement for
        the person and a session's four round trips for the rest."""
        key_text = _key_text(key)
        async with outside_transaction(self._engine) as connection:
            rows = (await connection.execute(_STATES, {"key": key_text, "user_id": user_id})).all()
        found = {}
        person = None
        self._prefetched[user_id] = None
        for row in rows:
            if row.id is not None:  # the person's columns
                person = row
            elif row.name is None:  # their user_data
                self._prefetched[user_id] = row.state
            else:
                found[row.name] = json.loads(row.state)
                self._stored_state[(row.name, key_text)] = row.state
        if self._users is not None:
            self._users.read_ahead(user_id, person)
        return found

    def drop_prefetched(self, user_id: int) -> None:
        """After the update: nothing read for it may serve a later one."""
        self._prefetched.pop(user_id, None)
        if self._users is not None:
            self._users.forget_read_ahead(user_id)

    def forget_state(self, name: str, key: ConversationKey) -> None:
        self._stored_state[(name, _key_text(key))] = None

    async def update_conversation(
        self, name: str, key: ConversationKey, new_state: object | None
    ) -> None:
        key_text = _key_text(key)
        text = None if new_state is None else json.dumps(new_state)
        if self._stored_state.get((name, key_text), None) == text and text is not None:
            return
        now = utcnow()
        async with self._sessions.begin() as session:
            if text is None:
                await session.execute(
                    delete(ConversationState).where(
                        ConversationState.name == name, ConversationState.key == key_text
                    )
                )
            else:
                statement = self._insert(ConversationState).values(
                    name=name, key=key_text, state=text, updated_at=now
                )
                await session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["name", "key"], set_={"state": text, "updated_at": now}
                    )
                )
        self._stored_state[(name, key_text)] = text

    # -- not stored -------------------------------------------------------------------------

    async def get_chat_data(self) -> dict[int, dict[str, Any]]:
        return {}

    async def get_bot_data(self) -> dict[str, Any]:
        return {}

    async def get_callback_data(self) -> None:
        return None

    async def update_chat_data(self, chat_id: int, data: dict[str, Any]) -> None:
        return None

    async def update_bot_data(self, data: dict[str, Any]) -> None:
        return None

    async def update_callback_data(self, data: Any) -> None:
        return None

    async def drop_chat_data(self, chat_id: int) -> None:
        return None

    async def refresh_chat_data(self, chat_id: int, chat_data: dict[str, Any]) -> None:
        return None

    async def refresh_bot_data(self, bot_data: dict[str, Any]) -> None:
        return None

    async def flush(self) -> None:
        return None  # every write is made at once


def conversation_key(update: Update) -> ConversationKey | None:
    """The key of Plume's conversations (per chat and per user, as PTB's defaults)."""
    chat, user = update.effective_chat, update.effective_user
    if chat is None or user is None:
        return None
    return (chat.id, user.id)


async def load_conversations_for(application: AnyApplication, update: Update) -> None:
    """Puts the person's stored conversation states into the handlers before the update is
    matched (ConversationHandler reads its in-memory dict in ``check_update``)."""
    persistence = application.persistence
    key = conversation_key(update)
    user = update.effective_user
    if not isinstance(persistence, DatabasePersistence) or key is None or user is None:
        return
    stored = await persistence.states_for(key, user.id)
    # PTB's name → TrackingDict of every persistent ConversationHandler; no public accessor.
    conversations = application._conversation_handler_conversations
    for name, states in conversations.items():
        if name in stored:
            states.update_no_track({key: stored[name]})
        else:
            states.data.pop(key, None)
            persistence.forget_state(name, key)
