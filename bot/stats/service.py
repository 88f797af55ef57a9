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
  dates and times, lone punctuation are left out (:func:`is_patron_question`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any, Final
from zoneinfo import ZoneInfo

from rapidfuzz import fuzz
from sqlalchemy import Date, bindparam, text
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.privacy.coverage import ERASED_TEXT
from bot.privacy.service import pseudonym
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
    "visits",
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
#: queries of one report that run at the same time, each on its own connection
PARALLEL_QUERIES: Final = 4


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
    duration_min: int
    capacity: int
    media_type: str | None
    cancelled: bool
    status: str  # held / upcoming / cancelled
    registered: int
    waiting: int
    attended: int
    attendance_known: int
    ratings: int
    average_rating: float | None

    @property
    def participants(self) -> int:
        """Patrons marked present; the registered ones when attendance was not taken."""
        return self.attended if self.attendance_known else self.registered


@dataclass
class PlatformRow:
    resource_id: str
    name: str
    media_type: str
    month: dt.date
    metric: str
    value: int


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
    platform: list[PlatformRow] = field(default_factory=list)
    events_announced: int = 0
    previous: Figures | None = None

    @property
    def workshop_summary(self) -> dict[str, Any]:
        return workshop_summary(self.workshops)

    def platform_totals(self) -> dict[str, int]:
        """Each platform metric summed over resources and months."""
        totals: Counter[str] = Counter()
        for row in self.platform:
            totals[row.metric] += row.value
        return dict(totals)

    def platform_by_media(self) -> dict[str, dict[str, int]]:
        result: dict[str, Counter[str]] = defaultdict(Counter)
        for row in self.platform:
            result[row.media_type][row.metric] += row.value
        return {k: dict(v) for k, v in result.items()}

    def platform_by_resource(self) -> dict[str, dict[str, int]]:
        result: dict[str, Counter[str]] = defaultdict(Counter)
        for row in self.platform:
            result[row.resource_id][row.metric] += row.value
        return {k: dict(v) for k, v in result.items()}

    def survey(self) -> dict[str, dict[str, int]]:
        """The national survey's figures per library ('' = the whole network)."""
        return survey_figures(self)


def workshop_summary(workshops: list[WorkshopFigures]) -> dict[str, Any]:
    held = [w for w in workshops if w.status == "held"]
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
        "upcoming": sum(1 for w in workshops if w.status == "upcoming"),
        "cancelled": sum(1 for w in workshops if w.status == "cancelled"),
        "seats": sum(w.capacity for w in held),
        "registered": sum(w.registered for w in held),
        "attended": attended,
        "participants": sum(w.participants for w in held),
        "hours": sum(w.duration_min for w in held) / 60,
        "attendance_rate": attended / known if known else None,
        "ratings": ratings,
        "average_rating": average,
    }


#: the platform metric that counts as a "consultation" in the national survey
CONSULTATION_METRIC: Final = "item_requests"
SURVEY_FIELDS: Final = (
    "active_patrons",
    "training_sessions",
    "training_participants",
    "training_hours",
    "questions_answered",
    "chat_sessions",
    "platform_consultations",
    "events_announced",
    "registrations",
)


def survey_figures(figures: Figures) -> dict[str, dict[str, int]]:
    """Per library and for the whole network (key ''), in the survey's vocabulary."""
    libraries = sorted(
        {k for k in figures.by_library if k} | {w.library_id for w in figures.workshops}
    )
    result: dict[str, dict[str, int]] = {}
    for key in [*libraries, ""]:
        workshops = [w for w in figures.workshops if key in ("", w.library_id)]
        summary = workshop_summary(workshops)
        counts = figures.totals if key == "" else figures.by_library.get(key, _zero())
        result[key] = {
            "active_patrons": counts.get("active", 0),
            "training_sessions": summary["held"],
            "training_participants": summary["participants"],
            "training_hours": round(summary["hours"]),
            "questions_answered": counts.get("answered", 0),
            "chat_sessions": counts.get("visits", 0),
            # the providers report for the whole network, not per library
            "platform_consultations": (
                figures.platform_totals().get(CONSULTATION_METRIC, 0) if key == "" else 0
            ),
            "events_announced": figures.events_announced if key == "" else 0,
            "registrations": counts.get("registrations", 0),
        }
    return result


_CHITCHAT: Final = frozenset(
    "bonjour bonsoir salut coucou hello hi hey merci thanks thank you ok okay oui non yes no "
    "aide help svp stp please au revoir bye top super cool bien parfait daccord accord "
    "start menu test a bientot bientot bonne journee soiree nuit".split()
)
_DATE_LIKE = re.compile(
    r"^[\d\s/.:hH\-–,]*(\d{1,2}\s*[hH:]\s*\d{0,2}|\d{1,4}[/.\-]\d{1,2}([/.\-]\d{1,4})?)"
    r"[\d\s/.:hH\-–,]*$"
)
_CALENDAR: Final = frozenset(
    "janvier fevrier mars avril mai juin juillet aout septembre octobre novembre decembre "
    "lundi mardi mercredi jeudi vendredi samedi dimanche demain aujourdhui hier "
    "january february march april may june july august september october november "
    "december monday tuesday wednesday thursday friday saturday sunday tomorrow today "
    "h min er le a".split()
)
_WORDS = re.compile(r"[^\W\d_]+", re.UNICODE)


def is_patron_question(text: str) -> bool:
    """A real question: not a greeting, thanks, a date or time, nor lone punctuation."""
    stripped = text.strip()
    if not stripped or _DATE_LIKE.match(stripped):
        return False
    plain = unicodedata.normalize("NFKD", stripped.casefold())
    plain = "".join(c for c in plain if not unicodedata.combining(c)).replace("'", "")
    words = _WORDS.findall(plain)
    letters = sum(len(w) for w in words)
    if letters < 3:
        return False
    if all(w in _CHITCHAT for w in words):
        return False
    return not (any(ch.isdigit() for ch in plain) and all(w in _CALENDAR for w in words))


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
        previous period of a report: only what :func:`bot.reporting.report.key_figures` reads — the
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
            for metric, value in counts.get(start, {}).items():
                point[metric] = value
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
    """Kept for ``report --rebuild-rollups``: there are no roll-ups any more (every figure is
    computed from the events), so there is nothing to rebuild."""
    return None
