"""Fuzzing: no update and no button data makes a handler fail (hypothesis, bounded for CI).

The codec is fuzzed alone (thousands of examples, fast), then the real Plume over the Bot
API stand-in with updates hypothesis makes up: button presses with any data, texts and
commands in private chats, groups and channels, from people and anonymous administrators.
Every update must be handled without reaching the error handler; every refused button gets
"Ce bouton n'est plus valable.".
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.shared import callbacks
from bot.standin.markup import command_entities

PREFIXES = [route.prefix for route in callbacks.ROUTES]
INVALID = "Ce bouton n'est plus valable."

digits = st.integers(min_value=-(10**30), max_value=10**30).map(str)
fragment = st.one_of(
    digits,
    st.text(max_size=12),
    st.sampled_from(["f", "r", "i", "x", "0", "1", "-", "*", "", "faq-mdp", "it-1", "lib-a"]),
)
#: data near the real shapes (a known prefix, then fields) and data from nowhere
callback_data = st.one_of(
    st.builds(
        lambda prefix, fields: prefix + ":".join(fields),
        st.sampled_from(PREFIXES),
        st.lists(fragment, max_size=4),
    ),
    st.text(max_size=70),
    st.binary(max_size=70).map(lambda raw: raw.decode("utf-8", "surrogateescape")),
)


@settings(max_examples=1000, deadline=None)
@given(callback_data)
def test_the_codec_never_raises_anything_but_invalid_callback(data):
    try:
        parsed = callbacks.parse(data)
    except callbacks.InvalidCallback:
        return
    assert data.startswith(parsed.route.prefix)
    for kind, field in zip(parsed.shape, parsed.fields, strict=True):
        if kind in ("id", "-id") and field != "-":  # a number a handler can store
            assert 0 <= int(field) <= callbacks.MAX_SERIAL


BOT_USERNAME = "plume_test_bot"
PATRON = {"id": 6001, "is_bot": False, "first_name": "Zoé", "language_code": "fr"}
ANONYMOUS_ADMIN = {"id": 1087968824, "is_bot": True, "first_name": "Group"}
CHATS = {
    "private": {"id": 6001, "type": "private", "first_name": "Zoé"},
    "group": {"id": -4001, "type": "group", "title": "Club"},
    "supergroup": {"id": -1004001, "type": "supergroup", "title": "Réseau"},
    "channel": {"id": -1004002, "type": "channel", "title": "Actus"},
}
texts = st.one_of(
    st.sampled_from(
        [
            "/start",
            f"/start@{BOT_USERNAME}",
            "/start atelier-999999999999999999",
            "/aide",
            "/help",
            "/whoami",
            "/parametres",
            "/annuler",
            "/ateliers",
            "/avis",
            "/stats",
            "bonjour",
            "mot de passe oublié",
            "merci",
        ]
    ),
    st.text(min_size=1, max_size=80),
    st.builds(lambda c, a: f"/{c} {a}", st.sampled_from(["start", "role", "stats"]), digits),
)
message_update = st.builds(
    lambda chat, sender, text: ("message", chat, sender, text),
    st.sampled_from(sorted(CHATS)),
    st.sampled_from(["patron", "anonymous"]),
    texts,
)
press_update = st.builds(lambda data: ("press", "private", "patron", data), callback_data)
updates = st.one_of(message_update, press_update)


def _payload(kind, chat_kind, sender, text, message_ids):
    chat = CHATS[chat_kind]
    message = {"message_id": next(message_ids), "date": int(time.time()), "chat": chat}
    if chat_kind == "channel":
        message["sender_chat"] = chat
    elif sender == "anonymous" and chat_kind != "private":
        message["from"] = ANONYMOUS_ADMIN
        message["sender_chat"] = chat
    else:
        message["from"] = PATRON
    message["text"] = text
    entities = command_entities(text)
    if entities:
        message["entities"] = entities
    return ("channel_post" if chat_kind == "channel" else "message"), message


class _Errors(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


async def _settled(plume, standin) -> None:
    """Until the bot has fetched and finished every update pushed so far."""
    application = plume.application
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        busy = (
            standin.backend.updates.pending_count
            or not application.update_queue.empty()
            or application.update_processor.current_concurrent_updates
        )
        if not busy:
            await asyncio.sleep(0.02)
            if not application.update_processor.current_concurrent_updates:
                return
        await asyncio.sleep(0.01)
    raise AssertionError("the bot did not settle within 20 s")


@pytest.fixture
async def fuzzed(plume, standin):
    """Plume, a patron with a message to press buttons on, and a log of handler errors."""
    zoe = standin.user(PATRON["id"], PATRON["first_name"], language_code="fr")
    await zoe.send("/start")
    target = await zoe.wait_for("Dans quelle bibliothèque")
    errors = _Errors()
    logging.getLogger().addHandler(errors)
    yield plume, standin, zoe, target, errors, itertools.count(10_000)
    logging.getLogger().removeHandler(errors)


SEEN: dict[str, int] = {"press": 0, "message": 0}


@settings(
    max_examples=300,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    database=None,
)
@given(update=updates)
async def test_no_update_nor_button_breaks_a_handler(fuzzed, update):
    plume, standin, zoe, target, errors, message_ids = fuzzed
    kind, chat_kind, sender, text = update
    SEEN[kind] += 1
    if kind == "press":
        query_id = await zoe.press_data(text, target)
    else:
        standin.backend.updates.push(*_payload(kind, chat_kind, sender, text, message_ids))
    await _settled(plume, standin)
    assert errors.records == [], errors.records[0].getMessage()
    if kind == "press":
        answer = zoe.callback_answer(query_id)
        assert answer is not None, f"button {text!r} was never answered"
        if callbacks.check(text) is not None:
            assert answer.get("text") == INVALID
