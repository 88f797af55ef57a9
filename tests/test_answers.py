"""Patrons ask, Plume answers — end to end through the stand-in."""

from __future__ import annotations

import asyncio

from sqlalchemy import select

from storage.db import create_engine
from storage.models import UsageEvent
from tests.kit import ADMIN_ID, NETWORK, import_network


async def onboard(standin, user_id, name, library="Bibliothèque de Bas", language="fr"):
    person = standin.user(user_id, first_name=name, language_code=language)
    await person.send("/start")
    await person.next_message()
    await person.press(await person.next_message(), library)
    await person.wait_for("Quelles annonces")  # the last step of the first conversation
    return person


async def test_faq_answer_with_votes(standin, plume):
    alice = standin.user(3001, first_name="Alice", language_code="fr")
    await alice.send("jai oublie mon mdp")
    card = await alice.next_message()
    assert card.text.startswith("💡 J'ai oublié mon mot de passe")
    assert "Mot de passe oublié" in card.text
    assert card.button_texts[-2:] == ["👍", "👎"]


async def test_item_card_with_link_and_see_also(standin, plume):
    bob = standin.user(3002, first_name="Bob", language_code="fr")
    await bob.send("film intouchable")
    card = await bob.next_message()
    assert "<b>Intouchables</b>" in card.text or "Intouchables" in card.text.splitlines()[0]
    assert "Olivier Nakache et Éric Toledano · 2011" in card.text
    assert "Disponible sur : Cinéma à la demande" in card.text
    link = card.buttons[0][0]
    assert link["url"] == "https://numerique.test.example/cinema"


async def test_media_intent_narrows(standin, plume):
    carl = standin.user(3003, first_name="Carl", language_code="fr")
    await carl.send("des films de Kurosawa")
    card = await carl.next_message()
    assert "Akira Kurosawa" in card.text
    assert any("Samouraïs" in b or "Rashōmon" in b for b in card.button_texts)


async def test_resource_card_for_bd(standin, plume):
    dina = standin.user(3004, first_name="Dina", language_code="fr")
    await dina.send("vous avez des bd ?")
    card = await dina.next_message()
    assert "Livres numériques" in card.text
    assert "Comment y accéder" in card.text


async def test_see_also_button_opens_a_card_and_is_logged(standin, plume, database_url):
    eve = standin.user(3005, first_name="Eve", language_code="fr")
    await eve.send("Kurosawa")
    card = await eve.next_message()
    await plume.services.answers.settled()  # a question is logged after its reply
    others = [b for b in card.button_texts if "Samouraïs" in b or "Rashōmon" in b]
    assert others
    await eve.press(card, others[0])
    opened = await eve.next_message()
    assert "Akira Kurosawa" in opened.text
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            kinds = list(await conn.scalars(select(UsageEvent.kind).order_by(UsageEvent.id)))
    finally:
        await engine.dispose()
    assert kinds[-2:] == ["question", "card_view"]


async def test_nothing_found_is_said_honestly_and_can_go_to_a_librarian(
    standin, plume, database_url
):
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await admin.send("/role 3007 staff")
    librarian = await onboard(standin, 3007, "Léa")
    await admin.send("/role 3007 staff")
    await admin.wait_for("bibliothécaire")
    gus = await onboard(standin, 3006, "Gus")
    await gus.send("zorglub quantique xqzw")
    sorry = await gus.next_message()
    assert sorry.text.startswith("Je n'ai pas trouvé de réponse sûre")
    await gus.press(sorry, "bibliothécaire")
    assert "transmise" in (await gus.next_message()).text
    notice = await librarian.wait_for("Question de U")
    assert "zorglub quantique xqzw" in notice.text
    again = await gus.press(sorry, "bibliothécaire")
    assert "déjà" in (await gus.wait_callback_answer(again))["text"]

    await librarian.send("/questions")
    await librarian.wait_for("en attente")
    listed = await librarian.wait_for("zorglub")
    await librarian.press(listed, "Répondre")
    await librarian.wait_for("Écrivez votre réponse")
    await librarian.send("Nous n'avons pas <encore> ce titre, & nous le commandons !")
    assert (await librarian.wait_for("envoyée")).text == "Réponse envoyée."
    answer = await gus.next_message()
    assert "Réponse de la bibliothèque" in answer.text
    assert "Nous n'avons pas <encore> ce titre, & nous le commandons !" in answer.text
    # the patron replies through the answer's button; /annuler first leaves nothing sent
    await gus.press(answer, "Répondre")
    await gus.wait_for("Écrivez votre réponse à la bibliothèque")
    await gus.send("/annuler")
    assert (await gus.wait_for("Annulé")).text == "Annulé."
    await gus.press(answer, "Répondre")
    await gus.wait_for("Écrivez votre réponse à la bibliothèque")
    await gus.send("Merci, je patienterai")
    await gus.wait_for("Envoyé à la bibliothèque")
    relayed = await librarian.wait_for("Merci, je patienterai")
    assert "zorglub" in relayed.text and "Clore la conversation" in " ".join(relayed.button_texts)
    await librarian.press(relayed, "Clore la conversation")
    await librarian.wait_for("Conversation close")
    assert "clos" in (await gus.wait_for("zorglub")).text
    closed = await gus.press(answer, "Répondre")
    assert "close" in (await gus.wait_callback_answer(closed))["text"]
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            event = (
                await conn.execute(select(UsageEvent).where(UsageEvent.kind == "question"))
            ).first()
    finally:
        await engine.dispose()
    assert event.answered is False and event.raw_text == "zorglub quantique xqzw"


async def test_patron_cannot_list_questions(standin, plume):
    hal = standin.user(3008, first_name="Hal", language_code="fr")
    await hal.send("/questions")
    assert (await hal.next_message()).text.startswith("Désolé, c'est réservé")


async def test_browse_media(standin, plume):
    ian = standin.user(3009, first_name="Ian", language_code="fr")
    await ian.send("/media")
    shelves = await ian.next_message()
    assert "Films et séries" in " ".join(shelves.button_texts)
    await ian.press(shelves, "Films et séries")
    shelf = await ian.next_message()
    await ian.press(shelf, "Cinéma à la demande")
    newest = await ian.next_message()
    titles = newest.button_texts
    assert titles.index("Les Sept Samouraïs") < titles.index("Rashōmon")  # newest first
    await ian.press(newest, "Intouchables")
    assert "Nakache" in (await ian.next_message()).text


async def test_odd_messages_get_a_sensible_reply(standin, plume):
    jo = standin.user(3010, first_name="Jo", language_code="fr")
    for text in ("😀😀😀", "你好，我忘记了密码", "a" * 4096, "?", "le la les de des"):
        await jo.send(text)
        answer = await jo.next_message(timeout=10)
        assert answer.text
    for data in (
        "C:x:nothing",
        "C:i:",
        "M:nope",
        "M:res-vod:abc",
        "H:abc",
        "H:999999",
        "Q:1",
        "M:nowhere:0",
    ):
        query = await jo.press_data(data, answer)
        await jo.wait_callback_answer(query)


async def test_index_follows_an_import_without_restart(standin, plume, database_url, tmp_path):
    ken = standin.user(3011, first_name="Ken", language_code="fr")
    folder = tmp_path / "more"
    folder.mkdir()
    (folder / "items.csv").write_text(
        (NETWORK / "items.csv").read_text(encoding="utf-8")
        + "it-ran,res-vod,video,Ran,Akira Kurosawa,1985,film;drame,ja,2026-11-20\n",
        encoding="utf-8",
    )
    await import_network(database_url, folder)
    await plume.services.search.refresh_if_changed()  # what the periodic job does
    await ken.send("Ran Kurosawa 1985")
    card = await ken.next_message()
    assert card.text.splitlines()[0].endswith("<b>Ran</b>") or "Ran" in card.text
    assert "1985" in card.text
    await asyncio.sleep(0)


async def test_a_nul_character_in_a_message_loses_nothing(standin, plume, database_url):
    """PostgreSQL refuses NUL in text: the question is answered, logged and passed on
    without it (on SQLite too)."""
    nils = await onboard(standin, 3030, "Nils")
    await nils.send("zorglub\x00 quantique xqzw")
    sorry = await nils.next_message()
    assert sorry.text.startswith("Je n'ai pas trouvé de réponse sûre")
    await nils.press(sorry, "bibliothécaire")
    await nils.wait_for("Votre question est enregistrée")  # no librarian on Plume here
    await plume.services.answers.settled()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            logged = (
                (
                    await conn.execute(
                        select(UsageEvent.raw_text).where(UsageEvent.kind == "question")
                    )
                )
                .scalars()
                .all()
            )
    finally:
        await engine.dispose()
    assert logged == ["zorglub quantique xqzw"]


async def test_a_card_carries_what_the_question_asks_beyond_it(standin, plume):
    """ "prochains ateliers": the list of the coming workshops is one button away; "parler à
    un bibliothécaire": so is a librarian, even when a card answers."""
    eva = standin.user(3020, first_name="Eva", language_code="fr")
    await eva.send("prochains ateliers")
    reply = await eva.next_message()
    await eva.press(reply, "Les prochains ateliers")
    listing = await eva.wait_for("à venir")
    assert "Prendre en main sa liseuse" in listing.text
    await eva.send("jai oublie mon mdp, je voudrais parler a un bibliothecaire")
    card = await eva.next_message()
    assert card.text.startswith("💡 J'ai oublié mon mot de passe")
    assert "🙋 Demander à un·e bibliothécaire" in card.button_texts
    await eva.press(card, "Demander à un·e bibliothécaire")
    assert "bibliothécaire vous répondra ici" in (await eva.next_message()).text
    await eva.send("jai oublie mon mdp")  # no wish: no extra button
    assert "🙋 Demander à un·e bibliothécaire" not in (await eva.next_message()).button_texts
