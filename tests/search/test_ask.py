from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.ask import add_ask_arguments, ask_main

SessionFactory = async_sessionmaker[AsyncSession]


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_ask_arguments(parser)
    return parser.parse_args(argv)


async def test_json_answer(catalogue_db: SessionFactory) -> None:
    out = io.StringIO()
    status = await ask_main(
        parse("jai oublié mon mdp", "--json", "--limit", "3"), catalogue_db, out
    )
    assert status == 0
    answer = json.loads(out.getvalue())
    assert answer["query"] == "jai oublié mon mdp"
    assert 1 <= len(answer["results"]) <= 3
    first = answer["results"][0]
    assert first == {
        "type": "faq",
        "id": "faq-mdp",
        "title": first["title"],
        "score": first["score"],
    }
    assert first["title"] == "J'ai oublié mon mot de passe"
    assert isinstance(first["score"], float) and 0 <= first["score"] <= 1
    assert set(answer) == {"query", "results"}


async def test_batch_keeps_one_line_per_question_in_order(
    catalogue_db: SessionFactory, tmp_path: Path
) -> None:
    questions = ["des films de kurosawa", "", "asdfgh", "okapi"]
    batch = tmp_path / "questions.txt"
    batch.write_text("\n".join(questions) + "\n", encoding="utf-8")
    out = io.StringIO()
    assert await ask_main(parse("--batch", str(batch), "--json"), catalogue_db, out) == 0
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [line["query"] for line in lines] == questions
    assert lines[0]["results"][0]["type"] == "item"
    assert lines[1]["results"] == []
    assert lines[3]["results"][0]["id"] == "press-okapi"


async def test_human_output_is_a_numbered_list(catalogue_db: SessionFactory) -> None:
    out = io.StringIO()
    assert await ask_main(parse("okapi"), catalogue_db, out) == 0
    text = out.getvalue()
    assert "  1. [item] press-okapi  Okapi" in text


async def test_question_or_batch_is_required(catalogue_db: SessionFactory) -> None:
    assert await ask_main(parse(), catalogue_db, io.StringIO()) == 2
    assert await ask_main(parse("x", "--batch", "f"), catalogue_db, io.StringIO()) == 2
