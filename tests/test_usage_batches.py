"""The questions' usage events are written behind the answers, many in one transaction,
and none is lost when the bot stops."""

from __future__ import annotations

from sqlalchemy import func, select

from bot.usage import QUESTION, Event, UsageRecorder
from bot.users import UserService
from storage.db import create_engine, session_factory
from storage.models import UsageEvent
from tests.kit import import_network
from tests.statements import StatementLog


async def question_events(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as connection:
            count = await connection.scalar(
                select(func.count()).select_from(UsageEvent).where(UsageEvent.kind == QUESTION)
            )
            return int(count or 0)
    finally:
        await engine.dispose()


async def test_questions_asked_just_before_a_stop_are_written_by_the_stop(
    standin, start_plume, database_url
):
    await import_network(database_url)
    # a batch would wait 10 s: only the stop writes these
    plume = await start_plume(mode="webhook", usage_batch_seconds=10)
    patrons = [standin.user(3201 + i, first_name=f"P{i}", language_code="fr") for i in range(3)]
    for patron in patrons:
        await patron.send("jai oublie mon mdp")
    for patron in patrons:
        assert (await patron.next_message()).text.startswith("💡")
    assert await question_events(database_url) == 0  # waiting in the batch
    await plume.stop()  # as on SIGTERM
    assert await question_events(database_url) == 3


async def test_a_batch_is_one_transaction_and_the_buffer_is_bounded(database_url):
    engine = create_engine(database_url)
    sessions = session_factory(engine)
    users = UserService(sessions)
    people = [(await users.touch(3301 + i, f"P{i}", "fr"))[0] for i in range(4)]
    recorder = UsageRecorder(sessions, batch_every=0.05, batch_limit=3)
    try:
        with StatementLog() as log:
            for person in people:
                recorder.later(Event(QUESTION, user_id=person.id, query="bd", answered=True))
            await recorder.settled()
        await recorder.close()
    finally:
        await engine.dispose()
    assert recorder.left_out == 1  # the fourth found the buffer full
    assert await question_events(database_url) == 3
    inserts = [e for e in log.entries if e.sql.startswith("INSERT INTO usage_events")]
    assert len(inserts) == 1
    assert {e.task for e in log.entries} == {"plume-usage-flush"}
