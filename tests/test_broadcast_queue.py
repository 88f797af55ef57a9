"""The delivery queue and the sending engine, without Telegram, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import func, insert, select, update

from bot.announcements import AnnouncementService
from bot.broadcaster import Broadcaster
from storage.db import create_engine, session_factory
from storage.models import Delivery, Library, Registration, Subscription, User, Workshop


@dataclass(frozen=True)
class Sent:
    outcome: str
    error: str | None = None
    attempts: int = 1


async def add_people(sessions, count, topics=("news",), *, first_id=500_000, library=None):
    async with sessions.begin() as session:
        await session.execute(
            insert(User),
            [
                {"telegram_id": first_id + i, "first_name": f"P{i}", "library_id": library}
                for i in range(count)
            ],
        )
        ids = (
            await session.scalars(
                select(User.id).where(User.telegram_id.between(first_id, first_id + count - 1))
            )
        ).all()
        rows = [{"user_id": uid, "topic": topic} for uid in ids for topic in topics]
        if rows:
            await session.execute(insert(Subscription), rows)
    return sorted(ids)


@pytest.fixture
async def sessions(any_database_url):
    engine = create_engine(any_database_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_audiences_are_built_in_the_database(sessions):
    service = AnnouncementService(sessions)
    async with sessions.begin() as session:
        session.add(Library(id="lib-a", name="A"))
    news = await add_people(sessions, 5, ("news", "media:ebook"))
    await add_people(sessions, 3, ("events",), first_id=600_000, library="lib-a")
    await add_people(sessions, 2, (), first_id=700_000)  # opted in to nothing
    async with sessions.begin() as session:
        await session.execute(update(User).where(User.id == news[0]).values(reachable=False))
        session.add(
            Workshop(
                id="ws-1",
                library_id="lib-a",
                title="Liseuse",
                starts_at=dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
            )
        )
        await session.flush()
        session.add(Registration(workshop_id="ws-1", user_id=news[1]))
        session.add(Registration(workshop_id="ws-1", user_id=news[2], status="cancelled"))
    assert await service.count("all") == 4  # the unreachable one is left out
    assert await service.count("media:ebook") == 4
    assert await service.count("media:video") == 0
    assert await service.count("library:lib-a") == 3
    assert await service.count("workshop:ws-1") == 1
    draft = await service.create_draft(author_id=None, text="Hello", audience="media:ebook")
    started = await service.start_sending(draft.id)
    assert started is not None and started.state == "sending"
    assert await service.counts(draft.id) == {"pending": 4}
    assert await service.start_sending(draft.id) is None  # a second press does nothing
    assert await service.counts(draft.id) == {"pending": 4}


async def test_engine_sends_each_once_and_resumes_after_a_stop(sessions):
    service = AnnouncementService(sessions)
    people = await add_people(sessions, 120)
    draft = await service.create_draft(author_id=None, text="Hi")
    await service.start_sending(draft.id)
    seen: list[int] = []
    blocked = {500_003, 500_050}
    forty = asyncio.Event()

    async def send(recipient):
        await asyncio.sleep(0.002)
        seen.append(recipient.chat_id)
        if len(seen) >= 40:
            forty.set()
        if recipient.chat_id in blocked:
            return Sent("unreachable", "Forbidden: bot was blocked by the user")
        if recipient.chat_id == 500_007:
            return Sent("failed", "Bad Request: message is too long", 1)
        return Sent("sent")

    first = Broadcaster(service, draft.id, send, window=8, flush_every=0.01)
    task = asyncio.create_task(first.run())
    await forty.wait()
    first.stop()
    progress = await task
    assert progress.stopped and not progress.finished
    counts = await service.counts(draft.id)
    assert "sending" not in counts  # unsent claims went back to pending
    assert counts["pending"] == 120 - len(seen)

    # a crash: some claimed deliveries were left "sending"
    async with sessions.begin() as session:
        ids = (
            await session.scalars(
                select(Delivery.id).where(Delivery.state == "pending").order_by(Delivery.id)
            )
        ).all()[:3]
        await session.execute(update(Delivery).where(Delivery.id.in_(ids)).values(state="sending"))
    second = Broadcaster(service, draft.id, send, window=8, flush_every=0.01)
    progress = await second.run()
    assert progress.finished and progress.requeued == 3
    assert (progress.sent, progress.unreachable, progress.failed) == (117, 2, 1)
    assert sorted(seen) == sorted(500_000 + i for i in range(120))  # each exactly once
    done = await service.finish(draft.id)
    assert done is not None and done.state == "done"
    async with sessions() as session:
        unreachable = await session.scalar(
            select(func.count()).select_from(User).where(User.reachable.is_(False))
        )
        failed = await session.scalar(select(Delivery).where(Delivery.state == "failed"))
    assert unreachable == 2
    assert failed.last_error == "Bad Request: message is too long"
    assert len(people) == 120


async def test_cancelled_announcements_stop_and_keep_what_is_left(sessions):
    service = AnnouncementService(sessions)
    await add_people(sessions, 50)
    draft = await service.create_draft(author_id=None, text="Hi")
    await service.start_sending(draft.id)
    sent = 0
    ten = asyncio.Event()

    async def send(recipient):
        nonlocal sent
        sent += 1
        if sent >= 10:
            ten.set()
        await asyncio.sleep(0.005)
        return Sent("sent")

    engine = Broadcaster(service, draft.id, send, window=2, flush_every=0.01)
    task = asyncio.create_task(engine.run())
    await ten.wait()
    assert (await service.cancel(draft.id)).state == "cancelled"
    engine.stop()
    progress = await task
    assert progress.stopped and progress.left > 0
    assert progress.sent == sent
    assert await service.cancel(draft.id) is None  # already over
