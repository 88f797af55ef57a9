"""Roles: /whoami's id, /role, /roles (administrators)."""

from __future__ import annotations

from handlers.roles.commands import handlers

__all__ = ["handlers"]
