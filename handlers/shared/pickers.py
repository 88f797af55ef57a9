"""Pickers: a library chosen from a list shown page by page, one button a library, or
named in a command's words.

Each feature gives its own callback data (``pick(library_id)``, ``page(n)``): the home
library in /start and /settings, the "other libraries" of an answer, an announcement's
audience, a workshop's library in the staff's form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from telegram import InlineKeyboardButton

from bot.answering.places import PLACE_WORDS, LibraryNames, LibraryRef
from bot.context import PlumeContext
from bot.i18n import Translator
from bot.search.lexicon import WORD_RE, fold, stem
from handlers.shared.common import button
from handlers.shared.pager import pager_row
from storage.models import Library

Rows = list[list[InlineKeyboardButton]]


def library_rows(
    t: Translator,
    libraries: Sequence[Library],
    page: int,
    pages: int,
    pick: Callable[[str], str],
    page_data: Callable[[int], str],
) -> Rows:
    """One page of ``libraries`` (already cut), then the pager."""
    rows = [[button(library.name, pick(library.id))] for library in libraries]
    return [*rows, pager_row(t, page, pages, page_data)]


async def library_picker(
    context: PlumeContext,
    page: int,
    pick: Callable[[str], str],
    page_data: Callable[[int], str],
) -> Rows:
    """Page ``page`` of every library of the network, by name."""
    listing = await context.services.libraries.page(page)
    return library_rows(context.t, listing.libraries, listing.page, listing.pages, pick, page_data)


async def library_named(context: PlumeContext, words: Sequence[str]) -> str | None:
    """The library these words name, by its id, its commune or its name, typos allowed
    ("lib-amont", "Fontclaire", "médiathèque de Fontclair"); None unless every word is
    part of the name or one of the words that go with it ("la", "médiathèque")."""
    if len(words) == 1 and await context.services.libraries.get(words[0]):
        return words[0]
    tokens = WORD_RE.findall(fold(" ".join(words)))
    if not tokens:
        return None
    libraries = await context.services.libraries.all()
    names = LibraryNames(LibraryRef(x.id, x.name, x.commune or "") for x in libraries)
    found, used = names.find(tokens)
    if found is None:
        return None
    if any(i not in used and stem(w) not in PLACE_WORDS for i, w in enumerate(tokens)):
        return None
    return found
