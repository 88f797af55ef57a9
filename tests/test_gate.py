"""The update gate on its own: once per update_id, one chat at a time — across two gates on
one database, as two instances are (PostgreSQL), or in one process (SQLite)."""

from __future__ import annotations

import asyncio

from bot.webhook.gate import Admission, UpdateGate
from bot.webhook.metrics import Metrics
from storage.db import create_engine, session_factory


def make_gate(engine, name: str) -> UpdateGate:
    return UpdateGate(
        engine, session_factory(engine), instance=name, metrics=Metrics(), concurrency=8
    )


async def test_handlers_of_one_chat_never_overlap_across_instances(any_database_url):
    """Two instances on PostgreSQL; on SQLite (one instance only) one gate takes them all."""
    engines = [create_engine(any_database_url) for _ in range(2)]
    gates = [make_gate(engine, f"instance-{i}") for i, engine in enumerate(engines)]
    if engines[0].dialect.name == "sqlite":
        gates[1] = gates[0]
    running: dict[int, int] = {}
    overlaps: list[int] = []
    spans: list[tuple[int, float, float]] = []
    loop = asyncio.get_running_loop()

    def handler(chat_id: int):
        async def run() -> None:
            running[chat_id] = running.get(chat_id, 0) + 1
            if running[chat_id] > 1:
                overlaps.append(chat_id)
            began = loop.time()
            await asyncio.sleep(0.05)
            spans.append((chat_id, began, loop.time()))
            running[chat_id] -= 1

        return run

    try:
        # 12 updates of chat 1 and 12 of chat 2, spread over both gates, all at once
        jobs = [
            gates[i % 2].handle(1000 + i, 1 + i // 12, handler(1 + i // 12)) for i in range(24)
        ]
        results = await asyncio.gather(*jobs)
    finally:
        for gate in set(gates):
            await gate.close()
        for engine in engines:
            await engine.dispose()
    assert results == [Admission.HANDLED] * 24
    assert overlaps == []
    # different chats do run side by side
    first = [(b, e) for c, b, e in spans if c == 1]
    second = [(b, e) for c, b, e in spans if c == 2]
    assert any(b1 < e2 and b2 < e1 for b1, e1 in first for b2, e2 in second)


async def test_an_update_is_handled_once_whichever_instance_gets_it(any_database_url):
    engines = [create_engine(any_database_url) for _ in range(2)]
    gates = [make_gate(engine, f"instance-{i}") for i, engine in enumerate(engines)]
    calls: list[int] = []

    async def run() -> None:
        calls.append(1)
        await asyncio.sleep(0.1)

    try:
        together = await asyncio.gather(*(gates[i % 2].handle(77, 5, run) for i in range(6)))
        for gate in gates:  # the "done" marks written
            await gate.flush()
        again = [await gate.handle(77, 5, run) for gate in gates]
    finally:
        for gate in gates:
            await gate.close()
        for engine in engines:
            await engine.dispose()
    assert calls == [1]
    assert together.count(Admission.HANDLED) == 1
    assert set(together) <= {Admission.HANDLED, Admission.BUSY, Admission.DUPLICATE}
    assert again == [Admission.DUPLICATE, Admission.DUPLICATE]


async def test_a_claim_its_instance_never_finished_is_taken_over(any_database_url):
    engine = create_engine(any_database_url)
    dead = make_gate(engine, "dead")
    # the lease is long enough that a loaded machine still checks within it; the check that
    # it is over waits past it
    lease = 1.5
    alive = UpdateGate(
        engine,
        session_factory(engine),
        instance="alive",
        metrics=Metrics(),
        concurrency=4,
        lease=lease,
    )
    calls: list[str] = []

    async def hang() -> None:
        calls.append("dead")
        await asyncio.sleep(30)

    async def run() -> None:
        calls.append("alive")

    stuck = asyncio.create_task(dead.handle(88, 9, hang))
    try:
        for _ in range(200):  # the dead instance has claimed and is running its handler
            if calls:
                break
            await asyncio.sleep(0.025)
        assert await alive.handle(88, 10, run) is Admission.BUSY  # still being handled
        await asyncio.sleep(lease + 0.2)
        # the first instance is gone (its handler never finishes): after the lease, taken over
        assert await alive.handle(88, 10, run) is Admission.HANDLED
    finally:
        stuck.cancel()
        await asyncio.gather(stuck, return_exceptions=True)
        await dead.close()
        await alive.close()
        await engine.dispose()
    assert calls == ["dead", "alive"]
