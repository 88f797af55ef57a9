"""``python -m bot ask``: what the bot answers to a patron's message, from the command line.

    python -m bot ask "jai oublié mon mdp" [--limit N] [--json] [--library ID]
    python -m bot ask --batch questions.txt --json      # one question a line, "-" for stdin

It runs exactly the decision the bot makes for a text message (``bot.answering``:
conversation replies, library information, answer, suggestions), on the configured
database. With ``--json``, one JSON line a question, in order::

    {"query": ..., "kind": "answer" | "suggest" | "none" | "chat",
     "answer": {"type": "faq" | "resource" | "item" | "library", "id", "title", "score"} | null,
     "shown": [ids of the cards the patron sees, in display order],
     "results": [{"type", "id", "title", "score"}, ...], ...}
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from bot.answering.judge import Pick
from bot.answering.responder import Decision, Responder
from bot.answering.semantic import load_encoder
from bot.search import SearchService
from bot.search.loader import SessionFactory


def add_ask_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("question", nargs="?", help="a patron's message, in quotes")
    parser.add_argument(
        "--batch",
        metavar="FILE",
        help="read one question a line from FILE ('-' for standard input)",
    )
    parser.add_argument("--limit", type=int, default=5, help="ranked results printed (5)")
    parser.add_argument("--json", action="store_true", help="print one JSON line a question")
    parser.add_argument(
        "--library", metavar="ID", help="the patron's home library (for 'horaires'...)"
    )


def _pick_json(pick: Pick) -> dict[str, Any]:
    return {"type": pick.type, "id": pick.id, "title": pick.title, "score": round(pick.score, 4)}


def decision_json(decision: Decision, limit: int = 5) -> dict[str, Any]:
    return {
        "query": decision.query,
        "kind": decision.kind,
        "answer": _pick_json(decision.answer) if decision.answer else None,
        "shown": [pick.id for pick in decision.shown],
        "results": [_pick_json(pick) for pick in decision.results[:limit]],
        "chat": decision.chat.value if decision.chat else None,
        "searched": decision.searched,
    }


def _print_human(decision: Decision, limit: int, out: TextIO) -> None:
    print(f"? {decision.query}", file=out)
    if decision.kind == "chat":
        print(f"   chat reply ({decision.chat})", file=out)
        return
    if decision.searched and decision.searched != decision.query:
        print(f"   searched: {decision.searched}", file=out)
    if decision.answer:
        answer = decision.answer
        print(f"   answer: [{answer.type}] {answer.id}  {answer.title}", file=out)
    else:
        print(f"   {decision.kind}: no sure answer", file=out)
    for rank, pick in enumerate(decision.results[:limit], start=1):
        shown = "*" if pick in decision.shown else " "
        print(
            f"{rank:>3}.{shown}[{pick.type}] {pick.id}  {pick.title}  ({pick.score:.2f})", file=out
        )


def _read_questions(batch: str) -> list[str]:
    text = sys.stdin.read() if batch == "-" else Path(batch).read_text(encoding="utf-8")
    return text.splitlines()


async def ask_main(
    args: argparse.Namespace,
    session_factory: SessionFactory,
    out: TextIO | None = None,
    index_dir: Path | None = None,
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
    search = SearchService(session_factory, index_dir=index_dir)
    await search.refresh_if_changed()  # the saved index when there is one, caught up
    responder = Responder(session_factory, search, load_encoder())
    await responder.warm_up()  # every question gets the semantic signal, as in the bot
    for query in questions:
        decision = await responder.decide(query, args.library)
        if args.json:
            print(json.dumps(decision_json(decision, args.limit), ensure_ascii=False), file=out)
        else:
            _print_human(decision, args.limit, out)
    out.flush()
    return 0
