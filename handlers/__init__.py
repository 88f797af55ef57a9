"""Every handler, registered in one place and in order (first match wins)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.context import PlumeApplication
from handlers import (
    announcements,
    answering,
    browse,
    feedback,
    handover,
    privacy,
    roles,
    settings,
    start,
    stats,
    subscriptions,
    teach,
    workshops,
)
from handlers.announcements import progress
from handlers.gate import errors, fallback, guard
from handlers.workshops.patron import render_reminder

if TYPE_CHECKING:
    from bot.announcements.desk import DeskRendering
    from bot.workshops.sender import RenderReminder

# answering takes every remaining text message: it comes last
FEATURES = (
    start,
    privacy,
    settings,
    roles,
    handover,
    browse,
    subscriptions,
    announcements,
    workshops,
    feedback,
    stats,
    teach,
    answering,
)


def register(application: PlumeApplication) -> None:
    # private chats only, and only buttons the registry knows: before every other group
    application.add_handlers(guard.handlers(), group=guard.GUARD_GROUP)
    for feature in FEATURES:
        application.add_handlers(feature.handlers())
    application.add_handlers(fallback.handlers())
    application.add_error_handler(errors.on_error)


async def start_features(application: PlumeApplication) -> None:
    """Once the bot runs: each feature's ``on_start`` (jobs rebuilt from the database...)."""
    for feature in FEATURES:
        on_start = getattr(feature, "on_start", None)
        if on_start is not None:
            await on_start(application)


async def stop_features(application: PlumeApplication) -> None:
    """Before the bot stops: each feature's ``on_stop`` (work under way is wound down)."""
    for feature in FEATURES:
        on_stop = getattr(feature, "on_stop", None)
        if on_stop is not None:
            await on_stop(application)


def broadcast_rendering() -> DeskRendering:
    """What the broadcast desk shows the staff (bot.app builds the desk with it)."""
    return progress


def reminder_rendering() -> RenderReminder:
    """A due reminder's text and buttons (bot.app builds the reminder sender with it)."""
    return render_reminder
