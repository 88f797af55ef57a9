"""The one time grammar (bot/shared/when.py), table-driven: moments, durations, periods, in
French and English, the clock changes of 28 March and 31 October 2027 included."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest

from bot.config import parse_duration as setting_duration
from bot.i18n import translator
from bot.shared.when import (
    WhenError,
    describe,
    duration_text,
    parse_duration,
    parse_moment,
    parse_period,
)

PARIS = ZoneInfo("Europe/Paris")
# Tuesday 1 December 2026, 10:00 in Paris
NOW = dt.datetime(2026, 12, 1, 9, 0, tzinfo=dt.UTC)


def paris(*args: int) -> dt.datetime:
    return dt.datetime(*args, tzinfo=PARIS)


MOMENTS = [
    # French
    ("samedi prochain 14h", paris(2026, 12, 5, 14)),
    ("Samedi prochain à 14h", paris(2026, 12, 5, 14)),
    ("prochain samedi 14h", paris(2026, 12, 5, 14)),
    ("samedi 14h", paris(2026, 12, 5, 14)),
    ("lundi prochain à 18h30", paris(2026, 12, 7, 18, 30)),
    ("demain 9h30", paris(2026, 12, 2, 9, 30)),
    ("demain 9h", paris(2026, 12, 2, 9)),
    ("demain à 9 h 30", paris(2026, 12, 2, 9, 30)),
    ("après-demain 10h", paris(2026, 12, 3, 10)),
    ("aujourd'hui 18h", paris(2026, 12, 1, 18)),
    ("18h", paris(2026, 12, 1, 18)),
    ("8h", paris(2026, 12, 2, 8)),  # already past today: tomorrow
    ("midi", paris(2026, 12, 1, 12)),
    ("le 3 janvier à 10h", paris(2027, 1, 3, 10)),
    ("3 janvier 10h", paris(2027, 1, 3, 10)),
    ("le 1er janvier 2027 à 14h", paris(2027, 1, 1, 14)),
    ("1er décembre 14h", paris(2026, 12, 1, 14)),  # today, later on
    ("vendredi 18 décembre à midi", paris(2026, 12, 18, 12)),
    ("mercredi 13 mars 2030 14h30", paris(2030, 3, 13, 14, 30)),
    ("12/03 14h30", paris(2027, 3, 12, 14, 30)),
    ("12/03/2027 14:30", paris(2027, 3, 12, 14, 30)),
    ("12/03/2027 à 14h30", paris(2027, 3, 12, 14, 30)),
    ("12.03 14h", paris(2027, 3, 12, 14)),
    ("12.03.27 14h30", paris(2027, 3, 12, 14, 30)),
    ("2027-03-12 14h30", paris(2027, 3, 12, 14, 30)),
    ("2027-03-12 14:30", paris(2027, 3, 12, 14, 30)),
    ("1/5 à 10h30", paris(2027, 5, 1, 10, 30)),
    ("25/12 18:00", paris(2026, 12, 25, 18)),
    ("28/03/2027 10h", paris(2027, 3, 28, 10)),  # the spring change, summer time already
    ("28/03/2027 03h00", paris(2027, 3, 28, 3)),  # the first minute of summer time
    ("28/03/2027 01:59", paris(2027, 3, 28, 1, 59)),
    ("31/10/2027 10:00", paris(2027, 10, 31, 10)),
    ("31/10/2027 2h30 heure d'été", dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)),
    ("31/10/2027 2h30 (hiver)", dt.datetime(2027, 10, 31, 1, 30, tzinfo=dt.UTC)),
    ("31/10/2027 02:30 été", dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)),
    ("31/10/2027 3h", paris(2027, 10, 31, 3)),
    # from now (10:00), within the day or beyond
    ("dans 2 heures", paris(2026, 12, 1, 12)),
    ("dans 2h", paris(2026, 12, 1, 12)),
    ("dans 1h30", paris(2026, 12, 1, 11, 30)),
    ("dans une heure", paris(2026, 12, 1, 11)),
    ("dans une demi-heure", paris(2026, 12, 1, 10, 30)),
    ("d'ici 20 min", paris(2026, 12, 1, 10, 20)),
    ("dans 26 heures", paris(2026, 12, 2, 12)),
    ("dans 3 jours à 10h", paris(2026, 12, 4, 10)),
    ("in 45 min", paris(2026, 12, 1, 10, 45)),
    ("in half an hour", paris(2026, 12, 1, 10, 30)),
    ("in 2 hours", paris(2026, 12, 1, 12)),
    # English
    ("3 Jan 10am", paris(2027, 1, 3, 10)),
    ("Jan 3 at 10:30 am", paris(2027, 1, 3, 10, 30)),
    ("next saturday 2pm", paris(2026, 12, 5, 14)),
    ("saturday at 2 pm", paris(2026, 12, 5, 14)),
    ("tomorrow 9:30", paris(2026, 12, 2, 9, 30)),
    ("tomorrow at 9 a.m.", paris(2026, 12, 2, 9)),
    ("today 6pm", paris(2026, 12, 1, 18)),
    ("Dec 5th 10:00", paris(2026, 12, 5, 10)),
    ("5 December at 10am", paris(2026, 12, 5, 10)),
    ("December 18 noon", paris(2026, 12, 18, 12)),
    ("2027-01-15T10:00", paris(2027, 1, 15, 10)),
    ("Oct 31 2027 2:30am winter", dt.datetime(2027, 10, 31, 1, 30, tzinfo=dt.UTC)),
    ("October 31, 2027 2:30 am summer time", dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC)),
]

MOMENT_ERRORS = [
    ("demain", "no_time"),
    ("samedi", "no_time"),
    ("bientôt", "format"),
    ("31/02 10:00", "format"),
    ("12/03/2027 25:00", "format"),
    ("13pm", "format"),
    ("hier 14h", "past"),
    ("01/01/2026 10:00", "past"),
    ("28/03/2027 02:30", "nonexistent"),  # clocks go from 2:00 to 3:00
    ("2027-03-28 2h00", "nonexistent"),
    ("March 28 2027 2:59am", "nonexistent"),
    ("31/10/2027 02:30", "ambiguous"),  # 2:00-3:00 happens twice
    ("31/10/2027 2h", "ambiguous"),
    ("Oct 31 2027 2:45 am", "ambiguous"),
    ("dans 2", "bare_number"),  # minutes or hours?
    ("dans 2 jours", "no_time"),  # a day on the calendar, at what time?
    ("dans 0 min", "no_time"),
]

DURATIONS = [
    ("1h30", 90),
    ("1 h 30", 90),
    ("1h 30m", 90),
    ("1 heure 30", 90),
    ("1 hour 30 minutes", 90),
    ("1 h et 15 min", 75),
    ("90 min", 90),
    ("90min", 90),
    ("45 minutes", 45),
    ("2 h", 120),
    ("2h", 120),
    ("2 heures", 120),
    ("3 hours", 180),
    ("1,5 h", 90),
    ("1:30", 90),
]

DURATION_ERRORS = [
    ("2", "bare_number"),
    ("90", "bare_number"),
    ("abc", "format"),
    ("1h30x", "format"),
]

TODAY = dt.date(2026, 12, 1)
PERIODS = [
    ("du 1er au 30 novembre", (dt.date(2026, 11, 1), dt.date(2026, 11, 30))),
    ("du 3 au 10 octobre 2026", (dt.date(2026, 10, 3), dt.date(2026, 10, 10))),
    ("du 15 octobre au 3 novembre", (dt.date(2026, 10, 15), dt.date(2026, 11, 3))),
    ("novembre 2026", (dt.date(2026, 11, 1), dt.date(2026, 11, 30))),
    ("novembre", (dt.date(2026, 11, 1), dt.date(2026, 11, 30))),
    ("février 2028", (dt.date(2028, 2, 1), dt.date(2028, 2, 29))),
    ("11/2026", (dt.date(2026, 11, 1), dt.date(2026, 11, 30))),
    ("2026", (dt.date(2026, 1, 1), dt.date(2026, 12, 31))),
    ("2026-01-01 2026-03-31", (dt.date(2026, 1, 1), dt.date(2026, 3, 31))),
    ("01/01/2026 - 31/03/2026", (dt.date(2026, 1, 1), dt.date(2026, 3, 31))),
    ("hier", (dt.date(2026, 11, 30), dt.date(2026, 11, 30))),
    ("November 2026", (dt.date(2026, 11, 1), dt.date(2026, 11, 30))),
    ("from 1 to 30 November", (dt.date(2026, 11, 1), dt.date(2026, 11, 30))),
    ("1st to 15th October", (dt.date(2026, 10, 1), dt.date(2026, 10, 15))),
    ("between 2026-01-01 and 2026-02-01", (dt.date(2026, 1, 1), dt.date(2026, 2, 1))),
    # the last such period begun: this December although it ends later, not last year's
    ("du 1er au 31 décembre", (dt.date(2026, 12, 1), dt.date(2026, 12, 31))),
    ("du 15 novembre au 15 décembre", (dt.date(2026, 11, 15), dt.date(2026, 12, 15))),
    ("from 1 to 31 December", (dt.date(2026, 12, 1), dt.date(2026, 12, 31))),
    ("du 10 au 20 décembre", (dt.date(2025, 12, 10), dt.date(2025, 12, 20))),  # not begun
    ("du 20 décembre au 5 janvier", (dt.date(2025, 12, 20), dt.date(2026, 1, 5))),
    ("cette semaine", (dt.date(2026, 11, 30), dt.date(2026, 12, 6))),
    ("la semaine dernière", (dt.date(2026, 11, 23), dt.date(2026, 11, 29))),
    ("last week", (dt.date(2026, 11, 23), dt.date(2026, 11, 29))),
    ("le mois dernier", (dt.date(2026, 11, 1), dt.date(2026, 11, 30))),
]

PERIOD_ERRORS = [
    ("du 30 au 1er novembre", "order"),
    ("fr", "format"),
    ("lib-amont", "format"),
    ("2025-13-01", "format"),
]


@pytest.mark.parametrize(("text", "expected"), MOMENTS)
def test_moments(text: str, expected: dt.datetime) -> None:
    assert parse_moment(text, PARIS, NOW) == expected.astimezone(dt.UTC)


@pytest.mark.parametrize(("text", "code"), MOMENT_ERRORS)
def test_moments_refused(text: str, code: str) -> None:
    with pytest.raises(WhenError) as error:
        parse_moment(text, PARIS, NOW)
    assert error.value.code == code


@pytest.mark.parametrize(("text", "minutes"), DURATIONS)
def test_durations(text: str, minutes: int) -> None:
    assert parse_duration(text) == dt.timedelta(minutes=minutes)


@pytest.mark.parametrize(("text", "code"), DURATION_ERRORS)
def test_durations_refused(text: str, code: str) -> None:
    with pytest.raises(WhenError) as error:
        parse_duration(text)
    assert error.value.code == code


@pytest.mark.parametrize(("text", "days"), PERIODS)
def test_periods(text: str, days: tuple[dt.date, dt.date]) -> None:
    assert parse_period(text, TODAY) == days


@pytest.mark.parametrize(("text", "code"), PERIOD_ERRORS)
def test_periods_refused(text: str, code: str) -> None:
    with pytest.raises(WhenError) as error:
        parse_period(text, TODAY)
    assert error.value.code == code


def test_the_table_is_big_enough() -> None:
    total = sum(map(len, (MOMENTS, MOMENT_ERRORS, DURATIONS, DURATION_ERRORS, PERIODS)))
    assert total + len(PERIOD_ERRORS) >= 60


def test_clock_changes_are_explained() -> None:
    fr, en = translator("fr"), translator("en")
    with pytest.raises(WhenError) as spring:
        parse_moment("28/03/2027 02:30", PARIS, NOW)
    text = describe(fr, spring.value)
    assert "02:30" in text and "dimanche 28 mars 2027" in text and "avance" in text
    assert "does not exist" in describe(en, spring.value)
    with pytest.raises(WhenError) as autumn:
        parse_moment("31/10/2027 02:30", PARIS, NOW)
    assert autumn.value.options == (
        dt.datetime(2027, 10, 31, 0, 30, tzinfo=dt.UTC),
        dt.datetime(2027, 10, 31, 1, 30, tzinfo=dt.UTC),
    )
    text = describe(fr, autumn.value)
    assert "deux fois" in text and "hiver" in text and "été" in text
    assert "twice" in describe(en, autumn.value)
    with pytest.raises(WhenError) as bare:
        parse_duration("2")
    assert "minutes ou des heures" in describe(fr, bare.value)


def test_durations_are_written_in_each_language() -> None:
    fr, en = translator("fr"), translator("en")
    minutes = (1, 45, 60, 120, 90)
    assert [duration_text(fr, m) for m in minutes] == [
        "1 minute", "45 minutes", "1 heure", "2 heures", "1 h 30"
    ]  # fmt: skip
    assert [duration_text(en, m) for m in minutes] == [
        "1 minute", "45 minutes", "1 hour", "2 hours", "1h 30m"
    ]  # fmt: skip


def test_settings_read_durations_with_the_same_grammar() -> None:
    assert setting_duration("24h") == dt.timedelta(days=1)
    assert setting_duration("90s") == dt.timedelta(seconds=90)
    with pytest.raises(ValueError, match="not a duration"):
        setting_duration("24")
