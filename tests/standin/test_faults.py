"""The hostile network: rate limits (429), blocked users (403), 502s, drops and latency."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import AsyncIterator

import pytest
from standin_helpers import TOKEN, build_echo_app, make_standin
from telegram import Bot
from telegram.error import Forbidden, NetworkError, RetryAfter
from telegram.ext import AIORateLimiter

from bot.standin import DROPPED, BotAPIStandin, Faults
from bot.standin.faults import RateLimits, RateWindow, retry_after_seconds

# PTB 22 warns about RetryAfter.retry_after's future type whenever it builds one.
pytestmark = pytest.mark.filterwarnings("ignore::telegram.warnings.PTBDeprecationWarning")


@pytest.fixture
async def limited() -> AsyncIterator[BotAPIStandin]:
    api = make_standin(Faults(rate_limits=True))
    await api.start()
    yield api
    await api.stop()


def ptb_bot(api: BotAPIStandin) -> Bot:
    return Bot(TOKEN, base_url=api.api_url, base_file_url=api.file_url)


async def test_private_chat_limit_raises_retry_after(limited: BotAPIStandin) -> None:
    alice = limited.user(1001, "Alice")
    async with ptb_bot(limited) as bot:
        await bot.send_message(alice.chat_id, "1")
        with pytest.raises(RetryAfter, match="Retry in 1 seconds"):
            for number in range(2, 6):
                await bot.send_message(alice.chat_id, str(number))
        await bot.send_message(1002, "another chat is not limited")
    refused = limited.calls_for("sendMessage", status=429)
    assert len(refused) == 1 and refused[0].retry_after == 1
    assert refused[0].description == "Too Many Requests: retry after 1"
    assert [m.text for m in alice.messages] == ["1"]


async def test_aio_rate_limiter_waits_it_out(limited: BotAPIStandin) -> None:
    """5 fast messages to one private chat: 1 msg/s makes this test take ~4.4 s."""
    alice = limited.user(1001, "Alice")
    app = build_echo_app(limited, rate_limiter=AIORateLimiter(max_retries=3))
    async with app:
        for number in range(5):
            await app.bot.send_message(alice.chat_id, f"message {number}")
    assert [m.text for m in alice.messages] == [f"message {n}" for n in range(5)]
    assert limited.count_status(429, "sendMessage") == 4
    accepted = [call.at for call in limited.calls_for("sendMessage", status=200)]
    assert all(later - earlier >= 1.0 for earlier, later in itertools.pairwise(accepted))


async def test_group_and_overall_limits(limited: BotAPIStandin) -> None:
    group = limited.group(-100777, "Club")
    async with ptb_bot(limited) as bot:
        # the sends go side by side: one after the other, a loaded machine can take more
        # than the second the overall window counts
        await asyncio.gather(*(bot.send_message(group.id, f"group {n}") for n in range(20)))
        with pytest.raises(RetryAfter):
            await bot.send_message(group.id, "21st within a minute")
        # 30 messages per second overall: 10 more chats fill the second
        await asyncio.gather(*(bot.send_message(chat, "hello") for chat in range(2001, 2011)))
        with pytest.raises(RetryAfter):
            await bot.send_message(2011, "31st this second")
        paid = await bot.send_message(2011, "paid broadcast", allow_paid_broadcast=True)
        assert paid.text == "paid broadcast"
    group_refusal = limited.calls_for(chat_id=group.id, status=429)[0]
    assert 59 <= (group_refusal.retry_after or 0) <= 60


async def test_blocked_and_deactivated_users_are_forbidden(
    standin: BotAPIStandin, bot: Bot
) -> None:
    alice = standin.user(1001, "Alice")
    bruno = standin.user(1002, "Bruno")
    alice.block_bot()
    bruno.deactivate()
    with pytest.raises(Forbidden, match="bot was blocked by the user"):
        await bot.send_message(alice.chat_id, "Bonjour")
    with pytest.raises(Forbidden, match="user is deactivated"):
        await bot.send_chat_action(bruno.chat_id, "typing")
    alice.unblock_bot()
    await bot.send_message(alice.chat_id, "De retour")
    assert standin.count_status(403) == 2


async def _outcomes(seed: int) -> list[int]:
    faults = Faults(server_error_rate=0.25, drop_rate=0.15, seed=seed)
    async with make_standin(faults) as api, ptb_bot(api) as bot:
        for number in range(30):
            with contextlib.suppress(NetworkError):
                await bot.send_message(1001, f"n{number}")
        return [call.status for call in api.calls_for("sendMessage")]


async def test_seeded_server_errors_and_dropped_connections() -> None:
    first = await _outcomes(seed=7)
    assert first == await _outcomes(seed=7)  # reproducible
    assert first != await _outcomes(seed=8)
    assert first.count(502) >= 3 and first.count(DROPPED) >= 2 and first.count(200) >= 10


async def test_drop_and_502_reach_ptb_as_network_errors() -> None:
    async with make_standin(Faults(drop_rate=1.0)) as api, ptb_bot(api) as bot:
        with pytest.raises(NetworkError, match=r"(?i)disconnected|RemoteProtocolError"):
            await bot.send_message(1001, "lost")
        api.faults.drop_rate = 0.0
        api.faults.server_error_rate = 1.0
        with pytest.raises(NetworkError, match="Bad Gateway"):
            await bot.send_message(1001, "lost again")
        assert [call.outcome for call in api.calls_for("sendMessage")] == [
            "dropped",
            "502 Bad Gateway",
        ]


async def test_latency_with_jitter() -> None:
    async with make_standin(Faults(latency=0.05, jitter=0.05, seed=1)) as api, ptb_bot(api) as bot:
        started = time.monotonic()
        await bot.send_message(1001, "slow")
        elapsed = time.monotonic() - started
    assert 0.05 <= elapsed < 1.0


async def test_calls_are_recorded_with_decoded_params(standin: BotAPIStandin, bot: Bot) -> None:
    await bot.send_message(1001, "<i>salut</i>", parse_mode="HTML", disable_notification=True)
    call = standin.calls_for("sendMessage", chat_id=1001)[0]
    assert call.params == {
        "chat_id": 1001,
        "text": "<i>salut</i>",
        "parse_mode": "HTML",
        "disable_notification": True,
    }
    assert call.ok and call.result["entities"] == [{"type": "italic", "offset": 0, "length": 5}]
    assert standin.calls.status_counts() == {200: 2}  # getMe + sendMessage


# -- the windows themselves, on a fake clock --------------------------------------------------


def test_rate_window_slides() -> None:
    window = RateWindow(limit=2, period=1.0)
    window.add(0.0)
    window.add(0.4)
    assert window.wait_time(0.5) == pytest.approx(0.5)
    assert window.wait_time(0.9) == pytest.approx(0.1)
    assert window.wait_time(1.0) == 0.0  # the first event left the window
    window.add(1.0)
    assert window.wait_time(1.2) == pytest.approx(0.2)
    assert retry_after_seconds(0.01) == 1 and retry_after_seconds(1.2) == 2


def _push(limits: RateLimits, count: int, *, paid: bool, chats: int) -> float:
    """Sends ``count`` messages as fast as allowed; returns the simulated duration."""
    now = 0.0
    for number in range(count):
        chat_id = 10_000 + number % chats
        while (wait := limits.check(now, chat_id, paid)) > 0:
            now += wait
        limits.record(now, chat_id)
    return now


def test_ten_thousand_messages_at_thirty_per_second() -> None:
    limits = RateLimits((30, 1.0), (1000, 1.0), (1, 1.0), (20, 60.0))
    started = time.perf_counter()
    simulated = _push(limits, 10_000, paid=False, chats=10_000)
    assert simulated == pytest.approx(10_000 / 30 - 1, abs=1.0)
    assert time.perf_counter() - started < 1.0


def test_paid_broadcast_reaches_a_thousand_per_second() -> None:
    limits = RateLimits((30, 1.0), (1000, 1.0), (1, 1.0), (20, 60.0))
    simulated = _push(limits, 10_000, paid=True, chats=10_000)
    assert simulated == pytest.approx(9.0, abs=0.1)
