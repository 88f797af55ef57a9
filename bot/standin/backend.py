"""The stand-in's Telegram: the bot, chats, files, commands, callback queries and updates."""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from .commands import CommandRegistry
from .errors import bad_request
from .files import FileStore, StoredFile
from .markup import command_entities
from .state import ChatState, Message, UserInfo
from .updates import UpdateQueue


@dataclass
class CallbackQueryRecord:
    id: str
    user_id: int
    chat_id: int
    message_id: int
    data: str
    answer: dict[str, Any] | None = None


@dataclass
class BotProfile:
    name: str | None = None
    description: str = ""
    short_description: str = ""
    menu_buttons: dict[int | None, dict[str, Any]] = field(default_factory=dict)


class Backend:
    """All mutable state of one stand-in."""

    def __init__(self, bot: UserInfo, *, strict_chats: bool = False) -> None:
        self.bot = bot
        self.strict_chats = strict_chats
        self.users: dict[int, UserInfo] = {}
        self.chats: dict[int, ChatState] = {}
        self.files = FileStore()
        self.commands = CommandRegistry()
        self.updates = UpdateQueue()
        self.callback_queries: dict[str, CallbackQueryRecord] = {}
        self.profile = BotProfile()
        self._callback_ids = itertools.count(1)

    # -- users and chats --------------------------------------------------------------------

    def add_user(self, user: UserInfo) -> UserInfo:
        known = self.users.get(user.id)
        if known is None:
            self.users[user.id] = user
            return user
        known.first_name = user.first_name
        for name in ("last_name", "username", "language_code"):
            value = getattr(user, name)
            if value is not None:
                setattr(known, name, value)
        return known

    def private_chat(self, user: UserInfo) -> ChatState:
        chat = self.chats.get(user.id)
        if chat is None:
            chat = self.chats[user.id] = ChatState(id=user.id, type="private", user=user)
        return chat

    def group_chat(self, chat_id: int, title: str, *, supergroup: bool) -> ChatState:
        if chat_id >= 0:
            raise ValueError("group chat ids are negative")
        chat = self.chats.get(chat_id)
        if chat is None:
            chat = self.chats[chat_id] = ChatState(
                id=chat_id, type="supergroup" if supergroup else "group", title=title
            )
        return chat

    def chat_for(self, chat_id: Any) -> ChatState:
        """The chat a bot call targets; unknown chats are created unless ``strict_chats``."""
        if chat_id is None or chat_id == "":
            raise bad_request("chat_id is empty")
        if not isinstance(chat_id, int):
            raise bad_request("chat not found")
        chat = self.chats.get(chat_id)
        if chat is not None:
            return chat
        if self.strict_chats or chat_id == 0:
            raise bad_request("chat not found")
        if chat_id > 0:
            user = self.add_user(UserInfo(id=chat_id, first_name=f"User {chat_id}"))
            return self.private_chat(user)
        return self.group_chat(chat_id, f"Group {chat_id}", supergroup=chat_id < -(10**12))

    # -- messages ---------------------------------------------------------------------------

    def new_message(self, chat: ChatState, sender: UserInfo, content: dict[str, Any]) -> Message:
        message: Message = {
            "message_id": chat.next_message_id(),
            "from": sender.to_dict(),
            "chat": chat.to_dict(),
            "date": int(time.time()),
            **content,
        }
        chat.store(message)
        return message

    def user_text_message(
        self, chat: ChatState, user: UserInfo, text: str, reply_to: Message | None = None
    ) -> Message:
        content: dict[str, Any] = {"text": text}
        if reply_to is not None:
            content["reply_to_message"] = {
                key: value for key, value in reply_to.items() if key != "reply_to_message"
            }
        entities = command_entities(text)
        if entities:
            content["entities"] = entities
        chat.force_reply_to = None  # the user wrote: the reply the bot forced is over
        return self.new_message(chat, user, content)

    def user_file_message(
        self,
        chat: ChatState,
        user: UserInfo,
        stored: StoredFile,
        *,
        as_photo: bool,
        caption: str | None,
    ) -> Message:
        content: dict[str, Any] = (
            {"photo": stored.photo_sizes()} if as_photo else {"document": stored.document()}
        )
        chat.force_reply_to = None
        if caption:
            content["caption"] = caption
        return self.new_message(chat, user, content)

    def push_message_update(self, message: Message) -> None:
        self.updates.push("message", dict(message))

    def push_callback_query(
        self, chat: ChatState, user: UserInfo, message: Message, data: str
    ) -> CallbackQueryRecord:
        query_id = f"{next(self._callback_ids)}{user.id:010d}"
        record = CallbackQueryRecord(query_id, user.id, chat.id, message["message_id"], data)
        self.callback_queries[query_id] = record
        self.updates.push(
            "callback_query",
            {
                "id": query_id,
                "from": user.to_dict(),
                "message": dict(message),
                "chat_instance": str(abs(chat.id) * 7 + 13),
                "data": data,
            },
        )
        return record
