"""Choosing announcements after /start, in /settings, and "Stop" in one tap."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import create_engine
from storage.models import Subscription, UsageEvent, User


async def topics_of(database_url, telegram_id):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.scalars(
                select(Subscription.topic)
                .join(User, User.id == Subscription.user_id)
                .where(User.telegram_id == telegram_id)
            )
            return set(rows)
    finally:
        await engine.dispose()


async def test_asked_once_after_start_then_changed_in_settings(standin, plume, database_url):
    alice = standin.user(3001, first_name="Alice", language_code="fr")
    await alice.send("/start")
    await alice.next_message()
    await alice.press(await alice.next_message(), "Bibliothèque de Bas")
    await alice.wait_for("C'est noté")
    await alice.wait_for("Ce que je sais faire")
    question = await alice.next_message()
    assert question.text.startswith("🔔 Quelles annonces souhaitez-vous recevoir ?")
    assert all(text.startswith("▫️") for text in question.button_texts[:-1])  # nothing chosen
    assert await topics_of(database_url, 3001) == set()
    await alice.press(question, "Nouveaux livres numériques")
    toggled = await alice.next_message()
    assert (
        toggled.edited and "✅ Nouveaux livres numériques et livres audio" in toggled.button_texts
    )
    await alice.press(toggled, "Actualités générales")
    await alice.press(await alice.next_message(), "Valider")
    done = await alice.next_message()
    assert "vous recevrez" in done.text and "Actualités générales du réseau" in done.text
    assert await topics_of(database_url, 3001) == {"media:ebook", "news"}

    # the question is not asked again when the library changes
    await alice.send("/settings")
    settings = await alice.wait_for("Vos réglages")
    await alice.press(settings, "Bibliothèque")
    await alice.press(await alice.next_message(), "Médiathèque d'Amont")
    await alice.wait_for("C'est noté")
    await alice.assert_no_message(0.3)

    await alice.send("/settings")
    settings = await alice.wait_for("Vos réglages")
    await alice.press(settings, "Annonces")
    menu = await alice.next_message()
    assert "✅ Nouveaux livres numériques et livres audio" in menu.button_texts
    await alice.press(menu, "Nouveaux livres numériques")
    await alice.press(await alice.next_message(), "Valider")
    await alice.wait_for("vous recevrez")
    assert await topics_of(database_url, 3001) == {"news"}

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        kinds = (await conn.scalars(select(UsageEvent.kind).order_by(UsageEvent.id))).all()
    await engine.dispose()
    assert kinds.count("subscription") == 2 and kinds.count("unsubscription") == 1


async def test_nothing_chosen_and_forged_buttons(standin, plume, database_url):
    bob = standin.user(3002, first_name="Bob", language_code="en")
    await bob.send("/settings")
    settings = await bob.wait_for("Your settings")
    await bob.press(settings, "Announcements")
    menu = await bob.next_message()
    await bob.press(menu, "Done")
    assert "I will send you no announcements" in (await bob.next_message()).text
    for data in ("Sb:t:media:comics", "Sb:t:", "Sb:zz", "Un:media:comics", "Un:"):
        answer = await bob.wait_callback_answer(await bob.press_data(data, menu))
        assert answer.get("text") == "This button is no longer valid."
    assert await topics_of(database_url, 3002) == set()
