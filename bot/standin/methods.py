"""The Bot API methods the stand-in implements.

Each method takes the backend, the decoded parameters and the uploaded files and returns the
``result`` of a successful answer or raises ``ApiError``. Methods that change chats are plain
functions (no ``await``), so the server's rate-limit check, the call and the booking of the slot
happen atomically in the event loop.
"""

from __future__ import annotations

import re
import time
from collections.abc import Awaitable, Callable
from typing import Any

from .backend import Backend
from .errors import bad_request
from .files import StoredFile, is_image
from .markup import Entity, parse_text, utf16_len
from .params import UploadedFile
from .state import ChatState, Message
from .updates import Webhook

Params = dict[str, Any]
Files = dict[str, UploadedFile]
MethodImpl = Callable[[Backend, Params, Files], Any | Awaitable[Any]]

METHODS: dict[str, MethodImpl] = {}

# Set by the server in the params of getUpdates: a callable telling whether the client left.
CLIENT_GONE = "__client_gone__"
MAX_TEXT_LENGTH = 4096
MAX_CAPTION_LENGTH = 1024
MAX_CALLBACK_DATA_BYTES = 64
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
INLINE_BUTTON_ACTIONS = (
    "callback_data",
    "url",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
NOT_MODIFIED = (
    "message is not modified: specified new message content and reply markup are exactly the "
    "same as a current content and reply markup of the message"
)


def method(name: str) -> Callable[[MethodImpl], MethodImpl]:
    def register(function: MethodImpl) -> MethodImpl:
        METHODS[name] = function
        return function

    return register


def canonical_method(name: str) -> str | None:
    """Telegram method names are case-insensitive."""
    if name in METHODS:
        return name
    lowered = name.lower()
    return next((known for known in METHODS if known.lower() == lowered), None)


# -- shared validation -------------------------------------------------------------------------


def _formatted(
    params: Params, text_field: str, entities_field: str, *, limit: int, required: bool
) -> tuple[str, list[Entity]] | None:
    """Plain text and entities of ``text_field`` (None when optional and absent)."""
    raw = params.get(text_field)
    if raw is None or raw == "":
        if required:
            raise bad_request("message text is empty")
        return None
    text, entities = parse_text(str(raw), params.get("parse_mode"))
    explicit = params.get(entities_field)
    if explicit and not params.get("parse_mode"):
        if not isinstance(explicit, list):
            raise bad_request(f"can't parse {entities_field} JSON object")
        entities = explicit
    if not text.strip():
        if required:
            raise bad_request("message text is empty")
        return None
    if utf16_len(text) > limit:
        raise bad_request(
            "message is too long" if limit == MAX_TEXT_LENGTH else "message caption is too long"
        )
    return text, entities


def _check_inline_button(button: Any) -> None:
    if not isinstance(button, dict) or not str(button.get("text", "")).strip():
        raise bad_request("can't parse inline keyboard button: Text must be non-empty")
    actions = [key for key in INLINE_BUTTON_ACTIONS if key in button]
    if not actions:
        raise bad_request("text buttons are unallowed in the inline keyboard")
    if len(actions) > 1:
        raise bad_request("can't parse inline keyboard button: more than one action specified")
    if "callback_data" in button:
        data = button["callback_data"]
        if not isinstance(data, str) or not 1 <= len(data.encode()) <= MAX_CALLBACK_DATA_BYTES:
            raise bad_request("BUTTON_DATA_INVALID")
    if "url" in button:
        url = str(button["url"])
        if not url.startswith(("http://", "https://", "tg://")) or len(url) < 9:
            raise bad_request(f"inline keyboard button URL '{url}' is invalid: Wrong HTTP URL")


def _reply_markup(params: Params) -> dict[str, Any] | None:
    markup = params.get("reply_markup")
    if markup is None:
        return None
    if not isinstance(markup, dict):
        raise bad_request("can't parse reply keyboard markup JSON object")
    if "inline_keyboard" in markup:
        rows = markup["inline_keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'can\'t parse inline keyboard: field "inline_keyboard" must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                _check_inline_button(button)
        return {"inline_keyboard": rows}
    if "keyboard" in markup:
        rows = markup["keyboard"]
        if not isinstance(rows, list) or not all(isinstance(row, list) for row in rows):
            raise bad_request(
                'can\'t parse reply keyboard markup: field "keyboard" must be an Array of Arrays'
            )
        for row in rows:
            for button in row:
                text = button if isinstance(button, str) else (button or {}).get("text")
                if not text:
                    raise bad_request("keyboard button text must be non-empty")
        return markup
    if markup.get("remove_keyboard") or markup.get("force_reply"):
        return markup
    raise bad_request("can't parse reply keyboard markup JSON object")


def _apply_markup(chat: ChatState, content: dict[str, Any], markup: dict[str, Any] | None) -> None:
    """Inline keyboards live on the message; reply keyboards on the chat's input field."""
    if markup is None:
        return
    if "inline_keyboard" in markup:
        content["reply_markup"] = markup
    elif "keyboard" in markup:
        chat.reply_keyboard = markup
    elif markup.get("remove_keyboard"):
        chat.reply_keyboard = None


def _reply_to(chat: ChatState, params: Params) -> Message | None:
    reply = params.get("reply_parameters") or {}
    message_id = reply.get("message_id") if isinstance(reply, dict) else None
    message_id = message_id or params.get("reply_to_message_id")
    if not message_id:
        return None
    target = chat.messages.get(int(message_id))
    if target is None:
        allowed = params.get("allow_sending_without_reply") or (
            isinstance(reply, dict) and reply.get("allow_sending_without_reply")
        )
        if allowed:
            return None
        raise bad_request("message to be replied not found")
    return {key: value for key, value in target.items() if key != "reply_to_message"}


def _send(backend: Backend, params: Params, content: dict[str, Any]) -> Message:
    chat = backend.chat_for(params.get("chat_id"))
    markup = _reply_markup(params)
    reply_to = _reply_to(chat, params)
    if reply_to is not None:
        content["reply_to_message"] = reply_to
    _apply_markup(chat, content, markup)
    message = backend.new_message(chat, backend.bot, content)
    if markup is not None and markup.get("force_reply"):
        chat.force_reply_to = message["message_id"]
    chat.record_bot_event("sent", message)
    return message


def _input_file(
    backend: Backend, params: Params, files: Files, field: str, kind: str
) -> StoredFile:
    value = params.get(field)
    upload: UploadedFile | None = None
    if isinstance(value, str) and value.startswith("attach://"):
        upload = files.get(value.removeprefix("attach://"))
    elif field in files:
        upload = files[field]
    elif isinstance(value, str) and value:
        if value.startswith(("http://", "https://")):
            raise bad_request("failed to get HTTP URL content")
        stored = backend.files.get(value)
        if stored is None:
            raise bad_request("wrong file identifier/HTTP URL specified")
        return stored
    if upload is None:
        raise bad_request(f"there is no {field} in the request")
    if not upload.data:
        raise bad_request("file must be non-empty")
    if kind == "photos" and not is_image(upload.data):
        raise bad_request("IMAGE_PROCESS_FAILED")
    return backend.files.add(upload.data, upload.filename or field, upload.content_type, kind)


def _with_caption(params: Params, content: dict[str, Any]) -> dict[str, Any]:
    caption = _formatted(
        params, "caption", "caption_entities", limit=MAX_CAPTION_LENGTH, required=False
    )
    if caption is not None:
        content["caption"], entities = caption
        if entities:
            content["caption_entities"] = entities
    return content


def _message_to_edit(backend: Backend, params: Params) -> tuple[ChatState, Message]:
    if params.get("inline_message_id"):
        raise bad_request("inline messages are not supported by the stand-in")
    chat = backend.chat_for(params.get("chat_id"))
    message_id = params.get("message_id")
    if not message_id:
        raise bad_request("message identifier is not specified")
    message = chat.messages.get(int(message_id))
    if message is None:
        raise bad_request("message to edit not found")
    if message["from"]["id"] != backend.bot.id:
        raise bad_request("message can't be edited")
    return chat, message


def _commit_edit(chat: ChatState, message: Message, changes: dict[str, Any]) -> Message:
    """Applies ``changes`` (None values remove the key) unless they change nothing."""
    if all(message.get(key) == value for key, value in changes.items()):
        raise bad_request(NOT_MODIFIED)
    for key, value in changes.items():
        if value is None:
            message.pop(key, None)
        else:
            message[key] = value
    message["edit_date"] = int(time.time())
    chat.touch()
    chat.record_bot_event("edited", message)
    return message


def _inline_markup_only(params: Params) -> dict[str, Any] | None:
    markup = _reply_markup(params)
    if markup is not None and "inline_keyboard" not in markup:
        raise bad_request("only inline keyboards can be attached to edited messages")
    return markup


# -- bot and updates ---------------------------------------------------------------------------


@method("getMe")
def get_me(backend: Backend, params: Params, files: Files) -> Any:
    return {
        **backend.bot.to_dict(),
        "can_join_groups": True,
        "can_read_all_group_messages": False,
        "supports_inline_queries": False,
        "can_connect_to_business": False,
        "has_main_web_app": False,
    }


@method("logOut")
def log_out(backend: Backend, params: Params, files: Files) -> Any:
    return True


@method("close")
def close(backend: Backend, params: Params, files: Files) -> Any:
    return True


@method("getUpdates")
async def get_updates(backend: Backend, params: Params, files: Files) -> Any:
    return await backend.updates.get_updates(
        params.get("offset"),
        params.get("limit"),
        params.get("timeout"),
        params.get("allowed_updates"),
        client_gone=params.get(CLIENT_GONE) or (lambda: False),
    )


@method("setWebhook")
async def set_webhook(backend: Backend, params: Params, files: Files) -> Any:
    url = str(params.get("url") or "")
    if params.get("drop_pending_updates"):
        backend.updates.drop_pending()
    if not url:
        await backend.updates.delete_webhook()
        return True
    if not url.startswith(("http://", "https://")):
        raise bad_request("bad webhook: An HTTPS URL must be provided for webhook")
    secret = params.get("secret_token")
    if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
        raise bad_request("bad webhook: secret token contains unallowed characters")
    webhook = Webhook(
        url=url,
        secret_token=secret,
        max_connections=int(params.get("max_connections") or 40),
        allowed_updates=params.get("allowed_updates"),
    )
    current = backend.updates.webhook
    if current is not None and (
        current.url,
        current.secret_token,
        current.max_connections,
        current.allowed_updates,
    ) == (url, secret, webhook.max_connections, webhook.allowed_updates):
        return True  # Telegram: "Webhook is already set"; deliveries under way go on
    await backend.updates.set_webhook(webhook)
    return True


@method("deleteWebhook")
async def delete_webhook(backend: Backend, params: Params, files: Files) -> Any:
    if params.get("drop_pending_updates"):
        backend.updates.drop_pending()
    await backend.updates.delete_webhook()
    return True


@method("getWebhookInfo")
def get_webhook_info(backend: Backend, params: Params, files: Files) -> Any:
    return backend.updates.webhook_info()


# -- sending -----------------------------------------------------------------------------------


@method("sendMessage")
def send_message(backend: Backend, params: Params, files: Files) -> Any:
    formatted = _formatted(params, "text", "entities", limit=MAX_TEXT_LENGTH, required=True)
    assert formatted is not None
    text, entities = formatted
    content: dict[str, Any] = {"text": text}
    if entities:
        content["entities"] = entities
    if isinstance(params.get("link_preview_options"), dict):
        content["link_preview_options"] = params["link_preview_options"]
    return _send(backend, params, content)


@method("sendPhoto")
def send_photo(backend: Backend, params: Params, files: Files) -> Any:
    backend.chat_for(params.get("chat_id"))
    content = _with_caption(params, {})
    stored = _input_file(backend, params, files, "photo", "photos")
    return _send(backend, params, {"photo": stored.photo_sizes(), **content})


@method("sendDocument")
def send_document(backend: Backend, params: Params, files: Files) -> Any:
    backend.chat_for(params.get("chat_id"))
    content = _with_caption(params, {})
    stored = _input_file(backend, params, files, "document", "documents")
    return _send(backend, params, {"document": stored.document(), **content})


@method("sendChatAction")
def send_chat_action(backend: Backend, params: Params, files: Files) -> Any:
    chat = backend.chat_for(params.get("chat_id"))
    action = params.get("action")
    if action not in CHAT_ACTIONS:
        raise bad_request("wrong parameter action in request")
    chat.last_action = (str(action), time.monotonic())
    chat.touch()
    return True


@method("getFile")
def get_file(backend: Backend, params: Params, files: Files) -> Any:
    stored = backend.files.get(str(params.get("file_id") or ""))
    if stored is None:
        raise bad_request("invalid file_id")
    return stored.file()


# -- editing and deleting ----------------------------------------------------------------------


@method("editMessageText")
def edit_message_text(backend: Backend, params: Params, files: Files) -> Any:
    chat, message = _message_to_edit(backend, params)
    formatted = _formatted(params, "text", "entities", limit=MAX_TEXT_LENGTH, required=True)
    assert formatted is not None
    if "text" not in message:
        raise bad_request("there is no text in the message to edit")
    text, entities = formatted
    changes = {
        "text": text,
        "entities": entities or None,
        "reply_markup": _inline_markup_only(params),
    }
    return _commit_edit(chat, message, changes)


@method("editMessageCaption")
def edit_message_caption(backend: Backend, params: Params, files: Files) -> Any:
    chat, message = _message_to_edit(backend, params)
    if "text" in message:
        raise bad_request("there is no caption in the message to edit")
    content = _with_caption(params, {})
    changes = {
        "caption": content.get("caption"),
        "caption_entities": content.get("caption_entities"),
        "reply_markup": _inline_markup_only(params),
    }
    return _commit_edit(chat, message, changes)


@method("editMessageReplyMarkup")
def edit_message_reply_markup(backend: Backend, params: Params, files: Files) -> Any:
    chat, message = _message_to_edit(backend, params)
    return _commit_edit(chat, message, {"reply_markup": _inline_markup_only(params)})


@method("deleteMessage")
def delete_message(backend: Backend, params: Params, files: Files) -> Any:
    chat = backend.chat_for(params.get("chat_id"))
    message = chat.messages.pop(int(params.get("message_id") or 0), None)
    if message is None:
        raise bad_request("message to delete not found")
    chat.record_bot_event("deleted", message)
    return True


@method("deleteMessages")
def delete_messages(backend: Backend, params: Params, files: Files) -> Any:
    chat = backend.chat_for(params.get("chat_id"))
    ids = params.get("message_ids")
    if isinstance(ids, str):
        ids = [int(part) for part in ids.strip("[]").split(",") if part.strip()]
    for message_id in ids or []:
        message = chat.messages.pop(int(message_id), None)
        if message is not None:
            chat.record_bot_event("deleted", message)
    return True


@method("answerCallbackQuery")
def answer_callback_query(backend: Backend, params: Params, files: Files) -> Any:
    query = backend.callback_queries.get(str(params.get("callback_query_id") or ""))
    if query is None or query.answer is not None:
        raise bad_request("query is too old and response timeout expired or query ID is invalid")
    text = params.get("text")
    if text is not None and len(str(text)) > 200:
        raise bad_request("MESSAGE_TOO_LONG")
    query.answer = {
        "text": text,
        "show_alert": bool(params.get("show_alert")),
        "url": params.get("url"),
    }
    chat = backend.chats.get(query.chat_id)
    if chat is not None:
        chat.touch()
    return True


# -- commands and profile ----------------------------------------------------------------------


@method("setMyCommands")
def set_my_commands(backend: Backend, params: Params, files: Files) -> Any:
    backend.commands.set(params.get("commands"), params.get("scope"), params.get("language_code"))
    _touch_all(backend)
    return True


@method("getMyCommands")
def get_my_commands(backend: Backend, params: Params, files: Files) -> Any:
    return backend.commands.get(params.get("scope"), params.get("language_code"))


@method("deleteMyCommands")
def delete_my_commands(backend: Backend, params: Params, files: Files) -> Any:
    backend.commands.delete(params.get("scope"), params.get("language_code"))
    _touch_all(backend)
    return True


def _touch_all(backend: Backend) -> None:
    for chat in backend.chats.values():
        chat.touch()


@method("setChatMenuButton")
def set_chat_menu_button(backend: Backend, params: Params, files: Files) -> Any:
    button = params.get("menu_button") or {"type": "default"}
    backend.profile.menu_buttons[params.get("chat_id")] = button
    return True


@method("getChatMenuButton")
def get_chat_menu_button(backend: Backend, params: Params, files: Files) -> Any:
    buttons = backend.profile.menu_buttons
    return buttons.get(params.get("chat_id"), buttons.get(None, {"type": "commands"}))


def _register_profile_text(suffix: str, field: str, limit: int) -> None:
    """setMy<suffix> / getMy<suffix> for one text of the bot's profile (language ignored)."""

    def setter(backend: Backend, params: Params, files: Files) -> Any:
        value = str(params.get(field) or "")
        if len(value) > limit:
            raise bad_request(f"{field} is too long")
        setattr(backend.profile, field, value)
        return True

    def getter(backend: Backend, params: Params, files: Files) -> Any:
        value = getattr(backend.profile, field)
        if field == "name":
            value = value or backend.bot.first_name
        return {field: value}

    METHODS[f"setMy{suffix}"] = setter
    METHODS[f"getMy{suffix}"] = getter


_register_profile_text("Description", "description", 512)
_register_profile_text("ShortDescription", "short_description", 120)
_register_profile_text("Name", "name", 64)


# -- chats -------------------------------------------------------------------------------------


@method("getChat")
def get_chat(backend: Backend, params: Params, files: Files) -> Any:
    chat = backend.chat_for(params.get("chat_id"))
    return {**chat.to_dict(), "accent_color_id": 0, "max_reaction_count": 11}


@method("getChatMember")
def get_chat_member(backend: Backend, params: Params, files: Files) -> Any:
    chat = backend.chat_for(params.get("chat_id"))
    user_id = int(params.get("user_id") or 0)
    user = backend.bot if user_id == backend.bot.id else backend.users.get(user_id)
    if user is None:
        raise bad_request("user not found")
    if user_id not in chat.administrators:
        return {"status": "member", "user": user.to_dict()}
    rights = (
        "can_manage_chat can_delete_messages can_manage_video_chats can_restrict_members "
        "can_promote_members can_change_info can_invite_users can_post_stories "
        "can_edit_stories can_delete_stories"
    ).split()
    return {
        "status": "administrator",
        "user": user.to_dict(),
        "can_be_edited": False,
        "is_anonymous": False,
        **dict.fromkeys(rights, True),
    }
