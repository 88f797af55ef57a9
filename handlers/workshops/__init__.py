"""Workshops in the chat: the patrons' side (``patron``: /ateliers, a workshop's card,
registration, the reminders' buttons, ratings), the staff's form
(``form``: /nouvel_atelier, edit) and their management (``manage``: /ateliers_gestion)."""

from __future__ import annotations

from bot.context import PlumeHandler
from handlers.workshops import form, manage, patron
from handlers.workshops.patron import DEEP_LINK_PREFIX, show_workshop

__all__ = ["DEEP_LINK_PREFIX", "handlers", "show_workshop"]


def handlers() -> list[PlumeHandler]:
    return [*patron.handlers(), form.form(), *manage.handlers()]
