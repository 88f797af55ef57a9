"""Statistics for coordinators, from the recorded events, aggregated in SQL.

:class:`StatsService` turns ``usage_events``, ``feedback``, ``workshops``/``registrations``,
``subscriptions`` and ``platform_usage`` into :class:`Figures` for a :class:`Period`
(local calendar days in the network's time zone) and optionally one library. There are no
roll-up tables: every figure is one ``GROUP BY`` over the events of the period, through
the covering indexes of ``usage_events`` (each event stores its local day, week and
month), so that /stats, /export and every format of the report read the same numbers from
the same queries. Patrons appear as counts, never as people.

The definitions (the report's methodology section repeats them):

- an *active patron* is a patron who did at least one recorded thing (a question, a card
  opened, a registration, an announcement received...) in the period; staff,
  coordinators and administrators are never recorded (``bot.usage``);
- a workshop is *held* when it started before the end of the period and before now and
  was not cancelled; later ones are *upcoming*, listed apart;
- registrations, attendance and subscribers count patrons only;
- the unanswered questions are patron questions that are questions: greetings, thanks,
  dates and times, lone punctuation are left out (:func:`is_patron_question`)."""

from __future__ import annotations

import asyncio
import datetime as dt
import re
from collections import Counter, defaultdict
from collections.abc import Coroutine
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import Date, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.privacy.coverage import ERASED_TEXT
from bot.privacy.service import pseudonym
from bot.stats.metrics import KIND_METRIC, NONE_KEY, SERIES_METRICS, _zero
from bot.stats.period import Period, bucket_of, buckets
from bot.stats.shaping import (
    Figures,
    PlatformRow,
    UnansweredGroup,
    WorkshopFigures,
    _as_date,
    _as_utc,
    _mean,
    group_similar,
    is_patron_question,
    pick_representative,
    shape_feedback,
)
from storage.models import UtcDateTime, utcnow

UNANSWERED_FETCH: Final = 400
#: queries of one report that run at the same time, each on its own connection
PARALLEL_QUERIES: Final = 4


class StatsService:
    """Aggregates for coordinators; ``services.stats`` in the bot, also used by the CLI."""

    def __init__(self, engine: AsyncEngine, tz: ZoneInfo) -> None:
        self._engine = engine
        self.tz = tz

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def figures(
        self, period: Period, library_id: str | None = None, *, compare: bool = False
    ) -> Figures:
        """Everything the evaluation report shows (and the previous period's key figures)."""
        lanes = asyncio.Semaphore(PARALLEL_QUERIES)  # shared: both periods at once
        if not compare:
            return await self._figures(period, library_id, detail="full", lanes=lanes)
        figures, previous = await asyncio.gather(
            self._figures(period, library_id, detail="full", lanes=lanes),
            self._figures(period.previous(), library_id, detail="comparison", lanes=lanes),
        )
        figures.previous = previous
        return figures

    async def unanswered(
        self, period: Period, library_id: str | None = None
    ) -> list[UnansweredGroup]:
        return await _Query(self._engine, period, library_id).unanswered()

    async def headline(self, period: Period, library_id: str | None = None) -> Figures:
        """The key figures only (for /stats): no comments, workshops or clusters."""
        return await self._figures(period, library_id, detail="headline")

    async def _figures(
        self,
        period: Period,
        library_id: str | None,
        *,
        detail: str,
        lanes: asyncio.Semaphore | None = None,
    ) -> Figures:
        """``detail``: ``full`` (the report), ``headline`` (/stats), or ``comparison`` (the
        previous period of a report: only what :func:`bot.reporting.data.key_figures` reads — the
        totals, active patrons, visits, workshops and platform figures)."""
        full = detail == "full"
        comparison = detail == "comparison"
        q = _Query(self._engine, period, library_id, lanes)

        async def nothing() -> Any:
            return None

        def when(wanted: bool, work: Coroutine[Any, Any, Any]) -> Coroutine[Any, Any, Any]:
            if wanted:
                return work
            work.close()
            return nothing()

        # every query at once (up to PARALLEL_QUERIES running), the longest first
        (
            (totals, by_media, by_library),
            per_library,
            active_series,
            by_media_active,
            series_counts,
            top,
            feedback,
            unanswered,
            subscribers,
            workshops,
            comments,
            library_names,
            resource_names,
            platform,
            events_announced,
        ) = await asyncio.gather(
            q.event_counts(),
            q.active_by_library(),
            q.active_series(("day",) if comparison else ("day", "week", "month")),
            when(not comparison, q.active_by_media()),
            when(not comparison, q.series_counts()),
            when(full, q.top_resources()),
            when(not comparison, q.feedback()),
            when(full, q.unanswered()),
            when(not comparison, q.subscribers()),
            when(full or comparison, q.workshops()),
            when(full, q.comments()),
            q.names("libraries"),
            q.names("resources"),
            when(full or comparison, q.platform()),
            q.events_announced(),
        )
        total_active, active_by_library, visits_by_library = per_library
        filled = {
            grain: [(b, active_series.get(grain, {}).get(b, 0)) for b in buckets(period, grain)]
            if grain in active_series
            else []
            for grain in ("day", "week", "month")
        }
        active = {
            "total": float(total_active),
            "visits": float(sum(active_series["day"].values())),
            "day_avg": _mean(filled["day"]),
            "week_avg": _mean(filled["week"]),
            "month_avg": _mean(filled["month"]),
        }
        totals["active"] = int(active["total"])
        totals["visits"] = int(active["visits"])
        for key, value in active_by_library.items():
            by_library.setdefault(key, _zero())["active"] = value
        for key, value in (by_media_active or {}).items():
            by_media.setdefault(key, _zero())["active"] = value
        for key, value in visits_by_library.items():
            by_library.setdefault(key, _zero())["visits"] = value
        subscribers, subscribers_by_library = subscribers or ({}, {})
        return Figures(
            period=period,
            library_id=library_id,
            generated_at=utcnow(),
            totals=totals,
            by_media=by_media,
            by_library=by_library,
            series=[] if comparison else q.series(series_counts, filled),
            active=active,
            active_series=filled,
            top_resources=top or [],
            subscribers=subscribers,
            subscribers_by_library=subscribers_by_library,
            feedback=feedback or shape_feedback([]),
            workshops=workshops or [],
            unanswered=unanswered or [],
            comments=comments or [],
            library_names=library_names,
            resource_names=resource_names,
            platform=platform or [],
            events_announced=events_announced,
        )

    # Exports -------------------------------------------------------------------------

    async def feedback_rows(
        self, period: Period, library_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Feedback of the period (patrons'); who wrote it only when they agreed to be
        contacted."""
        begin, after = period.utc_bounds()
        lib = " AND f.library_id = :lib" if library_id else ""
        sql = text(
            "SELECT f.id, f.created_at, f.kind, f.rating, f.comment, f.subject_id,"
            " f.library_id, f.media_type, f.contact_ok, f.user_id, u.first_name, u.telegram_id"
            " FROM feedback f LEFT JOIN users u ON u.id = f.user_id"
            f" WHERE f.created_at >= :begin AND f.created_at < :after{lib}"
            f" AND {_PATRON_FEEDBACK}"
            " ORDER BY f.created_at, f.id"
        ).bindparams(*_time_params())
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sql, _params(begin, after, library_id))).all()
        result = []
        for row in rows:
            contact = bool(row.contact_ok) and row.telegram_id is not None
            result.append(
                {
                    "id": row.id,
                    "created_at": _as_utc(row.created_at).isoformat(),
                    "kind": row.kind,
                    "rating": "" if row.rating is None else row.rating,
                    "comment": row.comment,
                    "subject_id": row.subject_id or "",
                    "library_id": row.library_id or "",
                    "media_type": row.media_type or "",
                    # staff write to them through Plume (/avis_recus), never by their id
                    "contact": f"{pseudonym(row.user_id)} (/avis_recus)" if contact else "",
                }
            )
        return result

    async def usage_rows(
        self, period: Period, library_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Usage per local day, kind, library and media type (counts, not people)."""
        lib = " AND library_id = :lib" if library_id else ""
        sql = text(
            "SELECT day, kind, library_id, media_type, count(*) AS n,"
            " count(DISTINCT actor) AS patrons,"
            " sum(CASE WHEN answered THEN 1 ELSE 0 END) AS answered"
            f" FROM usage_events WHERE day >= :d0 AND day <= :d1{lib}"
            " GROUP BY day, kind, library_id, media_type ORDER BY 1, 2, 3, 4"
        ).bindparams(bindparam("d0", type_=Date), bindparam("d1", type_=Date))
        params: dict[str, object] = {"d0": period.start, "d1": period.end}
        if library_id:
            params["lib"] = library_id
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sql, params)).all()
        return [
            {
                "day": _as_date(row.day).isoformat(),
                "kind": row.kind,
                "library_id": row.library_id or "",
                "media_type": row.media_type or "",
                "events": row.n,
                "patrons": row.patrons,
                "answered": int(row.answered or 0) if row.kind == "question" else "",
            }
            for row in rows
        ]


#: feedback of someone who is staff now is left out (an erased person's stays: a patron's)
#: (the staff are a short list: one look-up in it per row, not a query per row)
_PATRON_FEEDBACK: Final = (
    "(f.user_id IS NULL OR f.user_id NOT IN (SELECT s.id FROM users s WHERE s.role <> 'patron'))"
)
USAGE_EXPORT_FIELDS: Final = (
    "day",
    "kind",
    "library_id",
    "media_type",
    "events",
    "patrons",
    "answered",
)
FEEDBACK_EXPORT_FIELDS: Final = (
    "id",
    "created_at",
    "kind",
    "rating",
    "comment",
    "subject_id",
    "library_id",
    "media_type",
    "contact",
)


def _time_params() -> list[Any]:
    return [bindparam("begin", type_=UtcDateTime), bindparam("after", type_=UtcDateTime)]


def _params(
    begin: dt.datetime,
    after: dt.datetime,
    library_id: str | None,
    tz: ZoneInfo | None = None,
    **more: object,
) -> dict[str, object]:
    params: dict[str, object] = {"begin": begin, "after": after, **more}
    if library_id:
        params["lib"] = library_id
    if tz is not None:
        params["tz"] = str(tz)
    return params


_FAMILY_RANK: Final = {"PR": 0, "DR": 1, "TR": 2, "IR": 3, "CSV": 4}


class _Query:
    """The queries of one report. Each runs on its own connection, up to
    :data:`PARALLEL_QUERIES` at a time: the figures are independent GROUP BYs, and one
    connection keeps one core of the database busy (the PostgreSQL server's, or SQLite's
    thread of that connection). Each query sees the events committed when it starts: a
    report made while patrons are active may count the last seconds' events in one table
    and not in another, as PostgreSQL's statements (one snapshot each) always could."""

    def __init__(
        self,
        engine: AsyncEngine,
        period: Period,
        library_id: str | None,
        lanes: asyncio.Semaphore | None = None,
    ) -> None:
        self.engine = engine
        self.dialect = engine.dialect.name
        self.period = period
        self.library_id = library_id
        self.begin, self.after = period.utc_bounds()
        self._lanes = lanes or asyncio.Semaphore(PARALLEL_QUERIES)

    async def _execute(self, statement: Any, params: dict[str, object]) -> list[Any]:
        async with self._lanes, self.engine.connect() as conn:
            return list((await conn.execute(statement, params)).all())

    def _lib(self, column: str = "library_id") -> str:
        return f" AND {column} = :lib" if self.library_id else ""

    async def _rows(self, sql: str, **more: object) -> list[Any]:
        """``sql`` with :begin/:after (UTC), :d0/:d1 (local days) and :lib bound as used."""
        params: dict[str, object] = {
            "begin": self.begin,
            "after": self.after,
            "d0": self.period.start,
            "d1": self.period.end,
            "now": utcnow(),
            **more,
        }
        if self.library_id:
            params["lib"] = self.library_id
        params = {k: v for k, v in params.items() if re.search(rf":{k}\b", sql)}
        binds = [
            bindparam(k, type_=UtcDateTime if isinstance(v, dt.datetime) else Date)
            for k, v in params.items()
            if isinstance(v, dt.date)
        ]
        return await self._execute(text(sql).bindparams(*binds), params)

    _IN_PERIOD = "day >= :d0 AND day <= :d1"

    def _index(self, name: str) -> str:
        """SQLite only: the index named (the plans are in each query's comment). Its planner,
        with or without ANALYZE statistics, otherwise picks an index that needs a temporary
        b-tree over every event of the period, or table lookups (measured: 5 to 25 times
        slower at a million events)."""
        return f" INDEXED BY {name}" if self.dialect == "sqlite" else ""

    async def event_counts(
        self,
    ) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        """Counts per kind, library and media type (and the totals)."""
        # ix_usage_events_counts (kind, library_id, media_type, day, answered) is in the
        # GROUP BY's order and covers the query: no sort, no table lookup
        rows = await self._rows(
            "SELECT kind, library_id, media_type, count(*) AS n,"
            " sum(CASE WHEN answered THEN 1 ELSE 0 END) AS answered"
            f" FROM usage_events{self._index('ix_usage_events_counts')}"
            f" WHERE {self._IN_PERIOD}{self._lib()}"
            " GROUP BY kind, library_id, media_type"
        )
        totals = _zero()
        by_media: dict[str, dict[str, int]] = defaultdict(_zero)
        by_library: dict[str, dict[str, int]] = defaultdict(_zero)
        for row in rows:
            metric = KIND_METRIC.get(row.kind)
            if metric is None:
                continue
            n = int(row.n)
            answered = int(row.answered or 0) if row.kind == "question" else 0
            for target in (
                totals,
                by_media[row.media_type or NONE_KEY],
                by_library[row.library_id or NONE_KEY],
            ):
                target[metric] += n
                if row.kind == "question":
                    target["answered"] += answered
                    target["unanswered"] += n - answered
        return totals, dict(by_media), dict(by_library)

    async def series_counts(self) -> dict[dt.date, Counter[str]]:
        """The trend's counts per bucket: grouped by local day in SQL (at most one row per
        kind and day), summed into the period's buckets here."""
        # ix_usage_events_kind_day (kind, day, answered, library_id, ...): in order, covering
        rows = await self._rows(
            "SELECT kind, day, count(*) AS n,"
            " sum(CASE WHEN answered THEN 1 ELSE 0 END) AS answered"
            f" FROM usage_events{self._index('ix_usage_events_kind_day')}"
            " WHERE kind IN ('question', 'card_view', 'registration')"
            f" AND {self._IN_PERIOD}{self._lib()} GROUP BY kind, day"
        )
        series: dict[dt.date, Counter[str]] = defaultdict(Counter)
        for row in rows:
            point = series[bucket_of(_as_date(row.day), self.period.granularity)]
            point[KIND_METRIC[row.kind]] += int(row.n)
            if row.kind == "question":
                point["answered"] += int(row.answered or 0)
        return dict(series)

    def _active_where(self) -> str:
        return f"{self._IN_PERIOD} AND actor IS NOT NULL{self._lib()}"

    def _active_index(self, name: str) -> str:
        """One library: its rows of ix_usage_events_library_actor (library_id, actor, day,
        week, month, media_type) cover every active-patron query, whatever the grouping."""
        return self._index("ix_usage_events_library_actor" if self.library_id else name)

    async def active_by_library(self) -> tuple[int, dict[str, int], dict[str, int]]:
        """Distinct active patrons over the period, and per library (the patron's library
        when the event happened) with its visits (a patron's active days)."""
        # per (library, patron): the number of active days, in the index's order; the total
        # is the distinct patrons of those rows (a few per patron: no second pass)
        rows = await self._rows(
            "WITH per_patron AS (SELECT library_id, actor, count(DISTINCT day) AS days"
            f" FROM usage_events{self._index('ix_usage_events_library_actor')}"
            f" WHERE {self._active_where()} GROUP BY library_id, actor)"
            " SELECT 0 AS everyone, library_id, count(*) AS active, sum(days) AS visits"
            " FROM per_patron GROUP BY library_id"
            " UNION ALL SELECT 1, NULL, count(DISTINCT actor), 0 FROM per_patron"
        )
        total = sum(int(r.active) for r in rows if r.everyone)
        groups = [r for r in rows if not r.everyone]
        return (
            total,
            {(r.library_id or NONE_KEY): int(r.active) for r in groups},
            {(r.library_id or NONE_KEY): int(r.visits) for r in groups},
        )

    async def active_by_media(self) -> dict[str, int]:
        rows = await self._rows(
            "SELECT media_type, count(DISTINCT actor) AS n FROM usage_events"
            f"{self._active_index('ix_usage_events_media_actor')}"
            f" WHERE {self._active_where()} AND media_type IS NOT NULL GROUP BY media_type"
        )
        return {r.media_type: int(r.n) for r in rows}

    async def active_series(self, grains: tuple[str, ...]) -> dict[str, dict[dt.date, int]]:
        """Distinct active patrons per day, week and/or month (the buckets with any)."""
        # the week and month of a day in the period lie between those of its first and last
        # days: said to the database, the (week, ...) and (month, ...) indexes are read over
        # the period only
        bounds = {
            "day": "",
            "week": " AND week >= :w0 AND week <= :w1",
            "month": " AND month >= :m0 AND month <= :m1",
        }

        async def one(grain: str) -> dict[dt.date, int]:
            rows = await self._rows(
                f"SELECT {grain} AS bucket, count(DISTINCT actor) AS n FROM usage_events"
                f"{self._active_index(f'ix_usage_events_{grain}_actor')}"
                f" WHERE {self._active_where()}{bounds[grain]} GROUP BY {grain}",
                w0=bucket_of(self.period.start, "week"),
                w1=bucket_of(self.period.end, "week"),
                m0=bucket_of(self.period.start, "month"),
                m1=bucket_of(self.period.end, "month"),
            )
            return {_as_date(r.bucket): int(r.n) for r in rows}

        found = await asyncio.gather(*(one(grain) for grain in grains))
        return dict(zip(grains, found, strict=True))

    def series(
        self, counts: dict[Any, Any], active_series: dict[str, list[tuple[dt.date, int]]]
    ) -> list[dict[str, Any]]:
        """The trend at the period's granularity: active patrons and counts per bucket."""
        points = []
        for start, n in active_series[self.period.granularity]:
            point = {"start": start, "active": n, **dict.fromkeys(SERIES_METRICS, 0)}
            point.update(counts.get(start, {}))
            points.append(point)
        return points

    async def top_resources(self, limit: int = 10) -> list[dict[str, Any]]:
        # the partial index ix_usage_events_cards: the card views only, in the GROUP BY's order
        rows = await self._rows(
            "SELECT subject_id, media_type, count(*) AS n"
            f" FROM usage_events{self._index('ix_usage_events_cards')}"
            f" WHERE kind = 'card_view' AND {self._IN_PERIOD}"
            f" AND subject_id IS NOT NULL{self._lib()}"
            " GROUP BY subject_id, media_type ORDER BY n DESC, subject_id LIMIT :limit",
            limit=limit,
        )
        titles = await self.titles([r.subject_id for r in rows])
        return [
            {
                "id": r.subject_id,
                "title": titles.get(r.subject_id, r.subject_id),
                "media_type": r.media_type,
                "views": r.n,
            }
            for r in rows
        ]

    async def titles(self, ids: list[str]) -> dict[str, str]:
        """The title of each card: a resource's name, an item's title, a FAQ question."""
        if not ids:
            return {}
        found: dict[str, str] = {}
        for sql in (
            "SELECT id, question AS title FROM faq_entries WHERE id IN :ids",
            "SELECT id, title FROM items WHERE id IN :ids",
            "SELECT id, name AS title FROM resources WHERE id IN :ids",
            "SELECT id, title FROM workshops WHERE id IN :ids",
        ):
            statement = text(sql).bindparams(bindparam("ids", expanding=True))
            for row in await self._execute(statement, {"ids": ids}):
                found[row.id] = row.title
        return found

    async def subscribers(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """Current subscribers (patrons) per topic (``media:<type>``, ``events``, ``news``)."""
        rows = await self._rows(
            "SELECT s.topic, u.library_id, count(*) AS n FROM subscriptions s"
            " JOIN users u ON u.id = s.user_id WHERE u.role = 'patron'"
            f"{self._lib('u.library_id')} GROUP BY s.topic, u.library_id"
        )
        totals: Counter[str] = Counter()
        by_library: dict[str, dict[str, int]] = defaultdict(dict)
        for row in rows:
            totals[row.topic] += row.n
            by_library[row.library_id or NONE_KEY][row.topic] = row.n
        return dict(totals), dict(by_library)

    async def feedback(self) -> dict[str, Any]:
        # SQLite, over a quarter or more: reading the table in order beats a look-up per row
        # from the created_at index (which cannot cover the comment test): 2 to 3 times faster
        scan = " NOT INDEXED" if self.dialect == "sqlite" and self.period.days > 92 else ""
        rows = await self._rows(
            "SELECT kind, library_id, media_type, rating,"
            " count(*) AS n, sum(CASE WHEN comment <> '' THEN 1 ELSE 0 END) AS comments"
            f" FROM feedback f{scan} WHERE created_at >= :begin AND created_at < :after"
            f" AND {_PATRON_FEEDBACK}{self._lib()} GROUP BY kind, library_id, media_type, rating"
        )
        return shape_feedback(rows)

    async def workshops(self) -> list[WorkshopFigures]:
        lib = self._lib("w.library_id")
        # a registration whose person was erased (or is past PLUME_REGISTRATION_DAYS) has no
        # user any more: it was a patron's (staff are erased as patrons only on request)
        is_patron = "(u.role = 'patron' OR r.user_id IS NULL)"
        patron = f"r.status = 'registered' AND {is_patron}"
        rows = await self._rows(
            "SELECT w.id, w.title, w.library_id, w.starts_at, w.duration_min, w.capacity,"
            " w.media_type, w.cancelled,"
            f" sum(CASE WHEN {patron} THEN 1 ELSE 0 END) AS registered,"
            f" sum(CASE WHEN r.status = 'waiting' AND {is_patron} THEN 1 ELSE 0 END)"
            " AS waiting,"
            f" sum(CASE WHEN {patron} AND r.attended THEN 1 ELSE 0 END) AS attended,"
            f" sum(CASE WHEN {patron} AND r.attended IS NOT NULL THEN 1 ELSE 0 END) AS known"
            " FROM workshops w LEFT JOIN registrations r ON r.workshop_id = w.id"
            " LEFT JOIN users u ON u.id = r.user_id"
            f" WHERE w.starts_at >= :begin AND w.starts_at < :after{lib}"
            " GROUP BY w.id, w.title, w.library_id, w.starts_at, w.duration_min, w.capacity,"
            " w.media_type, w.cancelled ORDER BY w.starts_at, w.id"
        )
        ratings = {
            r.subject_id: (r.n, r.average)
            for r in await self._rows(
                "SELECT f.subject_id, count(*) AS n, avg(f.rating * 1.0) AS average"
                " FROM feedback f JOIN workshops w ON w.id = f.subject_id"
                f" WHERE f.kind = 'workshop' AND f.rating IS NOT NULL AND {_PATRON_FEEDBACK}"
                " AND w.starts_at >= :begin AND w.starts_at < :after"
                f"{self._lib('w.library_id')} GROUP BY f.subject_id"
            )
        }
        now = utcnow()
        result = []
        for r in rows:
            starts_at = _as_utc(r.starts_at)
            status = "cancelled" if r.cancelled else "held" if starts_at < now else "upcoming"
            count, average = ratings.get(r.id, (0, None))
            result.append(
                WorkshopFigures(
                    id=r.id,
                    title=r.title,
                    library_id=r.library_id,
                    starts_at=starts_at,
                    duration_min=int(r.duration_min or 0),
                    capacity=r.capacity,
                    media_type=r.media_type,
                    cancelled=bool(r.cancelled),
                    status=status,
                    registered=int(r.registered or 0),
                    waiting=int(r.waiting or 0),
                    attended=int(r.attended or 0),
                    attendance_known=int(r.known or 0),
                    ratings=int(count),
                    average_rating=float(average) if average is not None else None,
                )
            )
        return result

    async def unanswered(self, limit: int = 20) -> list[UnansweredGroup]:
        # the partial index ix_usage_events_unanswered holds these questions only
        rows = await self._rows(
            "SELECT query, min(raw_text) AS example, count(*) AS n"
            f" FROM usage_events{self._index('ix_usage_events_unanswered')}"
            f" WHERE kind = 'question' AND {self._IN_PERIOD}"
            f" AND NOT answered AND query IS NOT NULL{self._lib()}"
            " GROUP BY query ORDER BY n DESC, query LIMIT :fetch",
            fetch=UNANSWERED_FETCH,
        )
        kept = [
            (r.query, r.example or r.query, r.n)
            for r in rows
            if is_patron_question(r.example or r.query)
        ]
        return group_similar(kept)[:limit]

    async def comments(self, limit: int = 8) -> list[dict[str, Any]]:
        """A few representative comments: recent ones of each rating band, no names."""
        rows = await self._rows(
            "SELECT kind, rating, comment, media_type, library_id, created_at FROM feedback f"
            " WHERE created_at >= :begin AND created_at < :after AND comment <> ''"
            f" AND comment <> '{ERASED_TEXT}'"  # an erased person's, counted, never shown
            f" AND {_PATRON_FEEDBACK}{self._lib()} ORDER BY created_at DESC, id DESC LIMIT 300"
        )
        return pick_representative(
            [
                {
                    "kind": r.kind,
                    "rating": r.rating,
                    "comment": r.comment,
                    "media_type": r.media_type,
                    "library_id": r.library_id,
                    "created_at": _as_utc(r.created_at),
                }
                for r in rows
            ],
            limit,
        )

    async def platform(self) -> list[PlatformRow]:
        """The providers' figures of the months that start in the period, per resource and
        metric, each from the most aggregated report family that gave it."""
        rows = await self._rows(
            "SELECT p.resource_id, r.name, r.media_type, p.month, p.metric, p.report, p.value"
            " FROM platform_usage p JOIN resources r ON r.id = p.resource_id"
            " WHERE p.month >= :d0 AND p.month <= :d1"
        )
        best: dict[tuple[str, dt.date, str], tuple[int, Any]] = {}
        for row in rows:
            key = (row.resource_id, _as_date(row.month), row.metric)
            rank = _FAMILY_RANK.get(row.report, 9)
            if key not in best or rank < best[key][0]:
                best[key] = (rank, row)
        return sorted(
            (
                PlatformRow(
                    row.resource_id, row.name, row.media_type, key[1], row.metric, int(row.value)
                )
                for key, (_, row) in best.items()
            ),
            key=lambda p: (p.media_type, p.name, p.month, p.metric),
        )

    async def events_announced(self) -> int:
        """Announcements sent on the events topic (action culturelle)."""
        rows = await self._rows(
            "SELECT count(*) AS n FROM announcements WHERE topic = 'events'"
            " AND state = 'done' AND finished_at >= :begin AND finished_at < :after"
        )
        return int(rows[0].n) if rows else 0

    async def names(self, table: str) -> dict[str, str]:
        assert table in ("libraries", "resources")
        rows = await self._execute(text(f"SELECT id, name FROM {table}"), {})
        return {r.id: r.name for r in rows}
