"""The rules of a workshop's fields, once: the staff's form checks each answer with them and
the service checks the whole draft with them before saving.

Each ``clean_*`` returns the value as it is stored (spaces collapsed, text stripped) or raises
:class:`WorkshopError` whose ``code`` names the field; the form turns that code into a
sentence that gives the limits below.
"""

from __future__ import annotations

from typing import Final

from storage.models import MEDIA_TYPES

TITLE_MIN: Final = 3
TITLE_MAX: Final = 200
DURATION_MIN: Final = 10  # minutes
DURATION_MAX: Final = 24 * 60
CAPACITY_MIN: Final = 1
CAPACITY_MAX: Final = 1000
DESCRIPTION_MAX: Final = 2000


class WorkshopError(ValueError):
    """A field, or a draft, that cannot be saved; ``code`` says which field."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


def clean_title(raw: str | None) -> str:
    title = " ".join((raw or "").split())
    if not TITLE_MIN <= len(title) <= TITLE_MAX:
        raise WorkshopError("title")
    return title


def check_duration(minutes: int | None) -> int:
    if minutes is None or not DURATION_MIN <= minutes <= DURATION_MAX:
        raise WorkshopError("duration")
    return minutes


def clean_capacity(raw: str | int | None) -> int:
    if isinstance(raw, str):
        raw = raw.strip()
        if not (raw.isascii() and raw.isdigit()):
            raise WorkshopError("capacity")
        raw = int(raw)
    if raw is None or not CAPACITY_MIN <= raw <= CAPACITY_MAX:
        raise WorkshopError("capacity")
    return raw


def clean_description(raw: str | None) -> str | None:
    if raw is None:
        return None
    text = raw.strip()
    if len(text) > DESCRIPTION_MAX:
        raise WorkshopError("description")
    return text


def check_media_type(media_type: str | None) -> str | None:
    if media_type is not None and media_type not in MEDIA_TYPES:
        raise WorkshopError("media_type")
    return media_type
