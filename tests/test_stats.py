"""Statistics and the evaluation report against a small data set computed by hand."""

from __future__ import annotations

import datetime as dt
import json
import re
from zoneinfo import ZoneInfo

import pytest

from bot.feedback.service import FeedbackService
from bot.reporting.report import build_report
from bot.stats.period import Period, PeriodError
from bot.stats.queries import StatsService
from bot.stats.rollups import rebuild_rollups
from bot.usage import UsageRecorder
from bot.users import UserService
from storage.db import create_engine, session_factory
from storage.models import Registration, Subscription, Workshop
from tests.kit import import_network

TZ = ZoneInfo("Europe/Paris")


def local_noon(days_ago: int) -> dt.datetime:
    today = dt.datetime.now(TZ).date()
    day = today - dt.timedelta(days=days_ago)
    return dt.datetime.combine(day, dt.time(12), TZ).astimezone(dt.UTC)


@pytest.fixture
async def dataset(any_database_url):
    """Three patrons, a week of activity (see the expected figures in the tests)."""
    await import_network(any_database_url)
    engine = create_engine(any_database_url)
    sessions = session_factory(engine)
    users = UserService(sessions)
    ids = {}
    for telegram_id, name, library in (
        (501, "Anna", "lib-amont"),
        (502, "Bea", "lib-amont"),
        (503, "Chloé", "lib-bas"),
    ):
        person, _ = await users.touch(telegram_id, name, "fr")
        await users.set_library(telegram_id, library)
        ids[name] = (person.id, library)
    anna, bea, chloe = ids["Anna"], ids["Bea"], ids["Chloé"]
    usage = UsageRecorder(sessions, TZ)

    async def event(kind, who, days_ago, **values):
        user_id, library = who if who else (None, None)
        values.setdefault("library_id", library)
        assert await usage.record(
            kind, user_id=user_id, occurred_at=local_noon(days_ago), **values
        )

    # 10 days ago: outside a week
    await event("question", anna, 10, query="livres", answered=True, media_type="ebook")
    # 3 days ago
    await event(
        "question",
        anna,
        3,
        query="livre audio",
        answered=True,
        media_type="ebook",
        subject_id="faq-x",
    )
    await event("card_view", anna, 3, subject_id="res-ebooks", media_type="ebook")
    await event(
        "question",
        bea,
        3,
        query="mot de passe oublie",
        raw_text="Mot de passe oublié ?",
        answered=False,
    )
    # 2 days ago
    await event(
        "question",
        anna,
        2,
        query="mot de pase oublie",
        raw_text="mot de pase oublié",
        answered=False,
    )
    await event("card_view", chloe, 2, subject_id="res-vod", media_type="video")
    await event("registration", chloe, 2, subject_id="ws-test", media_type="ebook")
    # yesterday
    await event("card_view", bea, 1, subject_id="res-ebooks", media_type="ebook")
    await event("attendance", chloe, 1, subject_id="ws-test", media_type="ebook")
    await event("broadcast_sent", None, 1, subject_id="1", media_type="ebook")
    await event("broadcast_reached", anna, 1, subject_id="1", media_type="ebook")
    await event("broadcast_reached", bea, 1, subject_id="1", media_type="ebook")
    await event(
        "question", chloe, 1, query="horaires piscine", raw_text="Horaires piscine", answered=False
    )

    async with sessions.begin() as session:
        session.add(
            Workshop(
                id="ws-test",
                library_id="lib-bas",
                title="Liseuse",
                capacity=6,
                starts_at=local_noon(2),
                media_type="ebook",
            )
        )
        await session.flush()
        session.add_all(
            [
                Registration(workshop_id="ws-test", user_id=chloe[0], attended=True),
                Registration(workshop_id="ws-test", user_id=anna[0], attended=False),
                Registration(workshop_id="ws-test", user_id=bea[0], status="waiting"),
                Subscription(user_id=anna[0], topic="media:ebook"),
                Subscription(user_id=anna[0], topic="events"),
                Subscription(user_id=bea[0], topic="media:ebook"),
                Subscription(user_id=chloe[0], topic="media:video"),
            ]
        )

    feedback = FeedbackService(sessions)
    await feedback.vote(anna[0], "faq-x", 1, library_id="lib-amont", media_type="ebook")
    down = await feedback.vote(bea[0], "faq-x", 0, library_id="lib-amont", media_type="ebook")
    await feedback.add_comment(down, bea[0], "rien sur les liseuses")
    await feedback.vote(chloe[0], "res-vod", 0, library_id="lib-bas", media_type="video")
    await feedback.vote(
        chloe[0], "res-vod", 1, library_id="lib-bas", media_type="video"
    )  # changed
    await feedback.add(
        chloe[0],
        "workshop",
        rating=5,
        comment="super atelier",
        subject_id="ws-test",
        library_id="lib-bas",
    )
    await feedback.add(anna[0], "workshop", rating=3, subject_id="ws-test", library_id="lib-amont")
    await feedback.add(
        bea[0], "free", rating=2, comment="appli lente", contact_ok=True, library_id="lib-amont"
    )
    await feedback.add(anna[0], "free", comment="merci", library_id="lib-amont")
    for who, score in ((anna, 9), (bea, 6), (chloe, None)):
        survey = await feedback.add(who[0], "survey", library_id=who[1])
        if score is not None:
            assert await feedback.rate(survey, who[0], "survey", score)
    yield engine, ids
    await engine.dispose()


def week() -> Period:
    return Period.named("semaine", TZ)


async def test_usage_figures_match_the_hand_computed_ones(dataset):
    engine, _ = dataset
    figures = await StatsService(engine, TZ).figures(week())
    totals = figures.totals
    assert totals["questions"] == 4 and totals["answered"] == 1 and totals["unanswered"] == 3
    assert totals["card_views"] == 3
    assert totals["registrations"] == 1 and totals["attendance"] == 1
    assert totals["broadcasts_sent"] == 1 and totals["broadcasts_reached"] == 2
    assert totals["active"] == 3
    assert figures.by_library["lib-amont"]["active"] == 2
    assert figures.by_library["lib-amont"]["questions"] == 3
    assert figures.by_library["lib-bas"]["active"] == 1
    assert figures.by_library["lib-bas"]["card_views"] == 1
    assert figures.by_media["ebook"]["card_views"] == 2
    assert figures.by_media["ebook"]["active"] == 3  # Anna, Bea (card, reached), Chloé (workshop)
    assert figures.by_media["video"]["active"] == 1
    assert figures.by_media[""]["unanswered"] == 3
    per_day = dict(figures.active_series["day"])
    today = dt.datetime.now(TZ).date()
    assert [per_day[today - dt.timedelta(days=n)] for n in (6, 3, 2, 1, 0)] == [0, 2, 2, 3, 0]
    assert figures.active["day_avg"] == pytest.approx(7 / 7)
    assert sum(p["questions"] for p in figures.series) == 4
    assert figures.subscribers == {"media:ebook": 2, "media:video": 1, "events": 1}
    assert figures.top_resources[0] == {
        "id": "res-ebooks",
        "title": "Livres numériques",
        "media_type": "ebook",
        "views": 2,
    }


async def test_feedback_workshops_and_unanswered_figures(dataset):
    engine, _ = dataset
    figures = await StatsService(engine, TZ).figures(week())
    feedback = figures.feedback
    assert feedback["votes"] == {"up": 2, "down": 1, "share_up": pytest.approx(2 / 3)}
    assert feedback["by_kind"]["workshop"]["average"] == pytest.approx(4.0)
    assert feedback["by_kind"]["free"]["count"] == 2 and feedback["by_kind"]["free"]["rated"] == 1
    survey = feedback["survey"]
    assert (survey["sent"], survey["answered"], survey["nps"]) == (3, 2, 0)
    assert survey["average"] == pytest.approx(7.5)
    assert feedback["by_media"]["video"]["up"] == 1 and feedback["by_media"]["video"]["down"] == 0
    summary = figures.workshop_summary
    assert (summary["held"], summary["registered"], summary["attended"]) == (1, 2, 1)
    assert summary["attendance_rate"] == pytest.approx(0.5)
    assert summary["average_rating"] == pytest.approx(4.0)
    assert figures.workshops[0].waiting == 1
    first, second = figures.unanswered  # the two wordings of the password question, together
    assert (first.count, {first.text, *first.variants}) == (
        2,
        {"Mot de passe oublié ?", "mot de pase oublié"},
    )
    assert (second.text, second.count, second.variants) == ("Horaires piscine", 1, [])
    comments = {c["comment"] for c in figures.comments}
    assert comments == {"rien sur les liseuses", "super atelier", "appli lente", "merci"}


async def test_one_library_and_rollups_rebuilt_from_the_events(dataset):
    engine, _ = dataset
    stats = StatsService(engine, TZ)
    bas = await stats.figures(week(), "lib-bas")
    assert bas.totals["active"] == 1 and bas.totals["questions"] == 1
    assert bas.totals["card_views"] == 1 and bas.totals["registrations"] == 1
    assert bas.feedback["by_kind"]["workshop"]["count"] == 1
    assert [w.id for w in bas.workshops] == ["ws-test"]
    before = await stats.figures(week())
    await rebuild_rollups(engine, TZ)
    after = await stats.figures(week())
    assert after.totals == before.totals
    assert after.active_series == before.active_series
    assert after.series == before.series


async def test_report_json_html_csv_carry_the_same_figures(dataset):
    engine, _ = dataset
    stats = StatsService(engine, TZ)
    data = json.loads((await build_report(stats, week(), fmt="json")).content)
    assert data["totals"]["questions"] == 4 and data["active_patrons"]["total"] == 3
    assert data["feedback"]["votes"]["down"] == 1
    assert data["workshops"]["summary"]["attended"] == 1
    assert data["unanswered_questions"][0]["count"] == 2
    dumped = json.dumps(data, ensure_ascii=False)
    for name in ("Anna", "Bea", "Chloé"):
        assert name not in dumped  # pseudonymous: no names...
    values = re.findall(r"\b\d+\b", re.sub(r'"\d{4}-\d\d-\d\dT[^"]*"', "", dumped))
    assert not {"501", "502", "503"} & set(values)  # ...and no Telegram ids
    html = (await build_report(stats, week(), fmt="html")).content.decode()
    text_only = html
    assert html.startswith("<!DOCTYPE html>") and '<html lang="fr">' in html
    assert "Document synthétique d'évaluation" in html
    assert html.count("<svg") >= 3 and html.count("<desc") == html.count("<svg")
    assert "<caption>" in html and 'scope="col"' in html
    assert "<script" not in html and 'src="http' not in html and "<link" not in html
    assert "Mot de passe oublié ?" in html and "appli lente" in html
    assert "Anna" not in text_only and "Bea" not in text_only
    english = (await build_report(stats, week(), fmt="html", language="en")).content.decode()
    assert "Evaluation report of the digital library" in english
    rows = (await build_report(stats, week(), fmt="csv")).content.decode("utf-8-sig")
    assert "totals;;questions;4" in rows and "feedback;vote;down;1" in rows


async def test_exports_are_pseudonymous_unless_contact_was_accepted(dataset):
    engine, _ = dataset
    stats = StatsService(engine, TZ)
    rows = await stats.feedback_rows(week())
    contacts = [r["contact"] for r in rows if r["contact"]]
    # who agreed to be contacted is named by pseudonym; staff write through Plume
    assert contacts == ["U2 (/avis_recus)"]
    assert not any(v in (502, "502") or "Bea" in str(v) for r in rows for v in r.values())
    assert all("patron" not in r for r in rows)  # no per-person key to link rows together
    usage = await stats.usage_rows(week())
    assert sum(r["events"] for r in usage if r["kind"] == "question") == 4


def test_periods():
    today = dt.date(2025, 6, 30)
    assert Period.parse(["mois"], TZ, today=today)[0].start == dt.date(2025, 6, 1)
    period, rest = Period.parse(["01/01/2025", "lib-amont", "2025-03-31"], TZ, today=today)
    assert (period.start, period.end, rest) == (
        dt.date(2025, 1, 1),
        dt.date(2025, 3, 31),
        ["lib-amont"],
    )
    with pytest.raises(PeriodError):
        Period.parse(["2025-03-31", "2025-01-01"], TZ)
    one_day, _ = Period.parse(["2025-03-31"], TZ)  # one day is a period too
    assert one_day.start == one_day.end == dt.date(2025, 3, 31)
    november, rest = Period.parse("du 1er au 30 novembre lib-amont".split(), TZ, today=today)
    assert (november.start, november.end, rest) == (
        dt.date(2024, 11, 1),
        dt.date(2024, 11, 30),
        ["lib-amont"],
    )
    assert Period.named("year", TZ, today).granularity == "month"
    # a period in words wins over the name inside it ("semaine": the last 7 days)
    last_week, rest = Period.parse("la semaine dernière lib-amont".split(), TZ, today=today)
    assert (last_week.start, last_week.end, rest) == (
        dt.date(2025, 6, 23),
        dt.date(2025, 6, 29),
        ["lib-amont"],
    )
    last_month, rest = Period.parse("le mois dernier".split(), TZ, today=today)
    assert (last_month.start, last_month.end, rest) == (
        dt.date(2025, 5, 1),
        dt.date(2025, 5, 31),
        [],
    )
    week, rest = Period.parse(["semaine", "Fontclaire"], TZ, today=today)
    assert (week.name, week.start, rest) == ("week", dt.date(2025, 6, 24), ["Fontclaire"])


async def test_local_days_across_daylight_saving(any_database_url):
    engine = create_engine(any_database_url)
    usage = UsageRecorder(session_factory(engine), TZ)
    for moment in (
        dt.datetime(2025, 3, 29, 22, 30, tzinfo=dt.UTC),  # 23:30 on the 29th (UTC+1)
        dt.datetime(2025, 3, 30, 21, 30, tzinfo=dt.UTC),  # 23:30 on the 30th (UTC+2)
        dt.datetime(2025, 3, 30, 22, 30, tzinfo=dt.UTC),  # 00:30 on the 31st
    ):
        await usage.record("command", subject_id="start", occurred_at=moment)
    stats = StatsService(engine, TZ)
    period = Period.between(dt.date(2025, 3, 29), dt.date(2025, 3, 31), TZ)
    rows = await stats.usage_rows(period)
    assert [(r["day"], r["events"]) for r in rows] == [
        ("2025-03-29", 1),
        ("2025-03-30", 1),
        ("2025-03-31", 1),
    ]
    await engine.dispose()
