"""privacy by design: audit log, contact through Plume, registrations that can lose the person

Revision ID: privacy_1
Revises: report_2
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "privacy_1"
down_revision: str | None = "report_2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_id", sa.Integer(), nullable=True),
        sa.Column("actor", sa.String(length=40), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("subject", sa.String(length=40), nullable=False),
        sa.Column("detail", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(
            ["actor_id"],
            ["users.id"],
            name=op.f("fk_audit_log_actor_id_users"),
            ondelete="SET NULL",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
    )
    op.create_index("ix_audit_log_at", "audit_log", ["at"], unique=False)
    op.create_table(
        "contact_threads",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("feedback_id", sa.Integer(), nullable=True),
        sa.Column("staff_id", sa.Integer(), nullable=False),
        sa.Column("patron_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_message_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["feedback_id"],
            ["feedback.id"],
            name=op.f("fk_contact_threads_feedback_id_feedback"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["patron_id"],
            ["users.id"],
            name=op.f("fk_contact_threads_patron_id_users"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["staff_id"],
            ["users.id"],
            name=op.f("fk_contact_threads_staff_id_users"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_threads")),
    )
    for column in ("feedback_id", "patron_id", "staff_id"):
        op.create_index(f"ix_contact_threads_{column}", "contact_threads", [column], unique=False)
    with op.batch_alter_table("registrations") as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=True)
    op.create_index("ix_usage_events_actor", "usage_events", ["actor"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_usage_events_actor", table_name="usage_events")
    op.execute("DELETE FROM registrations WHERE user_id IS NULL")
    with op.batch_alter_table("registrations") as batch_op:
        batch_op.alter_column("user_id", existing_type=sa.Integer(), nullable=False)
    op.drop_table("contact_threads")
    op.drop_index("ix_audit_log_at", table_name="audit_log")
    op.drop_table("audit_log")
