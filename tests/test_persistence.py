"""Conversation state in the database: a form goes on after a restart, or on another instance,
exactly where the person was."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from bot.persistence import dump_user_data, load_user_data
from bot.workshops.service import Draft
from storage.db import create_engine
from storage.models import Workshop
from storage.webhook import ConversationState
from tests.kit import import_network, make_staff


async def saved_workshop(database_url: str, title: str):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return (await conn.execute(select(Workshop).where(Workshop.title == title))).first()
    finally:
        await engine.dispose()


async def open_conversations(database_url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            rows = await conn.execute(
                select(ConversationState.name, ConversationState.key, ConversationState.state)
            )
            return [tuple(row) for row in rows]
    finally:
        await engine.dispose()


async def eventually_no_conversation(database_url: str, seconds: float = 5.0) -> list:
    left = await open_conversations(database_url)
    for _ in range(int(seconds / 0.05)):
        if not left:
            break
        await asyncio.sleep(0.05)
        left = await open_conversations(database_url)
    return left


def test_what_the_flows_keep_round_trips_through_json():
    draft = Draft(
        title="Liseuses",
        library_id="lib-bas",
        starts_at=dt.datetime(2030, 3, 13, 13, 30, tzinfo=dt.UTC),
        duration_min=90,
        media_set=True,
    )
    data = {"workshop_draft": draft, "feedback_pending": ("missing", 7, 1.5e9, 42), "n": [1]}
    assert load_user_data(dump_user_data(1, data)) == data
    # something no flow should keep is left out, not a failure of the update
    assert load_user_data(dump_user_data(1, {"ok": 1, "bad": object()})) == {"ok": 1}


async def test_workshop_form_survives_a_restart(standin, start_plume, database_url):
    await import_network(database_url)
    plume = await start_plume()
    lea = standin.user(6010, first_name="Léa", language_code="fr")
    await make_staff(standin, lea, plume, "lib-coteau")
    lea.drain()
    await lea.send("/nouvel_atelier")
    await lea.wait_for("titre de l'atelier")
    await lea.send("Liseuses pour débuter")
    picker = await lea.wait_for("Dans quelle bibliothèque")
    assert [name for name, _, _ in await open_conversations(database_url)] == ["workshop_form"]

    await plume.stop()  # a restart (a new version deployed) in the middle of the form
    await start_plume()

    await lea.press(picker, "Bibliothèque du Coteau")  # a button of the message before
    await lea.wait_for("Date et heure")
    await lea.send("28/03/2027 10h00")
    durations = await lea.wait_for("Quelle durée")
    await lea.press(durations, "2 heures")
    await lea.wait_for("Combien de places")
    await lea.send("12")
    await lea.wait_for("courte description")
    await lea.send("Pour bien commencer.")
    media = await lea.wait_for("Quelle partie")
    await lea.press(media, "livres numériques")
    preview = await lea.wait_for("Aperçu")
    assert "Liseuses pour débuter" in preview.text  # typed before the restart
    await lea.press(preview, "Enregistrer")
    await lea.wait_for("Atelier enregistré")
    workshop = await saved_workshop(database_url, "Liseuses pour débuter")
    assert workshop is not None and workshop.library_id == "lib-coteau"
    # finished: nothing left behind (written right after the update, the answer may be first)
    assert await eventually_no_conversation(database_url) == []


async def test_workshop_form_goes_from_one_instance_to_the_other(
    standin, two_plumes, database_url
):
    first, second = two_plumes
    lea = standin.user(6020, first_name="Léa", language_code="fr")
    await make_staff(standin, lea, first, "lib-bas")
    lea.drain()
    served_before = dict(standin.balancer.served)
    # the balancer alternates: each step of the form lands on the other instance
    await lea.send("/nouvel_atelier")
    await lea.wait_for("titre de l'atelier")
    await lea.send("Presse en ligne")
    picker = await lea.wait_for("Dans quelle bibliothèque")
    await lea.press(picker, "Bibliothèque de Bas")
    await lea.wait_for("Date et heure")
    await lea.send("13/03/2030 14h30")
    durations = await lea.wait_for("Quelle durée")
    # an instance answers the webhook after the reply it sends: wait for the four answers
    for _ in range(100):
        if sum(standin.balancer.served.values()) - sum(served_before.values()) >= 4:
            break
        await asyncio.sleep(0.05)
    served = {url: n - served_before.get(url, 0) for url, n in standin.balancer.served.items()}
    assert all(n >= 2 for n in served.values()) and len(served) == 2, served

    await first.stop()  # one instance goes away in the middle: the other carries on
    await lea.press(durations, "1 heure")
    await lea.wait_for("Combien de places")
    await lea.send("8")
    await lea.wait_for("courte description")
    await lea.send("Lire son journal sur tablette.")
    media = await lea.wait_for("Quelle partie")
    await lea.press(media, "presse")
    preview = await lea.wait_for("Aperçu")
    assert "Presse en ligne" in preview.text and "8 places" in preview.text
    await lea.press(preview, "Enregistrer")
    await lea.wait_for("Atelier enregistré")
    workshop = await saved_workshop(database_url, "Presse en ligne")
    assert workshop is not None and workshop.capacity == 8
    assert second.listener is not None


async def test_a_button_that_can_no_longer_work_says_why_and_what_to_do(standin, plume):
    lea = standin.user(6030, first_name="Léa", language_code="fr")
    await make_staff(standin, lea, plume, "lib-coteau")
    lea.drain()
    await lea.send("/nouvel_atelier")
    await lea.wait_for("titre de l'atelier")
    await lea.send("Atelier abandonné")
    picker = await lea.wait_for("Dans quelle bibliothèque")
    await lea.send("/annuler")
    await lea.next_message()
    query = await lea.press(picker, "Bibliothèque du Coteau")
    answer = await lea.wait_callback_answer(query)
    assert answer["show_alert"]
    assert "ne fonctionne plus" in answer["text"] and "/aide" in answer["text"]


async def test_the_person_read_with_the_states_is_read_again_for_each_update(
    standin, webhook_plume, database_url
):
    """The person's row comes with their conversation states, in one statement: what the
    database says at the update is what the handlers see, never a row kept from an earlier
    update."""
    from sqlalchemy import update

    from storage.models import User

    patron = standin.user(1031, first_name="Noé", language_code="fr")
    await patron.send("/whoami")
    assert "Rôle\u202f: usager" in (await patron.wait_for("identifiant")).text
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(update(User).where(User.telegram_id == 1031).values(role="staff"))
    finally:
        await engine.dispose()
    await patron.send("/whoami")
    assert "Rôle\u202f: bibliothécaire" in (await patron.wait_for("identifiant")).text
    await patron.send("jai oublié mon mot de passe")  # no conversation: a question
    assert (await patron.next_message()).text
