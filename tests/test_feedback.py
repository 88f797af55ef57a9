"""Feedback end to end: 👍/👎 and "what was missing?", /avis, the survey, coordinator views."""

from __future__ import annotations

import json

from sqlalchemy import select

import handlers.feedback.ratings as feedback_handlers
from storage.db import create_engine
from storage.models import Feedback
from tests.kit import ADMIN_ID, import_network

COORDINATOR_COMMANDS = (
    "/stats",
    "/stats année",
    "/avis_recus",
    "/sans_reponse",
    "/export",
    "/rapport",
)


async def rows(database_url):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            result = await conn.execute(select(Feedback).order_by(Feedback.id))
            return result.all()
    finally:
        await engine.dispose()


async def coordinator(standin, plume, telegram_id=2900, name="Coralie"):
    users = plume.services.users
    await users.touch(telegram_id, name, "fr")
    admin, _ = await users.touch(ADMIN_ID, "Admin", "fr")
    await users.set_role(admin, telegram_id, "coordinator")
    return standin.user(telegram_id, first_name=name, language_code="fr")


async def test_thumbs_down_offers_a_button_and_takes_only_a_reply_as_the_comment(
    standin, plume, database_url
):
    alice = standin.user(2001, first_name="Alice", language_code="fr")
    await alice.send("jai oublie mon mdp")
    card = await alice.next_message()
    query = await alice.press(card, "👎")
    answer = await alice.wait_callback_answer(query)
    assert answer["text"] == "Merci de nous l'avoir signalé."
    offer = await alice.next_message()
    assert offer.text.startswith("Merci. Voulez-vous nous dire ce qui manquait\u202f?")
    assert offer.button_texts == ["✍ Dire ce qui manquait"]
    # nothing waits for a comment: the next message is a question, answered as one
    await alice.send("vous avez des bd ?")
    answered = await alice.next_message()
    assert not answered.text.startswith("Merci"), answered.text
    await alice.press(offer, "Dire ce qui manquait")
    prompt = await alice.next_message()
    assert prompt.text.startswith("Qu'est-ce qui manquait dans cette réponse\u202f?")
    # a new question typed beside the prompt (not a reply to it) is still answered
    await alice.send("jai oublie mon mdp")
    assert (await alice.next_message()).text.startswith("💡 J'ai oublié mon mot de passe")
    assert [v.comment for v in await rows(database_url)] == [""]
    # the reply to the prompt is the comment, and only it
    await alice.send("Et sur tablette ?", reply_to=prompt)
    thanks = await alice.next_message()
    assert thanks.text.startswith("Merci, l'équipe le lira.")
    await alice.assert_no_message(0.3)  # the remark did not go to the search
    await alice.send("Et sur tablette ?", reply_to=prompt)  # once only: now a question
    assert not (await alice.next_message()).text.startswith("Merci, l'équipe")
    votes = await rows(database_url)
    assert [(v.kind, v.rating, v.comment, v.subject_id) for v in votes] == [
        ("vote", 0, "Et sur tablette ?", "faq-mdp")
    ]
    # voting again changes the vote instead of adding one
    query = await alice.press(card, "👍")
    assert (await alice.wait_callback_answer(query))["text"].startswith("Merci !")
    assert [(v.kind, v.rating) for v in await rows(database_url)] == [("vote", 1)]


async def test_the_comment_button_belongs_to_its_patron(standin, plume, database_url):
    bob = standin.user(2002, first_name="Bob", language_code="en")
    await bob.send("jai oublie mon mdp")
    card = await bob.next_message()
    await bob.press(card, "👎")
    offer = await bob.next_message()
    (vote,) = await rows(database_url)
    mallory = standin.user(2012, first_name="Mallory", language_code="en")
    await mallory.send("/help")
    query = await mallory.press_data(f"F:m:{vote.id}:0", await mallory.next_message())
    answer = await mallory.wait_callback_answer(query)
    assert answer["text"] == "This button is no longer valid."
    await bob.press(offer, "Say what was missing")
    prompt = await bob.next_message()
    assert prompt.text.startswith("What was missing in this answer?")
    await bob.send("/help")  # a command drops the prompt
    await bob.next_message()
    await bob.send("more about tablets", reply_to=prompt)
    assert not (await bob.next_message()).text.startswith("Thank you, the team")
    assert [v.comment for v in await rows(database_url)] == [""]


async def test_forged_vote_and_feedback_buttons(standin, plume, database_url):
    eve = standin.user(2003, first_name="Eve", language_code="en")
    await eve.send("/help")
    message = await eve.next_message()
    for data in ("V:f", "V:f:faq-mdp:7", "F:r:99999:3", "F:s:1:42", "F:c:x:1", "F:zz"):
        query = await eve.press_data(data, message)
        answer = await eve.wait_callback_answer(query)
        assert answer["text"] == "This button is no longer valid." and answer["show_alert"]
    assert await rows(database_url) == []


async def test_avis_with_rating_and_contact(standin, plume, database_url):
    await import_network(database_url)
    carla = standin.user(2004, first_name="Carla", language_code="fr")
    await carla.send("/avis")
    prompt = await carla.next_message()
    assert prompt.text.startswith("Votre avis aide les bibliothèques")
    await carla.send("Il manque des BD pour ados")
    stars = await carla.next_message()
    assert stars.text.startswith("Merci, votre remarque est enregistrée.")
    stored = await rows(database_url)
    assert [(r.kind, r.comment, r.rating) for r in stored] == [
        ("free", "Il manque des BD pour ados", None)
    ]  # written before any thanks
    await carla.press(stars, "★★★★")
    ask = await carla.next_message()
    assert ask.edited and "recontacter" in ask.text
    await carla.press(ask, "Oui, volontiers")
    done = await carla.next_message()
    assert done.text.startswith("Merci pour votre remarque !")
    (row,) = await rows(database_url)
    assert (row.rating, row.contact_ok) == (4, True)

    dan = standin.user(2005, first_name="Dan", language_code="fr")
    await dan.send("/avis Très pratique, merci")
    await dan.press(await dan.next_message(), "Passer")
    await dan.press(await dan.next_message(), "Non merci")
    await dan.next_message()

    coco = await coordinator(standin, plume)
    await coco.send("/avis_recus")
    listing = await coco.next_message()
    assert listing.text.startswith("Derniers commentaires (2)")
    assert "Il manque des BD pour ados" in listing.text and "Très pratique" in listing.text
    links = [e.get("url") for e in listing.raw.get("entities", []) if e["type"] == "text_link"]
    # the author who agreed is named by pseudonym; staff write to them through Plume
    assert links == [] and "recontacté·e : U" in listing.text
    assert "Carla" not in listing.text and "2004" not in listing.text
    assert "Dan" not in listing.text and "2005" not in listing.text
    await coco.press(listing, "★★★★")
    filtered = await coco.next_message()
    assert filtered.edited and "Très pratique" not in filtered.text
    assert "Il manque des BD" in filtered.text
    await coco.send("/avis_recus 5")
    assert "Aucun commentaire ne correspond." in (await coco.next_message()).text


async def test_patrons_get_a_polite_refusal_and_no_data(standin, plume):
    paul = standin.user(2006, first_name="Paul", language_code="fr")
    for command in COORDINATOR_COMMANDS:
        await paul.send(command)
        refusal = await paul.next_message()
        assert refusal.text.startswith("Désolé, c'est réservé au rôle")
        assert refusal.photo is None and refusal.document is None
    for data in ("St:m", "Ar:0:-:-:-"):
        query = await paul.press_data(data, refusal)
        answer = await paul.wait_callback_answer(query)
        assert answer["show_alert"] and answer["text"].startswith("Désolé")
    await paul.assert_no_message(0.3)
    staff = standin.user(2007, first_name="Sam", language_code="fr")
    await plume.services.users.touch(2007, "Sam", "fr")
    admin, _ = await plume.services.users.touch(ADMIN_ID, "Admin", "fr")
    await plume.services.users.set_role(admin, 2007, "staff")
    await staff.send("/rapport")
    assert (await staff.next_message()).text.startswith("Désolé")


async def test_coordinator_stats_report_export_and_unanswered(standin, plume, database_url):
    await import_network(database_url)
    pat = standin.user(2010, first_name="Pat", language_code="fr")
    await pat.send("jai oublie mon mdp")
    await pat.next_message()
    await pat.send("horaires de la piscine municipale")
    await pat.next_message()
    await plume.services.answers.settled()  # a question is logged after its reply
    coco = await coordinator(standin, plume)
    await coco.send("/stats semaine")
    chart = await coco.next_message(timeout=30)  # matplotlib's first import, on a shared machine
    assert chart.photo is not None and chart.photo.startswith(b"\x89PNG")
    figures = await coco.next_message()
    assert figures.text.startswith("<b>Statistiques du") or "Statistiques du" in figures.text
    assert "Questions : 2" in figures.text
    assert figures.button_texts[:4] == ["Semaine", "Mois", "Trimestre", "Année"]
    await coco.press(figures, "Année")
    assert (await coco.next_message()).photo is not None
    assert "Questions : 2" in (await coco.next_message()).text

    await coco.send("/sans_reponse")
    unanswered = await coco.next_message()
    assert "horaires de la piscine municipale" in unanswered.text
    assert "mdp" not in unanswered.text
    assert "— 1 fois" in unanswered.text and "time" not in unanswered.text  # French plural

    await coco.send("/rapport semaine")
    pdf = await coco.next_message(timeout=60)  # WeasyPrint on a shared machine
    assert pdf.file_name.endswith(".pdf") and pdf.document.startswith(b"%PDF-")
    await coco.send("/rapport semaine html")
    report = await coco.next_message()
    assert report.file_name.endswith(".html")
    html = report.document.decode()
    assert "Document synthétique d'évaluation" in html and "Pat" not in html
    await coco.send("/rapport semaine json")
    data = json.loads((await coco.next_message()).document)
    assert data["totals"]["questions"] == 2 and data["totals"]["unanswered"] == 1

    await coco.send("/export semaine")
    files = [await coco.next_message() for _ in range(5)]
    names = [f.file_name for f in files]
    assert [n.split("-")[1] for n in names] == [
        "feedback",
        "usage",
        "workshops",
        "platform_usage",
        "survey",
    ]
    usage = files[1].document.decode("utf-8-sig").splitlines()
    assert usage[0].startswith("day;kind;library_id;media_type;events")
    # no workshop this week: the file still has its header row, and says so in French
    assert files[2].document.decode("utf-8-sig").splitlines() == [
        "id;title;library_id;starts_at;duration_min;capacity;media_type;status;registered;"
        "waiting;attended;participants;ratings;average_rating"
    ]
    assert files[2].text == "Ateliers\u202f: 0 ligne"
    assert files[4].document.decode("utf-8-sig").startswith("bibliothèque;Usagers actifs")
    assert "2010" not in files[0].document.decode("utf-8-sig")

    await coco.send("/stats 2025-13-01")
    assert "Indiquez une période" in (await coco.next_message()).text


async def test_survey_at_most_once_per_period_across_restarts(
    standin, start_plume, database_url, monkeypatch
):
    monkeypatch.setattr(feedback_handlers, "SURVEY_FIRST_SECONDS", 0.2)
    plume = await start_plume()
    assert plume.services.settings.survey_period_days == 0  # off by default
    gina = standin.user(2020, first_name="Gina", language_code="fr")
    await gina.send("/help")
    await gina.next_message()
    await gina.assert_no_message(0.5)
    await plume.stop()

    plume = await start_plume(survey_period_days=30)
    survey = await gina.wait_for("recommanderiez-vous la bibliothèque numérique")
    assert survey.button_texts == [str(n) for n in range(11)]
    await gina.press(survey, "9")
    thanks = await gina.next_message()
    assert thanks.edited and "9/10" in thanks.text
    await plume.stop()

    await start_plume(survey_period_days=30)
    await gina.assert_no_message(0.6)  # already surveyed in this period
    survey_rows = [r for r in await rows(database_url) if r.kind == "survey"]
    assert [(r.rating, r.comment) for r in survey_rows] == [(9, "")]
