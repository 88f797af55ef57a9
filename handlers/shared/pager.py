"""The "◀ Previous / Next ▶" row under every list shown page by page."""

from __future__ import annotations

from collections.abc import Callable

from telegram import InlineKeyboardButton

from bot.i18n import Translator
from handlers.shared.common import button


def nav_row(
    t: Translator, previous: str | None, following: str | None
) -> list[InlineKeyboardButton]:
    """The row itself: a button for each callback data given (none: no button)."""
    row = []
    if previous is not None:
        row.append(button(t("◀ Previous"), previous))
    if following is not None:
        row.append(button(t("Next ▶"), following))
    return row


def pager_row(
    t: Translator, page: int, pages: int, data: Callable[[int], str]
) -> list[InlineKeyboardButton]:
    """Page ``page`` (from 0) of ``pages``; ``data(n)`` is the callback data of page ``n``."""
    return nav_row(
        t,
        data(page - 1) if page > 0 else None,
        data(page + 1) if page < pages - 1 else None,
    )
