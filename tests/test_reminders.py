"""Workshop reminders end to end: on time, in the patron's language, once — across restarts.

The database is the truth: rows are planned at registration, claimed before the Bot API
call, settled after it; on start Plume sends what was missed (if the workshop has not begun),
drops the rest, and never resends a row a crash left in ``sending``.
"""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select, update

from bot.services import Services
from bot.workshops.service import Draft
from storage.models import Feedback, Reminder
from tests.kit import import_network, test_settings

SECOND = dt.timedelta(seconds=1)


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def draft(starts_at: dt.datetime, title: str = "Atelier tablette", capacity: int = 50) -> Draft:
    return Draft(
        title=title,
        library_id="lib-bas",
        starts_at=starts_at,
        duration_min=60,
        capacity=capacity,
        description="",
        media_type="press",
        media_set=True,
    )


async def person(services: Services, telegram_id: int, name: str, language: str = "fr") -> int:
    found, _ = await services.users.touch(telegram_id, name, language)
    return found.id


async def states(services: Services) -> dict[str, int]:
    return await services.reminders.counts()


async def test_reminders_on_time_in_each_language_and_i_wont_come(
    standin, start_plume, database_url
):
    await import_network(database_url)
    # Bob's 2 s reminder is planned when he is promoted: that must happen before it is due,
    # so Alice's first reminder comes early enough (7 s) for a loaded machine
    plume = await start_plume(reminder_offsets=(7 * SECOND, 2 * SECOND))
    services = plume.services
    starts = now().replace(microsecond=0) + 11 * SECOND
    view = await services.workshops.create(draft(starts, capacity=1))
    alice = standin.user(6001, first_name="Alice", language_code="fr")
    bob = standin.user(6002, first_name="Bob", language_code="en")
    for patron in (alice, bob):
        await patron.send(f"/start atelier-{view.id}")
        await patron.press_data(f"W:r:{view.id}", await patron.next_message())
        await patron.next_message()
    first = await alice.wait_for("Rappel", timeout=9)
    arrived = now()
    due = starts - 7 * SECOND
    # on time: not before, and within the second a chat may wait for its previous message
    # (Telegram's 1 a second per chat: her registration was just confirmed) plus 1.5 s
    assert due - 0.05 * SECOND <= arrived <= due + 2.5 * SECOND
    assert "« Atelier tablette » a lieu le" in first.text
    assert "Bibliothèque de Bas — 2 place Basse" in first.text
    assert first.button_texts == ["🙁 Je ne viendrai pas", "📆 Ajouter à mon agenda"]
    await alice.press(first, "Je ne viendrai pas")
    edited = await alice.next_message()
    assert edited.edited and "votre place va à quelqu'un d'autre" in edited.text
    promoted = await bob.wait_for("Good news")
    assert "Atelier tablette" in promoted.text
    # Bob's 2 s reminder, in English: promoted late (a loaded machine) it may come first
    second = next((m for m in bob.bot_messages if "Reminder" in m.text), None)
    second = second or await bob.wait_for("Reminder", timeout=7)
    assert "“Atelier tablette” is on" in second.text and "🙁 I won't come" in second.button_texts
    await asyncio.sleep(max(0.0, (starts - now()).total_seconds()) + 0.3)
    await alice.assert_no_message(0.2)  # her 2 s reminder was dropped when she left
    await bob.assert_no_message(0.2)
    rows = await services.reminders.for_workshop(view.id)
    kinds = sorted((r.kind, r.offset_s, r.state) for r in rows)
    assert kinds == [
        ("feedback", 10800, "dropped"),  # Alice's rating request
        ("feedback", 10800, "pending"),  # Bob's, three hours after the end
        ("reminder", 2, "dropped"),
        ("reminder", 2, "sent"),
        ("reminder", 7, "sent"),
    ]


async def test_on_start_missed_reminders_are_sent_once_or_dropped(
    standin, start_plume, database_url
):
    """Plume was down: due reminders of a workshop not begun are sent (only the nearest),
    those of a begun workshop are dropped, a row a crash left "sending" is not resent."""
    await import_network(database_url)
    services = Services.create(test_settings(standin, database_url))
    try:
        workshops = services.workshops
        alice = await person(services, 6101, "Alice")
        bob = await person(services, 6102, "Bob", "en")
        carol = await person(services, 6103, "Carol")
        soon = await workshops.create(draft(now() + 30 * SECOND, "Bientôt"))
        begun = await workshops.create(draft(now() - 10 * 60 * SECOND, "Commencé"))
        later = await workshops.create(draft(now() + 2 * 3600 * SECOND, "Plus tard"))
        two_days_before = now() - 2 * 86400 * SECOND
        for patron in (alice, bob, carol):
            await workshops.register(soon.id, patron, now=two_days_before)
            await workshops.register(begun.id, patron, now=two_days_before)
        await workshops.register(later.id, alice)  # its 1 h reminder only (24 h is past)
        async with services.sessions.begin() as session:
            await session.execute(
                update(Reminder)
                .where(Reminder.due_at > now(), Reminder.kind == "reminder")
                .values(state="sending")  # claimed, then the crash
            )
    finally:
        await services.close()
    standin.user(6103, first_name="Carol").block_bot()

    plume = await start_plume()
    people = [standin.user(6101), standin.user(6102)]
    texts = [(await p.wait_for("minder" if p.id == 6102 else "Rappel")).text for p in people]
    assert "Bientôt" in texts[0] and "Soon" not in texts[0]
    assert "“Bientôt” is on" in texts[1]
    for patron in people:
        await patron.assert_no_message(0.5)  # one reminder each: the 1 h one, not the 24 h
    counts = await states(plume.services)
    # soon: 2 sent (1 h) + Carol's failed (blocked), 3 dropped (24 h, superseded);
    # begun: 6 dropped (too late); later: 1 unconfirmed (crash); 7 ratings pending
    assert counts == {"sent": 2, "failed": 1, "dropped": 9, "unconfirmed": 1, "pending": 7}
    assert (await plume.services.users.get(6103)).reachable is False

    await plume.stop()
    plume = await start_plume()
    for patron in people:
        await patron.assert_no_message(1.0)  # a second start sends nothing again
    assert await states(plume.services) == counts


async def test_a_stop_in_the_middle_of_sending_loses_and_repeats_nothing(
    standin, start_plume, database_url
):
    await import_network(database_url)
    standin.faults.rate_limits = True  # 30 per second: 60 reminders take about 2 s
    plume = await start_plume(reminder_offsets=(60 * SECOND,))
    services = plume.services
    starts = now() + 62 * SECOND
    view = await services.workshops.create(draft(starts, capacity=100))
    patrons = [await person(services, 7000 + n, f"P{n}") for n in range(60)]
    await asyncio.gather(
        *(services.workshops.register(view.id, p, now=starts - 61 * SECOND) for p in patrons)
    )
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 10
    while sum(1 for c in standin.calls_for("sendMessage") if c.ok) < 10:
        assert loop.time() < deadline  # the reminders are going out (about 30 per second)
        await asyncio.sleep(0.02)
    await plume.stop()
    first_run = sum(1 for c in standin.calls_for("sendMessage") if c.ok)
    assert 0 < first_run < 60, first_run
    plume = await start_plume(reminder_offsets=(60 * SECOND,))
    deadline = asyncio.get_running_loop().time() + 10
    while (await states(plume.services)).get("sent", 0) < 60:
        assert asyncio.get_running_loop().time() < deadline, await states(plume.services)
        await asyncio.sleep(0.1)
    received = [len(standin.user(7000 + n).bot_messages) for n in range(60)]
    assert received == [1] * 60  # every patron exactly once
    counts = await states(plume.services)
    assert counts.get("sending", 0) == counts.get("unconfirmed", 0) == 0
    # paced under the limits; the restarted Plume's pacing starts afresh while Telegram's
    # window still counts the last second of the first run: at most a 429 or two, waited out
    assert standin.count_status(429, "sendMessage") <= 2


async def test_the_rating_request_after_the_workshop(standin, start_plume, database_url):
    await import_network(database_url)
    services = Services.create(test_settings(standin, database_url))
    try:
        alice = await person(services, 6201, "Alice")
        absent = await person(services, 6202, "Abel")
        held = await services.workshops.create(draft(now() - 4 * 3600 * SECOND, "Liseuse"))
        for patron in (alice, absent):
            await services.workshops.register(held.id, patron, now=held.starts_at - 3600 * SECOND)
        registrants = await services.workshops.registrants(held.id)
        (abel,) = [r for r in registrants if r.first_name == "Abel"]
        await services.workshops.set_attendance(abel.registration_id, False)
    finally:
        await services.close()
    plume = await start_plume()
    patron = standin.user(6201, first_name="Alice")
    request = await patron.wait_for("Comment s'est passé")
    assert "« Liseuse »" in request.text
    await patron.press(request, "⭐⭐⭐⭐")
    ask = await patron.next_message()
    assert "Merci pour votre note (⭐⭐⭐⭐)" in ask.text
    await patron.send("Très clair, merci !")
    await patron.wait_for("commentaire a été transmis")
    await standin.user(6202).assert_no_message(0.3)  # marked absent: not asked
    async with plume.services.sessions() as session:
        (row,) = (await session.scalars(select(Feedback))).all()
    assert (row.kind, row.rating, row.comment) == ("workshop", 4, "Très clair, merci !")
    assert (row.subject_id, row.library_id, row.media_type) == (held.id, "lib-bas", "press")
    (two,) = [b for row in request.buttons for b in row if b["callback_data"].endswith(":2")]
    again = await patron.press_data(two["callback_data"], request)
    await patron.wait_callback_answer(again)  # pressed once more (or forged): still one row
    async with plume.services.sessions() as session:
        (row,) = (await session.scalars(select(Feedback))).all()
    assert row.rating == 2
