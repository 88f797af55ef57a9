"""handover threads: who took a question, network-wide questions, the messages exchanged

Revision ID: handover_1
Revises: outbox_2
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "handover_1"
down_revision: str | None = "outbox_2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("handover_questions", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("network_wide", sa.Boolean(), nullable=False, server_default=sa.false())
        )
        batch_op.add_column(sa.Column("taken_by", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("taken_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.add_column(sa.Column("closed_at", sa.DateTime(timezone=True), nullable=True))
        batch_op.create_foreign_key(
            batch_op.f("fk_handover_questions_taken_by_users"), "users", ["taken_by"], ["id"]
        )
        batch_op.create_index(batch_op.f("ix_handover_questions_state"), ["state"], unique=False)
    # an answer used to end the exchange: those questions are closed threads now
    op.execute(
        "UPDATE handover_questions SET state = 'closed', taken_by = answered_by, "
        "taken_at = answered_at, closed_at = answered_at WHERE state = 'answered'"
    )
    op.create_table(
        "handover_messages",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("question_id", sa.Integer(), nullable=False),
        sa.Column("author_id", sa.Integer(), nullable=False),
        sa.Column("from_staff", sa.Boolean(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["question_id"],
            ["handover_questions.id"],
            name=op.f("fk_handover_messages_question_id_handover_questions"),
        ),
        sa.ForeignKeyConstraint(
            ["author_id"], ["users.id"], name=op.f("fk_handover_messages_author_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_handover_messages")),
    )
    with op.batch_alter_table("handover_messages", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_handover_messages_question_id"), ["question_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("handover_messages")
    op.execute("UPDATE handover_questions SET state = 'answered' WHERE state = 'closed'")
    op.execute("UPDATE handover_questions SET state = 'pending' WHERE state = 'taken'")
    with op.batch_alter_table("handover_questions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_handover_questions_state"))
        batch_op.drop_constraint(
            batch_op.f("fk_handover_questions_taken_by_users"), type_="foreignkey"
        )
        batch_op.drop_column("closed_at")
        batch_op.drop_column("taken_at")
        batch_op.drop_column("taken_by")
        batch_op.drop_column("network_wide")
