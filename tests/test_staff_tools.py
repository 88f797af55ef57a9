"""Staff tools through the real bot: dates typed in every form, /stats periods typed after
"Autres dates…", handover threads, workshops per library, /annonces, one flow at a time."""

from __future__ import annotations

from tests.kit import ADMIN_ID


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
    await coco.next_message()  # the chart
    figures = await coco.next_message()
    await coco.press(figures, "Autres dates…")
    await coco.wait_for("Quelle période")
    await coco.send("du 30 au 1er novembre")
    await coco.wait_for("finit avant de commencer")
    await coco.send("du 1er au 30 novembre 2026")
    chart = await coco.next_message()
    assert chart.photo is not None
    figures = await coco.next_message()
    assert "Statistiques du 1 nov. 2026 au 30 nov. 2026" in figures.text
    await coco.send("jai oublie mon mdp")  # the period is given: back to the search
    answer = await coco.next_message()
    assert "Statistiques" not in answer.text and "période" not in answer.text
    # in English, a month
    cody = await with_role(standin, plume, 2901, "coordinator", "Cody", "en")
    await cody.send("/stats")
    await cody.next_message()
    await cody.press(await cody.next_message(), "Other dates…")
    await cody.wait_for("Which period")
    await cody.send("November 2026 lib-amont")
    await cody.next_message()
    figures = await cody.next_message()
    assert "Statistics from Nov 1, 2026 to Nov 30, 2026" in figures.text


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
    assert "retiré" in (await lea.wait_for("rôle")).text
    await zoe.assert_no_message(0.3)
