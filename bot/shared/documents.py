"""The documents an answer can be about (FAQ entry, resource, item), by their one-letter code."""

from __future__ import annotations

from storage.db import SessionFactory
from storage.models import FaqEntry, Item, Resource

#: the letter buttons carry for each kind of document (``C:f:<id>``, ``V:i:<id>:1``...)
DOCUMENT_MODELS: dict[str, type[FaqEntry] | type[Resource] | type[Item]] = {
    "f": FaqEntry,
    "r": Resource,
    "i": Item,
}


async def document_exists(sessions: SessionFactory, code: str, doc_id: str) -> bool:
    model = DOCUMENT_MODELS.get(code)
    if model is None:
        return False
    async with sessions() as session:
        return await session.get(model, doc_id) is not None
