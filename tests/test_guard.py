"""No input breaks a handler: the callback registry, and Plume in private chats only.

Unit tests of the codec (``bot.shared.callbacks``), then the real app over the stand-in:
forged buttons, groups, channels, an anonymous group administrator.
"""

from __future__ import annotations

import asyncio
import re
import time

import pytest
from sqlalchemy import func, select
from telegram.ext import CallbackQueryHandler, ConversationHandler

from bot.shared import callbacks
from storage.db import create_engine
from storage.models import Feedback, User

INVALID = "Ce bouton n'est plus valable."
ANONYMOUS_ADMIN = {
    "id": 1087968824,
    "is_bot": True,
    "first_name": "Group",
    "username": "GroupAnonymousBot",
}


# --- the codec ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "C:f:faq-mdp",
        "V:i:it-1:1",
        "V:r:9781234567890:0",  # an all-digit catalogue id is a key, not a number
        "F:x",
        "F:m:12:0",
        "M:",
        "M:*",
        "M:ebook",
        "M:res-ebooks:3",
        "Sb:t:media:ebook",  # a topic holds a colon
        "Sb:ok",
        "S:lang:fr",
        "Ar:0:-:e:-",
        "W:f:ws-1:5",
        "W:f:odd:id:4",  # a key absorbs the extra colons
        "Wa:t:17:2",
        "Wb:S",
        "An:go:3",
        "Aa:lib:lib-a",
        "Aa:libs:1",
        "Q:2147483647",
    ],
)
def test_the_buttons_plume_makes_are_valid(data):
    assert callbacks.check(data) is None


@pytest.mark.parametrize(
    ("data", "why"),
    [
        ("Q:" + "9" * 25, "does not fit"),  # today: OverflowError in the database driver
        ("Q:2147483648", "does not fit"),  # beyond PostgreSQL's INTEGER
        ("Wa:t:1:99999999999999999999", "does not fit"),
        ("F:m:-1:0", "does not fit"),
        ("F:m:١٢:0", "does not fit"),  # Arabic-Indic digits are digits for str.isdigit
        ("V:x:it-1:1", "does not fit"),  # no such kind of document
        ("V:i:it-1:2", "does not fit"),
        ("Wb:S:more", "does not fit"),
        ("Zz:1", "unknown prefix"),
        ("", "unknown prefix"),
        ("C:f:\udcff", "not UTF-8"),  # a lone surrogate: invalid UTF-8 as JSON carries it
        (b"C:f:\xff\xfe", "not UTF-8"),
        ("C:f:" + "x" * 61, "more than Telegram's 64"),
        ("L:lib\x00a", "does not fit"),
        (None, "no callback data"),
    ],
)
def test_malformed_data_is_refused_with_a_reason(data, why):
    problem = callbacks.check(data)
    assert problem is not None and why in problem


def _callback_patterns(handlers):
    for handler in handlers:
        if isinstance(handler, ConversationHandler):
            yield from _callback_patterns(handler.entry_points)
            for state in handler.states.values():
                yield from _callback_patterns(state)
            yield from _callback_patterns(handler.fallbacks)
        elif isinstance(handler, CallbackQueryHandler) and isinstance(handler.pattern, re.Pattern):
            yield handler.pattern.pattern


async def test_every_button_handler_has_a_route_in_the_registry(plume):
    patterns = [
        pattern
        for group in plume.application.handlers.values()
        for pattern in _callback_patterns(group)
    ]
    assert len(patterns) > 30
    uncovered = []
    for pattern in patterns:
        body = pattern.removeprefix("^")
        alternatives = body[1 : body.index(")")].split("|") if body[:1] == "(" else [body]
        for alternative in alternatives:
            literal = re.split(r"[\\()\[\]$.*+?{|]", alternative)[0]
            covered = callbacks.route_for(literal) is not None or any(
                route.prefix.startswith(literal) for route in callbacks.ROUTES
            )
            if not literal or not covered:
                uncovered.append(pattern)
    assert uncovered == []


# --- buttons through the real app -----------------------------------------------------------


@pytest.mark.parametrize(
    "data",
    [
        "Q:" + "9" * 25,
        "Wa:t:" + "1" * 25 + ":0",
        "F:r:" + "4" * 30 + ":3",
        "Nope:1",
        "C:f:\udcff",
        "V:f:no-such-faq:1",  # a vote on a subject that does not exist
        "C:i:no-such-item",
    ],
)
async def test_a_forged_button_gets_no_longer_valid_and_nothing_else(plume, standin, data):
    alice = standin.user(5001, "Alice", language_code="fr")
    await alice.send("/start")
    message = await alice.wait_for("Dans quelle bibliothèque")
    query_id = await alice.press_data(data, message)
    answer = await alice.wait_callback_answer(query_id)
    assert answer["text"] == INVALID
    await alice.assert_no_message(within=0.3)


async def test_a_vote_on_a_subject_that_does_not_exist_is_not_stored(plume, standin, database_url):
    alice = standin.user(5002, "Alice", language_code="fr")
    await alice.send("/start")
    message = await alice.wait_for("Dans quelle bibliothèque")
    answer = await alice.wait_callback_answer(await alice.press_data("V:f:ghost:0", message))
    assert answer["text"] == INVALID
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            assert await conn.scalar(select(func.count()).select_from(Feedback)) == 0
    finally:
        await engine.dispose()


# --- groups and channels ----------------------------------------------------------------------


async def count_users(database_url) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(User))
    finally:
        await engine.dispose()


async def test_in_a_group_plume_answers_start_once_with_a_link_and_is_otherwise_silent(
    plume, standin, database_url
):
    group = standin.group(-1001234, "Club lecture")
    bob = group.member(standin.user(5003, "Bob", language_code="fr"))
    await bob.send("bonjour tout le monde")
    await bob.send("/aide")
    await bob.assert_no_message(within=0.5)
    await bob.send("/start@plume_test_bot")
    reply = await bob.wait_for("conversation privée")
    assert "https://t.me/plume_test_bot?start=group" in reply.text
    await bob.send("/start")  # again, at once: not a second time
    await bob.send("mot de passe oublié")
    await bob.assert_no_message(within=0.5)
    assert len(group.messages) == 6  # Bob's five and Plume's one
    assert await count_users(database_url) == 0  # nobody is created from a group


async def test_start_in_a_group_from_an_anonymous_administrator(plume, standin):
    group = standin.group(-1005678, "Bibliothécaires")
    standin.backend.updates.push(
        "message",
        {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": group.id, "type": "supergroup", "title": "Bibliothécaires"},
            "from": ANONYMOUS_ADMIN,
            "sender_chat": {"id": group.id, "type": "supergroup", "title": "Bibliothécaires"},
            "text": "/start",
            "entities": [{"type": "bot_command", "offset": 0, "length": 6}],
        },
    )
    for _ in range(50):
        if list(group.chat.bot_events):
            break
        await asyncio.sleep(0.1)
    [event] = group.chat.bot_events
    assert "https://t.me/plume_test_bot?start=group" in event.message["text"]


async def test_in_a_channel_plume_answers_start_only(plume, standin):
    channel = standin.backend.group_chat(-1009999, "Actualités", supergroup=True)
    channel.type = "channel"
    for number, text in enumerate(["Nouveautés de la semaine", "/start"], start=1):
        standin.backend.updates.push(
            "channel_post",
            {
                "message_id": number,
                "date": int(time.time()),
                "chat": {"id": channel.id, "type": "channel", "title": "Actualités"},
                "sender_chat": {"id": channel.id, "type": "channel", "title": "Actualités"},
                "text": text,
                **(
                    {"entities": [{"type": "bot_command", "offset": 0, "length": 6}]}
                    if text == "/start"
                    else {}
                ),
            },
        )
    for _ in range(50):
        if channel.bot_events:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.3)
    assert [event.message["text"][:40] for event in channel.bot_events] == [
        "Je ne parle qu'en conversation privée, p"
    ]


async def test_a_private_chat_still_gets_the_text_only_notice(plume, standin):
    alice = standin.user(5004, "Alice", language_code="fr")
    standin.backend.updates.push(
        "message",
        {
            "message_id": 1,
            "date": int(time.time()),
            "chat": {"id": alice.id, "type": "private", "first_name": "Alice"},
            "from": {"id": alice.id, "is_bot": False, "first_name": "Alice"},
            "dice": {"emoji": "🎲", "value": 4},
        },
    )
    await alice.wait_for("Je ne lis que les messages texte")
