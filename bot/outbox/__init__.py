"""The outbox: every message Plume sends on its own initiative is a row before it is sent.

Broadcasts, reminders and rating requests, cancellation and move notices, waiting-list
promotions, new-title drafts shown to staff, handover notifications, the survey, the status
message of a running broadcast: all of them are rows of the ``outbox`` table
(:class:`storage.outbox.OutboxMessage`), drained by one engine paced to Telegram's limits.
Only the direct answer to an update is sent at once (by PTB, through the same budget).

Sending through it (from a service, inside your own transaction)::

    from bot.outbox import enqueue, NOTICE

    async with sessions.begin() as session:
        ...  # your own changes
        await enqueue(
            session,
            kind="workshop_cancelled",        # what it is (metrics, settlers)
            chat_id=patron.telegram_id,
            text=html_text,                   # HTML, as replies; or method= and payload=
            reply_markup=markup_dict,         # optional: InlineKeyboardMarkup.to_dict()
            campaign="workshop:ws-1:cancel",  # optional: rows reported together
            dedupe_key=f"cancel:ws-1:{patron.id}",  # a second enqueue adds nothing
            not_before=None,                  # or an aware datetime: not sent before
            priority=NOTICE,                  # URGENT < NOTICE < REMINDER < BULK
        )
    services.outbox.wake()                    # optional: look now, not at the next poll

* ``text`` builds a ``sendMessage`` (HTML, no link preview); any other call is
  ``method="editMessageText"``, ``payload={...}`` (every parameter but ``chat_id``; see
  :func:`~bot.outbox.store.message_payload`). ``replace=True`` with a ``dedupe_key`` makes
  the row send again with its new payload (a status message edited in place).
* :func:`~bot.outbox.store.enqueue_audience` enqueues one row per person of an audience
  query in one ``INSERT … SELECT`` (a broadcast to 100,000 is one statement).
* Nothing is sent until the transaction commits; a rollback sends nothing.

States: ``pending`` → ``sending`` (claimed) → ``sent`` | ``unreachable`` (403, or 400
"chat not found": ``users.reachable`` is cleared once, by the engine) | ``failed`` (refused
for a permanent reason, or given up after ``give_up_after``, 6 h by default) |
``cancelled``. Transient failures (5xx, timeouts, dropped connections, 429s in a row) put the
row back to ``pending`` with an exponential backoff (5 s, 10 s … up to 10 min) for hours;
several in a row pause the whole engine (the Bot API is down) instead of hammering it. A 400
that every recipient would get ("can't parse entities", "message is too long") fails the
whole campaign at once. Errors are read in one place: :func:`bot.outbox.transport.classify`.

A feature learns what became of its rows with :meth:`OutboxStore.on_settled` (called in the
transaction that records the results), or reads a campaign's counts
(:meth:`OutboxStore.counts`).

Several instances: exactly one drains the outbox at a time, holding the ``drain`` lease
(``outbox_leases``), renewed every second for 5 s; when the holder dies, another takes it
over once it has stayed expired for 2 s (within about 8 s), and queues again the rows the
dead one left ``sending`` (at most one duplicate per send in flight at the death). Claims
also check the lease (a holder that lost it claims nothing more) and use ``SELECT … FOR
UPDATE SKIP LOCKED`` on PostgreSQL; on SQLite one instance drains. On SIGTERM the engine
stops claiming, lets the sends under way finish, gives back the claimed rows not yet sent
and releases the lease, so another instance continues at once.

Nothing here imports telegram.
"""

from bot.outbox.engine import EngineSettings, OutboxEngine, instance_name
from bot.outbox.store import (
    BULK,
    CANCELLED,
    FAILED,
    NOTICE,
    PENDING,
    REMINDER,
    SENDING,
    SENT,
    UNREACHABLE,
    URGENT,
    OutboxStore,
    Outgoing,
    Settled,
    enqueue,
    enqueue_audience,
    message_payload,
)
from bot.outbox.transport import Answer, BotApiTransport, Transport, Verdict, classify

__all__ = [
    "BULK",
    "CANCELLED",
    "FAILED",
    "NOTICE",
    "PENDING",
    "REMINDER",
    "SENDING",
    "SENT",
    "UNREACHABLE",
    "URGENT",
    "Answer",
    "BotApiTransport",
    "EngineSettings",
    "OutboxEngine",
    "OutboxStore",
    "Outgoing",
    "Settled",
    "Transport",
    "Verdict",
    "classify",
    "enqueue",
    "enqueue_audience",
    "instance_name",
    "message_payload",
]
