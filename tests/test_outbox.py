"""The outbox through the real bot and the stand-in: rows become messages once, errors are
read in one place (403, 400 for a whole campaign, 5xx retried with backoff)."""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from bot.outbox import BULK, enqueue
from storage.db import create_engine
from storage.models import User
from storage.outbox import OutboxMessage


async def wait_rows(services, condition, seconds=10.0, **where):
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        rows = await services.outbox.rows(**where)
        if condition(rows):
            return rows
        assert loop.time() < deadline, [(r.id, r.state, r.last_error) for r in rows]
        await asyncio.sleep(0.05)


async def test_rows_leave_once_and_a_double_enqueue_is_one_row(standin, plume):
    services = plume.services
    ana = standin.user(8001, first_name="Ana")
    async with services.sessions.begin() as session:
        one = {"kind": "test", "chat_id": ana.id, "dedupe_key": "k1"}
        assert await enqueue(session, text="<b>Un</b>", **one)
        assert not await enqueue(session, text="Deux", **one)
        await enqueue(session, kind="test", chat_id=ana.id, text="Trois")
    services.outbox.wake()
    rows = await wait_rows(services, lambda rows: all(r.state == "sent" for r in rows))
    assert len(rows) == 2 and all(r.message_id for r in rows)
    texts = sorted(m.text for m in ana.bot_messages)
    assert texts == ["Trois", "Un"]
    # an edit in place: the same key sends again with its new payload
    first = rows[0]
    for version in ("v1", "v2"):
        async with services.sessions.begin() as session:
            await enqueue(
                session,
                kind="status",
                chat_id=ana.id,
                method="editMessageText",
                payload={"message_id": first.message_id, "text": version},
                dedupe_key="status-1",
                replace=True,
            )
        await wait_rows(services, lambda rows: rows[0].state == "sent", dedupe_key="status-1")
    assert standin.backend.chats[ana.id].messages[first.message_id]["text"] == "v2"


async def test_blocked_is_unreachable_once_and_later_rows_are_not_tried(
    standin, plume, database_url
):
    services = plume.services
    bob = standin.user(8002, first_name="Bob")
    await bob.send("/whoami")
    await bob.next_message()
    bob.block_bot()
    async with services.sessions.begin() as session:
        await enqueue(session, kind="test", chat_id=bob.id, text="Un")
    await wait_rows(services, lambda rows: rows and rows[0].state == "unreachable")
    async with services.sessions() as session:
        reachable = select(User.reachable).where(User.telegram_id == bob.id)
        assert await session.scalar(reachable) is False
    tried = len(standin.calls_for("sendMessage"))
    async with services.sessions.begin() as session:
        await enqueue(session, kind="test", chat_id=bob.id, text="Deux")
    rows = await wait_rows(services, lambda rows: all(r.state == "unreachable" for r in rows))
    assert rows[1].last_error == "unreachable since an earlier send"
    assert len(standin.calls_for("sendMessage")) == tried  # not even tried


async def test_a_text_telegram_refuses_fails_the_whole_campaign_fast(standin, plume):
    services = plume.services
    async with services.sessions.begin() as session:
        for n in range(200):
            await enqueue(
                session,
                kind="announcement",
                chat_id=8100 + n,
                text="<b>unclosed",
                campaign="announcement:99",
                priority=BULK,
            )
    services.outbox.wake()
    await wait_rows(
        services,
        lambda rows: all(r.state == "failed" for r in rows),
        campaign="announcement:99",
    )
    assert len(standin.calls_for("sendMessage")) <= 40  # not 200 requests
    counts = await services.outbox.counts("announcement:99")
    assert counts == {"failed": 200}
    (reason, n), *_ = await services.outbox.errors("announcement:99")
    assert "can't parse entities" in reason and n == 200


async def test_server_errors_are_retried_with_backoff_until_telegram_is_back(standin, start_plume):
    plume = await start_plume(outbox_backoff=0.2)
    services = plume.services
    people = [standin.user(8300 + n) for n in range(20)]
    standin.faults.server_error_rate = 1.0
    async with services.sessions.begin() as session:
        for person in people:
            await enqueue(session, kind="test", chat_id=person.id, text="Bonjour")
    services.outbox.wake()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while standin.count_status(502, "sendMessage") < 3:
        assert loop.time() < deadline
        await asyncio.sleep(0.05)
    await asyncio.sleep(2.0)  # Telegram down for two seconds
    failing = standin.count_status(502, "sendMessage")
    assert failing < 40  # the engine pauses instead of hammering a failing API
    standin.faults.server_error_rate = 0.0
    rows = await wait_rows(services, lambda rows: all(r.state == "sent" for r in rows), 30)
    assert any(r.attempts > 1 for r in rows)
    assert [len(p.bot_messages) for p in people] == [1] * 20  # each exactly once
    async with services.sessions() as session:
        left = await session.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.state != "sent")
        )
    assert left == 0


async def test_a_stop_finishes_the_send_on_its_way_and_gives_back_the_waiting_ones(
    standin, start_plume, database_url
):
    """A rolling restart: the request already on its way to Telegram is answered and written
    down (the next instance does not send it again); the rows still waiting for their turn
    (a chat gets one message a second) go back at once and the next instance sends them."""
    old = await start_plume()
    patron = standin.user(8400)
    async with old.services.sessions.begin() as session:
        for n in range(3):
            await enqueue(session, kind="test", chat_id=patron.id, text=f"Message {n}")
    standin.faults.latency = 1.5  # Telegram slow to answer
    old.services.outbox.wake()
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while not standin.calls_for("sendMessage", chat_id=patron.id):
        assert loop.time() < deadline
        await asyncio.sleep(0.02)
    began = loop.time()
    await old.stop()
    took = loop.time() - began
    assert took < 3.0, took  # it did not wait out the chat's pace
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            states = (await connection.scalars(select(OutboxMessage.state))).all()
    finally:
        await engine.dispose()
    assert sorted(states) == ["pending", "pending", "sent"], states
    assert [m.text for m in patron.bot_messages] == ["Message 0"]
    standin.faults.latency = 0.0
    new = await start_plume()
    await wait_rows(new.services, lambda rows: all(r.state == "sent" for r in rows), 15)
    assert [m.text for m in patron.bot_messages] == ["Message 0", "Message 1", "Message 2"]
