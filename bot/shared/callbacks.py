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

Adding a button: name its prefix here, give it a route, and import the name in the handler
module (a test fails for any ``CallbackQueryHandler`` whose pattern no route covers, and for
a prefix written again in handlers/).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

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


# The prefixes, by owner (the handler modules import them from here: one place each).

# handlers.shared.cards
CARD: Final = "C:"  # C:<f|r|i>:<id>  show a card (handlers.answering)
BROWSE: Final = "M:"  # the media shelves (handlers.browse)
VOTE: Final = "V:"
# handlers.handover.threads
HANDOVER_ANSWER: Final = "Q:"  # Q:<question id>  a librarian takes the question and writes
HANDOVER_REPLY: Final = "Qp:"  # Qp:<question id>  the patron answers the librarian
HANDOVER_CLOSE: Final = "Qc:"  # Qc:<question id>  the librarian closes the thread
# handlers.stats.figures
STATS: Final = "St:"
RECEIVED: Final = "Ar:"
# handlers.feedback.ratings
FEEDBACK: Final = "F:"
# handlers.start.welcome
LIBRARY_PICK: Final = "L:"
LIBRARY_PAGE: Final = "Lp:"
# handlers.settings.menu
SETTINGS: Final = "S:"
# handlers.answering.libraries
LIBRARY_CARD: Final = "Li:"  # Li:<library id>  show a library's card
LIBRARY_LIST: Final = "Ll:"  # Ll:<page>  the network's libraries
# handlers.answering.ask
HANDOVER: Final = "H:"  # H:<question id>  pass an unanswered question to the librarians
# handlers.announcements.progress
UNSUBSCRIBE: Final = "Un:"
ANNOUNCEMENT_CARD: Final = "An:"
# handlers.announcements.compose
AUDIENCE_PICK: Final = "Aa:"
# handlers.teach
TEACH: Final = "T:"
# handlers.privacy
PRIVACY: Final = "PV:"
PRIVACY_NOTICE: Final = "PV:n"
PRIVACY_FORGET_YES: Final = "PV:f"
PRIVACY_FORGET_NO: Final = "PV:x"
PRIVACY_ADMIN_ERASE: Final = "PV:adm:"  # PV:adm:<users.id>
# handlers.privacy.contact
CONTACT_WRITE: Final = "PC:"  # PC:<feedback id>  a coordinator writes to the remark's author
CONTACT_ANSWER: Final = "PR:"  # PR:<thread id>    the patron answers
# handlers.subscriptions.topics
SUBSCRIBE: Final = "Sb:"
# handlers.workshops.form
FORM_LIBRARY: Final = "Wb:L:"
FORM_LIBRARY_PAGE: Final = "Wb:P:"
FORM_DURATION: Final = "Wb:d:"
FORM_NO_DESCRIPTION: Final = "Wb:n"
FORM_MEDIA: Final = "Wb:M:"
FORM_FIELD: Final = "Wb:F:"
FORM_SAVE: Final = "Wb:S"
FORM_QUIT: Final = "Wb:X"
# handlers.workshops.manage
MANAGE: Final = "Wa:"
MANAGE_CARD: Final = "Wa:c:"
MANAGE_BACK: Final = "Wa:b:"
MANAGE_PAGE: Final = "Wa:g:"
MANAGE_EDIT: Final = "Wa:e:"
MANAGE_CANCEL_ASK: Final = "Wa:k:"
MANAGE_CANCEL_DO: Final = "Wa:K:"
MANAGE_REGISTRANTS: Final = "Wa:r:"
MANAGE_SHEET: Final = "Wa:a:"
MANAGE_TOGGLE: Final = "Wa:t:"
MANAGE_LINK: Final = "Wa:q:"
# handlers.workshops.patron
WORKSHOP: Final = "W:"
WORKSHOP_REGISTER: Final = "W:r:"
WORKSHOP_UNREGISTER: Final = "W:u:"
WORKSHOP_LEAVE_LIST: Final = "W:w:"  # W:w:<workshop id>  leave the waiting list (only it)
WORKSHOP_WONT_COME: Final = "W:x:"
WORKSHOP_CALENDAR: Final = "W:i:"
WORKSHOP_MORE: Final = "W:m:"  # W:m:<first>  another page of the list
WORKSHOP_OPEN: Final = "W:o:"  # W:o:<workshop id>  a workshop's card, from the list
WORKSHOP_RATE: Final = "W:f:"
WORKSHOP_SKIP: Final = "W:s"
WORKSHOP_LIST: Final = "W:l"  # the list of the coming workshops, from an answer card

_KEY = (("key",),)
_ID = (("id",),)
_EXACT: tuple[Shape, ...] = ((),)
DOCUMENT = "=f|r|i"

ROUTES: tuple[Route, ...] = (
    *_routes("handlers.answering.ask", (CARD, [(DOCUMENT, "key")]), subject=True),
    *_routes("handlers.feedback.ratings", (VOTE, [(DOCUMENT, "key", "=0|1")]), subject=True),
    *_routes("handlers.feedback.ratings", (FEEDBACK, [("=x",), ("word", "id", "id")])),
    *_routes("handlers.answering.ask", (HANDOVER, _ID)),
    *_routes("handlers.browse.shelves", (BROWSE, [(), ("word",), ("key", "id")])),
    *_routes(
        "handlers.handover.threads",
        (HANDOVER_ANSWER, _ID),
        (HANDOVER_REPLY, _ID),
        (HANDOVER_CLOSE, _ID),
    ),
    *_routes("handlers.teach", (TEACH, [("=n|x|k",), ("=u|h|a", "id")])),
    *_routes("handlers.start.welcome", (LIBRARY_PICK, _KEY), (LIBRARY_PAGE, _ID)),
    *_routes("handlers.privacy", (PRIVACY, [("=n|f|x",)]), (PRIVACY_ADMIN_ERASE, _ID)),
    *_routes("handlers.privacy.contact", (CONTACT_WRITE, _ID), (CONTACT_ANSWER, _ID)),
    *_routes("handlers.answering.libraries", (LIBRARY_CARD, _KEY), (LIBRARY_LIST, _ID)),
    *_routes("handlers.settings.menu", (SETTINGS, [("word",), ("word", "word")])),
    *_routes(
        "handlers.stats.figures", (STATS, [("word",)]), (RECEIVED, [("id", "-id", "word", "-id")])
    ),
    *_routes("handlers.subscriptions.topics", (SUBSCRIBE, [("word",), ("=t", "rest")])),
    *_routes(
        "handlers.announcements.progress",
        (UNSUBSCRIBE, [("rest",)]),
        (ANNOUNCEMENT_CARD, [("word", "id")]),
    ),
    *_routes(
        "handlers.announcements.compose",
        (AUDIENCE_PICK, [("word",), ("word", "id"), ("word", "key")]),
    ),
    *_routes(
        "handlers.workshops.patron",
        (WORKSHOP_REGISTER, _KEY),
        (WORKSHOP_UNREGISTER, _KEY),
        (WORKSHOP_LEAVE_LIST, _KEY),
        (WORKSHOP_WONT_COME, _KEY),
        (WORKSHOP_CALENDAR, _KEY),
        (WORKSHOP_MORE, _ID),
        (WORKSHOP_OPEN, _KEY),
        (WORKSHOP_RATE, [("key", "id")]),
        (WORKSHOP_SKIP, _EXACT),
        (WORKSHOP_LIST, _EXACT),
    ),
    *_routes(
        "handlers.workshops.manage",
        (MANAGE_CARD, _KEY),
        (MANAGE_BACK, _KEY),
        (MANAGE_PAGE, _ID),
        (MANAGE_EDIT, _KEY),
        (MANAGE_CANCEL_ASK, _KEY),
        (MANAGE_CANCEL_DO, _KEY),
        (MANAGE_REGISTRANTS, _KEY),
        (MANAGE_SHEET, [("key", "id")]),
        (MANAGE_TOGGLE, [("id", "id")]),
        (MANAGE_LINK, _KEY),
    ),
    *_routes(
        "handlers.workshops.form",
        (FORM_LIBRARY, _KEY),
        (FORM_LIBRARY_PAGE, _ID),
        (FORM_DURATION, _ID),
        (FORM_NO_DESCRIPTION, _EXACT),
        (FORM_MEDIA, [("word",)]),
        (FORM_FIELD, [("word",)]),
        (FORM_SAVE, _EXACT),
        (FORM_QUIT, _EXACT),
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
