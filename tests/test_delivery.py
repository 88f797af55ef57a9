"""Bulk sends: pacing to Telegram's limits, 429, 403, 5xx — through the real bot and HTTP."""

from __future__ import annotations

import asyncio
import time

from bot.throttle import Throttle
from handlers.delivery import Outcome, deliver


def sender(plume, chat_id, text="Bonjour"):
    bot = plume.application.bulk_bot
    return lambda: bot.send_message(chat_id, text)


async def test_sent_and_blocked(standin, plume):
    alice = standin.user(2001, first_name="Alice")
    bob = standin.user(2002, first_name="Bob")
    bob.block_bot()
    throttle = Throttle()
    sent = await deliver(throttle, alice.id, sender(plume, alice.id, "Nouveauté"))
    assert sent.outcome is Outcome.SENT and sent.message_id
    assert (await alice.next_message()).text == "Nouveauté"
    blocked = await deliver(throttle, bob.id, sender(plume, bob.id))
    assert blocked.outcome is Outcome.UNREACHABLE
    assert "blocked" in blocked.error


async def test_server_errors_are_retried_then_given_up(standin, plume):
    carol = standin.user(2003, first_name="Carol")
    quick = Throttle(private_interval=0.0)
    standin.faults.server_error_rate = 1.0
    failed = await deliver(quick, carol.id, sender(plume, carol.id), backoff=0.01)
    assert failed.outcome is Outcome.FAILED and failed.attempts == 4
    assert "Bad Gateway" in failed.error
    standin.faults.server_error_rate = 0.5
    standin.faults.reseed(3)
    results = [
        await deliver(quick, carol.id, sender(plume, carol.id, f"n°{i}"), backoff=0.01)
        for i in range(6)
    ]
    assert all(r.outcome is Outcome.SENT for r in results)
    assert any(r.attempts > 1 for r in results)
    standin.faults.server_error_rate = 0.0
    texts = [m.text for m in carol.bot_messages]
    assert texts == [f"n°{i}" for i in range(6)]  # each exactly once


async def test_a_429_is_waited_out_and_nothing_is_lost(standin, plume):
    dan = standin.user(2004, first_name="Dan")
    standin.faults.rate_limits = True
    eager = Throttle(private_interval=0.0)  # ignores the per-chat limit: Telegram says 429
    results = await asyncio.gather(
        *(deliver(eager, dan.id, sender(plume, dan.id, f"m{i}")) for i in range(3))
    )
    assert [r.outcome for r in results] == [Outcome.SENT] * 3
    refused = [c for c in standin.calls if c.status == 429]
    assert refused, "the stand-in should have answered 429 at least once"
    assert sorted(m.text for m in dan.bot_messages) == ["m0", "m1", "m2"]


async def test_throttle_paces_overall_and_per_chat():
    throttle = Throttle(per_second=100.0, private_interval=0.2)
    began = time.monotonic()
    await asyncio.gather(*(throttle.acquire(chat) for chat in range(1, 51)))
    overall = time.monotonic() - began
    assert 0.38 <= overall < 1.0  # 50 slots at 100 per second, bursts ≤ 125 per second
    began = time.monotonic()
    await asyncio.gather(*(throttle.acquire(7) for _ in range(4)))
    assert time.monotonic() - began >= 0.55  # same chat: 0.2 s apart (first one at once)
