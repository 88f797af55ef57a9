"""Answer quality of Plume's search on labelled patron questions, against two baselines.

    python bench/search_quality.py [--questions FILE] [--data DIR]

A question counts as answered at rank k when one of its right ids is among the first k
results. Baselines, measured in the same run over the same documents:

* rapidfuzz ``WRatio`` of the question against each document's concatenated text
  (``process.extract``);
* SQLite FTS5 with the trigram tokenizer, bm25 ranking, the question's words of three
  letters or more OR-ed.

The documents are those the bot indexes: the CSV files go through the importer into a
temporary SQLite database, read back by the search's loader (``--csv`` skips the database
and reads the CSV rows through the same field logic).

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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from rapidfuzz import fuzz, process, utils

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bot.search import (
    ANSWER_THRESHOLD,
    Document,
    SearchIndex,
    documents_from_csv_dir,
    load_documents,
)

Ranker = Callable[[str], list[str]]


@dataclass(frozen=True)
class Question:
    text: str
    ids: frozenset[str]


@dataclass
class Outcome:
    name: str
    top1: int = 0
    top3: int = 0
    total: int = 0
    seconds: float = 0.0
    misses: list[tuple[str, list[str], frozenset[str]]] | None = None

    def rate(self, hits: int) -> float:
        return hits / self.total if self.total else 0.0


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
            questions.append(Question(row["q"], frozenset(row["ids"])))
    return questions


async def imported_documents(data: Path) -> list[Document]:
    """Import ``data`` into a temporary SQLite database and load it as the bot does."""
    from bot.importer import Importer
    from storage.db import create_engine, migrate, session_factory

    with tempfile.TemporaryDirectory() as directory:
        engine = create_engine(f"sqlite+aiosqlite:///{Path(directory) / 'plume.sqlite3'}")
        try:
            await migrate(engine)
            report = await Importer(engine).run(data, progress=False)
            for error in report.errors[:5]:
                print(f"import: {error}")
            return await load_documents(session_factory(engine))
        finally:
            await engine.dispose()


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


def plume_ranker(documents: Sequence[Document]) -> Ranker:
    index = SearchIndex.build(documents)
    return lambda question: [hit.id for hit in index.search(question, limit=3)]


def rapidfuzz_ranker(documents: Sequence[Document]) -> Ranker:
    texts = [utils.default_process(document_text(d)) for d in documents]
    ids = [d.id for d in documents]

    def rank(question: str) -> list[str]:
        found = process.extract(
            utils.default_process(question), texts, scorer=fuzz.WRatio, limit=3, processor=None
        )
        return [ids[position] for _, _, position in found]

    return rank


def fts5_ranker(documents: Sequence[Document]) -> Ranker:
    database = sqlite3.connect(":memory:", check_same_thread=False)
    database.execute(
        "CREATE VIRTUAL TABLE docs USING fts5(id UNINDEXED, body, tokenize='trigram')"
    )
    database.executemany(
        "INSERT INTO docs (id, body) VALUES (?, ?)",
        ((d.id, document_text(d)) for d in documents),
    )

    def rank(question: str) -> list[str]:
        words = [w for w in re.findall(r"\w+", question.lower()) if len(w) >= 3]
        if not words:
            return []
        match = " OR ".join('"' + w.replace('"', '""') + '"' for w in words)
        rows = database.execute(
            "SELECT id FROM docs WHERE docs MATCH ? ORDER BY bm25(docs) LIMIT 3", (match,)
        ).fetchall()
        return [row[0] for row in rows]

    return rank


def evaluate(name: str, rank: Ranker, questions: Sequence[Question]) -> Outcome:
    outcome = Outcome(name, total=len(questions), misses=[])
    started = time.perf_counter()
    for question in questions:
        found = rank(question.text)
        if found[:1] and found[0] in question.ids:
            outcome.top1 += 1
        else:
            assert outcome.misses is not None
            outcome.misses.append((question.text, found, question.ids))
        if question.ids.intersection(found[:3]):
            outcome.top3 += 1
    outcome.seconds = time.perf_counter() - started
    return outcome


def _ratio(mine: float, theirs: float) -> str:
    return f"×{mine / theirs:.2f}" if theirs else "×∞" if mine else "×1.00"


def report(outcomes: Sequence[Outcome], show_misses: bool) -> None:
    plume = outcomes[0]
    print(f"{'system':<28} {'top-1':>12} {'top-3':>12} {'ms/question':>12}")
    for outcome in outcomes:
        per_question = 1000 * outcome.seconds / max(outcome.total, 1)
        print(
            f"{outcome.name:<28} "
            f"{outcome.rate(outcome.top1):>11.1%} {outcome.rate(outcome.top3):>12.1%} "
            f"{per_question:>12.2f}"
        )
    print("\nPlume against the baselines (ratio of rates, same run):")
    for outcome in outcomes[1:]:
        print(
            f"  vs {outcome.name:<24} top-1 {_ratio(plume.top1, outcome.top1)}"
            f"   top-3 {_ratio(plume.top3, outcome.top3)}"
        )
    for outcome in outcomes if show_misses else outcomes[:1]:
        print(f"\nmisses at rank 1, {outcome.name} ({len(outcome.misses or [])}):")
        for text, found, right in outcome.misses or []:
            print(f"  {text!r}: got {found}, want one of {sorted(right)}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, help="directory of resources/faq/items CSV files")
    parser.add_argument("--questions", type=Path, help="labelled questions (JSON lines q, ids)")
    parser.add_argument("--all-misses", action="store_true", help="list the baselines' misses")
    parser.add_argument("--csv", action="store_true", help="read the CSV rows, no database")
    args = parser.parse_args()
    data = args.data or shared_dir() / "data"
    questions_path = args.questions or shared_dir() / "eval" / "dev-questions.jsonl"
    if not (data / "faq.csv").exists() or not questions_path.exists():
        print(f"skipped: no data in {data} or no questions at {questions_path}")
        print("(set PLUME_SHARED_DIR, or pass --data and --questions)")
        return 0
    if args.csv:
        documents, origin = list(documents_from_csv_dir(data)), "CSV rows"
    else:
        documents, origin = asyncio.run(imported_documents(data)), "importer + SQLite + loader"
    questions = read_questions(questions_path)
    print(f"{len(documents)} documents from {data} ({origin}), {len(questions)} questions "
          f"from {questions_path} (answer threshold {ANSWER_THRESHOLD})\n")  # fmt: skip
    outcomes = [
        evaluate("Plume", plume_ranker(documents), questions),
        evaluate("rapidfuzz WRatio", rapidfuzz_ranker(documents), questions),
        evaluate("SQLite FTS5 trigram bm25", fts5_ranker(documents), questions),
    ]
    report(outcomes, args.all_misses)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
