"""Outages for real, through a TCP proxy the test cuts: the database away (PostgreSQL), the
Bot API unreachable. Plume apologises to people who write, keeps running, and once the
other side is back every job resumes by itself: nothing that fell due is lost, nothing is
sent twice."""

from __future__ import annotations

import asyncio
import datetime as dt
import time

import pytest
from sqlalchemy.engine import make_url

from bot.outbox import BULK
from bot.standin.proxy import CuttableProxy
from bot.workshops.service import Draft
from tests.kit import import_network

SECOND = dt.timedelta(seconds=1)


def draft(starts_at: dt.datetime) -> Draft:
    return Draft(
        title="Atelier tablette",
        library_id="lib-bas",
        starts_at=starts_at,
        duration_min=60,
        capacity=100,
        description="",
        media_type="press",
        media_set=True,
    )


async def until(condition, seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not await condition():
        assert time.monotonic() < deadline, what
        await asyncio.sleep(0.1)


@pytest.fixture
async def proxy_to_database(database_url):
    url = make_url(database_url)
    if not url.drivername.startswith("postgresql"):
        pytest.skip("PostgreSQL over TCP (SQLite has no connection to cut)")
    proxy = CuttableProxy(url.host or "127.0.0.1", url.port or 5432)
    await proxy.start()
    proxied = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    yield proxy, proxied
    await proxy.stop()


async def test_database_outage_apologises_resumes_and_loses_nothing(
    standin, start_plume, database_url, proxy_to_database
):
    proxy, proxied = proxy_to_database
    await import_network(database_url)
    plume = await start_plume(database_url=proxied, reminder_offsets=(55 * SECOND,))
    services = plume.services
    # the reminders fall due 20 s from now: after the setup below and the cut, however slow
    # the machine, and during the outage, which lasts until 5 s past that moment
    due = time.monotonic() + 20
    starts = dt.datetime.now(dt.UTC) + 75 * SECOND
    view = await services.workshops.create(draft(starts))
    registered = [standin.user(9100 + n, first_name=f"R{n}") for n in range(20)]
    for patron in registered:
        found, _ = await services.users.touch(patron.id, "Patron", "fr")
        await services.workshops.register(view.id, found.id)
    audience = [standin.user(9200 + n) for n in range(150)]  # a broadcast under way
    await services.outbox.notify_many(
        "announcement", [(p.id, "Annonce", None) for p in audience], priority=BULK
    )

    async def received(people, count):
        return sum(len(p.bot_messages) for p in people) >= count

    await until(lambda: received(audience, 20), 20, "the broadcast to start")
    await proxy.cut()
    cut_at = time.monotonic()
    assert cut_at < due, "the setup took longer than the 20 s before the reminders are due"
    ana = standin.user(9001, first_name="Ana", language_code="fr")
    await ana.send("/whoami")
    sorry = await ana.wait_for("problème technique", timeout=15)
    assert "je vous répondrai" in sorry.text
    # at least 12 s without database, and 5 s past the reminders' due time
    await asyncio.sleep(max(12 - (time.monotonic() - cut_at), due + 5 - time.monotonic(), 0.0))
    assert sum(len(p.bot_messages) for p in registered) == 0  # due, but nothing can go
    proxy.restore()
    await ana.wait_for("identifiant", timeout=30)  # the answer, once the database is back
    await until(lambda: received(registered, 20), 40, "the reminders after the outage")
    await until(lambda: received(audience, 150), 60, "the broadcast after the outage")
    await asyncio.sleep(1.0)
    assert [len(p.bot_messages) for p in registered] == [1] * 20  # each reminder once
    assert max(len(p.bot_messages) for p in audience) == 1  # no duplicate
    assert [m.text for m in ana.bot_messages].count(sorry.text) == 1  # apologised once
    counts = await services.reminders.counts()
    assert counts.get("sent") == 20 and not counts.get("sending"), counts


async def test_bot_api_unreachable_resumes_and_loses_nothing(standin, start_plume, database_url):
    host, _, port = standin.base_url.removeprefix("http://").partition(":")
    proxy = CuttableProxy(host, int(port.split("/")[0]))
    await proxy.start()
    try:
        plume = await start_plume(
            telegram_api_base_url=f"http://127.0.0.1:{proxy.port}", outbox_backoff=0.5
        )
        services = plume.services
        people = [standin.user(9300 + n) for n in range(100)]
        await services.outbox.notify_many(
            "announcement", [(p.id, "Annonce", None) for p in people], priority=BULK
        )

        async def received(count):
            return sum(len(p.bot_messages) for p in people) >= count

        await until(lambda: received(20), 20, "the sends to start")
        await proxy.cut()
        await asyncio.sleep(8)  # Telegram unreachable
        before = sum(len(p.bot_messages) for p in people)
        proxy.restore()
        await until(lambda: received(100), 60, "the sends after the outage")
        ana = standin.user(9002, first_name="Ana", language_code="fr")
        await ana.send("/whoami")  # polling resumed by itself
        await ana.wait_for("identifiant", timeout=30)
        extra = sum(len(p.bot_messages) for p in people) - 100
        assert extra <= 16, extra  # duplicates: at most the sends in flight at the cut
        assert before < 100
    finally:
        await proxy.stop()


LOCK_HOLDER = """
import sqlite3, sys, time
connection = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=30)
# the write lock (in WAL mode an exclusive transaction stops writers, not readers), held
# until the test says so
connection.execute("BEGIN EXCLUSIVE")
connection.execute("CREATE TABLE IF NOT EXISTS held_by_another_process (n INTEGER)")
print("locked", flush=True)
sys.stdin.readline()  # until the test says so
connection.rollback()
connection.close()
"""


async def test_sqlite_file_locked_by_another_process(standin, start_plume, database_url):
    """Another program (a backup, someone's sqlite3 shell) holds an exclusive lock on the
    database file: Plume apologises to whoever writes, keeps running, and once the lock is
    let go answers, sends the reminders that fell due and finishes the broadcast."""
    import sys

    url = make_url(database_url)
    if url.get_backend_name() != "sqlite":
        pytest.skip("a SQLite file held by another process")
    await import_network(database_url)
    plume = await start_plume(reminder_offsets=(55 * SECOND,), outbox_backoff=0.5)
    services = plume.services
    starts = dt.datetime.now(dt.UTC) + 62 * SECOND  # reminders due in 7 s: under the lock
    view = await services.workshops.create(draft(starts))
    registered = [standin.user(9400 + n, first_name=f"R{n}") for n in range(10)]
    for patron in registered:
        found, _ = await services.users.touch(patron.id, "Patron", "fr")
        await services.workshops.register(view.id, found.id)
    audience = [standin.user(9500 + n) for n in range(60)]
    await services.outbox.notify_many(
        "announcement", [(p.id, "Annonce", None) for p in audience], priority=BULK
    )

    async def received(people, count):
        return sum(len(p.bot_messages) for p in people) >= count

    await until(lambda: received(audience, 10), 20, "the broadcast to start")
    holder = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        LOCK_HOLDER,
        str(url.database),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        assert holder.stdout is not None and holder.stdin is not None
        assert (await asyncio.wait_for(holder.stdout.readline(), 20)).strip() == b"locked"
        locked_at = time.monotonic()
        ana = standin.user(9003, first_name="Ana", language_code="fr")
        await ana.send("/whoami")
        sorry = await ana.wait_for("problème technique", timeout=30)
        assert "je vous répondrai" in sorry.text
        await asyncio.sleep(max(0.0, 25 - (time.monotonic() - locked_at)))  # 25 s locked
        assert sum(len(p.bot_messages) for p in registered) == 0  # due, but nothing can go
        assert not any(m.text and "identifiant" in m.text for m in ana.bot_messages)
        holder.stdin.write(b"go\n")
        await holder.stdin.drain()
        await asyncio.wait_for(holder.wait(), 10)
    finally:
        if holder.returncode is None:
            holder.kill()
            await holder.wait()
    await ana.wait_for("identifiant", timeout=40)  # the answer, once the file is free
    await until(lambda: received(registered, 10), 60, "the reminders after the lock")
    await until(lambda: received(audience, 60), 60, "the broadcast after the lock")
    await asyncio.sleep(1.0)
    assert [len(p.bot_messages) for p in registered] == [1] * 10  # each reminder once
    assert max(len(p.bot_messages) for p in audience) == 1  # no duplicate
    assert [m.text for m in ana.bot_messages].count(sorry.text) == 1  # apologised once
    counts = await services.reminders.counts()
    assert counts.get("sent") == 10 and not counts.get("sending"), counts
