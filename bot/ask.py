"""``python -m bot ask``: ask the bot's search a question from the command line.

    python -m bot ask "jai oublié mon mdp" [--limit N] [--json]
    python -m bot ask --batch questions.txt --json      # one question a line, "-" for stdin

It goes through the same ``SearchService`` as the bot, on the same database.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from bot.search import ANSWER_THRESHOLD, Hit, SearchService
from bot.search.loader import SessionFactory


def add_ask_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", nargs="?", help="a patron's question, in quotes")
    parser.add_argument(
        "--batch",
        metavar="FILE",
        help="read one question a line from FILE ('-' for standard input)",
    )
    parser.add_argument("--limit", type=int, default=5, help="results per question (5)")
    parser.add_argument("--json", action="store_true", help="print one JSON line a question")


def result_json(query: str, hits: Iterable[Hit]) -> dict[str, Any]:
    return {
        "query": query,
        "results": [
            {"type": hit.type, "id": hit.id, "title": hit.title, "score": hit.score}
            for hit in hits
        ],
    }


def _print_human(query: str, hits: list[Hit], out: TextIO) -> None:
    print(f"? {query}", file=out)
    if not hits:
        print("   (no result)", file=out)
    for rank, hit in enumerate(hits, start=1):
        print(f"{rank:>3}. [{hit.type}] {hit.id}  {hit.title}  ({hit.score:.2f})", file=out)
    if not hits or hits[0].score < ANSWER_THRESHOLD:
        print(
            f"   below the answer threshold ({ANSWER_THRESHOLD}): the bot would hand over",
            file=out,
        )


def _read_questions(batch: str) -> list[str]:
    if batch == "-":
        text = sys.stdin.read()
    else:
        text = Path(batch).read_text(encoding="utf-8")
    return text.splitlines()


async def ask_main(
    args: argparse.Namespace, session_factory: SessionFactory, out: TextIO | None = None
) -> int:
    """Run ``ask`` with parsed arguments; returns the exit status."""
    out = out or sys.stdout
    if (args.question is None) == (args.batch is None):
        print("ask: give a question or --batch FILE (not both)", file=sys.stderr)
        return 2
    if args.limit < 1:
        print("ask: --limit must be at least 1", file=sys.stderr)
        return 2
    try:
        questions = [args.question] if args.batch is None else _read_questions(args.batch)
    except OSError as error:
        print(f"ask: cannot read {args.batch}: {error}", file=sys.stderr)
        return 2
    service = SearchService(session_factory)
    await service.reload()
    for query in questions:
        hits = await service.search(query, limit=args.limit)
        if args.json:
            print(json.dumps(result_json(query, hits), ensure_ascii=False), file=out)
        else:
            _print_human(query, hits, out)
    out.flush()
    return 0
