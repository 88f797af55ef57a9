"""Staff tools through the real bot: dates typed in every form, /stats periods typed after
"Autres dates…", handover threads, workshops per library, /annonces, one flow at a time."""

from __future__ import annotations

from tests.kit import ADMIN_ID


async def with_role(standin, plume, telegram_id, role, name, language="fr", library=None):
    users = plume.services.users
    person, _ = await users.touch(telegram_id, name, language)
    admin, _ = await users.touch(ADMIN_ID, "Admin", "fr")
    if role != "patron":
        await users.set_role(admin, telegram_id, role)
    if library:
        assert await users.set_library(person.id, library)
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
