"""Parse modes as Telegram reads them: plain text + UTF-16 entities, or a 400 for bad markup."""

from __future__ import annotations

import html

import pytest

from bot.standin.errors import ApiError
from bot.standin.markup import (
    command_entities,
    entities_to_html,
    parse_html,
    parse_markdown_v2,
    parse_text,
)


def test_html_to_text_and_entities_with_utf16_offsets() -> None:
    text, entities = parse_html(
        '📚 <b>Horaires</b> &amp; <a href="https://x.fr/?a=1&amp;b=2">lien</a>'
    )
    assert text == "📚 Horaires & lien"
    assert entities == [
        {"type": "bold", "offset": 3, "length": 8},  # the emoji counts 2 UTF-16 units
        {"type": "text_link", "offset": 14, "length": 4, "url": "https://x.fr/?a=1&b=2"},
    ]


def test_html_pre_code_language_and_spoiler() -> None:
    text, entities = parse_html(
        '<pre><code class="language-python">x = 1</code></pre><span class="tg-spoiler">s</span>'
    )
    assert text == "x = 1s"
    assert entities == [
        {"type": "pre", "offset": 0, "length": 5, "language": "python"},
        {"type": "spoiler", "offset": 5, "length": 1},
    ]


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("<b>gras</i>", 'Unmatched end tag at byte offset 7, expected "</b>", found "</i>"'),
        ("<b>gras", 'Can\'t find end tag corresponding to start tag "b"'),
        ("1 < 2", 'Unsupported start tag " 2" at byte offset 2'),
        ("<script>x</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("&nope;", 'Unsupported HTML entity "&nope;" at byte offset 0'),
        ("fin</b>", "Unexpected end tag at byte offset 3"),
    ],
)
def test_broken_html_is_a_400(markup: str, detail: str) -> None:
    with pytest.raises(ApiError) as failure:
        parse_html(markup)
    assert failure.value.error_code == 400
    assert failure.value.description == f"Bad Request: can't parse entities: {detail}"


def test_escaped_staff_text_is_always_accepted() -> None:
    staff_text = "<Fermé> & 'exceptionnel' \"demain\" </b>"
    text, entities = parse_html(f"<i>{html.escape(staff_text)}</i>")
    assert text == staff_text and entities == [{"type": "italic", "offset": 0, "length": 38}]


def test_markdown_v2() -> None:
    text, entities = parse_markdown_v2(
        r"*gras* _it_ __sous__ ~b~ ||sp|| `c\`` [l](https://a.b/\)) 1\."
    )
    assert text == "gras it sous b sp c` l 1."
    assert [e["type"] for e in entities] == [
        "bold",
        "italic",
        "underline",
        "strikethrough",
        "spoiler",
        "code",
        "text_link",
    ]
    assert entities[-1]["url"] == "https://a.b/)"


@pytest.mark.parametrize(
    ("markup", "detail"),
    [
        ("Bonjour !", "Character '!' is reserved and must be escaped with the preceding '\\'"),
        ("*gras", "Can't find end of Bold entity at byte offset 0"),
        ("_a *b_ c*", "Can't find end of Bold entity at byte offset 3"),
        ("```\ncode", "Can't find end of Pre entity at byte offset 0"),
    ],
)
def test_broken_markdown_v2_is_a_400(markup: str, detail: str) -> None:
    with pytest.raises(ApiError) as failure:
        parse_markdown_v2(markup)
    assert failure.value.description == f"Bad Request: can't parse entities: {detail}"


def test_plain_text_and_unknown_parse_mode() -> None:
    assert parse_text("<b>tel quel</b>", None) == ("<b>tel quel</b>", [])
    with pytest.raises(ApiError, match="unsupported parse_mode"):
        parse_text("x", "BBCode")


def test_command_entities() -> None:
    assert command_entities("/start abc /aide@plume_bot x/non") == [
        {"type": "bot_command", "offset": 0, "length": 6},
        {"type": "bot_command", "offset": 11, "length": 15},
    ]


def test_entities_to_html_escapes_and_nests() -> None:
    text, entities = parse_html("<b>a <i>&lt;b&gt;</i></b> <a href='javascript:alert(1)'>x</a>")
    rendered = entities_to_html(text, entities)
    assert rendered == "<b>a <i>&lt;b&gt;</i></b> <span>x</span>"
    overlapping = [
        {"type": "bold", "offset": 0, "length": 4},
        {"type": "italic", "offset": 2, "length": 4},
    ]
    assert entities_to_html("abcdef", overlapping) == "<b>ab<i>cd</i></b><i>ef</i>"
