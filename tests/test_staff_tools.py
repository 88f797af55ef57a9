"""Staff tools through the real bot: dates typed in every form, /stats periods typed after
"Autres dates…", handover threads, workshops per library, /annonces, one flow at a time."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import event, select

from bot.i18n import translator
from bot.workshops.service import Draft
from storage.db import create_engine
from storage.models import UsageEvent
from tests.kit import ADMIN_ID
from tests.test_broadcast import add_patrons


async def with_role(standin, plume, telegram_id, role, name, language="fr", library=None):
    users = plume.services.users
    await users.touch(telegram_id, name, language)
    admin, _ = await users.touch(ADMIN_ID, "Admin", "fr")
    if role != "patron":
        await users.set_role(admin, telegram_id, role)
    if library:
        assert await users.set_library(telegram_id, library)
    return standin.user(telegram_id, first_name=name, language_code=language)


async def test_a_period_typed_after_other_dates(standin, plume):
    coco = await with_role(standin, plume, 2900, "coordinator", "Coralie")
    await coco.send("/stats semaine")
    await coco.next_message(timeout=30)  # the chart (matplotlib on a loaded machine)
    figures = await coco.next_message()
    await coco.press(figures, "Autres dates…")
    await coco.wait_for("Quelle période")
    await coco.send("du 30 au 1er novembre")
    await coco.wait_for("finit avant de commencer")
    await coco.send("du 1er au 30 novembre 2026")
    chart = await coco.next_message(timeout=30)
    assert chart.photo is not None
    figures = await coco.next_message()
    assert "Statistiques du 1er nov. 2026 au 30 nov. 2026" in figures.text
    await coco.send("jai oublie mon mdp")  # the period is given: back to the search
    answer = await coco.next_message()
    assert "Statistiques" not in answer.text and "période" not in answer.text
    # in English, a month
    cody = await with_role(standin, plume, 2901, "coordinator", "Cody", "en")
    await cody.send("/stats")
    await cody.next_message(timeout=30)
    await cody.press(await cody.next_message(), "Other dates…")
    await cody.wait_for("Which period")
    await cody.send("November 2026 lib-amont")
    await cody.next_message(timeout=30)
    figures = await cody.next_message()
    assert "Statistics from 1 Nov 2026 to 30 Nov 2026" in figures.text
    assert "Médiathèque d'Amont" in figures.text
    # a library by its name, a typo allowed, with the words that go with it
    await coco.send("/stats novembre 2026 médiathèque de Coteaux")
    await coco.next_message(timeout=30)
    figures = await coco.next_message()
    assert "Bibliothèque du Coteau" in figures.text, figures.text
    await coco.send("/stats novembre 2026 zorglub")
    assert "par son nom" in (await coco.next_message()).text


def assert_no_telegram_id(chat, *ids):
    for message in chat.bot_messages:
        shown = message.text + " ".join(message.button_texts)
        for telegram_id in ids:
            assert str(telegram_id) not in shown, shown


async def test_a_network_wide_question_becomes_a_thread(standin, plume):
    lea = await with_role(standin, plume, 2910, "staff", "Léa", library="lib-amont")
    sam = await with_role(standin, plume, 2911, "staff", "Sam", library="lib-coteau")
    gus = await with_role(standin, plume, 2912, "patron", "Gus", library="lib-bas")
    await gus.send("zorglub quantique xqzw")
    sorry = await gus.next_message()
    await gus.press(sorry, "bibliothécaire")
    assert "transmise" in (await gus.next_message()).text
    # Bas has no staff on Plume: the whole network is told, and the notice says so
    for member in (lea, sam):
        notice = await member.wait_for("Question de U")
        assert "tout le réseau" in notice.text and "Bibliothèque de Bas" in notice.text
    sam_notice = sam.last_bot_message
    await sam.send("/questions")
    listed = await sam.wait_for("zorglub")
    assert "tout le réseau" in listed.text
    await lea.send("/questions")
    listed = await lea.wait_for("zorglub")
    await lea.press(listed, "Répondre")  # Léa takes it
    await lea.wait_for("Écrivez votre réponse")
    await sam.send("/questions")  # gone for the others
    assert (await sam.next_message()).text == "Aucune question n'est en attente de réponse."
    query = await sam.press(sam_notice, "Répondre")
    told = (await sam.wait_callback_answer(query))["text"]
    assert "Un autre bibliothécaire (Médiathèque d'Amont) a pris cette question" in told
    await lea.send("Nous ne l'avons pas. Un autre titre vous irait ?")
    sent = await lea.wait_for("Réponse envoyée")
    answer = await gus.next_message()
    assert "Réponse de la bibliothèque</b>" not in answer.text  # rendered, not escaped
    assert "Réponse de la bibliothèque (Médiathèque d'Amont)" in answer.text
    assert "Un autre titre vous irait ?" in answer.text
    # the patron answers; the thread goes on
    await gus.press(answer, "Répondre")
    await gus.wait_for("Écrivez votre réponse à la bibliothèque")
    await gus.send("Oui, un roman policier")
    assert "Envoyé à la bibliothèque" in (await gus.next_message()).text
    follow = await lea.wait_for("répond à propos")
    assert "Oui, un roman policier" in follow.text
    await sam.assert_no_message(0.3)
    await lea.press(follow, "Répondre")
    await lea.wait_for("Écrivez votre réponse")
    await lea.send("Essayez « La Nuit du carrefour »")
    await lea.wait_for("Réponse envoyée")
    second = await gus.next_message()
    assert "La Nuit du carrefour" in second.text
    # the librarian closes it: the patron is told, and the reply button no longer works
    await lea.press(sent, "Clore la conversation")
    await lea.wait_for("Conversation close")
    closed = await gus.wait_for("a clos la conversation")
    assert "Médiathèque d'Amont" in closed.text
    query = await gus.press(second, "Répondre")
    assert "close" in (await gus.wait_callback_answer(query))["text"]
    await gus.send("/annuler")  # nothing open: nothing reaches the library
    await gus.next_message()
    await lea.send("/questions")
    assert (await lea.next_message()).text == "Aucune question n'est en attente de réponse."
    for chat in (lea, sam, gus):
        assert_no_telegram_id(chat, 2910, 2911, 2912)
    # a question that is gone (erased with its patron) is said to be gone, not answered
    query = await lea.press_data("Q:999999", sent)
    assert "n'existe plus" in (await lea.wait_callback_answer(query))["text"]


async def test_a_library_question_stays_with_its_library(standin, plume):
    lea = await with_role(standin, plume, 2920, "staff", "Léa", library="lib-amont")
    sam = await with_role(standin, plume, 2921, "staff", "Sam", library="lib-coteau")
    zoe = await with_role(standin, plume, 2922, "patron", "Zoé", library="lib-amont")
    await zoe.send("zorglub quantique xqzw")
    await zoe.press(await zoe.next_message(), "bibliothécaire")
    await zoe.next_message()
    notice = await lea.wait_for("Question de U")
    assert "réseau" not in notice.text
    await sam.assert_no_message(0.3)
    await sam.send("/questions")
    assert (await sam.next_message()).text == "Aucune question n'est en attente de réponse."
    forged = await sam.press_data(notice.buttons[0][0]["callback_data"], sam.last_bot_message)
    assert "déjà" in (await sam.wait_callback_answer(forged))["text"]
    # the role is withdrawn while the answer is being written: nothing is sent
    await lea.press(notice, "Répondre")
    await lea.wait_for("Écrivez votre réponse")
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await admin.send("/role 2920 patron")
    await admin.wait_for("usager")
    await lea.send("Voici la réponse")
    assert "rien n'a été enregistré ni envoyé" in (await lea.wait_for("ne vous permet plus")).text
    await zoe.assert_no_message(0.3)


async def fill_workshop_form(lea, title="Atelier liseuse"):
    """/nouvel_atelier up to the preview; returns it."""
    await lea.send("/nouvel_atelier")
    await lea.wait_for("titre de l'atelier")
    await lea.send(title)
    await lea.press(await lea.wait_for("Dans quelle bibliothèque"), "Médiathèque d'Amont")
    await lea.wait_for("Date et heure")
    await lea.send("12/03/2030 14h30")
    await lea.wait_for("Quelle durée")
    await lea.send("1h30")
    await lea.wait_for("Combien de places")
    await lea.send("10")
    await lea.wait_for("courte description")
    await lea.send("Pour bien commencer.")
    await lea.press(await lea.wait_for("Quelle partie"), "livres numériques")
    return await lea.wait_for("Aperçu")


async def test_one_flow_at_a_time(standin, plume):
    lea = await with_role(standin, plume, 2930, "staff", "Léa", library="lib-amont")
    gus = await with_role(standin, plume, 2931, "patron", "Gus", library="lib-amont")
    await gus.send("zorglub quantique xqzw")
    await gus.press(await gus.next_message(), "bibliothécaire")
    await gus.next_message()
    notice = await lea.wait_for("Question de U")
    await lea.press(notice, "Répondre")
    await lea.wait_for("Écrivez votre réponse")
    # another flow: the answer is put aside, and the person is told so
    await lea.send("/nouvel_atelier")
    aside = await lea.wait_for("Votre réponse à l'usager n'a pas été envoyée")
    assert "/questions" in aside.text
    await lea.send("Atelier liseuse")  # the form's title, not an answer to Gus
    await lea.wait_for("Dans quelle bibliothèque")
    await gus.assert_no_message(0.5)
    # the announcement composer replaces the form; /annuler ends the composer only
    await lea.send("/annonce")
    await lea.wait_for("formulaire d'atelier")
    await lea.send("/annuler")
    cancelled = await lea.next_message()
    assert "atelier" not in cancelled.text.lower()
    await lea.send("/annuler")
    assert (await lea.next_message()).text == "Il n'y a rien à annuler."
    # the question is still hers: she answers it from /questions
    await lea.send("/questions")
    await lea.wait_for("conversations en cours")
    mine = await lea.wait_for("zorglub")
    await lea.press(mine, "Répondre")
    await lea.wait_for("Écrivez votre réponse")
    await lea.send("Bonjour Gus")
    await lea.wait_for("Réponse envoyée")
    assert "Bonjour Gus" in (await gus.next_message()).text


async def test_a_form_opened_before_the_role_is_withdrawn_cannot_save(standin, plume):
    lea = await with_role(standin, plume, 2940, "staff", "Léa", library="lib-amont")
    preview = await fill_workshop_form(lea, "Atelier jamais enregistré")
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await admin.send("/role 2940 patron")
    await admin.wait_for("usager")
    await lea.press(preview, "Enregistrer")
    refused = await lea.wait_for("ne vous permet plus")
    assert "rien n'a été enregistré" in refused.text
    titles = [view.title for view in await plume.services.workshops.for_staff()]
    assert "Atelier jamais enregistré" not in titles and "Prendre en main sa liseuse" in titles
    await lea.send("un autre titre")  # the form is over: this is a question again
    assert "Aperçu" not in (await lea.next_message()).text


def workshop_draft(title, starts_at, library="lib-amont", minutes=60):
    return Draft(
        title=title,
        library_id=library,
        starts_at=starts_at,
        duration_min=minutes,
        capacity=10,
        description="",
        media_type="ebook",
        media_set=True,
    )


async def test_old_workshop_buttons_act_only_while_they_make_sense(standin, plume):
    workshops = plume.services.workshops
    now = dt.datetime.now(dt.UTC)
    begun = await workshops.create(workshop_draft("Commencé", now - dt.timedelta(minutes=10)))
    over = await workshops.create(workshop_draft("Fini", now - dt.timedelta(hours=3)))
    ida = await with_role(standin, plume, 2950, "patron", "Ida")
    person, _ = await plume.services.users.touch(2950, "Ida", "fr")
    for view in (begun, over):
        registered = await workshops.register(view.id, person.id, now=now - dt.timedelta(days=1))
        assert registered.outcome == "registered"
    sheet = await workshops.registrants(over.id)
    await workshops.set_attendance(sheet[0].registration_id, True)
    await ida.send("/aide")
    old = await ida.next_message()
    query = await ida.press_data(f"W:x:{begun.id}", old)  # "Je ne viendrai pas", too late
    assert "a déjà commencé" in (await ida.wait_callback_answer(query))["text"]
    query = await ida.press_data(f"W:u:{over.id}", old)
    assert "est terminé" in (await ida.wait_callback_answer(query))["text"]
    query = await ida.press_data(f"W:x:{over.id}", old)
    assert "est terminé" in (await ida.wait_callback_answer(query))["text"]
    for view in (begun, over):
        assert (await workshops.enrollment(view.id, person.id)).status == "registered"
    attended = await workshops.registrants(over.id)
    assert [(r.status, r.attended) for r in attended] == [("registered", True)]


async def test_staff_manage_their_own_library_and_lists_go_by_date(standin, plume):
    workshops = plume.services.workshops
    paris = dt.timezone(dt.timedelta(hours=1))
    await workshops.create(workshop_draft("Janvier", dt.datetime(2031, 1, 3, 10, tzinfo=paris)))
    await workshops.create(workshop_draft("Décembre", dt.datetime(2030, 12, 6, 10, tzinfo=paris)))
    lea = await with_role(standin, plume, 2960, "staff", "Léa", library="lib-amont")
    await lea.send("/ateliers_gestion")
    listing = await lea.wait_for("Ateliers")
    labels = [label for label in listing.button_texts if "·" in label]
    assert labels == [
        "9 mars 2030 · Médiathèque d'Amont · Prendre en main sa liseuse",
        "6 déc. 2030 · Médiathèque d'Amont · Décembre",
        "3 janv. 2031 · Médiathèque d'Amont · Janvier",
    ]
    # another library's workshop: not hers to edit or cancel, whatever the button
    for data in ("Wa:c:ws-presse", "Wa:e:ws-presse", "Wa:K:ws-presse", "Wa:r:ws-presse"):
        query = await lea.press_data(data, listing)
        told = (await lea.wait_callback_answer(query))["text"]
        assert "gérés par leur bibliothèque (Bibliothèque de Bas)" in told, told
    assert not (await workshops.get("ws-presse")).cancelled
    coco = await with_role(standin, plume, 2961, "coordinator", "Coralie")
    await coco.send("/ateliers_gestion")
    listing = await coco.wait_for("Ateliers")
    labels = [label for label in listing.button_texts if "·" in label]
    assert [label.split(" · ")[2] for label in labels] == [
        "Prendre en main sa liseuse",
        "Lire la presse sur tablette",
        "Décembre",
        "Janvier",
    ]
    await coco.press(listing, "Lire la presse")
    card = await coco.wait_for("Lire la presse sur tablette")
    assert "Modifier" in " ".join(card.button_texts)
    # a staff member without a library is asked to choose one
    sam = await with_role(standin, plume, 2962, "staff", "Sam")
    await sam.send("/nouvel_atelier")
    assert "/parametres" in (await sam.next_message()).text


async def test_workshops_list_is_one_message_with_pages_and_cards(standin, plume):
    workshops = plume.services.workshops
    paris = dt.timezone(dt.timedelta(hours=1))
    for day in range(1, 6):
        start = dt.datetime(2031, 2, day, 10, tzinfo=paris)
        await workshops.create(workshop_draft(f"Atelier {day}", start, "lib-bas"))
    ida = await with_role(standin, plume, 2970, "patron", "Ida", library="lib-bas")
    await ida.send("/ateliers")
    listing = await ida.next_message()
    assert "7 ateliers à venir" in listing.text and "Page 1 sur 2" in listing.text
    assert listing.button_texts == ["1", "2", "3", "4", "5", "Suivantes ▶"]
    await ida.assert_no_message(0.3)  # one message, not one per workshop
    await ida.press(listing, "Suivantes")
    second = await ida.next_message()
    assert second.edited and second.message_id == listing.message_id
    assert "Page 2 sur 2" in second.text and "Bibliothèque de Bas" in second.text
    assert second.button_texts == ["6", "7", "◀ Précédentes"]
    await ida.press(second, "7")
    card = await ida.next_message()
    assert not card.edited and "Je m'inscris" in " ".join(card.button_texts)
    await ida.press(card, "Je m'inscris")
    assert "Vous êtes inscrit" in (await ida.next_message()).text
    await ida.send("/workshops")  # the English name
    listing = await ida.next_message()
    assert "7 ateliers à venir" in listing.text and "✅" not in listing.text
    await ida.press(listing, "Suivantes")
    assert "7. Prendre en main sa liseuse ✅" in (await ida.next_message()).text


async def test_annonces_lists_drafts_scheduled_sending_and_sent(standin, plume, database_url):
    await add_patrons(database_url, [2981, 2982], ["media:ebook", "news"])
    service = plume.services.announcements
    # an import's new-title draft, made before any of these staff members existed (the
    # staff present are shown it too, through the outbox, at a message a second a chat)
    (draft_id,) = await service.create_new_item_drafts(
        {"ebook": ["Le Titre neuf"]}, translator("fr")
    )
    new_titles = f"n° {draft_id} — les personnes abonnées à « Nouveaux livres numériques"
    lea = await with_role(standin, plume, 2980, "staff", "Léa", library="lib-amont")
    nora = await with_role(standin, plume, 2983, "staff", "Nora", library="lib-bas")
    # Léa begins an announcement, counts of the audience screen read in one statement
    statements: list[str] = []

    def seen(conn, cursor, statement, *args):
        statements.append(statement)

    engine = plume.services.engine.sync_engine
    await lea.send("/annonce")
    await lea.wait_for("Nouvelle annonce", timeout=15)
    event.listen(engine, "before_cursor_execute", seen)
    try:
        await lea.send("Fermeture exceptionnelle lundi")
        audience = await lea.wait_for("À qui l'envoyer", timeout=15)
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert "(2)" in " ".join(audience.button_texts)
    # the screen's several counts are one statement (columns a0, a1…); meanwhile the outbox
    # may count its own rows and a draft's notice its one audience: those are not the screen's
    screen = [s for s in statements if "count(" in s.lower() and " AS a1" in s]
    per_audience = [s for s in statements if "subscriptions" in s and " AS a" not in s]
    assert len(screen) == 1 and per_audience == [], statements
    await lea.send("/nouvel_atelier")  # her draft is put aside, kept in /annonces
    await lea.wait_for("brouillon déjà enregistré reste dans /annonces", timeout=15)
    await lea.send("/annuler")
    await lea.wait_for("rien n'a été enregistré", timeout=15)
    await lea.send("/annonces")
    listing = await lea.wait_for("Brouillons", timeout=15)
    assert new_titles in listing.text and "Fermeture exceptionnelle" in listing.text
    assert "2 destinataires" in listing.text
    # Nora, who was not there at the import, sees the new-title draft, not Léa's own
    await nora.send("/annonces")
    listing = await nora.wait_for("Brouillons", timeout=15)
    assert new_titles in listing.text and "Fermeture" not in listing.text
    await nora.press(listing, f"Ouvrir n° {draft_id}")
    await nora.wait_for("Le Titre neuf", timeout=15)
    card = await nora.wait_for("Aperçu", timeout=15)
    await nora.press(card, "Envoyer maintenant")
    await nora.wait_for("est envoyée", timeout=15)
    await lea.send("/annonces")
    listing = await lea.wait_for("Envoyées récemment", timeout=15)
    drafts, sent = listing.text.split("Envoyées récemment")
    assert new_titles not in drafts and "Fermeture exceptionnelle" in drafts
    assert "2 personnes touchées" in sent and new_titles in sent
    assert f"Ouvrir n° {draft_id}" not in listing.button_texts


async def test_nothing_typed_inside_a_flow_is_logged_as_a_question(standin, plume, database_url):
    """Titles, dates, durations, places and periods typed in staff forms, the refused ones
    included, are the form's (each prompt follows the last, none answered by the search),
    and nothing staff type is logged as a patron question (issue 10, point 2)."""
    lea = await with_role(standin, plume, 2960, "staff", "Léa", library="lib-amont")
    await lea.send("/nouvel_atelier")
    await lea.wait_for("titre de l'atelier")
    await lea.send("Jeux vidéo en famille")
    await lea.press(await lea.wait_for("Dans quelle bibliothèque"), "Amont")
    await lea.wait_for("Date et heure")
    await lea.send("bientôt")  # refused: the form asks again, the search never sees it
    await lea.wait_for("Je n’ai pas compris cette date")
    await lea.send("demain")
    await lea.wait_for("Précisez aussi l’heure")
    in_a_month = dt.datetime.now(dt.UTC).astimezone().date() + dt.timedelta(days=30)
    await lea.send(f"{in_a_month:%d/%m/%Y} 10h00")
    await lea.wait_for("Quelle durée")
    await lea.send("2 h")
    await lea.wait_for("Combien de places")
    await lea.send("beaucoup")
    await lea.wait_for("entre 1 et 1000")
    await lea.send("12")
    await lea.wait_for("courte description")
    await lea.send("Dès 7 ans, venez jouer en famille.")
    await lea.press(await lea.wait_for("Quelle partie"), "jeux vidéo")
    await lea.press(await lea.wait_for("Aperçu"), "Enregistrer")
    await lea.wait_for("Atelier enregistré")
    coco = await with_role(standin, plume, 2961, "coordinator", "Coralie")
    await coco.send("/stats semaine")
    await coco.next_message(timeout=30)  # the chart
    await coco.press(await coco.next_message(), "Autres dates…")
    await coco.wait_for("Quelle période")
    await coco.send("du 30 au 1er novembre")  # refused, asked again
    await coco.wait_for("finit avant de commencer")
    await coco.send("novembre 2026")
    await coco.next_message(timeout=30)
    await coco.next_message()
    # staff's own questions are not patrons' either; a patron's question is logged
    await lea.send("jai oublie mon mdp")
    await lea.wait_for("mot de passe")
    gus = await with_role(standin, plume, 2962, "patron", "Gus", library="lib-amont")
    await gus.send("vous avez des bd ?")
    await gus.next_message()
    await plume.services.answers.settled()
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            logged = (
                await conn.execute(select(UsageEvent.query).where(UsageEvent.kind == "question"))
            ).scalars().all()  # fmt: skip
    finally:
        await engine.dispose()
    assert len(logged) == 1 and "bd" in (logged[0] or ""), logged


async def test_a_long_answer_to_a_question_reaches_the_patron_whole(standin, plume):
    """Quoted together, the question and a librarian's long answer are more than Telegram
    takes in one message: the patron gets them in two, in order, nothing lost."""
    lea = await with_role(standin, plume, 2930, "staff", "Léa", library="lib-amont")
    ana = await with_role(standin, plume, 2931, "patron", "Ana", library="lib-amont")
    await ana.send("zorglub quantique xqzw " * 40)
    await ana.press(await ana.next_message(), "bibliothécaire")
    await ana.wait_for("transmise")
    notice = await lea.wait_for("Question de U")
    await lea.press(notice, "Répondre")
    await lea.wait_for("Écrivez votre réponse")
    answer = " ".join(f"Étape {n} : ouvrez l'application & suivez le guide." for n in range(80))
    assert 3800 < len(answer) <= 4096
    await lea.send(answer)
    await lea.wait_for("Réponse envoyée")
    header = await ana.wait_for("Réponse de la bibliothèque")
    assert "zorglub" in header.text and "Étape" not in header.text
    body = await ana.next_message()
    assert body.text == answer and body.button_texts == ["↩️ Répondre"]
    await ana.assert_no_message(0.3)


async def test_a_question_opened_then_cancelled_goes_back_to_the_others(standin, plume):
    """ "✍️ Répondre", then /annuler before writing: the question is not locked to that
    librarian; a colleague can take it."""
    lea = await with_role(standin, plume, 2940, "staff", "Léa", library="lib-amont")
    sam = await with_role(standin, plume, 2941, "staff", "Sam", library="lib-coteau")
    gus = await with_role(standin, plume, 2942, "patron", "Gus", library="lib-bas")
    await gus.send("zorglub quantique xqzw")
    await gus.press(await gus.next_message(), "bibliothécaire")
    lea_notice = await lea.wait_for("Question de U")
    sam_notice = await sam.wait_for("Question de U")
    await lea.press(lea_notice, "Répondre")
    await lea.wait_for("Écrivez votre réponse")
    await lea.send("/annuler")
    assert "de nouveau dans /questions" in (await lea.next_message()).text
    await sam.press(sam_notice, "Répondre")  # Sam may take it now
    await sam.wait_for("Écrivez votre réponse")
    await sam.send("Nous regardons cela.")
    await sam.wait_for("Réponse envoyée")
    assert "Nous regardons cela." in (await gus.wait_for("Réponse de la bibliothèque")).text
