"""Workshop service: seats, waiting list, races, dates typed by staff, daylight saving.

Runs on SQLite and PostgreSQL (``any_database_url``).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from zoneinfo import ZoneInfo

import icalendar
import pytest
from sqlalchemy import select

from bot.outbox import enqueue
from bot.shared.when import parse_moment
from bot.workshops.reminders import FEEDBACK, REMINDER, ReminderQueue
from bot.workshops.service import (
    Draft,
    Outcome,
    WorkshopService,
    ics_calendar,
)
from storage.db import create_engine, session_factory
from storage.models import User, Workshop
from storage.outbox import OutboxMessage
from tests.kit import import_network

PARIS = ZoneInfo("Europe/Paris")
OFFSETS = (dt.timedelta(hours=24), dt.timedelta(hours=1))


@pytest.fixture
async def service(any_database_url):
    await import_network(any_database_url)
    engine = create_engine(any_database_url)
    sessions = session_factory(engine)
    queue = ReminderQueue(sessions, OFFSETS, dt.timedelta(hours=3))
    yield WorkshopService(sessions, queue, PARIS)
    await engine.dispose()


async def patrons(service: WorkshopService, count: int) -> list[int]:
    async with service._sessions.begin() as session:
        users = [User(telegram_id=70_000 + n, first_name=f"P{n}") for n in range(count)]
        session.add_all(users)
        await session.flush()
        return [u.id for u in users]


async def small_workshop(service: WorkshopService, capacity: int, starts_in: dt.timedelta):
    draft = Draft(
        title="Atelier liseuse",
        library_id="lib-amont",
        starts_at=dt.datetime.now(dt.UTC).replace(microsecond=0) + starts_in,
        duration_min=90,
        capacity=capacity,
        description="",
        media_type="ebook",
        media_set=True,
    )
    return await service.create(draft)


async def test_two_patrons_race_for_the_last_seat(service):
    view = await small_workshop(service, 2, dt.timedelta(days=3))
    first, second, third = await patrons(service, 3)
    assert (await service.register(view.id, first)).outcome is Outcome.REGISTERED
    for _ in range(3):  # the race, a few times over (different interleavings)
        results = await asyncio.gather(
            service.register(view.id, second), service.register(view.id, third)
        )
        outcomes = sorted(r.outcome for r in results)
        assert outcomes == [Outcome.REGISTERED, Outcome.WAITING]
        assert [r.position for r in results if r.outcome is Outcome.WAITING] == [1]
        seated = await service.get(view.id)
        assert (seated.registered, seated.waiting) == (2, 1)
        for user in (second, third):
            await service.unregister(view.id, user)


async def test_many_patrons_at_once_never_overbook(service):
    view = await small_workshop(service, 5, dt.timedelta(days=3))
    users = await patrons(service, 20)
    results = await asyncio.gather(*(service.register(view.id, u) for u in users))
    outcomes = [r.outcome for r in results]
    assert outcomes.count(Outcome.REGISTERED) == 5
    assert outcomes.count(Outcome.WAITING) == 15
    assert sorted(r.position for r in results if r.position) == list(range(1, 16))
    again = await asyncio.gather(*(service.register(view.id, u) for u in users[:3]))
    assert {r.outcome for r in again} <= {Outcome.ALREADY_REGISTERED, Outcome.ALREADY_WAITING}


async def test_a_cancellation_promotes_the_first_waiting_patron(service):
    view = await small_workshop(service, 1, dt.timedelta(days=3))
    alice, bob, carol = await patrons(service, 3)
    await service.register(view.id, alice)
    assert (await service.register(view.id, bob)).position == 1
    assert (await service.register(view.id, carol)).position == 2
    left = await service.unregister(view.id, alice)
    assert left.was == "registered"
    assert [p.user_id for p in left.promoted] == [bob]
    assert (await service.enrollment(view.id, bob)).status == "registered"
    assert (await service.enrollment(view.id, carol)).position == 1
    reminders = await service.reminders.for_workshop(view.id)
    by_state = {(r.registration_id, r.kind, r.offset_s): r.state for r in reminders}
    assert sorted(by_state.values()).count("pending") == 3  # Bob's 24h, 1h and rating
    assert sorted(by_state.values()).count("dropped") == 3  # Alice's
    # a waiting patron leaving promotes nobody; nothing to unregister twice
    assert (await service.unregister(view.id, carol)).promoted == []
    assert (await service.unregister(view.id, carol)).was is None


async def test_more_seats_promote_and_a_new_time_replans(service):
    view = await small_workshop(service, 1, dt.timedelta(days=3))
    alice, bob = await patrons(service, 2)
    await service.register(view.id, alice)
    await service.register(view.id, bob)
    later = view.starts_at + dt.timedelta(days=1)
    updated = await service.update(
        view.id, Draft.of(view).with_(capacity=2, starts_at=later), now=None
    )
    assert updated.time_changed and [p.user_id for p in updated.promoted] == [bob]
    rows = await service.reminders.for_workshop(view.id)
    reminders = [r for r in rows if r.kind == REMINDER and r.state == "pending"]
    assert len(reminders) == 4
    assert {r.due_at.replace(tzinfo=dt.UTC) for r in reminders} == {
        later - dt.timedelta(hours=24),
        later - dt.timedelta(hours=1),
    }
    feedback = [r for r in rows if r.kind == FEEDBACK]
    assert {r.due_at.replace(tzinfo=dt.UTC) for r in feedback} == {
        later + dt.timedelta(minutes=90, hours=3)
    }


async def test_cancelling_drops_every_pending_reminder(service):
    view = await small_workshop(service, 2, dt.timedelta(days=3))
    users = await patrons(service, 3)
    for user in users:
        await service.register(view.id, user)
    told = await service.cancel(view.id)
    assert sorted(r.status for r in told) == ["registered", "registered", "waiting"]
    assert {r.state for r in await service.reminders.for_workshop(view.id)} == {"dropped"}
    assert await service.cancel(view.id) is None
    assert (await service.register(view.id, users[0])).outcome is Outcome.CANCELLED
    assert view.id not in [v.id for v in await service.upcoming()]


async def test_the_notices_of_a_change_commit_with_it_or_not_at_all(service):
    """A promotion, a new time and a cancellation queue their notices in the change's own
    transaction: a notice that cannot be queued undoes the change (no seat given that its
    patron never hears of), and a change that commits has its rows in the outbox already."""
    view = await small_workshop(service, 1, dt.timedelta(days=3))
    alice, bob, carol = await patrons(service, 3)
    for user in (alice, bob, carol):
        await service.register(view.id, user)

    async def broken(session, view, recipients):
        await queue(session, view, recipients)
        raise RuntimeError("the outbox is unreachable")

    async def queue(session, view, recipients):
        for person in recipients:
            await enqueue(
                session,
                kind="test",
                chat_id=person.telegram_id,
                text=f"{view.title} {view.registered}",
            )

    with pytest.raises(RuntimeError):
        await service.unregister(view.id, alice, tell_promoted=broken)
    assert (await service.enrollment(view.id, alice)).status == "registered"
    assert (await service.enrollment(view.id, bob)).status == "waiting"
    assert await outbox_texts(service) == []

    left = await service.unregister(view.id, alice, tell_promoted=queue)
    assert [p.user_id for p in left.promoted] == [bob]
    assert await outbox_texts(service) == [(70_001, "Atelier liseuse 1")]  # as it is after

    later = view.starts_at + dt.timedelta(days=1)
    updated = await service.update(
        view.id, Draft.of(view).with_(starts_at=later), tell_moved=queue, tell_promoted=queue
    )
    assert updated.moved and updated.promoted == []
    assert (await outbox_texts(service))[1:] == [
        (70_001, "Atelier liseuse 1"),
        (70_002, "Atelier liseuse 1"),
    ]
    same = await service.update(view.id, Draft.of(updated.view), tell_moved=queue)
    assert not same.moved and len(await outbox_texts(service)) == 3

    assert [r.telegram_id for r in await service.cancel(view.id, tell=queue)] == [70_001, 70_002]
    assert len(await outbox_texts(service)) == 5


async def outbox_texts(service: WorkshopService) -> list[tuple[int, str]]:
    async with service._sessions() as session:
        rows = await session.execute(
            select(OutboxMessage.chat_id, OutboxMessage.payload).order_by(OutboxMessage.id)
        )
        return [(chat_id, json.loads(payload)["text"]) for chat_id, payload in rows.all()]


async def test_registering_late_plans_only_the_reminders_still_ahead(service):
    view = await small_workshop(service, 4, dt.timedelta(minutes=30))
    (alice,) = await patrons(service, 1)
    await service.register(view.id, alice)
    rows = await service.reminders.for_workshop(view.id)
    assert sorted(r.kind for r in rows) == ["feedback"]  # 24 h and 1 h are already past


async def test_upcoming_lists_the_patrons_library_first(service):
    soon = await small_workshop(service, 4, dt.timedelta(days=40))  # lib-amont, before 2030
    views = await service.upcoming("lib-bas")
    assert [v.id for v in views] == ["ws-presse", soon.id, "ws-liseuse"]
    views = await service.upcoming("lib-amont")
    assert [v.id for v in views] == [soon.id, "ws-liseuse", "ws-presse"]
    views = await service.upcoming(None, now=dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
    assert [v.id for v in views] == ["ws-liseuse", "ws-presse"]  # by date


async def test_attendance_toggles(service):
    view = await small_workshop(service, 4, dt.timedelta(days=1))
    (alice,) = await patrons(service, 1)
    await service.register(view.id, alice)
    (registrant,) = await service.registrants(view.id)
    first = await service.toggle_attendance(registrant.registration_id)
    assert first.attended and first.first_time
    second = await service.toggle_attendance(registrant.registration_id)
    assert not second.attended and not second.first_time
    third = await service.toggle_attendance(registrant.registration_id)
    assert third.attended and not third.first_time  # counted once in the statistics
    assert await service.toggle_attendance(999_999) is None


def test_reminders_across_daylight_saving_are_elapsed_time():
    """24h = 24 hours of real time: 09:00 or 11:00 local the day before a 10:00 workshop."""
    from bot.i18n import translator
    from bot.workshops.reminders import plan_for

    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    fr, en = translator("fr"), translator("en")
    spring = parse_moment("28/03/2027 10:00", PARIS, now)
    autumn = parse_moment("31/10/2027 10:00", PARIS, now)
    assert spring == dt.datetime(2027, 3, 28, 8, 0, tzinfo=dt.UTC)  # CEST, UTC+2
    assert autumn == dt.datetime(2027, 10, 31, 9, 0, tzinfo=dt.UTC)  # CET, UTC+1
    assert fr.datetime(spring) == "dimanche 28 mars 2027 à 10:00"
    assert en.datetime(autumn) == "Sunday 31 October 2027 at 10:00\u202fAM"
    plans = {p.offset_s: p.due_at for p in plan_for(spring, 60, OFFSETS, None)}
    assert spring - plans[86400] == dt.timedelta(hours=24)
    assert fr.datetime(plans[86400]) == "samedi 27 mars 2027 à 09:00"  # 23 h of wall clock
    assert fr.time(plans[3600]) == "09:00"
    plans = {p.offset_s: p.due_at for p in plan_for(autumn, 60, OFFSETS, None)}
    assert fr.datetime(plans[86400]) == "samedi 30 octobre 2027 à 11:00"  # 25 h of wall clock
    assert fr.time(plans[3600]) == "09:00"


def test_the_calendar_file():
    from bot.workshops.service import WorkshopView

    starts = dt.datetime(2027, 3, 28, 8, 0, tzinfo=dt.UTC)
    view = WorkshopView(
        "ws-x", "Liseuse & co", "Apportez-la", starts, 90, 8, "ebook", False,
        "lib-amont", "Médiathèque d'Amont", "1 rue Haute", "Amont", 3, 0,
    )  # fmt: skip
    data = ics_calendar(view, "https://t.me/plume_test_bot?start=atelier-ws-x")
    calendar = icalendar.Calendar.from_ical(data)
    (event,) = calendar.walk("VEVENT")
    assert event["UID"] == "ws-x@plume"
    assert event.decoded("DTSTART") == starts
    assert event.decoded("DTEND") == starts + dt.timedelta(minutes=90)
    assert str(event["SUMMARY"]) == "Liseuse & co"
    assert str(event["LOCATION"]) == "Médiathèque d'Amont, 1 rue Haute, Amont"
    assert "atelier-ws-x" in str(event["DESCRIPTION"])
    assert b"DTSTART:20270328T080000Z" in data


async def test_a_new_time_from_an_import_moves_the_reminders_at_resync(service):
    """workshops.csv may move a workshop while Plume runs: the sender's resync follows."""
    view = await small_workshop(service, 4, dt.timedelta(days=3))
    (alice,) = await patrons(service, 1)
    await service.register(view.id, alice)
    later = view.starts_at + dt.timedelta(hours=5)
    async with service._sessions.begin() as session:
        workshop = await session.get(Workshop, view.id)
        workshop.starts_at = later  # as the importer's upsert does
    report = await service.reminders.resync()
    assert (report.created, report.moved, report.dropped) == (0, 3, 0)
    rows = await service.reminders.for_workshop(view.id)
    assert {r.due_at.replace(tzinfo=dt.UTC) for r in rows if r.kind == REMINDER} == {
        later - dt.timedelta(hours=24),
        later - dt.timedelta(hours=1),
    }
    assert {r.state for r in rows} == {"pending"}
    again = await service.reminders.resync()
    assert (again.created, again.moved, again.dropped) == (0, 0, 0)


async def test_daylight_saving_due_times_in_the_database(service):
    """Workshops at 10:00 on the last Sundays of March and October 2027."""
    (alice,) = await patrons(service, 1)
    now = dt.datetime(2027, 1, 1, tzinfo=dt.UTC)
    for text, local_24h in (
        ("28/03/2027 10:00", "2027-03-27 09:00"),  # 23 h of wall clock earlier
        ("31/10/2027 10:00", "2027-10-30 11:00"),  # 25 h of wall clock earlier
    ):
        starts = parse_moment(text, PARIS, now)
        draft = Draft("DST", "lib-amont", starts, 60, 4, "", None, True)
        view = await service.create(draft)
        await service.register(view.id, alice)
        rows = await service.reminders.for_workshop(view.id)
        due = {r.offset_s: r.due_at.replace(tzinfo=dt.UTC) for r in rows if r.kind == REMINDER}
        assert starts - due[86400] == dt.timedelta(hours=24)
        assert f"{due[86400].astimezone(PARIS):%Y-%m-%d %H:%M}" == local_24h
        assert f"{due[3600].astimezone(PARIS):%H:%M}" == "09:00"


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"title": "ab"}, "title"),  # the form asks 3 to 200 characters: so does the service
        ({"title": "x" * 201}, "title"),
        ({"duration_min": 5}, "duration"),  # under 10 minutes: refused by both
        ({"duration_min": 24 * 60 + 1}, "duration"),
        ({"capacity": 0}, "capacity"),
        ({"capacity": 1001}, "capacity"),
        ({"description": "x" * 2001}, "description"),
        ({"media_type": "vinyl"}, "media_type"),
    ],
)
async def test_the_service_applies_the_forms_field_rules(service, change, code):
    """One validation (bot.workshops.fields): what the form refuses, saving refuses too."""
    from dataclasses import replace

    from bot.workshops.fields import WorkshopError

    draft = Draft(
        title="Atelier liseuse",
        library_id="lib-amont",
        starts_at=dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(days=2),
        duration_min=90,
        capacity=10,
        description="",
        media_type="ebook",
        media_set=True,
    )
    with pytest.raises(WorkshopError) as refused:
        await service.create(replace(draft, **change))
    assert refused.value.code == code
