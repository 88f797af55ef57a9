"""Benchmark: the yearly evaluation report over 1,000,000 usage events, 200,000 feedback
rows and 100,000 platform-usage rows, on SQLite and PostgreSQL; the cost of recording an
event; importing 50 COUNTER reports (12 months × 10 platforms).

    python bench/report.py                        # both backends (PostgreSQL if reachable)
    python bench/report.py --backend sqlite --events 200000 --feedback 40000
    python bench/report.py --reuse                # keep the data of a previous run

Targets: the yearly report in HTML ≤ 3 s, in PDF ≤ 6 s; the 50 COUNTER reports ≤ 10 s.
The baseline, measured in the same run on the same rows (before and after the reports, the
machine's load varies), is the plain SQL a person would write for the same counts: one
``GROUP BY kind, library, media type`` over the year's raw events (``count(*)`` and the
answered questions). The same GROUP BY with ``count(DISTINCT actor)`` in every group is
printed beside it: that one sorts every event. Plume keeps no roll-up tables (they did not
beat the baseline): every figure is a GROUP BY over the events, each read in the order of
an index that covers it, several at a time on their own connections.

The database may hold other data (real patrons, handover questions...): the benchmark
only adds and removes its own rows (libraries and resources ``bench-…``, users with
Telegram ids from 8,000,000,000), never anyone else's.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import random
import sys
import tempfile
import time
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sqlalchemy import delete, insert, select, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.counter.service import import_usage
from bot.reporting.report import build_report
from bot.stats.period import Period
from bot.stats.queries import StatsService
from bot.usage import UsageRecorder, question_event
from storage.db import create_engine, migrate, session_factory
from storage.models import (
    MEDIA_TYPES,
    Feedback,
    HandoverQuestion,
    Library,
    Meta,
    Registration,
    Reminder,
    Resource,
    UsageEvent,
    User,
    Workshop,
)
from storage.report import PlatformUsage, UsageActor

TZ = ZoneInfo("Europe/Paris")
YEAR = 2025
SQLITE_URL = "sqlite+aiosqlite:////tmp/plume-bench-report.sqlite3"
PG_ADMIN = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"
PG_NAME = "plume_report_bench"
PG_URL = f"postgresql+asyncpg://postgres@127.0.0.1:5432/{PG_NAME}"
TELEGRAM_BASE = 8_000_000_000
USERS = 20_000
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
LIBRARIES = [f"bench-lib-{i:02d}" for i in range(25)]
RESOURCES = [(f"bench-res-{i:03d}", MEDIA_TYPES[i % len(MEDIA_TYPES)]) for i in range(100)]


def _moment(rng: random.Random) -> dt.datetime:
    start = dt.datetime(YEAR, 1, 1, tzinfo=dt.UTC)
    return start + dt.timedelta(seconds=rng.randrange(365 * 86400))


async def _bulk(engine: AsyncEngine, table, rows: list[dict]) -> None:  # type: ignore[no-untyped-def]
    for start in range(0, len(rows), 20000):
        async with engine.begin() as conn:
            await conn.execute(insert(table), rows[start : start + 20000])


async def clear_own_rows(engine: AsyncEngine) -> None:
    """Only the benchmark's rows: others' data stays (and the report counts it too)."""
    async with engine.begin() as conn:
        bench_users = select(User.id).where(User.telegram_id >= TELEGRAM_BASE)
        workshops = select(Workshop.id).where(Workshop.id.like("bench-%"))
        registrations = select(Registration.id).where(Registration.workshop_id.in_(workshops))
        await conn.execute(delete(Reminder).where(Reminder.registration_id.in_(registrations)))
        await conn.execute(delete(Registration).where(Registration.workshop_id.in_(workshops)))
        await conn.execute(delete(Workshop).where(Workshop.id.like("bench-%")))
        await conn.execute(delete(UsageEvent).where(UsageEvent.library_id.like("bench-%")))
        await conn.execute(delete(Feedback).where(Feedback.library_id.like("bench-%")))
        await conn.execute(delete(PlatformUsage).where(PlatformUsage.resource_id.like("bench-%")))
        await conn.execute(
            delete(HandoverQuestion).where(HandoverQuestion.user_id.in_(bench_users))
        )
        await conn.execute(delete(Meta).where(Meta.key == "bench-report"))


async def fill(engine: AsyncEngine, events: int, feedback: int, platform_rows: int) -> None:
    rng = random.Random(7)
    await clear_own_rows(engine)
    async with engine.connect() as conn:
        have_libraries = set(
            await conn.scalars(select(Library.id).where(Library.id.like("bench-%")))
        )
        have_resources = set(
            await conn.scalars(select(Resource.id).where(Resource.id.like("bench-%")))
        )
        users = dict(
            (
                await conn.execute(
                    select(User.telegram_id, User.id).where(User.telegram_id >= TELEGRAM_BASE)
                )
            ).all()
        )
    await _bulk(
        engine,
        Library.__table__,
        [
            {"id": lib, "name": f"Médiathèque {i}", "commune": f"Commune {i}"}
            for i, lib in enumerate(LIBRARIES)
            if lib not in have_libraries
        ],
    )
    await _bulk(
        engine,
        Resource.__table__,
        [
            {
                "id": r,
                "media_type": m,
                "name": f"Plateforme {r[-3:]}",
                "counter_platform": f"Bench Platform {r[-3:]}",
            }
            for r, m in RESOURCES
            if r not in have_resources
        ],
    )
    now = dt.datetime(YEAR, 12, 31, tzinfo=dt.UTC)
    missing = [n for n in range(USERS) if TELEGRAM_BASE + n not in users]
    await _bulk(
        engine,
        User.__table__,
        [
            {
                "telegram_id": TELEGRAM_BASE + n,
                "first_name": f"P{n}",
                "language": "fr",
                "library_id": LIBRARIES[n % len(LIBRARIES)],
                "role": "patron",
                "created_at": now,
                "last_seen_at": now,
                "reachable": True,
                "onboarded": True,
            }
            for n in missing
        ],
    )
    async with engine.connect() as conn:
        users = dict(
            (
                await conn.execute(
                    select(User.telegram_id, User.id).where(User.telegram_id >= TELEGRAM_BASE)
                )
            ).all()
        )
        actors = dict((await conn.execute(select(UsageActor.user_id, UsageActor.actor))).all())
    ids = [users[TELEGRAM_BASE + n] for n in range(USERS)]
    await _bulk(
        engine,
        UsageActor.__table__,
        [{"user_id": u, "actor": rng.getrandbits(62) + 1} for u in ids if u not in actors],
    )
    async with engine.connect() as conn:
        actors = dict((await conn.execute(select(UsageActor.user_id, UsageActor.actor))).all())
    # a handover question of a bench patron (the old benchmark failed on such a database)
    await _bulk(
        engine,
        HandoverQuestion.__table__,
        [
            {
                "user_id": ids[0],
                "text": "Une question passée aux bibliothécaires",
                "created_at": now,
            }
        ],
    )
    workshops = [f"bench-ws-{i:03d}" for i in range(300)]
    await _bulk(
        engine,
        Workshop.__table__,
        [
            {
                "id": w,
                "library_id": LIBRARIES[i % len(LIBRARIES)],
                "title": f"Atelier {i}",
                "starts_at": _moment(rng),
                "duration_min": 90,
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
                "user_id": ids[(i * 37 + j * 101) % USERS],
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
        user = rng.randrange(USERS)
        resource = RESOURCES[rng.randrange(len(RESOURCES))]
        moment = _moment(rng)
        day = moment.astimezone(TZ).date()
        row = {
            "occurred_at": moment,
            "day": day,
            "week": day - dt.timedelta(days=day.weekday()),
            "month": day.replace(day=1),
            "actor": None if kind == "broadcast_sent" else actors[ids[user]],
            "kind": kind,
            "library_id": LIBRARIES[user % len(LIBRARIES)],
            "media_type": resource[1] if kind != "command" else None,
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
    print(f"  {events:,} events written in {time.perf_counter() - started:.1f} s")
    feedback_kinds = (("vote", 70), ("workshop", 10), ("free", 10), ("survey", 10))
    fkinds = [k for k, _ in feedback_kinds]
    fweights = [w for _, w in feedback_kinds]
    for n in range(feedback):
        kind = rng.choices(fkinds, fweights)[0]
        user = rng.randrange(USERS)
        rating = {
            "vote": rng.randrange(2),
            "workshop": rng.randrange(1, 6),
            "free": rng.randrange(1, 6),
            "survey": rng.randrange(11),
        }[kind]
        batch.append(
            {
                "user_id": ids[user],
                "kind": kind,
                "rating": rating,
                "comment": rng.choice(phrases) if rng.random() < 0.3 else "",
                "subject_id": workshops[n % 300] if kind == "workshop" else None,
                "library_id": LIBRARIES[user % len(LIBRARIES)],
                "media_type": MEDIA_TYPES[n % 6],
                "contact_ok": False,
                "created_at": _moment(rng),
            }
        )
        if len(batch) == 50000 or n == feedback - 1:
            await _bulk(engine, Feedback.__table__, batch)
            batch = []
    # platform usage: 100 resources × months back from the year's end × 4 metrics × 2 families
    metrics = ("searches", "item_requests", "unique_item_requests", "sessions")
    month = dt.date(YEAR, 12, 1)
    rows: list[dict] = []
    while len(rows) < platform_rows:
        rows += [
            {
                "resource_id": resource,
                "month": month,
                "metric": metric,
                "report": family,
                "value": rng.randrange(50, 5000),
                "source": "bench",
                "imported_at": now,
            }
            for resource, _ in RESOURCES
            for metric in metrics
            for family in ("PR", "CSV")
        ]
        month = (month - dt.timedelta(days=1)).replace(day=1)
    await _bulk(engine, PlatformUsage.__table__, rows[:platform_rows])
    async with engine.begin() as conn:
        await conn.execute(
            insert(Meta),
            [{"key": "bench-report", "value": f"{events}:{feedback}:{platform_rows}"}],
        )
    await analyze(engine)
    print(f"  filled in {time.perf_counter() - started:.1f} s")


async def analyze(engine: AsyncEngine) -> None:
    if engine.dialect.name == "postgresql":
        async with engine.connect() as conn:
            await conn.execution_options(isolation_level="AUTOCOMMIT")
            await conn.execute(text("VACUUM ANALYZE"))
    else:
        async with engine.begin() as conn:
            await conn.execute(text("ANALYZE"))


async def baseline(engine: AsyncEngine, period: Period, distinct: bool = False) -> float:
    """The plain SQL for the same counts: one GROUP BY over the year's raw events, what a
    person would write (the issue's baseline). ``distinct``: the same with
    ``count(DISTINCT actor)`` in every group too (a sort of every event: heavier)."""
    begin, after = period.utc_bounds()
    patrons = ", count(DISTINCT actor)" if distinct else ""
    started = time.perf_counter()
    async with engine.connect() as conn:
        await conn.execute(
            text(
                f"SELECT kind, library_id, media_type, count(*){patrons},"
                " sum(CASE WHEN answered THEN 1 ELSE 0 END) FROM usage_events"
                " WHERE occurred_at >= :begin AND occurred_at < :after"
                " GROUP BY kind, library_id, media_type"
            ),
            {"begin": begin, "after": after},
        )
    return time.perf_counter() - started


async def write_cost(engine: AsyncEngine, n: int = 300) -> tuple[float, float]:
    """ms per event: Plume's recorder (actor lookup + insert, one transaction each) vs a
    plain one-row INSERT per transaction."""
    sessions = session_factory(engine)
    async with engine.connect() as conn:
        user = await conn.scalar(select(User.id).where(User.telegram_id == TELEGRAM_BASE))
    recorder = UsageRecorder(sessions, TZ)
    moment = dt.datetime(YEAR - 1, 6, 1, tzinfo=dt.UTC)  # outside the year measured
    started = time.perf_counter()
    for _ in range(n):
        await recorder.write(
            question_event(
                user_id=user, query="x", raw_text="x", answered=True, library_id=LIBRARIES[0]
            )
        )
    plume = (time.perf_counter() - started) / n * 1000
    day = moment.date()
    started = time.perf_counter()
    for _ in range(n):
        async with engine.begin() as conn:
            await conn.execute(
                insert(UsageEvent),
                [
                    {
                        "occurred_at": moment,
                        "day": day,
                        "week": day,
                        "month": day,
                        "actor": 1,
                        "kind": "question",
                        "library_id": LIBRARIES[0],
                        "query": "x",
                        "answered": True,
                    }
                ],
            )
    plain = (time.perf_counter() - started) / n * 1000
    async with engine.begin() as conn:  # the recorder's events are dated now: query "x"
        await conn.execute(
            delete(UsageEvent).where(
                UsageEvent.library_id == LIBRARIES[0],
                (UsageEvent.day < dt.date(YEAR, 1, 1)) | (UsageEvent.query == "x"),
            )
        )
    return plume, plain


def write_counter_reports(folder: Path, count: int = 50) -> list[Path]:
    """``count`` PR reports of 12 months × 10 platforms (the bench resources)."""
    rng = random.Random(3)
    months = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
    paths = []
    for n in range(count):
        # 50 different years, each adding its months, all before the months of the
        # benchmark's own platform rows (which a report of theirs would replace)
        year = 1950 + n
        lines = [
            "Report_Name\tPlatform Master Report",
            "Report_ID\tPR",
            "Release\t5.1",
            "Institution_Name\tBench",
            "Institution_ID\tProprietary:bench:1",
            "Metric_Types\tSearches_Platform; Total_Item_Requests; Unique_Item_Requests",
            "Report_Filters\t",
            "Report_Attributes\t",
            "Exceptions\t",
            f"Reporting_Period\tBegin_Date={year}-01-01; End_Date={year}-12-31",
            "Created\t2026-01-01",
            "Created_By\tBench",
            "",
            "\t".join(
                ["Platform", "Data_Type", "Access_Method", "Metric_Type", "Reporting_Period_Total"]
                + [f"{m}-{year}" for m in months]
            ),
        ]
        for p in range(10):
            resource = RESOURCES[(n + p) % len(RESOURCES)][0]
            for metric in ("Searches_Platform", "Total_Item_Requests", "Unique_Item_Requests"):
                values = [rng.randrange(10, 900) for _ in months]
                lines.append(
                    "\t".join(
                        [f"Bench Platform {resource[-3:]}", "Book", "Regular", metric]
                        + [str(sum(values))]
                        + [str(v) for v in values]
                    )
                )
        path = folder / f"report-{n:02d}.tsv"
        path.write_text("\n".join(lines) + "\n", encoding="utf-8")
        paths.append(path)
    return paths


async def run(url: str, events: int, feedback: int, platform_rows: int, reuse: bool) -> bool:
    engine = create_engine(url)
    try:
        await migrate(engine)
        async with engine.connect() as conn:
            marker = await conn.scalar(select(Meta.value).where(Meta.key == "bench-report"))
        if not (reuse and marker == f"{events}:{feedback}:{platform_rows}"):
            print(
                f"  filling {events:,} events, {feedback:,} feedback,"
                f" {platform_rows:,} platform rows"
            )
            await fill(engine, events, feedback, platform_rows)
        async with engine.connect() as conn:
            counts = {
                t: await conn.scalar(text(f"SELECT count(*) FROM {t}"))
                for t in ("usage_events", "feedback", "platform_usage", "handover_questions")
            }
        print("  rows: " + ", ".join(f"{n:,} {t}" for t, n in counts.items()))
        stats = StatsService(engine, TZ)
        period = Period.between(dt.date(YEAR, 1, 1), dt.date(YEAR, 12, 31), TZ)
        await stats.headline(Period.named("week", TZ))  # warm the connection pool
        base = min([await baseline(engine, period) for _ in range(3)])
        base_distinct = min([await baseline(engine, period, distinct=True) for _ in range(2)])
        figures_times, html_times, pdf_times = [], [], []
        for _ in range(2):
            started = time.perf_counter()
            figures = await stats.figures(period, compare=True)
            figures_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            html = await build_report(stats, period, fmt="html")
            html_times.append(time.perf_counter() - started)
            started = time.perf_counter()
            pdf = await build_report(stats, period, fmt="pdf")
            pdf_times.append(time.perf_counter() - started)
        library_times = []
        for fmt in ("json", "html"):
            started = time.perf_counter()
            await build_report(stats, period, library_id=LIBRARIES[3], fmt=fmt)
            library_times.append(time.perf_counter() - started)
        base_after = min([await baseline(engine, period) for _ in range(2)])
        plume_ms, plain_ms = await write_cost(engine)
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_counter_reports(Path(tmp))
            started = time.perf_counter()
            outcome = await import_usage(engine, paths)
            import_time = time.perf_counter() - started
            assert outcome.ok, outcome.errors[:3]
            started = time.perf_counter()
            again = await import_usage(engine, paths)  # idempotent: the same figures
            import_again = time.perf_counter() - started
            assert again.ok
        async with engine.begin() as conn:  # those years are the benchmark's own
            await conn.execute(
                delete(PlatformUsage).where(
                    PlatformUsage.resource_id.like("bench-%"),
                    PlatformUsage.month < dt.date(2000, 1, 1),
                    PlatformUsage.source.like("report-%"),
                )
            )
        figures_time = min(figures_times)
        lines = (
            f"baseline: plain GROUP BY over the year's raw events   {base:6.2f} s"
            f"  (again after the reports: {base_after:.2f} s)",
            f"  the same with count(DISTINCT actor) per group:      {base_distinct:6.2f} s",
            f"figures, year + previous year's key figures (SQL)   {figures_time:6.2f} s"
            f"  ({figures_time / base:.1f}x the baseline)",
            f"report, year, HTML (figures + render):              {min(html_times):6.2f} s"
            f"  ({min(html_times) / base:.1f}x the baseline; {len(html.content):,} bytes)",
            f"report, year, PDF (figures + render + print):       {min(pdf_times):6.2f} s"
            f"  ({min(pdf_times) / base:.1f}x the baseline; {len(pdf.content):,} bytes)",
            f"report, year, one library, JSON / HTML:             {library_times[0]:6.2f} s"
            f" / {library_times[1]:.2f} s",
            f"recording one event: {plume_ms:.2f} ms (plain one-row insert: {plain_ms:.2f} ms)",
            f"50 COUNTER reports (12 months x 10 platforms): {import_time:.2f} s;"
            f" again (idempotent): {import_again:.2f} s",
        )
        for line in lines:
            print("  " + line)
        assert figures.totals["questions"] > 0
        ok = min(html_times) <= 3.0 and min(pdf_times) <= 6.0 and import_time <= 10.0
        print(f"  targets (HTML ≤ 3 s, PDF ≤ 6 s, import ≤ 10 s): {'met' if ok else 'MISSED'}")
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
                text("SELECT 1 FROM pg_database WHERE datname = :name"), {"name": PG_NAME}
            )
            if not exists:
                await conn.execute(text(f"CREATE DATABASE {PG_NAME}"))
        await admin.dispose()
        return True
    except Exception as error:
        print(f"PostgreSQL skipped: {error.__class__.__name__}: {error}")
        return False


async def main() -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="both")
    parser.add_argument("--events", type=int, default=1_000_000, help="usage events")
    parser.add_argument("--feedback", type=int, default=200_000, help="feedback rows")
    parser.add_argument("--platform-rows", type=int, default=100_000, help="platform usage rows")
    parser.add_argument("--reuse", action="store_true", help="keep the data of a previous run")
    parser.add_argument("--sqlite-url", default=SQLITE_URL, help="SQLite database to fill")
    parser.add_argument("--postgres-url", default=PG_URL, help="PostgreSQL database to fill")
    args = parser.parse_args()
    results = []
    if args.backend in ("sqlite", "both"):
        print("SQLite")
        results.append(
            await run(args.sqlite_url, args.events, args.feedback, args.platform_rows, args.reuse)
        )
    if args.backend in ("postgresql", "both") and (
        args.postgres_url != PG_URL or await postgres_ready()
    ):
        print("PostgreSQL")
        results.append(
            await run(
                args.postgres_url, args.events, args.feedback, args.platform_rows, args.reuse
            )
        )
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
