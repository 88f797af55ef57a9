"""The first conversation, end to end: real bot, real HTTP, the Bot API stand-in."""

from __future__ import annotations

from sqlalchemy import text

from storage.db import create_engine
from tests.kit import ADMIN_ID


async def test_start_in_french_pick_library_on_second_page(standin, plume):
    alice = standin.user(1001, first_name="Alice", language_code="fr-FR")
    await alice.send("/start")
    greeting = await alice.next_message()
    assert greeting.text.startswith("Bonjour Alice ! Je suis Plume")
    picker = await alice.next_message()
    assert picker.text == "Dans quelle bibliothèque êtes-vous inscrit·e ?"
    assert picker.button_texts[:2] == ["Médiathèque d'Amont", "Bibliothèque de Bas"]
    assert "Bibliothèque de l'Étang" in picker.button_texts  # É sorts with E
    assert "Bibliothèque du Jonc" not in picker.button_texts
    await alice.press(picker, "Suivantes ▶")
    page2 = await alice.next_message()
    assert page2.message_id == picker.message_id and page2.edited
    assert "Bibliothèque du Jonc" in page2.button_texts
    await alice.press(page2, "Bibliothèque du Jonc")
    noted = await alice.next_message()
    assert noted.text == "C'est noté : votre bibliothèque est Bibliothèque du Jonc."
    help_message = await alice.next_message()
    assert "Ce que je sais faire" in help_message.text


async def test_start_in_english_and_unsupported_language(standin, plume):
    bob = standin.user(1002, first_name="Bob", language_code="en")
    await bob.send("/start")
    assert (await bob.next_message()).text.startswith("Hello Bob! I am Plume")
    assert (await bob.next_message()).text == "Which library are you a member of?"
    hans = standin.user(1003, first_name="Hans", language_code="de")
    await hans.send("/start")
    assert (await hans.next_message()).text.startswith("Bonjour Hans")


async def test_library_and_language_survive_a_restart(standin, plume, start_plume):
    carla = standin.user(1004, first_name="Carla", language_code="fr")
    await carla.send("/start")
    await carla.next_message()
    await carla.press(await carla.next_message(), "Bibliothèque de Bas")
    await carla.wait_for("C'est noté")
    await carla.send("/settings")
    settings = await carla.wait_for("Vos réglages")
    await carla.press(settings, "Langue")
    choice = await carla.next_message()
    await carla.press(choice, "English")
    changed = await carla.next_message()
    assert "Your settings" in changed.text and "Language: English" in changed.text

    await plume.stop()
    await start_plume()
    carla.set_language("fr")  # Telegram's language no longer matters: her choice does
    await carla.send("/settings")
    after = await carla.wait_for("Your settings")
    assert "Library: Bibliothèque de Bas" in after.text


async def test_settings_change_library(standin, plume):
    dan = standin.user(1005, first_name="Dan", language_code="fr")
    await dan.send("/settings")
    shown = await dan.next_message()
    assert "Bibliothèque : pas encore choisie" in shown.text
    await dan.press(shown, "Bibliothèque")
    picker = await dan.next_message()
    await dan.press(picker, "Médiathèque d'Amont")
    assert "Médiathèque d'Amont" in (await dan.next_message()).text


async def test_help_and_unknown_command(standin, plume):
    eve = standin.user(1006, first_name="Eve", language_code="en")
    await eve.send("/help")
    assert "What I can do" in (await eve.next_message()).text
    await eve.send("/frobnicate")
    assert (await eve.next_message()).text == (
        "I don't know this command. Type /help to see what I can do."
    )


async def test_forged_and_stale_buttons_get_a_polite_answer(standin, plume):
    finn = standin.user(1007, first_name="Finn", language_code="fr")
    await finn.send("/start")
    await finn.next_message()
    picker = await finn.next_message()
    for data in ("L:lib-nowhere", "Lp:abc", "S:lang:xx", "garbage\u0000data", "S:"):
        query = await finn.press_data(data, picker)
        answer = await finn.wait_callback_answer(query)
        assert answer.get("text") in {
            "Cette bibliothèque n'existe plus, choisissez-en une autre.",
            "Ce bouton n'est plus valable.",
            "Ce bouton appartient à un ancien message et ne fonctionne plus\u202f: ce qu'il "
            "permettait est terminé, annulé ou expiré. Tapez /aide pour recommencer.",
            None,
        }
    await finn.send("/whoami")
    assert "Votre identifiant Telegram : 1007" in (await finn.wait_for("identifiant")).text


async def test_roles_are_granted_by_administrators_only(standin, plume):
    patron = standin.user(1008, first_name="Gus", language_code="fr")
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await patron.send("/role 1008 admin")
    refusal = await patron.next_message()
    assert refusal.text.startswith("Désolé, c'est réservé au rôle « administrateur·rice »")

    await admin.send("/whoami")
    assert "Rôle : administrateur·rice" in (await admin.next_message()).text
    await admin.send("/role 1008 bibliothécaire")
    assert (await admin.next_message()).text == "Gus est maintenant bibliothécaire."
    staff_menu = [c["command"] for c in standin.commands_for(1008)]
    assert "moi" in staff_menu and "role" not in staff_menu
    assert "role" in [c["command"] for c in standin.commands_for(ADMIN_ID)]
    await admin.send("/roles")
    listing = await admin.next_message()
    assert "Gus — <code>1008</code>" in listing.text or "Gus — 1008" in listing.text
    await admin.send("/role 1008 patron")
    assert "usager" in (await admin.next_message()).text
    assert "role" not in [c["command"] for c in standin.commands_for(1008)]
    await admin.send("/role 999 staff")
    assert "n'a encore écrit à Plume" in (await admin.next_message()).text
    await admin.send("/role")
    assert (await admin.next_message()).text.startswith("Utilisation : /role")


async def test_command_menus_per_language(standin, plume):
    french = [c["command"] for c in standin.commands_for(5555, language_code="fr")]
    english = standin.commands_for(5555, language_code="en")
    assert {"start", "aide", "parametres"} <= set(french)
    assert {"start", "help", "settings"} <= {c["command"] for c in english}
    assert "role" not in french
    assert {c["description"] for c in english} >= {"What Plume can do"}


async def test_a_failing_handler_apologises_and_the_bot_keeps_running(
    standin, plume, database_url
):
    hugo = standin.user(1009, first_name="Hugo", language_code="fr")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE libraries RENAME TO libraries_away"))
        await hugo.send("/start")
        await hugo.wait_for("Bonjour Hugo")
        apology = await hugo.next_message()
        assert apology.text == (
            "Désolé, quelque chose s'est mal passé de mon côté. Réessayez dans un instant."
        )
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE libraries_away RENAME TO libraries"))
    finally:
        await engine.dispose()
    await hugo.send("/settings")
    assert "Vos réglages" in (await hugo.next_message()).text
