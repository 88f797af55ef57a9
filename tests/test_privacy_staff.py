"""Privacy by design, the staff side (issue 13): contact through Plume, the audit log, erasure
on request from the command line, the processing register, no token in the logs."""

from __future__ import annotations

import asyncio
import logging
import re
import sys

from sqlalchemy import text

from bot.privacy.coverage import POLICIES, NoPerson
from bot.privacy.register import DATA_CATEGORIES
from bot.users import UserService
from storage.db import create_engine, session_factory
from tests.kit import ADMIN_ID, TOKEN, import_network
from tests.test_cli import ROOT, cli
from tests.test_privacy import scan


async def coordinator(standin, plume, telegram_id=8900, name="Coralie"):
    users = plume.services.users
    await users.touch(telegram_id, name, "fr")
    admin, _ = await users.touch(ADMIN_ID, "Admin", "fr")
    await users.set_role(admin, telegram_id, "coordinator")
    return standin.user(telegram_id, first_name=name, language_code="fr")


async def test_a_coordinator_and_a_patron_talk_through_plume(standin, plume, database_url):
    carla = standin.user(8801, first_name="Carla", language_code="fr")
    await carla.send("/avis Il manque des BD pour ados")
    stars = await carla.next_message()
    await carla.press(stars, "★★★★")
    await carla.press(await carla.next_message(), "Oui, volontiers")
    await carla.wait_for("Merci pour votre remarque")
    carla_id = (await plume.services.users.get(8801)).id
    who = f"U{carla_id}"

    coco = await coordinator(standin, plume)
    await coco.send("/avis_recus")
    listing = await coco.next_message()
    assert f"recontacté·e : {who}" in listing.text
    assert "Carla" not in listing.text and "8801" not in listing.text
    assert not [e for e in listing.raw.get("entities", []) if e["type"] == "text_link"]
    await coco.press(listing, f"Écrire à {who}")
    prompt = await coco.next_message()
    assert prompt.text.startswith(f"Écrivez votre message à {who}")
    await coco.send("Bonjour, quels titres aimeriez-vous ?")
    assert (await coco.next_message()).text.startswith(f"Message envoyé à {who}")

    message = await carla.wait_for("Message de la bibliothèque")
    assert "quels titres aimeriez-vous" in message.text and "Coralie" not in message.text
    await carla.press(message, "Répondre")
    await carla.wait_for("Écrivez votre réponse")
    await carla.send("Les mangas, rappelez-moi au 06 12 34 56 78")
    assert (await carla.next_message()).text.startswith("Envoyé à la bibliothèque")
    answer = await coco.wait_for(f"Réponse de {who}")
    assert "Les mangas, rappelez-moi au [téléphone]" in answer.text
    assert "Carla" not in answer.text and "8801" not in answer.text
    assert answer.button_texts == [f"✉ Écrire à {who}"]

    actions = [(line.action, line.subject) for line in await plume.services.privacy.audit_lines()]
    assert ("remark with contact shown", who) in actions
    assert ("contact write", who) in actions

    await carla.send("/oublier")
    await carla.press(await carla.next_message(), "Oui, tout effacer")
    await carla.wait_for("C'est fait")
    assert await scan(database_url, ["8801", "Carla", "mangas", "manque des BD"], {carla_id}) == []


async def test_forget_audit_and_register_from_the_command_line(tmp_path, standin):
    url = f"sqlite+aiosqlite:///{tmp_path / 'plume.sqlite3'}"
    engine = create_engine(url)
    try:
        from storage.db import migrate

        await migrate(engine)
        await import_network(url)
        users = UserService(session_factory(engine))
        person, _ = await users.touch(8123450001, "Gisèle", "fr")
    finally:
        await engine.dispose()
    env = {"DATABASE_URL": url}
    unknown = await asyncio.to_thread(cli, tmp_path, "forget", "--user", "U999", **env)
    assert unknown.returncode == 1 and "nobody is 'U999'" in unknown.stderr
    done = await asyncio.to_thread(cli, tmp_path, "forget", "--user", "8123450001", **env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"U{person.id} erased")
    audit = await asyncio.to_thread(cli, tmp_path, "audit", **env)
    assert audit.returncode == 0
    assert f"cli  erase on request  U{person.id}" in audit.stdout
    assert await scan(url, ["8123450001", "Gisèle"], {person.id}) == []

    register = await asyncio.to_thread(
        cli,
        tmp_path,
        "privacy-register",
        PLUME_CONTROLLER_NAME="Département du Nord",
        PLUME_DPO_CONTACT="dpo@lenord.fr",
        PLUME_RETENTION_DAYS="200",
        **env,
    )
    assert register.returncode == 0, register.stderr
    text = register.stdout
    assert text.startswith("# Registre des traitements")
    for part in ("Département du Nord", "dpo@lenord.fr", "200 jours", "120 jours", "CNIL"):
        assert part in text, part
    for table in DATA_CATEGORIES:
        assert f"`{table}`" in text


def test_the_register_describes_every_table_holding_personal_data():
    personal = {name for name, policy in POLICIES.items() if not isinstance(policy, NoPerson)}
    assert set(DATA_CATEGORIES) == personal


async def test_the_token_never_reaches_the_logs(tmp_path, standin):
    """DEBUG logging, a token Telegram refuses (the InvalidToken path): not one line of the
    output holds the token."""
    refused = "987654:REFUSED-TOKEN-never-logged_x"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "run",
        env={
            "PATH": "/usr/bin:/bin",
            "PYTHONPATH": str(ROOT),
            "HOME": str(tmp_path),
            "TELEGRAM_BOT_TOKEN": refused,
            "TELEGRAM_API_BASE_URL": standin.base_url,
            "DATABASE_URL": f"sqlite:///{tmp_path / 'plume.sqlite3'}",
            "PLUME_LOG_LEVEL": "DEBUG",
            "PLUME_SEARCH_INDEX_DIR": "off",
        },
        cwd=tmp_path,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=120)
    output = out.decode() + err.decode()
    assert process.returncode == 2, output
    assert "TELEGRAM_BOT_TOKEN" in output and "getMe" in output  # it did log the call
    assert refused not in output and refused.split(":")[1] not in output
    assert TOKEN not in output


async def test_a_failure_is_logged_by_update_id_and_kind_only(
    standin, plume, database_url, caplog
):
    hortense = standin.user(8950, first_name="Hortense", language_code="fr")
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE libraries RENAME TO libraries_away"))
        with caplog.at_level(logging.ERROR, logger="plume.errors"):
            await hortense.send("/start")
            await hortense.wait_for("Désolé, quelque chose s'est mal passé")
        async with engine.begin() as conn:
            await conn.execute(text("ALTER TABLE libraries_away RENAME TO libraries"))
    finally:
        await engine.dispose()
    (record,) = [r for r in caplog.records if r.name == "plume.errors"]
    # the line holds the update's number and its kind, nothing else: not the name, and the
    # number is not the person's id (the stand-in's update ids are random and may contain
    # "8950" as digits)
    logged = re.fullmatch(r"handler failed for update (\d+) \(message\)", record.getMessage())
    assert logged is not None, record.getMessage()
    assert int(logged.group(1)) != 8950
