"""Announcements in the chat: staff compose, target and schedule them (``compose``); the
status message, the final report and the recipients' Stop button (``progress``)."""

from __future__ import annotations

from handlers.announcements.compose import handlers, on_start
from handlers.announcements.progress import UNSUBSCRIBE

__all__ = ["UNSUBSCRIBE", "handlers", "on_start"]
