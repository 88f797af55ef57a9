"""Indexes that let every figure of the evaluation report be read in one pass.

- ``ix_usage_events_counts`` (kind, library_id, media_type, day, answered): the counts per
  kind, library and media type, in the GROUP BY's order, without a sort;
- ``ix_usage_events_kind_day`` gains ``answered`` and ``library_id``: the trend's counts and
  the most opened cards covered, also for one library;
- ``ix_usage_events_library_actor`` gains ``week``, ``month`` and ``media_type``: every
  active-patron figure of one library read from that library's entries only (a one-library
  report scanned every event before);
- ``ix_usage_events_cards`` and ``ix_usage_events_unanswered``: partial indexes of the
  card views (in the order of the most opened cards) and of the unanswered questions.

Revision ID: report_2
Revises: answering_1
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "report_2"
down_revision: str | None = "answering_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNANSWERED = "kind = 'question' AND NOT answered"
CARD_VIEW = "kind = 'card_view'"


def upgrade() -> None:
    op.create_index(
        "ix_usage_events_counts",
        "usage_events",
        ["kind", "library_id", "media_type", "day", "answered"],
    )
    op.drop_index("ix_usage_events_kind_day", table_name="usage_events")
    op.create_index(
        "ix_usage_events_kind_day",
        "usage_events",
        ["kind", "day", "answered", "library_id", "subject_id", "media_type"],
    )
    op.drop_index("ix_usage_events_library_actor", table_name="usage_events")
    op.create_index(
        "ix_usage_events_library_actor",
        "usage_events",
        ["library_id", "actor", "day", "week", "month", "media_type"],
    )
    op.create_index(
        "ix_usage_events_cards",
        "usage_events",
        ["subject_id", "media_type", "day", "library_id", "kind"],
        sqlite_where=sa.text(CARD_VIEW),
        postgresql_where=sa.text(CARD_VIEW),
    )
    op.create_index(
        "ix_usage_events_unanswered",
        "usage_events",
        ["day", "library_id", "query", "raw_text", "kind", "answered"],
        sqlite_where=sa.text(UNANSWERED),
        postgresql_where=sa.text(UNANSWERED),
    )


def downgrade() -> None:
    op.drop_index("ix_usage_events_unanswered", table_name="usage_events")
    op.drop_index("ix_usage_events_cards", table_name="usage_events")
    op.drop_index("ix_usage_events_library_actor", table_name="usage_events")
    op.create_index(
        "ix_usage_events_library_actor", "usage_events", ["library_id", "actor", "day"]
    )
    op.drop_index("ix_usage_events_kind_day", table_name="usage_events")
    op.create_index(
        "ix_usage_events_kind_day", "usage_events", ["kind", "day", "subject_id", "media_type"]
    )
    op.drop_index("ix_usage_events_counts", table_name="usage_events")
