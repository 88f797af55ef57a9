"""Replies that are not search cards: conversation and library information."""

from __future__ import annotations

from telegram.ext import BaseHandler

from handlers.answering import libraries


def handlers() -> list[BaseHandler]:  # type: ignore[type-arg]
    return libraries.handlers()
