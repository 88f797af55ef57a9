"""Privacy by design (issue 13): the notice, /mes_donnees, /oublier, retention, coverage.

The erasure test scans every table and column of the database for anything of the erased
person (Telegram id, first name, what they typed, their internal id in columns referring to
users) and checks that the report's figures did not move.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import replace as dt_replace
from zoneinfo import ZoneInfo

from sqlalchemy import Column, ForeignKey, Integer, MetaData, String, Table, insert, select
from sqlalchemy import update as sql_update

from bot.privacy.coverage import ERASED_TEXT, POLICIES, uncovered
from bot.privacy.masking import mask
from bot.stats.period import Period
from storage.db import create_engine
from storage.models import Base, Registration, User, Workshop
from tests.kit import ADMIN_ID

TZ = ZoneInfo("Europe/Paris")
ZOE = 8123456789  # larger than 32 bits: stored as BIGINT everywhere it goes
ZOE_NAME = "Zéphyrine"
SECRET_WORDS = ("zorglubien", "xylophonique", "quintessencier")


async def onboard(standin, telegram_id, name, library="Bibliothèque de Bas", language="fr"):
    person = standin.user(telegram_id, first_name=name, language_code=language)
    await person.send("/start")
    await person.next_message()
    await person.press(await person.next_message(), library)
    question = await person.wait_for("Quelles annonces" if language == "fr" else "Which ann")
    return person, question


async def scan(database_url, needles, user_ids):
    """Every (table.column, value) of the database holding one of ``needles`` (text, in any
    column as text) or one of ``user_ids`` (in a column referring to users)."""
    engine = create_engine(database_url)
    found = []
    try:
        async with engine.connect() as conn:
            for table in Base.metadata.sorted_tables:
                person_columns = {
                    c.name
                    for c in table.columns
                    if any(fk.column.table.name == "users" for fk in c.foreign_keys)
                }
                if table.name == "users":
                    person_columns.add("id")
                for row in await conn.execute(select(table)):
                    for name, value in row._mapping.items():
                        if value is None:
                            continue
                        if name in person_columns and value in user_ids:
                            found.append((f"{table.name}.{name}", value))
                        if isinstance(value, str | bytes):  # JSON, text: anywhere inside
                            text = value if isinstance(value, str) else value.decode("latin-1")
                            if any(needle in text for needle in needles):
                                found.append((f"{table.name}.{name}", value))
                        elif str(value) in needles:  # a number: the whole value
                            found.append((f"{table.name}.{name}", value))
    finally:
        await engine.dispose()
    return found


def report_figures(figures):
    """What an erasure must never change: the report's totals and per-group counts."""
    return {
        "totals": figures.totals,
        "by_media": figures.by_media,
        "by_library": figures.by_library,
        "active": figures.active,
        "feedback": figures.feedback,
        "workshops": [
            (w.id, w.registered, w.waiting, w.attended, w.attendance_known, w.ratings)
            for w in figures.workshops
        ],
    }


async def past_workshop_with(database_url, telegram_id):
    """A workshop held last week, the person registered and present (set up in the database:
    the bot refuses registrations to a workshop that has begun)."""
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            user_id = await conn.scalar(select(User.id).where(User.telegram_id == telegram_id))
            await conn.execute(
                insert(Workshop).values(
                    id="ws-passe",
                    library_id="lib-bas",
                    title="Atelier passé",
                    starts_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=7),
                    duration_min=60,
                    capacity=5,
                    cancelled=False,
                    created_at=dt.datetime.now(dt.UTC),
                    updated_at=dt.datetime.now(dt.UTC),
                )
            )
            await conn.execute(
                insert(Registration).values(
                    workshop_id="ws-passe",
                    user_id=user_id,
                    status="registered",
                    attended=True,
                    created_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=8),
                )
            )
            return user_id
    finally:
        await engine.dispose()


async def test_the_notice_at_first_start_and_on_request(standin, plume):
    zoe = standin.user(ZOE, first_name=ZOE_NAME, language_code="fr")
    await zoe.send("/start")
    greeting = await zoe.next_message()
    assert greeting.text.startswith(f"Bonjour {ZOE_NAME}")
    assert "Vos données" in greeting.text and "/oublier" in greeting.text
    assert "/mes_donnees" in greeting.text and "365\u00a0jours" in greeting.text
    picker = await zoe.next_message()
    await zoe.press(greeting, "Notice de confidentialité complète")
    full = await zoe.next_message()
    for part in ("Responsable", "mission d'intérêt public", "CNIL", "120\u00a0jours"):
        assert part in full.text, part
    await zoe.press(picker, "Bibliothèque de Bas")
    await zoe.wait_for("Quelles annonces")
    await zoe.send("/start")  # not a new patron any more: no notice
    assert "Vos données" not in (await zoe.next_message()).text
    bob = standin.user(8200, first_name="Bob", language_code="en")
    await bob.send("/privacy")
    notice = await bob.next_message()
    assert notice.text.startswith("🔒 Your data") and "/mydata" in notice.text
    assert "dpo@departement.example.fr" in notice.text


async def test_notice_names_the_controller_from_settings(standin, start_plume, database_url):
    await start_plume(controller_name="Département du Pas-de-Calais", dpo_contact="dpo@pdc.fr")
    ann = standin.user(8300, first_name="Ann", language_code="en")
    await ann.send("/privacy")
    notice = await ann.next_message()
    assert "Département du Pas-de-Calais" in notice.text and "dpo@pdc.fr" in notice.text


async def test_mydata_then_forget_leaves_nothing_of_the_person(standin, plume, database_url):
    services = plume.services
    librarian, _ = await onboard(standin, 8700, "Léa")
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await admin.send("/role 8700 staff")
    await admin.wait_for("bibliothécaire")
    zoe, subscriptions = await onboard(standin, ZOE, ZOE_NAME)
    await zoe.press(subscriptions, "Actualités générales")
    await zoe.press(await zoe.next_message(), "Valider")
    await zoe.wait_for("vous recevrez")
    # an unanswered question, with a phone number, passed on to the librarians
    await zoe.send("zorglubien xylophonique, rappelez-moi au 06 12 34 56 78")
    sorry = await zoe.next_message()
    await services.answers.settled()
    await zoe.press(sorry, "bibliothécaire")
    await zoe.wait_for("transmise")
    notice = await librarian.wait_for("zorglubien")
    assert "06 12" not in notice.text and ZOE_NAME not in notice.text
    await librarian.press(notice, "Répondre")
    await librarian.wait_for("Écrivez votre réponse")
    await librarian.send("Nous cherchons un xylophonique pour vous")
    await librarian.wait_for("Réponse envoyée")
    await zoe.wait_for("Réponse de la bibliothèque")
    # a vote with what was missing, a remark with permission to contact
    await zoe.send("jai oublie mon mdp")
    card = await zoe.next_message()
    await services.answers.settled()
    await zoe.press(card, "👎")
    offer = await zoe.wait_for("ce qui manquait")
    await zoe.press(offer, "Dire ce qui manquait")
    prompt = await zoe.next_message()
    await zoe.send("quintessencier les tablettes", reply_to=prompt)
    await zoe.wait_for("l'équipe le lira")
    await zoe.send("/avis Il manque des BD zorglubien")
    stars = await zoe.next_message()
    await zoe.press(stars, "★★★★")
    await zoe.press(await zoe.next_message(), "Oui, volontiers")
    await zoe.wait_for("Merci pour votre remarque")
    # workshops: one to come, one held last week where she was present
    user_id = await past_workshop_with(database_url, ZOE)
    registered = await services.workshops.register("ws-presse", user_id)
    assert registered.outcome.name in ("REGISTERED", "WAITING")
    # a form left half-way: /avis waiting for its text (user_data and conversation state)
    await zoe.send("/avis")
    await zoe.next_message()

    stored_question = await scan(database_url, ["06 12 34 56 78"], set())
    assert stored_question == [], "a typed phone number was stored"

    await zoe.send("/mes_donnees")
    document = await zoe.next_message()
    assert document.file_name == f"plume-data-U{user_id}.json"
    exported = json.loads(document.document)
    assert exported["profile"]["telegram_id"] == ZOE
    assert exported["profile"]["library"]["name"] == "Bibliothèque de Bas"
    tables = exported["tables"]
    for name in ("users", "subscriptions", "usage_events", "feedback", "registrations"):
        assert tables[name]["rows"], name
    assert any("zorglubien" in (r["raw_text"] or "") for r in tables["usage_events"]["rows"])
    assert any("zorglubien" in r["text"] for r in tables["handover_questions"]["rows"])
    summary = await zoe.next_message()
    assert summary.text.startswith("Ce que Plume garde sur vous")
    assert "1\u00a0abonnement" in summary.text or "1 abonnement" in summary.text
    assert "2 inscriptions à un atelier" in summary.text

    period = Period.named("mois", TZ)
    before = report_figures(await services.stats.figures(period))

    await zoe.send("/oublier")
    confirm = await zoe.next_message()
    assert "ne peut pas être annulé" in confirm.text
    await zoe.press(confirm, "Oui, tout effacer")
    done = await zoe.next_message()
    assert done.text.startswith("✅ C'est fait")

    needles = [str(ZOE), ZOE_NAME, *SECRET_WORDS]
    assert await scan(database_url, needles, {user_id}) == []
    after = report_figures(await services.stats.figures(period))
    assert after == before
    # writing again starts from zero, as a new patron, with the notice
    await zoe.send("/start")
    again = await zoe.next_message()
    assert "Vos données" in again.text
    person = await services.users.get(ZOE)
    assert person is not None and not person.onboarded and person.library_id is None


async def test_forget_can_be_declined(standin, plume):
    ann = standin.user(8400, first_name="Ann", language_code="en")
    await ann.send("/forget")
    await ann.press(await ann.next_message(), "No, keep my data")
    assert (await ann.next_message()).text == "Nothing was erased."
    assert await plume.services.users.get(8400) is not None


async def test_an_administrator_erases_by_pseudonym_and_it_is_audited(standin, plume):
    await onboard(standin, 8500, "Gaston")
    victim = await plume.services.users.get(8500)
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    await admin.send(f"/effacer U{victim.id}")
    confirm = await admin.next_message()
    await admin.press(confirm, f"Effacer U{victim.id}")
    assert (await admin.next_message()).text == f"✅ U{victim.id} est effacé·e."
    assert await plume.services.users.get(8500) is None
    lines = await plume.services.privacy.audit_lines()
    assert [(line.action, line.subject) for line in lines][:1] == [
        ("erase on request", f"U{victim.id}")
    ]
    patron = standin.user(8501, first_name="Pat", language_code="fr")
    await patron.send("/effacer U1")
    assert "réservé" in (await patron.next_message()).text


async def test_retention_erases_the_inactive_and_old_texts(standin, plume, database_url):
    services = plume.services
    await onboard(standin, 8600, "Ancien")
    recent, _ = await onboard(standin, 8601, "Récent")
    await recent.send("zorglubien quintessencier")
    # its answer, not a late edit of the onboarding's messages (seen under load)
    await recent.wait_for("Je n'ai pas trouvé de réponse sûre")
    await services.answers.settled()
    old_user = await services.users.get(8600)
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(
                sql_update(User)
                .where(User.telegram_id == 8600)
                .values(last_seen_at=dt.datetime.now(dt.UTC) - dt.timedelta(days=366))
            )
    finally:
        await engine.dispose()
    user_id = await past_workshop_with(database_url, 8601)
    run = await services.privacy.run_retention()
    assert run.erased == 1 and run.question_texts == 0 and run.registrations == 0
    assert await services.users.get(8600) is None and await services.users.get(8601)
    assert await scan(database_url, ["8600", "Ancien"], {old_user.id}) == []
    # later: the text of the unanswered question, then the person of the old registration
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=121)
    run = await services.privacy.run_retention(now=later)
    assert run.question_texts == 1 and run.registrations == 1 and run.erased == 0
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            registration = (
                await conn.execute(
                    select(Registration).where(Registration.workshop_id == "ws-passe")
                )
            ).one()
    finally:
        await engine.dispose()
    assert registration.user_id is None and registration.attended is True
    assert ("usage_events.raw_text", "zorglubien quintessencier") not in await scan(
        database_url, ["zorglubien"], {user_id}
    )


def test_every_table_is_covered_by_export_and_erasure():
    assert uncovered(Base.metadata) == []


def test_a_new_table_referring_to_a_person_fails_the_coverage_check():
    metadata = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(metadata)
    Table(
        "loans",
        metadata,
        Column("id", Integer, primary_key=True),
        Column("user_id", ForeignKey("users.id")),
    )
    Table("notes", metadata, Column("id", Integer, primary_key=True), Column("chat_id", String))
    problems = uncovered(metadata)
    assert any(p.startswith("loans: no privacy policy") for p in problems)
    assert any(p.startswith("notes: no privacy policy") for p in problems)
    # a new column referring to users in a covered table is caught too
    metadata.tables["feedback"].append_column(Column("reviewer_id", ForeignKey("users.id")))
    assert "feedback.reviewer_id refers to users, not covered" in uncovered(metadata)
    assert set(POLICIES) <= set(Base.metadata.tables)


def test_personal_details_are_masked():
    assert mask("rappelez-moi au 06 12 34 56 78 svp") == "rappelez-moi au [téléphone] svp"
    assert mask("+33 6 12 34 56 78") == "[téléphone]"
    assert mask("écrivez à jean.dupont@exemple.fr") == "écrivez à [e-mail]"
    assert mask("ma carte 29000001234567 ne marche pas") == "ma carte [numéro] ne marche pas"
    assert mask("CB 4970 1012 3456 7890") == "CB [numéro]"
    assert mask("j'habite 12 rue des Lilas") == "j'habite [adresse]"
    assert mask("62380 Lumbres") == "[adresse]"
    for kept in ("horaires samedi 14h", "film 2012", "les BD de 2019 et 2020", "mot de passe"):
        assert mask(kept) == kept
    assert ERASED_TEXT not in mask(ERASED_TEXT) or mask(ERASED_TEXT) == ERASED_TEXT


async def test_a_question_text_is_erased_on_its_local_day_whatever_the_hour(database_url):
    """Retention counts in the network's calendar: a question asked at 00:30 in Paris
    (22:30 UTC the day before) loses its text 120 days later, also when the run falls
    between midnight in Paris and midnight UTC (the UTC date is then a day behind)."""
    from bot.privacy.service import PrivacyService
    from bot.usage import UsageRecorder, question_event
    from storage.db import migrate, session_factory
    from storage.models import UsageEvent

    engine = create_engine(database_url)
    try:
        await migrate(engine)
        sessions = session_factory(engine)
        paris = ZoneInfo("Europe/Paris")
        asked = dt.datetime(2026, 6, 10, 22, 30, tzinfo=dt.UTC)  # 11 June, 00:30 in Paris
        event = question_event(
            user_id=None, query="zorglubien", raw_text="zorglubien", answered=False
        )
        await UsageRecorder(sessions, paris).write(dt_replace(event, occurred_at=asked))
        privacy = PrivacyService(sessions, tz=paris)
        run = await privacy.run_retention(now=asked + dt.timedelta(days=120))
        assert run.question_texts == 0  # 120 days to the minute: kept
        run = await privacy.run_retention(now=asked + dt.timedelta(days=121))
        assert run.question_texts == 1  # 12 June 00:30 in Paris, 11 June in UTC
        async with engine.connect() as conn:
            assert (await conn.scalars(select(UsageEvent.raw_text))).all() == [None]
    finally:
        await engine.dispose()
