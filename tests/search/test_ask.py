from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bot.answering.ask import add_ask_arguments, ask_main

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
    assert answer["kind"] == "answer"
    assert answer["answer"] == first
    assert answer["shown"][0] == "faq-mdp"


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
    assert lines[1]["results"] == [] and lines[1]["kind"] == "none"
    assert lines[3]["results"][0]["id"] == "press-okapi"


async def test_human_output_is_a_numbered_list(catalogue_db: SessionFactory) -> None:
    out = io.StringIO()
    assert await ask_main(parse("okapi"), catalogue_db, out) == 0
    text = out.getvalue()
    assert "answer: [item] press-okapi  Okapi" in text
    assert "  1.*[item] press-okapi  Okapi" in text


async def test_question_or_batch_is_required(catalogue_db: SessionFactory) -> None:
    assert await ask_main(parse(), catalogue_db, io.StringIO()) == 2
    assert await ask_main(parse("x", "--batch", "f"), catalogue_db, io.StringIO()) == 2


def test_the_batch_contract_through_the_command_line(tmp_path: Path) -> None:
    """``python -m bot ask --batch - --json`` on an imported network: one line a question."""
    import os
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    env = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'plume.sqlite3'}",
        "PYTHONPATH": str(root),
    }
    network = root / "tests" / "data" / "network"
    subprocess.run(
        [sys.executable, "-m", "bot", "import", str(network)],
        env=env, cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    questions = ["jai oublie mon mdp", "bonjour", "horaires de la mediatheque d'amont",
                 "zorglub quantique", "film intouchable", "merci !"]  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "bot", "ask", "--batch", "-", "--json"],
        input="\n".join(questions) + "\n", text=True,
        env=env, cwd=tmp_path, check=True, capture_output=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stdout.splitlines()]
    assert [line["query"] for line in lines] == questions
    for line in lines:
        assert {"query", "kind", "answer", "shown", "results"} <= set(line)
        assert line["kind"] in {"answer", "suggest", "none", "chat"}
    mdp, hello, hours, nonsense, film, thanks = lines
    assert mdp["kind"] == "answer"
    assert mdp["answer"]["type"] == "faq" and mdp["answer"]["id"] == "faq-mdp"
    assert set(mdp["answer"]) == {"type", "id", "title", "score"}
    assert mdp["shown"][0] == "faq-mdp"
    assert hello["kind"] == "chat" and hello["answer"] is None and hello["shown"] == []
    assert hours["kind"] == "answer"
    assert hours["answer"]["type"] == "library" and hours["answer"]["id"] == "lib-amont"
    assert nonsense["kind"] == "none" and nonsense["answer"] is None
    assert film["answer"]["type"] == "item" and film["answer"]["id"] == "it-intouchables"
    assert film["results"][0]["id"] == "it-intouchables"
    assert thanks["kind"] == "chat"
