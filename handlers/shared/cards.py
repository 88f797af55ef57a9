"""Catalogue cards, as every feature shows them: their prefixes, titles cut to fit a
button, the "Open" link."""

from __future__ import annotations

from typing import Final

from telegram import InlineKeyboardButton

from bot.answering.service import Card
from bot.i18n import Translator
from bot.shared.callbacks import BROWSE as BROWSE
from bot.shared.callbacks import CARD as CARD

#: V:<f|r|i>:<id>:<1|0>  👍/👎 under a card (handlers.feedback; its kind is bot.feedback VOTE)
BUTTON_TITLE: Final = 48


def short(text: str, limit: int = BUTTON_TITLE) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def link_row(t: Translator, card: Card) -> list[InlineKeyboardButton]:
    if not card.url.startswith(("https://", "http://")):
        return []
    name = card.resource_name or card.title
    return [InlineKeyboardButton(t("Open {name}", name=short(name, 40)), url=card.url)]
