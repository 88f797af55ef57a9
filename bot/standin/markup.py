"""Formatted text as Telegram understands it: parse modes in, plain text plus entities out.

``parse_text`` turns a message sent with ``parse_mode`` HTML, MarkdownV2 or Markdown into the plain
text and the ``MessageEntity`` dicts Telegram would store, or raises the 400 "can't parse
entities" error Telegram gives for broken markup. Offsets and lengths are in UTF-16 code units,
like the real API. ``entities_to_html`` renders text + entities back to safe HTML for the sandbox
page; ``command_entities`` finds ``/commands`` in user text.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import ApiError, bad_request

Entity = dict[str, Any]


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def _byte_offset(text: str, index: int) -> int:
    return len(text[:index].encode("utf-8"))


def _cannot_parse(detail: str) -> ApiError:
    return bad_request(f"can't parse entities: {detail}")


@dataclass
class _Output:
    """Plain text being built, with its length in UTF-16 units kept alongside."""

    parts: list[str] = field(default_factory=list)
    position: int = 0
    entities: list[Entity] = field(default_factory=list)

    def add(self, text: str) -> None:
        self.parts.append(text)
        self.position += utf16_len(text)

    def close(self, entity_type: str, start: int, **extra: Any) -> None:
        if self.position > start:
            self.entities.append(
                {"type": entity_type, "offset": start, "length": self.position - start, **extra}
            )

    def result(self) -> tuple[str, list[Entity]]:
        ordered = sorted(self.entities, key=lambda e: (e["offset"], -e["length"]))
        return "".join(self.parts), ordered


# --- HTML -------------------------------------------------------------------------------------

_HTML_TAGS = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "tg-spoiler": "spoiler",
    "span": "spoiler",
    "code": "code",
    "pre": "pre",
    "a": "text_link",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"', "apos": "'", "nbsp": "\u00a0"}
_TAG_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9-]*")
_ATTRIBUTE = re.compile(r"\s*([a-zA-Z][a-zA-Z0-9_-]*)(?:\s*=\s*(\"[^\"]*\"|'[^']*'|[^\s>]+))?")
_CHAR_REFERENCE = re.compile(r"&(#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[a-zA-Z][a-zA-Z0-9]*);")


@dataclass
class _OpenTag:
    name: str
    start: int
    extra: dict[str, Any]


def _parse_attributes(source: str) -> dict[str, str]:
    attributes: dict[str, str] = {}
    position = 0
    while position < len(source):
        match = _ATTRIBUTE.match(source, position)
        if not match or match.end() == position:
            break
        value = match.group(2) or ""
        if value[:1] in ("'", '"'):
            value = value[1:-1]
        attributes[match.group(1).lower()] = html.unescape(value)
        position = match.end()
    return attributes


def parse_html(text: str) -> tuple[str, list[Entity]]:
    out = _Output()
    stack: list[_OpenTag] = []
    index = 0
    plain_start = 0
    while index < len(text):
        char = text[index]
        if char == "&":
            match = _CHAR_REFERENCE.match(text, index)
            if match is None:
                index += 1
                continue
            out.add(text[plain_start:index])
            name = match.group(1)
            if name.startswith("#"):
                number = int(name[2:], 16) if name[1:2] in ("x", "X") else int(name[1:])
                out.add(chr(number) if 0 < number < 0x110000 else "\ufffd")
            elif name.lower() in _NAMED_ENTITIES:
                out.add(_NAMED_ENTITIES[name.lower()])
            else:
                offset = _byte_offset(text, index)
                raise _cannot_parse(f'Unsupported HTML entity "&{name};" at byte offset {offset}')
            index = plain_start = match.end()
            continue
        if char != "<":
            index += 1
            continue
        out.add(text[plain_start:index])
        offset = _byte_offset(text, index)
        if not re.match(r"/?[a-zA-Z]", text[index + 1 : index + 3]):
            raise _cannot_parse(
                f'Unsupported start tag "{text[index + 1 : index + 8]}" at byte offset {offset}'
            )
        end = text.find(">", index)
        if end == -1:
            raise _cannot_parse(f"Unclosed start tag at byte offset {offset}")
        body = text[index + 1 : end]
        if body.startswith("/"):
            name = body[1:].strip().lower()
            if not stack:
                raise _cannot_parse(f"Unexpected end tag at byte offset {offset}")
            top = stack.pop()
            if name != top.name:
                raise _cannot_parse(
                    f'Unmatched end tag at byte offset {offset}, expected "</{top.name}>", '
                    f'found "</{name}>"'
                )
            _close_html_tag(out, top, stack)
        else:
            match = _TAG_NAME.match(body)
            name = match.group(0).lower() if match else ""
            if name not in _HTML_TAGS:
                shown = name or body[:20]
                raise _cannot_parse(f'Unsupported start tag "{shown}" at byte offset {offset}')
            attributes = _parse_attributes(body[match.end() :] if match else "")
            stack.append(_OpenTag(name, out.position, _html_extra(name, attributes, offset)))
        index = plain_start = end + 1
    out.add(text[plain_start:])
    if stack:
        raise _cannot_parse(f'Can\'t find end tag corresponding to start tag "{stack[-1].name}"')
    return out.result()


def _html_extra(name: str, attributes: dict[str, str], offset: int) -> dict[str, Any]:
    if name == "span" and attributes.get("class") != "tg-spoiler":
        raise _cannot_parse(f'Tag "span" must have class "tg-spoiler" at byte offset {offset}')
    if name == "a":
        return {"url": attributes["href"]} if attributes.get("href") else {}
    if name == "code" and attributes.get("class", "").startswith("language-"):
        return {"language": attributes["class"].removeprefix("language-")}
    if name == "blockquote" and "expandable" in attributes:
        return {"expandable": True}
    if name == "tg-emoji":
        if "emoji-id" not in attributes:
            raise _cannot_parse(f'Tag "tg-emoji" must have attribute "emoji-id" at {offset}')
        return {"custom_emoji_id": attributes["emoji-id"]}
    return {}


def _close_html_tag(out: _Output, tag: _OpenTag, stack: list[_OpenTag]) -> None:
    entity_type = _HTML_TAGS[tag.name]
    extra = dict(tag.extra)
    if tag.name == "a" and "url" not in extra:
        return  # <a> without href is plain text for Telegram
    if tag.name == "code" and stack and stack[-1].name == "pre":
        if "language" in extra:
            stack[-1].extra["language"] = extra["language"]
        return  # <pre><code class="language-x"> is one pre entity
    if tag.name == "blockquote" and extra.pop("expandable", False):
        entity_type = "expandable_blockquote"
    out.close(entity_type, tag.start, **extra)


# --- MarkdownV2 -------------------------------------------------------------------------------

MARKDOWN_V2_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MARKDOWN_NAMES = {
    "bold": "Bold",
    "italic": "Italic",
    "underline": "Underline",
    "strikethrough": "Strikethrough",
    "spoiler": "Spoiler",
    "code": "Code",
    "pre": "Pre",
    "text_link": "TextUrl",
    "blockquote": "Blockquote",
}
_MARKERS = {"*": "bold", "_": "italic", "~": "strikethrough"}


@dataclass
class _OpenMark:
    kind: str
    start: int
    byte_offset: int
    extra: dict[str, Any] = field(default_factory=dict)


def _reserved(char: str) -> ApiError:
    return _cannot_parse(
        f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
    )


def parse_markdown_v2(text: str) -> tuple[str, list[Entity]]:
    out = _Output()
    stack: list[_OpenMark] = []
    quote_start: int | None = None
    index = 0
    length = len(text)

    def toggle(kind: str, at: int) -> None:
        if stack and stack[-1].kind == kind:
            mark = stack.pop()
            out.close(kind, mark.start, **mark.extra)
        elif any(mark.kind == kind for mark in stack):
            top = stack[-1]
            raise _cannot_parse(
                f"Can't find end of {_MARKDOWN_NAMES[top.kind]} entity at byte offset "
                f"{top.byte_offset}"
            )
        else:
            stack.append(_OpenMark(kind, out.position, _byte_offset(text, at)))

    while index < length:
        char = text[index]
        in_code = bool(stack) and stack[-1].kind in ("code", "pre")
        if char == "\\":
            if index + 1 < length and 0 < ord(text[index + 1]) <= 126:
                out.add(text[index + 1])
                index += 2
                continue
            raise _reserved("\\")
        if in_code:
            if char == "`":
                if stack[-1].kind == "pre":
                    if not text.startswith("```", index):
                        raise _reserved("`")
                    mark = stack.pop()
                    out.close("pre", mark.start, **mark.extra)
                    index += 3
                    continue
                mark = stack.pop()
                out.close("code", mark.start)
            else:
                out.add(char)
            index += 1
            continue
        if index == 0 or text[index - 1] == "\n":
            if quote_start is not None and not text.startswith(">", index):
                out.close("blockquote", quote_start)
                quote_start = None
            if text.startswith(">", index):
                if quote_start is None:
                    quote_start = out.position
                index += 1
                continue
        if char == "`":
            if text.startswith("```", index):
                newline = text.find("\n", index + 3)
                language = text[index + 3 : newline].strip() if newline != -1 else ""
                mark = _OpenMark("pre", out.position, _byte_offset(text, index))
                if language:
                    mark.extra["language"] = language
                stack.append(mark)
                index = newline + 1 if newline != -1 else index + 3
                continue
            stack.append(_OpenMark("code", out.position, _byte_offset(text, index)))
            index += 1
            continue
        if char == "|":
            if not text.startswith("||", index):
                raise _reserved("|")
            toggle("spoiler", index)
            index += 2
            continue
        if char == "_" and text.startswith("__", index):
            toggle("underline", index)
            index += 2
            continue
        if char in ("*", "_", "~"):
            toggle(_MARKERS[char], index)
            index += 1
            continue
        if char == "[":
            stack.append(_OpenMark("text_link", out.position, _byte_offset(text, index)))
            index += 1
            continue
        if char == "]" and stack and stack[-1].kind == "text_link":
            if not text.startswith("(", index + 1):
                raise _reserved("]")
            url_chars: list[str] = []
            cursor = index + 2
            while cursor < length and text[cursor] != ")":
                if text[cursor] == "\\" and cursor + 1 < length:
                    cursor += 1
                url_chars.append(text[cursor])
                cursor += 1
            if cursor >= length:
                raise _cannot_parse(
                    f"Can't find end of a URL at byte offset {_byte_offset(text, index + 2)}"
                )
            mark = stack.pop()
            out.close("text_link", mark.start, url="".join(url_chars))
            index = cursor + 1
            continue
        if char in MARKDOWN_V2_RESERVED:
            raise _reserved(char)
        out.add(char)
        index += 1
    if stack:
        top = stack[-1]
        raise _cannot_parse(
            f"Can't find end of {_MARKDOWN_NAMES[top.kind]} entity at byte offset "
            f"{top.byte_offset}"
        )
    if quote_start is not None:
        out.close("blockquote", quote_start)
    return out.result()


# --- legacy Markdown --------------------------------------------------------------------------

_LEGACY_MARKERS = {"*": "bold", "_": "italic", "`": "code"}


def parse_markdown(text: str) -> tuple[str, list[Entity]]:
    out = _Output()
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text) and text[index + 1] in "_*`[":
            out.add(text[index + 1])
            index += 2
            continue
        if text.startswith("```", index):
            end = text.find("```", index + 3)
            if end == -1:
                raise _legacy_unclosed(text, index)
            start = out.position
            out.add(text[index + 3 : end])
            out.close("pre", start)
            index = end + 3
            continue
        if char in _LEGACY_MARKERS:
            end = text.find(char, index + 1)
            if end == -1:
                raise _legacy_unclosed(text, index)
            start = out.position
            out.add(text[index + 1 : end])
            out.close(_LEGACY_MARKERS[char], start)
            index = end + 1
            continue
        if char == "[":
            middle = text.find("](", index)
            end = text.find(")", middle) if middle != -1 else -1
            if middle == -1 or end == -1:
                raise _legacy_unclosed(text, index)
            start = out.position
            out.add(text[index + 1 : middle])
            out.close("text_link", start, url=text[middle + 2 : end])
            index = end + 1
            continue
        out.add(char)
        index += 1
    return out.result()


def _legacy_unclosed(text: str, index: int) -> ApiError:
    return _cannot_parse(
        f"Can't find end of the entity starting at byte offset {_byte_offset(text, index)}"
    )


def parse_text(text: str, parse_mode: str | None) -> tuple[str, list[Entity]]:
    """Plain text and entities for ``text`` sent with ``parse_mode`` (None: taken as is)."""
    if not parse_mode:
        return text, []
    mode = parse_mode.lower()
    if mode == "html":
        return parse_html(text)
    if mode == "markdownv2":
        return parse_markdown_v2(text)
    if mode == "markdown":
        return parse_markdown(text)
    raise bad_request(f"unsupported parse_mode {parse_mode!r}")


# --- commands in user text --------------------------------------------------------------------

_COMMAND = re.compile(r"(?<!\S)/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![A-Za-z0-9_@])")


def command_entities(text: str) -> list[Entity]:
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group(0)),
        }
        for match in _COMMAND.finditer(text)
    ]


# --- rendering for the sandbox ----------------------------------------------------------------

_HTML_OPEN = {
    "bold": "<b>",
    "italic": "<i>",
    "underline": "<u>",
    "strikethrough": "<s>",
    "spoiler": '<span class="spoiler">',
    "code": "<code>",
    "pre": "<pre>",
    "blockquote": "<blockquote>",
    "expandable_blockquote": "<blockquote>",
    "bot_command": '<span class="command">',
}
_HTML_CLOSE = {
    "bold": "</b>",
    "italic": "</i>",
    "underline": "</u>",
    "strikethrough": "</s>",
    "pre": "</pre>",
    "code": "</code>",
    "blockquote": "</blockquote>",
    "expandable_blockquote": "</blockquote>",
}


def _open_tag(entity: Entity) -> str:
    kind = entity.get("type", "")
    if kind in ("text_link", "url"):
        url = str(entity.get("url", ""))
        if not re.match(r"(https?|tg|mailto):", url):
            return "<span>"
        return f'<a href="{html.escape(url)}" target="_blank" rel="noopener">'
    return _HTML_OPEN.get(kind, "<span>")


def _close_tag(entity: Entity) -> str:
    kind = entity.get("type", "")
    if kind == "text_link" and re.match(r"(https?|tg|mailto):", str(entity.get("url", ""))):
        return "</a>"
    return _HTML_CLOSE.get(kind, "</span>")


def entities_to_html(text: str, entities: list[Entity] | None) -> str:
    """Safe HTML for ``text`` with its entities (nesting repaired when entities overlap)."""
    if not entities:
        return html.escape(text)
    units = text.encode("utf-16-le")
    boundaries: dict[int, tuple[list[Entity], list[Entity]]] = {}
    for entity in entities:
        start = int(entity.get("offset", 0))
        end = start + int(entity.get("length", 0))
        boundaries.setdefault(start, ([], []))[0].append(entity)
        boundaries.setdefault(end, ([], []))[1].append(entity)
    pieces: list[str] = []
    stack: list[Entity] = []
    cut_points = sorted(set(boundaries) | {0, len(units) // 2})
    for position, next_position in zip(cut_points, [*cut_points[1:], None], strict=True):
        opening, closing = boundaries.get(position, ([], []))
        depth = {id(entity): level for level, entity in enumerate(stack)}
        for entity in sorted(closing, key=lambda e: -depth.get(id(e), -1)):
            if id(entity) not in depth or entity not in stack:
                continue
            reopen: list[Entity] = []
            while stack:
                top = stack.pop()
                pieces.append(_close_tag(top))
                if top is entity:
                    break
                reopen.append(top)
            for again in reversed(reopen):
                pieces.append(_open_tag(again))
                stack.append(again)
        for entity in sorted(opening, key=lambda e: -int(e.get("length", 0))):
            if int(entity.get("length", 0)) > 0:
                pieces.append(_open_tag(entity))
                stack.append(entity)
        if next_position is not None:
            chunk = units[position * 2 : next_position * 2].decode("utf-16-le", "replace")
            pieces.append(html.escape(chunk))
    while stack:
        pieces.append(_close_tag(stack.pop()))
    return "".join(pieces)
