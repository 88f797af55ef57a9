"""French (and English) number, percentage and date formats of the report."""

from __future__ import annotations

import datetime as dt

from babel.dates import format_date
from babel.numbers import format_decimal


def number(locale: str, value: float | int | None, digits: int = 0) -> str:
    """``1 234`` / ``1,234``; ``12,5`` with ``digits=1``; — for nothing."""
    if value is None:
        return "—"
    pattern = "#,##0" + ("." + "0" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale)


def percent(locale: str, value: float | None, digits: int = 0) -> str:
    """``12 %`` / ``12,5 %`` (a no-break space before the sign in French)."""
    if value is None:
        return "—"
    text = number(locale, value * 100, digits)
    return f"{text}\u00a0%" if locale == "fr" else f"{text}%"


def signed_percent(locale: str, value: float | None) -> str:
    if value is None:
        return "—"
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return sign + percent(locale, abs(value))


def signed_number(locale: str, value: int) -> str:
    sign = "+" if value > 0 else "−" if value < 0 else "±"
    return sign + number(locale, abs(value))


def long_date(locale: str, day: dt.date) -> str:
    """``1er décembre 2026`` / ``December 1, 2026``."""
    if locale == "fr":
        month = format_date(day, format="MMMM", locale="fr")
        first = "1er" if day.day == 1 else str(day.day)
        return f"{first}\u00a0{month} {day.year}"
    return format_date(day, format="long", locale=locale)


def month_label(locale: str, month: dt.date) -> str:
    """``déc. 2026`` / ``Dec 2026``."""
    return format_date(month, format="MMM y", locale=locale)
