"""What Plume answers to a patron's message: a card (a FAQ entry, a resource, a title) with
close matches and 👍/👎, a library's card, a conversational reply, or "not found" with a way
to a librarian. Its catch-all text handler comes after every other feature's."""

from __future__ import annotations

from bot.context import PlumeHandler
from bot.shared.callbacks import CARD
from handlers.answering import ask, libraries
from handlers.answering.ask import HANDOVER, on_start

__all__ = ["CARD", "HANDOVER", "handlers", "on_start"]


def handlers() -> list[PlumeHandler]:
    return [*libraries.handlers(), *ask.handlers()]
