import datetime as dt
import re
import string

import pytest

from bot.config import SUPPORTED_LOCALES
from bot.i18n import extract_messages, pick_locale, read_catalog, translator

PLACEHOLDER = re.compile(r"\{(\w*)\}")


def _fields(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


@pytest.mark.parametrize("locale", SUPPORTED_LOCALES)
def test_every_message_is_translated(locale):
    template = extract_messages()
    catalog = read_catalog(locale)
    assert len(template) > 20
    missing, broken = [], []
    for message in template:
        if not message.id:
            continue
        entry = catalog.get(message.id)
        strings = (
            ()
            if entry is None
            else ((entry.string,) if isinstance(entry.string, str) else tuple(entry.string))
        )
        if entry is None or not all(strings) or entry.fuzzy:
            missing.append(message.id)
            continue
        ids = (message.id,) if isinstance(message.id, str) else tuple(message.id)
        if any(_fields(s) != _fields(ids[0]) for s in strings):
            broken.append(message.id)
    assert missing == [], f"{locale}: untranslated (run python -m bot locales, then translate)"
    assert broken == [], f"{locale}: placeholders differ from the source"


def test_locale_choice():
    assert pick_locale("fr-FR", "fr") == "fr"
    assert pick_locale("en", "fr") == "en"
    assert pick_locale("de", "fr") == "fr"
    assert pick_locale(None, "en") == "en"


def test_translation_and_local_formats():
    fr, en = translator("fr"), translator("en")
    assert fr("Language changed.") == "Langue modifiée."
    assert en("Language changed.") == "Language changed."
    moment = dt.datetime(2026, 12, 5, 9, 0, tzinfo=dt.UTC)
    assert fr.datetime(moment) == "samedi 5 décembre 2026 à 10:00"
    assert en.datetime(moment).startswith("Saturday 5 December 2026 at 10:00")


def test_short_dates_and_times_read_one_way():
    """A day and a month in figures read both ways: English says the day in words."""
    import datetime as dt

    from handlers.stats.figures import _average

    moment = dt.datetime(2026, 12, 4, 13, 0, tzinfo=dt.UTC)
    assert translator("en").short_datetime(moment) == "Fri 4 Dec 2026, 2:00 PM"
    assert translator("fr").short_datetime(moment) == "04/12/2026 14:00"
    # an average that rounds to nothing, though someone came
    assert _average(translator("fr"), 1 / 31) == "moins de 0,1"
    assert _average(translator("fr"), 0) == "0,0"
