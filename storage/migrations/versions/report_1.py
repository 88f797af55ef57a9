"""Statistics from the events themselves: no roll-ups, pseudonymous actors, platform usage.

``usage_events`` loses ``user_id`` for a random ``actor`` number (``usage_actors`` is the
only link, which erasure deletes) and gains the local ``day``/``week``/``month``; the
roll-up tables go; events of staff, coordinators and administrators go (they never
counted as patrons). ``resources.counter_platform`` and ``platform_usage`` hold the
providers' COUNTER figures.

Revision ID: report_1
Revises: search_index_1
"""

from __future__ import annotations

import datetime as dt
import os
import secrets
from collections.abc import Sequence
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import op

revision: str = "report_1"
down_revision: str | None = "search_index_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_EVENT_INDEXES = {
    "ix_usage_events_day_kind": ["day", "kind", "library_id", "media_type", "answered"],
    "ix_usage_events_kind_day": ["kind", "day", "subject_id", "media_type"],
    "ix_usage_events_day_actor": ["day", "actor"],
    "ix_usage_events_week_actor": ["week", "actor", "day"],
    "ix_usage_events_month_actor": ["month", "actor", "day"],
    "ix_usage_events_library_actor": ["library_id", "actor", "day"],
    "ix_usage_events_media_actor": ["media_type", "actor", "day"],
}


def upgrade() -> None:
    bind = op.get_bind()
    with op.batch_alter_table("resources", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("counter_platform", sa.String(length=200), nullable=False, server_default="")
        )
    op.create_table(
        "usage_actors",
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("actor", sa.BigInteger(), nullable=False),
        sa.ForeignKeyConstraint(
            ["user_id"],
            ["users.id"],
            name=op.f("fk_usage_actors_user_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("user_id", name=op.f("pk_usage_actors")),
        sa.UniqueConstraint("actor", name=op.f("uq_usage_actors_actor")),
    )
    op.create_table(
        "platform_usage",
        sa.Column("resource_id", sa.String(length=64), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("metric", sa.String(length=32), nullable=False),
        sa.Column("report", sa.String(length=8), nullable=False),
        sa.Column("value", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=300), nullable=False),
        sa.Column("imported_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["resource_id"],
            ["resources.id"],
            name=op.f("fk_platform_usage_resource_id_resources"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint(
            "resource_id", "month", "metric", "report", name=op.f("pk_platform_usage")
        ),
    )
    for table in ("usage_daily", "usage_presence", "usage_active"):
        op.drop_table(table)
    op.rename_table("usage_events", "usage_events_old")
    if bind.dialect.name == "postgresql":
        op.execute("ALTER INDEX pk_usage_events RENAME TO pk_usage_events_old")
    for name in (
        "ix_usage_events_kind_time",
        "ix_usage_events_user_media_time",
        "ix_usage_events_user_time",
    ):
        op.drop_index(name, table_name="usage_events_old")
    events = op.create_table(
        "usage_events",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("occurred_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("week", sa.Date(), nullable=False),
        sa.Column("month", sa.Date(), nullable=False),
        sa.Column("actor", sa.BigInteger(), nullable=True),
        sa.Column("kind", sa.String(length=24), nullable=False),
        sa.Column("library_id", sa.String(length=64), nullable=True),
        sa.Column("media_type", sa.String(length=16), nullable=True),
        sa.Column("subject_id", sa.String(length=64), nullable=True),
        sa.Column("query", sa.Text(), nullable=True),
        sa.Column("raw_text", sa.Text(), nullable=True),
        sa.Column("score", sa.Float(), nullable=True),
        sa.Column("answered", sa.Boolean(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_usage_events")),
    )
    _copy_events(bind, events)
    op.drop_table("usage_events_old")
    for name, columns in _EVENT_INDEXES.items():
        op.create_index(name, "usage_events", columns, unique=False)


def _copy_events(bind: sa.Connection, events: sa.Table) -> None:
    """Old events, each patron's user id replaced by a fresh random actor number."""
    tz = ZoneInfo(os.environ.get("PLUME_TIMEZONE") or "Europe/Paris")
    patrons = {
        row.id for row in bind.execute(sa.text("SELECT id FROM users WHERE role = 'patron'"))
    }
    actors: dict[int, int] = {}
    rows = bind.execute(
        sa.text(
            "SELECT occurred_at, user_id, kind, library_id, media_type, subject_id, query,"
            " raw_text, score, answered FROM usage_events_old ORDER BY id"
        )
    ).all()
    batch = []
    for row in rows:
        if row.user_id is not None and row.user_id not in patrons:
            continue  # staff: never counted
        moment = row.occurred_at
        if isinstance(moment, str):
            moment = dt.datetime.fromisoformat(moment)
        if moment.tzinfo is None:
            moment = moment.replace(tzinfo=dt.UTC)
        day = moment.astimezone(tz).date()
        actor = None
        if row.user_id is not None:
            actor = actors.setdefault(row.user_id, secrets.randbits(62) + 1)
        batch.append(
            {
                "occurred_at": moment,
                "day": day,
                "week": day - dt.timedelta(days=day.weekday()),
                "month": day.replace(day=1),
                "actor": actor,
                "kind": row.kind,
                "library_id": row.library_id,
                "media_type": row.media_type,
                "subject_id": row.subject_id,
                "query": row.query,
                "raw_text": row.raw_text,
                "score": row.score,
                "answered": row.answered,
            }
        )
    if batch:
        op.bulk_insert(events, batch)
    if actors:
        actor_table = sa.table("usage_actors", sa.column("user_id"), sa.column("actor"))
        op.bulk_insert(actor_table, [{"user_id": u, "actor": a} for u, a in actors.items()])


def downgrade() -> None:
    raise NotImplementedError("the events no longer hold user ids: restore a backup instead")
