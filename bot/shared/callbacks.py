"""The callback-data registry and codec: one prefix table, checked before any handler runs.

A button's ``callback_data`` comes back from Telegram as it was sent (at most 64 bytes of
UTF-8), but a stale message, an older Plume or a forged update can bring anything: a
25-digit id, invalid UTF-8, a prefix nobody handles. ``parse(data)`` accepts only what the
table below describes and raises :class:`InvalidCallback` otherwise; the guard in
``handlers/guard.py`` answers "This button is no longer valid." and no handler runs.

The table (``ROUTES``): a prefix, the shapes its remainder may take (fields separated by
``:``), and the handler module that owns it. Field kinds:

=========  =========================================================================
``id``     a serial number: 0 … 2**31 − 1 (ids of questions, feedback, registrations,
           announcements; pages, offsets, ratings, minutes); fits PostgreSQL's INTEGER
``-id``    ``id`` or ``-`` (no filter)
``key``    a catalogue id as imported or generated: 1 … 56 characters, no control
           character; when a shape has more ``:`` than fields, the ``key`` takes them
``word``   1 … 32 of ``A-Z a-z 0-9 _ - *`` (codes, media types, field names)
``rest``   anything (possibly empty, possibly with ``:``), last only
``=a|b``   one of these literal values
=========  =========================================================================

A shape ``()`` means the data is the prefix alone. ``subject`` routes name a document
(``f``/``r``/``i`` then its id) that must still exist; the guard checks it in the database.

Adding a button: add its prefix here (a test fails for any ``CallbackQueryHandler`` whose
pattern no route covers).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

MAX_BYTES = 64  # Telegram's limit for callback_data
MAX_SERIAL = 2**31 - 1
MAX_KEY = 56  # bot.importer.service.MAX_ID_LENGTH
_WORD = re.compile(r"[A-Za-z0-9_*\-]{1,32}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")

Shape = tuple[str, ...]


@dataclass(frozen=True)
class Route:
    prefix: str
    shapes: tuple[Shape, ...]
    owner: str  #: the handler module that reads this data
    #: the first two fields name a document (f|r|i, id) that must exist when pressed
    subject: bool = False


@dataclass(frozen=True)
class Callback:
    route: Route
    shape: Shape  #: the shape the fields fit
    fields: tuple[str, ...]


class InvalidCallback(ValueError):
    """Data no route accepts; the message says why (for logs, never shown to people)."""


def _routes(
    owner: str, *entries: tuple[str, Sequence[Shape]], subject: bool = False
) -> list[Route]:
    return [Route(prefix, tuple(shapes), owner, subject) for prefix, shapes in entries]


_KEY = (("key",),)
_ID = (("id",),)
_EXACT: tuple[Shape, ...] = ((),)
DOCUMENT = "=f|r|i"

ROUTES: tuple[Route, ...] = (
    *_routes("handlers.answering.ask", ("C:", [(DOCUMENT, "key")]), subject=True),
    *_routes("handlers.feedback.ratings", ("V:", [(DOCUMENT, "key", "=0|1")]), subject=True),
    *_routes("handlers.feedback.ratings", ("F:", [("=x",), ("word", "id", "id")])),
    *_routes("handlers.answering.ask", ("H:", _ID)),
    *_routes("handlers.browse.shelves", ("M:", [(), ("word",), ("key", "id")])),
    *_routes("handlers.handover.threads", ("Q:", _ID), ("Qp:", _ID), ("Qc:", _ID)),
    *_routes("handlers.teach", ("T:", [("=n|x",), ("=u|h|a", "id")])),
    *_routes("handlers.start.welcome", ("L:", _KEY), ("Lp:", _ID)),
    *_routes("handlers.privacy", ("PV:", [("=n|f|x",)]), ("PV:adm:", _ID)),
    *_routes("handlers.privacy.contact", ("PC:", _ID), ("PR:", _ID)),
    *_routes("handlers.answering.libraries", ("Li:", _KEY), ("Ll:", _ID)),
    *_routes("handlers.settings.menu", ("S:", [("word",), ("word", "word")])),
    *_routes(
        "handlers.stats.figures", ("St:", [("word",)]), ("Ar:", [("id", "-id", "word", "-id")])
    ),
    *_routes("handlers.subscriptions.topics", ("Sb:", [("word",), ("=t", "rest")])),
    *_routes("handlers.announcements.progress", ("Un:", [("rest",)]), ("An:", [("word", "id")])),
    *_routes(
        "handlers.announcements.compose", ("Aa:", [("word",), ("word", "id"), ("word", "key")])
    ),
    *_routes(
        "handlers.workshops.patron",
        ("W:r:", _KEY),
        ("W:u:", _KEY),
        ("W:x:", _KEY),
        ("W:i:", _KEY),
        ("W:m:", _ID),
        ("W:o:", _KEY),
        ("W:f:", [("key", "id")]),
        ("W:s", _EXACT),
    ),
    *_routes(
        "handlers.workshops.manage",
        ("Wa:c:", _KEY),
        ("Wa:b:", _KEY),
        ("Wa:g:", _ID),
        ("Wa:e:", _KEY),
        ("Wa:k:", _KEY),
        ("Wa:K:", _KEY),
        ("Wa:r:", _KEY),
        ("Wa:a:", [("key", "id")]),
        ("Wa:t:", [("id", "id")]),
        ("Wa:q:", _KEY),
    ),
    *_routes(
        "handlers.workshops.form",
        ("Wb:L:", _KEY),
        ("Wb:P:", _ID),
        ("Wb:d:", _ID),
        ("Wb:n", _EXACT),
        ("Wb:M:", [("word",)]),
        ("Wb:F:", [("word",)]),
        ("Wb:S", _EXACT),
        ("Wb:X", _EXACT),
    ),
)
#: longest prefix first, so "W:r:" is tried before any shorter prefix it starts with
_BY_LENGTH = sorted(ROUTES, key=lambda route: -len(route.prefix))


def route_for(data: str) -> Route | None:
    """The route whose prefix ``data`` starts with (the longest), if any."""
    for route in _BY_LENGTH:
        if data.startswith(route.prefix):
            return route
    return None


def _field_ok(kind: str, value: str) -> bool:
    if kind == "id":
        return value.isascii() and value.isdigit() and int(value) <= MAX_SERIAL
    if kind == "-id":
        return value == "-" or _field_ok("id", value)
    if kind == "key":
        return 0 < len(value) <= MAX_KEY and not _CONTROL.search(value)
    if kind == "word":
        return _WORD.fullmatch(value) is not None
    if kind == "rest":
        return not _CONTROL.search(value)
    if kind.startswith("="):
        return value in kind[1:].split("|")
    raise AssertionError(f"unknown field kind {kind!r}")


def _split(rest: str, shape: Shape) -> list[str] | None:
    """``rest`` cut into ``shape``'s fields; a ``key`` (or a last ``rest``) takes extra colons."""
    if not shape:
        return [] if rest == "" else None
    parts = rest.split(":")
    extra = len(parts) - len(shape)
    if extra < 0:
        return None
    if extra == 0:
        return parts
    if shape[-1] == "rest":
        return [*parts[: len(shape) - 1], ":".join(parts[len(shape) - 1 :])]
    if shape.count("key") != 1:
        return None
    at = shape.index("key")
    return [*parts[:at], ":".join(parts[at : at + extra + 1]), *parts[at + extra + 1 :]]


def parse(data: str | bytes | None) -> Callback:
    """The route and fields of ``data``, or InvalidCallback saying why not."""
    if data is None:
        raise InvalidCallback("no callback data")
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8")
        except UnicodeDecodeError:
            raise InvalidCallback("not UTF-8") from None
    try:
        size = len(data.encode("utf-8"))
    except UnicodeEncodeError:  # lone surrogates: what invalid UTF-8 becomes in JSON
        raise InvalidCallback("not UTF-8") from None
    if size > MAX_BYTES:
        raise InvalidCallback(f"{size} bytes, more than Telegram's {MAX_BYTES}")
    route = route_for(data)
    if route is None:
        raise InvalidCallback(f"unknown prefix in {data[:16]!r}")
    rest = data[len(route.prefix) :]
    for shape in route.shapes:
        fields = _split(rest, shape)
        if fields is not None and all(map(_field_ok, shape, fields)):
            return Callback(route, shape, tuple(fields))
    raise InvalidCallback(f"{data!r} does not fit {route.prefix}{list(route.shapes)}")


def check(data: str | bytes | None) -> str | None:
    """None when ``data`` is valid, else why not."""
    try:
        parse(data)
    except InvalidCallback as error:
        return str(error)
    return None
