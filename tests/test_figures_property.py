"""Property test: for random event histories, every document gives the figures that a
recomputation from the raw events gives (report JSON, CSV, HTML, the survey, /stats,
/export and ``report --rebuild-rollups``)."""

from __future__ import annotations

import argparse
import asyncio
import csv
import datetime as dt
import io
import json
from collections import Counter, defaultdict
from pathlib import Path
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from bot.i18n import translator
from bot.reporting.data import number
from bot.reporting.report import build_report, report_main
from bot.stats.metrics import KIND_METRIC
from bot.stats.period import Period, bucket_of, buckets
from bot.stats.queries import StatsService
from bot.stats.shaping import is_patron_question
from bot.usage import BROADCAST_REACHED, BROADCAST_SENT, Event, UsageRecorder, add_events
from handlers.stats.figures import stats_text
from storage.db import create_engine, session_factory
from storage.models import MEDIA_TYPES, User
from tests.kit import import_network

TZ = ZoneInfo("Europe/Paris")
TODAY = dt.datetime.now(TZ).date()
PERIOD = Period.between(TODAY - dt.timedelta(days=30), TODAY - dt.timedelta(days=3), TZ)
LIBRARIES = ("lib-amont", "lib-bas", None)
ROLES = ("patron", "patron", "patron", "staff", "coordinator")
KINDS = ("question", "card_view", "registration", "unregistration", "attendance", "command")
TEXTS = ("mot de passe oublié", "bonjour", "merci !", "14h30", "livres audio ?", "?", "horaires")

people = st.lists(
    st.tuples(st.sampled_from(ROLES), st.sampled_from(LIBRARIES)), min_size=1, max_size=6
)
moments = st.tuples(st.integers(0, 36), st.integers(0, 23), st.integers(0, 59))
events = st.lists(
    st.tuples(
        st.sampled_from(KINDS),
        st.integers(0, 5),  # who (modulo the number of people)
        moments,
        st.sampled_from((*MEDIA_TYPES, None)),
        st.booleans(),
        st.sampled_from(TEXTS),
    ),
    max_size=40,
)
announcements = st.lists(
    st.tuples(moments, st.sampled_from((*MEDIA_TYPES, None)), st.lists(st.integers(0, 5))),
    max_size=3,
)


def moment(at: tuple[int, int, int]) -> dt.datetime:
    days, hour, minute = at
    local = dt.datetime.combine(TODAY - dt.timedelta(days=days), dt.time(hour, minute), TZ)
    return local.astimezone(dt.UTC)


async def reset(url: str) -> None:
    engine = create_engine(url)
    async with engine.begin() as conn:
        for table in ("usage_events", "usage_actors", "subscriptions", "feedback", "users"):
            await conn.execute(text(f"DELETE FROM {table}"))
    await engine.dispose()


async def record(url: str, persons, history, sent) -> tuple[list[int], list[Event]]:
    engine = create_engine(url)
    sessions = session_factory(engine)
    ids = []
    async with sessions.begin() as session:
        for n, (role, library) in enumerate(persons):
            user = User(telegram_id=900_000 + n, first_name=f"P{n}", role=role, library_id=library)
            session.add(user)
            await session.flush()
            ids.append(user.id)
    recorder = UsageRecorder(sessions, TZ)
    kept: list[Event] = []
    for kind, who, at, media, answered, wording in history:
        index = who % len(persons)
        role, library = persons[index]
        event = Event(
            kind,
            user_id=ids[index],
            library_id=library,
            media_type=media,
            subject_id="faq-x" if kind == "card_view" else None,
            query=wording if kind == "question" else None,
            raw_text=None if answered or kind != "question" else wording,
            answered=answered if kind == "question" else None,
            occurred_at=moment(at),
        )
        assert await recorder.record(
            kind,
            user_id=event.user_id,
            library_id=event.library_id,
            media_type=event.media_type,
            subject_id=event.subject_id,
            query=event.query,
            raw_text=event.raw_text,
            answered=event.answered,
            occurred_at=event.occurred_at,
        )
        if role == "patron":
            kept.append(event)
    for number_, (at, media, reached) in enumerate(sent):  # the announcements' path
        batch = [
            Event(BROADCAST_SENT, subject_id=number_, media_type=media, occurred_at=moment(at))
        ]
        for who in sorted(set(reached)):
            index = who % len(persons)
            batch.append(
                Event(
                    BROADCAST_REACHED,
                    user_id=ids[index],
                    library_id=persons[index][1],
                    media_type=media,
                    occurred_at=moment(at),
                )
            )
        async with sessions.begin() as session:
            await add_events(session, TZ, batch)
        kept += [
            e for e in batch if e.user_id is None or persons[ids.index(e.user_id)][0] == "patron"
        ]
    await engine.dispose()
    return ids, kept


def expected(kept: list[Event]) -> dict[str, object]:
    """The figures recomputed by hand from the events that count."""
    totals: Counter[str] = Counter()
    active: set[int] = set()
    by_library: dict[str, set[int]] = defaultdict(set)
    by_media: dict[str, set[int]] = defaultdict(set)
    days: set[tuple[dt.date, int]] = set()
    library_days: dict[str, set[tuple[dt.date, int]]] = defaultdict(set)
    per_bucket: dict[str, dict[dt.date, set[int]]] = {
        grain: defaultdict(set) for grain in ("day", "week", "month")
    }
    unanswered = 0
    for e in kept:
        day = e.occurred_at.astimezone(TZ).date()
        if not PERIOD.start <= day <= PERIOD.end:
            continue
        metric = KIND_METRIC.get(e.kind)
        if metric:
            totals[metric] += 1
        if e.kind == "question":
            totals["answered" if e.answered else "unanswered"] += 1
            if not e.answered and is_patron_question(e.raw_text or ""):
                unanswered += 1
        if e.user_id is not None:
            active.add(e.user_id)
            by_library[e.library_id or ""].add(e.user_id)
            if e.media_type:
                by_media[e.media_type].add(e.user_id)
            days.add((day, e.user_id))
            library_days[e.library_id or ""].add((day, e.user_id))
            for grain in per_bucket:
                per_bucket[grain][bucket_of(day, grain)].add(e.user_id)
    totals["active"] = len(active)
    totals["visits"] = len(days)
    return {
        "totals": totals,
        "by_library": {k: len(v) for k, v in by_library.items()},
        "by_media": {k: len(v) for k, v in by_media.items()},
        "visits_by_library": {k: len(v) for k, v in library_days.items()},
        "active_series": {
            grain: {bucket: len(v) for bucket, v in found.items()}
            for grain, found in per_bucket.items()
        },
        "unanswered": unanswered,
    }


async def check(url: str, persons, history, sent, tmp: Path) -> None:
    await reset(url)
    _, kept = await record(url, persons, history, sent)
    want = expected(kept)
    engine = create_engine(url)
    stats = StatsService(engine, TZ)
    try:
        figures = await stats.figures(PERIOD)
        for metric, value in figures.totals.items():
            assert value == want["totals"].get(metric, 0), metric
        got_library = {k: v["active"] for k, v in figures.by_library.items() if v["active"]}
        assert got_library == want["by_library"]
        got_media = {k: v["active"] for k, v in figures.by_media.items() if k and v["active"]}
        assert got_media == want["by_media"]
        got_visits = {k: v["visits"] for k, v in figures.by_library.items() if v["visits"]}
        assert got_visits == want["visits_by_library"]
        for grain, points in figures.active_series.items():  # every bucket, empty ones too
            assert [b for b, _ in points] == buckets(PERIOD, grain)
            assert {b: n for b, n in points if n} == want["active_series"][grain], grain
        assert sum(g.count for g in figures.unanswered) == want["unanswered"]
        assert all(is_patron_question(g.text) for g in figures.unanswered)

        # the raw events: no user id, one actor per patron who did something
        async with engine.connect() as conn:
            columns = (await conn.execute(text("SELECT * FROM usage_events"))).keys()
            actors = await conn.scalar(text("SELECT count(DISTINCT actor) FROM usage_events"))
        assert "user_id" not in columns
        assert actors == len({e.user_id for e in kept if e.user_id is not None})

        # every format of the report
        data = json.loads((await build_report(stats, PERIOD, fmt="json")).content)
        assert data["totals"] == figures.totals
        assert data["national_survey"]["total"]["active_patrons"] == want["totals"]["active"]
        assert data["national_survey"]["total"]["chat_sessions"] == want["totals"]["visits"]
        rows = csv.reader(
            io.StringIO(
                (await build_report(stats, PERIOD, fmt="csv")).content.decode("utf-8-sig")
            ),
            delimiter=";",
        )
        csv_totals = {r[2]: int(r[3]) for r in rows if r[0] == "totals"}
        assert csv_totals == figures.totals
        fr = translator("fr", str(TZ))
        html = (await build_report(stats, PERIOD, fmt="html")).content.decode()
        for metric in ("active", "questions", "card_views"):
            assert (
                f'<td data-label="cette période">{number(fr, figures.totals[metric])}</td>' in html
            )
        survey = (await build_report(stats, PERIOD, fmt="survey")).content.decode("utf-8-sig")
        assert survey.splitlines()[-1].startswith(f"Tout le réseau;{want['totals']['active']};")

        # /stats and /export
        headline = await stats.headline(PERIOD)
        assert headline.totals == figures.totals
        message = stats_text(fr, headline)
        assert f"Questions\u202f: {number(fr, want['totals']['questions'])}" in message
        usage = await stats.usage_rows(PERIOD)
        per_kind: Counter[str] = Counter()
        for row in usage:
            per_kind[KIND_METRIC.get(row["kind"], row["kind"])] += row["events"]
        for metric in ("questions", "card_views", "broadcasts_reached", "broadcasts_sent"):
            assert per_kind[metric] == want["totals"].get(metric, 0)

        # report --rebuild-rollups gives the same document
        outputs = []
        for rebuild in (False, True):
            path = tmp / f"report-{rebuild}.json"
            args = argparse.Namespace(
                start=PERIOD.start.isoformat(),
                end=PERIOD.end.isoformat(),
                year=None,
                library=None,
                fmt="json",
                lang="fr",
                output=str(path),
                rebuild_rollups=rebuild,
            )
            assert await report_main(args, engine, TZ) == 0
            document = json.loads(path.read_text())
            document.pop("generated_at")
            outputs.append(document)
        assert outputs[0] == outputs[1]
        assert outputs[0]["totals"] == figures.totals
    finally:
        await engine.dispose()


@settings(
    max_examples=12,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(persons=people, history=events, sent=announcements)
@example(  # the period's first and last days (mid-week, mid-month) and the days around them
    persons=[("patron", "lib-amont"), ("patron", None)],
    history=[
        (kind, who, (days, 12, 0), "ebook", True, "livres audio ?")
        for days in (31, 30, 29, 4, 3, 2)
        for kind, who in (("question", 0), ("card_view", 1))
    ],
    sent=[],
)
def test_every_document_equals_a_recomputation_from_the_events(
    any_database_url, tmp_path, persons, history, sent
):
    asyncio.run(_prepared(any_database_url))
    asyncio.run(check(any_database_url, persons, history, sent, tmp_path))


_IMPORTED: set[str] = set()


async def _prepared(url: str) -> None:
    if url not in _IMPORTED:
        await import_network(url)
        _IMPORTED.add(url)
