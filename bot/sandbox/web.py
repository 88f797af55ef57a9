"""The sandbox web chat: a Telegram-like page talking to the bot through the stand-in.

``create_sandbox_web_app(standin, accounts)`` builds the aiohttp application:

* ``GET /`` the page (``static/index.html`` + ``sandbox.css`` + ``sandbox.js``, no external
  resources);
* ``GET /api/config`` accounts and bot;
* ``GET /api/chat?user_id=&since=&wait=`` the chat of an account; long polling: answers as
  soon as the chat's version exceeds ``since`` (or after ``wait`` seconds, at most 25);
* ``POST /api/send`` ``{user_id, text}``, ``POST /api/press`` ``{user_id, message_id, data}``,
  ``POST /api/upload`` (multipart: user_id, file, caption), ``POST /api/language``
  ``{user_id, language}``, ``POST /api/account`` ``{user_id}``;
* ``GET /api/file/{file_id}`` a photo or document (``?download=1`` as attachment).

The stand-in and the web app run on separate sites; see ``serve.py``.
"""

from __future__ import annotations

import asyncio
import mimetypes
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from typing import Any
from urllib.parse import quote

from aiohttp import BodyPartReader, web

from bot.standin import BotAPIStandin, ChatUser, entities_to_html

from .accounts import SandboxAccount, as_accounts

LanguageHook = Callable[[int, str], Awaitable[None]]
AccountHook = Callable[[int], Awaitable[None]]
#: the language the bot speaks to an account now (changed in /settings too), None if unknown
LanguageLookup = Callable[[int], Awaitable[str | None]]

LANGUAGES = ("fr", "en")
MAX_WAIT = 25.0
SHOWN_MESSAGES = 300
TEXT_VIEWABLE = ("text/", "application/json", "application/xml", "application/csv")


@dataclass
class SandboxState:
    standin: BotAPIStandin
    accounts: list[SandboxAccount]
    on_language: LanguageHook | None = None
    on_account: AccountHook | None = None
    language_of: LanguageLookup | None = None
    closing: bool = False
    chats: dict[int, ChatUser] = field(default_factory=dict)

    def chat(self, user_id: int) -> ChatUser:
        chat = self.chats.get(user_id)
        if chat is None:
            raise web.HTTPNotFound(text=f"unknown sandbox account {user_id}")
        return chat


SANDBOX_STATE = web.AppKey("sandbox_state", SandboxState)


def create_sandbox_web_app(
    standin: BotAPIStandin,
    accounts: Iterable[Any],
    *,
    on_language: LanguageHook | None = None,
    on_account: AccountHook | None = None,
    language_of: LanguageLookup | None = None,
) -> web.Application:
    """The sandbox page and its JSON API, for ``accounts`` (see ``as_accounts``).

    ``on_language(user_id, language)`` is awaited when the page switches an account's
    language (after the stand-in's language_code changed); ``on_account(user_id)`` when the page
    selects an account (also on page load); ``language_of(user_id)`` tells the page the
    language the bot speaks to the account (so the FR/EN switch follows /settings)."""
    state = SandboxState(standin, as_accounts(accounts), on_language, on_account, language_of)
    for account in state.accounts:
        state.chats[account.user_id] = standin.user(
            account.user_id,
            account.first_name,
            last_name=account.last_name,
            username=account.username,
            language_code=account.language_code,
        )
    app = web.Application(client_max_size=50 * 1024 * 1024)
    app[SANDBOX_STATE] = state
    app.router.add_get("/", _page)
    app.router.add_get("/static/{name}", _static)
    app.router.add_get("/api/config", _config)
    app.router.add_get("/api/chat", _chat)
    app.router.add_post("/api/send", _send)
    app.router.add_post("/api/press", _press)
    app.router.add_post("/api/upload", _upload)
    app.router.add_post("/api/language", _language)
    app.router.add_post("/api/account", _account)
    app.router.add_get("/api/file/{file_id}", _file)
    app.on_shutdown.append(_end_long_polls)
    return app


async def _end_long_polls(app: web.Application) -> None:
    state = app[SANDBOX_STATE]
    state.closing = True
    for chat in state.chats.values():
        chat.chat.changed.fire()


# -- page --------------------------------------------------------------------------------------

_STATIC_TYPES = {"sandbox.css": "text/css", "sandbox.js": "text/javascript"}


def _static_text(name: str) -> str:
    return resources.files("bot.sandbox").joinpath("static", name).read_text(encoding="utf-8")


async def _page(request: web.Request) -> web.Response:
    return web.Response(text=_static_text("index.html"), content_type="text/html")


async def _static(request: web.Request) -> web.Response:
    name = request.match_info["name"]
    if name not in _STATIC_TYPES:
        raise web.HTTPNotFound()
    return web.Response(text=_static_text(name), content_type=_STATIC_TYPES[name])


# -- reading -----------------------------------------------------------------------------------


async def _config(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    bot = state.standin.bot
    accounts = []
    for account in state.accounts:
        entry = account.to_json()
        entry["language_code"] = state.chat(account.user_id).language_code or "fr"
        accounts.append(entry)
    return web.json_response(
        {"accounts": accounts, "bot": {"first_name": bot.first_name, "username": bot.username}}
    )


async def _chat(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    chat = state.chat(_int(request.query.get("user_id")))
    since = _int(request.query.get("since", "-1"))
    wait = min(float(request.query.get("wait", "0") or 0), MAX_WAIT)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + wait
    while chat.chat.version <= since and not state.closing:
        remaining = deadline - loop.time()
        if remaining <= 0:
            break
        await chat.chat.changed.wait(remaining)
    if state.language_of is not None and not state.closing:
        language = await state.language_of(chat.id)
        if language in LANGUAGES and language != chat.language_code:
            chat.set_language(language)  # chosen in /settings: the page follows
    return web.json_response(chat_view(state, chat))


def chat_view(state: SandboxState, chat: ChatUser) -> dict[str, Any]:
    """What the page shows for one account: messages, menu, keyboard, toasts."""
    standin = state.standin
    answers = [
        {"id": query.id, **query.answer}
        for query in standin.backend.callback_queries.values()
        if query.user_id == chat.id and query.chat_id == chat.chat_id and query.answer
    ][-10:]
    return {
        "version": chat.chat.version,
        "language_code": chat.language_code or "fr",
        "messages": [_message_view(chat, message) for message in chat.messages[-SHOWN_MESSAGES:]],
        "commands": standin.commands_for(chat.id, chat.chat_id, chat.language_code),
        "reply_keyboard": chat.reply_keyboard,
        # a ForceReply: the page answers that message, as Telegram's apps do
        "force_reply": _force_reply(chat),
        "action": chat.last_action,
        "answers": answers,
    }


def _force_reply(chat: ChatUser) -> dict[str, Any] | None:
    message_id = chat.chat.force_reply_to
    message = chat.chat.messages.get(message_id) if message_id is not None else None
    if message is None:
        return None
    return {"id": message_id, "text": _snippet(message)}


def _snippet(raw: dict[str, Any]) -> str:
    """The start of a message's text or caption, as a reply to it quotes it."""
    return str(raw.get("text", raw.get("caption", "")))[:80]


def _message_view(chat: ChatUser, message: Any) -> dict[str, Any]:
    raw = message.raw
    text_field, entities_field = (
        ("text", "entities") if "text" in raw else ("caption", "caption_entities")
    )
    view: dict[str, Any] = {
        "id": raw["message_id"],
        "from_bot": message.from_bot,
        "sender": raw.get("from", {}).get("first_name", ""),
        "date": raw.get("date"),
        "edited": message.edited,
        "html": entities_to_html(str(raw.get(text_field, "")), raw.get(entities_field)),
        "text": _snippet(raw),  # what a reply to it quotes
        "buttons": [[_button_view(button) for button in row] for row in message.buttons],
    }
    if raw.get("photo"):
        view["photo"] = {"file_id": raw["photo"][-1]["file_id"]}
    if raw.get("document"):
        document = raw["document"]
        view["document"] = {
            "file_id": document["file_id"],
            "name": document.get("file_name") or "document",
            "size": document.get("file_size", 0),
            "mime_type": document.get("mime_type", ""),
        }
    reply = raw.get("reply_to_message")
    if reply:
        view["reply_to"] = {
            "sender": reply.get("from", {}).get("first_name", ""),
            "text": _snippet(reply),
        }
    return view


def _button_view(button: dict[str, Any]) -> dict[str, Any]:
    if "callback_data" in button:
        return {"text": button["text"], "kind": "callback", "data": button["callback_data"]}
    if "url" in button:
        return {"text": button["text"], "kind": "url", "url": button["url"]}
    return {"text": button["text"], "kind": "other"}


async def _file(request: web.Request) -> web.StreamResponse:
    state = request.app[SANDBOX_STATE]
    stored = state.standin.backend.files.get(request.match_info["file_id"])
    if stored is None:
        raise web.HTTPNotFound()
    headers = {"X-Content-Type-Options": "nosniff"}
    content_type = stored.mime_type
    if request.query.get("download"):
        headers["Content-Disposition"] = _attachment(stored.file_name)
    elif content_type.startswith(TEXT_VIEWABLE) or stored.file_name.endswith((".csv", ".ics")):
        content_type = "text/plain"
    elif not content_type.startswith(("image/", "application/pdf")):
        headers["Content-Disposition"] = _attachment(stored.file_name)
    headers["Content-Security-Policy"] = "sandbox"
    return web.Response(
        body=stored.data,
        content_type=content_type,
        headers=headers,
        charset="utf-8" if content_type == "text/plain" else None,
    )


def _attachment(file_name: str) -> str:
    ascii_name = file_name.encode("ascii", "replace").decode().replace('"', "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(file_name)}"


# -- acting ------------------------------------------------------------------------------------


async def _json_body(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError as exc:
        raise web.HTTPBadRequest(text="JSON body expected") from exc
    if not isinstance(body, dict):
        raise web.HTTPBadRequest(text="JSON object expected")
    return body


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError) as exc:
        raise web.HTTPBadRequest(text=f"integer expected, got {value!r}") from exc


async def _send(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    body = await _json_body(request)
    chat = state.chat(_int(body.get("user_id")))
    text = str(body.get("text") or "").strip()
    if not text:
        raise web.HTTPBadRequest(text="empty message")
    reply_to = body.get("reply_to")
    replied = _int(reply_to) if reply_to is not None else None
    if replied is not None and replied not in chat.chat.messages:
        replied = None  # a message gone (the chat was reset): sent as a plain message
    message = await chat.send(text[:4096], reply_to=replied)
    return web.json_response({"message_id": message.message_id})


async def _press(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    body = await _json_body(request)
    chat = state.chat(_int(body.get("user_id")))
    try:
        query_id = await chat.press_data(str(body.get("data")), _int(body.get("message_id")))
    except AssertionError as exc:
        raise web.HTTPConflict(text=str(exc)) from exc
    return web.json_response({"query_id": query_id})


async def _upload(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    fields: dict[str, str] = {}
    upload: tuple[str, str, bytes] | None = None
    reader = await request.multipart()
    async for part in reader:
        if not isinstance(part, BodyPartReader) or part.name is None:
            continue
        data = await part.read()
        if part.filename:
            mime = part.headers.get("Content-Type") or mimetypes.guess_type(part.filename)[0]
            upload = (part.filename, mime or "application/octet-stream", bytes(data))
        else:
            fields[part.name] = data.decode("utf-8")
    chat = state.chat(_int(fields.get("user_id")))
    if upload is None:
        raise web.HTTPBadRequest(text="no file")
    name, mime, data = upload
    caption = fields.get("caption") or None
    as_photo = fields.get("as_photo", "auto")
    photo = mime.startswith("image/") and mime != "image/svg+xml" and as_photo != "no"
    if photo:
        message = await chat.send_photo(data, file_name=name, caption=caption)
    else:
        message = await chat.send_document(data, name, mime_type=mime, caption=caption)
    return web.json_response({"message_id": message.message_id})


async def _language(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    body = await _json_body(request)
    chat = state.chat(_int(body.get("user_id")))
    language = str(body.get("language") or "")
    if language not in LANGUAGES:
        raise web.HTTPBadRequest(text=f"language must be one of {LANGUAGES}")
    chat.set_language(language)
    if state.on_language is not None:
        await state.on_language(chat.id, language)
    chat.chat.touch()  # the command menu may differ in the other language
    return web.json_response({"language_code": language})


async def _account(request: web.Request) -> web.Response:
    state = request.app[SANDBOX_STATE]
    body = await _json_body(request)
    chat = state.chat(_int(body.get("user_id")))
    if state.on_account is not None:
        await state.on_account(chat.id)
    return web.json_response({"user_id": chat.id})
