"""The document for officials: definitions that hold, the CLI's periods, PDF, accessibility,
French formats and the phone layout (Chromium at 390 px)."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from bot.i18n import translator
from bot.reporting.data import default_period
from bot.reporting.report import build_report
from bot.reporting.svg import COLORS
from bot.stats.period import Period
from bot.stats.queries import StatsService
from bot.usage import UsageRecorder
from bot.users import UserService
from storage.db import create_engine, session_factory
from storage.models import Registration, Subscription, User, Workshop
from tests.kit import CHROMIUM_ARGS, import_network

TZ = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parent.parent
NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.astimezone(TZ).date()
# the month around today: a workshop started, one still to come, one cancelled
PERIOD = Period.between(TODAY - dt.timedelta(days=20), TODAY + dt.timedelta(days=10), TZ)


@pytest.fixture
async def network(any_database_url):
    await import_network(any_database_url)
    engine = create_engine(any_database_url)
    sessions = session_factory(engine)
    users = UserService(sessions)
    ids = {}
    for telegram_id, name, _role in (
        (601, "Ana", "patron"),
        (602, "Bo", "patron"),
        (603, "Sam", "staff"),
    ):
        person, _ = await users.touch(telegram_id, name, "fr")
        await users.set_library(telegram_id, "lib-amont")
        ids[name] = person.id
    async with sessions.begin() as session:
        await session.execute(
            User.__table__.update().where(User.id == ids["Sam"]).values(role="staff")
        )
        session.add_all(
            [
                Workshop(id="ws-past", library_id="lib-amont", title="Liseuse", capacity=8,
                         duration_min=90, starts_at=NOW - dt.timedelta(days=3)),
                Workshop(id="ws-later", library_id="lib-amont", title="Tablette", capacity=8,
                         starts_at=NOW + dt.timedelta(days=5)),
                Workshop(id="ws-off", library_id="lib-bas", title="Presse", capacity=8,
                         starts_at=NOW - dt.timedelta(days=2), cancelled=True),
            ]
        )  # fmt: skip
        await session.flush()
        session.add_all(
            [
                Registration(workshop_id="ws-past", user_id=ids["Ana"], attended=True),
                Registration(workshop_id="ws-past", user_id=ids["Sam"], attended=True),
                Registration(workshop_id="ws-later", user_id=ids["Bo"]),
                Subscription(user_id=ids["Ana"], topic="events"),
                Subscription(user_id=ids["Sam"], topic="events"),
            ]
        )
    usage = UsageRecorder(sessions, TZ)
    at = NOW - dt.timedelta(days=1)
    for who, kind, values in (
        ("Ana", "card_view", {"subject_id": "res-ebooks", "media_type": "ebook"}),
        ("Ana", "card_view", {"subject_id": "faq-mdp"}),
        ("Bo", "card_view", {"subject_id": "res-ebooks", "media_type": "ebook"}),
        ("Ana", "question", {"query": "bonjour", "raw_text": "Bonjour", "answered": False}),
        ("Bo", "question", {"query": "merci", "raw_text": "merci !", "answered": False}),
        ("Bo", "question", {"query": "12/05", "raw_text": "12/05", "answered": False}),
        ("Bo", "question", {"query": "piscine", "raw_text": "Horaires de la piscine ?",
                            "answered": False}),
        ("Sam", "question", {"query": "test staff", "raw_text": "test staff", "answered": False}),
        ("Sam", "card_view", {"subject_id": "res-vod", "media_type": "video"}),
    ):  # fmt: skip
        await usage.record(
            kind, user_id=ids[who], library_id="lib-amont", occurred_at=at, **values
        )
    yield engine
    await engine.dispose()


async def test_definitions_hold(network):
    figures = await StatsService(network, TZ).figures(PERIOD)
    summary = figures.workshop_summary
    assert (summary["held"], summary["upcoming"], summary["cancelled"]) == (1, 1, 1)
    assert summary["registered"] == 1 and summary["participants"] == 1  # Sam is staff
    assert summary["hours"] == 1.5
    assert figures.totals["active"] == 2 and figures.totals["questions"] == 4  # not Sam's
    assert figures.totals["card_views"] == 3
    assert [g.text for g in figures.unanswered] == ["Horaires de la piscine ?"]
    assert [(r["title"], r["views"]) for r in figures.top_resources] == [
        ("Livres numériques", 2),
        ("J'ai oublié mon mot de passe", 1),
    ]
    assert figures.subscribers == {"events": 1}
    survey = figures.survey()
    assert survey["lib-amont"]["training_sessions"] == 1
    assert survey["lib-amont"]["training_hours"] == 2  # 1.5 h, rounded
    assert survey[""]["active_patrons"] == 2


async def test_html_is_accessible_french_and_fits_a_phone(network, chromium):
    stats = StatsService(network, TZ)
    html = (await build_report(stats, PERIOD, fmt="html")).content.decode()
    assert '<html lang="fr">' in html
    assert html.count("<table") == html.count("<caption>") > 3
    assert "<th>" not in html  # every header cell has its scope
    assert html.count("<svg") == html.count("<desc") == html.count("<figcaption>") >= 2
    assert "1 abonné" in html and "1 abonnés" not in html
    assert "1 atelier tenu" in html and "1 autre prévu" in html
    assert re.search(r"Du \d+(er)?\u00a0\w+ \d{4} au", html)
    assert not re.search(r">0[.,][0-9]<", html)  # integer axes: no 0,2 / 0.4 ticks
    for color in COLORS:  # text and bars on white: contrast at least 4.5:1 (WCAG AA)
        assert contrast(color, "#ffffff") >= 4.5, color
    english = (await build_report(stats, PERIOD, fmt="html", language="en")).content.decode()
    assert '<html lang="en">' in english and "1 workshop held" in english

    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": 390, "height": 800})
            await page.set_content(html)
            width = await page.evaluate("document.documentElement.scrollWidth")
            widest = await page.evaluate(
                "Math.max(...[...document.querySelectorAll('main *')]"
                ".map(e => e.getBoundingClientRect().right))"
            )
            assert width <= 390 and widest <= 390, (width, widest)
            # on paper: A4 less the margins (182 mm, 688 px), every table within it
            await page.emulate_media(media="print")
            await page.set_viewport_size({"width": 688, "height": 1000})
            tables = await page.evaluate(
                "[...document.querySelectorAll('table')].map(e => "
                "[e.querySelector('caption').textContent, e.getBoundingClientRect().right])"
            )
            assert any("enquête nationale" in caption for caption, _ in tables), tables
            assert all(right <= 688.5 for _, right in tables), tables
        finally:
            await browser.close()


def contrast(a: str, b: str) -> float:
    def luminance(color: str) -> float:
        channels = [int(color[i : i + 2], 16) / 255 for i in (1, 3, 5)]
        linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
        return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]

    high, low = sorted((luminance(a), luminance(b)), reverse=True)
    return (high + 0.05) / (low + 0.05)


@pytest.mark.parametrize("engine", ["weasyprint", "chromium"])
async def test_pdf_with_name_logo_and_pages(network, tmp_path, engine):
    from bot.reporting.data import Branding
    from bot.reporting.pdf import find_chromium

    if engine == "chromium" and find_chromium() is None:
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run does)")
    logo = tmp_path / "logo.svg"
    logo.write_text('<svg xmlns="http://www.w3.org/2000/svg" width="80" height="40">'
                    '<rect width="80" height="40" fill="#1f5c99"/></svg>')  # fmt: skip
    brand = Branding("Réseau Test", logo, engine)
    html = (
        await build_report(StatsService(network, TZ), PERIOD, fmt="html", branding=brand)
    ).content.decode()
    assert "Réseau Test" in html and "data:image/svg+xml;base64," in html
    assert "counter(page)" in html  # page numbers in print
    report = await build_report(StatsService(network, TZ), PERIOD, fmt="pdf", branding=brand)
    assert report.content.startswith(b"%PDF-") and report.filename.endswith(".pdf")
    pdf = tmp_path / "report.pdf"
    pdf.write_bytes(report.content)
    if not shutil.which("pdftotext"):
        pytest.skip("no pdftotext to read the PDF's text: install poppler-utils (.ci/run does)")
    text = (
        await asyncio.to_thread(
            subprocess.run,
            ["pdftotext", "-layout", str(pdf), "-"],
            capture_output=True,
            text=True,
            check=True,
        )
    ).stdout
    pages = text.count("\f")
    assert pages >= 2 and re.search(rf"\b1\s*/\s*{pages}\b", text)
    assert re.search(rf"\b{pages}\s*/\s*{pages}\b", text)
    assert "Réseau Test" in text and "Méthodologie" in text


def cli(
    tmp_path: Path, *args: str, url: str, **variables: str
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT), **variables}
    return subprocess.run(
        [sys.executable, "-m", "bot", *args], env=env, cwd=tmp_path, capture_output=True,
        text=True,
    )  # fmt: skip


def test_report_periods_on_the_command_line(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    assert cli(tmp_path, "import", "--demo", url=url).returncode == 0
    result = cli(tmp_path, "report", "--format", "json", "-o", "-", url=url)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    period = default_period(TZ)
    assert (data["period"]["from"], data["period"]["to"]) == (
        period.start.isoformat(),
        period.end.isoformat(),
    )
    assert period.end == TODAY.replace(day=1) - dt.timedelta(days=1) and period.start.day == 1
    assert data["platform_usage"]  # the demo's sample COUNTER reports
    assert data["summary"][0].startswith("Du 1er\u00a0")
    year = json.loads(cli(tmp_path, "report", "--year", "2025", "--format", "json", "-o", "-",
                          url=url).stdout)  # fmt: skip
    assert (year["period"]["from"], year["period"]["to"]) == ("2025-01-01", "2025-12-31")
    survey = cli(tmp_path, "report", "--format", "survey", "-o", "-", url=url)
    assert survey.stdout.lstrip("\ufeff").startswith("bibliothèque;Usagers actifs")
    alone = cli(tmp_path, "report", "--from", "2025-01-01", url=url)
    assert alone.returncode == 2 and "give both --from and --to" in alone.stderr
    # WeasyPrint logs every step and page at INFO: the command line says one line
    pdf = cli(tmp_path, "report", "--format", "pdf", "-o", "r.pdf", url=url,
              PLUME_PDF_ENGINE="weasyprint", PLUME_LOG_LEVEL="INFO")  # fmt: skip
    assert pdf.returncode == 0, pdf.stderr
    assert pdf.stderr == "" and pdf.stdout.startswith("report written to r.pdf")
    assert (tmp_path / "r.pdf").read_bytes().startswith(b"%PDF-")


def test_pdf_printed_outside_a_report_with_chromium():
    """html_to_pdf, blocking, from a thread without an event loop as from a coroutine."""
    from bot.reporting.pdf import find_chromium, html_to_pdf

    if find_chromium() is None:
        pytest.skip("no Chromium: install Debian's chromium package (.ci/run does)")
    page = "<!DOCTYPE html><html lang=fr><body><p>Réseau Test</p></body></html>"
    assert html_to_pdf(page, "chromium").startswith(b"%PDF-")

    async def inside_a_coroutine() -> bytes:
        return html_to_pdf(page, "chromium")

    assert asyncio.run(inside_a_coroutine()).startswith(b"%PDF-")


def test_default_period_is_the_last_twelve_full_months():
    period = default_period(TZ, dt.date(2026, 3, 15))
    assert (period.start, period.end) == (dt.date(2025, 3, 1), dt.date(2026, 2, 28))
    assert translator("fr")("Workshops") == "Ateliers"
