"""Every handler, registered in one place and in order (first match wins)."""

from __future__ import annotations

from telegram.ext import Application

from handlers import admin, browse, fallback, handover, search, settings, start
from handlers.errors import on_error

# search takes every remaining text message: it comes last
FEATURES = (start, settings, admin, handover, browse, search)


def register(application: Application) -> None:  # type: ignore[type-arg]
    for feature in FEATURES:
        application.add_handlers(feature.handlers())
    application.add_handlers(fallback.handlers())
    application.add_error_handler(on_error)  # type: ignore[arg-type]


async def start_features(application: Application) -> None:  # type: ignore[type-arg]
    """Once the bot runs: each feature's ``on_start`` (jobs rebuilt from the database...)."""
    for feature in FEATURES:
        on_start = getattr(feature, "on_start", None)
        if on_start is not None:
            await on_start(application)
