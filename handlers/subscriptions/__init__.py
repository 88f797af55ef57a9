"""Subscriptions in the chat: the topics a patron follows, asked once after /start,
changed in /settings."""

from __future__ import annotations

from handlers.subscriptions.topics import MENU, ask_subscriptions, handlers

__all__ = ["MENU", "ask_subscriptions", "handlers"]
