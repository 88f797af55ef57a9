"""The chat API of tests and the sandbox: people talking to the bot through the stand-in.

A ``ChatUser`` is one user in one chat (their private chat with the bot, or a group). It sends
messages, files and button presses, which become updates for the bot, and reads what the bot
sent: ``next_message`` returns bot messages and edits in order, each exactly once, however late
it is called (every ``ChatUser`` keeps its own read cursor), and waits on a change signal rather
than sleeping. Timeouts raise ``StandinTimeout`` (an ``AssertionError``) whose message shows the
chat and the bot's recent failed calls there.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .state import ChatEvent, ChatState, Message, UserInfo

if TYPE_CHECKING:
    from .server import BotAPIStandin


class StandinTimeout(AssertionError):
    """Nothing (matching) happened in time; the message describes the chat."""


@dataclass(frozen=True)
class ChatMessage(Mapping[str, Any]):
    """A Telegram ``Message`` dict (read it like one) plus the file it carries, if any."""

    raw: Message
    file_data: bytes | None = None
    event: str | None = None  # "sent", "edited", "deleted" for bot events; None for snapshots

    def __getitem__(self, key: str) -> Any:
        return self.raw[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self.raw)

    def __len__(self) -> int:
        return len(self.raw)

    @property
    def message_id(self) -> int:
        return int(self.raw["message_id"])

    @property
    def text(self) -> str:
        """The text, or the caption of a photo or document ("" when neither)."""
        return str(self.raw.get("text", self.raw.get("caption", "")))

    @property
    def from_bot(self) -> bool:
        return bool(self.raw.get("from", {}).get("is_bot"))

    @property
    def edited(self) -> bool:
        return "edit_date" in self.raw

    @property
    def buttons(self) -> list[list[dict[str, Any]]]:
        """Rows of inline keyboard buttons (empty when there is no inline keyboard)."""
        return list(self.raw.get("reply_markup", {}).get("inline_keyboard", []))

    @property
    def button_texts(self) -> list[str]:
        return [button["text"] for row in self.buttons for button in row]

    @property
    def file_name(self) -> str | None:
        document = self.raw.get("document")
        return document.get("file_name") if document else None

    @property
    def photo(self) -> bytes | None:
        return self.file_data if "photo" in self.raw else None

    @property
    def document(self) -> bytes | None:
        return self.file_data if "document" in self.raw else None

    def summary(self) -> str:
        who = "bot" if self.from_bot else self.raw.get("from", {}).get("first_name", "user")
        parts = [f"#{self.message_id} {who}:"]
        if "photo" in self.raw:
            parts.append("[photo]")
        if "document" in self.raw:
            parts.append(f"[document {self.file_name}]")
        text = self.text
        parts.append(repr(text if len(text) <= 120 else text[:117] + "..."))
        if self.buttons:
            parts.append(f"buttons={self.button_texts}")
        if self.edited:
            parts.append("(edited)")
        return " ".join(parts)


MessageRef = ChatMessage | Mapping[str, Any] | int


class ChatUser:
    """``user`` talking in ``chat``.

    Create through ``BotAPIStandin.user`` or ``GroupChat.member``."""

    def __init__(self, api: BotAPIStandin, user: UserInfo, chat: ChatState):
        self._api = api
        self.user = user
        self.chat = chat
        self._cursor = 0

    def __repr__(self) -> str:
        return f"<ChatUser {self.user.id} {self.user.first_name!r} in chat {self.chat.id}>"

    @property
    def id(self) -> int:
        return self.user.id

    @property
    def chat_id(self) -> int:
        return self.chat.id

    # -- settings ---------------------------------------------------------------------------

    @property
    def language_code(self) -> str | None:
        return self.user.language_code

    def set_language(self, language_code: str | None) -> None:
        """The language_code of this user's next updates."""
        self.user.language_code = language_code

    def block_bot(self) -> None:
        """From now on, sending to this user answers 403 "bot was blocked by the user"."""
        self._api.faults.blocked.add(self.user.id)

    def unblock_bot(self) -> None:
        self._api.faults.blocked.discard(self.user.id)

    def deactivate(self) -> None:
        """From now on, sending to this user answers 403 "user is deactivated"."""
        self._api.faults.deactivated.add(self.user.id)

    # -- acting -----------------------------------------------------------------------------

    async def send(self, text: str, *, reply_to: MessageRef | None = None) -> ChatMessage:
        """Sends ``text`` (``/commands`` get bot_command entities); returns the user's message.

        ``reply_to``: the message this one replies to, as a client does after a ForceReply."""
        backend = self._api.backend
        replied = self._current(reply_to) if reply_to is not None else None
        message = backend.user_text_message(self.chat, self.user, text, reply_to=replied)
        backend.push_message_update(message)
        return self._wrap(message)

    async def send_document(
        self,
        data: bytes,
        file_name: str,
        *,
        mime_type: str | None = None,
        caption: str | None = None,
    ) -> ChatMessage:
        return self._send_file(data, file_name, mime_type, caption, as_photo=False)

    async def send_photo(
        self, data: bytes, *, file_name: str = "photo.jpg", caption: str | None = None
    ) -> ChatMessage:
        return self._send_file(data, file_name, None, caption, as_photo=True)

    def _send_file(
        self, data: bytes, name: str, mime: str | None, caption: str | None, *, as_photo: bool
    ) -> ChatMessage:
        backend = self._api.backend
        stored = backend.files.add(data, name, mime, "photos" if as_photo else "documents")
        message = backend.user_file_message(
            self.chat, self.user, stored, as_photo=as_photo, caption=caption
        )
        backend.push_message_update(message)
        return self._wrap(message)

    async def press(self, message: MessageRef, text: str) -> str:
        """Presses the button of ``message`` (its current keyboard) whose text equals ``text``,
        else the only one containing it; queues the callback query and returns its id."""
        current = self._current(message)
        buttons = [
            button
            for row in current.get("reply_markup", {}).get("inline_keyboard", [])
            for button in row
        ]
        matches = [button for button in buttons if button["text"] == text]
        if not matches:
            folded = text.casefold()
            matches = [button for button in buttons if folded in button["text"].casefold()]
        if len(matches) != 1:
            found = "no" if not matches else f"{len(matches)}"
            raise AssertionError(
                f"{found} button matching {text!r} in message #{current['message_id']}; "
                f"buttons: {[button['text'] for button in buttons]}"
            )
        button = matches[0]
        if "callback_data" not in button:
            raise AssertionError(f"button {button['text']!r} is not a callback button: {button}")
        return self._press(current, button["callback_data"])

    async def press_data(self, data: str, message: MessageRef | None = None) -> str:
        """Presses the button carrying callback ``data``: on ``message`` if given (even when its
        keyboard no longer has it, like a stale client), else on the latest message showing it."""
        if message is not None:
            return self._press(self._current(message), data)
        for candidate in reversed(self.chat.messages.values()):
            keyboard = candidate.get("reply_markup", {}).get("inline_keyboard", [])
            if any(button.get("callback_data") == data for row in keyboard for button in row):
                return self._press(candidate, data)
        raise AssertionError(
            f"no message in the chat has a button with data {data!r}\n" + self.describe()
        )

    def _press(self, message: Message, data: str) -> str:
        return self._api.backend.push_callback_query(self.chat, self.user, message, data).id

    def _current(self, message: MessageRef) -> Message:
        message_id = message if isinstance(message, int) else int(message["message_id"])
        current = self.chat.messages.get(message_id)
        if current is None:
            raise AssertionError(f"message #{message_id} is not in chat {self.chat.id}")
        return current

    # -- reading ----------------------------------------------------------------------------

    @property
    def messages(self) -> list[ChatMessage]:
        """The chat as it is now: user and bot messages, edits applied, deleted ones gone."""
        return [self._wrap(message) for message in self.chat.messages.values()]

    @property
    def bot_messages(self) -> list[ChatMessage]:
        return [message for message in self.messages if message.from_bot]

    @property
    def last_bot_message(self) -> ChatMessage | None:
        bot_messages = self.bot_messages
        return bot_messages[-1] if bot_messages else None

    @property
    def reply_keyboard(self) -> list[list[str]] | None:
        """Texts of the reply keyboard the bot last showed (None when none or removed)."""
        markup = self.chat.reply_keyboard
        if markup is None:
            return None
        return [
            [button if isinstance(button, str) else button["text"] for button in row]
            for row in markup["keyboard"]
        ]

    @property
    def last_action(self) -> str | None:
        """The last chat action (e.g. "typing") the bot sent, if within the last 5 seconds."""
        action = self.chat.last_action
        if action is None or time.monotonic() - action[1] > 5:
            return None
        return action[0]

    def callback_answer(self, query_id: str) -> dict[str, Any] | None:
        """The bot's answerCallbackQuery (text, show_alert, url), None while unanswered."""
        query = self._api.backend.callback_queries.get(query_id)
        return query.answer if query else None

    async def wait_callback_answer(
        self,
        query_id: str,
        timeout: float = 5.0,  # noqa: ASYNC109 - chat API reads better
    ) -> dict[str, Any]:
        await self._until(
            lambda: self.callback_answer(query_id) is not None,
            timeout,
            f"no answerCallbackQuery for query {query_id}",
        )
        answer = self.callback_answer(query_id)
        assert answer is not None
        return answer

    async def next_event(self, timeout: float = 5.0) -> ChatMessage:  # noqa: ASYNC109
        """The next bot event (``.event`` = sent / edited / deleted) in this chat."""
        events = self.chat.bot_events
        await self._until(lambda: self._cursor < len(events), timeout, "the bot sent nothing new")
        event = events[self._cursor]
        self._cursor += 1
        return self._wrap_event(event)

    async def next_message(self, timeout: float = 5.0) -> ChatMessage:  # noqa: ASYNC109
        """The next message the bot sends or edits in this chat (deletions are skipped)."""
        deadline = time.monotonic() + timeout
        while True:
            event = await self.next_event(max(0.0, deadline - time.monotonic()))
            if event.event != "deleted":
                return event

    async def wait_for(
        self,
        match: str | Callable[[ChatMessage], bool],
        timeout: float = 5.0,  # noqa: ASYNC109
    ) -> ChatMessage:
        """Reads bot messages until one contains ``match`` (or satisfies it); returns it."""
        accepts = match if callable(match) else (lambda message: match in message.text)
        deadline = time.monotonic() + timeout
        skipped: list[str] = []
        while True:
            try:
                message = await self.next_message(max(0.0, deadline - time.monotonic()))
            except StandinTimeout as exc:
                raise StandinTimeout(
                    f"no bot message matching {match!r} within {timeout}s; "
                    f"skipped {skipped}\n{self.describe()}"
                ) from exc
            if accepts(message):
                return message
            skipped.append(message.summary())

    async def assert_no_message(self, within: float = 0.3) -> None:
        """Fails if the bot sends or edits anything in this chat during ``within`` seconds."""
        try:
            event = await self.next_event(within)
        except StandinTimeout:
            return
        raise AssertionError(f"unexpected bot {event.event} message: {event.summary()}")

    def drain(self) -> list[ChatMessage]:
        """Marks every bot event so far as read and returns them."""
        events = self.chat.bot_events[self._cursor :]
        self._cursor = len(self.chat.bot_events)
        return [self._wrap_event(event) for event in events]

    # -- helpers ----------------------------------------------------------------------------

    async def _until(self, condition: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not condition():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise StandinTimeout(f"{what} within {seconds:g}s\n{self.describe()}")
            await self.chat.changed.wait(remaining)

    def _wrap(self, message: Message, event: str | None = None) -> ChatMessage:
        return ChatMessage(message, self._api.file_data(message), event)

    def _wrap_event(self, event: ChatEvent) -> ChatMessage:
        return self._wrap(event.message, event.kind)

    def describe(self) -> str:
        """The chat and the bot's recent failed calls to it, for failure messages."""
        lines = [f"chat {self.chat.id} ({self.user.first_name}) holds:"]
        messages = self.messages[-12:]
        lines += [f"  {message.summary()}" for message in messages] or ["  (no messages)"]
        unread = len(self.chat.bot_events) - self._cursor
        lines.append(
            f"unread bot events: {unread}; pending updates for the bot: "
            f"{self._api.backend.updates.pending_count}"
        )
        failures = [
            call for call in self._api.calls.calls_for(chat_id=self.chat.id) if not call.ok
        ][-5:]
        if failures:
            lines.append("recent failed bot calls to this chat:")
            lines += [f"  {call.method}: {call.outcome}" for call in failures]
        return "\n".join(lines)


class GroupChat:
    """A group (negative id) with the bot; members talk through ``member(user)`` views."""

    def __init__(self, api: BotAPIStandin, chat: ChatState):
        self._api = api
        self.chat = chat

    @property
    def id(self) -> int:
        return self.chat.id

    def member(self, user: ChatUser | UserInfo, *, admin: bool = False) -> ChatUser:
        info = user.user if isinstance(user, ChatUser) else user
        if admin:
            self.chat.administrators.add(info.id)
        return ChatUser(self._api, info, self.chat)

    @property
    def messages(self) -> list[ChatMessage]:
        return [ChatMessage(m, self._api.file_data(m)) for m in self.chat.messages.values()]
