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
reminders at start (as for an import) and sends them when due.

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
import os
import random
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import delete, func, insert, select, text  # noqa: E402

from bot.standin import BotAPIStandin  # noqa: E402
from storage.db import create_engine, migrate  # noqa: E402
from storage.models import Library, Registration, Reminder, User, Workshop  # noqa: E402

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


async def prepare(url: str, args: argparse.Namespace, t0: dt.datetime) -> dict:
    """The network, patrons, workshops and registrations; returns what is expected."""
    engine = create_engine(url)
    try:
        if engine.dialect.name == "postgresql":
            async with engine.begin() as conn:
                await conn.execute(text("DROP SCHEMA public CASCADE"))
                await conn.execute(text("CREATE SCHEMA public"))
        await migrate(engine)
        rng = random.Random(args.seed)
        offset = dt.timedelta(seconds=args.offset)
        async with engine.begin() as conn:
            for table in (Reminder, Registration, Workshop, User, Library):
                await conn.execute(delete(table))
            await conn.execute(
                insert(Library),
                [
                    {"id": f"lib-{n}", "name": f"Bibliothèque {n}", "address": f"{n} rue Haute"}
                    for n in range(10)
                ],
            )
            await conn.execute(
                insert(User),
                [
                    {
                        "id": n + 1,
                        "telegram_id": 100_000 + n,
                        "first_name": f"P{n}",
                        "language": "fr" if rng.random() < 0.8 else "en",
                    }
                    for n in range(args.patrons)
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
                        "id": f"ws-bench-{n}",
                        "library_id": f"lib-{n % 10}",
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
            rows, expected = [], {}
            per_workshop = args.registrations // args.workshops
            extra = args.registrations - per_workshop * args.workshops
            for n in range(args.workshops):
                count = per_workshop + (1 if n < extra else 0)
                for user in rng.sample(range(1, args.patrons + 1), count):
                    rows.append({"workshop_id": f"ws-bench-{n}", "user_id": user})
                    expected[(100_000 + user - 1, f"Atelier n°{n}")] = starts[n] - offset
            for start in range(0, len(rows), 2000):
                await conn.execute(
                    insert(Registration),
                    [
                        dict(r, status="registered", created_at=t0)
                        for r in rows[start : start + 2000]
                    ],
                )
        return expected
    finally:
        await engine.dispose()


async def row_states(url: str) -> dict[str, int]:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(
                select(Reminder.state, func.count(Reminder.id))
                .where(Reminder.kind == "reminder")
                .group_by(Reminder.state)
            )
            return {state: count for state, count in result.all()}
    finally:
        await engine.dispose()


def start_bot(
    url: str, standin: BotAPIStandin, workdir: Path, log_path: Path, offset: int
) -> subprocess.Popen:
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


def delivered(standin: BotAPIStandin) -> list:
    return [
        call
        for call in standin.calls_for("sendMessage", status=200)
        if str(call.params.get("text", "")).startswith(REMINDER_MARK)
    ]


async def run(args: argparse.Namespace) -> int:
    workdir = Path(tempfile.mkdtemp(prefix="plume-bench-reminders-"))
    url = args.database_url or f"sqlite+aiosqlite:///{workdir / 'bench.sqlite3'}"
    log_path = workdir / "bot.log"
    standin = BotAPIStandin(token=TOKEN, bot_username="plume_bench_bot")
    standin.faults.rate_limits = True
    await standin.start()
    try:
        t0 = dt.datetime.now(dt.UTC)
        print(f"preparing {args.registrations} registrations, {args.workshops} workshops …")
        expected = await prepare(url, args, t0)
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
        before_kill = len(delivered(standin))
        bot.send_signal(signal.SIGKILL)
        bot.wait()
        states_at_kill = await row_states(url)
        print(f"killed: {before_kill} delivered so far; rows then: {states_at_kill}")
        await asyncio.sleep(args.down)
        bot = start_bot(url, standin, workdir, log_path, args.offset)
        deadline = mono(last_due) + args.grace
        while len(delivered(standin)) < len(expected):
            if time.monotonic() > deadline:
                break
            await asyncio.sleep(0.5)
        await asyncio.sleep(2.0)  # anything sent twice would show up now
        bot.send_signal(signal.SIGTERM)
        try:
            bot.wait(timeout=20)
        except subprocess.TimeoutExpired:
            bot.kill()
        final_states = await row_states(url)
    finally:
        await standin.stop()

    arrivals: dict[tuple[int, str], list[float]] = {}
    for call in delivered(standin):
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
    print()
    print("lateness (s)        p50      p95      p99      max   mean   ≤60 s")
    for name, values in (("Plume", lateness), ("theoretical min", ideal)):
        within = sum(1 for v in values if v <= 60) / max(1, len(values))
        print(
            f"{name:<15} {percentile(values, 50):8.2f} {percentile(values, 95):8.2f} "
            f"{percentile(values, 99):8.2f} {max(values):8.2f} "
            f"{statistics.fmean(values):6.2f} {within:7.2%}"
        )
    p95, ideal_p95 = percentile(lateness, 95), percentile(ideal, 95)
    p95_ratio = p95 / ideal_p95 if ideal_p95 else float("inf")
    max_ratio = max(lateness) / max(ideal) if max(ideal) else float("inf")
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
