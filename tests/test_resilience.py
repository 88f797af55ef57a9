"""Telegram misbehaving: the bot waits out 429s, records 403s, survives 5xx and timeouts."""

from __future__ import annotations

from sqlalchemy import select

from storage.db import create_engine
from storage.models import User
from tests.kit import ADMIN_ID


async def reachable(database_url: str, telegram_id: int) -> bool:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(User.reachable).where(User.telegram_id == telegram_id))
    finally:
        await engine.dispose()


async def test_replies_wait_out_429(standin, plume):
    standin.faults.rate_limits = True
    # one message every 3 s in a chat: three answers in a row must meet the limit, however
    # long each takes to compute on a loaded machine
    standin.faults.private_chat_rate = (1, 3.0)
    standin.faults.reset_limits()
    ana = standin.user(4001, first_name="Ana", language_code="fr")
    for question in ("mdp oublié", "c'est gratuit ?", "kindle"):
        await ana.send(question)
    replies = [await ana.next_message(timeout=15) for _ in range(3)]
    assert len({r.message_id for r in replies}) == 3
    assert standin.count_status(429) >= 1, "the per-chat limit should have been hit"


async def test_a_blocked_patron_is_recorded_unreachable(standin, plume, database_url):
    admin = standin.user(ADMIN_ID, first_name="Ada", language_code="fr")
    lea = standin.user(4002, first_name="Léa", language_code="fr")
    await lea.send("/whoami")
    await lea.next_message()
    await admin.send("/role 4002 staff")
    await admin.wait_for("bibliothécaire")
    bob = standin.user(4003, first_name="Bob", language_code="fr")
    await bob.send("wxyzzy plop")
    sorry = await bob.next_message()
    await bob.press(sorry, "bibliothécaire")
    await bob.next_message()
    notice = await lea.wait_for("Question de U")
    bob.block_bot()
    await lea.press(notice, "Répondre")
    await lea.wait_for("Écrivez votre réponse")
    await lea.send("Bonjour Bob")
    told = await lea.wait_for("bloqué")
    assert "n'a pas pu être remise" in told.text
    assert await reachable(database_url, 4003) is False
    bob.unblock_bot()
    await bob.send("/help")  # writing again means they unblocked us
    await bob.next_message()
    assert await reachable(database_url, 4003) is True


async def test_a_reply_refused_by_a_short_server_outage_is_sent_once_it_is_over(standin, plume):
    cy = standin.user(4004, first_name="Cy", language_code="fr")
    for fault in ("server_error_rate", "drop_rate"):
        setattr(standin.faults, fault, 1.0)
        await cy.send("/help")
        await cy.assert_no_message(1.0)  # Telegram answers 502 / drops the connection
        setattr(standin.faults, fault, 0.0)
        assert "Ce que je sais faire" in (await cy.next_message(timeout=10)).text
    assert standin.count_status(502, "sendMessage") >= 2
    await cy.assert_no_message(0.5)  # each answer once


async def test_a_longer_outage_does_not_lose_the_bot(standin, start_plume):
    await start_plume(reply_retry_seconds=1.0)
    cy = standin.user(4005, first_name="Cy", language_code="fr")
    standin.faults.server_error_rate = 1.0
    await cy.send("/help")
    await cy.assert_no_message(3.0)  # retried for a second, then given up
    standin.faults.server_error_rate = 0.0
    await cy.assert_no_message(1.0)
    await cy.send("/help")
    assert "Ce que je sais faire" in (await cy.next_message(timeout=10)).text
