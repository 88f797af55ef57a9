"""An id a button carries is never handed out again, even after a person's data is erased."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import delete, func, insert, select

from storage.db import create_engine, migrate
from storage.models import Feedback, HandoverQuestion, User
from storage.report import UsageActor


async def new_id(conn, statement) -> int:  # type: ignore[no-untyped-def]
    """The id of the row an ``INSERT … RETURNING id`` adds."""
    (row_id,) = (await conn.execute(statement)).one()
    return int(row_id)


async def test_the_last_question_erased_its_id_is_not_the_next_ones(any_database_url) -> None:
    engine = create_engine(any_database_url)
    try:
        async with engine.begin() as conn:
            person = await new_id(
                conn, insert(User).values(telegram_id=4242, first_name="A").returning(User.id)
            )
            old = await new_id(
                conn,
                insert(HandoverQuestion)
                .values(user_id=person, text="Phrase sans sens", state="pending")
                .returning(HandoverQuestion.id),
            )
            vote = await new_id(
                conn, insert(Feedback).values(user_id=person, kind="vote").returning(Feedback.id)
            )
            # the person erased: their rows go, the largest ids among them
            await conn.execute(delete(HandoverQuestion).where(HandoverQuestion.user_id == person))
            await conn.execute(delete(Feedback).where(Feedback.user_id == person))
            await conn.execute(delete(User).where(User.id == person))
            again = await new_id(
                conn, insert(User).values(telegram_id=4242, first_name="A").returning(User.id)
            )
            new = await new_id(
                conn,
                insert(HandoverQuestion)
                .values(user_id=again, text="Une autre question", state="pending")
                .returning(HandoverQuestion.id),
            )
            new_vote = await new_id(
                conn, insert(Feedback).values(user_id=again, kind="vote").returning(Feedback.id)
            )
    finally:
        await engine.dispose()
    assert again > person and new > old and new_vote > vote  # an old "Q:<old>" finds nothing


async def test_the_sqlite_rebuild_keeps_every_row_that_refers_to_the_tables(
    tmp_path: Path,
) -> None:
    """The migration rebuilds users and four more tables; rows referring to a person with
    ON DELETE CASCADE (usage_actors) stay, as do the ids."""
    engine = create_engine(f"sqlite+aiosqlite:///{tmp_path / 'old.sqlite3'}")
    try:
        await migrate(engine, "handover_1")
        async with engine.begin() as conn:
            await conn.execute(
                insert(User).values(id=7, telegram_id=1, first_name="A", language="fr",
                                    role="patron", reachable=True, onboarded=True)
            )  # fmt: skip
            await conn.execute(insert(UsageActor).values(user_id=7, actor=123456))
            await conn.execute(
                insert(HandoverQuestion).values(id=3, user_id=7, text="q", state="pending")
            )
        await migrate(engine)
        async with engine.begin() as conn:
            assert (await conn.scalar(select(func.count()).select_from(UsageActor))) == 1
            assert (await conn.scalar(select(HandoverQuestion.user_id))) == 7
            schema = await conn.exec_driver_sql(
                "SELECT sql FROM sqlite_master WHERE name = 'handover_questions'"
            )
            assert "AUTOINCREMENT" in schema.scalar_one()
            foreign_keys = await conn.exec_driver_sql("PRAGMA foreign_keys")
            assert foreign_keys.scalar_one() == 1  # on again for the bot
            await conn.execute(delete(HandoverQuestion))
            new = await new_id(
                conn,
                insert(HandoverQuestion)
                .values(user_id=7, text="q2", state="pending")
                .returning(HandoverQuestion.id),
            )
        assert new == 4
    finally:
        await engine.dispose()
