"""Webhook mode, /healthz, /metrics, updates handled once, two instances on one database."""

from __future__ import annotations

import asyncio
import json

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.standin import BotAPIStandin
from storage.db import create_engine
from storage.webhook import HandledUpdate
from tests.kit import WEBHOOK_SECRET

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"


def listener_url(plume, path: str = "") -> str:
    """``path`` on the instance's listener; ``hook`` is its webhook path."""
    if path == "hook":
        path = plume.settings.webhook_path
    return f"http://127.0.0.1:{plume.listener.port}{path}"


async def handled_rows(database_url: str) -> int:
    engine = create_engine(database_url)
    try:
        async with engine.connect() as conn:
            return await conn.scalar(select(func.count()).select_from(HandledUpdate))
    finally:
        await engine.dispose()


async def test_webhook_mode_as_the_contract_says(standin: BotAPIStandin, webhook_plume):
    (call,) = standin.calls_for("setWebhook")
    settings = webhook_plume.settings
    assert call.params["url"] == settings.webhook_url
    assert call.params["secret_token"] == WEBHOOK_SECRET
    assert "message" in call.params["allowed_updates"]
    assert "callback_query" in call.params["allowed_updates"]
    info = standin.backend.updates.webhook_info()
    assert info["url"] == settings.webhook_url

    alice = standin.user(3001, first_name="Alice", language_code="fr")
    await alice.send("/start")
    assert "Bonjour" in (await alice.next_message()).text
    await standin.wait_idle()
    assert standin.calls_for("getUpdates") == []

    async with aiohttp.ClientSession() as http:
        async with http.get(listener_url(webhook_plume, "/healthz")) as answer:
            assert answer.status == 200
            health = await answer.json()
        assert health["status"] == "ok" and health["mode"] == "webhook"
        assert health["database"] == "ok"
        update = {"update_id": 999, "message": {"message_id": 1, "date": 0, "text": "x"}}
        url = listener_url(webhook_plume, "hook")
        for headers in ({}, {SECRET_HEADER: "wrong"}, {SECRET_HEADER: WEBHOOK_SECRET + "x"}):
            async with http.post(url, json=update, headers=headers) as answer:
                assert answer.status == 403
        async with http.get(listener_url(webhook_plume, "/metrics")) as answer:
            assert answer.status == 200
            metrics = await answer.text()
    assert 'plume_updates_total{outcome="handled"}' in metrics
    assert 'plume_telegram_sends_total{outcome="ok",path="reply"}' in metrics
    assert "plume_answer_seconds_bucket" in metrics
    assert "plume_replies_total" in metrics


async def test_an_update_delivered_twice_is_handled_once(
    standin: BotAPIStandin, webhook_plume, database_url
):
    bob = standin.user(3002, first_name="Bob", language_code="fr")
    await bob.send("/start")
    await bob.next_message()
    await standin.wait_idle()
    update = {
        "update_id": 500000,
        "message": {
            "message_id": 900,
            "date": 1_700_000_000,
            "chat": {"id": bob.id, "type": "private", "first_name": "Bob"},
            "from": {"id": bob.id, "is_bot": False, "first_name": "Bob", "language_code": "fr"},
            "text": "/whoami",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
    url = listener_url(webhook_plume, "hook")
    async with aiohttp.ClientSession() as http:

        async def deliver() -> int:
            body = json.dumps(update)
            headers = {SECRET_HEADER: WEBHOOK_SECRET, "Content-Type": "application/json"}
            async with http.post(url, data=body, headers=headers) as answer:
                return answer.status

        first = await asyncio.gather(*(deliver() for _ in range(3)))
        later = await deliver()
    # one of them handled it; the others found it taken (busy → 503, Telegram retries) or done
    assert sorted(first)[0] == 200 and set(first) <= {200, 503}
    assert later == 200
    await standin.wait_idle()
    answers = [m for m in bob.messages if "identifiant Telegram" in m.text]
    assert len(answers) == 1
    assert await handled_rows(database_url) >= 2


async def test_two_instances_share_updates_and_handle_each_once(
    standin: BotAPIStandin, two_plumes, database_url
):
    first, second = two_plumes
    people = [standin.user(3100 + i, first_name=f"P{i}", language_code="fr") for i in range(6)]
    for person in people:
        await person.send("/start")
    for person in people:
        assert "Bonjour" in (await person.next_message()).text
    await standin.wait_idle()
    served = standin.balancer.served
    assert served[f"http://{first.settings.webhook_listen}"] > 0
    assert served[f"http://{second.settings.webhook_listen}"] > 0
    # the same update posted to both instances at once: one handles it
    carol = people[0]
    carol.drain()
    update = {
        "update_id": 700000,
        "message": {
            "message_id": 901,
            "date": 1_700_000_000,
            "chat": {"id": carol.id, "type": "private", "first_name": "P0"},
            "from": {"id": carol.id, "is_bot": False, "first_name": "P0", "language_code": "fr"},
            "text": "/whoami",
            "entities": [{"type": "bot_command", "offset": 0, "length": 7}],
        },
    }
    headers = {SECRET_HEADER: WEBHOOK_SECRET}
    async with aiohttp.ClientSession() as http:

        async def deliver(plume) -> int:
            async with http.post(
                listener_url(plume, "hook"), json=update, headers=headers
            ) as answer:
                return answer.status

        statuses = await asyncio.gather(deliver(first), deliver(second))
    assert 200 in statuses
    await standin.wait_idle()
    assert len([m for m in carol.messages if "identifiant Telegram" in m.text]) == 1


async def test_stopping_instance_answers_503_and_the_other_takes_over(
    standin: BotAPIStandin, two_plumes
):
    first, _second = two_plumes
    dan = standin.user(3200, first_name="Dan", language_code="fr")
    await dan.send("/start")
    await dan.next_message()
    first.listener.start_draining()
    async with (
        aiohttp.ClientSession() as http,
        http.get(listener_url(first, "/healthz")) as answer,
    ):
        assert answer.status == 503
        assert (await answer.json())["status"] == "draining"
    for _ in range(4):  # round-robin would give half of them to the draining instance
        await dan.send("/whoami")
        assert "identifiant Telegram" in (await dan.wait_for("identifiant")).text
    assert standin.balancer.skipped["503"] >= 1
    await first.stop()
    for _ in range(3):
        await dan.send("/whoami")
        assert "identifiant Telegram" in (await dan.wait_for("identifiant")).text
    assert standin.balancer.skipped["refused"] >= 1


async def test_polling_mode_serves_metrics_when_asked(standin: BotAPIStandin, start_plume):
    from tests.kit import free_port

    listen = f"127.0.0.1:{free_port()}"
    plume = await start_plume(metrics_listen=listen)
    erin = standin.user(3300, first_name="Erin", language_code="en")
    await erin.send("/start")
    await erin.next_message()
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://{listen}/healthz") as answer:
            health = await answer.json()
            assert answer.status == 200 and health["mode"] == "polling"
        for _ in range(50):  # the count goes up just after the answer is sent
            async with http.get(f"http://{listen}/metrics") as answer:
                if 'plume_updates_total{outcome="handled"} 1.0' in await answer.text():
                    break
            await asyncio.sleep(0.05)
        else:
            raise AssertionError("the update was not counted")
    assert plume.listener is not None
    async with (
        aiohttp.ClientSession() as http,
        http.post(f"http://{listen}/telegram", json={}) as answer,
    ):
        assert answer.status in (404, 405)  # no webhook path in polling mode


@pytest.mark.parametrize("failures", [2])
async def test_standin_retries_a_failed_delivery(standin: BotAPIStandin, failures):
    from aiohttp import web

    received: list[int] = []

    async def hook(request: web.Request) -> web.Response:
        update = await request.json()
        received.append(update["update_id"])
        if len(received) <= failures:
            return web.Response(status=500)
        assert request.headers[SECRET_HEADER] == "s3cret"
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    updates = standin.backend.updates
    from bot.standin.updates import Webhook

    await updates.set_webhook(Webhook(url=f"http://127.0.0.1:{port}/hook", secret_token="s3cret"))
    standin.user(3400, first_name="Fay").chat  # noqa: B018
    await standin.user(3400).send("hello")
    for _ in range(200):
        if updates.pending_count == 0:
            break
        await asyncio.sleep(0.05)
    assert received == [received[0]] * (failures + 1)
    assert updates.webhook is not None and updates.webhook.failed == failures
    assert "Wrong response from the webhook: 500" in updates.webhook_info()["last_error_message"]
    await updates.delete_webhook()
    await runner.cleanup()
