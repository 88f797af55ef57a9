"""/media: media types, their resources, a resource's newest titles."""

from __future__ import annotations

from handlers.browse.shelves import handlers

__all__ = ["handlers"]
