"""ids never handed out twice on SQLite: AUTOINCREMENT on the tables whose ids buttons carry

Revision ID: ids_1
Revises: handover_1

SQLite gives a new row the largest id + 1: once a person's data is erased, the ids of
their last rows came back, and an old button ("✍️ Répondre" on question 4) opened another
person's new question 4. With AUTOINCREMENT an id is never used twice. PostgreSQL's
sequences never hand one out twice: nothing to do there. The tables are rebuilt (SQLite
cannot add AUTOINCREMENT to a table), with foreign keys off meanwhile (``storage.db.migrate``)
so that dropping the old table deletes nothing that refers to it.
"""

from collections.abc import Sequence

from alembic import op

revision: str = "ids_1"
down_revision: str | None = "handover_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

TABLES = ("users", "handover_questions", "handover_messages", "feedback", "contact_threads")


def _rebuild(autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    for table in TABLES:
        with op.batch_alter_table(
            table, recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
        ):
            pass


def upgrade() -> None:
    _rebuild(True)


def downgrade() -> None:
    _rebuild(False)
