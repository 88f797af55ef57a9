"""Staff announcements end to end: /annonce, preview, sending, Stop, scheduling, restarts,
new-title drafts — through the real bot, over HTTP, against the Bot API stand-in."""

from __future__ import annotations

import asyncio
import datetime as dt
import shutil

import pytest
from sqlalchemy import func, insert, select, update

import handlers.announcements.compose as announcements_feature
from bot.announcements.service import draft_new_titles
from bot.importer.service import Importer
from storage.db import create_engine
from storage.models import Announcement, Subscription, User, utcnow
from storage.outbox import OutboxMessage
from tests.kit import ADMIN_ID, NETWORK, import_network
from tests.standin.standin_helpers import tiny_png


async def add_patrons(database_url, telegram_ids, topics, *, library=None, language="fr"):
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                insert(User),
                [
                    {
                        "telegram_id": tid,
                        "first_name": f"P{tid}",
                        "language": language,
                        "library_id": library,
                        "onboarded": True,
                    }
                    for tid in telegram_ids
                ],
            )
            ids = (
                await conn.scalars(select(User.id).where(User.telegram_id.in_(telegram_ids)))
            ).all()
            await conn.execute(
                insert(Subscription), [{"user_id": u, "topic": t} for u in ids for t in topics]
            )
    finally:
        await engine.dispose()


async def scalar(database_url, query):
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(query)
    finally:
        await engine.dispose()


async def compose(staff, text, audience_button, *, photo=None):
    """/annonce → text (or ``photo`` with ``text`` as its caption) → audience; returns
    (preview, card)."""
    await staff.send("/annonce")
    await staff.wait_for("Nouvelle annonce")
    if photo is None:
        await staff.send(text)
    else:
        await staff.send_photo(photo, caption=text)
    audience = await staff.wait_for("À qui l'envoyer")
    await staff.press(audience, audience_button)
    await staff.wait_for("Destinataires")  # the audience message, edited
    preview = await staff.next_message()
    card = await staff.wait_for("Aperçu")
    return preview, card


async def test_staff_broadcast_reaches_subscribers_once_and_text_arrives_intact(
    standin, plume, database_url
):
    await add_patrons(database_url, [4001, 4002, 4003], ["news"])
    await add_patrons(database_url, [4004], ["media:ebook"])  # not a news subscriber
    blocked = standin.user(4003)
    blocked.block_bot()
    staff = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    text = "<b>50% off < today & tomorrow"
    preview, card = await compose(staff, text, "Abonnés aux actualités")
    assert preview.text == text  # exactly as recipients will see it
    assert preview.button_texts == ["🔕 Ne plus recevoir ces annonces"]
    assert "3 destinataires" in card.text
    assert "📤 Envoyer maintenant" in card.button_texts
    await staff.press(card, "Envoyer maintenant")
    status = await staff.wait_for("envoi en cours")
    assert status.message_id == card.message_id
    report = await staff.wait_for("est envoyée", timeout=10)
    assert "2 personnes touchées" in report.text
    assert "1 personne a bloqué Plume" in report.text
    final = standin.backend.chats[ADMIN_ID].messages[card.message_id]
    assert "envoyée" in final["text"] and "Envoyés : 2" in final["text"]

    for tid in (4001, 4002):
        messages = standin.user(tid).bot_messages
        assert [m.text for m in messages] == [text]
        assert messages[0].button_texts == ["🔕 Ne plus recevoir ces annonces"]
    assert standin.user(4004).bot_messages == []
    assert blocked.bot_messages == []
    assert (
        await scalar(database_url, select(User.reachable).where(User.telegram_id == 4003)) is False
    )
    assert await scalar(database_url, select(Announcement.state)) == "done"
    # a second press on the old card sends nothing
    answer = await staff.wait_callback_answer(
        await staff.press_data(card.buttons[0][0]["callback_data"], card)
    )
    assert "déjà été envoyée" in answer["text"]
    await asyncio.sleep(0.2)
    assert len(standin.user(4001).bot_messages) == 1


async def test_stop_button_unsubscribes_in_one_tap(standin, plume, database_url):
    await add_patrons(database_url, [4101], ["news", "media:video"])
    staff = standin.user(ADMIN_ID, language_code="fr")
    _, card = await compose(staff, "Soirée ciné vendredi", "Nouveaux films")
    await staff.press(card, "Envoyer maintenant")
    await staff.wait_for("est envoyée", timeout=10)
    patron = standin.user(4101)
    announcement = await patron.next_message()
    query = await patron.press(announcement, "Ne plus recevoir")
    assert (await patron.wait_callback_answer(query))["text"] == "Désabonnement effectué."
    confirmation = await patron.wait_for("vous ne recevrez plus")
    assert "« Nouveaux films »" in confirmation.text
    topics = await scalar(
        database_url,
        select(func.count()).select_from(Subscription).where(Subscription.topic == "media:video"),
    )
    assert topics == 0
    assert (
        await scalar(
            database_url,
            select(func.count()).select_from(Subscription).where(Subscription.topic == "news"),
        )
        == 1
    )


async def test_photo_with_caption_and_patrons_cannot_announce(standin, plume, database_url):
    await add_patrons(database_url, [4201], ["news"], language="en")
    patron = standin.user(4299, language_code="fr")
    await patron.send("/annonce")
    assert "réservé au rôle « bibliothécaire »" in (await patron.next_message()).text
    staff = standin.user(ADMIN_ID, language_code="fr")
    _, card = await compose(
        staff, "Nouvelle affiche <3", "Abonnés aux actualités", photo=tiny_png()
    )
    await staff.press(card, "Envoyer maintenant")
    await staff.wait_for("est envoyée", timeout=10)
    received = standin.user(4201).bot_messages
    assert len(received) == 1 and received[0].photo == tiny_png()
    assert received[0].text == "Nouvelle affiche <3"
    assert received[0].button_texts == ["🔕 Stop these announcements"]  # their language


async def test_editing_the_text_keeps_the_photo_until_it_is_removed(standin, plume, database_url):
    await add_patrons(database_url, [4211], ["news"])
    staff = standin.user(ADMIN_ID, language_code="fr")
    _, card = await compose(staff, "Affiche du salon", "Abonnés aux actualités", photo=tiny_png())
    await staff.press(card, "Modifier le texte")
    prompt = await staff.wait_for("nouveau texte")
    assert "la photo ou le document reste" in prompt.text
    await staff.send("Salon du livre samedi, entrée libre")
    preview = await staff.next_message()
    assert preview.photo == tiny_png() and preview.text == "Salon du livre samedi, entrée libre"
    card = await staff.wait_for("Aperçu")
    # a text longer than a caption holds is refused while the photo is there
    await staff.press(card, "Modifier le texte")
    prompt = await staff.wait_for("nouveau texte")
    await staff.send("x" * 1100)
    assert "1 024 caractères" in (await staff.next_message()).text
    await staff.press(prompt, "Retirer la photo")
    preview = await staff.wait_for("Salon du livre")  # its button gone, the prompt stays
    assert preview.photo is None and preview.text == "Salon du livre samedi, entrée libre"
    await staff.press(await staff.wait_for("Aperçu"), "Envoyer maintenant")
    await staff.wait_for("est envoyée", timeout=10)
    received = standin.user(4211).bot_messages
    assert [(m.photo, m.text) for m in received] == [(None, "Salon du livre samedi, entrée libre")]


async def test_schedule_survives_a_restart_and_can_be_cancelled(
    standin, plume, start_plume, database_url
):
    await add_patrons(database_url, [4301], ["news"])
    staff = standin.user(ADMIN_ID, language_code="fr")
    _, card = await compose(staff, "Fermeture exceptionnelle lundi", "Abonnés aux actualités")
    await staff.press(card, "Programmer")
    await staff.wait_for("Quand faut-il l'envoyer")
    await staff.send("demain 9h")
    assert "sera envoyée le" in (await staff.wait_for("sera envoyée")).text
    await plume.stop()
    plume = await start_plume()
    await staff.send("/annonces")
    listing = await staff.wait_for("Annonces programmées")
    assert "Fermeture exceptionnelle lundi" in listing.text
    jobs = plume.application.job_queue.get_jobs_by_name("announcement-1")
    assert len(jobs) == 1  # re-armed from the database
    await staff.press(listing, "Annuler n° 1")
    await staff.wait_for("annulée")
    assert await scalar(database_url, select(Announcement.state)) == "cancelled"
    await staff.send("/annonces")
    assert "Aucune annonce" in (await staff.wait_for("Aucune")).text
    assert standin.user(4301).bot_messages == []


async def test_due_while_stopped_is_sent_after_the_restart(
    standin, plume, start_plume, database_url
):
    await add_patrons(database_url, [4401, 4402], ["events"], library="lib-bas")
    services = plume.services
    author = await services.users.touch(ADMIN_ID, "Ada", "fr")
    draft = await services.announcements.create_draft(
        author_id=author[0].id, text="Heure du conte samedi", audience="library:lib-bas"
    )
    await services.announcements.schedule(draft.id, utcnow() + dt.timedelta(seconds=1), ADMIN_ID)
    await plume.stop()
    await asyncio.sleep(1.2)
    await start_plume()
    for tid in (4401, 4402):
        message = await standin.user(tid).next_message(timeout=10)
        assert message.text == "Heure du conte samedi"
    staff = standin.user(ADMIN_ID)
    await staff.wait_for("est envoyée", timeout=10)


async def test_resumes_after_a_crash_without_resending(standin, plume, start_plume, database_url):
    ids = list(range(4500, 4520))
    await add_patrons(database_url, ids, ["news"])
    services = plume.services
    draft = await services.announcements.create_draft(author_id=None, text="Reprise")
    await plume.stop()
    # what a crash leaves: the queue built, 8 sent, 2 claimed ("sending"), 10 pending
    await services_start(database_url, draft.id)
    await start_plume()
    for tid in ids[8:]:
        assert (await standin.user(tid).next_message(timeout=10)).text == "Reprise"
    for tid in ids[:8]:
        assert standin.user(tid).bot_messages == []
    deadline = asyncio.get_running_loop().time() + 10
    while await scalar(database_url, select(Announcement.state)) != "done":
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.05)
    sent = await scalar(
        database_url,
        select(func.count())
        .select_from(OutboxMessage)
        .where(
            OutboxMessage.campaign == f"announcement:{draft.id}", OutboxMessage.state == "sent"
        ),
    )
    assert sent == 20


async def services_start(database_url, announcement_id):
    from bot.announcements.service import AnnouncementService
    from storage.db import session_factory

    engine = create_engine(database_url)
    try:
        service = AnnouncementService(session_factory(engine))
        await service.start_sending(announcement_id, lambda language, topic: None)
        async with engine.begin() as conn:
            O = OutboxMessage  # noqa: E741
            rows = (await conn.scalars(select(O.id).order_by(O.id))).all()
            await conn.execute(update(O).where(O.id.in_(rows[:8])).values(state="sent"))
            await conn.execute(  # claimed by an instance that died
                update(O)
                .where(O.id.in_(rows[8:10]))
                .values(state="sending", claimed_by="dead:1:x", claimed_until=utcnow())
            )
    finally:
        await engine.dispose()


async def test_cancel_a_running_broadcast(standin, plume, database_url, monkeypatch):
    monkeypatch.setattr(plume.application.broadcasts, "status_every", 0.3)
    ids = list(range(4600, 4900))  # 10 s of sends at 30/s
    await add_patrons(database_url, ids, ["news"])
    staff = standin.user(ADMIN_ID, language_code="fr")
    _, card = await compose(staff, "Longue liste", "Abonnés aux actualités")
    await staff.press(card, "Envoyer maintenant")
    await staff.wait_for("envoi en cours")
    status = await staff.wait_for("Restants", timeout=10)
    await staff.press(status, "Annuler l'envoi")
    final = await staff.wait_for("annulée", timeout=10)
    assert "Non envoyés" in final.text
    await asyncio.sleep(0.5)
    reached = sum(len(standin.user(t).bot_messages) for t in ids)
    assert 0 < reached < 300
    assert await scalar(database_url, select(Announcement.state)) == "cancelled"


@pytest.fixture
def quick_tick(monkeypatch):
    monkeypatch.setattr(announcements_feature, "TICK_SECONDS", 0.3)


async def test_new_titles_are_drafted_for_staff_and_sent_only_once_approved(
    standin, quick_tick, start_plume, database_url, tmp_path
):
    await import_network(database_url)
    await add_patrons(database_url, [4801, 4802], ["media:ebook"])
    await add_patrons(database_url, [4803], ["media:video"])
    plume = await start_plume()
    staff = standin.user(ADMIN_ID, language_code="fr")
    await staff.send("/whoami")  # known to Plume, so told about drafts
    await staff.wait_for("identifiant")

    folder = tmp_path / "update"
    folder.mkdir()
    shutil.copy(NETWORK / "resources.csv", folder / "resources.csv")
    (folder / "items.csv").write_text(
        "id,resource_id,media_type,title,creator\n"
        "new-1,res-ebooks,ebook,Les <Misérables> & co,Hugo\n"
        "new-2,res-ebooks,ebook,Vingt mille lieues,Verne\n",
        encoding="utf-8",
    )
    engine = create_engine(database_url)
    try:
        report = await Importer(engine).run(folder, progress=False)
        drafts = await draft_new_titles(
            engine, report.added_titles, "fr", "Europe/Paris", first_import=False
        )
    finally:
        await engine.dispose()
    assert len(drafts) == 1
    await staff.wait_for("De nouveaux titres ont été importés", timeout=10)
    draft = await staff.next_message()
    assert "Nouveaux livres numériques" in draft.text and "Les <Misérables> & co" in draft.text
    card = await staff.wait_for("Aperçu")
    assert "2 destinataires" in card.text
    await asyncio.sleep(0.5)
    assert standin.user(4801).bot_messages == []  # nothing without approval

    await staff.press(card, "Modifier le texte")
    await staff.wait_for("nouveau texte")
    await staff.send("Deux nouveautés : Hugo et Verne !")
    preview = await staff.next_message()
    assert preview.text == "Deux nouveautés : Hugo et Verne !"
    card = await staff.wait_for("Aperçu")
    await staff.press(card, "Envoyer maintenant")
    await staff.wait_for("est envoyée", timeout=10)
    for tid in (4801, 4802):
        assert [m.text for m in standin.user(tid).bot_messages] == [
            "Deux nouveautés : Hugo et Verne !"
        ]
    assert standin.user(4803).bot_messages == []
    await staff.assert_no_message(0.8)  # the draft is not shown twice
    assert plume.services is not None
