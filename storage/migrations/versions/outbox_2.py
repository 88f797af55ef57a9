"""announcements send through the outbox: the deliveries table goes

Revision ID: outbox_2
Revises: privacy_1

Each delivery becomes an outbox row of campaign ``announcement:<id>`` (sent, failed and
unreachable ones keep their state, so the statistics and the reports stay right; pending
and sending ones are queued again, as text or with their attachment, without the Stop
button a fresh queue would carry), then the table is dropped.
"""

import json
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "outbox_2"
down_revision: str | None = "privacy_1"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _payload(text: str, kind: str | None, file_id: str | None, paid: bool) -> tuple[str, str]:
    extra = {"allow_paid_broadcast": True} if paid else {}
    if kind in ("photo", "document") and file_id:
        body = {kind: file_id, **extra}
        if text:
            body |= {"caption": text, "parse_mode": "HTML"}
        return ("sendPhoto" if kind == "photo" else "sendDocument"), json.dumps(body)
    body = {"text": text, "parse_mode": "HTML", "link_preview_options": {"is_disabled": True}}
    return "sendMessage", json.dumps(body | extra, ensure_ascii=False)


def upgrade() -> None:
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT d.announcement_id, d.user_id, d.state, d.attempts, d.last_error, d.sent_at,"
            " u.telegram_id, a.text, a.attachment_kind, a.attachment_file_id, a.paid"
            " FROM deliveries d JOIN users u ON u.id = d.user_id"
            " JOIN announcements a ON a.id = d.announcement_id"
        )
    ).all()
    outbox = sa.table(
        "outbox",
        *(
            sa.column(name)
            for name in (
                "kind chat_id method payload campaign ref dedupe_key priority paid not_before "
                "state attempts last_error sent_at created_at"
            ).split()
        ),
    )
    now = sa.func.now() if bind.dialect.name == "postgresql" else sa.func.current_timestamp()
    for r in rows:
        method, payload = _payload(r.text or "", r.attachment_kind, r.attachment_file_id, r.paid)
        state = "pending" if r.state in ("pending", "sending") else r.state
        campaign = f"announcement:{r.announcement_id}"
        bind.execute(
            outbox.insert().values(
                kind="announcement",
                chat_id=r.telegram_id,
                method=method,
                payload=payload,
                campaign=campaign,
                ref=str(r.user_id),
                dedupe_key=f"{campaign}:{r.user_id}",
                priority=6,
                paid=bool(r.paid),
                not_before=now,
                state=state,
                attempts=r.attempts or 0,
                last_error=r.last_error,
                sent_at=r.sent_at,
                created_at=now,
            )
        )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_deliveries_announcement_state")
    op.drop_table("deliveries")


def downgrade() -> None:
    op.create_table(
        "deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("announcement_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(length=300), nullable=True),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["announcement_id"],
            ["announcements.id"],
            name=op.f("fk_deliveries_announcement_id_announcements"),
        ),
        sa.ForeignKeyConstraint(
            ["user_id"], ["users.id"], name=op.f("fk_deliveries_user_id_users")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_deliveries")),
        sa.UniqueConstraint(
            "announcement_id", "user_id", name=op.f("uq_deliveries_announcement_id")
        ),
    )
    with op.batch_alter_table("deliveries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_deliveries_announcement_state", ["announcement_id", "state"], unique=False
        )
