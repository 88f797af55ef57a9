"""Translations (gettext catalogues in ``locales/``, read with Babel) and local formatting.

Every user-facing string goes through a :class:`Translator`: ``t("Hello {name}", name=...)``.
Strings defined away from a translator are marked with :func:`N_` and translated later.
``python -m bot locales`` extracts the messages and updates the catalogues.
"""

from __future__ import annotations

import datetime as dt
import io
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from zoneinfo import ZoneInfo

from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from babel.support import Translations

from bot.config import SUPPORTED_LOCALES

ROOT = Path(__file__).resolve().parent.parent
LOCALES_DIR = ROOT / "locales"
DOMAIN = "plume"
SOURCE_DIRS = ("bot", "handlers")
#: English dates day first, as in "Tuesday 1 December 2026" (not "December 1, 2026")
ENGLISH_DATE = "EEEE d MMMM y"
ENGLISH_SHORT_DATE = "d MMM y"
ENGLISH_SHORT_DATETIME = "EEE d MMM y, h:mm a"
KEYWORDS = {"t": None, "N_": None, "tn": (1, 2), "Np_": (1, 2)}


def N_(message: str) -> str:
    """Mark a string for extraction; it is translated where it is shown."""
    return message


def Np_(singular: str, plural: str) -> tuple[str, str]:
    """Mark a count phrase (singular, plural) for extraction; ``t.tn(*phrase, n)`` shows it.
    (Babel attributes a ``t.tn(...)`` written inside a call to ``t`` to the outer call.)"""
    return singular, plural


def po_path(locale: str) -> Path:
    return LOCALES_DIR / locale / "LC_MESSAGES" / f"{DOMAIN}.po"


def read_catalog(locale: str) -> Catalog:
    with po_path(locale).open("rb") as handle:
        return read_po(handle, locale=locale, domain=DOMAIN)


@cache
def _translations(locale: str) -> Translations:
    buffer = io.BytesIO()
    write_mo(buffer, read_catalog(locale))
    buffer.seek(0)
    return Translations(buffer, domain=DOMAIN)


def pick_locale(language_code: str | None, default: str) -> str:
    """The supported locale for a Telegram ``language_code`` such as ``fr-FR``."""
    if language_code:
        base = language_code.split("-")[0].split("_")[0].lower()
        if base in SUPPORTED_LOCALES:
            return base
    return default


class Translator:
    """Translates and formats for one locale and time zone."""

    def __init__(self, locale: str, tz: ZoneInfo | None = None) -> None:
        self.locale = locale
        self.tz = tz or ZoneInfo("Europe/Paris")
        self._tr = _translations(locale)
        self._babel_locale = Locale.parse(locale)

    def __call__(self, message: str, /, **values: object) -> str:
        text = self._tr.gettext(message)
        return text.format(**values) if values else text

    def tn(self, singular: str, plural: str, count: int, /, **values: object) -> str:
        return self._tr.ngettext(singular, plural, count).format(count=count, **values)

    def local(self, moment: dt.datetime) -> dt.datetime:
        return moment.astimezone(self.tz)

    def datetime(self, moment: dt.datetime) -> str:
        """``samedi 5 décembre 2026 à 10:00`` / ``Saturday, December 5, 2026 at 10:00 AM``."""
        local = self.local(moment)
        return self(N_("{date} at {time}"), date=self.date(local), time=self.time(local))

    def date(self, day: dt.date | dt.datetime) -> str:
        """``mardi 1er décembre 2026`` / ``Tuesday 1 December 2026``."""
        if isinstance(day, dt.datetime):
            day = self.local(day).date()
        pattern = ENGLISH_DATE if self.locale == "en" else "full"
        return self._first(day, format_date(day, format=pattern, locale=self._babel_locale))

    def short_date(self, day: dt.date | dt.datetime) -> str:
        """``1er déc. 2026`` / ``1 Dec 2026``."""
        if isinstance(day, dt.datetime):
            day = self.local(day).date()
        pattern = ENGLISH_SHORT_DATE if self.locale == "en" else "medium"
        return self._first(day, format_date(day, format=pattern, locale=self._babel_locale))

    def _first(self, day: dt.date, text: str) -> str:
        """French writes the first day of a month "1er" (Babel writes "1")."""
        if self.locale == "fr" and day.day == 1:
            return re.sub(r"(?<!\d)1(?=\s)", "1er", text, count=1)
        return text

    def time(self, moment: dt.datetime) -> str:
        return format_time(self.local(moment), format="short", locale=self._babel_locale)

    def short_datetime(self, moment: dt.datetime) -> str:
        """``04/12/2026 14:00`` / ``Fri 4 Dec 2026, 2:00 PM`` (not the US "12/4/26": this
        is a French network, and a day and month in figures read both ways)."""
        if self.locale == "en":
            return format_datetime(
                self.local(moment), format=ENGLISH_SHORT_DATETIME, locale=self._babel_locale
            )
        return format_datetime(self.local(moment), format="short", locale=self._babel_locale)


@cache
def translator(locale: str, timezone: str = "Europe/Paris") -> Translator:
    return Translator(locale, ZoneInfo(timezone))


def extract_messages(dirs: Iterable[str] = SOURCE_DIRS) -> Catalog:
    """All messages marked in the sources, as a template catalogue."""
    template = Catalog(domain=DOMAIN, project="Plume", fuzzy=False)
    for directory in dirs:
        path = ROOT / directory
        for filename, lineno, message, comments, _context in extract_from_dir(
            str(path), method_map=[("**.py", "python")], keywords=KEYWORDS
        ):
            template.add(
                message, locations=[(f"{directory}/{filename}", lineno)], auto_comments=comments
            )
    return template


def update_catalogs() -> dict[str, int]:
    """Merge the extracted messages into each locale's catalogue; returns untranslated counts."""
    template = extract_messages()
    missing: dict[str, int] = {}
    for locale in SUPPORTED_LOCALES:
        path = po_path(locale)
        path.parent.mkdir(parents=True, exist_ok=True)
        catalog = read_catalog(locale) if path.exists() else Catalog(locale=locale, domain=DOMAIN)
        created = catalog.creation_date
        catalog.update(template, no_fuzzy_matching=True)
        # A stable header, sorted entries and no line numbers: branches that add messages
        # merge cleanly (see .gitattributes), and an edit elsewhere in a file changes nothing.
        catalog.creation_date = created
        with path.open("wb") as handle:
            write_po(
                handle,
                catalog,
                width=99,
                omit_header=False,
                ignore_obsolete=True,
                sort_output=True,
                include_previous=False,
                include_lineno=False,
            )
        missing[locale] = sum(1 for m in catalog if m.id and not m.string)
    return missing
