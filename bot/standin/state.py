"""Users, chats and their messages as the stand-in keeps them."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any, Literal

Message = dict[str, Any]
EventKind = Literal["sent", "edited", "deleted"]


class Pulse:
    """Wakes every waiter when something changed (a fresh event per change, no lost wake-ups)."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def fire(self) -> None:
        self._event.set()
        self._event = asyncio.Event()

    async def wait(self, seconds: float | None) -> bool:
        """True when fired within ``seconds`` (None: wait forever)."""
        event = self._event
        try:
            await asyncio.wait_for(event.wait(), seconds)
        except TimeoutError:
            return False
        return True


@dataclass
class UserInfo:
    id: int
    first_name: str
    last_name: str | None = None
    username: str | None = None
    language_code: str | None = None
    is_bot: bool = False

    def to_dict(self) -> dict[str, Any]:
        user: dict[str, Any] = {
            "id": self.id,
            "is_bot": self.is_bot,
            "first_name": self.first_name,
        }
        for name in ("last_name", "username", "language_code"):
            value = getattr(self, name)
            if value is not None:
                user[name] = value
        return user


@dataclass(frozen=True, slots=True)
class ChatEvent:
    """Something the bot did in a chat: a message ``sent``, ``edited`` or ``deleted``."""

    kind: EventKind
    message: Message  # snapshot at the time of the event
    at: float


@dataclass
class ChatState:
    id: int
    type: Literal["private", "group", "supergroup"]
    title: str | None = None
    user: UserInfo | None = None  # the other party of a private chat
    messages: dict[int, Message] = field(default_factory=dict)
    bot_events: list[ChatEvent] = field(default_factory=list)
    last_action: tuple[str, float] | None = None  # sendChatAction (action, monotonic time)
    administrators: set[int] = field(default_factory=set)
    reply_keyboard: dict[str, Any] | None = None  # last ReplyKeyboardMarkup the bot sent
    # the bot's last message with a ForceReply, until the user writes: a client answers it
    force_reply_to: int | None = None
    changed: Pulse = field(default_factory=Pulse)
    version: int = 0
    _last_message_id: int = 0

    def to_dict(self) -> dict[str, Any]:
        if self.type == "private" and self.user is not None:
            chat: dict[str, Any] = {"id": self.id, "type": "private"}
            chat["first_name"] = self.user.first_name
            if self.user.last_name:
                chat["last_name"] = self.user.last_name
            if self.user.username:
                chat["username"] = self.user.username
            return chat
        return {"id": self.id, "type": self.type, "title": self.title or f"Chat {self.id}"}

    def next_message_id(self) -> int:
        self._last_message_id += 1
        return self._last_message_id

    def touch(self) -> None:
        self.version += 1
        self.changed.fire()

    def store(self, message: Message) -> None:
        self.messages[message["message_id"]] = message
        self.touch()

    def record_bot_event(self, kind: EventKind, message: Message) -> None:
        # A shallow copy is a true snapshot: edits replace top-level keys, never nested values.
        self.bot_events.append(ChatEvent(kind, dict(message), time.monotonic()))
        self.touch()
