"""Handover in the chat: the librarians' notice and /questions, the thread between a
patron and the librarian who took the question."""

from __future__ import annotations

from handlers.handover.threads import handlers

__all__ = ["handlers"]
