"""The period of the statistics: local calendar days in the network's time zone, how a
coordinator names one (a word, a month, two dates), and its buckets (days, weeks, months)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Final
from zoneinfo import ZoneInfo

from bot.shared.when import WhenError, parse_period

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


class PeriodError(ValueError):
    """Words that do not make a period."""


class PeriodOrderError(PeriodError):
    """A period that ends before it starts."""


def parse_date(word: str) -> dt.date:
    """One day, as the time grammar reads it (``2025-01-31``, ``31/01/2025``...)."""
    try:
        start, end = parse_period(word, dt.datetime.now(dt.UTC).astimezone().date())
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
        today = today or dt.datetime.now(tz).date()
        # the longest run of words that reads as a period ("du 1er au 30 novembre", "la
        # semaine dernière"), else a period's name alone ("semaine": the last 7 days); the
        # words left over are for the caller (a library, a language, a format)
        for size in range(len(rest), 0, -1):
            if size == 1:
                for index, word in enumerate(rest):
                    if word.casefold() in PERIOD_WORDS:
                        return cls.named(word, tz, today), rest[:index] + rest[index + 1 :]
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
