"""Feedback in the chat: 👍/👎 on a card, /avis, the survey, /avis_recus for coordinators."""

from __future__ import annotations

from handlers.feedback.ratings import handlers, on_start

__all__ = ["handlers", "on_start"]
