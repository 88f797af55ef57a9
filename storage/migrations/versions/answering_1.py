"""sentence embeddings of FAQ entries and resources

Revision ID: answering_1
Revises: webhook_1
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "answering_1"
down_revision: str | None = "webhook_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "embeddings",
        sa.Column("doc_type", sa.String(length=16), nullable=False),
        sa.Column("doc_id", sa.String(length=64), nullable=False),
        sa.Column("model", sa.String(length=80), nullable=False),
        sa.Column("text_hash", sa.String(length=64), nullable=False),
        sa.Column("dims", sa.Integer(), nullable=False),
        sa.Column("vectors", sa.LargeBinary(), nullable=False),
        sa.PrimaryKeyConstraint("doc_type", "doc_id", name=op.f("pk_embeddings")),
    )


def downgrade() -> None:
    op.drop_table("embeddings")
