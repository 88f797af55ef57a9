"""Statistics for coordinators, aggregated in SQL (SQLite and PostgreSQL).

:class:`StatsService` turns ``usage_events``, ``feedback``, ``workshops``/``registrations``
and ``subscriptions`` into :class:`Figures` for a :class:`Period` (local calendar days in
the network's time zone) and optionally one library. Every query groups in the database;
Python only reshapes the grouped rows. Patrons appear as counts, never as people.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz
from sqlalchemy import Date, bindparam, text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.shared.when import WhenError, parse_period
from storage.models import MEDIA_TYPES, UtcDateTime, utcnow

PERIOD_DAYS: Final = {"week": 7, "month": 30, "quarter": 91, "year": 365}
PERIOD_WORDS: Final = {
    "week": "week",
    "semaine": "week",
    "month": "month",
    "mois": "month",
    "quarter": "quarter",
    "trimestre": "quarter",
    "year": "year",
    "annee": "year",
    "année": "year",
    "an": "year",
}
MAX_PERIOD_DAYS: Final = 3 * 366

#: usage event kind -> the metric it counts
KIND_METRIC: Final = {
    "question": "questions",
    "card_view": "card_views",
    "registration": "registrations",
    "unregistration": "unregistrations",
    "attendance": "attendance",
    "broadcast_sent": "broadcasts_sent",
    "broadcast_reached": "broadcasts_reached",
    "subscription": "subscriptions",
    "unsubscription": "unsubscriptions",
}
METRICS: Final = (
    "active",
    "questions",
    "answered",
    "unanswered",
    "card_views",
    "registrations",
    "unregistrations",
    "attendance",
    "broadcasts_sent",
    "broadcasts_reached",
    "subscriptions",
    "unsubscriptions",
)
SERIES_METRICS: Final = ("questions", "answered", "card_views", "registrations")
NONE_KEY: Final = ""  # the group of events without a library or media type
UNANSWERED_FETCH: Final = 400
SIMILARITY: Final = 78


class PeriodError(ValueError):
    """Words that do not make a period."""


class PeriodOrderError(PeriodError):
    """A period that ends before it starts."""


def parse_date(word: str) -> dt.date:
    """One day, as the time grammar reads it (``2025-01-31``, ``31/01/2025``...)."""
    try:
        start, end = parse_period(word, dt.date.today())
    except WhenError:
        start, end = dt.date.min, dt.date.max
    if start != end:
        raise PeriodError(f"{word!r} is not a date like 2025-01-31 or 31/01/2025")
    return start


@dataclass(frozen=True, slots=True)
class Period:
    """Local calendar days ``start``..``end`` (both included) in time zone ``tz``."""

    start: dt.date
    end: dt.date
    tz: ZoneInfo
    name: str = "custom"

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise PeriodError("the period ends before it starts")
        if self.days > MAX_PERIOD_DAYS:
            raise PeriodError(f"a period is at most {MAX_PERIOD_DAYS} days")

    @classmethod
    def named(cls, name: str, tz: ZoneInfo, today: dt.date | None = None) -> Period:
        """``week``/``month``/``quarter``/``year``: that many days up to today (included)."""
        canonical = PERIOD_WORDS.get(name.casefold())
        if canonical is None:
            raise PeriodError(f"unknown period {name!r}")
        today = today or dt.datetime.now(tz).date()
        start = today - dt.timedelta(days=PERIOD_DAYS[canonical] - 1)
        return cls(start, today, tz, canonical)

    @classmethod
    def between(cls, start: dt.date, end: dt.date, tz: ZoneInfo) -> Period:
        return cls(start, end, tz, "custom")

    @classmethod
    def parse(
        cls, words: list[str], tz: ZoneInfo, default: str = "month", today: dt.date | None = None
    ) -> tuple[Period, list[str]]:
        """A period from command words (a name, or two dates); returns the words left over."""
        rest = list(words)
        for index, word in enumerate(rest):
            if word.casefold() in PERIOD_WORDS:
                del rest[index]
                return cls.named(word, tz, today), rest
        today = today or dt.datetime.now(tz).date()
        # the longest run of words that reads as a period ("du 1er au 30 novembre"); the
        # words left over are for the caller (a library id, a language, a format)
        for size in range(len(rest), 0, -1):
            for first in range(len(rest) - size + 1):
                text = " ".join(rest[first : first + size])
                try:
                    start, end = parse_period(text, today)
                except WhenError as error:
                    if error.code == "order":
                        raise PeriodOrderError("the period ends before it starts") from None
                    continue
                left = rest[:first] + rest[first + size :]
                if start == end:  # one day: a second one may come after other words
                    for index, word in enumerate(left):
                        try:
                            other, _ = parse_period(word, today)
                        except WhenError:
                            continue
                        if other < start:
                            raise PeriodOrderError("the period ends before it starts")
                        return cls.between(start, other, tz), left[:index] + left[index + 1 :]
                return cls.between(start, end, tz), left
        return cls.named(default, tz, today), rest

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def utc_bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """[start, end) in UTC: local midnight of ``start`` to local midnight after ``end``."""
        begin = dt.datetime.combine(self.start, dt.time(), self.tz)
        after = dt.datetime.combine(self.end + dt.timedelta(days=1), dt.time(), self.tz)
        return begin.astimezone(dt.UTC), after.astimezone(dt.UTC)

    @property
    def granularity(self) -> str:
        """The step of the trend chart: day up to two months, then week, then month."""
        if self.days <= 62:
            return "day"
        if self.days <= 190:
            return "week"
        return "month"

    def previous(self) -> Period:
        """The period of the same length just before (for comparisons)."""
        end = self.start - dt.timedelta(days=1)
        return Period(end - dt.timedelta(days=self.days - 1), end, self.tz, self.name)


def bucket_of(day: dt.date, granularity: str) -> dt.date:
    if granularity == "week":
        return day - dt.timedelta(days=day.weekday())
    if granularity == "month":
        return day.replace(day=1)
    return day


def buckets(period: Period, granularity: str) -> list[dt.date]:
    """Every bucket start of the period, in order (empty buckets included)."""
    seen: list[dt.date] = []
    day = period.start
    while day <= period.end:
        bucket = bucket_of(day, granularity)
        if not seen or seen[-1] != bucket:
            seen.append(bucket)
        day += dt.timedelta(days=1)
    return seen


def _utc_offsets(
    begin: dt.datetime, after: dt.datetime, tz: ZoneInfo
) -> list[tuple[dt.datetime | None, int]]:
    """(UTC instant from which the offset applies, offset in seconds), first instant None."""
    moment = begin

    def offset_at(instant: dt.datetime) -> int:
        return int(instant.astimezone(tz).utcoffset().total_seconds())  # type: ignore[union-attr]

    offset = offset_at(moment)
    changes: list[tuple[dt.datetime | None, int]] = [(None, offset)]
    step = dt.timedelta(hours=1)
    while moment < after:
        nxt = moment + step
        if (nxt_offset := offset_at(nxt)) != offset:
            changes.append((nxt, nxt_offset))
            offset = nxt_offset
        moment = nxt
    return changes


def _sqlite_time(moment: dt.datetime) -> str:
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def local_day_sql(
    dialect: str,
    column: str,
    period: Period,
    bounds: tuple[dt.datetime, dt.datetime] | None = None,
) -> str:
    """SQL for the local calendar day of a UTC ``column`` (a date, or 'YYYY-MM-DD' text).

    PostgreSQL converts with the bound ``:tz``; SQLite adds the offset in force, switching at
    each daylight-saving change between the ``bounds`` (the period's by default).
    """
    if dialect == "postgresql":
        return f"CAST(timezone(:tz, {column}) AS date)"
    begin, after = bounds or period.utc_bounds()
    offsets = _utc_offsets(begin, after, period.tz)
    if len(offsets) == 1:
        return f"date({column}, '{offsets[0][1]:+d} seconds')"
    parts = ["CASE"]
    for (_, offset), (until, _) in itertools.pairwise(offsets):
        assert until is not None
        parts.append(
            f"WHEN {column} < '{_sqlite_time(until)}' THEN date({column}, '{offset:+d} seconds')"
        )
    parts.append(f"ELSE date({column}, '{offsets[-1][1]:+d} seconds') END")
    return " ".join(parts)


def week_sql(dialect: str, day: str) -> str:
    if dialect == "postgresql":
        return f"CAST(date_trunc('week', {day}) AS date)"
    return f"date({day}, '-6 days', 'weekday 1')"


def month_sql(dialect: str, day: str) -> str:
    if dialect == "postgresql":
        return f"CAST(date_trunc('month', {day}) AS date)"
    return f"substr({day}, 1, 7) || '-01'"


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    return dt.date.fromisoformat(str(value)[:10])


def _as_utc(moment: dt.datetime | str) -> dt.datetime:
    """SQLite hands back naive datetimes (or text, in raw SQL); they were stored as UTC."""
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _zero() -> dict[str, int]:
    return dict.fromkeys(METRICS, 0)


@dataclass
class UnansweredGroup:
    """Unanswered questions that look alike: the most frequent wording and the others."""

    text: str
    count: int
    variants: list[str] = field(default_factory=list)


@dataclass
class WorkshopFigures:
    id: str
    title: str
    library_id: str
    starts_at: dt.datetime
    capacity: int
    media_type: str | None
    cancelled: bool
    registered: int
    waiting: int
    attended: int
    attendance_known: int
    ratings: int
    average_rating: float | None


@dataclass
class Figures:
    """Everything a report shows, for one period and optionally one library."""

    period: Period
    library_id: str | None
    generated_at: dt.datetime
    totals: dict[str, int]
    by_media: dict[str, dict[str, int]]
    by_library: dict[str, dict[str, int]]
    series: list[dict[str, Any]]  # {"start": date, "active": n, "questions": n, ...}
    active: dict[str, float]  # day_avg, week_avg, month_avg, total
    active_series: dict[str, list[tuple[dt.date, int]]]  # day / week / month
    top_resources: list[dict[str, Any]]
    subscribers: dict[str, int]  # topic -> current subscribers
    subscribers_by_library: dict[str, dict[str, int]]
    feedback: dict[str, Any]
    workshops: list[WorkshopFigures]
    unanswered: list[UnansweredGroup]
    comments: list[dict[str, Any]]
    library_names: dict[str, str]
    resource_names: dict[str, str]

    @property
    def workshop_summary(self) -> dict[str, Any]:
        held = [w for w in self.workshops if not w.cancelled]
        registered = sum(w.registered for w in held)
        known = sum(w.attendance_known for w in held)
        attended = sum(w.attended for w in held)
        ratings = sum(w.ratings for w in held)
        rated = [w for w in held if w.average_rating is not None]
        average = (
            sum(w.average_rating * w.ratings for w in rated) / ratings  # type: ignore[operator]
            if ratings
            else None
        )
        return {
            "held": len(held),
            "cancelled": len(self.workshops) - len(held),
            "seats": sum(w.capacity for w in held),
            "registered": registered,
            "attended": attended,
            "attendance_rate": attended / known if known else None,
            "ratings": ratings,
            "average_rating": average,
        }


class StatsService:
    """Aggregates for coordinators; ``services.stats`` in the bot, also used by the CLI."""

    def __init__(self, engine: AsyncEngine, tz: ZoneInfo) -> None:
        self._engine = engine
        self.tz = tz

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name

    async def figures(self, period: Period, library_id: str | None = None) -> Figures:
        """Everything the evaluation report shows."""
        return await self._figures(period, library_id, full=True)

    async def unanswered(
        self, period: Period, library_id: str | None = None
    ) -> list[UnansweredGroup]:
        async with self._engine.connect() as conn:
            return await _Query(conn, self.dialect, period, library_id).unanswered()

    async def headline(self, period: Period, library_id: str | None = None) -> Figures:
        """The key figures only (for /stats): no comments, workshops or clusters."""
        return await self._figures(period, library_id, full=False)

    async def _figures(self, period: Period, library_id: str | None, *, full: bool) -> Figures:
        async with self._engine.connect() as conn:
            q = _Query(conn, self.dialect, period, library_id)
            totals, by_media, by_library = await q.event_counts()
            active, active_series, active_by_library, active_by_media = await q.active()
            totals["active"] = int(active["total"])
            for key, value in active_by_library.items():
                by_library.setdefault(key, _zero())["active"] = value
            for key, value in active_by_media.items():
                by_media.setdefault(key, _zero())["active"] = value
            subscribers, subscribers_by_library = await q.subscribers()
            return Figures(
                period=period,
                library_id=library_id,
                generated_at=utcnow(),
                totals=totals,
                by_media=by_media,
                by_library=by_library,
                series=await q.series(active_series),
                active=active,
                active_series=active_series,
                top_resources=await q.top_resources() if full else [],
                subscribers=subscribers,
                subscribers_by_library=subscribers_by_library,
                feedback=await q.feedback(),
                workshops=await q.workshops() if full else [],
                unanswered=await q.unanswered() if full else [],
                comments=await q.comments() if full else [],
                library_names=await q.names("libraries"),
                resource_names=await q.names("resources") if full else {},
            )

    # Exports -------------------------------------------------------------------------

    async def feedback_rows(
        self, period: Period, library_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Feedback of the period; who wrote it only when they agreed to be contacted."""
        begin, after = period.utc_bounds()
        lib = " AND f.library_id = :lib" if library_id else ""
        sql = text(
            "SELECT f.id, f.created_at, f.kind, f.rating, f.comment, f.subject_id,"
            " f.library_id, f.media_type, f.contact_ok, f.user_id, u.first_name, u.telegram_id"
            " FROM feedback f LEFT JOIN users u ON u.id = f.user_id"
            f" WHERE f.created_at >= :begin AND f.created_at < :after{lib}"
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
                    "rating": row.rating,
                    "comment": row.comment,
                    "subject_id": row.subject_id or "",
                    "library_id": row.library_id or "",
                    "media_type": row.media_type or "",
                    "patron": f"P{row.user_id}" if row.user_id is not None else "",
                    "contact": (
                        f"{row.first_name} tg://user?id={row.telegram_id}" if contact else ""
                    ),
                }
            )
        return result

    async def usage_rows(
        self, period: Period, library_id: str | None = None
    ) -> list[dict[str, Any]]:
        """Usage per local day, kind, library and media type (counts, not people)."""
        begin, after = period.utc_bounds()
        day = local_day_sql(self.dialect, "occurred_at", period)
        lib = " AND library_id = :lib" if library_id else ""
        sql = text(
            f"SELECT {day} AS day, kind, library_id, media_type, count(*) AS n,"
            " count(DISTINCT user_id) AS patrons,"
            " sum(CASE WHEN answered THEN 1 ELSE 0 END) AS answered"
            f" FROM usage_events WHERE occurred_at >= :begin AND occurred_at < :after{lib}"
            " GROUP BY 1, 2, 3, 4 ORDER BY 1, 2, 3, 4"
        ).bindparams(*_time_params())
        async with self._engine.connect() as conn:
            rows = (await conn.execute(sql, _params(begin, after, library_id, self.tz))).all()
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


class _Query:
    """The queries of one report, on one connection."""

    def __init__(
        self, conn: AsyncConnection, dialect: str, period: Period, library_id: str | None
    ) -> None:
        self.conn = conn
        self.dialect = dialect
        self.period = period
        self.library_id = library_id
        self.begin, self.after = period.utc_bounds()

    def _params(self, **more: object) -> dict[str, object]:
        tz = self.period.tz if self.dialect == "postgresql" else None
        return _params(self.begin, self.after, self.library_id, tz, **more)

    def _lib(self, column: str = "library_id") -> str:
        return f" AND {column} = :lib" if self.library_id else ""

    async def _rows(self, sql: str, **more: object) -> list[Any]:
        statement = text(sql).bindparams(*_time_params())
        return list((await self.conn.execute(statement, self._params(**more))).all())

    def _days(self) -> dict[str, object]:
        return {"d0": self.period.start, "d1": self.period.end}

    async def _rollup_rows(self, sql: str, **more: object) -> list[Any]:
        params: dict[str, object] = {**self._days(), **more}
        if self.library_id:
            params["lib"] = self.library_id
        params = {k: v for k, v in params.items() if f":{k}" in sql}
        dates = [bindparam(k, type_=Date) for k, v in params.items() if isinstance(v, dt.date)]
        statement = text(sql).bindparams(*dates)
        return list((await self.conn.execute(statement, params)).all())

    async def event_counts(
        self,
    ) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, dict[str, int]]]:
        """Counts per kind, library and media type, from the daily rollup."""
        rows = await self._rollup_rows(
            "SELECT kind, library_id, media_type, sum(events) AS n, sum(answered) AS answered"
            f" FROM usage_daily WHERE day >= :d0 AND day <= :d1{self._lib()}"
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

    async def active(
        self,
    ) -> tuple[
        dict[str, float], dict[str, list[tuple[dt.date, int]]], dict[str, int], dict[str, int]
    ]:
        """Distinct active patrons: per day, week, month (rollup), and over the period.

        Over the period, per library means per home library; each patron is one index
        lookup (``EXISTS``), not a scan of the events.
        """
        rows = await self._rollup_rows(
            "SELECT grain, bucket, patrons FROM usage_active WHERE library_id = :scope"
            " AND bucket >= :b0 AND bucket <= :d1",
            scope=self.library_id or "",
            b0=self.period.start - dt.timedelta(days=31),
        )
        series: dict[str, dict[dt.date, int]] = {"day": {}, "week": {}, "month": {}}
        names = {"d": "day", "w": "week", "m": "month"}
        for row in rows:
            series[names[row.grain]][_as_date(row.bucket)] = row.patrons
        filled = {g: [(b, series[g].get(b, 0)) for b in buckets(self.period, g)] for g in series}
        event_lib = " AND e.library_id = :lib" if self.library_id else ""
        in_period = "e.occurred_at >= :begin AND e.occurred_at < :after"
        by_library = {
            (r.library_id or NONE_KEY): r.n
            for r in await self._rows(
                "SELECT u.library_id, count(*) AS n FROM users u WHERE EXISTS (SELECT 1 FROM"
                f" usage_events e WHERE e.user_id = u.id AND {in_period}{event_lib})"
                " GROUP BY u.library_id"
            )
        }
        media = " UNION ALL ".join(f"SELECT '{m}' AS media_type" for m in MEDIA_TYPES)
        by_media = {
            r.media_type: r.n
            for r in await self._rows(
                f"SELECT m.media_type, count(*) AS n FROM users u CROSS JOIN ({media}) m"
                " WHERE EXISTS (SELECT 1 FROM usage_events e WHERE e.user_id = u.id"
                f" AND e.media_type = m.media_type AND {in_period}{event_lib})"
                " GROUP BY m.media_type"
            )
        }
        active = {
            "total": float(sum(by_library.values())),
            "day_avg": _mean(filled["day"]),
            "week_avg": _mean(filled["week"]),
            "month_avg": _mean(filled["month"]),
        }
        return active, filled, by_library, by_media

    async def series(
        self, active_series: dict[str, list[tuple[dt.date, int]]]
    ) -> list[dict[str, Any]]:
        """The trend at the period's granularity: active patrons and counts per bucket."""
        rows = await self._rollup_rows(
            "SELECT day, kind, sum(events) AS n, sum(answered) AS answered FROM usage_daily"
            f" WHERE day >= :d0 AND day <= :d1{self._lib()}"
            " AND kind IN ('question', 'card_view', 'registration') GROUP BY day, kind"
        )
        granularity = self.period.granularity
        points: dict[dt.date, dict[str, Any]] = {
            b: {"start": b, "active": n, **dict.fromkeys(SERIES_METRICS, 0)}
            for b, n in active_series[granularity]
        }
        for row in rows:
            point = points.get(bucket_of(_as_date(row.day), granularity))
            if point is None:
                continue
            point[KIND_METRIC[row.kind]] += int(row.n)
            if row.kind == "question":
                point["answered"] += int(row.answered or 0)
        return list(points.values())

    async def top_resources(self, limit: int = 10) -> list[dict[str, Any]]:
        rows = await self._rows(
            "SELECT subject_id, media_type, count(*) AS n FROM usage_events"
            " WHERE kind = 'card_view' AND occurred_at >= :begin AND occurred_at < :after"
            f" AND subject_id IS NOT NULL{self._lib()}"
            " GROUP BY subject_id, media_type ORDER BY n DESC, subject_id LIMIT :limit",
            limit=limit,
        )
        return [{"id": r.subject_id, "media_type": r.media_type, "views": r.n} for r in rows]

    async def subscribers(self) -> tuple[dict[str, int], dict[str, dict[str, int]]]:
        """Current subscribers per topic (``media:<type>``, ``events``, ``news``)."""
        lib = " AND u.library_id = :lib" if self.library_id else ""
        statement = text(
            "SELECT s.topic, u.library_id, count(*) AS n FROM subscriptions s"
            f" JOIN users u ON u.id = s.user_id WHERE 1 = 1{lib}"
            " GROUP BY s.topic, u.library_id"
        )
        params = {"lib": self.library_id} if self.library_id else {}
        rows = (await self.conn.execute(statement, params)).all()
        totals: Counter[str] = Counter()
        by_library: dict[str, dict[str, int]] = defaultdict(dict)
        for row in rows:
            totals[row.topic] += row.n
            by_library[row.library_id or NONE_KEY][row.topic] = row.n
        return dict(totals), dict(by_library)

    async def feedback(self) -> dict[str, Any]:
        rows = await self._rows(
            "SELECT kind, library_id, media_type, rating,"
            " count(*) AS n, sum(CASE WHEN comment <> '' THEN 1 ELSE 0 END) AS comments"
            " FROM feedback WHERE created_at >= :begin AND created_at < :after"
            f"{self._lib()} GROUP BY kind, library_id, media_type, rating"
        )
        return shape_feedback(rows)

    async def workshops(self) -> list[WorkshopFigures]:
        lib = self._lib("w.library_id")
        rows = await self._rows(
            "SELECT w.id, w.title, w.library_id, w.starts_at, w.capacity, w.media_type,"
            " w.cancelled,"
            " sum(CASE WHEN r.status = 'registered' THEN 1 ELSE 0 END) AS registered,"
            " sum(CASE WHEN r.status = 'waiting' THEN 1 ELSE 0 END) AS waiting,"
            " sum(CASE WHEN r.status = 'registered' AND r.attended THEN 1 ELSE 0 END)"
            " AS attended,"
            " sum(CASE WHEN r.status = 'registered' AND r.attended IS NOT NULL THEN 1 ELSE 0"
            " END) AS known"
            " FROM workshops w LEFT JOIN registrations r ON r.workshop_id = w.id"
            f" WHERE w.starts_at >= :begin AND w.starts_at < :after{lib}"
            " GROUP BY w.id, w.title, w.library_id, w.starts_at, w.capacity, w.media_type,"
            " w.cancelled ORDER BY w.starts_at, w.id"
        )
        ratings = {
            r.subject_id: (r.n, r.average)
            for r in await self._rows(
                "SELECT f.subject_id, count(*) AS n, avg(f.rating * 1.0) AS average"
                " FROM feedback f JOIN workshops w ON w.id = f.subject_id"
                " WHERE f.kind = 'workshop' AND f.rating IS NOT NULL"
                " AND w.starts_at >= :begin AND w.starts_at < :after"
                f"{self._lib('w.library_id')} GROUP BY f.subject_id"
            )
        }
        return [
            WorkshopFigures(
                id=r.id,
                title=r.title,
                library_id=r.library_id,
                starts_at=_as_utc(r.starts_at),
                capacity=r.capacity,
                media_type=r.media_type,
                cancelled=bool(r.cancelled),
                registered=int(r.registered or 0),
                waiting=int(r.waiting or 0),
                attended=int(r.attended or 0),
                attendance_known=int(r.known or 0),
                ratings=ratings.get(r.id, (0, None))[0],
                average_rating=(
                    float(ratings[r.id][1]) if r.id in ratings and ratings[r.id][1] else None
                ),
            )
            for r in rows
        ]

    async def unanswered(self, limit: int = 20) -> list[UnansweredGroup]:
        rows = await self._rows(
            "SELECT query, min(raw_text) AS example, count(*) AS n FROM usage_events"
            " WHERE kind = 'question' AND occurred_at >= :begin AND occurred_at < :after"
            f" AND NOT answered AND query IS NOT NULL{self._lib()}"
            " GROUP BY query ORDER BY n DESC, query LIMIT :fetch",
            fetch=UNANSWERED_FETCH,
        )
        return group_similar([(r.query, r.example or r.query, r.n) for r in rows])[:limit]

    async def comments(self, limit: int = 8) -> list[dict[str, Any]]:
        """A few representative comments: recent ones of each rating band, no names."""
        rows = await self._rows(
            "SELECT kind, rating, comment, media_type, library_id, created_at FROM feedback"
            " WHERE created_at >= :begin AND created_at < :after AND comment <> ''"
            f"{self._lib()} ORDER BY created_at DESC, id DESC LIMIT 300"
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

    async def names(self, table: str) -> dict[str, str]:
        assert table in ("libraries", "resources")
        rows = (await self.conn.execute(text(f"SELECT id, name FROM {table}"))).all()
        return {r.id: r.name for r in rows}


def _mean(points: list[tuple[dt.date, int]]) -> float:
    return sum(n for _, n in points) / len(points) if points else 0.0


def _band(kind: str, rating: int | None) -> str:
    """positive / neutral / negative, whatever the scale of the kind."""
    if rating is None:
        return "neutral"
    if kind == "vote":
        return "positive" if rating else "negative"
    if kind == "survey":
        return "positive" if rating >= 9 else "negative" if rating <= 6 else "neutral"
    return "positive" if rating >= 4 else "negative" if rating <= 2 else "neutral"


def shape_feedback(rows: list[Any]) -> dict[str, Any]:
    """Feedback figures from rows grouped by kind, library, media type and rating."""
    by_kind: dict[str, dict[str, Any]] = {}
    by_media: dict[str, dict[str, Any]] = defaultdict(lambda: _feedback_group())
    by_library: dict[str, dict[str, Any]] = defaultdict(lambda: _feedback_group())
    for row in rows:
        kind = row.kind
        entry = by_kind.setdefault(
            kind,
            {"count": 0, "rated": 0, "rating_sum": 0, "comments": 0, "distribution": Counter()},
        )
        entry["count"] += row.n
        entry["comments"] += int(row.comments or 0)
        if row.rating is not None:
            entry["rated"] += row.n
            entry["rating_sum"] += row.rating * row.n
            entry["distribution"][row.rating] += row.n
        for group in (
            by_media[row.media_type or NONE_KEY],
            by_library[row.library_id or NONE_KEY],
        ):
            group["count"] += row.n
            if kind == "vote" and row.rating is not None:
                group["up" if row.rating else "down"] += row.n
            elif kind in ("workshop", "free") and row.rating is not None:
                group["rated"] += row.n
                group["rating_sum"] += row.rating * row.n
    for entry in [*by_kind.values(), *by_media.values(), *by_library.values()]:
        rated = entry.get("rated", 0)
        entry["average"] = entry.pop("rating_sum") / rated if rated else None
    kinds = {
        kind: {**entry, "distribution": dict(sorted(entry["distribution"].items()))}
        for kind, entry in by_kind.items()
    }
    votes = kinds.get("vote", {}).get("distribution", {})
    up, down = votes.get(1, 0), votes.get(0, 0)
    survey = kinds.get("survey", {"count": 0, "distribution": {}})
    dist = survey["distribution"]
    answered = sum(dist.values())
    promoters = sum(n for score, n in dist.items() if score >= 9)
    detractors = sum(n for score, n in dist.items() if score <= 6)
    return {
        "by_kind": kinds,
        "votes": {"up": up, "down": down, "share_up": up / (up + down) if up + down else None},
        "survey": {
            "sent": survey["count"],
            "answered": answered,
            "average": survey.get("average"),
            "promoters": promoters,
            "passives": answered - promoters - detractors,
            "detractors": detractors,
            "nps": round(100 * (promoters - detractors) / answered) if answered else None,
        },
        "by_media": {k: dict(v) for k, v in by_media.items()},
        "by_library": {k: dict(v) for k, v in by_library.items()},
    }


def _feedback_group() -> dict[str, Any]:
    return {"count": 0, "up": 0, "down": 0, "rated": 0, "rating_sum": 0}


_SPACES = re.compile(r"\s+")


def group_similar(rows: list[tuple[str, str, int]]) -> list[UnansweredGroup]:
    """Greedy grouping of (normalised query, example wording, count), most frequent first."""
    groups: list[tuple[str, UnansweredGroup]] = []
    for query, example, count in sorted(rows, key=lambda r: (-r[2], r[0])):
        key = _SPACES.sub(" ", query.casefold()).strip()
        best: tuple[float, UnansweredGroup] | None = None
        for head, group in groups:
            score = _similarity(key, head)
            if score >= SIMILARITY and (best is None or score > best[0]):
                best = (score, group)
        if best is None:
            groups.append((key, UnansweredGroup(example.strip(), count)))
        else:
            best[1].count += count
            if len(best[1].variants) < 5 and example.strip() != best[1].text:
                best[1].variants.append(example.strip())
    result = [group for _, group in groups]
    result.sort(key=lambda g: (-g.count, g.text.casefold()))
    return result


def _similarity(a: str, b: str) -> float:
    score = fuzz.token_sort_ratio(a, b)
    if min(len(a.split()), len(b.split())) >= 3:
        score = max(score, fuzz.token_set_ratio(a, b) - 5)
    return float(score)


def pick_representative(rows: list[dict[str, Any]], limit: int) -> list[dict[str, Any]]:
    """Recent comments, alternating positive, negative and neutral ones, no duplicates."""
    bands: dict[str, list[dict[str, Any]]] = {"positive": [], "negative": [], "neutral": []}
    seen: set[str] = set()
    for row in rows:
        key = _SPACES.sub(" ", row["comment"].casefold()).strip()
        if len(key) < 3 or key in seen:
            continue
        seen.add(key)
        bands[_band(row["kind"], row["rating"])].append(row)
    chosen: list[dict[str, Any]] = []
    while len(chosen) < limit and any(bands.values()):
        for band in ("positive", "negative", "neutral"):
            if bands[band] and len(chosen) < limit:
                chosen.append(bands[band].pop(0))
    return chosen


def media_keys(figures: Figures) -> list[str]:
    """Media types in the canonical order, then any other key seen (e.g. no media type)."""
    seen = set(figures.by_media) | {
        t.removeprefix("media:") for t in figures.subscribers if t.startswith("media:")
    }
    return [m for m in MEDIA_TYPES if m in seen] + sorted(seen - set(MEDIA_TYPES))


async def rebuild_rollups(engine: AsyncEngine, tz: ZoneInfo) -> None:
    """Recomputes usage_daily, usage_presence and usage_active from the events (after a bulk
    load; the bot keeps them up to date event by event)."""
    dialect = engine.dialect.name
    async with engine.begin() as conn:
        first, last = (
            await conn.execute(text("SELECT min(occurred_at), max(occurred_at) FROM usage_events"))
        ).one()
        for table in ("usage_daily", "usage_presence", "usage_active"):
            await conn.execute(text(f"DELETE FROM {table}"))
        if first is None:
            return
        begin = _as_utc(first) - dt.timedelta(days=1)
        after = _as_utc(last) + dt.timedelta(days=1)
        period = Period(begin.date(), begin.date(), tz)
        day = local_day_sql(dialect, "occurred_at", period, (begin, after))
        params = {"tz": str(tz)} if dialect == "postgresql" else {}
        await conn.execute(
            text(
                "INSERT INTO usage_daily (kind, library_id, media_type, day, events, answered)"
                f" SELECT kind, coalesce(library_id, ''), coalesce(media_type, ''), {day},"
                " count(*), sum(CASE WHEN kind = 'question' AND answered THEN 1 ELSE 0 END)"
                " FROM usage_events GROUP BY 1, 2, 3, 4"
            ),
            params,
        )
        grains = (("d", "day"), ("w", week_sql(dialect, "day")), ("m", month_sql(dialect, "day")))
        for grain, bucket in grains:
            for library, condition in (("''", ""), ("library_id", " AND library_id IS NOT NULL")):
                await conn.execute(
                    text(
                        "INSERT INTO usage_presence (grain, bucket, library_id, user_id)"
                        f" SELECT DISTINCT '{grain}', {bucket}, lib, user_id FROM"
                        f" (SELECT {day} AS day, {library} AS lib, user_id FROM usage_events"
                        f" WHERE user_id IS NOT NULL{condition}) AS events"
                    ),
                    params,
                )
        await conn.execute(
            text(
                "INSERT INTO usage_active (grain, library_id, bucket, patrons)"
                " SELECT grain, library_id, bucket, count(*) FROM usage_presence"
                " GROUP BY grain, library_id, bucket"
            )
        )
