"""Workshops in the chat: the patrons' side (``patron``: /ateliers, a workshop's card,
registration, the reminders' buttons, ratings) and the staff's (``manage``:
/ateliers_gestion, /nouvel_atelier)."""

from __future__ import annotations

from telegram.ext import BaseHandler

from handlers.workshops import manage, patron
from handlers.workshops.patron import DEEP_LINK_PREFIX, show_workshop

__all__ = ["DEEP_LINK_PREFIX", "handlers", "show_workshop"]


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return [*patron.handlers(), *manage.handlers()]
