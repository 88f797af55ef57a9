"""The sandbox's JSON API, with a throwaway PTB bot behind the stand-in."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient, TestServer
from standin_helpers import CATALOGUE_CSV, tiny_png
from telegram import BotCommand, BotCommandScopeChat
from telegram.ext import Application

from bot.sandbox import SandboxAccount, create_sandbox_web_app, serve_sandbox
from bot.standin import BotAPIStandin

ACCOUNTS = [
    SandboxAccount(1001, "Usager", "Alice"),
    {"user_id": 2002, "label": "Bibliothécaire", "first_name": "Bruno", "language_code": "en"},
]


@pytest.fixture
async def hooks() -> dict[str, list[Any]]:
    return {"language": [], "account": []}


@pytest.fixture
async def client(
    standin: BotAPIStandin, echo_bot: Application, hooks: dict[str, list[Any]]
) -> AsyncIterator[TestClient[Any, Any]]:
    async def on_language(user_id: int, language: str) -> None:
        hooks["language"].append((user_id, language))

    async def on_account(user_id: int) -> None:
        hooks["account"].append(user_id)

    app = create_sandbox_web_app(standin, ACCOUNTS, on_language=on_language, on_account=on_account)
    async with TestClient(TestServer(app)) as test_client:
        yield test_client


async def _chat(client: TestClient[Any, Any], user_id: int, since: int = -1) -> dict[str, Any]:
    answer = await client.get("/api/chat", params={"user_id": user_id, "since": since, "wait": 5})
    assert answer.status == 200
    return await answer.json()


async def _wait_for(
    client: TestClient[Any, Any], user_id: int, predicate: Any, rounds: int = 10
) -> dict[str, Any]:
    view = await _chat(client, user_id)
    for _ in range(rounds):
        if predicate(view):
            return view
        view = await _chat(client, user_id, view["version"])
    raise AssertionError(f"sandbox view never matched: {view}")


async def test_page_and_config(client: TestClient[Any, Any]) -> None:
    page = await client.get("/")
    assert page.status == 200 and "sandbox.js" in await page.text()
    assert (await client.get("/static/sandbox.js")).status == 200
    assert (await client.get("/static/../server.py")).status == 404
    config = await (await client.get("/api/config")).json()
    assert [a["label"] for a in config["accounts"]] == ["Usager", "Bibliothécaire"]
    assert config["accounts"][1]["language_code"] == "en"
    assert config["bot"]["username"] == "standin_test_bot"


async def test_send_press_and_toast(client: TestClient[Any, Any]) -> None:
    answer = await client.post("/api/send", json={"user_id": 1001, "text": "/start"})
    assert answer.status == 200
    view = await _wait_for(client, 1001, lambda v: len(v["messages"]) == 2)
    menu = view["messages"][1]
    assert menu["from_bot"] and menu["html"].startswith("<b>Bienvenue</b>")
    assert menu["buttons"][0][0] == {"text": "Lumbres", "kind": "callback", "data": "lib:lumbres"}
    assert menu["buttons"][2][0]["kind"] == "url"

    pressed = await client.post(
        "/api/press", json={"user_id": 1001, "message_id": menu["id"], "data": "lib:arques"}
    )
    assert pressed.status == 200
    view = await _wait_for(client, 1001, lambda v: v["answers"] and v["messages"][1]["edited"])
    assert view["messages"][1]["html"] == "Médiathèque choisie : <b>Arques</b>"
    assert view["answers"][0]["text"] == "Arques ✓"


async def test_upload_and_file_download(client: TestClient[Any, Any]) -> None:
    form = aiohttp.FormData()
    form.add_field("user_id", "1001")
    form.add_field("file", b"x;y\n", filename="notes.csv", content_type="text/csv")
    assert (await client.post("/api/upload", data=form)).status == 200
    view = await _wait_for(client, 1001, lambda v: len(v["messages"]) == 2)
    sent_back = view["messages"][1]["document"]
    assert sent_back["name"] == "upper-notes.csv"

    viewed = await client.get(f"/api/file/{sent_back['file_id']}")
    assert viewed.headers["Content-Type"].startswith("text/plain")
    assert await viewed.read() == b"X;Y\n"
    downloaded = await client.get(f"/api/file/{sent_back['file_id']}", params={"download": "1"})
    assert "attachment" in downloaded.headers["Content-Disposition"]

    await client.post("/api/send", json={"user_id": 1001, "text": "/file"})
    view = await _wait_for(client, 1001, lambda v: len(v["messages"]) == 5)
    document, photo = view["messages"][3], view["messages"][4]
    assert document["document"]["name"] == "catalogue.csv"
    image = await client.get(f"/api/file/{photo['photo']['file_id']}")
    assert image.headers["Content-Type"] == "image/png" and await image.read() == tiny_png()
    csv = await client.get(f"/api/file/{document['document']['file_id']}")
    assert await csv.read() == CATALOGUE_CSV


async def test_language_switch_and_hooks(
    client: TestClient[Any, Any],
    standin: BotAPIStandin,
    echo_bot: Application,
    hooks: dict[str, list[Any]],
) -> None:
    await echo_bot.bot.set_my_commands([BotCommand("start", "Démarrer")], language_code="fr")
    await echo_bot.bot.set_my_commands([BotCommand("start", "Start")], language_code="en")
    await echo_bot.bot.set_my_commands(
        [BotCommand("admin", "Admin")], scope=BotCommandScopeChat(2002)
    )
    assert (await _chat(client, 1001))["commands"] == [
        {"command": "start", "description": "Démarrer"}
    ]
    answer = await client.post("/api/language", json={"user_id": 1001, "language": "en"})
    assert answer.status == 200
    view = await _chat(client, 1001)
    assert view["language_code"] == "en"
    assert view["commands"] == [{"command": "start", "description": "Start"}]
    assert (await _chat(client, 2002))["commands"][0]["command"] == "admin"
    assert hooks["language"] == [(1001, "en")]

    await client.post("/api/send", json={"user_id": 1001, "text": "hi"})
    view = await _wait_for(client, 1001, lambda v: len(v["messages"]) == 2)
    assert view["messages"][1]["html"] == "[en] hi"

    assert (await client.post("/api/account", json={"user_id": 2002})).status == 200
    assert hooks["account"] == [2002]
    assert (await client.post("/api/account", json={"user_id": 9})).status == 404
    bad = await client.post("/api/language", json={"user_id": 1001, "language": "de"})
    assert bad.status == 400


async def test_long_poll_waits_then_answers(client: TestClient[Any, Any]) -> None:
    view = await _chat(client, 1001)
    short = await client.get(
        "/api/chat", params={"user_id": 1001, "since": view["version"], "wait": 0.2}
    )
    assert (await short.json())["version"] == view["version"]  # nothing new: timed out


async def test_serve_sandbox_starts_and_stops(standin: BotAPIStandin) -> None:
    server = await serve_sandbox(standin, ACCOUNTS, port=0)
    try:
        async with aiohttp.ClientSession() as session, session.get(server.url) as page:
            assert page.status == 200
    finally:
        await server.stop()
    assert standin.is_running  # started by the fixture, so left running
