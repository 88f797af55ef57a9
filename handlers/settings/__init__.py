"""/settings: language, home library, announcements."""

from __future__ import annotations

from handlers.settings.menu import handlers

__all__ = ["handlers"]
