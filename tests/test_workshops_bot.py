"""Workshops in the bot, end to end: /ateliers, cards, waiting list, calendar file, deep
link, the staff conversation, cancellation, registrants, attendance, link and QR code."""

from __future__ import annotations

import datetime as dt

import icalendar
from sqlalchemy import func, select

from storage.db import create_engine
from storage.models import UsageEvent, Workshop
from tests.kit import make_staff


async def choose_library(plume, person, library_id: str) -> None:
    await person.send("/whoami")
    await person.next_message()
    assert await plume.services.users.set_library(person.id, library_id)


async def collect(person, *fragments: str) -> dict:
    """The next messages holding each fragment, in whatever order they come."""
    found: dict = {}
    while len(found) < len(fragments):
        message = await person.next_message()
        for fragment in fragments:
            if fragment in message.text and fragment not in found:
                found[fragment] = message
    return found


async def count_events(database_url: str, kind: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(
                select(func.count(UsageEvent.id)).where(UsageEvent.kind == kind)
            )
    finally:
        await engine.dispose()


async def test_list_register_waiting_list_and_promotion(standin, plume, database_url):
    alice = standin.user(5001, first_name="Alice", language_code="fr")
    await choose_library(plume, alice, "lib-bas")
    await alice.send("/ateliers")
    listing = await alice.next_message()  # one message: the list, a number per workshop
    assert "2 ateliers à venir" in listing.text
    # her library's workshop comes first, each with its library
    assert listing.text.index("Lire la presse") < listing.text.index("Prendre en main")
    assert "Bibliothèque de Bas" in listing.text and "Médiathèque d'Amont" in listing.text
    assert listing.button_texts == ["1", "2"]
    await alice.press(listing, "1")
    first = await alice.next_message()  # the card, on demand
    assert first.text.splitlines()[0] == "Lire la presse sur tablette"
    assert "mercredi 13 mars 2030 à 14:30 (1 heure)" in first.text
    assert "Bibliothèque de Bas — 2 place Basse" in first.text
    assert "2 places restantes sur 2" in first.text
    await alice.press(listing, "2")
    second = await alice.next_message()
    assert "Prendre en main sa liseuse" in second.text
    assert "1 h 30" in second.text
    await alice.press(first, "Je m'inscris")
    card = await alice.next_message()
    assert card.edited and "✅ Vous êtes inscrit·e." in card.text
    assert "1 place restante sur 2" in card.text
    assert "Me désinscrire" in card.button_texts

    bob = standin.user(5002, first_name="Bob", language_code="fr")
    await bob.send("/ateliers")
    listing = await bob.next_message()
    await bob.press(listing, "2")  # no library of his own: by date, the press one is second
    presse = await bob.next_message()
    assert "presse" in presse.text
    await bob.press(presse, "Je m'inscris")
    assert "Complet" in (await bob.next_message()).text

    carol = standin.user(5003, first_name="Carol", language_code="en")
    await carol.send("/start atelier-ws-presse")  # the poster's QR code
    full = await carol.next_message()
    assert "Full — the waiting list is open" in full.text
    query = await carol.press(full, "Join the waiting list")
    answer = await carol.wait_callback_answer(query)
    assert "number 1 on the waiting list" in answer["text"]
    waiting = await carol.next_message()
    assert "You are on the waiting list (number 1)" in waiting.text
    assert "Leave the list" in waiting.button_texts

    await alice.press(card, "Me désinscrire")
    freed = await alice.next_message()
    assert "⏳ M'inscrire sur la liste d'attente" in freed.button_texts  # Carol took it
    promoted = await carol.wait_for("Good news")
    assert "You are registered." in promoted.text and "Unregister" in promoted.button_texts
    # "Leave the list" on her old card: she is no longer on it, and her seat stays hers
    query = await carol.press(waiting, "Leave the list")
    answer = await carol.wait_callback_answer(query)
    assert answer["show_alert"] and "a seat was given to you" in answer["text"]
    refreshed = await carol.next_message()
    assert refreshed.edited and "You are registered." in refreshed.text
    assert "Unregister" in refreshed.button_texts
    assert await count_events(database_url, "registration") == 3  # Alice, Bob, Carol
    assert await count_events(database_url, "unregistration") == 1


async def test_calendar_file_and_unknown_deep_link(standin, plume):
    dan = standin.user(5004, first_name="Dan", language_code="fr")
    await dan.send("/start atelier-ws-liseuse")
    card = await dan.next_message()
    assert "Prendre en main sa liseuse" in card.text
    await dan.press(card, "Ajouter à mon agenda")
    document = await dan.wait_for(lambda m: m.file_name is not None)
    assert document.file_name == "atelier-ws-liseuse.ics"
    (event,) = icalendar.Calendar.from_ical(document.document).walk("VEVENT")
    assert event.decoded("DTSTART") == dt.datetime(2030, 3, 9, 9, 0, tzinfo=dt.UTC)
    assert event.decoded("DTEND") == dt.datetime(2030, 3, 9, 10, 30, tzinfo=dt.UTC)
    assert "Médiathèque d'Amont" in str(event["LOCATION"])
    assert "t.me/plume_test_bot?start=atelier-ws-liseuse" in str(event["DESCRIPTION"])
    await dan.send("/start atelier-nope")
    assert "n'existe pas" in (await dan.next_message()).text
    for data in ("W:r:nope", "W:u:nope", "W:i:", "W:f:ws-liseuse:9", "W:m:x", "Wa:t:1"):
        query = await dan.press_data(data, card)
        answer = await dan.wait_callback_answer(query)
        assert answer.get("text") is None or "Désolé, quelque chose" not in answer["text"]
    dan.drain()
    await dan.send("/whoami")
    assert "Votre identifiant Telegram : 5004" in (await dan.next_message()).text  # still fine


async def test_staff_create_edit_cancel(standin, plume, database_url):
    lea = standin.user(5010, first_name="Léa", language_code="fr")
    await make_staff(standin, lea, plume, "lib-coteau")
    lea.drain()
    await lea.send("/nouvel_atelier")
    await lea.wait_for("Nouvel atelier")
    await lea.wait_for("titre de l'atelier")
    await lea.send("Jeux vidéo en famille")
    picker = await lea.wait_for("Dans quelle bibliothèque")
    await lea.press(picker, "Bibliothèque du Coteau")
    await lea.wait_for("Date et heure")
    await lea.send("demain")
    await lea.wait_for("Précisez aussi l’heure")
    await lea.send("bientôt")
    await lea.wait_for("Je n’ai pas compris cette date")
    await lea.send("28/03/2027 02:30")
    skipped = await lea.wait_for("n’existe pas le dimanche 28 mars 2027")
    assert "on avance l’heure" in skipped.text
    await lea.send("31/10/2027 2h30")
    twice = await lea.wait_for("arrive deux fois le dimanche 31 octobre 2027")
    assert "« 31/10 02:30 hiver »" in twice.text.replace("\u202f", " ")
    await lea.send("01/01/2020 10:00")
    await lea.wait_for("déjà passé")
    await lea.send("28/03/2027 10h00")
    noted = await lea.wait_for("C'est noté")
    assert "dimanche 28 mars 2027 à 10:00" in noted.text
    await lea.wait_for("Quelle durée")
    await lea.send("2")
    await lea.wait_for("Des minutes ou des heures")
    await lea.send("2 h")
    await lea.wait_for("Combien de places")
    await lea.send("beaucoup")
    await lea.wait_for("entre 1 et 1000")
    await lea.send("12")
    await lea.wait_for("courte description")
    await lea.send("Dès 7 ans, <b>gratuit</b>.")
    media = await lea.wait_for("Quelle partie")
    await lea.press(media, "jeux vidéo")
    preview = await lea.wait_for("Aperçu")
    assert "dimanche 28 mars 2027 à 10:00 (2 heures)" in preview.text
    assert "Dès 7 ans, <b>gratuit</b>." in preview.text  # shown as typed, not as HTML
    assert "12 places" in preview.text and "jeux vidéo" in preview.text
    await lea.press(preview, "Places")
    await lea.wait_for("Combien de places")
    await lea.send("1")
    preview = await lea.wait_for("Aperçu")
    assert "1 place" in preview.text
    await lea.press(preview, "Enregistrer")
    await lea.wait_for("Atelier enregistré")
    managed = await lea.wait_for("t.me/plume_test_bot?start=atelier-ws-20270328-")
    assert "0 inscrit·e sur 1, 0 en attente" in managed.text

    engine = create_engine(database_url)
    async with engine.connect() as conn:
        workshop = (await conn.execute(select(Workshop).where(Workshop.title.like("Jeux%")))).one()
    await engine.dispose()
    assert workshop.starts_at.replace(tzinfo=dt.UTC) == dt.datetime(2027, 3, 28, 8, tzinfo=dt.UTC)
    assert (workshop.capacity, workshop.media_type, workshop.library_id) == (
        1,
        "game",
        "lib-coteau",
    )

    max_ = standin.user(5011, first_name="Max", language_code="fr")
    zoe = standin.user(5012, first_name="Zoé", language_code="en")
    for person in (max_, zoe):
        await person.send(f"/start atelier-{workshop.id}")
        await person.press_data(f"W:r:{workshop.id}", await person.next_message())
        await person.next_message()

    await lea.press(managed, "Modifier")
    preview = await lea.wait_for("Aperçu des modifications")
    await lea.press(preview, "Date")
    await lea.wait_for("Date et heure")
    await lea.send("31/10/2027 10:00")
    await lea.wait_for("C'est noté")
    preview = await lea.wait_for("Aperçu des modifications")
    await lea.press(preview, "Enregistrer")
    moved = await max_.wait_for("a changé")
    assert "dimanche 31 octobre 2027 à 10:00" in moved.text
    assert "Bibliothèque du Coteau" in moved.text
    assert "Sunday 31 October 2027 at 10:00" in (await zoe.wait_for("has changed")).text
    got = await collect(lea, "2 personnes ont été prévenues", "t.me/plume_test_bot")
    managed = got["t.me/plume_test_bot"]  # the card and the count may come in either order
    assert "1 inscrit·e sur 1, 1 en attente" in managed.text

    await lea.press(managed, "Inscrits")
    listing = await lea.wait_for("Inscrits à")
    assert "1. Max" in listing.text and "Liste d'attente" in listing.text
    assert "1. Zoé" in listing.text.split("Liste d'attente")[1]

    await lea.press(managed, "Annuler l'atelier")
    confirm = await lea.wait_for("seront prévenues")
    await lea.press(confirm, "Oui, l'annuler")
    await lea.wait_for("Atelier annulé")
    cancelled = await max_.wait_for("est annulé")
    assert "Jeux vidéo en famille" in cancelled.text
    await zoe.wait_for("is cancelled")
    await lea.wait_for("2 personnes ont été prévenues")
    await max_.send("/ateliers")
    listing = await max_.next_message()
    assert "2 ateliers à venir" in listing.text  # not the cancelled one
    assert "Jeux vidéo" not in listing.text
    # the poster's QR code still leads to it: its card, saying so, with no button to press
    await max_.send(f"/start atelier-{workshop.id}")
    card = await max_.next_message()
    assert "Jeux vidéo en famille" in card.text and "Annulé" in card.text
    assert card.button_texts == []


async def test_attendance_registrants_and_qr_code(standin, plume, database_url):
    sam = standin.user(5020, first_name="Sam", language_code="fr")
    await make_staff(standin, sam, plume, "lib-amont")
    patrons = [standin.user(5021 + n, first_name=f"P{n}", language_code="fr") for n in range(3)]
    for patron in patrons:
        await patron.send("/start atelier-ws-liseuse")
        await patron.press(await patron.next_message(), "Je m'inscris")
        await patron.next_message()
    sam.drain()
    await sam.send("/ateliers_gestion")
    listing = await sam.wait_for("Ateliers")
    await sam.press(listing, "Prendre en main sa liseuse")
    managed = await sam.wait_for("3 inscrit·es sur 8")
    await sam.press(managed, "Présences")
    sheet = await sam.wait_for("Présences")
    assert "0 sur 3" in sheet.text
    await sam.press(sheet, "P1")
    sheet = await sam.next_message()
    assert "✅ P1" in sheet.button_texts and "1 sur 3" in sheet.text
    await sam.press(sheet, "P2")
    sheet = await sam.next_message()
    await sam.press(sheet, "P2")  # a second tap: did not come after all
    sheet = await sam.next_message()
    assert "❌ P2" in sheet.button_texts and "1 sur 3" in sheet.text
    assert await count_events(database_url, "attendance") == 2
    await sam.press(sheet, "Retour")
    managed = await sam.next_message()
    assert managed.edited and "3 inscrit·es sur 8" in managed.text
    await sam.press(managed, "Lien et QR code")
    photo = await sam.wait_for(lambda m: m.photo is not None)
    assert photo.photo.startswith(b"\x89PNG")
    assert "https://t.me/plume_test_bot?start=atelier-ws-liseuse" in photo.text
    patron = patrons[0]
    query = await patron.press_data("Wa:t:1:0", patron.last_bot_message)
    answer = await patron.wait_callback_answer(query)
    assert "réservé" in answer["text"]  # patrons cannot mark attendance
    await patron.send("/nouvel_atelier")
    assert "réservé" in (await patron.wait_for("réservé")).text
