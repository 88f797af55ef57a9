"""Bot command lists by scope and language, and the list a given user sees (Telegram's order)."""

from __future__ import annotations

import re
from typing import Any

from .errors import bad_request

ScopeKey = tuple[Any, ...]
_COMMAND_NAME = re.compile(r"[a-z0-9_]{1,32}")
_SCOPES_WITH_CHAT = ("chat", "chat_administrators", "chat_member")


def scope_key(scope: dict[str, Any] | None) -> ScopeKey:
    """A hashable key for a ``BotCommandScope`` dict (None is the default scope)."""
    if not scope:
        return ("default",)
    kind = scope.get("type")
    if kind in ("default", "all_private_chats", "all_group_chats", "all_chat_administrators"):
        return (kind,)
    if kind in _SCOPES_WITH_CHAT:
        if "chat_id" not in scope:
            raise bad_request("chat_id is empty")
        chat_id = scope["chat_id"]
        if kind == "chat_member":
            if "user_id" not in scope:
                raise bad_request("user_id is empty")
            return (kind, chat_id, int(scope["user_id"]))
        return (kind, chat_id)
    raise bad_request("wrong scope type specified")


def _validate(commands: Any) -> list[dict[str, str]]:
    if not isinstance(commands, list) or len(commands) > 100:
        raise bad_request("commands must be a list of at most 100 BotCommand")
    valid: list[dict[str, str]] = []
    for command in commands:
        name = str(command.get("command", "")) if isinstance(command, dict) else ""
        description = str(command.get("description", "")) if isinstance(command, dict) else ""
        if not _COMMAND_NAME.fullmatch(name):
            raise bad_request("BOT_COMMAND_INVALID")
        if not 1 <= len(description) <= 256:
            raise bad_request("BOT_COMMAND_DESCRIPTION_INVALID")
        valid.append({"command": name, "description": description})
    return valid


class CommandRegistry:
    def __init__(self) -> None:
        self._lists: dict[tuple[ScopeKey, str], list[dict[str, str]]] = {}

    def set(self, commands: Any, scope: dict[str, Any] | None, language_code: str | None) -> None:
        key = (scope_key(scope), language_code or "")
        valid = _validate(commands)
        if valid:
            self._lists[key] = valid
        else:
            self._lists.pop(key, None)

    def get(self, scope: dict[str, Any] | None, language_code: str | None) -> list[dict[str, str]]:
        return list(self._lists.get((scope_key(scope), language_code or ""), []))

    def delete(self, scope: dict[str, Any] | None, language_code: str | None) -> None:
        self._lists.pop((scope_key(scope), language_code or ""), None)

    def visible_to(
        self,
        chat_id: int,
        user_id: int,
        language_code: str | None,
        *,
        private: bool = True,
        is_admin: bool = False,
    ) -> list[dict[str, str]]:
        """The command menu Telegram shows ``user_id`` in ``chat_id``.

        Telegram takes the first non-empty list in this order, each scope first with the
        user's language then without: chat member, chat administrators (admins only), chat,
        all private / all chat administrators + all group chats, default.
        """
        if private:
            scopes: list[ScopeKey] = [("chat", chat_id), ("all_private_chats",)]
        else:
            scopes = [("chat_member", chat_id, user_id)]
            if is_admin:
                scopes.append(("chat_administrators", chat_id))
            scopes.append(("chat", chat_id))
            if is_admin:
                scopes.append(("all_chat_administrators",))
            scopes.append(("all_group_chats",))
        scopes.append(("default",))
        languages = [language_code, ""] if language_code else [""]
        for scope in scopes:
            for language in languages:
                commands = self._lists.get((scope, language))
                if commands:
                    return list(commands)
        return []
