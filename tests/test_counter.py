"""python -m bot import-usage: COUNTER R5/R5.1 reports and the plain CSV, into the report."""

from __future__ import annotations

import datetime as dt
import json
import os
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import select

from bot.counter.service import import_usage
from bot.demo import USAGE_DIR, demo_usage_files
from bot.reporting.report import build_report
from bot.stats.period import Period
from bot.stats.queries import StatsService
from storage.db import create_engine
from storage.models import Resource
from storage.report import PlatformUsage
from tests.kit import import_network

TZ = ZoneInfo("Europe/Paris")
ROOT = Path(__file__).resolve().parent.parent
YEAR = Period.between(dt.date(2025, 1, 1), dt.date(2025, 12, 31), TZ)

HEADER = """Report_Name\tPlatform Master Report
Report_ID\tPR
Release\t5.1
Institution_Name\tTest
Institution_ID\tProprietary:t:1
Metric_Types\tTotal_Item_Requests
Report_Filters\t
Report_Attributes\t
Exceptions\t
Reporting_Period\tBegin_Date={begin}; End_Date={end}
Created\t2026-01-01
Created_By\tTest

Platform\tData_Type\tAccess_Method\tMetric_Type\tReporting_Period_Total\t{months}
"""


def pr(path: Path, months: list[str], rows: list[tuple[str, str, list[int]]]) -> Path:
    begin, end = months[0], months[-1]
    labels = [dt.date.fromisoformat(m + "-01").strftime("%b-%Y") for m in months]
    text = HEADER.format(begin=f"{begin}-01", end=f"{end}-28", months="\t".join(labels))
    for platform, metric, values in rows:
        cells = [platform, "Book", "Regular", metric, str(sum(values)), *map(str, values)]
        text += "\t".join(cells) + "\n"
    path.write_text(text, encoding="utf-8")
    return path


async def rows_of(engine) -> set[tuple[str, str, str, str, int]]:
    async with engine.connect() as conn:
        result = await conn.execute(select(PlatformUsage))
        return {
            (r.resource_id, r.month.isoformat()[:7], r.metric, r.report, r.value) for r in result
        }


async def prepared(url: str):
    await import_network(url)
    engine = create_engine(url)
    async with engine.begin() as conn:
        await conn.execute(
            Resource.__table__.update()
            .where(Resource.id == "res-ebooks")
            .values(counter_platform="Lirenligne")
        )
    return engine


async def test_the_demo_reports_in_every_form_reach_the_report(any_database_url, tmp_path):
    from bot.demo import demo_export

    with demo_export(TZ) as folder:
        from bot.importer.service import Importer

        engine = create_engine(any_database_url)
        await Importer(engine).run(folder, progress=False)
    files = demo_usage_files(tmp_path / "usage", today=dt.date(2026, 1, 15))
    assert {f.suffix for f in files} == {".tsv", ".csv", ".json"}
    outcome = await import_usage(engine, files)
    assert outcome.errors == [] and len(outcome.imported) == 4
    stats = StatsService(engine, TZ)
    data = json.loads((await build_report(stats, YEAR, fmt="json")).content)
    resources = {p["resource_id"] for p in data["platform_usage"]}
    assert {
        "demo-res-ebooks",
        "demo-res-presse",
        "demo-res-cinema",
        "demo-res-musique",
    } <= resources
    months = {p["month"] for p in data["platform_usage"]}
    assert months == {f"2025-{m:02d}" for m in range(1, 13)}
    # the TSV's own totals (PR, R5.1): Lirenligne's Total_Item_Requests summed over the year
    tsv = (USAGE_DIR / "lirenligne-PR-2025.tsv").read_text().splitlines()
    wanted = next(
        int(line.split("\t")[4])
        for line in tsv
        if line.startswith("Lirenligne\t") and "\tTotal_Item_Requests\t" in line
    )
    got = sum(
        p["value"]
        for p in data["platform_usage"]
        if p["resource_id"] == "demo-res-ebooks" and p["metric"] == "item_requests"
    )
    assert got == wanted
    html = (await build_report(stats, YEAR, fmt="html")).content.decode()
    assert "Consultation des ressources numériques" in html and "Cinéma à la demande" in html
    rows = (await build_report(stats, YEAR, fmt="csv")).content.decode("utf-8-sig")
    assert "platform_usage;Livres numériques 2025-01;item_requests;" in rows
    await engine.dispose()


async def test_twice_changes_nothing_and_a_correction_replaces_its_months(
    any_database_url, tmp_path
):
    engine = await prepared(any_database_url)
    first = pr(
        tmp_path / "a.tsv",
        ["2025-01", "2025-02", "2025-03"],
        [("Lirenligne", "Total_Item_Requests", [10, 20, 30])],
    )
    assert (await import_usage(engine, [first])).ok
    once = await rows_of(engine)
    assert (await import_usage(engine, [first])).ok
    assert await rows_of(engine) == once
    assert {(r[1], r[4]) for r in once} == {("2025-01", 10), ("2025-02", 20), ("2025-03", 30)}
    corrected = pr(
        tmp_path / "b.tsv",
        ["2025-02", "2025-03"],
        [("lirenligne", "Total_Item_Requests", [25, 35])],  # case does not matter
    )
    assert (await import_usage(engine, [corrected])).ok
    assert {(r[1], r[4]) for r in await rows_of(engine)} == {
        ("2025-01", 10),
        ("2025-02", 25),
        ("2025-03", 35),
    }
    await engine.dispose()


async def test_bad_files_say_where_and_import_nothing(any_database_url, tmp_path):
    engine = await prepared(any_database_url)
    unknown = pr(
        tmp_path / "unknown.tsv",
        ["2025-01"],
        [
            ("Lirenligne", "Total_Item_Requests", [5]),
            ("Mystery Books", "Total_Item_Requests", [7]),
        ],
    )
    bad_count = pr(
        tmp_path / "count.tsv", ["2025-01"], [("Lirenligne", "Total_Item_Requests", [5])]
    )
    bad_count.write_text(bad_count.read_text().replace("\t5\n", "\tcinq\n"))
    plain = tmp_path / "plain.csv"
    plain.write_text(
        "resource_id,month,metric,value\nres-vod,2025-01,sessions,12\nres-vod,2025-13,loans,3\n"
    )
    json_bad = tmp_path / "r.json"
    json_bad.write_text('{"Report_Header": {"Report_ID": "PR"},\n "Report_Items": [}')
    outcome = await import_usage(engine, [unknown, bad_count, plain, json_bad])
    assert outcome.errors == [
        f"{unknown}:16: unknown platform 'Mystery Books': give it as counter_platform of a "
        "resource in resources.csv",
        f"{bad_count}:15: 'cinq' is not a count",
        f"{plain}:3: bad month '2025-13' (expected YYYY-MM)",
        f"{json_bad}:2: not valid JSON: Expecting value",
    ]
    assert await rows_of(engine) == set()  # not even Lirenligne's row of the first file
    await engine.dispose()


async def test_json_r5_and_the_plain_csv(any_database_url, tmp_path):
    engine = await prepared(any_database_url)
    r5 = tmp_path / "dr.json"
    r5.write_text(
        json.dumps(
            {
                "Report_Header": {
                    "Report_ID": "DR",
                    "Release": "5",
                    "Report_Filters": [
                        {"Name": "Begin_Date", "Value": "2025-04-01"},
                        {"Name": "End_Date", "Value": "2025-05-31"},
                    ],
                },
                "Report_Items": [
                    {
                        "Database": "Romans",
                        "Platform": "Lirenligne",
                        "Performance": [
                            {
                                "Period": {"Begin_Date": "2025-04-01", "End_Date": "2025-04-30"},
                                "Instance": [
                                    {"Metric_Type": "Total_Item_Requests", "Count": 40},
                                    {"Metric_Type": "Searches_Regular", "Count": 9},
                                ],
                            }
                        ],
                    }
                ],
            },
            indent=1,
        )
    )
    plain = tmp_path / "plain.csv"
    plain.write_text("resource_id,month,metric,value\nres-vod,2025-04,sessions,12\n")
    outcome = await import_usage(engine, [r5, plain])
    assert outcome.ok, outcome.errors
    assert await rows_of(engine) == {
        ("res-ebooks", "2025-04", "item_requests", "DR", 40),
        ("res-ebooks", "2025-04", "searches", "DR", 9),
        ("res-vod", "2025-04", "sessions", "CSV", 12),
    }
    await engine.dispose()


def test_the_command_line_exits_1_on_a_rejected_file(tmp_path):
    url = f"sqlite+aiosqlite:///{tmp_path / 'demo.sqlite3'}"
    env = {**os.environ, "DATABASE_URL": url, "PYTHONPATH": str(ROOT)}
    run = [sys.executable, "-m", "bot"]
    assert subprocess.run([*run, "import", "--demo"], env=env, cwd=tmp_path).returncode == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("resource_id,month,metric,value\nnope,2025-01,sessions,1\n")
    good = USAGE_DIR / "autres-plateformes-2025.csv"
    result = subprocess.run(
        [*run, "import-usage", str(good), str(bad)], env=env, cwd=tmp_path, capture_output=True,
        text=True,
    )  # fmt: skip
    assert result.returncode == 1
    assert f"{bad}:2: unknown resource 'nope'" in result.stderr
    assert "72 monthly figures imported" in result.stdout
