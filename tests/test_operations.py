"""Operations: SIGTERM stops within 10 s, a rolling restart under traffic loses and doubles
nothing."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import time
from pathlib import Path

import aiohttp
from sqlalchemy import func, select

from bot.outbox import OutboxStore
from storage.db import create_engine, session_factory
from storage.outbox import OutboxMessage
from tests.kit import TOKEN, WEBHOOK_SECRET, free_port, import_network

ROOT = str(Path(__file__).resolve().parent.parent)


async def wait_healthy(url: str, seconds: float = 60.0) -> dict:
    deadline = time.monotonic() + seconds
    async with aiohttp.ClientSession() as http:
        while time.monotonic() < deadline:
            try:
                async with http.get(url) as answer:
                    if answer.status == 200:
                        return await answer.json()
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError(f"{url} not healthy within {seconds}s")


async def queue_messages(database_url: str, chat_ids, text: str) -> None:
    """Rows in the outbox, as a feature of another instance would put them."""
    engine = create_engine(database_url)
    try:
        await OutboxStore(session_factory(engine)).notify_many(
            "test", [(chat_id, text, None) for chat_id in chat_ids]
        )
    finally:
        await engine.dispose()


async def received_at_least(patrons, count: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while sum(len(p.bot_messages) for p in patrons) < count:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)


async def outbox_states(database_url: str) -> dict[str, int]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(OutboxMessage.state, func.count()).group_by(OutboxMessage.state)
            )
            return dict(rows.all())
    finally:
        await engine.dispose()


async def test_sigterm_stops_taking_updates_and_exits_within_10_s(standin, database_url, tmp_path):
    await import_network(database_url)
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(tmp_path),
        "PYTHONPATH": ROOT,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "TELEGRAM_API_BASE_URL": standin.base_url,
        "DATABASE_URL": database_url,
        "PLUME_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
        "PLUME_WEBHOOK_LISTEN": f"127.0.0.1:{port}",
        "PLUME_WEBHOOK_SECRET": WEBHOOK_SECRET,
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env=env,
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        health = await wait_healthy(f"http://127.0.0.1:{port}/healthz")
        assert health["status"] == "ok" and health["mode"] == "webhook"
        alice = standin.user(8001, first_name="Alice", language_code="fr")
        await alice.send("/whoami")
        await alice.wait_for("identifiant", timeout=30)
        assert standin.calls_for("getUpdates") == []
        patrons = [standin.user(8500 + n) for n in range(300)]  # 10 s of sends at 30/s
        await queue_messages(database_url, [p.id for p in patrons], "Rappel")
        await received_at_least(patrons, 30)
        await alice.send("/whoami")  # under way when the signal comes, or just after
        began = time.monotonic()
        process.send_signal(signal.SIGTERM)
        _, stderr = await asyncio.wait_for(process.communicate(), 15)
        took = time.monotonic() - began
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
    assert process.returncode == 0, stderr.decode()[-2000:]
    assert took < 10, took
    assert "Traceback" not in stderr.decode()
    # the second update was either answered before the exit or is still pending at the
    # stand-in (503 or refused: Telegram keeps it for the next instance) — never lost
    answered = len([m for m in alice.messages if "identifiant" in m.text])
    assert answered == 2 or standin.pending_updates == 1, (answered, standin.pending_updates)
    # the outbox finished or gave back its claimed sends, and wrote down every one it made
    states = await outbox_states(database_url)
    received = [len(p.bot_messages) for p in patrons]
    assert set(states) <= {"sent", "pending"}, states
    assert max(received) == 1 and sum(received) == states["sent"], (states, sum(received))
    assert states.get("pending", 0) > 0  # it did stop half-way


async def test_rolling_restart_under_traffic_loses_and_doubles_nothing(
    standin, start_plume, database_url
):
    await import_network(database_url)
    old = await start_plume(mode="balanced")
    people = [standin.user(8100 + i, first_name=f"P{i}", language_code="fr") for i in range(8)]
    rounds = 6
    halfway = asyncio.Event()

    async def talk(person, index: int) -> None:
        for step in range(rounds):
            await person.send(f"/whoami {step}")
            await person.wait_for("identifiant", timeout=30)
            if index == 0 and step == 1:
                halfway.set()

    patrons = [standin.user(8600 + n) for n in range(150)]  # 5 s of outbox sends
    traffic = asyncio.gather(*(talk(person, i) for i, person in enumerate(people)))
    await halfway.wait()
    await queue_messages(database_url, [p.id for p in patrons], "Atelier annulé")
    await received_at_least(patrons, 20)
    await start_plume(mode="balanced")  # the new version first...
    await old.stop()  # ...then the old one stops (SIGTERM does this)
    await asyncio.wait_for(traffic, 120)
    await standin.wait_idle()
    for person in people:
        answers = [m for m in person.messages if m.from_bot and "identifiant" in m.text]
        assert len(answers) == rounds, (person, len(answers))
    assert standin.pending_updates == 0
    deadline = time.monotonic() + 30
    while (await outbox_states(database_url)).get("sent", 0) < len(patrons):
        assert time.monotonic() < deadline, await outbox_states(database_url)
        await asyncio.sleep(0.1)
    assert [len(p.bot_messages) for p in patrons] == [1] * len(patrons)  # 0 lost, 0 doubled


async def test_sandbox_runs_the_webhook_path_when_asked(tmp_path):
    port = free_port()
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "PYTHONPATH": ROOT,
        "HOME": str(tmp_path),
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "sandbox",
        "--webhook",
        "--port",
        str(port),
        cwd=tmp_path,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = b""
        while b"Plume sandbox" not in line:
            line = await asyncio.wait_for(process.stdout.readline(), 90)
            assert line, (await process.stderr.read()).decode()[-2000:]
        base = f"http://127.0.0.1:{port}"
        async with aiohttp.ClientSession() as http:
            async with http.post(f"{base}/api/send", json={"user_id": 710001, "text": "/whoami"}):
                pass
            deadline = time.monotonic() + 30
            texts: list[str] = []
            while time.monotonic() < deadline and not any("710001" in t for t in texts):
                async with http.get(f"{base}/api/chat?user_id=710001&since=-1&wait=1") as answer:
                    view = await answer.json()
                texts = [json.dumps(m, ensure_ascii=False) for m in view["messages"]]
        assert any("710001" in t for t in texts), texts
        process.send_signal(signal.SIGINT)
        _, stderr = await asyncio.wait_for(process.communicate(), 30)
        assert process.returncode == 0
        assert "(webhook mode" in stderr.decode()
    finally:
        if process.returncode is None:
            process.kill()
            await process.wait()
