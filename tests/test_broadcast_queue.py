"""An announcement's queue in the outbox, without Telegram, on SQLite and PostgreSQL: built in
the database, cancelled with it, done only once nothing waits, failed ones resent."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from sqlalchemy import insert, select, update

from bot.announcements.service import AnnouncementService, campaign_of
from bot.outbox import OutboxStore
from storage.db import create_engine, session_factory
from storage.models import Library, Registration, Subscription, User, Workshop
from storage.outbox import OutboxMessage


def no_markup(language, topic):
    return None


def stop_button(language, topic):
    label = "Stop" if language == "en" else "Arrêter"
    return {"inline_keyboard": [[{"text": label, "callback_data": f"Un:{topic}"}]]}


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
    started = await service.start_sending(draft.id, no_markup)
    assert started is not None and started.state == "sending"
    outbox = OutboxStore(sessions)
    assert await outbox.counts(campaign_of(draft.id)) == {"pending": 4}
    assert await service.start_sending(draft.id, no_markup) is None  # a second press: nothing
    assert await outbox.counts(campaign_of(draft.id)) == {"pending": 4}


async def test_each_recipient_gets_the_buttons_of_their_language(sessions):
    service = AnnouncementService(sessions)
    people = await add_people(sessions, 4)
    async with sessions.begin() as session:
        await session.execute(update(User).where(User.id == people[0]).values(language="en"))
    draft = await service.create_draft(author_id=None, text="<b>Hi</b>")
    await service.start_sending(draft.id, stop_button)
    rows = await OutboxStore(sessions).rows(campaign=campaign_of(draft.id))
    labels = sorted(
        json.loads(r.payload)["reply_markup"]["inline_keyboard"][0][0]["text"] for r in rows
    )
    assert labels == ["Arrêter", "Arrêter", "Arrêter", "Stop"]
    assert {json.loads(r.payload)["text"] for r in rows} == {"<b>Hi</b>"}
    assert {r.method for r in rows} == {"sendMessage"} and len({r.chat_id for r in rows}) == 4


async def set_states(sessions, campaign, states):
    async with sessions.begin() as session:
        ids = (
            await session.scalars(
                select(OutboxMessage.id)
                .where(OutboxMessage.campaign == campaign)
                .order_by(OutboxMessage.id)
            )
        ).all()
        for row_id, state in zip(ids, states, strict=False):
            await session.execute(
                update(OutboxMessage)
                .where(OutboxMessage.id == row_id)
                .values(state=state, last_error="HTTP 500" if state == "failed" else None)
            )


async def test_done_only_when_nothing_waits_and_failed_ones_can_be_resent(sessions):
    service, outbox = AnnouncementService(sessions), OutboxStore(sessions)
    await add_people(sessions, 5)
    draft = await service.create_draft(author_id=None, text="Hi")
    await service.start_sending(draft.id, no_markup)
    campaign = campaign_of(draft.id)
    await set_states(sessions, campaign, ["sent", "sent", "failed", "unreachable"])
    assert await service.finish(draft.id) is None  # one still pending
    await set_states(sessions, campaign, ["sent", "sent", "failed", "unreachable", "failed"])
    done = await service.finish(draft.id)
    assert done is not None and done.state == "done"
    assert await service.resend_failed(draft.id) == 2
    assert (await service.get(draft.id)).state == "sending"
    assert await outbox.counts(campaign) == {"sent": 2, "pending": 2, "unreachable": 1}
    assert await service.resend_failed(draft.id) == 0  # not done: nothing to resend
    await set_states(sessions, campaign, ["sent"] * 5)
    assert (await service.finish(draft.id)).state == "done"
    assert await service.resend_failed(draft.id) == 0  # nothing failed: it stays done
    assert (await service.get(draft.id)).state == "done"


async def test_cancelled_announcements_cancel_what_is_left(sessions):
    service, outbox = AnnouncementService(sessions), OutboxStore(sessions)
    await add_people(sessions, 50)
    draft = await service.create_draft(author_id=None, text="Hi")
    await service.start_sending(draft.id, no_markup)
    campaign = campaign_of(draft.id)
    await set_states(sessions, campaign, ["sent"] * 10 + ["sending"])
    assert (await service.cancel(draft.id)).state == "cancelled"
    assert await outbox.counts(campaign) == {"sent": 10, "sending": 1, "cancelled": 39}
    assert await service.cancel(draft.id) is None  # already over
