"""Decoding of Bot API request parameters as clients send them.

python-telegram-bot sends every parameter as a form field (url-encoded, or multipart when a file
is uploaded): strings as they are, everything else JSON-encoded (``"123"``, ``"true"``,
``'{"inline_keyboard": ...}'``). Other clients send a JSON body or a query string. All three end
up here as one ``dict`` with typed values, plus the uploaded files by field name.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from aiohttp import BodyPartReader, web

from .errors import bad_request

# Parameters whose value is a JSON object or array when sent as a form field.
JSON_FIELDS = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "scope",
        "commands",
        "link_preview_options",
        "allowed_updates",
        "reply_parameters",
        "menu_button",
        "media",
        "rights",
        "explanation_entities",
        "options",
    }
)
INT_FIELDS = frozenset(
    {
        "offset",
        "limit",
        "timeout",
        "message_id",
        "message_thread_id",
        "user_id",
        "max_connections",
        "cache_time",
        "from_chat_id",
        "reply_to_message_id",
        "width",
        "height",
        "duration",
    }
)
BOOL_FIELDS = frozenset(
    {
        "disable_notification",
        "protect_content",
        "allow_paid_broadcast",
        "allow_sending_without_reply",
        "disable_web_page_preview",
        "drop_pending_updates",
        "show_alert",
        "has_spoiler",
        "disable_content_type_detection",
        "show_caption_above_media",
        "for_admins",
    }
)


@dataclass(frozen=True, slots=True)
class UploadedFile:
    """A file sent in a multipart request."""

    field: str
    filename: str
    content_type: str
    data: bytes


def coerce(name: str, value: Any) -> Any:
    """Gives a form field its JSON type; values already typed (JSON bodies) pass unchanged."""
    if not isinstance(value, str):
        return value
    if name in JSON_FIELDS:
        try:
            return json.loads(value)
        except ValueError as exc:
            raise bad_request(f"can't parse {name} JSON object") from exc
    if name in INT_FIELDS or name == "chat_id":
        stripped = value.strip()
        if stripped.lstrip("-").isdigit():
            return int(stripped)
        if name == "chat_id":
            return stripped  # "@channelusername"
        raise bad_request(f"invalid {name} specified")
    if name in BOOL_FIELDS:
        lowered = value.strip().lower()
        if lowered in ("true", "1"):
            return True
        if lowered in ("false", "0", ""):
            return False
        raise bad_request(f"invalid {name} specified")
    return value


async def read_parameters(request: web.Request) -> tuple[dict[str, Any], dict[str, UploadedFile]]:
    """Reads query string and body of a Bot API request into typed parameters and files."""
    raw: dict[str, Any] = dict(request.query)
    files: dict[str, UploadedFile] = {}
    content_type = request.content_type
    if request.method == "POST" and request.can_read_body:
        if content_type == "application/json":
            try:
                body = await request.json()
            except ValueError as exc:
                raise bad_request("can't parse JSON request body") from exc
            if not isinstance(body, dict):
                raise bad_request("request body must be a JSON object")
            raw.update(body)
        elif content_type == "multipart/form-data":
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader) or part.name is None:
                    continue
                data = await part.read()
                if part.filename is not None:
                    files[part.name] = UploadedFile(
                        field=part.name,
                        filename=part.filename,
                        content_type=part.headers.get("Content-Type", "application/octet-stream"),
                        data=bytes(data),
                    )
                else:
                    raw[part.name] = data.decode(part.get_charset("utf-8"))
        else:
            form = await request.post()
            raw.update({key: value for key, value in form.items() if isinstance(value, str)})
    params = {name: coerce(name, value) for name, value in raw.items()}
    return params, files
