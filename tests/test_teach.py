"""Staff teach Plume a question in one step; the running bot answers it; faq.csv round-trips."""

from __future__ import annotations

import asyncio
import csv
import os
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from bot.search import SearchService
from bot.teach.service import TeachingService
from storage.db import create_engine, migrate, session_factory
from storage.models import FaqEntry, UsageEvent
from tests.kit import ADMIN_ID, NETWORK, import_network

ROOT = Path(__file__).resolve().parent.parent
# about signing in, answered by no entry (neither its words nor their meaning are close enough)
UNANSWERED = "impossible de rentrer dans mon compte depuis hier"


async def onboard(standin, user_id, name, library="Bibliothèque de Bas", language="fr"):
    person = standin.user(user_id, first_name=name, language_code=language)
    await person.send("/start")
    await person.next_message()
    await person.press(await person.next_message(), library)
    await person.wait_for("Quelles annonces")
    return person


async def give_role(standin, user_id, role):
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await admin.send(f"/role {user_id} {role}")
    await admin.next_message()


async def question_events(database_url):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(
                select(func.count()).select_from(UsageEvent).where(UsageEvent.kind == "question")
            )
    finally:
        await engine.dispose()


async def test_a_handed_over_question_becomes_a_phrasing_of_a_faq_entry_in_one_tap(standin, plume):
    lea = await onboard(standin, 4001, "Léa")
    await give_role(standin, 4001, "staff")
    gus = await onboard(standin, 4002, "Gus")
    await gus.send(UNANSWERED)
    sorry = await gus.next_message()
    assert sorry.text.startswith("Je n'ai pas trouvé de réponse sûre")
    await gus.press(sorry, "bibliothécaire")
    await gus.next_message()
    notice = await lea.wait_for("Question de U")
    assert "📚 Apprendre à Plume" in notice.button_texts
    await lea.press(notice, "Apprendre à Plume")
    choice = await lea.next_message()
    expected = f"Apprendre à Plume à répondre à\u202f: «\u202f{UNANSWERED}\u202f»"
    assert choice.text.startswith(expected)
    assert choice.button_texts[0] == "➕ J'ai oublié mon mot de passe"
    assert choice.button_texts[-2:] == ["🆕 Nouvelle entrée de la FAQ", "✖ Annuler"]
    await lea.press(choice, "J'ai oublié mon mot de passe")
    done = await lea.next_message()
    assert done.text.startswith("C'est fait\u202f: Plume répond désormais")
    # the patron who asked still waits: said, with the button to answer them
    assert "attend toujours votre réponse" in done.text
    assert done.button_texts == ["✍️ Répondre"]
    # the same bot answers it now (it refreshed at once), the same question as the patron's
    for _ in range(50):
        await gus.send(UNANSWERED)
        answer = await gus.next_message()
        if answer.text.startswith("💡 J'ai oublié mon mot de passe"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"not answered: {answer.text}")
    # a stale or forged button is refused; a patron cannot teach
    stale = await lea.press(choice, "J'ai oublié mon mot de passe")
    assert (await lea.wait_callback_answer(stale))["text"] == "Ce bouton n'est plus valable."
    query = await gus.press_data("T:h:1", sorry)
    assert (await gus.wait_callback_answer(query))["text"].startswith("Désolé, c'est réservé")


async def test_from_sans_reponse_a_new_entry_whose_answer_is_not_a_question(
    standin, plume, database_url
):
    coco = await onboard(standin, 4003, "Coco")
    await give_role(standin, 4003, "coordinator")
    zoe = await onboard(standin, 4004, "Zoé")
    question = "les enfants peuvent avoir un compte"
    await zoe.send(question)
    assert (await zoe.next_message()).text.startswith("Je n'ai pas trouvé")
    await plume.services.answers.settled()  # its log is written after the reply
    await coco.send("/sans_reponse")
    listing = await coco.next_message()
    assert f"1. {question} — 1 fois" in listing.text
    assert "➕ 1" in listing.button_texts
    await coco.press(listing, "➕ 1")
    choice = await coco.next_message()
    await coco.press(choice, "Nouvelle entrée")
    prompt = await coco.next_message()
    assert prompt.text.startswith("Comment la FAQ doit-elle appeler cette entrée")
    assert prompt.button_texts == [f"✔ Garder «\u202f{question}\u202f»"]
    before = await question_events(database_url)
    await coco.send("Un enfant peut-il avoir son propre compte ?")
    prompt = await coco.next_message()
    assert prompt.text.startswith("Écrivez la réponse que recevront les usagers")
    assert "Un enfant peut-il avoir son propre compte" in prompt.text
    await coco.send("Oui : chaque enfant inscrit à la bibliothèque a son propre compte.")
    done = await coco.next_message()
    # what changed, not the question said twice
    assert done.text == (
        "C'est fait\u202f: nouvelle entrée de la FAQ «\u202fUn enfant peut-il avoir son propre "
        "compte ?\u202f». Plume y répond, ainsi qu'à «\u202fles enfants peuvent avoir un "
        "compte\u202f», d'ici une minute partout."
    )
    assert await question_events(database_url) == before  # staff's texts are no question
    for _ in range(50):
        await zoe.send(question)
        answer = await zoe.next_message()
        if answer.text.startswith("💡 Un enfant peut-il avoir son propre compte"):
            break
        await asyncio.sleep(0.1)
    else:
        raise AssertionError(f"not answered: {answer.text}")
    assert "chaque enfant inscrit" in answer.text
    # the patron's wording kept as the title
    other = "combien de temps dure un pret de liseuse"
    await zoe.send(other)
    await zoe.next_message()
    await plume.services.answers.settled()
    await coco.send("/sans_reponse")
    listing = await coco.wait_for(other)
    number = next(line for line in listing.text.splitlines() if other in line).split(".")[0]
    await coco.press(listing, f"➕ {number}")
    await coco.press(await coco.next_message(), "Nouvelle entrée")
    prompt = await coco.next_message()
    await coco.send("ok")  # no title
    assert "de 200 caractères au plus" in (await coco.next_message()).text
    await coco.press(prompt, "Garder")
    await coco.wait_for("Écrivez la réponse")
    await coco.send("Trois semaines.")
    done = await coco.wait_for("C'est fait")
    assert "Combien de temps dure un pret de liseuse" in done.text and "ainsi qu" not in done.text


async def test_another_instance_answers_within_its_refresh_interval(
    standin, start_plume, database_url
):
    """What staff teach through one instance reaches the others at their next refresh
    (``PLUME_SEARCH_REFRESH_SECONDS``; 30 s by default, half a second here)."""
    await import_network(database_url)
    await start_plume(search_refresh_seconds=0.5)
    ivy = standin.user(4005, first_name="Ivy", language_code="fr")
    await ivy.send(UNANSWERED)
    assert (await ivy.next_message()).text.startswith("Je n'ai pas trouvé")
    engine = create_engine(database_url)  # the other instance: another engine, another index
    try:
        sessions = session_factory(engine)
        teaching = TeachingService(sessions, SearchService(sessions, index_dir=None))
        taught = await teaching.add_phrasing("faq-mdp", UNANSWERED)
        assert taught is not None and taught.added
    finally:
        await engine.dispose()
    started = time.monotonic()
    while True:
        await ivy.send(UNANSWERED)
        answer = await ivy.next_message()
        if answer.text.startswith("💡 J'ai oublié mon mot de passe"):
            break
        assert time.monotonic() - started < 5, "not answered within the refresh interval"
        await asyncio.sleep(0.2)


def bot_cli(database_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        capture_output=True,
        text=True,
        env=environment,
        cwd=ROOT,
        timeout=120,
    )


async def faq_rows(database_url: str) -> list[tuple[str, str, str, str, str | None]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(
                    FaqEntry.id,
                    FaqEntry.question,
                    FaqEntry.answer,
                    FaqEntry.alternatives,
                    FaqEntry.resource_id,
                ).order_by(FaqEntry.id)
            )
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


async def test_export_faq_round_trips_through_import(database_url, tmp_path):
    await import_network(database_url)
    engine = create_engine(database_url)
    try:
        sessions = session_factory(engine)
        teaching = TeachingService(sessions, SearchService(sessions, index_dir=None))
        await teaching.add_phrasing("faq-mdp", 'mon "code" | ne marche plus, hélas')
        await teaching.create_entry("Les enfants ont-ils un compte ?", "Oui ; dès 6 ans.\nVoilà.")
    finally:
        await engine.dispose()
    taught = await faq_rows(database_url)
    exported = bot_cli(database_url, "export-faq", str(tmp_path / "out"))
    assert exported.returncode == 0, exported.stderr
    with (tmp_path / "out" / "faq.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["id", "question", "answer", "alternatives", "resource_id"]
    mdp = next(row for row in rows if row["id"] == "faq-mdp")
    assert mdp["alternatives"].endswith('|mon "code" ne marche plus, hélas')

    # imported into an empty database, the file gives the same FAQ (resources first)
    fresh_url = f"sqlite+aiosqlite:///{tmp_path / 'fresh.sqlite3'}"
    fresh = create_engine(fresh_url)
    await migrate(fresh)
    await fresh.dispose()
    network = NETWORK
    folder = tmp_path / "export"
    folder.mkdir()
    (folder / "resources.csv").write_bytes((network / "resources.csv").read_bytes())
    (folder / "faq.csv").write_bytes((tmp_path / "out" / "faq.csv").read_bytes())
    imported = bot_cli(fresh_url, "import", str(folder), "--strict")
    assert imported.returncode == 0, imported.stderr + imported.stdout
    assert await faq_rows(fresh_url) == taught
    # and imported back into the same database, it changes nothing
    again = bot_cli(database_url, "import", str(folder))
    assert "faq.csv: 0 imported, 0 updated" in again.stdout, again.stdout
