"""catalogue rows carry the catalogue version that last wrote them (incremental search index)

Revision ID: search_index_1
Revises: outbox_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "search_index_1"
down_revision: str | None = "outbox_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _revision_column() -> sa.Column[int]:
    return sa.Column("revision", sa.Integer(), server_default="0", nullable=False)


def upgrade() -> None:
    with op.batch_alter_table("resources") as batch_op:
        batch_op.add_column(_revision_column())
        batch_op.create_index(batch_op.f("ix_resources_revision"), ["revision"], unique=False)
    with op.batch_alter_table("faq_entries") as batch_op:
        batch_op.add_column(_revision_column())
        batch_op.create_index(batch_op.f("ix_faq_entries_revision"), ["revision"], unique=False)
    with op.batch_alter_table("items") as batch_op:
        batch_op.add_column(_revision_column())
        batch_op.create_index("ix_items_revision_id", ["revision", "id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("items") as batch_op:
        batch_op.drop_index("ix_items_revision_id")
        batch_op.drop_column("revision")
    with op.batch_alter_table("faq_entries") as batch_op:
        batch_op.drop_index(batch_op.f("ix_faq_entries_revision"))
        batch_op.drop_column("revision")
    with op.batch_alter_table("resources") as batch_op:
        batch_op.drop_index(batch_op.f("ix_resources_revision"))
        batch_op.drop_column("revision")
