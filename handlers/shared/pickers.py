"""Pickers: a library chosen from a list shown page by page, one button a library.

Each feature gives its own callback data (``pick(library_id)``, ``page(n)``): the home
library in /start and /settings, the "other libraries" of an answer, an announcement's
audience, a workshop's library in the staff's form.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from telegram import InlineKeyboardButton

from bot.context import PlumeContext
from bot.i18n import Translator
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
