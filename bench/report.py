"""Benchmark: the evaluation report for a year over 1,000,000 usage events and 200,000
feedback rows, on SQLite and PostgreSQL.

    python bench/report.py                       # both backends (PostgreSQL if reachable)
    python bench/report.py --backend sqlite --events 200000 --feedback 40000
    python bench/report.py --reuse               # keep an already filled database

Target: the yearly report (SQL aggregation + HTML with its charts) in ≤ 3 s. The baseline,
measured in the same run, fetches the year's events and counts them in Python loops (what
the report must not do); the ratio says how much faster aggregating in SQL is.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import time
from collections import Counter
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.report import build_report
from bot.stats import Period, StatsService, rebuild_rollups
from storage.db import create_engine, migrate
from storage.models import (
    MEDIA_TYPES,
    Feedback,
    Library,
    Meta,
    Registration,
    Resource,
    Subscription,
    UsageEvent,
    User,
    Workshop,
)

TZ = ZoneInfo("Europe/Paris")
YEAR = 2025
SQLITE_URL = "sqlite+aiosqlite:////tmp/plume-bench-report.sqlite3"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/plume_bench_report"
KINDS = (
    ("question", 35),
    ("card_view", 38),
    ("command", 8),
    ("registration", 3),
    ("unregistration", 1),
    ("attendance", 2),
    ("broadcast_reached", 9),
    ("broadcast_sent", 1),
    ("subscription", 2),
    ("unsubscription", 1),
)
WORDS = (
    "mot de passe oublie compte connexion livre audio enfant film serie presse magazine "
    "liseuse tablette cours anglais code route jeu video musique classique jazz bd manga "
    "telecharger application emprunt retour pret delai abonnement inscription carte"
).split()


def _moment(rng: random.Random) -> dt.datetime:
    start = dt.datetime(YEAR, 1, 1, tzinfo=dt.UTC)
    return start + dt.timedelta(seconds=rng.randrange(365 * 86400))


async def _bulk(engine: AsyncEngine, table, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(rows), 20000):
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows[start : start + 20000])


async def fill(engine: AsyncEngine, events: int, feedback: int) -> None:
    rng = random.Random(7)
    async with engine.begin() as conn:
        for table in (
            Registration,
            Workshop,
            Subscription,
            Feedback,
            UsageEvent,
            User,
            Resource,
            Library,
            Meta,
        ):
            await conn.execute(delete(table))
    libraries = [f"lib-{i:02d}" for i in range(25)]
    await _bulk(
        engine,
        Library.__table__,
        [
            {"id": lib, "name": f"Médiathèque {i}", "commune": f"Commune {i}"}
            for i, lib in enumerate(libraries)
        ],
    )
    resources = [(f"res-{i:03d}", MEDIA_TYPES[i % len(MEDIA_TYPES)]) for i in range(60)]
    await _bulk(
        engine,
        Resource.__table__,
        [{"id": r, "media_type": m, "name": f"Ressource {r}"} for r, m in resources],
    )
    users = 20000
    now = dt.datetime(YEAR, 12, 31, tzinfo=dt.UTC)
    await _bulk(
        engine,
        User.__table__,
        [
            {
                "id": i,
                "telegram_id": 10_000_000 + i,
                "first_name": f"P{i}",
                "language": "fr",
                "library_id": libraries[i % len(libraries)],
                "role": "patron",
                "created_at": now,
                "last_seen_at": now,
                "reachable": True,
                "onboarded": True,
            }
            for i in range(1, users + 1)
        ],
    )
    await _bulk(
        engine,
        Subscription.__table__,
        [
            {"user_id": u, "topic": topic, "created_at": now}
            for u in range(1, users + 1, 3)
            for topic in (f"media:{MEDIA_TYPES[u % 6]}", "events")
        ],
    )
    workshops = [f"ws-{i:03d}" for i in range(300)]
    await _bulk(
        engine,
        Workshop.__table__,
        [
            {
                "id": w,
                "library_id": libraries[i % len(libraries)],
                "title": f"Atelier {i}",
                "starts_at": _moment(rng),
                "capacity": 12,
                "media_type": MEDIA_TYPES[i % 6],
                "cancelled": i % 25 == 0,
                "created_at": now,
                "updated_at": now,
            }
            for i, w in enumerate(workshops)
        ],
    )
    await _bulk(
        engine,
        Registration.__table__,
        [
            {
                "workshop_id": w,
                "user_id": 1 + (i * 37 + j * 101) % users,
                "status": "registered",
                "created_at": now,
                "attended": j % 5 != 0,
            }
            for i, w in enumerate(workshops)
            for j in range(10)
        ],
    )
    phrases = [" ".join(rng.sample(WORDS, 3)) for _ in range(3000)]
    kinds = [k for k, _ in KINDS]
    weights = [w for _, w in KINDS]
    started = time.perf_counter()
    batch: list[dict] = []
    for n in range(events):
        kind = rng.choices(kinds, weights)[0]
        user = rng.randrange(1, users + 1)
        resource = resources[rng.randrange(len(resources))]
        row = {
            "occurred_at": _moment(rng),
            "user_id": user,
            "kind": kind,
            "library_id": libraries[user % len(libraries)],
            "media_type": resource[1] if kind not in ("command",) else None,
            "subject_id": resource[0] if kind == "card_view" else None,
            "query": None,
            "raw_text": None,
            "score": None,
            "answered": None,
        }
        if kind == "question":
            answered = rng.random() < 0.8
            phrase = phrases[int(rng.paretovariate(1.2)) % len(phrases)]
            row.update(query=phrase, answered=answered, score=rng.random())
            if not answered:
                row["raw_text"] = phrase.capitalize() + " ?"
        batch.append(row)
        if len(batch) == 50000 or n == events - 1:
            await _bulk(engine, UsageEvent.__table__, batch)
            batch = []
    feedback_kinds = (("vote", 70), ("workshop", 10), ("free", 10), ("survey", 10))
    fkinds = [k for k, _ in feedback_kinds]
    fweights = [w for _, w in feedback_kinds]
    for n in range(feedback):
        kind = rng.choices(fkinds, fweights)[0]
        user = rng.randrange(1, users + 1)
        rating = {
            "vote": rng.randrange(2),
            "workshop": rng.randrange(1, 6),
            "free": rng.randrange(1, 6),
            "survey": rng.randrange(11),
        }[kind]
        batch.append(
            {
                "user_id": user,
                "kind": kind,
                "rating": rating,
                "comment": rng.choice(phrases) if rng.random() < 0.3 else "",
                "subject_id": workshops[n % 300] if kind == "workshop" else None,
                "library_id": libraries[user % len(libraries)],
                "media_type": MEDIA_TYPES[n % 6],
                "contact_ok": False,
                "created_at": _moment(rng),
            }
        )
        if len(batch) == 50000 or n == feedback - 1:
            await _bulk(engine, Feedback.__table__, batch)
            batch = []
    print(f"  events written in {time.perf_counter() - started:.1f} s")
    rolled = time.perf_counter()
    await rebuild_rollups(engine, TZ)
    print(f"  rollups rebuilt from the events in {time.perf_counter() - rolled:.1f} s")
    async with engine.begin() as conn:
        await conn.execute(insert(Meta), [{"key": "bench", "value": f"{events}:{feedback}"}])
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))
    print(f"  filled in {time.perf_counter() - started:.1f} s")


async def baseline(engine: AsyncEngine, period: Period) -> tuple[float, int]:
    """Counts the way the report must not: every event fetched, counted in Python."""
    begin, after = period.utc_bounds()
    started = time.perf_counter()
    counts: Counter[tuple[str, str | None, str | None]] = Counter()
    users: set[int] = set()
    async with engine.connect() as conn:
        result = await conn.stream(
            select(
                UsageEvent.kind, UsageEvent.library_id, UsageEvent.media_type, UsageEvent.user_id
            ).where(UsageEvent.occurred_at >= begin, UsageEvent.occurred_at < after)
        )
        async for kind, library, media, user in result:
            counts[(kind, library, media)] += 1
            if user is not None:
                users.add(user)
    return time.perf_counter() - started, sum(counts.values())


async def run(url: str, events: int, feedback: int, reuse: bool) -> bool:
    engine = create_engine(url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            marker = await conn.scalar(select(Meta.value).where(Meta.key == "bench"))
        if not (reuse and marker == f"{events}:{feedback}"):
            print(f"  filling {events:,} usage events and {feedback:,} feedback rows...")
            await fill(engine, events, feedback)
        async with engine.connect() as conn:
            n_events = await conn.scalar(text("SELECT count(*) FROM usage_events"))
            n_feedback = await conn.scalar(text("SELECT count(*) FROM feedback"))
        stats = StatsService(engine, TZ)
        period = Period.between(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31), TZ)
        await stats.figures(Period.named("week", TZ))  # warm the connection pool
        timings = []
        for _ in range(3):
            started = time.perf_counter()
            figures = await stats.figures(period)
            sql_time = time.perf_counter() - started
            started = time.perf_counter()
            report = await build_report(stats, period, fmt="html")
            timings.append((time.perf_counter() - started, sql_time))
        best_total = min(total for total, _ in timings)
        best_sql = min(sql for _, sql in timings)
        one_library = time.perf_counter()
        await build_report(stats, period, library_id="lib-03", fmt="json")
        library_time = time.perf_counter() - one_library
        base_time, base_rows = await baseline(engine, period)
        print(f"  rows: {n_events:,} usage events, {n_feedback:,} feedback")
        print(f"  figures in SQL (year):            {best_sql:6.2f} s")
        size = len(report.content)
        print(f"  report, year, HTML with charts:   {best_total:6.2f} s  ({size:,} bytes)")
        print(f"  report, year, one library, JSON:  {library_time:6.2f} s")
        print(
            f"  baseline (fetch + Python loops, counts only): {base_time:6.2f} s "
            f"over {base_rows:,} rows; ratio baseline/SQL figures = {base_time / best_sql:.1f}x"
        )
        assert figures.totals["questions"] > 0
        ok = best_total <= 3.0
        print(f"  target ≤ 3 s: {'met' if ok else 'MISSED'}")
        return ok
    finally:
        await engine.dispose()


async def postgres_ready() -> bool:
    try:
        import asyncpg  # noqa: F401

        admin = create_engine(PG_ADMIN)
        async with admin.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            exists = await conn.scalar(
                text("SELECT 1 FROM pg_database WHERE datname = 'plume_bench_report'")
            )
            if not exists:
                await conn.execute(text("CREATE DATABASE plume_bench_report"))
        await admin.dispose()
        return True
    except Exception as error:
        print(f"PostgreSQL skipped: {error.__class__.__name__}: {error}")
        return False


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--feedback", type=int, default=200_000)
    parser.add_argument("--reuse", action="store_true", help="keep a database already filled")
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        results.append(await run(SQLITE_URL, args.events, args.feedback, args.reuse))
    if args.backend in ("postgresql", "both") and await postgres_ready():
        print("PostgreSQL")
        results.append(await run(PG_URL, args.events, args.feedback, args.reuse))
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
