"""Benchmark: erasure, retention and export of personal data (issue 13).

    python bench/privacy.py                          # PostgreSQL (plume_privacy), then SQLite
    python bench/privacy.py --backend sqlite --patrons 20000

Targets: erasing a patron with 10,000 events ≤ 1 s; the retention run over 100,000 patrons
with 10% due ≤ 60 s on PostgreSQL; exporting a patron (10,000 events) ≤ 1 s. Beside them:
the report's totals before and after (they must not change), and baselines measured in the
same run on rows of the same shape: the plain SQL a person would write to remove the same
rows (a ``DELETE``/``UPDATE`` per table for one patron; the same, set-based, for as many
inactive patrons), and a plain ``SELECT`` of the patron's events for the export.

The database may hold other data: the benchmark adds and removes only its own rows
(library ``bench-privacy``, users with Telegram ids from 8,500,000,000).
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.privacy.service import PrivacyService, RetentionPolicy
from bot.stats.period import Period
from bot.stats.queries import StatsService
from storage.db import create_engine, migrate, session_factory
from storage.models import Feedback, Library, Subscription, UsageEvent, User
from storage.privacy import AuditEntry
from storage.report import UsageActor

TZ = ZoneInfo("Europe/Paris")
PG_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/plume_privacy"
SQLITE_URL = "sqlite+aiosqlite:////tmp/plume-bench-privacy.sqlite3"
LIBRARY = "bench-privacy"
BASE = 8_500_000_000
HEAVY, TWIN = BASE + 999_998, BASE + 999_999  # the measured patron and the baseline's
CHUNK = 10_000


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


async def _bulk(engine: AsyncEngine, table, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(rows), CHUNK):
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows[start : start + CHUNK])


async def clear_own_rows(engine: AsyncEngine) -> None:
    async with engine.begin() as conn:
        own = select(User.id).where(User.telegram_id >= BASE)
        await conn.execute(delete(Subscription).where(Subscription.user_id.in_(own)))
        await conn.execute(delete(Feedback).where(Feedback.library_id == LIBRARY))
        await conn.execute(delete(UsageActor).where(UsageActor.user_id.in_(own)))
        await conn.execute(delete(UsageEvent).where(UsageEvent.library_id == LIBRARY))
        await conn.execute(delete(User).where(User.telegram_id >= BASE))
        await conn.execute(delete(AuditEntry).where(AuditEntry.actor == "bench"))
        await conn.execute(delete(Library).where(Library.id == LIBRARY))


def _event(rng: random.Random, actor: int, day: dt.date, question: bool) -> dict:  # type: ignore[type-arg]
    moment = dt.datetime.combine(day, dt.time(12), TZ).astimezone(dt.UTC)
    return {
        "occurred_at": moment,
        "day": day,
        "week": day - dt.timedelta(days=day.weekday()),
        "month": day.replace(day=1),
        "actor": actor,
        "kind": "question" if question else "card_view",
        "library_id": LIBRARY,
        "media_type": rng.choice(("ebook", "press", "video")),
        "subject_id": f"faq-{rng.randrange(50)}",
        "query": "mot de passe oublie" if question else None,
        "raw_text": "mot de passe oublié sur la liseuse" if question else None,
        "answered": False if question else None,
    }


async def fill(engine: AsyncEngine, patrons: int, heavy_events: int) -> dict[int, int]:
    """``patrons`` patrons (10% inactive for 400 days, and as many again for the baseline),
    two events, a subscription and a vote each; two patrons with ``heavy_events`` events."""
    rng = random.Random(13)
    today = dt.datetime.now(TZ).date()
    due = patrons // 10
    async with engine.begin() as conn:
        await conn.execute(insert(Library).values(id=LIBRARY, name="Bench privacy"))
    now, old = _now(), _now() - dt.timedelta(days=400)
    older = old - dt.timedelta(days=100)
    users = [
        {
            "telegram_id": BASE + i,
            "first_name": f"Bench{i}",
            "language": "fr",
            "library_id": LIBRARY,
            "role": "patron",
            "created_at": old,
            # the first `due` are due; the next `due` are the baseline's (older still)
            "last_seen_at": old if i < due else older if i < 2 * due else now,
            "reachable": True,
            "onboarded": True,
        }
        for i in range(patrons + due)
    ]
    users += [
        {**users[-1], "telegram_id": t, "first_name": "Heavy", "last_seen_at": now}
        for t in (HEAVY, TWIN)
    ]
    await _bulk(engine, User.__table__, users)
    async with engine.connect() as conn:
        rows = await conn.execute(
            select(User.telegram_id, User.id).where(User.telegram_id >= BASE)
        )
        ids = dict(rows.all())
    actors = {user_id: rng.randrange(1, 2**62) for user_id in ids.values()}
    await _bulk(
        engine, UsageActor.__table__, [{"user_id": u, "actor": a} for u, a in actors.items()]
    )
    events, subscriptions, votes = [], [], []
    for telegram_id, user_id in ids.items():
        count = heavy_events if telegram_id in (HEAVY, TWIN) else 2
        for n in range(count):
            day = today - dt.timedelta(days=1 + rng.randrange(300))
            events.append(_event(rng, actors[user_id], day, question=n % 2 == 0))
        subscriptions.append({"user_id": user_id, "topic": "news", "created_at": old})
        votes.append(
            {
                "user_id": user_id,
                "kind": "vote",
                "rating": rng.randrange(2),
                "comment": "il manque des BD" if rng.random() < 0.2 else "",
                "subject_id": "faq-1",
                "library_id": LIBRARY,
                "contact_ok": False,
                "created_at": old,
            }
        )
    await _bulk(engine, UsageEvent.__table__, events)
    await _bulk(engine, Subscription.__table__, subscriptions)
    await _bulk(engine, Feedback.__table__, votes)
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("ANALYZE"))
    return ids


async def plain_erase(engine: AsyncEngine, users: object, actors: object) -> float:
    """The baseline: the statements a person would write to remove the same rows."""
    started = time.perf_counter()
    async with engine.begin() as conn:
        await conn.execute(
            update(UsageEvent)
            .where(UsageEvent.actor.in_(actors))  # type: ignore[arg-type]
            .values(query=None, raw_text=None)
        )
        await conn.execute(delete(UsageActor).where(UsageActor.user_id.in_(users)))  # type: ignore[arg-type]
        await conn.execute(delete(Subscription).where(Subscription.user_id.in_(users)))  # type: ignore[arg-type]
        await conn.execute(
            update(Feedback).where(Feedback.user_id.in_(users)).values(user_id=None)  # type: ignore[arg-type]
        )
        await conn.execute(delete(User).where(User.id.in_(users)))  # type: ignore[arg-type]
    return time.perf_counter() - started


async def totals(engine: AsyncEngine) -> dict[str, object]:
    today = dt.datetime.now(TZ).date()
    period = Period.between(today - dt.timedelta(days=364), today, TZ)
    figures = await StatsService(engine, TZ).figures(period)
    return {"totals": figures.totals, "active": figures.active, "feedback": figures.feedback}


async def run(url: str, patrons: int, heavy_events: int, pg: bool) -> bool:
    engine = create_engine(url)
    try:
        await migrate(engine)
        await clear_own_rows(engine)
        started = time.perf_counter()
        ids = await fill(engine, patrons, heavy_events)
        print(f"  filled {len(ids):,} patrons in {time.perf_counter() - started:.1f} s")
        privacy = PrivacyService(session_factory(engine), RetentionPolicy(inactive_days=365))
        before = await totals(engine)
        ok = True

        heavy, twin = ids[HEAVY], ids[TWIN]
        started = time.perf_counter()
        document = await privacy.export(heavy)
        data = privacy.export_json(document or {})
        export_s = time.perf_counter() - started
        started = time.perf_counter()
        async with engine.connect() as conn:
            actor = select(UsageActor.actor).where(UsageActor.user_id == twin).scalar_subquery()
            plain_rows = (
                await conn.execute(select(UsageEvent).where(UsageEvent.actor == actor))
            ).all()
        plain_export_s = time.perf_counter() - started
        events = len(document["tables"]["usage_events"]["rows"]) if document else 0
        ok &= export_s <= 1.0 and events == heavy_events
        print(
            f"  export of a patron with {events:,} events: {export_s * 1000:.0f} ms, "
            f"{len(data) / 1e6:.1f} MB of JSON (target ≤ 1 s; plain SELECT of their "
            f"{len(plain_rows):,} events: {plain_export_s * 1000:.0f} ms)"
        )

        started = time.perf_counter()
        erased = await privacy.erase([heavy], actor="bench")
        erase_s = time.perf_counter() - started
        after_erasure = await totals(engine)
        async with engine.connect() as conn:
            twin_actor = await conn.scalar(
                select(UsageActor.actor).where(UsageActor.user_id == twin)
            )
        plain_s = await plain_erase(engine, [twin], [twin_actor])
        ok &= erase_s <= 1.0
        print(
            f"  erasure of a patron with {heavy_events:,} events: {erase_s * 1000:.0f} ms, "
            f"{sum(erased.rows.values()):,} rows (target ≤ 1 s; plain SQL for the same rows: "
            f"{plain_s * 1000:.0f} ms)"
        )

        due = patrons // 10
        async with engine.connect() as conn:
            baseline_ids = list(
                await conn.scalars(
                    select(User.id).where(
                        User.telegram_id >= BASE + due, User.telegram_id < BASE + 2 * due
                    )
                )
            )
            baseline_actors = list(
                await conn.scalars(
                    select(UsageActor.actor).where(UsageActor.user_id.in_(baseline_ids))
                )
            )
        plain_s = 0.0
        for start in range(0, len(baseline_ids), 500):  # bound parameters per statement
            plain_s += await plain_erase(
                engine, baseline_ids[start : start + 500], baseline_actors[start : start + 500]
            )
        async with engine.connect() as conn:
            population = await conn.scalar(
                select(func.count(User.id)).where(User.telegram_id >= BASE)
            )
        started = time.perf_counter()
        run_result = await privacy.run_retention()
        retention_s = time.perf_counter() - started
        target = 60.0 if pg else float("inf")
        ok &= retention_s <= target and run_result.erased >= due
        print(
            f"  retention over {population:,} patrons, {run_result.erased:,} due: "
            f"{retention_s:.1f} s (target ≤ 60 s on PostgreSQL; plain SQL erasing "
            f"{len(baseline_ids):,} patrons in batches of 500: {plain_s:.1f} s)"
        )
        after_retention = await totals(engine)
        same = before == after_erasure
        unchanged_retention = before == after_retention
        print(f"  report totals before: {before['totals']}")
        print(f"  after the erasure: {'unchanged' if same else after_erasure}")
        print(
            "  after the retention run (and the baselines' plain SQL): "
            f"{'unchanged' if unchanged_retention else after_retention}"
        )
        ok &= same and unchanged_retention
        await clear_own_rows(engine)
        return bool(ok)
    finally:
        await engine.dispose()


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--patrons", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=10_000, help="events of the erased patron")
    parser.add_argument("--postgres-url", default=PG_URL)
    parser.add_argument("--sqlite-url", default=SQLITE_URL)
    args = parser.parse_args()
    results = []
    if args.backend in ("postgresql", "both"):
        print("PostgreSQL")
        try:
            results.append(await run(args.postgres_url, args.patrons, args.events, pg=True))
        except OSError as error:
            print(f"  skipped: {error}")
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        Path(args.sqlite_url.split("///", 1)[1]).unlink(missing_ok=True)  # noqa: ASYNC240
        results.append(await run(args.sqlite_url, args.patrons, args.events, pg=False))
    print("all targets met" if all(results) else "SOME TARGETS MISSED")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
