"""Workshop reminders at scale, through a crash: lateness, losses and duplicates.

    python bench/reminders.py [--registrations 10000] [--workshops 500] [--window 420]
    python bench/reminders.py --database-url postgresql+asyncpg://postgres@127.0.0.1/plume_bench

Runs the Bot API stand-in here, with Telegram's limits enforced (30 messages/s overall, one per
second per chat: more gets 429), and Plume as ``python -m bot run`` in a subprocess pointed at
it, with ``PLUME_REMINDER_OFFSETS=90s`` (``--offset``). ``--registrations`` registrations of
``--patrons`` patrons across ``--workshops`` workshops whose start times are spread so that
the reminders fall due evenly over ``--window`` seconds (20 patrons per workshop: bursts of 20
at once).
Registrations are written straight to the database before Plume starts; Plume plans their
reminders at start (as for an import) and sends them when due. The database may already hold
data (a network, patrons, an earlier run): the bench adds its rows beside it, under ids above
every existing one (and a random prefix checked for absence), counts only them, and removes
exactly them at the end, even on failure.

In the middle (``--kill-at`` of the window) the bot is killed with SIGKILL, stays down
``--down`` seconds and is started again. Reported: the lateness of each reminder (arrival at
the Bot API minus due time: p50, p95, p99, max, share within 60 s), reminders lost (never
delivered) and duplicated (delivered more than once), and the final state of the rows.

Baseline, in the same run: the theoretical minimum lateness of the same due times under the
same limits — an ideal sender that knows every due time, sends each at the first instant
both the overall 30/s slot and the chat's 1/s slot allow, and never crashes.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import os
import random
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, insert, select  # noqa: E402
from sqlalchemy.ext.asyncio import AsyncConnection  # noqa: E402

from bot.standin import BotAPIStandin  # noqa: E402
from storage.db import create_engine, migrate  # noqa: E402
from storage.models import Library, Registration, Reminder, User, Workshop  # noqa: E402
from storage.outbox import OutboxMessage  # noqa: E402

TOKEN = "424242:PLUME-BENCH"
PER_WORKSHOP_CAP = 40
REMINDER_MARK = "⏰"


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def theoretical_lateness(
    dues: list[tuple[float, int]], per_second: float = 30.0, chat_gap: float = 1.0
) -> list[float]:
    """Earliest-due-first at exactly the limits: the best any sender could do."""
    next_slot = float("-inf")
    chat_next: dict[int, float] = {}
    lateness = []
    for due, chat in sorted(dues):
        moment = max(due, next_slot, chat_next.get(chat, float("-inf")))
        next_slot = moment + 1.0 / per_second
        chat_next[chat] = moment + chat_gap
        lateness.append(moment - due)
    return lateness


@dataclass
class Created:
    """What one run adds to the database, under ids no other row has: removed at the end."""

    prefix: str  # of the libraries' and workshops' ids, absent from the database beforehand
    first_user: int  # users first_user .. first_user + patrons - 1
    first_chat: int  # their telegram ids, first_chat .. first_chat + patrons - 1
    patrons: int
    expected: dict[tuple[int, str], dt.datetime] = field(default_factory=dict)

    @property
    def user_ids(self) -> range:
        return range(self.first_user, self.first_user + self.patrons)

    @property
    def chats(self) -> range:
        return range(self.first_chat, self.first_chat + self.patrons)

    def ours(self, column: Any) -> Any:
        return column.like(f"{self.prefix}%")


async def free_ids(conn: AsyncConnection, patrons: int) -> Created:
    """Ids above every existing one, and a random id prefix checked for absence.

    The database may already hold a network, patrons and an earlier run's leftovers (if it
    was interrupted before cleaning up): nothing here can collide with them.
    """
    max_user = (await conn.execute(select(func.max(User.id)))).scalar_one() or 0
    max_chat = (await conn.execute(select(func.max(User.telegram_id)))).scalar_one() or 0
    while True:
        prefix = f"bench-rem-{secrets.token_hex(4)}-"
        taken = await conn.execute(
            select(func.count()).select_from(Library).where(Library.id.like(f"{prefix}%"))
        )
        workshops = await conn.execute(
            select(func.count()).select_from(Workshop).where(Workshop.id.like(f"{prefix}%"))
        )
        if taken.scalar_one() == 0 and workshops.scalar_one() == 0:
            break
    return Created(prefix, max_user + 1, max(max_chat + 1, 100_000), patrons)


async def prepare(url: str, args: argparse.Namespace, t0: dt.datetime) -> Created:
    """The network, patrons, workshops and registrations, beside whatever the database holds."""
    engine = create_engine(url)
    try:
        await migrate(engine)
        rng = random.Random(args.seed)
        offset = dt.timedelta(seconds=args.offset)
        async with engine.begin() as conn:
            created = await free_ids(conn, args.patrons)
            prefix = created.prefix
            await conn.execute(
                insert(Library),
                [
                    {
                        "id": f"{prefix}lib-{n}",
                        "name": f"Bibliothèque {n}",
                        "address": f"{n} rue Haute",
                    }
                    for n in range(10)
                ],
            )
            await conn.execute(
                insert(User),
                [
                    {
                        "id": user,
                        "telegram_id": chat,
                        "first_name": f"P{n}",
                        "language": "fr" if rng.random() < 0.8 else "en",
                    }
                    for n, (user, chat) in enumerate(
                        zip(created.user_ids, created.chats, strict=True)
                    )
                ],
            )
            starts = []
            for n in range(args.workshops):
                due = t0 + dt.timedelta(seconds=args.lead + args.window * n / args.workshops)
                starts.append(due + offset)
            await conn.execute(
                insert(Workshop),
                [
                    {
                        "id": f"{prefix}ws-{n}",
                        "library_id": f"{prefix}lib-{n % 10}",
                        "title": f"Atelier n°{n}",
                        "starts_at": starts[n],
                        "duration_min": 60,
                        "capacity": PER_WORKSHOP_CAP,
                        "created_at": t0,
                        "updated_at": t0,
                    }
                    for n in range(args.workshops)
                ],
            )
            rows = []
            per_workshop = args.registrations // args.workshops
            extra = args.registrations - per_workshop * args.workshops
            for n in range(args.workshops):
                count = per_workshop + (1 if n < extra else 0)
                for index in rng.sample(range(args.patrons), count):
                    rows.append(
                        {"workshop_id": f"{prefix}ws-{n}", "user_id": created.first_user + index}
                    )
                    created.expected[(created.first_chat + index, f"Atelier n°{n}")] = (
                        starts[n] - offset
                    )
            for start in range(0, len(rows), 2000):
                await conn.execute(
                    insert(Registration),
                    [
                        dict(r, status="registered", created_at=t0)
                        for r in rows[start : start + 2000]
                    ],
                )
        return created
    finally:
        await engine.dispose()


async def clean_up(url: str, created: Created) -> None:
    """Removes exactly what the run added, with the rows the bot added for it.

    The bot adds reminder rows and their outbox rows (``dedupe_key`` ``reminder:<id>``). Left
    behind, the outbox rows would swallow the next run's reminders on SQLite, which gives a
    deleted row's id again: a second enqueue with the same key adds nothing.
    """
    engine = create_engine(url)
    try:
        async with engine.begin() as conn:
            ours = select(Registration.id).where(created.ours(Registration.workshop_id))
            reminders = (
                (await conn.execute(select(Reminder.id).where(Reminder.registration_id.in_(ours))))
                .scalars()
                .all()
            )
            keys = [f"reminder:{reminder}" for reminder in reminders]
            for start in range(0, len(keys), 1000):
                await conn.execute(
                    delete(OutboxMessage).where(
                        OutboxMessage.dedupe_key.in_(keys[start : start + 1000])
                    )
                )
            await conn.execute(delete(Reminder).where(Reminder.registration_id.in_(ours)))
            await conn.execute(delete(Registration).where(created.ours(Registration.workshop_id)))
            await conn.execute(delete(Workshop).where(created.ours(Workshop.id)))
            await conn.execute(
                delete(User).where(
                    User.id.between(created.first_user, created.user_ids[-1]),
                    User.telegram_id.between(created.first_chat, created.chats[-1]),
                )
            )
            await conn.execute(delete(Library).where(created.ours(Library.id)))
    finally:
        await engine.dispose()


async def row_states(url: str, created: Created) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                select(Reminder.state, func.count(Reminder.id))
                .join(Registration, Registration.id == Reminder.registration_id)
                .where(Reminder.kind == "reminder", created.ours(Registration.workshop_id))
                .group_by(Reminder.state)
            )
            return dict(result.all())
    finally:
        await engine.dispose()


def start_bot(
    url: str, standin: BotAPIStandin, workdir: Path, log_path: Path, offset: int
) -> subprocess.Popen[bytes]:
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("PLUME_", "TELEGRAM_", "DATABASE_URL"))
    }
    env.update(
        TELEGRAM_BOT_TOKEN=TOKEN,
        TELEGRAM_API_BASE_URL=standin.base_url,
        DATABASE_URL=url,
        PLUME_REMINDER_OFFSETS=f"{offset}s",
        PLUME_LOG_LEVEL="WARNING",
        PYTHONPATH=str(ROOT),
    )
    log = log_path.open("a")
    return subprocess.Popen(
        [sys.executable, "-m", "bot", "run"], cwd=workdir, env=env, stdout=log, stderr=log
    )


def delivered(standin: BotAPIStandin, chats: range | None = None) -> list[Any]:
    """Reminders the Bot API accepted: to the run's patrons, or (``None``) to anyone."""
    return [
        call
        for call in standin.calls_for("sendMessage", status=200)
        if str(call.params.get("text", "")).startswith(REMINDER_MARK)
        and (chats is None or (call.chat_id is not None and int(call.chat_id) in chats))
    ]


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="plume-bench-reminders-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    log_path = workdir / "bot.log"
    standin = BotAPIStandin(token=TOKEN, bot_username="plume_bench_bot")
    standin.faults.rate_limits = True
    await standin.start()
    created: Created | None = None
    bot: subprocess.Popen[bytes] | None = None
    try:
        t0 = dt.datetime.now(dt.UTC)
        print(f"preparing {args.registrations} registrations, {args.workshops} workshops …")
        created = await prepare(url, args, t0)
        expected, chats = created.expected, created.chats
        print(
            f"ids: users from {created.first_user}, telegram ids from {created.first_chat}, "
            f"libraries and workshops {created.prefix}…"
        )
        wall0, mono0 = dt.datetime.now(dt.UTC), time.monotonic()

        def mono(moment: dt.datetime) -> float:
            return mono0 + (moment - wall0).total_seconds()

        first_due = min(expected.values())
        last_due = max(expected.values())
        # in the middle of a burst: 0.3 s after the due time of the workshop nearest to
        # --kill-at, while its 20 reminders are being sent
        middle = first_due + dt.timedelta(seconds=args.window * args.kill_at)
        kill_at = min(expected.values(), key=lambda due: abs(due - middle))
        kill_at += dt.timedelta(seconds=0.3)
        print(
            f"reminders due from +{(first_due - wall0).total_seconds():.0f} s to "
            f"+{(last_due - wall0).total_seconds():.0f} s; SIGKILL at "
            f"+{(kill_at - wall0).total_seconds():.0f} s, down {args.down:g} s"
        )
        bot = start_bot(url, standin, workdir, log_path, args.offset)
        await asyncio.sleep(max(0.0, mono(kill_at) - time.monotonic()))
        before_kill = len(delivered(standin, chats))
        bot.send_signal(signal.SIGKILL)
        bot.wait()
        states_at_kill = await row_states(url, created)
        print(f"killed: {before_kill} delivered so far; rows then: {states_at_kill}")
        await asyncio.sleep(args.down)
        bot = start_bot(url, standin, workdir, log_path, args.offset)
        deadline = mono(last_due) + args.grace
        while len(delivered(standin, chats)) < len(expected):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # anything sent twice would show up now
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(timeout=20)
        except subprocess.TimeoutExpired:
            bot.kill()
            bot.wait()
        final_states = await row_states(url, created)
    finally:
        if bot is not None and bot.poll() is None:
            bot.kill()
            bot.wait()
        await standin.stop()
        if created is not None:
            await clean_up(url, created)

    arrivals: dict[tuple[int, str], list[float]] = {}
    for call in delivered(standin, chats):
        title = str(call.params["text"]).split("«")[-1].split("»")[0].strip()
        if "“" in str(call.params["text"]):
            title = str(call.params["text"]).split("“")[1].split("”")[0]
        arrivals.setdefault((int(call.chat_id), title), []).append(call.at)
    lost = [key for key in expected if key not in arrivals]
    duplicated = sum(len(times) - 1 for times in arrivals.values() if len(times) > 1)
    unexpected = [key for key in arrivals if key not in expected]
    lateness = [min(arrivals[key]) - mono(due) for key, due in expected.items() if key in arrivals]
    ideal = theoretical_lateness([(mono(due), chat) for (chat, _), due in expected.items()])
    too_late = sum(1 for value in lateness if value > 60)
    refused = standin.count_status(429, "sendMessage")

    print()
    print(f"reminders expected      {len(expected):>8}")
    print(f"delivered (distinct)    {len(arrivals):>8}")
    print(f"lost                    {len(lost):>8}")
    print(f"duplicated              {duplicated:>8}")
    print(f"unexpected              {len(unexpected):>8}")
    print(f"429 answers             {refused:>8}")
    print(f"rows by state           {final_states}")
    others = len(delivered(standin)) - sum(len(times) for times in arrivals.values())
    print(f"to others (data there)  {others:>8}")
    print()
    print("lateness (s)        p50      p95      p99      max   mean   ≤60 s")
    for name, values in (("Plume", lateness), ("theoretical min", ideal)):
        within = sum(1 for v in values if v <= 60) / max(1, len(values))
        print(
            f"{name:<15} {percentile(values, 50):8.2f} {percentile(values, 95):8.2f} "
            f"{percentile(values, 99):8.2f} {max(values, default=math.nan):8.2f} "
            f"{statistics.fmean(values) if values else math.nan:6.2f} {within:7.2%}"
        )
    p95, ideal_p95 = percentile(lateness, 95), percentile(ideal, 95)
    p95_ratio = p95 / ideal_p95 if ideal_p95 else float("inf")
    max_ratio = max(lateness, default=math.nan) / max(ideal) if max(ideal) else float("inf")
    print(
        f"ratio Plume / theoretical minimum: p95 {p95_ratio:.1f}×, max {max_ratio:.1f}× "
        f"(the minimum has no crash; Plume was down {args.down:g} s plus its restart)"
    )
    late_after_kill = [
        min(arrivals[key]) - mono(due)
        for key, due in expected.items()
        if key in arrivals and due >= kill_at
    ]
    if late_after_kill:
        print(
            f"after the SIGKILL: {len(late_after_kill)} reminders, max lateness "
            f"{max(late_after_kill):.1f} s"
        )
    print(f"bot log: {log_path}")
    ok = not lost and not duplicated and too_late == 0
    print("target met" if ok else "TARGET MISSED")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--registrations", type=int, default=10_000)
    parser.add_argument("--workshops", type=int, default=500)
    parser.add_argument("--patrons", type=int, default=6_000)
    parser.add_argument("--window", type=float, default=420.0, help="seconds of due times")
    parser.add_argument("--lead", type=float, default=25.0, help="seconds before the first due")
    parser.add_argument("--offset", type=int, default=90, help="PLUME_REMINDER_OFFSETS, s")
    parser.add_argument("--kill-at", type=float, default=0.5, help="fraction of the window")
    parser.add_argument("--down", type=float, default=3.0, help="seconds down after the kill")
    parser.add_argument("--grace", type=float, default=70.0, help="wait after the last due")
    parser.add_argument("--database-url", help="default: a temporary SQLite file")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if args.patrons < args.registrations // args.workshops + 1:
        parser.error("--patrons must exceed the registrations per workshop")
    return asyncio.run(run(args))


if __name__ == "__main__":
    sys.exit(main())
