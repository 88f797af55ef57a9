"""/start: the greeting, the home-library choice, /help and /whoami."""

from __future__ import annotations

from handlers.start.welcome import handlers, help_text, library_keyboard

__all__ = ["handlers", "help_text", "library_keyboard"]
