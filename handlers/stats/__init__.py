"""Statistics in the chat: /stats for coordinators, /rapport, /sans_reponse."""

from __future__ import annotations

from handlers.stats.figures import handlers, stats_text

__all__ = ["handlers", "stats_text"]
