"""Conversation before search, library cards and English, through the real bot."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import create_engine
from storage.models import UsageEvent


async def onboard(standin, user_id, name, library="Bibliothèque de Bas", language="fr"):
    person = standin.user(user_id, first_name=name, language_code=language)
    await person.send("/start")
    await person.next_message()
    await person.press(await person.next_message(), library)
    await person.wait_for("Quelles annonces" if language == "fr" else "Which announcements")
    return person


async def _questions_logged(database_url: str, plume=None) -> list[UsageEvent]:
    if plume is not None:
        await plume.services.answers.settled()  # a question is logged after its reply
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(select(UsageEvent).where(UsageEvent.kind == "question"))
            return list(rows.all())
    finally:
        await engine.dispose()


async def test_greetings_thanks_and_emoji_get_a_short_reply_and_are_not_questions(
    standin, plume, database_url
):
    zoe = standin.user(4001, first_name="Zoé", language_code="fr")
    for text in ("bonjour", "Merci beaucoup !", "ok", "😀", "au revoir"):
        await zoe.send(text)
        reply = await zoe.next_message()
        assert "réponse sûre" not in reply.text, text
        assert not any("bibliothécaire" in b for b in reply.button_texts), text
        assert len(reply.text) < 260, text
    assert await _questions_logged(database_url, plume) == []


async def test_greeting_says_what_to_ask_and_aide_gives_the_help(standin, plume):
    yan = standin.user(4002, first_name="Yan", language_code="fr")
    await yan.send("Bonjour !")
    hello = await yan.next_message()
    assert "Demandez-moi" in hello.text
    await yan.send("aide")
    help_text = await yan.next_message()
    assert "/ateliers" in help_text.text or "/help" in help_text.text or "/aide" in help_text.text


async def test_english_greeting_and_help(standin, plume):
    sam = standin.user(4003, first_name="Sam", language_code="en")
    await sam.send("hello")
    assert "Ask me" in (await sam.next_message()).text
    await sam.send("thanks!")
    assert "welcome" in (await sam.next_message()).text


async def test_opening_hours_of_my_library(standin, plume, database_url):
    ines = await onboard(standin, 4004, "Inès", library="Médiathèque d'Amont")
    await ines.send("c'est ouvert samedi ?")
    card = await ines.next_message()
    assert "Médiathèque d'Amont" in card.text
    assert "Samedi 10h-12h" in card.text and "Mardi 14h-18h" in card.text
    assert "1 rue Haute" in card.text and "01 00 00 00 01" in card.text
    assert "amont@test.example" in card.text
    await ines.press(card, "autres bibliothèques")
    listing = await ines.next_message()
    assert any("Bibliothèque du Gué" in b for b in listing.button_texts) or listing.buttons
    events = await _questions_logged(database_url, plume)
    assert [e.answered for e in events] == [True]


async def test_library_named_with_a_typo(standin, plume):
    omar = await onboard(standin, 4005, "Omar")  # a patron of Bas asks about Coteau
    await omar.send("adresse de la bibliotheque du cotau")
    card = await omar.next_message()
    assert "Bibliothèque du Coteau" in card.text and "3 chemin des Vignes" in card.text
    await omar.send("telephone bibliotheque")
    own = await omar.next_message()
    assert "Bibliothèque de Bas" in own.text and "01 00 00 00 02" in own.text


async def test_a_library_card_in_english(standin, plume):
    eve = await onboard(standin, 4006, "Eve", library="Médiathèque d'Amont", language="en")
    await eve.send("opening hours?")
    card = await eve.next_message()
    assert "Opening hours" in card.text and "Saturday 10h-12h" in card.text


async def test_english_question_reaches_the_french_faq(standin, plume):
    ken = standin.user(4007, first_name="Ken", language_code="en")
    await ken.send("I forgot my password")
    card = await ken.next_message()
    assert card.text.startswith("💡 J'ai oublié mon mot de passe")


async def test_a_long_message_is_answered_by_its_question(standin, plume, database_url):
    lou = standin.user(4008, first_name="Lou", language_code="fr")
    await lou.send(
        "Bonjour madame, j'espère que vous allez bien. J'ai oublié mon mot de passe depuis "
        "les vacances et je ne peux plus me connecter. Pouvez-vous m'aider ? Merci d'avance, "
        "bonne journée"
    )
    card = await lou.next_message()
    assert card.text.startswith("💡 J'ai oublié mon mot de passe")
    (event,) = await _questions_logged(database_url, plume)
    assert event.answered and event.subject_id == "faq-mdp"
