"""Answer quality as a patron sees it, on labelled questions, against two baselines.

    python bench/search_quality.py [--questions FILE] [--data DIR] [--misses]

The CSV files go through the importer into a temporary SQLite database; Plume answers each
question with the bot's own decision (``bot.answering.Responder``: chat replies, library
cards, answer, suggestions, or none) over the index the bot builds from that database.

A question is a JSON line ``{"q": ..., "ids": [...]}``: ``ids`` the right cards (FAQ,
resource, item or library ids), empty for a question nothing in the catalogue answers;
``"kind": "chat"`` marks a conversational message ("bonjour", "merci").

What a patron sees:

* **answered right**: answerable questions whose answer card is a right one;
* **shown in top 3**: answerable questions with a right card among the first three shown
  (answer, then "see also" or suggestions);
* **honest none**: unanswerable questions given no answer card (suggestions or "I don't
  know");
* **wrong answers**: questions (answerable or not) given a wrong card as the answer;
* **chat replies**: conversational messages answered as such.

Rank only (the ranked candidates, whatever the decision): top-1 and top-3.

Baselines in the same run over the same documents: rapidfuzz ``WRatio`` of the question
against each document's text, and SQLite FTS5 (trigram tokenizer, bm25). They have no
decision of their own: rapidfuzz answers from a score of ``WRATIO_ANSWER`` and suggests
from ``WRATIO_SUGGEST``; FTS5 answers whenever something matches.

Data come from ``PLUME_SHARED_DIR`` or ``../shared`` beside the repository; the bench
skips with a message when they are absent.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rapidfuzz import fuzz, process, utils

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.search import Document, load_documents

if TYPE_CHECKING:
    from bot.answering.responder import Responder

WRATIO_ANSWER = 86.0
WRATIO_SUGGEST = 60.0


@dataclass(frozen=True)
class Question:
    text: str
    ids: frozenset[str]
    chat: bool = False


@dataclass(frozen=True)
class Seen:
    """What a system showed for one question."""

    kind: str  # answer / suggest / none / chat
    answer: str | None
    shown: list[str]
    ranked: list[str]


System = Callable[[str], Awaitable[Seen]]


@dataclass
class Tally:
    name: str
    answerable: int = 0
    unanswerable: int = 0
    chats: int = 0
    answered_right: int = 0
    shown_top3: int = 0
    honest_none: int = 0
    wrong_answers: int = 0
    chat_right: int = 0
    top1: int = 0
    top3: int = 0
    seconds: float = 0.0
    misses: list[str] = field(default_factory=list)

    @property
    def questions(self) -> int:
        return self.answerable + self.unanswerable


def shared_dir() -> Path:
    env = os.environ.get("PLUME_SHARED_DIR")
    if env:
        return Path(env)
    return Path(__file__).resolve().parent.parent.parent / "shared"


def read_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(
                Question(row["q"], frozenset(row.get("ids") or ()), row.get("kind") == "chat")
            )
    return questions


def document_text(document: Document) -> str:
    parts = [
        document.title,
        *document.alternatives,
        *document.keywords,
        document.creator,
        *document.genres,
        document.description,
        document.body,
    ]
    return " ".join(part for part in parts if part)


def rapidfuzz_system(documents: Sequence[Document]) -> System:
    texts = [utils.default_process(document_text(d)) for d in documents]
    ids = [d.id for d in documents]

    async def ask(question: str) -> Seen:
        found = process.extract(
            utils.default_process(question), texts, scorer=fuzz.WRatio, limit=3, processor=None
        )
        ranked = [ids[position] for _, _, position in found]
        scores = [score for _, score, _ in found]
        if scores and scores[0] >= WRATIO_ANSWER:
            return Seen("answer", ranked[0], ranked, ranked)
        leads = [i for i, s in zip(ranked, scores, strict=True) if s >= WRATIO_SUGGEST]
        return Seen("suggest" if leads else "none", None, leads, ranked)

    return ask


def fts5_system(documents: Sequence[Document]) -> System:
    database = sqlite3.connect(":memory:", check_same_thread=False)
    database.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, body, tokenize='trigram')"
    )
    database.executemany(
        "INSERT INTO docs (id, body) VALUES (?, ?)",
        ((d.id, document_text(d)) for d in documents),
    )

    async def ask(question: str) -> Seen:
        words = [w for w in re.findall(r"\w+", question.lower()) if len(w) >= 3]
        if not words:
            return Seen("none", None, [], [])
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = database.execute(
            "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 3", (match,)
        ).fetchall()
        ranked = [row[0] for row in rows]
        return Seen("answer" if ranked else "none", ranked[0] if ranked else None, ranked, ranked)

    return ask


async def evaluate(name: str, system: System, questions: Sequence[Question]) -> Tally:
    tally = Tally(name)
    started = time.perf_counter()
    for question in questions:
        seen = await system(question.text)
        if question.chat:
            tally.chats += 1
            tally.chat_right += seen.kind == "chat"
            if seen.kind != "chat":
                tally.misses.append(f"  chat {question.text!r}: got {seen.kind} {seen.shown[:3]}")
            continue
        right = question.ids
        if seen.answer is not None and seen.answer not in right:
            tally.wrong_answers += 1
        if not right:
            tally.unanswerable += 1
            if seen.answer is None:
                tally.honest_none += 1
            else:
                tally.misses.append(f"  none {question.text!r}: answered {seen.answer}")
            continue
        tally.answerable += 1
        tally.answered_right += seen.answer in right
        tally.shown_top3 += bool(right.intersection(seen.shown[:3]))
        tally.top1 += bool(seen.ranked[:1]) and seen.ranked[0] in right
        tally.top3 += bool(right.intersection(seen.ranked[:3]))
        if seen.answer not in right:
            wanted = sorted(right)[:3]
            tally.misses.append(
                f"  {seen.kind:<7} {question.text!r}: answer {seen.answer}, shown "
                f"{seen.shown[:3]}, ranked {seen.ranked[:3]}; want {wanted}"
            )
    tally.seconds = time.perf_counter() - started
    return tally


def _rate(part: int, whole: int) -> str:
    return f"{part / whole:6.1%}" if whole else "     -"


def report(tallies: Sequence[Tally], misses: bool) -> None:
    first = tallies[0]
    print(
        f"{first.answerable} answerable, {first.unanswerable} unanswerable, "
        f"{first.chats} conversational messages\n"
    )
    header = (
        f"{'system':<30} {'answered':>9} {'shown':>7} {'honest':>7} {'wrong':>7} "
        f"{'chat':>7} | {'top-1':>7} {'top-3':>7} {'ms/q':>7}"
    )
    print(header)
    print(f"{'':<30} {'right':>9} {'top 3':>7} {'none':>7} {'answers':>7} {'replies':>7} |"
          f" {'(rank only)':>15}")  # fmt: skip
    for tally in tallies:
        per_question = 1000 * tally.seconds / max(tally.questions + tally.chats, 1)
        print(
            f"{tally.name:<30} {_rate(tally.answered_right, tally.answerable):>9} "
            f"{_rate(tally.shown_top3, tally.answerable):>7} "
            f"{_rate(tally.honest_none, tally.unanswerable):>7} "
            f"{_rate(tally.wrong_answers, tally.questions):>7} "
            f"{_rate(tally.chat_right, tally.chats):>7} | "
            f"{_rate(tally.top1, tally.answerable):>7} {_rate(tally.top3, tally.answerable):>7} "
            f"{per_question:>7.2f}"
        )
    print("\n(wrong answers: share of all questions but the conversational ones)")
    if misses:
        for tally in tallies[:1]:
            print(f"\nmisses, {tally.name} ({len(tally.misses)}):")
            print("\n".join(tally.misses))


def plume_system(responder: Responder) -> System:
    """Plume's own decision, as the bot makes it for a patron's message."""

    async def ask(question: str) -> Seen:
        decision = await responder.decide(question)
        return Seen(
            decision.kind,
            decision.answer.id if decision.answer else None,
            [pick.id for pick in decision.shown],
            [pick.id for pick in decision.results],
        )

    return ask


async def run(data: Path, questions: list[Question], misses: bool, semantic: bool) -> None:
    from bot.answering.responder import Responder
    from bot.answering.semantic import load_encoder, refresh_embeddings
    from bot.importer.service import Importer
    from bot.search import SearchService
    from storage.db import create_engine, migrate, session_factory

    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(directory) / 'plume.sqlite3'}")
        try:
            await migrate(engine)
            imported = await Importer(engine).run(data, progress=False)
            for error in imported.errors[:5]:
                print(f"import: {error}")
            sessions = session_factory(engine)
            documents = await load_documents(sessions)
            search = SearchService(sessions)
            await search.reload()
            encoder = load_encoder() if semantic else None

            print(f"{len(documents)} documents from {data} (importer + SQLite + loader)")
            tallies = []
            if encoder is not None:
                started = time.perf_counter()
                await refresh_embeddings(sessions, encoder)  # as the import does
                print(f"embeddings ({encoder.name}): {time.perf_counter() - started:.1f} s")
                responder = Responder(sessions, search, encoder)
                await responder.warm_up()  # the model's weights are read here
                tallies.append(await evaluate("Plume", plume_system(responder), questions))
            else:
                print("semantic search: model not installed, or --words-only")
            words_only = Responder(sessions, search, None)
            tallies += [
                await evaluate("Plume, words only", plume_system(words_only), questions),
                await evaluate("rapidfuzz WRatio", rapidfuzz_system(documents), questions),
                await evaluate("SQLite FTS5 trigram bm25", fts5_system(documents), questions),
            ]
            report(tallies, misses)
        finally:
            await engine.dispose()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="directory of the import CSV files")
    parser.add_argument(
        "--questions",
        type=Path,
        help="labelled questions, JSON lines (default: bench/questions-tuning.jsonl)",
    )
    parser.add_argument("--misses", action="store_true", help="list Plume's misses")
    parser.add_argument(
        "--words-only", action="store_true", help="leave the semantic model out (lexical only)"
    )
    args = parser.parse_args()
    data = args.data or shared_dir() / "data"
    questions_path = args.questions or Path(__file__).parent / "questions-tuning.jsonl"
    if not (data / "faq.csv").exists() or not questions_path.exists():
        print(f"skipped: no data in {data} or no questions at {questions_path}")
        print("(set PLUME_SHARED_DIR, or pass --data and --questions)")
        return 0
    questions = read_questions(questions_path)
    print(f"questions: {questions_path}")
    asyncio.run(run(data, questions, args.misses, semantic=not args.words_only))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
