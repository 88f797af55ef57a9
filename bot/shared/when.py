"""The one time grammar: every date, time, duration and period a person types.

Moments ("samedi prochain 14h", "demain 9h30", "le 3 janvier à 10h", "12/03 14h30",
"3 Jan 10am", "2027-03-28 03:15", "dans 2 heures", "in 30 min"), periods ("du 1er au 30
novembre", "novembre 2026", "2026-01-01 2026-03-31", "from 1 to 30 November", "la semaine
dernière") and durations ("1h30", "90 min",
"2 h"), French and English, in the network's time zone.

The natural-language part (weekdays, month names, "demain", "next saturday", year
inference) is ``dateparser``'s (offline: its language data ships with the package). What
stays here is what it does not do the way people here write it: the French "14h30" time
of day, which dateparser reads as an hour count, "samedi prochain", "12.03" for a date, the
clock changes (a time skipped in spring is refused with an explanation; a time that
happens twice in autumn is asked back), and durations, where a bare number is asked back
rather than guessed.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Final, Literal
from zoneinfo import ZoneInfo

from bot.i18n import N_, Translator

ErrorCode = Literal[
    "format",  # not a date / time / duration / period
    "no_time",  # a day without a time of day
    "past",  # a moment that has passed
    "nonexistent",  # skipped by the spring clock change
    "ambiguous",  # happens twice, on the autumn clock change
    "bare_number",  # a duration without a unit
    "order",  # a period that ends before it starts
]


@dataclass(frozen=True)
class WhenError(ValueError):
    """Why a text is not a moment, a duration or a period; ``describe`` says it to people."""

    code: ErrorCode
    #: the local wall-clock time in question (``nonexistent``, ``ambiguous``)
    local: dt.datetime | None = None
    #: ``ambiguous``: the two moments (UTC), first the summer-time one
    options: tuple[dt.datetime, ...] = field(default=())

    def __str__(self) -> str:
        return self.code


# -- normalisation -----------------------------------------------------------------------

_SPACES = re.compile(r"[\s\u00a0\u202f]+")
_SUMMER = re.compile(
    r"\(?\b(?:heure d['’]été|été|ete|summer(?: time)?|cest|dst|\+0?2(?::?00)?)\b\)?"
)
_WINTER = re.compile(r"\(?\b(?:heure d['’]hiver|hiver|winter(?: time)?|cet|\+0?1(?::?00)?)\b\)?")
# times of day: 14h, 14 h 30, 14h30, 14:30, 10am, 2 pm, 10:30 a.m., midi, noon...
_TIME = re.compile(
    r"""(?<![\d/.:-])(?:
        (?P<h12>\d{1,2})(?::(?P<m12>\d{2}))?\s*(?P<ampm>a\.?m\.?|p\.?m\.?)(?![a-z])
      | (?P<hfr>\d{1,2})\s*h\s*(?P<mfr>\d{2})?(?![a-z\d])
      | (?P<hc>\d{1,2}):(?P<mc>\d{2})(?![\d])
      | (?P<word>midi|noon|minuit|midnight)
    )""",
    re.VERBOSE,
)
_DOTTED_DATE = re.compile(r"\b(\d{1,2})\.(\d{1,2})(?:\.(\d{2,4}))?\b")
_NEXT_WEEKDAY = re.compile(
    r"\b(?:(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche)\s+prochaine?"
    r"|prochaine?\s+(lundi|mardi|mercredi|jeudi|vendredi|samedi|dimanche))\b"
)
_CONNECTORS = re.compile(r"(?:^|\s)(?:à|a|at|vers|le|on|,|-)\s*$")
_LEADING = re.compile(r"^(?:le|on)\s+")
_ORDINAL = re.compile(r"\b(\d{1,2})\s*(?:er|ère|re|e|ème|st|nd|rd|th)\b")


# "dans 2 heures", "dans 1h30", "in 45 min", "dans une demi-heure": from now, within the day
_RELATIVE = re.compile(r"^(?:dans|in|d'ici)\s+(.+)$")
_RELATIVE_WORDS: Final = (
    (re.compile(r"\b(?:une|a|an)\s+demi[- ]heure\b|\bhalf an hour\b"), "30 min"),
    (re.compile(r"\bun quart d'heure\b|\ba quarter of an hour\b|\ba quarter hour\b"), "15 min"),
    (re.compile(r"^(?:une?|an?)\s+(?=[a-z])"), "1 "),
)


_DAY_UNIT = re.compile(r"\d\s*(?:d|j|jours?|days?)\b")


def _clean(text: str) -> str:
    return _SPACES.sub(" ", text.strip().lower()).replace("’", "'")


def _parser(prefer: str, base: dt.datetime) -> Any:  # dateparser has no types
    # Imported here: dateparser loads its language data on first use (about a second),
    # which the bot's start and the CLI's other commands need not pay for. A parser per
    # call (a few milliseconds): the relative base ("demain") is one of its settings.
    from dateparser.date import DateDataParser

    return DateDataParser(
        languages=["fr", "en"],
        settings={
            "PREFER_DATES_FROM": prefer,
            "DATE_ORDER": "DMY",
            "PREFER_DAY_OF_MONTH": "first",
            "RETURN_TIME_AS_PERIOD": True,
            "RELATIVE_BASE": base,
        },
    )


def _natural(text: str, base: dt.datetime, prefer: str) -> tuple[dt.date, str] | None:
    """A day (and dateparser's granularity: day, week, month, year) from words."""
    text = _NEXT_WEEKDAY.sub(lambda m: m.group(1) or m.group(2), text)
    text = _DOTTED_DATE.sub(
        lambda m: "/".join(g for g in (m.group(1), m.group(2), m.group(3)) if g), text
    )
    original = text
    text = _ORDINAL.sub(r"\1", _LEADING.sub("", text)).strip(" ,")
    if not text:
        return None
    numeric = _numeric(text, base.date(), prefer)
    if numeric is not False:
        return None if numeric is None else (numeric, "day")
    parser = _parser(prefer, base)
    data = parser.get_date_data(text)
    if data.date_obj is None and original != text:  # "le mois dernier" needs its article
        data = parser.get_date_data(original)
    if data.date_obj is None:
        return None
    return data.date_obj.date(), data.period or "day"


_ISO_DAY = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_DMY_DAY = re.compile(r"^(\d{1,2})/(\d{1,2})(?:/(\d{4}|\d{2}))?$")


def _numeric(text: str, today: dt.date, prefer: str) -> dt.date | Literal[False] | None:
    """Days in figures, read strictly (dateparser would take 2025-13-01 for 13 January):
    a day, None when it is not a real one, False when ``text`` is not in figures."""
    iso, dmy = _ISO_DAY.match(text), _DMY_DAY.match(text)
    try:
        if iso:
            return dt.date(int(iso[1]), int(iso[2]), int(iso[3]))
        if not dmy:
            return False
        day, month = int(dmy[1]), int(dmy[2])
        if dmy[3]:
            year = int(dmy[3]) + (2000 if len(dmy[3]) == 2 else 0)
            return dt.date(year, month, day)
        found = dt.date(today.year, month, day)
    except ValueError:
        return None
    with_year = found.replace  # 29 February: only some years have it
    try:
        if prefer == "future" and found < today:
            return with_year(year=today.year + 1)
        if prefer == "past" and found > today:
            return with_year(year=today.year - 1)
    except ValueError:
        return None
    return found


def _time_of_day(match: re.Match[str]) -> dt.time:
    if match["word"]:
        return dt.time(12) if match["word"] in ("midi", "noon") else dt.time(0)
    if match["ampm"]:
        hour, minute = int(match["h12"]), int(match["m12"] or 0)
        if not 1 <= hour <= 12:
            raise WhenError("format")
        hour = hour % 12 + (12 if match["ampm"].startswith("p") else 0)
    else:
        hour = int(match["hfr"] if match["hfr"] is not None else match["hc"])
        minute = int((match["mfr"] if match["hfr"] is not None else match["mc"]) or 0)
    if hour > 23 or minute > 59:
        raise WhenError("format")
    return dt.time(hour, minute)


# -- moments -----------------------------------------------------------------------------


def parse_moment(text: str, tz: ZoneInfo, now: dt.datetime, *, future: bool = True) -> dt.datetime:
    """A day and a time of day written by a person → an aware UTC datetime.

    A time alone ("18h") is today's, or tomorrow's once past. With ``future`` a moment
    already past is refused (``past``). Raises :class:`WhenError`.
    """
    cleaned = _clean(text)
    fold: int | None = None
    if _SUMMER.search(cleaned):
        fold, cleaned = 0, _SUMMER.sub(" ", cleaned)
    elif _WINTER.search(cleaned):
        fold, cleaned = 1, _WINTER.sub(" ", cleaned)
    relative = _from_now(cleaned, now)
    if relative is not None:
        return relative
    local_now = now.astimezone(tz)
    match = _TIME.search(cleaned)
    if match is None:
        raise WhenError("no_time" if _natural(cleaned, _naive(local_now), "future") else "format")
    time = _time_of_day(match)
    rest = (cleaned[: match.start()] + " " + cleaned[match.end() :]).strip()
    rest = _CONNECTORS.sub("", _SPACES.sub(" ", rest)).strip(" ,")
    today = local_now.date()
    if not rest:
        day = today
        if dt.datetime.combine(day, time) <= _naive(local_now):
            day += dt.timedelta(days=1)
    else:
        found = _natural(rest, _naive(local_now), "future" if future else "current_period")
        if found is None or found[1] not in ("day", "week"):
            raise WhenError("format")
        day = found[0]
        # dateparser's "future" skips today for a date without a year ("1er décembre" on
        # the 1st of December is next year's): today is meant, if the time is to come.
        if (
            future
            and day.year == today.year + 1
            and (day.month, day.day)
            == (
                today.month,
                today.day,
            )
        ):
            day = today
    return _resolve(dt.datetime.combine(day, time), tz, now, fold=fold, future=future)


def _from_now(cleaned: str, now: dt.datetime) -> dt.datetime | None:
    """ "dans 2 heures" → now plus that, to the next whole minute; None when ``cleaned`` is
    no such delay (days are days on the calendar: "dans 3 jours" still wants a time)."""
    relative = _RELATIVE.match(cleaned)
    if relative is None:
        return None
    words = relative[1].strip(" .")
    for pattern, replacement in _RELATIVE_WORDS:
        words = pattern.sub(replacement, words)
    if _DAY_UNIT.search(words):
        return None
    try:
        delay = parse_duration(words)
    except WhenError as error:
        if error.code == "bare_number":  # "dans 2": minutes or hours?
            raise
        return None
    if delay <= dt.timedelta(0):
        return None
    moment = now.astimezone(dt.UTC) + delay
    if moment.second or moment.microsecond:
        moment = moment.replace(second=0, microsecond=0) + dt.timedelta(minutes=1)
    return moment


def _naive(moment: dt.datetime) -> dt.datetime:
    return moment.replace(tzinfo=None)


def _resolve(
    naive: dt.datetime, tz: ZoneInfo, now: dt.datetime, *, fold: int | None, future: bool
) -> dt.datetime:
    """The wall-clock time ``naive`` in ``tz`` as UTC, facing the clock changes."""
    first = naive.replace(tzinfo=tz, fold=0)
    second = naive.replace(tzinfo=tz, fold=1)
    if _naive(first.astimezone(dt.UTC).astimezone(tz)) != naive:
        raise WhenError("nonexistent", local=naive)
    if first.utcoffset() != second.utcoffset():
        options = tuple(m.astimezone(dt.UTC) for m in sorted((first, second), key=_summer_first))
        if fold is None:
            raise WhenError("ambiguous", local=naive, options=options)
        moment = options[fold]
    else:
        moment = first.astimezone(dt.UTC)
    if future and moment <= now:
        raise WhenError("past", local=naive)
    return moment


def _summer_first(moment: dt.datetime) -> dt.timedelta:
    return -(moment.utcoffset() or dt.timedelta())


# -- durations ---------------------------------------------------------------------------

_UNITS: Final = {
    **dict.fromkeys(("d", "j", "jour", "jours", "day", "days"), 86400),
    **dict.fromkeys(("h", "hr", "hrs", "heure", "heures", "hour", "hours"), 3600),
    **dict.fromkeys(
        ("m", "mn", "min", "mins", "minute", "minutes", "'"),
        60,
    ),
    **dict.fromkeys(("s", "sec", "secs", "seconde", "secondes", "second", "seconds"), 1),
}
_DURATION_PART = re.compile(r"(\d+(?:[.,]\d+)?)\s*([a-zé']+)?")
_CLOCK_DURATION = re.compile(r"^(\d{1,2}):(\d{2})$")


def parse_duration(text: str) -> dt.timedelta:
    """``1h30``, ``1 h 30``, ``1h 30m``, ``90 min``, ``2 h``, ``1:30``, ``24h``, ``90s``.

    A bare number (``2``) has no unit: ``bare_number``, to be asked back, never guessed.
    """
    cleaned = _clean(text).replace(" et ", " ").replace(" and ", " ")
    clock = _CLOCK_DURATION.match(cleaned)
    if clock:
        return dt.timedelta(hours=int(clock[1]), minutes=int(clock[2]))
    position, total, previous = 0, 0.0, 0
    parts = 0
    for match in _DURATION_PART.finditer(cleaned):
        if cleaned[position : match.start()].strip(" ,"):
            raise WhenError("format")
        position = match.end()
        amount = float(match[1].replace(",", "."))
        unit = match[2]
        if unit is None:
            # "1h30": minutes after hours go without a unit; a number alone is a question
            if previous != 3600:
                raise WhenError("bare_number" if parts == 0 else "format")
            seconds = 60
        elif unit in _UNITS:
            seconds = _UNITS[unit]
        else:
            raise WhenError("format")
        total += amount * seconds
        previous = seconds
        parts += 1
    if parts == 0 or cleaned[position:].strip():
        raise WhenError("format")
    return dt.timedelta(seconds=round(total))


# -- periods -----------------------------------------------------------------------------

_RANGE_START = re.compile(r"^(?:du|de|from|between|entre)\s+")
_RANGE_SPLIT = re.compile(r"\s+(?:au|à|a|to|until|till|and|et|jusqu'au)\s+|\s*[–—]\s*|\s+-\s+")
_NUMERIC_DATE = r"\d{4}-\d{1,2}-\d{1,2}|\d{1,2}[/.]\d{1,2}[/.]\d{2,4}"
_TWO_DATES = re.compile(rf"^({_NUMERIC_DATE})\s+({_NUMERIC_DATE})$")
_DAY_ONLY = re.compile(r"^(\d{1,2})$")
_MONTH_YEAR = re.compile(r"^(\d{1,2})/(\d{4})$")


def parse_period(text: str, today: dt.date) -> tuple[dt.date, dt.date]:
    """First and last day (both included) of a period a person typed.

    "novembre 2026", "novembre" (the last November begun), "2026", "du 1er au 30
    novembre", "from 1 to 30 November", "2026-01-01 2026-03-31", "01/01/2026 - 31/03/2026".
    """
    cleaned = _ORDINAL.sub(r"\1", _clean(text))
    cleaned = _RANGE_START.sub("", cleaned)
    two = _TWO_DATES.match(cleaned)
    parts = [two[1], two[2]] if two else _RANGE_SPLIT.split(cleaned, maxsplit=1)
    base = dt.datetime.combine(today, dt.time(12))
    if len(parts) == 1:
        return _whole(parts[0], base)
    left, right = (p.strip(" ,") for p in parts)
    # The last such period begun: "du 1er au 31 décembre" on 3 December is this December,
    # although its end is to come ("past" alone would give last year's); "du 10 au 20
    # décembre" on the 3rd, not begun yet, is last year's.
    current = _range(left, _day(right, base, "current_period"))
    if current[0] <= today:
        return current
    return _range(left, _day(right, base))


def _range(left: str, end_day: dt.date) -> tuple[dt.date, dt.date]:
    start_match = _DAY_ONLY.match(left)
    if start_match:  # "du 1er au 30 novembre": the month and year are the end's
        try:
            start_day = end_day.replace(day=int(start_match[1]))
        except ValueError:
            raise WhenError("format") from None
    else:
        start_day = _day(left, dt.datetime.combine(end_day, dt.time(12)))
    if end_day < start_day:
        raise WhenError("order")
    return start_day, end_day


# what dateparser reads too liberally in a line of command words ("fr" is Friday, "a" today)
_NOT_A_PERIOD = re.compile(r"^(?:[a-z]{1,2}|\d{1,2})$")


def _day(text: str, base: dt.datetime, prefer: str = "past") -> dt.date:
    if _NOT_A_PERIOD.match(text) and not text.isdigit():
        raise WhenError("format")
    found = _natural(text, base, prefer)
    if found is None or found[1] != "day":
        raise WhenError("format")
    return found[0]


def _whole(text: str, base: dt.datetime) -> tuple[dt.date, dt.date]:
    """A month, a week or a year as a whole ("novembre 2026", "11/2026", "2026", "le mois
    dernier", "cette semaine")."""
    month_year = _MONTH_YEAR.match(text)
    if month_year:
        text = f"{month_year[2]}-{int(month_year[1]):02d}"
    if _NOT_A_PERIOD.match(text):
        raise WhenError("format")
    if re.fullmatch(r"\d{4}", text):
        year = int(text)
        return dt.date(year, 1, 1), dt.date(year, 12, 31)
    found = _natural(text, base, "past")
    if found is None:
        raise WhenError("format")
    day, granularity = found
    if granularity == "month":
        start = day.replace(day=1)
        following = (start + dt.timedelta(days=32)).replace(day=1)
        return start, following - dt.timedelta(days=1)
    if granularity == "year":
        return dt.date(day.year, 1, 1), dt.date(day.year, 12, 31)
    if granularity == "week":  # "cette semaine", "la semaine dernière": Monday to Sunday
        monday = day - dt.timedelta(days=day.weekday())
        return monday, monday + dt.timedelta(days=6)
    if granularity == "day":
        return day, day
    raise WhenError("format")


# -- saying it ---------------------------------------------------------------------------

MOMENT_EXAMPLES: Final = N_(
    "for instance “samedi prochain 14h”, “demain 9h30”, “12/03 14h30”, “dans 2 heures” or "
    "“3 Jan 10am”"
)


def describe(t: Translator, error: WhenError) -> str:
    """What went wrong, in the person's language, and what to type instead."""
    if error.code == "nonexistent" and error.local is not None:
        return t(
            "{time} does not exist on {day}: the clocks go forward one hour that night "
            "(from 2:00 to 3:00). Please choose another time.",
            time=t.time(error.local.replace(tzinfo=t.tz)),
            day=t.date(error.local.date()),
        )
    if error.code == "ambiguous" and error.local is not None:
        return t(
            "{time} happens twice on {day}: the clocks go back one hour that night. Add "
            "“summer” (“été”, the first, UTC+2) or “winter” (“hiver”, the second, UTC+1), "
            "for instance “{example}”.",
            time=t.time(error.options[0]),
            day=t.date(error.local.date()),
            example=f"{error.local:%d/%m} {error.local:%H:%M} " + t("winter"),
        )
    if error.code == "past":
        return t("This moment has already passed: please give a date to come.")
    if error.code == "no_time":
        return t("Please add the time, {examples}.", examples=t(MOMENT_EXAMPLES))
    if error.code == "bare_number":
        return t("Is that minutes or hours? Please add the unit, for instance “90 min” or “1h30”.")
    if error.code == "order":
        return t("This period ends before it starts.")
    return t("I could not read this date, {examples}.", examples=t(MOMENT_EXAMPLES))


def duration_text(t: Translator, minutes: int) -> str:
    """``45 minutes``, ``1 heure``, ``1 h 30`` / ``45 minutes``, ``1 hour``, ``1h 30m``."""
    hours, rest = divmod(minutes, 60)
    if not hours:
        return t.tn("{count} minute", "{count} minutes", rest)
    if not rest:
        return t.tn("{count} hour", "{count} hours", hours)
    return t("{hours} h {minutes:02d}", hours=hours, minutes=rest)
